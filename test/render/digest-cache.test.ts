import { describe, expect, it } from 'vitest';
import { changeItemFromEvent } from '../../src/core/message.js';
import { buildDigest } from '../../src/core/digest.js';
import { renderDigestEmail } from '../../src/render/digest-email.js';
import { emailTemplates } from '../../src/render/templates.js';
import { makeEvent } from '../support/app.js';

const change = changeItemFromEvent(makeEvent({ id: 'eff', title: 'Arbitration clause added', effective_at: '2026-12-07', detected_at: '2026-11-26T06:00:00Z' }), 'OpenAI');
const digestAt = (now: string) =>
  buildDigest({
    period: { key: '2026-11-30', start: Date.parse('2026-11-23T09:00:00Z'), end: Date.parse('2026-11-30T09:00:00Z') },
    items: [change],
    watched: [],
    upcoming: [],
    quiet: { technical: 0 },
    reader: { timeZone: 'Asia/Kolkata', now: Date.parse(now) },
    links: { unsubscribe: 'https://cw.test/u', manage: 'https://cw.test/m', view: 'https://cw.test/v' },
    plan: 'monitor',
  });

describe('change entries shared between digests', () => {
  it('never carry a day count across a local midnight, even in a half-hour zone', () => {
    const cache = new Map<string, string>();
    const ctx = { address: 'a@b.test', planLine: 'on the monitor plan', cache };
    // 23:40 and 00:10 in Kolkata (UTC+5:30): the same UTC hour, two local days.
    const before = renderDigestEmail(emailTemplates, digestAt('2026-11-30T18:10:00Z'), ctx).html;
    const after = renderDigestEmail(emailTemplates, digestAt('2026-11-30T18:40:00Z'), ctx).html;
    expect(before).toContain('in 7 days');
    expect(after).toContain('in 6 days');
  });
});
