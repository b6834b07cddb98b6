import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db.js';
import { runBatch } from '../store/batch.js';
import { settleDecisions } from '../ingest/settle.js';
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
 *
 * Returns how many messages it wrote, alerts and budget messages alike; a change that joins the
 * day's budget message, already written, writes none.
 */
export async function groupDueAlerts(db: Db, now: number, groupWaitMs: number, maxPerDay = Number.MAX_SAFE_INTEGER, destinations?: number): Promise<number> {
  const cutoff = now - groupWaitMs;
  // What ingest decided per subscriber group becomes each member's decision before anything is
  // grouped. What another process's request decides after this waits for the next call (its
  // event is filed as waiting, and stillWaits counts it).
  await settleDecisions(db);
  // Nothing waited long enough (a burst still inside its group wait): one look at the oldest
  // event with a pending match, instead of grouping 50,000 matches to find no group due.
  const { first, stale } = await waitingSince(db);
  if (first === undefined || first > cutoff) {
    // The last step of a pass grouped everything: nothing is due, and its events are left filed.
    if (first === undefined && stale) await db.run(forgetGrouped);
    return 0;
  }
  // The zones of this call's due destinations alone: a bounded first step among a fan-out's
  // 2,000 waiting destinations read every one's account (6 ms before its first message). Read
  // before the batch, so another dispatcher may group some of them in between, and the batch's
  // bound then takes in a destination whose zone is not here: the zone join leaves it pending
  // for the next call, never grouped under another zone's day.
  const zones = await db.all<{ timezone: string }>(sql`
    SELECT DISTINCT a.timezone FROM ${dueDestinations(cutoff, destinations)} p
      CROSS JOIN destinations d CROSS JOIN accounts a
    WHERE d.id = p.destination_id AND a.id = d.account_id`);
  if (!zones.length) return 0;
  const days = JSON.stringify(
    zones.map(({ timezone }) => {
      const l = localTime(now, timezone);
      const next = addDays(l.y, l.m, l.d, 1);
      return { tz: timezone, date: isoDate(l), start: zonedInstant(l.y, l.m, l.d, 0, timezone), end: zonedInstant(next.y, next.m, next.d, 0, timezone) };
    }),
  );
  const due = dueGroups(days, cutoff, destinations);
  // A due destination under today's budget gets its alert message, one over it the day's "N more
  // changes" message: one statement writes either, and one files the waiting decisions into the
  // message there is for them (this call's alert, or the day's budget message, written now or
  // earlier). Each statement reads the due groups once; a pair of statements per kind read them
  // four times.
  const overBudget = sql`g.sent_today >= ${maxPerDay}`;
  const [created] = (await runBatch(db, [
    db.run(sql`
      INSERT INTO outbox (idempotency_key, kind, destination_id, account_id, channel, status, due_at, created_at, updated_at)
      SELECT CASE WHEN ${overBudget} THEN ${budgetKey} ELSE ${alertKey} END,
        CASE WHEN ${overBudget} THEN 'budget' ELSE 'alert' END, g.destination_id, g.account_id, g.type, 'queued',
        CASE WHEN ${overBudget} THEN g.day_end ELSE ${now} END, ${now}, ${now}
      -- A WHERE before ON CONFLICT: without one, SQLite reads ON as the join's (its documented ambiguity).
      FROM ${due} g WHERE true
      ON CONFLICT DO NOTHING`),
    // Filed by which message exists, not by the budget read again: the alert just written counts
    // toward today's budget itself. Materialized first, then each row updated by its id: left to
    // itself the planner scanned every decision's (event, destination) key once per event filed
    // as waiting.
    db.run(sql`
      WITH x AS MATERIALIZED ${pendingOf(due)}
      UPDATE matches SET alert_state = 'grouped', outbox_id = x.outbox_id
      FROM x WHERE matches.id = +x.match_id`),
    db.run(forgetGrouped),
  ])) as { rowsAffected: number }[];
  return created?.rowsAffected ?? 0;
}

/**
 * Whether the event `eventPk` (an SQL expression) still has a decision waiting to be grouped: a
 * destination's, or a subscriber group's not yet settled onto its members (src/ingest/settle.ts),
 * which a dispatcher must wake for and must not forget while another process's request files it.
 */
export const stillWaits = (eventPk: SQL) => sql`(EXISTS (SELECT 1 FROM matches m WHERE m.event_pk = ${eventPk} AND m.alert_state = 'pending')
  OR EXISTS (SELECT 1 FROM decisions_unsettled u WHERE u.event_pk = ${eventPk} AND u.alert_state = 'pending'))`;

/**
 * The decisions waiting to be grouped (`id`, `destination_id`, `created_at`), every destination's
 * or one's, from the events filed in `alerts_waiting` through the (event, destination) key:
 * decisions have no index of their own by state, which each of a fan-out's rows went into.
 */
export const waitingDecisions = (destinationId?: string) => sql`(
  SELECT m.id, m.destination_id, m.created_at FROM alerts_waiting w CROSS JOIN matches m ON m.event_pk = w.event_pk
    ${destinationId === undefined ? sql`` : sql`AND m.destination_id = ${destinationId}`}
  WHERE m.alert_state = 'pending')`;

/**
 * Destinations whose group is due, with their local day (`days`: each zone's, as JSON) and
 * today's alert count. The pending matches (`waitingDecisions`) are folded into one row per
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
  FROM ${dueDestinations(cutoff, destinations)} p
    CROSS JOIN destinations d CROSS JOIN accounts a CROSS JOIN json_each(${days}) j
  WHERE d.id = p.destination_id AND a.id = d.account_id AND j.value ->> 'tz' = a.timezone)`;

/**
 * The destinations whose oldest waiting decision is at least `cutoff` old (`destination_id`,
 * `first_id`: that decision's id), folded from the waiting decisions; with `destinations`, the
 * first that many by that decision.
 */
const dueDestinations = (cutoff: number, destinations?: number) => sql`(
  SELECT m.destination_id, min(m.id) AS first_id FROM ${waitingDecisions()} m
  GROUP BY m.destination_id HAVING min(m.created_at) <= ${cutoff}
  ${destinations === undefined ? sql`` : sql`ORDER BY first_id LIMIT ${destinations}`})`;

/** A due group's (alias `g`) alert message key, and its day's budget message key. */
const alertKey = sql`'alert:' || g.destination_id || ':' || g.first_id`;
const budgetKey = sql`'budget:' || g.destination_id || ':' || g.day`;

/**
 * Each pending match of a due group with the outbox message it now belongs to: the group's alert
 * message (keyed by the group's first decision, so only a call grouping it writes one), else its
 * day's budget message while that is still queued (one sent, or being sent, is not joined).
 * Each group's message is found once, then the matches are driven from (CROSS JOIN), each
 * finding its group through an automatic index: the planner otherwise scanned every pending
 * match once per group (500 ms for a burst of 500 changes to 100 destinations, instead of 130).
 */
export const pendingOf = (due: ReturnType<typeof dueGroups>) => sql`(
  WITH t AS MATERIALIZED (
    SELECT g.destination_id, coalesce(oa.id, ob.id) AS outbox_id FROM ${due} g
    LEFT JOIN outbox oa ON oa.idempotency_key = ${alertKey}
    LEFT JOIN outbox ob ON ob.idempotency_key = ${budgetKey} AND ob.status = 'queued')
  SELECT pm.id AS match_id, t.outbox_id
  FROM ${waitingDecisions()} pm CROSS JOIN t
  WHERE t.destination_id = pm.destination_id AND t.outbox_id IS NOT NULL)`;

/** When the next group falls due (ms), or undefined when nothing waits: the dispatcher sleeps until then. */
export async function nextGroupDueAt(db: Db, groupWaitMs: number): Promise<number | undefined> {
  const { first } = await waitingSince(db);
  return first === undefined ? undefined : first + groupWaitMs;
}

/**
 * When the oldest decision still waiting was made, and whether some event is filed as waiting
 * with nothing left waiting (grouped, cancelled, withdrawn or followed up since): such an event
 * is passed over here and removed by `forgetGrouped`.
 */
async function waitingSince(db: Db): Promise<{ first: number | undefined; stale: boolean }> {
  const [row] = await db.all<{ first: number | null; stale: number }>(sql`
    SELECT min(CASE WHEN x.waits THEN x.since END) AS first, coalesce(max(NOT x.waits), 0) AS stale FROM (
      SELECT w.since, ${stillWaits(sql`w.event_pk`)} AS waits
      FROM alerts_waiting w) x`);
  return { first: row?.first ?? undefined, stale: Boolean(row?.stale) };
}

/** Removes the events filed as waiting that have nothing left waiting. */
const forgetGrouped = sql`
  DELETE FROM alerts_waiting WHERE NOT ${stillWaits(sql`alerts_waiting.event_pk`)}`;
