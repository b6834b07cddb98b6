import { z } from 'zod';
import type { DestinationRow } from '../../../store/destinations.js';

/**
 * An http(s) endpoint and its Standard Webhooks signing secret (stored sealed), with the secret
 * before the last rotation while it still signs beside the new one.
 */
export const webhookDestination = z.object({
  type: z.literal('webhook'),
  url: z.string().min(1),
  secret: z.string().min(1),
  previous: z.object({ secret: z.string().min(1), until: z.number() }).optional(),
});
export type WebhookDestination = z.infer<typeof webhookDestination>;

export const webhookFromRow = (row: DestinationRow) => ({
  type: 'webhook',
  url: row.url,
  secret: row.secret,
  previous: row.previousSecret && row.previousSecretUntil !== null ? { secret: row.previousSecret, until: row.previousSecretUntil } : undefined,
});
export const webhookColumns = (d: Pick<WebhookDestination, 'url'>) => ({ url: d.url });
export const webhookTargetKey = (d: Pick<WebhookDestination, 'url'>) => `webhook:${d.url}`;
