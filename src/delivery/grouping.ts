import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import { runBatch } from '../store/batch.js';
import { addDays, isoDate, localTime, zonedInstant } from '../core/zoned-time.js';

/**
 * Alertmanager-style grouping, in SQL. Matches wait as `pending`; once a destination's oldest
 * pending match is `groupWaitMs` old, all of its pending matches become ONE outbox message
 * (idempotency key alert:<destination>:<first match id>). Two dispatchers running this at once
 * are serialised by the database's write lock, and the key makes a repeat a no-op.
 *
 * The alert budget: a destination that already had `maxPerDay` alert messages on its account's
 * local day gets no more that day. Its further changes gather in one "N more changes today"
 * message (budget:<destination>:<local date>), sent when the local day ends.
 *
 * `destinations` groups only that many of the due destinations, those whose first pending
 * change came first, and leaves the rest pending for the next call: a dispatcher groups a few
 * and starts sending them before it groups the thousands behind them (`runOnce`).
 */
export async function groupDueAlerts(db: Db, now: number, groupWaitMs: number, maxPerDay = Number.MAX_SAFE_INTEGER, destinations?: number): Promise<number> {
  const cutoff = now - groupWaitMs;
  // Nothing waited long enough (a burst still inside its group wait): one look at the oldest
  // pending match, by its partial index, instead of grouping 50,000 matches to find no group due.
  const first = await nextGroupDueAt(db, 0);
  if (first === undefined || first > cutoff) return 0;
  const zones = await db.all<{ timezone: string }>(sql`
    SELECT DISTINCT a.timezone FROM (SELECT DISTINCT destination_id FROM matches WHERE alert_state = 'pending') m
      CROSS JOIN destinations d CROSS JOIN accounts a
    WHERE d.id = m.destination_id AND a.id = d.account_id`);
  if (!zones.length) return 0;
  const days = JSON.stringify(
    zones.map(({ timezone }) => {
      const l = localTime(now, timezone);
      const next = addDays(l.y, l.m, l.d, 1);
      return { tz: timezone, date: isoDate(l), start: zonedInstant(l.y, l.m, l.d, 0, timezone), end: zonedInstant(next.y, next.m, next.d, 0, timezone) };
    }),
  );
  const due = dueGroups(days, cutoff, destinations);
  const [created] = (await runBatch(db, [
    db.run(sql`
      INSERT INTO outbox (idempotency_key, kind, destination_id, account_id, channel, status, due_at, created_at, updated_at)
      SELECT 'alert:' || g.destination_id || ':' || g.first_id, 'alert', g.destination_id, g.account_id, g.type, 'queued', ${now}, ${now}, ${now}
      FROM ${due} g WHERE g.sent_today < ${maxPerDay}
      ON CONFLICT DO NOTHING`),
    db.run(sql`
      UPDATE matches SET alert_state = 'grouped', outbox_id = x.outbox_id
      FROM ${pendingOf(due, sql`'alert:' || g.destination_id || ':' || g.first_id`)} x
      WHERE matches.id = x.match_id`),
    // What is still pending and due belongs to destinations over today's budget. Named as such:
    // with a bound on the destinations, the due groups read again here (the first ones having
    // gone) may hold some that were not part of this call's and are not over it.
    db.run(sql`
      INSERT INTO outbox (idempotency_key, kind, destination_id, account_id, channel, status, due_at, created_at, updated_at)
      SELECT 'budget:' || g.destination_id || ':' || g.day, 'budget', g.destination_id, g.account_id, g.type, 'queued', g.day_end, ${now}, ${now}
      FROM ${due} g WHERE g.sent_today >= ${maxPerDay}
      ON CONFLICT DO NOTHING`),
    db.run(sql`
      UPDATE matches SET alert_state = 'grouped', outbox_id = x.outbox_id
      FROM ${pendingOf(due, sql`'budget:' || g.destination_id || ':' || g.day`, sql`AND o.status = 'queued' AND g.sent_today >= ${maxPerDay}`)} x
      WHERE matches.id = x.match_id`),
  ])) as { rowsAffected: number }[];
  return created?.rowsAffected ?? 0;
}

/**
 * Destinations whose group is due, with their local day (`days`: each zone's, as JSON) and
 * today's alert count. The pending matches (their partial index) are folded into one row per
 * destination first, then joined: joining first looked up the destination, the account and the
 * zone's JSON for each of a burst's 50,000 matches. CROSS JOIN fixes SQLite's join order from
 * those few rows outwards. Left to itself the planner started from every account in the zone and
 * built an automatic index over all matches for each statement: 1.6 s to group 1,000
 * destinations instead of 15 ms. With `destinations`, only the first that many by their first
 * pending match: the same ones for every statement of a call until one of them groups them.
 */
export const dueGroups = (days: string, cutoff: number, destinations?: number) => sql`(
  SELECT p.destination_id, p.first_id, d.account_id, d.type,
    j.value ->> 'date' AS day, j.value ->> 'end' AS day_end,
    (SELECT count(*) FROM outbox o WHERE o.destination_id = p.destination_id AND o.kind = 'alert'
       AND o.status <> 'cancelled' AND o.created_at >= j.value ->> 'start') AS sent_today
  FROM (SELECT m.destination_id, min(m.id) AS first_id FROM matches m WHERE m.alert_state = 'pending'
        GROUP BY m.destination_id HAVING min(m.created_at) <= ${cutoff}
        ${destinations === undefined ? sql`` : sql`ORDER BY first_id LIMIT ${destinations}`}) p
    CROSS JOIN destinations d CROSS JOIN accounts a CROSS JOIN json_each(${days}) j
  WHERE d.id = p.destination_id AND a.id = d.account_id AND j.value ->> 'tz' = a.timezone)`;

/**
 * Each pending match of a due group with the outbox row (by its key) it now belongs to. Driven
 * from the matches (CROSS JOIN), each finding its group through an automatic index: the planner
 * otherwise scanned every pending match once per group (500 ms for a burst of 500 changes to 100
 * destinations, instead of 130).
 */
export const pendingOf = (due: ReturnType<typeof dueGroups>, key: ReturnType<typeof sql>, also = sql``) => sql`(
  SELECT pm.id AS match_id, o.id AS outbox_id
  FROM matches pm CROSS JOIN ${due} g CROSS JOIN outbox o
  WHERE pm.alert_state = 'pending' AND g.destination_id = pm.destination_id AND o.idempotency_key = ${key} ${also})`;

/** When the next group falls due (ms), or undefined when nothing waits: the dispatcher sleeps until then. */
export async function nextGroupDueAt(db: Db, groupWaitMs: number): Promise<number | undefined> {
  const [row] = await db.all<{ first: number | null }>(sql`SELECT min(created_at) AS first FROM matches WHERE alert_state = 'pending'`);
  return row?.first == null ? undefined : row.first + groupWaitMs;
}
