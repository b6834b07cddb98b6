import { afterEach, describe, expect, it } from 'vitest';
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { testService, type TestService } from '../support/service.js';
import { startSlackApi } from '../support/slack-api.js';
import { SLACK_SIGNING_SECRET } from '../support/slack-sign.js';
import { createLogger } from '../../src/log.js';

/**
 * A real database error on paths that bind secrets: the error is logged (name, code, the
 * database's message), the secret is not. SQLite refuses the write through a trigger, as a
 * constraint would.
 */
let s: TestService | undefined;
let slack: Awaited<ReturnType<typeof startSlackApi>> | undefined;
let server: ServerType | undefined;
afterEach(async () => {
  if (server) await new Promise((r) => server!.close(r));
  await s?.dispose();
  await slack?.close();
  s = slack = server = undefined;
});

async function serviceLogging(env: Record<string, string> = {}, deps = {}) {
  const lines: string[] = [];
  s = await testService(env, { deps: { log: createLogger('debug', (l) => lines.push(l)), ...deps } });
  return lines;
}
const refuse = (table: string, on: 'INSERT' | 'UPDATE' = 'INSERT') =>
  s!.database.db.run(sql.raw(`CREATE TRIGGER refuse_${table} BEFORE ${on} ON ${table} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`));

describe('a database error', () => {
  it('while storing a webhook secret or an email address logs neither', async () => {
    const lines = await serviceLogging({ WEBHOOK_ALLOW_PRIVATE: 'true' });
    const account = (await s!.call('POST', '/v1/accounts', { name: 'Acme', plan: 'monitor' })).json;
    await refuse('destinations');
    const hook = await s!.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'webhook', url: 'http://127.0.0.1:9/in' });
    expect(hook.status).toBe(500);
    const mail = await s!.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'email', address: 'secret.person@example.test' });
    expect(mail.status).toBe(500);
    await refuse('accounts');
    expect((await s!.call('POST', '/v1/signup', { email: 'other.person@example.test', platform: 'openai' }, null)).status).toBe(500);

    const log = lines.join('\n');
    expect(log).not.toContain('whsec_');
    expect(log).not.toContain('secret.person');
    expect(log).not.toContain('other.person');
    // What is logged still says what went wrong, and where.
    const unhandled = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'http.unhandled');
    expect(unhandled).toHaveLength(3);
    expect(unhandled[0]).toMatchObject({ path: '/v1/accounts/:id/destinations', code: expect.stringMatching(/^SQLITE_CONSTRAINT/), detail: expect.stringContaining('refused by the test') });
  });

  it('while storing a Slack installation logs no bot token', async () => {
    slack = await startSlackApi();
    const lines = await serviceLogging(
      { SLACK_SIGNING_SECRET, SLACK_CLIENT_ID: '1111.2222', SLACK_CLIENT_SECRET: 'client-secret', SLACK_STATE_SECRET: 'state-secret-0123456789', SLACK_API_URL: slack.url },
      { slackAuthorizationUrl: 'https://slack.test/oauth/v2/authorize' },
    );
    await refuse('slack_installations');
    server = serve({ fetch: s!.app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server!.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const start = await fetch(`${base}/slack/install`, { redirect: 'manual' });
    const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
    const done = await fetch(`${base}/slack/oauth_redirect?code=good-code&state=${encodeURIComponent(state)}`, { headers: { cookie: start.headers.get('set-cookie')!.split(';')[0]! } });
    expect(done.status).toBe(400);
    const log = lines.join('\n');
    expect(log).toContain('slack.install_failed');
    expect(log).not.toContain('xoxb-');
  });
});
