import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { testService, type TestService } from './support/service.js';
import { ADMIN_TOKEN, INGEST_TOKEN, fixtureEvents } from './support/app.js';

let s: TestService;
let server: ServerType;
let base: string;
beforeAll(async () => {
  s = await testService();
  server = serve({ fetch: s.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await s.dispose();
});

describe('npm run demo', () => {
  it('sends every sample re-dated to end a minute ago, spaced as the samples are', async () => {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, CLAUSEWATCH_URL: base, INGEST_TOKEN, ADMIN_TOKEN, DATABASE_URL: 'file:/nonexistent/demo.db' };
    // Asynchronously: the service answering it runs in this process.
    await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/demo.ts', '--no-wait'], { env, timeout: 60_000 });
    const samples = Object.values(fixtureEvents());
    const sent = (await s.call('GET', '/v1/events?limit=200')).json.data as { id: string; detected_at: string; effective_at?: string | null }[];
    expect(sent).toHaveLength(samples.length);
    const at = (id: string) => Date.parse(sent.find((e) => e.id.startsWith(`${id}_`))!.detected_at);
    const shifts = new Set(samples.map((e) => at(e.id) - Date.parse(e.detected_at)));
    expect(shifts.size).toBe(1); // one shift for all: every gap between two samples is kept
    expect(new Set(sent.map((e) => e.detected_at)).size).toBe(new Set(samples.map((e) => Date.parse(e.detected_at))).size);
    const latest = Math.max(...sent.map((e) => Date.parse(e.detected_at)));
    expect(Date.now() - latest).toBeGreaterThanOrEqual(60_000);
    expect(Date.now() - latest).toBeLessThan(5 * 60_000);
    // Effective dates move by the same whole days: each takes effect as long after its detection.
    const [shift] = shifts;
    const dated = samples.filter((e) => e.effective_at);
    expect(dated.length).toBeGreaterThan(0);
    for (const e of dated) {
      const moved = sent.find((x) => x.id.startsWith(`${e.id}_`))!.effective_at!;
      const days = (Date.parse(moved) - Date.parse(e.effective_at!)) / 86_400_000;
      expect(Number.isInteger(days), `${e.id}: ${e.effective_at} → ${moved}`).toBe(true);
      expect(Math.abs(days * 86_400_000 - shift!)).toBeLessThanOrEqual(43_200_000);
    }
  }, 90_000);
});
