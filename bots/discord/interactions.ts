import type { Config } from '../../src/config.js';
import type { Context, Hono } from 'hono';
import { REST } from '@discordjs/rest';
import {
  ApplicationCommandOptionType,
  InteractionResponseType,
  InteractionType,
  PermissionFlagsBits,
  Routes,
  type APIApplicationCommandInteractionDataOption,
  type APIInteraction,
} from 'discord-api-types/v10';
import { errorFields, type Logger } from '../../src/log.js';
import { replyWithin, runCommand, type ChatCommand, type CommandDeps } from '../../src/chat/commands.js';
import { renderReplyDiscord } from '../../src/render/discord.js';
import { isSeverity } from '../../src/core/severity.js';
import { closestPlatforms } from '../../src/core/platform-search.js';
import { sql } from 'drizzle-orm';
import { CHAT_MAX_BYTES, readTextBody } from '../../src/http/body.js';
import { createDiscordReviews, type DiscordReviewDeps } from './reviews.js';

export interface DiscordBotDeps {
  log: Logger;
  /** The application, its public key (Ed25519 check), REST base and bot token, as configured. */
  discord: NonNullable<Config['discord']>;
  commands: CommandDeps;
  /** On Workers, the platform's fetch (see createDiscordChannel). */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /** How long a command may take before it is deferred and its answer edited in afterwards. */
  answerDeadlineMs?: number;
  /** The review buttons of alerts: how decisions are recorded and messages rendered again. */
  reviews?: DiscordReviewDeps;
}

function executionContext(c: Context): { waitUntil(p: Promise<unknown>): void } | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined;
  }
}

const hex = (s: string) => Uint8Array.from(s.match(/../g)?.map((b) => parseInt(b, 16)) ?? []);

/** How far the signed timestamp may be from our clock, either way: Slack's window, and Bolt's. */
const MAX_SIGNATURE_AGE_S = 5 * 60;

/**
 * Ed25519 over timestamp + raw body with the application's public key, through WebCrypto (the
 * same code runs on Workers). Checked before anything else is read. The signed timestamp (Unix
 * seconds) must be within 5 minutes of `now`, so a captured interaction cannot be replayed later.
 */
export async function verifyDiscordSignature(publicKey: CryptoKey, signature: string | undefined, timestamp: string | undefined, body: string, now: number): Promise<boolean> {
  if (!signature || !timestamp || !/^[0-9a-f]{128}$/i.test(signature) || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(now / 1000 - Number(timestamp)) > MAX_SIGNATURE_AGE_S) return false;
  try {
    return await crypto.subtle.verify('Ed25519', publicKey, hex(signature), new TextEncoder().encode(timestamp + body));
  } catch {
    return false;
  }
}

/** Administrator, Manage Server or Manage Channels, from the member's permission bitfield. */
export function canManage(permissions: string | undefined): boolean {
  if (!permissions) return false;
  const p = BigInt(permissions);
  return [PermissionFlagsBits.Administrator, PermissionFlagsBits.ManageGuild, PermissionFlagsBits.ManageChannels].some((f) => (p & f) === f);
}

function toCommand(sub: APIApplicationCommandInteractionDataOption | undefined): ChatCommand {
  if (!sub || sub.type !== ApplicationCommandOptionType.Subcommand) return { name: 'help' };
  const opt = (name: string) => {
    const o = sub.options?.find((x) => x.name === name);
    return o && 'value' in o ? String(o.value) : undefined;
  };
  switch (sub.name) {
    case 'subscribe': {
      const min = opt('min_severity') ?? 'low';
      return { name: 'subscribe', platform: (opt('platform') ?? '').toLowerCase(), minSeverity: isSeverity(min) ? min : 'low' };
    }
    case 'unsubscribe':
      return { name: 'unsubscribe', platform: (opt('platform') ?? '').toLowerCase() };
    case 'platforms':
      return { name: 'platforms', search: opt('search') ?? '' };
    case 'list':
    case 'plan':
      return { name: sub.name };
    default:
      return { name: 'help' };
  }
}

export function createDiscordBot(deps: DiscordBotDeps) {
  const rest = new REST({
    version: '10',
    retries: 1,
    ...(deps.discord.apiUrl ? { api: deps.discord.apiUrl } : {}),
    ...(deps.fetch ? { makeRequest: deps.fetch as unknown as NonNullable<ConstructorParameters<typeof REST>[0]>['makeRequest'] } : {}),
  });
  // The review's Assign edits the alert message itself (its select is on an ephemeral reply).
  rest.setToken(deps.discord.botToken);
  const reviews = deps.reviews ? createDiscordReviews({ ...deps.reviews, rest, applicationId: deps.discord.applicationId, answerDeadlineMs: deps.answerDeadlineMs, canManage }) : undefined;
  let key: Promise<CryptoKey> | undefined;
  const publicKey = () => (key ??= crypto.subtle.importKey('raw', hex(deps.discord.publicKey), { name: 'Ed25519' }, false, ['verify']));

  async function handle(c: Context) {
    // Capped before the signature is checked: an unsigned 60 MB body is refused unread.
    const raw = await readTextBody(c, CHAT_MAX_BYTES);
    const valid = await verifyDiscordSignature(await publicKey(), c.req.header('x-signature-ed25519'), c.req.header('x-signature-timestamp'), raw, deps.commands.clock());
    if (!valid) return c.json({ error: 'invalid_signature', message: 'The Discord signature is missing, wrong or not from the last 5 minutes.' }, 401);
    let interaction: APIInteraction;
    try {
      interaction = JSON.parse(raw);
    } catch {
      return c.json({ error: 'invalid_json', message: 'The body is not valid JSON.' }, 400);
    }

    if (interaction.type === InteractionType.Ping) return c.json({ type: InteractionResponseType.Pong });

    if (interaction.type === InteractionType.ApplicationCommandAutocomplete) {
      const sub = interaction.data.options?.[0];
      const options = sub && 'options' in sub ? (sub.options ?? []) : [];
      const current = options.find((o) => 'focused' in o && o.focused);
      const focused = current && 'value' in current ? String(current.value) : '';
      const all = await deps.commands.db.all<{ slug: string; name: string }>(sql`SELECT slug, name FROM platforms ORDER BY name`);
      const found = focused ? closestPlatforms(focused, all, 25) : all.slice(0, 25);
      return c.json({
        type: InteractionResponseType.ApplicationCommandAutocompleteResult,
        data: { choices: found.map((p) => ({ name: `${p.name} (${p.slug})`.slice(0, 100), value: p.slug })) },
      });
    }

    // Review buttons, the reason modal and the assignee select of alert messages.
    const review = await reviews?.handle(interaction);
    if (review) {
      if (review.later) executionContext(c)?.waitUntil(review.later);
      return c.json(review.answer);
    }

    if (interaction.type !== InteractionType.ApplicationCommand || !('options' in interaction.data)) {
      return c.json({ type: InteractionResponseType.ChannelMessageWithSource, data: { content: 'Unsupported interaction.', flags: 64 } });
    }
    const guildId = interaction.guild_id;
    const channelId = interaction.channel?.id ?? (interaction as { channel_id?: string }).channel_id;
    if (!guildId || !channelId) {
      return c.json({ type: InteractionResponseType.ChannelMessageWithSource, data: { content: 'Use /clausewatch in a server channel.', flags: 64 } });
    }
    const command = toCommand(interaction.data.options?.[0]);
    const work = runCommand(deps.commands, { platform: 'discord', workspaceId: guildId, channelId, canManage: canManage(interaction.member?.permissions) }, command);
    const reply = await replyWithin(work, deps.answerDeadlineMs);
    if (reply) return c.json({ type: InteractionResponseType.ChannelMessageWithSource, data: renderReplyDiscord(reply) });
    // Slow: defer now (ephemeral), then edit the original response through the interaction webhook.
    const followUp = work
      .then((r) => rest.patch(Routes.webhookMessage(deps.discord.applicationId, interaction.token), { body: renderReplyDiscord(r), auth: false }))
      .catch((err) => deps.log.error('discord.followup_failed', errorFields(err)));
    // Workers end a request's work with its response unless told to wait; Node has no such context.
    executionContext(c)?.waitUntil(followUp);
    return c.json({ type: InteractionResponseType.DeferredChannelMessageWithSource, data: { flags: 64 } });
  }

  return {
    routes(hono: Hono) {
      hono.post('/discord/interactions', handle);
    },
  };
}
