import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import type { ChangeEvent } from '../core/event.js';
import { judgeVersions, revertTargets, type FlapVerdict, type VersionEvent } from '../core/flaps.js';
import type { IntrinsicNoise } from '../core/noise.js';
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
  /** JSON array of [id, at, kind, sha256, previous_sha256, reverts_to_at, undoes_id, undo_cancelled, can_flip], oldest first. */
  history: string;
}

type HistoryEntry = [string, number, string, string | null, string | null, number | null, string | null, number, number];

/**
 * Reads the recent versions of every document the batch touches (two windows back, in one query)
 * and judges the batch's events against them. A batch without content hashes reads nothing.
 */
export async function judgeDocumentVersions(
  db: Db,
  events: ChangeEvent[],
  docKeys: Map<ChangeEvent, string>,
  windowMs: number,
  noise: Map<ChangeEvent, IntrinsicNoise | null>,
): Promise<Judged> {
  const byDoc = new Map<string, { slug: string; title_key: string; since: number; events: ChangeEvent[]; incoming?: VersionEvent[] }>();
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
  for (const doc of byDoc.values()) {
    doc.incoming = doc.events.map(
      (e): VersionEvent => ({
        id: e.id,
        at: Date.parse(e.detected_at),
        kind: e.kind,
        sha256: e.evidence?.sha256 ?? null,
        previousSha256: e.evidence?.previous_sha256 ?? null,
        revertsToAt: null,
        canFlip: !(NOT_A_VERSION as readonly string[]).includes(noise.get(e) ?? ''),
      }),
    );
  }
  const wanted = [...byDoc.values()].map(({ slug, title_key, since, incoming }): WantedHistory => {
    const { targets, withinBatch } = revertTargets(incoming!);
    // The hashes as one text searched with instr: every hash has the same length (64) and no
    // comma, so only a whole one can match (and a false match would only read a history that
    // changes nothing).
    return { slug, title_key, since, targets: targets.length ? targets.join(',') : null, within_batch: withinBatch ? 1 : 0 };
  });

  const rows = await db.all<HistoryRow>(versionHistory(wanted));
  const docs = rows.map((r) => ({ ...r, versions: JSON.parse(r.history) as HistoryEntry[] }));
  // A change and its undo that cancelled out in one alert group reached nobody: the version
  // between them is not one the document "had" for anyone, so both leave the history.
  const cancelledPairs = new Set(docs.flatMap((r) => r.versions.filter((v) => v[7]).flatMap((v) => [v[0], v[6]!])));
  const history = new Map<string, { flappingSince: number | null; events: VersionEvent[] }>();
  for (const r of docs) {
    const events: VersionEvent[] = [];
    for (const [id, at, kind, sha256, previousSha256, revertsToAt, , , canFlip] of r.versions) {
      if (!cancelledPairs.has(id)) events.push({ id, at, kind, sha256, previousSha256, revertsToAt, canFlip: !!canFlip });
    }
    history.set(`${r.slug}\u0000${r.title_key}`, { flappingSince: r.flapping_since, events });
  }

  const flapping: Judged['flapping'] = [];
  for (const [k, doc] of byDoc) {
    const h = history.get(k);
    const incoming = doc.incoming!;
    const outcome = judgeVersions(h?.events ?? [], h?.flappingSince ?? null, incoming, windowMs);
    for (const [id, v] of outcome.verdicts) verdicts.set(id, v);
    if (outcome.flappingSince !== (h?.flappingSince ?? null)) flapping.push({ slug: doc.slug, title_key: doc.title_key, since: outcome.flappingSince });
  }
  return { verdicts, flapping };
}

/** A document the batch touches, as `versionHistory` reads it. */
export interface WantedHistory {
  slug: string;
  title_key: string;
  /** Versions detected since then are read (ms). */
  since: number;
  /** The hashes incoming changes bring (`revertTargets`), comma-separated, or null: none could be a reversion. */
  targets: string | null;
  within_batch: 0 | 1;
}

/**
 * One row per wanted document with its versions since `since` as one JSON array: a busy day's
 * history is thousands of versions, and the driver building an object per row cost twice the
 * query itself. Only where a reversion is possible (one of `targets` is the hash or previous hash
 * of a version in the window, or the batch pairs up on its own) or the document is flapping:
 * otherwise the history changes no verdict, and building and parsing it was most of the judging's
 * time. The wanted documents are unpacked once (materialized): read per history row, `->>` on
 * json_each's value would render and parse it again for every row.
 */
export function versionHistory(wanted: WantedHistory[]) {
  // The document's versions in the window (alias `e`): by platform and time
  // (events_platform_detected), then the document; no index of its own to keep up.
  const inWindow = sql`events e WHERE e.platform_id = p.id AND e.detected_at >= w.since AND e.document_id = d.id AND e.sha256 IS NOT NULL`;
  return sql`
    WITH wanted AS MATERIALIZED (
      SELECT value ->> 'slug' AS slug, value ->> 'title_key' AS title_key, value ->> 'since' AS since,
        value ->> 'targets' AS targets, value ->> 'within_batch' AS within_batch
      FROM json_each(${JSON.stringify(wanted)}))
    SELECT w.slug, w.title_key, d.flapping_since,
      CASE WHEN d.flapping_since IS NOT NULL OR w.within_batch OR (w.targets IS NOT NULL AND EXISTS (
          SELECT 1 FROM ${inWindow} AND (instr(w.targets, e.sha256) OR instr(w.targets, e.previous_sha256))))
      THEN (SELECT json_group_array(json_array(e.id, e.detected_at, e.kind, e.sha256, e.previous_sha256, e.reverts_to_at, e.undoes_id, e.undo_cancelled,
          (e.technical_upgrade = 0 AND (e.suppressed_reason IS NULL OR e.suppressed_reason NOT IN (${reasonList(NOT_A_VERSION)})))))
        FROM ${inWindow})
      ELSE '[]' END AS history
    FROM wanted w
    JOIN platforms p ON p.slug = w.slug
    JOIN documents d ON d.platform_id = p.id AND d.title_key = w.title_key`;
}
