import { DeliveryError, type Channel } from '../../channel.js';
import type { Clock } from '../../../core/clock.js';
import type { TeamsMessage } from '../../../render/teams.js';
import { perKeyPacer } from '../../pacing.js';
import { postFailed, type WebhookAnswer, type WebhookPost } from '../webhook/send.js';
import { teamsRenderers } from './render.js';

export interface TeamsChannelOptions {
  /** Paces each webhook: elapsed real time. */
  clock: Clock;
  /** The HTTP client: Node's guarded agent (no private addresses), or Workers' fetch. */
  post: WebhookPost;
  /** Workflows webhooks take about four requests a second each before answering 429. */
  minIntervalMs?: number;
}

/**
 * The Teams channel: each message is one POST of an Adaptive Card envelope to the channel's
 * Workflows webhook. 2xx (Workflows answers 202 Accepted) is delivered; 404 or 410 means the
 * workflow was deleted or turned off, and switches the destination off; 429 and 5xx come back
 * after Retry-After (a 429 without counting as a failed attempt); other 4xx refuse this message.
 */
export function createTeamsChannel(o: TeamsChannelOptions): Channel<'teams', TeamsMessage, 'alert' | 'digest'> {
  const pace = perKeyPacer(o.clock, o.minIntervalMs ?? 250);
  return {
    type: 'teams',
    render: teamsRenderers,
    async send(destination, message) {
      await pace(destination.webhookUrl);
      let res: WebhookAnswer;
      try {
        res = await o.post({
          url: destination.webhookUrl,
          body: JSON.stringify(message),
          headers: { 'content-type': 'application/json', 'user-agent': 'ClauseWatch-Teams/1' },
        });
      } catch (err) {
        throw postFailed('Teams', err);
      }
      return classifyTeamsAnswer(res, o.clock());
    },
  };
}

/** Retry-After in seconds or as an HTTP date (RFC 9110 §10.2.3), in milliseconds from `now`. */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

export function classifyTeamsAnswer(res: WebhookAnswer, now = 0): { providerId: null } {
  if (res.status >= 200 && res.status < 300) return { providerId: null };
  if (res.status === 404 || res.status === 410) {
    throw new DeliveryError(`Teams answered HTTP ${res.status}: the workflow behind this webhook was deleted or turned off`, 'permanent', { disableDestination: true });
  }
  const wait = retryAfterMs(res.retryAfter, now);
  if (res.status === 429) throw new DeliveryError('Teams rate limit', 'retry', { rateLimited: true, retryAfterMs: wait ?? 1000 });
  if (res.status >= 500 || res.status === 408) throw new DeliveryError(`Teams answered HTTP ${res.status}`, 'retry', { retryAfterMs: wait });
  throw new DeliveryError(`Teams refused the message: HTTP ${res.status}`, 'permanent');
}
