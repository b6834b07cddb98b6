import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import { runBatch } from '../store/batch.js';
import { threadFollowUps, type FollowUpCandidate } from '../delivery/lifecycle.js';

/**
 * Settling: the decisions matching made for whole subscriber groups (`decisions_unsettled`,
 * written inside the ingest request) become one `matches` row per member, through the view
 * `decisions_settling` (migration 0009) that the triggers on `subscriptions` read too. Ingest
 * writes a row per (event, group) instead of per (event, destination), and the request no longer
 * waits for its fan-out; whoever reads or changes decisions settles first.
 */

/**
 * The statements that settle every group decision waiting, for the start of a batch that reads or
 * changes decisions: in one transaction, the rows written and the queue emptied together.
 */
export function settleStatements(db: Db) {
  return [
    db.run(sql`
      INSERT INTO matches (event_pk, destination_id, alert_state, suppressed_reason, digest_state, created_at)
      SELECT event_pk, destination_id, alert_state, suppressed_reason, digest_state, created_at FROM decisions_settling WHERE true
      ON CONFLICT DO NOTHING`),
    db.run(sql`DELETE FROM decisions_unsettled`),
  ] as const;
}

/**
 * Settles what is waiting and then threads the follow-ups of the settled requests
 * (`follow_ups_due`), each as of when its request arrived, as ingest threads a request's own when
 * it writes its decisions itself. One look when nothing waits. Returns the rows written.
 */
export async function settleDecisions(db: Db): Promise<number> {
  const [waiting] = await db.all<{ decisions: number; follow_ups: number }>(sql`
    SELECT EXISTS (SELECT 1 FROM decisions_unsettled) AS decisions, EXISTS (SELECT 1 FROM follow_ups_due) AS follow_ups`);
  if (!waiting?.decisions && !waiting?.follow_ups) return 0;
  const due = waiting.follow_ups
    ? await db.all<{ ingest_id: string; received_at: number; window_ms: number; candidates: string }>(sql`
        SELECT ingest_id, received_at, window_ms, candidates FROM follow_ups_due ORDER BY received_at, ingest_id`)
    : [];
  const [settled] = (await runBatch(db, [
    ...settleStatements(db),
    // A request's follow-ups are threaded once: another process that read the same row writes
    // nothing twice (the follow-ups' idempotency keys), and the row goes with the first.
    ...due.flatMap((f) => [
      ...threadFollowUps(db, f.ingest_id, f.received_at, f.window_ms, JSON.parse(f.candidates) as FollowUpCandidate[]),
      db.run(sql`DELETE FROM follow_ups_due WHERE ingest_id = ${f.ingest_id}`),
    ]),
  ])) as { rowsAffected: number }[];
  return settled?.rowsAffected ?? 0;
}
