import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db.js';
import { SUPERSEDING_KINDS, THREAD_ROOT_KIND, THREADED_CHANNELS, WORD_KINDS, type FollowUp, type FollowUpAction, type PriorAlert } from '../core/lifecycle.js';
import { changeItemFromEvent } from '../core/message.js';
import type { ChangeEvent } from '../core/event.js';

const list = (values: readonly string[]): SQL =>
  sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  );

/** What a follow-up outbox row carries: the alert it is threaded under, and why. */
export interface FollowUpPayload {
  root: number;
  action: FollowUpAction;
  match: number;
}

/**
 * The condition of the `outbox_chat_words` index (db/schema.ts), spelled from the rule's lists:
 * SQLite uses a partial index only for a query that names its condition in these very literals.
 */
export const CHAT_WORDS = `kind IN (${WORD_KINDS.map((k) => `'${k}'`).join(', ')}) AND channel IN (${THREADED_CHANNELS.map((c) => `'${c}'`).join(', ')})`;

/** Whether any chat alert (or budget message or follow-up) was ever written: without one, no change can follow one up. One probe. */
export async function chatAlertsExist(db: Db): Promise<boolean> {
  const [row] = await db.all<{ n: number }>(sql`SELECT EXISTS (SELECT 1 FROM outbox INDEXED BY outbox_chat_words WHERE ${sql.raw(CHAT_WORDS)}) AS n`);
  return !!row?.n;
}

/** A change of an ingest request that could follow up an alert: its id and the clause it names. */
export interface FollowUpCandidate {
  id: string;
  provision: string | null;
}

/**
 * Threads this ingest request's reversions and superseding changes under the alerts they follow
 * up, where that alert is still the latest word (the rule of src/core/lifecycle.ts): for each
 * such pending (change, chat destination) decision, one `follow_up` outbox row (key
 * follow_up:<destination>:<match id>), due at once, and the decision grouped into it instead of
 * the destination's next alert. Set-based: two statements for the whole request, run in the
 * ingest's batch after the cancelling pairs (a change and its undo that met in a group reached
 * nobody: nothing to follow up), for the request's `candidates` only (the changes
 * `canFollowUp` picked). On an installation without chat alerts the first is one probe of
 * `outbox_chat_words`; with them, one probe per decision before anything else is read.
 */
export function threadFollowUps(db: Db, ingestId: string, now: number, windowMs: number, candidates: FollowUpCandidate[]) {
  const words = sql.raw(CHAT_WORDS);
  // The newest message in the window that told the destination of the document.
  const latestWord = sql`(
    SELECT w.id FROM outbox w INDEXED BY outbox_chat_words
    WHERE w.destination_id = m.destination_id AND ${words} AND w.created_at >= ${now - windowMs} AND w.status NOT IN ('cancelled', 'dead')
      AND EXISTS (SELECT 1 FROM matches mw JOIN events ew ON ew.pk = mw.event_pk WHERE mw.outbox_id = w.id AND ew.document_id = e.document_id AND ew.pk <> e.pk)
    ORDER BY w.created_at DESC, w.id DESC LIMIT 1)`;
  return [
    db.run(sql`
      INSERT INTO outbox (idempotency_key, kind, destination_id, account_id, channel, status, payload, due_at, created_at, updated_at)
      SELECT 'follow_up:' || c.destination_id || ':' || c.match_id, 'follow_up', c.destination_id, d.account_id, d.type, 'queued',
        json_object('root', r.id, 'action', c.action, 'match', c.match_id), ${now}, ${now}, ${now}
      FROM (
        SELECT m.id AS match_id, m.destination_id, e.pk, e.document_id, e.detected_at, j.value ->> 'provision' AS provision,
          CASE WHEN e.reverts_to_at IS NOT NULL THEN 'reverted' ELSE 'superseded' END AS action,
          ${latestWord} AS word_id
        FROM json_each(${JSON.stringify(candidates)}) j CROSS JOIN events e CROSS JOIN matches m
        WHERE EXISTS (SELECT 1 FROM outbox INDEXED BY outbox_chat_words WHERE ${words})
          AND e.id = j.value ->> 'id' AND e.ingest_id = ${ingestId}
          AND m.event_pk = e.pk AND m.alert_state = 'pending'
          AND EXISTS (SELECT 1 FROM outbox cw INDEXED BY outbox_chat_words WHERE cw.destination_id = m.destination_id AND ${words})
      ) c
      JOIN destinations d ON d.id = c.destination_id
      JOIN outbox w ON w.id = c.word_id
      JOIN outbox r ON r.id = CASE WHEN w.kind = ${THREAD_ROOT_KIND} THEN w.id WHEN w.kind = 'follow_up' THEN w.payload ->> 'root' END
      WHERE d.type IN (${list(THREADED_CHANNELS)}) AND r.kind = ${THREAD_ROOT_KIND} AND r.destination_id = c.destination_id
        AND r.status = 'sent' AND r.provider_id IS NOT NULL AND r.parts_sent <= 1 AND r.sent_at >= ${now - windowMs}
        AND (c.action = 'reverted' OR EXISTS (
          SELECT 1 FROM matches mw JOIN events ew ON ew.pk = mw.event_pk
          WHERE mw.outbox_id = w.id AND ew.document_id = c.document_id AND ew.detected_at <= c.detected_at
            AND ew.payload ->> '$.provision.id' = c.provision))
      ON CONFLICT (idempotency_key) DO NOTHING`),
    // The rows just written are the queued follow-ups due now; each names its decision.
    db.run(sql`
      UPDATE matches SET alert_state = 'grouped',
        outbox_id = (SELECT o.id FROM outbox o WHERE o.idempotency_key = 'follow_up:' || matches.destination_id || ':' || matches.id)
      WHERE alert_state = 'pending' AND id IN (
        SELECT o.payload ->> 'match' FROM outbox o WHERE o.status = 'queued' AND o.due_at = ${now} AND o.kind = 'follow_up')`),
  ];
}

/** The thread's first message (the alert to edit) and its provider id. */
export interface ThreadRoot {
  id: number;
  providerId: string;
}

/**
 * A follow-up's thread: its first message, and every follow-up threaded under it up to this one
 * (in order), each with its change: what the edited first message says.
 */
export async function readThread(db: Db, followUpId: number, payload: FollowUpPayload): Promise<{ root: ThreadRoot; followUps: FollowUp[] } | null> {
  const [root] = await db.all<{ id: number; provider_id: string | null; destination_id: string }>(sql`
    SELECT id, provider_id, destination_id FROM outbox WHERE id = ${payload.root} AND kind = ${THREAD_ROOT_KIND} AND status = 'sent'`);
  if (!root?.provider_id) return null;
  const rows = await db.all<{ id: number; action: FollowUpAction; payload: string; name: string; reverts_to_at: number | null }>(sql`
    SELECT o.id, o.payload ->> 'action' AS action, e.payload, p.name, e.reverts_to_at
    FROM outbox o JOIN matches m ON m.outbox_id = o.id JOIN events e ON e.pk = m.event_pk JOIN platforms p ON p.id = e.platform_id
    WHERE o.destination_id = ${root.destination_id} AND o.kind = 'follow_up' AND o.payload ->> 'root' = ${root.id}
      AND (o.id = ${followUpId} OR (o.id < ${followUpId} AND o.status = 'sent'))
    ORDER BY o.id, m.id`);
  return {
    root: { id: root.id, providerId: root.provider_id },
    followUps: rows.map((r) => ({ action: r.action, change: changeItemFromEvent(JSON.parse(r.payload) as ChangeEvent, r.name, r.reverts_to_at) })),
  };
}

/**
 * What a chat channel does for follow-ups, beside sending: edit a message it sent before, and
 * reply in that message's thread. A channel without it gets follow-ups as ordinary messages.
 */
export interface ThreadOps<D, M> {
  /** Replaces a message sent before; `gone` when it was deleted meanwhile (nothing to edit: not an error). */
  edit(destination: D, providerId: string, message: M): Promise<'edited' | 'gone'>;
  /**
   * Posts a message in the thread of `providerId` (as a reply where the destination has no
   * threads, e.g. a Discord webhook: a new message); null: at the channel's top level.
   */
  reply(destination: D, providerId: string | null, message: M, key: string): Promise<{ providerId: string | null }>;
}

/** The outcome of a follow-up's parts: the reply's provider id, and a note when the original was gone. */
export interface FollowUpSent {
  providerId: string | null;
  parts: number;
  /** Recorded with the row (last_error of a sent row): the original had been deleted. */
  note?: string;
}

/**
 * Sends a follow-up as parts, resumed after `partsSent` on a retry: part 0 edits the thread's
 * first message (`edit`, the alert re-rendered with its notes), parts 1… are the reply
 * (`reply`, the follow-up's changes). The original deleted meanwhile: the edit is skipped, and the
 * reply is posted at the top level so the channel still hears of it. `markPart` records each part
 * (false: the lease was lost, stop).
 */
export async function sendFollowUpParts<D, M>(o: {
  thread: ThreadOps<D, M>;
  destination: D;
  root: ThreadRoot;
  edit: M;
  reply: M[];
  partsSent: number;
  key: string;
  markPart: (partsSent: number) => Promise<boolean>;
}): Promise<FollowUpSent | 'lease_lost'> {
  let gone = false;
  let providerId: string | null = null;
  const parts = 1 + o.reply.length;
  for (let part = o.partsSent; part < parts; part++) {
    if (part === 0) gone = (await o.thread.edit(o.destination, o.root.providerId, o.edit)) === 'gone';
    else providerId = (await o.thread.reply(o.destination, gone ? null : o.root.providerId, o.reply[part - 1]!, `${o.key}-${part}`)).providerId;
    if (!(await o.markPart(part + 1))) return 'lease_lost';
  }
  return { providerId, parts, ...(gone ? { note: `the alert it follows up (outbox ${o.root.id}) was deleted in the channel: not edited, posted as a new message` } : {}) };
}


/**
 * For a channel that cannot edit or thread (Teams: a Workflows webhook answers 202 with no
 * message id, so there is nothing to edit and nothing to reply under), a reversion or superseding
 * change is a new message: this names, per change of `eventIds`, the newest earlier change of
 * its document that an alert (or budget message) sent to `destinationId` showed and that it
 * undoes (reverted: detected after the version it returns to) or replaces (superseded: the same
 * clause), so the new message can say which one. Changes that follow up nothing are left out.
 */
export async function followedUpAlerts(db: Db, destinationId: string, eventIds: string[]): Promise<Map<string, PriorAlert>> {
  const out = new Map<string, PriorAlert>();
  if (!eventIds.length) return out;
  const rows = await db.all<{ event_id: string; action: FollowUpAction; original: string | null }>(sql`
    SELECT e.id AS event_id, CASE WHEN e.reverts_to_at IS NOT NULL THEN 'reverted' ELSE 'superseded' END AS action, (
      SELECT json_object('id', pe.id, 'title', pe.title, 'detected_at', pe.detected_at)
      FROM matches pm JOIN events pe ON pe.pk = pm.event_pk JOIN outbox po ON po.id = pm.outbox_id
      WHERE pm.destination_id = ${destinationId} AND po.kind IN ('alert', 'budget') AND po.status = 'sent'
        AND pe.document_id = e.document_id AND pe.pk <> e.pk AND pe.detected_at <= e.detected_at
        AND CASE WHEN e.reverts_to_at IS NOT NULL THEN pe.detected_at > e.reverts_to_at
          ELSE e.kind IN (${list(SUPERSEDING_KINDS)}) AND pe.payload ->> '$.provision.id' = e.payload ->> '$.provision.id' END
      ORDER BY pe.detected_at DESC, pe.pk DESC LIMIT 1) AS original
    FROM events e
    WHERE e.id IN (SELECT value FROM json_each(${JSON.stringify(eventIds)}))
      AND (e.reverts_to_at IS NOT NULL OR e.payload ->> '$.provision.id' IS NOT NULL)`);
  for (const r of rows) {
    if (!r.original) continue;
    const o = JSON.parse(r.original) as { id: string; title: string; detected_at: number };
    out.set(r.event_id, { action: r.action, original: { eventId: o.id, title: o.title, detectedAt: o.detected_at } });
  }
  return out;
}
