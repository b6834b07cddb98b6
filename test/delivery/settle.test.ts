import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { createClient } from '@libsql/client';
import { testApp, seedSubscriber, makeEvent, type TestApp } from '../support/app.js';
import { settleDecisions, settleStatements } from '../../src/ingest/settle.js';
import { disableDestination } from '../../src/store/destinations.js';
import { nextGroupDueAt } from '../../src/delivery/grouping.js';
import { enqueueDueDigests } from '../../src/schedule/digests.js';
import { enqueueReminders } from '../../src/schedule/reminders.js';
import { loadDigests } from '../../src/delivery/digest-content.js';

let t: TestApp | undefined;
afterEach(() => {
  t?.dispose();
  t = undefined;
});

/** Every decision per destination (address), as settled so far, by event and address. */
async function decisions(app: TestApp) {
  return app.db.all<{ event: string; address: string; alert_state: string; reason: string | null; digest_state: string }>(sql`
    SELECT e.id AS event, d.address, m.alert_state, m.suppressed_reason AS reason, m.digest_state FROM matches m
    JOIN events e ON e.pk = m.event_pk JOIN destinations d ON d.id = m.destination_id ORDER BY m.event_pk, d.address`);
}
/** The events of the decisions in the order their ids were given. */
const idOrder = async (app: TestApp) => (await app.db.all<{ id: string }>(sql`SELECT e.id FROM matches m JOIN events e ON e.pk = m.event_pk ORDER BY m.id`)).map((r) => r.id);
const waiting = async (app: TestApp) => (await app.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM decisions_unsettled`))[0]!.n;

describe('decisions settled onto subscriber groups’ members after the request', () => {
  it('writes one decision per (event, subscriber group) in the request and each member’s when settled, event by event', async () => {
    t = await testApp();
    await seedSubscriber(t, { email: 'a@acme.test' });
    await seedSubscriber(t, { email: 'b@acme.test' });
    await seedSubscriber(t, { email: 'c@acme.test', min_severity: 'high' });
    const r = await t.ingest({ events: [makeEvent({ id: 'e1', severity: 'medium' }), makeEvent({ id: 'e2', severity: 'high' })] });
    // The request answers with every member counted, though none of their rows is written yet.
    expect(r.json).toEqual({ accepted: 2, duplicates: 0, matched: 3 });
    expect(await decisions(t)).toEqual([]);
    // Two groups (every severity, high only) × two events.
    expect(await waiting(t)).toBe(4);
    expect(await settleDecisions(t.db)).toBe(6);
    expect(await waiting(t)).toBe(0);
    const rows = await decisions(t);
    expect(await idOrder(t)).toEqual(['e1', 'e1', 'e1', 'e2', 'e2', 'e2']);
    expect(rows.filter((d) => d.address === 'c@acme.test')).toEqual([
      { event: 'e1', address: 'c@acme.test', alert_state: 'none', reason: 'below_min_severity', digest_state: 'none' },
      { event: 'e2', address: 'c@acme.test', alert_state: 'pending', reason: null, digest_state: 'pending' },
    ]);
    // Nothing left: a second settle writes nothing.
    expect(await settleDecisions(t.db)).toBe(0);
  });

  it('leaves out a subscriber who joined after the change arrived', async () => {
    t = await testApp();
    await seedSubscriber(t, { email: 'early@acme.test' });
    await t.ingest(makeEvent({ id: 'before_join' }));
    await seedSubscriber(t, { email: 'late@acme.test' });
    await t.ingest(makeEvent({ id: 'after_join' }));
    await settleDecisions(t.db);
    expect((await decisions(t)).map((d) => `${d.event} ${d.address}`)).toEqual([
      'before_join early@acme.test',
      'after_join early@acme.test',
      'after_join late@acme.test',
    ]);
  });

  it('keeps the decision made when the change arrived for a subscriber who changed filters since, and withdraws one who left', async () => {
    t = await testApp();
    const stays = await seedSubscriber(t, { email: 'stays@acme.test' });
    const leaves = await seedSubscriber(t, { email: 'leaves@acme.test' });
    await t.ingest(makeEvent({ id: 'medium_change', severity: 'medium' }));
    // Now only high: the change arrived while the filter let it in.
    await t.db.run(sql`UPDATE subscriptions SET min_severity_rank = 3 WHERE id = ${stays.subscription.id}`);
    expect(await waiting(t)).toBe(0); // the update settled first
    const del = await t.call('DELETE', `/v1/accounts/${leaves.account.id}/subscriptions/${leaves.subscription.id}`);
    expect(del.status).toBe(204);
    expect(await decisions(t)).toEqual([
      { event: 'medium_change', address: 'leaves@acme.test', alert_state: 'none', reason: 'unsubscribed', digest_state: 'none' },
      { event: 'medium_change', address: 'stays@acme.test', alert_state: 'pending', reason: null, digest_state: 'pending' },
    ]);
  });

  it('withdraws group decisions not yet settled when the subscription is removed in the same request as the withdrawal', async () => {
    t = await testApp();
    const leaves = await seedSubscriber(t, { email: 'leaves@acme.test' });
    await t.ingest(makeEvent({ id: 'change' }));
    expect(await waiting(t)).toBe(1);
    // The withdrawal runs before the delete in one batch: it settles first, or the delete's trigger
    // would settle a pending alert for a subscriber already gone.
    await t.call('DELETE', `/v1/accounts/${leaves.account.id}/subscriptions/${leaves.subscription.id}`);
    expect(await decisions(t)).toEqual([{ event: 'change', address: 'leaves@acme.test', alert_state: 'none', reason: 'unsubscribed', digest_state: 'none' }]);
  });

  it('applies a plan downgrade and a disabled destination to decisions not yet settled', async () => {
    t = await testApp();
    const down = await seedSubscriber(t, { email: 'down@acme.test' });
    const off = await seedSubscriber(t, { email: 'off@acme.test' });
    await t.ingest(makeEvent({ id: 'change' }));
    await t.call('PATCH', `/v1/accounts/${down.account.id}`, { plan: 'free' });
    await t.ingest(makeEvent({ id: 'second' }));
    await disableDestination(t.db, t.deps.clock, off.destination.id, 'test');
    expect(await waiting(t)).toBe(0);
    expect((await decisions(t)).map((d) => [d.event, d.address, d.alert_state, d.reason])).toEqual([
      ['change', 'down@acme.test', 'none', 'plan'],
      ['change', 'off@acme.test', 'none', 'destination_disabled'],
      ['second', 'down@acme.test', 'none', 'plan'],
      ['second', 'off@acme.test', 'none', 'destination_disabled'],
    ]);
  });

  it('settles what waits before a request that writes its own decisions, so decisions keep the events’ order', async () => {
    t = await testApp();
    await seedSubscriber(t, { email: 'a@acme.test' });
    const base = makeEvent({ id: 'first_change' });
    await t.ingest(base);
    expect(await waiting(t)).toBe(1);
    // An outage notice: its pair cancels per destination in the request, which decides each row itself.
    await t.ingest(makeEvent({ id: 'outage', kind: 'unreachable', detected_at: '2026-11-20T06:30:00Z' }));
    expect(await waiting(t)).toBe(0);
    expect(await idOrder(t)).toEqual(['first_change', 'outage']);
  });

  it('wakes the dispatcher for a group decision not yet settled, and the GET of events counts it', async () => {
    t = await testApp();
    await seedSubscriber(t, { email: 'a@acme.test' });
    await t.ingest(makeEvent({ id: 'waits', detected_at: '2026-11-20T06:55:00Z' }));
    expect(await nextGroupDueAt(t.db, 60_000)).toBe(Date.parse('2026-11-20T07:00:00Z') + 60_000);
    const list = await t.call('GET', '/v1/events');
    expect(list.json.data[0].delivery).toMatchObject({ matched_destinations: 1, alerted_destinations: 1 });
    expect(await waiting(t)).toBe(0);
  });

  it('settles before a digest preview, a digest claim and the reminders read decisions', async () => {
    t = await testApp();
    const free = await seedSubscriber(t, { plan: 'free', email: 'free@acme.test' });
    await seedSubscriber(t, { email: 'monitor@acme.test' });
    // Detected an hour ago, taking effect in 7 days (the accounts' reminder_days).
    await t.ingest(makeEvent({ id: 'weekly_news', detected_at: '2026-11-20T06:00:00Z', effective_at: '2026-11-27' }));
    const period = { key: '2026-11-23', start: Date.parse('2026-11-16T09:00:00Z'), end: Date.parse('2026-11-23T09:00:00Z') };
    expect(await waiting(t)).toBe(2);
    const preview = (await loadDigests(t.db, [{ destinationId: free.destination.id, period }], t.deps.links, t.deps.clock())).get(free.destination.id);
    expect(preview?.total).toBe(1);
    await t.ingest(makeEvent({ id: 'second_news', detected_at: '2026-11-20T06:30:00Z', effective_at: '2026-11-27' }));
    expect(await waiting(t)).toBe(2);
    expect(await enqueueReminders(t.db, Date.parse('2026-11-20T09:30:00Z'))).toBe(2);
    await t.ingest(makeEvent({ id: 'third_news', detected_at: '2026-11-20T06:45:00Z' }));
    expect(await waiting(t)).toBe(2);
    const at = Date.parse('2026-11-23T09:00:00Z');
    expect(await enqueueDueDigests(t.db, at, at)).toEqual({ due: 2, enqueued: 2 });
    const listed = await t.db.all<{ event: string }>(sql`
      SELECT e.id AS event FROM matches m JOIN events e ON e.pk = m.event_pk
      WHERE m.destination_id = ${free.destination.id} AND m.digest_state = 'listed' ORDER BY e.id`);
    expect(listed.map((r) => r.event)).toEqual(['second_news', 'third_news', 'weekly_news']);
  });

  it('stops a deleted destination’s decisions not yet settled: none is left waiting for it', async () => {
    t = await testApp();
    const gone = await seedSubscriber(t, { email: 'gone@acme.test' });
    await t.ingest(makeEvent({ id: 'change' }));
    expect(await waiting(t)).toBe(1);
    expect((await t.call('DELETE', `/v1/accounts/${gone.account.id}/destinations/${gone.destination.id}`)).status).toBe(204);
    const rows = await t.db.all(sql`SELECT alert_state, suppressed_reason AS reason, digest_state FROM matches`);
    expect(rows).toEqual([{ alert_state: 'none', reason: 'destination_disabled', digest_state: 'none' }]);
  });

  it('writes its own decisions for changes that could follow up a chat alert once one exists, so they are threaded in the request', async () => {
    t = await testApp();
    const sub = await seedSubscriber(t, { email: 'a@acme.test' });
    // A clause named: the change could supersede an alert about it. With no chat alert anywhere
    // nothing can be followed up, and its decisions wait as the group's.
    await t.ingest(makeEvent({ id: 'clause_before', provision: { id: 'sec-1', title: '1. Scope' } }));
    expect(await waiting(t)).toBe(1);
    await t.db.run(sql`INSERT INTO outbox (idempotency_key, kind, destination_id, account_id, channel, status, due_at, created_at, updated_at)
      VALUES ('alert:chat', 'alert', ${sub.destination.id}, ${sub.account.id}, 'slack', 'sent', 0, 0, 0)`);
    await t.ingest(makeEvent({ id: 'clause_after', provision: { id: 'sec-1', title: '1. Scope' } }));
    expect(await waiting(t)).toBe(0);
    expect(await idOrder(t)).toEqual(['clause_before', 'clause_after']);
    // A change naming no clause follows nothing up: it waits as before.
    await t.ingest(makeEvent({ id: 'no_clause', provision: undefined }));
    expect(await waiting(t)).toBe(1);
  });

  it('reads each group’s members through the matching index to the group’s own key', async () => {
    t = await testApp();
    const raw = createClient({ url: t.database.url });
    try {
      const [insert] = settleStatements(t.db);
      const q = (insert as unknown as { getQuery(): { sql: string } }).getQuery();
      const plan = (await raw.execute(`EXPLAIN QUERY PLAN ${q.sql}`)).rows.map((r) => String(r.detail));
      expect(plan).toContain('SCAN x');
      // The queue's order is its scan's: no sort of a fan-out's rows.
      expect(plan.filter((p) => p.includes('TEMP B-TREE'))).toEqual([]);
    } finally {
      raw.close();
    }
  });
});
