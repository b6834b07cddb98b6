/**
 * Wall-clock time in an IANA zone, with Intl only (the same zone database on Node and Workers).
 */
export interface LocalTime {
  y: number;
  m: number; // 1–12
  d: number;
  h: number;
  min: number;
  /** 0 = monday … 6 = sunday */
  weekday: number;
}

const parts = new Map<string, Intl.DateTimeFormat>();
function fmt(timeZone: string): Intl.DateTimeFormat {
  let f = parts.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    parts.set(timeZone, f);
  }
  return f;
}

export function localTime(at: number, timeZone: string): LocalTime {
  const p: Record<string, number> = {};
  for (const x of fmt(timeZone).formatToParts(at)) if (x.type !== 'literal') p[x.type] = Number(x.value);
  const y = p.year!;
  const m = p.month!;
  const d = p.day!;
  const weekday = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7;
  return { y, m, d, h: p.hour!, min: p.minute!, weekday };
}

/** The zone's offset from UTC at `at`, in ms (Berlin in winter: +3,600,000). */
export function zoneOffset(at: number, timeZone: string): number {
  const l = localTime(at, timeZone);
  const sec = Math.floor((at / 1000) % 60);
  return Date.UTC(l.y, l.m - 1, l.d, l.h, l.min, sec) - Math.floor(at / 1000) * 1000;
}

/**
 * The instant of a local wall-clock time. A time that does not exist (skipped by a spring-forward
 * change) resolves to the first instant after the gap; a time that exists twice (fall-back) to
 * the first of the two. So a local schedule neither skips nor repeats a day.
 */
export function zonedInstant(y: number, m: number, d: number, h: number, timeZone: string): number {
  const wall = Date.UTC(y, m - 1, d, h);
  // Offsets before and after the moment; try both, keep those that read back as the wall time.
  const candidates = [wall - zoneOffset(wall - 86_400_000, timeZone), wall - zoneOffset(wall + 86_400_000, timeZone), wall - zoneOffset(wall, timeZone)];
  const exact = candidates.filter((t) => {
    const l = localTime(t, timeZone);
    return l.y === y && l.m === m && l.d === d && l.h === h && l.min === 0;
  });
  if (exact.length) return Math.min(...exact);
  // In a gap the wall time never happens: the answer is the change itself, the first instant
  // after the gap. Read with the offset from after the change, the wall time falls before it;
  // with the one from before, after it, and exactly on it only when the gap starts on the hour
  // (Chatham's 02:45 → 03:45 does not: 03:00 read so is 04:00). The change lies between the two.
  const before = zoneOffset(wall - 86_400_000, timeZone);
  let lo = wall - zoneOffset(wall + 86_400_000, timeZone);
  let hi = wall - before;
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (zoneOffset(mid, timeZone) === before) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** The calendar date `days` after y-m-d (proleptic Gregorian, no zone involved). */
export function addDays(y: number, m: number, d: number, days: number): { y: number; m: number; d: number } {
  const t = new Date(Date.UTC(y, m - 1, d + days));
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
}

export const isoDate = (x: { y: number; m: number; d: number }) =>
  `${x.y}-${String(x.m).padStart(2, '0')}-${String(x.d).padStart(2, '0')}`;
