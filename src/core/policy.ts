import type { EventKind } from './event.js';
import type { IntrinsicNoise } from './noise.js';
import type { ChangeEvent } from './event.js';

/**
 * The delivery policy: who hears about which change, when, and why not. Every reason a change is
 * kept from someone is named here once, with what it still lets through; the matcher (one
 * INSERT … SELECT, src/ingest/match.ts), the alert grouping, digests, reminders, the feeds and the
 * API read this table (or the decisions recorded from it) and decide nothing of their own.
 *
 * A decision is recorded per (event, destination) as a `matches` row: no reason means a same-day
 * alert, a reason means what its `delivery` says. Event-level noise that reaches nobody at all is
 * recorded once on the event instead (it concerns no destination, and a fan-out of rows saying so
 * to every subscriber would cost as much as the news itself).
 */

/**
 * What a reason leaves of the delivery:
 * - `digest`: no alert, but the change is listed in the destination's next weekly digest;
 * - `footer`: neither alert nor digest entry, only counted in the digest's footer ("3 technical changes");
 * - `none`: kept from everyone; recorded so the API and /metrics can say why.
 */
export type Delivery = 'digest' | 'footer' | 'none';

/** Who a reason is decided for: the event itself (once, at ingest), or each destination. */
export type Scope = 'event' | 'destination';

export interface ReasonRule {
  scope: Scope;
  delivery: Delivery;
  /** An effective date the change carries still stands (reminders, "upcoming" in digests). */
  dateStands?: boolean;
  /** The event cannot be one step of a document flipping between versions. */
  notAVersion?: boolean;
  /** The subscriber's filters left the change out: not counted as matched. */
  leftOut?: boolean;
  /** Why, in a sentence (what the README's policy table says). */
  why: string;
  /** The marker a feed entry carries in place of its severity: a change that is in feeds but no news. */
  feedMarker?: string;
}

export const REASONS = {
  // Event-level: decided once per event, from the event and its document's state and history.
  first_recorded: { scope: 'event', delivery: 'none', notAVersion: true, why: 'The first capture of a document: nothing changed.' },
  technical_upgrade: { scope: 'event', delivery: 'footer', notAVersion: true, why: 'A re-extraction by the tracker, not an edit of the document.' },
  links_only: { scope: 'event', delivery: 'footer', notAVersion: true, feedMarker: 'Links only', why: 'Every changed line differs only inside links (rotating ids, tracking parameters).' },
  whitespace: { scope: 'event', delivery: 'footer', notAVersion: true, feedMarker: 'Spacing only', why: 'Only spacing or line wrapping changed, or the diff is empty.' },
  reordered: { scope: 'event', delivery: 'footer', notAVersion: true, feedMarker: 'Reordered', why: 'The same lines in another order (a moved paragraph, a shuffled list of links): nothing was reworded.' },
  date_only: { scope: 'event', delivery: 'digest', notAVersion: true, feedMarker: 'Date only', why: 'Only a "last updated" date changed: worth a digest line, not an alert.' },
  flapping: { scope: 'event', delivery: 'digest', why: 'One more flip of a document that keeps flipping between versions: one digest line.' },
  backfill: { scope: 'event', delivery: 'digest', dateStands: true, why: 'Detected longer ago than ALERT_MAX_AGE_HOURS when it arrived: old news.' },
  still_unreachable: { scope: 'event', delivery: 'none', why: 'A producer reports a document down that is already known to be down.' },
  already_restored: { scope: 'event', delivery: 'none', why: 'A producer reports a document back that is already known to be up.' },
  // Destination-level admission: decided per subscription by the matcher. (A paused subscription
  // and a destination not active are no subscribers at all: they get no decision.)
  below_min_severity: { scope: 'destination', delivery: 'none', leftOut: true, why: "Below the subscription's minimum severity." },
  categories: { scope: 'destination', delivery: 'none', leftOut: true, why: "None of the subscription's categories." },
  plan: { scope: 'destination', delivery: 'digest', why: "The account's plan has no same-day alerts (or moved to one while the alert gathered)." },
  undoes_unalerted: { scope: 'destination', delivery: 'digest', why: 'It reverts a change this destination was never alerted to: nobody needs to hear it was undone.' },
  // Destination-level, decided in the alert group (a pair that undoes itself before it is sent).
  reverted: { scope: 'destination', delivery: 'digest', why: 'A change and the reversion that undoes it met in one alert group.' },
  unreachable_burst: { scope: 'destination', delivery: 'digest', why: 'An outage and its end, content unchanged, met in one alert group.' },
  // Destination-level, withdrawn after the decision: the alert was gathering when this happened.
  unsubscribed: { scope: 'destination', delivery: 'none', why: 'The subscription was removed before the alert (or digest) went out.' },
  paused: { scope: 'destination', delivery: 'none', why: 'A plan downgrade paused the subscription before the alert (or digest) went out.' },
  destination_disabled: { scope: 'destination', delivery: 'none', why: 'The destination was refused by its provider, unsubscribed or deleted.' },
} as const satisfies Record<string, ReasonRule>;

export type Reason = keyof typeof REASONS;
export type EventReason = { [R in Reason]: (typeof REASONS)[R]['scope'] extends 'event' ? R : never }[Reason];
export type DestinationReason = Exclude<Reason, EventReason>;

/** The reasons a rule picks out of the table, in table order. */
export function reasonsWhere(test: (rule: ReasonRule, reason: Reason) => boolean): Reason[] {
  return (Object.keys(REASONS) as Reason[]).filter((r) => test(REASONS[r], r));
}

export function isReason(name: string): name is Reason {
  return Object.hasOwn(REASONS, name);
}

/** The feed marker of an event's recorded reason, if that reason has one. */
export function feedMarker(reason: string | null): string | undefined {
  return reason !== null && isReason(reason) ? (REASONS[reason] as ReasonRule).feedMarker : undefined;
}

/** Event-level reasons that leave nothing to deliver to anyone: the matcher writes no row for them. */
export const REACHES_NOBODY = reasonsWhere((r) => r.scope === 'event' && r.delivery !== 'digest');
/** Reasons for which the subscriber's filters left the change out (not "matched"). */
export const LEFT_OUT = reasonsWhere((r) => !!r.leftOut);
/** Reasons that keep the change for the digest. */
export const DIGEST_ONLY = reasonsWhere((r) => r.delivery === 'digest');
/** Reasons counted in the digest's footer instead of listed. */
export const FOOTER_ONLY = reasonsWhere((r) => r.delivery === 'footer');
/** Reasons after which a change's effective date still counts. */
export const DATE_STANDS = reasonsWhere((r) => !!r.dateStands);
/** Event-level reasons of events that carry no new version of their document (never a flip). */
export const NOT_A_VERSION = reasonsWhere((r) => !!r.notAVersion);

/**
 * In a weekly digest, an outage shorter than this that ended with the content unchanged was a
 * blip (an error page between two hourly captures): over before anyone could act, it is left out.
 */
export const DIGEST_BLIP_MS = 3_600_000;

/**
 * How soon a reversion must follow the change it undoes for the pair to cancel out in their alert
 * group: within the group wait (nobody could have been told yet) or within a blip between two
 * hourly captures. Detected hours apart, the change was news for those hours, however late the
 * pair is posted (a producer sending a day at once).
 */
export const undoneWithinMs = (groupWaitMs: number) => Math.max(groupWaitMs, DIGEST_BLIP_MS);

export interface EventFacts {
  event: ChangeEvent;
  /** The event's own noise (`intrinsicNoise`), judged once per event by the caller. */
  noise: IntrinsicNoise | null;
  /** When the batch arrived, ms. */
  receivedAt: number;
  alertMaxAgeHours: number;
  /** The version judgement found one more flip of a flapping document. */
  flapping: boolean;
  /** The document's monitoring health before this batch (a new document is `ok`). */
  health: 'ok' | 'stale';
  /** The batch itself reports this document down (a `restored` beside it ends that outage). */
  downInBatch: boolean;
  /** ClauseWatch's own monitoring notice: the document's state is already set for it. */
  ownNotice: boolean;
}

/** Why an event alerts nobody, decided once at ingest; null when each destination decides. */
export function eventReason(f: EventFacts): EventReason | null {
  if (f.noise) return f.noise;
  if (f.flapping) return 'flapping';
  if (f.receivedAt - Date.parse(f.event.detected_at) > f.alertMaxAgeHours * 3_600_000) return 'backfill';
  if (!f.ownNotice) {
    // A producer's unreachable for a document already known to be down repeats the outage's
    // news; its restored for one already known to be up (ClauseWatch said so first) too.
    const kind: EventKind = f.event.kind;
    if (kind === 'unreachable' && f.health === 'stale') return 'still_unreachable';
    if (kind === 'restored' && f.health === 'ok' && !f.downInBatch) return 'already_restored';
  }
  return null;
}
