import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDatabase, type TempDatabase } from '../support/db.js';
import { freePort, startServiceProcess, type ServiceProcess } from '../support/service-process.js';
import { residentBytes, streamBody } from '../support/hostile-client.js';
import { SLACK_SIGNING_SECRET } from '../support/slack-sign.js';
import { discordKeys } from '../support/discord-sign.js';

/**
 * Body caps on the real running service: a 60 MB body, unsigned, to every route that reads one,
 * declared or streamed without a length, is refused with 413 after at most its route's cap is
 * read, and the server's memory does not grow with it.
 */
let database: TempDatabase;
let service: ServiceProcess;
let port: number;

beforeAll(async () => {
  database = await tempDatabase();
  port = await freePort();
  service = startServiceProcess(
    'all',
    {
      DATABASE_URL: database.url,
      SLACK_SIGNING_SECRET,
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_API_URL: 'http://127.0.0.1:9/api/',
      DISCORD_APPLICATION_ID: '999',
      DISCORD_PUBLIC_KEY: discordKeys().publicKeyHex,
      DISCORD_BOT_TOKEN: 'discord-bot-token',
      DISCORD_API_URL: 'http://127.0.0.1:9/api',
    },
    port,
  );
  await service.ready;
}, 60_000);
afterAll(async () => {
  await service?.stop(2_000);
  database?.dispose();
});

export const CAPPED_ROUTES: { path: string; cap: number; type: string }[] = [
  { path: '/manage/any-token/subscriptions', cap: 8 * 1024, type: 'application/x-www-form-urlencoded' },
  { path: '/unsubscribe/any-token', cap: 8 * 1024, type: 'application/x-www-form-urlencoded' },
  { path: '/slack/commands', cap: 64 * 1024, type: 'application/x-www-form-urlencoded' },
  { path: '/slack/events', cap: 64 * 1024, type: 'application/json' },
  { path: '/discord/interactions', cap: 64 * 1024, type: 'application/json' },
];
const SIXTY_MB = 60 * 1024 * 1024;

describe('a 60 MB unsigned body', () => {
  for (const route of CAPPED_ROUTES) {
    for (const chunked of [false, true]) {
      it(`to ${route.path}${chunked ? ', chunked without a length,' : ''} is refused with 413 without being read`, async () => {
        const before = residentBytes(service.child.pid!);
        let peak = before;
        const sampler = setInterval(() => (peak = Math.max(peak, residentBytes(service.child.pid!))), 20);
        sampler.unref();
        const r = await streamBody(port, route.path, { totalBytes: SIXTY_MB, chunked, headers: { 'content-type': route.type } }).finally(() => clearInterval(sampler));
        expect(r.status).toBe(413);
        expect(JSON.parse(r.body)).toMatchObject({ error: 'payload_too_large' });
        // The answer came long before the body was all sent: the server stopped reading at its cap
        // (what was sent beyond it sat in socket buffers).
        expect(r.bytesSent).toBeLessThan(SIXTY_MB / 4);
        expect(peak - before).toBeLessThan(50 * 1024 * 1024);
      });
    }
  }
});
