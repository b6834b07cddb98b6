import type { Db } from '../db.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { LinkSigner } from '../links.js';
import type { DestinationType } from '../../db/schema.js';
import { newId } from '../core/ids.js';
import { DeliveryError, type ChannelAdapter } from './channel.js';
import { claimDue, markCancelled, markDead, markPartSent, markSent, nextDueAt, releaseClaims, scheduleRetry, type OutboxRow } from './outbox.js';
import { groupDueAlerts, nextGroupDueAt } from './grouping.js';
import { loadContent } from './content.js';
import { MAX_ATTEMPTS, retryDelayMs } from './backoff.js';
import { disableDestination, getDestinationWithAccount } from '../store/destinations.js';

export interface DispatcherDeps {
  db: Db;
  clock: Clock;
  log: Logger;
  channels: Partial<Record<DestinationType, ChannelAdapter>>;
  links: LinkSigner;
  metrics?: Metrics;
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
  random?: () => number;
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

  async function handle(row: OutboxRow): Promise<void> {
    const now = clock();
    const found = await getDestinationWithAccount(db, row.destination_id);
    if (!found || found.destination.status === 'disabled') {
      await markCancelled(db, row.id, owner, found ? `destination disabled: ${found.destination.disabledReason}` : 'destination deleted', now);
      return;
    }
    const { destination, account } = found;
    if (destination.status === 'unconfirmed' && row.kind !== 'confirmation') {
      await markCancelled(db, row.id, owner, 'destination not confirmed', now);
      return;
    }
    try {
      const adapter = deps.channels[row.channel];
      if (!adapter) throw new DeliveryError(`the ${row.channel} channel is not configured on this server`, 'retry');
      const content = await loadContent(db, row, destination, account, deps.links, now);
      if (!content) {
        await markCancelled(db, row.id, owner, 'nothing left to send', now);
        return;
      }
      const messages = adapter.render(content, destination);
      let providerId: string | null = null;
      for (let part = row.parts_sent; part < messages.length; part++) {
        const r = await adapter.send(destination, messages[part], { messageKey: `cw-${row.id}-${part}`, outboxId: row.id, kind: row.kind });
        providerId = r.providerId;
        if (messages.length > 1 && !(await markPartSent(db, row.id, owner, part + 1, clock(), leaseMs))) {
          log.warn('delivery.lease_lost', { outboxId: row.id, owner, part });
          return;
        }
      }
      if (await markSent(db, row.id, owner, providerId, clock())) {
        deps.metrics?.delivered(row.channel, row.kind);
        log.info('delivery.sent', { outboxId: row.id, kind: row.kind, channel: row.channel, destinationId: row.destination_id, parts: messages.length });
      } else {
        log.warn('delivery.lease_lost', { outboxId: row.id, owner });
      }
    } catch (err) {
      await fail(row, err);
    }
  }

  async function fail(row: OutboxRow, err: unknown): Promise<void> {
    const now = clock();
    const e = err instanceof DeliveryError ? err : new DeliveryError(err instanceof Error ? err.message : String(err), 'retry', { cause: err });
    const fields = { outboxId: row.id, kind: row.kind, channel: row.channel, destinationId: row.destination_id, attempts: row.attempts, error: e.message };
    if (e.kind === 'permanent' || (row.attempts >= MAX_ATTEMPTS && !e.rateLimited)) {
      await markDead(db, row.id, owner, e.message, now);
      deps.metrics?.dead(row.channel, row.kind);
      log.warn('delivery.dead', fields);
      if (e.disableDestination) {
        await disableDestination(db, clock, row.destination_id, e.message);
        log.warn('destination.disabled', { destinationId: row.destination_id, reason: e.message });
      }
      return;
    }
    const dueAt = now + (e.rateLimited && e.retryAfterMs !== undefined ? e.retryAfterMs : retryDelayMs(row.attempts, random, e.retryAfterMs));
    await scheduleRetry(db, row.id, owner, dueAt, e.message, now, { countAttempt: !e.rateLimited });
    deps.metrics?.failed(row.channel, row.kind);
    log.info(e.rateLimited ? 'delivery.rate_limited' : 'delivery.failed', { ...fields, retryAt: new Date(dueAt).toISOString() });
  }

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
    const refill = async () => {
      const rows = await claimDue(db, owner, clock(), leaseMs, batchSize);
      for (const r of rows) unstarted.add(r.id);
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
          await handle(row);
        } catch (err) {
          // A database error while recording the outcome: the lease runs out and another pass retries.
          log.error('delivery.crashed', { outboxId: row.id, error: String(err) });
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
      log.error('dispatcher.pass_failed', { error: String(err) });
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
