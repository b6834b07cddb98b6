import type { ApiCall } from '../cli/client.js';
import type { Reason } from '../core/policy.js';

/**
 * Replays a history of change events through the public API, as the tracker sent them, and
 * reports per platform what reached a monitor subscriber and what was held back, and why.
 *
 * Each tracker run (the events of one capture hour) goes in as its own batch, and the service
 * gets to group it before the next: run against a service with ALERT_GROUP_WAIT_SECONDS=0, so
 * a change and its reversion meet in one alert group only when they did in one capture run.
 */

export interface ReplayOptions {
  call: ApiCall;
  ingestToken: string;
  adminToken: string;
  /** After each batch: lets the service group it before the next (the CLI pauses; tests drain the dispatcher). */
  settle: () => Promise<void>;
  /** At the end: until every message is sent (the CLI polls the delivery logs). */
  finish?: (accounts: string[]) => Promise<void>;
  progress?: (done: number, total: number) => void;
  /** Keeps subscriber addresses apart between replays on one database. */
  runId?: string;
}

export interface PlatformReplay {
  platform: string;
  events: number;
  /** Events that went into an alert message: changes, reversions (shown at low severity), monitoring notices. */
  alerted: { changes: number; reversions: number; notices: number };
  /** Alert messages the subscriber received. */
  messages: number;
  /** Events held back, by reason. */
  suppressed: Record<string, number>;
}

export interface ReplayResult {
  platforms: PlatformReplay[];
  accepted: number;
  duplicates: number;
}

/** The API's limits: 500 events and 1 MiB a request (kept under it with room for the envelope). */
const MAX_BATCH_EVENTS = 500;
const MAX_BATCH_BYTES = 900 * 1024;

/** One event per line; blank lines are skipped; a bad line is reported by number. */
export function parseJsonl(text: string): Record<string, any>[] {
  const out: Record<string, any>[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as Record<string, any>);
    } catch (err) {
      throw new Error(`line ${i + 1}: not JSON (${(err as Error).message})`);
    }
  }
  return out;
}

/** Consecutive events of one capture hour, split where a request would pass the API's limits. */
export function captureBatches(events: Record<string, any>[]): Record<string, any>[][] {
  const batches: Record<string, any>[][] = [];
  let current: Record<string, any>[] = [];
  let bytes = 0;
  let hour: number | undefined;
  for (const e of events) {
    const h = Math.floor(Date.parse(String(e.detected_at)) / 3_600_000);
    const size = Buffer.byteLength(JSON.stringify(e)) + 1;
    if (current.length && (h !== hour || current.length >= MAX_BATCH_EVENTS || bytes + size > MAX_BATCH_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(e);
    bytes += size;
    hour = h;
  }
  if (current.length) batches.push(current);
  return batches;
}

export async function replay(events: Record<string, any>[], opts: ReplayOptions): Promise<ReplayResult> {
  const { call, ingestToken, adminToken } = opts;
  const run = opts.runId ?? Date.now().toString(36);
  const slugs = [...new Set(events.map((e) => String(e.platform?.slug)))];

  // One monitor subscriber per platform, every severity, every category.
  const accounts = new Map<string, string>();
  for (const slug of slugs) {
    const account = await call('POST', '/v1/accounts', adminToken, { name: `Replay ${slug}`, plan: 'monitor' });
    const destination = await call('POST', `/v1/accounts/${account.id}/destinations`, adminToken, { type: 'email', address: `replay-${slug}-${run}@clausewatch.localhost` });
    await call('POST', `/v1/accounts/${account.id}/subscriptions`, adminToken, { platform: slug, destination: destination.id, min_severity: 'low' });
    accounts.set(slug, account.id);
  }

  let accepted = 0;
  let duplicates = 0;
  let done = 0;
  for (const batch of captureBatches(events)) {
    const r = await call('POST', '/v1/events', ingestToken, { events: batch });
    accepted += r.accepted;
    duplicates += r.duplicates;
    await opts.settle();
    done += batch.length;
    opts.progress?.(done, events.length);
  }
  await opts.finish?.([...accounts.values()]);

  const platforms: PlatformReplay[] = [];
  for (const slug of slugs) {
    const p: PlatformReplay = { platform: slug, events: 0, alerted: { changes: 0, reversions: 0, notices: 0 }, messages: 0, suppressed: {} };
    for await (const e of pages(call, `/v1/events?platform=${slug}`, adminToken)) {
      p.events++;
      const d = e.delivery;
      if (d.alerted) p.alerted[e.kind === 'unreachable' || e.kind === 'restored' ? 'notices' : d.reversion ? 'reversions' : 'changes']++;
      else {
        const reason = d.suppressed_reason ?? Object.keys(d.suppressed_destinations ?? {})[0] ?? 'not_matched';
        p.suppressed[reason] = (p.suppressed[reason] ?? 0) + 1;
      }
    }
    for await (const m of pages(call, `/v1/accounts/${accounts.get(slug)}/deliveries?status=sent`, adminToken)) {
      if (m.kind === 'alert' || m.kind === 'budget') p.messages++;
    }
    platforms.push(p);
  }
  return { platforms, accepted, duplicates };
}

async function* pages(call: ApiCall, path: string, token: string): AsyncGenerator<any> {
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page: { data: any[]; next_cursor: string | null } = await call('GET', `${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, token);
    yield* page.data;
    cursor = page.next_cursor;
  } while (cursor);
}

/** The reasons in the order the table shows them. */
export const REPLAY_REASONS = ['reverted', 'flapping', 'links_only', 'unreachable_burst', 'technical_upgrade', 'first_recorded', 'backfill'] as const satisfies readonly Reason[];

/** A Markdown table: per platform, then all together. */
export function replayTable(result: ReplayResult): string {
  const reasons = [...REPLAY_REASONS, ...new Set(result.platforms.flatMap((p) => Object.keys(p.suppressed)).filter((r) => !(REPLAY_REASONS as readonly string[]).includes(r)))];
  const total: PlatformReplay = { platform: '**all**', events: 0, alerted: { changes: 0, reversions: 0, notices: 0 }, messages: 0, suppressed: {} };
  for (const p of result.platforms) {
    total.events += p.events;
    for (const k of ['changes', 'reversions', 'notices'] as const) total.alerted[k] += p.alerted[k];
    total.messages += p.messages;
    for (const [r, n] of Object.entries(p.suppressed)) total.suppressed[r] = (total.suppressed[r] ?? 0) + n;
  }
  const row = (p: PlatformReplay) =>
    `| ${p.platform} | ${p.events} | ${p.alerted.changes} | ${p.alerted.reversions} | ${p.alerted.notices} | ${p.messages} | ${reasons.map((r) => p.suppressed[r] ?? 0).join(' | ')} | ${p.events ? (p.messages / p.events).toFixed(2) : '–'} |`;
  return [
    `| platform | events | alerted: changes | alerted: reversions (low) | alerted: monitoring notices | alert messages | held back: ${reasons.join(' | ')} | alerts per event |`,
    `|---|${'---:|'.repeat(reasons.length + 6)}`,
    ...result.platforms.map(row),
    row(total),
  ].join('\n');
}
