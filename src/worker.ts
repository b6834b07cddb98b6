import { edition, type DeliveryMessage, type Env } from './workers/edition.js';

/**
 * ClauseWatch on Cloudflare Workers: the same Hono app and domain code as on Node, with D1 for
 * storage, a Queue for delivery and a Cron Trigger for the clock-driven work.
 */
export default {
  async fetch(request, env, ctx) {
    const e = await edition(env);
    const response = await e.app.fetch(request, env, ctx);
    // Whatever a write stored (alerts to group, a confirmation, …) goes to the queue now,
    // not at the next cron minute.
    if (request.method !== 'GET' && request.method !== 'HEAD' && response.ok) ctx.waitUntil(e.pump(Date.now()));
    return response;
  },
  async queue(batch, env, _ctx) {
    const e = await edition(env);
    if (batch.queue.endsWith('-dlq')) await e.deadLetter(batch);
    else await e.consume(batch);
  },
  async scheduled(controller, env, _ctx) {
    const e = await edition(env);
    await e.tick(controller.scheduledTime);
  },
} satisfies ExportedHandler<Env, DeliveryMessage>;
