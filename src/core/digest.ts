import { isMonitorNotice } from './event.js';
import { bySeverityThenNewest, severityRank, SEVERITIES, type Severity } from './severity.js';
import type { ChangeItem, MessageLinks, Reader } from './message.js';
import type { PlanName } from './plans.js';
import type { DigestPeriod } from './digest-schedule.js';

export type SeverityCounts = Record<Severity, number>;

export interface PlatformGroup {
  platform: { slug: string; name: string };
  changes: ChangeItem[];
  counts: SeverityCounts;
}

export interface WatchedPlatform {
  platform: { slug: string; name: string };
  documents: { title: string; url: string | null; lastVerifiedAt: number | null }[];
}

export interface DigestContent {
  kind: 'digest';
  period: DigestPeriod;
  /** Platforms with changes, the most severe first; each platform's changes most severe first. */
  groups: PlatformGroup[];
  counts: SeverityCounts;
  total: number;
  /** Monitoring notices of the week (a document could not be read, or could again). */
  notices: ChangeItem[];
  /** Every watched platform with its documents' last verification: the proof monitoring ran. */
  watched: WatchedPlatform[];
  /** Changes taking effect in the 30 days after the digest, soonest first. */
  upcoming: ChangeItem[];
  /** Stored but not shown: re-extractions and changes to links only. */
  quiet: { technical: number };
  /** Documents that flipped between versions this period, shown as one line each instead of their flips. */
  flapping: FlappingDocument[];
  reader: Reader;
  links: MessageLinks & { view: string };
  plan: PlanName;
  /**
   * The account's changes still awaiting review (the review trail, monitor plan): how many, and
   * the newest few, each with its review page where the channel has no buttons of its own.
   */
  awaiting?: { total: number; items: { title: string; platform: string; url?: string }[] };
}

/** "Awaiting review (4)": the heading every digest gives the changes nobody has decided yet. */
export const awaitingHeading = (n: number) => `Awaiting review (${n})`;

export interface FlappingDocument {
  platform: { slug: string; name: string };
  document: string;
  flips: number;
  versions: number;
}

/** "OpenAI · ChatGPT Commercial Terms flapped 9 times this week between 2 versions" */
export function flappingLine(f: FlappingDocument): string {
  return `${f.platform.name} · ${f.document} flapped ${f.flips} time${f.flips === 1 ? '' : 's'} this week between ${f.versions} versions`;
}

export const emptyCounts = (): SeverityCounts => ({ low: 0, medium: 0, high: 0 });

export interface DigestInput {
  period: DigestPeriod;
  items: ChangeItem[];
  watched: WatchedPlatform[];
  upcoming: ChangeItem[];
  quiet: { technical: number };
  flapping?: FlappingDocument[];
  reader: Reader;
  links: DigestContent['links'];
  plan: PlanName;
}

/** Builds a destination's digest from its week's items: pure, so it is tested without a database. */
export function buildDigest(input: DigestInput): DigestContent {
  const changes = input.items.filter((i) => !isMonitorNotice(i.kind));
  // (An outage shorter than an hour that ended unchanged never gets here: the policy left it out.)
  const notices = input.items.filter((i) => isMonitorNotice(i.kind)).sort((a, b) => a.detectedAt - b.detectedAt);
  const byPlatform = new Map<string, PlatformGroup>();
  const counts = emptyCounts();
  for (const c of changes) {
    let g = byPlatform.get(c.platform.slug);
    if (!g) byPlatform.set(c.platform.slug, (g = { platform: c.platform, changes: [], counts: emptyCounts() }));
    g.changes.push(c);
    g.counts[c.severity]++;
    counts[c.severity]++;
  }
  const worst = (g: PlatformGroup) => Math.max(...g.changes.map((c) => severityRank(c.severity)));
  const groups = [...byPlatform.values()]
    .map((g) => ({ ...g, changes: g.changes.sort(bySeverityThenNewest) }))
    .sort((a, b) => worst(b) - worst(a) || b.changes.length - a.changes.length || a.platform.name.localeCompare(b.platform.name));
  const upcoming = [...input.upcoming].sort((a, b) => (a.effectiveAt! < b.effectiveAt! ? -1 : a.effectiveAt! > b.effectiveAt! ? 1 : 0));
  return {
    kind: 'digest',
    period: input.period,
    groups,
    counts,
    total: changes.length,
    notices,
    watched: [...input.watched].sort((a, b) => a.platform.name.localeCompare(b.platform.name)),
    upcoming,
    quiet: input.quiet,
    flapping: [...(input.flapping ?? [])].sort((a, b) => b.flips - a.flips || a.platform.name.localeCompare(b.platform.name)),
    reader: input.reader,
    links: input.links,
    plan: input.plan,
  };
}

/** "3 high, 1 medium" (most severe first, zeros left out). */
export function countsLine(c: SeverityCounts): string {
  return [...SEVERITIES]
    .reverse()
    .filter((s) => c[s] > 0)
    .map((s) => `${c[s]} ${s}`)
    .join(', ');
}

export function digestHeadline(d: DigestContent): string {
  if (d.total === 0) return `No policy changes this week on ${d.watched.length === 1 ? d.watched[0]!.platform.name : `${d.watched.length} platforms`}`;
  const names = d.groups.map((g) => g.platform.name);
  return `${d.total} policy change${d.total === 1 ? '' : 's'} this week: ${names.slice(0, 3).join(', ')}${names.length > 3 ? ` and ${names.length - 3} more` : ''}`;
}
