import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { env, exports } from 'cloudflare:workers';
import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult, waitOnExecutionContext } from 'cloudflare:test';
import worker from '../../src/worker.js';
import { destinationLinks } from '../../src/links.js';
import type { DeliveryMessage } from '../../src/workers/edition.js';
import { changeEvent } from './events.js';

const ADMIN = 'test-admin-token';
const INGEST = 'test-ingest-token';
const GUILD = '123456789012345678';
const CHANNEL = '223456789012345678';

/** Every outbound request the worker makes (Discord's API, webhook receivers), answered here. */
let calls: { url: string; method: string; headers: Headers; body: string }[] = [];
let answer: (url: URL) => Response = () => new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } });

beforeAll(() => {
  // Installed once for the file: queue messages still in flight after a test are answered too.
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const req = new Request(input, init);
    calls.push({ url: req.url, method: req.method, headers: req.headers, body: await req.text() });
    return answer(new URL(req.url));
  });
});
beforeEach(async () => {
  // Storage is kept across the tests of a file: each starts from the catalog alone. The queue of
  // group decisions first: deleting subscriptions while it holds some would settle them.
  await env.DB.batch(['decisions_unsettled', 'alerts_waiting', 'matches', 'outbox', 'subscriptions', 'destinations', 'accounts', 'events', 'rate_limits'].map((t) => env.DB.prepare(`DELETE FROM ${t}`)));
  calls = [];
  answer = (url) =>
    url.hostname === 'discord.test'
      ? Response.json({ id: `m${calls.length}`, channel_id: CHANNEL })
      : url.hostname === 'slack.test'
        ? Response.json({ ok: true, channel: 'C0123ABCD', ts: `1764000000.${calls.length}` })
        : new Response('ok', { status: 200 });
});
afterAll(() => vi.restoreAllMocks());

async function call(method: string, path: string, body?: unknown, token: string | null = ADMIN, headers: Record<string, string> = {}) {
  const res = await exports.default.fetch(`https://clausewatch.test${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

const event = changeEvent;

async function monitorAccount() {
  const account = (await call('POST', '/v1/accounts', { name: 'Acme Legal', plan: 'monitor' })).json;
  const hook = (await call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'webhook', url: 'https://hooks.example.test/cw' })).json;
  const discord = (await call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'discord', guild: GUILD, channel: CHANNEL })).json;
  const slack = (await call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'slack', team: 'T0123ABCD', channel: 'C0123ABCD' })).json;
  for (const d of [hook, discord, slack]) expect((await call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform: 'openai', destination: d.id })).status).toBe(201);
  return { account, hook, discord, slack };
}

const outbox = async () => (await env.DB.prepare('SELECT id, kind, channel, status, attempts, last_error FROM outbox ORDER BY id').all<{ id: number; kind: string; channel: string; status: string; attempts: number; last_error: string | null }>()).results;

describe('the Workers edition', () => {
  it('ingests into D1, hands the alerts to the queue, and its consumer sends each once to Discord, Slack and the webhook', async () => {
    await monitorAccount();
    const e1 = event('evt_w1');
    const r = await call('POST', '/v1/events', e1, INGEST);
    expect(r).toMatchObject({ status: 202, json: { accepted: 1, matched: 3 } });

    // The fetch handler pumped the due alerts into the queue; the local broker runs the consumer.
    await vi.waitFor(async () => expect((await outbox()).map((o) => [o.channel, o.status, o.last_error]).sort()).toEqual([['discord', 'sent', null], ['slack', 'sent', null], ['webhook', 'sent', null]]), { timeout: 10_000, interval: 100 });
    const hook = calls.filter((c) => c.url === 'https://hooks.example.test/cw');
    const discord = calls.filter((c) => c.url.startsWith('https://discord.test/api/v10/channels/'));
    expect(hook).toHaveLength(1);
    expect(hook[0]!.headers.get('webhook-signature')).toMatch(/^v1,/);
    expect(JSON.parse(hook[0]!.body)).toMatchObject({ type: 'change.alert', data: { changes: [{ id: 'evt_w1' }] } });
    expect(discord).toHaveLength(1);
    expect(discord[0]!.url).toBe(`https://discord.test/api/v10/channels/${CHANNEL}/messages`);
    expect(discord[0]!.headers.get('authorization')).toBe('Bot test-bot-token');
    expect(JSON.parse(discord[0]!.body).embeds[0].title).toContain('waiver added');
    const slack = calls.filter((c) => c.url === 'https://slack.test/api/chat.postMessage');
    expect(slack).toHaveLength(1);
    expect(slack[0]!.headers.get('authorization')).toBe('Bearer xoxb-test');
    expect(slack[0]!.body).toContain('C0123ABCD');

    // The same event again is a duplicate and sends nothing more.
    expect((await call('POST', '/v1/events', e1, INGEST)).json).toMatchObject({ accepted: 0, duplicates: 1 });
    await new Promise((r) => setTimeout(r, 1500));
    expect(calls.filter((c) => c.method === 'POST')).toHaveLength(3);
  });

  it('retries a failed send through the queue with the backoff delay, and a repeated message sends nothing twice', async () => {
    await monitorAccount();
    answer = () => new Response('busy', { status: 503 });
    const ctx = createExecutionContext();
    // Ingest without the fetch handler's pump, so this test drives the queue itself.
    const { edition } = await import('../../src/workers/edition.js');
    const e = await edition(env);
    await e.app.fetch(new Request('https://clausewatch.test/v1/events', { method: 'POST', headers: { authorization: `Bearer ${INGEST}`, 'content-type': 'application/json' }, body: JSON.stringify(event('evt_w2')) }), env, ctx);
    await e.pump(Date.now()); // hands both rows to the queue (the local broker will deliver them too)
    const [row] = (await outbox()).filter((o) => o.channel === 'webhook');

    const batch = createMessageBatch<DeliveryMessage>('clausewatch-delivery', [{ id: 'm1', timestamp: new Date(), attempts: 1, body: { outboxId: row!.id } }]);
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    // This consumer or the broker's delivery of the pumped message claimed it: either way the
    // 503 became a retry, recorded on the row with its next attempt time.
    expect(result.retryMessages.length + result.explicitAcks.length).toBe(1);
    await vi.waitFor(async () => expect((await outbox()).find((o) => o.id === row!.id)!.status).toBe('retrying'), { timeout: 10_000 });

    // The receiver recovers; the queue's redelivery (once the retry is due) sends it, and a stray
    // duplicate message for the same row afterwards sends nothing.
    answer = () => new Response('ok', { status: 200 });
    await env.DB.prepare('UPDATE outbox SET due_at = 0 WHERE id = ?').bind(row!.id).run();
    const again = createMessageBatch<DeliveryMessage>('clausewatch-delivery', [{ id: 'm1', timestamp: new Date(), attempts: 2, body: { outboxId: row!.id } }]);
    await worker.queue(again, env, ctx);
    expect((await getQueueResult(again, ctx)).explicitAcks).toEqual(['m1']);
    expect((await outbox()).find((o) => o.id === row!.id)!.status).toBe('sent');
    const sentBefore = calls.filter((c) => c.url.startsWith('https://hooks.example.test/') && c.method === 'POST').length;
    const stray = createMessageBatch<DeliveryMessage>('clausewatch-delivery', [{ id: 'm9', timestamp: new Date(), attempts: 1, body: { outboxId: row!.id } }]);
    await worker.queue(stray, env, ctx);
    expect((await getQueueResult(stray, ctx)).explicitAcks).toEqual(['m9']);
    expect(calls.filter((c) => c.url.startsWith('https://hooks.example.test/') && c.method === 'POST')).toHaveLength(sentBefore);
    await waitOnExecutionContext(ctx);
  });

  it('sends a rate-limited message back as a fresh delayed message, so it never uses up the queue’s retries; the dead-letter consumer spares a row a live consumer holds', async () => {
    await monitorAccount();
    const { edition } = await import('../../src/workers/edition.js');
    const e = await edition(env);
    const ctx = createExecutionContext();
    await e.app.fetch(new Request('https://clausewatch.test/v1/events', { method: 'POST', headers: { authorization: `Bearer ${INGEST}`, 'content-type': 'application/json' }, body: JSON.stringify(event('evt_w4')) }), env, ctx);
    // Grouped into outbox rows, but not handed to the queue: this test is the queue.
    const { groupDueAlerts } = await import('../../src/delivery/grouping.js');
    await groupDueAlerts(e.db, Date.now(), 0);
    const slackRow = (await outbox()).find((o) => o.channel === 'slack')!;
    answer = (url) => (url.hostname === 'slack.test' ? new Response('{"ok":false,"error":"ratelimited"}', { status: 429, headers: { 'retry-after': '30', 'content-type': 'application/json' } }) : new Response('ok'));
    const batch = createMessageBatch<DeliveryMessage>('clausewatch-delivery', [{ id: 'r1', timestamp: new Date(), attempts: 1, body: { outboxId: slackRow.id } }]);
    await worker.queue(batch, env, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toEqual(['r1']);
    const after = await env.DB.prepare('SELECT status, attempts, due_at FROM outbox WHERE id = ?').bind(slackRow.id).first<{ status: string; attempts: number; due_at: number }>();
    expect(after).toMatchObject({ status: 'retrying', attempts: 0 });
    expect(after!.due_at - Date.now()).toBeGreaterThan(25_000);

    // A dead-lettered message: the row is recorded dead, unless a live consumer is sending it.
    const webhookRow = (await outbox()).find((o) => o.channel === 'webhook')!;
    await env.DB.prepare("UPDATE outbox SET status = 'sending', lease_owner = 'queue:live:1', lease_until = ? WHERE id = ?").bind(Date.now() + 60_000, webhookRow.id).run();
    const dead = createMessageBatch<DeliveryMessage>('clausewatch-delivery-dlq', [
      { id: 'd1', timestamp: new Date(), attempts: 1, body: { outboxId: slackRow.id } },
      { id: 'd2', timestamp: new Date(), attempts: 1, body: { outboxId: webhookRow.id } },
    ]);
    await worker.queue(dead, env, ctx);
    expect((await getQueueResult(dead, ctx)).explicitAcks.sort()).toEqual(['d1', 'd2']);
    const rows = new Map((await outbox()).map((o) => [o.id, o]));
    expect(rows.get(slackRow.id)).toMatchObject({ status: 'dead', last_error: 'the delivery queue gave up after its retries' });
    expect(rows.get(webhookRow.id)!.status).toBe('sending');
    await waitOnExecutionContext(ctx);
  });

  it('enqueues each digest once from the Cron Trigger, however often the tick runs', async () => {
    const { account } = await monitorAccount();
    await call('PATCH', `/v1/accounts/${account.id}`, { timezone: 'UTC', digest_weekday: 'monday', digest_hour: 9 });
    await call('POST', '/v1/events', event('evt_w3', { detected_at: '2026-11-25T06:00:00Z' }), INGEST);
    const monday = new Date('2026-11-30T09:00:00Z');
    const ctx = createExecutionContext();
    for (let i = 0; i < 3; i++) await worker.scheduled(createScheduledController({ scheduledTime: monday, cron: '* * * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);
    const digests = (await outbox()).filter((o) => o.kind === 'digest');
    expect(digests.map((d) => d.channel).sort()).toEqual(['discord', 'slack', 'webhook']);
  });

  it('sets subscriber group counts changed behind the triggers right again on the hour', async () => {
    await monitorAccount();
    const counts = async () => (await env.DB.prepare('SELECT sum(subscribers) AS n, count(*) AS groups FROM subscriber_groups WHERE subscribers <> 0').first<{ n: number; groups: number }>())!;
    expect(await counts()).toEqual({ n: 3, groups: 1 });
    await env.DB.prepare('UPDATE subscriber_groups SET subscribers = 7').run();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: new Date('2026-11-30T10:05:00Z'), cron: '* * * * *' }), env, ctx);
    expect((await counts()).n).toBe(7); // not the hour: left as it is
    await worker.scheduled(createScheduledController({ scheduledTime: new Date('2026-11-30T11:00:00Z'), cron: '* * * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await counts()).toEqual({ n: 3, groups: 1 });
  });

  it('answers bad input as the Node service does, and refuses webhook URLs it must not call', async () => {
    const bad = await call('POST', '/v1/events', { ...event('evt_bad'), severity: 'urgent', detected_at: 'yesterday' }, INGEST);
    expect(bad.status).toBe(400);
    expect(bad.json.error).toBe('invalid_event');
    expect(bad.json.issues.map((d: { path: string }) => d.path).sort()).toEqual(['detected_at', 'severity']);
    expect((await call('POST', '/v1/events', event('evt_x'), null)).status).toBe(401);
    expect((await call('POST', '/v1/events', event('evt_x'), ADMIN)).status).toBe(401);
    expect((await call('POST', '/v1/events', 'x'.repeat(1024 * 1024 + 1), INGEST)).status).toBe(413);
    expect((await call('POST', '/v1/events', '{"id":', INGEST)).json).toMatchObject({ error: 'invalid_event', issues: [{ path: '(body)' }] });
    const unsupported = await exports.default.fetch('https://clausewatch.test/v1/events', { method: 'POST', headers: { authorization: `Bearer ${INGEST}`, 'content-type': 'text/plain' }, body: '{}' });
    expect(unsupported.status).toBe(415);
    expect((await env.DB.prepare('SELECT count(*) AS n FROM events').first<{ n: number }>())!.n).toBe(0);
    expect((await call('POST', '/v1/events', event('evt_c'), INGEST)).status).toBe(202);
    const conflict = await call('POST', '/v1/events', { ...event('evt_c'), title: 'Something else' }, INGEST);
    expect(conflict.status).toBe(409);
    expect(conflict.json.error).toBe('event_conflict');

    const account = (await call('POST', '/v1/accounts', { name: 'Acme', plan: 'monitor' })).json;
    for (const url of ['https://10.0.0.1/hook', 'https://[::1]/hook', 'https://localhost/hook']) {
      const hook = await call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'webhook', url });
      expect(hook.status, url).toBe(400);
      expect(hook.json.issues[0].path).toBe('url');
    }
    expect((await env.DB.prepare('SELECT count(*) AS n FROM destinations').first<{ n: number }>())!.n).toBe(0);
  });

  it('serves the Atom feeds and the signed manage page from D1', async () => {
    const { hook } = await monitorAccount();
    await call('POST', '/v1/events', event('evt_w5', { title: 'Fees <b>raised</b>' }), INGEST);
    const feed = await exports.default.fetch('https://clausewatch.test/feeds/openai.atom');
    expect(feed.status).toBe(200);
    expect(feed.headers.get('content-type')).toContain('application/atom+xml');
    const xml = await feed.text();
    expect(xml).toContain('Fees &lt;b&gt;raised&lt;/b&gt;');
    expect((await exports.default.fetch('https://clausewatch.test/feeds/openai.atom', { headers: { 'if-none-match': feed.headers.get('etag')! } })).status).toBe(304);
    // Manage links are signed with WebCrypto here; a forged one is refused.
    const { edition } = await import('../../src/workers/edition.js');
    const e = await edition(env);
    const manage = await exports.default.fetch((await destinationLinks(e.links, hook.id)).manage);
    expect(manage.status).toBe(200);
    expect(await manage.text()).toContain('a webhook');
    expect((await exports.default.fetch('https://clausewatch.test/manage/forged-token')).status).toBeGreaterThanOrEqual(400);
  });

  it('answers a signed Discord slash command within the request, with WebCrypto Ed25519', async () => {
    const privateKey = await crypto.subtle.importKey(
      'pkcs8',
      hex('302e020100300506032b6570042204204697809cc7f8e35e4c701051601f3170d8672d52cfc9341ac0487f01f77f05a8'),
      { name: 'Ed25519' },
      false,
      ['sign'],
    );
    const body = JSON.stringify({
      id: '1',
      application_id: '999',
      type: 2,
      token: 'interaction-token',
      version: 1,
      guild_id: GUILD,
      channel_id: CHANNEL,
      channel: { id: CHANNEL, type: 0 },
      member: { permissions: String(1n << 5n), user: { id: '42', username: 'ana' }, roles: [] },
      data: { id: '9', name: 'clausewatch', type: 1, options: [{ name: 'subscribe', type: 1, options: [{ name: 'platform', type: 3, value: 'openai' }] }] },
    });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = new Uint8Array(await crypto.subtle.sign('Ed25519', privateKey, new TextEncoder().encode(timestamp + body)));
    const headers = { 'x-signature-ed25519': [...signature].map((b) => b.toString(16).padStart(2, '0')).join(''), 'x-signature-timestamp': timestamp };
    const ok = await call('POST', '/discord/interactions', body, null, { ...headers, 'content-type': 'application/json' });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(ok.json.data.content).toContain('OpenAI');
    const forged = await call('POST', '/discord/interactions', body.replace('openai', 'stripe'), null, { ...headers, 'content-type': 'application/json' });
    expect(forged.status).toBe(401);
  });
});

function hex(s: string): Uint8Array {
  return Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
}

describe('Teams on the Workers edition', () => {
  const TEAMS_URL = 'https://prod-12.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=s3cret';
  async function teamsAccount() {
    const account = (await call('POST', '/v1/accounts', { name: 'Teams Legal', plan: 'monitor' })).json;
    const teams = await call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'teams', webhook_url: TEAMS_URL });
    expect(teams.status).toBe(201);
    expect((await call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform: 'openai', destination: teams.json.id })).status).toBe(201);
    return teams.json;
  }

  it('posts an alert as an Adaptive Card through fetch', async () => {
    answer = () => new Response(null, { status: 202 });
    await teamsAccount();
    expect((await call('POST', '/v1/events', event('evt_t1'), INGEST)).status).toBe(202);
    await vi.waitFor(async () => expect((await outbox()).map((o) => [o.channel, o.status])).toEqual([['teams', 'sent']]), { timeout: 10_000, interval: 100 });
    const posted = calls.filter((c) => c.url === TEAMS_URL);
    expect(posted).toHaveLength(1);
    const body = JSON.parse(posted[0]!.body);
    expect(body).toMatchObject({ type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard', version: '1.5' } }] });
  });

  it('switches the destination off when the workflow answers 410', async () => {
    answer = () => new Response(null, { status: 410 });
    const teams = await teamsAccount();
    await call('POST', '/v1/events', event('evt_t2'), INGEST);
    await vi.waitFor(async () => expect((await outbox()).map((o) => o.status)).toEqual(['dead']), { timeout: 10_000, interval: 100 });
    const d = await env.DB.prepare('SELECT status, disabled_reason FROM destinations WHERE id = ?').bind(teams.id).first();
    expect(d).toEqual({ status: 'disabled', disabled_reason: 'Teams answered HTTP 410: the workflow behind this webhook was deleted or turned off' });
  });
});
