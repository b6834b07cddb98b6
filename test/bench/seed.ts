import { sql } from 'drizzle-orm';
import type { Db } from '../../src/db.js';
import type { Weekday } from '../../src/core/schedule-time.js';
import { digestWeekdayAwayFrom } from '../support/clock.js';

/**
 * Bulk seeding in SQL (recursive CTEs): 100,000 subscribers in well under a second, so the
 * benchmark measures ClauseWatch and not its own set-up.
 */
export async function seedSubscribers(
  db: Db,
  opts: {
    count: number;
    platformSlugs: string[];
    plan: 'free' | 'monitor';
    channel?: 'email' | 'webhook';
    webhookUrl?: string;
    prefix?: string;
    /**
     * `mixed`: subscribers spread over 24 subscriber groups a platform (3 minimum severities, 4
     * category filters, odd ones on the monitor plan whatever `plan` says, even ones on free), as
     * a real audience is; otherwise all alike, in one group.
     */
    filters?: 'alike' | 'mixed';
    /** The accounts' digest schedule (UTC); by default one that is not due for days on the wall clock. */
    digest?: { weekday: Weekday; hour: number };
  },
): Promise<void> {
  const prefix = opts.prefix ?? 'b';
  const slugs = JSON.stringify(opts.platformSlugs);
  const n = opts.count;
  const type = opts.channel ?? 'email';
  const mixed = opts.filters === 'mixed';
  const digest = opts.digest ?? { weekday: digestWeekdayAwayFrom(), hour: 9 };
  const plan = mixed ? sql`CASE WHEN i % 2 THEN 'monitor' ELSE 'free' END` : sql`${opts.plan}`;
  await db.batch([
    db.run(sql`
      WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ${n})
      INSERT INTO accounts (id, name, plan, timezone, digest_weekday, digest_hour, created_at, updated_at)
      SELECT ${prefix} || '_acc_' || i, 'Bench ' || i, ${plan}, 'UTC', ${digest.weekday}, ${digest.hour}, 0, 0 FROM seq`),
    db.run(sql`
      WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ${n})
      INSERT INTO destinations (id, account_id, type, target_key, address, url, status, created_at)
      SELECT ${prefix} || '_dst_' || i, ${prefix} || '_acc_' || i, ${type},
        ${type} || ':' || ${prefix} || i, CASE WHEN ${type} = 'email' THEN 'reader' || i || '@bench.test' END,
        CASE WHEN ${type} = 'webhook' THEN ${opts.webhookUrl ?? null} END, 'active', 0 FROM seq`),
    db.run(sql`
      WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ${n})
      INSERT INTO subscriptions (id, account_id, destination_id, platform_id, min_severity_rank, categories, status, destination_active, same_day_alerts, created_at)
      SELECT ${prefix} || '_sub_' || i, ${prefix} || '_acc_' || i, ${prefix} || '_dst_' || i,
        (SELECT id FROM platforms WHERE slug = (${slugs} ->> ((i - 1) % json_array_length(${slugs})))),
        ${mixed ? sql`1 + i % 3` : sql`1`},
        ${mixed ? sql`CASE (i / 6) % 4 WHEN 1 THEN '["privacy"]' WHEN 2 THEN '["fees","privacy"]' WHEN 3 THEN '["arbitration"]' END` : sql`NULL`},
        'active', 1, ${mixed ? sql`i % 2` : sql`${opts.plan === 'monitor' ? 1 : 0}`}, 0
      FROM seq`),
  ]);
}
