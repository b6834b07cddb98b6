import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { databaseBefore, type OldDatabase } from '../support/migrations.js';

let old: OldDatabase | undefined;
afterEach(() => {
  old?.close();
  old = undefined;
});

describe('the migration that drops the decisions’ foreign key to their event', () => {
  it('keeps every decision, its id sequence and its indexes, and the table no longer looks up the event per row', async () => {
    old = await databaseBefore('0006_decisions_without_event_foreign_key');
    const { db } = old;
    await db.run(sql`INSERT INTO platforms (id, slug, name, created_at) VALUES (1, 'openai', 'OpenAI', 0)`);
    await db.run(sql`INSERT INTO documents (id, platform_id, title, title_key, created_at) VALUES (1, 1, 'Terms', 'terms', 0)`);
    await db.run(sql`INSERT INTO events (id, platform_id, document_id, severity, severity_rank, kind, title, detected_at, payload, ingest_id, received_at)
      VALUES ('e1', 1, 1, 'high', 3, 'changed', 'e1', 0, '{}', 'ing', 0)`);
    const [{ fks: before }] = (await db.all<{ fks: number }>(sql`SELECT count(*) AS fks FROM pragma_foreign_key_list('matches')`)) as [{ fks: number }];
    expect(before).toBe(1);
    await db.run(sql`INSERT INTO matches (id, event_pk, destination_id, alert_state, suppressed_reason, outbox_id, digest_state, digest_outbox_id, created_at)
      SELECT 40, pk, 'dst-a', 'grouped', NULL, 3, 'listed', 4, 5 FROM events`);
    await db.run(sql`INSERT INTO matches (event_pk, destination_id, alert_state, suppressed_reason, digest_state, created_at)
      SELECT pk, 'dst-b', 'none', 'plan', 'pending', 6 FROM events`);
    // The highest id ever handed out, then removed: AUTOINCREMENT must not hand it out again.
    await db.run(sql`INSERT INTO matches (id, event_pk, destination_id, alert_state, digest_state, created_at) SELECT 90, pk, 'dst-c', 'none', 'none', 7 FROM events`);
    await db.run(sql`DELETE FROM matches WHERE id = 90`);
    const rowsBefore = await db.all(sql`SELECT * FROM matches ORDER BY id`);

    await old.upgrade();
    expect(await db.all(sql`SELECT * FROM matches ORDER BY id`)).toEqual(rowsBefore);
    const [{ fks }] = (await db.all<{ fks: number }>(sql`SELECT count(*) AS fks FROM pragma_foreign_key_list('matches')`)) as [{ fks: number }];
    expect(fks).toBe(0);
    const indexes = (await db.all<{ name: string }>(sql`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'matches' AND sql IS NOT NULL ORDER BY name`)).map((r) => r.name);
    expect(indexes).toEqual(['matches_digest', 'matches_event_destination', 'matches_outbox']);
    await db.run(sql`INSERT INTO matches (event_pk, destination_id, alert_state, digest_state, created_at) SELECT pk, 'dst-d', 'pending', 'pending', 8 FROM events`);
    const [{ id }] = (await db.all<{ id: number }>(sql`SELECT max(id) AS id FROM matches`)) as [{ id: number }];
    expect(id).toBe(91);
    // The other foreign keys still hold after the rebuild.
    expect((await db.all(sql`PRAGMA foreign_key_check`)).length).toBe(0);
    expect((await db.all<{ foreign_keys: number }>(sql`PRAGMA foreign_keys`))[0]).toEqual({ foreign_keys: 1 });
  });
});
