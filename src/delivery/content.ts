import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import type { OutboxRow } from './outbox.js';
import type { DestinationRow } from '../store/destinations.js';
import type { AccountRow } from '../store/accounts.js';
import { destinationLinks, type LinkSigner } from '../links.js';
import { loadDigests } from './digest-content.js';
import type { ChangeEvent } from '../core/event.js';
import { buildAlert, changeItemFromEvent, type ChangeItem, type MessageContent } from '../core/message.js';

/** The changes an alert message was grouped from, read back by its outbox id (the same on every retry). */
export async function groupedItems(db: Db, outboxId: number): Promise<ChangeItem[]> {
  const rows = await db.all<{ payload: string; name: string; reverts_to_at: number | null }>(sql`
    SELECT e.payload, p.name, e.reverts_to_at FROM matches m
    JOIN events e ON e.pk = m.event_pk JOIN platforms p ON p.id = e.platform_id
    WHERE m.outbox_id = ${outboxId}`);
  return rows.map((r) => changeItemFromEvent(JSON.parse(r.payload) as ChangeEvent, r.name, r.reverts_to_at));
}

/**
 * What an outbox row is about, ready for a renderer. Null when there is nothing left to say
 * (a group whose matches were all withdrawn).
 */
export async function loadContent(
  db: Db,
  row: OutboxRow,
  destination: DestinationRow,
  account: AccountRow,
  links: LinkSigner,
  now: number,
): Promise<MessageContent | null> {
  const reader = { timeZone: account.timezone, now };
  switch (row.kind) {
    case 'alert':
    case 'budget': {
      const items = await groupedItems(db, row.id);
      if (!items.length) return null;
      const alert = { ...buildAlert(items, reader, await destinationLinks(links, destination.id), account.plan), budget: row.kind === 'budget' };
      // An outage and its end inside one group cancel out: nothing left to say.
      return alert.changes.length || alert.notices.length ? alert : null;
    }
    case 'reminder': {
      const { eventPk } = JSON.parse(row.payload ?? '{}') as { eventPk: number };
      const rows = await db.all<{ payload: string; name: string }>(sql`
        SELECT e.payload, p.name FROM events e JOIN platforms p ON p.id = e.platform_id WHERE e.pk = ${eventPk}`);
      if (!rows.length) return null;
      const items = rows.map((r) => changeItemFromEvent(JSON.parse(r.payload) as ChangeEvent, r.name));
      return { ...buildAlert(items, reader, await destinationLinks(links, destination.id), account.plan), reminder: true };
    }
    case 'confirmation': {
      const payload = JSON.parse(row.payload ?? '{}') as { platforms?: string[] };
      return {
        kind: 'confirmation',
        address: destination.address ?? '',
        platforms: payload.platforms ?? [],
        confirmUrl: await links.url('confirm', destination.id),
        reader,
      };
    }
    case 'digest': {
      const period = JSON.parse(row.payload ?? '{}') as { key: string; start: number; end: number };
      const digest = (await loadDigests(db, [{ destinationId: destination.id, period }], links, now)).get(destination.id);
      if (!digest || (digest.total === 0 && digest.notices.length === 0 && !account.emptyDigest)) return null;
      return digest;
    }
    case 'manage_link':
      return { kind: 'manage_link', address: destination.address ?? '', manageUrl: await links.url('manage', destination.id), reader };
    default:
      throw new Error(`no content loader for outbox kind "${row.kind}"`);
  }
}
