import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { databaseBefore, type OldDatabase } from '../support/migrations.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { groupDueAlerts } from '../../src/delivery/grouping.js';
import { MIGRATIONS_FOLDER } from '../../src/db.js';

let old: OldDatabase | undefined;
afterEach(() => {
  old?.close();
  old = undefined;
});

describe('the migration that files waiting alerts by event instead of indexing every waiting decision', () => {
  it('files each event with a decision still waiting, when its first was made, drops the index, and grouping finds them', async () => {
    old = await databaseBefore('0007_alerts_waiting_by_event');
    const { db } = old;
    await db.run(sql`INSERT INTO platforms (id, slug, name, created_at) VALUES (1, 'openai', 'OpenAI', 0)`);
    await db.run(sql`INSERT INTO documents (id, platform_id, title, title_key, created_at) VALUES (1, 1, 'Terms', 'terms', 0)`);
    await db.run(sql`INSERT INTO accounts (id, name, plan, timezone, digest_weekday, digest_hour, created_at, updated_at) VALUES ('acc', 'Acme', 'monitor', 'UTC', 'monday', 9, 0, 0)`);
    await db.run(sql`INSERT INTO destinations (id, account_id, type, target_key, address, status, created_at) VALUES
      ('dst-a', 'acc', 'email', 'email:a', 'a@acme.test', 'active', 0), ('dst-b', 'acc', 'email', 'email:b', 'b@acme.test', 'active', 0)`);
    for (const id of ['e1', 'e2', 'e3'])
      await db.run(sql`INSERT INTO events (id, platform_id, document_id, severity, severity_rank, kind, title, detected_at, payload, ingest_id, received_at)
        VALUES (${id}, 1, 1, 'high', 3, 'changed', ${id}, 0, '{}', 'ing', 0)`);
    // e1 waits for two destinations (decided at 5 and, replayed, 7); e2 was grouped; e3 waits for one.
    await db.run(sql`INSERT INTO matches (event_pk, destination_id, alert_state, digest_state, created_at) VALUES
      ((SELECT pk FROM events WHERE id = 'e1'), 'dst-a', 'pending', 'pending', 7),
      ((SELECT pk FROM events WHERE id = 'e1'), 'dst-b', 'pending', 'pending', 5),
      ((SELECT pk FROM events WHERE id = 'e2'), 'dst-a', 'grouped', 'pending', 5),
      ((SELECT pk FROM events WHERE id = 'e3'), 'dst-b', 'pending', 'none', 9)`);

    await old.upgrade();
    const filed = await db.all(sql`SELECT e.id, w.since FROM alerts_waiting w JOIN events e ON e.pk = w.event_pk ORDER BY e.id`);
    expect(filed).toEqual([
      { id: 'e1', since: 5 },
      { id: 'e3', since: 9 },
    ]);
    const indexes = (await db.all<{ name: string }>(sql`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'matches' AND sql IS NOT NULL ORDER BY name`)).map((r) => r.name);
    expect(indexes).toEqual(['matches_digest', 'matches_event_destination', 'matches_outbox']);
    // Both destinations' waiting decisions become their alerts, and nothing is left filed.
    expect(await groupDueAlerts(db, 60_000, 0)).toBe(2);
    const grouped = await db.all(sql`SELECT m.destination_id, o.kind, count(*) AS n FROM matches m JOIN outbox o ON o.id = m.outbox_id WHERE m.alert_state = 'grouped' AND o.kind = 'alert' GROUP BY 1, 2 ORDER BY 1`);
    expect(grouped).toEqual([
      { destination_id: 'dst-a', kind: 'alert', n: 1 },
      { destination_id: 'dst-b', kind: 'alert', n: 2 },
    ]);
    expect(await db.all(sql`SELECT * FROM alerts_waiting`)).toEqual([]);
  });

  it('files them through the old index of waiting decisions, never walking every decision', async () => {
    old = await databaseBefore('0007_alerts_waiting_by_event');
    const filing = readFileSync(join(MIGRATIONS_FOLDER, '0007_alerts_waiting_by_event.sql'), 'utf8')
      .split('--> statement-breakpoint')
      .find((st) => st.includes('INSERT INTO `alerts_waiting`'))!;
    const select = /^SELECT[^;]*/m.exec(filing)![0];
    const plan = (await old.db.all<{ detail: string }>(sql.raw(`EXPLAIN QUERY PLAN ${select}`))).map((r) => r.detail);
    expect(plan).toContain('SCAN matches USING INDEX matches_pending_since');
  });
});
