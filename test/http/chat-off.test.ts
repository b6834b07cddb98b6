import { afterEach, describe, expect, it } from 'vitest';
import { testService, type TestService } from '../support/service.js';

let s: TestService | undefined;
afterEach(async () => {
  await s?.dispose();
  s = undefined;
});

const SLACK_ON = { SLACK_SIGNING_SECRET: 'test-signing-secret-0123456789', SLACK_BOT_TOKEN: 'xoxb-test-token' };
const DISCORD_WEBHOOK = 'https://discord.com/api/webhooks/123456789012345678/abcdefghijklmnopqrstuvwxyz0123';

async function account(t: TestService) {
  return (await t.call('POST', '/v1/accounts', { name: 'Acme', plan: 'monitor' })).json as { id: string };
}

describe('a server where Slack and Discord are off', () => {
  it('refuses Slack and Discord bot destinations with 400 naming the variables to set, and stores nothing', async () => {
    s = await testService();
    const a = await account(s);
    const slack = await s.call('POST', `/v1/accounts/${a.id}/destinations`, { type: 'slack', team: 'T0001', channel: 'C0001' });
    expect(slack.status).toBe(400);
    expect(slack.json).toMatchObject({ error: 'invalid_destination', issues: [{ path: 'type' }] });
    expect(slack.json.message).toContain('Slack is not configured on this server');
    for (const name of ['SLACK_SIGNING_SECRET', 'SLACK_BOT_TOKEN', 'SLACK_CLIENT_ID']) expect(slack.json.message).toContain(name);
    const discord = await s.call('POST', `/v1/accounts/${a.id}/destinations`, { type: 'discord', guild: '123456789012345678', channel: '223456789012345678' });
    expect(discord.status).toBe(400);
    expect(discord.json.error).toBe('invalid_destination');
    for (const name of ['DISCORD_APPLICATION_ID', 'DISCORD_PUBLIC_KEY', 'DISCORD_BOT_TOKEN']) expect(discord.json.message).toContain(name);
    expect((await s.call('GET', `/v1/accounts/${a.id}/destinations`)).json.data).toEqual([]);
  });

  it('still takes a Discord channel webhook (no bot needed) and email', async () => {
    s = await testService();
    const a = await account(s);
    const made = await Promise.all([
      s.call('POST', `/v1/accounts/${a.id}/destinations`, { type: 'discord', webhook_url: DISCORD_WEBHOOK }),
      s.call('POST', `/v1/accounts/${a.id}/destinations`, { type: 'email', address: 'legal@acme.example' }),
    ]);
    expect(made.map((r) => [r.status, r.json.status])).toEqual([[201, 'active'], [201, 'active']]);
  });

  it('answers every /slack/* and /discord/* path with a JSON 404 saying it is not configured', async () => {
    s = await testService();
    // Paths no list names (the platform's future routes included): the answer covers them all.
    for (const [method, path] of [['POST', '/slack/commands'], ['POST', '/slack/events'], ['POST', '/slack/interactions'], ['GET', '/slack/install'], ['GET', '/slack/oauth/callback'], ['GET', '/slack'], ['PUT', '/slack/some/future/path']] as const) {
      const r = await s.call(method, path, method === 'GET' ? undefined : 'token=x', null, { 'content-type': 'application/x-www-form-urlencoded' });
      expect([path, r.status, r.json?.error], path).toEqual([path, 404, 'slack_not_configured']);
      expect(r.json.message).toMatch(/^Slack is not configured on this server: .*SLACK_SIGNING_SECRET/);
    }
    for (const path of ['/discord/interactions', '/discord/components/x', '/discord']) {
      const r = await s.call('POST', path, '{"type":1}', null);
      expect([path, r.status, r.json?.error]).toEqual([path, 404, 'discord_not_configured']);
      expect(r.json.message).toMatch(/^Discord is not configured on this server: .*DISCORD_BOT_TOKEN/);
    }
    // Only the platform's own paths: a look-alike is the ordinary 404.
    expect((await s.call('GET', '/slackers', undefined, null)).json.error).toBe('not_found');
  });
});

describe('a server where Slack is on and Discord is off', () => {
  it('takes Slack destinations and serves its Slack routes, and still says Discord is not configured', async () => {
    s = await testService(SLACK_ON);
    const a = await account(s);
    const slack = await s.call('POST', `/v1/accounts/${a.id}/destinations`, { type: 'slack', team: 'T0001', channel: 'C0001' });
    expect([slack.status, slack.json.status]).toEqual([201, 'active']);
    // An unsigned command reaches Bolt's verifier (401), not the "not configured" answer.
    const unsigned = await s.call('POST', '/slack/commands', 'command=%2Fclausewatch&text=help', null, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(unsigned.status).toBe(401);
    expect(unsigned.json?.error).not.toBe('slack_not_configured');
    const discord = await s.call('POST', '/discord/interactions', '{"type":1}', null);
    expect([discord.status, discord.json.error]).toEqual([404, 'discord_not_configured']);
    const bot = await s.call('POST', `/v1/accounts/${a.id}/destinations`, { type: 'discord', guild: '123456789012345678', channel: '223456789012345678' });
    expect(bot.status).toBe(400);
  });
});
