import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import { canonicalEventJson, type ChangeEvent } from '../core/event.js';
import { severityRank } from '../core/severity.js';
import { eventReason, LEFT_OUT } from '../core/policy.js';
import { newId } from '../core/ids.js';
import { intrinsicNoise } from '../core/noise.js';
import type { Clock } from '../core/clock.js';
import { matchIngested, fileAlertsWaiting, cancelUndoneInGroup, reason, reasonList, tallyDecisions, type Cancelled } from './match.js';
import { judgeDocumentVersions } from './versions.js';
import { chatAlertsExist, threadFollowUps } from '../delivery/lifecycle.js';
import { settleStatements } from './settle.js';
import { runBatch } from '../store/batch.js';
import { canFollowUp, latestWordWindowMs } from '../core/lifecycle.js';

export interface IngestDeps {
  db: Db;
  clock: Clock;
  alertMaxAgeHours: number;
  flapWindowHours: number;
  /** A reversion detected within this of the change it undoes cancels it in the group (policy.ts; default: whenever they meet). */
  undoneWithinMs?: number;
  /** ClauseWatch's own monitoring notices (health.ts): the document's state is already set for them. */
  ownNotices?: boolean;
}

export type IngestOutcome =
  | {
      ok: true;
      accepted: number;
      duplicates: number;
      matched: number;
      ingestId: string;
      /** Events kept from every alert, by reason (event-level, and those a cancelling pair took out). */
      suppressed: Record<string, number>;
      /** The request's (event, destination) decisions, by reason (`alert` for none). */
      decisions: Record<string, number>;
    }
  | { ok: false; conflicts: string[] };

const titleKey = (title: string) => title.trim().toLowerCase();

/** What a batch stores of each event, in the order of its row's JSON array (`col` reads one). */
const EVENT_COLUMNS = [
  'id', 'slug', 'title_key', 'severity', 'severity_rank', 'kind', 'technical_upgrade', 'categories', 'title',
  'detected_at', 'effective_at', 'sha256', 'previous_sha256', 'suppressed_reason', 'reverts_to_at', 'undoes_id', 'payload',
] as const;
const col = (name: (typeof EVENT_COLUMNS)[number]) => sql.raw(`j.value ->> ${EVENT_COLUMNS.indexOf(name)}`);

/**
 * Stores a validated batch and matches it, all or nothing: catalog upserts, the events, one
 * set-based INSERT … SELECT for the matches and the alert groups run as one database batch
 * (a transaction on libSQL, an atomic batch on D1). Duplicates are counted and never re-matched;
 * a re-used id with other content refuses the whole batch before anything is written.
 */
export async function ingestEvents(deps: IngestDeps, events: ChangeEvent[]): Promise<IngestOutcome> {
  try {
    return await ingestOnce(deps, events);
  } catch (err) {
    // Another request stored one of these ids between our check and our write: the unique key
    // refused the whole batch. Once more from the start sorts it into duplicate or conflict.
    if (/UNIQUE constraint failed: events\.id/.test(String((err as { cause?: unknown }).cause ?? err))) return ingestOnce(deps, events);
    throw err;
  }
}

async function ingestOnce(deps: IngestDeps, events: ChangeEvent[]): Promise<IngestOutcome> {
  const { db, clock } = deps;
  const receivedAt = clock();

  // Within the batch: the same id twice is a duplicate if identical, a conflict otherwise.
  const fresh = new Map<string, { event: ChangeEvent; json: string }>();
  const conflicts = new Set<string>();
  let duplicates = 0;
  for (const event of events) {
    const json = canonicalEventJson(event);
    const seen = fresh.get(event.id);
    if (!seen) fresh.set(event.id, { event, json });
    else if (seen.json === json) duplicates++;
    else conflicts.add(event.id);
  }

  const stored = await db.all<{ id: string; payload: string }>(
    sql`SELECT id, payload FROM events WHERE id IN (SELECT value FROM json_each(${JSON.stringify([...fresh.keys()])}))`,
  );
  for (const row of stored) {
    const incoming = fresh.get(row.id)!;
    if (incoming.json === row.payload) {
      duplicates++;
      fresh.delete(row.id);
    } else conflicts.add(row.id);
  }
  if (conflicts.size) return { ok: false, conflicts: [...conflicts] };

  const ingestId = newId('ing');
  if (fresh.size === 0) return { ok: true, accepted: 0, duplicates, matched: 0, ingestId, suppressed: {}, decisions: {} };

  const newEvents = [...fresh.values()];
  const platformRows = new Map<string, { slug: string; name: string | null }>();
  for (const { event } of newEvents) {
    const known = platformRows.get(event.platform.slug);
    if (!known || (!known.name && event.platform.name)) {
      platformRows.set(event.platform.slug, { slug: event.platform.slug, name: event.platform.name ?? null });
    }
  }

  const docKeys = await resolveDocumentKeys(db, newEvents.map((e) => e.event));
  const health = deps.ownNotices ? new Map<string, 'ok' | 'stale'>() : await documentHealth(db, newEvents.map((e) => e.event), docKeys);
  const documentRows = new Map<string, Record<string, unknown>>();
  for (const { event } of newEvents) {
    const key = docKeys.get(event)!;
    const rowKey = `${event.platform.slug}\u0000${key}`;
    const detectedAt = Date.parse(event.detected_at);
    documentRows.set(rowKey, {
      slug: event.platform.slug,
      title: event.document.title,
      title_key: key,
      external_id: event.document.id ?? null,
      url: event.document.url ?? null,
      kind: event.document.kind ?? null,
      // The last time the document was read: an `unreachable` says it was not.
      last_event_at: event.kind === 'unreachable' ? (documentRows.get(rowKey)?.last_event_at ?? null) : Math.max(detectedAt, Number(documentRows.get(rowKey)?.last_event_at ?? 0)),
    });
  }

  // Each event's own noise, judged once: the version history and the event's reason both ask.
  const noise = new Map(newEvents.map(({ event }) => [event, intrinsicNoise(event)]));
  const judged = await judgeDocumentVersions(db, newEvents.map((e) => e.event), docKeys, deps.flapWindowHours * 3_600_000, noise);
  // Documents this batch itself reports down: a `restored` beside it ends that outage, not an old one.
  const downInBatch = new Set(newEvents.filter(({ event }) => event.kind === 'unreachable').map(({ event }) => `${event.platform.slug}\u0000${docKeys.get(event)}`));
  const eventRows = newEvents.map(({ event, json }) => {
    const verdict = judged.verdicts.get(event.id);
    // A reversion is shown at low severity whatever the producer said: nothing new was written.
    const severity = verdict?.revertsToAt != null ? 'low' : event.severity;
    return {
      id: event.id,
      slug: event.platform.slug,
      title_key: docKeys.get(event)!,
      severity,
      severity_rank: severityRank(severity),
      kind: event.kind,
      technical_upgrade: event.technical_upgrade ? 1 : 0,
      categories: JSON.stringify(event.categories),
      title: event.title,
      detected_at: Date.parse(event.detected_at),
      effective_at: event.effective_at ?? null,
      sha256: event.evidence?.sha256 ?? null,
      previous_sha256: event.evidence?.previous_sha256 ?? null,
      suppressed_reason: eventReason({
        event,
        noise: noise.get(event) ?? null,
        receivedAt,
        alertMaxAgeHours: deps.alertMaxAgeHours,
        flapping: !!verdict?.flapping,
        health: health.get(`${event.platform.slug}\u0000${docKeys.get(event)}`) ?? 'ok',
        downInBatch: downInBatch.has(`${event.platform.slug}\u0000${docKeys.get(event)}`),
        ownNotice: !!deps.ownNotices,
      }),
      reverts_to_at: verdict?.revertsToAt ?? null,
      undoes_id: verdict?.undoesId ?? null,
      payload: json,
    };
  });

  const has = {
    reversions: eventRows.some((r) => r.undoes_id !== null),
    notices: eventRows.some((r) => r.kind === 'restored' || r.kind === 'unreachable'),
  };
  const cancelling = cancelUndoneInGroup(db, ingestId, has, deps.undoneWithinMs);
  // Reversions and superseding changes of alerts still the latest word in a chat channel are
  // threaded under them (after the cancelling: a pair that met in a group reached nobody).
  const followUps = newEvents
    .filter(({ event }) => canFollowUp({ kind: event.kind, provisionId: event.provision?.id, revertsToAt: judged.verdicts.get(event.id)?.revertsToAt ?? null }))
    .map(({ event }) => ({ id: event.id, provision: event.provision?.id ?? null }));
  // Once any chat alert exists, follow-ups may be threaded, and they need each destination's
  // decision in this request, as threadFollowUps has always read them (after this look, a chat
  // alert can appear only as queued, and a follow-up needs a sent one).
  const mayThread = followUps.length > 0 && (await chatAlertsExist(db));
  // Nothing later in this request reads its decisions per destination: it writes them per
  // subscriber group, settled onto the members after it (src/ingest/settle.ts). A request that
  // cancels pairs or threads follow-ups settles what waits first and writes its own.
  const ownRows = has.reversions || has.notices || mayThread;
  const followingUp = mayThread ? threadFollowUps(db, ingestId, receivedAt, latestWordWindowMs(deps.flapWindowHours), followUps) : [];
  const results = await runBatch(db, [
    // First, so that decision ids keep the events' order and the cancelling reads every decision.
    ...(ownRows ? settleStatements(db) : []),
    db.run(sql`
      INSERT INTO platforms (slug, name, created_at)
      SELECT j.value ->> 'slug', coalesce(j.value ->> 'name', j.value ->> 'slug'), ${receivedAt}
      FROM json_each(${JSON.stringify([...platformRows.values()])}) j WHERE true
      ON CONFLICT (slug) DO UPDATE SET name = coalesce(excluded.name, platforms.name)
        WHERE excluded.name <> excluded.slug`),
    db.run(sql`
      INSERT INTO documents (platform_id, title, title_key, external_id, url, kind, last_event_at, created_at)
      SELECT p.id, j.value ->> 'title', j.value ->> 'title_key', j.value ->> 'external_id',
             j.value ->> 'url', j.value ->> 'kind', j.value ->> 'last_event_at', ${receivedAt}
      FROM json_each(${JSON.stringify([...documentRows.values()])}) j
      JOIN platforms p ON p.slug = j.value ->> 'slug' WHERE true
      ON CONFLICT (platform_id, title_key) DO UPDATE SET
        title = excluded.title,
        external_id = coalesce(excluded.external_id, documents.external_id),
        url = coalesce(excluded.url, documents.url),
        kind = coalesce(excluded.kind, documents.kind),
        last_event_at = CASE WHEN excluded.last_event_at IS NULL THEN documents.last_event_at
          ELSE max(coalesce(documents.last_event_at, 0), excluded.last_event_at) END`),
    // Each row a JSON array, unpacked once into a materialized table: `->>` on json_each's value
    // renders the whole element again for every column read (half the statement's time).
    db.run(sql`
      WITH batch AS MATERIALIZED (SELECT value FROM json_each(${JSON.stringify(eventRows.map((r) => EVENT_COLUMNS.map((c) => r[c])))}))
      INSERT INTO events (id, platform_id, document_id, severity, severity_rank, kind, technical_upgrade,
        categories, title, detected_at, effective_at, sha256, previous_sha256, suppressed_reason,
        reverts_to_at, undoes_id, payload, ingest_id, received_at)
      SELECT ${col('id')}, p.id, d.id, ${col('severity')}, ${col('severity_rank')},
        ${col('kind')}, ${col('technical_upgrade')}, ${col('categories')}, ${col('title')},
        ${col('detected_at')}, ${col('effective_at')}, ${col('sha256')},
        ${col('previous_sha256')}, ${col('suppressed_reason')}, ${col('reverts_to_at')},
        ${col('undoes_id')}, ${col('payload')},
        ${ingestId}, ${receivedAt}
      FROM batch j
      JOIN platforms p ON p.slug = ${col('slug')}
      JOIN documents d ON d.platform_id = p.id AND d.title_key = ${col('title_key')}
      WHERE true`),
    // The producer's own word on a document's health: down from its `unreachable`, up again from
    // its `restored`, so the silence check neither announces that outage again nor misses its end.
    ...(eventRows.some((r) => r.kind === 'unreachable' || r.kind === 'restored')
      ? [
          db.run(sql`
            UPDATE documents SET health = CASE WHEN e.kind = 'unreachable' THEN 'stale' ELSE 'ok' END, health_since = e.at
            FROM (SELECT document_id, kind, max(detected_at) AS at FROM events
                  WHERE ingest_id = ${ingestId} AND kind IN ('unreachable', 'restored')
                    AND (suppressed_reason IS NULL OR suppressed_reason <> ${reason('backfill')}) GROUP BY document_id) e
            -- Only news newer than what the state rests on: a late or replayed event changes nothing.
            WHERE documents.id = e.document_id AND e.at >= coalesce(documents.health_since, 0)`),
        ]
      : []),
    ...(judged.flapping.length
      ? [
          db.run(sql`
            UPDATE documents SET flapping_since = j.value ->> 'since'
            FROM json_each(${JSON.stringify(judged.flapping)}) j JOIN platforms p ON p.slug = j.value ->> 'slug'
            WHERE documents.platform_id = p.id AND documents.title_key = j.value ->> 'title_key'`),
        ]
      : []),
    matchIngested(db, ingestId, receivedAt, { reversions: has.reversions, ownRows }),
    fileAlertsWaiting(db, ingestId, receivedAt),
    ...cancelling,
    ...followingUp,
    db.all<{ reason: string; n: number }>(sql`
      SELECT suppressed_reason AS reason, count(*) AS n FROM events WHERE ingest_id = ${ingestId} AND suppressed_reason IS NOT NULL GROUP BY 1`),
    // Counted from the decisions themselves, unless a cancelling pair changed some after the INSERT.
    cancelling.length
      ? db.all<{ destinations: number; reason: string | null; n: number }>(sql`
          SELECT 0 AS destinations, m.suppressed_reason AS reason, count(*) AS n FROM matches m
          WHERE m.event_pk IN (SELECT pk FROM events WHERE ingest_id = ${ingestId}) GROUP BY 2
          UNION ALL
          SELECT 1, NULL, count(DISTINCT m.destination_id) FROM matches m
          WHERE m.event_pk IN (SELECT pk FROM events WHERE ingest_id = ${ingestId})
            AND (m.suppressed_reason IS NULL OR m.suppressed_reason NOT IN (${reasonList(LEFT_OUT)}))`)
      : tallyDecisions(db, ingestId, has),
  ]);

  const decisions: Record<string, number> = {};
  let matched = 0;
  for (const r of results[results.length - 1] as { destinations: number; reason: string | null; n: number }[]) {
    if (r.destinations) matched = r.n;
    else decisions[r.reason ?? 'alert'] = r.n;
  }
  const suppressed: Record<string, number> = {};
  for (const r of results[results.length - 2] as { reason: string; n: number }[]) suppressed[r.reason] = r.n;
  // Events a cancelling pair kept from an alert: this request's and the earlier ones they undid.
  const cancelled = new Map<string, Set<number>>();
  for (const rows of results.slice(-2 - followingUp.length - cancelling.length, -2 - followingUp.length)) {
    if (!Array.isArray(rows)) continue;
    for (const { event_pk, reason: why } of rows as Cancelled[]) {
      if (why === 'reverted' || why === 'unreachable_burst') (cancelled.get(why) ?? cancelled.set(why, new Set()).get(why)!).add(event_pk);
    }
  }
  for (const [reason, pks] of cancelled) suppressed[reason] = (suppressed[reason] ?? 0) + pks.size;
  return { ok: true, accepted: newEvents.length, duplicates, matched, ingestId, suppressed, decisions };
}

/**
 * The title key under which each event's document is stored. A producer's document id wins over
 * the title, so a renamed document stays one document; otherwise the title finds the catalog entry.
 */
async function resolveDocumentKeys(db: Db, events: ChangeEvent[]): Promise<Map<ChangeEvent, string>> {
  const wanted = events.filter((e) => e.document.id).map((e) => ({ slug: e.platform.slug, external_id: e.document.id }));
  const known = wanted.length
    ? await db.all<{ slug: string; external_id: string; title_key: string }>(sql`
        SELECT p.slug, d.external_id, d.title_key FROM documents d JOIN platforms p ON p.id = d.platform_id
        JOIN json_each(${JSON.stringify(wanted)}) j
          ON p.slug = j.value ->> 'slug' AND d.external_id = j.value ->> 'external_id'`)
    : [];
  const byExternal = new Map(known.map((k) => [`${k.slug}\u0000${k.external_id}`, k.title_key]));
  const keys = new Map<ChangeEvent, string>();
  // Events of one batch that name the same document id share the first one's key.
  for (const e of events) {
    const ext = e.document.id ? `${e.platform.slug}\u0000${e.document.id}` : undefined;
    let key = ext ? byExternal.get(ext) : undefined;
    if (!key) {
      key = titleKey(e.document.title);
      if (ext) byExternal.set(ext, key);
    }
    keys.set(e, key);
  }
  return keys;
}


/** The monitoring health of the batch's known documents, keyed as `docKeys` keys them (slug, NUL, title key). */
async function documentHealth(db: Db, events: ChangeEvent[], docKeys: Map<ChangeEvent, string>): Promise<Map<string, 'ok' | 'stale'>> {
  const wanted = events.filter((e) => e.kind === 'unreachable' || e.kind === 'restored').map((e) => ({ slug: e.platform.slug, title_key: docKeys.get(e)! }));
  if (!wanted.length) return new Map();
  const rows = await db.all<{ slug: string; title_key: string; health: 'ok' | 'stale' }>(sql`
    SELECT p.slug, d.title_key, d.health FROM json_each(${JSON.stringify(wanted)}) j
    JOIN platforms p ON p.slug = j.value ->> 'slug' JOIN documents d ON d.platform_id = p.id AND d.title_key = j.value ->> 'title_key'`);
  return new Map(rows.map((r) => [`${r.slug}\u0000${r.title_key}`, r.health]));
}
