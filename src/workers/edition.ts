import type { Hono } from 'hono';
import { loadConfig, type Config } from '../config.js';
import type { Db } from '../db.js';
import { createLogger, errorFields, type Logger } from '../log.js';
import { createApp } from '../http/app.js';
import { appConfig } from '../app-config.js';
import { createLinkSigner, type LinkSigner } from '../links.js';
import { emailTemplates } from '../render/templates.js';
import { resolveSecrets } from '../secrets.js';
import { loadCatalog, type CatalogEntry } from '../store/platforms.js';
import type { DestinationType } from '../../db/schema.js';
import { createChannels } from '../delivery/channels/index.js';
import { fetchPost } from '../delivery/channels/webhook/send.js';
import { createSecretBox, SECRET_PURPOSES } from '../secret-box.js';
import { createDeliverer } from '../delivery/deliver.js';
import { groupDueAlerts } from '../delivery/grouping.js';
import { claimById, giveUpQueued, releaseFromQueue, takeDueForQueue } from '../delivery/outbox.js';
import { digestTick } from '../schedule/tick.js';
import { checkSubscriberGroups } from '../store/subscriber-groups.js';
import { literalHostRefusal } from '../core/ip-address.js';
import { checkStaleDocuments } from '../ingest/health.js';
import { createDiscordBot } from '../../bots/discord/interactions.js';
import catalog from '../../db/catalog.json' with { type: 'json' };
import { d1Database } from './d1.js';
import { emailSender, emailServiceMailer, type EmailSendingBinding } from './email.js';

/** A delivery queue message: the outbox row to send, never the message itself. */
export interface DeliveryMessage {
  outboxId: number;
}

/** Bindings (wrangler.toml) and variables/secrets (the contract's configuration, as strings). */
export interface Env {
  DB: D1Database;
  DELIVERY: Queue<DeliveryMessage>;
  /** Cloudflare Email Service (`[[send_email]] name = "EMAIL"`); without it email is not offered. */
  EMAIL?: SendEmail | EmailSendingBinding;
}

export interface Edition {
  app: Hono;
  db: Db;
  config: Config;
  links: LinkSigner;
  /** The channels delivered here. */
  channels: readonly DestinationType[];
  /** Groups due alerts and hands every due outbox row of these channels to the delivery queue. */
  pump(now: number): Promise<number>;
  /** The delivery queue's consumer: claims each message's row and sends it once. */
  consume(batch: MessageBatch<DeliveryMessage>): Promise<void>;
  /** The dead-letter queue's consumer: rows the queue gave up on are recorded as dead. */
  deadLetter(batch: MessageBatch<DeliveryMessage>): Promise<void>;
  /** The Cron Trigger: digests and reminders on their tick, the stale check, the subscriber groups' check, then a pump. */
  tick(at: number): Promise<void>;
}

/** How long the queue holds a row before the pump may hand it out again (a lost message). */
const QUEUE_LEASE_MS = 15 * 60_000;
/** Queues delays a retry by at most 12 hours. */
const MAX_RETRY_DELAY_S = 12 * 3600;
/** sendBatch takes at most 100 messages (and 256 KB; ours are a few bytes each). */
const QUEUE_BATCH = 100;
/** Due rows claimed per D1 statement, handed over as ten sendBatch calls at once. */
const PUMP_TAKE = 1_000;
/** One queue accepts about 5,000 messages a second; past that send and sendBatch throw. */
const QUEUE_MESSAGES_PER_SECOND = 5_000;

const editions = new WeakMap<object, Promise<Edition>>();

/** One edition per isolate and environment: built on first use, the catalog and secrets loaded once. */
export function edition(env: Env): Promise<Edition> {
  let e = editions.get(env);
  if (!e) {
    e = createEdition(env);
    editions.set(env, e);
    e.catch(() => editions.delete(env));
  }
  return e;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function createEdition(env: Env, clock: () => number = Date.now, sleep: (ms: number) => Promise<void> = realSleep): Promise<Edition> {
  const vars = Object.fromEntries(Object.entries(env as object).filter((kv): kv is [string, string] => typeof kv[1] === 'string'));
  const config = loadConfig(vars);
  const log: Logger = createLogger(config.logLevel);
  const db = d1Database(env.DB);
  await loadCatalog(db, (catalog as { platforms: CatalogEntry[] }).platforms, clock());
  const secrets = await resolveSecrets(db, config);
  // Links are signed with WebCrypto here (no synchronous HMAC on Workers).
  const links = createLinkSigner(secrets.secretKey, config.publicUrl, clock);
  const fetcher = (url: string, init: RequestInit) => fetch(url, init);

  // Delivered here: Discord (bot messages and channel webhooks), Slack (its Web API client runs on
  // fetch, with SLACK_BOT_TOKEN: the OAuth install is Bolt's and needs Node), webhooks, and email
  // through Cloudflare Email Service when the EMAIL binding is there.
  if (!env.EMAIL) log.warn('mail.off', { reason: 'no send_email binding named EMAIL: email destinations and /v1/signup are refused' });
  // The Web API client asks fetch to fail on a redirect, which Workers' fetch does not offer;
  // "manual" hands the 3xx back instead, and the client refuses any answer but 200 all the same.
  const slackFetch = (url: string, init: RequestInit) => fetch(url, { ...init, redirect: init.redirect === 'error' ? 'manual' : init.redirect });
  const slackToken = config.slack?.botToken;
  const channels = createChannels({
    config,
    clock,
    pacingClock: Date.now,
    templates: emailTemplates,
    mail: env.EMAIL ? { mailer: emailServiceMailer(env.EMAIL as EmailSendingBinding, emailSender(vars)) } : undefined,
    slack: config.slack ? { tokenFor: async () => slackToken, fetch: slackFetch } : undefined,
    fetch: fetcher,
    // Cloudflare's fetch reaches no private network of ours (see checkWebhookUrl below).
    post: fetchPost(fetcher, 10_000),
    webhookSecrets: createSecretBox(secrets.secretKey, SECRET_PURPOSES.webhookSecret),
  });
  const delivered = Object.keys(channels) as DestinationType[];
  const commands = { db, clock, digest: { weekday: config.digest.weekday, hour: config.digest.hour } };

  const app = createApp(
    {
      db,
      clock,
      log,
      links,
      templates: emailTemplates,
      channels: delivered,
      clientAddress: (c) => c.req.header('cf-connecting-ip') ?? 'unknown',
      // Names are not resolved here: Cloudflare's fetch reaches no private network of ours, so
      // only what the URL itself says (a private IP literal, localhost) is refused at creation.
      checkWebhookUrl: async (url) => (config.webhookAllowPrivate ? null : literalHostRefusal(url)),
      config: appConfig(config, secrets),
    },
    (hono) => {
      if (config.discord) {
        createDiscordBot({
          log,
          discord: config.discord,
          commands,
          fetch: fetcher,
          reviews: { db, clock, log, links },
        }).routes(hono);
      }
    },
  );

  const leaseMs = config.deliveryLeaseSeconds * 1000;
  // Digest HTML cached per isolate: far fewer entries than on Node, in a 128 MB isolate.
  const deliver = createDeliverer({ db, clock, log, channels, links, leaseMs, renderCacheEntries: 2_000 });

  async function pump(now: number): Promise<number> {
    await groupDueAlerts(db, now, config.alertGroupWaitSeconds * 1000, config.maxAlertsPerDay);
    let handed = 0;
    const started = clock();
    for (;;) {
      const ids = await takeDueForQueue(db, now, QUEUE_LEASE_MS, PUMP_TAKE, delivered);
      const batches: number[][] = [];
      for (let i = 0; i < ids.length; i += QUEUE_BATCH) batches.push(ids.slice(i, i + QUEUE_BATCH));
      const sent = await Promise.allSettled(batches.map((b) => env.DELIVERY.sendBatch(b.map((outboxId) => ({ body: { outboxId } })))));
      const refused = sent.findIndex((r) => r.status === 'rejected');
      if (refused >= 0) {
        // Not in the queue: due again at once rather than after the queue's lease.
        await releaseFromQueue(db, batches.filter((_, i) => sent[i]!.status === 'rejected').flat(), clock());
        throw (sent[refused] as PromiseRejectedResult).reason;
      }
      handed += ids.length;
      if (ids.length < PUMP_TAKE) return handed;
      // A 06:00 burst is tens of thousands of rows: stay under the queue's rate rather than
      // have sendBatch refuse (the rest would then wait for the next cron minute).
      const ahead = (handed / QUEUE_MESSAGES_PER_SECOND) * 1000 - (clock() - started);
      if (ahead > 0) await sleep(ahead);
    }
  }

  async function consume(batch: MessageBatch<DeliveryMessage>): Promise<void> {
    await Promise.all(
      batch.messages.map(async (msg) => {
        // Each attempt its own lease owner: a crashed attempt's lease must run out before the next.
        const owner = `queue:${msg.id}:${msg.attempts}`;
        try {
          const row = await claimById(db, msg.body.outboxId, owner, clock(), leaseMs);
          if (!row) return msg.ack(); // sent, cancelled or held by a live consumer: nothing to do
          const outcome = await deliver(row, owner);
          if (outcome.status === 'retrying') {
            const delaySeconds = Math.min(MAX_RETRY_DELAY_S, Math.max(0, Math.ceil((outcome.retryAt - clock()) / 1000)));
            if (outcome.counted) msg.retry({ delaySeconds });
            else {
              // Rate limited: not a failure, so it must not use up the queue's retries (and end in
              // the dead-letter queue); a fresh message waits out the receiver's Retry-After.
              await env.DELIVERY.send({ outboxId: row.id }, { delaySeconds });
              msg.ack();
            }
          } else msg.ack();
        } catch (err) {
          log.error('delivery.crashed', { outboxId: msg.body.outboxId, ...errorFields(err) });
          msg.retry({ delaySeconds: Math.ceil(leaseMs / 1000) });
        }
      }),
    );
  }

  async function deadLetter(batch: MessageBatch<DeliveryMessage>): Promise<void> {
    for (const msg of batch.messages) {
      if (await giveUpQueued(db, msg.body.outboxId, 'the delivery queue gave up after its retries', clock())) {
        log.warn('delivery.dead', { outboxId: msg.body.outboxId, error: 'dead-lettered' });
      }
      msg.ack();
    }
  }

  async function tick(at: number): Promise<void> {
    const minute = Math.floor(at / 60_000);
    if (minute % config.digest.tickMinutes === 0) {
      const r = await digestTick(db, at, clock());
      if (r.enqueued || r.reminders) log.info('digests.enqueued', { at: new Date(at).toISOString(), ...r });
    }
    if (minute % 15 === 0) {
      const stale = await checkStaleDocuments(db, clock(), config.staleAfterHours);
      if (stale) log.info('health.stale', { documents: stale });
    }
    if (minute % 60 === 0) await checkSubscriberGroups(db, log);
    await pump(clock());
  }

  return { app, db, config, links, channels: delivered, pump, consume, deadLetter, tick };
}
