import type { Db } from '../db.js';
import { enqueueDueDigests } from './digests.js';
import { enqueueReminders } from './reminders.js';

/**
 * How far ahead of the clock a tick may be asked to run: a digest built before its week ends would
 * miss the rest of the week, and its once-only key would then stop the real one.
 */
export const MAX_TICK_AHEAD_MS = 60_000;

export const tickIsAhead = (at: number, now: number) => at > now + MAX_TICK_AHEAD_MS;

/** A tick this far behind the clock is catching up on the past. */
const CATCH_UP_AFTER_MS = 3_600_000;

/**
 * What a digest tick at `at` does, wherever it runs (node-cron, POST /v1/digests/run, the CLI, the
 * Workers Cron Trigger): enqueue the digests due then and, unless it is catching up on past hours,
 * the effective-date reminders due that day (a reminder of a past day would arrive late).
 */
export async function digestTick(db: Db, at: number, now: number, opts: { reminders?: boolean } = {}) {
  const digests = await enqueueDueDigests(db, at, now);
  const live = opts.reminders ?? now - at < CATCH_UP_AFTER_MS;
  const reminders = live ? await enqueueReminders(db, at) : 0;
  return { ...digests, reminders };
}
