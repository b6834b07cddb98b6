import { defineConfig } from 'vitest/config';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';

/**
 * The Workers edition's tests run inside workerd (D1, Queues and cron offline, through
 * miniflare), on the committed migrations. `npm run test:workers`.
 */
export default defineConfig(async () => {
  const migrations = await readD1Migrations(new URL('./db/migrations', import.meta.url).pathname);
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: './wrangler.toml' },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            INGEST_TOKENS: 'test-ingest-token',
            ADMIN_TOKENS: 'test-admin-token',
            SECRET_KEY: 'test-secret-key-0123456789-0123456789',
            PUBLIC_URL: 'https://clausewatch.test',
            MAIL_FROM: 'ClauseWatch <alerts@clausewatch.test>',
            ALERT_GROUP_WAIT_SECONDS: '0',
            LOG_LEVEL: 'error',
            DISCORD_APPLICATION_ID: '999',
            // A fixed test key pair's public half; the tests sign with its private half.
            DISCORD_PUBLIC_KEY: '96e43b05499c81d9078c79258d503c3cd4b6cc1a726e952de8122754bb68e160',
            DISCORD_BOT_TOKEN: 'test-bot-token',
            DISCORD_API_URL: 'https://discord.test/api',
            SLACK_SIGNING_SECRET: 'test-slack-signing-secret',
            SLACK_BOT_TOKEN: 'xoxb-test',
            SLACK_API_URL: 'https://slack.test/api',
          },
        },
      }),
    ],
    test: {
      include: ['test/workers/**/*.test.ts'],
      setupFiles: ['./test/workers/apply-migrations.ts'],
      testTimeout: 30_000,
      // discord-api-types is CommonJS whose re-exports the pool's module loader does not follow;
      // pre-bundled by esbuild (as wrangler bundles it for deployment) its enums are all there.
      deps: { optimizer: { ssr: { enabled: true, include: ['discord-api-types/v10'] } } },
    },
  };
});
