import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import { digestLinks, type LinkSigner } from '../links.js';
import type { ChangeEvent } from '../core/event.js';
import { changeItemFromEvent, type ChangeItem } from '../core/message.js';
import { buildDigest, type DigestContent, type FlappingDocument, type WatchedPlatform } from '../core/digest.js';
import type { DigestPeriod } from '../core/digest-schedule.js';
import type { PlanName } from '../core/plans.js';
import { addDays, isoDate, localTime } from '../core/zoned-time.js';
import { effectiveDateStands } from '../schedule/reminders.js';
import { digestTakes, untoldDecisions } from '../schedule/digests.js';
import { FOOTER_ONLY } from '../core/policy.js';
import { reasonList, tellsOf } from '../ingest/match.js';
import { settleDecisions } from '../ingest/settle.js';

export interface DigestTarget {
  destinationId: string;
  period: DigestPeriod;
}

/** How far ahead the "upcoming effective dates" section looks. */
const UPCOMING_DAYS = 30;

interface SubRow {
  destination_id: string;
  platform_id: number;
  plan: PlanName;
  timezone: string;
}

interface EventRow {
  pk: number;
  platform_id: number;
  payload: string;
  name: string;
  kind: string;
  detected_at: number;
  effective_at: string | null;
  reverts_to_at: number | null;
  suppressed_reason: string | null;
  document_id: number;
  sha256: string | null;
  previous_sha256: string | null;
}

interface PerDestination {
  destination_id: string;
  /** Comma-separated event keys (group_concat). */
  pks: string;
}

const EVENT_COLUMNS = sql`e.pk, e.platform_id, e.payload, p.name, e.kind, e.detected_at, e.effective_at,
  e.reverts_to_at, e.suppressed_reason, e.document_id, e.sha256, e.previous_sha256`;

/**
 * Builds the digests of a page of destinations from their recorded decisions: a digest already
 * queued lists what it took when it was queued (the same on every retry and in the browser
 * view); one not queued yet (a dry run, a view ahead of its run) shows what it would take. Nothing
 * here decides who hears of what: the matcher did. A handful of set-based queries (the
 * decisions, the subscriptions, the watched documents, what takes effect soon) parse each event
 * once however many destinations share it. Pages keep memory flat however many digests a run has.
 */
export async function loadDigests(db: Db, targets: DigestTarget[], links: LinkSigner, now: number, options: { settle?: boolean } = {}): Promise<Map<string, DigestContent>> {
  const out = new Map<string, DigestContent>();
  if (!targets.length) return out;
  const ids = JSON.stringify(targets.map((t) => t.destinationId));
  const subs = await db.all<SubRow>(sql`
    SELECT s.destination_id, s.platform_id, a.plan, a.timezone
    FROM subscriptions s JOIN accounts a ON a.id = s.account_id
    WHERE s.destination_id IN (SELECT value FROM json_each(${ids})) AND s.status = 'active'`);
  if (!subs.length) return out;

  const platformIds = JSON.stringify([...new Set(subs.map((s) => s.platform_id))]);
  const from = Math.min(...targets.map((t) => t.period.start));
  const to = Math.max(...targets.map((t) => t.period.end));
  const horizonStart = isoDate(localTime(from, 'UTC'));
  const horizonEnd = isoDate(addDays(...ymd(to), UPCOMING_DAYS + 1));
  const keyed = JSON.stringify(targets.map((t) => ({ dest: t.destinationId, key: `digest:${t.destinationId}:${t.period.key}`, start: t.period.start, end: t.period.end })));

  // A preview reads decisions no digest took yet: those of subscriber groups are settled first (a
  // write, as a dispatcher's). A digest being sent reads what it took when it was enqueued.
  if (options.settle !== false) await settleDecisions(db);
  const preview = untoldDecisions(
    sql`SELECT j.key AS id, j.value ->> 'dest' AS dest, j.value ->> 'key' AS key, j.value ->> 'start' AS start, j.value ->> 'end' AS "end"
      FROM json_each(${keyed}) j WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.idempotency_key = j.value ->> 'key')`,
    'preview',
  );
  // Each destination's changes as one row of event keys: a page's 10,000 (destination, change)
  // pairs as row objects of the whole event, payload included, cost more than the queries; the
  // events themselves are read once each below.
  const [listed, previewed, upcoming, docs, quiet] = await Promise.all([
    // Digests queued already: what each took.
    db.all<PerDestination>(sql`
      SELECT m.destination_id, group_concat(m.event_pk) AS pks
      FROM json_each(${keyed}) j
      CROSS JOIN outbox o ON o.idempotency_key = j.value ->> 'key'
      CROSS JOIN matches m ON m.digest_outbox_id = o.id
      GROUP BY 1`),
    // Not queued yet: what it would take now.
    db.all<PerDestination>(sql`
      ${preview.with}
      SELECT m.destination_id, group_concat(e.pk) AS pks
      ${preview.from}
      WHERE ${preview.pending} AND ${digestTakes(sql`e.start`, sql`e."end"`, sql`e.key`)}
      GROUP BY 1`),
    // What takes effect soon, of the changes each destination was to hear of.
    db.all<PerDestination>(sql`
      SELECT m.destination_id, group_concat(e.pk) AS pks
      FROM events e
      JOIN matches m ON m.event_pk = e.pk AND m.destination_id IN (SELECT value FROM json_each(${ids})) AND ${tellsOf}
      WHERE e.platform_id IN (SELECT value FROM json_each(${platformIds}))
        AND e.effective_at >= ${horizonStart} AND e.effective_at <= ${horizonEnd}
        AND ${effectiveDateStands}
      GROUP BY 1`),
    db.all<{ platform_id: number; slug: string; name: string; title: string; url: string | null; verified: number | null }>(sql`
      SELECT d.platform_id, p.slug, p.name, d.title, d.url, coalesce(d.last_verified_at, d.last_event_at) AS verified
      FROM documents d JOIN platforms p ON p.id = d.platform_id
      WHERE d.platform_id IN (SELECT value FROM json_each(${platformIds}))
      ORDER BY d.title`),
    // Stored but not shown: the footer's count of what the policy keeps to it.
    db.all<{ platform_id: number; detected_at: number }>(sql`
      SELECT e.platform_id, e.detected_at FROM events e
      WHERE e.platform_id IN (SELECT value FROM json_each(${platformIds}))
        AND e.detected_at >= ${from} AND e.detected_at < ${to}
        AND e.suppressed_reason IN (${reasonList(FOOTER_ONLY)})`),
  ]);

  // Each event parsed once for the whole page.
  const items = new Map<number, ChangeItem>();
  // The upcoming window per zone and period end, computed once (Intl is slow per call).
  const windows = new Map<string, { today: string; until: string }>();
  const windowOf = (end: number, timezone: string) => {
    const k = `${end}:${timezone}`;
    let w = windows.get(k);
    if (!w) windows.set(k, (w = { today: isoDate(localTime(end, timezone)), until: isoDate(addDays(...ymd(end, timezone), UPCOMING_DAYS)) }));
    return w;
  };
  const item = (r: EventRow) => {
    let i = items.get(r.pk);
    if (!i) items.set(r.pk, (i = changeItemFromEvent(JSON.parse(r.payload) as ChangeEvent, r.name, r.reverts_to_at)));
    return i;
  };
  // In the order the decisions were made (event order), as the digest shows ties.
  const keysOf = (rows: PerDestination[]) => {
    const keys = new Map<string, number[]>();
    for (const r of rows) keys.set(r.destination_id, [...(keys.get(r.destination_id) ?? []), ...r.pks.split(',').map(Number)].sort((a, b) => a - b));
    return keys;
  };
  const decidedKeys = keysOf([...listed, ...previewed]);
  const upcomingKeys = keysOf(upcoming);
  const wanted = new Set<number>();
  for (const keys of [decidedKeys, upcomingKeys]) for (const pks of keys.values()) for (const pk of pks) wanted.add(pk);
  const eventRows = wanted.size
    ? await db.all<EventRow>(sql`
        SELECT ${EVENT_COLUMNS} FROM events e JOIN platforms p ON p.id = e.platform_id
        WHERE e.pk IN (SELECT value FROM json_each(${JSON.stringify([...wanted])}))`)
    : [];
  const eventsByPk = new Map(eventRows.map((e) => [e.pk, e]));
  const rowsOf = (keys: Map<string, number[]>, destinationId: string) => (keys.get(destinationId) ?? []).map((pk) => eventsByPk.get(pk)!);
  const docsByPlatform = groupBy(docs, (d) => d.platform_id);
  const quietByPlatform = groupBy(quiet, (q) => q.platform_id);
  const subsByDestination = groupBy(subs, (s) => s.destination_id);

  // Links are signed for the whole page at once.
  const pageLinks = await digestLinks(links, targets);
  for (const [index, t] of targets.entries()) {
    const mine = subsByDestination.get(t.destinationId);
    if (!mine?.length) continue;
    const { plan, timezone } = mine[0]!;
    const platforms = new Set(mine.map((s) => s.platform_id));
    const week: ChangeItem[] = [];
    const soon: ChangeItem[] = [];
    const watched: WatchedPlatform[] = [];
    const { today, until } = windowOf(t.period.end, timezone);
    const rows = rowsOf(decidedKeys, t.destinationId);
    // A document that flapped shows as one line, not as each of its flips.
    const flapped = new Map<number, FlappingDocument & { hashes: Set<string> }>();
    for (const e of rows) if (e.suppressed_reason === 'flapping') flapped.set(e.document_id, { platform: { slug: '', name: e.name }, document: '', flips: 0, versions: 0, hashes: new Set() });
    for (const e of rows) {
      const f = e.reverts_to_at !== null ? flapped.get(e.document_id) : undefined;
      if (f) {
        const i = item(e);
        f.platform = i.platform;
        f.document = i.document.title;
        f.flips++;
        for (const h of [e.sha256, e.previous_sha256]) if (h) f.hashes.add(h);
      } else week.push(e.detected_at < t.period.start ? { ...item(e), reportedLate: true } : item(e));
    }
    const flapping = [...flapped.values()].map(({ hashes, ...f }) => ({ ...f, versions: Math.max(2, hashes.size) }));
    const seen = new Set<number>();
    for (const e of rowsOf(upcomingKeys, t.destinationId)) {
      if (platforms.has(e.platform_id) && !seen.has(e.pk) && e.effective_at! >= today && e.effective_at! <= until && e.detected_at < t.period.end) {
        seen.add(e.pk);
        soon.push(item(e));
      }
    }
    let technical = 0;
    for (const platformId of platforms) {
      for (const q of quietByPlatform.get(platformId) ?? []) if (q.detected_at >= t.period.start && q.detected_at < t.period.end) technical++;
      const pd = docsByPlatform.get(platformId) ?? [];
      if (pd.length) {
        watched.push({
          platform: { slug: pd[0]!.slug, name: pd[0]!.name },
          documents: pd.map((d) => ({ title: d.title, url: d.url, lastVerifiedAt: d.verified })),
        });
      }
    }
    out.set(
      t.destinationId,
      buildDigest({
        period: t.period,
        items: week,
        watched,
        upcoming: soon,
        quiet: { technical },
        flapping,
        reader: { timeZone: timezone, now },
        links: pageLinks[index]!,
        plan,
      }),
    );
  }
  return out;
}

function ymd(at: number, timeZone = 'UTC'): [number, number, number] {
  const l = localTime(at, timeZone);
  return [l.y, l.m, l.d];
}

function groupBy<T, K>(rows: T[], key: (r: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const r of rows) {
    const k = key(r);
    const list = m.get(k);
    if (list) list.push(r);
    else m.set(k, [r]);
  }
  return m;
}
