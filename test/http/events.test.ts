import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { ADMIN_TOKEN, INGEST_TOKEN, makeEvent, seedSubscriber, testApp, type TestApp } from '../support/app.js';
import { settleDecisions } from '../../src/ingest/settle.js';

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
});
afterEach(() => t.dispose());

const count = async (table: string) => (await t.db.all<{ n: number }>(sql.raw(`SELECT count(*) AS n FROM ${table}`)))[0]!.n;

describe('POST /v1/events', () => {
  it('accepts one event and answers 202 with the counts', async () => {
    const r = await t.ingest(makeEvent({ id: 'evt_1' }));
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ accepted: 1, duplicates: 0, matched: 0 });
    expect(await count('events')).toBe(1);
  });

  it('accepts a batch of events in {"events": [...]}', async () => {
    const r = await t.ingest({ events: [makeEvent({ id: 'a' }), makeEvent({ id: 'b' }), makeEvent({ id: 'c' })] });
    expect(r.status).toBe(202);
    expect(r.json.accepted).toBe(3);
  });

  it('keeps unknown fields of the event', async () => {
    await t.ingest(makeEvent({ id: 'evt_x', producer_note: { reviewed_by: 'ana' } }));
    const list = await t.call('GET', '/v1/events');
    expect(list.json.data[0].producer_note).toEqual({ reviewed_by: 'ana' });
  });

  it('counts a re-sent id with the same content as a duplicate and matches it once', async () => {
    await seedSubscriber(t, { plan: 'monitor' });
    const e = makeEvent({ id: 'evt_dup' });
    expect((await t.ingest(e)).json).toEqual({ accepted: 1, duplicates: 0, matched: 1 });
    expect((await t.ingest(e)).json).toEqual({ accepted: 0, duplicates: 1, matched: 0 });
    await settleDecisions(t.db);
    expect(await count('matches')).toBe(1);
  });

  it('decides each subscriber of a platform by its own filters, however many share its plan and minimum severity', async () => {
    await seedSubscriber(t, { email: 'all@acme.test' });
    await seedSubscriber(t, { email: 'fees@acme.test', categories: ['fees'] });
    await seedSubscriber(t, { email: 'privacy@acme.test', categories: ['privacy'] });
    await seedSubscriber(t, { email: 'high@acme.test', min_severity: 'high' });
    const r = await t.ingest({
      events: [
        makeEvent({ id: 'privacy_medium', severity: 'medium', categories: ['privacy'] }),
        makeEvent({ id: 'fees_high', severity: 'high', categories: ['fees'] }),
      ],
    });
    expect(r.json).toEqual({ accepted: 2, duplicates: 0, matched: 4 });
    const delivery = async (id: string) => (await t.call('GET', '/v1/events')).json.data.find((e: any) => e.id === id).delivery;
    expect(await delivery('privacy_medium')).toMatchObject({ matched_destinations: 2, alerted_destinations: 2, suppressed_destinations: { categories: 1, below_min_severity: 1 } });
    expect(await delivery('fees_high')).toMatchObject({ matched_destinations: 3, alerted_destinations: 3, suppressed_destinations: { categories: 1 } });
    const told = await t.db.all<{ event: string; address: string; alert_state: string; reason: string | null }>(sql`
      SELECT e.id AS event, d.address, m.alert_state, m.suppressed_reason AS reason FROM matches m
      JOIN events e ON e.pk = m.event_pk JOIN destinations d ON d.id = m.destination_id ORDER BY e.id, d.address`);
    expect(told).toEqual([
      { event: 'fees_high', address: 'all@acme.test', alert_state: 'pending', reason: null },
      { event: 'fees_high', address: 'fees@acme.test', alert_state: 'pending', reason: null },
      { event: 'fees_high', address: 'high@acme.test', alert_state: 'pending', reason: null },
      { event: 'fees_high', address: 'privacy@acme.test', alert_state: 'none', reason: 'categories' },
      { event: 'privacy_medium', address: 'all@acme.test', alert_state: 'pending', reason: null },
      { event: 'privacy_medium', address: 'fees@acme.test', alert_state: 'none', reason: 'categories' },
      { event: 'privacy_medium', address: 'high@acme.test', alert_state: 'none', reason: 'below_min_severity' },
      { event: 'privacy_medium', address: 'privacy@acme.test', alert_state: 'pending', reason: null },
    ]);
  });

  it('counts the same event twice in one batch as one duplicate', async () => {
    const e = makeEvent({ id: 'evt_twice' });
    expect((await t.ingest({ events: [e, e] })).json).toEqual({ accepted: 1, duplicates: 1, matched: 0 });
  });

  it('refuses a re-used id with different content with 409 event_conflict and stores nothing', async () => {
    await t.ingest(makeEvent({ id: 'evt_c', title: 'First' }));
    const r = await t.ingest({ events: [makeEvent({ id: 'evt_new' }), makeEvent({ id: 'evt_c', title: 'Second' })] });
    expect(r.status).toBe(409);
    expect(r.json.error).toBe('event_conflict');
    expect(r.json.message).toContain('evt_c');
    expect(await count('events')).toBe(1);
  });

  it('refuses two different events with one id inside a batch', async () => {
    const r = await t.ingest({ events: [makeEvent({ id: 'same', title: 'A' }), makeEvent({ id: 'same', title: 'B' })] });
    expect(r.status).toBe(409);
    expect(await count('events')).toBe(0);
  });

  it('lists every field error of a batch with its path, and stores nothing', async () => {
    const events = [makeEvent({ id: 'ok1' }), makeEvent({ id: 'ok2' }), makeEvent({ id: 'ok3' }), makeEvent({ id: 'bad', severity: 'critical', detected_at: '2026-11-20 06:00' })];
    const r = await t.ingest({ events });
    expect(r.status).toBe(400);
    expect(r.json.error).toBe('invalid_event');
    expect(typeof r.json.message).toBe('string');
    const paths = r.json.issues.map((i: any) => i.path);
    expect(paths).toContain('events.3.severity');
    expect(paths).toContain('events.3.detected_at');
    expect(await count('events')).toBe(0);
    expect(await count('platforms')).toBeGreaterThan(100); // the catalog only
  });

  it.each([
    ['id', { id: '' }, 'id'],
    ['a long id', { id: 'x'.repeat(129) }, 'id'],
    ['a bad slug', { platform: { slug: 'Open AI' } }, 'platform.slug'],
    ['a missing document title', { document: { title: undefined } }, 'document.title'],
    ['a severity outside low/medium/high', { severity: 'urgent' }, 'severity'],
    ['a missing title', { title: undefined }, 'title'],
    ['detected_at without offset', { detected_at: '2026-11-20T06:04:11' }, 'detected_at'],
    ['an impossible date', { detected_at: '2026-02-30T06:04:11Z' }, 'detected_at'],
    ['uppercase sha256', { evidence: { sha256: 'A'.repeat(64) } }, 'evidence.sha256'],
    ['a short previous_sha256', { evidence: { previous_sha256: 'ab12' } }, 'evidence.previous_sha256'],
    ['an unknown kind', { kind: 'edited' }, 'kind'],
    ['a javascript: change link', { change_url: 'javascript:alert(1)' }, 'change_url'],
    ['a bad effective date', { effective_at: '2026-13-01' }, 'effective_at'],
    ['technical_upgrade as a string', { technical_upgrade: 'yes' }, 'technical_upgrade'],
  ])('refuses %s with 400 naming the field', async (_name, override, path) => {
    const r = await t.ingest(makeEvent(override));
    expect(r.status).toBe(400);
    expect(r.json.issues.map((i: any) => i.path)).toContain(path);
    expect(await count('events')).toBe(0);
  });

  it('refuses a batch of more than 500 events', async () => {
    const events = Array.from({ length: 501 }, (_, i) => makeEvent({ id: `e${i}`, summary: undefined }));
    const r = await t.ingest({ events });
    expect(r.status).toBe(400);
    expect(r.json.issues[0].path).toBe('events');
  });

  it('answers 401 without a valid ingest token, and an admin token is not an ingest token', async () => {
    for (const token of [null, 'wrong-token-0123456789', ADMIN_TOKEN]) {
      const r = await t.call('POST', '/v1/events', makeEvent(), token);
      expect(r.status).toBe(401);
      expect(r.json.error).toBe('unauthorized');
    }
    expect(await count('events')).toBe(0);
  });

  it('accepts any of several ingest tokens (rotation)', async () => {
    const t2 = await testApp({ config: { ingestTokens: ['old-token-0123456789abc', INGEST_TOKEN] } });
    try {
      expect((await t2.call('POST', '/v1/events', makeEvent(), 'old-token-0123456789abc')).status).toBe(202);
      expect((await t2.call('POST', '/v1/events', makeEvent(), INGEST_TOKEN)).status).toBe(202);
    } finally {
      t2.dispose();
    }
  });

  it('answers 413 above 1 MiB, declared or not', async () => {
    const big = JSON.stringify({ events: [makeEvent({ summary: 'x'.repeat(1024 * 1024) })] });
    const r = await t.app.request('/v1/events', {
      method: 'POST',
      headers: { authorization: `Bearer ${INGEST_TOKEN}`, 'content-type': 'application/json' },
      body: big,
    });
    expect(r.status).toBe(413);
    expect((await r.json()).error).toBe('payload_too_large');
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    const r2 = await t.app.request('/v1/events', {
      method: 'POST',
      headers: { authorization: `Bearer ${INGEST_TOKEN}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(r2.status).toBe(413);
    expect(await count('events')).toBe(0);
  });

  it('answers 415 for a body that is not JSON', async () => {
    const r = await t.app.request('/v1/events', {
      method: 'POST',
      headers: { authorization: `Bearer ${INGEST_TOKEN}`, 'content-type': 'text/plain' },
      body: JSON.stringify(makeEvent()),
    });
    expect(r.status).toBe(415);
    expect((await r.json()).error).toBe('unsupported_media_type');
  });

  it('answers a body that does not parse as any bad event: 400 invalid_event with the issue at (body)', async () => {
    const r = await t.app.request('/v1/events', {
      method: 'POST',
      headers: { authorization: `Bearer ${INGEST_TOKEN}`, 'content-type': 'application/json' },
      body: '{"id": ',
    });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ error: 'invalid_event', issues: [{ path: '(body)', message: expect.stringContaining('JSON') }] });
  });

  it('adds a new platform and document to the catalog', async () => {
    await t.ingest(makeEvent({ platform: { slug: 'newco-ai', name: 'NewCo AI' }, document: { title: 'NewCo Terms', url: 'https://newco.example/terms' } }));
    const r = await t.call('GET', '/v1/platforms?q=newco', undefined, null);
    expect(r.json.data).toHaveLength(1);
    expect(r.json.data[0]).toMatchObject({ slug: 'newco-ai', name: 'NewCo AI' });
    expect(r.json.data[0].documents[0]).toMatchObject({ title: 'NewCo Terms', url: 'https://newco.example/terms', last_event_at: '2026-11-20T06:04:11.000Z' });
  });

  it('joins an event to its catalog document by title and keeps the producer document id', async () => {
    await t.ingest(makeEvent({ document: { id: 'CA-D-1', title: 'OpenAI Terms of Use' } }));
    await t.ingest(makeEvent({ document: { id: 'CA-D-1', title: 'OpenAI Terms of Use (renamed)' } }));
    const docs = await t.db.all<{ title: string; external_id: string }>(
      sql`SELECT d.title, d.external_id FROM documents d JOIN platforms p ON p.id = d.platform_id WHERE p.slug = 'openai'`,
    );
    expect(docs.filter((d) => d.external_id === 'CA-D-1')).toEqual([{ title: 'OpenAI Terms of Use (renamed)', external_id: 'CA-D-1' }]);
  });
});

describe('matching', () => {
  it('matches subscribers of the platform and counts destinations', async () => {
    await seedSubscriber(t, { email: 'a@acme.test' });
    await seedSubscriber(t, { email: 'b@acme.test' });
    await seedSubscriber(t, { email: 'c@acme.test', platform: 'anthropic' });
    const r = await t.ingest(makeEvent());
    expect(r.json.matched).toBe(2);
  });

  it('admits only events at or above the subscription’s minimum severity', async () => {
    await seedSubscriber(t, { min_severity: 'high' });
    expect((await t.ingest(makeEvent({ severity: 'medium' }))).json.matched).toBe(0);
    expect((await t.ingest(makeEvent({ severity: 'high' }))).json.matched).toBe(1);
  });

  it('admits only events sharing a category when the subscription names categories', async () => {
    await seedSubscriber(t, { categories: ['arbitration', 'fees'] });
    expect((await t.ingest(makeEvent({ categories: ['privacy'] }))).json.matched).toBe(0);
    expect((await t.ingest(makeEvent({ categories: ['privacy', 'fees'] }))).json.matched).toBe(1);
  });

  it('creates same-day alert work for monitor accounts only', async () => {
    await seedSubscriber(t, { plan: 'monitor', email: 'm@acme.test' });
    await seedSubscriber(t, { plan: 'free', email: 'f@acme.test' });
    await t.ingest(makeEvent());
    await settleDecisions(t.db);
    const rows = await t.db.all<{ alert_state: string; suppressed_reason: string | null }>(
      sql`SELECT alert_state, suppressed_reason FROM matches ORDER BY alert_state`,
    );
    expect(rows).toEqual([
      { alert_state: 'none', suppressed_reason: 'plan' },
      { alert_state: 'pending', suppressed_reason: null },
    ]);
  });

  it('stores first_recorded and technical upgrades without matching them', async () => {
    await seedSubscriber(t);
    expect((await t.ingest(makeEvent({ kind: 'first_recorded' }))).json).toMatchObject({ accepted: 1, matched: 0 });
    expect((await t.ingest(makeEvent({ technical_upgrade: true }))).json).toMatchObject({ accepted: 1, matched: 0 });
    const list = await t.call('GET', '/v1/events');
    expect(list.json.data.map((e: any) => e.delivery.suppressed_reason).sort()).toEqual(['first_recorded', 'technical_upgrade']);
  });

  it('keeps backfilled events (older than ALERT_MAX_AGE_HOURS) from same-day alerts', async () => {
    await seedSubscriber(t);
    const r = await t.ingest(makeEvent({ detected_at: '2026-11-10T06:00:00Z' }));
    expect(r.json.matched).toBe(1);
    await settleDecisions(t.db);
    const [m] = await t.db.all<{ alert_state: string; suppressed_reason: string }>(sql`SELECT alert_state, suppressed_reason FROM matches`);
    expect(m).toEqual({ alert_state: 'none', suppressed_reason: 'backfill' });
  });

  it('sends monitoring notices to every subscriber of the platform whatever their filters', async () => {
    await seedSubscriber(t, { min_severity: 'high', categories: ['fees'] });
    expect((await t.ingest(makeEvent({ kind: 'unreachable', severity: 'low', categories: [] }))).json.matched).toBe(1);
  });

  it('ignores paused subscriptions and disabled destinations', async () => {
    const { account } = await seedSubscriber(t, { plan: 'monitor' });
    t.clock.advance(1000);
    await t.call('POST', `/v1/accounts/${account.id}/subscriptions`, {
      platform: 'anthropic',
      destination: (await t.call('GET', `/v1/accounts/${account.id}/destinations`)).json.data[0].id,
    });
    await t.call('PATCH', `/v1/accounts/${account.id}`, { plan: 'free' });
    expect((await t.ingest(makeEvent({ platform: { slug: 'anthropic' }, document: { title: 'Anthropic Usage Policy' } }))).json.matched).toBe(0);
    expect((await t.ingest(makeEvent())).json.matched).toBe(1);
    // After the downgrade the remaining match is digest-only.
    await settleDecisions(t.db);
    const [m] = await t.db.all<{ alert_state: string; suppressed_reason: string }>(sql`SELECT alert_state, suppressed_reason FROM matches`);
    expect(m).toEqual({ alert_state: 'none', suppressed_reason: 'plan' });
  });
});

describe('GET /v1/events', () => {
  it('lists stored events newest first, by platform and since, in pages', async () => {
    for (let i = 0; i < 5; i++) {
      await t.ingest(makeEvent({ id: `o${i}`, detected_at: `2026-11-1${i}T06:00:00Z` }));
    }
    await t.ingest(makeEvent({ id: 'a1', platform: { slug: 'anthropic' }, document: { title: 'Anthropic Usage Policy' } }));
    const p1 = await t.call('GET', '/v1/events?platform=openai&limit=2');
    expect(p1.json.data.map((e: any) => e.id)).toEqual(['o4', 'o3']);
    const p2 = await t.call('GET', `/v1/events?platform=openai&limit=2&cursor=${p1.json.next_cursor}`);
    expect(p2.json.data.map((e: any) => e.id)).toEqual(['o2', 'o1']);
    const since = await t.call('GET', '/v1/events?platform=openai&since=2026-11-13T00:00:00Z');
    expect(since.json.data.map((e: any) => e.id)).toEqual(['o4', 'o3']);
    expect(since.json.next_cursor).toBeNull();
  });

  it('needs the admin token and refuses bad query values', async () => {
    expect((await t.call('GET', '/v1/events', undefined, INGEST_TOKEN)).status).toBe(401);
    const r = await t.call('GET', '/v1/events?since=yesterday&limit=0');
    expect(r.status).toBe(400);
    expect(r.json.issues.map((i: any) => i.path).sort()).toEqual(['limit', 'since']);
  });
});

describe('concurrent ingest', () => {
  it('answers 409 to a request whose id another request stored with other content meanwhile', async () => {
    const results = await Promise.all([
      t.ingest({ events: [makeEvent({ id: 'race', title: 'One' }), ...Array.from({ length: 200 }, (_, i) => makeEvent({ id: `a${i}` }))] }),
      t.ingest({ events: [makeEvent({ id: 'race', title: 'Two' }), ...Array.from({ length: 200 }, (_, i) => makeEvent({ id: `b${i}` }))] }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([202, 409]);
    expect(await count('events')).toBe(201);
  });
});
