import { and, eq } from 'drizzle-orm';
import { PLANS } from '../core/plans.js';
import type { Db } from '../db.js';
import { accounts, destinations, subscriptions } from '../../db/schema.js';
import { newId } from '../core/ids.js';
import type { Clock } from '../core/clock.js';
import type { Weekday } from '../core/schedule-time.js';
import { runBatch } from './batch.js';
import { enqueueStatement } from '../delivery/outbox.js';

export type SignupOutcome = 'created' | 'confirmation_resent' | 'manage_link_sent' | 'throttled';

/** A person may ask again, but gets at most one mail about it per ten minutes. */
const RESEND_WINDOW_MS = 10 * 60_000;

/**
 * Self-serve sign-up with double opt-in. A new address gets a free account, an unconfirmed email
 * destination subscribed to the platform, and a confirmation mail; nothing else reaches it until
 * it confirms. An address that signed up before gets the confirmation again (or, once confirmed,
 * a link to its manage page) and never a second account. The HTTP answer is the same in every
 * case, so the endpoint does not tell who is subscribed.
 */
export async function signUp(db: Db, clock: Clock, input: SignupInput): Promise<SignupOutcome> {
  try {
    return await signUpOnce(db, clock, input);
  } catch (err) {
    // A second sign-up for the same address won the race: the unique address (or, for a returning
    // account, its unique email destination) refused ours. Once more finds what it made.
    if (/UNIQUE constraint failed: (accounts\.signup_address|destinations\.account_id, destinations\.target_key)/.test(String((err as { cause?: unknown }).cause ?? err))) {
      return signUpOnce(db, clock, input);
    }
    throw err;
  }
}

interface SignupInput {
  email: string;
  platformId: number;
  platformName: string;
  digest: { weekday: Weekday; hour: number };
}

async function signUpOnce(db: Db, clock: Clock, input: SignupInput): Promise<SignupOutcome> {
  const now = clock();
  const email = input.email.toLowerCase();
  const window = Math.floor(now / RESEND_WINDOW_MS);
  // By the account's sign-up address, so an account whose destination an admin removed is
  // reused (its address stays unique among sign-up accounts) instead of refused.
  const [existing] = await db
    .select({ accountId: accounts.id, plan: accounts.plan, destination: destinations })
    .from(accounts)
    .leftJoin(destinations, and(eq(destinations.accountId, accounts.id), eq(destinations.type, 'email'), eq(destinations.address, email)))
    .where(eq(accounts.signupAddress, email))
    .limit(1);

  if (!existing) {
    const accountId = newId('acc');
    const destinationId = newId('dst');
    await runBatch(db, [
      db.insert(accounts).values({
        id: accountId,
        name: email,
        plan: 'free',
        timezone: 'UTC',
        digestWeekday: input.digest.weekday,
        digestHour: input.digest.hour,
        origin: 'signup',
        signupAddress: email,
        createdAt: now,
        updatedAt: now,
      }),
      db.insert(destinations).values({ id: destinationId, accountId, type: 'email', targetKey: `email:${email}`, address: email, status: 'unconfirmed', createdAt: now }),
      db.insert(subscriptions).values({
        id: newId('sub'),
        accountId,
        destinationId,
        platformId: input.platformId,
        destinationActive: false,
        sameDayAlerts: false,
        createdAt: now,
      }),
      enqueueStatement(
        db,
        { idempotencyKey: `confirm:${destinationId}:${window}`, kind: 'confirmation', destinationId, accountId, channel: 'email', payload: { platforms: [input.platformName] }, dueAt: now },
        now,
      ),
    ]);
    return 'created';
  }

  const d = existing.destination;
  if (d?.status === 'active') {
    const r = (await runBatch(db, [
      enqueueStatement(
        db,
        { idempotencyKey: `manage-link:${d.id}:${window}`, kind: 'manage_link', destinationId: d.id, accountId: d.accountId, channel: 'email', dueAt: now },
        now,
      ),
    ])) as { rowsAffected: number }[];
    return r[0]?.rowsAffected ? 'manage_link_sent' : 'throttled';
  }

  // Unconfirmed, unsubscribed earlier, or its destination removed: start the double opt-in again,
  // for the platform asked for now (a free account watches one platform).
  const accountId = existing.accountId;
  const destinationId = d?.id ?? newId('dst');
  const r = (await runBatch(db, [
    d
      ? db.update(destinations).set({ status: 'unconfirmed', disabledReason: null, disabledAt: null }).where(eq(destinations.id, d.id))
      : db.insert(destinations).values({ id: destinationId, accountId, type: 'email', targetKey: `email:${email}`, address: email, status: 'unconfirmed', createdAt: now }),
    db.delete(subscriptions).where(eq(subscriptions.destinationId, destinationId)),
    db.insert(subscriptions).values({
      id: newId('sub'),
      accountId,
      destinationId,
      platformId: input.platformId,
      destinationActive: false,
      sameDayAlerts: PLANS[existing.plan].sameDayAlerts,
      createdAt: now,
    }),
    enqueueStatement(
      db,
      { idempotencyKey: `confirm:${destinationId}:${window}`, kind: 'confirmation', destinationId, accountId, channel: 'email', payload: { platforms: [input.platformName] }, dueAt: now },
      now,
    ),
  ])) as { rowsAffected: number }[];
  return r[3]?.rowsAffected ? 'confirmation_resent' : 'throttled';
}
