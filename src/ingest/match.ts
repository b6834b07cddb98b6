import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';

/**
 * Matching, set-based: one INSERT … SELECT for every event one ingest request stored. Monitoring
 * notices (unreachable/restored) reach every subscriber of the platform; changes pass each
 * subscription's minimum severity and categories (a reversion also reaches whoever matched the
 * change it undoes). Noise (first_recorded, technical upgrades)
 * matches nobody. The match says whether same-day delivery takes it (`pending`) or only the
 * digest does (`none`, with the reason: the plan, or the event's own suppression).
 */
export function matchIngested(db: Db, ingestId: string, now: number) {
  return db.run(sql`
    INSERT INTO matches (event_pk, destination_id, alert_state, suppressed_reason, created_at)
    SELECT e.pk, s.destination_id,
      CASE WHEN e.suppressed_reason IS NULL AND s.same_day_alerts THEN 'pending' ELSE 'none' END,
      CASE WHEN e.suppressed_reason IS NOT NULL THEN e.suppressed_reason WHEN s.same_day_alerts THEN NULL ELSE 'plan' END,
      ${now}
    FROM events e
    JOIN subscriptions s ON s.platform_id = e.platform_id AND s.status = 'active' AND s.destination_active
    WHERE e.ingest_id = ${ingestId}
      AND e.kind <> 'first_recorded' AND e.technical_upgrade = 0
      AND (e.suppressed_reason IS NULL OR e.suppressed_reason <> 'links_only')
      AND (e.kind IN ('unreachable', 'restored') OR (
        e.severity_rank >= s.min_severity_rank
        AND (s.categories IS NULL OR EXISTS (
          SELECT 1 FROM json_each(s.categories) sc JOIN json_each(e.categories) ec ON ec.value = sc.value)))
        -- A reversion reaches whoever heard of the change it undoes, whatever their filters: it is
        -- shown at low severity, and a high-only destination must still learn the change is gone.
        OR (e.undoes_id IS NOT NULL AND EXISTS (
          SELECT 1 FROM events u JOIN matches mu ON mu.event_pk = u.pk
          WHERE u.id = e.undoes_id AND mu.destination_id = s.destination_id)))
    ON CONFLICT DO NOTHING`);
}

/**
 * How far back an outage's start is looked for when it ends: its notice can only still wait in an
 * alert group if it is recent (a week bounds the index range read).
 */
export const OUTAGE_LOOKBACK_MS = 7 * 24 * 3_600_000;

/**
 * Pairs that undo each other inside one alert group cancel out there. A change and the reversion
 * that undoes it: first the reversion's matches whose counterpart waits, then every waiting match
 * of the counterpart the reversion did not reach on its own (a destination that takes the change
 * but not a low-severity reversion must not hear of an undone change either). Each statement
 * returns the matches it cancelled (event, reason), which /metrics counts. Only the statements the
 * request needs are run: most batches hold neither reversions nor restores.
 */
export function cancelUndoneInGroup(db: Db, ingestId: string, has: { reversions: boolean; restores: boolean }) {
  const statements = [];
  // An outage and its end with the content unchanged, both waiting in one group: nothing to say.
  // Notices reach every subscriber of the platform alike, so one statement cancels both sides.
  if (has.restores) {
    statements.push(
      db.all<Cancelled>(sql`
        UPDATE matches SET alert_state = 'none', suppressed_reason = 'unreachable_burst'
        WHERE alert_state = 'pending' AND id IN (
          SELECT x.id FROM events r
          JOIN matches mr ON mr.event_pk = r.pk AND mr.alert_state = 'pending'
          JOIN events u ON u.platform_id = r.platform_id AND u.detected_at BETWEEN r.detected_at - ${OUTAGE_LOOKBACK_MS} AND r.detected_at
            AND u.document_id = r.document_id AND u.kind = 'unreachable'
            AND (u.previous_sha256 IS NULL OR r.sha256 IS NULL OR u.previous_sha256 = r.sha256)
          JOIN matches mu ON mu.event_pk = u.pk AND mu.destination_id = mr.destination_id AND mu.alert_state = 'pending'
          JOIN matches x ON x.id IN (mr.id, mu.id)
          WHERE r.ingest_id = ${ingestId} AND r.kind = 'restored')
        RETURNING event_pk, suppressed_reason AS reason`),
    );
  }
  if (has.reversions) {
    statements.push(
      // Recorded before the cancelling: the pair meets when the undone change still waits somewhere.
      db.run(sql`
        UPDATE events SET undo_cancelled = 1
        WHERE ingest_id = ${ingestId} AND undoes_id IS NOT NULL AND EXISTS (
          SELECT 1 FROM events c JOIN matches mc ON mc.event_pk = c.pk AND mc.alert_state = 'pending' WHERE c.id = events.undoes_id)`),
      db.all<Cancelled>(sql`
        UPDATE matches SET alert_state = 'none', suppressed_reason = 'reverted'
        WHERE alert_state = 'pending' AND id IN (
          SELECT mr.id FROM events r
          JOIN events c ON c.id = r.undoes_id
          JOIN matches mr ON mr.event_pk = r.pk
          JOIN matches mc ON mc.event_pk = c.pk AND mc.destination_id = mr.destination_id AND mc.alert_state = 'pending'
          WHERE r.ingest_id = ${ingestId} AND r.undoes_id IS NOT NULL)
        RETURNING event_pk, suppressed_reason AS reason`),
      db.all<Cancelled>(sql`
        UPDATE matches SET alert_state = 'none', suppressed_reason = 'reverted'
        WHERE alert_state = 'pending' AND id IN (
          SELECT mc.id FROM events r
          JOIN events c ON c.id = r.undoes_id
          JOIN matches mc ON mc.event_pk = c.pk AND mc.alert_state = 'pending'
          WHERE r.ingest_id = ${ingestId} AND r.undoes_id IS NOT NULL)
        RETURNING event_pk, suppressed_reason AS reason`),
    );
  }
  return statements;
}

/** A match a cancelling pair took out of its alert group. */
export interface Cancelled {
  event_pk: number;
  reason: string;
}
