import type { Context } from 'hono';
import { z } from 'zod';
import type { AppDeps } from './deps.js';
import { readJsonBody } from './body.js';
import { ApiError, parseOrThrow } from './errors.js';
import { findPlatform, suggestPlatforms } from '../store/platforms.js';
import { signUp } from '../store/signup.js';
import { checkRateLimit } from './rate-limit.js';
import { PLATFORM_SLUG } from '../core/event.js';
import { defineRoute, describedRoute, describedRoutes, errors, json, jsonBody } from './openapi.js';

const body = z.strictObject({
  email: z.email('an email address such as legal@example.com').max(254, 'at most 254 characters'),
  platform: z.string({ error: 'a platform slug such as openai' }).trim().toLowerCase().regex(PLATFORM_SLUG, 'a platform slug such as openai'),
});

/** The sign-up's fields, of the API's JSON body and of the home page's form alike. */
export const signupFields = body;

const signupRoute = defineRoute({
  method: 'post',
  path: '/',
  tags: ['Sign-up'],
  summary: 'Sign up for a platform’s weekly digest by email (double opt-in)',
  description: 'The same answer whatever happened, so nobody learns whether an address is subscribed; a confirmation link is mailed. Rate-limited per client address.',
  request: { body: jsonBody(body) },
  responses: { 202: json('Confirmation sent', z.object({ status: z.literal('confirmation_sent'), message: z.string() })), ...errors(400, 404, 413, 415, 429) },
});

export async function unknownPlatform(deps: AppDeps, slug: string): Promise<ApiError> {
  const close = await suggestPlatforms(deps.db, slug, 3);
  const hint = close.length ? `Did you mean ${close.map((p) => `'${p.slug}'`).join(', ')}?` : '';
  return new ApiError(404, 'unknown_platform', `No platform '${slug}'. ${hint} Search with GET /v1/platforms?q=${encodeURIComponent(slug)}.`.replace('  ', ' '), {
    suggestions: close.map((p) => p.slug),
  });
}

/**
 * One sign-up request, from the API or the home page's form: limited per client address first
 * (so refused input counts too), then validated, then the same answer whatever happened. Throws
 * the ApiError a caller shows (429 with Retry-After set, 400 invalid_signup, 404 unknown_platform).
 */
export async function requestSignup(deps: AppDeps, c: Context, readInput: () => Promise<unknown>): Promise<{ email: string; platformName: string }> {
  await checkRateLimit(deps, c, 'signup', deps.config.signupLimitPerHour, 3_600_000, 'sign-ups');
  const b = parseOrThrow(body, await readInput(), 'invalid_signup');
  const platform = await findPlatform(deps.db, b.platform);
  if (!platform) throw await unknownPlatform(deps, b.platform);
  const outcome = await signUp(deps.db, deps.clock, { email: b.email, platformId: platform.id, platformName: platform.name, digest: deps.config.digest });
  deps.log.info('signup.requested', { outcome, platform: platform.slug });
  if (outcome !== 'throttled') deps.onAlertWork?.();
  return { email: b.email.toLowerCase(), platformName: platform.name };
}

/** What a sign-up answers, whatever happened, so nobody learns whether an address is subscribed. */
export const signupSentMessage = (r: { email: string; platformName: string }) => `Check ${r.email} for a link to confirm the weekly digest of ${r.platformName}.`;

export function signupRoutes(deps: AppDeps) {
  const app = describedRoutes();
  describedRoute(app, signupRoute, async (c) => {
    const r = await requestSignup(deps, c, () => readJsonBody(c, 'invalid_signup'));
    return c.json({ status: 'confirmation_sent', message: signupSentMessage(r) }, 202);
  });
  return app;
}
