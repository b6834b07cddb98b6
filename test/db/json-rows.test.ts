import { afterEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { tempDatabase, type TempDatabase } from '../support/db.js';
import { accounts, destinations } from '../../db/schema.js';
import { getDestinationsWithAccounts } from '../../src/store/destinations.js';
import { jsonRows } from '../../src/store/json-rows.js';
import { SQLiteSyncDialect } from 'drizzle-orm/sqlite-core';
import { sql } from 'drizzle-orm';
import { claimDue, enqueue, type OutboxRow } from '../../src/delivery/outbox.js';

let database: TempDatabase | undefined;
afterEach(() => database?.dispose());

describe('rows read as one JSON object each (the dispatcher’s claim read)', () => {
  it('are what drizzle’s select returns: every column, nulls, booleans both ways, large numbers, quotes and non-ASCII text', async () => {
    database = await tempDatabase({ catalog: false });
    const { db } = database;
    await db.insert(accounts).values([
      { id: 'acc_1', name: 'Ünïcode "quoted" \\ name', plan: 'monitor', timezone: 'Pacific/Chatham', digestWeekday: 'friday', digestHour: 23, emptyDigest: false, createdAt: 1_764_000_000_123, updatedAt: 2 ** 52 },
      { id: 'acc_2', name: 'plain', plan: 'free', timezone: 'UTC', digestWeekday: 'monday', digestHour: 0, emptyDigest: true, createdAt: 0, updatedAt: 0 },
    ]);
    await db.insert(destinations).values([
      { id: 'dst_1', accountId: 'acc_1', type: 'webhook', targetKey: 'webhook:https://h.example/x', url: 'https://h.example/x?a=1&b=\u2028', secret: 'enc:v1:abc', status: 'active', createdAt: 5 },
      { id: 'dst_2', accountId: 'acc_2', type: 'email', targetKey: 'email:a@b.example', address: 'a@b.example', status: 'disabled', disabledReason: 'bounced: "550"', createdAt: 6 },
    ]);
    const read = await getDestinationsWithAccounts(db, ['dst_1', 'dst_2', 'dst_missing', 'dst_1']);
    expect([...read.keys()].sort()).toEqual(['dst_1', 'dst_2']);
    for (const id of ['dst_1', 'dst_2']) {
      const [expected] = await db.select({ destination: destinations, account: accounts }).from(destinations).innerJoin(accounts, eq(accounts.id, destinations.accountId)).where(eq(destinations.id, id));
      const got = read.get(id)!;
      expect(got.destination).toStrictEqual(expected!.destination);
      expect(got.account).toStrictEqual(expected!.account);
    }
    expect(read.get('dst_2')!.account.emptyDigest).toBe(true);
    expect(read.get('dst_1')!.account.emptyDigest).toBe(false);
  });

  it('pass no SQL function more than 32 arguments (D1’s limit; the Workers edition reads claims this way)', () => {
    for (const table of [destinations, accounts]) {
      const text = new SQLiteSyncDialect().sqlToQuery(jsonRows(table).select('t')).sql;
      const calls = [...text.matchAll(/json_object\(([^()]*)\)/g)];
      expect(calls.length).toBeGreaterThan(0);
      for (const call of calls) expect(call[1]!.split(',').length).toBeLessThanOrEqual(32);
    }
  });

  it('a claim’s rows come back as the claimed rows are stored: nulls, integers, quotes, non-ASCII and line separators in a payload', async () => {
    database = await tempDatabase({ catalog: false });
    const { db } = database;
    await db.insert(accounts).values({ id: 'acc_1', name: 'a', plan: 'monitor', timezone: 'UTC', digestWeekday: 'monday', digestHour: 8, emptyDigest: false, createdAt: 1, updatedAt: 1 });
    await db.insert(destinations).values({ id: 'dst_1', accountId: 'acc_1', type: 'webhook', targetKey: 'webhook:https://h.example/x', url: 'https://h.example/x', status: 'active', createdAt: 1 });
    const now = 1_764_000_000_123;
    const row = (key: string, payload?: unknown) => ({ idempotencyKey: key, kind: 'alert' as const, destinationId: 'dst_1', accountId: 'acc_1', channel: 'webhook' as const, payload, dueAt: now - 1 });
    await enqueue(db, row('alert:dst_1:1'), now);
    await enqueue(db, row('digest:dst_1:"quoted" \\ Ünïcode', { text: 'a "b" \\ c \u2028 d 🙂', n: 2 ** 52, none: null }), now);
    const claimed = await claimDue(db, 'owner-1', now, 60_000, 10);
    const stored = await db.all<OutboxRow>(sql`
      SELECT id, idempotency_key, kind, destination_id, account_id, channel, status, payload, due_at, attempts, parts_sent FROM outbox ORDER BY id`);
    expect(claimed).toStrictEqual(stored);
    expect(claimed.map((r) => [r.status, r.attempts, r.payload === null])).toEqual([['sending', 1, true], ['sending', 1, false]]);
    expect(JSON.parse(claimed[1]!.payload!)).toEqual({ text: 'a "b" \\ c \u2028 d 🙂', n: 2 ** 52, none: null });
  });
});
