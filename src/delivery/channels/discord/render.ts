import type { Renderers } from '../../channel.js';
import { renderAlertDiscord, renderDigestDiscord, type DiscordMessage } from '../../../render/discord.js';
import type { DiscordDestination } from './destination.js';

/** Embeds for alerts and digests (render/discord.ts packs them within Discord's limits). */
export const discordRenderers: Renderers<DiscordDestination, DiscordMessage, 'alert' | 'digest'> = {
  alert: (content) => renderAlertDiscord(content),
  digest: (content) => renderDigestDiscord(content),
};
