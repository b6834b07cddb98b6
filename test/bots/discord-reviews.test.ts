import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { testService, type TestService } from '../support/service.js';
import { startDiscordApi } from '../support/discord-api.js';
import { CHANNEL, GUILD, MANAGE_GUILD, discordKeys } from '../support/discord-sign.js';
import { fixedClock } from '../support/clock.js';
import { makeEvent } from '../support/app.js';

let discord: Awaited<ReturnType<typeof startDiscordApi>>;
let s: TestService;
const keys = discordKeys();
const clock = fixedClock('2026-12-02T09:00:00Z');

beforeEach(async () => {
  clock.set('2026-12-02T09:00:00Z');
  discord = await startDiscordApi();
  s = await testService(
    { DISCORD_APPLICATION_ID: '999', DISCORD_PUBLIC_KEY: keys.publicKeyHex, DISCORD_BOT_TOKEN: 'discord-bot-token', DISCORD_API_URL: discord.url, ALERT_GROUP_WAIT_SECONDS: '60' },
    { clock },
  );
});
afterEach(async () => {
  await s.dispose();
  await discord.close();
});

const historyRows = async () => (await s.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM review_history`))[0]!.n;
const signed = (body: string) => keys.headers(body, String(Math.floor(clock() / 1000)));
async function interact(payload: unknown, headers?: Record<string, string>) {
  const body = JSON.stringify(payload);
  return s.call('POST', '/discord/interactions', body, null, headers ?? signed(body));
}

/** A monitor account whose Discord channel was alerted to `events` by the bot; returns the posted message. */
async function alertedChannel(events: any[]) {
  const account = (await s.call('POST', '/v1/accounts', { name: 'Acme', plan: 'monitor' })).json;
  const dest = (await s.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'discord', guild: GUILD, channel: CHANNEL })).json;
  expect((await s.call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform: 'openai', destination: dest.id })).status).toBe(201);
  await s.ingest({ events: events.map((e) => makeEvent({ detected_at: '2026-12-02T08:30:00Z', ...e })) });
  clock.advance(61_000);
  await s.drain();
  const posted = discord.messages.find((m) => m.channel === CHANNEL)!;
  return { account, message: { id: String(discord.messages.indexOf(posted) + 1), channel_id: CHANNEL, content: posted.body.content, embeds: posted.body.embeds, components: posted.body.components } };
}

const MARIA = { id: '420000000000000001', username: 'maria', global_name: 'Maria' };
const JON = { id: '420000000000000002', username: 'jon', global_name: null };

function component(message: any, customId: string, opts: { permissions?: string; user?: object; data?: object; type?: number } = {}) {
  return {
    id: '77',
    application_id: '999',
    type: opts.type ?? 3,
    token: 'review-interaction-token',
    version: 1,
    guild_id: GUILD,
    channel_id: CHANNEL,
    channel: { id: CHANNEL, type: 0 },
    member: { permissions: opts.permissions ?? MANAGE_GUILD, user: opts.user ?? MARIA, roles: [] },
    message,
    data: { custom_id: customId, component_type: 2, ...opts.data },
  };
}
const button = (message: any, label: string, row = 0) => message.components[row].components.find((c: any) => c.label === label).custom_id as string;
const reviewField = (embed: any) => embed.fields.find((f: any) => f.name === 'Review')?.value;

describe('review buttons in Discord alerts', () => {
  it('carry one row per change: Reviewed, Not applicable, Assign', async () => {
    const { message } = await alertedChannel([{ id: 'evt_a' }, { id: 'evt_b' }]);
    expect(message.components).toHaveLength(2);
    expect(message.components[0].components.map((c: any) => c.label)).toEqual(['Reviewed', 'Not applicable', 'Assign']);
  });

  it('keep to five rows a message: six changes are two messages', async () => {
    await alertedChannel(Array.from({ length: 6 }, (_, i) => ({ id: `evt_${i}`, title: `Change ${i}` })));
    const posted = discord.messages.filter((m) => m.channel === CHANNEL);
    expect(posted.map((m) => m.body.components.length)).toEqual([5, 1]);
  });

  it('record Reviewed and answer UPDATE_MESSAGE with the decision shown and that change’s row gone', async () => {
    const { account, message } = await alertedChannel([{ id: 'evt_a', title: 'First' }, { id: 'evt_b', title: 'Second' }]);
    clock.set('2026-12-02T09:14:00Z');
    const r = await interact(component(message, button(message, 'Reviewed')));
    expect(r.status).toBe(200);
    expect(r.json.type).toBe(7);
    const first = r.json.data.embeds.findIndex((e: any) => reviewField(e));
    expect(reviewField(r.json.data.embeds[first])).toBe('Reviewed by <@420000000000000001>, 2 Dec 09:14');
    expect(r.json.data.components).toHaveLength(1);
    expect(r.json.data.components[0]).toEqual(message.components[1]);
    expect(r.json.data.allowed_mentions).toEqual({ parse: [] });
    const [review] = (await s.call('GET', `/v1/accounts/${account.id}/reviews?status=reviewed`)).json.data;
    expect(review.by).toEqual({ name: 'Maria', id: '420000000000000001', via: 'discord' });
  });

  it('ask the reason of Not applicable in a modal (type 9), and record it from the modal’s submission', async () => {
    const { account, message } = await alertedChannel([{ id: 'evt_a' }]);
    const opened = await interact(component(message, button(message, 'Not applicable')));
    expect(opened.json.type).toBe(9);
    const input = opened.json.data.components[0].components[0];
    expect(input).toMatchObject({ type: 4, custom_id: 'reason', max_length: 500, required: true });
    expect(await historyRows()).toBe(0);
    clock.set('2026-12-02T09:20:00Z');
    const submitted = await interact(component(message, opened.json.data.custom_id, { type: 5, user: JON, data: { components: [{ type: 1, components: [{ type: 4, custom_id: 'reason', value: 'Not our product @everyone' }] }] } }));
    expect(submitted.json.type).toBe(7);
    expect(reviewField(submitted.json.data.embeds[0])).toBe('Not applicable by <@420000000000000002>, 2 Dec 09:20: Not our product @\u200beveryone');
    expect(submitted.json.data.components).toEqual([]);
    expect((await s.call('GET', `/v1/accounts/${account.id}/reviews`)).json.data[0]).toMatchObject({ status: 'not_applicable', reason: 'Not our product @everyone' });
  });

  it('assign with a user select offered in an ephemeral reply, and edit the alert itself', async () => {
    const { account, message } = await alertedChannel([{ id: 'evt_a' }]);
    const offered = await interact(component(message, button(message, 'Assign')));
    expect(offered.json).toMatchObject({ type: 4, data: { flags: 64 } });
    const select = offered.json.data.components[0].components[0];
    expect(select.type).toBe(5);
    clock.set('2026-12-02T09:14:00Z');
    const ephemeralMessage = { id: '9', channel_id: CHANNEL, content: offered.json.data.content, embeds: [], components: offered.json.data.components, flags: 64 };
    const chosen = await interact(component(ephemeralMessage, select.custom_id, { data: { component_type: 5, values: [JON.id], resolved: { users: { [JON.id]: JON } } } }));
    expect(chosen.json).toMatchObject({ type: 7, data: { content: `Assigned to <@${JON.id}>.`, components: [] } });
    await expect.poll(() => discord.edits.length).toBe(1);
    expect(discord.edits[0]!.path).toBe(`/api/v10/channels/${CHANNEL}/messages/${message.id}`);
    expect(reviewField(discord.edits[0]!.body.embeds[0])).toBe(`Assigned to <@${JON.id}> by <@${MARIA.id}>, 2 Dec 09:14`);
    expect(discord.edits[0]!.body.components).toHaveLength(1);
    expect((await s.call('GET', `/v1/accounts/${account.id}/reviews`)).json.data[0].assigned_to).toEqual({ name: 'jon', id: JON.id });
  });

  it('refuse members who may not manage subscriptions, before any modal, and record nothing', async () => {
    const { message } = await alertedChannel([{ id: 'evt_a' }]);
    for (const label of ['Reviewed', 'Not applicable', 'Assign']) {
      const r = await interact(component(message, button(message, label), { permissions: '0' }));
      expect(r.json, label).toMatchObject({ type: 4, data: { flags: 64, content: expect.stringContaining('Manage Server or Manage Channels') } });
    }
    // Nor does a modal submission of someone without it slip through.
    const sneaked = await interact(component(message, button(message, 'Not applicable').replace('cw:na:', 'cw:nar:'), { type: 5, permissions: '0', data: { components: [{ type: 1, components: [{ type: 4, custom_id: 'reason', value: 'x' }] }] } }));
    expect(sneaked.json.type).toBe(4);
    expect(await historyRows()).toBe(0);
  });

  it('refuse a forged signature with 401 and record nothing', async () => {
    const { message } = await alertedChannel([{ id: 'evt_a' }]);
    const body = JSON.stringify(component(message, button(message, 'Reviewed')));
    expect((await s.call('POST', '/discord/interactions', body, null, discordKeys().headers(body))).status).toBe(401);
    expect((await s.call('POST', '/discord/interactions', body, null, { 'content-type': 'application/json' })).status).toBe(401);
    expect(await historyRows()).toBe(0);
  });

  it('keep two decisions at once on one change, the later one current', async () => {
    const { account, message } = await alertedChannel([{ id: 'evt_a' }]);
    const id = button(message, 'Reviewed');
    await Promise.all([interact(component(message, id, { user: MARIA })), interact(component(message, id, { user: JON }))]);
    const rows = await s.database.db.all<{ actor_name: string }>(sql`SELECT actor_name FROM review_history ORDER BY id`);
    expect(rows).toHaveLength(2);
    expect((await s.call('GET', `/v1/accounts/${account.id}/reviews`)).json.data[0].by.name).toBe(rows[1]!.actor_name);
  });
});
