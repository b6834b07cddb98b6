import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { emailSubscriber, testService, type TestService } from '../support/service.js';
import { startSlackApi } from '../support/slack-api.js';
import { SLACK_SIGNING_SECRET, slackHeaders } from '../support/slack-sign.js';
import { startDiscordApi } from '../support/discord-api.js';
import { CHANNEL, GUILD, MANAGE_GUILD, discordKeys } from '../support/discord-sign.js';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { startTeamsWebhook } from '../support/teams-webhook.js';
import { fixedClock } from '../support/clock.js';
import { makeEvent } from '../support/app.js';

/**
 * The message that lists a day's changes past MAX_ALERTS_PER_DAY (kind `budget`) carries the same
 * review controls as an alert, in every channel, and its decisions take the alerts' path.
 */
const clock = fixedClock('2026-12-02T09:00:00Z');
let s: TestService;

const historyRows = async () => (await s.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM review_history`))[0]!.n;
const titles = (n: number) => Array.from({ length: n }, (_, i) => `Change ${String(i + 1).padStart(2, '0')}`);

/**
 * One alert uses up the day's budget (MAX_ALERTS_PER_DAY=1); `n` more changes that morning wait
 * for the day's end and go out as one budget message.
 */
async function overBudget(subscribe: (accountId: string) => Promise<void>, n: number) {
  const account = (await s.call('POST', '/v1/accounts', { name: 'Acme', plan: 'monitor' })).json;
  await subscribe(account.id);
  await s.ingest(makeEvent({ id: 'evt_first', title: 'First of the day', detected_at: '2026-12-02T08:30:00Z' }));
  clock.advance(61_000);
  await s.drain();
  // Descending severity would reorder them: all medium, newest first, so Change 01 is the newest.
  await s.ingest({ events: titles(n).map((title, i) => makeEvent({ id: `evt_${i + 1}`, title, detected_at: new Date(Date.parse('2026-12-02T08:40:00Z') - i * 1000).toISOString() })) });
  clock.advance(61_000);
  await s.drain();
  clock.set('2026-12-03T00:00:30Z'); // the local (UTC) day is over
  await s.drain();
  return account;
}

const subscribeTo = (destination: object) => async (accountId: string) => {
  const dest = (await s.call('POST', `/v1/accounts/${accountId}/destinations`, destination)).json;
  expect((await s.call('POST', `/v1/accounts/${accountId}/subscriptions`, { platform: 'openai', destination: dest.id })).status).toBe(201);
};

describe('the budget message in Slack', () => {
  let slack: Awaited<ReturnType<typeof startSlackApi>>;
  beforeEach(async () => {
    clock.set('2026-12-02T09:00:00Z');
    slack = await startSlackApi();
    s = await testService({ SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_API_URL: slack.url, ALERT_GROUP_WAIT_SECONDS: '60', MAX_ALERTS_PER_DAY: '1' }, { clock });
  });
  afterEach(async () => {
    await s.dispose();
    await slack.close();
  });

  const budgetMessage = () => {
    const m = slack.topLevel().find((x) => x.text.includes('more policy change'))!;
    return { ts: m.ts, text: m.text, blocks: m.blocks };
  };
  const actionsOf = (blocks: any[]) => blocks.filter((b) => b.type === 'actions');
  const textOf = (blocks: any[]) => blocks.map((b) => b.text?.text ?? (b.elements ?? []).map((e: any) => (typeof e.text === 'string' ? e.text : '')).join(' ')).join('\n');
  const interact = (payload: object) => {
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    return s.call('POST', '/slack/interactions', body, null, slackHeaders(body, { now: clock() }));
  };
  const MARIA = { id: 'U0MARIA01', username: 'maria', name: 'maria', team_id: 'T0001' };
  const press = (message: { ts: string; text: string; blocks: any[] }, row: any, actionId: string) =>
    interact({
      type: 'block_actions',
      team: { id: 'T0001', domain: 'acme' },
      user: MARIA,
      api_app_id: 'A0001',
      token: 'legacy',
      container: { type: 'message', message_ts: message.ts, channel_id: 'C0001', is_ephemeral: false },
      trigger_id: '1234.5678.abcd',
      channel: { id: 'C0001', name: 'legal' },
      message: { type: 'message', ts: message.ts, text: message.text, blocks: message.blocks },
      response_url: slack.responseUrl('interaction'),
      actions: [{ action_ts: '1733130001.0001', type: 'button', action_id: actionId, block_id: row.block_id, value: row.elements[0].value }],
    });

  it('carries Reviewed, Not applicable and Assign under each listed change', async () => {
    await overBudget(subscribeTo({ type: 'slack', team: 'T0001', channel: 'C0001' }), 3);
    const message = budgetMessage();
    expect(message.text).toContain('3 more policy changes today');
    const rows = actionsOf(message.blocks);
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row.elements.map((e: any) => e.text?.text ?? e.placeholder.text)).toEqual(['Reviewed', 'Not applicable', 'Assign']);
  });

  it('records Reviewed from it as from an alert, and edits it keeping the other changes’ buttons', async () => {
    const account = await overBudget(subscribeTo({ type: 'slack', team: 'T0001', channel: 'C0001' }), 3);
    const message = budgetMessage();
    const [first, second, third] = actionsOf(message.blocks);
    clock.set('2026-12-03T09:14:00Z');
    expect((await press(message, second, 'review_reviewed')).status).toBe(200);
    await expect.poll(() => slack.calls.filter((c) => c.method === 'chat.update').length).toBe(1);
    const update = slack.calls.find((c) => c.method === 'chat.update')!.args;
    expect(update).toMatchObject({ channel: 'C0001', ts: message.ts });
    expect(textOf(update.blocks)).toContain('Reviewed by <@U0MARIA01>, 3 Dec 09:14');
    expect(actionsOf(update.blocks)).toEqual([first, third]);
    const [review] = (await s.call('GET', `/v1/accounts/${account.id}/reviews?status=reviewed`)).json.data;
    expect(review).toMatchObject({ change: 'evt_2', by: { name: 'maria', id: 'U0MARIA01', via: 'slack' }, at: '2026-12-03T09:14:00.000Z' });
    expect(await historyRows()).toBe(1);
  });

  it('stays one message within Slack’s 50 blocks: the changes past the room for buttons link to their review page', async () => {
    const account = await overBudget(subscribeTo({ type: 'slack', team: 'T0001', channel: 'C0001' }), 40);
    const budgets = slack.topLevel().filter((x) => x.text.includes('more policy change'));
    expect(budgets).toHaveLength(1);
    const { blocks } = budgets[0]!;
    expect(blocks.length).toBeLessThanOrEqual(50);
    const withButtons = actionsOf(blocks).length;
    expect(withButtons).toBeGreaterThanOrEqual(20);
    const links = [...textOf(blocks).matchAll(/<(https:\/\/clausewatch\.test\/review\/[^|>]+)\|Review>/g)].map((m) => m[1]!);
    expect(withButtons + links.length).toBe(40);
    // The last change, the oldest, is linked; its page records a decision in the same trail.
    expect(textOf(blocks)).toMatch(/Change 40 · <https:\/\/clausewatch\.test\/review\/[^|>]+\|Review>/);
    const path = links.at(-1)!.replace('https://clausewatch.test', '');
    expect((await s.call('GET', path, undefined, null)).text).toContain('Change 40');
    const posted = await s.call('POST', path, new URLSearchParams({ status: 'reviewed', name: 'Maria Rossi' }).toString(), null, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(posted.status).toBe(303);
    const [review] = (await s.call('GET', `/v1/accounts/${account.id}/reviews?status=reviewed`)).json.data;
    expect(review).toMatchObject({ change: 'evt_40', by: { name: 'Maria Rossi', via: 'page' } });
  });
});

describe('the budget message in Discord', () => {
  let discord: Awaited<ReturnType<typeof startDiscordApi>>;
  const keys = discordKeys();
  beforeEach(async () => {
    clock.set('2026-12-02T09:00:00Z');
    discord = await startDiscordApi();
    s = await testService(
      { DISCORD_APPLICATION_ID: '999', DISCORD_PUBLIC_KEY: keys.publicKeyHex, DISCORD_BOT_TOKEN: 'discord-bot-token', DISCORD_API_URL: discord.url, ALERT_GROUP_WAIT_SECONDS: '60', MAX_ALERTS_PER_DAY: '1' },
      { clock },
    );
  });
  afterEach(async () => {
    await s.dispose();
    await discord.close();
  });

  const MARIA = { id: '420000000000000001', username: 'maria', global_name: 'Maria' };
  const interact = (payload: unknown) => {
    const body = JSON.stringify(payload);
    return s.call('POST', '/discord/interactions', body, null, keys.headers(body, String(Math.floor(clock() / 1000))));
  };
  const component = (message: any, customId: string, opts: { permissions?: string; type?: number; data?: object } = {}) => ({
    id: '77',
    application_id: '999',
    type: opts.type ?? 3,
    token: 'review-interaction-token',
    version: 1,
    guild_id: GUILD,
    channel_id: CHANNEL,
    channel: { id: CHANNEL, type: 0 },
    member: { permissions: opts.permissions ?? MANAGE_GUILD, user: MARIA, roles: [] },
    message,
    data: { custom_id: customId, component_type: 2, ...opts.data },
  });
  const budgetMessage = () => {
    const i = discord.messages.findIndex((m) => m.channel === CHANNEL && m.body.content?.includes('more policy change'));
    const m = discord.messages[i]!;
    return { id: String(i + 1), channel_id: CHANNEL, content: m.body.content, embeds: m.body.embeds, components: m.body.components };
  };
  const subscribe = subscribeTo({ type: 'discord', guild: GUILD, channel: CHANNEL });
  /** Chooses the change titled `title` in the budget message's menu: the answer, to the chooser only. */
  async function choose(message: any, title: string, permissions?: string) {
    const select = message.components.flatMap((r: any) => r.components).find((c: any) => c.options.some((o: any) => o.label.endsWith(title)));
    const option = select.options.find((o: any) => o.label.endsWith(title));
    return interact(component(message, select.custom_id, { permissions, data: { component_type: 3, values: [option.value] } }));
  }
  const optionLabels = (components: any[]) => components.flatMap((r: any) => r.components.flatMap((c: any) => c.options.map((o: any) => o.label)));

  it('offers a menu of the changes awaiting review; choosing one answers the chooser alone with its three controls', async () => {
    await overBudget(subscribe, 3);
    const message = budgetMessage();
    expect(message.components).toHaveLength(1);
    expect(message.components[0].components[0]).toMatchObject({ type: 3, min_values: 1, max_values: 1 });
    expect(optionLabels(message.components)).toEqual(['OpenAI: Change 01', 'OpenAI: Change 02', 'OpenAI: Change 03']);
    const r = await choose(message, 'Change 02');
    expect(r.json).toMatchObject({ type: 4, data: { flags: 64, allowed_mentions: { parse: [] } } });
    expect(r.json.data.embeds[0].title).toBe('Change 02');
    const buttons = r.json.data.components[0].components;
    expect(buttons.map((b: any) => b.label)).toEqual(['Reviewed', 'Not applicable', 'Assign']);
    // The controls name the budget message, which a decision edits.
    for (const b of buttons) expect(b.custom_id.endsWith(`:${message.id}`)).toBe(true);
    expect(await historyRows()).toBe(0);
  });

  it('records a decision from those controls as from an alert, answers UPDATE_MESSAGE, and edits the budget message keeping the other changes in its menu', async () => {
    const account = await overBudget(subscribe, 3);
    const message = budgetMessage();
    const controls = (await choose(message, 'Change 02')).json.data;
    const controlsMessage = { id: '50', channel_id: CHANNEL, content: '', embeds: controls.embeds, components: controls.components, flags: 64 };
    clock.set('2026-12-03T09:14:00Z');
    const reviewed = controls.components[0].components.find((b: any) => b.label === 'Reviewed').custom_id;
    const r = await interact(component(controlsMessage, reviewed));
    expect(r.json.type).toBe(7);
    expect(r.json.data.embeds[0].fields.find((f: any) => f.name === 'Review').value).toBe(`Reviewed by <@${MARIA.id}>, 3 Dec 09:14`);
    expect(r.json.data.components).toEqual([]);
    await expect.poll(() => discord.edits.length).toBe(1);
    expect(discord.edits[0]!.path).toBe(`/api/v10/channels/${CHANNEL}/messages/${message.id}`);
    const edited = discord.edits[0]!.body;
    expect(optionLabels(edited.components)).toEqual(['OpenAI: Change 01', 'OpenAI: Change 03']);
    expect(edited.embeds[0].description).toContain(`Reviewed by <@${MARIA.id}>, 3 Dec 09:14`);
    const [review] = (await s.call('GET', `/v1/accounts/${account.id}/reviews?status=reviewed`)).json.data;
    expect(review).toMatchObject({ change: 'evt_2', by: { name: 'Maria', id: MARIA.id, via: 'discord' } });
  });

  it('asks the reason of Not applicable from those controls in a modal, and edits the budget message on its submission', async () => {
    const account = await overBudget(subscribe, 2);
    const message = budgetMessage();
    const controls = (await choose(message, 'Change 01')).json.data;
    const controlsMessage = { id: '50', channel_id: CHANNEL, content: '', embeds: controls.embeds, components: controls.components, flags: 64 };
    const opened = await interact(component(controlsMessage, controls.components[0].components.find((b: any) => b.label === 'Not applicable').custom_id));
    expect(opened.json.type).toBe(9);
    const submitted = await interact(component(controlsMessage, opened.json.data.custom_id, { type: 5, data: { components: [{ type: 1, components: [{ type: 4, custom_id: 'reason', value: 'Consumer app only' }] }] } }));
    expect(submitted.json.type).toBe(7);
    await expect.poll(() => discord.edits.length).toBe(1);
    expect(optionLabels(discord.edits[0]!.body.components)).toEqual(['OpenAI: Change 02']);
    expect((await s.call('GET', `/v1/accounts/${account.id}/reviews?status=not_applicable`)).json.data[0]).toMatchObject({ change: 'evt_1', reason: 'Consumer app only' });
  });

  it('refuses members who may not manage subscriptions, at the menu and at the controls, and records nothing', async () => {
    await overBudget(subscribe, 2);
    const message = budgetMessage();
    const refused = await choose(message, 'Change 01', '0');
    expect(refused.json).toMatchObject({ type: 4, data: { flags: 64, content: expect.stringContaining('Manage Server or Manage Channels') } });
    const controls = (await choose(message, 'Change 01')).json.data;
    const reviewed = controls.components[0].components.find((b: any) => b.label === 'Reviewed').custom_id;
    const sneaked = await interact(component({ id: '50', channel_id: CHANNEL, embeds: controls.embeds, components: controls.components }, reviewed, { permissions: '0' }));
    expect(sneaked.json).toMatchObject({ type: 4, data: { content: expect.stringContaining('Manage Server or Manage Channels') } });
    expect(await historyRows()).toBe(0);
    expect(discord.edits).toEqual([]);
  });

  it('holds 25 changes a menu: 30 changes are two menus, within Discord’s limits', async () => {
    await overBudget(subscribe, 30);
    const message = budgetMessage();
    expect(message.components.map((r: any) => r.components[0].options.length)).toEqual([25, 5]);
    expect(message.components[1].components[0].placeholder).toBe('Review a change… (26–30 of 30)');
  });
});

describe('the budget message by email and in Teams', () => {
  let smtp: TestSmtpServer;
  let teams: Awaited<ReturnType<typeof startTeamsWebhook>>;
  beforeEach(async () => {
    clock.set('2026-12-02T09:00:00Z');
    smtp = await startSmtpServer();
    teams = await startTeamsWebhook();
    s = await testService({ SMTP_URL: smtp.url, WEBHOOK_ALLOW_PRIVATE: 'true', ALERT_GROUP_WAIT_SECONDS: '60', MAX_ALERTS_PER_DAY: '1' }, { clock });
  });
  afterEach(async () => {
    await s.dispose();
    await smtp.close();
    await teams.close();
  });

  it('links each change of the mail to its review page, whose decision is kept in the trail', async () => {
    const account = await overBudget(async (accountId) => {
      const dest = (await s.call('POST', `/v1/accounts/${accountId}/destinations`, { type: 'email', address: 'legal@acme.test' })).json;
      await s.call('POST', `/v1/accounts/${accountId}/subscriptions`, { platform: 'openai', destination: dest.id });
    }, 3);
    const mails = await smtp.waitFor(2);
    const mail = mails.find((m) => m.parsed.subject === "3 more policy changes today (past today's alert limit)")!;
    const links = [...(mail.parsed.html as string).matchAll(/href="https:\/\/clausewatch\.test(\/review\/[^"]+)"/g)].map((m) => m[1]!);
    expect(links).toHaveLength(3);
    expect((mail.parsed.text as string).match(/^Review: https:\/\/clausewatch\.test\/review\//gm)).toHaveLength(3);
    const posted = await s.call('POST', links[2]!, new URLSearchParams({ status: 'not_applicable', name: 'Maria Rossi', reason: 'Not our product' }).toString(), null, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(posted.status).toBe(303);
    expect((await s.call('GET', `/v1/accounts/${account.id}/reviews?status=not_applicable`)).json.data[0]).toMatchObject({ change: 'evt_3', by: { name: 'Maria Rossi', via: 'page' } });
  });

  it('gives each change of the Teams card a Review button to its page', async () => {
    await overBudget(subscribeTo({ type: 'teams', webhook_url: teams.url }), 3);
    await expect.poll(() => teams.received.length).toBe(2);
    const card = teams.received[1]!.body.attachments[0].content;
    const urls: string[] = [];
    const walk = (el: any) => {
      if (el.type === 'Action.OpenUrl' && el.title === 'Review') urls.push(el.url);
      for (const x of [...(el.items ?? []), ...(el.actions ?? [])]) walk(x);
    };
    card.body.forEach(walk);
    expect(urls).toHaveLength(3);
    const page = await s.call('GET', urls[0]!.replace('https://clausewatch.test', ''), undefined, null);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Change 01');
  });
});
