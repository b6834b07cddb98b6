import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import { accounts, destinations, outbox, subscriptions } from '../../db/schema.js';
import { newId } from '../core/ids.js';
import type { Clock } from '../core/clock.js';
import { runBatch } from './batch.js';
import { settleStatements } from '../ingest/settle.js';
import { jsonRows } from './json-rows.js';
import { SEALED_PREFIX, type SecretBox } from '../secret-box.js';
import { waitingDecisions } from '../delivery/grouping.js';
import { destinationColumns, destinationTargetKey, parseDestination, type Destination, type DestinationTarget } from '../delivery/channels/destination.js';

export type DestinationRow = typeof destinations.$inferSelect;

export type { DestinationTarget } from '../delivery/channels/destination.js';

export interface CreateDestinationResult {
  destination: DestinationRow;
  created: boolean;
}

/**
 * Creates a destination, or returns the account's existing one for the same target (a second
 * `/clausewatch subscribe` in a channel must not make a second destination).
 */
export async function createDestination(
  db: Db,
  clock: Clock,
  accountId: string,
  target: DestinationTarget,
  status: 'active' | 'unconfirmed',
  extra: { secret?: string } = {},
): Promise<CreateDestinationResult> {
  const key = destinationTargetKey(target);
  const t = clock();
  const values = {
    id: newId('dst'),
    accountId,
    type: target.type,
    targetKey: key,
    ...destinationColumns(target),
    ...(extra.secret ? { secret: extra.secret } : {}),
    status,
    confirmedAt: status === 'active' ? t : null,
    createdAt: t,
  };
  // Checked as it will be read: a row its channel could not send to is never stored.
  const parsed = parseDestination(values as DestinationRow);
  if (!parsed.ok) throw new Error(parsed.reason);
  const inserted = await db.insert(destinations).values(values).onConflictDoNothing().returning();
  if (inserted[0]) return { destination: inserted[0], created: true };
  const existing = await db.query.destinations.findFirst({
    where: and(eq(destinations.accountId, accountId), eq(destinations.targetKey, key)),
  });
  return { destination: existing!, created: false };
}

export async function getDestination(db: Db, accountId: string, id: string): Promise<DestinationRow | undefined> {
  return db.query.destinations.findFirst({ where: and(eq(destinations.accountId, accountId), eq(destinations.id, id)) });
}

export async function getDestinationById(db: Db, id: string): Promise<DestinationRow | undefined> {
  return db.query.destinations.findFirst({ where: eq(destinations.id, id) });
}

/**
 * A destination with its account, in one query (the dispatcher's per-message read), and the
 * row parsed into its channel's typed destination (or why it cannot be).
 */
export type DestinationWithAccount = {
  destination: DestinationRow;
  account: typeof accounts.$inferSelect;
  target: { ok: true; destination: Destination } | { ok: false; reason: string };
};

export async function getDestinationWithAccount(db: Db, id: string): Promise<DestinationWithAccount | undefined> {
  return (await getDestinationsWithAccounts(db, [id])).get(id);
}

const destinationJson = jsonRows(destinations);
const accountJson = jsonRows(accounts);

/** Destinations with their accounts, by id, in one query (a dispatcher's whole claim at once). */
export async function getDestinationsWithAccounts(db: Db, ids: string[]): Promise<Map<string, DestinationWithAccount>> {
  if (!ids.length) return new Map();
  const rows = await db.all<Record<string, unknown>>(sql`
    SELECT ${destinationJson.select('d')}, ${accountJson.select('a')}
    FROM destinations d JOIN accounts a ON a.id = d.account_id
    WHERE d.id IN (SELECT value FROM json_each(${JSON.stringify([...new Set(ids)])}))`);
  const found = new Map<string, DestinationWithAccount>();
  for (const r of rows) {
    const destination = destinationJson.parse(r, 'd');
    found.set(destination.id, { destination, account: accountJson.parse(r, 'a'), target: parseDestination(destination) });
  }
  return found;
}

export async function listDestinations(db: Db, accountId: string): Promise<DestinationRow[]> {
  return db.select().from(destinations).where(eq(destinations.accountId, accountId)).orderBy(asc(destinations.createdAt), asc(destinations.id));
}

/** Removes a destination with its subscriptions; messages not yet sent to it are cancelled. */
export async function deleteDestination(db: Db, clock: Clock, accountId: string, id: string): Promise<boolean> {
  const found = await getDestination(db, accountId, id);
  if (!found) return false;
  await runBatch(db, [
    // Before its subscriptions go: they find the decisions still waiting for a digest.
    ...stopPending(db, id, 'destination deleted', clock()),
    db.delete(subscriptions).where(eq(subscriptions.destinationId, id)),
    db.delete(destinations).where(eq(destinations.id, id)),
  ]);
  return true;
}

/** Statements that stop everything not yet sent to a destination (it went away or was refused). */
function stopPending(db: Db, id: string, why: string, t: number) {
  return [
    // Settled first: a subscriber group's decisions are the destination's to stop.
    ...settleStatements(db),
    db
      .update(outbox)
      .set({ status: 'cancelled', lastError: why, updatedAt: t })
      .where(and(eq(outbox.destinationId, id), inArray(outbox.status, ['queued', 'retrying']))),
    db.run(sql`
      UPDATE matches SET alert_state = 'none', suppressed_reason = 'destination_disabled'
      WHERE id IN (SELECT id FROM ${waitingDecisions(id)})`),
    // Decisions are not indexed by destination: found from its subscriptions' platforms' events
    // through the (event, destination) key (see untoldDecisions in schedule/digests.ts).
    db.run(sql`
      UPDATE matches SET digest_state = 'none'
      WHERE destination_id = ${id} AND digest_state = 'pending' AND event_pk IN (
        SELECT e.pk FROM subscriptions s CROSS JOIN events e ON e.platform_id = s.platform_id WHERE s.destination_id = ${id})`),
  ];
}

/** A provider refused the destination for good (or the person unsubscribed): it receives nothing more. */
export async function disableDestination(db: Db, clock: Clock, id: string, reason: string): Promise<void> {
  const t = clock();
  await runBatch(db, [
    db.update(destinations).set({ status: 'disabled', disabledReason: reason, disabledAt: t }).where(eq(destinations.id, id)),
    db.update(subscriptions).set({ destinationActive: false }).where(eq(subscriptions.destinationId, id)),
    ...stopPending(db, id, `destination disabled: ${reason}`, t),
  ]);
}

/** Confirmed (double opt-in) or re-enabled: it receives from now on. */
export async function activateDestination(db: Db, clock: Clock, id: string): Promise<void> {
  await runBatch(db, [
    db
      .update(destinations)
      .set({ status: 'active', disabledReason: null, disabledAt: null, confirmedAt: sql`coalesce(${destinations.confirmedAt}, ${clock()})` })
      .where(eq(destinations.id, id)),
    db.update(subscriptions).set({ destinationActive: true }).where(eq(subscriptions.destinationId, id)),
  ]);
}

/** The new secret signs from now on; the previous one signs beside it until `until`. */
export async function rotateWebhookSecret(db: Db, id: string, secret: string, until: number): Promise<void> {
  await db
    .update(destinations)
    .set({ previousSecret: sql`${destinations.secret}`, previousSecretUntil: until, secret })
    .where(eq(destinations.id, id));
}

/** Seals the webhook signing secrets stored in plain text before secrets were sealed (at start; idempotent). */
export async function sealPlaintextWebhookSecrets(db: Db, box: SecretBox): Promise<number> {
  const plain = (v: string | null) => v !== null && !v.startsWith(SEALED_PREFIX);
  const rows = (await db.select({ id: destinations.id, secret: destinations.secret, previousSecret: destinations.previousSecret }).from(destinations)).filter(
    (r) => plain(r.secret) || plain(r.previousSecret),
  );
  if (!rows.length) return 0;
  // SQLite keeps a rewritten row's old bytes in the page unless told to overwrite them.
  await db.run(sql`PRAGMA secure_delete = ON`);
  const seal = async (v: string | null) => (v === null ? null : box.seal(await box.open(v)));
  for (const r of rows) {
    await db
      .update(destinations)
      .set({ secret: await seal(r.secret), previousSecret: await seal(r.previousSecret) })
      .where(eq(destinations.id, r.id));
  }
  await db.run(sql`PRAGMA secure_delete = OFF`);
  return rows.length;
}
