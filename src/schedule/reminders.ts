import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import { runBatch } from '../store/batch.js';
import { settleStatements } from '../ingest/settle.js';
import { PLANS } from '../core/plans.js';
import { DATE_STANDS } from '../core/policy.js';
import { activeSubscriber, reasonList, tellsOf } from '../ingest/match.js';
import { addDays, isoDate, localTime } from '../core/zoned-time.js';

const ALERTING_PLANS = sql.join(
  Object.values(PLANS)
    .filter((p) => p.sameDayAlerts)
    .map((p) => sql`${p.name}`),
  sql`, `,
);

/**
 * Changes (alias `e`) whose effective date still stands: not noise or a flap (the policy says
 * which reasons keep it: backfill is old news but its date still counts), not a reversion, and not
 * undone since by a later reversion. What a reminder and a digest's "upcoming effective dates" may name.
 */
export const effectiveDateStands = sql`e.kind NOT IN ('first_recorded', 'unreachable', 'restored') AND e.technical_upgrade = 0
  AND (e.suppressed_reason IS NULL OR e.suppressed_reason IN (${reasonList(DATE_STANDS)})) AND e.reverts_to_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM events u WHERE u.platform_id = e.platform_id AND u.detected_at >= e.detected_at AND u.undoes_id = e.id)`;

/**
 * Effective-date reminders: a change whose effective_at is `reminder_days` ahead in the
 * account's time zone gets one reminder per destination that was told of it (plans with same-day
 * alerts, subscription still active), from the
 * account's digest hour that day on. One INSERT … SELECT per tick; the key
 * reminder:<destination>:<event> keeps it to one across runs, restarts and processes.
 */
export async function enqueueReminders(db: Db, now: number): Promise<number> {
  const pairs = await db.all<{ timezone: string; reminder_days: number }>(sql`
    SELECT DISTINCT timezone, reminder_days FROM accounts WHERE reminder_days > 0 AND plan IN (${ALERTING_PLANS})`);
  if (!pairs.length) return 0;
  const rows = pairs.map((p) => {
    const l = localTime(now, p.timezone);
    return { tz: p.timezone, days: p.reminder_days, hour: l.h, target: isoDate(addDays(l.y, l.m, l.d, p.reminder_days)) };
  });
  // Settled first: the decisions say who was told.
  const results = (await runBatch(db, [...settleStatements(db), db.run(sql`
    INSERT INTO outbox (idempotency_key, kind, destination_id, account_id, channel, status, payload, due_at, created_at, updated_at)
    SELECT 'reminder:' || d.id || ':' || e.pk, 'reminder', d.id, a.id, d.type, 'queued', json_object('eventPk', e.pk), ${now}, ${now}, ${now}
    FROM json_each(${JSON.stringify(rows)}) j
    JOIN accounts a ON a.timezone = j.value ->> 'tz' AND a.reminder_days = j.value ->> 'days' AND a.digest_hour <= j.value ->> 'hour'
    JOIN subscriptions s ON s.account_id = a.id AND ${activeSubscriber('s')}
    JOIN destinations d ON d.id = s.destination_id
    JOIN events e ON e.platform_id = s.platform_id AND e.effective_at = j.value ->> 'target'
    -- Whoever the policy decided was to hear of the change (by alert or digest): nothing re-decided here.
    JOIN matches m ON m.event_pk = e.pk AND m.destination_id = d.id AND ${tellsOf}
    WHERE a.plan IN (${ALERTING_PLANS})
      AND ${effectiveDateStands}
    ON CONFLICT DO NOTHING`)])) as { rowsAffected: number }[];
  return results.at(-1)!.rowsAffected;
}
