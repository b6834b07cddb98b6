import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import { destinationLinks, digestViewUrl, type LinkSigner } from '../links.js';
import type { ChangeEvent } from '../core/event.js';
import { changeItemFromEvent, type ChangeItem } from '../core/message.js';
import { buildDigest, type DigestContent, type FlappingDocument, type WatchedPlatform } from '../core/digest.js';
import type { DigestPeriod } from '../core/digest-schedule.js';
import type { PlanName } from '../core/plans.js';
import { addDays, isoDate, localTime } from '../core/zoned-time.js';
import { effectiveDateStands } from '../schedule/reminders.js';

export interface DigestTarget {
  destinationId: string;
  period: DigestPeriod;
}

/** How far ahead the "upcoming effective dates" section looks. */
const UPCOMING_DAYS = 30;

interface SubRow {
  destination_id: string;
  platform_id: number;
  min_severity_rank: number;
  categories: string | null;
  plan: PlanName;
  timezone: string;
}

interface EventRow {
  pk: number;
  platform_id: number;
  payload: string;
  name: string;
  severity_rank: number;
  categories: string;
  kind: string;
  detected_at: number;
  effective_at: string | null;
  reverts_to_at: number | null;
  suppressed_reason: string | null;
  document_id: number;
  sha256: string | null;
  previous_sha256: string | null;
}

/**
 * Builds the digests of a page of destinations with a handful of set-based queries (their
 * subscriptions, the events of their platforms in the period, the watched documents, what takes
 * effect soon), parsing each event once however many destinations share it. Pages keep memory
 * flat however many digests a run has.
 */
export async function loadDigests(db: Db, targets: DigestTarget[], links: LinkSigner, now: number): Promise<Map<string, DigestContent>> {
  const out = new Map<string, DigestContent>();
  if (!targets.length) return out;
  const ids = JSON.stringify(targets.map((t) => t.destinationId));
  const subs = await db.all<SubRow>(sql`
    SELECT s.destination_id, s.platform_id, s.min_severity_rank, s.categories, a.plan, a.timezone
    FROM subscriptions s JOIN destinations d ON d.id = s.destination_id JOIN accounts a ON a.id = s.account_id
    WHERE s.destination_id IN (SELECT value FROM json_each(${ids})) AND s.status = 'active'`);
  if (!subs.length) return out;

  const platformIds = JSON.stringify([...new Set(subs.map((s) => s.platform_id))]);
  const from = Math.min(...targets.map((t) => t.period.start));
  const to = Math.max(...targets.map((t) => t.period.end));
  const horizonStart = isoDate(localTime(from, 'UTC'));
  const horizonEnd = isoDate(addDays(...ymd(to), UPCOMING_DAYS + 1));

  const [events, upcoming, docs, quiet] = await Promise.all([
    db.all<EventRow>(sql`
      SELECT e.pk, e.platform_id, e.payload, p.name, e.severity_rank, e.categories, e.kind, e.detected_at, e.effective_at,
        e.reverts_to_at, e.suppressed_reason, e.document_id, e.sha256, e.previous_sha256
      FROM events e JOIN platforms p ON p.id = e.platform_id
      WHERE e.platform_id IN (SELECT value FROM json_each(${platformIds}))
        AND e.detected_at >= ${from} AND e.detected_at < ${to}
        AND e.kind <> 'first_recorded' AND e.technical_upgrade = 0
        AND (e.suppressed_reason IS NULL OR e.suppressed_reason NOT IN ('links_only', 'still_unreachable', 'already_restored'))`),
    db.all<EventRow>(sql`
      SELECT e.pk, e.platform_id, e.payload, p.name, e.severity_rank, e.categories, e.kind, e.detected_at, e.effective_at,
        e.reverts_to_at, e.suppressed_reason, e.document_id, e.sha256, e.previous_sha256
      FROM events e JOIN platforms p ON p.id = e.platform_id
      WHERE e.platform_id IN (SELECT value FROM json_each(${platformIds}))
        AND e.effective_at >= ${horizonStart} AND e.effective_at <= ${horizonEnd}
        AND ${effectiveDateStands}`),
    db.all<{ platform_id: number; slug: string; name: string; title: string; url: string | null; verified: number | null }>(sql`
      SELECT d.platform_id, p.slug, p.name, d.title, d.url, coalesce(d.last_verified_at, d.last_event_at) AS verified
      FROM documents d JOIN platforms p ON p.id = d.platform_id
      WHERE d.platform_id IN (SELECT value FROM json_each(${platformIds}))
      ORDER BY d.title`),
    db.all<{ platform_id: number; detected_at: number }>(sql`
      SELECT e.platform_id, e.detected_at FROM events e
      WHERE e.platform_id IN (SELECT value FROM json_each(${platformIds}))
        AND e.detected_at >= ${from} AND e.detected_at < ${to}
        AND (e.technical_upgrade = 1 OR e.suppressed_reason = 'links_only')`),
  ]);

  // Each event parsed once for the whole page, its categories too.
  const items = new Map<number, ChangeItem>();
  const eventCategories = new Map<number, string[]>();
  const categoriesOf = (e: EventRow) => {
    let c = eventCategories.get(e.pk);
    if (!c) eventCategories.set(e.pk, (c = JSON.parse(e.categories) as string[]));
    return c;
  };
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
  const byPlatform = groupBy(events, (e) => e.platform_id);
  const upcomingByPlatform = groupBy(upcoming, (e) => e.platform_id);
  const docsByPlatform = groupBy(docs, (d) => d.platform_id);
  const quietByPlatform = groupBy(quiet, (q) => q.platform_id);
  const subsByDestination = groupBy(subs, (s) => s.destination_id);

  // Links are signed for the whole page at once (WebCrypto signs off the main thread).
  const pageLinks = await Promise.all(
    targets.map(async (t) => {
      const [base, view] = await Promise.all([destinationLinks(links, t.destinationId), digestViewUrl(links, t)]);
      return { ...base, view };
    }),
  );
  for (const [index, t] of targets.entries()) {
    const mine = subsByDestination.get(t.destinationId);
    if (!mine?.length) continue;
    const { plan, timezone } = mine[0]!;
    const week: ChangeItem[] = [];
    const soon: ChangeItem[] = [];
    const watched: WatchedPlatform[] = [];
    const flapping: FlappingDocument[] = [];
    let technical = 0;
    const { today, until } = windowOf(t.period.end, timezone);
    for (const s of mine) {
      const cats = s.categories ? new Set(JSON.parse(s.categories) as string[]) : null;
      // The same admission rule as matching: monitoring notices always, changes by severity and categories.
      const admits = (e: EventRow) =>
        e.kind === 'unreachable' ||
        e.kind === 'restored' ||
        (e.severity_rank >= s.min_severity_rank && (!cats || categoriesOf(e).some((c) => cats.has(c))));
      const inPeriod = (byPlatform.get(s.platform_id) ?? []).filter((e) => e.detected_at >= t.period.start && e.detected_at < t.period.end);
      // A document that flapped this period shows as one line, not as each of its flips.
      const flapped = new Map<number, FlappingDocument & { hashes: Set<string> }>();
      for (const e of inPeriod) if (e.suppressed_reason === 'flapping') flapped.set(e.document_id, { platform: { slug: '', name: e.name }, document: '', flips: 0, versions: 0, hashes: new Set() });
      for (const e of inPeriod) {
        const f = e.reverts_to_at !== null ? flapped.get(e.document_id) : undefined;
        if (f) {
          const i = item(e);
          f.platform = i.platform;
          f.document = i.document.title;
          f.flips++;
          for (const h of [e.sha256, e.previous_sha256]) if (h) f.hashes.add(h);
        } else if (admits(e)) week.push(item(e));
      }
      for (const { hashes, ...f } of flapped.values()) flapping.push({ ...f, versions: Math.max(2, hashes.size) });
      for (const e of upcomingByPlatform.get(s.platform_id) ?? []) {
        if (e.effective_at! >= today && e.effective_at! <= until && e.detected_at < t.period.end && admits(e)) soon.push(item(e));
      }
      for (const q of quietByPlatform.get(s.platform_id) ?? []) if (q.detected_at >= t.period.start && q.detected_at < t.period.end) technical++;
      const pd = docsByPlatform.get(s.platform_id) ?? [];
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
