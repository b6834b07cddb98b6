import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { testService, type TestService } from '../support/service.js';
import { startSlackApi } from '../support/slack-api.js';
import { SLACK_SIGNING_SECRET, slackHeaders } from '../support/slack-sign.js';
import { fixedClock } from '../support/clock.js';
import { makeEvent } from '../support/app.js';

let slack: Awaited<ReturnType<typeof startSlackApi>>;
let s: TestService;
const clock = fixedClock('2026-12-02T09:00:00Z');

beforeEach(async () => {
  clock.set('2026-12-02T09:00:00Z');
  slack = await startSlackApi();
  s = await testService({ SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_API_URL: slack.url, ALERT_GROUP_WAIT_SECONDS: '60' }, { clock });
});
afterEach(async () => {
  await s.dispose();
  await slack.close();
});

const historyRows = async () => (await s.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM review_history`))[0]!.n;
const calls = (method: string) => slack.calls.filter((c) => c.method === method);

/** A monitor account whose Slack channel C0001 was alerted to `events`; returns the posted message. */
async function alertedChannel(events: any[], plan: 'monitor' | 'free' = 'monitor') {
  const account = (await s.call('POST', '/v1/accounts', { name: 'Acme', plan: 'monitor' })).json;
  const dest = (await s.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'slack', team: 'T0001', channel: 'C0001' })).json;
  expect((await s.call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform: 'openai', destination: dest.id })).status).toBe(201);
  await s.ingest({ events: events.map((e) => makeEvent({ detected_at: '2026-12-02T08:30:00Z', ...e })) });
  clock.advance(61_000);
  await s.drain();
  const [posted] = calls('chat.postMessage');
  if (plan === 'free') await s.call('PATCH', `/v1/accounts/${account.id}`, { plan: 'free' });
  const ts = slack.topLevel()[0]!.ts;
  return { account, message: { ts, text: posted!.args.text, blocks: posted!.args.blocks as any[] } };
}

const actionsOf = (blocks: any[]) => blocks.filter((b) => b.type === 'actions');
const textOf = (blocks: any[]) => blocks.flatMap((b) => [b.text?.text ?? '', ...(b.elements ?? []).map((e: any) => e.text ?? '')]).join('\n');

/** POSTs an interaction payload as Slack does: form-encoded `payload`, signed. */
async function interact(payload: object, headers?: Record<string, string>) {
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  return s.call('POST', '/slack/interactions', body, null, headers ?? slackHeaders(body, { now: clock() }));
}

const USERS = { maria: { id: 'U0MARIA01', username: 'maria', name: 'maria', team_id: 'T0001' }, jon: { id: 'U0JON0001', username: 'jon', name: 'jon', team_id: 'T0001' } };

function blockAction(message: { ts: string; text: string; blocks: any[] }, action: object, user = USERS.maria) {
  return {
    type: 'block_actions',
    team: { id: 'T0001', domain: 'acme' },
    user,
    api_app_id: 'A0001',
    token: 'legacy',
    container: { type: 'message', message_ts: message.ts, channel_id: 'C0001', is_ephemeral: false },
    trigger_id: '1234.5678.abcd',
    channel: { id: 'C0001', name: 'legal' },
    message: { type: 'message', ts: message.ts, text: message.text, blocks: message.blocks },
    response_url: slack.responseUrl('interaction'),
    actions: [{ action_ts: '1733130001.0001', ...action }],
  };
}

const press = (message: { ts: string; text: string; blocks: any[] }, row: any, actionId: string, user = USERS.maria, extra: object = {}) =>
  interact(blockAction(message, { type: 'button', action_id: actionId, block_id: row.block_id, value: row.elements[0].value, ...extra }, user));

function submission(privateMetadata: string, reason: string, user = USERS.jon) {
  return {
    type: 'view_submission',
    team: { id: 'T0001', domain: 'acme' },
    user,
    api_app_id: 'A0001',
    token: 'legacy',
    trigger_id: '1234.5678.efgh',
    view: {
      id: 'V1',
      type: 'modal',
      callback_id: 'review_reason',
      private_metadata: privateMetadata,
      state: { values: { reason: { reason: { type: 'plain_text_input', value: reason } } } },
      hash: '1',
      team_id: 'T0001',
      app_id: 'A0001',
      bot_id: 'BBOT',
    },
  };
}

describe('review buttons in Slack alerts', () => {
  it('carry Reviewed, Not applicable and Assign under each change', async () => {
    const { message } = await alertedChannel([{ id: 'evt_a', title: 'First' }, { id: 'evt_b', title: 'Second' }]);
    const rows = actionsOf(message.blocks);
    expect(rows).toHaveLength(2);
    expect(rows[0].elements.map((e: any) => [e.type, e.text?.text ?? e.placeholder.text])).toEqual([
      ['button', 'Reviewed'],
      ['button', 'Not applicable'],
      ['users_select', 'Assign'],
    ]);
  });

  it('record Reviewed, acked at once, and edit the message to say who and when, without that change’s buttons', async () => {
    const { account, message } = await alertedChannel([{ id: 'evt_a', title: 'First' }, { id: 'evt_b', title: 'Second' }]);
    const [first, second] = actionsOf(message.blocks);
    clock.set('2026-12-02T09:14:00Z');
    const r = await press(message, first, 'review_reviewed');
    expect(r.status).toBe(200);
    await expect.poll(() => calls('chat.update').length).toBe(1);
    const update = calls('chat.update')[0]!.args;
    expect(update).toMatchObject({ channel: 'C0001', ts: message.ts });
    expect(textOf(update.blocks)).toContain('Reviewed by <@U0MARIA01>, 2 Dec 09:14');
    expect(actionsOf(update.blocks).map((b: any) => b.block_id)).toEqual([second.block_id]);
    const list = (await s.call('GET', `/v1/accounts/${account.id}/reviews?status=reviewed`)).json.data;
    expect(list).toEqual([expect.objectContaining({ status: 'reviewed', by: { name: 'maria', id: 'U0MARIA01', via: 'slack' }, at: '2026-12-02T09:14:00.000Z' })]);
  });

  it('ask for the reason of Not applicable in a modal opened with the trigger_id, and refuse an empty one in the modal', async () => {
    const { account, message } = await alertedChannel([{ id: 'evt_a', title: 'First *bold* <!channel>' }]);
    const [row] = actionsOf(message.blocks);
    expect((await press(message, row, 'review_not_applicable')).status).toBe(200);
    await expect.poll(() => calls('views.open').length).toBe(1);
    const opened = calls('views.open')[0]!.args;
    expect(opened.trigger_id).toBe('1234.5678.abcd');
    expect(opened.view.callback_id).toBe('review_reason');
    // The change's title is escaped in the modal: no @channel from an event's text.
    expect(JSON.stringify(opened.view.blocks)).toContain('&lt;!channel&gt;');
    expect(await historyRows()).toBe(0);

    const empty = await interact(submission(opened.view.private_metadata, '  '));
    expect(empty.json).toEqual({ response_action: 'errors', errors: { reason: expect.stringContaining('Give a reason') } });
    expect(await historyRows()).toBe(0);

    clock.set('2026-12-02T09:20:00Z');
    const done = await interact(submission(opened.view.private_metadata, 'We use the API, not the consumer app.'));
    expect(done.status).toBe(200);
    expect(done.text).toBe('');
    await expect.poll(() => calls('chat.update').length).toBe(1);
    const update = calls('chat.update')[0]!.args;
    expect(textOf(update.blocks)).toContain('Not applicable by <@U0JON0001>, 2 Dec 09:20: We use the API, not the consumer app.');
    expect(actionsOf(update.blocks)).toEqual([]);
    const [review] = (await s.call('GET', `/v1/accounts/${account.id}/reviews`)).json.data;
    expect(review).toMatchObject({ status: 'not_applicable', reason: 'We use the API, not the consumer app.', by: { id: 'U0JON0001' } });
  });

  it('assign a change with the users select: it stays awaiting review, with its buttons and who has it', async () => {
    const { account, message } = await alertedChannel([{ id: 'evt_a' }]);
    const [row] = actionsOf(message.blocks);
    clock.set('2026-12-02T09:14:00Z');
    await interact(blockAction(message, { type: 'users_select', action_id: 'review_assign', block_id: row.block_id, selected_user: 'U0JON0001' }));
    await expect.poll(() => calls('chat.update').length).toBe(1);
    const update = calls('chat.update')[0]!.args;
    expect(textOf(update.blocks)).toContain('Assigned to <@U0JON0001> by <@U0MARIA01>, 2 Dec 09:14');
    expect(actionsOf(update.blocks)).toHaveLength(1);
    expect((await s.call('GET', `/v1/accounts/${account.id}/reviews?status=assigned`)).json.data[0].assigned_to).toEqual({ name: 'U0JON0001', id: 'U0JON0001' });
  });

  it('record the assignee by the name users.info gives, with the id, in the message, the JSON and the CSV', async () => {
    slack.users.set('U0JON0001', { name: 'jon', real_name: 'Jon Smith', profile: { display_name: 'jon', real_name: 'Jon Smith' } });
    const { account, message } = await alertedChannel([{ id: 'evt_a' }]);
    const [row] = actionsOf(message.blocks);
    clock.set('2026-12-02T09:14:00Z');
    await interact(blockAction(message, { type: 'users_select', action_id: 'review_assign', block_id: row.block_id, selected_user: 'U0JON0001' }));
    await expect.poll(() => calls('chat.update').length).toBe(1);
    expect(calls('users.info').map((c) => c.args.user)).toEqual(['U0JON0001']);
    expect(textOf(calls('chat.update')[0]!.args.blocks)).toContain('Assigned to <@U0JON0001> by <@U0MARIA01>, 2 Dec 09:14');
    const [review] = (await s.call('GET', `/v1/accounts/${account.id}/reviews?status=assigned`)).json.data;
    expect(review.assigned_to).toEqual({ name: 'Jon Smith', id: 'U0JON0001' });
    // The deciding user's name is the interaction payload's.
    expect(review.by).toEqual({ name: 'maria', id: 'U0MARIA01', via: 'slack' });
    const csv = (await s.call('GET', `/v1/accounts/${account.id}/reviews?format=csv`)).text.split('\r\n')[1]!;
    expect(csv.endsWith(',assigned,maria (Slack U0MARIA01),2026-12-02T09:14:00.000Z,,Jon Smith (U0JON0001)')).toBe(true);
  });

  it('keep the assignee’s user id as the name, with no error, when users.info is refused (missing_scope) or knows no such user', async () => {
    const { account, message } = await alertedChannel([{ id: 'evt_a' }, { id: 'evt_b' }]);
    const [first, second] = actionsOf(message.blocks);
    slack.state.failNext.set('users.info', 'missing_scope');
    await interact(blockAction(message, { type: 'users_select', action_id: 'review_assign', block_id: first.block_id, selected_user: 'U0JON0001' }));
    await expect.poll(() => calls('chat.update').length).toBe(1);
    await interact(blockAction(message, { type: 'users_select', action_id: 'review_assign', block_id: second.block_id, selected_user: 'U0GONE001' }));
    await expect.poll(() => calls('chat.update').length).toBe(2);
    expect(calls('users.info')).toHaveLength(2);
    const list = (await s.call('GET', `/v1/accounts/${account.id}/reviews?status=assigned`)).json.data;
    expect(list.map((r: any) => r.assigned_to).sort((a: any, b: any) => a.id.localeCompare(b.id))).toEqual([
      { name: 'U0GONE001', id: 'U0GONE001' },
      { name: 'U0JON0001', id: 'U0JON0001' },
    ]);
    expect(slack.responses).toEqual([]); // nobody was told of an error
    const csv = (await s.call('GET', `/v1/accounts/${account.id}/reviews?format=csv`)).text;
    expect(csv).toMatch(/,U0JON0001\r\n/);
  });

  it('refuse a forged signature with 401 and record nothing', async () => {
    const { message } = await alertedChannel([{ id: 'evt_a' }]);
    const [row] = actionsOf(message.blocks);
    const body = new URLSearchParams({ payload: JSON.stringify(blockAction(message, { type: 'button', action_id: 'review_reviewed', block_id: row.block_id, value: row.elements[0].value })) }).toString();
    expect((await interact(JSON.parse(new URLSearchParams(body).get('payload')!), slackHeaders(body, { now: clock(), secret: 'forged-secret' }))).status).toBe(401);
    expect((await interact(JSON.parse(new URLSearchParams(body).get('payload')!), { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(401);
    await new Promise((r) => setTimeout(r, 100));
    expect(await historyRows()).toBe(0);
    expect(calls('chat.update')).toEqual([]);
  });

  it('refuse a decision once the account left the monitor plan, telling only the one who pressed, and record nothing', async () => {
    const { message } = await alertedChannel([{ id: 'evt_a' }], 'free');
    const [row] = actionsOf(message.blocks);
    await press(message, row, 'review_reviewed');
    await expect.poll(() => slack.responses.length).toBe(1);
    expect(slack.responses[0]!.body).toMatchObject({ response_type: 'ephemeral', replace_original: false, text: expect.stringContaining('monitor plan') });
    expect(await historyRows()).toBe(0);
    expect(calls('chat.update')).toEqual([]);
  });

  it('keep two decisions at once on one change, the later one current, and a deleted message is no error', async () => {
    const { account, message } = await alertedChannel([{ id: 'evt_a' }]);
    const [row] = actionsOf(message.blocks);
    slack.deleteMessage('C0001', message.ts);
    await Promise.all([press(message, row, 'review_reviewed', USERS.maria), press(message, row, 'review_reviewed', USERS.jon)]);
    await expect.poll(historyRows).toBe(2);
    const rows = await s.database.db.all<{ actor_name: string }>(sql`SELECT actor_name FROM review_history ORDER BY id`);
    const [current] = (await s.call('GET', `/v1/accounts/${account.id}/reviews`)).json.data;
    expect(current.by.name).toBe(rows[1]!.actor_name);
    expect(calls('chat.update')).toEqual([]);
  });
});
