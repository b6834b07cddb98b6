/**
 * Flap detection: pages that flip between versions they already had. Pure: the ingest hands in a
 * document's recent history and the new events, and stores what this decides.
 *
 * - A *reversion* returns the document to a content hash it had within the window. It is shown as
 *   "reverted to the version of <date>" at low severity, never as a new change.
 * - A reversion *undoes* the event just before it when that event went the opposite way (A→B, then
 *   B→A): when both meet in one alert group they cancel out.
 * - A document with more than `MAX_FLIPS` reversions inside the window is *flapping*: its further
 *   reversions go to the digest only, until it has been still for a whole window.
 */

/** More reversions than this inside the window make a document flapping. */
export const MAX_FLIPS = 3;

export interface VersionEvent {
  id: string;
  /** detected_at, ms. */
  at: number;
  kind: string;
  sha256: string | null;
  previousSha256: string | null;
  /** Already judged a reversion (history rows carry what was stored). */
  revertsToAt: number | null;
  /** False for events that cannot be a flip (first records, re-extractions, link-only changes). */
  canFlip: boolean;
}

export interface FlapVerdict {
  revertsToAt: number | null;
  undoesId: string | null;
  /** The document is flapping and this is one more flip: digest only. */
  flapping: boolean;
}

export interface FlapOutcome {
  verdicts: Map<string, FlapVerdict>;
  /** The document's flapping state after these events (null: not flapping). */
  flappingSince: number | null;
}

/** Kinds that carry a version of the document (an unreachable page carries none). */
const CARRIES_VERSION = new Set(['changed', 'added', 'removed', 'first_recorded', 'restored']);
const CAN_FLIP = new Set(['changed', 'added', 'removed']);

/**
 * Judges `incoming` (any order) against `history` (the document's stored events, at least two
 * windows back, without pairs that cancelled out). Events of the batch are judged in time order,
 * each against everything before it.
 */
export function judgeVersions(history: VersionEvent[], flappingSince: number | null, incoming: VersionEvent[], windowMs: number): FlapOutcome {
  const verdicts = new Map<string, FlapVerdict>();
  const timeline = history.filter(carriesVersion).sort(byTime);
  const fresh = new Set(incoming.map((e) => e.id));
  // Events already paired as change + undo with an earlier stored event: not undone again.
  const paired = new Set<string>();
  let state = flappingSince;

  for (const e of [...incoming].sort(byTime)) {
    // The timeline holds history and the batch's events judged so far, never `e` itself.
    const before = timeline.filter((x) => x.at <= e.at);
    const last = before[before.length - 1];
    // No flip for a whole window: no longer flapping (link rotations and the like do not count).
    const lastFlip = findLast(before, (x) => x.revertsToAt !== null);
    if (state !== null && (!lastFlip || lastFlip.at <= e.at - windowMs)) state = null;

    const verdict: FlapVerdict = { revertsToAt: null, undoesId: null, flapping: false };
    if (mayRevert(e)) {
      const target = e.sha256!;
      const prev = e.previousSha256 ?? last?.sha256 ?? null;
      if (prev && prev !== target) {
        const left = lastLeave(before, target, e.at - windowMs);
        if (left) {
          const intro = findLast(before, (x) => x.sha256 === target && x.at <= left.at);
          verdict.revertsToAt = intro?.at ?? left.at;
          if (last && last.canFlip && CAN_FLIP.has(last.kind) && last.sha256 === prev && previousOf(before, last) === target && !paired.has(last.id)) {
            verdict.undoesId = last.id;
            if (fresh.has(last.id)) {
              // Both in this batch, so both wait in one alert group and cancel out: the version
              // between them reached nobody, and the document's history forgets it.
              timeline.splice(timeline.indexOf(last), 1);
              verdicts.set(e.id, verdict);
              continue;
            }
            paired.add(e.id);
          }
          const flips = before.filter((x) => x.revertsToAt !== null && x.at > e.at - windowMs).length + 1;
          if (flips > MAX_FLIPS && state === null) state = e.at;
          verdict.flapping = state !== null;
        }
      }
    }
    verdicts.set(e.id, verdict);
    if (carriesVersion(e)) insertByTime(timeline, { ...e, revertsToAt: verdict.revertsToAt });
  }
  return { verdicts, flappingSince: state };
}

/** An event that can be a reversion: a flip of content (not noise), with its hash. */
function mayRevert(e: VersionEvent): boolean {
  return e.canFlip && CAN_FLIP.has(e.kind) && !!e.sha256;
}

/**
 * What a document's history must hold for `judgeVersions` to find any reversion among
 * `incoming`: a reversion returns to a hash the document left, so one of `targets` (the hashes
 * incoming changes bring) must be some event's hash or previous hash. `withinBatch`: the batch's
 * own events may already pair up. Unless one of those holds, or the document is flapping (its
 * state can end), the history changes nothing: every verdict is "no reversion" and the state
 * stays not flapping, exactly as judged without history.
 */
export function revertTargets(incoming: VersionEvent[]): { targets: string[]; withinBatch: boolean } {
  const hashes = new Map<string, number>();
  const left = new Set<string>();
  for (const e of incoming) {
    if (e.sha256) hashes.set(e.sha256, (hashes.get(e.sha256) ?? 0) + 1);
    if (e.previousSha256) left.add(e.previousSha256);
  }
  const targets = [...new Set(incoming.filter(mayRevert).map((e) => e.sha256!))];
  return { targets, withinBatch: targets.some((t) => hashes.get(t)! > 1 || left.has(t)) };
}

function carriesVersion(e: VersionEvent): boolean {
  return CARRIES_VERSION.has(e.kind) && !!e.sha256;
}

/** The hash an event left: its own previous_sha256, else the version of the event before it. */
function previousOf(timeline: VersionEvent[], x: VersionEvent): string | null {
  if (x.previousSha256) return x.previousSha256;
  const i = timeline.indexOf(x);
  return i > 0 ? timeline[i - 1]!.sha256 : null;
}

/** The latest event at or after `since` that moved the document away from `hash`. */
function lastLeave(timeline: VersionEvent[], hash: string, since: number): VersionEvent | undefined {
  for (let i = timeline.length - 1; i >= 0 && timeline[i]!.at >= since; i--) {
    const x = timeline[i]!;
    if (x.sha256 !== hash && previousOf(timeline, x) === hash) return x;
  }
  return undefined;
}

function findLast<T>(list: T[], test: (x: T) => boolean): T | undefined {
  for (let i = list.length - 1; i >= 0; i--) if (test(list[i]!)) return list[i];
  return undefined;
}

function byTime(a: VersionEvent, b: VersionEvent): number {
  return a.at - b.at;
}

function insertByTime(timeline: VersionEvent[], e: VersionEvent): void {
  let i = timeline.length;
  while (i > 0 && timeline[i - 1]!.at > e.at) i--;
  timeline.splice(i, 0, e);
}
