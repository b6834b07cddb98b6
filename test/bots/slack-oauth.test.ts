import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { TEST_SECRET_KEY, testService, type TestService } from '../support/service.js';
import { startSlackApi } from '../support/slack-api.js';
import { SLACK_SIGNING_SECRET, slackHeaders, slashCommand } from '../support/slack-sign.js';
import { ADMIN_TOKEN, INGEST_TOKEN, makeEvent } from '../support/app.js';
import { loadConfig } from '../../src/config.js';
import { rawDatabase } from '../support/db.js';
import { join } from 'node:path';
import { createService } from '../../src/service.js';
import { silentLogger } from '../../src/log.js';

let slack: Awaited<ReturnType<typeof startSlackApi>>;
let s: TestService;
let server: ServerType;
let base: string;

/** The Slack app's settings of the service under test. */
const slackEnv = () => ({
  SLACK_SIGNING_SECRET,
  SLACK_CLIENT_ID: '1111.2222',
  SLACK_CLIENT_SECRET: 'client-secret',
  SLACK_STATE_SECRET: 'state-secret-0123456789',
  SLACK_API_URL: slack.url,
  ALERT_GROUP_WAIT_SECONDS: '0',
});

beforeEach(async () => {
  slack = await startSlackApi();
  s = await testService(
    slackEnv(),
    { deps: { slackAuthorizationUrl: 'https://slack.test/oauth/v2/authorize' } },
  );
  // InstallProvider speaks Node's request/response: serve the app for real on loopback.
  server = serve({ fetch: s.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await new Promise((r) => server.close(r));
  await s.dispose();
  await slack.close();
});

async function install(code = 'good-code') {
  const start = await fetch(`${base}/slack/install`, { redirect: 'manual' });
  expect(start.status).toBe(302);
  const location = new URL(start.headers.get('location')!);
  expect(location.origin + location.pathname).toBe('https://slack.test/oauth/v2/authorize');
  expect(location.searchParams.get('scope')).toBe('commands,chat:write,chat:write.public,users:read');
  const cookie = start.headers.get('set-cookie')!.split(';')[0]!;
  return fetch(`${base}/slack/oauth_redirect?code=${code}&state=${encodeURIComponent(location.searchParams.get('state')!)}`, { headers: { cookie } });
}


describe('Slack install for many workspaces', () => {
  it('installs through OAuth, keeps the workspace token, and posts with it', async () => {
    const done = await install();
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('ClauseWatch is installed');
    const rows = await s.database.db.all<{ team_id: string; bot_token: string }>(sql`SELECT team_id, bot_token FROM slack_installations`);
    expect(rows).toEqual([{ team_id: 'T0002', bot_token: expect.stringMatching(/^enc:v1:[A-Za-z0-9_-]+$/) }]);
    // Sealed at rest: neither the rows nor the database file hold the token.
    expect(JSON.stringify(await s.database.db.all(sql`SELECT * FROM slack_installations`))).not.toContain('xoxb-');
    expect(await rawDatabase(s.database)).not.toContain('xoxb-installed-token');

    const body = slashCommand('subscribe openai', { team_id: 'T0002', channel_id: 'C0002' });
    const reply = await fetch(`${base}/slack/commands`, { method: 'POST', body, headers: slackHeaders(body) });
    expect(JSON.stringify(await reply.json())).toContain('now watches OpenAI');
    const account = (await s.call('GET', '/v1/accounts?slack_team=T0002')).json.data[0];
    await s.call('PATCH', `/v1/accounts/${account.id}`, { plan: 'monitor' });
    await s.ingest(makeEvent({ detected_at: new Date().toISOString() }));
    await s.drain();
    expect(slack.calls.map((c) => [c.token, c.args.channel])).toEqual([['xoxb-installed-token', 'C0002']]);
  });

  it('refuses a callback without the state cookie, and a bad code', async () => {
    const start = await fetch(`${base}/slack/install`, { redirect: 'manual' });
    const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
    expect((await fetch(`${base}/slack/oauth_redirect?code=good-code&state=${encodeURIComponent(state)}`)).status).toBe(400);
    expect((await install('bad-code')).status).toBe(400);
    expect((await s.database.db.all(sql`SELECT * FROM slack_installations`)).length).toBe(0);
  });

  it('forgets the installation when the app is uninstalled', async () => {
    await install();
    const body = JSON.stringify({ type: 'event_callback', team_id: 'T0002', api_app_id: 'A0001', event: { type: 'app_uninstalled' }, event_id: 'Ev2', event_time: 1 });
    await fetch(`${base}/slack/events`, { method: 'POST', body, headers: { ...slackHeaders(body), 'content-type': 'application/json' } });
    await new Promise((r) => setTimeout(r, 100));
    expect((await s.database.db.all(sql`SELECT * FROM slack_installations`)).length).toBe(0);
  });
});

/** The configuration of the service in beforeEach, for a second start on its database. */
const sameConfig = () =>
  loadConfig({
    PUBLIC_URL: 'https://clausewatch.test',
    INGEST_TOKENS: INGEST_TOKEN,
    ADMIN_TOKENS: ADMIN_TOKEN,
    SECRET_KEY: TEST_SECRET_KEY,
    ...slackEnv(),
  });

describe('Slack installations stored in plain text before tokens were sealed', () => {
  it('are sealed at the next start, and their workspace is still posted to', async () => {
    const installation = { team: { id: 'T0009', name: 'Old' }, bot: { token: 'xoxb-old-plaintext-token', userId: 'U1', id: 'B1', scopes: [] }, enterprise: undefined, isEnterpriseInstall: false };
    await s.database.db.run(sql`INSERT INTO slack_installations (team_id, team_name, bot_token, bot_user_id, bot_id, installation, installed_at)
      VALUES ('T0009', 'Old', 'xoxb-old-plaintext-token', 'U1', 'B1', ${JSON.stringify(installation)}, 1)`);
    const again = await createService(sameConfig(), { db: s.database.db, clock: Date.now, log: silentLogger, outboxDir: join(s.database.dir, 'outbox2') });
    const row = (await s.database.db.all<{ bot_token: string; installation: string }>(sql`SELECT bot_token, installation FROM slack_installations`))[0]!;
    expect(row.bot_token).toMatch(/^enc:v1:/);
    expect(row.installation).toMatch(/^enc:v1:/);
    expect(await rawDatabase(s.database)).not.toContain('xoxb-old-plaintext-token');
    // A second start finds nothing to seal and changes nothing.
    await createService(sameConfig(), { db: s.database.db, clock: Date.now, log: silentLogger, outboxDir: join(s.database.dir, 'outbox3') });
    expect((await s.database.db.all<{ bot_token: string }>(sql`SELECT bot_token FROM slack_installations`))[0]!.bot_token).toBe(row.bot_token);

    const body = slashCommand('subscribe openai', { team_id: 'T0009', channel_id: 'C0009' });
    const reply = await again.app.request('/slack/commands', { method: 'POST', body, headers: slackHeaders(body) });
    expect(JSON.stringify(await reply.json())).toContain('now watches OpenAI');
    const account = (await s.call('GET', '/v1/accounts?slack_team=T0009')).json.data[0];
    await s.call('PATCH', `/v1/accounts/${account.id}`, { plan: 'monitor' });
    await s.ingest(makeEvent({ detected_at: new Date().toISOString() }));
    while ((await again.dispatcher.runOnce()) > 0);
    expect(slack.calls.map((c) => [c.token, c.args.channel])).toEqual([['xoxb-old-plaintext-token', 'C0009']]);
    await again.stop();
  });
});
