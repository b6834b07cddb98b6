import { newId } from '../core/ids.js';
import { claimDue, nextDueAt, releaseClaims, renewLease, type OutboxRow } from './outbox.js';
import { groupDueAlerts, nextGroupDueAt } from './grouping.js';
import { createDeliverer, type DelivererDeps } from './deliver.js';
import { errorFields } from '../log.js';

export interface DispatcherDeps extends Omit<DelivererDeps, 'leaseMs'> {
  groupWaitMs: number;
  /** MAX_ALERTS_PER_DAY: alert messages per destination per local day before the rest is summarised. */
  maxAlertsPerDay?: number;
  /** Identifies this dispatcher's leases; unique per process. */
  owner?: string;
  leaseMs?: number;
  batchSize?: number;
  /** Messages in flight at once: twice the SMTP pool's 5 connections, so none waits for work. */
  concurrency?: number;
  /** Longest sleep between looks at the database when nobody wakes us (other processes ingest too). */
  pollMs?: number;
}

export interface Dispatcher {
  readonly owner: string;
  /** Starts the loop: group due alerts, claim due rows, send, sleep until the next due time. */
  start(): void;
  /** Ingest calls this when it stored alert work, so an idle dispatcher does not wait for its poll. */
  wake(): void;
  /** One pass, for tests and the CLI: returns how many rows it handled. */
  runOnce(): Promise<number>;
  /** Stops claiming, finishes what is in flight, gives back what was claimed but not started. */
  stop(): Promise<void>;
}

export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const { db, clock, log } = deps;
  const owner = deps.owner ?? newId('dispatcher');
  const leaseMs = deps.leaseMs ?? 60_000;
  const batchSize = deps.batchSize ?? 20;
  const concurrency = deps.concurrency ?? 10;
  const pollMs = deps.pollMs ?? 5_000;
  const random = deps.random ?? Math.random;

  let running = false;
  let stopping = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let current: Promise<unknown> | undefined;
  // One loop at a time: set from the start of a pass until its next sleep is scheduled.
  let looping = false;
  // Set by wake(); a pass clears it when it starts, so a wake during a pass is never lost.
  let woken = false;

  const deliver = createDeliverer({ ...deps, leaseMs, random });

  /**
   * One pass: group due alerts, then keep `concurrency` sends going, claiming the next batch as
   * the queue runs dry (no pause at batch boundaries), until nothing is due.
   */
  async function runOnce(): Promise<number> {
    await groupDueAlerts(db, clock(), deps.groupWaitMs, deps.maxAlertsPerDay);
    const queue: OutboxRow[] = [];
    // This pass's claims not yet started: given back if the pass stops early (never another pass's).
    const unstarted = new Set<number>();
    let exhausted = false;
    let refilling: Promise<void> | undefined;
    let handled = 0;
    // When each claim was made: a row that waited for a free worker long enough to put its lease
    // at risk renews it before sending, or leaves it if another dispatcher has taken it over.
    const claimedAt = new Map<number, number>();
    const refill = async () => {
      const at = clock();
      const rows = await claimDue(db, owner, at, leaseMs, batchSize);
      for (const r of rows) {
        unstarted.add(r.id);
        claimedAt.set(r.id, at);
      }
      queue.push(...rows);
      if (rows.length < batchSize) exhausted = true;
    };
    const next = async (): Promise<OutboxRow | undefined> => {
      while (!queue.length && !exhausted && !stopping) {
        refilling ??= refill().finally(() => (refilling = undefined));
        await refilling;
      }
      return stopping ? undefined : queue.shift();
    };
    const worker = async () => {
      for (let row = await next(); row; row = await next()) {
        unstarted.delete(row.id);
        handled++;
        try {
          const now = clock();
          if (now - claimedAt.get(row.id)! > leaseMs / 3 && !(await renewLease(db, row.id, owner, now, leaseMs))) {
            log.warn('delivery.lease_lost', { outboxId: row.id, owner, before: 'send' });
            continue;
          }
          claimedAt.delete(row.id);
          await deliver(row, owner);
        } catch (err) {
          // A database error while recording the outcome: the lease runs out and another pass retries.
          log.error('delivery.crashed', { outboxId: row.id, ...errorFields(err) });
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    if (unstarted.size) {
      await releaseClaims(db, owner, [...unstarted], clock());
      unstarted.clear();
    }
    return handled;
  }

  async function loop(): Promise<void> {
    timer = undefined;
    if (!running || stopping || looping) return;
    looping = true;
    woken = false;
    try {
      current = runOnce();
      await current;
    } catch (err) {
      log.error('dispatcher.pass_failed', errorFields(err));
    } finally {
      current = undefined;
    }
    try {
      if (!running || stopping) return;
      const now = clock();
      const [due, group] = await Promise.all([nextDueAt(db), nextGroupDueAt(db, deps.groupWaitMs)]).catch(() => [undefined, undefined]);
      const next = woken ? now : Math.min(now + pollMs, due ?? Infinity, group ?? Infinity);
      schedule(Math.max(0, next - now));
    } finally {
      looping = false;
    }
  }

  function schedule(ms: number) {
    if (!running || stopping) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => void loop(), ms);
  }

  return {
    owner,
    start() {
      if (running) return;
      running = true;
      schedule(0);
    },
    wake() {
      // A pass under way sees the flag when it plans its sleep; otherwise look now.
      woken = true;
      if (running && !looping) schedule(0);
    },
    runOnce,
    async stop() {
      stopping = true;
      running = false;
      if (timer) clearTimeout(timer);
      await current?.catch(() => undefined);
    },
  };
}
