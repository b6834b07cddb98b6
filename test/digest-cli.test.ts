import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startServiceProcess } from './support/service-process.js';
import { ADMIN_TOKEN, INGEST_TOKEN } from './support/app.js';
import { TEST_SECRET_KEY } from './support/service.js';

const dir = mkdtempSync(join(tmpdir(), 'clausewatch-digest-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

describe('npm run digest beside a running service', () => {
  it('delivers only the digests it enqueued, leaves the service’s queued mail alone, and its last line counts this run', async () => {
    const shared = { DATABASE_URL: `file:${join(dir, 'cw.db')}`, SMTP_URL: '', PUBLIC_URL: 'http://127.0.0.1:1' };
    // The running service is an API process (its dispatcher runs elsewhere), so what it queued
    // stays queued for as long as the test looks: any send of it would be the CLI's.
    const port = await freePort();
    const api = startServiceProcess('api', shared, port);
    try {
      await api.ready;
      const base = `http://127.0.0.1:${port}`;
      const call = async (method: string, path: string, body?: unknown, token = ADMIN_TOKEN) => {
        const init = { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) };
        // A kept-alive connection the service closed while the CLI ran (its 5 s keep-alive) fails
        // at once, before the request is read: sent again on a new one.
        const r = await fetch(`${base}${path}`, init).catch(() => fetch(`${base}${path}`, init));
        return { status: r.status, json: (await r.json()) as any };
      };
      // A digest due now: an account whose local digest hour is this hour.
      const at = new Date();
      const account = (await call('POST', '/v1/accounts', { name: 'Acme', plan: 'monitor', timezone: 'UTC', digest_weekday: WEEKDAYS[at.getUTCDay()], digest_hour: at.getUTCHours() })).json;
      const dest = (await call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'email', address: 'legal@acme.example' })).json;
      expect((await call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform: 'openai', destination: dest.id })).status).toBe(201);
      // The service's own message: a sign-up's confirmation mail, queued for its dispatcher.
      expect((await call('POST', '/v1/signup', { email: 'ana@example.test', platform: 'openai' })).status).toBeLessThan(300);
      const signup = (await call('GET', `/v1/accounts?email=${encodeURIComponent('ana@example.test')}`)).json.data[0];
      const queuedBefore = (await call('GET', `/v1/accounts/${signup.id}/deliveries`)).json.data;
      expect(queuedBefore.map((d: any) => [d.kind, d.status])).toEqual([['confirmation', 'queued']]);

      const run = () =>
        spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/digest.ts', '--at', at.toISOString()], {
          env: { ...process.env, ...shared, INGEST_TOKENS: INGEST_TOKEN, ADMIN_TOKENS: ADMIN_TOKEN, SECRET_KEY: TEST_SECRET_KEY },
          encoding: 'utf8',
          timeout: 60_000,
        });
      const first = run();
      expect(first.status, first.stderr).toBe(0);
      const firstLines = first.stdout.trim().split('\n');
      expect(firstLines[0]).toMatch(/^1 digests due at .*, 1 new/);
      expect(firstLines.at(-1)).toBe('This run: 1 digest sent.');
      expect((await call('GET', `/v1/accounts/${account.id}/deliveries`)).json.data.map((d: any) => [d.kind, d.status])).toEqual([['digest', 'sent']]);
      // Not drained: the service's confirmation mail is still queued, untouched, for its dispatcher.
      const after = (await call('GET', `/v1/accounts/${signup.id}/deliveries`)).json.data;
      expect(after.map((d: any) => [d.kind, d.status, d.attempts])).toEqual([['confirmation', 'queued', 0]]);

      // A second run finds the digest sent: it counts this run (nothing), not the day's digests.
      const second = run();
      expect(second.status, second.stderr).toBe(0);
      expect(second.stdout.trim().split('\n').at(-1)).toBe('This run enqueued nothing new, so it sent nothing.');
    } finally {
      await api.stop();
    }
  }, 120_000);
});
