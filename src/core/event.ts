import { z } from 'zod';
import { SEVERITIES } from './severity.js';

/**
 * The change event of the contract (DESIGN.md, "Change event"). Unknown fields are kept: the
 * producer's schema grows faster than ours, and the full event goes out to webhooks as received.
 */

export const EVENT_KINDS = ['changed', 'added', 'removed', 'first_recorded', 'unreachable', 'restored'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export const KNOWN_CATEGORIES = [
  'arbitration',
  'ai-governance',
  'data-rights',
  'indemnification',
  'retention',
  'privacy',
  'content-moderation',
  'fees',
  'termination',
  'liability',
] as const;

export const MAX_BATCH_EVENTS = 500;
export const PLATFORM_SLUG = /^[a-z0-9][a-z0-9-]{0,63}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The day exists in the proleptic Gregorian calendar, which JavaScript dates count in (year 0 is a leap year). */
function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= (m === 2 && leap ? 29 : DAYS_IN_MONTH[m - 1]!);
}

// parseEventBody reads each event's detected_at twice, one right after the other (the schema's
// check, then the clock-skew check): the second read takes the first one's answer.
let lastText: string | undefined;
let lastMs: number | null = null;

/**
 * The one parser of every timestamp field (detected_at, checked_at, since, at): milliseconds of
 * an RFC 3339 timestamp with an offset, or null. A leap second (23:59:60) is refused, not
 * normalised: RFC 3339 allows it, but JavaScript dates cannot hold it (`Date.parse` gives NaN),
 * and none has been inserted since 2016.
 */
export function parseTimestamp(value: string): number | null {
  if (value === lastText) return lastMs;
  const ms = parseRfc3339(value);
  lastText = value;
  lastMs = ms;
  return ms;
}

function parseRfc3339(value: string): number | null {
  const m = RFC3339.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, , , oh, om] = m;
  if (!validDate(Number(y), Number(mo), Number(d))) return null;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return null;
  if (oh !== undefined && (Number(oh) > 23 || Number(om) > 59)) return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

export const isRfc3339 = (value: string): boolean => parseTimestamp(value) !== null;

/** A timestamp field of a request body or query: RFC 3339 with an offset, as parseTimestamp reads it. */
export const timestampField = (example: string) =>
  z
    .string()
    .refine(isRfc3339, `an RFC 3339 timestamp with an offset, such as ${example} (a leap second, :60, is not accepted)`)
    .meta({ format: 'date-time', example });

/**
 * How far ahead of our clock a producer's observation time may be (clock skew). Later than that
 * it is a mistake, and a costly one: a checked_at in the future would count a document as
 * verified until then, switching off its stale detection.
 */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;

/** The issue of an observation time (ms) too far in the future, or null. */
export function futureTimeIssue(path: string, at: number, now: number): FieldIssue | null {
  return at - now > MAX_FUTURE_SKEW_MS ? { path, message: `not more than 5 minutes in the future (it is ${new Date(now).toISOString()} here)` } : null;
}

/** Links end up in href attributes and chat markup: only http(s), never javascript: or data:. */
const webUrl = z
  .string()
  .max(2048, 'at most 2,048 characters')
  .meta({ format: 'uri', description: 'An absolute http(s) URL' })
  // Parsed once, checked and kept as the URL parser writes it: <, >, " and spaces
  // percent-encoded, safe in any markup (a refine and a transform parsed each link twice).
  .transform((v, ctx) => {
    try {
      const u = new URL(v);
      if (u.protocol === 'https:' || u.protocol === 'http:') return u.href;
    } catch {
      // not a URL at all: the same issue as a javascript: link
    }
    ctx.issues.push({ code: 'custom', message: 'an absolute http(s) URL', input: v });
    return z.NEVER;
  });

const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `at most ${max.toLocaleString('en-US')} characters`);
const sha256 = z.string().regex(SHA256_HEX, '64 lowercase hexadecimal characters (a SHA-256 digest)');
const diffLines = z.array(z.string().max(10_000, 'each line at most 10,000 characters')).max(500, 'at most 500 lines');

export const changeEventSchema = z.looseObject({
  id: z.string().min(1, 'must not be empty').max(128, 'at most 128 characters'),
  platform: z.looseObject({
    slug: z.string().regex(PLATFORM_SLUG, 'lowercase letters, digits and hyphens, starting with a letter or digit, at most 64'),
    name: text(200).optional(),
  }),
  document: z.looseObject({
    id: text(128).optional(),
    title: text(300),
    url: webUrl.optional(),
    kind: text(64).optional(),
  }),
  provision: z
    .looseObject({
      id: text(128).optional(),
      title: text(300).optional(),
    })
    .optional(),
  severity: z.enum(SEVERITIES, { error: 'one of low, medium, high' }),
  categories: z
    .array(
      z
        .string()
        .trim()
        .toLowerCase()
        .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'a category such as "privacy" (lowercase letters, digits, hyphens)'),
    )
    .max(20, 'at most 20 categories')
    .default([]),
  title: text(300),
  summary: text(5_000).optional(),
  impact: text(5_000).optional(),
  detected_at: timestampField('2026-02-27T06:04:11Z'),
  evidence: z
    .looseObject({
      sha256: sha256.optional(),
      previous_sha256: sha256.optional(),
      snapshot_url: webUrl.optional(),
      archive_url: webUrl.optional(),
    })
    .optional(),
  change_url: webUrl.optional(),
  kind: z.enum(EVENT_KINDS, { error: `one of ${EVENT_KINDS.join(', ')}` }).default('changed'),
  effective_at: z
    .string()
    .refine((v) => {
      const m = ISO_DATE.exec(v);
      return !!m && validDate(Number(m[1]), Number(m[2]), Number(m[3]));
    }, 'a date such as 2026-03-27')
    .meta({ format: 'date', example: '2026-03-27' })
    .optional(),
  technical_upgrade: z.boolean({ error: 'true or false' }).default(false),
  diff: z
    .looseObject({
      removed: diffLines.default([]),
      added: diffLines.default([]),
    })
    .optional(),
});

export type ChangeEvent = z.output<typeof changeEventSchema>;

export interface FieldIssue {
  path: string;
  message: string;
}

export type ParsedEventBody =
  | { ok: true; events: ChangeEvent[]; batch: boolean }
  | { ok: false; issues: FieldIssue[] };

const batchSchema = z.object({
  events: z
    .array(z.unknown())
    .min(1, 'a batch holds at least one event')
    .max(MAX_BATCH_EVENTS, `a batch holds at most ${MAX_BATCH_EVENTS} events`),
});

function issuesOf(error: z.ZodError, prefix: (string | number)[]): FieldIssue[] {
  return error.issues.map((i) => {
    const path = [...prefix, ...i.path].map(String).join('.');
    const message = i.code === 'invalid_type' && i.input === undefined ? 'is required' : i.message;
    return { path: path || '(body)', message };
  });
}

/**
 * Validates a POST /v1/events body, one event or `{events: [...]}`, and collects every field error
 * of every event so a producer can fix a whole batch in one go. With `now`, a detected_at more
 * than MAX_FUTURE_SKEW_MS ahead of it is one of them.
 */
export function parseEventBody(body: unknown, now?: number): ParsedEventBody {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { ok: false, issues: [{ path: '(body)', message: 'a change event object, or {"events": [...]}' }] };
  }
  const batch = 'events' in body;
  let raws: unknown[] = [body];
  if (batch) {
    const b = batchSchema.safeParse(body);
    if (!b.success) return { ok: false, issues: issuesOf(b.error, []) };
    raws = b.data.events;
  }
  const events: ChangeEvent[] = [];
  const issues: FieldIssue[] = [];
  raws.forEach((raw, index) => {
    const prefix = batch ? ['events', index] : [];
    const r = changeEventSchema.safeParse(raw);
    if (!r.success) return issues.push(...issuesOf(r.error, prefix));
    const future = now === undefined ? null : futureTimeIssue([...prefix, 'detected_at'].join('.'), parseTimestamp(r.data.detected_at)!, now);
    if (future) issues.push(future);
    else events.push(r.data);
  });
  return issues.length ? { ok: false, issues } : { ok: true, events, batch };
}

/**
 * Stable JSON (keys sorted) of a parsed event: two sends of the same event compare equal. It is
 * what `events.payload` stores and what a re-sent event is compared with, so its bytes never
 * change: JSON.stringify's, with every object's keys in sorted order (an object's array-index
 * keys, such as "2", first in numeric order, as JavaScript enumerates them). Written as one walk
 * instead of a JSON.stringify replacer building a sorted copy of every object: that was a fifth
 * of a 500-event batch's JavaScript.
 */
export function canonicalEventJson(event: ChangeEvent): string {
  return JSON.stringify(sortedCopy(event, ''));
}

/**
 * The value as JSON.stringify would see it after the replacer this once was (`toJSON` applied,
 * then each object rebuilt with its keys inserted in sorted order), for one native
 * JSON.stringify of the whole tree. Values JSON leaves out (undefined, functions, symbols) are
 * left out of objects and become null in arrays here already, so the copy holds none.
 */
function sortedCopy(input: unknown, key: string): unknown {
  let value = input;
  if (value !== null && (typeof value === 'object' || typeof value === 'bigint') && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(key: string): unknown }).toJSON(key);
  }
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const v = sortedCopy(value[i], String(i));
      out[i] = v === undefined || typeof v === 'function' || typeof v === 'symbol' ? null : v;
    }
    return out;
  }
  const keys = Object.keys(value);
  // Sorted in place by insertion, as `keys.sort()` orders them (by UTF-16 code units; keys are
  // distinct): an event's objects have a few keys each, and the builtin sort allocated a work
  // array per object, 2 MB of garbage for a 500-event batch.
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    if (keys[j]! < k) continue;
    while (j >= 0 && keys[j]! > k) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = k;
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = sortedCopy((value as Record<string, unknown>)[k], k);
    // As Object.fromEntries would (an own "__proto__" stays a plain key): defined, not assigned.
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out;
}

/** Stored but never alerted nor put among a digest's changes (contract: first_recorded, technical_upgrade). */
export function isNoise(event: Pick<ChangeEvent, 'kind' | 'technical_upgrade'>): boolean {
  return event.kind === 'first_recorded' || event.technical_upgrade;
}

/** unreachable/restored are about monitoring, not about the policy: shown apart from changes. */
export function isMonitorNotice(kind: EventKind): boolean {
  return kind === 'unreachable' || kind === 'restored';
}
