import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import { runBatch } from '../store/batch.js';

/**
 * Alertmanager-style grouping, in SQL. Matches wait as `pending`; once a destination's oldest
 * pending match is `groupWaitMs` old, all of its pending matches become ONE outbox message
 * (idempotency key alert:<destination>:<first match id>). Two dispatchers running this at once
 * are serialised by the database's write lock, and the key makes a repeat a no-op.
 */
export async function groupDueAlerts(db: Db, now: number, groupWaitMs: number): Promise<number> {
  const cutoff = now - groupWaitMs;
  const [created] = (await runBatch(db, [
    db.run(sql`
      INSERT INTO outbox (idempotency_key, kind, destination_id, account_id, channel, status, due_at, created_at, updated_at)
      SELECT 'alert:' || m.destination_id || ':' || min(m.id), 'alert', m.destination_id, d.account_id, d.type,
        'queued', ${now}, ${now}, ${now}
      FROM matches m JOIN destinations d ON d.id = m.destination_id
      WHERE m.alert_state = 'pending'
      GROUP BY m.destination_id
      HAVING min(m.created_at) <= ${cutoff}
      ON CONFLICT DO NOTHING`),
    db.run(sql`
      UPDATE matches SET alert_state = 'grouped', outbox_id = o.id
      FROM (SELECT destination_id, min(id) AS first_id FROM matches WHERE alert_state = 'pending'
            GROUP BY destination_id HAVING min(created_at) <= ${cutoff}) g
      JOIN outbox o ON o.idempotency_key = 'alert:' || g.destination_id || ':' || g.first_id
      WHERE matches.destination_id = g.destination_id AND matches.alert_state = 'pending'`),
  ])) as { rowsAffected: number }[];
  return created?.rowsAffected ?? 0;
}

/** When the next group falls due (ms), or undefined when nothing waits: the dispatcher sleeps until then. */
export async function nextGroupDueAt(db: Db, groupWaitMs: number): Promise<number | undefined> {
  const [row] = await db.all<{ first: number | null }>(sql`SELECT min(created_at) AS first FROM matches WHERE alert_state = 'pending'`);
  return row?.first == null ? undefined : row.first + groupWaitMs;
}
