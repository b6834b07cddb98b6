import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startServiceProcess, type ServiceProcess } from './support/service-process.js';
import { ADMIN_TOKEN, INGEST_TOKEN } from './support/app.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'clausewatch-first-minutes-'));
// A development start as `npm start` makes it on a fresh clone: NODE_ENV and the group wait unset.
const shared = { NODE_ENV: 'development', DATABASE_URL: `file:${join(dir, 'cw.db')}`, SMTP_URL: '' };
let service: ServiceProcess;
let base: string;
beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  expect(process.env.ALERT_GROUP_WAIT_SECONDS).toBeUndefined();
  service = startServiceProcess('all', { ...shared, PUBLIC_URL: base }, port);
  await service.ready;
}, 30_000);
afterAll(async () => {
  await service?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const cliEnv = () => ({ ...process.env, ...shared, CLAUSEWATCH_URL: base, INGEST_TOKEN, ADMIN_TOKEN });

describe('the first five minutes on a development start', () => {
  it('gathers alerts for 10 s, and says so when it starts', () => {
    expect(service.logs.find((l) => l.msg === 'server.listening')).toMatchObject({ alertGroupWaitSeconds: 10 });
  });

  it('npm run demo waits for its alert mail, says when it landed, and how to print it; npm run eml prints its text part', async () => {
    const demo = await run(process.execPath, ['--import', 'tsx', 'src/cli/demo.ts'], { env: cliEnv(), timeout: 90_000 });
    expect(demo.stdout).toContain('Waiting for the alert mail');
    const sent = /Alert mail sent after (\d+) s: (\d+) changes in one mail/.exec(demo.stdout);
    expect(sent, demo.stdout).not.toBeNull();
    // The development group wait (10 s) and a dispatcher poll, not the production minute.
    expect(Number(sent![1])).toBeLessThan(40);
    expect(demo.stdout).toContain('npm run -s eml');
    const outbox = readdirSync(join(dir, 'outbox')).filter((f) => f.endsWith('.eml'));
    expect(outbox.length).toBeGreaterThan(0);

    const eml = await run(process.execPath, ['--import', 'tsx', 'src/cli/eml.ts'], { env: cliEnv(), timeout: 30_000 });
    const [head, text] = [eml.stdout.slice(0, eml.stdout.indexOf('\n\n')), eml.stdout.slice(eml.stdout.indexOf('\n\n') + 2)];
    expect(head).toMatch(/^File: {4}.*\.eml\nFrom: {4}.+\nTo: {6}demo@clausewatch\.localhost\nSubject: .+\nDate: {4}\d{4}-/);
    // The decoded text part: the newest sample's title as written, no base64 left.
    expect(text).toContain('ElevenLabs no longer promises to delete your voice model when you close your account');
    expect(text).not.toMatch(/^[A-Za-z0-9+/]{76}$/m);
    const html = await run(process.execPath, ['--import', 'tsx', 'src/cli/eml.ts', join(dir, 'outbox', outbox[0]!), '--html'], { env: cliEnv(), timeout: 30_000 });
    expect(html.stdout).toContain('<html');
  }, 150_000);

  it('the README’s curl example, after the demo, alerts (a current detected_at) and lists no change twice, run twice', async () => {
    const readme = readFileSync('README.md', 'utf8');
    const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('readme-example-'));
    expect(block).toBeDefined();
    // The tokens come from the environment here (the test's service was given them).
    const script = block!.split('\n').filter((line) => !line.startsWith('export $(npm run -s tokens)')).join('\n');
    const answers = async () => (await run('bash', ['-euo', 'pipefail', '-c', script], { env: cliEnv(), timeout: 30_000 })).stdout;
    const first = await answers();
    expect(first).toContain('{"accepted":1,"duplicates":0,"matched":2}');
    const again = await answers();
    expect(again).toContain('{"accepted":0,"duplicates":1,"matched":0}');

    const get = async (path: string) => (await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json() as Promise<any>;
    const events = (await get('/v1/events?limit=200')).data as { id: string; title: string }[];
    const titles = events.map((e) => e.title);
    expect(titles.filter((t) => t.startsWith('Example:'))).toHaveLength(1);
    expect(new Set(titles).size).toBe(titles.length);
    // Not backfill: the first Acme account gets a same-day alert for it.
    const acme = (await get(`/v1/accounts?email=${encodeURIComponent('legal@acme.example')}`)).data[0];
    await expect
      .poll(async () => ((await get(`/v1/accounts/${acme.id}/deliveries`)).data as { kind: string; status: string }[]).map((d) => `${d.kind} ${d.status}`), { timeout: 40_000, interval: 500 })
      .toContain('alert sent');
  }, 90_000);
});
