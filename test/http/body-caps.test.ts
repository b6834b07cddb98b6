import { describe, expect, it } from 'vitest';
import { withServiceProcess } from '../support/running-service.js';
import { residentBytes, streamBody } from '../support/hostile-client.js';
import { SLACK_SIGNING_SECRET } from '../support/slack-sign.js';
import { discordKeys } from '../support/discord-sign.js';
import { ADMIN_TOKEN, INGEST_TOKEN, makeEvent } from '../support/app.js';

/**
 * Body caps on the real running service: a 60 MB body, unsigned, to every route that reads one,
 * declared or streamed without a length, is refused with 413 without the server waiting for the
 * rest of it, and the server's memory does not grow with it.
 */
const ctx = withServiceProcess({
  SLACK_SIGNING_SECRET,
  SLACK_BOT_TOKEN: 'xoxb-test-token',
  SLACK_API_URL: 'http://127.0.0.1:9/api/',
  DISCORD_APPLICATION_ID: '999',
  DISCORD_PUBLIC_KEY: discordKeys().publicKeyHex,
  DISCORD_BOT_TOKEN: 'discord-bot-token',
  DISCORD_API_URL: 'http://127.0.0.1:9/api',
});

export const CAPPED_ROUTES: { path: string; cap: number; type: string }[] = [
  { path: '/manage/any-token/subscriptions', cap: 8 * 1024, type: 'application/x-www-form-urlencoded' },
  { path: '/unsubscribe/any-token', cap: 8 * 1024, type: 'application/x-www-form-urlencoded' },
  { path: '/slack/commands', cap: 64 * 1024, type: 'application/x-www-form-urlencoded' },
  { path: '/slack/events', cap: 64 * 1024, type: 'application/json' },
  { path: '/discord/interactions', cap: 64 * 1024, type: 'application/json' },
];
const SIXTY_MB = 60 * 1024 * 1024;

describe('a 60 MB unsigned body', () => {
  for (const route of CAPPED_ROUTES) {
    for (const chunked of [false, true]) {
      it(`to ${route.path}${chunked ? ', chunked without a length,' : ''} is refused with 413 without being read`, async () => {
        const before = residentBytes(ctx.service.child.pid!);
        let peak = before;
        const sampler = setInterval(() => (peak = Math.max(peak, residentBytes(ctx.service.child.pid!))), 20);
        sampler.unref();
        const r = await streamBody(ctx.port, route.path, { totalBytes: SIXTY_MB, chunked, headers: { 'content-type': route.type } }).finally(() => clearInterval(sampler));
        expect(r.status).toBe(413);
        expect(JSON.parse(r.body)).toMatchObject({ error: 'payload_too_large' });
        // Reading the body would show in memory. Not in how much this client wrote before it read
        // the answer: after answering, @hono/node-server discards what follows (up to 64 MB or
        // 500 ms, then it closes), so a client slow to look at its socket keeps writing (24 MB once
        // on a loaded machine).
        expect(peak - before).toBeLessThan(50 * 1024 * 1024);
        // That the server answers without waiting for the body: 16 MB of the 60 declared, then
        // nothing, and the 413 comes all the same.
        const part = await streamBody(ctx.port, route.path, { totalBytes: SIXTY_MB, chunked, headers: { 'content-type': route.type }, stopAfter: 16 * 1024 * 1024 });
        expect(part.status).toBe(413);
      });
    }
  }
});

describe('every hostile request at once', () => {
  it('leaves /health answering within 250 ms, and /metrics shows the event-loop lag', async () => {
    const base = `http://127.0.0.1:${ctx.port}`;
    // Feeds whose stored payloads are large: 20 changes with diffs of about 900 KB each.
    const diff = { removed: Array.from({ length: 90 }, () => 'r'.repeat(5_000)), added: Array.from({ length: 90 }, () => 'a'.repeat(5_000)) };
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${base}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${INGEST_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(makeEvent({ id: `big-${i}`, detected_at: new Date(Date.now() - i * 60_000).toISOString(), diff })),
      });
      expect(r.status).toBe(202);
    }
    const signup = await fetch(`${base}/v1/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'ana@example.test', platform: 'openai' }) });
    expect(signup.status).toBe(202);

    const latencies: number[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const t0 = performance.now();
        const r = await fetch(`${base}/health`);
        await r.text();
        latencies.push(performance.now() - t0);
        await new Promise((res) => setTimeout(res, 25));
      }
    })();
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const hostile: Promise<unknown>[] = [
      // A 500,000-character platform field on the manage page, and a long one within its cap.
      fetch(`${base}/manage/any-token/subscriptions`, { method: 'POST', headers: form, body: `platform=${'a'.repeat(500_000)}` }).then((r) => expect(r.status).toBe(413)),
      fetch(`${base}/manage/any-token/subscriptions`, { method: 'POST', headers: form, body: `platform=${'a'.repeat(7_000)}` }).then((r) => r.text()),
      // 60 MB to every capped route, chunked.
      ...CAPPED_ROUTES.map((route) => streamBody(ctx.port, route.path, { totalBytes: SIXTY_MB, chunked: true, headers: { 'content-type': route.type } }).then((r) => expect(r.status).toBe(413))),
      // Feed readers that bust caches with query parameters, on every filter, and the catalog search.
      ...Array.from({ length: 30 }, (_, i) =>
        fetch(`${base}/feeds/${i % 2 ? 'openai' : 'all'}.atom?min_severity=${['low', 'medium', 'high'][i % 3]}&bust=${i}`).then((r) => r.text()),
      ),
      ...Array.from({ length: 10 }, (_, i) => fetch(`${base}/v1/platforms?q=${'o'.repeat(i * 10)}`).then((r) => r.text())),
    ];
    await Promise.all(hostile);
    await new Promise((res) => setTimeout(res, 200));
    polling = false;
    await poller;
    expect(latencies.length).toBeGreaterThan(5);
    expect(Math.max(...latencies), `/health answered in ${latencies.map(Math.round).join(', ')} ms`).toBeLessThan(250);

    const metrics = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    expect(metrics).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    expect(metrics).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
  }, 120_000);
});
