import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import type { ChangeEvent } from '../core/event.js';
import { judgeVersions, type FlapVerdict, type VersionEvent } from '../core/flaps.js';
import { intrinsicNoise } from '../core/noise.js';
import { NOT_A_VERSION } from '../core/policy.js';
import { reasonList } from './match.js';

export interface Judged {
  verdicts: Map<string, FlapVerdict>;
  /** Each judged document's flapping state after the batch, keyed as the catalog keys it. */
  flapping: { slug: string; title_key: string; since: number | null }[];
}

interface HistoryRow {
  slug: string;
  title_key: string;
  flapping_since: number | null;
  id: string | null;
  at: number | null;
  kind: string | null;
  sha256: string | null;
  previous_sha256: string | null;
  reverts_to_at: number | null;
  undoes_id: string | null;
  undo_cancelled: number | null;
  can_flip: number | null;
}

/**
 * Reads the recent versions of every document the batch touches (two windows back, in one query)
 * and judges the batch's events against them. A batch without content hashes reads nothing.
 */
export async function judgeDocumentVersions(db: Db, events: ChangeEvent[], docKeys: Map<ChangeEvent, string>, windowMs: number): Promise<Judged> {
  const byDoc = new Map<string, { slug: string; title_key: string; since: number; events: ChangeEvent[] }>();
  for (const e of events) {
    if (!e.evidence?.sha256) continue;
    const title_key = docKeys.get(e)!;
    const k = `${e.platform.slug}\u0000${title_key}`;
    const at = Date.parse(e.detected_at);
    const doc = byDoc.get(k);
    if (doc) {
      doc.events.push(e);
      doc.since = Math.min(doc.since, at - 2 * windowMs);
    } else byDoc.set(k, { slug: e.platform.slug, title_key, since: at - 2 * windowMs, events: [e] });
  }
  const verdicts = new Map<string, FlapVerdict>();
  if (!byDoc.size) return { verdicts, flapping: [] };

  const rows = await db.all<HistoryRow>(sql`
    SELECT j.value ->> 'slug' AS slug, j.value ->> 'title_key' AS title_key, d.flapping_since,
      e.id, e.detected_at AS at, e.kind, e.sha256, e.previous_sha256, e.reverts_to_at, e.undoes_id, e.undo_cancelled,
      (e.technical_upgrade = 0 AND (e.suppressed_reason IS NULL OR e.suppressed_reason NOT IN (${reasonList(NOT_A_VERSION)}))) AS can_flip
    FROM json_each(${JSON.stringify([...byDoc.values()].map(({ slug, title_key, since }) => ({ slug, title_key, since })))}) j
    JOIN platforms p ON p.slug = j.value ->> 'slug'
    JOIN documents d ON d.platform_id = p.id AND d.title_key = j.value ->> 'title_key'
    -- By platform and time (events_platform_detected), then the document: no index of its own to keep up.
    LEFT JOIN events e ON e.platform_id = p.id AND e.detected_at >= j.value ->> 'since' AND e.document_id = d.id AND e.sha256 IS NOT NULL`);
  // A change and its undo that cancelled out in one alert group reached nobody: the version
  // between them is not one the document "had" for anyone, so both leave the history.
  const cancelledPairs = new Set(rows.filter((r) => r.undo_cancelled).flatMap((r) => [r.id!, r.undoes_id!]));
  const history = new Map<string, { flappingSince: number | null; events: VersionEvent[] }>();
  for (const r of rows) {
    const k = `${r.slug}\u0000${r.title_key}`;
    let h = history.get(k);
    if (!h) history.set(k, (h = { flappingSince: r.flapping_since, events: [] }));
    if (r.id !== null && !cancelledPairs.has(r.id)) {
      h.events.push({ id: r.id, at: r.at!, kind: r.kind!, sha256: r.sha256, previousSha256: r.previous_sha256, revertsToAt: r.reverts_to_at, canFlip: !!r.can_flip });
    }
  }

  const flapping: Judged['flapping'] = [];
  for (const [k, doc] of byDoc) {
    const h = history.get(k);
    const incoming = doc.events.map(
      (e): VersionEvent => ({
        id: e.id,
        at: Date.parse(e.detected_at),
        kind: e.kind,
        sha256: e.evidence?.sha256 ?? null,
        previousSha256: e.evidence?.previous_sha256 ?? null,
        revertsToAt: null,
        canFlip: !(NOT_A_VERSION as readonly string[]).includes(intrinsicNoise(e) ?? ''),
      }),
    );
    const outcome = judgeVersions(h?.events ?? [], h?.flappingSince ?? null, incoming, windowMs);
    for (const [id, v] of outcome.verdicts) verdicts.set(id, v);
    if (outcome.flappingSince !== (h?.flappingSince ?? null)) flapping.push({ slug: doc.slug, title_key: doc.title_key, since: outcome.flappingSince });
  }
  return { verdicts, flapping };
}
