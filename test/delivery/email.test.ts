import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import type { TestSmtpServer } from '../support/smtp.js';
import { emailSubscriber, testService, withSmtpService, type TestService } from '../support/service.js';
import { fixtureEvents, makeEvent } from '../support/app.js';
import { dueGroups, pendingOf } from '../../src/delivery/grouping.js';
import { MAX_ATTEMPTS } from '../../src/delivery/backoff.js';
import { classifySmtpError } from '../../src/delivery/channels/email/send.js';

const ctx = withSmtpService({ ALERT_GROUP_WAIT_SECONDS: '60' }, '2026-11-20T07:00:00Z');
const clock = ctx.clock;
let s: TestService;
let smtp: TestSmtpServer;
beforeEach(() => ({ s, smtp } = ctx));

const outbox = () => s.database.db.all<{ status: string; attempts: number; last_error: string | null; kind: string }>(sql`SELECT status, attempts, last_error, kind FROM outbox ORDER BY id`);

describe('same-day alerts by email', () => {
  it('stay within the 100 KB HTML budget, notices and the “N more” block counted, and link what they leave out to a page that lists it', async () => {
    await emailSubscriber(s, 'legal@acme.test');
    const changes = Array.from({ length: 120 }, (_, i) =>
      makeEvent({ id: `c${i}`, severity: i < 5 ? 'high' : 'low', title: `Change number ${i}`, summary: `Summary ${i} ${'ü'.repeat(400)}`, document: { title: `Document ${i}` } }),
    );
    // Monitoring notices are long too (their summary is shown), and are part of the same mail.
    const notices = Array.from({ length: 40 }, (_, i) =>
      makeEvent({ id: `n${i}`, kind: 'unreachable', severity: 'low', title: `Cannot read ${i}`, summary: `Notice ${i} ${'é'.repeat(2_000)}`, document: { title: `Watched ${i}` } }),
    );
    await s.ingest({ events: [...changes, ...notices] });
    clock.advance(61_000);
    await s.drain();
    const [mail] = await smtp.waitFor(1);
    const html = mail!.parsed.html as string;
    expect(Buffer.byteLength(html)).toBeLessThanOrEqual(100 * 1024);
    for (let i = 0; i < 5; i++) expect(html).toContain(`Change number ${i}<`);
    const more = /(\d+) more changes?(?: and (\d+) monitoring notices?)?/.exec(html)!;
    const shownChanges = changes.filter((_, i) => html.includes(`Change number ${i}<`)).length;
    const shownNotices = notices.filter((_, i) => html.includes(`Watched ${i}<`)).length;
    expect(Number(more[1])).toBe(120 - shownChanges);
    expect(Number(more[2] ?? 0)).toBe(40 - shownNotices);
    // The link opens a page listing every change of this alert, those the mail left out included.
    const view = /href="https:\/\/clausewatch\.test(\/alerts\/[A-Za-z0-9._-]+)"[^>]*>see every change of this alert in your browser/.exec(html)![1]!;
    const page = await s.call('GET', view, undefined, null);
    expect(page.status).toBe(200);
    for (let i = 0; i < 120; i++) expect(page.text).toContain(`Change number ${i}<`);
    for (let i = 0; i < 40; i++) expect(page.text).toContain(`Watched ${i}<`);
    // Its token opens that alert only: not another destination's, nor a manage page.
    expect((await s.call('GET', view.replace('/alerts/', '/manage/'), undefined, null)).status).toBe(400);
    expect((await s.call('GET', `${view}x`, undefined, null)).status).toBe(400);
  });

  it('groups a burst of three changes into one mail, highest severity first', async () => {
    await emailSubscriber(s, 'legal@acme.test');
    await s.ingest(makeEvent({ id: 'a', severity: 'low', title: 'Low change' }));
    clock.advance(10_000);
    await s.ingest(makeEvent({ id: 'b', severity: 'high', title: 'High change' }));
    clock.advance(10_000);
    await s.ingest(makeEvent({ id: 'c', severity: 'medium', title: 'Medium change' }));

    expect(await s.dispatcher.runOnce()).toBe(0); // still gathering
    clock.advance(45_000);
    expect(await s.dispatcher.runOnce()).toBe(1);
    const [mail] = await smtp.waitFor(1);
    expect(smtp.mails).toHaveLength(1);
    expect(mail!.to).toEqual(['legal@acme.test']);
    expect(mail!.parsed.subject).toBe('[HIGH] 3 policy changes: OpenAI');
    const html = mail!.parsed.html as string;
    expect(html.indexOf('High change')).toBeLessThan(html.indexOf('Medium change'));
    expect(html.indexOf('Medium change')).toBeLessThan(html.indexOf('Low change'));
    const text = mail!.parsed.text!;
    expect(text.indexOf('High change')).toBeLessThan(text.indexOf('Low change'));
  });

  it('sends an HTML and a plain-text part with Message-ID and one-click unsubscribe headers', async () => {
    await emailSubscriber(s, 'legal@acme.test');
    await s.ingest(makeEvent());
    clock.advance(61_000);
    await s.dispatcher.runOnce();
    const [mail] = await smtp.waitFor(1);
    const p = mail!.parsed;
    expect(p.html).toBeTruthy();
    expect(p.text).toContain('Data retention period extended');
    expect(p.messageId).toMatch(/^<cw-[0-9a-z]{20}-\d+-0@clausewatch\.test>$/);
    expect(mail!.raw).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r?$/m);
    expect(mail!.raw).toMatch(/^List-Unsubscribe:\s+<https:\/\/clausewatch\.test\/unsubscribe\/[^>]+>/m);
  });

  it('shows per change the severity, platform, document, clause, title, summary, change link and evidence', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['anthropic']);
    const e = fixtureEvents()['02-anthropic-consumer-terms-chat-retention-high.json'];
    await s.ingest({ ...e, detected_at: '2026-11-20T06:30:00Z' });
    clock.advance(61_000);
    await s.dispatcher.runOnce();
    const [mail] = await smtp.waitFor(1);
    const html = mail!.parsed.html as string;
    for (const expected of ['High', e.platform.name ?? 'Anthropic', e.document.title, e.title, e.evidence.sha256, e.evidence.previous_sha256]) {
      expect(html).toContain(expected);
    }
    if (e.provision?.title) expect(html).toContain(e.provision.title.replace(/&/g, '&amp;'));
    expect(html).toContain(`href="${e.change_url}"`);
    expect(html).toContain(`href="${e.evidence.archive_url}"`);
    expect(mail!.parsed.text).toContain(e.evidence.sha256);
  });

  it('escapes hostile event text so it never becomes markup or a link', async () => {
    await emailSubscriber(s, 'legal@acme.test', ['reddit']);
    const hostile = fixtureEvents()['99-hostile-escaping.json'];
    await s.ingest({ ...hostile, detected_at: '2026-11-20T06:30:00Z' });
    clock.advance(61_000);
    await s.dispatcher.runOnce();
    const [mail] = await smtp.waitFor(1);
    const html = mail!.parsed.html as string;
    expect(html).not.toContain('<script>');
    expect(html).not.toMatch(/<img[^>]*onerror/i);
    expect(html).not.toMatch(/href="javascript:/i);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&amp;amp;');
  });

  it('retries a 421 or 451 answer later, then delivers', async () => {
    await emailSubscriber(s, 'legal@acme.test');
    smtp.behaviour.failNext = { count: 1, code: 421 };
    await s.ingest(makeEvent());
    clock.advance(61_000);
    await s.dispatcher.runOnce();
    expect(smtp.mails).toHaveLength(0);
    let [row] = await outbox();
    expect(row).toMatchObject({ status: 'retrying', attempts: 1 });
    expect(row!.last_error).toMatch(/421/);
    expect(await s.dispatcher.runOnce()).toBe(0); // not due yet: backoff
    smtp.behaviour.failNext = { count: 1, code: 451 };
    clock.advance(60 * 60_000);
    await s.dispatcher.runOnce();
    expect((await outbox())[0]).toMatchObject({ status: 'retrying', attempts: 2 });
    clock.advance(60 * 60_000);
    await s.dispatcher.runOnce();
    await smtp.waitFor(1);
    [row] = await outbox();
    expect(row).toMatchObject({ status: 'sent', attempts: 3, last_error: null });
  });

  it('gives up on a 550 for the mailbox, disables the destination with the reason, and logs it', async () => {
    const { account, destination } = await emailSubscriber(s, 'gone@acme.test');
    smtp.behaviour.rejectRecipients = new Set(['gone@acme.test']);
    await s.ingest(makeEvent());
    clock.advance(61_000);
    await s.dispatcher.runOnce();
    expect((await outbox())[0]).toMatchObject({ status: 'dead', attempts: 1 });
    const dests = (await s.call('GET', `/v1/accounts/${account.id}/destinations`)).json.data;
    expect(dests[0]).toMatchObject({ id: destination.id, status: 'disabled' });
    expect(dests[0].disabled_reason).toMatch(/550/);
    const log = (await s.call('GET', `/v1/accounts/${account.id}/deliveries`)).json.data;
    expect(log[0]).toMatchObject({ kind: 'alert', status: 'dead', attempts: 1, changes: 1 });
    expect(log[0].last_error).toMatch(/550/);
    // Nothing more is matched for a disabled destination.
    expect((await s.ingest(makeEvent({ id: 'later' }))).json.matched).toBe(0);
  });

  it.each([
    // A 5.7.x refusal of the sender: ours to fix, so retried.
    { code: 550, message: '5.7.1 Relaying denied', status: 'retrying' },
    // A refusal of this one message: given up on.
    { code: 554, message: 'Transaction failed', status: 'dead' },
  ])('answers $code $message at RCPT TO with $status, never switching the destination off', async ({ code, message, status }) => {
    const { account } = await emailSubscriber(s, 'legal@acme.test');
    smtp.behaviour.refuseRecipients = { code, message };
    await s.ingest(makeEvent());
    clock.advance(61_000);
    await s.dispatcher.runOnce();
    expect((await outbox())[0]).toMatchObject({ status, attempts: 1 });
    expect((await outbox())[0]!.last_error).toContain(message);
    expect((await s.call('GET', `/v1/accounts/${account.id}/destinations`)).json.data[0].status).toBe('active');
  });

  it('reads the enhanced status code right after the reply code, never an address further on', () => {
    const judge = (responseCode: number, response: string) => {
      const e = classifySmtpError({ responseCode, response, command: 'RCPT TO' });
      return [e.kind, !!e.disableDestination];
    };
    expect(judge(550, '550 5.1.1 No such mailbox')).toEqual(['permanent', true]);
    expect(judge(550, '550-5.1.1 The account does not exist')).toEqual(['permanent', true]);
    expect(judge(550, '550 5.2.1 Mailbox disabled')).toEqual(['permanent', true]);
    expect(judge(550, '550 No such user here')).toEqual(['permanent', true]);
    expect(judge(554, '554 Service unavailable; Client host [5.1.2.3] blocked')).toEqual(['permanent', false]);
    expect(judge(552, '552 5.2.2 Mailbox full')).toEqual(['permanent', false]);
    expect(judge(550, '550 5.7.1 Relaying denied')).toEqual(['retry', false]);
  });

  it('turns a row dead, never dropped, after the last attempt', async () => {
    await emailSubscriber(s, 'legal@acme.test');
    smtp.behaviour.failNext = { count: 100, code: 451 };
    await s.ingest(makeEvent());
    clock.advance(61_000);
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      expect((await outbox())[0]?.status).not.toBe('dead');
      await s.dispatcher.runOnce();
      clock.advance(2 * 3_600_000);
    }
    expect((await outbox())[0]).toMatchObject({ status: 'dead', attempts: MAX_ATTEMPTS });
  });

  it('counts sent messages and the queue in /metrics', async () => {
    await emailSubscriber(s, 'legal@acme.test');
    await s.ingest(makeEvent());
    let m = (await s.call('GET', '/metrics')).text;
    expect(m).toMatch(/clausewatch_events_ingested_total 1/);
    expect(m).toMatch(/clausewatch_outbox_depth\{status="grouping",channel="any"\} 1/);
    clock.advance(61_000);
    await s.dispatcher.runOnce();
    m = (await s.call('GET', '/metrics')).text;
    expect(m).toMatch(/clausewatch_messages_sent_total\{channel="email",kind="alert"\} 1/);
    expect((await s.call('GET', '/metrics', undefined, null)).status).toBe(401);
  });
});

describe('the dispatcher', () => {
  it('delivers an alert within the group wait plus one second on an idle system', async () => {
    const live = await testService({ SMTP_URL: smtp.url, ALERT_GROUP_WAIT_SECONDS: '1' });
    try {
      await emailSubscriber(live, 'legal@acme.test');
      live.dispatcher.start();
      await new Promise((r) => setTimeout(r, 300)); // idle: asleep until its poll
      const t0 = Date.now();
      await live.ingest(makeEvent({ detected_at: new Date().toISOString() }));
      await smtp.waitFor(1, 2_500);
      expect(Date.now() - t0).toBeLessThan(2_000);
    } finally {
      await live.dispose();
    }
  });

  it('groups from the pending matches outwards, never reading every account or match', async () => {
    await emailSubscriber(s, 'legal@acme.test');
    await emailSubscriber(s, 'privacy@acme.test');
    await s.ingest(makeEvent());
    const plan = await s.database.db.all<{ detail: string }>(sql`EXPLAIN QUERY PLAN SELECT * FROM ${dueGroups('[{"tz":"UTC"}]', clock())} g`);
    const steps = plan.map((p) => p.detail);
    // The waiting decisions, from the events filed as waiting through the (event, destination) key.
    expect(steps).toContain('SCAN w');
    expect(steps).toContain('SEARCH m USING INDEX matches_event_destination (event_pk=?)');
    expect(steps.filter((d) => /^SCAN m\b/.test(d))).toEqual([]);
    expect(steps.filter((d) => /^(SCAN|SEARCH) (d|a|o) /.test(d)).every((d) => d.startsWith('SEARCH') && !d.includes('AUTOMATIC'))).toBe(true);
  });

  it('files a due group’s matches in one pass over the pending matches, not one per destination', async () => {
    await emailSubscriber(s, 'legal@acme.test');
    await emailSubscriber(s, 'privacy@acme.test');
    await s.ingest(makeEvent());
    const plan = await s.database.db.all<{ detail: string }>(
      sql`EXPLAIN QUERY PLAN SELECT * FROM ${pendingOf(dueGroups('[{"tz":"UTC"}]', clock()))} x`,
    );
    const steps = plan.map((p) => p.detail);
    // Each due group's message is found once (one scan of the events filed as waiting builds the
    // due groups), then the pending matches drive the loop, once, each finding its group's
    // message by an index on them: never a look-up of the outbox per pending match.
    expect(steps.filter((d) => /^SCAN (g|p|o|oa|ob|pm|m|w|t)\b/.test(d))).toEqual(['SCAN w', 'SCAN p', 'SCAN w']);
    expect(steps.filter((d) => d === 'SEARCH m USING INDEX matches_event_destination (event_pk=?)')).toHaveLength(2);
    expect(steps.some((d) => /^SEARCH t USING .*INDEX \(destination_id=\?\)/.test(d))).toBe(true);
    expect(steps.indexOf('MATERIALIZE t')).toBe(0);
  });
});

describe('DKIM', () => {
  it('signs every mail when DKIM_* are set', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const signed = await testService({ SMTP_URL: smtp.url, ALERT_GROUP_WAIT_SECONDS: '0', DKIM_DOMAIN: 'clausewatch.test', DKIM_SELECTOR: 'cw', DKIM_PRIVATE_KEY: pem }, { clock });
    try {
      await emailSubscriber(signed, 'legal@acme.test');
      await signed.ingest(makeEvent());
      await signed.dispatcher.runOnce();
      const [mail] = await smtp.waitFor(1);
      expect(mail!.raw).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=clausewatch\.test;[\s\S]*s=cw;/m);
    } finally {
      await signed.dispose();
    }
  });
});
