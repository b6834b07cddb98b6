import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import { runBatch } from '../store/batch.js';
import { threadDueFollowUps } from '../delivery/lifecycle.js';

/**
 * Settling: the decisions matching made for whole subscriber groups (`decisions_unsettled`,
 * written inside the ingest request) become one `matches` row per member, through the view
 * `decisions_settling` (migration 0009) that the triggers on `subscriptions` read too. Ingest
 * writes a row per (event, group) instead of per (event, destination), and the request no longer
 * waits for its fan-out; whoever reads or changes decisions settles first.
 */

/**
 * The statements that settle every group decision waiting, and then thread the follow-ups of the
 * `requests` that have waited longest for them (`follow_ups_due`, one at a time in arrival order):
 * for the start of a batch that reads, groups or changes decisions. In one transaction, the rows
 * written and the queue emptied. A request left waiting (more than `requests` were filed) keeps
 * its decisions from grouping (`awaitingFollowUps`) until a later settling threads it.
 */
export function settleStatements(db: Db, requests = 1) {
  return [
    db.run(sql`
      INSERT INTO matches (event_pk, destination_id, alert_state, suppressed_reason, digest_state, created_at)
      SELECT event_pk, destination_id, alert_state, suppressed_reason, digest_state, created_at FROM decisions_settling
      ORDER BY queue_id
      ON CONFLICT DO NOTHING`),
    db.run(sql`DELETE FROM decisions_unsettled`),
    ...Array.from({ length: requests }, () => threadDueFollowUps(db)).flat(),
  ];
}

/** Settles what waits and threads every request waiting (`settleStatements`), after one look when nothing does. Returns the decisions written. */
export async function settleDecisions(db: Db): Promise<number> {
  const [waiting] = await db.all<{ decisions: number; requests: number }>(sql`
    SELECT EXISTS (SELECT 1 FROM decisions_unsettled) AS decisions, (SELECT count(*) FROM follow_ups_due) AS requests`);
  if (!waiting?.decisions && !waiting?.requests) return 0;
  const [settled] = (await runBatch(db, settleStatements(db, waiting.requests))) as { rowsAffected: number }[];
  return settled?.rowsAffected ?? 0;
}
