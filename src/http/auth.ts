import type { MiddlewareHandler } from 'hono';
import { timingSafeEqual } from 'hono/utils/buffer';
import { ApiError } from './errors.js';

/**
 * Bearer-token check against a list (several tokens allow rotation). Every candidate is compared
 * in constant time, and all of them are compared, so timing tells nothing about which came close.
 */
export function requireToken(tokens: () => readonly string[], role: 'ingest' | 'admin'): MiddlewareHandler {
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    let ok = false;
    if (m) {
      for (const t of tokens()) {
        if (await timingSafeEqual(t, m[1]!)) ok = true;
      }
    }
    if (!ok) {
      throw new ApiError(401, 'unauthorized', `Send a valid ${role} token as "Authorization: Bearer <token>".`);
    }
    await next();
  };
}
