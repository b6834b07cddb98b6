import { z } from 'zod';
import type { DestinationRow } from '../../../store/destinations.js';

/** Where a channel webhook posts: https://discord.com/api/webhooks/<id>/<token>. */
export const DISCORD_WEBHOOK = /^https:\/\/(?:(?:canary|ptb)\.)?discord(?:app)?\.com\/api(?:\/v\d+)?\/webhooks\/(\d{5,25})\/([A-Za-z0-9_-]{20,200})$/;

/**
 * A channel the bot posts in (guild and channel), or a channel webhook (no bot needed). Ids are
 * checked strictly at the edge (core/chat-ids.ts); here a stored row only needs them present.
 */
export const discordDestination = z.union([
  z.object({ type: z.literal('discord'), guild: z.string().min(1), channel: z.string().min(1) }),
  z.object({ type: z.literal('discord'), webhookUrl: z.string().regex(DISCORD_WEBHOOK) }),
]);
export type DiscordDestination = z.infer<typeof discordDestination>;

export const discordFromRow = (row: DestinationRow) =>
  row.url ? { type: 'discord', webhookUrl: row.url } : { type: 'discord', guild: row.discordGuild, channel: row.discordChannel };
export const discordColumns = (d: DiscordDestination) => ('webhookUrl' in d ? { url: d.webhookUrl } : { discordGuild: d.guild, discordChannel: d.channel });
export const discordTargetKey = (d: DiscordDestination) => ('webhookUrl' in d ? `discord-webhook:${d.webhookUrl}` : `discord:${d.guild}/${d.channel}`);
