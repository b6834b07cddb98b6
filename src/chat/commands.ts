import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import type { Clock } from '../core/clock.js';
import { accounts, destinations } from '../../db/schema.js';
import { PLANS, planLimitMessage, planUsage, upgradeFor, type PlanName } from '../core/plans.js';
import { isSeverity, type Severity } from '../core/severity.js';
import { closestPlatforms } from '../core/platform-search.js';
import { createAccount, platformsInUse, type AccountRow } from '../store/accounts.js';
import { activateDestination, createDestination, type DestinationRow } from '../store/destinations.js';
import { listSubscriptions, subscribe, unsubscribePlatform } from '../store/subscriptions.js';
import { findPlatform, searchPlatforms } from '../store/platforms.js';
import type { Weekday } from '../core/schedule-time.js';
import { chatIdsRefusal } from '../core/chat-ids.js';

/**
 * `/clausewatch`, the same in Slack and Discord: parse the sub-command, act on the channel it was
 * typed in, and answer with a reply each bot renders in its own markup (and escapes there).
 */

/** Reply text in parts, so each medium renders code and emphasis its way and escapes the rest. */
export type Inline = string | { code: string } | { bold: string } | { link: string; label: string };
export type Line = Inline[];

export interface ChatReply {
  ok: boolean;
  title: string;
  lines: Line[];
}

export interface ChatContext {
  platform: 'slack' | 'discord';
  /** Slack team id or Discord guild id: one account each. */
  workspaceId: string;
  workspaceName?: string;
  channelId: string;
  /** Discord: whether the member may change subscriptions (Manage Server / Manage Channels). */
  canManage: boolean;
}

export type ChatCommand =
  | { name: 'subscribe'; platform: string; minSeverity: Severity }
  | { name: 'unsubscribe'; platform: string }
  | { name: 'list' }
  | { name: 'platforms'; search: string }
  | { name: 'plan' }
  | { name: 'help'; unknown?: string };

const SUBCOMMANDS = ['subscribe', 'unsubscribe', 'list', 'platforms', 'plan', 'help'] as const;

export type ParseResult = { ok: true; command: ChatCommand } | { ok: false; reply: ChatReply };

/** Slack's free text: `subscribe openai min:high`, `platforms open`, … */
export function parseCommandText(text: string): ParseResult {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const [first, ...rest] = words;
  const name = (first ?? 'help').toLowerCase();
  switch (name) {
    case 'subscribe': {
      const min = rest.find((w) => /^min:/i.test(w));
      const platform = rest.find((w) => !/^min:/i.test(w));
      if (!platform) return usage('subscribe <platform> [min:<low|medium|high>]', 'Name the platform to watch, for example `subscribe openai min:high`.');
      const severity = min ? min.slice(4).toLowerCase() : 'low';
      if (!isSeverity(severity)) return usage('subscribe <platform> [min:<low|medium|high>]', `'${severity}' is not a severity: use low, medium or high.`);
      return { ok: true, command: { name: 'subscribe', platform: platform.toLowerCase(), minSeverity: severity } };
    }
    case 'unsubscribe':
      if (!rest[0]) return usage('unsubscribe <platform>', 'Name the platform to stop watching in this channel.');
      return { ok: true, command: { name: 'unsubscribe', platform: rest[0].toLowerCase() } };
    case 'list':
    case 'plan':
      return { ok: true, command: { name } };
    case 'platforms':
      return { ok: true, command: { name: 'platforms', search: rest.join(' ') } };
    case 'help':
      return { ok: true, command: { name: 'help' } };
    default:
      return { ok: true, command: { name: 'help', unknown: name } };
  }
}

function usage(syntax: string, why: string): ParseResult {
  return { ok: false, reply: { ok: false, title: 'Not quite', lines: [[why], ['Usage: ', { code: `/clausewatch ${syntax}` }]] } };
}

/** Slack and Discord want a command answered within 3 seconds; keep a margin for the network. */
export const ANSWER_DEADLINE_MS = 2_500;

/** The reply if `work` finishes within `ms`, else null: the caller answers now and replies later. */
export function replyWithin(work: Promise<ChatReply>, ms = ANSWER_DEADLINE_MS): Promise<ChatReply | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)));
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

export interface CommandDeps {
  db: Db;
  clock: Clock;
  digest: { weekday: Weekday; hour: number };
}

/** The account of a Slack workspace or Discord server, made on `free` by its first command. */
export async function workspaceAccount(deps: CommandDeps, ctx: ChatContext): Promise<AccountRow> {
  const column = ctx.platform === 'slack' ? accounts.slackTeam : accounts.discordGuild;
  const found = await deps.db.query.accounts.findFirst({ where: eq(column, ctx.workspaceId) });
  if (found) return found;
  try {
    return await createAccount(deps.db, deps.clock, {
      name: ctx.workspaceName ?? `${ctx.platform === 'slack' ? 'Slack workspace' : 'Discord server'} ${ctx.workspaceId}`,
      plan: 'free',
      timezone: 'UTC',
      digestWeekday: deps.digest.weekday,
      digestHour: deps.digest.hour,
      reminderDays: 7,
      emptyDigest: true,
      ...(ctx.platform === 'slack' ? { slackTeam: ctx.workspaceId } : { discordGuild: ctx.workspaceId }),
    });
  } catch {
    // Two first commands at once: the unique index let one through; use it.
    return (await deps.db.query.accounts.findFirst({ where: eq(column, ctx.workspaceId) }))!;
  }
}

async function channelDestination(deps: CommandDeps, account: AccountRow, ctx: ChatContext): Promise<DestinationRow> {
  const target =
    ctx.platform === 'slack'
      ? ({ type: 'slack', team: ctx.workspaceId, channel: ctx.channelId } as const)
      : ({ type: 'discord', guild: ctx.workspaceId, channel: ctx.channelId } as const);
  const { destination } = await createDestination(deps.db, deps.clock, account.id, target, 'active');
  // A command typed in the channel shows it is reachable again (reinstalled, access restored).
  if (destination.status === 'disabled') {
    await activateDestination(deps.db, deps.clock, destination.id);
    return { ...destination, status: 'active', disabledReason: null };
  }
  return destination;
}

const severityWords = (s: Severity) => (s === 'low' ? 'every change' : `${s} and above`);
const usageLine = async (deps: CommandDeps, account: AccountRow): Promise<Line> => [
  'Plan: ',
  { bold: account.plan },
  `, ${planUsage(account.plan, await platformsInUse(deps.db, account.id))}.`,
];

async function unknownPlatform(deps: CommandDeps, slug: string): Promise<ChatReply> {
  const all = await deps.db.all<{ slug: string; name: string }>(sql`SELECT slug, name FROM platforms`);
  const close = closestPlatforms(slug, all, 3);
  return {
    ok: false,
    title: `No platform '${slug}'`,
    lines: [
      ['Try ', { code: `/clausewatch platforms ${slug}` }, ' to find its slug.'],
      ...(close.length ? [['Close matches: ', ...close.flatMap((p, i): Inline[] => [...(i ? [', '] : []), { code: p.slug }, ` (${p.name})`])]] : []),
    ],
  };
}

export async function runCommand(deps: CommandDeps, ctx: ChatContext, command: ChatCommand): Promise<ChatReply> {
  // What becomes an account or a destination passes the checks the API and its lookups apply.
  const refusal = command.name === 'help' || command.name === 'platforms' ? null : chatIdsRefusal(ctx.platform, ctx.workspaceId, ctx.channelId);
  if (refusal) return { ok: false, title: 'This channel cannot be used', lines: [[`ClauseWatch expected ${refusal}, and was sent something else.`]] };
  switch (command.name) {
    case 'help':
      return help(command.unknown);
    case 'platforms': {
      const page = await searchPlatforms(deps.db, command.search || undefined, 15);
      if (!page.data.length) return { ok: false, title: `No platform matches '${command.search}'`, lines: [['Try a shorter search, or ', { code: '/clausewatch platforms' }, ' for the first ones.']] };
      return {
        ok: true,
        title: command.search ? `Platforms matching '${command.search}'` : 'Platforms',
        lines: [
          ...page.data.map((p): Line => [{ code: p.slug }, ` ${p.name}`]),
          ...(page.nextCursor ? [['…and more: narrow it with ', { code: '/clausewatch platforms <search>' }] as Line] : []),
        ],
      };
    }
    case 'plan': {
      const account = await workspaceAccount(deps, ctx);
      const plan = PLANS[account.plan];
      const up = upgradeFor(account.plan);
      return {
        ok: true,
        title: `The ${plan.name} plan`,
        lines: [
          await usageLine(deps, account),
          [plan.sameDayAlerts ? 'Same-day alerts and a weekly digest.' : 'A weekly digest (no same-day alerts).'],
          ...(up ? [[`Upgrade to ${up.name} for up to ${up.platformLimit} platforms and same-day alerts, grouped per channel.`] as Line] : []),
        ],
      };
    }
    case 'list': {
      const account = await workspaceAccount(deps, ctx);
      const destination = await deps.db.query.destinations.findFirst({
        where: and(eq(destinations.accountId, account.id), eq(destinations.type, ctx.platform), eq(ctx.platform === 'slack' ? destinations.slackChannel : destinations.discordChannel, ctx.channelId)),
      });
      const subs = destination ? await listSubscriptions(deps.db, account.id, { destinationId: destination.id }) : [];
      const disabled = await deps.db.query.destinations.findMany({ where: and(eq(destinations.accountId, account.id), eq(destinations.status, 'disabled')) });
      return {
        ok: true,
        title: subs.length ? 'This channel watches' : 'This channel watches nothing yet',
        lines: [
          ...subs.map((s): Line => [{ bold: s.platform.name }, ' (', { code: s.platform.slug }, `): ${severityWords(s.minSeverity)}${s.status === 'paused' ? ', paused by the plan limit' : ''}`]),
          ...(subs.length ? [] : [['Start with ', { code: '/clausewatch subscribe <platform>' }] as Line]),
          await usageLine(deps, account),
          ...disabled.map((d): Line => [`⚠ Delivery to ${d.type === 'email' ? d.address : `channel ${d.slackChannel ?? d.discordChannel ?? ''}`} is switched off: ${d.disabledReason ?? 'refused'}.`]),
        ],
      };
    }
    case 'subscribe':
    case 'unsubscribe': {
      if (!ctx.canManage) {
        return { ok: false, title: 'Not allowed', lines: [['Only members who can manage this server or its channels may change what this channel watches.']] };
      }
      const platform = await findPlatform(deps.db, command.platform);
      if (!platform) return unknownPlatform(deps, command.platform);
      const account = await workspaceAccount(deps, ctx);
      const destination = await channelDestination(deps, account, ctx);
      if (command.name === 'unsubscribe') {
        const removed = await unsubscribePlatform(deps.db, destination.id, platform.id);
        return {
          ok: removed,
          title: removed ? `Stopped watching ${platform.name}` : `This channel does not watch ${platform.name}`,
          lines: [await usageLine(deps, account)],
        };
      }
      const r = await subscribe(deps.db, deps.clock, {
        accountId: account.id,
        plan: account.plan,
        destinationId: destination.id,
        platformId: platform.id,
        minSeverity: command.minSeverity,
        categories: null,
      });
      if (!r.ok) return { ok: false, title: 'Plan limit reached', lines: [[planLimitMessage(account.plan)], await usageLine(deps, account)] };
      const what = PLANS[account.plan as PlanName].sameDayAlerts ? 'same-day alerts and the weekly digest' : 'the weekly digest';
      return {
        ok: true,
        title: `This channel now watches ${platform.name}`,
        lines: [[`${severityWords(command.minSeverity)[0]!.toUpperCase()}${severityWords(command.minSeverity).slice(1)}, in ${what}.`], await usageLine(deps, account)],
      };
    }
  }
}

export function help(unknown?: string): ChatReply {
  const close = unknown ? closestPlatforms(unknown, SUBCOMMANDS.map((s) => ({ slug: s, name: s })), 1)[0] : undefined;
  return {
    ok: !unknown,
    title: unknown ? `Unknown command '${unknown}'` : 'ClauseWatch',
    lines: [
      ...(close ? [['Did you mean ', { code: `/clausewatch ${close.slug}` }, '?'] as Line] : []),
      [{ code: '/clausewatch subscribe <platform> [min:<severity>]' }, ' this channel gets that platform’s changes'],
      [{ code: '/clausewatch unsubscribe <platform>' }, ' stops them'],
      [{ code: '/clausewatch list' }, ' what this channel watches, and the plan usage'],
      [{ code: '/clausewatch platforms [search]' }, ' find a platform’s slug'],
      [{ code: '/clausewatch plan' }, ' plan, limits, and what an upgrade adds'],
    ],
  };
}
