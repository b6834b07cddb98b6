import type { Db } from '../db.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { LinkSigner } from '../links.js';
import type { DestinationType } from '../../db/schema.js';
import { DeliveryError, type ChannelAdapter } from './channel.js';
import { markCancelled, markDead, markPartSent, markSent, scheduleRetry, type OutboxRow } from './outbox.js';
import { loadContent } from './content.js';
import { MAX_ATTEMPTS, retryDelayMs } from './backoff.js';
import { disableDestination, getDestinationWithAccount } from '../store/destinations.js';

export interface DelivererDeps {
  db: Db;
  clock: Clock;
  log: Logger;
  channels: Partial<Record<DestinationType, ChannelAdapter>>;
  links: LinkSigner;
  metrics?: Metrics;
  leaseMs: number;
  random?: () => number;
}

/**
 * What became of a claimed row: `retryAt` when it waits for another attempt; `counted` is false
 * when the attempt did not count towards the limit (the receiver asked us to slow down).
 */
export type DeliveryOutcome = { status: 'sent' | 'cancelled' | 'dead' | 'lease_lost' } | { status: 'retrying'; retryAt: number; counted: boolean };

/**
 * Sends one claimed outbox row through its channel and records the outcome, as long as `owner`
 * holds the row's lease. The Node dispatcher and the Workers queue consumer both deliver with it;
 * only how rows are claimed differs.
 */
export function createDeliverer(deps: DelivererDeps): (row: OutboxRow, owner: string) => Promise<DeliveryOutcome> {
  const { db, clock, log, leaseMs } = deps;
  const random = deps.random ?? Math.random;

  async function fail(row: OutboxRow, owner: string, err: unknown): Promise<DeliveryOutcome> {
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
      return { status: 'dead' };
    }
    const retryAt = now + (e.rateLimited && e.retryAfterMs !== undefined ? e.retryAfterMs : retryDelayMs(row.attempts, random, e.retryAfterMs));
    await scheduleRetry(db, row.id, owner, retryAt, e.message, now, { countAttempt: !e.rateLimited });
    deps.metrics?.failed(row.channel, row.kind);
    log.info(e.rateLimited ? 'delivery.rate_limited' : 'delivery.failed', { ...fields, retryAt: new Date(retryAt).toISOString() });
    return { status: 'retrying', retryAt, counted: !e.rateLimited };
  }

  return async function deliver(row, owner) {
    const now = clock();
    const found = await getDestinationWithAccount(db, row.destination_id);
    if (!found || found.destination.status === 'disabled') {
      await markCancelled(db, row.id, owner, found ? `destination disabled: ${found.destination.disabledReason}` : 'destination deleted', now);
      return { status: 'cancelled' };
    }
    const { destination, account } = found;
    if (destination.status === 'unconfirmed' && row.kind !== 'confirmation') {
      await markCancelled(db, row.id, owner, 'destination not confirmed', now);
      return { status: 'cancelled' };
    }
    try {
      const adapter = deps.channels[row.channel];
      if (!adapter) throw new DeliveryError(`the ${row.channel} channel is not configured on this server`, 'retry');
      const content = await loadContent(db, row, destination, account, deps.links, now);
      if (!content) {
        await markCancelled(db, row.id, owner, 'nothing left to send', now);
        return { status: 'cancelled' };
      }
      const messages = adapter.render(content, destination);
      let providerId: string | null = null;
      for (let part = row.parts_sent; part < messages.length; part++) {
        const r = await adapter.send(destination, messages[part], { messageKey: `cw-${row.id}-${part}`, outboxId: row.id, kind: row.kind });
        providerId = r.providerId;
        if (messages.length > 1 && !(await markPartSent(db, row.id, owner, part + 1, clock(), leaseMs))) {
          log.warn('delivery.lease_lost', { outboxId: row.id, owner, part });
          return { status: 'lease_lost' };
        }
      }
      if (await markSent(db, row.id, owner, providerId, clock())) {
        deps.metrics?.delivered(row.channel, row.kind);
        log.info('delivery.sent', { outboxId: row.id, kind: row.kind, channel: row.channel, destinationId: row.destination_id, parts: messages.length });
        return { status: 'sent' };
      }
      log.warn('delivery.lease_lost', { outboxId: row.id, owner });
      return { status: 'lease_lost' };
    } catch (err) {
      return fail(row, owner, err);
    }
  };
}
