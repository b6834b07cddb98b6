import type { Clock } from '../../src/core/clock.js';

/** A clock that stands still until a test moves it. */
export function fixedClock(start: string | number): Clock & { set(t: string | number): void; advance(ms: number): void } {
  let now = typeof start === 'string' ? Date.parse(start) : start;
  const clock = (() => now) as Clock & { set(t: string | number): void; advance(ms: number): void };
  clock.set = (t) => {
    now = typeof t === 'string' ? Date.parse(t) : t;
  };
  clock.advance = (ms) => {
    now += ms;
  };
  return clock;
}
