import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import type { TestSmtpServer } from '../support/smtp.js';
import { testService, withSmtpService, type TestService } from '../support/service.js';
import { makeEvent } from '../support/app.js';

const ctx = withSmtpService({ ALERT_GROUP_WAIT_SECONDS: '60' }, '2026-11-20T07:00:00Z');
const clock = ctx.clock;
let s: TestService;
let smtp: TestSmtpServer;
beforeEach(() => ({ s, smtp } = ctx));

const signup = (body: unknown, client = '10.0.0.1') => s.call('POST', '/v1/signup', body, null, { 'x-test-client': client });
const count = async (table: string) => (await s.database.db.all<{ n: number }>(sql.raw(`SELECT count(*) AS n FROM ${table}`)))[0]!.n;
const linkIn = (mail: { parsed: { text?: string } }, path: string) => {
  const m = new RegExp(`https://clausewatch\\.test(/${path}/[A-Za-z0-9._-]+)`).exec(mail.parsed.text!.replace(/=\r?\n/g, ''));
  if (!m) throw new Error(`no /${path}/ link in mail`);
  return m[1]!;
};

describe('self-serve sign-up', () => {
  it('goes sign-up → confirm → alert → one-click unsubscribe → nothing more', async () => {
    const r = await signup({ email: 'Ana@Example.test', platform: 'openai' });
    expect(r.status).toBe(202);
    expect(r.json.status).toBe('confirmation_sent');

    // Nothing reaches an unconfirmed address but its confirmation.
    await s.call('PATCH', `/v1/accounts/${(await s.call('GET', '/v1/accounts?email=ana@example.test')).json.data[0].id}`, { plan: 'monitor' });
    expect((await s.ingest(makeEvent({ id: 'before-confirm' }))).json.matched).toBe(0);
    await s.dispatcher.runOnce();
    const [confirmation] = await smtp.waitFor(1);
    expect(confirmation!.to).toEqual(['ana@example.test']);
    expect(confirmation!.parsed.subject).toBe('Confirm your ClauseWatch subscription');
    expect(confirmation!.parsed.html).toContain('OpenAI');

    // The link opens a page with a button; a mail scanner's GET confirms nothing.
    const page = await s.call('GET', linkIn(confirmation!, 'confirm'), undefined, null);
    expect(page.status).toBe(200);
    expect(page.text).toContain(`<form method="post" action="${linkIn(confirmation!, 'confirm')}"><button type="submit">Confirm subscription</button></form>`);
    expect(page.text).not.toContain('You are subscribed');
    expect((await s.ingest(makeEvent({ id: 'after-scanner' }))).json.matched).toBe(0);
    const confirmed = await s.call('POST', linkIn(confirmation!, 'confirm'), '', null, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(confirmed.status).toBe(200);
    expect(confirmed.text).toContain('You are subscribed');
    // Opening the link again says so, and changes nothing.
    expect((await s.call('GET', linkIn(confirmation!, 'confirm'), undefined, null)).text).toContain('You are subscribed');

    expect((await s.ingest(makeEvent({ id: 'after-confirm' }))).json.matched).toBe(1);
    clock.advance(61_000);
    await s.dispatcher.runOnce();
    const mails = await smtp.waitFor(2);
    const alert = mails[1]!;
    expect(alert.parsed.subject).toContain('OpenAI');

    // RFC 8058 one-click: a POST of List-Unsubscribe=One-Click, no cookie, no confirmation.
    const unsubscribeUrl = /<https:\/\/clausewatch\.test(\/unsubscribe\/[^>]+)>/.exec(alert.raw.replace(/\r?\n\s+/g, ' '))![1]!;
    const one = await s.call('POST', unsubscribeUrl, 'List-Unsubscribe=One-Click', null, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(one.status).toBe(200);

    expect((await s.ingest(makeEvent({ id: 'after-unsubscribe' }))).json.matched).toBe(0);
    clock.advance(61_000);
    await s.dispatcher.runOnce();
    await new Promise((r) => setTimeout(r, 200));
    expect(smtp.mails).toHaveLength(2);
  });

  it('never creates a second account for the same address, and answers the same either way', async () => {
    const first = await signup({ email: 'ana@example.test', platform: 'openai' });
    const second = await signup({ email: 'ANA@example.test', platform: 'anthropic' });
    expect(second.status).toBe(first.status);
    expect(Object.keys(second.json)).toEqual(Object.keys(first.json));
    expect(await count('accounts')).toBe(1);
    // Unconfirmed, the second sign-up re-aims the free plan's one platform.
    const subs = await s.database.db.all<{ slug: string }>(sql`SELECT p.slug FROM subscriptions s JOIN platforms p ON p.id = s.platform_id`);
    expect(subs).toEqual([{ slug: 'anthropic' }]);
    await s.dispatcher.runOnce();
    await smtp.waitFor(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(smtp.mails).toHaveLength(1); // the re-send falls in the same ten minutes
  });

  it('sends a confirmed address its manage link instead of a second subscription', async () => {
    await signup({ email: 'ana@example.test', platform: 'openai' });
    await s.dispatcher.runOnce();
    const [c] = await smtp.waitFor(1);
    await s.call('POST', linkIn(c!, 'confirm'), '', null, { 'content-type': 'application/x-www-form-urlencoded' });
    clock.advance(11 * 60_000);
    const again = await signup({ email: 'ana@example.test', platform: 'openai' });
    expect(again.status).toBe(202);
    await s.dispatcher.runOnce();
    const mails = await smtp.waitFor(2);
    expect(mails[1]!.parsed.subject).toBe('Your ClauseWatch subscription');
    expect(linkIn(mails[1]!, 'manage')).toMatch(/^\/manage\//);
    expect(await count('accounts')).toBe(1);
  });

  it('signs up again on the same account after an admin removed its destination', async () => {
    await signup({ email: 'ana@example.test', platform: 'openai' });
    const account = (await s.call('GET', '/v1/accounts?email=ana@example.test')).json.data[0];
    const [dest] = (await s.call('GET', `/v1/accounts/${account.id}/destinations`)).json.data;
    expect((await s.call('DELETE', `/v1/accounts/${account.id}/destinations/${dest.id}`)).status).toBe(204);
    clock.advance(11 * 60_000);
    const again = await signup({ email: 'ana@example.test', platform: 'anthropic' });
    expect(again.status).toBe(202);
    expect(await count('accounts')).toBe(1);
    const dests = (await s.call('GET', `/v1/accounts/${account.id}/destinations`)).json.data;
    expect(dests).toEqual([expect.objectContaining({ type: 'email', address: 'ana@example.test', status: 'unconfirmed' })]);
    await s.drain();
    const mails = smtp.mails.filter((m) => m.parsed.subject === 'Confirm your ClauseWatch subscription');
    expect(mails.at(-1)!.parsed.html).toContain('Anthropic');
  });

  it('refuses a bad address (400) or an unknown platform (404) and stores nothing', async () => {
    const bad = await signup({ email: 'not-an-address', platform: 'openai' });
    expect(bad.status).toBe(400);
    expect(bad.json.issues.map((i: any) => i.path)).toEqual(['email']);
    const unknown = await signup({ email: 'ana@example.test', platform: 'opneai' });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toBe('unknown_platform');
    expect(unknown.json.suggestions).toContain('openai');
    expect(await count('accounts')).toBe(0);
    expect(await count('outbox')).toBe(0);
  });

  it('limits sign-ups per client address with 429', async () => {
    for (let i = 0; i < 5; i++) expect((await signup({ email: `p${i}@example.test`, platform: 'openai' }, '10.9.9.9')).status).toBe(202);
    const over = await signup({ email: 'p6@example.test', platform: 'openai' }, '10.9.9.9');
    expect(over.status).toBe(429);
    expect(over.json.error).toBe('rate_limited');
    expect(Number(over.res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await signup({ email: 'other@example.test', platform: 'openai' }, '10.1.1.1')).status).toBe(202);
    clock.advance(3_600_000);
    expect((await signup({ email: 'p7@example.test', platform: 'openai' }, '10.9.9.9')).status).toBe(202);
  });
});

describe('signed links', () => {
  async function confirmedDestination() {
    await signup({ email: 'ana@example.test', platform: 'openai' });
    const id = (await s.database.db.all<{ id: string }>(sql`SELECT id FROM destinations`))[0]!.id;
    return id;
  }

  it('refuses a token made for another purpose or tampered with', async () => {
    const id = await confirmedDestination();
    const manageToken = await s.links.token('manage', id);
    expect((await s.call('GET', `/confirm/${manageToken}`, undefined, null)).status).toBe(400);
    expect((await s.call('POST', `/confirm/${manageToken}`, undefined, null)).status).toBe(400);
    expect((await s.call('POST', `/unsubscribe/${manageToken}`, undefined, null)).status).toBe(400);
    // Other claims (another destination) under the same MAC open nothing.
    const mac = manageToken.slice(-52);
    const claims = Buffer.from(JSON.stringify({ sub: 'dst_other', aud: 'manage' }));
    let other = '';
    for (let bits = 0, value = 0, i = 0; i < claims.length; i++) {
      value = ((value << 8) | claims[i]!) & 0xfff;
      for (bits += 8; bits >= 5; bits -= 5) other += 'abcdefghijklmnopqrstuvwxyz234567'[(value >>> (bits - 5)) & 31];
      if (i === claims.length - 1 && bits > 0) other += 'abcdefghijklmnopqrstuvwxyz234567'[(value << (5 - bits)) & 31];
    }
    expect((await s.call('GET', `/manage/${other}${mac}`, undefined, null)).status).toBe(400);
    expect((await s.call('GET', `/manage/${manageToken}`, undefined, null)).status).toBe(200);
  });

  it('lets a confirmation link expire after 7 days', async () => {
    const id = await confirmedDestination();
    const token = await s.links.token('confirm', id);
    clock.advance(8 * 86_400_000);
    expect((await s.call('GET', `/confirm/${token}`, undefined, null)).status).toBe(400);
    expect((await s.call('POST', `/confirm/${token}`, undefined, null)).status).toBe(400);
  });

  it('shows an unsubscribe page on GET without unsubscribing, and unsubscribes on its form POST', async () => {
    const id = await confirmedDestination();
    const token = await s.links.token('unsubscribe', id);
    const page = await s.call('GET', `/unsubscribe/${token}`, undefined, null);
    expect(page.text).toContain('<form method="post">');
    expect((await s.database.db.all<{ status: string }>(sql`SELECT status FROM destinations`))[0]!.status).toBe('unconfirmed');
    const done = await s.call('POST', `/unsubscribe/${token}`, '', null, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(done.text).toContain('You are unsubscribed');
    expect((await s.database.db.all<{ status: string; disabled_reason: string }>(sql`SELECT status, disabled_reason FROM destinations`))[0]).toEqual({
      status: 'disabled',
      disabled_reason: 'unsubscribed',
    });
  });

  it('manages subscriptions with plain forms: add, refuse past the plan, remove', async () => {
    const id = await confirmedDestination();
    const token = await s.links.token('manage', id);
    const form = (body: string) => s.call('POST', `/manage/${token}/subscriptions`, body, null, { 'content-type': 'application/x-www-form-urlencoded' });
    let page = await s.call('GET', `/manage/${token}`, undefined, null);
    expect(page.text).toContain('OpenAI');
    expect(page.text).toContain('1 of 1 platform');

    const refused = await form('platform=anthropic&min_severity=low');
    expect(refused.status).toBe(400);
    expect(refused.text).toContain('The free plan includes 1 platform');

    const subId = (await s.database.db.all<{ id: string }>(sql`SELECT id FROM subscriptions`))[0]!.id;
    const removed = await s.call('POST', `/manage/${token}/subscriptions/${subId}/delete`, '', null, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(removed.status).toBe(303);
    const added = await form('platform=anthropic&min_severity=high');
    page = await s.call('GET', added.res.headers.get('location')!, undefined, null);
    expect(page.text).toContain('Now watching Anthropic');
    expect(page.text).toContain('high and above');
  });

  it('escapes what people typed when the page repeats it', async () => {
    const id = await confirmedDestination();
    const token = await s.links.token('manage', id);
    const r = await s.call('POST', `/manage/${token}/subscriptions`, 'platform=opn%3Cscript%3Eai&min_severity=low', null, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(r.status).toBe(400);
    expect(r.res.headers.get('location')).toBeNull();
    expect(r.text).not.toContain('<script>');
    expect(r.text).toContain('That is not a platform slug');
    const unknown = await s.call('POST', `/manage/${token}/subscriptions`, 'platform=opnai&min_severity=low', null, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(unknown.text).toContain('No platform &#39;opnai&#39;. Did you mean openai?');
  });

  it('says what a crafted link asks only in its own words', async () => {
    const token = await s.links.token('manage', await confirmedDestination());
    const page = await s.call('GET', `/manage/${token}?done=Your+account+is+closed&error=Call+us&platform=openai`, undefined, null);
    expect(page.text).not.toContain('Your account is closed');
    expect(page.text).not.toContain('Call us');
  });
});

describe('an old confirmation link', () => {
  it('does not resubscribe an address that unsubscribed', async () => {
    await signup({ email: 'ana@example.test', platform: 'openai' });
    const id = (await s.database.db.all<{ id: string }>(sql`SELECT id FROM destinations`))[0]!.id;
    const confirm = await s.links.token('confirm', id);
    await s.call('POST', `/confirm/${confirm}`, undefined, null);
    await s.call('POST', `/unsubscribe/${await s.links.token('unsubscribe', id)}`, 'List-Unsubscribe=One-Click', null, { 'content-type': 'application/x-www-form-urlencoded' });
    expect((await s.call('GET', `/confirm/${confirm}`, undefined, null)).status).toBe(400);
    expect((await s.call('POST', `/confirm/${confirm}`, undefined, null)).status).toBe(400);
    expect((await s.database.db.all<{ status: string }>(sql`SELECT status FROM destinations`))[0]!.status).toBe('disabled');
  });
});

describe('simultaneous sign-ups', () => {
  it('for one new address make one account', async () => {
    const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => signup({ email: 'race@example.test', platform: 'openai' }, `10.2.0.${i}`)));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202]);
    expect(await count('accounts')).toBe(1);
  });

  it('for a returning address whose destination was removed make one destination', async () => {
    await signup({ email: 'race@example.test', platform: 'openai' });
    const account = (await s.call('GET', '/v1/accounts?email=race@example.test')).json.data[0];
    const [dest] = (await s.call('GET', `/v1/accounts/${account.id}/destinations`)).json.data;
    await s.call('DELETE', `/v1/accounts/${account.id}/destinations/${dest.id}`);
    const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => signup({ email: 'race@example.test', platform: 'openai' }, `10.3.0.${i}`)));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202]);
    expect(await count('destinations')).toBe(1);
  });
});
