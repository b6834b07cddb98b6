import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import type { OutboxRow } from './outbox.js';
import type { DestinationRow } from '../store/destinations.js';
import type { AccountRow } from '../store/accounts.js';
import { alertViewUrl, destinationLinks, reviewUrl, type LinkSigner } from '../links.js';
import { PLANS } from '../core/plans.js';
import type { ChangeReview } from '../core/review.js';
import { awaitingReview, reviewStates } from '../store/reviews.js';
import type { DigestContent } from '../core/digest.js';
import { loadDigests } from './digest-content.js';
import type { ChangeEvent } from '../core/event.js';
import { canFollowUp, type FollowUpAction } from '../core/lifecycle.js';
import { followedUpAlerts } from './lifecycle.js';
import { buildAlert, changeItemFromEvent, type ChangeItem, type MessageContent } from '../core/message.js';

/** The changes an alert message was grouped from, read back by its outbox id (the same on every retry). */
export async function groupedItems(db: Db, outboxId: number): Promise<ChangeItem[]> {
  return (await groupedItemsReader(db)([outboxId])).get(outboxId) ?? [];
}

/**
 * Reads the grouped changes of a whole claim's alerts in two queries: which events each outbox
 * row carries, then the events not read yet. Each event is parsed once per reader (one dispatcher
 * pass), however many destinations it goes to: a 500-change burst to 100 destinations parses 500
 * payloads, not 50,000.
 */
export function groupedItemsReader(db: Db): (outboxIds: number[], since?: Map<number, number>) => Promise<Map<number, ChangeItem[]>> {
  const parsed = new Map<number, ChangeItem>();
  return async (outboxIds, since) => {
    const out = new Map<number, ChangeItem[]>();
    if (!outboxIds.length) return out;
    // One row per message with its events as a JSON array (in match order): a claim of a
    // 500-change burst was 16,000 rows through the driver and drizzle, now 32.
    // `since`: when the message's news reached us (its earliest match), for the delivery histogram.
    const groups = await db.all<{ outbox_id: number; event_pks: string; since: number }>(sql`
      SELECT m.outbox_id, json_group_array(m.event_pk ORDER BY m.id) AS event_pks, min(m.created_at) AS since FROM matches m
      WHERE m.outbox_id IN (SELECT value FROM json_each(${JSON.stringify(outboxIds)})) GROUP BY m.outbox_id`);
    if (since) for (const g of groups) since.set(Number(g.outbox_id), Number(g.since));
    const pairs = groups.flatMap((g) => (JSON.parse(g.event_pks) as number[]).map((event_pk) => ({ outbox_id: Number(g.outbox_id), event_pk })));
    const missing = [...new Set(pairs.map((p) => p.event_pk).filter((pk) => !parsed.has(pk)))];
    if (missing.length) {
      const rows = await db.all<{ pk: number; payload: string; name: string; reverts_to_at: number | null }>(sql`
        SELECT e.pk, e.payload, p.name, e.reverts_to_at FROM events e JOIN platforms p ON p.id = e.platform_id
        WHERE e.pk IN (SELECT value FROM json_each(${JSON.stringify(missing)}))`);
      for (const r of rows) parsed.set(r.pk, changeItemFromEvent(JSON.parse(r.payload) as ChangeEvent, r.name, r.reverts_to_at));
    }
    for (const p of pairs) {
      const item = parsed.get(p.event_pk);
      if (!item) continue;
      (out.get(p.outbox_id) ?? out.set(p.outbox_id, []).get(p.outbox_id)!).push(item);
    }
    return out;
  };
}

/**
 * Each change's review page, for the channels whose messages have no buttons (email, Teams, a
 * Discord channel webhook; Slack and the Discord bot decide in the message, a webhook's receiver has no reader), and for a Slack
 * budget message's changes past what Slack's 50 blocks leave room to give buttons. Reviews
 * belong to the plan with same-day alerts.
 */
async function reviewLinks(links: LinkSigner, destination: DestinationRow, account: AccountRow, items: ChangeItem[], budget: boolean): Promise<Record<string, string> | undefined> {
  // A Discord channel webhook has no bot identity behind it (no interactions come back to us), so
  // its changes link to the review page, whose typed name stands for the reader, as in Teams.
  const inMessage = (destination.type === 'discord' && !destination.url) || destination.type === 'webhook' || (destination.type === 'slack' && !budget);
  if (!PLANS[account.plan].sameDayAlerts || inMessage) return undefined;
  const urls = await Promise.all(items.map((i) => reviewUrl(links, destination.id, i.eventId)));
  return Object.fromEntries(items.map((i, n) => [i.eventId, urls[n]!]));
}

/**
 * Each change's review as it is now, for the chat messages that carry buttons: a Slack channel,
 * or a Discord channel the bot posts to (a channel webhook's message can have no buttons).
 */
async function chatReviews(db: Db, destination: DestinationRow, account: AccountRow, items: ChangeItem[]): Promise<Record<string, ChangeReview> | undefined> {
  const buttons = destination.type === 'slack' || (destination.type === 'discord' && !!destination.discordChannel && !destination.url);
  if (!PLANS[account.plan].sameDayAlerts || !buttons) return undefined;
  return Object.fromEntries(await reviewStates(db, account.id, items.map((i) => i.eventId)));
}

/** A digest's "Awaiting review (N)": the newest few, linked to their review page in email. */
async function awaitingReviews(db: Db, links: LinkSigner, destination: DestinationRow, account: AccountRow): Promise<Pick<DigestContent, 'awaiting'>> {
  if (!PLANS[account.plan].sameDayAlerts) return {};
  const { total, entries } = await awaitingReview(db, account.id, 5);
  if (!total) return {};
  const linked = destination.type === 'email';
  const urls = await Promise.all(entries.map((e) => (linked ? reviewUrl(links, destination.id, e.eventId) : undefined)));
  return { awaiting: { total, items: entries.map((e, i) => ({ title: e.title, platform: e.platform.name, ...(urls[i] ? { url: urls[i] } : {}) })) } };
}

/**
 * Teams cannot edit or thread (a Workflows webhook gives no message id): a reversion or a
 * superseding change reaches it as a new message, which names the earlier alerted change it
 * follows up. Copies: the items are shared with the other destinations of the claim.
 */
async function withPriorAlerts(db: Db, destinationId: string, items: ChangeItem[]): Promise<ChangeItem[]> {
  const candidates = items.filter((i) => canFollowUp({ kind: i.kind, provisionId: i.provision?.id, revertsToAt: i.revertsToAt ?? null }));
  if (!candidates.length) return items;
  const prior = await followedUpAlerts(db, destinationId, candidates.map((i) => i.eventId));
  return items.map((i) => (prior.has(i.eventId) ? { ...i, followsUp: prior.get(i.eventId)! } : i));
}

/**
 * What an outbox row is about, ready for a renderer. Null when there is nothing left to say
 * (a group whose matches were all withdrawn).
 */
export async function loadContent(
  db: Db,
  row: OutboxRow,
  destination: DestinationRow,
  account: AccountRow,
  links: LinkSigner,
  now: number,
  /** An alert's grouped changes, when the caller read them with its whole claim. */
  grouped?: ChangeItem[],
  /** False for a channel whose alerts show no links: nothing is signed (a signature per link per message). */
  alertLinks = true,
): Promise<MessageContent | null> {
  const reader = { timeZone: account.timezone, now };
  switch (row.kind) {
    case 'alert':
    case 'budget':
    case 'follow_up': {
      const read = grouped ?? (await groupedItems(db, row.id));
      if (!read.length) return null;
      const items = destination.type === 'teams' && row.kind !== 'follow_up' ? await withPriorAlerts(db, destination.id, read) : read;
      const [base, view, review, reviews] = await Promise.all([
        alertLinks ? destinationLinks(links, destination.id) : { unsubscribe: '', manage: '' },
        alertLinks ? alertViewUrl(links, destination.id, row.id) : undefined,
        row.kind === 'follow_up' || !alertLinks ? undefined : reviewLinks(links, destination, account, items, row.kind === 'budget'),
        row.kind === 'follow_up' ? undefined : chatReviews(db, destination, account, items),
      ]);
      const alert = { ...buildAlert(items, reader, { ...base, view, review }, account.plan), budget: row.kind === 'budget', ...(reviews ? { reviews } : {}) };
      if (row.kind === 'follow_up') alert.followUp = (JSON.parse(row.payload ?? '{}') as { action: FollowUpAction }).action;
      // An outage and its end inside one group cancel out: nothing left to say.
      return alert.changes.length || alert.notices.length ? alert : null;
    }
    case 'reminder': {
      const { eventPk } = JSON.parse(row.payload ?? '{}') as { eventPk: number };
      const rows = await db.all<{ payload: string; name: string }>(sql`
        SELECT e.payload, p.name FROM events e JOIN platforms p ON p.id = e.platform_id WHERE e.pk = ${eventPk}`);
      if (!rows.length) return null;
      const items = rows.map((r) => changeItemFromEvent(JSON.parse(r.payload) as ChangeEvent, r.name));
      return { ...buildAlert(items, reader, await destinationLinks(links, destination.id), account.plan), reminder: true };
    }
    case 'confirmation': {
      const payload = JSON.parse(row.payload ?? '{}') as { platforms?: string[] };
      return {
        kind: 'confirmation',
        address: destination.address ?? '',
        platforms: payload.platforms ?? [],
        confirmUrl: await links.url('confirm', destination.id),
        reader,
      };
    }
    case 'digest': {
      const period = JSON.parse(row.payload ?? '{}') as { key: string; start: number; end: number };
      // Its decisions were taken when it was enqueued (settled then): nothing to settle per send.
      const digest = (await loadDigests(db, [{ destinationId: destination.id, period }], links, now, { settle: false })).get(destination.id);
      if (!digest || (digest.total === 0 && digest.notices.length === 0 && !account.emptyDigest)) return null;
      return { ...digest, ...(await awaitingReviews(db, links, destination, account)) };
    }
    case 'manage_link':
      return { kind: 'manage_link', address: destination.address ?? '', manageUrl: await links.url('manage', destination.id), reader };
    default:
      throw new Error(`no content loader for outbox kind "${row.kind}"`);
  }
}
