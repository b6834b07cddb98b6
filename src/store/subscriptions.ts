import { and, asc, eq, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db.js';
import { platforms, subscriptions } from '../../db/schema.js';
import { PLANS, type PlanName } from '../core/plans.js';
import { severityFromRank, severityRank, type Severity } from '../core/severity.js';
import { newId } from '../core/ids.js';
import type { Clock } from '../core/clock.js';
import { runBatch } from './batch.js';
import { settleStatements } from '../ingest/settle.js';
import { REASONS } from '../core/policy.js';

export interface SubscriptionView {
  id: string;
  accountId: string;
  destinationId: string;
  platform: { slug: string; name: string };
  minSeverity: Severity;
  categories: string[] | null;
  status: 'active' | 'paused';
  createdAt: number;
}

export interface SubscribeInput {
  accountId: string;
  plan: PlanName;
  destinationId: string;
  platformId: number;
  minSeverity: Severity;
  categories: string[] | null;
}

export type SubscribeOutcome =
  | { ok: true; subscription: SubscriptionView; created: boolean }
  | { ok: false; reason: 'plan_limit' };

/**
 * Subscribes a destination to a platform, or updates its filters if it already is. The plan
 * limit is checked inside the INSERT itself, so two concurrent requests cannot both slip past it.
 */
export async function subscribe(db: Db, clock: Clock, input: SubscribeInput): Promise<SubscribeOutcome> {
  const categories = input.categories?.length ? JSON.stringify([...new Set(input.categories)].sort()) : null;
  const rank = severityRank(input.minSeverity);
  const existing = await db.query.subscriptions.findFirst({
    where: and(eq(subscriptions.destinationId, input.destinationId), eq(subscriptions.platformId, input.platformId)),
  });
  const limit = PLANS[input.plan].platformLimit;
  // The platform is already watched by the account, or the plan has room for one more.
  const withinLimit = sql`(${input.platformId} IN (SELECT platform_id FROM subscriptions WHERE account_id = ${input.accountId} AND status = 'active')
       OR (SELECT count(DISTINCT platform_id) FROM subscriptions WHERE account_id = ${input.accountId} AND status = 'active') < ${limit})`;
  if (existing) {
    // Asked for again, a paused subscription (a downgrade paused it) resumes if the plan has room;
    // if not, the answer is the plan limit and nothing changes.
    const r = await db.run(sql`
      UPDATE subscriptions SET min_severity_rank = ${rank}, categories = ${categories}, status = 'active'
      WHERE id = ${existing.id} AND (status = 'active' OR ${withinLimit})`);
    if (r.rowsAffected === 0) return { ok: false, reason: 'plan_limit' };
    return { ok: true, subscription: (await getSubscription(db, input.accountId, existing.id))!, created: false };
  }
  const id = newId('sub');
  const inserted = await db.run(sql`
    INSERT INTO subscriptions (id, account_id, destination_id, platform_id, min_severity_rank, categories, status,
      destination_active, same_day_alerts, created_at)
    SELECT ${id}, ${input.accountId}, ${input.destinationId}, ${input.platformId}, ${rank}, ${categories}, 'active',
      (SELECT status = 'active' FROM destinations WHERE id = ${input.destinationId}), ${PLANS[input.plan].sameDayAlerts ? 1 : 0}, ${clock()}
    WHERE ${withinLimit}
    ON CONFLICT DO NOTHING`);
  if (inserted.rowsAffected === 0) {
    const raced = await db.query.subscriptions.findFirst({
      where: and(eq(subscriptions.destinationId, input.destinationId), eq(subscriptions.platformId, input.platformId)),
    });
    if (raced) return { ok: true, subscription: (await getSubscription(db, input.accountId, raced.id))!, created: false };
    return { ok: false, reason: 'plan_limit' };
  }
  return { ok: true, subscription: (await getSubscription(db, input.accountId, id))!, created: true };
}

const view = {
  id: subscriptions.id,
  accountId: subscriptions.accountId,
  destinationId: subscriptions.destinationId,
  slug: platforms.slug,
  name: platforms.name,
  minSeverityRank: subscriptions.minSeverityRank,
  categories: subscriptions.categories,
  status: subscriptions.status,
  createdAt: subscriptions.createdAt,
};

function toView(r: {
  id: string;
  accountId: string;
  destinationId: string;
  slug: string;
  name: string;
  minSeverityRank: number;
  categories: string | null;
  status: 'active' | 'paused';
  createdAt: number;
}): SubscriptionView {
  return {
    id: r.id,
    accountId: r.accountId,
    destinationId: r.destinationId,
    platform: { slug: r.slug, name: r.name },
    minSeverity: severityFromRank(r.minSeverityRank),
    categories: r.categories ? (JSON.parse(r.categories) as string[]) : null,
    status: r.status,
    createdAt: r.createdAt,
  };
}

export async function getSubscription(db: Db, accountId: string, id: string): Promise<SubscriptionView | undefined> {
  const [row] = await db
    .select(view)
    .from(subscriptions)
    .innerJoin(platforms, eq(platforms.id, subscriptions.platformId))
    .where(and(eq(subscriptions.accountId, accountId), eq(subscriptions.id, id)));
  return row && toView(row);
}

export async function listSubscriptions(
  db: Db,
  accountId: string,
  filter: { destinationId?: string } = {},
): Promise<SubscriptionView[]> {
  const rows = await db
    .select(view)
    .from(subscriptions)
    .innerJoin(platforms, eq(platforms.id, subscriptions.platformId))
    .where(
      and(
        eq(subscriptions.accountId, accountId),
        filter.destinationId ? eq(subscriptions.destinationId, filter.destinationId) : undefined,
      ),
    )
    .orderBy(asc(subscriptions.createdAt), asc(subscriptions.id));
  return rows.map(toView);
}

/**
 * Alert work not yet sent for the subscriptions `which` selects (alias `s`): matches still
 * gathering, and those in an alert or end-of-day budget message that waits to go out. They are
 * kept for the record with `reason`, never sent; a message left with nothing cancels itself.
 * When the policy keeps nothing of `reason` for the digest either (the subscription is gone or
 * paused), what the destination's next digest would have listed of those platforms is dropped
 * from it too. Run in the same batch as the change that ends or pauses those subscriptions, so
 * nothing slips out after it. (A message already being sent under a lease goes out as it is.)
 */
export function withdrawPendingAlerts(db: Db, which: SQL, reason: 'unsubscribed' | 'plan' | 'paused') {
  const withdrawable = sql`(alert_state = 'pending' OR (alert_state = 'grouped' AND outbox_id IN (
        SELECT id FROM outbox WHERE kind IN ('alert', 'budget', 'follow_up') AND status IN ('queued', 'retrying'))))`;
  const dropsDigest = REASONS[reason].delivery !== 'digest' ? sql`digest_state = 'pending'` : sql`0`;
  // Settled first: a subscriber group's decisions are the members' to withdraw.
  return [...settleStatements(db), db.run(sql`
    UPDATE matches SET
      suppressed_reason = CASE WHEN ${withdrawable} THEN ${reason} ELSE suppressed_reason END,
      outbox_id = CASE WHEN ${withdrawable} THEN NULL ELSE outbox_id END,
      digest_state = CASE WHEN ${dropsDigest} THEN 'none' ELSE digest_state END,
      alert_state = CASE WHEN ${withdrawable} THEN 'none' ELSE alert_state END
    WHERE (${withdrawable} OR ${dropsDigest})
      -- The subscriptions' decisions, from their platforms' events through the (event,
      -- destination) key: decisions are not indexed by destination (see untoldDecisions).
      AND matches.id IN (
        SELECT m.id FROM subscriptions s CROSS JOIN events e ON e.platform_id = s.platform_id
        CROSS JOIN matches m ON m.event_pk = e.pk AND m.destination_id = s.destination_id
        WHERE ${which})`)] as const;
}

export async function deleteSubscription(db: Db, accountId: string, id: string): Promise<boolean> {
  const results = await runBatch(db, [
    ...withdrawPendingAlerts(db, sql`s.account_id = ${accountId} AND s.id = ${id}`, 'unsubscribed'),
    db.delete(subscriptions).where(and(eq(subscriptions.accountId, accountId), eq(subscriptions.id, id))).returning({ id: subscriptions.id }),
  ]);
  return (results.at(-1) as { id: string }[]).length > 0;
}

export async function unsubscribePlatform(db: Db, destinationId: string, platformId: number): Promise<boolean> {
  const results = await runBatch(db, [
    ...withdrawPendingAlerts(db, sql`s.destination_id = ${destinationId} AND s.platform_id = ${platformId}`, 'unsubscribed'),
    db
      .delete(subscriptions)
      .where(and(eq(subscriptions.destinationId, destinationId), eq(subscriptions.platformId, platformId)))
      .returning({ id: subscriptions.id }),
  ]);
  return (results.at(-1) as { id: string }[]).length > 0;
}
