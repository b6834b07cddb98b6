import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { testService, type TestService } from '../support/service.js';
import { startSlackApi } from '../support/slack-api.js';
import { startDiscordApi } from '../support/discord-api.js';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { fixedClock } from '../support/clock.js';
import { makeEvent } from '../support/app.js';

let slack: Awaited<ReturnType<typeof startSlackApi>>;
let discord: Awaited<ReturnType<typeof startDiscordApi>>;
let smtp: TestSmtpServer;
let s: TestService;
const clock = fixedClock('2026-11-28T09:00:00Z');

beforeEach(async () => {
  clock.set('2026-11-28T09:00:00Z');
  [slack, discord, smtp] = await Promise.all([startSlackApi(), startDiscordApi(), startSmtpServer()]);
  s = await testService(
    {
      SLACK_SIGNING_SECRET: 'slack-signing-secret',
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_API_URL: slack.url,
      DISCORD_APPLICATION_ID: '999',
      DISCORD_PUBLIC_KEY: '0'.repeat(64),
      DISCORD_BOT_TOKEN: 'discord-bot-token',
      DISCORD_API_URL: discord.url,
      SMTP_URL: smtp.url,
      ALERT_GROUP_WAIT_SECONDS: '60',
      FLAP_WINDOW_HOURS: '72',
    },
    { clock },
  );
});
afterEach(async () => {
  await s.dispose();
  await Promise.all([slack.close(), discord.close(), smtp.close()]);
});

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

/** A capture of the ChatGPT terms' arbitration clause, now, moving the document from one content hash to another. */
const version = (id: string, from: string, to: string, overrides: Record<string, unknown> = {}) =>
  makeEvent({
    id,
    severity: 'high',
    title: to === A ? 'Arbitration clause restored' : 'Arbitration clause replaced',
    document: { id: 'D-1', title: 'ChatGPT Commercial Terms' },
    provision: { id: 'sec-17', title: '17. Dispute resolution' },
    evidence: { sha256: to, previous_sha256: from },
    detected_at: new Date(clock()).toISOString(),
    ...overrides,
  });

async function subscriber(target: Record<string, unknown>) {
  const account = (await s.call('POST', '/v1/accounts', { name: 'Acme Legal', plan: 'monitor' })).json;
  const destination = (await s.call('POST', `/v1/accounts/${account.id}/destinations`, target)).json;
  const sub = await s.call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform: 'openai', destination: destination.id });
  if (sub.status !== 201) throw new Error(`subscribe: ${sub.status} ${sub.text}`);
  return destination;
}
const slackChannel = () => subscriber({ type: 'slack', team: 'T0001', channel: 'C0001' });
const discordChannel = () => subscriber({ type: 'discord', guild: '111111111111111111', channel: '222222222222222222' });
const discordWebhook = () => subscriber({ type: 'discord', webhook_url: 'https://discord.com/api/webhooks/123456789012345678/abcdefghijklmnopqrstuvwxyz0123' });
const outbox = () => s.database.db.all<{ kind: string; channel: string; status: string; last_error: string | null }>(sql`SELECT kind, channel, status, last_error FROM outbox ORDER BY id`);

/** Ingests, lets the alert group wait pass, and runs the dispatcher until nothing is due. */
async function deliver(event: unknown) {
  expect((await s.ingest(event)).status).toBe(202);
  clock.advance(61_000);
  await s.drain();
}

describe('message lifecycle: the outbox', () => {
  it('queues a reversion of a chat alert still the latest word as a follow-up of that alert, not in a new alert group', async () => {
    await slackChannel();
    await deliver(version('change', A, B));
    clock.advance(5 * 3_600_000);
    expect((await s.ingest(version('undo', B, A))).status).toBe(202);
    const rows = await s.database.db.all<{ kind: string; root: number | null; action: string | null; alert_state: string }>(sql`
      SELECT o.kind, o.payload ->> 'root' AS root, o.payload ->> 'action' AS action, m.alert_state
      FROM matches m JOIN events e ON e.pk = m.event_pk JOIN outbox o ON o.id = m.outbox_id WHERE e.id = 'undo'`);
    const [first] = await s.database.db.all<{ id: number }>(sql`SELECT id FROM outbox WHERE kind = 'alert'`);
    expect(rows).toEqual([{ kind: 'follow_up', root: first!.id, action: 'reverted', alert_state: 'grouped' }]);
  });
});
