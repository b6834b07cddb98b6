import type { Clock } from '../../src/core/clock.js';
import { WEEKDAYS, type Weekday } from '../../src/core/schedule-time.js';

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

/**
 * A digest weekday three days from `now` (UTC): no digest tick of a process started now, nor its
 * six hours of catching up, falls in that day's digest hour in any time zone. For tests and
 * benchmarks on the wall clock that count alert deliveries, which must not depend on the day
 * they run (on a Monday after 09:00 UTC the default schedule's digests would join them).
 */
export function digestWeekdayAwayFrom(now: number = Date.now()): Weekday {
  const today = (new Date(now).getUTCDay() + 6) % 7;
  return WEEKDAYS[(today + 3) % 7]!;
}
