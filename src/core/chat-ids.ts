import { z } from 'zod';

/**
 * The ids of Slack workspaces and channels and of Discord servers and channels, validated once
 * here for every way in: the `/clausewatch` commands (which create accounts and destinations
 * from them), the destinations API and the account lookups (`?slack_team=`, `?discord_guild=`).
 * What one accepts, the others accept.
 */

const U64_MAX = 2n ** 64n - 1n;

/**
 * A Discord snowflake: an unsigned 64-bit integer in decimal. Its top bits are milliseconds since
 * 2015, so every server and channel made since Discord opened has 17 to 20 digits.
 */
const snowflake = (what: string) =>
  z.string().regex(/^[1-9]\d{16,19}$/, `a Discord ${what} id (17 to 20 digits)`).refine((v) => BigInt(v) <= U64_MAX, `a Discord ${what} id (at most 18446744073709551615)`);

export const discordGuildId = snowflake('server');
export const discordChannelId = snowflake('channel');

/** A Slack workspace (T…) or, for an Enterprise Grid organisation-wide install, enterprise (E…) id. */
export const slackTeamId = z.string().regex(/^[TE][A-Z0-9]{2,30}$/, 'a Slack workspace id such as T0123ABCD (E… for an Enterprise Grid organisation)');

/** A Slack public (C…) or private (G…) channel, or a direct message (D…). */
export const slackChannelId = z.string().regex(/^[CGD][A-Z0-9]{2,30}$/, 'a Slack channel id such as C0123ABCD');

/** Why a chat command's workspace and channel cannot become an account and a destination, or null. */
export function chatIdsRefusal(platform: 'slack' | 'discord', workspaceId: string, channelId: string): string | null {
  const [workspace, channel] = platform === 'slack' ? [slackTeamId, slackChannelId] : [discordGuildId, discordChannelId];
  const bad = workspace.safeParse(workspaceId).error ?? channel.safeParse(channelId).error;
  return bad ? bad.issues[0]!.message : null;
}
