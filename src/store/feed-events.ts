import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import type { ChangeEvent } from '../core/event.js';
import { changeItemFromEvent, type ChangeItem } from '../core/message.js';
import { feedMarker } from '../core/policy.js';

/** `marker`: shown instead of the severity for a change that is no news (the policy's feed marker). */
export type FeedItem = ChangeItem & { marker: string | undefined };

export interface FeedPage {
  /** Newest stored change, for Last-Modified. */
  lastModified: number | null;
  /** Changes whenever the feed's content would: the ETag, and the key of the rendered feed's cache. */
  version: string;
  /** The changes, read only when the feed is rendered (not for a 304 or a cached feed). */
  items(): Promise<FeedItem[]>;
}

const FEED_KINDS = sql`e.kind NOT IN ('first_recorded', 'unreachable', 'restored') AND e.technical_upgrade = 0`;

/**
 * The newest 50 changes of one platform (or all), for Atom feeds. first_recorded events, technical
 * upgrades and monitoring notices stay out; changes that are no news (links, spacing, order, a date)
 * are in, marked with their reason's feed marker (the policy's). The version
 * comes from a read of keys alone; the items read only the fields a feed shows (a stored payload
 * can be 1 MB of diff), and only when asked for.
 */
export async function feedEvents(db: Db, filter: { platformId?: number; minSeverityRank: number }, limit = 50): Promise<FeedPage> {
  const keys = await db.all<{ pk: number; received_at: number }>(sql`
    SELECT e.pk, e.received_at FROM events e
    WHERE ${filter.platformId !== undefined ? sql`e.platform_id = ${filter.platformId}` : sql`1`}
      AND e.severity_rank >= ${filter.minSeverityRank} AND ${FEED_KINDS}
    ORDER BY e.detected_at DESC, e.pk DESC LIMIT ${limit}`);
  return {
    lastModified: keys.length ? Math.max(...keys.map((r) => r.received_at)) : null,
    version: keys.map((r) => r.pk).join('.') || 'empty',
    items: () => feedItems(db, keys.map((k) => k.pk)),
  };
}

interface FeedRow {
  pk: number;
  id: string;
  severity: ChangeEvent['severity'];
  kind: ChangeEvent['kind'];
  categories: string;
  title: string;
  detected_at: number;
  effective_at: string | null;
  sha256: string | null;
  suppressed_reason: string | null;
  reverts_to_at: number | null;
  slug: string;
  name: string;
  /** JSON array: platform name, document title, url and kind, provision id and title, summary, impact, archive url, change url. */
  fields: string;
}

async function feedItems(db: Db, pks: number[]): Promise<FeedItem[]> {
  if (!pks.length) return [];
  const rows = await db.all<FeedRow>(sql`
    SELECT e.pk, e.id, e.severity, e.kind, e.categories, e.title, e.detected_at, e.effective_at, e.sha256, e.suppressed_reason, e.reverts_to_at,
      p.slug, p.name,
      -- One json_extract of many paths parses a payload (up to 1 MB) once, not once per field.
      json_extract(e.payload, '$.platform.name', '$.document.title', '$.document.url', '$.document.kind', '$.provision.id', '$.provision.title',
        '$.summary', '$.impact', '$.evidence.archive_url', '$.change_url') AS fields
    FROM events e JOIN platforms p ON p.id = e.platform_id
    WHERE e.pk IN (SELECT value FROM json_each(${JSON.stringify(pks)}))
    ORDER BY e.detected_at DESC, e.pk DESC`);
  const opt = <T>(v: T | null) => v ?? undefined;
  return rows.map((row) => {
    const [platform_name, document_title, document_url, document_kind, provision_id, provision_title, summary, impact, archive_url, change_url] = JSON.parse(row.fields) as (string | null)[];
    const r = { ...row, platform_name, document_title, document_url, document_kind, provision_id, provision_title, summary, impact, archive_url, change_url };
    // What a feed shows of the event, in the event's own shape.
    const event = {
      id: r.id,
      platform: { slug: r.slug, name: opt(r.platform_name) },
      document: { title: r.document_title ?? '', url: opt(r.document_url), kind: opt(r.document_kind) },
      provision: r.provision_id || r.provision_title ? { id: opt(r.provision_id), title: opt(r.provision_title) } : undefined,
      severity: r.severity,
      categories: JSON.parse(r.categories) as string[],
      kind: r.kind,
      title: r.title,
      summary: opt(r.summary),
      impact: opt(r.impact),
      detected_at: new Date(r.detected_at).toISOString(),
      effective_at: opt(r.effective_at),
      evidence: r.sha256 || r.archive_url ? { sha256: opt(r.sha256), archive_url: opt(r.archive_url) } : undefined,
      change_url: opt(r.change_url),
    } as ChangeEvent;
    return { ...changeItemFromEvent(event, r.name, r.reverts_to_at), marker: feedMarker(r.suppressed_reason) };
  });
}
