import type { PlanName } from './plans.js';
import { PLANS } from './plans.js';
import { localTime } from './zoned-time.js';

/**
 * The review rules, in one place: what a review of a change can say, who may decide it, which
 * decision may follow which, and what a decision must carry. The Slack and Discord handlers, the
 * email's review page, the API and the renderers ask here and decide nothing of their own.
 *
 * A review is per (account, change), for changes the account was alerted to the same day (the
 * monitor plan); it starts `open` and every decision is kept (append-only, db/schema.ts).
 */
export const REVIEW_STATUSES = ['open', 'reviewed', 'not_applicable', 'assigned'] as const;
export type ReviewStatus = (typeof REVIEW_STATUSES)[number];
export type Decision = Exclude<ReviewStatus, 'open'>;
export type ReviewSource = 'slack' | 'discord' | 'page';

export interface DecisionRule {
  /** What a message says of it: "Reviewed by @maria, 2 Dec 09:14". */
  label: string;
  /** The button that makes it. */
  action: string;
  reason: 'required' | 'optional';
  assignee: boolean;
  /** The statuses it may follow. */
  from: readonly ReviewStatus[];
  /** A change with this status still waits for someone (digests list it, buttons stay). */
  awaiting: boolean;
}

export const DECISIONS = {
  reviewed: { label: 'Reviewed', action: 'Reviewed', reason: 'optional', assignee: false, from: REVIEW_STATUSES, awaiting: false },
  not_applicable: { label: 'Not applicable', action: 'Not applicable', reason: 'required', assignee: false, from: REVIEW_STATUSES, awaiting: false },
  // Assigning hands the change to someone; once it is decided there is nothing left to hand on
  // (a correction is a new decision, which is kept beside the old one).
  assigned: { label: 'Assigned', action: 'Assign', reason: 'optional', assignee: true, from: ['open', 'assigned'], awaiting: true },
} as const satisfies Record<Decision, DecisionRule>;

export const isDecision = (s: string): s is Decision => Object.hasOwn(DECISIONS, s);
export const isReviewStatus = (s: string): s is ReviewStatus => (REVIEW_STATUSES as readonly string[]).includes(s);
/** Statuses of changes still waiting for a decision. */
export const AWAITING: readonly ReviewStatus[] = ['open', 'assigned'];

/** A reason is a sentence or two for an auditor; a name is a person's name or address. */
export const REASON_MAX = 500;
export const NAME_MAX = 120;

export interface ReviewState {
  status: ReviewStatus;
  actorName?: string;
  actorId?: string | null;
  assigneeId?: string | null;
  assigneeName?: string | null;
  reason?: string | null;
  decidedAt?: number;
  source?: ReviewSource;
}

/** A change's review as a message shows it, with the key its buttons name the change by. */
export interface ChangeReview extends ReviewState {
  /** The change's key (events.pk): short enough for Discord's 100-character custom ids. */
  ref: string;
}

export interface DecisionInput {
  status: string;
  source: ReviewSource;
  actorId?: string | null;
  actorName: string;
  assigneeId?: string | null;
  assigneeName?: string | null;
  reason?: string | null;
}

export interface ValidDecision {
  status: Decision;
  source: ReviewSource;
  actorId: string | null;
  actorName: string;
  assigneeId: string | null;
  assigneeName: string | null;
  reason: string | null;
}

export interface DeciderFacts {
  plan: PlanName;
  source: ReviewSource;
  /** Discord: the member may manage subscriptions (the commands' rule); elsewhere ignored. */
  canManage?: boolean;
}

export type Refusal = { code: 'plan' | 'permission' | 'transition' | 'invalid'; message: string };

/** Why this person may not decide on this account's reviews, or null when they may. */
export function mayDecide(f: DeciderFacts): Refusal | null {
  if (!PLANS[f.plan].sameDayAlerts) return { code: 'plan', message: 'Reviews are part of the monitor plan (same-day alerts); this account is on free.' };
  // Discord has roles: the members who may change what a channel watches are the ones who may
  // speak for the team about a change. Slack's commands let anyone in the channel, and so do
  // its buttons; the review page is anyone holding the mail's signed link.
  if (f.source === 'discord' && !f.canManage) return { code: 'permission', message: 'Only members with Manage Server or Manage Channels may decide reviews.' };
  return null;
}

/** Whether `decision` may follow `current`. */
export function transitionRefusal(current: ReviewStatus, decision: Decision): Refusal | null {
  const rule: DecisionRule = DECISIONS[decision];
  if (rule.from.includes(current)) return null;
  return { code: 'transition', message: `This change is already ${DECISIONS[current as Decision]?.label.toLowerCase() ?? current}; it can no longer be assigned.` };
}

/** Trims, refuses what is empty or too long, and keeps only what the decision carries. */
export function validateDecision(input: DecisionInput): { ok: true; value: ValidDecision } | { ok: false; refusal: Refusal } {
  const bad = (message: string) => ({ ok: false as const, refusal: { code: 'invalid' as const, message } });
  if (!isDecision(input.status)) return bad('Choose Reviewed, Not applicable or Assign.');
  const rule: DecisionRule = DECISIONS[input.status];
  const actorName = oneLine(input.actorName);
  if (!actorName) return bad('Give your name or address, so the record says who decided.');
  if ([...actorName].length > NAME_MAX) return bad(`Your name is longer than ${NAME_MAX} characters.`);
  const reason = (input.reason ?? '').trim().replace(/\r\n?/g, '\n');
  if (rule.reason === 'required' && !reason) return bad('Give a reason: why does this change not apply?');
  if ([...reason].length > REASON_MAX) return bad(`The reason is longer than ${REASON_MAX} characters.`);
  const assigneeName = oneLine(input.assigneeName ?? '');
  const assigneeId = input.assigneeId?.trim() || null;
  if (rule.assignee && !assigneeName && !assigneeId) return bad('Choose the person to assign the change to.');
  if ([...assigneeName].length > NAME_MAX) return bad(`The assignee's name is longer than ${NAME_MAX} characters.`);
  return {
    ok: true,
    value: {
      status: input.status,
      source: input.source,
      actorId: input.actorId?.trim() || null,
      actorName,
      assigneeId: rule.assignee ? assigneeId : null,
      assigneeName: rule.assignee ? assigneeName || assigneeId : null,
      reason: reason || null,
    },
  };
}

/** Control characters out, runs of spaces folded: a name is one line wherever it is shown. */
function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').replace(/\s+/g, ' ').trim();
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "2 Dec 09:14" in the reader's zone. */
export function shortDateTime(at: number, timeZone: string): string {
  const l = localTime(at, timeZone);
  return `${l.d} ${MONTHS[l.m - 1]} ${String(l.h).padStart(2, '0')}:${String(l.min).padStart(2, '0')}`;
}

export interface LineFormat {
  /** Escapes plain text for the medium. */
  text: (s: string) => string;
  /**
   * A person, ready for the medium (a Slack or Discord mention, or an escaped name). `source` is
   * where the id comes from: a Slack user id means nothing in Discord.
   */
  person: (id: string | null | undefined, name: string, source: ReviewSource | undefined) => string;
}

const plainLine: LineFormat = { text: (s) => s, person: (_id, name) => name };

/** "Reviewed by @maria, 2 Dec 09:14": what a message shows of a decided or assigned change. */
export function decisionLine(r: ReviewState, timeZone: string, f: LineFormat = plainLine): string | undefined {
  if (r.status === 'open' || r.decidedAt === undefined || !r.actorName) return undefined;
  const when = f.text(shortDateTime(r.decidedAt, timeZone));
  const by = f.person(r.actorId, r.actorName, r.source);
  if (r.status === 'assigned') return `${f.text('Assigned to ')}${f.person(r.assigneeId, r.assigneeName ?? r.assigneeId ?? '', r.source)}${f.text(' by ')}${by}, ${when}`;
  return `${f.text(`${DECISIONS[r.status].label} by `)}${by}, ${when}${r.reason ? f.text(`: ${r.reason}`) : ''}`;
}
