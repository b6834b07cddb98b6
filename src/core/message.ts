import type { ChangeEvent, EventKind } from './event.js';
import { isMonitorNotice } from './event.js';
import { bySeverityThenNewest, type Severity } from './severity.js';
import type { PlanName } from './plans.js';
import type { DigestContent } from './digest.js';
import { effectiveDatePhrase, formatDate } from './effective-date.js';
import { isoDate, localTime } from './zoned-time.js';
import type { FollowUpAction, LifecycleNote, PriorAlert } from './lifecycle.js';
import type { ChangeReview } from './review.js';

/**
 * What a message is about, before any channel shapes it. Renderers turn these into mails, Block
 * Kit or embeds; the dispatcher builds them from the database.
 */
export interface ChangeItem {
  eventId: string;
  platform: { slug: string; name: string };
  document: { title: string; url?: string; kind?: string };
  provision?: { id?: string; title?: string };
  severity: Severity;
  categories: string[];
  kind: EventKind;
  title: string;
  summary?: string;
  impact?: string;
  detectedAt: number;
  effectiveAt?: string;
  evidence?: { sha256?: string; previous_sha256?: string; snapshot_url?: string; archive_url?: string };
  changeUrl?: string;
  diff?: { removed: string[]; added: string[] };
  /** A reversion: when the version it returns to was first seen (its severity is then low). */
  revertsToAt?: number;
  /** The event as received (unknown fields included): what webhooks carry. */
  raw: ChangeEvent;
  /** In a digest: detected before the digest's period, but arrived after the digest that period had. */
  reportedLate?: boolean;
  /** In an edited chat alert: a later change reverted or superseded this one (its title is struck through). */
  lifecycle?: LifecycleNote;
  /** In a new message of a channel that cannot thread (Teams): the earlier alerted change this one reverts or supersedes. */
  followsUp?: PriorAlert;
}

/**
 * The copy of the document a change can be checked against: the archived copy, or else the
 * tracker's own snapshot. Where a message has room for one evidence link, this is it.
 */
export function evidenceLink(c: Pick<ChangeItem, 'evidence'>): { url: string; label: string } | undefined {
  const ev = c.evidence;
  if (ev?.archive_url) return { url: ev.archive_url, label: 'archived copy' };
  if (ev?.snapshot_url) return { url: ev.snapshot_url, label: 'snapshot' };
  return undefined;
}

/** `revertsToAt` is what ingest stored when the event returned to a recent version. */
export function changeItemFromEvent(event: ChangeEvent, platformName: string, revertsToAt?: number | null): ChangeItem {
  const reverted = revertsToAt != null;
  return {
    eventId: event.id,
    platform: { slug: event.platform.slug, name: event.platform.name ?? platformName },
    document: { title: event.document.title, url: event.document.url, kind: event.document.kind },
    provision: event.provision ? { id: event.provision.id, title: event.provision.title } : undefined,
    severity: reverted ? 'low' : event.severity,
    categories: event.categories,
    kind: event.kind,
    title: event.title,
    summary: event.summary,
    impact: event.impact,
    detectedAt: Date.parse(event.detected_at),
    effectiveAt: event.effective_at,
    evidence: event.evidence
      ? {
          sha256: event.evidence.sha256,
          previous_sha256: event.evidence.previous_sha256,
          snapshot_url: event.evidence.snapshot_url,
          archive_url: event.evidence.archive_url,
        }
      : undefined,
    changeUrl: event.change_url,
    diff: event.diff ? { removed: event.diff.removed, added: event.diff.added } : undefined,
    ...(reverted ? { revertsToAt } : {}),
    raw: event,
  };
}

/** Links every message to a destination carries, signed for that destination. */
export interface MessageLinks {
  unsubscribe: string;
  manage: string;
}

export interface Reader {
  /** Account time zone: dates and "takes effect in N days" are counted there. */
  timeZone: string;
  now: number;
}

export interface AlertContent {
  kind: 'alert';
  /** Highest severity first, then newest. */
  changes: ChangeItem[];
  /** Monitoring notices (unreachable / restored), shown apart from changes. */
  notices: ChangeItem[];
  reader: Reader;
  /**
   * `view`: a page listing every change of this alert, for what a size-limited mail leaves out.
   * `review`: each change's review page (by event id), for channels without buttons.
   */
  links: MessageLinks & { view?: string; review?: Record<string, string> };
  /**
   * Each change's review so far (by event id), for the channels whose messages carry the
   * decision and its buttons (Slack, a Discord bot channel); absent elsewhere and off the plan.
   */
  reviews?: Record<string, ChangeReview>;
  plan: PlanName;
  /** An effective-date reminder of changes already alerted, rather than news. */
  reminder?: boolean;
  /** The day's changes past the destination's alert budget, in one message at the day's end. */
  budget?: boolean;
  /**
   * A follow-up (src/core/lifecycle.ts): these changes revert or supersede an alert of this
   * channel, and are posted as a reply in its thread (or, when it is gone, as a new message).
   */
  followUp?: FollowUpAction;
}

export interface ConfirmationContent {
  kind: 'confirmation';
  address: string;
  platforms: string[];
  confirmUrl: string;
  reader: Reader;
}

/** Sent when an address that is already subscribed signs up again: where to manage it. */
export interface ManageLinkContent {
  kind: 'manage_link';
  address: string;
  manageUrl: string;
  reader: Reader;
}

export type MessageContent = AlertContent | ConfirmationContent | ManageLinkContent | DigestContent;

/**
 * Splits a group's items into changes and monitoring notices, each in reading order. (An outage
 * and its end that met in one group never get here: the policy's decision took both out.)
 */
export function buildAlert(items: ChangeItem[], reader: Reader, links: AlertContent['links'], plan: PlanName): AlertContent {
  const changes = items.filter((i) => !isMonitorNotice(i.kind)).sort(bySeverityThenNewest);
  const notices = items.filter((i) => isMonitorNotice(i.kind)).sort((a, b) => a.detectedAt - b.detectedAt);
  return { kind: 'alert', changes, notices, reader, links, plan };
}

/** The subject line / notification text of an alert. */
export function alertHeadline(a: AlertContent): string {
  const n = a.changes.length;
  if (a.budget && n) return `${n} more policy change${n === 1 ? '' : 's'} today (past today's alert limit)`;
  if (a.reminder && n) {
    const c = a.changes[0]!;
    return `Reminder: ${c.platform.name} ${c.document.title} change ${c.effectiveAt ? effectiveDatePhrase(c.effectiveAt, a.reader.now, a.reader.timeZone) : 'takes effect soon'}`;
  }
  if (n === 0) {
    const first = a.notices[0];
    if (!first) return 'ClauseWatch';
    const what = first.kind === 'unreachable' ? 'cannot be watched' : 'is watched again';
    return a.notices.length === 1
      ? `Monitoring: ${first.document.title} ${what}`
      : `Monitoring: ${a.notices.length} notices`;
  }
  const first = a.changes[0]!;
  const platforms = [...new Set(a.changes.map((c) => c.platform.name))];
  if (n === 1) return `[${first.severity.toUpperCase()}] ${first.platform.name}: ${first.title}`;
  return `[${first.severity.toUpperCase()}] ${n} policy changes: ${platforms.slice(0, 3).join(', ')}${platforms.length > 3 ? ` and ${platforms.length - 3} more` : ''}`;
}

export const SEVERITY_COLORS: Record<Severity, string> = { high: '#c81e1e', medium: '#b45309', low: '#2563eb' };
export const SEVERITY_LABELS: Record<Severity, string> = { high: 'High', medium: 'Medium', low: 'Low' };

/** The line under a change's title that says what kind of change it is, if it is not plain. */
export function itemLabel(item: ChangeItem, timeZone: string): string | undefined {
  const what = item.revertsToAt !== undefined ? `Reverted to the version of ${formatDate(isoDate(localTime(item.revertsToAt, timeZone)))}` : kindLabel(item.kind);
  const late = item.reportedLate ? lateLabel(item, timeZone) : undefined;
  return what && late ? `${what} · ${late}` : (what ?? late);
}

/** "Detected on 24 Nov 2026, reported late": a digest entry its own week's digest could not carry. */
export function lateLabel(item: Pick<ChangeItem, 'detectedAt'>, timeZone: string): string {
  return `Detected on ${formatDate(isoDate(localTime(item.detectedAt, timeZone)))}, reported late`;
}

export function kindLabel(kind: EventKind): string | undefined {
  switch (kind) {
    case 'added':
      return 'New clause';
    case 'removed':
      return 'Clause removed';
    case 'unreachable':
      return 'Cannot be watched';
    case 'restored':
      return 'Watched again';
    default:
      return undefined;
  }
}
