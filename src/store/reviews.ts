import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db.js';
import type { Clock } from '../core/clock.js';
import { AWAITING, DECISIONS, type ChangeReview, type DecisionRule, type ReviewSource, type ReviewState, type ReviewStatus, type ValidDecision } from '../core/review.js';
import { decodeCursor, keysetLimit, keysetPage, type Page } from './paging.js';

/**
 * The review trail's store. A review exists for every change an account was alerted to the same
 * day (an alert outbox row of the account carried it); it is `open` until a decision is written.
 * Decisions are rows of review_history, appended and never changed (the migration's triggers
 * refuse UPDATE and DELETE): the current review is the latest row.
 */

/** Newest change first: detection time, then the event's key. */
export const REVIEW_CURSOR = ['number', 'number'] as const;

/** The changes the account was alerted to (each once, however many of its destinations had it). */
const alerted = (accountId: string) => sql`
  SELECT DISTINCT m.event_pk FROM outbox o JOIN matches m ON m.outbox_id = o.id
  WHERE o.account_id = ${accountId} AND o.kind IN ('alert', 'budget') AND o.status <> 'cancelled'`;

/** The latest decision row of (account, change), as a correlated subquery on `pk`. */
const latest = (accountId: string, pk: SQL) => sql`(SELECT max(r.id) FROM review_history r WHERE r.account_id = ${accountId} AND r.event_pk = ${pk})`;

interface HistoryRow {
  status: ReviewStatus;
  source: ReviewSource;
  actor_id: string | null;
  actor_name: string;
  assignee_id: string | null;
  assignee_name: string | null;
  reason: string | null;
  decided_at: number;
}

const toState = (r: HistoryRow | undefined): ReviewState =>
  r
    ? {
        status: r.status,
        source: r.source,
        actorId: r.actor_id,
        actorName: r.actor_name,
        assigneeId: r.assignee_id,
        assigneeName: r.assignee_name,
        reason: r.reason,
        decidedAt: r.decided_at,
      }
    : { status: 'open' };

export interface ReviewableChange {
  eventPk: number;
  eventId: string;
  accountId: string;
}

/** The change (by its id or key) if the account was alerted to it (only those have a review). */
export async function reviewableChange(db: Db, accountId: string, change: { eventId: string } | { eventPk: number }): Promise<ReviewableChange | undefined> {
  const rows = await db.all<{ pk: number; id: string }>(sql`
    SELECT e.pk, e.id FROM events e
    WHERE ${'eventId' in change ? sql`e.id = ${change.eventId}` : sql`e.pk = ${change.eventPk}`} AND e.pk IN (${alerted(accountId)})`);
  const row = rows[0];
  return row ? { eventPk: row.pk, eventId: row.id, accountId } : undefined;
}

/** The current reviews of some of the account's changes, by event id (`open` when undecided). */
export async function reviewStates(db: Db, accountId: string, eventIds: readonly string[]): Promise<Map<string, ChangeReview>> {
  const out = new Map<string, ChangeReview>();
  if (!eventIds.length) return out;
  const rows = await db.all<Partial<HistoryRow> & { event_id: string; pk: number }>(sql`
    SELECT e.id AS event_id, e.pk, h.status, h.source, h.actor_id, h.actor_name, h.assignee_id, h.assignee_name, h.reason, h.decided_at
    FROM events e LEFT JOIN review_history h ON h.id = ${latest(accountId, sql`e.pk`)}
    WHERE e.id IN (SELECT value FROM json_each(${JSON.stringify(eventIds)}))`);
  for (const r of rows) out.set(r.event_id, { ...toState(r.status ? (r as HistoryRow) : undefined), ref: String(r.pk) });
  return out;
}

export type RecordResult = { ok: true; review: ReviewState } | { ok: false; current: ReviewState };

/**
 * Appends a decision, if its rule lets it follow the current status. The check and the insert are
 * one statement, so a decision racing another is judged against whichever the database wrote
 * first; both are kept, and the one written last is the current review.
 */
export async function recordDecision(
  db: Db,
  clock: Clock,
  change: ReviewableChange,
  d: ValidDecision,
  destinationId: string | null,
): Promise<RecordResult> {
  const rule: DecisionRule = DECISIONS[d.status];
  const at = clock();
  const inserted = await db.all<{ id: number }>(sql`
    INSERT INTO review_history (account_id, event_pk, status, source, destination_id, actor_id, actor_name, assignee_id, assignee_name, reason, decided_at)
    SELECT ${change.accountId}, ${change.eventPk}, ${d.status}, ${d.source}, ${destinationId}, ${d.actorId}, ${d.actorName}, ${d.assigneeId}, ${d.assigneeName}, ${d.reason}, ${at}
    WHERE coalesce((SELECT r.status FROM review_history r WHERE r.id = ${latest(change.accountId, sql`${change.eventPk}`)}), 'open')
      IN (SELECT value FROM json_each(${JSON.stringify(rule.from)}))
    RETURNING id`);
  if (inserted.length) {
    return {
      ok: true,
      review: { status: d.status, source: d.source, actorId: d.actorId, actorName: d.actorName, assigneeId: d.assigneeId, assigneeName: d.assigneeName, reason: d.reason, decidedAt: at },
    };
  }
  return { ok: false, current: (await reviewStates(db, change.accountId, [change.eventId])).get(change.eventId)! };
}

/** Every decision of one change, oldest first. */
export async function reviewHistory(db: Db, accountId: string, eventPk: number): Promise<ReviewState[]> {
  const rows = await db.all<HistoryRow>(sql`
    SELECT status, source, actor_id, actor_name, assignee_id, assignee_name, reason, decided_at
    FROM review_history WHERE account_id = ${accountId} AND event_pk = ${eventPk} ORDER BY id`);
  return rows.map(toState);
}

export interface ReviewEntry {
  eventPk: number;
  eventId: string;
  platform: { slug: string; name: string };
  document: string;
  clause: string | null;
  title: string;
  severity: string;
  detectedAt: number;
  effectiveAt: string | null;
  sha256: string | null;
  previousSha256: string | null;
  archiveUrl: string | null;
  lastVerifiedAt: number | null;
  summary: string | null;
  changeUrl: string | null;
  review: ReviewState;
}

export interface ReviewFilter {
  /** Only these statuses. */
  statuses?: readonly ReviewStatus[];
  /** Changes detected at or after this time. */
  since?: number;
  /** One change only. */
  eventId?: string;
}

/** The account's review trail, newest change first, paged. */
export async function listReviews(db: Db, accountId: string, filter: ReviewFilter, limit: number, cursor?: string): Promise<Page<ReviewEntry>> {
  const after = decodeCursor(cursor, REVIEW_CURSOR);
  const rows = await db.all<
    Partial<HistoryRow> & {
      pk: number;
      id: string;
      slug: string;
      name: string;
      document: string;
      clause: string | null;
      title: string;
      severity: string;
      detected_at: number;
      effective_at: string | null;
      sha256: string | null;
      previous_sha256: string | null;
      archive_url: string | null;
      last_verified_at: number | null;
      summary: string | null;
      change_url: string | null;
    }
  >(sql`
    SELECT e.pk, e.id, p.slug, p.name, d.title AS document, e.payload ->> '$.provision.title' AS clause, e.title, e.severity,
      e.detected_at, e.effective_at, e.sha256, e.previous_sha256, e.payload ->> '$.evidence.archive_url' AS archive_url, d.last_verified_at,
      e.payload ->> '$.summary' AS summary, e.payload ->> '$.change_url' AS change_url,
      h.status, h.source, h.actor_id, h.actor_name, h.assignee_id, h.assignee_name, h.reason, h.decided_at
    FROM events e
    JOIN platforms p ON p.id = e.platform_id
    JOIN documents d ON d.id = e.document_id
    LEFT JOIN review_history h ON h.id = ${latest(accountId, sql`e.pk`)}
    WHERE e.pk IN (${alerted(accountId)})
      AND ${filter.statuses?.length ? sql`coalesce(h.status, 'open') IN (SELECT value FROM json_each(${JSON.stringify(filter.statuses)}))` : sql`1`}
      AND ${filter.since !== undefined ? sql`e.detected_at >= ${filter.since}` : sql`1`}
      AND ${filter.eventId !== undefined ? sql`e.id = ${filter.eventId}` : sql`1`}
      AND ${after ? sql`(e.detected_at, e.pk) < (${after[0]}, ${after[1]})` : sql`1`}
    ORDER BY e.detected_at DESC, e.pk DESC
    LIMIT ${keysetLimit(limit)}`);
  const page = keysetPage(rows, limit, REVIEW_CURSOR, (r) => [r.detected_at, r.pk]);
  return {
    data: page.rows.map((r) => ({
      eventPk: r.pk,
      eventId: r.id,
      platform: { slug: r.slug, name: r.name },
      document: r.document,
      clause: r.clause,
      title: r.title,
      severity: r.severity,
      detectedAt: r.detected_at,
      effectiveAt: r.effective_at,
      sha256: r.sha256,
      previousSha256: r.previous_sha256,
      archiveUrl: r.archive_url,
      lastVerifiedAt: r.last_verified_at,
      summary: r.summary,
      changeUrl: r.change_url,
      review: toState(r.status ? (r as HistoryRow) : undefined),
    })),
    nextCursor: page.nextCursor,
  };
}

/** How many of the account's changes await review (open or assigned), and the newest `limit`. */
export async function awaitingReview(db: Db, accountId: string, limit: number): Promise<{ total: number; entries: ReviewEntry[] }> {
  const [count] = await db.all<{ n: number }>(sql`
    SELECT count(*) AS n FROM (${alerted(accountId)}) a
    LEFT JOIN review_history h ON h.id = ${latest(accountId, sql`a.event_pk`)}
    WHERE coalesce(h.status, 'open') IN (SELECT value FROM json_each(${JSON.stringify(AWAITING)}))`);
  const total = count?.n ?? 0;
  if (!total || limit <= 0) return { total, entries: [] };
  return { total, entries: (await listReviews(db, accountId, { statuses: AWAITING }, limit)).data };
}

/** One change of the account's trail, if the account was alerted to it. */
export async function reviewEntry(db: Db, accountId: string, eventId: string): Promise<ReviewEntry | undefined> {
  return (await listReviews(db, accountId, { eventId }, 1)).data[0];
}

/**
 * The chat destination (Slack workspace and channel, or Discord server and channel) whose alert
 * showed the change: the one a button in that channel speaks for. Two accounts may both post to
 * one channel; the change's match says which of them the message belonged to.
 */
export async function chatDestinationFor(
  db: Db,
  where: { type: 'slack' | 'discord'; workspace: string; channel: string; eventPk: number },
): Promise<{ id: string; accountId: string; timezone: string } | undefined> {
  const [row] = await db.all<{ id: string; account_id: string; timezone: string }>(sql`
    SELECT d.id, d.account_id, a.timezone FROM destinations d
    JOIN matches m ON m.destination_id = d.id AND m.event_pk = ${where.eventPk} AND m.outbox_id IS NOT NULL
    JOIN accounts a ON a.id = d.account_id
    WHERE d.type = ${where.type}
      AND ${where.type === 'slack' ? sql`d.slack_team = ${where.workspace} AND d.slack_channel = ${where.channel}` : sql`d.discord_guild = ${where.workspace} AND d.discord_channel = ${where.channel}`}
    LIMIT 1`);
  return row ? { id: row.id, accountId: row.account_id, timezone: row.timezone } : undefined;
}

/** A change's title, for a modal that asks about it. */
export async function changeTitle(db: Db, eventPk: number): Promise<string | undefined> {
  const [row] = await db.all<{ title: string }>(sql`SELECT title FROM events WHERE pk = ${eventPk}`);
  return row?.title;
}
