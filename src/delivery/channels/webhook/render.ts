import type { ContentOf, Renderers } from '../../channel.js';
import { renderWebhookPayload, webhookAlertType, type WebhookPayload } from '../../../render/webhook.js';
import type { WebhookDestination } from './destination.js';

/**
 * A rendered webhook: the payload's `type` and `created_at` as they are, its `data` already as
 * JSON in UTF-8. The channel writes `{"type","created_at","data","id"}` around it (the id is the
 * webhook-id, added at send), the same bytes as JSON.stringify of the whole payload with its id.
 */
export interface WebhookMessage {
  type: WebhookPayload['type'];
  created_at: string;
  data: Uint8Array<ArrayBuffer>;
}

const utf8 = new TextEncoder();
/** TextEncoder's bytes: always a fresh ArrayBuffer (the Workers types declare any buffer). */
const encode = (text: string) => utf8.encode(text) as Uint8Array<ArrayBuffer>;

/**
 * An alert's `data` depends only on its changes and notices (each event as received, which an
 * event id names for good: a different content under a used id is refused at ingest), whether it
 * is a reminder or a budget message, and how each change is marked (a reversion, reported late).
 * A fan-out sends the same data to every destination: it is built and serialised once (a
 * 500-change burst is 580 KB of JSON per destination) and the channel only signs it per
 * destination. The few latest are kept, up to a bound in characters.
 */
const DATA_CACHE_BYTES = 32 * 1024 * 1024;
const dataCache = new Map<string, Uint8Array<ArrayBuffer>>();
let cachedBytes = 0;

function alertDataKey(c: ContentOf<'alert'>): string {
  let key = `${c.reminder ? 'r' : ''}${c.budget ? 'b' : ''}|${c.changes.length}|${c.notices.length}`;
  for (const x of c.changes) key += `|${x.eventId}:${x.revertsToAt ?? ''}:${x.reportedLate ? 1 : 0}`;
  for (const n of c.notices) key += `|${n.eventId}`;
  return key;
}

function remember(key: string, json: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  if (json.length > DATA_CACHE_BYTES / 4) return json;
  while (cachedBytes + json.length > DATA_CACHE_BYTES && dataCache.size) {
    const [oldest, bytes] = dataCache.entries().next().value!;
    dataCache.delete(oldest);
    cachedBytes -= bytes.length;
  }
  dataCache.set(key, json);
  cachedBytes += json.length;
  return json;
}

function renderAlert(content: ContentOf<'alert'>): WebhookMessage {
  const key = alertDataKey(content);
  const cached = dataCache.get(key);
  if (cached !== undefined) return { type: webhookAlertType(content), created_at: new Date(content.reader.now).toISOString(), data: cached };
  const { type, created_at, data } = renderWebhookPayload(content);
  return { type, created_at, data: remember(key, encode(JSON.stringify(data))) };
}

/** One versioned JSON payload per alert or digest; its `id` is added at send (the webhook-id). */
export const webhookRenderers: Renderers<WebhookDestination, WebhookMessage, 'alert' | 'digest'> = {
  alert: (content) => [renderAlert(content)],
  digest: (content) => {
    const { type, created_at, data } = renderWebhookPayload(content);
    return [{ type, created_at, data: encode(JSON.stringify(data)) }];
  },
};

/**
 * The body of a rendered webhook with its webhook-id, `{type, created_at, data, id}` as JSON in
 * UTF-8: the shared data copied once between its head and tail, never encoded again.
 */
export function webhookBody(m: WebhookMessage, id: string): Uint8Array<ArrayBuffer> {
  const head = encode(`{"type":${JSON.stringify(m.type)},"created_at":${JSON.stringify(m.created_at)},"data":`);
  const tail = encode(`,"id":${JSON.stringify(id)}}`);
  const body = new Uint8Array(head.length + m.data.length + tail.length);
  body.set(head);
  body.set(m.data, head.length);
  body.set(tail, head.length + m.data.length);
  return body;
}
