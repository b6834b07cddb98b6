import { newId } from '../core/ids.js';
import { claimDue, nextDueAt, releaseClaims, renewLeases, type OutboxRow } from './outbox.js';
import { groupDueAlerts, nextGroupDueAt } from './grouping.js';
import { createDelivery, type ClaimContext, type Decided, type DelivererDeps } from './deliver.js';
import { errorFields } from '../log.js';

export interface DispatcherDeps extends Omit<DelivererDeps, 'leaseMs'> {
  groupWaitMs: number;
  /** MAX_ALERTS_PER_DAY: alert messages per destination per local day before the rest is summarised. */
  maxAlertsPerDay?: number;
  /** Identifies this dispatcher's leases; unique per process. */
  owner?: string;
  leaseMs?: number;
  /** Rows of a pass's first claim: claimed, read and (mostly) recorded with one statement each. */
  batchSize?: number;
  /** Rows of a claim at most, as a pass's claims grow while each one comes back full. */
  maxBatchSize?: number;
  /**
   * Messages in flight at once. A webhook's round trip (to the sending thread, the receiver and
   * back) is mostly waiting: 16 in flight left a 2,000-destination fan-out waiting on round trips
   * of 16 (about 600 ms); 64 keep the receiver and the thread busy (about 490).
   */
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

/**
 * Messages of more than this many changes are large (a 500-change burst is 580 KB a webhook):
 * at most HEAVY_IN_FLIGHT of them are rendered and sent at once, so many in flight stays cheap.
 */
const HEAVY_CHANGES = 100;
const HEAVY_IN_FLIGHT = 16;

/** A claim grows only when the previous one's rows all started within this long. */
const GROW_WITHIN_MS = 1_000;

/** Outcomes written in one statement at most this many at a time, and after at most this long. */
const RECORD_BATCH = 100;
const RECORD_WAIT_MS = 20;

export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const { db, clock, log } = deps;
  const owner = deps.owner ?? newId('dispatcher');
  const leaseMs = deps.leaseMs ?? 60_000;
  const concurrency = deps.concurrency ?? 64;
  // A pass's first claim takes no more than this dispatcher can start soon: rows waiting in one
  // process's queue are rows an idle peer on the same database could be sending (scale-out shares
  // the work). A full claim whose rows all started within GROW_WITHIN_MS doubles the next, up to
  // maxBatchSize: a claim costs four statements whatever its size, and a 2,000-destination
  // fan-out made 63 claims of 32 (a sixth of its database time); it now makes 11. Slow sends
  // (a receiver near its timeout) keep claims small, so no process holds minutes of work a peer
  // could be doing; a peer still claims between them.
  const batchSize = deps.batchSize ?? 32;
  const maxBatchSize = Math.max(batchSize, deps.maxBatchSize ?? 256);
  const pollMs = deps.pollMs ?? 5_000;
  const random = deps.random ?? Math.random;

  let running = false;
  let stopping = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let immediate: ReturnType<typeof setImmediate> | undefined;
  const unschedule = () => {
    if (timer) clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
    timer = immediate = undefined;
  };
  let current: Promise<unknown> | undefined;
  // One loop at a time: set from the start of a pass until its next sleep is scheduled.
  let looping = false;
  // Set by wake(); a pass clears it when it starts, so a wake during a pass is never lost.
  let woken = false;

  const delivery = createDelivery({ ...deps, leaseMs, random });

  /**
   * One pass: group due alerts, then keep `concurrency` sends going, claiming the next batch as
   * the queue runs dry (no pause at batch boundaries), until nothing is due. A claim is one
   * statement, its destinations and content two or three more; outcomes are recorded in batches
   * (whatever finished while the previous write ran), so the database does a few statements per
   * batch instead of four per message.
   */
  async function runOnce(): Promise<number> {
    // The first due groups, enough to fill the sends in flight twice over, then the rest in steps
    // that double while those are on their way: grouping 2,000 destinations at once kept the first
    // webhook waiting 25-30 ms while the sending thread had nothing to do, and grouping all the
    // rest at once stalled the sends in flight for as long. A first step of one claim's worth (32)
    // sped a 100-destination fan-out by 2-3 ms but slowed a burst of 500 changes to 100
    // destinations by 5-10 %: every step reads all the waiting decisions, there 50,000.
    const firstGroups = 2 * concurrency;
    const grouped = await groupDueAlerts(db, clock(), deps.groupWaitMs, deps.maxAlertsPerDay, firstGroups);
    let rest: Promise<unknown> | undefined;
    let restGrouped = false;
    // Grouping steps done: a claim that came back short waits for the next one, not for them all.
    let steps = 0;
    const stepWaiters: (() => void)[] = [];
    const stepped = () => {
      steps++;
      for (const w of stepWaiters.splice(0)) w();
    };
    const nextStep = () => new Promise<void>((r) => stepWaiters.push(r));
    // After the turn that handed sends over (they leave on a setImmediate of that turn).
    const nextTurn = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
    const groupRest = () =>
      (rest ??= (async () => {
        // A stopping dispatcher groups no further: what it leaves pending, the next start groups.
        for (let step = 2 * firstGroups; grouped >= firstGroups; step *= 2) {
          await nextTurn();
          if (stopping) return;
          const n = await groupDueAlerts(db, clock(), deps.groupWaitMs, deps.maxAlertsPerDay, step);
          stepped();
          if (n < step) break;
        }
        if (stopping) return;
        // Whatever the bounded steps left: a step counts the messages it wrote, so one whose
        // destinations joined the day's budget messages comes back short with more still due.
        await groupDueAlerts(db, clock(), deps.groupWaitMs, deps.maxAlertsPerDay);
      })()
        // What was not grouped stays pending and due: the next pass, scheduled at once, groups it.
        .catch((err) => log.error('dispatcher.grouping_failed', errorFields(err)))
        .finally(() => {
          restGrouped = true;
          stepped();
        }));
    const queue: { row: OutboxRow; context: ClaimContext }[] = [];
    // This pass's claims not yet started: given back if the pass stops early (never another pass's).
    const unstarted = new Set<number>();
    let exhausted = false;
    let refilling: Promise<void> | undefined;
    let handled = 0;
    // Rows of this pass whose lease we hold, from the claim until their outcome is recorded. A
    // heartbeat renews them all in one statement every third of a lease, so neither a row waiting
    // for a worker nor a slow send nor a record waiting for its batch outlives its lease; a row
    // no longer held (its lease ran out and another dispatcher may have it) is not sent.
    const held = new Set<number>();
    let renewing = false;
    const heartbeat = setInterval(() => {
      if (renewing || !held.size) return;
      renewing = true;
      const ids = [...held];
      renewLeases(db, ids, owner, clock(), leaseMs)
        .then((kept) => {
          for (const id of ids) {
            if (kept.has(id) || !held.delete(id)) continue;
            log.warn('delivery.lease_lost', { outboxId: id, owner, before: unstarted.has(id) ? 'send' : 'record' });
          }
        })
        .catch((err) => log.warn('delivery.renew_failed', { owner, ...errorFields(err) }))
        .finally(() => (renewing = false));
    }, leaseMs / 3);
    let claimSize = batchSize;
    let lastClaim: { at: number; full: boolean } | undefined;
    const refill = async () => {
      // Asked for when the previous claim's rows have nearly all started: how long that took says
      // whether this process keeps up with bigger claims.
      const started = performance.now();
      if (lastClaim) claimSize = lastClaim.full && started - lastClaim.at < GROW_WITHIN_MS ? Math.min(maxBatchSize, claimSize * 2) : batchSize;
      const limit = claimSize;
      const seen = steps;
      const rows = await claimDue(db, owner, clock(), leaseMs, limit);
      lastClaim = { at: started, full: rows.length === limit };
      for (const r of rows) {
        unstarted.add(r.id);
        held.add(r.id);
      }
      if (rows.length) {
        const context = await delivery.read(rows);
        for (const row of rows) queue.push({ row, context });
      }
      // The groups left waiting, while these are sent. A claim that comes back short claims again
      // once the grouping step under way has written (at once if one wrote while it claimed), and
      // ends the pass only once everything is grouped.
      void groupRest();
      // A step that wrote while this claimed (the last one included, which sets restGrouped)
      // may have left rows this claim missed: claim again before the pass can end.
      if (rows.length < limit && steps === seen) {
        if (restGrouped) exhausted = true;
        else await nextStep();
      }
    };
    const refillNow = () => (refilling ??= refill().finally(() => (refilling = undefined)));
    // Set by the first worker whose claim failed: the pass starts nothing more and fails once the
    // sends under way are recorded.
    let failure: { reason: unknown } | undefined;
    const next = async () => {
      while (!queue.length && !exhausted && !stopping && !failure) {
        try {
          await refillNow();
        } catch (reason) {
          failure ??= { reason };
        }
      }
      if (stopping || failure) return undefined;
      const item = queue.shift();
      // The next claim is read while this one's last rows are sent, so no worker waits for a claim
      // and its read at a batch boundary (3 ms of a 100-destination fan-out each). A failed claim
      // here is tried again by the next worker that finds the queue empty, and fails the pass there.
      if (queue.length < concurrency && !exhausted) void refillNow().catch(() => undefined);
      return item;
    };

    // Outcomes wait here until a batch is full or RECORD_WAIT_MS has passed, and while the previous
    // batch is written; a failed write is retried inside record(), never by sending again.
    const decided: Decided[] = [];
    let writing: Promise<void> | undefined;
    let flushSoon: ReturnType<typeof setTimeout> | undefined;
    const flush = (): Promise<void> =>
      (writing ??= (async () => {
        clearTimeout(flushSoon);
        flushSoon = undefined;
        const batch = decided.splice(0, RECORD_BATCH);
        if (!batch.length) return;
        for (const d of batch) held.delete(d.row.id);
        try {
          const counts = { sent: 0, retrying: 0, dead: 0, cancelled: 0, lease_lost: 0 };
          for (const o of await delivery.record(batch, owner)) counts[o.status]++;
          log.info('delivery.batch', { owner, firstOutboxId: batch[0]!.row.id, ...counts });
        } catch (err) {
          // Still failing after a lease's worth of retries: the lease runs out and another pass
          // sends these again (the only way left); the error says why.
          log.error('delivery.record_failed', { outboxIds: batch.map((d) => d.row.id).slice(0, 20), count: batch.length, ...errorFields(err) });
        }
      })().finally(() => {
        writing = undefined;
        if (decided.length >= RECORD_BATCH) void flush();
        else if (decided.length) flushSoon ??= setTimeout(() => void flush(), RECORD_WAIT_MS);
      }));

    let heavyFree = HEAVY_IN_FLIGHT;
    const heavyWaiting: (() => void)[] = [];
    const heavySlot = () => (heavyFree > 0 ? (heavyFree--, Promise.resolve()) : new Promise<void>((r) => heavyWaiting.push(r)));
    const heavyDone = () => (heavyWaiting.length ? heavyWaiting.shift()!() : heavyFree++);

    const worker = async () => {
      for (let item = await next(); item; item = await next()) {
        const { row, context } = item;
        unstarted.delete(row.id);
        handled++;
        const heavy = (context.grouped.get(row.id)?.length ?? 0) > HEAVY_CHANGES;
        if (heavy) await heavySlot();
        try {
          if (!held.has(row.id)) continue; // its lease ran out while it waited
          const d = await delivery.send(row, owner, context);
          if ('row' in d) {
            decided.push(d);
            // Each write is a commit (about a millisecond here, as long as the send itself): gather
            // outcomes for a moment, or until a batch is full, then write them in one statement.
            if (decided.length >= RECORD_BATCH) void flush();
            else flushSoon ??= setTimeout(() => void flush(), RECORD_WAIT_MS);
          } else held.delete(row.id);
        } catch (err) {
          held.delete(row.id);
          // Reading its content failed: the lease runs out and another pass retries.
          log.error('delivery.crashed', { outboxId: row.id, ...errorFields(err) });
        } finally {
          if (heavy) heavyDone();
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: concurrency }, worker));
      while (writing || decided.length) await flush();
      // A pass that ends early returns once its grouping step and its claim under way are done
      // (stop() waits for them), not while they still write to a database about to be closed.
      await rest;
      while (refilling) await refilling.catch(() => undefined);
    } finally {
      clearInterval(heartbeat);
    }
    if (unstarted.size) {
      await releaseClaims(db, owner, [...unstarted], clock());
      unstarted.clear();
    }
    if (failure) throw failure.reason;
    return handled;
  }

  async function loop(): Promise<void> {
    timer = immediate = undefined;
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

  /** `immediately`: a wake, run right after the request that stored the work has answered, not a timer tick (a millisecond or more) later. */
  function schedule(ms: number, immediately = false) {
    if (!running || stopping) return;
    unschedule();
    if (immediately) immediate = setImmediate(() => void loop());
    else timer = setTimeout(() => void loop(), ms);
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
      if (running && !looping) schedule(0, true);
    },
    runOnce,
    async stop() {
      stopping = true;
      running = false;
      unschedule();
      await current?.catch(() => undefined);
    },
  };
}

