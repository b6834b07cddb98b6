import cron, { type ScheduledTask } from 'node-cron';
import type { Db } from '../db.js';
import type { Clock } from '../core/clock.js';
import { errorFields, type Logger } from '../log.js';
import { digestTick } from './tick.js';
import { checkStaleDocuments } from '../ingest/health.js';

/** After a restart, digests whose hour passed while the service was down within this long are still sent. */
const CATCH_UP_HOURS = 6;

/**
 * node-cron drives the digest tick (every `everyMinutes`, many chances per hour). Each tick does
 * what POST /v1/digests/run does for now; the outbox keys make every instance's ticks safe.
 */
export function startDigestTicker(deps: { db: Db; clock: Clock; log: Logger; everyMinutes: number; staleAfterHours: number; onEnqueued: () => void }): { stop(): void } {
  const tick = async (at: number, live: boolean) => {
    try {
      // Reminders are for the present only; catching up past hours sends none.
      const r = await digestTick(deps.db, at, deps.clock(), { reminders: live });
      if (r.enqueued) deps.log.info('digests.enqueued', { at: new Date(at).toISOString(), due: r.due, enqueued: r.enqueued });
      if (r.reminders) deps.log.info('reminders.enqueued', { reminders: r.reminders });
      if (r.enqueued || r.reminders) deps.onEnqueued();
    } catch (err) {
      deps.log.error('digests.tick_failed', errorFields(err));
    }
  };
  const task: ScheduledTask = cron.schedule(`*/${deps.everyMinutes} * * * *`, () => tick(deps.clock(), true), { name: 'digest-tick', noOverlap: true, timezone: 'UTC' });
  // Monitor health: documents silent past STALE_AFTER_HOURS become one notice per outage.
  const health: ScheduledTask = cron.schedule(
    '*/15 * * * *',
    async () => {
      try {
        const n = await checkStaleDocuments(deps.db, deps.clock(), deps.staleAfterHours);
        if (n) {
          deps.log.info('health.stale', { documents: n });
          deps.onEnqueued();
        }
      } catch (err) {
        deps.log.error('health.check_failed', errorFields(err));
      }
    },
    { name: 'stale-check', noOverlap: true, timezone: 'UTC' },
  );
  void (async () => {
    const now = deps.clock();
    for (let h = CATCH_UP_HOURS; h >= 0; h--) await tick(now - h * 3_600_000, h === 0);
  })();
  return {
    stop: () => {
      void task.stop();
      void health.stop();
    },
  };
}
