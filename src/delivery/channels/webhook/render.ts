import type { Renderers } from '../../channel.js';
import { renderWebhookPayload, type WebhookPayload } from '../../../render/webhook.js';
import type { WebhookDestination } from './destination.js';

/** One versioned JSON payload per alert or digest; its `id` is added at send (the webhook-id). */
export const webhookRenderers: Renderers<WebhookDestination, WebhookPayload, 'alert' | 'digest'> = {
  alert: (content) => [renderWebhookPayload(content)],
  digest: (content) => [renderWebhookPayload(content)],
};
