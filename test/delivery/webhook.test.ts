import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient } from '@libsql/client';
import { createLogger, silentLogger } from '../../src/log.js';
import { sql } from 'drizzle-orm';
import { TEST_SECRET_KEY, testService, type TestService } from '../support/service.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';
import { fixedClock } from '../support/clock.js';
import { ADMIN_TOKEN, INGEST_TOKEN, fixtureEvents, makeEvent } from '../support/app.js';
import { checkWebhookUrl } from '../../src/webhook-guard.js';
import { rawDatabase } from '../support/db.js';
import { postFailed, webhookSecretKey } from '../../src/delivery/channels/webhook/send.js';
import { NOT_SENT } from '../../src/delivery/channels/webhook/not-sent.js';
import { newWebhookSecret } from '../../src/core/webhook-secret.js';
import { loadConfig } from '../../src/config.js';
import { createService } from '../../src/service.js';
import { join } from 'node:path';

import { isPublicAddress, literalHostRefusal } from '../../src/core/ip-address.js';

let hook: Awaited<ReturnType<typeof startWebhookReceiver>>;
let s: TestService;
// Standard Webhooks receivers refuse timestamps more than 5 minutes off: the clock is real time.
const clock = fixedClock(Date.now());

beforeEach(async () => {
  clock.set(Date.now());
  hook = await startWebhookReceiver();
  s = await testService({ WEBHOOK_ALLOW_PRIVATE: 'true', ALERT_GROUP_WAIT_SECONDS: '0' }, { clock });
});
afterEach(async () => {
  await s.dispose();
  await hook.close();
});

async function webhookSubscriber() {
  const account = (await s.call('POST', '/v1/accounts', { name: 'Hooks', plan: 'monitor' })).json;
  const dest = await s.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'webhook', url: hook.url });
  expect(dest.status).toBe(201);
  hook.state.secrets = [dest.json.secret];
  await s.call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform: 'anthropic', destination: dest.json.id });
  return { account, destination: dest.json };
}
/** Addresses a webhook must not reach, one or more per special-use range, and why. */
const REFUSED: [string, string][] = [
  ['127.0.0.1', 'IPv4 loopback'],
  ['10.1.2.3', 'IPv4 private'],
  ['172.16.0.1', 'IPv4 private'],
  ['192.168.1.1', 'IPv4 private'],
  ['169.254.169.254', 'IPv4 link-local (cloud metadata)'],
  ['100.64.0.1', 'IPv4 shared address space'],
  ['0.0.0.0', 'IPv4 this network'],
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['fe80::1', 'link-local'],
  ['fd00::1', 'unique local'],
  ['ff02::1', 'multicast'],
  ['fec0::1', 'site-local fec0::/10'],
  ['feff:ffff::1', 'site-local fec0::/10, its end'],
  ['::127.0.0.1', 'IPv4-compatible ::a.b.c.d'],
  ['::a9fe:a9fe', 'IPv4-compatible, hex groups'],
  ['::ffff:127.0.0.1', 'IPv4-mapped'],
  ['::ffff:7f00:1', 'IPv4-mapped, hex groups'],
  ['::ffff:a9fe:a9fe', 'IPv4-mapped link-local'],
  ['::ffff:0:127.0.0.1', 'IPv4-translated ::ffff:0:a.b.c.d'],
  ['::ffff:0:c0a8:101', 'IPv4-translated, hex groups'],
  ['2002:7f00:1::', '6to4 of 127.0.0.1'],
  ['2002:a9fe:a9fe:1::1', '6to4 of 169.254.169.254'],
  ['2002:c0a8:101::', '6to4 of 192.168.1.1'],
  ['64:ff9b::127.0.0.1', 'NAT64 of 127.0.0.1'],
  ['64:ff9b::a00:1', 'NAT64 of 10.0.0.1'],
  ['64:ff9b:1::1', 'local-use NAT64 64:ff9b:1::/48'],
  ['64:ff9b:1:808:8:800::', 'local-use NAT64, even of a public address'],
  ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'Teredo, client 127.0.0.1'],
  ['2001:0:4136:e378:8000:63bf:5601:5601', 'Teredo, client 169.254.169.254'],
  ['2001:0:a00:1:8000:63bf:f7f7:f7f7', 'Teredo, server 10.0.0.1'],
];
/** Public addresses, including each embedding form around a public IPv4 address. */
const ALLOWED: [string, string][] = [
  ['93.184.216.34', 'IPv4'],
  ['2606:4700::6810:85e5', 'IPv6 global unicast'],
  ['::ffff:93.184.216.34', 'IPv4-mapped of a public address'],
  ['64:ff9b::93.184.216.34', 'NAT64 of a public address'],
  ['2002:5db8:d822::1', '6to4 of a public address'],
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo of RFC 4380 (server 65.54.227.120, client 192.0.2.45)'],
];

const event = () => ({ ...fixtureEvents()['02-anthropic-consumer-terms-chat-retention-high.json'], detected_at: new Date(clock()).toISOString() });

describe('webhook destinations', () => {
  it('deliver a signed change.alert with the full event, which the standardwebhooks receiver accepts', async () => {
    const { destination } = await webhookSubscriber();
    await s.ingest(event());
    await s.dispatcher.runOnce();
    expect(hook.received).toHaveLength(1);
    const r = hook.received[0]!;
    expect(r.verified[destination.secret]).toBe(true);
    expect(r.headers['webhook-id']).toBe(r.body.id);
    expect(r.body).toMatchObject({ type: 'change.alert', data: { version: 1 } });
    expect(r.body.data.changes[0]).toMatchObject({ id: event().id, evidence: event().evidence, diff: event().diff });
  });

  it('are refused by a receiver holding another secret, and retried', async () => {
    await webhookSubscriber();
    hook.state.secrets = [`whsec_${Buffer.from('another secret of 32 bytes......').toString('base64')}`];
    await s.ingest(event());
    await s.dispatcher.runOnce();
    const [row] = await s.database.db.all<{ status: string; last_error: string }>(sql`SELECT status, last_error FROM outbox`);
    expect(row).toMatchObject({ status: 'retrying', last_error: 'webhook answered HTTP 401' });
  });

  it('retry a 500 and a 429 (honouring Retry-After), then deliver with the same webhook-id', async () => {
    await webhookSubscriber();
    // This test moves the clock by hours, past the receiver's 5-minute timestamp tolerance.
    hook.state.secrets = [];
    hook.state.status = 500;
    await s.ingest(event());
    await s.dispatcher.runOnce();
    let [row] = await s.database.db.all<{ status: string; last_error: string }>(sql`SELECT status, last_error FROM outbox`);
    expect(row).toMatchObject({ status: 'retrying', last_error: 'webhook answered HTTP 500' });
    hook.state.status = 429;
    hook.state.retryAfter = '3600';
    clock.advance(60 * 60_000);
    await s.dispatcher.runOnce();
    const [r2] = await s.database.db.all<{ due_at: number }>(sql`SELECT due_at FROM outbox`);
    expect(r2!.due_at).toBeGreaterThanOrEqual(clock() + 3_600_000);
    hook.state.status = 204;
    clock.set(Date.now()); // back to real time for the receiver's timestamp check
    await s.database.db.run(sql`UPDATE outbox SET due_at = 0`);
    await s.dispatcher.runOnce();
    [row] = await s.database.db.all<{ status: string; last_error: string }>(sql`SELECT status, last_error FROM outbox`);
    expect(row!.status).toBe('sent');
    expect(new Set(hook.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
  });

  it('switch the destination off on 410 Gone', async () => {
    await webhookSubscriber();
    hook.state.status = 410;
    await s.ingest(event());
    await s.dispatcher.runOnce();
    const [d] = await s.database.db.all<{ status: string; disabled_reason: string }>(sql`SELECT status, disabled_reason FROM destinations`);
    expect(d).toEqual({ status: 'disabled', disabled_reason: 'webhook answered 410 Gone' });
  });

  it('rotate the secret: shown once, the old one signing beside it for 24 hours', async () => {
    const { account, destination } = await webhookSubscriber();
    const rotated = await s.call('POST', `/v1/accounts/${account.id}/destinations/${destination.id}/rotate-secret`);
    expect(rotated.json.secret).toMatch(/^whsec_/);
    expect(rotated.json.secret).not.toBe(destination.secret);
    hook.state.secrets = [destination.secret, rotated.json.secret];
    await s.ingest(event());
    await s.dispatcher.runOnce();
    expect(hook.received[0]!.verified).toEqual({ [destination.secret]: true, [rotated.json.secret]: true });
    expect((await s.call('GET', `/v1/accounts/${account.id}/destinations`)).json.data[0].secret).toBeUndefined();
  });
});

describe('a failed webhook or Teams POST', () => {
  it('is retried without counting as an attempt when it was never written (its host kept it waiting), and counts otherwise', () => {
    const notSent = new Error('not sent: no connection to https://hooks.example.com came free in time', { cause: { code: NOT_SENT } });
    expect(postFailed('webhook', notSent)).toMatchObject({ kind: 'retry', rateLimited: true, message: `webhook: ${notSent.message}` });
    expect(postFailed('Teams', Object.assign(new Error('not sent: the webhook thread took it up too late'), { code: NOT_SENT }))).toMatchObject({ rateLimited: true });
    for (const err of [new Error('no answer within 10 s'), new Error('refused', { cause: { code: 'EADDRNOTPUBLIC' } }), 'a string'])
      expect(postFailed('webhook', err)).toMatchObject({ kind: 'retry', rateLimited: false });
  });
});

describe('webhook signing secrets at rest', () => {
  it('are stored sealed, the current and the previous one, and still sign', async () => {
    const { account, destination } = await webhookSubscriber();
    const rotated = (await s.call('POST', `/v1/accounts/${account.id}/destinations/${destination.id}/rotate-secret`)).json;
    const [row] = await s.database.db.all<{ secret: string; previous_secret: string }>(sql`SELECT secret, previous_secret FROM destinations WHERE id = ${destination.id}`);
    expect(row).toEqual({ secret: expect.stringMatching(/^enc:v1:[A-Za-z0-9_-]+$/), previous_secret: expect.stringMatching(/^enc:v1:[A-Za-z0-9_-]+$/) });
    const raw = await rawDatabase(s.database);
    expect(raw).not.toContain(webhookSecretKey(destination.secret));
    expect(raw).not.toContain(webhookSecretKey(rotated.secret));
    hook.state.secrets = [destination.secret, rotated.secret];
    await s.ingest(event());
    await s.dispatcher.runOnce();
    expect(hook.received[0]!.verified).toEqual({ [destination.secret]: true, [rotated.secret]: true });
  });

  it('stored in plain text before are sealed at the next start, and still sign', async () => {
    const { destination } = await webhookSubscriber();
    const previous = newWebhookSecret();
    await s.database.db.run(sql`UPDATE destinations SET secret = ${destination.secret}, previous_secret = ${previous}, previous_secret_until = ${clock() + 3_600_000} WHERE id = ${destination.id}`);
    const config = loadConfig({ PUBLIC_URL: 'https://clausewatch.test', INGEST_TOKENS: INGEST_TOKEN, ADMIN_TOKENS: ADMIN_TOKEN, SECRET_KEY: TEST_SECRET_KEY, WEBHOOK_ALLOW_PRIVATE: 'true', ALERT_GROUP_WAIT_SECONDS: '0' });
    const again = await createService(config, { db: s.database.db, clock, log: silentLogger, outboxDir: join(s.database.dir, 'outbox2') });
    try {
      const [row] = await s.database.db.all<{ secret: string; previous_secret: string }>(sql`SELECT secret, previous_secret FROM destinations WHERE id = ${destination.id}`);
      expect(row!.secret).toMatch(/^enc:v1:/);
      expect(row!.previous_secret).toMatch(/^enc:v1:/);
      const raw = await rawDatabase(s.database);
      expect(raw).not.toContain(webhookSecretKey(destination.secret));
      expect(raw).not.toContain(webhookSecretKey(previous));
      hook.state.secrets = [destination.secret, previous];
      await s.ingest(event());
      await again.dispatcher.runOnce();
      expect(hook.received[0]!.verified).toEqual({ [destination.secret]: true, [previous]: true });
    } finally {
      await again.stop();
    }
  });
});

describe('a delivered webhook', () => {
  it('is recorded as sent when the database was locked at that moment, and never sent again', async () => {
    const lines: Record<string, unknown>[] = [];
    await s.dispose();
    s = await testService(
      { WEBHOOK_ALLOW_PRIVATE: 'true', ALERT_GROUP_WAIT_SECONDS: '0' },
      // As a ROLE=dispatcher process: its database waits for a lock itself (a process serving
      // HTTP retries a locked write in the database layer, before delivery sees it).
      { clock, deps: { log: createLogger('debug', (l) => lines.push(JSON.parse(l))) }, waitOnMainThread: true },
    );
    await webhookSubscriber();
    await s.ingest(event());
    // The service waits 50 ms for a lock, then gets SQLITE_BUSY; another connection takes the
    // write lock while the receiver holds its answer and keeps it 400 ms, past the send.
    await s.database.client.execute('PRAGMA busy_timeout = 50');
    const other = createClient({ url: s.database.url });
    hook.state.beforeAnswer = async () => {
      hook.state.beforeAnswer = undefined;
      const tx = await other.transaction('write');
      setTimeout(() => void tx.commit(), 400);
    };
    await s.dispatcher.runOnce();
    other.close();
    expect(lines.some((l) => l.msg === 'delivery.record_retry')).toBe(true);
    const [row] = await s.database.db.all<{ status: string }>(sql`SELECT status FROM outbox`);
    expect(row!.status).toBe('sent');
    // Well past the lease: nothing is due, so nothing goes out again.
    clock.advance(10 * 60_000);
    await s.dispatcher.runOnce();
    expect(hook.received).toHaveLength(1);
  });

  it('has a webhook-id of its installation: a reset database never repeats one', async () => {
    await webhookSubscriber();
    await s.ingest(event());
    await s.dispatcher.runOnce();
    await s.dispose();
    s = await testService({ WEBHOOK_ALLOW_PRIVATE: 'true', ALERT_GROUP_WAIT_SECONDS: '0' }, { clock });
    await webhookSubscriber();
    await s.ingest(event());
    await s.dispatcher.runOnce();
    const ids = hook.received.map((r) => r.headers['webhook-id']!);
    expect(ids).toHaveLength(2);
    // The same outbox row number in both databases, two ids.
    expect(ids[0]).toMatch(/^msg_cw-[0-9a-z]{20}-1-0$/);
    expect(ids[1]).not.toBe(ids[0]);
  });
});

describe('webhook URLs', () => {
  it('refuse private, loopback and link-local addresses after DNS resolution', async () => {
    expect(await checkWebhookUrl('https://localhost/hook', false)).toMatch(/localhost resolves to (127\.0\.0\.1|::1)/);
    expect(await checkWebhookUrl('https://[::1]/hook', false)).toMatch(/private, loopback or link-local/);
    expect(await checkWebhookUrl('https://[::ffff:169.254.169.254]/x', false)).toMatch(/private, loopback or link-local/);
  });

  it.each(REFUSED)('refuse %s (%s), judged from the URL alone too (the Workers edition)', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
    expect(literalHostRefusal(`https://${ip.includes(':') ? `[${ip}]` : ip}/hook`)).not.toBeNull();
  });

  it.each(ALLOWED)('allow %s (%s)', (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
    expect(literalHostRefusal(`https://${ip.includes(':') ? `[${ip}]` : ip}/hook`)).toBeNull();
  });

  it('are judged from the URL alone where names are not resolved (the Workers edition)', () => {
    for (const url of ['https://10.0.0.1/hook', 'https://[::1]/x', 'https://[::ffff:a9fe:a9fe]/x', 'https://localhost:8443/x', 'https://api.localhost/x', 'https://169.254.169.254/latest', 'https://0x7f.1/x', 'https://2130706433/x'])
      expect(literalHostRefusal(url), url).not.toBeNull();
    for (const url of ['https://hooks.example.com/x', 'https://93.184.216.34/x', 'https://[2606:4700::6810:85e5]/x']) expect(literalHostRefusal(url), url).toBeNull();
  });

  it('refuse at creation every IPv6 form that embeds a private IPv4 address, with a 400 naming url', async () => {
    const strict = await testService({ WEBHOOK_ALLOW_PRIVATE: 'false' });
    try {
      const account = (await strict.call('POST', '/v1/accounts', { name: 'x', plan: 'monitor' })).json;
      for (const [ip] of REFUSED) {
        const url = `https://${ip.includes(':') ? `[${ip}]` : ip}/hook`;
        const r = await strict.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'webhook', url });
        expect(r.status, url).toBe(400);
        expect(r.json.issues[0], url).toMatchObject({ path: 'url', message: expect.stringMatching(/private, loopback or link-local/) });
      }
      expect((await strict.call('GET', `/v1/accounts/${account.id}/destinations`)).json.data).toEqual([]);
      const ok = await strict.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'webhook', url: 'https://[64:ff9b::5db8:d822]/hook' });
      expect(ok.status).toBe(201);
    } finally {
      await strict.dispose();
    }
  });

  it('are refused at creation with a clear 400 unless WEBHOOK_ALLOW_PRIVATE is set', async () => {
    const strict = await testService({ WEBHOOK_ALLOW_PRIVATE: 'false' });
    try {
      const account = (await strict.call('POST', '/v1/accounts', { name: 'x' })).json;
      const r = await strict.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'webhook', url: 'https://127.0.0.1/hook' });
      expect(r.status).toBe(400);
      expect(r.json.issues[0]).toMatchObject({ path: 'url' });
      expect(r.json.issues[0].message).toContain('127.0.0.1');
      const http = await strict.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'webhook', url: 'http://hooks.example.com/x' });
      expect(http.status).toBe(400);
      expect((await strict.call('GET', `/v1/accounts/${account.id}/destinations`)).json.data).toEqual([]);
    } finally {
      await strict.dispose();
    }
  });

  it('are refused at connection time too (a name that later resolves privately)', async () => {
    const strict = await testService({ WEBHOOK_ALLOW_PRIVATE: 'false', ALERT_GROUP_WAIT_SECONDS: '0' });
    try {
      const account = (await strict.call('POST', '/v1/accounts', { name: 'x', plan: 'monitor' })).json;
      // Stored directly, as if DNS had answered publicly at creation time.
      await strict.database.db.run(sql`INSERT INTO destinations (id, account_id, type, target_key, url, secret, status, created_at)
        VALUES ('dst_rebind', ${account.id}, 'webhook', 'webhook:x', ${hook.url.replace('127.0.0.1', 'localhost')}, 'whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0', 'active', 0)`);
      await strict.call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform: 'openai', destination: 'dst_rebind' });
      await strict.ingest(makeEvent({ detected_at: new Date().toISOString() }));
      await strict.dispatcher.runOnce();
      const [row] = await strict.database.db.all<{ last_error: string }>(sql`SELECT last_error FROM outbox`);
      expect(row!.last_error).toMatch(/refused: localhost resolves only to private addresses/);
      expect(hook.received).toHaveLength(0);
    } finally {
      await strict.dispose();
    }
  });

  it.each(['127.0.0.1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:0:127.0.0.1', '::127.0.0.1', '2002:7f00:1::1', '64:ff9b::7f00:1', '::1'])(
    'are not connected to when a stored URL names %s literally (Node connects to a literal without a lookup)',
    async (ip) => {
      const strict = await testService({ WEBHOOK_ALLOW_PRIVATE: 'false', ALERT_GROUP_WAIT_SECONDS: '0' });
      try {
        const account = (await strict.call('POST', '/v1/accounts', { name: 'x', plan: 'monitor' })).json;
        const dest = await strict.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'webhook', url: 'https://93.184.216.34/hook' });
        expect(dest.status).toBe(201);
        // Written directly, as a row made before these ranges were refused would be.
        const literal = hook.url.replace('127.0.0.1', ip.includes(':') ? `[${ip}]` : ip);
        await strict.database.db.run(sql`UPDATE destinations SET url = ${literal} WHERE id = ${dest.json.id}`);
        await strict.call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform: 'openai', destination: dest.json.id });
        await strict.ingest(makeEvent({ detected_at: new Date().toISOString() }));
        await strict.dispatcher.runOnce();
        const [row] = await strict.database.db.all<{ status: string; last_error: string }>(sql`SELECT status, last_error FROM outbox`);
        expect(row!.last_error).toMatch(/^webhook: refused: .* is a private, loopback or link-local address$/);
        expect(hook.received).toHaveLength(0);
        expect(hook.connections()).toBe(0);
      } finally {
        await strict.dispose();
      }
    },
  );
});
