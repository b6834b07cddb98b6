import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ADMIN_TOKEN, INGEST_TOKEN } from './app.js';
import { TEST_SECRET_KEY } from './service.js';
import { digestWeekdayAwayFrom } from './clock.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ServiceProcess {
  child: ChildProcess;
  role: 'api' | 'dispatcher' | 'all';
  /** Every JSON log line the process wrote so far. */
  logs: Record<string, unknown>[];
  /** Once started: the HTTP port, and the dispatcher's lease owner (ROLE=dispatcher). */
  ready: Promise<{ owner?: string; port?: number }>;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs` if it is still running. */
  stop(graceMs?: number): Promise<void>;
}

/** A free TCP port on loopback (the OS picks it; closed again before the service binds it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** The npm script an operator starts a process of this role with: `start:api` for HTTP alone, `start` for the others. */
export const startScriptOf = (role: ServiceProcess['role']) => (role === 'api' ? 'start:api' : 'start');

/**
 * The node options an npm start script runs the service with (package.json's `start`, or
 * `start:api` for a ROLE=api process: the heap flags an operator's process has), so that a process
 * started here collects garbage as theirs does. Read from the script, so the two cannot drift apart.
 */
export function startScriptNodeOptions(script: ReturnType<typeof startScriptOf> = 'start'): string[] {
  const pkg = JSON.parse(readFileSync(new URL('package.json', `file://${ROOT}`), 'utf8')) as { scripts: Record<string, string> };
  const words = pkg.scripts[script]!.trim().split(/\s+/);
  const options: string[] = [];
  for (const word of words.slice(words.indexOf('node') + 1)) {
    if (!word.startsWith('--')) break;
    options.push(word);
  }
  return options;
}

/**
 * What a service process runs: the sources through tsx (tests: an edit is never left unbuilt), or
 * the build, as npm start does (the benchmark: the code an operator's process runs, which tsx's
 * transform does not produce byte for byte).
 */
export type ServiceCode = 'sources' | 'build';

/** The build npm start runs, compiled first when a source is newer (npm start's own prestart). */
function buildIfStale(): string[] {
  execFileSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  return ['dist/src/main.js'];
}

/**
 * `node <its npm start script's options> --import tsx src/main.ts`, as an operator runs it but
 * from the sources (or, with `code: 'build'`, `dist/src/main.js` as npm start runs it), with the
 * test tokens and secret key and the environment given (and, unless that names one, a digest
 * weekday away from today). Its JSON log lines are collected; `ready` resolves on
 * `server.listening` or `dispatcher.started` (so LOG_LEVEL must be info or lower).
 */
export function startServiceProcess(role: ServiceProcess['role'], env: Record<string, string>, port: number, code: ServiceCode = 'sources'): ServiceProcess {
  const entry = code === 'build' ? buildIfStale() : ['--import', 'tsx', 'src/main.ts'];
  const child = spawn(process.execPath, [...startScriptNodeOptions(startScriptOf(role)), ...entry], {
    cwd: ROOT,
    env: {
      ...process.env,
      ROLE: role,
      INGEST_TOKENS: INGEST_TOKEN,
      ADMIN_TOKENS: ADMIN_TOKEN,
      SECRET_KEY: TEST_SECRET_KEY,
      LOG_LEVEL: 'info',
      // Accounts made through its API get a digest day that no tick of this run reaches.
      DIGEST_WEEKDAY: digestWeekdayAwayFrom(),
      ...env,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const ready = new Promise<{ owner?: string; port?: number }>((resolve, reject) => {
    let partial = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue; // the start banner and other plain lines
        }
        logs.push(entry);
        if (entry.msg === 'dispatcher.started') resolve({ owner: String(entry.owner), port: Number(entry.port) });
        if (entry.msg === 'server.listening') resolve({ port: Number(entry.port) });
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    void exited.then((code) => reject(new Error(`ROLE=${role} exited with ${code} before it was ready: ${stderr.slice(-2000)}`)));
  });
  ready.catch(() => undefined);
  return {
    child,
    role,
    logs,
    ready,
    exited,
    async stop(graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
