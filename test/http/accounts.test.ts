import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INGEST_TOKEN, makeEvent, testApp, type TestApp } from '../support/app.js';

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
});
afterEach(() => t.dispose());

async function account(body: Record<string, unknown> = {}) {
  const r = await t.call('POST', '/v1/accounts', { name: 'Acme Legal', ...body });
  expect(r.status).toBe(201);
  return r.json;
}
async function destination(accountId: string, body: Record<string, unknown>) {
  return t.call('POST', `/v1/accounts/${accountId}/destinations`, body);
}
async function sub(accountId: string, destinationId: string, platform: string, extra: Record<string, unknown> = {}) {
  return t.call('POST', `/v1/accounts/${accountId}/subscriptions`, { platform, destination: destinationId, ...extra });
}

describe('accounts', () => {
  it('creates an account with the contract’s defaults', async () => {
    const a = await account();
    expect(a).toMatchObject({ name: 'Acme Legal', plan: 'free', timezone: 'UTC', digest_weekday: 'monday', digest_hour: 9, reminder_days: 7, empty_digest: true });
    expect(a.id).toMatch(/^acc_/);
    expect((await t.call('GET', `/v1/accounts/${a.id}`)).json).toEqual(a);
  });

  it('refuses bad fields with every field named, and creates nothing', async () => {
    const r = await t.call('POST', '/v1/accounts', { name: '', plan: 'gold', timezone: 'Mars/Olympus', digest_hour: 24, digest_weekday: 'funday', reminder_days: -1 });
    expect(r.status).toBe(400);
    expect(r.json.error).toBe('invalid_account');
    expect(r.json.issues.map((i: any) => i.path).sort()).toEqual(['digest_hour', 'digest_weekday', 'name', 'plan', 'reminder_days', 'timezone']);
    expect((await t.call('GET', '/v1/accounts')).json.data).toEqual([]);
  });

  it('refuses unknown fields rather than silently dropping them', async () => {
    const r = await t.call('POST', '/v1/accounts', { name: 'x', plna: 'monitor' });
    expect(r.status).toBe(400);
  });

  it('changes plan, time zone and digest time with PATCH', async () => {
    const a = await account();
    const r = await t.call('PATCH', `/v1/accounts/${a.id}`, { plan: 'monitor', timezone: 'Europe/Berlin', digest_weekday: 'Friday', digest_hour: 16 });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ plan: 'monitor', timezone: 'Europe/Berlin', digest_weekday: 'friday', digest_hour: 16 });
  });

  it('refuses an empty PATCH and answers 404 for an unknown account', async () => {
    const a = await account();
    expect((await t.call('PATCH', `/v1/accounts/${a.id}`, {})).status).toBe(400);
    const r = await t.call('GET', '/v1/accounts/acc_nope');
    expect(r.status).toBe(404);
    expect(r.json).toMatchObject({ error: 'not_found' });
  });

  it('needs the admin token', async () => {
    expect((await t.call('GET', '/v1/accounts', undefined, null)).status).toBe(401);
    expect((await t.call('POST', '/v1/accounts', { name: 'x' }, INGEST_TOKEN)).status).toBe(401);
  });

  it('finds the account behind an email address, and pages lists', async () => {
    const a = await account({ name: 'A' });
    t.clock.advance(1);
    await account({ name: 'B' });
    t.clock.advance(1);
    await account({ name: 'C' });
    await destination(a.id, { type: 'email', address: 'Legal@Acme.test' });
    const found = await t.call('GET', '/v1/accounts?email=legal@acme.test');
    expect(found.json.data.map((x: any) => x.id)).toEqual([a.id]);
    const p1 = await t.call('GET', '/v1/accounts?limit=2');
    expect(p1.json.data).toHaveLength(2);
    const p2 = await t.call('GET', `/v1/accounts?limit=2&cursor=${p1.json.next_cursor}`);
    expect(p2.json.data.map((x: any) => x.name)).toEqual(['C']);
    expect(p2.json.next_cursor).toBeNull();
  });

  it('refuses a cursor that is not the next_cursor of that list, on every list, with 400 naming it', async () => {
    const a = await account({ name: 'A' });
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const lists = ['/v1/accounts', '/v1/events', '/v1/platforms', `/v1/accounts/${a.id}/deliveries`];
    for (const list of lists) {
      for (const cursor of ['not-base64!', b64('a'), b64({}), b64([]), b64([1, 2, 3]), b64(['x', 1]), b64([null, 'x'])]) {
        const r = await t.call('GET', `${list}?cursor=${cursor}`);
        expect(r.status, `${list} ${cursor}`).toBe(400);
        expect(r.json.error).toBe('invalid_query');
        expect(r.json.issues[0].path).toBe('cursor');
      }
    }
  });

  it('finds the account behind a Slack workspace or a Discord server', async () => {
    const a = await account({ name: 'Slack team' });
    const b = await account({ name: 'Discord server' });
    await destination(a.id, { type: 'slack', team: 'T0001', channel: 'C0001' });
    await destination(b.id, { type: 'discord', guild: '123456789012345678', channel: '223456789012345678' });
    expect((await t.call('GET', '/v1/accounts?slack_team=T0001')).json.data.map((x: any) => x.id)).toEqual([a.id]);
    expect((await t.call('GET', '/v1/accounts?discord_guild=123456789012345678')).json.data.map((x: any) => x.id)).toEqual([b.id]);
    expect((await t.call('GET', '/v1/accounts?email=not-an-email')).status).toBe(400);
  });
});

describe('destinations', () => {
  it('creates each kind of destination, active at once when an admin creates it', async () => {
    const a = await account();
    const bodies = [
      { type: 'email', address: 'legal@acme.test' },
      { type: 'slack', team: 'T0001', channel: 'C0001' },
      { type: 'discord', guild: '123456789012345678', channel: '223456789012345678' },
      { type: 'discord', webhook_url: 'https://discord.com/api/webhooks/123456789012345678/abcdefghijklmnopqrstuvwxyz0123' },
      { type: 'webhook', url: 'https://hooks.acme.test/clausewatch' },
    ];
    for (const b of bodies) {
      const r = await destination(a.id, b);
      expect(r.status).toBe(201);
      expect(r.json).toMatchObject({ type: b.type, status: 'active' });
    }
    const list = (await t.call('GET', `/v1/accounts/${a.id}/destinations`)).json.data;
    expect(list).toHaveLength(5);
    // A Discord webhook URL carries its token: the list never shows it whole.
    expect(JSON.stringify(list)).not.toContain('abcdefghijklmnopqrstuvwxyz0123');
  });

  it('shows a webhook’s whsec_ signing secret once, at creation', async () => {
    const a = await account();
    const r = await destination(a.id, { type: 'webhook', url: 'https://hooks.acme.test/x' });
    expect(r.json.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{32}$/);
    const list = (await t.call('GET', `/v1/accounts/${a.id}/destinations`)).json.data;
    expect(list[0].secret).toBeUndefined();
  });

  it('returns the existing destination for the same target instead of a second one', async () => {
    const a = await account();
    const first = await destination(a.id, { type: 'email', address: 'legal@acme.test' });
    const again = await destination(a.id, { type: 'email', address: 'LEGAL@acme.test' });
    expect(again.status).toBe(200);
    expect(again.json.id).toBe(first.json.id);
  });

  it.each([
    [{ type: 'email', address: 'not an address' }, 'address'],
    [{ type: 'slack', team: 'acme', channel: 'C1' }, 'team'],
    [{ type: 'discord', guild: '12' }, 'channel'],
    [{ type: 'discord', webhook_url: 'https://evil.test/api/webhooks/1/2' }, 'webhook_url'],
    [{ type: 'webhook', url: 'ftp://hooks.acme.test' }, 'url'],
    [{ type: 'pager', number: '1' }, 'type'],
  ])('refuses %j naming %s', async (body, path) => {
    const a = await account();
    const r = await destination(a.id, body);
    expect(r.status).toBe(400);
    expect(r.json.error).toBe('invalid_destination');
    expect(r.json.issues.map((i: any) => i.path)).toContain(path);
    expect((await t.call('GET', `/v1/accounts/${a.id}/destinations`)).json.data).toEqual([]);
  });

  it('deletes a destination with its subscriptions', async () => {
    const a = await account();
    const d = (await destination(a.id, { type: 'email', address: 'legal@acme.test' })).json;
    await sub(a.id, d.id, 'openai');
    expect((await t.call('DELETE', `/v1/accounts/${a.id}/destinations/${d.id}`)).status).toBe(204);
    expect((await t.call('GET', `/v1/accounts/${a.id}/subscriptions`)).json.data).toEqual([]);
    expect((await t.call('DELETE', `/v1/accounts/${a.id}/destinations/${d.id}`)).status).toBe(404);
  });
});

describe('subscriptions and plans', () => {
  it('subscribes a destination to a platform with a minimum severity and categories', async () => {
    const a = await account({ plan: 'monitor' });
    const d = (await destination(a.id, { type: 'email', address: 'legal@acme.test' })).json;
    const r = await sub(a.id, d.id, 'OpenAI', { min_severity: 'medium', categories: ['privacy', 'fees'] });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ platform: 'openai', destination: d.id, min_severity: 'medium', categories: ['fees', 'privacy'], status: 'active' });
    const updated = await sub(a.id, d.id, 'openai', { min_severity: 'high' });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({ id: r.json.id, min_severity: 'high' });
    expect((await t.call('GET', `/v1/accounts/${a.id}`)).json.usage).toEqual({ platforms: 1, platform_limit: 25, same_day_alerts: true });
  });

  it('refuses a platform not in the catalog with 404 and close matches', async () => {
    const a = await account();
    const d = (await destination(a.id, { type: 'email', address: 'legal@acme.test' })).json;
    const r = await sub(a.id, d.id, 'opnai');
    expect(r.status).toBe(404);
    expect(r.json.error).toBe('unknown_platform');
    expect(r.json.message).toContain("No platform 'opnai'");
    expect(r.json.suggestions).toContain('openai');
  });

  it('refuses a destination of another account', async () => {
    const a = await account();
    const b = await account();
    const d = (await destination(b.id, { type: 'email', address: 'x@b.test' })).json;
    expect((await sub(a.id, d.id, 'openai')).status).toBe(404);
  });

  it('limits the free plan to one platform across the account, with 402 plan_limit naming the upgrade', async () => {
    const a = await account({ plan: 'free' });
    const d1 = (await destination(a.id, { type: 'email', address: 'one@acme.test' })).json;
    const d2 = (await destination(a.id, { type: 'slack', team: 'T0001', channel: 'C0001' })).json;
    expect((await sub(a.id, d1.id, 'openai')).status).toBe(201);
    // The same platform on another destination is still one platform.
    expect((await sub(a.id, d2.id, 'openai')).status).toBe(201);
    const r = await sub(a.id, d2.id, 'anthropic');
    expect(r.status).toBe(402);
    expect(r.json.error).toBe('plan_limit');
    expect(r.json.message).toMatch(/free plan includes 1 platform.*monitor.*25/);
  });

  it('limits the monitor plan to 25 platforms', async () => {
    const a = await account({ plan: 'monitor' });
    const d = (await destination(a.id, { type: 'email', address: 'one@acme.test' })).json;
    const slugs = (await t.call('GET', '/v1/platforms?limit=26', undefined, null)).json.data.map((p: any) => p.slug);
    for (const slug of slugs.slice(0, 25)) expect((await sub(a.id, d.id, slug)).status).toBe(201);
    expect((await sub(a.id, d.id, slugs[25])).status).toBe(402);
  });

  it('pauses the newest platforms on a downgrade and resumes them on an upgrade, deleting nothing', async () => {
    const a = await account({ plan: 'monitor' });
    const d = (await destination(a.id, { type: 'email', address: 'one@acme.test' })).json;
    for (const slug of ['openai', 'anthropic', 'stripe']) {
      await sub(a.id, d.id, slug);
      t.clock.advance(1000);
    }
    await t.call('PATCH', `/v1/accounts/${a.id}`, { plan: 'free' });
    let subs = (await t.call('GET', `/v1/accounts/${a.id}/subscriptions`)).json.data;
    expect(subs.map((s: any) => [s.platform, s.status])).toEqual([
      ['openai', 'active'],
      ['anthropic', 'paused'],
      ['stripe', 'paused'],
    ]);
    expect((await t.ingest(makeEvent({ platform: { slug: 'stripe' }, document: { title: 'Stripe Services Agreement' } }))).json.matched).toBe(0);
    await t.call('PATCH', `/v1/accounts/${a.id}`, { plan: 'monitor' });
    subs = (await t.call('GET', `/v1/accounts/${a.id}/subscriptions`)).json.data;
    expect(subs.every((s: any) => s.status === 'active')).toBe(true);
  });

  it('resumes a paused subscription asked for again when the plan has room, and refuses it with 402 when not', async () => {
    const a = await account({ plan: 'monitor' });
    const d = (await destination(a.id, { type: 'email', address: 'one@acme.test' })).json;
    for (const slug of ['openai', 'anthropic']) {
      await sub(a.id, d.id, slug);
      t.clock.advance(1000);
    }
    await t.call('PATCH', `/v1/accounts/${a.id}`, { plan: 'free' }); // anthropic paused
    const full = await t.call('POST', `/v1/accounts/${a.id}/subscriptions`, { platform: 'anthropic', destination: d.id, min_severity: 'high' });
    expect(full.status).toBe(402);
    let subs = (await t.call('GET', `/v1/accounts/${a.id}/subscriptions`)).json.data;
    expect(subs.find((x: any) => x.platform === 'anthropic')).toMatchObject({ status: 'paused', min_severity: 'low' });
    // With openai removed, the free plan has room for anthropic again.
    await t.call('DELETE', `/v1/accounts/${a.id}/subscriptions/${subs.find((x: any) => x.platform === 'openai').id}`);
    const resumed = await t.call('POST', `/v1/accounts/${a.id}/subscriptions`, { platform: 'anthropic', destination: d.id, min_severity: 'high' });
    expect(resumed.status).toBe(200);
    expect(resumed.json).toMatchObject({ platform: 'anthropic', status: 'active', min_severity: 'high' });
    subs = (await t.call('GET', `/v1/accounts/${a.id}/subscriptions`)).json.data;
    expect(subs.map((x: any) => [x.platform, x.status])).toEqual([['anthropic', 'active']]);
  });

  it('deletes a subscription, and 404s an unknown one', async () => {
    const a = await account();
    const d = (await destination(a.id, { type: 'email', address: 'one@acme.test' })).json;
    const s = (await sub(a.id, d.id, 'openai')).json;
    expect((await t.call('DELETE', `/v1/accounts/${a.id}/subscriptions/${s.id}`)).status).toBe(204);
    expect((await t.call('DELETE', `/v1/accounts/${a.id}/subscriptions/${s.id}`)).status).toBe(404);
    // With the platform freed, the free plan may take another.
    expect((await sub(a.id, d.id, 'anthropic')).status).toBe(201);
  });

  it('refuses bad subscription bodies naming each field', async () => {
    const a = await account();
    const r = await t.call('POST', `/v1/accounts/${a.id}/subscriptions`, { platform: 'Open AI!', min_severity: 'critical', categories: 'privacy' });
    expect(r.status).toBe(400);
    expect(r.json.issues.map((i: any) => i.path).sort()).toEqual(['categories', 'destination', 'min_severity', 'platform']);
  });
});

describe('platforms', () => {
  it('lists the shipped catalog publicly and searches it with ?q=', async () => {
    const all = await t.call('GET', '/v1/platforms?limit=200', undefined, null);
    expect(all.json.data.length).toBeGreaterThanOrEqual(100);
    const open = await t.call('GET', '/v1/platforms?q=open', undefined, null);
    expect(open.json.data.map((p: any) => p.slug)).toContain('openai');
    expect(open.json.data[0].documents.length).toBeGreaterThan(0);
  });
});

describe('health', () => {
  it('answers ok', async () => {
    expect((await t.call('GET', '/health', undefined, null)).json).toEqual({ status: 'ok' });
  });
});
