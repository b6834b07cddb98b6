import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db.js';
import { stillWaits } from '../delivery/grouping.js';
import { DIGEST_BLIP_MS, DIGEST_ONLY, REACHES_NOBODY, REASONS, type Reason } from '../core/policy.js';

/** A list of policy reasons as SQL values, for `IN (…)`. */
export function reasonList(reasons: readonly Reason[]): SQL {
  return sql.join(
    reasons.map((r) => sql`${r}`),
    sql`, `,
  );
}

/** One policy reason as an SQL literal: a misspelt name is a type error, not a silent mismatch. */
export function reason(name: Reason): SQL {
  return sql.raw(`'${name}'`);
}

// The matcher keeps every admitted decision for the digest: that holds while each reason it can
// write after the filters is one the policy keeps for the digest.
for (const r of ['plan', 'undoes_unalerted'] as const) if (REASONS[r].delivery !== 'digest') throw new Error(`matching keeps '${r}' for the digest; the policy no longer does`);

/**
 * A subscription (alias given) whose subscriber matching decides for: its status is `active` and
 * its destination is. Migration 0008's triggers count the same rows into `subscriber_groups`
 * (test/db/subscriber-groups.test.ts holds the two together). `= 1`, not the bare flag: as an
 * equality it lets subscriptions_matching seek past it to a group's own key; the bare flag
 * stopped the seek at the status, and each group of a platform read all its subscribers (one
 * event to 100,000 subscribers in 24 groups: 0.9–1.0 s, 0.3–0.4 s with the seek).
 */
export const activeSubscriber = (alias: string) => sql.raw(`${alias}.status = 'active' AND ${alias}.destination_active = 1`);

/** The event (alias `e`) has no reason of its own to be kept from every same-day alert. */
const eventMayAlert = sql`e.suppressed_reason IS NULL`;

/** Decisions (alias `m`) that tell their destination of the change, by alert or by digest. */
export const tellsOf = sql`(m.suppressed_reason IS NULL OR m.suppressed_reason IN (${reasonList(DIGEST_ONLY)}))`;

/**
 * The policy's decision for each (event, active subscriber of its platform) of one ingest
 * request, as SQL over `FROM … WHERE …` (aliases `e`, `s`): the columns a `matches` row records
 * and `admitted` (the subscriber's filters let it in: it counts as matched). In order: the
 * subscriber's filters (minimum severity, categories; monitoring notices pass them, and so does
 * a reversion for whoever heard of the change it undoes), the event's own reason, a reversion of
 * a change this destination was never alerted to, the plan. No reason: a same-day alert
 * (`pending`). Events whose own reason reaches nobody get no decisions. The INSERT and the
 * request's tally both read these fragments, so the rule is spelled once.
 */
function decisionsOf(ingestId: string, has: { reversions: boolean }, subscribers = sql`subscriptions s ON s.platform_id = e.platform_id AND ${activeSubscriber('s')}`) {
  // Most batches hold no reversion: they skip the look-up of what was told of an undone change
  // (a derived table joined per row cost the 100,000-destination fan-out four times its time),
  // and with it the terms that read it: no event of theirs undoes another, and SQLite would
  // evaluate those terms for every decision all the same (31,000 rows: 26.7 → 24.6 ms).
  const heard = has.reversions
    ? sql`LEFT JOIN (
        SELECT u.id, mu.destination_id, max(mu.alert_state <> 'none' OR mu.digest_state <> 'none') AS undone,
          max(mu.alert_state <> 'none') AS alerted
        FROM events u JOIN matches mu ON mu.event_pk = u.pk
        WHERE u.id IN (SELECT undoes_id FROM events WHERE ingest_id = ${ingestId} AND undoes_id IS NOT NULL)
        GROUP BY u.id, mu.destination_id
      ) heard ON heard.id = e.undoes_id AND heard.destination_id = s.destination_id`
    : sql``;
  // Monitoring notices pass every filter, and so does a reversion for whoever heard of the change it undoes.
  const passes = has.reversions ? sql`(e.kind IN ('unreachable', 'restored') OR coalesce(heard.undone, 0))` : sql`(e.kind IN ('unreachable', 'restored'))`;
  const severityOk = sql`e.severity_rank >= s.min_severity_rank`;
  const categoriesOk = sql`(s.categories IS NULL OR EXISTS (
    SELECT 1 FROM json_each(s.categories) sc JOIN json_each(e.categories) ec ON ec.value = sc.value))`;
  const admitted = sql`(${passes} OR (${severityOk} AND ${categoriesOk}))`;
  // Nobody needs to hear that a change they were never alerted to was undone.
  const undoesUnalerted = has.reversions ? sql`(e.undoes_id IS NOT NULL AND NOT coalesce(heard.alerted, 0))` : sql`0`;
  // Each column spelled from the same fragments, not from the reason's alias: SQLite flattens a
  // derived table and would evaluate the whole CASE once per reference (twice the fan-out's time).
  return {
    admitted,
    alertState: sql`CASE WHEN ${admitted} AND ${eventMayAlert} AND NOT ${undoesUnalerted} AND s.same_day_alerts THEN 'pending' ELSE 'none' END`,
    reason: sql`CASE
        WHEN NOT ${passes} AND NOT ${severityOk} THEN ${reason('below_min_severity')}
        WHEN NOT ${passes} AND NOT ${categoriesOk} THEN ${reason('categories')}
        WHEN e.suppressed_reason IS NOT NULL THEN e.suppressed_reason
        WHEN ${undoesUnalerted} THEN ${reason('undoes_unalerted')}
        WHEN NOT s.same_day_alerts THEN ${reason('plan')}
      END`,
    // What is admitted is told by alert or digest: every reason left after the filters keeps the digest.
    digestState: sql`CASE WHEN ${admitted} THEN 'pending' ELSE 'none' END`,
    from: sql`
    FROM events e
    JOIN ${subscribers}
    -- What the destination was told of the change a reversion undoes.
    ${heard}
    WHERE e.ingest_id = ${ingestId}
      AND (e.suppressed_reason IS NULL OR e.suppressed_reason NOT IN (${reasonList(REACHES_NOBODY)}))`,
  };
}

/**
 * The event's platform's subscriber groups (alias `s`), as kept in `subscriber_groups`, emptied
 * ones too: a group's members are read from the subscriptions, so a count gone wrong behind the
 * triggers' back can skew the tally but never keep a subscriber from being matched.
 */
const groupsOfPlatform = sql`subscriber_groups s ON s.platform_id = e.platform_id`;

/**
 * Subscription `t` is an active member of group `g` (both aliases of rows with the group's
 * columns), read through subscriptions_matching to the group's key. Without `plan`, of any
 * group that differs from `g` only in same-day alerts: what a subscriber's filters let in does
 * not depend on the plan.
 */
function memberOf(t: string, g: string, { plan }: { plan: boolean }) {
  const [m, of] = [sql.raw(t), sql.raw(g)];
  return sql`${m}.platform_id = ${of}.platform_id AND ${activeSubscriber(t)} AND ${m}.min_severity_rank = ${of}.min_severity_rank
      ${plan ? sql`AND ${m}.same_day_alerts = ${of}.same_day_alerts` : sql``} AND ${m}.categories IS ${of}.categories`;
}

/**
 * Matching, set-based: one INSERT … SELECT for every event one ingest request stored, writing the
 * policy's decision (`decisionsOf`) for each (event, active subscriber of its platform) as a row.
 * Without reversions a decision depends on the subscriber only through its filters and plan (as
 * `tallyDecisions` counts them), so each event is decided once per subscriber group (platform,
 * minimum severity, same-day alerts, categories, as `subscriber_groups` keeps them: 31,000
 * decisions of a 500-event batch became about 1,500) and the group's subscribers take its
 * decision: evaluating the policy's terms for every row was half the statement's time. With
 * reversions what each destination heard matters, and each is decided. Either way the rows come
 * event by event, in the events' order.
 *
 * A batch whose request reads or changes nothing per destination afterwards (`ownRows` false: no
 * reversion, no outage notice, no follow-up to thread) writes the group decisions alone, into
 * `decisions_unsettled`, which settling copies onto the members later (src/ingest/settle.ts):
 * writing 31,000 rows and their (event, destination) key was the request's largest cost. The
 * others write their rows here, after settling what waits (their caller's batch does).
 */
export function matchIngested(db: Db, ingestId: string, now: number, has: { reversions: boolean; ownRows: boolean } = { reversions: true, ownRows: true }) {
  if (has.reversions) {
    const d = decisionsOf(ingestId, has);
    return db.run(sql`
      INSERT INTO matches (event_pk, destination_id, alert_state, suppressed_reason, digest_state, created_at)
      SELECT e.pk, s.destination_id, ${d.alertState}, ${d.reason}, ${d.digestState}, ${now}
      ${d.from}
      ON CONFLICT DO NOTHING`);
  }
  const d = decisionsOf(ingestId, has, groupsOfPlatform);
  if (!has.ownRows) {
    // Every group, emptied ones too: its members are read when it settles, so a count gone wrong
    // behind the triggers' back keeps nobody from the decision.
    return db.run(sql`
      INSERT INTO decisions_unsettled (event_pk, platform_id, min_severity_rank, same_day_alerts, categories,
        alert_state, suppressed_reason, digest_state, created_at)
      SELECT e.pk, e.platform_id, s.min_severity_rank, s.same_day_alerts, s.categories,
        ${d.alertState}, ${d.reason}, ${d.digestState}, ${now}
      ${d.from}`);
  }
  return db.run(sql`
    WITH decided AS MATERIALIZED (
      SELECT e.pk, e.platform_id, s.min_severity_rank, s.same_day_alerts, s.categories,
        ${d.alertState} AS alert_state, ${d.reason} AS reason, ${d.digestState} AS digest_state
      ${d.from})
    INSERT INTO matches (event_pk, destination_id, alert_state, suppressed_reason, digest_state, created_at)
    SELECT x.pk, t.destination_id, x.alert_state, x.reason, x.digest_state, ${now}
    FROM decided x
    -- The group's subscribers, from the index matching reads (subscriptions_matching) alone.
    JOIN subscriptions t ON ${memberOf('t', 'x', { plan: true })}
    WHERE true
    ON CONFLICT DO NOTHING`);
}

/**
 * Files each event of the request that has a decision waiting to be grouped into an alert in
 * `alerts_waiting`, where grouping looks for them (src/delivery/grouping.ts): one row per event
 * instead of an index entry per decision. Run after `matchIngested` in the same batch; a
 * cancelling pair or follow-up later in the batch may leave an event filed with nothing waiting,
 * which grouping tells apart and removes. So does a group decision waiting to be settled onto a
 * group that has no members by then.
 */
export function fileAlertsWaiting(db: Db, ingestId: string, now: number) {
  return db.run(sql`
    INSERT INTO alerts_waiting (event_pk, since)
    SELECT e.pk, ${now} FROM events e
    -- An event kept from every alert has no decision waiting: none of its decisions is read.
    WHERE e.ingest_id = ${ingestId} AND ${eventMayAlert} AND ${stillWaits(sql`e.pk`)}
    ON CONFLICT (event_pk) DO NOTHING`);
}

/**
 * The request's decisions by reason (null: a same-day alert) and how many distinct destinations
 * its changes matched, counted from the same decisions the INSERT writes, without reading the
 * rows back (reading 31,000 fresh rows and a DISTINCT over them cost more than writing them).
 * Without reversions a decision depends on the subscriber only through its filters and plan, so
 * each event is decided once per subscriber group and counted by the group's stored count
 * (31,000 decisions of a 500-event batch became about 1,500); with reversions what each
 * destination heard matters, and each is decided.
 * Valid only while nothing changes those rows after the INSERT in the same batch: a batch that
 * runs the cancelling statements counts what they left instead.
 */
export function tallyDecisions(db: Db, ingestId: string, has: { reversions: boolean }) {
  if (has.reversions) {
    const d = decisionsOf(ingestId, has);
    return db.all<{ destinations: number; reason: string | null; n: number }>(sql`
      SELECT 0 AS destinations, ${d.reason} AS reason, count(*) AS n ${d.from} GROUP BY 2
      UNION ALL
      -- Destinations whose filters let at least one change in (the request's "matched").
      SELECT 1, NULL, count(DISTINCT s.destination_id) ${d.from} AND ${d.admitted}`);
  }
  const d = decisionsOf(ingestId, has, groupsOfPlatform);
  return db.all<{ destinations: number; reason: string | null; n: number }>(sql`
    SELECT 0 AS destinations, ${d.reason} AS reason, sum(s.subscribers) AS n ${d.from} GROUP BY 2 HAVING sum(s.subscribers) > 0
    UNION ALL
    -- Destinations with a subscription in a group that let at least one change in (the request's "matched").
    SELECT 1, NULL, count(DISTINCT t.destination_id)
    FROM (SELECT DISTINCT s.platform_id, s.min_severity_rank, s.categories ${d.from} AND ${d.admitted}) g
    CROSS JOIN subscriptions t ON ${memberOf('t', 'g', { plan: false })}`);
}

/**
 * How far back an outage's start is looked for when it ends: its notice can only still wait in an
 * alert group if it is recent (a week bounds the index range read).
 */
export const OUTAGE_LOOKBACK_MS = 7 * 24 * 3_600_000;

/**
 * Pairs that undo each other inside one alert group cancel out there. A change and the reversion
 * that undoes it: first the reversion's matches whose counterpart waits, then every waiting match
 * of the counterpart the reversion did not reach on its own (a destination that takes the change
 * but not a low-severity reversion must not hear of an undone change either). An outage and its
 * end with the content unchanged: both waiting in one group cancel out; less than an hour apart
 * (a blip between two captures) they are left out of the digest too, even when the outage was
 * already alerted. Each statement returns the rows it changed (event, reason), which /metrics
 * counts. Only the statements the request needs are run: most batches hold neither reversions
 * nor notices. A change and its reversion cancel only when the reversion was detected within
 * `undoneWithinMs` of the change (the policy's `undoneWithinMs`).
 */
export function cancelUndoneInGroup(db: Db, ingestId: string, has: { reversions: boolean; notices: boolean }, undoneWithinMs = Number.MAX_SAFE_INTEGER) {
  const statements = [];
  if (has.notices) {
    // Either side may be the one this request brought (a late outage start arrives after its end).
    statements.push(
      db.all<Cancelled>(sql`
        WITH pair AS (
          SELECT r.pk AS r_pk, u.pk AS u_pk, r.detected_at - u.detected_at AS gap FROM events r
          JOIN events u ON u.platform_id = r.platform_id AND u.detected_at BETWEEN r.detected_at - ${OUTAGE_LOOKBACK_MS} AND r.detected_at
            AND u.document_id = r.document_id AND u.kind = 'unreachable'
          WHERE r.ingest_id = ${ingestId} AND r.kind = 'restored'
          UNION
          SELECT r.pk, u.pk, r.detected_at - u.detected_at FROM events u
          JOIN events r ON r.platform_id = u.platform_id AND r.detected_at BETWEEN u.detected_at AND u.detected_at + ${OUTAGE_LOOKBACK_MS}
            AND r.document_id = u.document_id AND r.kind = 'restored'
          WHERE u.ingest_id = ${ingestId} AND u.kind = 'unreachable'
        ),
        unchanged AS (
          SELECT p.r_pk, p.u_pk, p.gap FROM pair p JOIN events r ON r.pk = p.r_pk JOIN events u ON u.pk = p.u_pk
          WHERE u.previous_sha256 IS NULL OR r.sha256 IS NULL OR u.previous_sha256 = r.sha256
        ),
        hit AS (
          SELECT mr.id AS r_id, mu.id AS u_id, (mr.alert_state = 'pending' AND mu.alert_state = 'pending') AS burst,
            (p.gap < ${DIGEST_BLIP_MS}) AS blip
          FROM unchanged p
          JOIN matches mr ON mr.event_pk = p.r_pk
          JOIN matches mu ON mu.event_pk = p.u_pk AND mu.destination_id = mr.destination_id
        ),
        each AS (
          SELECT id, max(burst) AS burst, max(blip) AS blip FROM (
            SELECT r_id AS id, burst, blip FROM hit UNION ALL SELECT u_id, burst, blip FROM hit)
          GROUP BY id
        )
        UPDATE matches SET
          alert_state = CASE WHEN each.burst THEN 'none' ELSE alert_state END,
          suppressed_reason = CASE WHEN each.burst THEN ${reason('unreachable_burst')} ELSE suppressed_reason END,
          digest_state = CASE WHEN each.blip AND digest_state = 'pending' THEN 'none' ELSE digest_state END
        FROM each
        WHERE matches.id = each.id AND (each.burst OR (each.blip AND matches.digest_state = 'pending'))
        RETURNING event_pk, suppressed_reason AS reason`),
    );
  }
  if (has.reversions) {
    statements.push(
      // Recorded before the cancelling: the pair meets when the undone change still waits somewhere.
      db.run(sql`
        UPDATE events SET undo_cancelled = 1
        WHERE ingest_id = ${ingestId} AND undoes_id IS NOT NULL AND EXISTS (
          SELECT 1 FROM events c JOIN matches mc ON mc.event_pk = c.pk AND mc.alert_state = 'pending'
          WHERE c.id = events.undoes_id AND events.detected_at - c.detected_at <= ${undoneWithinMs})`),
      db.all<Cancelled>(sql`
        UPDATE matches SET alert_state = 'none', suppressed_reason = ${reason('reverted')}
        WHERE alert_state = 'pending' AND id IN (
          SELECT mr.id FROM events r
          JOIN events c ON c.id = r.undoes_id
          JOIN matches mr ON mr.event_pk = r.pk
          JOIN matches mc ON mc.event_pk = c.pk AND mc.destination_id = mr.destination_id AND mc.alert_state = 'pending'
          WHERE r.ingest_id = ${ingestId} AND r.undoes_id IS NOT NULL AND r.detected_at - c.detected_at <= ${undoneWithinMs})
        RETURNING event_pk, suppressed_reason AS reason`),
      db.all<Cancelled>(sql`
        UPDATE matches SET alert_state = 'none', suppressed_reason = ${reason('reverted')}
        WHERE alert_state = 'pending' AND id IN (
          SELECT mc.id FROM events r
          JOIN events c ON c.id = r.undoes_id
          JOIN matches mc ON mc.event_pk = c.pk AND mc.alert_state = 'pending'
          WHERE r.ingest_id = ${ingestId} AND r.undoes_id IS NOT NULL AND r.detected_at - c.detected_at <= ${undoneWithinMs})
        RETURNING event_pk, suppressed_reason AS reason`),
    );
  }
  return statements;
}

/** A match a cancelling pair took out of its alert group. */
export interface Cancelled {
  event_pk: number;
  reason: Reason | null;
}
