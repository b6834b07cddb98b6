import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import type { TestSmtpServer } from '../support/smtp.js';
import { emailSubscriber, testService, withSmtpService, type TestService } from '../support/service.js';
import { ADMIN_TOKEN, makeEvent } from '../support/app.js';
import { serve } from '@hono/node-server';
import { connect, type AddressInfo } from 'node:net';

// Monday 30 November 2026, 09:00 UTC: the default digest time of UTC accounts.
const MONDAY_9 = '2026-11-30T09:00:00Z';
const ctx = withSmtpService({ ALERT_GROUP_WAIT_SECONDS: '60', ALERT_MAX_AGE_HOURS: '100000' }, '2026-11-26T07:00:00Z');
const clock = ctx.clock;
let s: TestService;
let smtp: TestSmtpServer;
beforeEach(() => ({ s, smtp } = ctx));

async function runDigests(at = MONDAY_9) {
  clock.set(at);
  const r = await s.call('POST', '/v1/digests/run', { at });
  expect(r.status).toBe(202);
  await s.drain();
  return r.json;
}
const digestMails = () => smtp.mails.filter((m) => /this week/.test(m.parsed.subject ?? ''));

describe('weekly digests', () => {
  it('groups the week’s changes by platform, most severe first, with counts and every detail', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai', 'stripe']);
    await s.ingest({
      events: [
        makeEvent({ id: 'o1', severity: 'low', title: 'OpenAI low', detected_at: '2026-11-24T06:00:00Z' }),
        makeEvent({
          id: 's1',
          platform: { slug: 'stripe' },
          document: { title: 'Stripe Services Agreement' },
          provision: { title: 'Dispute fees' },
          severity: 'high',
          title: 'Stripe high',
          change_url: 'https://tracker.test/changes/s1',
          evidence: { sha256: 'a'.repeat(64), archive_url: 'https://archive.test/s1' },
          detected_at: '2026-11-25T06:00:00Z',
        }),
        makeEvent({ id: 'o2', severity: 'medium', title: 'OpenAI medium', detected_at: '2026-11-26T06:00:00Z' }),
        makeEvent({ id: 'old', severity: 'high', title: 'Last week', detected_at: '2026-11-20T06:00:00Z' }),
        makeEvent({ id: 'noise', technical_upgrade: true, title: 'Re-extraction', detected_at: '2026-11-26T06:00:00Z' }),
      ],
    });
    const r = await runDigests();
    expect(r).toMatchObject({ due: 1, enqueued: 1 });
    const [mail] = digestMails();
    expect(digestMails()).toHaveLength(1);
    expect(mail!.parsed.subject).toBe('3 policy changes this week: Stripe, OpenAI');
    const html = mail!.parsed.html as string;
    expect(html.indexOf('Stripe high')).toBeLessThan(html.indexOf('OpenAI medium'));
    expect(html.indexOf('OpenAI medium')).toBeLessThan(html.indexOf('OpenAI low'));
    expect(html).toContain('1 high, 1 medium, 1 low across 2 platforms');
    expect(html).toContain('Stripe Services Agreement · Dispute fees');
    expect(html).toContain('href="https://tracker.test/changes/s1"');
    expect(html).toContain('href="https://archive.test/s1"');
    expect(html).toContain('/digests/'); // view in browser
    // Last week's change is not among this week's; it was alerted and nobody reviewed it, so it is
    // listed apart, under "Awaiting review" (the review trail), and only there.
    const awaiting = html.indexOf('Awaiting review (');
    expect(awaiting).toBeGreaterThan(html.indexOf('OpenAI low'));
    expect(html.slice(0, awaiting)).not.toContain('Last week');
    expect(html.indexOf('Last week')).toBeGreaterThan(awaiting);
    expect(html.split('Last week').length).toBe(2);
    expect(html).not.toContain('Re-extraction');
    expect(html).toContain('1 re-extraction or link-only change without a substantive change not shown');
    expect(mail!.parsed.text).toContain('== Stripe (1 high)');
    expect(mail!.raw).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click/m);
  });

  it('sends each digest once, however often or concurrently the run is called', async () => {
    await emailSubscriber(s, 'a@acme.test', ['openai']);
    await emailSubscriber(s, 'b@acme.test', ['openai']);
    clock.set(MONDAY_9);
    const [r1, r2] = await Promise.all([s.call('POST', '/v1/digests/run', { at: MONDAY_9 }), s.call('POST', '/v1/digests/run', { at: MONDAY_9 })]);
    expect(r1.json.enqueued + r2.json.enqueued).toBe(2);
    expect((await runDigests('2026-11-30T09:40:00Z')).enqueued).toBe(0);
    const rows = await s.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM outbox WHERE kind = 'digest'`);
    expect(rows[0]!.n).toBe(2);
    expect(digestMails()).toHaveLength(2);
  });

  it('sends a short “no changes” digest listing the watched documents and when they were last verified', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai']);
    await s.ingest(makeEvent({ id: 'older', detected_at: '2026-11-10T06:00:00Z' }));
    await runDigests();
    const [mail] = digestMails();
    expect(mail!.parsed.subject).toBe('No policy changes this week on OpenAI');
    const html = mail!.parsed.html as string;
    expect(html).toContain('Monitoring ran all week');
    expect(html).toContain('OpenAI Terms of Use');
    expect(html).toContain('last verified 10 Nov 2026, 06:00 UTC');
    expect(html).toContain('OpenAI Privacy Policy');
    expect(html).toContain('not verified yet');
  });

  it('skips the empty digest when the account turned it off', async () => {
    const { account } = await emailSubscriber(s, 'legal@acme.test', ['openai']);
    await s.call('PATCH', `/v1/accounts/${account.id}`, { empty_digest: false });
    await runDigests();
    expect(digestMails()).toHaveLength(0);
    expect((await s.call('GET', `/v1/accounts/${account.id}/deliveries`)).json.data[0]).toMatchObject({ kind: 'digest', status: 'cancelled' });
  });

  it('follows each account’s time zone, weekday and hour', async () => {
    const { account } = await emailSubscriber(s, 'ny@acme.test', ['openai']);
    await s.call('PATCH', `/v1/accounts/${account.id}`, { timezone: 'America/New_York', digest_weekday: 'monday', digest_hour: 9 });
    expect((await runDigests('2026-11-30T09:10:00Z')).due).toBe(0);
    expect((await runDigests('2026-11-30T14:10:00Z')).due).toBe(1); // 09:10 EST
    expect(digestMails()).toHaveLength(1);
  });

  it('leaves out paused subscriptions, and sends nothing to unsubscribed or unconfirmed destinations', async () => {
    const { account } = await emailSubscriber(s, 'legal@acme.test', ['openai', 'anthropic']);
    await s.call('PATCH', `/v1/accounts/${account.id}`, { plan: 'free' }); // anthropic paused
    await emailSubscriber(s, 'gone@acme.test', ['openai']);
    const gone = (await s.call('GET', '/v1/accounts?email=gone@acme.test')).json.data[0];
    const goneDest = (await s.call('GET', `/v1/accounts/${gone.id}/destinations`)).json.data[0];
    await s.call('POST', `/unsubscribe/${await s.links.token('unsubscribe', goneDest.id)}`, '', null, { 'content-type': 'application/x-www-form-urlencoded' });
    await s.call('POST', '/v1/signup', { email: 'new@acme.test', platform: 'openai' }, null);
    await s.ingest({
      events: [
        makeEvent({ id: 'o', title: 'OpenAI change', detected_at: '2026-11-26T06:00:00Z' }),
        makeEvent({ id: 'a', platform: { slug: 'anthropic' }, document: { title: 'Anthropic Usage Policy' }, title: 'Anthropic change', detected_at: '2026-11-26T06:00:00Z' }),
      ],
    });
    await runDigests();
    const mails = digestMails();
    expect(mails.map((m) => m.to[0])).toEqual(['legal@acme.test']);
    expect(mails[0]!.parsed.html).toContain('OpenAI change');
    expect(mails[0]!.parsed.html).not.toContain('Anthropic change');
  });

  it('lists the coming 30 days’ effective dates', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai']);
    await s.ingest({
      events: [
        makeEvent({ id: 'soon', title: 'Takes effect soon', effective_at: '2026-12-14', detected_at: '2026-11-02T06:00:00Z' }),
        makeEvent({ id: 'late', title: 'Takes effect late', effective_at: '2027-02-01', detected_at: '2026-11-26T06:00:00Z' }),
      ],
    });
    await runDigests();
    const html = digestMails()[0]!.parsed.html as string;
    const upcoming = html.slice(html.indexOf('Upcoming effective dates'));
    expect(upcoming).toContain('14 Dec 2026');
    expect(upcoming).toContain('Takes effect soon');
    expect(upcoming).toContain('in 14 days');
    expect(upcoming).not.toContain('Takes effect late');
  });

  it('stays under 100 KB of HTML, showing the most severe changes and “N more” with the browser link', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai']);
    const events = Array.from({ length: 150 }, (_, i) =>
      makeEvent({ id: `e${i}`, severity: i < 5 ? 'high' : 'low', title: `Change number ${i}`, summary: 'x '.repeat(200), detected_at: '2026-11-26T06:00:00Z' }),
    );
    await s.ingest({ events });
    await runDigests();
    const mail = digestMails()[0]!;
    const html = mail.parsed.html as string;
    expect(Buffer.byteLength(html)).toBeLessThan(100 * 1024);
    for (let i = 0; i < 5; i++) expect(html).toContain(`Change number ${i}<`);
    const more = /(\d+) more changes/.exec(html);
    expect(Number(more![1])).toBeGreaterThan(0);
    const view = /https:\/\/clausewatch\.test(\/digests\/[A-Za-z0-9._-]+)"/.exec(html)![1]!;
    const page = await s.call('GET', view, undefined, null);
    expect(page.status).toBe(200);
    for (const i of [0, 75, 149]) expect(page.text).toContain(`Change number ${i}<`);
    // Read-only for whoever holds the link: no manage or unsubscribe token on the page.
    expect(page.text).not.toMatch(/\/manage\/|\/unsubscribe\//);
    expect(html).toMatch(/\/manage\/[A-Za-z0-9._-]+/); // the mail itself keeps them
    // A link of the earlier form (manage token and date) still opens that week, through a redirect.
    const manageToken = /\/manage\/([A-Za-z0-9._-]+)/.exec(html)![1]!;
    const old = await s.call('GET', `/digests/${manageToken}/2026-11-30`, undefined, null);
    expect(old.status).toBe(301);
    const target = new URL(old.res.headers.get('location')!).pathname;
    expect(target).toMatch(/^\/digests\/[A-Za-z0-9._-]+$/);
    expect((await s.call('GET', target, undefined, null)).text).toContain('Change number 149<');
    expect((await s.call('GET', '/digests/not-a-token/2026-11-30', undefined, null)).status).toBe(400);
    expect((await s.call('GET', '/digests/not-a-token', undefined, null)).status).toBe(400);
    // The view's token is its own: neither the unsubscribe nor the manage token opens it.
    for (const purpose of ['unsubscribe', 'manage']) {
      const token = new RegExp(`/${purpose}/([A-Za-z0-9._-]+)`).exec(html)![1]!;
      expect((await s.call('GET', `/digests/${token}`, undefined, null)).status).toBe(400);
    }
    // …and the view's token opens no manage page.
    expect((await s.call('GET', view.replace('/digests/', '/manage/'), undefined, null)).status).toBe(400);
  });

  it('lists a date-only change, which was not alerted, and counts a whitespace-only one in the footer', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai']);
    await s.ingest({
      events: [
        makeEvent({ id: 'redated', title: 'Last-updated date moved', diff: { removed: ['Last updated: 12 November 2026'], added: ['Last updated: 26 November 2026'] }, detected_at: '2026-11-26T06:00:00Z' }),
        makeEvent({ id: 'spaces', title: 'Spacing only', diff: { removed: ['We keep your  data.'], added: ['We keep your data.'] }, detected_at: '2026-11-26T06:00:00Z' }),
      ],
    });
    clock.advance(61_000);
    await s.drain();
    expect(smtp.mails).toHaveLength(0);
    await runDigests();
    const html = digestMails()[0]!.parsed.html as string;
    expect(html).toContain('Last-updated date moved');
    expect(html).not.toContain('Spacing only');
    expect(html).toContain('1 re-extraction or link-only change without a substantive change not shown');
  });

  it('carries a change that arrived after its week’s digest into the next one, marked as reported late, and into no digest twice', async () => {
    await emailSubscriber(s, 'free@acme.test', ['openai'], 'free');
    await runDigests(); // Monday 30 Nov, 09:00: nothing yet
    clock.set('2026-11-30T09:30:00Z');
    const r = await s.ingest(makeEvent({ id: 'late', severity: 'high', title: 'Arbitration clause added', detected_at: '2026-11-30T08:00:00Z' }));
    expect(r.json.matched).toBe(1);
    expect((await runDigests('2026-11-30T09:40:00Z')).enqueued).toBe(0);
    await runDigests('2026-12-07T09:00:00Z');
    await runDigests('2026-12-14T09:00:00Z');
    const mails = digestMails();
    expect(mails.map((m) => m.parsed.subject)).toEqual([
      'No policy changes this week on OpenAI',
      '1 policy change this week: OpenAI',
      'No policy changes this week on OpenAI',
    ]);
    expect(mails[1]!.parsed.html).toContain('Arbitration clause added');
    expect(mails[1]!.parsed.html).toContain('Detected on 30 Nov 2026, reported late');
    expect(mails[1]!.parsed.html).toContain('30 Nov – 7 Dec 2026');
    expect(mails.filter((m) => (m.parsed.html as string).includes('Arbitration clause added'))).toHaveLength(1);
  });

  it('refuses a bad or future `at` and needs the admin token', async () => {
    expect((await s.call('POST', '/v1/digests/run', { at: 'monday' })).status).toBe(400);
    // The clock stands on 26 November: the week to MONDAY_9 has not ended, so nothing is built early.
    const early = await s.call('POST', '/v1/digests/run', { at: MONDAY_9 });
    expect(early.status).toBe(400);
    expect(early.json.issues).toEqual([{ path: 'at', message: expect.stringContaining('not in the future') }]);
    expect((await s.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM outbox WHERE kind = 'digest'`))[0]!.n).toBe(0);
    expect((await s.call('POST', '/v1/digests/run', { at: MONDAY_9 }, null)).status).toBe(401);
    expect((await s.call('POST', '/v1/digests/run', undefined)).status).toBe(202); // no body: now
  });

  it('sends a digest set inside a skipped half-hour right after the gap (Pacific/Chatham, 02:45 → 03:45)', async () => {
    // Chatham moves from 02:45 (+12:45) to 03:45 (+13:45) on Sunday 27 September 2026, at 14:00 UTC.
    const { account } = await emailSubscriber(s, 'chatham@acme.test', ['openai']);
    expect((await s.call('PATCH', `/v1/accounts/${account.id}`, { timezone: 'Pacific/Chatham', digest_weekday: 'sunday', digest_hour: 3 })).status).toBe(200);
    const run = async (at: string) => {
      clock.set(at);
      return (await s.call('POST', '/v1/digests/run', { at })).json;
    };
    expect(await run('2026-09-26T13:59:00Z')).toMatchObject({ due: 0 }); // 02:44, before the gap
    expect(await run('2026-09-26T14:00:00Z')).toMatchObject({ due: 1, enqueued: 1 }); // 03:45, the first minute after it
    expect(await run('2026-09-26T14:15:00Z')).toMatchObject({ due: 1, enqueued: 0 }); // 04:00: already sent
    const [row] = await s.database.db.all<{ payload: string }>(sql`SELECT payload FROM outbox WHERE kind = 'digest'`);
    expect(JSON.parse(row!.payload)).toMatchObject({ key: '2026-09-27', end: Date.parse('2026-09-26T14:00:00Z') });
  });

  it('runs the digests due now for a plain `curl -X POST` with the admin token: no body, no content type', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['openai']);
    clock.set(MONDAY_9);
    const server = serve({ fetch: s.app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    try {
      // What curl sends for `curl -X POST -H 'Authorization: Bearer …' …/v1/digests/run`, byte for byte.
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
      socket.write(`POST /v1/digests/run HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nConnection: close\r\n\r\n`);
      let answer = '';
      for await (const chunk of socket) answer += chunk;
      expect(answer).toMatch(/^HTTP\/1\.1 202 /);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ at: '2026-11-30T09:00:00.000Z', due: 1, enqueued: 1 });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
