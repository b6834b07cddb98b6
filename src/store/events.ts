import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import { LEFT_OUT } from '../core/policy.js';
import { reasonList } from '../ingest/match.js';
import { settleDecisions } from '../ingest/settle.js';
import { decodeCursor, keysetLimit, keysetPage, type Page } from './paging.js';

/** Events list newest first: detection time, then their key. */
export const EVENT_CURSOR = ['number', 'number'] as const;

export interface StoredEvent {
  event: Record<string, unknown>;
  receivedAt: number;
  suppressedReason: string | null;
  matchedDestinations: number;
  alertedDestinations: number;
  /** Per-destination reasons an event was kept from same-day alerts, with how many destinations. */
  destinationSuppressions: Record<string, number>;
  /** A reversion: when the version it returned to was first seen. */
  revertsToAt: number | null;
  /** The event this reversion undoes. */
  undoesId: string | null;
}

/** Stored events, newest first (by detection time), optionally of one platform and since a time. */
export async function listEvents(
  db: Db,
  filter: { platformSlug?: string; since?: number },
  limit: number,
  cursor?: string,
): Promise<Page<StoredEvent>> {
  const after = decodeCursor(cursor, EVENT_CURSOR);
  // The counts are of each destination's decision: a subscriber group's are settled first.
  await settleDecisions(db);
  const rows = await db.all<{
    pk: number;
    payload: string;
    detected_at: number;
    received_at: number;
    suppressed_reason: string | null;
    reverts_to_at: number | null;
    undoes_id: string | null;
    matched: number;
    alerted: number;
    reasons: string | null;
  }>(sql`
    SELECT e.pk, e.payload, e.detected_at, e.received_at, e.suppressed_reason, e.reverts_to_at, e.undoes_id,
      (SELECT count(*) FROM matches m WHERE m.event_pk = e.pk
         AND (m.suppressed_reason IS NULL OR m.suppressed_reason NOT IN (${reasonList(LEFT_OUT)}))) AS matched,
      (SELECT count(*) FROM matches m WHERE m.event_pk = e.pk AND m.alert_state <> 'none') AS alerted,
      -- The decisions the matcher recorded per destination, by reason (none for event-level noise
      -- that reaches nobody: its reason is the event's own).
      (SELECT json_group_object(r, n) FROM (
         SELECT m.suppressed_reason AS r, count(*) AS n FROM matches m
         WHERE m.event_pk = e.pk AND m.suppressed_reason IS NOT NULL GROUP BY m.suppressed_reason)) AS reasons
    FROM events e
    WHERE ${filter.platformSlug ? sql`e.platform_id = (SELECT id FROM platforms WHERE slug = ${filter.platformSlug})` : sql`1`}
      AND ${filter.since !== undefined ? sql`e.detected_at >= ${filter.since}` : sql`1`}
      AND ${after ? sql`(e.detected_at, e.pk) < (${after[0]}, ${after[1]})` : sql`1`}
    ORDER BY e.detected_at DESC, e.pk DESC
    LIMIT ${keysetLimit(limit)}`);
  const page = keysetPage(rows, limit, EVENT_CURSOR, (r) => [r.detected_at, r.pk]);
  return {
    data: page.rows.map((r) => ({
      event: JSON.parse(r.payload) as Record<string, unknown>,
      receivedAt: r.received_at,
      suppressedReason: r.suppressed_reason,
      matchedDestinations: r.matched,
      alertedDestinations: r.alerted,
      destinationSuppressions: r.reasons ? (JSON.parse(r.reasons) as Record<string, number>) : {},
      revertsToAt: r.reverts_to_at,
      undoesId: r.undoes_id,
    })),
    nextCursor: page.nextCursor,
  };
}
