import { Webhook } from 'standardwebhooks';
import type { ChannelAdapter } from '../channel.js';
import { DeliveryError } from '../channel.js';
import type { Clock } from '../../core/clock.js';
import { renderWebhookPayload, type WebhookPayload } from '../../render/webhook.js';

export interface WebhookChannelOptions {
  clock: Clock;
  /**
   * The HTTP client: on Node one that refuses private addresses on every connection
   * (webhook-guard.ts); on Workers the platform's fetch, which reaches no private network.
   */
  fetch: (url: string, init: RequestInit) => Promise<Response>;
  timeoutMs?: number;
}

/**
 * Webhook destinations, signed as the Standard Webhooks specification says, with the
 * `standardwebhooks` package: webhook-id, webhook-timestamp, webhook-signature. During the 24
 * hours after a secret rotation both secrets sign, so a receiver can switch at its own pace.
 * 2xx is delivered; 410 Gone switches the destination off; anything else is tried again.
 */
export function createWebhookChannel(o: WebhookChannelOptions): ChannelAdapter<WebhookPayload> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  return {
    type: 'webhook',
    render(content) {
      const p = renderWebhookPayload(content);
      return p ? [p] : [];
    },
    async send(destination, payload, ctx) {
      if (!destination.url || !destination.secret) throw new DeliveryError('webhook destination without URL or secret', 'permanent', { disableDestination: true });
      const id = `msg_${ctx.messageKey}`;
      const body = JSON.stringify({ ...payload, id });
      const at = new Date(o.clock());
      const secrets = [destination.secret];
      if (destination.previousSecret && (destination.previousSecretUntil ?? 0) > o.clock()) secrets.push(destination.previousSecret);
      const signature = secrets.map((s) => new Webhook(s).sign(id, at, body)).join(' ');
      let res;
      try {
        res = await o.fetch(destination.url, {
          method: 'POST',
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
          headers: {
            'content-type': 'application/json',
            'user-agent': 'ClauseWatch-Webhooks/1',
            'webhook-id': id,
            'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
            'webhook-signature': signature,
          },
        });
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        const why = cause?.code === 'EADDRNOTPUBLIC' ? cause.message : (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : (cause?.message ?? (err as Error).message);
        throw new DeliveryError(`webhook: ${why}`, 'retry', { cause: err });
      }
      await res.body?.cancel().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return { providerId: id };
      if (res.status === 410) throw new DeliveryError('webhook answered 410 Gone', 'permanent', { disableDestination: true });
      const retryAfter = Number(res.headers.get('retry-after'));
      throw new DeliveryError(`webhook answered HTTP ${res.status}`, 'retry', { retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined });
    },
  };
}
