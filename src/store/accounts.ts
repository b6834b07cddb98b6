import { and, asc, eq, gt, inArray, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db.js';
import { accounts, destinations, subscriptions } from '../../db/schema.js';
import { applyPlanLimit, PLANS, type PlanName } from '../core/plans.js';
import type { Weekday } from '../core/schedule-time.js';
import { newId } from '../core/ids.js';
import type { Clock } from '../core/clock.js';
import { runBatch } from './batch.js';
import { withdrawPendingAlerts } from './subscriptions.js';
import { decodeCursor, keysetLimit, keysetPage, type Page } from './paging.js';

/** Accounts list by creation time, then id. */
export const ACCOUNT_CURSOR = ['number', 'string'] as const;

export type AccountRow = typeof accounts.$inferSelect;

export interface AccountSettings {
  plan: PlanName;
  timezone: string;
  digestWeekday: Weekday;
  digestHour: number;
  reminderDays: number;
  emptyDigest: boolean;
}

export interface NewAccount extends AccountSettings {
  name: string;
  slackTeam?: string | null;
  discordGuild?: string | null;
}

export async function createAccount(db: Db, clock: Clock, input: NewAccount): Promise<AccountRow> {
  const t = clock();
  const [row] = await db
    .insert(accounts)
    .values({ id: newId('acc'), ...input, createdAt: t, updatedAt: t })
    .returning();
  return row!;
}

export async function getAccount(db: Db, id: string): Promise<AccountRow | undefined> {
  return db.query.accounts.findFirst({ where: eq(accounts.id, id) });
}

export interface AccountFilter {
  email?: string;
  slackTeam?: string;
  discordGuild?: string;
}

export async function listAccounts(db: Db, filter: AccountFilter, limit: number, cursor?: string): Promise<Page<AccountRow>> {
  const conds: SQL[] = [];
  if (filter.email) {
    conds.push(
      inArray(
        accounts.id,
        db
          .select({ id: destinations.accountId })
          .from(destinations)
          .where(and(eq(destinations.type, 'email'), eq(destinations.address, filter.email.toLowerCase()))),
      ),
    );
  }
  if (filter.slackTeam) {
    conds.push(
      or(
        eq(accounts.slackTeam, filter.slackTeam),
        inArray(accounts.id, db.select({ id: destinations.accountId }).from(destinations).where(eq(destinations.slackTeam, filter.slackTeam))),
      )!,
    );
  }
  if (filter.discordGuild) {
    conds.push(
      or(
        eq(accounts.discordGuild, filter.discordGuild),
        inArray(
          accounts.id,
          db.select({ id: destinations.accountId }).from(destinations).where(eq(destinations.discordGuild, filter.discordGuild)),
        ),
      )!,
    );
  }
  const after = decodeCursor(cursor, ACCOUNT_CURSOR);
  if (after) {
    conds.push(or(gt(accounts.createdAt, after[0]), and(eq(accounts.createdAt, after[0]), gt(accounts.id, after[1])))!);
  }
  const rows = await db
    .select()
    .from(accounts)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(asc(accounts.createdAt), asc(accounts.id))
    .limit(keysetLimit(limit));
  const page = keysetPage(rows, limit, ACCOUNT_CURSOR, (r) => [r.createdAt, r.id]);
  return { data: page.rows, nextCursor: page.nextCursor };
}

/** Distinct platforms the account's active subscriptions watch: what the plan limit counts. */
export async function platformsInUse(db: Db, accountId: string): Promise<number> {
  const [row] = await db.all<{ n: number }>(
    sql`SELECT count(DISTINCT platform_id) AS n FROM subscriptions WHERE account_id = ${accountId} AND status = 'active'`,
  );
  return row?.n ?? 0;
}

/**
 * Changes settings; a plan change pauses or resumes subscriptions as the plan rules say, in the
 * same batch as the account update so no reader sees one without the other.
 */
export async function updateAccount(
  db: Db,
  clock: Clock,
  id: string,
  changes: Partial<AccountSettings> & { name?: string },
): Promise<AccountRow | undefined> {
  const current = await getAccount(db, id);
  if (!current) return undefined;
  const t = clock();
  const stmts = [db.update(accounts).set({ ...changes, updatedAt: t }).where(eq(accounts.id, id))];
  if (changes.plan && changes.plan !== current.plan) {
    const subs = await db
      .select({ id: subscriptions.id, platformId: subscriptions.platformId, createdAt: subscriptions.createdAt, status: subscriptions.status, seq: sql<number>`rowid` })
      .from(subscriptions)
      .where(eq(subscriptions.accountId, id));
    const { pause, resume } = applyPlanLimit(changes.plan, subs);
    stmts.push(
      db.update(subscriptions).set({ sameDayAlerts: PLANS[changes.plan].sameDayAlerts }).where(eq(subscriptions.accountId, id)) as never,
    );
    // Alerts still gathering are withdrawn with what they were for: a plan without same-day
    // alerts sends none from the moment it applies, and a paused subscription sends nothing.
    if (!PLANS[changes.plan].sameDayAlerts) stmts.push(...(withdrawPendingAlerts(db, sql`s.account_id = ${id}`, 'plan') as unknown as never[]));
    if (pause.length) stmts.push(...(withdrawPendingAlerts(db, sql`s.id IN (SELECT value FROM json_each(${JSON.stringify(pause)}))`, 'paused') as unknown as never[]));
    if (pause.length) stmts.push(db.update(subscriptions).set({ status: 'paused' }).where(inArray(subscriptions.id, pause)) as never);
    if (resume.length) stmts.push(db.update(subscriptions).set({ status: 'active' }).where(inArray(subscriptions.id, resume)) as never);
  }
  await runBatch(db, stmts);
  return getAccount(db, id);
}

export function planLimitOf(plan: PlanName): number {
  return PLANS[plan].platformLimit;
}
