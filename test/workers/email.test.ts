import { beforeEach, describe, expect, it } from 'vitest';
import { env } from 'cloudflare:workers';
import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult, waitOnExecutionContext } from 'cloudflare:test';
import worker from '../../src/worker.js';
import type { DeliveryMessage, Env } from '../../src/workers/edition.js';
import { changeEvent } from './events.js';
import { classifyEmailServiceError, MESSAGE_ID_HEADER, type EmailSendingBinding } from '../../src/workers/email.js';

/**
 * Email on the Workers edition. wrangler 4.86's local `send_email` binding accepts the
 * structured `send({from, to, subject, html, text, headers})` but keeps what it was given out of
 * reach of a test (it logs it and writes files in the Node process), ignores `headers`, and
 * throws errors without Email Service's `code`. So these tests hand the worker a recording
 * binding of the same interface (and a recording queue producer, to drive the consumer and count
 * sendBatch calls); one test sends through the real local binding that wrangler.toml declares.
 */

const ADMIN = 'test-admin-token';
const INGEST = 'test-ingest-token';

type Sent = Parameters<EmailSendingBinding['send']>[0];

/** A send_email binding that records what it is given and throws the errors it is told to. */
function recordingMailbox() {
  const sent: Sent[] = [];
  const refusals: Error[] = [];
  return {
    sent,
    refuseNext(code: string, message = code) {
      refusals.push(Object.assign(new Error(message), { code }));
    },
    async send(m: Sent) {
      const refusal = refusals.shift();
      if (refusal) throw refusal;
      sent.push(structuredClone(m));
      return { messageId: `<cf-${sent.length}@email.cloudflare.test>` };
    },
  };
}

/** A queue producer that records every call. */
function recordingQueue() {
  const batches: DeliveryMessage[][] = [];
  const delayed: { body: DeliveryMessage; delaySeconds?: number }[] = [];
  return {
    batches,
    delayed,
    async send(body: DeliveryMessage, opts?: QueueSendOptions) {
      delayed.push({ body, delaySeconds: opts?.delaySeconds });
    },
    async sendBatch(messages: Iterable<MessageSendRequest<DeliveryMessage>>) {
      batches.push([...messages].map((m) => m.body));
    },
    /** Everything handed over so far, taken out: the next call returns only newer messages. */
    take(): DeliveryMessage[] {
      return batches.splice(0).flat();
    },
  };
}

let mailbox: ReturnType<typeof recordingMailbox>;
let queue: ReturnType<typeof recordingQueue>;
let testEnv: Env;

beforeEach(async () => {
  await env.DB.batch(['matches', 'outbox', 'subscriptions', 'destinations', 'accounts', 'events', 'rate_limits'].map((t) => env.DB.prepare(`DELETE FROM ${t}`)));
  mailbox = recordingMailbox();
  queue = recordingQueue();
  // A fresh object: the edition is built per environment, with these bindings.
  testEnv = { ...(env as unknown as Env), EMAIL: mailbox, DELIVERY: queue as unknown as Queue<DeliveryMessage> };
});

async function request(method: string, path: string, opts: { body?: unknown; token?: string | null; headers?: Record<string, string>; form?: Record<string, string> } = {}) {
  const ctx = createExecutionContext();
  const headers: Record<string, string> = { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers };
  let body: string | undefined;
  if (opts.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(opts.form).toString();
  } else if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  const url = path.startsWith('https://') ? path : `https://clausewatch.test${path}`;
  const res = await worker.fetch(new Request(url, { method, headers, body }) as Request<unknown, IncomingRequestCfProperties>, testEnv, ctx);
  const text = await res.text();
  // The fetch handler hands what the write stored to the queue in waitUntil.
  await waitOnExecutionContext(ctx);
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Runs the delivery queue's consumer over the messages handed over so far, as the broker would. */
async function deliverQueued(attempts = 1) {
  const messages = queue.take();
  if (!messages.length) return { acks: [] as string[], retries: [] as { msgId: string }[] };
  const ctx = createExecutionContext();
  const batch = createMessageBatch<DeliveryMessage>(
    'clausewatch-delivery',
    messages.map((body, i) => ({ id: `q${body.outboxId}-${i}`, timestamp: new Date(), attempts, body })),
  );
  await worker.queue(batch, testEnv, ctx);
  const r = await getQueueResult(batch, ctx);
  return { acks: r.explicitAcks, retries: r.retryMessages };
}

const event = changeEvent;

/** A monitor account with one (admin-made, so already confirmed) email destination on openai. */
async function monitorWithEmail(address = 'legal@acme.test') {
  const account = (await request('POST', '/v1/accounts', { token: ADMIN, body: { name: 'Acme Legal', plan: 'monitor' } })).json;
  const dest = await request('POST', `/v1/accounts/${account.id}/destinations`, { token: ADMIN, body: { type: 'email', address } });
  expect(dest.status).toBe(201);
  expect((await request('POST', `/v1/accounts/${account.id}/subscriptions`, { token: ADMIN, body: { platform: 'openai', destination: dest.json.id } })).status).toBe(201);
  return { account, destination: dest.json };
}

/** `n` digest rows due now for one email destination, as a 06:00 digest run leaves them. */
async function dueDigestRows(n: number, now: number) {
  const { account, destination } = await monitorWithEmail();
  await env.DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?4)
     INSERT INTO outbox (idempotency_key, kind, destination_id, account_id, channel, status, due_at, created_at, updated_at)
     SELECT 'burst:' || i, 'digest', ?1, ?2, 'email', 'queued', ?3, ?3, ?3 FROM n`,
  ).bind(destination.id, account.id, now - 1000, n).run();
}

const row = async (id: number) => env.DB.prepare('SELECT status, attempts, last_error, provider_id, due_at FROM outbox WHERE id = ?').bind(id).first<{ status: string; attempts: number; last_error: string | null; provider_id: string | null; due_at: number }>();
const destinationRow = async (id: string) => env.DB.prepare('SELECT status, disabled_reason FROM destinations WHERE id = ?').bind(id).first<{ status: string; disabled_reason: string | null }>();

/** Opens a link from a mail as a person would: the page, and its button when it has one. */
async function follow(url: string) {
  const page = await request('GET', url);
  const form = /<form[^>]*method="post"[^>]*>[\s\S]*?<\/form>/i.exec(page.text)?.[0];
  if (!form) return page;
  const action = /action="([^"]*)"/i.exec(form)?.[1] ?? url;
  // What the button submits: the form's named fields (hidden ones included).
  const fields = Object.fromEntries([...form.matchAll(/<(?:input|button)[^>]*\bname="([^"]+)"[^>]*?(?:\bvalue="([^"]*)")?[^>]*>/gi)].map((m) => [m[1]!, (m[2] ?? '').replaceAll('&amp;', '&')]));
  return request('POST', new URL(action.replaceAll('&amp;', '&'), url).toString(), { form: fields });
}

describe('email on the Workers edition', () => {
  it('signs up by CF-Connecting-IP, mails the confirmation, confirms, then mails an alert and the weekly digest with their headers', async () => {
    const ip = { 'cf-connecting-ip': '203.0.113.7' };
    const signup = await request('POST', '/v1/signup', { body: { email: 'Ana@Reader.test', platform: 'openai' }, headers: ip });
    expect(signup.status).toBe(202);
    expect(signup.json.status).toBe('confirmation_sent');

    // The fetch handler handed the confirmation to the queue; its consumer mails it.
    expect((await deliverQueued()).acks).toHaveLength(1);
    expect(mailbox.sent).toHaveLength(1);
    const confirmation = mailbox.sent[0]!;
    expect(confirmation).toMatchObject({ from: { email: 'alerts@clausewatch.test', name: 'ClauseWatch' }, to: 'ana@reader.test', subject: 'Confirm your ClauseWatch subscription' });
    const confirmUrl = /Confirm: (https:\/\/clausewatch\.test\/confirm\/\S+)/.exec(confirmation.text)?.[1];
    expect(confirmUrl).toBeDefined();
    expect(confirmation.html).toContain(confirmUrl!.replace(/&/g, '&amp;'));
    const { id: destinationId } = (await env.DB.prepare("SELECT id FROM destinations WHERE address = 'ana@reader.test'").first<{ id: string }>())!;
    expect((await destinationRow(destinationId))!.status).toBe('unconfirmed');

    // Sign-ups are limited per CF-Connecting-IP: the default five an hour, then 429 with Retry-After;
    // another client address is not affected.
    for (let i = 0; i < 4; i++) expect((await request('POST', '/v1/signup', { body: { email: `n${i}@reader.test`, platform: 'openai' }, headers: ip })).status).toBe(202);
    const limited = await request('POST', '/v1/signup', { body: { email: 'x@reader.test', platform: 'openai' }, headers: ip });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await request('POST', '/v1/signup', { body: { email: 'y@reader.test', platform: 'openai' }, headers: { 'cf-connecting-ip': '198.51.100.9' } })).status).toBe(202);
    queue.take();

    // The link opens a page whose button confirms: its GET alone (a mail scanner's) confirms nothing.
    expect((await request('GET', confirmUrl!)).status).toBe(200);
    expect((await destinationRow(destinationId))!.status).toBe('unconfirmed');
    expect((await follow(confirmUrl!)).status).toBe(200);
    expect((await destinationRow(destinationId))!.status).toBe('active');

    // Signing up a confirmed address again mails a link to its manage page, and answers the same.
    mailbox.sent.length = 0;
    expect((await request('POST', '/v1/signup', { body: { email: 'ana@reader.test', platform: 'openai' }, headers: { 'cf-connecting-ip': '198.51.100.10' } })).json).toEqual(signup.json);
    await deliverQueued();
    expect(mailbox.sent.map((m) => [m.to, m.subject])).toEqual([['ana@reader.test', 'Your ClauseWatch subscription']]);
    const manageUrl = /https:\/\/clausewatch\.test\/manage\/\S+/.exec(mailbox.sent[0]!.text)?.[0];
    expect((await request('GET', manageUrl!)).text).toContain('ana@reader.test');

    // An alert (monitor plan: same-day alerts) mailed with Message id, List-Unsubscribe and One-Click.
    const { destination } = await monitorWithEmail();
    expect((await request('POST', '/v1/events', { token: INGEST, body: event('evt_mail1', { title: 'Class-action waiver <added>' }) })).status).toBe(202);
    mailbox.sent.length = 0;
    await deliverQueued();
    const alert = mailbox.sent.find((m) => m.to === 'legal@acme.test')!;
    expect(alert).toBeDefined();
    expect(mailbox.sent.map((m) => m.to)).toEqual(['legal@acme.test']); // the free sign-up gets no same-day alert
    expect(alert.subject).toContain('Class-action waiver <added>');
    expect(alert.html).toContain('Class-action waiver &lt;added&gt;');
    expect(alert.html).not.toContain('waiver <added>');
    expect(alert.text).toContain('Disputes go to individual arbitration.');
    const alertRow = (await env.DB.prepare("SELECT id FROM outbox WHERE kind = 'alert'").first<{ id: number }>())!;
    expect(alert.headers).toEqual({
      'List-Unsubscribe': expect.stringMatching(/^<https:\/\/clausewatch\.test\/unsubscribe\/[^>\s]+>$/),
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      // The installation's id (kept in settings) and the row's: the same on a retry, new after a reset.
      [MESSAGE_ID_HEADER]: expect.stringMatching(new RegExp(`^<cw-[0-9a-z]{20}-${alertRow.id}-0@clausewatch\\.test>$`)),
    });
    // Email Service's own message id is what is recorded as the provider's.
    expect(await row(alertRow.id)).toMatchObject({ status: 'sent', provider_id: '<cf-1@email.cloudflare.test>' });

    // The weekly digest of the confirmed sign-up (the free plan's product), from the Cron Trigger.
    await request('POST', '/v1/events', { token: INGEST, body: event('evt_mail2', { title: 'Data retention shortened', detected_at: '2026-11-25T06:00:00Z' }) });
    queue.take();
    mailbox.sent.length = 0;
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: new Date('2026-11-30T09:00:00Z'), cron: '* * * * *' }), testEnv, ctx);
    await waitOnExecutionContext(ctx);
    await deliverQueued();
    const digest = mailbox.sent.find((m) => m.to === 'ana@reader.test')!;
    expect(digest).toBeDefined();
    expect(digest.text).toContain('Data retention shortened');
    expect(digest.headers['List-Unsubscribe']).toMatch(/^<https:\/\/clausewatch\.test\/unsubscribe\/[^>\s]+>$/);
    expect(digest.headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    expect(digest.headers[MESSAGE_ID_HEADER]).toMatch(/^<cw-[0-9a-z]{20}-\d+-0@clausewatch\.test>$/);

    // Every header sent is one Email Service accepts (its allowlist, or X-): none it sets itself.
    for (const m of mailbox.sent.concat(alert, confirmation)) {
      for (const name of Object.keys(m.headers)) expect(name).toMatch(/^(List-Unsubscribe|List-Unsubscribe-Post|X-[A-Za-z0-9_-]+)$/);
    }

    // One-click: the mail client's POST to the List-Unsubscribe link unsubscribes, no page.
    const oneClick = await request('POST', digest.headers['List-Unsubscribe']!.slice(1, -1), { form: { 'List-Unsubscribe': 'One-Click' } });
    expect(oneClick.status).toBeLessThan(300);
    expect(await destinationRow(destinationId)).toMatchObject({ status: 'disabled', disabled_reason: 'unsubscribed' });
  });

  it('mails the effective-date reminder from the Cron Trigger, with the same headers', async () => {
    const { account } = await monitorWithEmail();
    // Reminders go out from the digest hour on; the digest itself on another day than today's, or
    // a run on the digest's own weekday between 00:00 and 01:00 UTC would mail it beside the reminder.
    const otherDay = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'][(new Date().getUTCDay() + 3) % 7];
    expect((await request('PATCH', `/v1/accounts/${account.id}`, { token: ADMIN, body: { timezone: 'UTC', digest_hour: 0, digest_weekday: otherDay, reminder_days: 7 } })).status).toBe(200);
    const inAWeek = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10);
    await request('POST', '/v1/events', { token: INGEST, body: event('evt_mail6', { title: 'Arbitration clause takes effect', effective_at: inAWeek }) });
    await deliverQueued(); // the alert itself
    mailbox.sent.length = 0;
    // A tick on the digest scheduler's five-minute step, now.
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: new Date(Math.floor(Date.now() / 300_000) * 300_000), cron: '* * * * *' }), testEnv, ctx);
    await waitOnExecutionContext(ctx);
    await deliverQueued();
    expect(mailbox.sent).toHaveLength(1);
    const reminder = mailbox.sent[0]!;
    expect(reminder.subject).toBe('Reminder: OpenAI OpenAI Terms of Use change takes effect in 7 days');
    expect(reminder.text).toContain('Arbitration clause takes effect');
    expect(Object.keys(reminder.headers).sort()).toEqual(['List-Unsubscribe', 'List-Unsubscribe-Post', MESSAGE_ID_HEADER]);
  });

  it('retries a refused send through the queue with the backoff delay, and waits out a rate limit without using up attempts', async () => {
    await monitorWithEmail();
    await request('POST', '/v1/events', { token: INGEST, body: event('evt_mail3') });
    const [handed] = queue.batches.flat();
    expect(handed).toBeDefined();

    mailbox.refuseNext('E_INTERNAL_SERVER_ERROR', 'Email Service temporarily unavailable');
    const first = await deliverQueued();
    expect(first.acks).toEqual([]);
    expect(first.retries).toHaveLength(1);
    // The first retry is due in 15–30 s (the outbox's backoff, which the consumer hands to
    // msg.retry as its delay), and the row says why.
    const retrying = (await row(handed!.outboxId))!;
    expect(retrying).toMatchObject({ status: 'retrying', attempts: 1, last_error: 'Email Service E_INTERNAL_SERVER_ERROR: Email Service temporarily unavailable' });
    expect(retrying.due_at - Date.now()).toBeGreaterThan(14_000);
    expect(retrying.due_at - Date.now()).toBeLessThanOrEqual(30_000);
    expect(mailbox.sent).toHaveLength(0);

    // The queue redelivers once the delay is over: now a rate limit. Not a failure: the message is
    // acked and a fresh one waits a minute, the attempt is not counted.
    await env.DB.prepare('UPDATE outbox SET due_at = 0 WHERE id = ?').bind(handed!.outboxId).run();
    mailbox.refuseNext('E_RATE_LIMIT_EXCEEDED', 'Rate limit exceeded');
    queue.batches.push([handed!]);
    const second = await deliverQueued(2);
    expect(second.retries).toEqual([]);
    expect(second.acks).toHaveLength(1);
    expect(queue.delayed).toEqual([{ body: { outboxId: handed!.outboxId }, delaySeconds: 60 }]);
    expect(await row(handed!.outboxId)).toMatchObject({ status: 'retrying', attempts: 1 });

    await env.DB.prepare('UPDATE outbox SET due_at = 0 WHERE id = ?').bind(handed!.outboxId).run();
    queue.batches.push([queue.delayed[0]!.body]);
    expect((await deliverQueued(1)).acks).toHaveLength(1);
    expect(await row(handed!.outboxId)).toMatchObject({ status: 'sent', attempts: 2 });
    expect(mailbox.sent).toHaveLength(1);
  });

  it('switches the destination off when Email Service says the mailbox is gone, and sends it nothing more', async () => {
    const { destination } = await monitorWithEmail('gone@acme.test');
    await request('POST', '/v1/events', { token: INGEST, body: event('evt_mail4') });
    mailbox.refuseNext('E_RECIPIENT_SUPPRESSED', 'Recipient is on the suppression list');
    const [handed] = queue.batches.flat();
    expect((await deliverQueued()).acks).toHaveLength(1); // not retried
    expect(await row(handed!.outboxId)).toMatchObject({ status: 'dead', last_error: 'Email Service E_RECIPIENT_SUPPRESSED: Recipient is on the suppression list' });
    expect(await destinationRow(destination.id)).toMatchObject({ status: 'disabled', disabled_reason: 'Email Service E_RECIPIENT_SUPPRESSED: Recipient is on the suppression list' });

    // The next change for that platform reaches nobody at that address.
    await request('POST', '/v1/events', { token: INGEST, body: event('evt_mail5', { title: 'Another change' }) });
    await deliverQueued();
    expect(mailbox.sent).toEqual([]);
  });

  it('classifies Email Service errors as the Node channel classifies SMTP replies', () => {
    const cases: [code: string, message: string, kind: 'retry' | 'permanent', disable: boolean, rateLimited: boolean][] = [
      ['E_RECIPIENT_SUPPRESSED', 'Recipient is on suppression list', 'permanent', true, false],
      ['E_DELIVERY_FAILED', 'recipient server said 550 5.1.1 <x@acme.test>: user unknown', 'permanent', true, false],
      // 5.7.x at RCPT is the receiver refusing us, not the mailbox: retried, as on Node.
      ['E_DELIVERY_FAILED', '550 5.7.1 Client host blocked', 'retry', false, false],
      ['E_DELIVERY_FAILED', '452 4.2.2 Mailbox full', 'retry', false, false],
      ['E_DELIVERY_FAILED', 'could not deliver', 'retry', false, false],
      ['E_SENDER_NOT_VERIFIED', 'Sender domain not verified', 'retry', false, false],
      ['E_RECIPIENT_NOT_ALLOWED', 'Recipient not in allowed list', 'retry', false, false],
      ['E_INTERNAL_SERVER_ERROR', 'unavailable', 'retry', false, false],
      ['E_RATE_LIMIT_EXCEEDED', 'slow down', 'retry', false, true],
      ['E_DAILY_LIMIT_EXCEEDED', 'daily quota', 'retry', false, true],
      ['E_CONTENT_TOO_LARGE', 'too big', 'permanent', false, false],
      ['E_HEADER_VALUE_INVALID', "Header 'List-Unsubscribe' must contain angle-bracket HTTPS or mailto URI(s).", 'permanent', false, false],
    ];
    for (const [code, message, kind, disable, rateLimited] of cases) {
      const e = classifyEmailServiceError(Object.assign(new Error(message), { code }));
      expect([e.kind, e.disableDestination, e.rateLimited], `${code}: ${message}`).toEqual([kind, disable, rateLimited]);
    }
    // Only the message crossed an RPC boundary: the code is read from it.
    expect(classifyEmailServiceError(new Error('E_RECIPIENT_SUPPRESSED: Recipient is on suppression list')).disableDestination).toBe(true);
    // Something else entirely (the local binding's "email from … not allowed"): retried.
    expect(classifyEmailServiceError(new Error('email from x@y.test not allowed')).kind).toBe('retry');
  });

  it('hands a 1,000-row burst to the queue in sendBatch calls of at most 100', async () => {
    const now = Date.now();
    await dueDigestRows(1000, now);
    // The local queue does not enforce sendBatch's 100 (it took 125 in a trial): this test does.
    const { edition } = await import('../../src/workers/edition.js');
    const e = await edition(testEnv);
    const started = performance.now();
    expect(await e.pump(now)).toBe(1000);
    const ms = performance.now() - started;
    expect(queue.batches.map((b) => b.length)).toEqual(Array(10).fill(100));
    expect(new Set(queue.batches.flat().map((m) => m.outboxId)).size).toBe(1000);
    const left = await env.DB.prepare("SELECT count(*) AS n FROM outbox WHERE status = 'queued'").first<{ n: number }>();
    expect(left!.n).toBe(0);
    console.log(JSON.stringify({ burst: 1000, sendBatchCalls: queue.batches.length, ms: Math.round(ms) }));
  });

  it('puts the rows of a sendBatch call the queue refused back as due, and only those', async () => {
    const now = Date.now();
    await dueDigestRows(1000, now);
    let calls = 0;
    const refusing = {
      ...queue,
      async sendBatch(messages: Iterable<MessageSendRequest<DeliveryMessage>>) {
        if (++calls === 3) throw new Error('Too Many Requests: queue clausewatch-delivery');
        return queue.sendBatch(messages);
      },
    };
    const { createEdition } = await import('../../src/workers/edition.js');
    const e = await createEdition({ ...testEnv, DELIVERY: refusing as unknown as Queue<DeliveryMessage> });
    await expect(e.pump(now)).rejects.toThrow('Too Many Requests');
    const counts = await env.DB.prepare('SELECT status, count(*) AS n FROM outbox GROUP BY status ORDER BY status').all<{ status: string; n: number }>();
    expect(counts.results).toEqual([{ status: 'queued', n: 100 }, { status: 'sending', n: 900 }]);
    expect(queue.batches.flat()).toHaveLength(900);
    // The next pump hands over the hundred that were put back.
    queue.take();
    expect(await (await createEdition(testEnv)).pump(now)).toBe(100);
  });

  it('paces a longer burst under the queue’s 5,000 messages a second', async () => {
    const now = Date.now();
    await dueDigestRows(3000, now);
    // A clock that stands still: every message handed over must be paid for by a wait.
    const waits: number[] = [];
    const { createEdition } = await import('../../src/workers/edition.js');
    const e = await createEdition(testEnv, () => now, async (ms) => void waits.push(ms));
    expect(await e.pump(now)).toBe(3000);
    expect(queue.batches).toHaveLength(30);
    expect(waits).toEqual([200, 400, 600]); // 1,000, 2,000, 3,000 messages at 5 per millisecond
  });

  it('refuses email destinations and has no /v1/signup without the EMAIL binding, and will not start with a sender it cannot use', async () => {
    const { createEdition } = await import('../../src/workers/edition.js');
    const without = await createEdition({ ...testEnv, EMAIL: undefined });
    const account = (await (await without.app.request('/v1/accounts', { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Acme', plan: 'monitor' }) })).json()) as { id: string };
    const email = await without.app.request(`/v1/accounts/${account.id}/destinations`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'email', address: 'legal@acme.test' }) });
    expect(email.status).toBe(400);
    expect(((await email.json()) as { issues: unknown }).issues).toEqual([{ path: 'type', message: 'email is not delivered by this server (it delivers discord, webhook, slack, teams)' }]);
    expect((await without.app.request('/v1/signup', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'a@b.test', platform: 'openai' }) })).status).toBe(404);

    // With the binding, what can be checked before the first send is checked at start.
    const bad: [Record<string, string | undefined>, RegExp][] = [
      [{ MAIL_FROM: undefined }, /^MAIL_FROM: expected a sender on the domain verified in Email Service/],
      [{ MAIL_FROM: 'ClauseWatch <alerts@localhost>' }, /^MAIL_FROM: expected .*got "ClauseWatch <alerts@localhost>"/],
      [{ MAIL_FROM: 'alerts' }, /^MAIL_FROM: expected/],
      [{ PUBLIC_URL: 'http://clausewatch.test' }, /^PUBLIC_URL: expected an https:\/\/ URL/],
    ];
    for (const [vars, error] of bad) await expect(createEdition({ ...testEnv, ...vars } as Env), JSON.stringify(vars)).rejects.toThrow(error);
    const bare = await createEdition({ ...testEnv, MAIL_FROM: 'news@clausewatch.test' } as Env);
    expect(bare.channels).toContain('email');
  });

  it('sends through the send_email binding wrangler.toml declares, which the local runtime simulates', async () => {
    const real = { ...(env as unknown as Env) };
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request('https://clausewatch.test/v1/signup', { method: 'POST', headers: { 'content-type': 'application/json', 'cf-connecting-ip': '192.0.2.44' }, body: JSON.stringify({ email: 'local@reader.test', platform: 'openai' }) }) as Request<unknown, IncomingRequestCfProperties>,
      real,
      ctx,
    );
    expect(res.status).toBe(202);
    await waitOnExecutionContext(ctx);
    // The real local queue's broker runs the consumer, which sends through the simulated binding:
    // the row is sent, with the message id the simulator made on the sender's domain.
    await expect
      .poll(async () => (await env.DB.prepare("SELECT status, provider_id FROM outbox WHERE kind = 'confirmation'").first<{ status: string; provider_id: string }>()), { timeout: 10_000, interval: 100 })
      .toMatchObject({ status: 'sent', provider_id: expect.stringMatching(/^<[A-Za-z0-9]+@clausewatch\.test>$/) });
  });
});
