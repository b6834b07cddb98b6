import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type IncomingMessage } from 'node:http';
import { freePort, startServiceProcess } from './support/service-process.js';

const dir = mkdtempSync(join(tmpdir(), 'clausewatch-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const port = 20_000 + Math.floor(Math.random() * 20_000);
// The embedded default, as `npm start` on a fresh clone: no tokens, no secret, no SMTP server.
const env = { ...process.env, DATABASE_URL: `file:${join(dir, 'cw.db')}`, PORT: String(port), INGEST_TOKENS: '', ADMIN_TOKENS: '', SECRET_KEY: '', SMTP_URL: '' };

async function start(): Promise<{ child: ChildProcess; out: () => string; stdout: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stdout = '';
  child.stdout!.on('data', (d) => ((out += d), (stdout += d)));
  child.stderr!.on('data', (d) => (out += d));
  await expect.poll(() => out, { timeout: 20_000, interval: 100 }).toContain('server.listening');
  return { child, out: () => out, stdout: () => stdout };
}
const stop = (child: ChildProcess) => new Promise<void>((r) => (child.once('exit', () => r()), child.kill('SIGTERM')));

describe('a development start', () => {
  it('generates the tokens once, keeps them, and writes mail as .eml files', async () => {
    const first = await start();
    // Every line on stdout is one JSON object (`jq . service.log` reads it all), the tokens' too.
    const lines = first.stdout().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    const tokens = lines.find((l) => l.event === 'tokens.generated')!;
    expect(tokens.msg).toMatch(/settings table of file:.*cw\.db: npm run tokens prints them again/);
    const admin = tokens.ADMIN_TOKENS as string;
    expect(admin).toMatch(/^\S{16,}$/);
    expect(tokens.INGEST_TOKENS).toMatch(/^\S{16,}$/);
    // `npm run tokens` prints them again, from the database.
    const again = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/tokens.ts'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(again.status).toBe(0);
    expect(again.stdout).toBe(`INGEST_TOKEN=${tokens.INGEST_TOKENS}\nADMIN_TOKEN=${admin}\n`);
    const signup = await fetch(`http://127.0.0.1:${port}/v1/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'legal@acme.test', platform: 'openai' }),
    });
    expect(signup.status).toBe(202);
    // The CLI client says the API's error code and its message.
    const refused = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/demo.ts'], {
      env: { ...env, CLAUSEWATCH_URL: `http://127.0.0.1:${port}`, ADMIN_TOKEN: 'not-the-admin-token-at-all', INGEST_TOKEN: 'nor-the-ingest-token' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('demo: GET /v1/accounts?email=demo%40clausewatch.localhost: 401 unauthorized Send a valid admin token');
    const outbox = join(dir, 'outbox');
    await expect.poll(() => (existsSync(outbox) ? readdirSync(outbox).filter((f) => f.endsWith('.eml')) : []).length, { timeout: 10_000 }).toBe(1);
    const eml = readFileSync(join(outbox, readdirSync(outbox).find((f) => f.endsWith('.eml'))!), 'utf8');
    expect(eml).toContain('To: legal@acme.test');
    await stop(first.child);

    const second = await start();
    expect(second.out()).not.toContain('tokens.generated');
    const accounts = await fetch(`http://127.0.0.1:${port}/v1/accounts`, { headers: { authorization: `Bearer ${admin}` } });
    expect(accounts.status).toBe(200);
    await stop(second.child);
  }, 60_000);
});

const cli = (script: string, args: string[], extra: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { env: { ...env, ...extra }, encoding: 'utf8', timeout: 30_000 });
const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

describe('every CLI', () => {
  const clis = [
    { name: 'digest', script: 'src/cli/digest.ts', valued: '--at' },
    { name: 'replay', script: 'src/cli/replay.ts', valued: '--pause-ms' },
    { name: 'demo', script: 'src/cli/demo.ts' },
    { name: 'tokens', script: 'src/cli/tokens.ts' },
    { name: 'templates:build', script: 'src/cli/build-templates.ts' },
    { name: 'discord:register', script: 'bots/discord/register.ts', valued: '--guild' },
  ];
  it.each(clis)('npm run $name: --help prints the usage and exits 0, --version the version, a usage error exits 2 naming the option', ({ name, script, valued }) => {
    const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts[name]).toContain(script);
    const help = cli(script, ['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(new RegExp(`^usage: npm run ${name}\\b`));
    expect(help.stdout).toContain('--version');
    const v = cli(script, ['--version']);
    expect([v.status, v.stdout]).toEqual([0, `${version}\n`]);
    const unknown = cli(script, ['--frobnicate']);
    expect(unknown.status).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toBe(`${name}: unknown option '--frobnicate' (npm run ${name} -- --help lists the options)\n`);
    if (valued) {
      const missing = cli(script, [valued]);
      expect(missing.status).toBe(2);
      expect(missing.stderr.trim().split('\n')).toHaveLength(1);
      expect(missing.stderr).toContain(`${name}: option '${valued} <value>' argument missing`);
    }
  }, 120_000);

  it('npm run digest: an --at that is no RFC 3339 time is a usage error naming --at', () => {
    const r = cli('src/cli/digest.ts', ['--at', 'next monday']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^digest: --at takes an RFC 3339 time/);
  }, 30_000);
});

describe('npm run demo', () => {
  it('--help posts nothing, and without a service it says which URL it tried and to run npm start', async () => {
    const requests: string[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const tokens = { INGEST_TOKEN: 'ingest-token-for-the-test', ADMIN_TOKEN: 'admin-token-for-the-test' };
    try {
      const help = spawn(process.execPath, ['--import', 'tsx', 'src/cli/demo.ts', '--help'], { env: { ...env, ...tokens, CLAUSEWATCH_URL: url } });
      const code = await new Promise((r) => help.once('exit', r));
      expect(code).toBe(0);
      expect(requests).toEqual([]);
    } finally {
      await new Promise((r) => server.close(r));
    }
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const r = cli('src/cli/demo.ts', [], { ...tokens, CLAUSEWATCH_URL: nobody });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`demo: no ClauseWatch answered at ${nobody} (ECONNREFUSED): start one with \`npm start\`, or set CLAUSEWATCH_URL to where it runs\n`);
  }, 60_000);
});

describe('npm run tokens', () => {
  it('says to start the service once when the database does not exist yet', () => {
    const r = cli('src/cli/tokens.ts', [], { DATABASE_URL: `file:${join(dir, 'never-started.db')}` });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^tokens: file:.*never-started\.db does not exist yet: run `npm start` once/);
    expect(existsSync(join(dir, 'never-started.db'))).toBe(false);
  }, 30_000);
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
