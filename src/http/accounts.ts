import { z } from 'zod';
import type { AppDeps } from './deps.js';
import { readJsonBody } from './body.js';
import { ApiError, notFound, parseOrThrow } from './errors.js';
import { createAccount, getAccount, listAccounts, platformsInUse, updateAccount, type AccountRow, ACCOUNT_CURSOR } from '../store/accounts.js';
import { PLAN_NAMES, PLANS } from '../core/plans.js';
import { isTimeZone, WEEKDAYS } from '../core/schedule-time.js';
import { pageQuery } from './query.js';
import { discordGuildId, slackTeamId } from '../core/chat-ids.js';
import { adminAuth, defineRoute, describedRoute, describedRoutes, errors, json, jsonBody, listOf, pathParams } from './openapi.js';

const settingsFields = {
  plan: z.enum(PLAN_NAMES, { error: `one of ${PLAN_NAMES.join(', ')}` }),
  timezone: z.string().refine(isTimeZone, 'an IANA time zone such as Europe/Berlin'),
  digest_weekday: z
    .string()
    .transform((v) => v.toLowerCase())
    .pipe(z.enum(WEEKDAYS, { error: 'a weekday name such as monday' })),
  digest_hour: z.number({ error: 'a whole number from 0 to 23' }).int('a whole number from 0 to 23').min(0, 'a whole number from 0 to 23').max(23, 'a whole number from 0 to 23'),
  reminder_days: z.number({ error: 'a whole number of days from 0 (off) to 60' }).int('a whole number of days').min(0, 'at least 0 (off)').max(60, 'at most 60'),
  empty_digest: z.boolean({ error: 'true or false' }),
};
const name = z.string({ error: 'a name for the account' }).trim().min(1, 'must not be empty').max(200, 'at most 200 characters');

const createBody = z.strictObject({
  name,
  plan: settingsFields.plan.default('free'),
  timezone: settingsFields.timezone.default('UTC'),
  digest_weekday: settingsFields.digest_weekday.optional(),
  digest_hour: settingsFields.digest_hour.optional(),
  reminder_days: settingsFields.reminder_days.default(7),
  empty_digest: settingsFields.empty_digest.default(true),
}, { error: (i) => (i.code === 'unrecognized_keys' ? `unknown field; accounts take name, plan, timezone, digest_weekday, digest_hour, reminder_days, empty_digest` : undefined) });

const patchBody = z
  .strictObject({
    name: name.optional(),
    plan: settingsFields.plan.optional(),
    timezone: settingsFields.timezone.optional(),
    digest_weekday: settingsFields.digest_weekday.optional(),
    digest_hour: settingsFields.digest_hour.optional(),
    reminder_days: settingsFields.reminder_days.optional(),
    empty_digest: settingsFields.empty_digest.optional(),
  }, { error: (i) => (i.code === 'unrecognized_keys' ? `unknown field; PATCH takes name, plan, timezone, digest_weekday, digest_hour, reminder_days, empty_digest` : undefined) })
  .refine((b) => Object.keys(b).length > 0, 'send at least one field to change');

const lookupQuery = z.object({
  email: z.email('an email address').optional(),
  slack_team: slackTeamId.optional(),
  discord_guild: discordGuildId.optional(),
  ...pageQuery(ACCOUNT_CURSOR),
});

const accountSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    plan: z.enum(PLAN_NAMES),
    timezone: z.string(),
    digest_weekday: z.enum(WEEKDAYS),
    digest_hour: z.int(),
    reminder_days: z.int(),
    empty_digest: z.boolean(),
    slack_team: z.string().nullable(),
    discord_guild: z.string().nullable(),
    usage: z.object({ platforms: z.int(), platform_limit: z.int(), same_day_alerts: z.boolean() }),
    created_at: z.string().meta({ format: 'date-time' }),
    updated_at: z.string().meta({ format: 'date-time' }),
  })
  .meta({ id: 'Account' });
const accountAnswer = json('The account, with its plan usage', accountSchema);
const accountId = pathParams({ id: 'The account id (acc_…)' });

const createRoute = defineRoute({
  method: 'post',
  path: '/',
  tags: ['Accounts'],
  summary: 'Create an account',
  security: adminAuth,
  request: { body: jsonBody(createBody) },
  responses: { 201: accountAnswer, ...errors(400, 401, 413, 415) },
});

const lookupRoute = defineRoute({
  method: 'get',
  path: '/',
  tags: ['Accounts'],
  summary: 'Find accounts by email address, Slack workspace or Discord server',
  security: adminAuth,
  request: { query: lookupQuery },
  responses: { 200: json('A page of accounts', listOf(accountSchema)), ...errors(400, 401) },
});

const getRoute = defineRoute({
  method: 'get',
  path: '/{id}',
  tags: ['Accounts'],
  summary: 'One account',
  security: adminAuth,
  request: { params: accountId },
  responses: { 200: accountAnswer, ...errors(401, 404) },
});

const patchRoute = defineRoute({
  method: 'patch',
  path: '/{id}',
  tags: ['Accounts'],
  summary: 'Change an account’s name, plan or digest settings',
  description: 'A downgrade pauses the platforms past the new plan’s limit (the oldest are kept); an upgrade resumes them.',
  security: adminAuth,
  request: { params: accountId, body: jsonBody(patchBody) },
  responses: { 200: accountAnswer, ...errors(400, 401, 404, 413, 415) },
});

export async function accountJson(deps: AppDeps, a: AccountRow) {
  const used = await platformsInUse(deps.db, a.id);
  return {
    id: a.id,
    name: a.name,
    plan: a.plan,
    timezone: a.timezone,
    digest_weekday: a.digestWeekday,
    digest_hour: a.digestHour,
    reminder_days: a.reminderDays,
    empty_digest: a.emptyDigest,
    slack_team: a.slackTeam,
    discord_guild: a.discordGuild,
    usage: { platforms: used, platform_limit: PLANS[a.plan].platformLimit, same_day_alerts: PLANS[a.plan].sameDayAlerts },
    created_at: new Date(a.createdAt).toISOString(),
    updated_at: new Date(a.updatedAt).toISOString(),
  };
}

/** Loads the account of `:id` or throws the 404 every nested route shares. */
export async function accountOr404(deps: AppDeps, id: string): Promise<AccountRow> {
  const a = await getAccount(deps.db, id);
  if (!a) throw notFound('account', id, 'Find accounts with GET /v1/accounts?email=… or create one with POST /v1/accounts.');
  return a;
}

export function accountRoutes(deps: AppDeps) {
  const app = describedRoutes();

  describedRoute(app, createRoute, async (c) => {
    const b = parseOrThrow(createBody, await readJsonBody(c, 'invalid_account'), 'invalid_account');
    const a = await createAccount(deps.db, deps.clock, {
      name: b.name,
      plan: b.plan,
      timezone: b.timezone,
      digestWeekday: b.digest_weekday ?? deps.config.digest.weekday,
      digestHour: b.digest_hour ?? deps.config.digest.hour,
      reminderDays: b.reminder_days,
      emptyDigest: b.empty_digest,
    });
    deps.log.info('account.created', { accountId: a.id, plan: a.plan });
    return c.json(await accountJson(deps, a), 201);
  });

  describedRoute(app, lookupRoute, async (c) => {
    const q = parseOrThrow(lookupQuery, c.req.query(), 'invalid_query');
    const page = await listAccounts(deps.db, { email: q.email, slackTeam: q.slack_team, discordGuild: q.discord_guild }, q.limit, q.cursor);
    return c.json({ data: await Promise.all(page.data.map((a) => accountJson(deps, a))), next_cursor: page.nextCursor });
  });

  describedRoute(app, getRoute, async (c) => c.json(await accountJson(deps, await accountOr404(deps, c.req.param('id')))));

  describedRoute(app, patchRoute, async (c) => {
    const current = await accountOr404(deps, c.req.param('id'));
    const b = parseOrThrow(patchBody, await readJsonBody(c, 'invalid_account'), 'invalid_account');
    const updated = await updateAccount(deps.db, deps.clock, current.id, {
      name: b.name,
      plan: b.plan,
      timezone: b.timezone,
      digestWeekday: b.digest_weekday,
      digestHour: b.digest_hour,
      reminderDays: b.reminder_days,
      emptyDigest: b.empty_digest,
    });
    if (!updated) throw new ApiError(404, 'not_found', `No account '${current.id}'.`);
    if (b.plan && b.plan !== current.plan) deps.log.info('account.plan_changed', { accountId: current.id, from: current.plan, to: b.plan });
    return c.json(await accountJson(deps, updated));
  });

  return app;
}
