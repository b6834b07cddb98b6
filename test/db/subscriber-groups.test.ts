import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { createClient } from '@libsql/client';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { databaseBefore, type OldDatabase } from '../support/migrations.js';
import { tempDatabase, type TempDatabase } from '../support/db.js';
import { testApp, seedSubscriber, makeEvent, type TestApp } from '../support/app.js';
import { checkSubscriberGroups, reconcileSubscriberGroups } from '../../src/store/subscriber-groups.js';
import { settleDecisions } from '../../src/ingest/settle.js';
import { createLogger } from '../../src/log.js';
import { activeSubscriber, matchIngested, tallyDecisions } from '../../src/ingest/match.js';
import { disableDestination, activateDestination } from '../../src/store/destinations.js';
import type { Db } from '../../src/db.js';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

type Group = { platform_id: number; min_severity_rank: number; same_day_alerts: number; categories: string | null; subscribers: number };

/** The groups as the triggers keep them (those with subscribers), and whether any count went below 0. */
async function stored(db: Db) {
  const rows = await db.all<Group>(sql`
    SELECT platform_id, min_severity_rank, same_day_alerts, categories, subscribers FROM subscriber_groups
    WHERE subscribers <> 0 ORDER BY 1, 2, 3, categories IS NOT NULL, categories`);
  return rows;
}

/** The same groups counted afresh from the subscriptions matching decides for. */
async function counted(db: Db) {
  return db.all<Group>(sql`
    SELECT platform_id, min_severity_rank, same_day_alerts, categories, count(*) AS subscribers FROM subscriptions s
    WHERE ${activeSubscriber('s')} GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, categories IS NOT NULL, categories`);
}

/** mulberry32, seeded: the same sequence on every run, so a failure replays. */
function random(start: number) {
  let seed = start;
  const next = (n: number) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) % n;
  };
  return { next, pick: <T,>(xs: readonly T[]) => xs[next(xs.length)]! };
}

let old: OldDatabase | undefined;
let database: TempDatabase | undefined;
let t: TestApp | undefined;
afterEach(() => {
  old?.close();
  database?.dispose();
  t?.dispose();
  old = database = t = undefined;
});

describe('the subscriber groups matching decides for', () => {
  it('are counted from the active subscriptions when the migration runs', async () => {
    old = await databaseBefore('0008_subscriber_groups');
    const { db } = old;
    await db.run(sql`INSERT INTO platforms (id, slug, name, created_at) VALUES (1, 'openai', 'OpenAI', 0), (2, 'anthropic', 'Anthropic', 0)`);
    await db.run(sql`INSERT INTO accounts (id, name, plan, timezone, digest_weekday, digest_hour, created_at, updated_at) VALUES ('acc', 'Acme', 'monitor', 'UTC', 'monday', 9, 0, 0)`);
    for (const d of ['a', 'b', 'c', 'd', 'e'])
      await db.run(sql`INSERT INTO destinations (id, account_id, type, target_key, address, status, created_at) VALUES (${`dst-${d}`}, 'acc', 'email', ${`email:${d}`}, ${`${d}@acme.test`}, 'active', 0)`);
    // a and b share a group (every category); c filters; d is paused; e's destination is disabled.
    await db.run(sql`INSERT INTO subscriptions (id, account_id, destination_id, platform_id, min_severity_rank, categories, status, destination_active, same_day_alerts, created_at) VALUES
      ('s1', 'acc', 'dst-a', 1, 1, NULL, 'active', 1, 1, 0),
      ('s2', 'acc', 'dst-b', 1, 1, NULL, 'active', 1, 1, 0),
      ('s3', 'acc', 'dst-c', 1, 1, '["privacy"]', 'active', 1, 1, 0),
      ('s4', 'acc', 'dst-d', 1, 1, NULL, 'paused', 1, 1, 0),
      ('s5', 'acc', 'dst-e', 2, 2, NULL, 'active', 0, 0, 0),
      ('s6', 'acc', 'dst-a', 2, 3, NULL, 'active', 1, 0, 0)`);

    await old.upgrade();
    expect(await stored(db)).toEqual([
      { platform_id: 1, min_severity_rank: 1, same_day_alerts: 1, categories: null, subscribers: 2 },
      { platform_id: 1, min_severity_rank: 1, same_day_alerts: 1, categories: '["privacy"]', subscribers: 1 },
      { platform_id: 2, min_severity_rank: 3, same_day_alerts: 0, categories: null, subscribers: 1 },
    ]);
    expect(await stored(db)).toEqual(await counted(db));
  });

  it('stay equal to a fresh count through any sequence of writes to subscriptions, every kind of column included', async () => {
    database = await tempDatabase({ catalog: false });
    const { db } = database;
    await db.run(sql`INSERT INTO platforms (id, slug, name, created_at) VALUES (1, 'p1', 'P1', 0), (2, 'p2', 'P2', 0), (3, 'p3', 'P3', 0)`);
    await db.run(sql`INSERT INTO accounts (id, name, plan, timezone, digest_weekday, digest_hour, created_at, updated_at) VALUES ('acc', 'Acme', 'monitor', 'UTC', 'monday', 9, 0, 0)`);
    for (let d = 0; d < 12; d++)
      await db.run(sql`INSERT INTO destinations (id, account_id, type, target_key, address, status, created_at) VALUES (${`dst-${d}`}, 'acc', 'email', ${`email:${d}`}, ${`${d}@acme.test`}, 'active', 0)`);
    const { next, pick } = random(20261206);
    // '' is never written, but must not fold into NULL (every category) as a coalesce would.
    const categories = [null, '["privacy"]', '["fees","privacy"]', '[]', ''] as const;
    // Mostly active, so most writes move a counted row.
    const statuses = ['active', 'active', 'active', 'paused'] as const;
    const active = () => (next(4) ? 1 : 0);
    const columns = ['status', 'destination_active', 'platform_id', 'min_severity_rank', 'same_day_alerts', 'categories', 'created_at'] as const;
    const valueOf = (column: (typeof columns)[number]) =>
      ({
        status: pick(statuses),
        destination_active: active(),
        platform_id: 1 + next(3),
        min_severity_rank: 1 + next(3),
        same_day_alerts: next(2),
        categories: pick(categories),
        created_at: next(1000),
      })[column];
    let made = 0;
    for (let step = 0; step < 600; step++) {
      const ids = (await db.all<{ id: string }>(sql`SELECT id FROM subscriptions ORDER BY id`)).map((r) => r.id);
      const op = ids.length < 3 ? 0 : next(6);
      if (op === 0) {
        // The unique (destination, platform) key refuses some: a refused write must count nothing either.
        await db
          .run(sql`INSERT INTO subscriptions (id, account_id, destination_id, platform_id, min_severity_rank, categories, status, destination_active, same_day_alerts, created_at)
            VALUES (${`sub-${made++}`}, 'acc', ${`dst-${next(12)}`}, ${1 + next(3)}, ${1 + next(3)}, ${pick(categories)}, ${pick(statuses)}, ${active()}, ${next(2)}, 0)`)
          .catch((err: unknown) => expect(String((err as { cause?: unknown }).cause ?? err)).toMatch(/UNIQUE constraint failed/));
      } else if (op === 1) {
        await db.run(sql`DELETE FROM subscriptions WHERE id = ${pick(ids)}`);
      } else if (op === 2) {
        // One column of a row, each in turn (the trigger must see each alone), or a second one with it.
        const changed = next(3) ? [columns[step % columns.length]!] : [...new Set([pick(columns), pick(columns)])];
        const set = changed.map((c) => sql`${sql.raw(c)} = ${valueOf(c)}`);
        await db.run(sql`UPDATE OR IGNORE subscriptions SET ${sql.join(set, sql`, `)} WHERE id = ${pick(ids)}`);
      } else if (op === 3) {
        // Bulk writes as a plan change or a destination's state makes them.
        await db.run(sql`UPDATE subscriptions SET same_day_alerts = ${next(2)} WHERE account_id = 'acc'`);
      } else if (op === 4) {
        await db.run(sql`UPDATE subscriptions SET destination_active = ${next(2)} WHERE destination_id = ${`dst-${next(12)}`}`);
      } else {
        // A value written again as it was changes nothing.
        await db.run(sql`UPDATE subscriptions SET status = status, categories = categories WHERE id = ${pick(ids)}`);
      }
      const groups = await stored(db);
      expect(groups, `after step ${step}`).toEqual(await counted(db));
      expect(groups.every((g) => g.subscribers > 0)).toBe(true);
    }
    expect(made).toBeGreaterThan(50);
    // Without its triggers the table would silently go stale (a rebuild of subscriptions by a
    // generated migration drops them): they are part of the schema.
    const triggers = await db.all<{ name: string }>(sql`SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'subscriptions' ORDER BY name`);
    expect(triggers.map((r) => r.name)).toEqual([
      'decisions_settle_before_delete', 'decisions_settle_before_insert', 'decisions_settle_before_update',
      'subscriber_groups_delete', 'subscriber_groups_insert', 'subscriber_groups_update',
    ]);
  });

  it('are never bypassed by REPLACE, whose deletions fire no delete trigger (recursive_triggers is off, as on D1)', () => {
    const sources = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const replacing = sources.filter((f) => /\b(OR\s+REPLACE|REPLACE\s+INTO)\b/.test(readFileSync(join(SRC, f), 'utf8')));
    expect(sources.length).toBeGreaterThan(50);
    expect(replacing).toEqual([]);
  });

  it('follow what accounts, destinations and subscriptions do through the product', async () => {
    t = await testApp();
    const check = async () => expect(await stored(t!.db)).toEqual(await counted(t!.db));
    const a = await seedSubscriber(t, { plan: 'monitor', platform: 'openai', email: 'a@acme.test' });
    const b = await seedSubscriber(t, { plan: 'free', platform: 'openai', email: 'b@acme.test', min_severity: 'high', categories: ['privacy'] });
    await check();
    await t.call('POST', `/v1/accounts/${a.account.id}/subscriptions`, { platform: 'anthropic', destination: a.destination.id, categories: ['fees'] });
    await t.call('POST', `/v1/accounts/${a.account.id}/subscriptions`, { platform: 'openai', destination: a.destination.id, min_severity: 'medium' });
    await check();
    // A downgrade pauses one of the two platforms and takes same-day alerts away; an upgrade undoes both.
    expect((await t.call('PATCH', `/v1/accounts/${a.account.id}`, { plan: 'free' })).status).toBe(200);
    await check();
    expect((await t.call('PATCH', `/v1/accounts/${a.account.id}`, { plan: 'monitor' })).status).toBe(200);
    await check();
    await disableDestination(t.db, t.clock, b.destination.id, 'bounced');
    await check();
    await activateDestination(t.db, t.clock, b.destination.id);
    await check();
    expect((await t.call('DELETE', `/v1/accounts/${a.account.id}/subscriptions/${a.subscription.id}`)).status).toBe(204);
    await check();
    expect((await t.call('DELETE', `/v1/accounts/${b.account.id}/destinations/${b.destination.id}`)).status).toBe(204);
    await check();
    expect(await stored(t.db)).toEqual([expect.objectContaining({ categories: '["fees"]', subscribers: 1, same_day_alerts: 1 })]);
  });
});

describe('a database changed behind the triggers', () => {
  it('still has every active subscriber matched, and the start-up check sets the counts right again', async () => {
    t = await testApp();
    await seedSubscriber(t, { plan: 'monitor', platform: 'openai', email: 'a@acme.test' });
    await seedSubscriber(t, { plan: 'monitor', platform: 'openai', email: 'b@acme.test' });
    await seedSubscriber(t, { plan: 'free', platform: 'anthropic', email: 'c@acme.test', categories: ['privacy'] });
    expect(await reconcileSubscriberGroups(t.db)).toBe(0);
    const fresh = await counted(t.db);
    // A count gone to 0, another group's row gone, and a group of nobody.
    await t.db.run(sql`UPDATE subscriber_groups SET subscribers = 0 WHERE platform_id = (SELECT id FROM platforms WHERE slug = 'openai')`);
    await t.db.run(sql`DELETE FROM subscriber_groups WHERE platform_id = (SELECT id FROM platforms WHERE slug = 'anthropic')`);
    await t.db.run(sql`INSERT INTO subscriber_groups (platform_id, min_severity_rank, same_day_alerts, categories, subscribers)
      SELECT id, 3, 1, '["fees"]', 5 FROM platforms WHERE slug = 'google'`);
    // Members come from the subscriptions: the emptied group's two are matched all the same.
    const r = await t.ingest({ events: [makeEvent({ id: 'behind-1' }), makeEvent({ id: 'behind-2', severity: 'low' })] });
    expect(r.status).toBe(202);
    expect(r.json.matched).toBe(2);
    expect(await reconcileSubscriberGroups(t.db)).toBe(3);
    expect(await stored(t.db)).toEqual(fresh);
    expect(await reconcileSubscriberGroups(t.db)).toBe(0);
    // As a process runs it: a warning only when it rebuilt.
    const lines: string[] = [];
    const log = createLogger('info', (l) => lines.push(l));
    await checkSubscriberGroups(t.db, log);
    expect(lines).toEqual([]);
    // One more in every row: the two real groups and the emptied one of nobody are all wrong.
    await t.db.run(sql`UPDATE subscriber_groups SET subscribers = subscribers + 1`);
    await checkSubscriberGroups(t.db, log);
    expect(lines.map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ level: 'warn', msg: 'subscriber_groups.rebuilt', groups: 3 })]);
    expect(await stored(t.db)).toEqual(fresh);
    // The group lost entirely comes back, so its member is matched again.
    const later = await t.ingest(makeEvent({ id: 'behind-3', platform: { slug: 'anthropic' }, document: { title: 'Anthropic Usage Policy' }, categories: ['privacy'] }));
    expect(later.json.matched).toBe(1);
  });
});

describe('matching without reversions', () => {
  it('decides per group exactly as per subscriber, on groups with a history (emptied, "[]", paused and inactive members)', async () => {
    database = await tempDatabase({ catalog: false });
    const { db } = database;
    const { next, pick } = random(7);
    await db.run(sql`INSERT INTO platforms (id, slug, name, created_at) VALUES (1, 'p1', 'P1', 0), (2, 'p2', 'P2', 0), (3, 'p3', 'P3', 0)`);
    await db.run(sql`INSERT INTO documents (id, platform_id, title, title_key, created_at) VALUES (1, 1, 'd', 'd', 0), (2, 2, 'd', 'd', 0), (3, 3, 'd', 'd', 0)`);
    await db.run(sql`INSERT INTO accounts (id, name, plan, timezone, digest_weekday, digest_hour, created_at, updated_at) VALUES ('acc', 'A', 'monitor', 'UTC', 'monday', 9, 0, 0)`);
    const categories = [null, '[]', '["privacy"]', '["fees","privacy"]', '["fees"]'] as const;
    let k = 0;
    for (let d = 0; d < 60; d++) {
      await db.run(sql`INSERT INTO destinations (id, account_id, type, target_key, address, status, created_at) VALUES (${`dst-${d}`}, 'acc', 'email', ${`email:${d}`}, ${`${d}@x.test`}, 'active', 0)`);
      for (const p of [1, 2, 3])
        if (next(3))
          await db.run(sql`INSERT INTO subscriptions (id, account_id, destination_id, platform_id, min_severity_rank, categories, status, destination_active, same_day_alerts, created_at)
            VALUES (${`s${k++}`}, 'acc', ${`dst-${d}`}, ${p}, ${1 + next(3)}, ${pick(categories)}, ${pick(['active', 'active', 'paused'])}, ${pick([0, 1, 1, 1])}, ${next(2)}, 0)`);
    }
    for (let i = 0; i < 150; i++) {
      const id = `s${next(k)}`;
      const op = next(4);
      if (op === 0) await db.run(sql`DELETE FROM subscriptions WHERE id = ${id}`);
      else if (op === 1) await db.run(sql`UPDATE subscriptions SET status = ${pick(['active', 'paused'])} WHERE id = ${id}`);
      else if (op === 2) await db.run(sql`UPDATE subscriptions SET destination_active = ${next(2)} WHERE destination_id = ${`dst-${next(60)}`}`);
      else await db.run(sql`UPDATE subscriptions SET categories = ${pick(categories)}, min_severity_rank = ${1 + next(3)} WHERE id = ${id}`);
    }
    expect((await db.all<{ n: number }>(sql`SELECT count(*) AS n FROM subscriber_groups WHERE subscribers = 0`))[0]!.n).toBeGreaterThan(0);
    const decisions = async () => (await db.all<Record<string, unknown>>(sql`SELECT event_pk, destination_id, alert_state, suppressed_reason, digest_state FROM matches`)).map((r) => JSON.stringify(r)).sort();
    const sorted = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).sort();
    for (let round = 0; round < 20; round++) {
      const ingest = `ing-${round}`;
      for (let i = 0, n = 1 + next(6); i < n; i++) {
        const p = 1 + next(3);
        const rank = 1 + next(3);
        await db.run(sql`INSERT INTO events (id, platform_id, document_id, severity, severity_rank, kind, categories, title, detected_at, suppressed_reason, payload, ingest_id, received_at)
          VALUES (${`${ingest}-${i}`}, ${p}, ${p}, ${['low', 'medium', 'high'][rank - 1]}, ${rank}, ${pick(['changed', 'changed', 'unreachable', 'restored'])},
            ${pick(['[]', '["privacy"]', '["fees"]', '["fees","privacy"]', '["arbitration"]'])}, 't', 0, ${pick([null, null, null, 'date_only', 'first_recorded', 'links_only', 'backfill'])}, '{}', ${ingest}, 0)`);
      }
      // The per-subscriber path (taken when a batch holds reversions) decides each row on its own.
      const perRowTally = await tallyDecisions(db, ingest, { reversions: true });
      await matchIngested(db, ingest, 0, { reversions: true, ownRows: true });
      const perRow = await decisions();
      await db.run(sql`DELETE FROM matches`);
      const groupedTally = await tallyDecisions(db, ingest, { reversions: false });
      await matchIngested(db, ingest, 0, { reversions: false, ownRows: true });
      expect(await decisions(), `round ${round}`).toEqual(perRow);
      expect(sorted(groupedTally), `round ${round}`).toEqual(sorted(perRowTally));
      await db.run(sql`DELETE FROM matches`);
      // Written per group and settled onto the members later: the same rows, event by event.
      await matchIngested(db, ingest, 0, { reversions: false, ownRows: false });
      expect(await db.all(sql`SELECT count(*) AS n FROM matches`)).toEqual([{ n: 0 }]);
      await settleDecisions(db);
      expect(await decisions(), `round ${round}`).toEqual(perRow);
      const order = (await db.all<{ event_pk: number }>(sql`SELECT event_pk FROM matches ORDER BY id`)).map((r) => r.event_pk);
      expect(order).toEqual([...order].sort((a, b) => a - b));
      expect(await db.all(sql`SELECT count(*) AS n FROM decisions_unsettled`)).toEqual([{ n: 0 }]);
      await db.run(sql`DELETE FROM matches`);
    }
  });

  it('decides from the stored groups and finds each group’s members through the matching index to the group’s own key', async () => {
    database = await tempDatabase({ catalog: false });
    // A connection of its own: the service's leaves an EXPLAIN of a write "in progress" for its commit.
    const raw = createClient({ url: database.url });
    const plan = async (statement: unknown) => {
      const q = (statement as { getQuery(): { sql: string; params: unknown[] } }).getQuery();
      const rows = await raw.execute({ sql: `EXPLAIN QUERY PLAN ${q.sql}`, args: q.params as never });
      return rows.rows.map((r) => String(r.detail));
    };
    const matching = await plan(matchIngested(database.db, 'ing', 0, { reversions: false, ownRows: true }));
    expect(matching).toContain('SEARCH s USING INDEX subscriber_groups_key (platform_id=?)');
    expect(matching).toContain('SEARCH t USING COVERING INDEX subscriptions_matching (platform_id=? AND status=? AND destination_active=? AND min_severity_rank=? AND same_day_alerts=?)');
    const tally = await plan(tallyDecisions(database.db, 'ing', { reversions: false }));
    expect(tally).toContain('SEARCH s USING INDEX subscriber_groups_key (platform_id=?)');
    expect(tally).toContain('SEARCH t USING COVERING INDEX subscriptions_matching (platform_id=? AND status=? AND destination_active=? AND min_severity_rank=?)');
    // Neither groups the subscriptions afresh.
    expect([...matching, ...tally].filter((d) => /subscriptions/.test(d) && !/SEARCH t /.test(d))).toEqual([]);
    raw.close();
  });
});
