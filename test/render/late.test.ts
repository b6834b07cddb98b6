import { describe, expect, it } from 'vitest';
import { changeItemFromEvent } from '../../src/core/message.js';
import { buildDigest } from '../../src/core/digest.js';
import { renderDigestEmail } from '../../src/render/digest-email.js';
import { emailTemplates } from '../../src/render/templates.js';
import { renderDigestSlack } from '../../src/render/slack.js';
import { renderDigestDiscord } from '../../src/render/discord.js';
import { renderWebhookPayload } from '../../src/render/webhook.js';
import { makeEvent } from '../support/app.js';

const reader = { timeZone: 'UTC', now: Date.parse('2026-12-07T09:00:00Z') };
const late = { ...changeItemFromEvent(makeEvent({ id: 'late', severity: 'high', title: 'Arbitration clause added', detected_at: '2026-11-30T08:00:00Z' }), 'OpenAI'), reportedLate: true };
const onTime = changeItemFromEvent(makeEvent({ id: 'now', severity: 'low', title: 'Fees table reworded', detected_at: '2026-12-02T08:00:00Z' }), 'OpenAI');
const digest = buildDigest({
  period: { key: '2026-12-07', start: Date.parse('2026-11-30T09:00:00Z'), end: Date.parse('2026-12-07T09:00:00Z') },
  items: [late, onTime],
  watched: [],
  upcoming: [],
  quiet: { technical: 0 },
  reader,
  links: { unsubscribe: 'https://cw.test/u', manage: 'https://cw.test/m', view: 'https://cw.test/v' },
  plan: 'free',
});
const MARK = 'Detected on 30 Nov 2026, reported late';

describe('a change reported late in a digest', () => {
  it('is marked with the day it was detected in every digest renderer, and only that change is', () => {
    const mail = renderDigestEmail(emailTemplates, digest, { address: 'a@acme.test', planLine: 'on the free plan' });
    expect(mail.html.match(new RegExp(MARK, 'g'))).toHaveLength(1);
    expect(mail.text.match(new RegExp(MARK, 'g'))).toHaveLength(1);
    expect(JSON.stringify(renderDigestSlack(digest)).match(new RegExp(MARK, 'g'))).toHaveLength(1);
    expect(JSON.stringify(renderDigestDiscord(digest)).match(new RegExp(MARK, 'g'))).toHaveLength(1);
    const changes = (renderWebhookPayload(digest)!.data as any).platforms[0].changes;
    expect(changes.map((c: any) => [c.id, c.clausewatch?.reported_late ?? false, c.detected_at])).toEqual([
      ['late', true, '2026-11-30T08:00:00Z'],
      ['now', false, '2026-12-02T08:00:00Z'],
    ]);
  });
});
