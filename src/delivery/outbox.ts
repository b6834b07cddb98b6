import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import type { OutboxKind, DestinationType, OutboxStatus } from '../../db/schema.js';

export interface OutboxRow {
  id: number;
  idempotency_key: string;
  kind: OutboxKind;
  destination_id: string;
  account_id: string;
  channel: DestinationType;
  status: OutboxStatus;
  payload: string | null;
  due_at: number;
  attempts: number;
  parts_sent: number;
}

/** OutboxRow's columns, the one list every read of a whole row selects or returns. */
const OUTBOX_ROW_COLUMNS = [
  'id', 'idempotency_key', 'kind', 'destination_id', 'account_id', 'channel', 'status', 'payload', 'due_at', 'attempts', 'parts_sent',
] as const satisfies readonly (keyof OutboxRow)[];

/** OutboxRow's columns for a SELECT or RETURNING list, of the table or of `alias` (the schema's own identifiers, never input). */
export const outboxRowColumns = (alias?: string) => sql.raw(OUTBOX_ROW_COLUMNS.map((c) => (alias ? `${alias}.${c}` : c)).join(', '));

/**
 * Claims due rows with a lease, in one UPDATE … RETURNING: rows whose time has come, and rows
 * whose lease ran out (their dispatcher died mid-send). SQLite serialises writers, so two
 * dispatchers never claim the same row. The lease (60 s by default) outlasts every send timeout
 * (SMTP 30 s, HTTP 10 s), so a row is only taken over once its first sender has surely given up.
 * Each kind of due row is read in index order up to the limit, so a claim reads a few hundred
 * index entries however many rows are due (sorting all 2,000 due rows for each claim of 100 did).
 */
export async function claimDue(db: Db, owner: string, now: number, leaseMs: number, limit: number): Promise<OutboxRow[]> {
  const rows = await db.all<{ row: string }>(sql`
    UPDATE outbox SET status = 'sending', lease_owner = ${owner}, lease_until = ${now + leaseMs},
      attempts = attempts + 1, updated_at = ${now}
    WHERE id IN (
      SELECT id FROM (SELECT id FROM outbox WHERE status = 'queued' AND due_at <= ${now} ORDER BY due_at LIMIT ${limit})
      UNION ALL
      SELECT id FROM (SELECT id FROM outbox WHERE status = 'retrying' AND due_at <= ${now} ORDER BY due_at LIMIT ${limit})
      UNION ALL
      SELECT id FROM (SELECT id FROM outbox WHERE status = 'sending' AND lease_until <= ${now} LIMIT ${limit})
      ORDER BY 1 LIMIT ${limit})
    RETURNING ${CLAIMED_ROW} AS row`);
  return rows.map((r) => JSON.parse(r.row) as OutboxRow);
}

/**
 * A claimed row as one JSON object: the driver builds a result row column by column (two
 * property definitions each), which for a claim's 11 columns was most of its row-building in a
 * 2,000-destination fan-out; json_object and JSON.parse do it natively. Every column is text or an
 * integer far below 2^53 (ids, times in ms, counts), which JSON keeps exactly.
 */
const CLAIMED_ROW = sql.raw(`json_object(${OUTBOX_ROW_COLUMNS.map((c) => `'${c}', ${c}`).join(', ')})`);

/** Each update below only applies while `owner` still holds the lease: a late finisher changes nothing. */
const held = (id: number, owner: string) => sql`id = ${id} AND lease_owner = ${owner} AND status = 'sending'`;

/** Records a delivered part and renews the lease; false when the lease was lost (stop sending). */
export async function markPartSent(db: Db, id: number, owner: string, partsSent: number, now: number, leaseMs: number): Promise<boolean> {
  const r = await db.run(sql`UPDATE outbox SET parts_sent = ${partsSent}, lease_until = ${now + leaseMs}, updated_at = ${now} WHERE ${held(id, owner)}`);
  return r.rowsAffected > 0;
}

/** Extends held leases in one statement; returns the ids still held (the others ran out and may have been taken over). */
export async function renewLeases(db: Db, ids: number[], owner: string, now: number, leaseMs: number): Promise<Set<number>> {
  if (!ids.length) return new Set();
  const rows = await db.all<{ id: number }>(sql`
    UPDATE outbox SET lease_until = ${now + leaseMs}, updated_at = ${now}
    WHERE id IN (SELECT value FROM json_each(${JSON.stringify(ids)})) AND +lease_owner = ${owner} AND +status = 'sending' AND lease_until > ${now}
    RETURNING id`);
  return new Set(rows.map((r) => Number(r.id)));
}

/** What became of a sent (or unsendable) row, to be recorded in one statement with others. */
export interface RecordedOutcome {
  id: number;
  status: 'sent' | 'retrying' | 'dead' | 'cancelled';
  providerId?: string | null;
  error?: string | null;
  /** retrying: when it is due again. */
  dueAt?: number;
  /** retrying: 1 when this attempt does not count (the receiver asked us to slow down). */
  uncount?: 0 | 1;
}

/**
 * Records the outcomes of many rows in ONE statement (one commit, not one per message), each
 * only while `owner` still holds its lease: a late finisher changes nothing. Returns the ids
 * recorded; a missing id had lost its lease. The unary + keeps SQLite from starting at the status
 * index (every row being sent) and scanning the outcomes for each: rows are found by id.
 */
export async function recordOutcomes(db: Db, owner: string, outcomes: RecordedOutcome[], now: number): Promise<Set<number>> {
  if (!outcomes.length) return new Set();
  const rows = await db.all<{ id: number }>(sql`
    UPDATE outbox SET status = j.status,
      provider_id = CASE WHEN j.status = 'sent' THEN j.provider_id ELSE outbox.provider_id END,
      sent_at = CASE WHEN j.status = 'sent' THEN ${now} ELSE outbox.sent_at END,
      last_error = j.error, due_at = coalesce(j.due_at, outbox.due_at), attempts = outbox.attempts - j.uncount,
      lease_owner = NULL, lease_until = NULL, updated_at = ${now}
    FROM (SELECT value ->> 'id' AS id, value ->> 'status' AS status, value ->> 'providerId' AS provider_id,
            value ->> 'error' AS error, value ->> 'dueAt' AS due_at, coalesce(value ->> 'uncount', 0) AS uncount
          FROM json_each(${JSON.stringify(outcomes)})) AS j
    WHERE outbox.id = j.id AND +outbox.lease_owner = ${owner} AND +outbox.status = 'sending'
    RETURNING outbox.id AS id`);
  return new Set(rows.map((r) => Number(r.id)));
}

/** On shutdown: rows claimed but not started go back, due at once, their claim not counted. */
export async function releaseClaims(db: Db, owner: string, ids: number[], now: number): Promise<void> {
  if (!ids.length) return;
  await db.run(sql`
    UPDATE outbox SET status = CASE WHEN attempts > 1 THEN 'retrying' ELSE 'queued' END, attempts = attempts - 1,
      lease_owner = NULL, lease_until = NULL, due_at = ${now}, updated_at = ${now}
    WHERE lease_owner = ${owner} AND status = 'sending' AND id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`);
}

export interface NewOutboxRow {
  idempotencyKey: string;
  kind: OutboxKind;
  destinationId: string;
  accountId: string;
  channel: DestinationType;
  payload?: unknown;
  dueAt: number;
}

/** Writes a message to send; a second write with the same key is a no-op (returns false). */
export function enqueueStatement(db: Db, row: NewOutboxRow, now: number) {
  return db.run(sql`
    INSERT INTO outbox (idempotency_key, kind, destination_id, account_id, channel, status, payload, due_at, created_at, updated_at)
    VALUES (${row.idempotencyKey}, ${row.kind}, ${row.destinationId}, ${row.accountId}, ${row.channel}, 'queued',
      ${row.payload === undefined ? null : JSON.stringify(row.payload)}, ${row.dueAt}, ${now}, ${now})
    ON CONFLICT (idempotency_key) DO NOTHING`);
}

export async function enqueue(db: Db, row: NewOutboxRow, now: number): Promise<boolean> {
  return (await enqueueStatement(db, row, now)).rowsAffected > 0;
}

/** The next time a queued or retrying row falls due, for the dispatcher's sleep. */
export async function nextDueAt(db: Db): Promise<number | undefined> {
  const [row] = await db.all<{ due: number | null }>(sql`
    SELECT min(t) AS due FROM (
      SELECT min(due_at) AS t FROM outbox WHERE status IN ('queued', 'retrying')
      UNION ALL SELECT min(lease_until) FROM outbox WHERE status = 'sending')`);
  return row?.due ?? undefined;
}

/** The lease owner of rows handed to a delivery queue and not yet taken by a consumer. */
export const QUEUE_OWNER = 'queue';

/**
 * Hands due rows to a delivery queue (Workers): marks them as taken by the queue for `leaseMs`
 * and returns their ids, to be sent as queue messages. Rows waiting for a retry belong to the
 * queue's own delayed retry; they come back here only if that message was lost (`lostAfterMs`
 * past due), as do rows whose lease ran out. `channels` limits it to what this edition delivers.
 */
export async function takeDueForQueue(db: Db, now: number, leaseMs: number, limit: number, channels: readonly string[], lostAfterMs = 10 * 60_000): Promise<number[]> {
  const rows = await db.all<{ id: number }>(sql`
    UPDATE outbox SET status = 'sending', lease_owner = ${QUEUE_OWNER}, lease_until = ${now + leaseMs}, updated_at = ${now}
    WHERE id IN (
      SELECT id FROM outbox
      WHERE channel IN (SELECT value FROM json_each(${JSON.stringify(channels)})) AND (
        (status = 'queued' AND due_at <= ${now})
        OR (status = 'retrying' AND due_at <= ${now - lostAfterMs})
        OR (status = 'sending' AND lease_until <= ${now}))
      LIMIT ${limit})
    RETURNING id`);
  return rows.map((r) => r.id);
}

/**
 * A queue consumer's claim of one row by id: the row the queue was handed, a retry whose time has
 * come, or a row whose lease ran out. Null when it is not there to take (sent meanwhile, or held
 * by a live consumer): the message is then done.
 */
export async function claimById(db: Db, id: number, owner: string, now: number, leaseMs: number): Promise<OutboxRow | null> {
  const [row] = await db.all<OutboxRow>(sql`
    UPDATE outbox SET status = 'sending', lease_owner = ${owner}, lease_until = ${now + leaseMs},
      attempts = attempts + 1, updated_at = ${now}
    WHERE id = ${id} AND (
      (status = 'sending' AND (lease_owner = ${QUEUE_OWNER} OR lease_until <= ${now}))
      OR (status IN ('queued', 'retrying') AND due_at <= ${now + 5_000}))
    RETURNING ${outboxRowColumns()}`);
  return row ?? null;
}

/**
 * A row its delivery queue gave up on (dead-lettered): dead, unless it got out or ended meanwhile,
 * or a live consumer holds it (a newer message for the same row is sending it).
 */
export async function giveUpQueued(db: Db, id: number, why: string, now: number): Promise<boolean> {
  const r = await db.run(sql`
    UPDATE outbox SET status = 'dead', last_error = ${why}, lease_owner = NULL, lease_until = NULL, updated_at = ${now}
    WHERE id = ${id} AND status IN ('queued', 'retrying', 'sending')
      AND NOT (status = 'sending' AND lease_owner <> ${QUEUE_OWNER} AND lease_until > ${now})`);
  return r.rowsAffected > 0;
}

/** Rows handed to the queue whose messages could not be sent: due again for the next pump. */
export async function releaseFromQueue(db: Db, ids: number[], now: number): Promise<void> {
  await db.run(sql`
    UPDATE outbox SET status = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = ${now}
    WHERE id IN (SELECT value FROM json_each(${JSON.stringify(ids)})) AND status = 'sending' AND lease_owner = ${QUEUE_OWNER}`);
}

/**
 * When the news of each row reached us (ms): an alert's (or budget notice's) earliest match,
 * written at ingest, else the row's own creation. One statement per claim, by primary key and
 * the matches_outbox index.
 */
export async function newsSince(db: Db, ids: number[]): Promise<Map<number, number>> {
  if (!ids.length) return new Map();
  const rows = await db.all<{ id: number; since: number }>(sql`
    SELECT o.id, coalesce((SELECT min(m.created_at) FROM matches m WHERE m.outbox_id = o.id), o.created_at) AS since
    FROM outbox o WHERE o.id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`);
  return new Map(rows.map((r) => [Number(r.id), Number(r.since)]));
}
