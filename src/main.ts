import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { loadConfig, ConfigError, type Config } from './config.js';
import { openDatabase } from './db.js';
import { checkSubscriberGroups } from './store/subscriber-groups.js';
import { createLogger } from './log.js';
import { createService, defaultOutboxDir } from './service.js';
import { systemClock } from './core/clock.js';
import { startDigestTicker } from './schedule/ticker.js';
import { clientAddress } from './http/client-address.js';

/**
 * Wires config → database → services → HTTP server and dispatcher. The only module that knows
 * them all. ROLE=api serves HTTP only, ROLE=dispatcher only delivers (and answers /health and
 * /metrics), ROLE=all (default) both.
 */
async function main() {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`clausewatch: cannot start: ${e.message}`);
      process.exit(1);
    }
    throw e;
  }
  const log = createLogger(config.logLevel);
  // Only a process that serves HTTP must never wait for a database lock on its main thread.
  const database = await openDatabase(config.database.url, config.database.authToken, { waitOnMainThread: config.role === 'dispatcher' });
  await checkSubscriberGroups(database.db, log);
  const outboxDir = defaultOutboxDir(config.database.url);
  const service = await createService(config, {
    db: database.db,
    clock: systemClock,
    log,
    outboxDir,
    clientAddress: (c) => clientAddress(getConnInfo(c).remote.address, c.req.header('x-forwarded-for'), config.trustProxyHops),
    // Ingest wakes a dispatcher in its own process; one in another process learns of new work by
    // looking, so it looks every second (a few indexed reads and a claim that finds nothing) to
    // keep alerts within the group wait plus a second.
    dispatcher: { leaseMs: config.deliveryLeaseSeconds * 1000, ...(config.role === 'dispatcher' ? { pollMs: 1_000 } : {}) },
  });

  // Shown once, when made (a development start needs them to call the API), as a log line like
  // every other line on stdout; `npm run tokens` prints them again from the settings table.
  const generated = service.secrets.generated.filter((g) => g.name !== 'SECRET_KEY');
  if (generated.length) {
    log.info(`development tokens generated and kept in the settings table of ${config.database.url}: npm run tokens prints them again; set ${generated.map((g) => g.name).join(' and ')} to use your own`, {
      event: 'tokens.generated',
      ...Object.fromEntries(generated.map((g) => [g.name, g.value])),
    });
  }
  if (!config.smtpUrl) log.info('mail.to_files', { dir: outboxDir, reason: 'SMTP_URL is not set: every mail is written as an .eml file' });
  if (!config.slack) log.info('slack.off', { reason: 'SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN are not set' });
  if (!config.discord) log.info('discord.off', { reason: 'DISCORD_APPLICATION_ID, DISCORD_PUBLIC_KEY and DISCORD_BOT_TOKEN are not set' });

  const serveHttp = config.role !== 'dispatcher';
  const deliver = config.role !== 'api';
  if (deliver) service.dispatcher.start();
  const ticker = deliver
    ? startDigestTicker({ db: database.db, clock: systemClock, log, everyMinutes: config.digest.tickMinutes, staleAfterHours: config.staleAfterHours, onEnqueued: () => service.dispatcher.wake() })
    : undefined;
  // A dispatcher process serves only what operators ask of every process, /health and its own
  // /metrics (its delivery counters live in it), on its own PORT.
  const ops = new Set(['/health', '/metrics']);
  const fetch = serveHttp ? service.app.fetch : (req: Request) => (ops.has(new URL(req.url).pathname) ? service.app.fetch(req) : new Response('Not found', { status: 404 }));
  const server = serve({ fetch, port: config.port }, (info) => {
    if (serveHttp) log.info('server.listening', { port: info.port, role: config.role, publicUrl: config.publicUrl, alertGroupWaitSeconds: config.alertGroupWaitSeconds });
    else log.info('dispatcher.started', { owner: service.dispatcher.owner, port: info.port });
  });
  server.on('error', (err: NodeJS.ErrnoException) => {
    // A dispatcher delivers whether or not its ops port is free (several may share a host and a
    // PORT); a process that serves the API cannot do without it.
    if (!serveHttp) {
      log.error('dispatcher.ops_port_unavailable', { port: config.port, error: err.code ?? String(err) });
      log.info('dispatcher.started', { owner: service.dispatcher.owner, port: null });
      return;
    }
    console.error(`clausewatch: cannot listen on PORT ${config.port}: ${err.code ?? err.message}`);
    process.exit(1);
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('server.stopping', { signal });
    // Stop taking requests, then stop claiming, finish in-flight sends and give back the rest,
    // close the SMTP pool and the database.
    ticker?.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await service.stop();
    database.close();
    log.info('server.stopped', { signal });
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

void main();
