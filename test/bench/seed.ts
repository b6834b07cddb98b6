import { sql } from 'drizzle-orm';
import type { Db } from '../../src/db.js';

/**
 * Bulk seeding in SQL (recursive CTEs): 100,000 subscribers in well under a second, so the
 * benchmark measures ClauseWatch and not its own set-up.
 */
export async function seedSubscribers(
  db: Db,
  opts: { count: number; platformSlugs: string[]; plan: 'free' | 'monitor'; channel?: 'email' | 'webhook'; webhookUrl?: string; prefix?: string },
): Promise<void> {
  const prefix = opts.prefix ?? 'b';
  const slugs = JSON.stringify(opts.platformSlugs);
  const n = opts.count;
  const type = opts.channel ?? 'email';
  await db.batch([
    db.run(sql`
      WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ${n})
      INSERT INTO accounts (id, name, plan, timezone, digest_weekday, digest_hour, created_at, updated_at)
      SELECT ${prefix} || '_acc_' || i, 'Bench ' || i, ${opts.plan}, 'UTC', 'monday', 9, 0, 0 FROM seq`),
    db.run(sql`
      WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ${n})
      INSERT INTO destinations (id, account_id, type, target_key, address, url, status, created_at)
      SELECT ${prefix} || '_dst_' || i, ${prefix} || '_acc_' || i, ${type},
        ${type} || ':' || ${prefix} || i, CASE WHEN ${type} = 'email' THEN 'reader' || i || '@bench.test' END,
        CASE WHEN ${type} = 'webhook' THEN ${opts.webhookUrl ?? null} END, 'active', 0 FROM seq`),
    db.run(sql`
      WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ${n})
      INSERT INTO subscriptions (id, account_id, destination_id, platform_id, min_severity_rank, status, destination_active, same_day_alerts, created_at)
      SELECT ${prefix} || '_sub_' || i, ${prefix} || '_acc_' || i, ${prefix} || '_dst_' || i,
        (SELECT id FROM platforms WHERE slug = (${slugs} ->> ((i - 1) % json_array_length(${slugs})))), 1, 'active', 1,
        ${opts.plan === 'monitor' ? 1 : 0}, 0
      FROM seq`),
  ]);
}
