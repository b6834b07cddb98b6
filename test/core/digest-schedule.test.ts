import { describe, expect, it } from 'vitest';
import { duePeriod, dueSchedules } from '../../src/core/digest-schedule.js';
import { zonedInstant } from '../../src/core/zoned-time.js';

const iso = (t: number) => new Date(t).toISOString();
const hours = (p: { start: number; end: number }) => (p.end - p.start) / 3_600_000;

/** Every tick of a week, every 5 minutes: the digests that would be sent. */
function ticks(fromIso: string, days: number, tz: string, weekday: 'monday' | 'sunday', hour: number) {
  const sent = new Set<string>();
  const periods: { key: string; start: number; end: number }[] = [];
  for (let t = Date.parse(fromIso); t < Date.parse(fromIso) + days * 86_400_000; t += 5 * 60_000) {
    const p = duePeriod(t, tz, weekday, hour);
    if (p && !sent.has(p.key)) {
      sent.add(p.key);
      periods.push(p);
    }
  }
  return periods;
}

describe('weekly digest schedule', () => {
  it('is due during the local digest hour, for the 7 days before', () => {
    const p = duePeriod(Date.parse('2026-11-30T08:10:00Z'), 'Europe/Berlin', 'monday', 9);
    expect(p).toEqual({ key: '2026-11-30', start: Date.parse('2026-11-23T08:00:00Z'), end: Date.parse('2026-11-30T08:00:00Z') });
    expect(duePeriod(Date.parse('2026-11-30T07:59:00Z'), 'Europe/Berlin', 'monday', 9)).toBeNull();
    expect(duePeriod(Date.parse('2026-11-30T09:00:00Z'), 'Europe/Berlin', 'monday', 9)).toBeNull();
  });

  it('neither skips nor repeats a digest across the spring change in America/New_York', () => {
    // DST starts Sunday 8 March 2026 at 02:00 local.
    const periods = ticks('2026-03-01T00:00:00Z', 21, 'America/New_York', 'monday', 9);
    expect(periods.map((p) => p.key)).toEqual(['2026-03-02', '2026-03-09', '2026-03-16']);
    expect(iso(periods[1]!.end)).toBe('2026-03-09T13:00:00.000Z'); // 09:00 EDT
    expect(hours(periods[1]!)).toBe(167);
    expect(hours(periods[2]!)).toBe(168);
    expect(periods[1]!.start).toBe(periods[0]!.end); // periods meet exactly
  });

  it('neither skips nor repeats a digest across the autumn change in Europe/Berlin', () => {
    // DST ends Sunday 25 October 2026 at 03:00 local (02:00–03:00 happens twice).
    const periods = ticks('2026-10-15T00:00:00Z', 21, 'Europe/Berlin', 'monday', 9);
    expect(periods.map((p) => p.key)).toEqual(['2026-10-19', '2026-10-26', '2026-11-02']);
    expect(hours(periods[1]!)).toBe(169);
    expect(periods[2]!.start).toBe(periods[1]!.end);
  });

  it('sends a digest set inside a skipped hour once, just after the gap', () => {
    // Berlin skips 02:00–03:00 on Sunday 29 March 2026.
    const periods = ticks('2026-03-22T00:00:00Z', 15, 'Europe/Berlin', 'sunday', 2);
    expect(periods.map((p) => p.key)).toEqual(['2026-03-22', '2026-03-29', '2026-04-05']);
    expect(iso(periods[1]!.end)).toBe('2026-03-29T01:00:00.000Z'); // 03:00 CEST, right after the jump
  });

  it('sends a midnight digest on the day the clocks skip midnight (America/Santiago)', () => {
    // Chile moves from 00:00 to 01:00 on Sunday 6 September 2026.
    const periods = ticks('2026-09-05T00:00:00Z', 3, 'America/Santiago', 'sunday', 0);
    expect(periods.map((p) => p.key)).toEqual(['2026-09-06']);
  });

  it('sends a digest set inside a repeated hour once', () => {
    // Berlin repeats 02:00–03:00 on Sunday 25 October 2026.
    const periods = ticks('2026-10-18T00:00:00Z', 15, 'Europe/Berlin', 'sunday', 2);
    expect(periods.map((p) => p.key)).toEqual(['2026-10-18', '2026-10-25', '2026-11-01']);
  });

  it('resolves local times to instants', () => {
    expect(iso(zonedInstant(2026, 11, 30, 9, 'Asia/Kolkata'))).toBe('2026-11-30T03:30:00.000Z');
    expect(iso(zonedInstant(2026, 7, 6, 9, 'America/Los_Angeles'))).toBe('2026-07-06T16:00:00.000Z');
  });

  it('lists the schedules due at an instant, for selecting accounts in SQL', () => {
    const due = dueSchedules(Date.parse('2026-11-30T08:30:00Z'), 'Europe/Berlin');
    expect(due.map((d) => [d.weekday, d.hour])).toEqual([['monday', 9]]);
  });
});

describe('due schedules', () => {
  it('include an hour the clocks skipped', () => {
    // 03:30 CEST on 29 March 2026: 02:00 never happened in Berlin.
    const due = dueSchedules(Date.parse('2026-03-29T01:30:00Z'), 'Europe/Berlin');
    expect(due.map((d) => [d.weekday, d.hour]).sort()).toEqual([
      ['sunday', 2],
      ['sunday', 3],
    ]);
  });

  it('agree with duePeriod for every schedule over a week, in several zones', () => {
    for (const tz of ['UTC', 'America/New_York', 'Asia/Kathmandu', 'Australia/Lord_Howe']) {
      for (let t = Date.parse('2026-10-01T00:00:00Z'); t < Date.parse('2026-10-08T00:00:00Z'); t += 20 * 60_000) {
        const listed = new Set(dueSchedules(t, tz).map((d) => `${d.weekday}:${d.hour}`));
        for (const wd of ['monday', 'thursday', 'sunday'] as const) {
          for (const h of [0, 2, 9, 23]) expect(listed.has(`${wd}:${h}`)).toBe(duePeriod(t, tz, wd, h) !== null);
        }
      }
    }
  });
});
