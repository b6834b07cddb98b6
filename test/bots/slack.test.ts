import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { testService, type TestService } from '../support/service.js';
import { startSlackApi } from '../support/slack-api.js';
import { SLACK_SIGNING_SECRET, slackHeaders, slashCommand } from '../support/slack-sign.js';
import { fixedClock } from '../support/clock.js';
import { fixtureEvents, makeEvent } from '../support/app.js';
import { createSlackChannel } from '../../src/delivery/channels/slack/send.js';
import { settleDecisions } from '../../src/ingest/settle.js';

let slack: Awaited<ReturnType<typeof startSlackApi>>;
let s: TestService;
const clock = fixedClock('2026-11-20T07:00:00Z');

beforeEach(async () => {
  clock.set('2026-11-20T07:00:00Z');
  slack = await startSlackApi();
  s = await testService(
    { SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_API_URL: slack.url, ALERT_GROUP_WAIT_SECONDS: '60', ALERT_MAX_AGE_HOURS: '100000' },
    { clock },
  );
});
afterEach(async () => {
  await s.dispose();
  await slack.close();
});

async function command(text: string, opts: { headers?: Record<string, string>; extra?: Record<string, string> } = {}) {
  const body = slashCommand(text, opts.extra);
  return s.call('POST', '/slack/commands', body, null, opts.headers ?? slackHeaders(body, { now: clock() }));
}
const replyText = (r: { json: any }) => r.json.blocks.map((b: any) => b.text?.text ?? '').join('\n');
const count = async (table: string) => (await s.database.db.all<{ n: number }>(sql.raw(`SELECT count(*) AS n FROM ${table}`)))[0]!.n;

describe('/clausewatch in Slack', () => {
  it('takes a real-shaped workspace id alike in the command, the account lookup and the destinations API, and refuses other shapes in all three', async () => {
    // Slack ids: T + uppercase letters and digits (9 to 11 today, longer allowed); E… for an Enterprise Grid organisation.
    for (const [team, channel] of [['T024BE7LD', 'C024BE91L'], ['T0123456789AB', 'G0123ABCDEF'], ['E0KH1LQPB', 'C0KH1LQPB']] as const) {
      expect(replyText(await command('subscribe openai', { extra: { team_id: team, channel_id: channel } }))).toContain('now watches OpenAI');
      const found = await s.call('GET', `/v1/accounts?slack_team=${team}`);
      expect(found.status, team).toBe(200);
      expect(found.json.data, team).toHaveLength(1);
      const other = (await s.call('POST', '/v1/accounts', { name: `API ${team}` })).json;
      expect((await s.call('POST', `/v1/accounts/${other.id}/destinations`, { type: 'slack', team, channel })).status, team).toBe(201);
    }
    const accounts = await count('accounts');
    for (const [team, channel] of [['t024be7ld', 'C024BE91L'], ['U024BE7LD', 'C024BE91L'], ['T-0001', 'C024BE91L'], ['T024BE7LD', 'X024BE91L']] as const) {
      const r = await command('subscribe openai', { extra: { team_id: team, channel_id: channel } });
      expect(replyText(r), team).toContain('This channel cannot be used');
      const other = (await s.call('POST', '/v1/accounts', { name: `API ${team}` })).json;
      expect((await s.call('POST', `/v1/accounts/${other.id}/destinations`, { type: 'slack', team, channel })).status, team).toBe(400);
      if (channel === 'C024BE91L') {
        const lookup = await s.call('GET', `/v1/accounts?slack_team=${encodeURIComponent(team)}`);
        expect(lookup.status, team).toBe(400);
        expect(lookup.json.issues[0].path).toBe('slack_team');
      }
    }
    expect(await count('accounts')).toBe(accounts + 4); // only the four made through the API
  });

  it('subscribes the channel, creating the workspace’s free account on its first command', async () => {
    const r = await command('subscribe openai');
    expect(r.status).toBe(200);
    expect(r.json.response_type).toBe('ephemeral');
    expect(replyText(r)).toContain('This channel now watches OpenAI');
    expect(replyText(r)).toContain('1 of 1 platform');
    const accounts = (await s.call('GET', '/v1/accounts?slack_team=T0001')).json.data;
    expect(accounts).toHaveLength(1);
    expect(accounts[0]).toMatchObject({ plan: 'free', slack_team: 'T0001' });
    const dests = (await s.call('GET', `/v1/accounts/${accounts[0].id}/destinations`)).json.data;
    expect(dests).toEqual([expect.objectContaining({ type: 'slack', team: 'T0001', channel: 'C0001', status: 'active' })]);
  });

  it('lists, shows the plan, searches platforms, unsubscribes and helps', async () => {
    await command('subscribe openai min:high');
    expect(replyText(await command('list'))).toMatch(/OpenAI.*high and above[\s\S]*1 of 1 platform/);
    expect(replyText(await command('plan'))).toContain('Upgrade to monitor for up to 25 platforms');
    expect(replyText(await command('platforms open'))).toContain('`openai` OpenAI');
    expect(replyText(await command('unsubscribe openai'))).toContain('Stopped watching OpenAI');
    expect(replyText(await command('list'))).toContain('This channel watches nothing yet');
    expect(replyText(await command(''))).toContain('/clausewatch subscribe &lt;platform&gt;');
  });

  it('answers an unknown platform with close matches and the search command', async () => {
    const text = replyText(await command('subscribe opnai'));
    expect(text).toContain("No platform 'opnai'");
    expect(text).toContain('`/clausewatch platforms opnai`');
    expect(text).toContain('`openai`');
  });

  it('answers a typo of a sub-command with the help', async () => {
    const text = replyText(await command('subscrbe openai'));
    expect(text).toContain("Unknown command 'subscrbe'");
    expect(text).toContain('Did you mean `/clausewatch subscribe`');
  });

  it('refuses past the plan limit, naming the limit and the upgrade; the monitor plan then takes it', async () => {
    await command('subscribe openai');
    const text = replyText(await command('subscribe anthropic'));
    expect(text).toContain('Plan limit reached');
    expect(text).toContain('The free plan includes 1 platform. Upgrade to monitor');
    const account = (await s.call('GET', '/v1/accounts?slack_team=T0001')).json.data[0];
    await s.call('PATCH', `/v1/accounts/${account.id}`, { plan: 'monitor' });
    expect(replyText(await command('subscribe anthropic'))).toContain('2 of 25 platforms');
  });

  it('refuses a bad or stale signature with 401 and changes nothing', async () => {
    const body = slashCommand('subscribe openai');
    expect((await s.call('POST', '/slack/commands', body, null, slackHeaders(body, { secret: 'wrong-secret' }))).status).toBe(401);
    expect((await s.call('POST', '/slack/commands', body, null, slackHeaders(body, { now: clock() - 6 * 60_000 }))).status).toBe(401);
    expect((await s.call('POST', '/slack/commands', body, null, { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(401);
    const tampered = slashCommand('subscribe anthropic');
    expect((await s.call('POST', '/slack/commands', tampered, null, slackHeaders(body, { now: clock() }))).status).toBe(401);
    expect(await count('accounts')).toBe(0);
  });

  it('answers the Events API URL verification challenge', async () => {
    const body = JSON.stringify({ type: 'url_verification', challenge: 'abc123', token: 'x' });
    const r = await s.call('POST', '/slack/events', body, null, { ...slackHeaders(body, { now: clock() }), 'content-type': 'application/json' });
    expect(r.json).toEqual({ challenge: 'abc123' });
  });

  it.each([
    [{ type: 'app_uninstalled' }, 'Slack app uninstalled'],
    [{ type: 'tokens_revoked', tokens: { bot: ['UBOT'] } }, 'Slack tokens revoked'],
  ])('stops delivering to a workspace on %j', async (event, reason) => {
    await command('subscribe openai');
    const body = JSON.stringify({ type: 'event_callback', team_id: 'T0001', api_app_id: 'A0001', event, event_id: 'Ev1', event_time: 1 });
    const r = await s.call('POST', '/slack/events', body, null, { ...slackHeaders(body, { now: clock() }), 'content-type': 'application/json' });
    expect(r.status).toBe(200);
    await new Promise((res) => setTimeout(res, 100));
    const [d] = await s.database.db.all<{ status: string; disabled_reason: string }>(sql`SELECT status, disabled_reason FROM destinations`);
    expect(d).toEqual({ status: 'disabled', disabled_reason: reason });
  });
});

describe('/clausewatch in Slack on a slow database', () => {
  it('acknowledges within the deadline, then answers through response_url', async () => {
    // Each statement 20 ms away: a subscribe takes longer than the 50 ms deadline set here.
    const slow = await testService(
      { SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_API_URL: slack.url },
      { clock, dbLatencyMs: 20, deps: { chatAnswerDeadlineMs: 50 } },
    );
    try {
      const body = slashCommand('subscribe openai', { response_url: slack.responseUrl('slow') });
      const r = await slow.call('POST', '/slack/commands', body, null, slackHeaders(body, { now: clock() }));
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ response_type: 'ephemeral', text: 'Working on it…' });
      await expect.poll(() => slack.responses.length).toBe(1);
      expect(slack.responses[0]!.path).toBe('/respond/slow');
      expect(slack.responses[0]!.body.response_type).toBe('ephemeral');
      expect(slack.responses[0]!.body.blocks.map((b: any) => b.text?.text ?? '').join('\n')).toContain('This channel now watches OpenAI');
      const [subs] = await slow.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM subscriptions`);
      expect(subs!.n).toBe(1);
    } finally {
      await slow.dispose();
    }
  });
});

describe('Slack delivery', () => {
  async function monitorChannel(platforms: string[] = ['openai']) {
    await command(`subscribe ${platforms[0]}`);
    const account = (await s.call('GET', '/v1/accounts?slack_team=T0001')).json.data[0];
    await s.call('PATCH', `/v1/accounts/${account.id}`, { plan: 'monitor' });
    for (const p of platforms.slice(1)) await command(`subscribe ${p}`);
    return account;
  }

  it('posts an alert with Block Kit through the real WebClient, escaping event text', async () => {
    await monitorChannel(['reddit']);
    const hostile = fixtureEvents()['99-hostile-escaping.json'];
    await s.ingest({ ...hostile, detected_at: '2026-11-20T06:30:00Z', effective_at: '2026-12-20' });
    clock.advance(61_000);
    await s.dispatcher.runOnce();
    expect(slack.calls).toHaveLength(1);
    const call = slack.calls[0]!;
    expect(call.token).toBe('xoxb-test-token');
    expect(call.args.channel).toBe('C0001');
    const all = JSON.stringify(call.args.blocks);
    expect(all).not.toContain('<!channel>');
    expect(all).not.toContain('<!here>');
    expect(all).not.toMatch(/<@\d+>/);
    expect(all).toContain('&lt;!channel&gt;');
    expect(all).toContain('takes effect in 30 days');
    expect(call.args.text).toBeTruthy();
    expect(call.args.blocks[0]).toMatchObject({ type: 'header' });
  });

  it('waits out a 429 and retries without counting a failed attempt', async () => {
    await monitorChannel();
    slack.state.rateLimitNext = 1;
    slack.state.retryAfter = 7;
    await s.ingest(makeEvent());
    clock.advance(61_000);
    await s.dispatcher.runOnce();
    const [row] = await s.database.db.all<{ status: string; attempts: number; due_at: number }>(sql`SELECT status, attempts, due_at FROM outbox`);
    expect(row).toMatchObject({ status: 'retrying', attempts: 0, due_at: clock() + 7000 });
    clock.advance(7000);
    await s.dispatcher.runOnce();
    expect(slack.calls).toHaveLength(1);
  });

  it.each(['channel_not_found', 'not_in_channel', 'is_archived'])('disables the destination on %s, and /clausewatch list says so', async (error) => {
    await monitorChannel();
    slack.state.channelErrors.set('C0001', error);
    await s.ingest(makeEvent());
    clock.advance(61_000);
    await s.dispatcher.runOnce();
    const [d] = await s.database.db.all<{ status: string; disabled_reason: string }>(sql`SELECT status, disabled_reason FROM destinations`);
    expect(d).toEqual({ status: 'disabled', disabled_reason: `Slack: ${error}` });
    expect(replyText(await command('list'))).toContain(`switched off: Slack: ${error}`);
  });

  it('splits a long digest into messages Slack accepts, in order', async () => {
    const account = await monitorChannel(['openai', 'anthropic', 'stripe']);
    const events = Array.from({ length: 70 }, (_, i) => makeEvent({ id: `d${i}`, title: `Change ${i}`, summary: 'y'.repeat(2_000 + i), detected_at: '2026-11-26T06:00:00Z' }));
    clock.set('2026-11-26T06:00:00Z');
    await s.ingest({ events });
    await settleDecisions(s.database.db);
    await s.database.db.run(sql`UPDATE matches SET alert_state = 'none'`); // digest only
    clock.set('2026-11-30T09:00:00Z');
    await s.call('POST', '/v1/digests/run', { at: '2026-11-30T09:00:00Z' });
    await s.drain();
    expect(slack.calls.length).toBeGreaterThanOrEqual(2);
    const texts = slack.calls.map((c) => JSON.stringify(c.args.blocks));
    expect(texts[0]).toContain('Weekly digest');
    // Everyone in the channel reads it: its one link is the read-only view, never the manage page.
    expect(texts.join()).toContain('https://clausewatch.test/digests/');
    expect(texts.join()).not.toMatch(/\/manage\/|\/unsubscribe\//);
    const order = slack.calls.flatMap((c) => c.args.blocks.map((b: any) => /Change (\d+)/.exec(b.text?.text ?? '')?.[1]).filter(Boolean));
    expect(new Set(order).size).toBe(70);
    const log = (await s.call('GET', `/v1/accounts/${account.id}/deliveries`)).json.data;
    expect(log.find((l: any) => l.kind === 'digest')).toMatchObject({ status: 'sent', channel: 'slack' });
  });
});

describe('Slack pacing', () => {
  it('sends messages to one channel that start together a full interval apart', async () => {
    const adapter = createSlackChannel({ clock: Date.now, apiUrl: `${slack.url}/`, tokenFor: async () => 'xoxb-test-token', minIntervalMs: 200 });
    const destination = { type: 'slack', team: 'T0001', channel: 'C0001' } as const;
    const t0 = Date.now();
    const done = await Promise.all([1, 2, 3].map(() => adapter.send(destination, { text: 'x', blocks: [] }, 'k').then(() => Date.now() - t0)));
    done.sort((a, b) => a - b);
    expect(done[1]! - done[0]!).toBeGreaterThanOrEqual(150);
    expect(done[2]! - done[1]!).toBeGreaterThanOrEqual(150);
    expect(slack.calls.filter((c) => c.method === 'chat.postMessage')).toHaveLength(3);
  });
});

describe('Slack destinations that come back', () => {
  it('are switched on again by the next subscribe in the channel', async () => {
    await command('subscribe openai');
    const body = JSON.stringify({ type: 'event_callback', team_id: 'T0001', api_app_id: 'A0001', event: { type: 'app_uninstalled' }, event_id: 'Ev9', event_time: 1 });
    await s.call('POST', '/slack/events', body, null, { ...slackHeaders(body, { now: clock() }), 'content-type': 'application/json' });
    await new Promise((res) => setTimeout(res, 100));
    await command('subscribe openai');
    const [d] = await s.database.db.all<{ status: string }>(sql`SELECT status FROM destinations`);
    expect(d!.status).toBe('active');
    expect((await s.ingest(makeEvent({ id: 'after-reinstall' }))).json.matched).toBe(1);
  });

  it('are not switched off for a bad shared SLACK_BOT_TOKEN: the alert is retried instead', async () => {
    await command('subscribe openai');
    const account = (await s.call('GET', '/v1/accounts?slack_team=T0001')).json.data[0];
    await s.call('PATCH', `/v1/accounts/${account.id}`, { plan: 'monitor' });
    slack.state.channelErrors.set('C0001', 'invalid_auth');
    await s.ingest(makeEvent());
    clock.advance(61_000);
    await s.dispatcher.runOnce();
    const [d] = await s.database.db.all<{ status: string }>(sql`SELECT status FROM destinations`);
    expect(d!.status).toBe('active');
    const [row] = await s.database.db.all<{ status: string; last_error: string }>(sql`SELECT status, last_error FROM outbox`);
    expect(row).toEqual({ status: 'retrying', last_error: 'Slack: invalid_auth (check SLACK_BOT_TOKEN)' });
  });
});
