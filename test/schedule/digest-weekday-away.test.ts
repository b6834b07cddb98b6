import { describe, expect, it } from 'vitest';
import { duePeriod } from '../../src/core/digest-schedule.js';
import { digestWeekdayAwayFrom } from '../support/clock.js';

// The tests and benchmarks that count alerts from a process on the wall clock seed their
// accounts with this weekday; a digest falling due during them would add mails they do not expect.
describe('the digest weekday tests give accounts on the wall clock', () => {
  it('is not due from six hours before a start (the catch-up) to a day after, at any hour of the week, in any zone', () => {
    const zones = ['UTC', 'Pacific/Kiritimati', 'Pacific/Pago_Pago', 'Asia/Kathmandu', 'America/New_York', 'Australia/Lord_Howe'];
    const monday = Date.parse('2026-12-07T00:00:00Z');
    for (let start = monday; start < monday + 7 * 86_400_000; start += 3_600_000) {
      const weekday = digestWeekdayAwayFrom(start);
      for (const tz of zones)
        for (const hour of [0, 9, 23])
          // Hourly ticks on the UTC hour: every digest hour, an hour long, holds one of them.
          for (let t = start - 6 * 3_600_000; t < start + 86_400_000; t += 3_600_000)
            expect(duePeriod(t, tz, weekday, hour), `${weekday} ${hour}:00 ${tz}, started ${new Date(start).toISOString()}`).toBeNull();
    }
  });
});
