import { WEEKDAYS, type Weekday } from './schedule-time.js';
import { addDays, isoDate, localTime, zonedInstant } from './zoned-time.js';

/**
 * When weekly digests fall due. A digest is due for an account when a tick's instant lies in the
 * hour that starts at the account's local digest weekday and hour. Its period is the 7 local days
 * before that time (167 or 169 hours across a daylight-saving change), keyed by the local date,
 * so a repeated hour (autumn) sends nothing twice and a skipped hour (spring) moves the digest to
 * the first instant after the gap instead of dropping it.
 */
export interface DigestPeriod {
  /** The local date of the digest, e.g. 2026-11-30: with the destination, the once-only key. */
  key: string;
  start: number;
  end: number;
}

export function digestTimeOn(date: { y: number; m: number; d: number }, hour: number, timeZone: string): number {
  return zonedInstant(date.y, date.m, date.d, hour, timeZone);
}

/** The digest period a tick at `at` falls in for this schedule, or null when none is due. */
export function duePeriod(at: number, timeZone: string, weekday: Weekday, hour: number): DigestPeriod | null {
  const wanted = WEEKDAYS.indexOf(weekday);
  // The digest time of today, and of yesterday (a tick just after local midnight can still be in
  // the hour of a digest at 23:00 the day before).
  const today = localTime(at, timeZone);
  for (const back of [0, 1]) {
    const date = addDays(today.y, today.m, today.d, -back);
    const weekdayOf = (new Date(Date.UTC(date.y, date.m - 1, date.d)).getUTCDay() + 6) % 7;
    if (weekdayOf !== wanted) continue;
    const end = digestTimeOn(date, hour, timeZone);
    if (at >= end && at < end + 3_600_000) {
      const prev = addDays(date.y, date.m, date.d, -7);
      return { key: isoDate(date), start: digestTimeOn(prev, hour, timeZone), end };
    }
  }
  return null;
}

/**
 * Every (weekday, hour) schedule that is due at `at` in `timeZone`: usually one, more when the
 * tick's hour follows a skipped hour. Used to select due accounts in SQL by their schedule.
 */
export function dueSchedules(at: number, timeZone: string): { weekday: Weekday; hour: number; period: DigestPeriod }[] {
  const now = localTime(at, timeZone);
  const before = localTime(at - 3_600_000, timeZone);
  // The tick's own local hour, and any hours the clocks skipped just before it.
  const hours = new Set<number>([now.h]);
  // (A gap may start at midnight: then the skipped hours run from 0.)
  for (let h = before.d === now.d ? before.h + 1 : 0; h < now.h; h++) hours.add(h);
  const out: { weekday: Weekday; hour: number; period: DigestPeriod }[] = [];
  const weekday = WEEKDAYS[now.weekday]!;
  for (const hour of hours) {
    const p = duePeriod(at, timeZone, weekday, hour);
    if (p) out.push({ weekday, hour, period: p });
  }
  return out;
}
