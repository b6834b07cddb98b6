import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import type { ChangeEvent } from '../core/event.js';
import { changeItemFromEvent, type ChangeItem } from '../core/message.js';

export interface FeedPage {
  items: (ChangeItem & { linksOnly: boolean })[];
  /** Newest stored change, for Last-Modified. */
  lastModified: number | null;
  /** Changes whenever the feed's content would: the ETag. */
  version: string;
}

/**
 * The newest 50 changes of one platform (or all), for Atom feeds. first_recorded events, technical
 * upgrades and monitoring notices stay out; link-only changes are in, marked as such.
 */
export async function feedEvents(db: Db, filter: { platformId?: number; minSeverityRank: number }, limit = 50): Promise<FeedPage> {
  const rows = await db.all<{ pk: number; payload: string; name: string; received_at: number; suppressed_reason: string | null; reverts_to_at: number | null }>(sql`
    SELECT e.pk, e.payload, p.name, e.received_at, e.suppressed_reason, e.reverts_to_at FROM events e JOIN platforms p ON p.id = e.platform_id
    WHERE ${filter.platformId !== undefined ? sql`e.platform_id = ${filter.platformId}` : sql`1`}
      AND e.severity_rank >= ${filter.minSeverityRank}
      AND e.kind NOT IN ('first_recorded', 'unreachable', 'restored') AND e.technical_upgrade = 0
    ORDER BY e.detected_at DESC, e.pk DESC LIMIT ${limit}`);
  const lastModified = rows.length ? Math.max(...rows.map((r) => r.received_at)) : null;
  return {
    items: rows.map((r) => ({ ...changeItemFromEvent(JSON.parse(r.payload) as ChangeEvent, r.name, r.reverts_to_at), linksOnly: r.suppressed_reason === 'links_only' })),
    lastModified,
    version: rows.map((r) => r.pk).join('.') || 'empty',
  };
}
