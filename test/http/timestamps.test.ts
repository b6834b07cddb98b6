import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { INGEST_TOKEN, makeEvent, testApp, type TestApp } from '../support/app.js';
import { parseTimestamp } from '../../src/core/event.js';

// The clock stands on 2026-11-20T07:00:00Z.
let t: TestApp;
beforeEach(async () => {
  t = await testApp();
});
afterEach(() => t.dispose());

const count = async (table: string) => (await t.db.all<{ n: number }>(sql.raw(`SELECT count(*) AS n FROM ${table}`)))[0]!.n;
const verify = (checks: unknown) => t.call('POST', '/v1/verifications', { checks }, INGEST_TOKEN);
const LEAP = '2026-11-19T23:59:60Z';

describe('observation times from the future', () => {
  it('refuse a detected_at more than 5 minutes ahead of the clock with 400 naming the field, and store nothing', async () => {
    const single = await t.ingest(makeEvent({ id: 'f', detected_at: '2026-11-20T07:05:01Z' }));
    expect(single.status).toBe(400);
    expect(single.json.issues).toEqual([{ path: 'detected_at', message: expect.stringContaining('not more than 5 minutes in the future') }]);
    const batch = await t.ingest({ events: [makeEvent({ id: 'ok', detected_at: '2026-11-20T06:00:00Z' }), makeEvent({ id: 'f', detected_at: '2027-01-01T00:00:00+01:00' })] });
    expect(batch.status).toBe(400);
    expect(batch.json.issues).toEqual([{ path: 'events.1.detected_at', message: expect.stringContaining('in the future') }]);
    expect(await count('events')).toBe(0);
    // Within 5 minutes (a producer's clock running a little fast) is taken.
    expect((await t.ingest(makeEvent({ id: 'skew', detected_at: '2026-11-20T07:04:59Z' }))).status).toBe(202);
  });

  it('refuse a checked_at more than 5 minutes ahead, which would silence the stale check of its document', async () => {
    await t.ingest(makeEvent({ id: 'seen', detected_at: '2026-11-20T06:00:00Z' }));
    const r = await verify([
      { platform: 'openai', document: 'OpenAI Terms of Use', checked_at: '2026-11-20T07:00:00Z' },
      { platform: 'openai', document: 'OpenAI Terms of Use', checked_at: '2030-01-01T00:00:00Z' },
    ]);
    expect(r.status).toBe(400);
    expect(r.json.issues).toEqual([{ path: 'checks.1.checked_at', message: expect.stringContaining('in the future') }]);
    const [doc] = await t.db.all<{ last_verified_at: number | null }>(sql`SELECT last_verified_at FROM documents WHERE title = 'OpenAI Terms of Use'`);
    expect(doc!.last_verified_at).toBeNull();
    expect((await verify([{ platform: 'openai', document: 'OpenAI Terms of Use', checked_at: '2026-11-20T07:04:00Z' }])).status).toBe(202);
  });
});

describe('leap seconds (23:59:60)', () => {
  it('are refused with 400 naming the field in every timestamp field, never a 500', async () => {
    const event = await t.ingest(makeEvent({ id: 'leap', detected_at: LEAP }));
    expect(event.status).toBe(400);
    expect(event.json.issues).toEqual([{ path: 'detected_at', message: expect.stringContaining('leap second') }]);
    const check = await verify([{ platform: 'openai', document: 'OpenAI Terms of Use', checked_at: LEAP }]);
    expect(check.status).toBe(400);
    expect(check.json.issues[0].path).toBe('checks.0.checked_at');
    const list = await t.call('GET', `/v1/events?since=${encodeURIComponent(LEAP)}`);
    expect(list.status).toBe(400);
    expect(list.json.issues[0].path).toBe('since');
    const run = await t.call('POST', '/v1/digests/run', { at: LEAP });
    expect(run.status).toBe(400);
    expect(run.json.issues[0].path).toBe('at');
    expect(await count('events')).toBe(0);
  });

  it('leave the one parser agreeing with the calendar for every other RFC 3339 time', () => {
    const two = (n: number) => String(n).padStart(2, '0');
    fc.assert(
      fc.property(
        fc.record({
          y: fc.integer({ min: 0, max: 9999 }),
          mo: fc.integer({ min: 1, max: 12 }),
          d: fc.integer({ min: 1, max: 31 }),
          h: fc.integer({ min: 0, max: 23 }),
          mi: fc.integer({ min: 0, max: 59 }),
          s: fc.integer({ min: 0, max: 60 }),
          frac: fc.option(fc.stringMatching(/^[0-9]{1,9}$/), { nil: undefined }),
          off: fc.option(fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }), { nil: undefined }),
          lower: fc.boolean(),
        }),
        (c) => {
          const offset = c.off === undefined ? 'Z' : `${c.off < 0 ? '-' : '+'}${two(Math.floor(Math.abs(c.off) / 60))}:${two(Math.abs(c.off) % 60)}`;
          let text = `${String(c.y).padStart(4, '0')}-${two(c.mo)}-${two(c.d)}T${two(c.h)}:${two(c.mi)}:${two(c.s)}${c.frac ? `.${c.frac}` : ''}${offset}`;
          if (c.lower) text = text.toLowerCase();
          const got = parseTimestamp(text);
          const real = new Date(Date.UTC(2000, c.mo - 1, c.d));
          real.setUTCFullYear(c.y);
          const dayExists = real.getUTCMonth() === c.mo - 1;
          if (c.s === 60 || !dayExists) return got === null;
          real.setUTCHours(c.h, c.mi - (c.off ?? 0), c.s, Number((c.frac ?? '0').padEnd(3, '0').slice(0, 3)));
          return got === real.getTime();
        },
      ),
      { numRuns: 2000 },
    );
  });
});
