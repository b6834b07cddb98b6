import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { databaseBefore, type OldDatabase } from '../support/migrations.js';
import { enqueueDueDigests } from '../../src/schedule/digests.js';

let old: OldDatabase | undefined;
afterEach(() => {
  old?.close();
  old = undefined;
});

describe('the migration that stops indexing decisions by destination', () => {
  it('still carries a change that arrived after last week’s digest, queued before the upgrade, into the next digest', async () => {
    old = await databaseBefore('0005_decisions_not_indexed_by_destination');
    const { db } = old;
    const lastWeek = { start: Date.parse('2026-11-23T09:00:00Z'), end: Date.parse('2026-11-30T09:00:00Z') };
    await db.run(sql`INSERT INTO platforms (id, slug, name, created_at) VALUES (1, 'openai', 'OpenAI', 0)`);
    await db.run(sql`INSERT INTO documents (id, platform_id, title, title_key, created_at) VALUES (1, 1, 'Terms', 'terms', 0)`);
    await db.run(sql`INSERT INTO accounts (id, name, plan, timezone, digest_weekday, digest_hour) VALUES ('acc', 'Acme', 'free', 'UTC', 'monday', 9)`);
    await db.run(sql`INSERT INTO destinations (id, account_id, type, target_key, address, status) VALUES ('dst', 'acc', 'email', 'email:a@acme.test', 'a@acme.test', 'active')`);
    await db.run(sql`INSERT INTO subscriptions (id, account_id, destination_id, platform_id, status, destination_active, created_at) VALUES ('sub', 'acc', 'dst', 1, 'active', 1, 0)`);
    // Told in last week's digest, then that digest; then more news of last week arrives late.
    const event = async (id: string, detected: string) => {
      await db.run(sql`INSERT INTO events (id, platform_id, document_id, severity, severity_rank, kind, title, detected_at, payload, ingest_id, received_at)
        VALUES (${id}, 1, 1, 'high', 3, 'changed', ${id}, ${Date.parse(detected)}, '{}', ${id}, 0)`);
      await db.run(sql`INSERT INTO matches (event_pk, destination_id, alert_state, suppressed_reason, digest_state, created_at)
        SELECT pk, 'dst', 'none', 'plan', 'pending', 0 FROM events WHERE id = ${id}`);
    };
    await event('told', '2026-11-25T06:00:00Z');
    await db.run(sql`INSERT INTO outbox (id, idempotency_key, kind, destination_id, account_id, channel, status, payload, due_at, created_at, updated_at)
      VALUES (7, 'digest:dst:2026-11-30', 'digest', 'dst', 'acc', 'email', 'sent', json_object('key', '2026-11-30', 'start', ${lastWeek.start}, 'end', ${lastWeek.end}), 0, 0, 0)`);
    await db.run(sql`UPDATE matches SET digest_state = 'listed', digest_outbox_id = 7`);
    for (let i = 0; i < 3; i++) await event(`late-${i}`, '2026-11-29T06:00:00Z');
    await event('this-week', '2026-12-02T06:00:00Z');

    await old.upgrade();
    const [{ seen }] = await db.all<{ seen: number }>(sql`SELECT payload ->> 'seen_pk' AS seen FROM outbox WHERE id = 7`) as [{ seen: number }];
    const [{ firstLate }] = await db.all<{ firstLate: number }>(sql`SELECT min(pk) AS firstLate FROM events WHERE id LIKE 'late-%'`) as [{ firstLate: number }];
    expect(seen).toBe(firstLate - 1);

    const at = Date.parse('2026-12-07T09:00:00Z');
    expect(await enqueueDueDigests(db, at, at)).toEqual({ due: 1, enqueued: 1 });
    const rows = await db.all<{ event: string; digest_state: string; key: string | null }>(sql`
      SELECT e.id AS event, m.digest_state, o.idempotency_key AS key FROM matches m JOIN events e ON e.pk = m.event_pk
      LEFT JOIN outbox o ON o.id = m.digest_outbox_id ORDER BY e.pk`);
    expect(rows).toEqual([
      { event: 'told', digest_state: 'listed', key: 'digest:dst:2026-11-30' },
      { event: 'late-0', digest_state: 'listed', key: 'digest:dst:2026-12-07' },
      { event: 'late-1', digest_state: 'listed', key: 'digest:dst:2026-12-07' },
      { event: 'late-2', digest_state: 'listed', key: 'digest:dst:2026-12-07' },
      { event: 'this-week', digest_state: 'listed', key: 'digest:dst:2026-12-07' },
    ]);
  });
});
