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
  const rows = await s.database.db.all<{ destination_id: string; state: string }>(sql`
    SELECT m.destination_id, coalesce(o.kind, m.alert_state) AS state FROM matches m LEFT JOIN outbox o ON o.id = m.outbox_id
    WHERE m.id IN (SELECT min(id) FROM matches GROUP BY destination_id) ORDER BY m.id`);
  return rows.map((r) => r.state);
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
    await groupDueAlerts(s.database.db, Date.now(), 0, 1, 1);
    const pending = await s.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM matches WHERE alert_state = 'pending'`);
    expect(pending[0]!.n).toBeLessThanOrEqual(2);
    await groupDueAlerts(s.database.db, Date.now(), 0, 1);
    const kinds = await s.database.db.all<{ kind: string; n: number }>(sql`SELECT kind, count(*) AS n FROM outbox GROUP BY kind ORDER BY kind`);
    expect(kinds).toEqual([
      { kind: 'alert', n: 3 },
      { kind: 'budget', n: 3 },
    ]);
    expect((await s.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM matches WHERE alert_state = 'pending'`))[0]!.n).toBe(0);
    // A third change the same day joins each destination's budget message, still queued: no new message.
    await s.ingest(makeEvent({ id: 'evt_budget_3', detected_at: new Date().toISOString(), title: 'A third change' }));
    expect(await groupDueAlerts(s.database.db, Date.now(), 0, 1)).toBe(0);
    const budgetItems = await s.database.db.all<{ kind: string; n: number }>(sql`
      SELECT o.kind, count(*) AS n FROM matches m JOIN outbox o ON o.id = m.outbox_id GROUP BY o.id ORDER BY o.kind, o.id`);
    expect(budgetItems).toEqual([...Array(3).fill({ kind: 'alert', n: 1 }), ...Array(3).fill({ kind: 'budget', n: 2 })]);
    expect((await s.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM matches WHERE alert_state = 'pending'`))[0]!.n).toBe(0);
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

  it('leaves what a failed step did not group pending, logs it once, and the next pass sends it', async () => {
    const s = await subscribers(12);
    await s.ingest(makeEvent({ detected_at: new Date().toISOString() }));
    // Every grouping step starts by reading the pending destinations' time zones: the pass's
    // first step reads them, the steps after it fail there, as a locked or vanished database would.
    let zoneReads = 0;
    let failing = true;
    const db = new Proxy(s.database.db, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver) as unknown;
        if (key !== 'all' || typeof value !== 'function') return value;
        return (query: unknown, ...rest: unknown[]) => {
          if (JSON.stringify(query).includes('SELECT DISTINCT a.timezone') && zoneReads++ > 0 && failing) return Promise.reject(new Error('database is locked'));
          return (value as (...a: unknown[]) => unknown).call(target, query, ...rest);
        };
      },
    }) as Db;
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
