import type { REST } from '@discordjs/rest';
import { Routes } from 'discord-api-types/v10';
import { DeliveryError, type Channel } from '../../channel.js';
import type { DiscordMessage } from '../../../render/discord.js';
import { discordRenderers } from './render.js';
import { DISCORD_WEBHOOK, type DiscordDestination } from './destination.js';

/** Discord's answer to an edit of a message that was deleted. */
const UNKNOWN_MESSAGE = 10008;

/** Discord error codes that mean the channel or webhook will never take our messages. */
const DESTINATION_GONE = new Map<number, string>([
  [10003, 'Unknown Channel'],
  [10015, 'Unknown Webhook'],
  [50001, 'Missing Access'],
  [50013, 'Missing Permissions'],
]);

export interface DiscordChannelOptions {
  /** Bot token for channel messages; webhook destinations need none. */
  botToken?: string;
  /** REST base, e.g. https://discord.com/api (tests: a loopback stand-in). */
  apiUrl?: string;
  /**
   * On Workers, the platform's fetch, called at request time: the web build of @discordjs/rest
   * otherwise keeps the fetch it found when it was imported.
   */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

/**
 * @discordjs/rest, loaded with the first Discord message, so a service without Discord
 * destinations never holds it (with @slack/web-api, 2.3 MB of an idle process's heap).
 * Its errors exist only once it is loaded, so `classifyDiscordError` reads them from here.
 */
let sdk: typeof import('@discordjs/rest') | undefined;
const loadSdk = async () => (sdk ??= await import('@discordjs/rest'));

/**
 * The Discord channel: channel messages (bot) or channel webhooks, through @discordjs/rest. Its
 * buckets wait out 429s by themselves; its own 5xx retries are off so the outbox backs off.
 */
export function createDiscordChannel(o: DiscordChannelOptions): Channel<'discord', DiscordMessage> {
  let client: Promise<REST> | undefined;
  const restClient = () =>
    (client ??= loadSdk().then((m) => {
      const rest = new m.REST({
        version: '10',
        retries: 0,
        timeout: 10_000,
        ...(o.apiUrl ? { api: o.apiUrl } : {}),
        ...(o.fetch ? { makeRequest: o.fetch as unknown as NonNullable<ConstructorParameters<typeof REST>[0]>['makeRequest'] } : {}),
      });
      if (o.botToken) rest.setToken(o.botToken);
      return rest;
    }, (err: unknown) => {
      // A failed load is retried by the next message (its row retries as any failure does), not kept.
      client = undefined;
      throw err;
    }));
  return {
    type: 'discord',
    render: discordRenderers,
    send: (destination, m) => post(destination, m),
    thread: {
      async edit(destination, messageId, m) {
        try {
          const rest = await restClient();
          if ('webhookUrl' in destination) {
            // A webhook edits its own messages (https://discord.com/developers/docs/resources/webhook#edit-webhook-message).
            const [, id, token] = DISCORD_WEBHOOK.exec(destination.webhookUrl)!;
            await rest.patch(Routes.webhookMessage(id!, token!, messageId), { body: m, auth: false });
          } else {
            if (!o.botToken) throw new DeliveryError('DISCORD_BOT_TOKEN is not set', 'retry');
            await rest.patch(Routes.channelMessage(destination.channel, messageId), { body: m });
          }
          return 'edited';
        } catch (err) {
          // Someone deleted the alert: there is nothing to edit, and nothing to retry.
          if (sdk && err instanceof sdk.DiscordAPIError && Number(err.code) === UNKNOWN_MESSAGE) return 'gone';
          throw classifyDiscordError(err);
        }
      },
      // A bot replies to the alert (message_reference; posted as a plain message if it is gone by
      // then). A webhook cannot reply: its follow-up is a new message, below the edited alert.
      reply: (destination, messageId, m) =>
        post(destination, messageId && !('webhookUrl' in destination) ? { ...m, message_reference: { message_id: messageId, fail_if_not_exists: false } } : m),
    },
  };

  async function post(destination: DiscordDestination, m: DiscordMessage) {
    try {
      const rest = await restClient();
      if ('webhookUrl' in destination) {
        const [, id, token] = DISCORD_WEBHOOK.exec(destination.webhookUrl)!;
        const r = (await rest.post(Routes.webhook(id!, token!), { body: m, query: new URLSearchParams({ wait: 'true' }), auth: false })) as { id?: string };
        return { providerId: r?.id ?? null };
      }
      if (!o.botToken) throw new DeliveryError('DISCORD_BOT_TOKEN is not set', 'retry');
      const r = (await rest.post(Routes.channelMessages(destination.channel), { body: m })) as { id?: string };
      return { providerId: r?.id ?? null };
    } catch (err) {
      throw classifyDiscordError(err);
    }
  }
}

export function classifyDiscordError(err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  if (sdk && err instanceof sdk.DiscordAPIError) {
    const code = typeof err.code === 'number' ? err.code : Number(err.code);
    const gone = DESTINATION_GONE.get(code);
    if (gone) return new DeliveryError(`Discord ${code}: ${gone}`, 'permanent', { disableDestination: true, cause: err });
    // 401: our bot token is wrong, for every channel alike: the operator's to fix, so retry.
    if (err.status >= 500 || err.status === 401) return new DeliveryError(`Discord HTTP ${err.status}: ${err.message}`, 'retry', { cause: err });
    if (err.status === 429) return new DeliveryError('Discord rate limit', 'retry', { rateLimited: true, retryAfterMs: 1000, cause: err });
    return new DeliveryError(`Discord ${code}: ${err.message}`, 'permanent', { cause: err });
  }
  if (sdk && err instanceof sdk.HTTPError) return new DeliveryError(`Discord HTTP ${err.status}`, 'retry', { cause: err });
  return new DeliveryError(`Discord: ${err instanceof Error ? err.message : String(err)}`, 'retry', { cause: err });
}
