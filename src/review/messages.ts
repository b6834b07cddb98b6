import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import type { LinkSigner } from '../links.js';
import type { AlertContent } from '../core/message.js';
import { outboxRowColumns, type OutboxRow } from '../delivery/outbox.js';
import { loadContent } from '../delivery/content.js';
import { getDestinationWithAccount } from '../store/destinations.js';

/**
 * The alert a chat message showed a change in, loaded again as the dispatcher loaded it (with
 * each change's review as it is now), so the message can be rendered again and edited in place
 * after a decision. The change's match names the alert (outbox row) that carried it there.
 */
export async function alertCarrying(db: Db, links: LinkSigner, now: number, destinationId: string, eventPk: number): Promise<AlertContent | null> {
  const found = await getDestinationWithAccount(db, destinationId);
  if (!found) return null;
  const [row] = await db.all<OutboxRow>(sql`
    SELECT ${outboxRowColumns('o')}
    FROM matches m JOIN outbox o ON o.id = m.outbox_id
    WHERE m.event_pk = ${eventPk} AND m.destination_id = ${destinationId} AND o.kind IN ('alert', 'budget')`);
  if (!row) return null;
  const content = await loadContent(db, row, found.destination, found.account, links, now);
  return content?.kind === 'alert' ? content : null;
}
