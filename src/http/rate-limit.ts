import type { MiddlewareHandler } from 'hono';
import type { AppDeps } from './deps.js';
import { ApiError } from './errors.js';
import { hitRateLimit } from '../store/rate-limits.js';

/** Requests per client address and window of the public endpoints that are not sign-up. */
export const PUBLIC_RATE_LIMITS = {
  feeds: { limit: 120, windowMs: 60_000 },
  platformSearch: { limit: 120, windowMs: 60_000 },
  /** The email's review page form: a person deciding a day's changes, not a script. */
  reviewForm: { limit: 30, windowMs: 60_000 },
} as const;

/**
 * The one per-client limit of public endpoints (sign-up, feeds, platform search): counted per
 * client address (the socket's, or the one TRUST_PROXY_HOPS proxies name; CF-Connecting-IP on
 * Workers) in the database, so every instance counts together; past it, 429 `rate_limited` in
 * the one error shape, with Retry-After.
 */
export async function checkRateLimit(deps: AppDeps, c: Parameters<MiddlewareHandler>[0], name: string, limit: number, windowMs: number, what: string): Promise<void> {
  const client = deps.clientAddress?.(c) ?? 'unknown';
  const r = await hitRateLimit(deps.db, `${name}:${client}`, limit, windowMs, deps.clock());
  if (r.allowed) return;
  c.header('Retry-After', String(r.retryAfterSeconds));
  const wait = r.retryAfterSeconds >= 120 ? `${Math.ceil(r.retryAfterSeconds / 60)} minutes` : `${r.retryAfterSeconds} seconds`;
  throw new ApiError(429, 'rate_limited', `Too many ${what} from this address. Try again in ${wait}.`);
}

/** checkRateLimit as middleware, for routes that are limited before anything else is done. */
export const rateLimited =
  (deps: AppDeps, name: string, limit: number, windowMs: number, what: string): MiddlewareHandler =>
  async (c, next) => {
    await checkRateLimit(deps, c, name, limit, windowMs, what);
    await next();
  };
