import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import type { ChangeEvent } from '../core/event.js';
import { ingestEvents } from './ingest.js';
import { activeSubscriber } from './match.js';

interface DocRow {
  id: number;
  slug: string;
  title: string;
  url: string | null;
  kind: string | null;
  external_id: string | null;
  seen: number;
}

function notice(d: DocRow, kind: 'unreachable' | 'restored', now: number, staleAfterHours: number): ChangeEvent {
  const at = new Date(now).toISOString();
  return {
    id: `cw-${kind === 'unreachable' ? 'stale' : 'fresh'}-${d.id}-${now}`,
    platform: { slug: d.slug },
    document: { title: d.title, ...(d.url ? { url: d.url } : {}), ...(d.kind ? { kind: d.kind } : {}), ...(d.external_id ? { id: d.external_id } : {}) },
    severity: 'low',
    categories: [],
    title:
      kind === 'unreachable'
        ? `${d.title}: no check for ${staleAfterHours} hours`
        : `${d.title}: monitoring resumed`,
    summary:
      kind === 'unreachable'
        ? `ClauseWatch has received neither a change nor a verification of this document since ${new Date(d.seen).toISOString()}. Changes made meanwhile will be reported once it is checked again.`
        : 'The document is checked again.',
    detected_at: at,
    kind,
    technical_upgrade: false,
  };
}

/**
 * A notice is news of now (alerted within the hour or not at all) and carries no content hash, so
 * version judgement (reversions, flapping) never looks at it and its window does not matter.
 */
const NOTICE_INGEST = { alertMaxAgeHours: 1, flapWindowHours: 1, ownNotices: true };

/**
 * Monitor health: a watched document silent (no event, no verification) for STALE_AFTER_HOURS
 * is an outage. It becomes one monitoring notice to its subscribers, delivered like any event
 * (same matching, alerts for the monitor plan, digests for all), and "monitoring resumed" when
 * news of it arrives again: once per outage, by the document's health state.
 */
export async function checkStaleDocuments(db: Db, now: number, staleAfterHours: number): Promise<number> {
  const cutoff = now - staleAfterHours * 3_600_000;
  // Claimed in one UPDATE … RETURNING: two instances checking at once cannot both announce it.
  const stale = await db.all<DocRow>(sql`
    UPDATE documents SET health = 'stale', health_since = ${now}
    WHERE documents.health = 'ok'
      -- Only documents the tracker has spoken of: a catalog entry nobody tracks is not an outage.
      AND (documents.last_verified_at IS NOT NULL OR documents.last_event_at IS NOT NULL)
      AND max(coalesce(documents.last_verified_at, 0), coalesce(documents.last_event_at, 0)) < ${cutoff}
      AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.platform_id = documents.platform_id AND ${activeSubscriber('s')})
    RETURNING id, (SELECT slug FROM platforms WHERE platforms.id = documents.platform_id) AS slug, title, url, kind, external_id,
      max(coalesce(last_verified_at, 0), coalesce(last_event_at, 0)) AS seen`);
  if (!stale.length) return 0;
  await ingestEvents({ db, clock: () => now, ...NOTICE_INGEST }, stale.map((d) => notice(d, 'unreachable', now, staleAfterHours)));
  return stale.length;
}

/** Ends the outages of stale documents that were verified or changed since they went stale. */
export async function restoreDocuments(db: Db, now: number, staleAfterHours: number): Promise<number> {
  const back = await db.all<DocRow>(sql`
    UPDATE documents SET health = 'ok', health_since = ${now}
    WHERE health = 'stale' AND max(coalesce(last_verified_at, 0), coalesce(last_event_at, 0)) > health_since
    RETURNING id, (SELECT slug FROM platforms WHERE platforms.id = documents.platform_id) AS slug, title, url, kind, external_id, 0 AS seen`);
  if (!back.length) return 0;
  await ingestEvents({ db, clock: () => now, ...NOTICE_INGEST }, back.map((d) => notice(d, 'restored', now, staleAfterHours)));
  return back.length;
}
