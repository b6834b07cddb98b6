import { readFileSync } from 'node:fs';
import { serve } from '@hono/node-server';
import { loadConfig, ConfigError } from './config.js';
import { openDatabase } from './db.js';
import { createLogger } from './log.js';
import { createApp } from './http/app.js';
import { resolveSecrets } from './secrets.js';
import { loadCatalog, type CatalogEntry } from './store/platforms.js';
import { systemClock } from './core/clock.js';

/** Wires config → database → services → HTTP server. The only module that knows them all. */
async function main() {
  let config;
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
  const clock = systemClock;
  const database = await openDatabase(config.database.url, config.database.authToken);
  const { db } = database;

  const catalog = JSON.parse(readFileSync(new URL('../db/catalog.json', import.meta.url), 'utf8')) as { platforms: CatalogEntry[] };
  await loadCatalog(db, catalog.platforms, clock());

  const secrets = await resolveSecrets(db, config);
  for (const g of secrets.generated) {
    if (g.name === 'SECRET_KEY') continue;
    // Shown once, when made: a development start needs them to call the API.
    console.log(`clausewatch: generated ${g.name}=${g.value} (kept in the database; set ${g.name} to use your own)`);
  }

  if (!config.slack) log.info('slack.off', { reason: 'SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN are not set' });
  if (!config.discord) log.info('discord.off', { reason: 'DISCORD_APPLICATION_ID, DISCORD_PUBLIC_KEY and DISCORD_BOT_TOKEN are not set' });

  const app = createApp({
    db,
    clock,
    log,
    config: {
      publicUrl: config.publicUrl,
      ingestTokens: secrets.ingestTokens,
      adminTokens: secrets.adminTokens,
      secretKey: secrets.secretKey,
      alertGroupWaitSeconds: config.alertGroupWaitSeconds,
      alertMaxAgeHours: config.alertMaxAgeHours,
      digest: config.digest,
      webhookAllowPrivate: config.webhookAllowPrivate,
    },
  });

  const server = serve({ fetch: app.fetch, port: config.port }, (info) => {
    log.info('server.listening', { port: info.port, publicUrl: config.publicUrl, database: config.database.url.startsWith('file:') ? config.database.url : 'remote' });
  });

  const shutdown = (signal: string) => {
    log.info('server.stopping', { signal });
    server.close(() => {
      database.close();
      process.exit(0);
    });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

void main();
