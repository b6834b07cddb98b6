import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { tempDatabase, type TempDatabase } from '../support/db.js';
import { fixedClock } from '../support/clock.js';
import { makeEvent } from '../support/app.js';
import { parseEventBody } from '../../src/core/event.js';
import { ingestEvents } from '../../src/ingest/ingest.js';
import { enqueueDueDigests } from '../../src/schedule/digests.js';
import { createAccount, updateAccount } from '../../src/store/accounts.js';
import { createDestination } from '../../src/store/destinations.js';
import { subscribe } from '../../src/store/subscriptions.js';

let database: TempDatabase | undefined;
afterEach(() => {
  database?.dispose();
  database = undefined;
});

describe('a late change after the digest day moved earlier', () => {
  // Was a defect (digestTakes asked that the earlier digest end by the new period's start): a change
  // detected in last week's period that arrived after last week's digest was carried into the
  // next digest only when that digest's period started at or after last week's end. Moving the
  // digest day earlier (Monday to Friday) makes the next period start before it, and a late
  // change detected before that start was closed as not digested: the subscriber never heard of it.
  it('still reaches the free subscriber in the next digest', async () => {
    database = await tempDatabase();
    const { db } = database;
    const clock = fixedClock('2026-11-30T08:00:00Z');
    const [openai] = await db.all<{ id: number }>(sql`SELECT id FROM platforms WHERE slug = 'openai'`);
    const account = await createAccount(db, clock, { name: 'Acme', plan: 'free', timezone: 'UTC', digestWeekday: 'monday', digestHour: 9, reminderDays: 7, emptyDigest: true });
    const { destination } = await createDestination(db, clock, account.id, { type: 'email', address: 'legal@acme.test' }, 'active');
    await subscribe(db, clock, { accountId: account.id, plan: 'free', destinationId: destination.id, platformId: openai!.id, minSeverity: 'low', categories: null });
    const ingest = async (id: string, detected: string) => {
      const parsed = parseEventBody(makeEvent({ id, detected_at: detected }), clock());
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
      await ingestEvents({ db, clock, alertMaxAgeHours: 100_000, flapWindowHours: 72 }, parsed.events);
    };

    // Monday 7 December 09:00: the digest of [30 Nov, 7 Dec) goes out.
    clock.set('2026-12-07T09:05:00Z');
    await enqueueDueDigests(db, clock(), clock());
    // Tuesday: a change detected last Thursday arrives late; the account moves its digest to Fridays.
    clock.set('2026-12-08T10:00:00Z');
    await ingest('late', '2026-12-03T06:00:00Z');
    await updateAccount(db, clock, account.id, { digestWeekday: 'friday' });
    // Friday 11 December 09:00: the next digest, of [4 Dec, 11 Dec).
    clock.set('2026-12-11T09:05:00Z');
    expect(await enqueueDueDigests(db, clock(), clock())).toEqual({ due: 1, enqueued: 1 });

    const [row] = await db.all<{ state: string; key: string | null }>(sql`
      SELECT m.digest_state AS state, o.idempotency_key AS key FROM matches m JOIN events e ON e.pk = m.event_pk
      LEFT JOIN outbox o ON o.id = m.digest_outbox_id WHERE e.id = 'late'`);
    expect(row).toEqual({ state: 'listed', key: `digest:${destination.id}:2026-12-11` });
  });
});
