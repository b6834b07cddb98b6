import type { ChangeItem } from './message.js';
import { formatDate } from './effective-date.js';
import { isoDate, localTime } from './zoned-time.js';

/**
 * The message lifecycle: what becomes of an alert already posted in a chat channel when its
 * change is reverted or superseded. Pure: the rule is stated here once, as data, and the store
 * (src/delivery/lifecycle.ts) turns it into the one INSERT … SELECT that decides it for every
 * (change, destination) of an ingest request, as src/ingest/match.ts does for the policy.
 *
 * A change that follows up an earlier one is a *follow-up* of that alert:
 * - `reverted`: the change returns its document to a version it had recently (the flap rules'
 *   reversion, src/core/flaps.ts);
 * - `superseded`: a newer version of the same clause (the same provision id of the same
 *   document). A change that names no provision is about the document as a whole and supersedes
 *   nothing: a document changes in many places, and each change is news of its own.
 *
 * The follow-up is threaded under the alert, and the alert is edited to say so, only while that
 * alert is still **the latest word** about the document in that destination:
 * 1. the destination's channel can edit a message and reply to it (`THREADED_CHANNELS`);
 * 2. the newest message that told the destination of the document (`WORD_KINDS`: an alert, a
 *    budget summary, a follow-up) is that alert or a follow-up already threaded under it (a
 *    thread goes on as long as nothing else about the document was posted since);
 * 3. that alert was sent (the provider gave it an id), as one message (an alert split into parts
 *    has no one message to edit), within `LATEST_WORD_WINDOW` (FLAP_WINDOW_HOURS): an edit of a
 *    message days up the channel, and a reply under it, would go unseen;
 * 4. for `superseded`: the latest word carried an earlier change of that same clause.
 * Otherwise the follow-up is an alert like any other, a new message in the channel. Email and
 * webhook destinations always get a new message.
 */

/** Channels whose messages ClauseWatch can edit and reply to in a thread. */
export const THREADED_CHANNELS = ['slack', 'discord'] as const;

/** Outbox kinds that tell a destination of a document: the candidates for its latest word. */
export const WORD_KINDS = ['alert', 'budget', 'follow_up'] as const;

/** The outbox kind of a thread's first message, the one that is edited. */
export const THREAD_ROOT_KIND = 'alert';

/** Event kinds that carry a new version of a clause, and so can supersede an earlier one. */
export const SUPERSEDING_KINDS = ['changed', 'added', 'removed'] as const;

/** How long an alert stays the latest word at most: the flap window (FLAP_WINDOW_HOURS), in ms. */
export const latestWordWindowMs = (flapWindowHours: number) => flapWindowHours * 3_600_000;

/** Whether a change could follow up an earlier alert at all (most changes cannot: ingest then skips the look-up). */
export function canFollowUp(e: { kind: string; provisionId?: string; revertsToAt: number | null }): boolean {
  return e.revertsToAt !== null || (!!e.provisionId && (SUPERSEDING_KINDS as readonly string[]).includes(e.kind));
}

export type FollowUpAction = 'reverted' | 'superseded';

/** What a follow-up did to a change shown in the thread's first message. */
export interface LifecycleNote {
  action: FollowUpAction;
  /** When the follow-up was detected. */
  at: number;
  /** reverted: when the version the document went back to was first seen. */
  backToVersionOf?: number;
}

/** A follow-up threaded under an alert, as the edit needs it. */
export interface FollowUp {
  action: FollowUpAction;
  change: ChangeItem;
}

/** Which document an item is about: the producer's document id, else its title (as ingest keys documents). */
export function documentKey(c: ChangeItem): string {
  return `${c.platform.slug}\u0000${c.raw.document.id ?? c.document.title.trim().toLowerCase()}`;
}

/**
 * The notes each change of a thread's first message carries after the follow-ups (in the order
 * they were posted; a later one says what holds now). A reversion undoes the changes of its
 * document made after the version it returns to (and the change that brought that version is in
 * force again); a superseding change replaces the earlier versions of its clause.
 */
export function lifecycleNotes(root: ChangeItem[], followUps: FollowUp[]): Map<string, LifecycleNote> {
  const notes = new Map<string, LifecycleNote>();
  for (const { action, change: f } of followUps) {
    for (const c of root) {
      if (documentKey(c) !== documentKey(f) || c.detectedAt > f.detectedAt) continue;
      if (action === 'reverted') {
        if (f.revertsToAt === undefined) continue;
        // The change that brought the version returned to is in force again.
        if (c.detectedAt === f.revertsToAt) notes.delete(c.eventId);
        if (c.detectedAt <= f.revertsToAt) continue;
        notes.set(c.eventId, { action, at: f.detectedAt, backToVersionOf: f.revertsToAt });
      } else {
        if (!f.provision?.id || c.provision?.id !== f.provision.id) continue;
        notes.set(c.eventId, { action, at: f.detectedAt });
      }
    }
  }
  return notes;
}

/**
 * The sentence an edited alert shows under a struck-through change: "Reverted on 3 Dec 2026: the
 * clause is back to the version of 28 Nov 2026", "Superseded on 3 Dec 2026: the new version is in
 * the thread". Plain text: each renderer escapes it for its medium.
 */
export function lifecycleSentence(n: LifecycleNote, timeZone: string, opts: { threaded: boolean } = { threaded: true }): string {
  const day = (at: number) => formatDate(isoDate(localTime(at, timeZone)));
  if (n.action === 'reverted') {
    return `Reverted on ${day(n.at)}${n.backToVersionOf !== undefined ? `: the clause is back to the version of ${day(n.backToVersionOf)}` : ''}`;
  }
  return `Superseded on ${day(n.at)}: the new version is ${opts.threaded ? 'in the thread' : 'in a newer message'}`;
}

/**
 * In a channel that cannot edit or thread (Teams), a follow-up is a new message: the earlier
 * change, alerted to the same channel, that a change of it reverts or supersedes.
 */
export interface PriorAlert {
  action: FollowUpAction;
  original: { eventId: string; title: string; detectedAt: number };
}

/**
 * What that new message says under the change, naming the original: "Reverts “Arbitration
 * clause replaced” (detected 28 Nov 2026), alerted in this channel before". Plain text.
 */
export function priorAlertSentence(p: PriorAlert, timeZone: string): string {
  const day = formatDate(isoDate(localTime(p.original.detectedAt, timeZone)));
  return `${p.action === 'reverted' ? 'Reverts' : 'Supersedes'} “${p.original.title}” (detected ${day}), alerted in this channel before`;
}
