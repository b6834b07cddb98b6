import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { databaseBefore, type OldDatabase } from '../support/migrations.js';

const DAY = 86_400_000;
let old: OldDatabase | undefined;
afterEach(() => {
  old?.close();
  old = undefined;
});

describe('the delivery-decisions migration', () => {
  it('leaves what digests already covered out of the next one, and keeps the recent rest for it', async () => {
    old = await databaseBefore('0002_delivery_decisions');
    const { db } = old;
    const now = Date.now();
    await db.run(sql`INSERT INTO platforms (id, slug, name, created_at) VALUES (1, 'openai', 'OpenAI', 0)`);
    await db.run(sql`INSERT INTO documents (id, platform_id, title, title_key, created_at) VALUES (1, 1, 'Terms', 'terms', 0)`);
    await db.run(sql`INSERT INTO accounts (id, name, digest_weekday, digest_hour) VALUES ('acc', 'Acme', 'monday', 9)`);
    for (const d of ['had_digest', 'no_digest']) {
      await db.run(sql`INSERT INTO destinations (id, account_id, type, target_key, status) VALUES (${d}, 'acc', 'email', ${d}, 'active')`);
    }
    const events = { recent: now - 1 * DAY, covered: now - 10 * DAY, old: now - 30 * DAY };
    for (const [id, at] of Object.entries(events)) {
      await db.run(sql`INSERT INTO events (id, platform_id, document_id, severity, severity_rank, kind, title, detected_at, payload, ingest_id, received_at)
        VALUES (${id}, 1, 1, 'high', 3, 'changed', ${id}, ${at}, '{}', 'ing', ${at})`);
    }
    await db.run(sql`INSERT INTO outbox (id, idempotency_key, kind, destination_id, account_id, channel, status, payload, due_at, created_at, updated_at)
      VALUES (7, 'digest:had_digest:w', 'digest', 'had_digest', 'acc', 'email', 'sent', json_object('key', 'w', 'start', ${now - 14 * DAY}, 'end', ${now - 7 * DAY}), 0, 0, 0)`);
    for (const d of ['had_digest', 'no_digest']) {
      await db.run(sql`INSERT INTO matches (event_pk, destination_id, alert_state, suppressed_reason, created_at)
        SELECT pk, ${d}, 'none', CASE WHEN id = 'recent' AND ${d} = 'no_digest' THEN 'unsubscribed' ELSE 'plan' END, 0 FROM events`);
    }
    await old.upgrade();
    const rows = await db.all<{ event: string; destination_id: string; digest_state: string; digest_outbox_id: number | null }>(sql`
      SELECT e.id AS event, m.destination_id, m.digest_state, m.digest_outbox_id FROM matches m JOIN events e ON e.pk = m.event_pk
      ORDER BY m.destination_id, e.detected_at`);
    expect(rows).toEqual([
      { event: 'old', destination_id: 'had_digest', digest_state: 'listed', digest_outbox_id: null },
      { event: 'covered', destination_id: 'had_digest', digest_state: 'listed', digest_outbox_id: 7 },
      { event: 'recent', destination_id: 'had_digest', digest_state: 'pending', digest_outbox_id: null },
      { event: 'old', destination_id: 'no_digest', digest_state: 'listed', digest_outbox_id: null },
      { event: 'covered', destination_id: 'no_digest', digest_state: 'listed', digest_outbox_id: null },
      { event: 'recent', destination_id: 'no_digest', digest_state: 'none', digest_outbox_id: null },
    ]);
  });
});
