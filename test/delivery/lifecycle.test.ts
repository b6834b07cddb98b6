import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { testService, type TestService } from '../support/service.js';
import { startSlackApi } from '../support/slack-api.js';
import { startDiscordApi } from '../support/discord-api.js';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { fixedClock } from '../support/clock.js';
import { makeEvent } from '../support/app.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';
import { startTeamsWebhook } from '../support/teams-webhook.js';

let slack: Awaited<ReturnType<typeof startSlackApi>>;
let discord: Awaited<ReturnType<typeof startDiscordApi>>;
let smtp: TestSmtpServer;
let s: TestService;
const clock = fixedClock('2026-11-25T09:00:00Z');

beforeEach(async () => {
  clock.set('2026-11-25T09:00:00Z');
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
      WEBHOOK_ALLOW_PRIVATE: 'true',
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

const text = (blocks: any[]) => blocks.map((b) => b.text?.text ?? b.elements?.map((e: any) => e.text).join(' ') ?? '').join('\n');
const hours = (h: number) => clock.advance(h * 3_600_000);

/**
 * The ChatGPT terms first recorded on 25 Nov (version A), changed on 28 Nov (A→B): the alert
 * every test starts from, delivered.
 */
async function changeAlerted() {
  expect((await s.ingest(version('first', 'f'.repeat(64), A, { kind: 'first_recorded' }))).status).toBe(202);
  clock.set('2026-11-28T09:00:00Z');
  await deliver(version('change', A, B));
}

describe('message lifecycle in Slack', () => {
  it('edits the alert of a reverted change to say so and posts the reversion as a reply in its thread, not as a new message', async () => {
    await slackChannel();
    await changeAlerted();
    expect(slack.topLevel()).toHaveLength(1);
    const original = slack.topLevel()[0]!;
    clock.set('2026-11-30T10:00:00Z');
    await deliver(version('undo', B, A));

    const update = slack.calls.find((c) => c.method === 'chat.update')!;
    expect(update.args).toMatchObject({ channel: 'C0001', ts: original.ts });
    const edited = text(slack.message('C0001', original.ts)!.blocks);
    expect(edited).toContain('~*Arbitration clause replaced*~');
    expect(edited).toContain('Reverted on 30 Nov 2026: the clause is back to the version of 25 Nov 2026');
    const replies = slack.replies(original.ts);
    expect(replies).toHaveLength(1);
    expect(text(replies[0]!.blocks)).toContain('Reverted');
    expect(text(replies[0]!.blocks)).toContain('Arbitration clause restored');
    expect(slack.topLevel()).toHaveLength(1);
    expect((await outbox()).map((r) => [r.kind, r.status, r.last_error])).toEqual([
      ['alert', 'sent', null],
      ['follow_up', 'sent', null],
    ]);
  });

  it('edits the alert of a clause superseded by a newer version and threads the new version under it', async () => {
    await slackChannel();
    await changeAlerted();
    const original = slack.topLevel()[0]!;
    hours(24);
    await deliver(version('newer', B, C, { title: 'Arbitration moved to Delaware' }));

    const edited = text(slack.message('C0001', original.ts)!.blocks);
    expect(edited).toContain('~*Arbitration clause replaced*~');
    expect(edited).toContain('Superseded on 29 Nov 2026: the new version is in the thread');
    expect(slack.replies(original.ts).map((r) => text(r.blocks))).toEqual([expect.stringContaining('Arbitration moved to Delaware')]);
    expect(slack.topLevel()).toHaveLength(1);
  });

  it('threads two superseding changes two seconds apart, before the dispatcher ran, in the order they arrived', async () => {
    await slackChannel();
    await changeAlerted();
    const original = slack.topLevel()[0]!;
    hours(1);
    // Each request threads its own follow-ups (a chat alert exists: its decisions are its own rows).
    expect((await s.ingest(version('newer', B, C, { title: 'Arbitration moved to Delaware' }))).status).toBe(202);
    clock.advance(2_000);
    // With an outage notice beside it, which cancels per destination in the request too.
    expect((await s.ingest({ events: [
      version('newest', C, 'd'.repeat(64), { title: 'Arbitration moved to Texas' }),
      makeEvent({ id: 'outage', kind: 'unreachable', document: { title: 'Other document' }, detected_at: new Date(clock()).toISOString() }),
    ] })).status).toBe(202);
    clock.advance(61_000);
    await s.drain();
    expect(slack.replies(original.ts).map((r) => text(r.blocks))).toEqual([
      expect.stringContaining('Arbitration moved to Delaware'),
      expect.stringContaining('Arbitration moved to Texas'),
    ]);
    // The outage is the one new message: neither change became an alert of its own.
    expect(slack.topLevel()).toHaveLength(2);
    expect(text(slack.topLevel()[1]!.blocks)).not.toContain('Arbitration moved');
  });

  it('takes an earlier request’s follow-up as the latest word of a later one, both in before the dispatcher ran', async () => {
    await slackChannel();
    expect((await s.ingest(version('first', 'f'.repeat(64), A, { kind: 'first_recorded' }))).status).toBe(202);
    clock.set('2026-11-28T09:00:00Z');
    // One alert of two clauses of the document.
    await deliver({ events: [version('change', A, B), version('fees', B, C, { title: 'Fees raised', provision: { id: 'sec-9', title: '9. Fees' } })] });
    const original = slack.topLevel()[0]!;
    hours(1);
    expect((await s.ingest(version('newer', C, 'd'.repeat(64), { title: 'Arbitration moved to Delaware' }))).status).toBe(202);
    clock.advance(2_000);
    expect((await s.ingest(version('fees_again', 'd'.repeat(64), 'e'.repeat(64), { title: 'Fees raised again', provision: { id: 'sec-9', title: '9. Fees' } }))).status).toBe(202);
    clock.advance(61_000);
    await s.drain();
    // The first follows up the alert; its reply is then the latest word about the document, which
    // says nothing of the fees, so the second is a new message.
    expect(slack.replies(original.ts).map((r) => text(r.blocks))).toEqual([expect.stringContaining('Arbitration moved to Delaware')]);
    expect(slack.topLevel()).toHaveLength(2);
    expect(text(slack.topLevel()[1]!.blocks)).toContain('Fees raised again');
  });

  it('posts a change of the same clause as a new message once another alert about the document came after (the first is no longer the latest word)', async () => {
    await slackChannel();
    await changeAlerted();
    hours(2);
    await deliver(version('other-clause', B, C, { title: 'Liability cap lowered', provision: { id: 'sec-9', title: '9. Liability' } }));
    hours(2);
    await deliver(version('newer', C, 'd'.repeat(64), { title: 'Arbitration moved to Delaware' }));
    expect(slack.calls.filter((c) => c.method === 'chat.update')).toHaveLength(0);
    expect(slack.topLevel().map((m) => m.text)).toEqual([
      expect.stringContaining('Arbitration clause replaced'),
      expect.stringContaining('Liability cap lowered'),
      expect.stringContaining('Arbitration moved to Delaware'),
    ]);
  });

  it('takes an alert deleted in the channel as nothing to edit, not an error: recorded, not retried, the reversion posted as a new message', async () => {
    await slackChannel();
    await changeAlerted();
    const original = slack.topLevel()[0]!;
    slack.deleteMessage('C0001', original.ts);
    clock.set('2026-11-30T10:00:00Z');
    await deliver(version('undo', B, A));

    expect(slack.calls.filter((c) => c.method === 'chat.update')).toHaveLength(0);
    const posts = slack.calls.filter((c) => c.method === 'chat.postMessage');
    expect(posts).toHaveLength(2);
    expect(posts[1]!.args.thread_ts).toBeUndefined();
    expect(text(posts[1]!.args.blocks)).toContain('Arbitration clause restored');
    const rows = await s.database.db.all<{ status: string; attempts: number; last_error: string }>(sql`SELECT status, attempts, last_error FROM outbox WHERE kind = 'follow_up'`);
    expect(rows).toEqual([{ status: 'sent', attempts: 1, last_error: expect.stringContaining('was deleted in the channel: not edited') }]);
    // And once more through the dispatcher: nothing is due, nothing is sent again.
    await s.drain();
    expect(slack.calls).toHaveLength(2);
  });

  it('resumes a follow-up whose reply failed after the edit: the reply is retried, the edit is not made twice', async () => {
    await slackChannel();
    await changeAlerted();
    const original = slack.topLevel()[0]!;
    clock.set('2026-11-30T10:00:00Z');
    slack.state.failNext.set('chat.postMessage', 'internal_error');
    await deliver(version('undo', B, A));
    expect(slack.calls.filter((c) => c.method === 'chat.update')).toHaveLength(1);
    expect(slack.replies(original.ts)).toHaveLength(0);
    const [row] = await s.database.db.all<{ status: string; parts_sent: number }>(sql`SELECT status, parts_sent FROM outbox WHERE kind = 'follow_up'`);
    expect(row).toEqual({ status: 'retrying', parts_sent: 1 });

    clock.advance(3_600_000);
    await s.drain();
    expect(slack.calls.filter((c) => c.method === 'chat.update')).toHaveLength(1);
    expect(slack.replies(original.ts)).toHaveLength(1);
    expect((await outbox()).map((r) => r.status)).toEqual(['sent', 'sent']);
  });

  it('escapes event text in the edited alert and the reply (no mention, no link it did not contain)', async () => {
    await slackChannel();
    expect((await s.ingest(version('first', 'f'.repeat(64), A, { kind: 'first_recorded' }))).status).toBe(202);
    clock.set('2026-11-28T09:00:00Z');
    await deliver(version('change', A, B, { title: '<!channel> ~struck~ <https://evil.test|click> & co' }));
    const original = slack.topLevel()[0]!;
    clock.set('2026-11-30T10:00:00Z');
    await deliver(version('undo', B, A, { title: '<@U123> restored <!here>' }));
    const edited = text(slack.message('C0001', original.ts)!.blocks);
    expect(edited).toContain('~*&lt;!channel&gt; ∼struck∼ &lt;https://evil.test|click&gt; &amp; co*~');
    const reply = text(slack.replies(original.ts)[0]!.blocks);
    expect(reply).toContain('&lt;@U123&gt; restored &lt;!here&gt;');
    expect(`${edited}\n${reply}`).not.toMatch(/<!(channel|here)>|<@U/);
  });
});

describe('message lifecycle in Discord', () => {
  it('edits the bot’s alert of a reverted change and replies to it with message_reference, mentions off, no new message', async () => {
    await discordChannel();
    await changeAlerted();
    expect(discord.messages).toHaveLength(1);
    clock.set('2026-11-30T10:00:00Z');
    await deliver(version('undo', B, A));

    expect(discord.edits).toEqual([expect.objectContaining({ channel: '222222222222222222', id: '1' })]);
    const edited = discord.message('1')!.body;
    expect(edited.embeds[0].title).toBe('~~Arbitration clause replaced~~');
    expect(edited.embeds[0].description).toContain('Reverted on 30 Nov 2026: the clause is back to the version of 25 Nov 2026');
    expect(edited.allowed_mentions).toEqual({ parse: [] });
    expect(discord.messages).toHaveLength(2);
    const reply = discord.messages[1]!.body;
    expect(reply.message_reference).toEqual({ message_id: '1', fail_if_not_exists: false });
    expect(reply.allowed_mentions).toEqual({ parse: [] });
    expect(reply.content).toMatch(/^Reverted: /);
    expect(reply.embeds[0].title).toBe('Arbitration clause restored');
  });

  it('edits a webhook destination’s alert through the webhook and posts the reversion through it as a new message (a webhook cannot reply)', async () => {
    await discordWebhook();
    await changeAlerted();
    clock.set('2026-11-30T10:00:00Z');
    await deliver(version('undo', B, A));
    expect(discord.edits).toEqual([expect.objectContaining({ path: '/api/v10/webhooks/123456789012345678/abcdefghijklmnopqrstuvwxyz0123/messages/1', webhook: '123456789012345678' })]);
    expect(discord.message('1')!.body.embeds[0].title).toBe('~~Arbitration clause replaced~~');
    expect(discord.messages).toHaveLength(2);
    expect(discord.messages[1]).toMatchObject({ webhook: '123456789012345678', auth: undefined });
    expect(discord.messages[1]!.body.message_reference).toBeUndefined();
  });

  it('takes a deleted alert (10008 Unknown Message) as nothing to edit, not an error, and posts the reversion as a plain message', async () => {
    await discordChannel();
    await changeAlerted();
    discord.deleteMessage('1');
    clock.set('2026-11-30T10:00:00Z');
    await deliver(version('undo', B, A));
    expect(discord.edits).toHaveLength(0);
    expect(discord.messages).toHaveLength(2);
    expect(discord.messages[1]!.body.message_reference).toBeUndefined();
    expect((await outbox()).map((r) => [r.kind, r.status])).toEqual([
      ['alert', 'sent'],
      ['follow_up', 'sent'],
    ]);
    expect((await outbox())[1]!.last_error).toContain('was deleted in the channel');
  });

  it('escapes the struck-through title and the reply, and defuses mentions', async () => {
    await discordChannel();
    expect((await s.ingest(version('first', 'f'.repeat(64), A, { kind: 'first_recorded' }))).status).toBe(202);
    clock.set('2026-11-28T09:00:00Z');
    await deliver(version('change', A, B, { title: '@everyone ~~gone~~ <@123456>' }));
    clock.set('2026-11-30T10:00:00Z');
    await deliver(version('undo', B, A, { title: '@here back <@&987>' }));
    const edited = discord.message('1')!.body.embeds[0].title as string;
    expect(edited).toBe('~~@\u200beveryone \\~\\~gone\\~\\~ <\u200b@123456\\>~~');
    const reply = JSON.stringify(discord.messages[1]!.body);
    expect(reply).not.toMatch(/(?<!\\u200b)@here/);
    expect(reply).not.toMatch(/<@&\d+>/);
  });
});

describe('message lifecycle in Microsoft Teams', () => {
  /** Every TextBlock's text of a card, in order. */
  const texts = (card: any): string[] => {
    const out: string[] = [];
    const walk = (el: any) => {
      if (el.type === 'TextBlock') out.push(el.text);
      for (const x of [...(el.items ?? []), ...(el.actions ?? [])]) walk(x);
    };
    card.body.forEach(walk);
    return out;
  };

  it('posts a reversion and a superseding change as new cards that name the change they follow up (a Workflows webhook gives no message to edit or thread under)', async () => {
    const teams = await startTeamsWebhook();
    try {
      await subscriber({ type: 'teams', webhook_url: teams.url });
      await changeAlerted();
      expect(teams.received).toHaveLength(1);
      clock.set('2026-11-30T10:00:00Z');
      await deliver(version('undo', B, A));
      clock.set('2026-12-01T10:00:00Z');
      await deliver(version('again', A, C, { title: 'Arbitration clause narrowed' }));
      await expect.poll(() => teams.received.length).toBe(3);
      const [, reverted, superseding] = teams.received.map((r) => texts(r.card));
      expect(reverted).toContain('**Reverts “Arbitration clause replaced” \\(detected 28 Nov 2026\\), alerted in this channel before**');
      // The newest alerted change of that clause is the reversion itself.
      expect(superseding).toContain('**Supersedes “Arbitration clause restored” \\(detected 30 Nov 2026\\), alerted in this channel before**');
      expect(texts(teams.received[0]!.card).join('\n')).not.toMatch(/Reverts|Supersedes/);
      // No follow-up rows: nothing in Teams could be edited, so nothing is threaded.
      expect(new Set((await outbox()).map((r) => r.kind))).toEqual(new Set(['alert']));
    } finally {
      await teams.close();
    }
  });

  it('names nothing for a change of another clause of the document', async () => {
    const teams = await startTeamsWebhook();
    try {
      await subscriber({ type: 'teams', webhook_url: teams.url });
      await changeAlerted();
      clock.set('2026-11-30T10:00:00Z');
      await deliver(version('other', B, C, { title: 'Liability cap', provision: { id: 'sec-9', title: '9. Liability' } }));
      await expect.poll(() => teams.received.length).toBe(2);
      expect(texts(teams.received[1]!.card).join('\n')).not.toMatch(/Reverts|Supersedes/);
    } finally {
      await teams.close();
    }
  });

  it('escapes the original’s title in the card’s markdown', async () => {
    const teams = await startTeamsWebhook();
    try {
      await subscriber({ type: 'teams', webhook_url: teams.url });
      expect((await s.ingest(version('first', 'f'.repeat(64), A, { kind: 'first_recorded' }))).status).toBe(202);
      clock.set('2026-11-28T09:00:00Z');
      await deliver(version('change', A, B, { title: '**bold** [x](https://evil.test) <at>all</at>' }));
      clock.set('2026-11-30T10:00:00Z');
      await deliver(version('undo', B, A));
      await expect.poll(() => teams.received.length).toBe(2);
      const line = texts(teams.received[1]!.card).find((t) => t.includes('Reverts'))!;
      expect(line).toContain('\\*\\*bold\\*\\* \\[x\\]\\(https://evil.test\\) <\u200bat\\>all<\u200b/at\\>');
    } finally {
      await teams.close();
    }
  });
});

describe('message lifecycle elsewhere', () => {
  it('keeps email and webhook destinations as they were: the reversion is a new message', async () => {
    const hook = await startWebhookReceiver();
    try {
      await subscriber({ type: 'email', address: 'legal@acme.test' });
      await subscriber({ type: 'webhook', url: hook.url });
      await changeAlerted();
      clock.set('2026-11-30T10:00:00Z');
      await deliver(version('undo', B, A));
      await smtp.waitFor(2);
      expect(smtp.mails.map((m) => m.parsed.subject)).toEqual(['[HIGH] OpenAI: Arbitration clause replaced', '[LOW] OpenAI: Arbitration clause restored']);
      expect(hook.received).toHaveLength(2);
      expect(new Set((await outbox()).map((r) => r.kind))).toEqual(new Set(['alert']));
    } finally {
      await hook.close();
    }
  });
});
