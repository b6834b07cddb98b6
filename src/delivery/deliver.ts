import type { Db } from '../db.js';
import type { Clock } from '../core/clock.js';
import { errorFields, type Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { LinkSigner } from '../links.js';
import type { ChangeItem } from '../core/message.js';
import { DeliveryError, type ChannelDriver, type ChannelSet, type RenderContext } from './channel.js';
import { markPartSent, recordOutcomes, type OutboxRow, type RecordedOutcome } from './outbox.js';
import { groupedItems, groupedItemsReader, loadContent } from './content.js';
import { readThread, sendFollowUpParts, type FollowUpPayload } from './lifecycle.js';
import { lifecycleNotes } from '../core/lifecycle.js';
import { MAX_ATTEMPTS, retryDelayMs } from './backoff.js';
import { disableDestination, getDestinationsWithAccounts, type DestinationWithAccount } from '../store/destinations.js';
import { getOrCreateSetting } from '../store/settings.js';
import { newId } from '../core/ids.js';
import { newsSince } from './outbox.js';

export interface DelivererDeps {
  db: Db;
  clock: Clock;
  log: Logger;
  channels: ChannelSet;
  links: LinkSigner;
  /**
   * Entries of the one render cache (a digest run's change entries, shared by every digest that
   * lists them) before it is emptied: 20,000 on Node, far fewer in a 128 MB Workers isolate.
   */
  renderCacheEntries?: number;
  metrics?: Metrics;
  leaseMs: number;
  random?: () => number;
  /** Waits between attempts to record an outcome (tests shorten it); doubles up to 2 s. */
  recordRetryMs?: number;
}

/**
 * What became of a claimed row: `retryAt` when it waits for another attempt; `counted` is false
 * when the attempt did not count towards the limit (the receiver asked us to slow down).
 */
export type DeliveryOutcome = { status: 'sent' | 'cancelled' | 'dead' | 'lease_lost' } | { status: 'retrying'; retryAt: number; counted: boolean };

/** What a claim needs read before sending: each row's destination with its account, alerts' changes. */
export interface ClaimContext {
  destinations: Map<string, DestinationWithAccount>;
  grouped: Map<number, ChangeItem[]>;
  /** With metrics: when each row's news reached us (ms), for the ingest → delivered histogram. */
  since?: Map<number, number>;
}

/** The outcome of one send, decided but not yet written, with what to do once it is. */
export interface Decided {
  row: OutboxRow;
  record: RecordedOutcome;
  outcome: DeliveryOutcome;
  /** After recording: switch the destination off with this reason. */
  disable?: string;
  log?: () => void;
}

export interface Delivery {
  /** Reads the destinations and alert content of a whole claim in a few queries. */
  read(rows: OutboxRow[]): Promise<ClaimContext>;
  /** Sends one claimed row and decides its outcome, written later with others (`record`). */
  send(row: OutboxRow, owner: string, context: ClaimContext): Promise<Decided | { status: 'lease_lost' }>;
  /**
   * Writes decided outcomes in one statement. A database error here never sends a message again:
   * the write is retried with backoff (for up to a lease) while the outcome waits in memory.
   */
  record(decided: Decided[], owner: string): Promise<DeliveryOutcome[]>;
}

/** Outbox kinds whose content is grouped changes (read with the claim). */
const alertKinds: ReadonlySet<string> = new Set(['alert', 'budget', 'follow_up']);

/**
 * Sending is apart from recording: a row is sent, its outcome decided in memory, and outcomes are
 * recorded in batches. The Node dispatcher and the Workers queue consumer both deliver with it;
 * only how rows are claimed (and how many at once) differs.
 */
export function createDelivery(deps: DelivererDeps): Delivery {
  const { db, clock, log, leaseMs } = deps;
  const random = deps.random ?? Math.random;
  const readGrouped = groupedItemsReader(db);
  const renderCacheEntries = deps.renderCacheEntries ?? 20_000;
  const rendering: RenderContext = { cache: new Map() };
  // Message-IDs and webhook-ids name the installation (a random id kept in the database) and the
  // outbox row: the same on every retry of a message, never the same after a database reset or
  // on another installation, so receivers that drop repeated ids never drop a new message.
  let installation: Promise<string> | undefined;
  const installationId = () => {
    installation ??= getOrCreateSetting(db, 'installation_id', () => newId('cw').slice(3)).then((s) => s.value);
    installation.catch(() => (installation = undefined));
    return installation;
  };

  /** A database write retried with backoff, for as long as a lease: its failure must not resend. */
  async function writeWithRetry<T>(what: string, ids: number[], write: () => Promise<T>): Promise<T> {
    // Waits add up to a lease (counted, not clocked: a test's clock may stand still).
    let waited = 0;
    let wait = deps.recordRetryMs ?? 50;
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (err) {
        if (waited + wait > leaseMs) throw err;
        waited += wait;
        log.warn('delivery.record_retry', { what, outboxIds: ids.slice(0, 20), count: ids.length, attempt, ...errorFields(err) });
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(wait * 2, 2_000);
      }
    }
  }

  function decideFailure(row: OutboxRow, err: unknown): Decided {
    const now = clock();
    const e = err instanceof DeliveryError ? err : new DeliveryError(err instanceof Error ? err.message : String(err), 'retry', { cause: err });
    const fields = { outboxId: row.id, kind: row.kind, channel: row.channel, destinationId: row.destination_id, attempts: row.attempts, error: e.message };
    if (e.kind === 'permanent' || (row.attempts >= MAX_ATTEMPTS && !e.rateLimited)) {
      return {
        row,
        record: { id: row.id, status: 'dead', error: e.message },
        outcome: { status: 'dead' },
        disable: e.disableDestination ? e.message : undefined,
        log: () => {
          deps.metrics?.dead(row.channel, row.kind);
          log.warn('delivery.dead', fields);
        },
      };
    }
    const retryAt = now + (e.rateLimited && e.retryAfterMs !== undefined ? e.retryAfterMs : retryDelayMs(row.attempts, random, e.retryAfterMs));
    return {
      row,
      record: { id: row.id, status: 'retrying', error: e.message, dueAt: retryAt, uncount: e.rateLimited ? 1 : 0 },
      outcome: { status: 'retrying', retryAt, counted: !e.rateLimited },
      log: () => {
        deps.metrics?.failed(row.channel, row.kind);
        log.info(e.rateLimited ? 'delivery.rate_limited' : 'delivery.failed', { ...fields, retryAt: new Date(retryAt).toISOString() });
      },
    };
  }

  const cancel = (row: OutboxRow, why: string): Decided => ({ row, record: { id: row.id, status: 'cancelled', error: why }, outcome: { status: 'cancelled' } });

  return {
    async read(rows) {
      const alerts = rows.filter((r) => alertKinds.has(r.kind)).map((r) => r.id);
      // With metrics, an alert's news time comes with its changes; other rows' (digests, confirmations) beside it.
      const since = deps.metrics ? new Map<number, number>() : undefined;
      const others = since ? rows.filter((r) => !alertKinds.has(r.kind)).map((r) => r.id) : [];
      const [destinations, grouped, otherSince] = await Promise.all([
        getDestinationsWithAccounts(db, rows.map((r) => r.destination_id)),
        readGrouped(alerts, since),
        others.length ? newsSince(db, others) : undefined,
      ]);
      for (const [id, t] of otherSince ?? []) since!.set(id, t);
      return { destinations, grouped, since };
    },

    async send(row, owner, context) {
      const now = clock();
      const found = context.destinations.get(row.destination_id);
      if (!found || found.destination.status === 'disabled') return cancel(row, found ? `destination disabled: ${found.destination.disabledReason}` : 'destination deleted');
      const { destination, account, target } = found;
      if (destination.status === 'unconfirmed' && row.kind !== 'confirmation') return cancel(row, 'destination not confirmed');
      try {
        const channel = deps.channels[row.channel] as ChannelDriver | undefined;
        if (!channel) throw new DeliveryError(`the ${row.channel} channel is not configured on this server`, 'retry');
        if (!target.ok) throw new DeliveryError(target.reason, 'permanent', { disableDestination: true });
        const grouped = row.kind === 'alert' || row.kind === 'budget' || row.kind === 'follow_up' ? (context.grouped.get(row.id) ?? []) : undefined;
        const content = await loadContent(db, row, destination, account, deps.links, now, grouped, channel.alertLinks ?? true);
        if (!content) return cancel(row, 'nothing left to send');
        // Only kinds a channel declares are in its map (checked where the channel is defined).
        const render = channel.render[content.kind];
        if (!render) throw new DeliveryError(`the ${row.channel} channel cannot show a ${content.kind} message`, 'permanent');
        if (rendering.cache.size > renderCacheEntries) rendering.cache.clear();
        const messages = render(content, target.destination, rendering);
        const key = `cw-${await installationId()}-${row.id}`;
        if (row.kind === 'follow_up' && channel.thread) {
          const thread = await readThread(db, row.id, JSON.parse(row.payload ?? '{}') as FollowUpPayload);
          // Its alert is no longer there to edit (never sent as one message): an ordinary message, below.
          if (thread) {
            // The alert re-rendered with what its follow-ups did to its changes: the edit.
            const items = await groupedItems(db, thread.root.id);
            const notes = lifecycleNotes(items, thread.followUps);
            const rootRow = { ...row, id: thread.root.id, kind: 'alert' as const, payload: null };
            const original = await loadContent(db, rootRow, destination, account, deps.links, now, items.map((i) => (notes.has(i.eventId) ? { ...i, lifecycle: notes.get(i.eventId) } : i)));
            const edit = original && channel.render[original.kind]?.(original, target.destination, rendering)[0];
            if (edit) {
              const sent = await sendFollowUpParts({
                thread: channel.thread,
                destination: target.destination,
                root: thread.root,
                edit,
                reply: messages,
                partsSent: row.parts_sent,
                key,
                markPart: (n) => writeWithRetry('part', [row.id], () => markPartSent(db, row.id, owner, n, clock(), leaseMs)),
              });
              if (sent === 'lease_lost') {
                log.warn('delivery.lease_lost', { outboxId: row.id, owner });
                return { status: 'lease_lost' };
              }
              return {
                row,
                record: { id: row.id, status: 'sent', providerId: sent.providerId, error: sent.note ?? null },
                outcome: { status: 'sent' },
                log: () => {
                  deps.metrics?.delivered(row.channel, row.kind, context.since?.get(row.id));
                  if (sent.note) log.info('delivery.original_gone', { outboxId: row.id, rootOutboxId: thread.root.id, channel: row.channel, destinationId: row.destination_id });
                  log.debug('delivery.sent', { outboxId: row.id, kind: row.kind, channel: row.channel, destinationId: row.destination_id, parts: sent.parts });
                },
              };
            }
          }
        }
        let providerId: string | null = null;
        for (let part = row.parts_sent; part < messages.length; part++) {
          const r = await channel.send(target.destination, messages[part], `${key}-${part}`);
          providerId = r.providerId;
          if (messages.length > 1 && !(await writeWithRetry('part', [row.id], () => markPartSent(db, row.id, owner, part + 1, clock(), leaseMs)))) {
            log.warn('delivery.lease_lost', { outboxId: row.id, owner, part });
            return { status: 'lease_lost' };
          }
        }
        return {
          row,
          record: { id: row.id, status: 'sent', providerId },
          outcome: { status: 'sent' },
          log: () => {
            deps.metrics?.delivered(row.channel, row.kind, context.since?.get(row.id));
            log.debug('delivery.sent', { outboxId: row.id, kind: row.kind, channel: row.channel, destinationId: row.destination_id, parts: messages.length });
          },
        };
      } catch (err) {
        return decideFailure(row, err);
      }
    },

    async record(decided, owner) {
      if (!decided.length) return [];
      const ids = decided.map((d) => d.row.id);
      const recorded = await writeWithRetry('outcome', ids, () => recordOutcomes(db, owner, decided.map((d) => d.record), clock()));
      const outcomes: DeliveryOutcome[] = [];
      for (const d of decided) {
        if (!recorded.has(d.row.id)) {
          log.warn('delivery.lease_lost', { outboxId: d.row.id, owner });
          outcomes.push({ status: 'lease_lost' });
          continue;
        }
        d.log?.();
        if (d.disable) {
          await disableDestination(db, clock, d.row.destination_id, d.disable);
          log.warn('destination.disabled', { destinationId: d.row.destination_id, reason: d.disable });
        }
        outcomes.push(d.outcome);
      }
      return outcomes;
    },
  };
}

/** One row at a time (the Workers queue consumer): read, send, record. */
export function createDeliverer(deps: DelivererDeps): (row: OutboxRow, owner: string) => Promise<DeliveryOutcome> {
  const delivery = createDelivery(deps);
  return async (row, owner) => {
    const decided = await delivery.send(row, owner, await delivery.read([row]));
    if (!('row' in decided)) return decided;
    return (await delivery.record([decided], owner))[0]!;
  };
}
