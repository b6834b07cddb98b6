import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import type { Hono } from 'hono';
import type { Config } from './config.js';
import type { Db } from './db.js';
import { systemClock, type Clock } from './core/clock.js';
import type { Logger } from './log.js';
import { createApp } from './http/app.js';
import { appConfig } from './app-config.js';
import { createLinkSigner, type LinkSigner } from './links.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createDispatcher, type Dispatcher } from './delivery/dispatcher.js';
import type { ChannelSet } from './delivery/channel.js';
import { createChannels } from './delivery/channels/index.js';
import { smtpMailer } from './delivery/channels/email/send.js';
import { createMailTransport } from './mail-transport.js';
import { emailTemplates } from './render/templates.js';
import type { EmailTemplates } from './render/template.js';
import { resolveSecrets, type Secrets } from './secrets.js';
import { loadCatalog, type CatalogEntry } from './store/platforms.js';
import type { Context } from 'hono';
import { createSlackInstallationStore, sealPlaintextInstallations } from './store/slack-installations.js';
import { createSecretBox, SECRET_PURPOSES } from './secret-box.js';
import { createNodeSecretBox } from './secret-box-node.js';
import { sealPlaintextWebhookSecrets } from './store/destinations.js';
import { webhookSecretKey } from './delivery/channels/webhook/send.js';
import { checkWebhookUrl } from './webhook-guard.js';
import { threadedPost } from './webhook-post-thread.js';
import { swaggerUiAsset } from './http/docs-assets.js';

export interface Service {
  app: Hono;
  dispatcher: Dispatcher;
  links: LinkSigner;
  metrics: Metrics;
  secrets: Secrets;
  channels: ChannelSet;
  templates: EmailTemplates;
  /** Stops the dispatcher (finishing in-flight sends) and closes the channels' connections. */
  stop(): Promise<void>;
}

export interface ServiceDeps {
  db: Db;
  clock: Clock;
  log: Logger;
  /** Where .eml files go when no SMTP server is set (data/outbox beside a file database). */
  outboxDir: string;
  clientAddress?: (c: Context) => string;
  /** Extra or replacement channels (the rest are made from the one list, src/delivery/channels/index.ts). */
  channels?: ChannelSet;
  /** Elapsed real time for the channels' rate pacing (default: the system clock; the service clock may stand still in tests). */
  pacingClock?: Clock;
  dispatcher?: { owner?: string; pollMs?: number; leaseMs?: number; concurrency?: number };
  /** Slack's "Add to Slack" page; tests point it at a loopback stand-in. */
  slackAuthorizationUrl?: string;
  /** How long a chat command may run before it is answered later (Slack's and Discord's 3 s, less a margin). */
  chatAnswerDeadlineMs?: number;
}

const CATALOG_FILE = new URL('../db/catalog.json', import.meta.url);

/**
 * Builds ClauseWatch's services from the parsed configuration and the Node dependencies: the
 * catalog, secrets, link signer, metrics, channels, dispatcher and HTTP app. main.ts adds the
 * HTTP server, schedules and signals; tests call this with a temp database and loopback peers.
 */
export async function createService(config: Config, deps: ServiceDeps): Promise<Service> {
  const { db, clock, log } = deps;
  const catalog = JSON.parse(readFileSync(CATALOG_FILE, 'utf8')) as { platforms: CatalogEntry[] };
  await loadCatalog(db, catalog.platforms, clock());
  const secrets = await resolveSecrets(db, config);
  const links = createLinkSigner(secrets.secretKey, config.publicUrl, clock, (key, data) => createHmac('sha256', key).update(data).digest('base64url'));
  const metrics = createMetrics(db, clock);
  // Slack bot tokens are sealed at rest; rows stored in plain text before are sealed now.
  const slackTokens = createSecretBox(secrets.secretKey, SECRET_PURPOSES.slackInstallation);
  const resealed = await sealPlaintextInstallations(db, slackTokens);
  if (resealed) log.info('slack.installations_sealed', { count: resealed });
  // Webhook signing secrets likewise (current and previous).
  // node:crypto's box: every destination of a fan-out opens its signing secret once.
  const webhookSecrets = createNodeSecretBox(secrets.secretKey, SECRET_PURPOSES.webhookSecret);
  const resealedHooks = await sealPlaintextWebhookSecrets(db, webhookSecrets);
  if (resealedHooks) log.info('webhook.secrets_sealed', { count: resealedHooks });

  const templates = emailTemplates;
  const transport = createMailTransport(config.smtpUrl, deps.outboxDir, config.dkim);
  let slackTokenFor: ((team: string) => Promise<string | undefined>) | undefined;
  const commands = { db, clock, digest: { weekday: config.digest.weekday, hour: config.digest.hour } };
  const extensions: ((app: Hono) => void)[] = [];
  if (config.slack) {
    // Loaded only when Slack is configured: Bolt (with Express) is a fifth of the process's memory.
    const [{ createSlackBot }, { createSlackInstaller }] = await Promise.all([import('../bots/slack/app.js'), import('../bots/slack/oauth.js')]);
    const slack = config.slack;
    // A workspace's OAuth installation wins; SLACK_BOT_TOKEN serves a single workspace.
    const installations = createSlackInstallationStore(db, clock, slackTokens);
    const tokenFor = async (team: string) => (slack.oauth ? await installations.tokenFor(team) : undefined) ?? slack.botToken;
    slackTokenFor = tokenFor;
    extensions.push(
      createSlackBot({
        db,
        clock,
        log,
        signingSecret: slack.signingSecret,
        tokenFor,
        commands,
        onWorkspaceGone: (teamId) => installations.deleteInstallation!({ teamId, isEnterpriseInstall: false, enterpriseId: undefined }),
        answerDeadlineMs: deps.chatAnswerDeadlineMs,
        apiUrl: slack.apiUrl,
        reviews: { db, clock, log, links },
      }).routes,
    );
    if (slack.oauth) {
      extensions.push(
        createSlackInstaller({ ...slack.oauth, publicUrl: config.publicUrl, apiUrl: slack.apiUrl, authorizationUrl: deps.slackAuthorizationUrl, store: installations, log }).routes,
      );
    }
  }
  if (config.discord) {
    const { createDiscordBot } = await import('../bots/discord/interactions.js');
    extensions.push(
      createDiscordBot({
        log,
        discord: config.discord,
        commands,
        answerDeadlineMs: deps.chatAnswerDeadlineMs,
        reviews: { db, clock, log, links },
      }).routes,
    );
  }
  // Webhook POSTs go out from a thread of their own (see webhook-post-thread.ts), through the guarded agent.
  const webhookPosts = threadedPost({ allowPrivate: config.webhookAllowPrivate, timeoutMs: 10_000 });
  const channels: ChannelSet = createChannels({
    config,
    clock,
    pacingClock: deps.pacingClock ?? systemClock,
    templates,
    mail: { mailer: smtpMailer(transport, config.mailFrom), close: async () => transport.close() },
    slack: slackTokenFor && { tokenFor: slackTokenFor },
    post: webhookPosts.post,
    // node:crypto's native HMAC: the pure-JS SHA-256 of `standardwebhooks` took 7 ms per 580 KB message.
    hmac: (secret, content) => content.reduce((h, part) => h.update(part), createHmac('sha256', Buffer.from(webhookSecretKey(secret), 'base64'))).digest('base64'),
    webhookSecrets,
  });
  Object.assign(channels, deps.channels);

  const dispatcher = createDispatcher({
    db,
    clock,
    log,
    channels,
    links,
    metrics,
    groupWaitMs: config.alertGroupWaitSeconds * 1000,
    maxAlertsPerDay: config.maxAlertsPerDay,
    ...deps.dispatcher,
  });

  const app = createApp(
    {
    db,
    clock,
    log,
    links,
    metrics,
    templates,
    clientAddress: deps.clientAddress,
    checkWebhookUrl: (url) => checkWebhookUrl(url, config.webhookAllowPrivate),
    onAlertWork: () => dispatcher.wake(),
    docsAsset: swaggerUiAsset,
    config: appConfig(config, secrets),
    },
    (hono) => extensions.forEach((extend) => extend(hono)),
  );

  return {
    app,
    dispatcher,
    links,
    metrics,
    secrets,
    channels,
    templates,
    async stop() {
      await dispatcher.stop();
      await Promise.all([...Object.values(channels).map((ch) => ch?.close?.()), webhookPosts.close()]);
    },
  };
}

/** data/outbox beside a file database; ./data/outbox for a remote one. */
export function defaultOutboxDir(databaseUrl: string): string {
  if (databaseUrl.startsWith('file:')) {
    const path = databaseUrl.slice('file:'.length).replace(/\?.*$/, '');
    const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '.';
    return join(dir, 'outbox');
  }
  return join('data', 'outbox');
}
