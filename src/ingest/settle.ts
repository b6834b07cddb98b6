import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import { runBatch } from '../store/batch.js';

/**
 * Settling: the decisions matching made for whole subscriber groups (`decisions_unsettled`,
 * written inside the ingest request) become one `matches` row per member, through the view
 * `decisions_settling` (migration 0009) that the triggers on `subscriptions` read too. Ingest
 * writes a row per (event, group) instead of per (event, destination), and the request no longer
 * waits for its fan-out; whoever reads or changes decisions settles first.
 */

/**
 * The statements that settle every group decision waiting, for the start of a batch that reads,
 * groups or changes decisions: in one transaction, the rows written and the queue emptied.
 */
export function settleStatements(db: Db) {
  return [
    db.run(sql`
      INSERT INTO matches (event_pk, destination_id, alert_state, suppressed_reason, digest_state, created_at)
      SELECT event_pk, destination_id, alert_state, suppressed_reason, digest_state, created_at FROM decisions_settling
      ORDER BY queue_id
      ON CONFLICT DO NOTHING`),
    db.run(sql`DELETE FROM decisions_unsettled`),
  ] as const;
}

/** Settles what waits (`settleStatements`), after one look when nothing does. Returns the decisions written. */
export async function settleDecisions(db: Db): Promise<number> {
  const [waiting] = await db.all<{ n: number }>(sql`SELECT EXISTS (SELECT 1 FROM decisions_unsettled) AS n`);
  if (!waiting?.n) return 0;
  const [settled] = (await runBatch(db, settleStatements(db))) as { rowsAffected: number }[];
  return settled?.rowsAffected ?? 0;
}
