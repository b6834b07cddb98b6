import { describe, expect, it } from 'vitest';
import { judgeVersions, type VersionEvent } from '../../src/core/flaps.js';

const H = 3_600_000;
const W = 72 * H;
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

let n = 0;
/** An event moving the document from `from` to `to`, `hours` after the start. */
const ev = (hours: number, from: string | null, to: string, extra: Partial<VersionEvent> = {}): VersionEvent => ({
  id: `e${++n}`,
  at: hours * H,
  kind: 'changed',
  sha256: to,
  previousSha256: from,
  revertsToAt: null,
  judged: true,
  ...extra,
});

describe('flap detection', () => {
  it('calls a return to a recent version a reversion, dated by when that version appeared, undoing the change before it', () => {
    const first = ev(0, null, A, { kind: 'first_recorded', judged: false });
    const change = ev(10, A, B);
    const back = ev(20, B, A);
    const { verdicts } = judgeVersions([first, change], null, [back], W);
    expect(verdicts.get(back.id)).toEqual({ revertsToAt: 0, undoesId: change.id, flapping: false });
  });

  it('is not a reversion when the version was left longer than the window ago', () => {
    const change = ev(0, A, B);
    const back = ev(80, B, A);
    expect(judgeVersions([change], null, [back], W).verdicts.get(back.id)!.revertsToAt).toBeNull();
  });

  it('finds the previous version from the history when the event does not name it', () => {
    const first = ev(0, null, A, { kind: 'first_recorded', judged: false });
    const change = ev(5, null, B);
    const back = ev(6, null, A);
    expect(judgeVersions([first, change], null, [back], W).verdicts.get(back.id)).toMatchObject({ revertsToAt: 0, undoesId: change.id });
  });

  it('pairs a change with one undo only, inside a batch (A→B→A→B leaves the last flip standing)', () => {
    const e1 = ev(1, A, B);
    const e2 = ev(2, B, A);
    const e3 = ev(3, A, B);
    const { verdicts } = judgeVersions([], null, [e3, e1, e2], W);
    expect(verdicts.get(e1.id)!.revertsToAt).toBeNull();
    expect(verdicts.get(e2.id)).toMatchObject({ undoesId: e1.id });
    expect(verdicts.get(e3.id)).toMatchObject({ revertsToAt: 1 * H, undoesId: null });
  });

  it('marks a document flapping past 3 flips in the window, and lets a new version through', () => {
    const flips = [ev(0, A, B), ev(6, B, A), ev(12, A, B), ev(18, B, A), ev(24, A, B), ev(30, B, A)];
    const { verdicts, flappingSince } = judgeVersions([], null, flips, W);
    expect(flips.map((f) => verdicts.get(f.id)!.revertsToAt !== null)).toEqual([false, true, true, true, true, true]);
    expect(flips.map((f) => verdicts.get(f.id)!.flapping)).toEqual([false, false, false, false, true, true]);
    expect(flappingSince).toBe(24 * H);
    const fresh = ev(31, A, C);
    expect(judgeVersions(flips, flappingSince, [fresh], W).verdicts.get(fresh.id)).toEqual({ revertsToAt: null, undoesId: null, flapping: false });
  });

  it('stays flapping while flips continue, and stops after a whole window of stillness', () => {
    const history = [ev(0, A, B), ev(6, B, A), ev(12, A, B), ev(18, B, A), ev(24, A, B)].map((e, i) => ({ ...e, revertsToAt: i ? 0 : null }));
    // A slower flip, 60 h later: fewer than 4 flips in its window, but the document has not been still.
    const slow = ev(84, B, A);
    expect(judgeVersions(history, 24 * H, [slow], W).verdicts.get(slow.id)!.flapping).toBe(true);
    // After more than a window with no change at all, a flip is a plain reversion again.
    const later = ev(24 + 73, B, A);
    const outcome = judgeVersions(history, 24 * H, [later], W);
    expect(outcome.verdicts.get(later.id)).toMatchObject({ flapping: false });
    expect(outcome.flappingSince).toBeNull();
  });

  it('ignores re-extractions, link-only changes and first records as flips, but keeps their versions', () => {
    const first = ev(0, null, A, { kind: 'first_recorded', judged: false });
    const tech = ev(1, A, B, { judged: false });
    const back = ev(2, B, A, { judged: false });
    const { verdicts } = judgeVersions([first, tech], null, [back], W);
    expect(verdicts.get(back.id)!.revertsToAt).toBeNull();
  });
});
