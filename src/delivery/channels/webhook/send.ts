import { DeliveryError, type Channel } from '../../channel.js';
import type { Clock } from '../../../core/clock.js';
import type { SecretBox } from '../../../secret-box.js';
import { webhookBody, webhookRenderers, type WebhookMessage } from './render.js';
import { wasNotSent } from './not-sent.js';

/** One POST to a webhook URL and what of the answer the channel looks at. */
export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string | Uint8Array<ArrayBuffer>;
}
export interface WebhookAnswer {
  status: number;
  retryAfter: string | null;
}
/**
 * Sends a request; throws an Error whose message says why nothing was answered (refused, timed
 * out, …). A body of bytes belongs to the post from then on (it may be handed to another thread):
 * callers build one per request and do not touch it again.
 */
export type WebhookPost = (request: WebhookRequest) => Promise<WebhookAnswer>;

/**
 * A failed POST as a retry. One never written is the host's back-pressure (every connection to
 * it busy) or our own queue's: it waits and is tried again without counting as a failed
 * attempt, as a rate limit does, so a slow but healthy host's destinations never run out of
 * attempts for sends that never reached it.
 */
export function postFailed(channel: string, err: unknown): DeliveryError {
  return new DeliveryError(`${channel}: ${err instanceof Error ? err.message : String(err)}`, 'retry', { cause: err, rateLimited: wasNotSent(err) });
}

/**
 * base64 of HMAC-SHA256 under a `whsec_` secret (its base64 part decoded is the key), as Standard
 * Webhooks sign, of the content given in parts (`id.timestamp.` and the body, never copied together).
 */
export type WebhookHmac = (secret: string, content: Uint8Array[]) => string | Promise<string>;

export interface WebhookChannelOptions {
  clock: Clock;
  /**
   * The HTTP client: on Node a keep-alive agent that refuses private addresses on every
   * connection (webhook-guard.ts `guardedPost`); on Workers the platform's fetch (`fetch`), which
   * reaches no private network.
   */
  post?: WebhookPost;
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /** Node passes node:crypto's HMAC (synchronous, native); without it WebCrypto signs. */
  hmac?: WebhookHmac;
  /** Opens the signing secrets, which are stored sealed (a plain one from before is read as it is). */
  secrets?: SecretBox;
  timeoutMs?: number;
}

/** Opened secrets by their sealed form, so a fan-out decrypts each destination's once; bounded. */
const OPENED_CACHE_MAX = 10_000;

export const webhookSecretKey = (secret: string) => secret.replace(/^whsec_/, '');

/** Standard Webhooks' HMAC through WebCrypto, for runtimes without node:crypto's synchronous one. */
export const webCryptoHmac: WebhookHmac = async (secret, content) => {
  const raw = Uint8Array.from(atob(webhookSecretKey(secret)), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const whole = new Uint8Array(content.reduce((n, part) => n + part.length, 0));
  content.reduce((at, part) => (whole.set(part, at), at + part.length), 0);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, whole));
  let s = '';
  for (const b of mac) s += String.fromCharCode(b);
  return btoa(s);
};

/** A WebhookPost over a fetch function, with a per-request timeout (Workers). */
export function fetchPost(fetch: NonNullable<WebhookChannelOptions['fetch']>, timeoutMs: number): WebhookPost {
  return async ({ url, headers, body }) => {
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', body, headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code === 'EADDRNOTPUBLIC' ? cause.message : (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : (cause?.message ?? (err as Error).message);
      throw new Error(why, { cause: err });
    }
    await res.body?.cancel().catch(() => undefined);
    return { status: res.status, retryAfter: res.headers.get('retry-after') };
  };
}

/**
 * Webhook destinations, signed as the Standard Webhooks specification says: webhook-id,
 * webhook-timestamp, and webhook-signature `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
 * (receivers verify with the `standardwebhooks` package, as the tests do). During the 24 hours
 * after a secret rotation both secrets sign, so a receiver can switch at its own pace.
 * 2xx is delivered; 410 Gone switches the destination off; anything else is tried again.
 */
export function createWebhookChannel(o: WebhookChannelOptions): Channel<'webhook', WebhookMessage> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const post = o.post ?? (o.fetch ? fetchPost(o.fetch, timeoutMs) : undefined);
  if (!post) throw new Error('createWebhookChannel needs post or fetch');
  const hmac = o.hmac ?? webCryptoHmac;
  const opened = new Map<string, string>();
  const openSecret = async (stored: string) => {
    if (!o.secrets) return stored;
    let plain = opened.get(stored);
    if (plain === undefined) {
      plain = await o.secrets.open(stored);
      if (opened.size >= OPENED_CACHE_MAX) opened.clear();
      opened.set(stored, plain);
    }
    return plain;
  };
  return {
    type: 'webhook',
    render: webhookRenderers,
    // A webhook alert carries the events as received and no links: none are signed for it.
    alertLinks: false,
    async send(destination, message, key) {
      const id = `msg_${key}`;
      const body = webhookBody(message, id);
      const timestamp = String(Math.floor(o.clock() / 1000));
      const secrets = [await openSecret(destination.secret)];
      if (destination.previous && destination.previous.until > o.clock()) secrets.push(await openSecret(destination.previous.secret));
      const signed = [new TextEncoder().encode(`${id}.${timestamp}.`), body];
      const signature = (await Promise.all(secrets.map(async (s) => `v1,${await hmac(s, signed)}`))).join(' ');
      let res: WebhookAnswer;
      try {
        res = await post({
          url: destination.url,
          body,
          headers: {
            'content-type': 'application/json',
            'user-agent': 'ClauseWatch-Webhooks/1',
            'webhook-id': id,
            'webhook-timestamp': timestamp,
            'webhook-signature': signature,
          },
        });
      } catch (err) {
        throw postFailed('webhook', err);
      }
      if (res.status >= 200 && res.status < 300) return { providerId: id };
      if (res.status === 410) throw new DeliveryError('webhook answered 410 Gone', 'permanent', { disableDestination: true });
      const retryAfter = Number(res.retryAfter);
      throw new DeliveryError(`webhook answered HTTP ${res.status}`, 'retry', { retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined });
    },
  };
}
