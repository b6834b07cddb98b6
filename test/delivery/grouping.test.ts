import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { testService, type TestService } from '../support/service.js';
import { createDispatcher } from '../../src/delivery/dispatcher.js';
import { groupDueAlerts, nextGroupDueAt, waitingDecisions } from '../../src/delivery/grouping.js';
import { disableDestination } from '../../src/store/destinations.js';
import { createLogger, silentLogger } from '../../src/log.js';
import type { Db } from '../../src/db.js';
import { makeEvent } from '../support/app.js';
import { seedSubscribers } from '../bench/seed.js';
import { settleDecisions } from '../../src/ingest/settle.js';

let smtp: TestSmtpServer | undefined;
let s: TestService | undefined;
afterEach(async () => {
  await s?.dispose();
  await smtp?.close();
  s = smtp = undefined;
});

async function subscribers(count: number) {
  smtp = await startSmtpServer();
  s = await testService({ SMTP_URL: smtp.url, ALERT_GROUP_WAIT_SECONDS: '0' });
  await seedSubscribers(s.database.db, { count, platformSlugs: ['openai'], plan: 'monitor' });
  return s;
}

/** Each destination's message kind, or `pending` while its match waits; in the order its first match was written. */
async function state(s: TestService) {
  await settleDecisions(s.database.db);
  const rows = await s.database.db.all<{ destination_id: string; state: string }>(sql`
    SELECT m.destination_id, coalesce(o.kind, m.alert_state) AS state FROM matches m LEFT JOIN outbox o ON o.id = m.outbox_id
    WHERE m.id IN (SELECT min(id) FROM matches GROUP BY destination_id) ORDER BY m.id`);
  return rows.map((r) => r.state);
}

/** How many decisions still wait to be grouped. */
async function pendingCount(db: Db) {
  await settleDecisions(db);
  return (await db.all<{ n: number }>(sql`SELECT count(*) AS n FROM matches WHERE alert_state = 'pending'`))[0]!.n;
}

/** UTC+14 and UTC-11: 25 hours apart, so their dates always differ. */
const EAST = 'Pacific/Kiritimati';
const WEST = 'Pacific/Pago_Pago';

/** The destinations of one event's decisions, in the order they were written, their accounts moved to `zones` (in that order). */
async function destinationsInZones(db: Db, zones: string[]) {
  await settleDecisions(db);
  const ids = (await db.all<{ destination_id: string }>(sql`SELECT destination_id FROM matches ORDER BY id`)).map((r) => r.destination_id);
  for (const [i, tz] of zones.entries()) {
    await db.run(sql`UPDATE accounts SET timezone = ${tz} WHERE id = (SELECT account_id FROM destinations WHERE id = ${ids[i]!})`);
  }
  return ids;
}

/** The date at `now` in zone `tz` (YYYY-MM-DD), as budget keys carry it. */
const localDate = (tz: string, now: number) => new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);

/** `db` with each `all` whose SQL has `text` in it run through `around`, which may run it, fail it, or do more. */
function aroundAll(db: Db, text: string, around: (run: () => Promise<unknown>) => Promise<unknown>): Db {
  return new Proxy(db, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (key !== 'all' || typeof value !== 'function') return value;
      return (query: unknown, ...rest: unknown[]) => {
        const run = () => (value as (...a: unknown[]) => Promise<unknown>).call(target, query, ...rest);
        return JSON.stringify(query).includes(text) ? around(run) : run();
      };
    },
  }) as Db;
}

describe('grouping a bounded number of destinations', () => {
  it('groups the destinations whose changes came first and leaves the others pending, never in a budget message', async () => {
    const s = await subscribers(5);
    await s.ingest(makeEvent({ detected_at: new Date().toISOString() }));
    expect(await groupDueAlerts(s.database.db, Date.now(), 0, undefined, 2)).toBe(2);
    // The three left are not this call's: under their budget, they wait for the next call
    // instead of being summarised.
    expect(await state(s)).toEqual(['alert', 'alert', 'pending', 'pending', 'pending']);
    expect(await groupDueAlerts(s.database.db, Date.now(), 0, undefined, 2)).toBe(2);
    expect(await groupDueAlerts(s.database.db, Date.now(), 0)).toBe(1);
    expect(await state(s)).toEqual(['alert', 'alert', 'alert', 'alert', 'alert']);
  });

  it('still summarises destinations over their daily budget, bounded or not', async () => {
    const s = await subscribers(3);
    await s.ingest(makeEvent({ id: 'evt_budget_1', detected_at: new Date().toISOString() }));
    expect(await groupDueAlerts(s.database.db, Date.now(), 0, 1)).toBe(3);
    // Each alert just written counts toward today's budget of 1 itself: its change is filed in it all the same.
    expect(await state(s)).toEqual(['alert', 'alert', 'alert']);
    await s.ingest(makeEvent({ id: 'evt_budget_2', detected_at: new Date().toISOString(), title: 'A second change' }));
    // Bounded to one destination: its budget message alone, the other two left for the next call.
    expect(await groupDueAlerts(s.database.db, Date.now(), 0, 1, 1)).toBe(1);
    expect(await pendingCount(s.database.db)).toBe(2);
    expect((await s.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM outbox WHERE kind = 'budget'`))[0]!.n).toBe(1);
    await groupDueAlerts(s.database.db, Date.now(), 0, 1);
    const kinds = await s.database.db.all<{ kind: string; n: number }>(sql`SELECT kind, count(*) AS n FROM outbox GROUP BY kind ORDER BY kind`);
    expect(kinds).toEqual([
      { kind: 'alert', n: 3 },
      { kind: 'budget', n: 3 },
    ]);
    expect(await pendingCount(s.database.db)).toBe(0);
    // A third change the same day joins each destination's budget message, still queued: no new message.
    await s.ingest(makeEvent({ id: 'evt_budget_3', detected_at: new Date().toISOString(), title: 'A third change' }));
    expect(await groupDueAlerts(s.database.db, Date.now(), 0, 1)).toBe(0);
    const budgetItems = await s.database.db.all<{ kind: string; n: number }>(sql`
      SELECT o.kind, count(*) AS n FROM matches m JOIN outbox o ON o.id = m.outbox_id GROUP BY o.id ORDER BY o.kind, o.id`);
    expect(budgetItems).toEqual([...Array(3).fill({ kind: 'alert', n: 1 }), ...Array(3).fill({ kind: 'budget', n: 2 })]);
    expect(await pendingCount(s.database.db)).toBe(0);
  });

  it('writes an alert and a budget message in one call, counts both, and never joins a budget message no longer queued', async () => {
    const s = await subscribers(2);
    const db = s.database.db;
    await s.ingest(makeEvent({ id: 'evt_kinds_1', detected_at: new Date().toISOString() }));
    expect(await groupDueAlerts(db, Date.now(), 0, 1)).toBe(2);
    // A cancelled alert does not count toward the day's budget: b_dst_2 is under it again.
    await db.run(sql`UPDATE outbox SET status = 'cancelled' WHERE destination_id = 'b_dst_2'`);
    await s.ingest(makeEvent({ id: 'evt_kinds_2', detected_at: new Date().toISOString(), title: 'A second change' }));
    expect(await groupDueAlerts(db, Date.now(), 0, 1)).toBe(2);
    const messages = async () =>
      db.all<{ destination_id: string; kind: string; status: string; n: number }>(sql`
        SELECT o.destination_id, o.kind, o.status, count(m.id) AS n FROM outbox o LEFT JOIN matches m ON m.outbox_id = o.id
        GROUP BY o.id ORDER BY o.destination_id, o.id`);
    expect(await messages()).toEqual([
      { destination_id: 'b_dst_1', kind: 'alert', status: 'queued', n: 1 },
      { destination_id: 'b_dst_1', kind: 'budget', status: 'queued', n: 1 },
      { destination_id: 'b_dst_2', kind: 'alert', status: 'cancelled', n: 1 },
      { destination_id: 'b_dst_2', kind: 'alert', status: 'queued', n: 1 },
    ]);
    expect(await pendingCount(db)).toBe(0);
    // b_dst_1's budget message already sent: its later change that day waits, filed in nothing,
    // while b_dst_2, at its budget now, gets the day's budget message.
    await db.run(sql`UPDATE outbox SET status = 'sent' WHERE kind = 'budget'`);
    await s.ingest(makeEvent({ id: 'evt_kinds_3', detected_at: new Date().toISOString(), title: 'A third change' }));
    expect(await groupDueAlerts(db, Date.now(), 0, 1)).toBe(1);
    expect((await messages()).filter((m) => m.kind === 'budget')).toEqual([
      { destination_id: 'b_dst_1', kind: 'budget', status: 'sent', n: 1 },
      { destination_id: 'b_dst_2', kind: 'budget', status: 'queued', n: 1 },
    ]);
    expect(await db.all(sql`SELECT destination_id FROM matches WHERE alert_state = 'pending'`)).toEqual([{ destination_id: 'b_dst_1' }]);
  });

  it("keys each budget message by its destination's own local day, in a bounded call and in one over two zones", async () => {
    const s = await subscribers(3);
    const db = s.database.db;
    await s.ingest(makeEvent({ id: 'evt_zones', detected_at: new Date().toISOString() }));
    // The first-due destination (its decision written first) and the last in one zone, the second in the other.
    const [first, second, third] = await destinationsInZones(db, [EAST, WEST, EAST]);
    const now = Date.now();
    const east = localDate(EAST, now);
    const west = localDate(WEST, now);
    const written = async () => db.all<{ idempotency_key: string; due_at: number }>(sql`SELECT idempotency_key, due_at FROM outbox ORDER BY id`);
    // A budget of 0: every due group goes to its day's message. The bounded call reads one zone.
    expect(await groupDueAlerts(db, now, 0, 0, 1)).toBe(1);
    expect((await written()).map((k) => k.idempotency_key)).toEqual([`budget:${first}:${east}`]);
    expect((await state(s)).filter((x) => x === 'pending')).toHaveLength(2);
    // The next reads both zones, and each destination is keyed by its own.
    expect(await groupDueAlerts(db, now, 0, 0)).toBe(2);
    const keys = await written();
    expect(keys.map((k) => k.idempotency_key).sort()).toEqual([`budget:${first}:${east}`, `budget:${second}:${west}`, `budget:${third}:${east}`].sort());
    // Each is due when its own local day ends, within the next 24 hours.
    for (const k of keys) {
      expect(k.due_at).toBeGreaterThan(now);
      expect(k.due_at - now).toBeLessThanOrEqual(86_400_000);
    }
    const dueOf = (d: string) => keys.find((k) => k.idempotency_key.startsWith(`budget:${d}:`))!.due_at;
    expect(dueOf(first!)).toBe(dueOf(third!));
    expect(dueOf(first!)).not.toBe(dueOf(second!));
  });

  it('leaves pending a destination whose zone it did not read, when another dispatcher groups one of its due destinations in between', async () => {
    const s = await subscribers(2);
    const real = s.database.db;
    await s.ingest(makeEvent({ id: 'evt_race', detected_at: new Date().toISOString() }));
    const [first, second] = await destinationsInZones(real, [EAST, WEST]);
    const now = Date.now();
    const east = localDate(EAST, now);
    const west = localDate(WEST, now);
    // Right after this call reads the zones of its one due destination (the first, in the east),
    // another dispatcher groups that destination: the call's batch is then due the second.
    let raced = false;
    const db = aroundAll(real, 'SELECT DISTINCT a.timezone', async (run) => {
      const result = await run();
      if (!raced) {
        raced = true;
        expect(await groupDueAlerts(real, now, 0, 0, 1)).toBe(1);
      }
      return result;
    });
    // A budget of 0: every group goes to its day's message, keyed by its zone's date.
    expect(await groupDueAlerts(db, now, 0, 0, 1)).toBe(0);
    expect(raced).toBe(true);
    const keys = async () => (await real.all<{ idempotency_key: string }>(sql`SELECT idempotency_key FROM outbox ORDER BY id`)).map((k) => k.idempotency_key);
    expect(await keys()).toEqual([`budget:${first}:${east}`]);
    expect(await real.all(sql`SELECT destination_id FROM matches WHERE alert_state = 'pending'`)).toEqual([{ destination_id: second }]);
    // The next call reads its zone and keys it by its own day.
    expect(await groupDueAlerts(real, now, 0, 0)).toBe(1);
    expect(await keys()).toEqual([`budget:${first}:${east}`, `budget:${second}:${west}`]);
  });

  it('lets one dispatcher pass send to more destinations than it grouped first, each once', async () => {
    const s = await subscribers(12);
    await s.ingest(makeEvent({ detected_at: new Date().toISOString() }));
    // Two in flight: the pass groups four destinations, sends them, groups the other eight.
    const dispatcher = createDispatcher({ db: s.database.db, clock: Date.now, log: silentLogger, channels: s.channels, links: s.links, groupWaitMs: 0, concurrency: 2, batchSize: 2 });
    expect(await dispatcher.runOnce()).toBe(12);
    await smtp!.waitFor(12);
    expect(smtp!.mails.flatMap((m) => m.to).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `reader${i + 1}@bench.test`).sort());
    expect(await state(s)).toEqual(Array(12).fill('alert'));
    expect(await dispatcher.runOnce()).toBe(0);
  });

  it('claims what each grouping step wrote before the next step groups more', async () => {
    const s = await subscribers(20);
    await s.ingest(makeEvent({ detected_at: new Date().toISOString() }));
    // The pass in order: each grouping step once it has read its destinations' zones, and each
    // claim that took rows. The third step is held 300 ms before it reads them.
    const order: string[] = [];
    let zoneReads = 0;
    const grouping = aroundAll(s.database.db, 'SELECT DISTINCT a.timezone', async (run) => {
      if (++zoneReads === 3) await new Promise((resolve) => setTimeout(resolve, 300));
      const result = await run();
      order.push('step');
      return result;
    });
    const db = aroundAll(grouping, "UPDATE outbox SET status = 'sending'", async (run) => {
      const rows = (await run()) as unknown[];
      if (rows.length) order.push('claim');
      return rows;
    });
    const dispatcher = createDispatcher({ db, clock: Date.now, log: silentLogger, channels: s.channels, links: s.links, groupWaitMs: 0, concurrency: 2, batchSize: 2 });
    expect(await dispatcher.runOnce()).toBe(20);
    // Steps of 4, 8 and 16 destinations. A claim that came back short (the second step not yet
    // written) waits for that step alone: its rows go out while the third one is held.
    const steps = order.flatMap((x, i) => (x === 'step' ? [i] : []));
    expect(steps).toHaveLength(3);
    expect(order.slice(steps[1], steps[2])).toContain('claim');
    expect(await state(s)).toEqual(Array(20).fill('alert'));
  });

  it('groups no further once stopped, and stop() waits for the step under way', async () => {
    const s = await subscribers(20);
    await s.ingest(makeEvent({ detected_at: new Date().toISOString() }));
    let steps = 0;
    let stopped: Promise<void> | undefined;
    // Asked to stop as its second grouping step starts (steps of 4, 8 and 16 destinations).
    const db = aroundAll(s.database.db, 'SELECT DISTINCT a.timezone', (run) => {
      if (++steps === 2) stopped = dispatcher.stop();
      return run();
    });
    const dispatcher = createDispatcher({ db, clock: Date.now, log: silentLogger, channels: s.channels, links: s.links, groupWaitMs: 0, concurrency: 2, batchSize: 2 });
    dispatcher.start();
    await expect.poll(() => steps, { timeout: 10_000 }).toBe(2);
    await stopped;
    const grouped = await state(s);
    // The second step finished before stop() returned; nothing grouped after it.
    expect(grouped.filter((x) => x !== 'pending')).toHaveLength(12);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(steps).toBe(2);
    expect(await state(s)).toEqual(grouped);
  });

  it('fails a pass whose claim failed only once the sends it had started are recorded', async () => {
    const s = await subscribers(12);
    await s.ingest(makeEvent({ detected_at: new Date().toISOString() }));
    // The first claim takes two rows; the next one fails, as a locked database would.
    let claims = 0;
    const db = aroundAll(s.database.db, "UPDATE outbox SET status = 'sending'", (run) => (++claims === 2 ? Promise.reject(new Error('database is locked')) : run()));
    const dispatcher = createDispatcher({ db, clock: Date.now, log: silentLogger, channels: s.channels, links: s.links, groupWaitMs: 0, concurrency: 4, batchSize: 2 });
    await expect(dispatcher.runOnce()).rejects.toThrow('database is locked');
    // The pass started nothing more, and when it gave up the two it was sending were recorded,
    // not left leased to it; the others wait, queued or pending, for the next pass.
    const statuses = await s.database.db.all<{ status: string; n: number }>(sql`SELECT status, count(*) AS n FROM outbox GROUP BY status ORDER BY status`);
    expect(statuses.find((r) => r.status === 'sending')).toBeUndefined();
    expect(statuses.find((r) => r.status === 'sent')?.n).toBe(2);
    expect(await dispatcher.runOnce()).toBe(10);
    expect(await state(s)).toEqual(Array(12).fill('alert'));
  });

  it('gives back, when stopped, what a claim under way took after the sends had ended', async () => {
    // The first claim's two mails are held at the server until the dispatcher is asked to stop.
    let sendsGo!: () => void;
    smtp = await startSmtpServer({ hold: new Promise<void>((resolve) => (sendsGo = resolve)) });
    s = await testService({ SMTP_URL: smtp.url, ALERT_GROUP_WAIT_SECONDS: '0' });
    await seedSubscribers(s.database.db, { count: 12, platformSlugs: ['openai'], plan: 'monitor' });
    await s.ingest(makeEvent({ detected_at: new Date().toISOString() }));
    // All twelve queued before the pass: the claim after the first finds rows due.
    expect(await groupDueAlerts(s.database.db, Date.now(), 0)).toBe(12);
    // The second claim, made in the background while those two are sent, runs only 300 ms after
    // the stop was asked for: after the two sends have ended and no worker waits for it.
    let claims = 0;
    let stopAsked = false;
    const db = aroundAll(s.database.db, "UPDATE outbox SET status = 'sending'", async (run) => {
      if (++claims === 2) {
        await expect.poll(() => stopAsked, { timeout: 10_000 }).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      return run();
    });
    const dispatcher = createDispatcher({ db, clock: Date.now, log: silentLogger, channels: s.channels, links: s.links, groupWaitMs: 0, concurrency: 2, batchSize: 2 });
    dispatcher.start();
    await expect.poll(() => claims, { timeout: 10_000 }).toBe(2);
    const stopped = dispatcher.stop();
    stopAsked = true;
    sendsGo();
    await stopped;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(claims).toBe(2);
    // Nothing is left leased to the stopped dispatcher: what it claimed and did not send is queued again.
    expect(await s.database.db.all(sql`SELECT id FROM outbox WHERE status = 'sending'`)).toEqual([]);
    expect((await s.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM outbox WHERE status = 'sent'`))[0]!.n).toBe(2);
  });

  it('leaves what a failed step did not group pending, logs it once, and the next pass sends it', async () => {
    const s = await subscribers(12);
    await s.ingest(makeEvent({ detected_at: new Date().toISOString() }));
    // Every grouping step starts by reading the pending destinations' time zones: the pass's
    // first step reads them, the steps after it fail there, as a locked or vanished database would.
    let zoneReads = 0;
    let failing = true;
    const db = aroundAll(s.database.db, 'SELECT DISTINCT a.timezone', (run) => (zoneReads++ > 0 && failing ? Promise.reject(new Error('database is locked')) : run()));
    const lines: Record<string, unknown>[] = [];
    const log = createLogger('info', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
    const dispatcher = createDispatcher({ db, clock: Date.now, log, channels: s.channels, links: s.links, groupWaitMs: 0, concurrency: 2, batchSize: 2 });
    // The first step's four are sent; the pass ends without failing, the other eight still waiting.
    expect(await dispatcher.runOnce()).toBe(4);
    expect((await state(s)).filter((x) => x === 'pending')).toHaveLength(8);
    expect(lines.filter((l) => l.msg === 'dispatcher.grouping_failed')).toEqual([expect.objectContaining({ level: 'error', error: 'Error' })]);
    expect(lines.some((l) => l.msg === 'dispatcher.pass_failed')).toBe(false);
    failing = false;
    expect(await dispatcher.runOnce()).toBe(8);
    await smtp!.waitFor(12);
    expect(smtp!.mails.flatMap((m) => m.to).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `reader${i + 1}@bench.test`).sort());
    expect(await state(s)).toEqual(Array(12).fill('alert'));
  });
});

/** The events filed as waiting, with when their decisions were made. */
const filed = (s: TestService) => s.database.db.all<{ event_pk: number; since: number }>(sql`SELECT event_pk, since FROM alerts_waiting ORDER BY event_pk`);

describe('the events filed as waiting to be grouped', () => {
  it('files an event once when it has a waiting decision, never when every decision is for the digest', async () => {
    smtp = await startSmtpServer();
    s = await testService({ SMTP_URL: smtp.url, ALERT_GROUP_WAIT_SECONDS: '0' });
    await seedSubscribers(s.database.db, { count: 3, platformSlugs: ['openai'], plan: 'monitor' });
    await seedSubscribers(s.database.db, { count: 2, platformSlugs: ['anthropic'], plan: 'free', prefix: 'f' });
    const before = Date.now();
    const now = new Date().toISOString();
    await s.ingest({
      events: [
        makeEvent({ id: 'evt_waits', detected_at: now }),
        // Only free subscribers: told in the digest, nothing waits.
        makeEvent({ id: 'evt_digest_only', platform: { slug: 'anthropic' }, detected_at: now }),
        // Detected long before it arrived: too old for a same-day alert, told in the digest.
        makeEvent({ id: 'evt_too_old', title: 'An old change' }),
      ],
    });
    const rows = await filed(s);
    const [waits] = await s.database.db.all<{ pk: number }>(sql`SELECT pk FROM events WHERE id = 'evt_waits'`);
    expect(rows).toEqual([{ event_pk: waits!.pk, since: expect.any(Number) }]);
    expect(rows[0]!.since).toBeGreaterThanOrEqual(before);
    await settleDecisions(s.database.db);
    const [{ since }] = (await s.database.db.all<{ since: number }>(sql`SELECT min(created_at) AS since FROM matches WHERE alert_state = 'pending'`)) as [{ since: number }];
    expect(rows[0]!.since).toBe(since);
    // Filed once: grouping all of it removes the event, and nothing is due after.
    expect(await groupDueAlerts(s.database.db, Date.now(), 0)).toBe(3);
    expect(await filed(s)).toEqual([]);
    expect(await nextGroupDueAt(s.database.db, 0)).toBeUndefined();
  });

  it('passes over an event whose waiting decisions were all withdrawn, and the next grouping forgets it', async () => {
    const s = await subscribers(2);
    await s.ingest(makeEvent({ detected_at: new Date().toISOString() }));
    const due = await nextGroupDueAt(s.database.db, 0);
    expect(due).toBeGreaterThan(0);
    // Both destinations go away before their alerts are grouped: their decisions stop waiting.
    await disableDestination(s.database.db, Date.now, 'b_dst_1', 'test');
    await disableDestination(s.database.db, Date.now, 'b_dst_2', 'test');
    const states = await s.database.db.all<{ alert_state: string; suppressed_reason: string }>(sql`SELECT alert_state, suppressed_reason FROM matches ORDER BY id`);
    expect(states).toEqual([
      { alert_state: 'none', suppressed_reason: 'destination_disabled' },
      { alert_state: 'none', suppressed_reason: 'destination_disabled' },
    ]);
    expect(await filed(s)).toHaveLength(1);
    expect(await nextGroupDueAt(s.database.db, 0)).toBeUndefined();
    expect(await groupDueAlerts(s.database.db, Date.now(), 0)).toBe(0);
    expect(await filed(s)).toEqual([]);
  });

  it('withdraws a disabled destination’s waiting decisions through the events filed as waiting, never scanning every decision', async () => {
    const s = await subscribers(2);
    await s.ingest(makeEvent({ detected_at: new Date().toISOString() }));
    const plan = await s.database.db.all<{ detail: string }>(sql`EXPLAIN QUERY PLAN SELECT id FROM ${waitingDecisions('b_dst_1')} x`);
    const steps = plan.map((p) => p.detail);
    expect(steps.filter((d) => /^SCAN m\b/.test(d))).toEqual([]);
    expect(steps).toContain('SEARCH m USING INDEX matches_event_destination (event_pk=? AND destination_id=?)');
  });

  it('keeps the events filed as waiting while a bounded step leaves some of their decisions waiting', async () => {
    const s = await subscribers(5);
    await s.ingest(makeEvent({ detected_at: new Date().toISOString() }));
    expect(await groupDueAlerts(s.database.db, Date.now(), 0, undefined, 2)).toBe(2);
    expect(await filed(s)).toHaveLength(1);
    expect(await nextGroupDueAt(s.database.db, 0)).toBeGreaterThan(0);
    expect(await groupDueAlerts(s.database.db, Date.now(), 0)).toBe(3);
    expect(await filed(s)).toEqual([]);
  });
});
