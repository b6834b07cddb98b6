import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import type { Logger } from '../log.js';
import { activeSubscriber } from '../ingest/match.js';

/** The active subscriptions counted by group afresh, as the triggers of migration 0008 count them. */
const counted = sql`
  SELECT platform_id, min_severity_rank, same_day_alerts, categories, count(*) AS subscribers
  FROM subscriptions s WHERE ${activeSubscriber('s')} GROUP BY 1, 2, 3, 4`;

/** The groups as stored, those with subscribers (an emptied group's row stays, at 0). */
const stored = sql`
  SELECT platform_id, min_severity_rank, same_day_alerts, categories, subscribers FROM subscriber_groups WHERE subscribers <> 0`;

/**
 * Sets `subscriber_groups` back to a fresh count of the active subscriptions when it differs, and
 * says how many groups were wrong (0 when none). The triggers keep it on every write the service
 * makes; what they cannot see is a database changed behind them (a restore of rows without the
 * triggers' work, a hand-written REPLACE, SQL run with the triggers dropped). Matching reads each
 * group's members from the subscriptions themselves, so a wrong count only skews the ingest
 * answer's tally; a missing group would keep its members from being matched at all. The rebuild
 * is one transaction, so two processes checking together leave the same counts.
 */
export async function reconcileSubscriberGroups(db: Db): Promise<number> {
  // A group is wrong when its stored row and its fresh count differ either way (EXCEPT compares
  // NULL categories as equal, as the key does).
  const [wrong] = await db.all<{ n: number }>(sql`
    SELECT count(*) AS n FROM (
      SELECT platform_id, min_severity_rank, same_day_alerts, categories FROM (${stored} EXCEPT ${counted})
      UNION
      SELECT platform_id, min_severity_rank, same_day_alerts, categories FROM (${counted} EXCEPT ${stored}))`);
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

/**
 * The check as a process runs it: a Node process at start, the Workers edition from its Cron
 * Trigger (an isolate has no start of its own). Says so in the log when it had to rebuild.
 */
export async function checkSubscriberGroups(db: Db, log: Logger): Promise<void> {
  const groups = await reconcileSubscriberGroups(db);
  if (groups) log.warn('subscriber_groups.rebuilt', { groups, reason: 'the stored counts differed from the active subscriptions (the database was changed behind its triggers)' });
}
