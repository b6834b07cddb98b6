import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startServiceProcess } from './support/service-process.js';

const dir = mkdtempSync(join(tmpdir(), 'clausewatch-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const port = 20_000 + Math.floor(Math.random() * 20_000);
// The embedded default, as `npm start` on a fresh clone: no tokens, no secret, no SMTP server.
const env = { ...process.env, DATABASE_URL: `file:${join(dir, 'cw.db')}`, PORT: String(port), INGEST_TOKENS: '', ADMIN_TOKENS: '', SECRET_KEY: '', SMTP_URL: '' };

async function start(): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  await expect.poll(() => out, { timeout: 20_000, interval: 100 }).toContain('server.listening');
  return { child, out: () => out };
}
const stop = (child: ChildProcess) => new Promise<void>((r) => (child.once('exit', () => r()), child.kill('SIGTERM')));

describe('a development start', () => {
  it('generates the tokens once, keeps them, and writes mail as .eml files', async () => {
    const first = await start();
    const admin = /generated ADMIN_TOKENS=(\S+)/.exec(first.out())?.[1];
    expect(admin).toBeTruthy();
    expect(first.out()).toMatch(/generated INGEST_TOKENS=\S+/);
    const signup = await fetch(`http://127.0.0.1:${port}/v1/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'legal@acme.test', platform: 'openai' }),
    });
    expect(signup.status).toBe(202);
    const outbox = join(dir, 'outbox');
    await expect.poll(() => (existsSync(outbox) ? readdirSync(outbox).filter((f) => f.endsWith('.eml')) : []).length, { timeout: 10_000 }).toBe(1);
    const eml = readFileSync(join(outbox, readdirSync(outbox).find((f) => f.endsWith('.eml'))!), 'utf8');
    expect(eml).toContain('To: legal@acme.test');
    await stop(first.child);

    const second = await start();
    expect(second.out()).not.toContain('generated');
    const accounts = await fetch(`http://127.0.0.1:${port}/v1/accounts`, { headers: { authorization: `Bearer ${admin}` } });
    expect(accounts.status).toBe(200);
    await stop(second.child);
  }, 60_000);
});

describe('npm run digest', () => {
  it('refuses an --at in the future unless it is a dry run', () => {
    const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/digest.ts', ...args], { env, encoding: 'utf8', timeout: 30_000 });
    const ahead = new Date(Date.now() + 7 * 86_400_000).toISOString();
    const refused = run(['--at', ahead]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('--at is in the future');
    const dry = run(['--at', ahead, '--dry-run']);
    expect(dry.status).toBe(0);
    expect(dry.stdout).toMatch(/dry run at .*: \d+ digests due/);
  }, 60_000);
});

describe('ROLE=dispatcher', () => {
  it('keeps delivering when its ops port is taken (two dispatchers started alike on one host)', async () => {
    const port = await freePort();
    const shared = { DATABASE_URL: `file:${join(dir, 'dispatchers.db')}` };
    const first = startServiceProcess('dispatcher', shared, port);
    expect((await first.ready).port).toBe(port);
    const second = startServiceProcess('dispatcher', shared, port);
    try {
      expect((await second.ready).owner).toBeTruthy();
      await expect.poll(() => second.logs.some((l) => l.msg === 'dispatcher.ops_port_unavailable'), { timeout: 10_000 }).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      expect(second.child.exitCode).toBeNull();
    } finally {
      await Promise.all([first.stop(2_000), second.stop(2_000)]);
    }
  }, 60_000);
});
