import { sql, type SQL } from 'drizzle-orm';
import { runBatch } from '../store/batch.js';
import { settleStatements } from '../ingest/settle.js';
import type { Db } from '../db.js';
import { dueSchedules } from '../core/digest-schedule.js';
import { PLANS } from '../core/plans.js';

const DIGEST_PLANS = sql.join(
  Object.values(PLANS)
    .filter((p) => p.weeklyDigest)
    .map((p) => sql`${p.name}`),
  sql`, `,
);

/** The accounts' schedules due at `at`, one row per zone in use (computed in JS, matched in SQL). */
async function dueRows(db: Db, at: number) {
  const zones = await db.all<{ timezone: string }>(sql`SELECT DISTINCT timezone FROM accounts`);
  return zones.flatMap(({ timezone }) =>
    dueSchedules(at, timezone).map((d) => ({ tz: timezone, weekday: d.weekday, hour: d.hour, key: d.period.key, start: d.period.start, end: d.period.end })),
  );
}

const dueDestinations = (rows: string) => sql`
  FROM json_each(${rows}) j
  JOIN accounts a ON a.timezone = j.value ->> 'tz' AND a.digest_weekday = j.value ->> 'weekday' AND a.digest_hour = j.value ->> 'hour'
  JOIN destinations d ON d.account_id = a.id AND d.status = 'active'
  WHERE a.plan IN (${DIGEST_PLANS})
    AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.destination_id = d.id AND s.status = 'active')`;

/**
 * Whether a digest for the period [start, end) takes a decision `m` (of event `e`) its
 * destination has not been told yet, keyed `key`: everything detected in the period, and what
 * was detected before it but arrived after the digest of its own week had gone out (reported
 * late, never dropped). News from before the destination's digests began, which no digest of its
 * owed it, is not carried in. The claim and the preview of a digest both ask this.
 */
export const digestTakes = (start: SQL, end: SQL, key: SQL) => sql`(e.detected_at < ${end} AND (e.detected_at >= ${start} OR EXISTS (
  SELECT 1 FROM outbox p WHERE p.destination_id = m.destination_id AND p.kind = 'digest' AND p.idempotency_key <> ${key}
    AND (p.payload ->> 'end') > e.detected_at)))`;

/**
 * The decisions (alias `m`, with their events `e`) that the digests `due` select may take: for
 * each due row (columns `id`, `dest`, `key`, `start`, `end`), every decision its destination has
 * not been told yet (`digest_state = 'pending'`) of an event detected before the row's end. They
 * are found from the destination's subscriptions' platforms' events through the (event,
 * destination) key, not from an index of decisions by destination: that index took a third of
 * ingest's time, each decision row landing at a random place in it.
 *
 * Which events, without an index by destination: once a digest of a destination is enqueued, its
 * claim (below) has settled every decision of that destination detected before its end, so one
 * still untold from before then was stored after it, and each digest records the newest event
 * (`seen_pk`, events.pk only grows) of its enqueueing. Taking the destination's latest other
 * digest `q`: events detected from q's end on (a range of the platform's events by detection
 * time), and those stored after q (`late`, one range of events by pk for the whole statement)
 * detected before that. Without an earlier digest, a claim looks at every event of the
 * platforms (it must settle older news as not digested) and a preview at the period alone (it
 * takes nothing older). `digestTakes` then decides each, as before.
 */
export function untoldDecisions(due: SQL, mode: 'claim' | 'preview') {
  const lo = mode === 'claim' ? sql`coalesce(q.payload ->> 'end', -9007199254740991)` : sql`u.start`;
  const seen = mode === 'claim' ? sql`coalesce(q.payload ->> 'seen_pk', 0)` : sql`CASE WHEN q.id IS NULL THEN 9007199254740991 ELSE coalesce(q.payload ->> 'seen_pk', 0) END`;
  return {
    with: sql`WITH u AS MATERIALIZED (SELECT * FROM (${due})),
    w AS MATERIALIZED (
      SELECT u.id, u.dest, u.key, u.start, u."end", ${lo} AS lo, ${seen} AS seen
      FROM u LEFT JOIN outbox q ON q.id = (
        SELECT p.id FROM outbox p WHERE p.destination_id = u.dest AND p.kind = 'digest' AND p.idempotency_key <> u.key
        ORDER BY (p.payload ->> 'end') DESC LIMIT 1)
    ),
    late AS MATERIALIZED (
      SELECT pk, platform_id, detected_at FROM events
      WHERE pk > (SELECT min(seen) FROM w) AND detected_at < (SELECT max(min(lo, "end")) FROM w)
    ),
    untold AS (
      SELECT w.id, w.dest, w.key, w.start, w."end", e.pk, e.detected_at FROM w
      CROSS JOIN subscriptions s ON s.destination_id = w.dest
      CROSS JOIN events e ON e.platform_id = s.platform_id AND e.detected_at >= w.lo AND e.detected_at < w."end"
      UNION ALL
      SELECT w.id, w.dest, w.key, w.start, w."end", l.pk, l.detected_at FROM w
      CROSS JOIN subscriptions s ON s.destination_id = w.dest
      CROSS JOIN late l ON l.platform_id = s.platform_id AND l.pk > w.seen AND l.detected_at < min(w.lo, w."end")
    )`,
    /**
     * Aliases: `m` the decision, `e` its event's key and detection time (`pk`, `detected_at`, all
     * `digestTakes` reads of it, from the index that found it) beside the due row's `id`, `dest`,
     * `key`, `start` and `end`.
     */
    from: sql`FROM untold e
      CROSS JOIN matches m ON m.event_pk = e.pk AND m.destination_id = e.dest`,
    pending: sql`m.digest_state = 'pending'`,
  };
}

/**
 * What a digest tick at `at` does: every active destination whose account's local digest weekday
 * and hour contain `at` gets one outbox row for that period, and that row takes the decisions
 * the destination has not been told yet (`digestTakes`), so a digest is built from them whenever
 * it is sent or retried. One INSERT … SELECT and one UPDATE, in one batch; the key
 * digest:<destination>:<local date> makes a second run, or a second process, add nothing, and
 * a digest already being sent takes nothing more. Each row records the newest stored event
 * (`seen_pk`) for the next digest's look-up (`untoldDecisions`).
 */
export async function enqueueDueDigests(db: Db, at: number, now: number): Promise<{ due: number; enqueued: number }> {
  const rows = await dueRows(db, at);
  if (!rows.length) return { due: 0, enqueued: 0 };
  const json = JSON.stringify(rows);
  const due = await countDue(db, json);
  const untold = untoldDecisions(
    sql`SELECT o.id, o.destination_id AS dest, o.idempotency_key AS key, o.payload ->> 'start' AS start, o.payload ->> 'end' AS "end"
      FROM outbox o
      WHERE o.idempotency_key IN (SELECT 'digest:' || d.id || ':' || (j.value ->> 'key') ${dueDestinations(json)})
        AND o.status = 'queued' AND o.attempts = 0`,
    'claim',
  );
  const settle = settleStatements(db);
  const results = (await runBatch(db, [
    // The decisions a digest takes are every member's: group decisions are settled first.
    ...settle,
    db.run(sql`
    INSERT INTO outbox (idempotency_key, kind, destination_id, account_id, channel, status, payload, due_at, created_at, updated_at)
    SELECT 'digest:' || d.id || ':' || (j.value ->> 'key'), 'digest', d.id, a.id, d.type, 'queued',
      json_object('key', j.value ->> 'key', 'start', j.value ->> 'start', 'end', j.value ->> 'end',
        'seen_pk', (SELECT coalesce(max(pk), 0) FROM events)), ${now}, ${now}, ${now}
    ${dueDestinations(json)}
    ON CONFLICT DO NOTHING`),
    // Decisions of the period (and late ones) go into the digest; older news no digest owed is
    // closed as not digested. What is detected after the period waits for the next one.
    // The claims are materialized first and the decisions they name updated by key (the IN makes
    // SQLite walk the claims, not every decision): as a subquery of the UPDATE it was flattened,
    // and SQLite scanned every decision once per digest (hours for 100,000 digests).
    db.run(sql`
    ${untold.with},
    t AS MATERIALIZED (
      SELECT m.id, e.id AS outbox_id, ${digestTakes(sql`e.start`, sql`e."end"`, sql`e.key`)} AS takes
      ${untold.from}
      WHERE ${untold.pending}
    )
    UPDATE matches SET
      digest_state = CASE WHEN t.takes THEN 'listed' ELSE 'none' END,
      digest_outbox_id = CASE WHEN t.takes THEN t.outbox_id END
    FROM t
    WHERE matches.id = t.id AND matches.id IN (SELECT id FROM t)`),
  ])) as { rowsAffected: number }[];
  return { due, enqueued: results[settle.length]?.rowsAffected ?? 0 };
}

/** How many destinations have a digest due at `at` (sent already or not). */
export async function countDueDigests(db: Db, at: number): Promise<number> {
  const rows = await dueRows(db, at);
  return rows.length ? countDue(db, JSON.stringify(rows)) : 0;
}

async function countDue(db: Db, rows: string): Promise<number> {
  const [counted] = await db.all<{ n: number }>(sql`SELECT count(*) AS n ${dueDestinations(rows)}`);
  return counted?.n ?? 0;
}

export interface DueDigest {
  destinationId: string;
  period: { key: string; start: number; end: number };
}

/** The destinations due at `at`, in pages (for a dry run, which builds digests without sending). */
export async function* dueDigests(db: Db, at: number, pageSize = 500): AsyncGenerator<DueDigest[]> {
  const rows = await dueRows(db, at);
  if (!rows.length) return;
  const json = JSON.stringify(rows);
  let after = '';
  for (;;) {
    // Destinations first, in primary-key order (CROSS JOIN fixes SQLite's join order), so each
    // page continues the scan where the last stopped instead of sorting every due row again.
    const page = await db.all<{ id: string; key: string; start: number; end: number }>(sql`
      SELECT d.id, j.value ->> 'key' AS key, j.value ->> 'start' AS start, j.value ->> 'end' AS "end"
      FROM destinations d
      CROSS JOIN accounts a ON a.id = d.account_id
      CROSS JOIN json_each(${json}) j
        ON a.timezone = j.value ->> 'tz' AND a.digest_weekday = j.value ->> 'weekday' AND a.digest_hour = j.value ->> 'hour'
      WHERE d.id > ${after} AND d.status = 'active' AND a.plan IN (${DIGEST_PLANS})
        AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.destination_id = d.id AND s.status = 'active')
      ORDER BY d.id LIMIT ${pageSize}`);
    if (!page.length) return;
    yield page.map((p) => ({ destinationId: p.id, period: { key: p.key, start: Number(p.start), end: Number(p.end) } }));
    after = page[page.length - 1]!.id;
  }
}
