import type { WebAPICallError, WebClient } from '@slack/web-api';
import { DeliveryError, type Channel } from '../../channel.js';
import type { Clock } from '../../../core/clock.js';
import type { SlackMessage } from '../../../render/slack.js';
import { slackRenderers } from './render.js';
import type { SlackDestination } from './destination.js';
import { perKeyPacer } from '../../pacing.js';

/** Slack's answers that mean this channel will never take our messages: switch the destination off. */
const DESTINATION_GONE = new Set(['channel_not_found', 'not_in_channel', 'is_archived', 'account_inactive', 'invalid_auth', 'token_revoked', 'team_access_not_granted', 'missing_scope', 'restricted_action']);
/** About the token itself: the workspace's when it comes from its installation, ours when it is SLACK_BOT_TOKEN. */
const TOKEN_ERRORS = new Set(['invalid_auth', 'token_revoked', 'account_inactive', 'missing_scope', 'not_authed']);
/** Answers that refuse this message only. */
const MESSAGE_REFUSED = new Set(['invalid_blocks', 'invalid_blocks_format', 'msg_too_long', 'no_text', 'too_many_attachments']);

export interface SlackChannelOptions {
  /** Paces each channel: the time now. */
  clock: Clock;
  /** Web API base, e.g. https://slack.com/api/ (tests: a loopback stand-in). */
  apiUrl?: string;
  /** The bot token for a workspace: SLACK_BOT_TOKEN, or the workspace's OAuth installation. */
  tokenFor: (team: string) => Promise<string | undefined>;
  /**
   * The operator's shared token (SLACK_BOT_TOKEN): a token error is then a configuration problem
   * to retry past, not a reason to switch off every Slack destination.
   */
  sharedToken?: string;
  /** Slack allows about one message per second per channel. */
  minIntervalMs?: number;
  /** The HTTP client (default: the global fetch); Workers hand in one that suits their fetch. */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

/**
 * @slack/web-api, loaded with the first Slack message, so a service without Slack never holds it.
 * Its error codes are read from here: an error of its kind exists only once it is loaded.
 */
let sdk: typeof import('@slack/web-api') | undefined;
const loadSdk = async () => (sdk ??= await import('@slack/web-api'));

/**
 * The Slack channel: chat.postMessage through @slack/web-api's WebClient, with its own retries
 * off (the outbox owns retries, persisted across restarts) and rate-limited calls rejected, so a
 * 429's Retry-After becomes the row's next attempt instead of a sleeping request.
 */
export function createSlackChannel(o: SlackChannelOptions): Channel<'slack', SlackMessage> {
  const clients = new Map<string, WebClient>();
  const pace = perKeyPacer(o.clock, o.minIntervalMs ?? 1000);
  const client = async (token: string) => {
    const { WebClient } = await loadSdk();
    let c = clients.get(token);
    if (!c) {
      c = new WebClient(token, {
        slackApiUrl: o.apiUrl,
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
        timeout: 10_000,
        ...(o.fetch ? { fetch: o.fetch as typeof globalThis.fetch } : {}),
      });
      clients.set(token, c);
    }
    return c;
  };
  return {
    type: 'slack',
    render: slackRenderers,
    send: (destination, m) => post(destination, m),
    thread: {
      async edit(destination, ts, m) {
        const token = await tokenOf(destination);
        try {
          await (await client(token)).chat.update({ channel: destination.channel, ts, text: m.text, blocks: m.blocks });
          return 'edited';
        } catch (err) {
          // Someone deleted the alert: there is nothing to edit, and nothing to retry.
          if ((err as WebAPICallError & { data?: { error?: string } }).data?.error === 'message_not_found') return 'gone';
          throw classifySlackError(err, token === o.sharedToken);
        }
      },
      reply: (destination, ts, m) => post(destination, m, ts ?? undefined),
    },
  };

  async function tokenOf(destination: SlackDestination): Promise<string> {
    const token = await o.tokenFor(destination.team);
    if (!token) throw new DeliveryError(`no Slack installation for workspace ${destination.team}`, 'permanent', { disableDestination: true });
    return token;
  }

  /** chat.postMessage, in the thread of `threadTs` when given (Slack posts it at the top level if that message is gone). */
  async function post(destination: SlackDestination, m: SlackMessage, threadTs?: string) {
    const token = await tokenOf(destination);
    await pace(destination.channel);
    try {
      const r = await (await client(token)).chat.postMessage({
        channel: destination.channel,
        text: m.text,
        blocks: m.blocks,
        unfurl_links: false,
        unfurl_media: false,
        ...(threadTs ? { thread_ts: threadTs } : {}),
      });
      return { providerId: r.ts ?? null };
    } catch (err) {
      throw classifySlackError(err, token === o.sharedToken);
    }
  }
}

export function classifySlackError(err: unknown, sharedToken = false): DeliveryError {
  const e = err as WebAPICallError & { retryAfter?: number; data?: { error?: string }; statusCode?: number };
  const ErrorCode = sdk?.ErrorCode;
  if (!ErrorCode) return new DeliveryError(`Slack: ${e.message ?? String(err)}`, 'retry', { cause: err });
  switch (e.code) {
    case ErrorCode.RateLimitedError:
      return new DeliveryError(`Slack rate limit: retry after ${e.retryAfter}s`, 'retry', { retryAfterMs: (e.retryAfter ?? 1) * 1000, rateLimited: true, cause: err });
    case ErrorCode.PlatformError: {
      const code = e.data?.error ?? 'unknown_error';
      if (sharedToken && TOKEN_ERRORS.has(code)) return new DeliveryError(`Slack: ${code} (check SLACK_BOT_TOKEN)`, 'retry', { cause: err });
      if (DESTINATION_GONE.has(code)) return new DeliveryError(`Slack: ${code}`, 'permanent', { disableDestination: true, cause: err });
      if (MESSAGE_REFUSED.has(code)) return new DeliveryError(`Slack: ${code}`, 'permanent', { cause: err });
      return new DeliveryError(`Slack: ${code}`, 'retry', { cause: err });
    }
    case ErrorCode.HTTPError:
      return new DeliveryError(`Slack HTTP ${e.statusCode}`, 'retry', { cause: err });
    default:
      return new DeliveryError(`Slack: ${e.message ?? String(err)}`, 'retry', { cause: err });
  }
}
