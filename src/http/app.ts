import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { matchedRoutes } from 'hono/route';
import type { AppDeps } from './deps.js';
import { errorFields } from '../log.js';
import { ApiError, errorBody, sendError } from './errors.js';
import { requireToken } from './auth.js';
import { eventRoutes } from './events.js';
import { verificationRoutes } from './verifications.js';
import { platformRoutes } from './platforms.js';
import { accountRoutes } from './accounts.js';
import { destinationRoutes } from './destinations.js';
import { subscriptionRoutes } from './subscriptions.js';
import { deliveryRoutes } from './deliveries.js';
import { reviewRoutes } from './reviews.js';
import { reviewPageRoutes } from './review-page.js';
import { signupRoutes } from './signup.js';
import { linkPageRoutes } from './link-pages.js';
import { digestRoutes } from './digests.js';
import { alertViewRoutes } from './alert-view.js';
import { feedRoutes } from './feeds.js';
import { homeRoutes } from './home.js';
import { chatOffSentence } from './chat-setup.js';
import { adminAuth, defineRoute, describeApi, describedRoute, describedRoutes, errors, json, registerShared } from './openapi.js';
import { z } from 'zod';
import { docsRoutes } from './docs.js';

export type { AppDeps } from './deps.js';

/** Label values of the HTTP histogram: any other method a client invents counts as OTHER. */
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const healthRoute = defineRoute({
  method: 'get',
  path: '/health',
  tags: ['Operations'],
  summary: 'Liveness',
  responses: { 200: json('The process answers', z.object({ status: z.literal('ok') })) },
});

const metricsRoute = defineRoute({
  method: 'get',
  path: '/metrics',
  tags: ['Operations'],
  summary: 'Prometheus metrics',
  security: adminAuth,
  responses: {
    200: { description: 'The Prometheus text format', content: { 'text/plain': { schema: z.string() } } },
    ...errors(401, 404),
  },
});

const descriptionRoute = defineRoute({
  method: 'get',
  path: '/openapi.json',
  tags: ['Operations'],
  summary: 'This description (OpenAPI 3.1)',
  responses: { 200: json('The OpenAPI document') },
});

/**
 * The whole HTTP surface as one Hono app. It imports nothing Node-only, so the Workers edition
 * serves the same app with other dependencies handed in.
 */
export function createApp(deps: AppDeps, extend?: (app: Hono) => void): Hono {
  const app = describedRoutes();
  registerShared(app);
  const admin = requireToken(() => deps.config.adminTokens, 'admin');

  const metrics = deps.metrics;
  if (metrics) {
    app.use(async (c, next) => {
      const started = performance.now();
      await next();
      // The pattern of the handler the request matched, even when a middleware (a token check)
      // answered first: a bounded set of label values, never the raw path.
      const route = matchedRoutes(c).findLast((r) => r.method !== 'ALL')?.path ?? '(unmatched)';
      metrics.httpRequest(HTTP_METHODS.has(c.req.method) ? c.req.method : 'OTHER', route, c.res.status, (performance.now() - started) / 1000);
    });
  }

  describedRoute(app, healthRoute, (c) => c.json({ status: 'ok' }));
  describedRoute(app, metricsRoute, admin, async (c) => {
    if (!deps.metrics) return c.json(errorBody('not_found', 'Metrics are not collected by this server.'), 404);
    const m = await deps.metrics.render();
    return c.body(m.body, 200, { 'content-type': m.contentType });
  });
  // The sign-up is by email: a server that sends no email does not offer it.
  const signup = !deps.channels || deps.channels.includes('email');
  if (signup) app.route('/v1/signup', signupRoutes(deps));
  app.route('/', homeRoutes(deps, { signup }));
  app.route('/', linkPageRoutes(deps));
  app.route('/', digestRoutes(deps));
  app.route('/', alertViewRoutes(deps));
  app.route('/', reviewPageRoutes(deps));
  app.route('/', feedRoutes(deps));
  app.route('/v1/events', eventRoutes(deps));
  app.route('/v1/verifications', verificationRoutes(deps));
  app.route('/v1/platforms', platformRoutes(deps));
  app.use('/v1/accounts', admin);
  app.use('/v1/accounts/*', admin);
  app.route('/v1/accounts/:id/destinations', destinationRoutes(deps));
  app.route('/v1/accounts/:id/subscriptions', subscriptionRoutes(deps));
  app.route('/v1/accounts/:id/deliveries', deliveryRoutes(deps));
  app.route('/v1/accounts/:id/reviews', reviewRoutes(deps));
  app.route('/v1/accounts', accountRoutes(deps));
  if (deps.docsAsset) app.route('/', docsRoutes(deps.docsAsset));
  // Described routes only; the description is made once, on first request, from every route above.
  let description: ReturnType<typeof describeApi> | undefined;
  describedRoute(app, descriptionRoute, (c) => c.json((description ??= describeApi(app, deps.config.publicUrl))));
  // Slack's and Discord's receivers (their requests are Slack's and Discord's, signed) are not described.
  extend?.(app);
  // A chat platform that is off answers every path of its own with what to set, not a bare 404
  // (after `extend`, so a route registered for the platform still wins). 404, not 503: nothing
  // will be there until the operator configures it, so Slack or Discord must not keep retrying.
  for (const platform of ['slack', 'discord'] as const) {
    if (!deps.config.chat[platform]) app.all(`/${platform}/*`, (c) => c.json(errorBody(`${platform}_not_configured`, chatOffSentence(platform)), 404));
  }

  app.notFound((c) => c.json(errorBody('not_found', `No route ${c.req.method} ${c.req.path}.`), 404));
  app.onError((err, c) => {
    if (err instanceof ApiError) return sendError(c, err);
    if (err instanceof HTTPException) {
      return c.json(errorBody(err.status === 413 ? 'payload_too_large' : 'http_error', err.message || 'The request was refused.'), err.status);
    }
    deps.log.error('http.unhandled', { method: c.req.method, path: c.req.routePath, ...errorFields(err) });
    return c.json(errorBody('internal_error', 'Something went wrong on our side. Try again; if it persists, tell the operator.'), 500);
  });
  return app;
}
