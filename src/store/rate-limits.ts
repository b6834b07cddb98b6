import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';

/**
 * Counts one hit of `key` in the current fixed window and says whether it is within `limit`.
 * One upsert statement, so concurrent requests and several instances count together.
 */
export async function hitRateLimit(
  db: Db,
  key: string,
  limit: number,
  windowMs: number,
  now: number,
): Promise<{ allowed: boolean; retryAfterSeconds: number }> {
  const windowStart = Math.floor(now / windowMs) * windowMs;
  const expiresAt = windowStart + windowMs;
  const [row] = await db.all<{ count: number }>(sql`
    INSERT INTO rate_limits (key, count, expires_at) VALUES (${`${key}@${windowStart}`}, 1, ${expiresAt})
    ON CONFLICT (key) DO UPDATE SET count = count + 1
    RETURNING count`);
  // Old windows are swept now and then, by whichever request comes by.
  if (Math.random() < 0.01) await db.run(sql`DELETE FROM rate_limits WHERE expires_at < ${now}`);
  return { allowed: (row?.count ?? 0) <= limit, retryAfterSeconds: Math.ceil((expiresAt - now) / 1000) };
}
