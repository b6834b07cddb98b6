import { z } from 'zod';
import type { AppDeps } from './deps.js';
import { readJsonBody } from './body.js';
import { ApiError, notFound, parseOrThrow } from './errors.js';
import { accountOr404 } from './accounts.js';
import { deleteSubscription, listSubscriptions, subscribe, type SubscriptionView } from '../store/subscriptions.js';
import { getDestination } from '../store/destinations.js';
import { findPlatform } from '../store/platforms.js';
import { unknownPlatform } from './signup.js';
import { SEVERITIES } from '../core/severity.js';
import { planLimitMessage } from '../core/plans.js';
import { PLATFORM_SLUG } from '../core/event.js';
import { adminAuth, defineRoute, describedRoute, describedRoutes, errors, json, jsonBody, listOf, pathParams } from './openapi.js';

const body = z.strictObject({
  platform: z.string({ error: 'a platform slug such as openai' }).trim().toLowerCase().regex(PLATFORM_SLUG, 'a platform slug such as openai'),
  destination: z.string({ error: 'the id of one of the account’s destinations' }).min(1, 'the id of one of the account’s destinations'),
  min_severity: z.enum(SEVERITIES, { error: 'one of low, medium, high' }).default('low'),
  categories: z
    .array(z.string().trim().toLowerCase().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'a category such as privacy'))
    .max(20, 'at most 20 categories')
    .nullable()
    .default(null),
});

const subscriptionSchema = z
  .object({
    id: z.string(),
    account_id: z.string(),
    destination: z.string(),
    platform: z.string(),
    platform_name: z.string(),
    min_severity: z.enum(SEVERITIES),
    categories: z.array(z.string()).nullable(),
    status: z.enum(['active', 'paused']).meta({ description: 'paused: past the plan’s platform limit' }),
    created_at: z.string().meta({ format: 'date-time' }),
  })
  .meta({ id: 'Subscription' });
const subscription = json('The subscription', subscriptionSchema);

const createRoute = defineRoute({
  method: 'post',
  path: '/',
  tags: ['Subscriptions'],
  summary: 'Watch a platform at a destination',
  description: 'Subscribing again answers 200 with the subscription as it is.',
  security: adminAuth,
  request: { params: pathParams({ id: 'The account id (acc_…)' }), body: jsonBody(body) },
  responses: { 201: subscription, 200: subscription, ...errors(400, 401, 402, 404, 413, 415) },
});

const listRoute = defineRoute({
  method: 'get',
  path: '/',
  tags: ['Subscriptions'],
  summary: 'The account’s subscriptions',
  security: adminAuth,
  request: { params: pathParams({ id: 'The account id (acc_…)' }) },
  responses: { 200: json('Every subscription of the account (one page)', listOf(subscriptionSchema)), ...errors(401, 404) },
});

const deleteRoute = defineRoute({
  method: 'delete',
  path: '/{subId}',
  tags: ['Subscriptions'],
  summary: 'Stop watching',
  security: adminAuth,
  request: { params: pathParams({ id: 'The account id (acc_…)', subId: 'The subscription id (sub_…)' }) },
  responses: { 204: { description: 'Removed' }, ...errors(401, 404) },
});

export function subscriptionJson(s: SubscriptionView) {
  return {
    id: s.id,
    account_id: s.accountId,
    destination: s.destinationId,
    platform: s.platform.slug,
    platform_name: s.platform.name,
    min_severity: s.minSeverity,
    categories: s.categories,
    status: s.status,
    created_at: new Date(s.createdAt).toISOString(),
  };
}

export function subscriptionRoutes(deps: AppDeps) {
  const app = describedRoutes();

  describedRoute(app, createRoute, async (c) => {
    const account = await accountOr404(deps, c.req.param('id')!);
    const b = parseOrThrow(body, await readJsonBody(c, 'invalid_subscription'), 'invalid_subscription');
    const destination = await getDestination(deps.db, account.id, b.destination);
    if (!destination) {
      throw notFound('destination', b.destination, `List the account's destinations with GET /v1/accounts/${account.id}/destinations.`);
    }
    const platform = await findPlatform(deps.db, b.platform);
    if (!platform) throw await unknownPlatform(deps, b.platform);
    const r = await subscribe(deps.db, deps.clock, {
      accountId: account.id,
      plan: account.plan,
      destinationId: destination.id,
      platformId: platform.id,
      minSeverity: b.min_severity,
      categories: b.categories,
    });
    if (!r.ok) throw new ApiError(402, 'plan_limit', planLimitMessage(account.plan));
    if (r.created) deps.log.info('subscription.created', { accountId: account.id, subscriptionId: r.subscription.id, platform: platform.slug });
    return c.json(subscriptionJson(r.subscription), r.created ? 201 : 200);
  });

  describedRoute(app, listRoute, async (c) => {
    const account = await accountOr404(deps, c.req.param('id')!);
    const subs = await listSubscriptions(deps.db, account.id);
    return c.json({ data: subs.map(subscriptionJson), next_cursor: null });
  });

  describedRoute(app, deleteRoute, async (c) => {
    const account = await accountOr404(deps, c.req.param('id')!);
    if (!(await deleteSubscription(deps.db, account.id, c.req.param('subId')))) {
      throw notFound('subscription', c.req.param('subId'), `List them with GET /v1/accounts/${account.id}/subscriptions.`);
    }
    return c.body(null, 204);
  });

  return app;
}
