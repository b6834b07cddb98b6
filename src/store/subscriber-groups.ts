import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import { activeSubscriber } from '../ingest/match.js';

/** The active subscriptions counted by group afresh, as the triggers of migration 0008 count them. */
const counted = sql`
  SELECT platform_id, min_severity_rank, same_day_alerts, categories, count(*) AS subscribers
  FROM subscriptions s WHERE ${activeSubscriber('s')} GROUP BY 1, 2, 3, 4`;

/**
 * Sets `subscriber_groups` back to a fresh count of the active subscriptions when it differs, and
 * says how many groups were wrong (0 when none). The triggers keep it on every write the service
 * makes; what they cannot see is a database changed behind them (a restore of rows without the
 * triggers' work, a hand-written REPLACE, SQL run with the triggers dropped). Matching reads each
 * group's members from the subscriptions themselves, so a wrong count only skews the ingest
 * answer's tally; a missing group would keep its members from being matched at all. Run at
 * start; the rebuild is one transaction, so two processes starting together leave the same counts.
 */
export async function reconcileSubscriberGroups(db: Db): Promise<number> {
  const [wrong] = await db.all<{ n: number }>(sql`
    SELECT count(*) AS n FROM (
      SELECT c.platform_id FROM (${counted}) c
      LEFT JOIN subscriber_groups g ON g.platform_id = c.platform_id AND g.min_severity_rank = c.min_severity_rank
        AND g.same_day_alerts = c.same_day_alerts AND g.categories IS c.categories
      WHERE g.subscribers IS NOT c.subscribers
      UNION ALL
      SELECT g.platform_id FROM subscriber_groups g WHERE g.subscribers <> 0 AND NOT EXISTS (
        SELECT 1 FROM subscriptions s WHERE s.platform_id = g.platform_id AND ${activeSubscriber('s')}
          AND s.min_severity_rank = g.min_severity_rank AND s.same_day_alerts = g.same_day_alerts AND s.categories IS g.categories))`);
  if (!wrong?.n) return 0;
  await db.batch([
    db.run(sql`UPDATE subscriber_groups SET subscribers = 0`),
    db.run(sql`
      INSERT INTO subscriber_groups (platform_id, min_severity_rank, same_day_alerts, categories, subscribers)
      SELECT * FROM (${counted}) WHERE true
      ON CONFLICT (platform_id, min_severity_rank, same_day_alerts, categories IS NULL, coalesce(categories, ''))
        DO UPDATE SET subscribers = excluded.subscribers`),
  ]);
  return wrong.n;
}
