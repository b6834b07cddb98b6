import { beforeEach, describe, expect, it } from 'vitest';
import type { TestSmtpServer } from '../support/smtp.js';
import { emailSubscriber, withSmtpService, type TestService } from '../support/service.js';
import { makeEvent } from '../support/app.js';

const ctx = withSmtpService({ ALERT_GROUP_WAIT_SECONDS: '60', ALERT_MAX_AGE_HOURS: '100000' }, '2026-11-24T06:10:00Z');
let s: TestService;
let smtp: TestSmtpServer;
beforeEach(() => ({ s, smtp } = ctx));

const platforms = [
  { slug: 'openai', name: 'OpenAI' },
  { slug: 'stripe', name: 'Stripe' },
  { slug: 'tiktok', name: 'TikTok' },
];
const detected_at = '2026-11-24T06:10:00Z';
const events = [
  makeEvent({ id: 'a', severity: 'high', title: 'Arbitration <now> mandatory', platform: platforms[0], detected_at }),
  makeEvent({ id: 'b/1', severity: 'high', title: 'Dispute fees doubled', platform: platforms[1], detected_at }),
  makeEvent({ id: 'c', severity: 'medium', title: 'Precise location collected', platform: platforms[2], detected_at }),
  makeEvent({ id: 'd', severity: 'low', title: 'Retention wording clarified', platform: platforms[0], detected_at }),
];

/** The summary box's HTML, and what comes before and after it. */
function glance(html: string) {
  const at = html.indexOf('At a glance');
  expect(at, 'no summary box').toBeGreaterThan(0);
  const end = html.indexOf('</ol>', at);
  return { box: html.slice(at, end), before: html.slice(0, at), after: html.slice(end) };
}

function expectDarkModeSafe(html: string) {
  expect(html).toMatch(/<meta name="color-scheme" content="light dark"\s*\/?>/);
  expect(html).toMatch(/<meta name="supported-color-schemes" content="light dark"\s*\/?>/);
  expect(html).toContain('@media (prefers-color-scheme: dark)');
}

describe('a mail of many changes', () => {
  it('opens an alert with a summary box: counts by severity, the platforms, and titles linked to their changes in the mail', async () => {
    await emailSubscriber(s, 'legal@acme.test', platforms.map((p) => p.slug));
    await s.ingest({ events });
    ctx.clock.advance(61_000);
    await s.drain();
    const [mail] = await smtp.waitFor(1);
    const html = mail!.parsed.html as string;
    const { box, before, after } = glance(html);
    // Before the details: no change block comes before the box.
    expect(before).not.toMatch(/id="cw-/);
    expect(box).toMatch(/>2 High<[\s\S]*>1 Medium<[\s\S]*>1 Low</);
    expect(box).toContain('4 changes</strong> on OpenAI, Stripe, TikTok');
    expect(box).toContain('Arbitration &lt;now&gt; mandatory');
    const hrefs = [...box.matchAll(/href="#([A-Za-z0-9-]+)"/g)].map((m) => m[1]!);
    expect(hrefs).toHaveLength(4);
    expect(new Set(hrefs).size).toBe(4);
    // Each link lands on its change's block, further down.
    for (const anchor of hrefs) expect(after).toContain(`id="${anchor}"`);
    const firstChange = after.indexOf(`id="${hrefs[0]}"`);
    expect(after.slice(firstChange, firstChange + 2000)).toContain('Arbitration &lt;now&gt; mandatory');
    expectDarkModeSafe(html);
    expect(mail!.parsed.text).toMatch(/^.*\n\nAt a glance: 4 changes \(2 high, 1 medium, 1 low\) on OpenAI, Stripe, TikTok\n {2}1\. \[High\] OpenAI: Arbitration <now> mandatory\n/);
  });

  it('sends an alert of one or two changes without the box, still dark-mode safe', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai']);
    await s.ingest({ events: events.slice(0, 1) });
    ctx.clock.advance(61_000);
    await s.drain();
    const [mail] = await smtp.waitFor(1);
    expect(mail!.parsed.html).not.toContain('At a glance');
    expectDarkModeSafe(mail!.parsed.html as string);
  });

  it('opens a weekly digest with the same box, linked to the digest’s entries', async () => {
    await emailSubscriber(s, 'legal@acme.test', platforms.map((p) => p.slug));
    await s.ingest({ events });
    ctx.clock.advance(61_000);
    await s.drain();
    ctx.clock.set('2026-11-30T09:00:00Z');
    await s.call('POST', '/v1/digests/run', { at: '2026-11-30T09:00:00Z' });
    await s.drain();
    const digest = (await smtp.waitFor(2)).find((m) => /this week/.test(m.parsed.subject ?? ''))!;
    const html = digest.parsed.html as string;
    const { box, before, after } = glance(html);
    expect(before).not.toMatch(/id="cw-/);
    expect(box).toContain('4 changes</strong> on');
    const hrefs = [...box.matchAll(/href="#([A-Za-z0-9-]+)"/g)].map((m) => m[1]!);
    expect(hrefs).toHaveLength(4);
    for (const anchor of hrefs) expect(after).toContain(`id="${anchor}"`);
    expectDarkModeSafe(html);
    expect(digest.parsed.text).toContain('At a glance: 4 changes (2 high, 1 medium, 1 low)');
  });
});
