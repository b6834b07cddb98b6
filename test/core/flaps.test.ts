import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { judgeVersions, revertTargets, type VersionEvent } from '../../src/core/flaps.js';

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
  canFlip: true,
  ...extra,
});

describe('flap detection', () => {
  it('calls a return to a recent version a reversion, dated by when that version appeared, undoing the change before it', () => {
    const first = ev(0, null, A, { kind: 'first_recorded', canFlip: false });
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
    const first = ev(0, null, A, { kind: 'first_recorded', canFlip: false });
    const change = ev(5, null, B);
    const back = ev(6, null, A);
    expect(judgeVersions([first, change], null, [back], W).verdicts.get(back.id)).toMatchObject({ revertsToAt: 0, undoesId: change.id });
  });

  it('forgets a change and its undo that cancel out in one batch: going back to that version is news', () => {
    const e1 = ev(1, A, B);
    const e2 = ev(2, B, A);
    const e3 = ev(3, A, B);
    const { verdicts } = judgeVersions([], null, [e3, e1, e2], W);
    expect(verdicts.get(e1.id)!.revertsToAt).toBeNull();
    expect(verdicts.get(e2.id)).toMatchObject({ undoesId: e1.id });
    // Nobody heard of B (its change was cancelled), so B now is a change, not a reversion.
    expect(verdicts.get(e3.id)).toEqual({ revertsToAt: null, undoesId: null, flapping: false });
  });

  it('marks a document flapping past 3 flips in the window, and lets a new version through', () => {
    const flips = [ev(0, A, B), ev(6, B, A), ev(12, A, B), ev(18, B, A), ev(24, A, B), ev(30, B, A)];
    // Each flip arrives on its own (a capture run apart, so no pair meets in one alert group).
    const verdicts = new Map<string, ReturnType<typeof judgeVersions>['verdicts'] extends Map<string, infer V> ? V : never>();
    let flappingSince: number | null = null;
    const history: VersionEvent[] = [];
    for (const f of flips) {
      const out = judgeVersions(history, flappingSince, [f], W);
      verdicts.set(f.id, out.verdicts.get(f.id)!);
      flappingSince = out.flappingSince;
      history.push({ ...f, revertsToAt: out.verdicts.get(f.id)!.revertsToAt });
    }
    expect(flips.map((f) => verdicts.get(f.id)!.revertsToAt !== null)).toEqual([false, true, true, true, true, true]);
    expect(flips.map((f) => verdicts.get(f.id)!.flapping)).toEqual([false, false, false, false, true, true]);
    expect(flappingSince).toBe(24 * H);
    const fresh = ev(31, A, C);
    expect(judgeVersions(history, flappingSince, [fresh], W).verdicts.get(fresh.id)).toEqual({ revertsToAt: null, undoesId: null, flapping: false });
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

  it('counts stillness from the last flip: link rotations and other versions do not keep a document flapping', () => {
    const flips = [ev(0, A, B), ev(6, B, A), ev(12, A, B), ev(18, B, A), ev(24, A, B)].map((e, i) => ({ ...e, revertsToAt: i ? 0 : null }));
    // Daily link-id rotations for ten days after the last flip: stored versions, but no flips.
    const rotations = Array.from({ length: 10 }, (_, i) => ev(30 + 24 * i, i ? `r${i - 1}`.padEnd(64, '0') : B, `r${i}`.padEnd(64, '0'), { canFlip: false }));
    const change = ev(30 + 24 * 10, 'r9'.padEnd(64, '0'), C);
    const undo = ev(30 + 24 * 10 + 5, C, 'r9'.padEnd(64, '0'));
    const { verdicts } = judgeVersions([...flips, ...rotations, change], 24 * H, [undo], W);
    expect(verdicts.get(undo.id)).toMatchObject({ flapping: false });
    expect(verdicts.get(undo.id)!.revertsToAt).not.toBeNull();
  });

  it('ignores re-extractions, link-only changes and first records as flips, but keeps their versions', () => {
    const first = ev(0, null, A, { kind: 'first_recorded', canFlip: false });
    const tech = ev(1, A, B, { canFlip: false });
    const back = ev(2, B, A, { canFlip: false });
    const { verdicts } = judgeVersions([first, tech], null, [back], W);
    expect(verdicts.get(back.id)!.revertsToAt).toBeNull();
  });

  it('judges a batch without history alike unless the history holds a hash it could revert to (what lets ingest skip reading it)', () => {
    // A small alphabet of hashes, so that histories and batches often share some.
    const hash = fc.constantFrom(A, B, C, 'd'.repeat(64));
    const event = (prefix: string) =>
      fc.record({
        id: fc.integer({ min: 0, max: 1e9 }).map((i) => `${prefix}${i}`),
        at: fc.integer({ min: 0, max: 100 }).map((h) => h * H),
        kind: fc.oneof({ weight: 4, arbitrary: fc.constant('changed') }, fc.constantFrom('added', 'removed', 'first_recorded', 'restored', 'unreachable')),
        sha256: fc.option(hash, { nil: null }),
        previousSha256: fc.option(hash, { nil: null }),
        revertsToAt: fc.option(fc.integer({ min: 0, max: 200 }).map((h) => h * H), { nil: null }),
        canFlip: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, fc.constant(false)),
      });
    const unique = (es: VersionEvent[]) => [...new Map(es.map((e) => [e.id, e])).values()];
    let skipped = 0;
    fc.assert(
      fc.property(fc.array(event('h'), { maxLength: 10 }).map(unique), fc.array(event('n'), { minLength: 1, maxLength: 4 }).map(unique), (history, incoming) => {
        const { targets, withinBatch } = revertTargets(incoming);
        const holds = history.some((h) => h.sha256 !== null && (targets.includes(h.sha256) || targets.includes(h.previousSha256 ?? '')));
        if (withinBatch || holds) return true;
        skipped++;
        const fresh = () => incoming.map((e) => ({ ...e, revertsToAt: null }));
        const withHistory = judgeVersions(history, null, fresh(), W);
        const without = judgeVersions([], null, fresh(), W);
        return withHistory.flappingSince === without.flappingSince && JSON.stringify([...withHistory.verdicts]) === JSON.stringify([...without.verdicts]);
      }),
      { numRuns: 5000 },
    );
    expect(skipped).toBeGreaterThan(100);
  });
});

