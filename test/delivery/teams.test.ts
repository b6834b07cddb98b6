import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { testService, type TestService } from '../support/service.js';
import { startTeamsWebhook, TEAMS_BODY_LIMIT } from '../support/teams-webhook.js';
import { fixedClock } from '../support/clock.js';
import { fixtureEvents, makeEvent } from '../support/app.js';
import { escapeCardMarkdown, safeUrl } from '../../src/render/teams.js';
import { createTeamsChannel } from '../../src/delivery/channels/teams/send.js';
import { teamsWebhookRefusal } from '../../src/delivery/channels/teams/destination.js';
import { settleDecisions } from '../../src/ingest/settle.js';

let teams: Awaited<ReturnType<typeof startTeamsWebhook>>;
let s: TestService;
const clock = fixedClock('2026-11-20T07:00:00Z');

beforeEach(async () => {
  clock.set('2026-11-20T07:00:00Z');
  teams = await startTeamsWebhook();
  s = await testService({ WEBHOOK_ALLOW_PRIVATE: 'true', ALERT_GROUP_WAIT_SECONDS: '60' }, { clock });
});
afterEach(async () => {
  await s.dispose();
  await teams.close();
});

async function teamsSubscriber(platforms = ['openai']) {
  const account = (await s.call('POST', '/v1/accounts', { name: 'Legal', plan: 'monitor' })).json;
  const dest = await s.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'teams', webhook_url: teams.url });
  expect(dest.status).toBe(201);
  for (const platform of platforms) await s.call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform, destination: dest.json.id });
  return { account, destination: dest.json };
}

/** Every TextBlock's text of a card, in order, and every OpenUrl target. */
function cardText(card: any): { texts: string[]; urls: string[] } {
  const texts: string[] = [];
  const urls: string[] = [];
  const walk = (el: any) => {
    if (el.type === 'TextBlock') texts.push(el.text);
    if (el.type === 'FactSet') for (const f of el.facts) texts.push(`${f.title}: ${f.value}`);
    if (el.type === 'Action.OpenUrl') urls.push(el.url);
    for (const x of [...(el.items ?? []), ...(el.actions ?? [])]) walk(x);
  };
  [...card.body, ...(card.actions ?? [])].forEach(walk);
  return { texts, urls };
}

const alertAfterGrouping = async () => {
  clock.advance(61_000);
  await s.dispatcher.runOnce();
};

describe('Teams destinations', () => {
  it('receive an alert as an Adaptive Card 1.5 in the Workflows envelope, with what the other channels show', async () => {
    const { destination } = await teamsSubscriber(['anthropic']);
    // The answer never shows the webhook's signature again.
    expect(destination.webhook_url).not.toContain('secret-signature');
    const event = { ...fixtureEvents()['02-anthropic-consumer-terms-chat-retention-high.json'], detected_at: '2026-11-20T06:59:00Z' };
    await s.ingest(event);
    await alertAfterGrouping();
    expect(teams.rejected).toEqual([]);
    expect(teams.received).toHaveLength(1);
    const { body, card } = teams.received[0]!;
    expect(body.type).toBe('message');
    expect(body.attachments[0].contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.5' });
    const { texts, urls } = cardText(card);
    const all = texts.join('\n');
    expect(all).toContain('**High**');
    expect(all).toContain(escapeCardMarkdown(event.platform.name ?? 'Anthropic'));
    expect(all).toContain(escapeCardMarkdown(event.document.title));
    expect(all).toContain(escapeCardMarkdown(event.title));
    expect(all).toContain('**Why it matters:**');
    if (event.provision?.title) expect(all).toContain(`Clause: ${escapeCardMarkdown(event.provision.title)}`);
    if (event.effective_at) expect(all).toMatch(/Effective: \d+ \w+ \d{4}/);
    expect(texts.some((t) => t.startsWith('− ') || t.startsWith('+ '))).toBe(true);
    expect(all).toContain(`SHA-256 ${event.evidence.sha256.slice(0, 16)}`);
    expect(urls).toContain(event.change_url);
    expect(urls.some((u) => u === event.evidence.archive_url || u === event.evidence.snapshot_url)).toBe(true);
    const [row] = await s.database.db.all<{ status: string }>(sql`SELECT status FROM outbox`);
    expect(row!.status).toBe('sent');
  });

  it('link each change of an alert card to its review page (Action.OpenUrl), where a decision is recorded', async () => {
    const { account } = await teamsSubscriber();
    await s.ingest(makeEvent({ id: 'evt_review', title: 'Retention extended', detected_at: '2026-11-20T06:59:00Z' }));
    await alertAfterGrouping();
    const review = cardText(teams.received[0]!.card).urls.find((u) => u.startsWith('https://clausewatch.test/review/'))!;
    expect(review).toBeDefined();
    const path = new URL(review).pathname;
    expect((await s.call('GET', path, undefined, null)).text).toContain('Retention extended');
    const r = await s.call('POST', path, new URLSearchParams({ status: 'reviewed', name: 'Maria' }).toString(), null, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(r.status).toBe(303);
    expect((await s.call('GET', `/v1/accounts/${account.id}/reviews`)).json.data[0]).toMatchObject({ change: 'evt_review', status: 'reviewed', by: { name: 'Maria', via: 'page' } });
  });

  it('group a burst of three changes into one card, highest severity first', async () => {
    await teamsSubscriber();
    await s.ingest(makeEvent({ id: 'a', severity: 'low', title: 'Low change' }));
    clock.advance(10_000);
    await s.ingest(makeEvent({ id: 'b', severity: 'high', title: 'High change' }));
    clock.advance(10_000);
    await s.ingest(makeEvent({ id: 'c', severity: 'medium', title: 'Medium change' }));
    expect(await s.dispatcher.runOnce()).toBe(0); // still gathering
    clock.advance(45_000);
    expect(await s.dispatcher.runOnce()).toBe(1);
    expect(teams.received).toHaveLength(1);
    const all = cardText(teams.received[0]!.card).texts.join('\n');
    expect(all).toContain(escapeCardMarkdown('[HIGH] 3 policy changes: OpenAI'));
    expect(all.indexOf('High change')).toBeLessThan(all.indexOf('Medium change'));
    expect(all.indexOf('Medium change')).toBeLessThan(all.indexOf('Low change'));
  });

  it('split a long digest into cards under 28 KB each, in order, every change once', async () => {
    const { account } = await teamsSubscriber(['openai', 'anthropic', 'stripe']);
    const events = Array.from({ length: 40 }, (_, i) => makeEvent({ id: `d${i}`, title: `Change ${i}`, summary: 'y'.repeat(1_500 + i), detected_at: '2026-11-26T06:00:00Z' }));
    clock.set('2026-11-26T06:00:00Z');
    await s.ingest({ events });
    await settleDecisions(s.database.db);
    await s.database.db.run(sql`UPDATE matches SET alert_state = 'none'`); // digest only
    clock.set('2026-11-30T09:00:00Z');
    await s.call('POST', '/v1/digests/run', { at: '2026-11-30T09:00:00Z' });
    await s.drain();
    expect(teams.rejected).toEqual([]);
    expect(teams.received.length).toBeGreaterThanOrEqual(3);
    for (const r of teams.received) expect(r.bytes).toBeLessThanOrEqual(TEAMS_BODY_LIMIT);
    const texts = teams.received.map((r) => cardText(r.card).texts);
    expect(texts[0]![0]).toMatch(/^Weekly digest · .* \(1\/\d+\)$/);
    const order = texts.flat().map((t) => /^Change (\d+)$/.exec(t)?.[1]).filter(Boolean);
    expect(new Set(order).size).toBe(40);
    expect(order).toHaveLength(40);
    const log = (await s.call('GET', `/v1/accounts/${account.id}/deliveries`)).json.data;
    expect(log.find((l: any) => l.kind === 'digest')).toMatchObject({ status: 'sent', channel: 'teams' });
  });

  it('escape text from events for the card markdown: no formatting, no links, no <at> mentions', async () => {
    await teamsSubscriber();
    await s.ingest(
      makeEvent({
        title: '**Bold** _it_ [click](javascript:alert(1)) <at>Everyone</at>',
        summary: '# Heading\n- item\n1. first\n`code` ~strike~',
      }),
    );
    await alertAfterGrouping();
    expect(teams.received).toHaveLength(1);
    const { texts, urls } = cardText(teams.received[0]!.card);
    const all = texts.join('\n');
    expect(all).toContain('\\*\\*Bold\\*\\* \\_it\\_ \\[click\\]\\(javascript:alert\\(1\\)\\)');
    expect(all).not.toMatch(/<at>/i);
    expect(all).not.toMatch(/(^|[^\\])\[click\]/);
    expect(all).toContain('\\# Heading\n\\- item\n1\\. first\n\\`code\\` \\~strike\\~');
    expect(urls.every((u) => /^https?:/.test(u))).toBe(true);
    // Ingest refuses a javascript: change link; the card would not carry one either.
    expect(['javascript:alert(1)', 'data:text/html,x', 'file:///etc/passwd', 'not a url'].map(safeUrl)).toEqual([undefined, undefined, undefined, undefined]);
    expect(safeUrl('https://example.com/a b')).toBe('https://example.com/a%20b');
  });

  it('retry a 429 after its Retry-After without counting an attempt, then deliver', async () => {
    await teamsSubscriber();
    teams.state.answers.push({ status: 429, retryAfter: '30' });
    await s.ingest(makeEvent());
    await alertAfterGrouping();
    const [row] = await s.database.db.all<{ status: string; attempts: number; due_at: number; last_error: string }>(sql`SELECT status, attempts, due_at, last_error FROM outbox`);
    expect(row).toMatchObject({ status: 'retrying', attempts: 0, due_at: clock() + 30_000, last_error: 'Teams rate limit' });
    clock.advance(30_000);
    await s.dispatcher.runOnce();
    expect(teams.received).toHaveLength(2);
    const [sent] = await s.database.db.all<{ status: string }>(sql`SELECT status FROM outbox`);
    expect(sent!.status).toBe('sent');
  });

  it('retry a 5xx, honouring its Retry-After', async () => {
    await teamsSubscriber();
    teams.state.answers.push({ status: 503, retryAfter: '600' });
    await s.ingest(makeEvent());
    await alertAfterGrouping();
    const [row] = await s.database.db.all<{ status: string; attempts: number; due_at: number; last_error: string }>(sql`SELECT status, attempts, due_at, last_error FROM outbox`);
    expect(row).toMatchObject({ status: 'retrying', attempts: 1, last_error: 'Teams answered HTTP 503' });
    expect(row!.due_at).toBeGreaterThanOrEqual(clock() + 600_000);
  });

  it.each([404, 410])('switch the destination off on %i (the workflow was deleted), with the reason', async (status) => {
    await teamsSubscriber();
    teams.state.status = status;
    await s.ingest(makeEvent());
    await alertAfterGrouping();
    const [d] = await s.database.db.all<{ status: string; disabled_reason: string }>(sql`SELECT status, disabled_reason FROM destinations`);
    expect(d).toEqual({ status: 'disabled', disabled_reason: `Teams answered HTTP ${status}: the workflow behind this webhook was deleted or turned off` });
  });

  it('pace requests to one webhook at about four a second, by the clock they are given', async () => {
    const posted: number[] = [];
    const channel = createTeamsChannel({ clock: Date.now, post: async () => (posted.push(Date.now()), { status: 202, retryAfter: null }) });
    const destination = { type: 'teams', webhookUrl: 'https://x.logic.azure.com/w' } as const;
    const [message] = channel.render.alert(
      { kind: 'alert', changes: [], notices: [], reader: { timeZone: 'UTC', now: clock() }, links: { unsubscribe: 'https://cw.test/u', manage: 'https://cw.test/m' }, plan: 'monitor' },
      destination,
      { cache: new Map() },
    );
    const start = Date.now();
    await Promise.all([1, 2, 3].map(() => channel.send(destination, message!, 'k')));
    posted.sort((a, b) => a - b);
    // Each request no sooner than its slot, 250 ms after the one before (timers may run late, never early).
    expect(posted.map((t) => t - start >= -5)).toEqual([true, true, true]);
    expect(posted[1]! - start).toBeGreaterThanOrEqual(245);
    expect(posted[2]! - start).toBeGreaterThanOrEqual(495);
  });
});

describe('a content kind a channel cannot show', () => {
  it('is refused as a permanent failure, never marked sent with nothing sent', async () => {
    const { account, destination } = await teamsSubscriber();
    // A confirmation mail is email's alone; a row asking Teams for one is a bug, not a delivery.
    await s.database.db.run(sql`INSERT INTO outbox (idempotency_key, kind, destination_id, account_id, channel, status, due_at, created_at, updated_at)
      VALUES ('odd-confirmation', 'confirmation', ${destination.id}, ${account.id}, 'teams', 'queued', 0, ${clock()}, ${clock()})`);
    await s.dispatcher.runOnce();
    const [row] = await s.database.db.all<{ status: string; last_error: string }>(sql`SELECT status, last_error FROM outbox WHERE idempotency_key = 'odd-confirmation'`);
    expect(row).toEqual({ status: 'dead', last_error: 'the teams channel cannot show a confirmation message' });
    expect(teams.received).toEqual([]);
  });
});

describe('Teams webhook URLs', () => {
  const make = (url: string) => s.call('POST', '/v1/accounts', { name: 'X' }).then((a) => s.call('POST', `/v1/accounts/${a.json.id}/destinations`, { type: 'teams', webhook_url: url }));

  it('are taken only on Microsoft’s webhook hosts, over https, checked on the parsed host', () => {
    for (const ok of [
      'https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=x',
      'https://default0123.ab.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/abc/triggers/manual/paths/invoke?sig=x',
      'https://acme.webhook.office.com/webhookb2/abc',
    ]) {
      expect(teamsWebhookRefusal(ok, false), ok).toBeNull();
    }
    for (const bad of [
      'http://prod-12.westeurope.logic.azure.com/workflows/abc', // not https
      'https://logic.azure.com.evil.example/workflows/abc', // the suffix inside another host
      'https://evillogic.azure.com/workflows/abc', // no dot before the suffix
      'https://evil.example/.logic.azure.com/workflows', // the suffix in the path
      'https://evil.example/?u=x.logic.azure.com', // the suffix in the query
      'https://x.logic.azure.com@evil.example/workflows', // the suffix as a user name
      'https://evil.example#.webhook.office.com',
      'https://discord.com/api/webhooks/1/abc',
      'not a url',
    ]) {
      expect(teamsWebhookRefusal(bad, false), bad).not.toBeNull();
    }
  });

  it('are refused by the API off Microsoft’s hosts, unless WEBHOOK_ALLOW_PRIVATE=true lifts the check', async () => {
    // This service has WEBHOOK_ALLOW_PRIVATE=true: a loopback URL is taken.
    expect((await make(teams.url)).status).toBe(201);
    const strict = await testService({ ALERT_GROUP_WAIT_SECONDS: '0' }, { clock });
    try {
      const account = (await strict.call('POST', '/v1/accounts', { name: 'X' })).json;
      for (const url of [teams.url, 'https://logic.azure.com.evil.example/workflows/abc']) {
        const r = await strict.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'teams', webhook_url: url });
        expect(r.status, url).toBe(400);
        expect(r.json.error).toBe('invalid_destination');
      }
    } finally {
      await strict.dispose();
    }
  });
});
