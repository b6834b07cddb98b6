import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { testService, type TestService } from '../support/service.js';
import { startDiscordApi } from '../support/discord-api.js';
import { CHANNEL, GUILD, discordKeys, slash } from '../support/discord-sign.js';
import { fixedClock } from '../support/clock.js';
import { fixtureEvents, makeEvent } from '../support/app.js';
import { embedSize, escapeDiscord, packEmbeds, renderAlertDiscord } from '../../src/render/discord.js';
import type { ChangeItem } from '../../src/core/message.js';
import { settleDecisions } from '../../src/ingest/settle.js';

let discord: Awaited<ReturnType<typeof startDiscordApi>>;
let s: TestService;
const keys = discordKeys();
const clock = fixedClock('2026-11-20T07:00:00Z');

beforeEach(async () => {
  clock.set('2026-11-20T07:00:00Z');
  discord = await startDiscordApi();
  s = await testService(
    {
      DISCORD_APPLICATION_ID: '999',
      DISCORD_PUBLIC_KEY: keys.publicKeyHex,
      DISCORD_BOT_TOKEN: 'discord-bot-token',
      DISCORD_API_URL: discord.url,
      ALERT_GROUP_WAIT_SECONDS: '60',
      ALERT_MAX_AGE_HOURS: '100000',
    },
    { clock },
  );
});
afterEach(async () => {
  await s.dispose();
  await discord.close();
});

/** Discord's headers for `body`, signed `ageSeconds` before the service's clock. */
const signed = (body: string, ageSeconds = 0) => keys.headers(body, String(Math.floor(clock() / 1000) - ageSeconds));
async function interact(payload: unknown, headers?: Record<string, string>) {
  const body = JSON.stringify(payload);
  return s.call('POST', '/discord/interactions', body, null, headers ?? signed(body));
}
const count = async (table: string) => (await s.database.db.all<{ n: number }>(sql.raw(`SELECT count(*) AS n FROM ${table}`)))[0]!.n;

describe('/clausewatch in Discord', () => {
  it('takes a real-shaped server id alike in the command, the account lookup and the destinations API, and refuses other shapes in all three', async () => {
    const inGuild = (guild: string, channel: string) => ({ ...slash('subscribe', [{ name: 'platform', value: 'openai' }]), guild_id: guild, channel_id: channel, channel: { id: channel, type: 0 } });
    // Snowflakes: 17 digits for the servers of 2015, 19 today, 20 at most (an unsigned 64-bit integer).
    for (const guild of ['81384788765712384', '1300000000000000001', '18446744073709551615']) {
      const channel = '1300000000000000002';
      expect((await interact(inGuild(guild, channel))).json.data.content, guild).toContain('now watches OpenAI');
      const found = await s.call('GET', `/v1/accounts?discord_guild=${guild}`);
      expect(found.status, guild).toBe(200);
      expect(found.json.data, guild).toHaveLength(1);
      const other = (await s.call('POST', '/v1/accounts', { name: `API ${guild}` })).json;
      expect((await s.call('POST', `/v1/accounts/${other.id}/destinations`, { type: 'discord', guild, channel })).status, guild).toBe(201);
    }
    const accounts = await count('accounts');
    for (const guild of ['12345', '1234567890123456', '18446744073709551616', '123456789012345678901', '0123456789012345678']) {
      expect((await interact(inGuild(guild, CHANNEL))).json.data.content, guild).toContain('This channel cannot be used');
      const lookup = await s.call('GET', `/v1/accounts?discord_guild=${guild}`);
      expect(lookup.status, guild).toBe(400);
      expect(lookup.json.issues[0].path).toBe('discord_guild');
      const other = (await s.call('POST', '/v1/accounts', { name: `API ${guild}` })).json;
      expect((await s.call('POST', `/v1/accounts/${other.id}/destinations`, { type: 'discord', guild, channel: CHANNEL })).status, guild).toBe(400);
    }
    expect(await count('accounts')).toBe(accounts + 5); // only the five made through the API
  });

  it('answers PING with PONG', async () => {
    expect((await interact({ id: '1', application_id: '999', type: 1, token: 't', version: 1 })).json).toEqual({ type: 1 });
  });

  it('refuses a missing or wrong signature with 401 before reading anything', async () => {
    const body = JSON.stringify(slash('subscribe', [{ name: 'platform', value: 'openai' }]));
    expect((await s.call('POST', '/discord/interactions', body, null, { 'content-type': 'application/json' })).status).toBe(401);
    const other = discordKeys();
    expect((await s.call('POST', '/discord/interactions', body, null, other.headers(body))).status).toBe(401);
    expect((await s.call('POST', '/discord/interactions', body.replace('openai', 'stripe'), null, signed(body))).status).toBe(401);
    expect(await count('accounts')).toBe(0);
  });

  it('refuses with 401 an interaction signed more than 5 minutes before or after its clock, as Slack requests are', async () => {
    const body = JSON.stringify(slash('subscribe', [{ name: 'platform', value: 'openai' }]));
    for (const age of [301, 24 * 3600, -301]) {
      const r = await s.call('POST', '/discord/interactions', body, null, signed(body, age));
      expect(r.status, `signed ${age} s before`).toBe(401);
    }
    expect(await count('accounts')).toBe(0);
    // Within the window either way (clock skew), the same interaction is taken.
    expect((await s.call('POST', '/discord/interactions', body, null, signed(body, 299))).json.data.content).toContain('now watches');
    expect((await s.call('POST', '/discord/interactions', body, null, signed(body, -299))).status).toBe(200);
  });

  it('subscribes the channel on the server’s free account, with an ephemeral reply', async () => {
    const r = await interact(slash('subscribe', [{ name: 'platform', value: 'openai' }, { name: 'min_severity', value: 'medium' }]));
    expect(r.json.type).toBe(4);
    expect(r.json.data.flags).toBe(64);
    expect(r.json.data.allowed_mentions).toEqual({ parse: [] });
    expect(r.json.data.content).toContain('This channel now watches OpenAI');
    const accounts = (await s.call('GET', `/v1/accounts?discord_guild=${GUILD}`)).json.data;
    expect(accounts[0]).toMatchObject({ plan: 'free', discord_guild: GUILD });
    const [d] = (await s.call('GET', `/v1/accounts/${accounts[0].id}/destinations`)).json.data;
    expect(d).toMatchObject({ type: 'discord', guild: GUILD, channel: CHANNEL });
    expect((await interact(slash('list'))).json.data.content).toContain('medium and above');
    expect((await interact(slash('plan'))).json.data.content).toContain('Upgrade to monitor');
    expect((await interact(slash('platforms', [{ name: 'search', value: 'anthro' }]))).json.data.content).toContain('`anthropic`');
    expect((await interact(slash('unsubscribe', [{ name: 'platform', value: 'openai' }]))).json.data.content).toContain('Stopped watching OpenAI');
    expect((await interact(slash('help'))).json.data.content).toContain('/clausewatch subscribe');
  });

  it('lets only members who manage the server or its channels change subscriptions', async () => {
    const r = await interact(slash('subscribe', [{ name: 'platform', value: 'openai' }], '0'));
    expect(r.json.data.content).toContain('Not allowed');
    expect(await count('subscriptions')).toBe(0);
    const admin = await interact(slash('subscribe', [{ name: 'platform', value: 'openai' }], String(1n << 3n)));
    expect(admin.json.data.content).toContain('now watches');
    const channels = await interact(slash('subscribe', [{ name: 'platform', value: 'openai' }], String(1n << 4n)));
    expect(channels.json.data.content).toContain('now watches');
    // Reading is open to everyone.
    expect((await interact(slash('list', [], '0'))).json.data.content).toContain('OpenAI');
  });

  it('autocompletes platforms from the catalog', async () => {
    const r = await interact(slash('subscribe', [{ name: 'platform', value: 'opena', focused: true }], undefined, 4));
    expect(r.json.type).toBe(8);
    expect(r.json.data.choices[0]).toEqual({ name: 'OpenAI (openai)', value: 'openai' });
    expect(r.json.data.choices.length).toBeLessThanOrEqual(25);
  });
});

describe('/clausewatch in Discord on a slow database', () => {
  it('defers within the deadline, then edits the answer in through the interaction webhook', async () => {
    // Each statement 20 ms away: a subscribe takes longer than the 50 ms deadline set here.
    const slow = await testService(
      { DISCORD_APPLICATION_ID: '999', DISCORD_PUBLIC_KEY: keys.publicKeyHex, DISCORD_BOT_TOKEN: 'discord-bot-token', DISCORD_API_URL: discord.url },
      { clock, dbLatencyMs: 20, deps: { chatAnswerDeadlineMs: 50 } },
    );
    try {
      const body = JSON.stringify(slash('subscribe', [{ name: 'platform', value: 'openai' }]));
      const r = await slow.call('POST', '/discord/interactions', body, null, signed(body));
      expect(r.json).toEqual({ type: 5, data: { flags: 64 } });
      await expect.poll(() => discord.edits.length).toBe(1);
      expect(discord.edits[0]!.path).toBe('/api/v10/webhooks/999/interaction-token/messages/@original');
      expect(discord.edits[0]!.body.allowed_mentions).toEqual({ parse: [] });
      expect(JSON.stringify(discord.edits[0]!.body)).toContain('OpenAI');
      const [subs] = await slow.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM subscriptions`);
      expect(subs!.n).toBe(1);
    } finally {
      await slow.dispose();
    }
  });
});

describe('Discord delivery', () => {
  async function monitorChannel() {
    await interact(slash('subscribe', [{ name: 'platform', value: 'reddit' }]));
    const account = (await s.call('GET', `/v1/accounts?discord_guild=${GUILD}`)).json.data[0];
    await s.call('PATCH', `/v1/accounts/${account.id}`, { plan: 'monitor' });
    return account;
  }

  it('posts alert embeds with mentions disabled, escaping event text', async () => {
    await monitorChannel();
    const hostile = fixtureEvents()['99-hostile-escaping.json'];
    await s.ingest({ ...hostile, detected_at: '2026-11-20T06:30:00Z' });
    clock.advance(61_000);
    await s.dispatcher.runOnce();
    expect(discord.messages).toHaveLength(1);
    const m = discord.messages[0]!;
    expect(m.channel).toBe(CHANNEL);
    expect(m.auth).toBe('Bot discord-bot-token');
    expect(m.body.allowed_mentions).toEqual({ parse: [] });
    const text = JSON.stringify(m.body);
    expect(text).not.toMatch(/(?<!\\u200b)@everyone/);
    expect(text).not.toMatch(/<@\d+>/);
    expect(m.body.embeds[0]).toMatchObject({ color: 0xd97706 });
    expect(m.body.embeds[0].fields.map((f: any) => f.name)).toEqual(expect.arrayContaining(['Platform', 'Document', 'Severity', 'Evidence']));
  });

  it('leaves 429s to discord.js REST, which waits and sends once', async () => {
    await monitorChannel();
    discord.state.rateLimitNext = 1;
    await s.ingest(makeEvent({ platform: { slug: 'reddit' }, document: { title: 'Reddit User Agreement' } }));
    clock.advance(61_000);
    await s.dispatcher.runOnce();
    expect(discord.state.rateLimited).toBe(1);
    expect(discord.messages).toHaveLength(1);
    const [row] = await s.database.db.all<{ status: string; attempts: number }>(sql`SELECT status, attempts FROM outbox`);
    expect(row).toEqual({ status: 'sent', attempts: 1 });
  });

  it.each([
    { status: 404, code: 10003, message: 'Unknown Channel' },
    { status: 403, code: 50001, message: 'Missing Access' },
    { status: 403, code: 50013, message: 'Missing Permissions' },
  ])('disables the destination on $message', async (error) => {
    await monitorChannel();
    discord.state.channelErrors.set(CHANNEL, error);
    await s.ingest(makeEvent({ platform: { slug: 'reddit' }, document: { title: 'Reddit User Agreement' } }));
    clock.advance(61_000);
    await s.dispatcher.runOnce();
    const [d] = await s.database.db.all<{ status: string; disabled_reason: string }>(sql`SELECT status, disabled_reason FROM destinations`);
    expect(d).toEqual({ status: 'disabled', disabled_reason: `Discord ${error.code}: ${error.message}` });
  });

  it('delivers the same embeds through a channel webhook registered with the admin API', async () => {
    const account = (await s.call('POST', '/v1/accounts', { name: 'Webhook server', plan: 'monitor' })).json;
    const dest = (await s.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'discord', webhook_url: 'https://discord.com/api/webhooks/123456789012345678/abcdefghijklmnopqrstuvwxyz0123' })).json;
    await s.call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform: 'openai', destination: dest.id });
    await s.ingest(makeEvent());
    clock.advance(61_000);
    await s.dispatcher.runOnce();
    expect(discord.messages).toHaveLength(1);
    expect(discord.messages[0]).toMatchObject({ webhook: '123456789012345678', auth: undefined });
    expect(discord.messages[0]!.body.embeds[0].title).toBe('Data retention period extended');
    expect(discord.messages[0]!.body.allowed_mentions).toEqual({ parse: [] });
  });

  it('links each change of a channel webhook alert to its signed review page (no buttons: a plain webhook has no bot), whose typed name records the decision', async () => {
    const account = (await s.call('POST', '/v1/accounts', { name: 'Webhook server', plan: 'monitor' })).json;
    const dest = (await s.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'discord', webhook_url: 'https://discord.com/api/webhooks/123456789012345678/abcdefghijklmnopqrstuvwxyz0123' })).json;
    await s.call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform: 'openai', destination: dest.id });
    await s.ingest({ events: [makeEvent({ id: 'evt_a', title: 'Retention [extended](https://evil.test) @everyone' }), makeEvent({ id: 'evt_b', title: 'Arbitration added' })] });
    clock.advance(61_000);
    await s.dispatcher.runOnce();
    expect(discord.messages).toHaveLength(1);
    const body = discord.messages[0]!.body;
    expect(body.components ?? []).toEqual([]);
    const reviews = body.embeds.map((e: any) => e.fields.find((f: any) => f.name === 'Review')?.value as string);
    expect(reviews).toHaveLength(2);
    const urls = reviews.map((v: string) => /^\[Review this change\]\((https:\/\/clausewatch\.test\/review\/[A-Za-z0-9._-]+)\)$/.exec(v)?.[1]);
    expect(urls.every(Boolean)).toBe(true);
    expect(new Set(urls).size).toBe(2);
    // The title stays escaped beside the link: no second link, no mention.
    expect(body.embeds[0].title).toBe('Retention \\[extended\\]\\(https://evil.test\\) @\u200beveryone');
    const path = urls[0]!.replace('https://clausewatch.test', '');
    expect((await s.call('GET', path, undefined, null)).text).toContain('Awaiting review');
    const r = await s.call('POST', path, new URLSearchParams({ status: 'reviewed', name: 'Maria Rossi' }).toString(), null, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(r.status).toBe(303);
    const list = (await s.call('GET', `/v1/accounts/${account.id}/reviews`)).json.data;
    expect(list.find((x: any) => x.change === 'evt_a')).toMatchObject({ status: 'reviewed', by: { name: 'Maria Rossi', via: 'page' } });
  });

  it('splits a long digest into messages within 10 embeds and 6,000 characters, in order', async () => {
    await monitorChannel();
    const events = Array.from({ length: 30 }, (_, i) =>
      makeEvent({ id: `d${i}`, platform: { slug: 'reddit' }, document: { title: 'Reddit User Agreement' }, title: `Change ${i}`, summary: 'z'.repeat(900), detected_at: '2026-11-26T06:00:00Z' }),
    );
    clock.set('2026-11-26T06:00:00Z');
    await s.ingest({ events });
    await settleDecisions(s.database.db);
    await s.database.db.run(sql`UPDATE matches SET alert_state = 'none'`);
    clock.set('2026-11-30T09:00:00Z');
    await s.call('POST', '/v1/digests/run', { at: '2026-11-30T09:00:00Z' });
    await s.drain();
    expect(discord.messages.length).toBeGreaterThanOrEqual(4);
    const titles = discord.messages.flatMap((m) => m.body.embeds.map((e: any) => e.title)).filter((t: string) => /^Change/.test(t ?? ''));
    expect(new Set(titles).size).toBe(30);
    expect(discord.messages[0]!.body.embeds[0].title).toMatch(/^Weekly digest/);
    // Everyone in the channel reads it: its one link is the read-only view, never the manage page.
    const posted = JSON.stringify(discord.messages.map((m) => m.body));
    expect(posted).toContain('https://clausewatch.test/digests/');
    expect(posted).not.toMatch(/\/manage\/|\/unsubscribe\//);
  });

  it('splits a digest of many short changes at 10 embeds per message', async () => {
    await monitorChannel();
    const events = Array.from({ length: 25 }, (_, i) =>
      makeEvent({ id: `s${i}`, platform: { slug: 'reddit' }, document: { title: 'Reddit User Agreement' }, title: `Change ${i}`, summary: 'Short.', detected_at: '2026-11-26T06:00:00Z' }),
    );
    clock.set('2026-11-26T06:00:00Z');
    await s.ingest({ events });
    await settleDecisions(s.database.db);
    await s.database.db.run(sql`UPDATE matches SET alert_state = 'none'`);
    clock.set('2026-11-30T09:00:00Z');
    await s.call('POST', '/v1/digests/run', { at: '2026-11-30T09:00:00Z' });
    await s.drain();
    const counts = discord.messages.map((m) => m.body.embeds.length);
    expect(Math.max(...counts)).toBe(10);
    const titles = discord.messages.flatMap((m) => m.body.embeds.map((e: any) => e.title)).filter((t: string) => /^Change/.test(t ?? ''));
    expect(new Set(titles).size).toBe(25);
  });
});

describe('Discord rendering', () => {
  it('defuses mentions and markdown', () => {
    expect(escapeDiscord('@everyone <@123> <@&456> <#789> **x** [a](javascript:1)')).toBe(
      '@\u200beveryone <\u200b@123\\> <\u200b@&456\\> <\u200b\\#789\\> \\*\\*x\\*\\* \\[a\\]\\(javascript:1\\)',
    );
  });

  it('packs embeds within the per-message limits', () => {
    const embeds = Array.from({ length: 23 }, (_, i) => ({ title: `t${i}`, description: 'd'.repeat(1000) }));
    const messages = packEmbeds(embeds);
    for (const m of messages) {
      expect(m.embeds.length).toBeLessThanOrEqual(10);
      expect(m.embeds.reduce((n, e) => n + (e.title?.length ?? 0) + (e.description?.length ?? 0), 0)).toBeLessThanOrEqual(6000);
    }
    expect(messages.flatMap((m) => m.embeds.map((e) => e.title))).toEqual(embeds.map((e) => e.title));
  });

  /** One long change, alerted alone, as Discord gets it. */
  const alertOf = (change: Partial<ChangeItem>) =>
    renderAlertDiscord({
      kind: 'alert',
      changes: [
        {
          eventId: 'e',
          platform: { slug: 'x', name: 'X' },
          document: { title: 'Terms' },
          severity: 'high',
          categories: [],
          kind: 'changed',
          title: 'T'.repeat(400),
          summary: 's'.repeat(5000),
          detectedAt: 0,
          changeUrl: 'https://tracker.test/c',
          raw: {} as any,
          ...change,
        },
      ],
      notices: [],
      reader: { timeZone: 'UTC', now: 0 },
      links: { unsubscribe: 'https://u', manage: 'https://m' },
      plan: 'monitor',
    });

  it('cuts a long description with a link to the change', () => {
    const e = alertOf({})[0]!.embeds[0]!;
    expect(e.title!.length).toBeLessThanOrEqual(256);
    expect(e.description!.length).toBeLessThanOrEqual(4096);
    expect(e.description).toContain('[read the rest](https://tracker.test/c)');
  });

  it('keeps one embed within 6,000 characters however long its fields, and links the snapshot when nothing is archived', () => {
    const e = alertOf({
      platform: { slug: 'x', name: 'P'.repeat(300) },
      document: { title: 'D'.repeat(1000) },
      provision: { id: 'c', title: 'C'.repeat(1000) },
      evidence: { sha256: 'a'.repeat(64), snapshot_url: 'https://tracker.test/snap' },
    })[0]!.embeds[0]!;
    expect(embedSize(e)).toBeLessThanOrEqual(6000);
    expect(e.description).toContain('[read the rest](https://tracker.test/c)');
    expect(e.fields!.find((f) => f.name === 'Evidence')!.value).toContain('[snapshot](https://tracker.test/snap)');
  });
});
