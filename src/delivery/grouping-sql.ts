import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';

/**
 * Alertmanager-style grouping, in SQL. Each destination has at most one `gathering` alert row in
 * the outbox (a partial unique index). New pending matches join that row; when there is none, a
 * row is opened, due `groupWait` later. Once a dispatcher claims the row it stops gathering, and
 * the next match opens a new group. Both statements run inside the ingest batch, so a match is
 * never left without its group.
 */
export function openAlertGroups(db: Db, ingestId: string, now: number, dueAt: number) {
  return [
    db.run(sql`
      INSERT INTO outbox (idempotency_key, kind, destination_id, account_id, channel, status, due_at, created_at, updated_at)
      SELECT 'alert:' || m.destination_id || ':' || min(m.id), 'alert', m.destination_id, m.account_id, d.type,
        'gathering', ${dueAt}, ${now}, ${now}
      FROM matches m JOIN destinations d ON d.id = m.destination_id
      WHERE m.alert_state = 'pending' AND m.event_pk IN (SELECT pk FROM events WHERE ingest_id = ${ingestId})
      GROUP BY m.destination_id
      ON CONFLICT DO NOTHING`),
    db.run(sql`
      UPDATE matches SET alert_state = 'grouped', outbox_id = (
        SELECT o.id FROM outbox o WHERE o.destination_id = matches.destination_id AND o.status = 'gathering')
      WHERE alert_state = 'pending' AND event_pk IN (SELECT pk FROM events WHERE ingest_id = ${ingestId})`),
  ];
}
