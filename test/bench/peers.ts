/**
 * `npm run bench -- peers`: ClauseWatch side by side with Prometheus Alertmanager on this machine,
 * both through their public surfaces: ClauseWatch started with `npm start` (env vars, HTTP API,
 * webhook destinations), Alertmanager 0.25 (Debian's `prometheus-alertmanager`) on loopback with a
 * generated config (a route per receiver with `continue: true`). Both deliver to one webhook
 * receiver in its own process (peer-receiver.ts). The approach follows the shared
 * peer-alertmanager script of this project's reviewers.
 *
 *   fan-out: one change (one alert) for a platform reaches D destinations, group wait 0 s;
 *   burst:   500 changes in one POST to 100 destinations, group wait 1 s: one message each, carrying all 500.
 *
 * Every run starts a fresh process with a fresh database or storage directory, sets it up, sends a
 * warm-up change to another destination, then times the POST until the last of the D webhooks has
 * arrived. Peak RSS is VmHWM (reset through clear_refs just before the POST) with 50 ms polling of
 * VmRSS; CPU is the process's user + system time from /proc. Medians of three runs; the runs of the
 * two systems alternate. Without the Alertmanager binary, ClauseWatch's rows are measured alone
 * and the comparison is skipped with a line saying so. BENCH_NODE_OPTIONS reaches ClauseWatch's node
 * (a profiler preload, `--import`); PEER_RUNS, PEER_CASES (e.g. `100x1,2000x1`) and PEER_SYSTEMS=cw
 * narrow a run for profiling and A/B comparisons.
 */
import { spawn, fork, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/service-process.js';
import { digestWeekdayAwayFrom } from '../support/clock.js';
import type { BenchRow } from './report.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const AM_BIN = process.env.ALERTMANAGER_BIN ?? '/usr/bin/prometheus-alertmanager';
const RUNS = Number(process.env.PEER_RUNS ?? 3);
const mono = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};
const note = (s: string) => process.stderr.write(`bench peers: ${s}\n`);
const INGEST = 'bench-peers-ingest-5b2e91c4';
const ADMIN = 'bench-peers-admin-0d7f3a68';
const SECRET_KEY = 'bench-peers-secret-key-8c1f0e2b9a7d4c6e5f3a';
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

// ---- /proc ------------------------------------------------------------------------------------
function procStat(pid: number) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), cpuS: (Number(f[11]) + Number(f[12])) / CLK_TCK };
  } catch {
    return null;
  }
}
function procMemMB(pid: number) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}
function nodeDescendant(root: number): number | undefined {
  const kids = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const st = procStat(Number(e));
    if (st) (kids.get(st.ppid) ?? kids.set(st.ppid, []).get(st.ppid)!).push(Number(e));
  }
  const comm = (p: number) => {
    try {
      return readFileSync(`/proc/${p}/comm`, 'utf8').trim();
    } catch {
      return '';
    }
  };
  const found: number[] = [];
  const walk = (p: number) => kids.get(p)?.forEach((k) => (comm(k) === 'node' && found.push(k), walk(k)));
  walk(root);
  return found[found.length - 1];
}
/** Peak RSS and CPU of one process from now on. */
function meter(pid: number) {
  let hwmReset = false;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    hwmReset = true;
  } catch {
    hwmReset = false;
  }
  let peak = procMemMB(pid)?.rss ?? NaN;
  const cpu0 = procStat(pid)?.cpuS ?? NaN;
  const timer = setInterval(() => (peak = Math.max(peak, procMemMB(pid)?.rss ?? 0)), 50);
  return {
    cpu: () => (procStat(pid)?.cpuS ?? NaN) - cpu0,
    stop() {
      clearInterval(timer);
      const m = procMemMB(pid);
      return Math.max(peak, m?.rss ?? 0, hwmReset ? (m?.hwm ?? 0) : 0);
    },
  };
}

// ---- HTTP -------------------------------------------------------------------------------------
async function call(base: string, method: string, path: string, body?: unknown, token?: string) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  try {
    const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(120_000) });
    const text = await res.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    return { status: res.status, json, text };
  } catch (e) {
    return { status: 0, json: null, text: String(e) };
  }
}
async function waitFor(url: string, ms: number, alive: () => boolean) {
  for (const end = Date.now() + ms; Date.now() < end && alive(); await sleep(100)) if ((await call(url, 'GET', '')).status === 200) return true;
  return false;
}
async function pool<T>(n: number, conc: number, fn: (i: number) => Promise<T>) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(conc, n) }, async () => {
    while (next < n) await fn(next++);
  }));
}

// ---- the receiver -----------------------------------------------------------------------------
interface Receiver {
  url: string;
  call(cmd: string, extra?: object, reply?: string): Promise<any>;
  next(type: string, ms: number): Promise<any>;
  close(): void;
}
async function startReceiver(): Promise<Receiver> {
  const child = fork(fileURLToPath(new URL('./peer-receiver.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiters: { type: string; resolve: (m: any) => void }[] = [];
  child.on('message', (m: { type: string }) => {
    const i = waiters.findIndex((w) => w.type === m.type);
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(m);
  });
  const next = (type: string, ms: number) =>
    new Promise<any>((resolve) => {
      const w = { type, resolve: (m: any) => (clearTimeout(t), resolve(m)) };
      const t = setTimeout(() => (waiters.splice(waiters.indexOf(w), 1), resolve(null)), ms);
      waiters.push(w);
    });
  const port = (await next('port', 20_000))?.port;
  if (!port) throw new Error('the receiver did not start');
  return {
    url: `http://127.0.0.1:${port}`,
    next,
    async call(cmd, extra = {}, reply = 'ok') {
      const p = next(reply, 30_000);
      child.send({ cmd, ...extra });
      return p;
    },
    close: () => child.kill(),
  };
}

// ---- payloads ---------------------------------------------------------------------------------
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const P = { slug: 'openai', name: 'OpenAI' };
const Q = { slug: 'anthropic', name: 'Anthropic' };
function change(id: string, p: typeof P, i: number) {
  return {
    id,
    platform: p,
    document: { id: `PEER-${p.slug}-terms`, title: `${p.name} Terms of Use`, url: `https://${p.slug}.example/terms`, kind: 'terms_of_service' },
    provision: { id: `PEER-P-${i}`, title: `Clause ${i}: dispute resolution` },
    severity: 'high',
    categories: ['arbitration'],
    title: `Clause ${i} now requires binding arbitration (${id})`,
    summary: `Clause ${i} replaces court claims with binding individual arbitration. Read it before renewing.`,
    impact: 'Disputes go to binding arbitration instead of court; class actions are waived.',
    detected_at: new Date().toISOString(),
    evidence: { sha256: sha(`${id}:new`), previous_sha256: sha(`${id}:old`), archive_url: `https://archive.example/${id}` },
    change_url: `https://records.example/${id}`,
    kind: 'changed',
    diff: { removed: [`Clause ${i}: you may bring claims in the courts of your residence.`], added: [`Clause ${i}: all claims go to binding individual arbitration.`] },
  };
}
function alert(id: string, p: typeof P, i: number) {
  const c = change(id, p, i);
  return {
    labels: { alertname: 'PolicyChange', platform: p.slug, event_id: id, severity: 'high', document: `${p.slug}-terms` },
    annotations: { title: c.title, summary: c.summary, impact: c.impact, change_url: c.change_url, archive_url: c.evidence.archive_url, sha256: c.evidence.sha256, diff_removed: c.diff.removed[0]!, diff_added: c.diff.added[0]! },
    startsAt: c.detected_at,
  };
}

// ---- the two systems --------------------------------------------------------------------------
interface System {
  pid: number;
  post(items: number, id: (i: number) => string, to: typeof P): Promise<{ status: number; text: string }>;
  stop(): Promise<void>;
}
function watch(child: ChildProcess) {
  const state = { exited: false };
  child.once('exit', () => (state.exited = true));
  return state;
}
async function stopProcess(child: ChildProcess, state: { exited: boolean }, pid = child.pid!) {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    /* gone already */
  }
  for (let i = 0; i < 100 && !state.exited; i++) await sleep(100);
  if (!state.exited) child.kill('SIGKILL');
}

async function startClauseWatch(rx: Receiver, groupWaitS: number, D: number, dir: string): Promise<System> {
  const port = await freePort();
  const log = openSync(join(dir, 'service.log'), 'a');
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    stdio: ['ignore', log, log],
    env: {
      ...process.env,
      PORT: String(port),
      DATABASE_URL: `file:${join(dir, 'cw.db')}`,
      NODE_ENV: 'production',
      INGEST_TOKENS: INGEST,
      ADMIN_TOKENS: ADMIN,
      SECRET_KEY,
      WEBHOOK_ALLOW_PRIVATE: 'true',
      ALERT_GROUP_WAIT_SECONDS: String(groupWaitS),
      MAX_ALERTS_PER_DAY: '10000',
      // Its account is made through the API: a digest falling due mid-run would count as a delivery.
      DIGEST_WEEKDAY: digestWeekdayAwayFrom(),
      // Production refuses a non-https PUBLIC_URL (RFC 8058 one-click links); the links are only text here.
      PUBLIC_URL: 'https://clausewatch.bench.test',
      npm_config_update_notifier: 'false',
      ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
    },
  });
  const state = watch(child);
  const base = `http://127.0.0.1:${port}`;
  if (!(await waitFor(`${base}/health`, 90_000, () => !state.exited))) throw new Error(`ClauseWatch did not start: ${readFileSync(join(dir, 'service.log'), 'utf8').slice(-500)}`);
  const pid = nodeDescendant(child.pid!);
  if (!pid) throw new Error('no node process under npm start');
  const acc = await call(base, 'POST', '/v1/accounts', { name: 'bench peers', plan: 'monitor', timezone: 'UTC' }, ADMIN);
  const add = async (url: string, platform: string) => {
    const d = await call(base, 'POST', `/v1/accounts/${acc.json.id}/destinations`, { type: 'webhook', url }, ADMIN);
    const s = await call(base, 'POST', `/v1/accounts/${acc.json.id}/subscriptions`, { platform, destination: d.json?.id }, ADMIN);
    if (s.status !== 201 && s.status !== 200) throw new Error(`subscription: ${s.status} ${s.text.slice(0, 200)}`);
  };
  await add(`${rx.url}/w/0`, Q.slug);
  await pool(D, 8, (i) => add(`${rx.url}/d/${i}`, P.slug));
  return {
    pid,
    post: (items, id, to) => {
      const events = Array.from({ length: items }, (_, i) => change(id(i), to, i + 1));
      return call(base, 'POST', '/v1/events', items === 1 ? events[0] : { events }, INGEST);
    },
    async stop() {
      await stopProcess(child, state, pid);
      closeSync(log);
    },
  };
}

function alertmanagerConfig(rx: Receiver, D: number, groupWait: string) {
  const timing = (ind: string) => [`${ind}group_by: ['platform']`, `${ind}group_wait: ${groupWait}`, `${ind}group_interval: 5m`, `${ind}repeat_interval: 24h`];
  const route = (r: string, p: string) => [`    - receiver: '${r}'`, `      matchers: ['platform="${p}"']`, ...timing('      '), '      continue: true'];
  const recv = (name: string, url: string) => [`  - name: '${name}'`, '    webhook_configs:', `      - url: '${url}'`, '        send_resolved: false'];
  const out = ['route:', "  receiver: 'null'", ...timing('  '), '  routes:', ...route('warm', Q.slug)];
  for (let i = 0; i < D; i++) out.push(...route(`r${i}`, P.slug));
  out.push('receivers:', "  - name: 'null'", ...recv('warm', `${rx.url}/w/0`));
  for (let i = 0; i < D; i++) out.push(...recv(`r${i}`, `${rx.url}/d/${i}`));
  return out.join('\n') + '\n';
}

async function startAlertmanager(rx: Receiver, groupWaitS: number, D: number, dir: string): Promise<System> {
  const port = await freePort();
  writeFileSync(join(dir, 'alertmanager.yml'), alertmanagerConfig(rx, D, `${groupWaitS}s`));
  mkdirSync(join(dir, 'data'));
  const log = openSync(join(dir, 'alertmanager.log'), 'a');
  const child = spawn(
    AM_BIN,
    [`--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=', `--web.external-url=http://127.0.0.1:${port}/`],
    { stdio: ['ignore', log, log] },
  );
  const state = watch(child);
  const base = `http://127.0.0.1:${port}`;
  if (!(await waitFor(`${base}/-/ready`, 60_000, () => !state.exited))) throw new Error('Alertmanager did not start');
  return {
    pid: child.pid!,
    post: (items, id, to) => call(base, 'POST', '/api/v2/alerts', Array.from({ length: items }, (_, i) => alert(id(i), to, i + 1))),
    async stop() {
      await stopProcess(child, state);
      closeSync(log);
    },
  };
}

// ---- one measured run -------------------------------------------------------------------------
interface Run {
  ok: boolean;
  lastMs: number;
  cpuS: number;
  peakMB: number;
}
async function oneRun(rx: Receiver, sys: 'cw' | 'am', groupWaitS: number, D: number, items: number, tag: string): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), `bench-peers-${sys}-`));
  let s: System | undefined;
  try {
    s = sys === 'cw' ? await startClauseWatch(rx, groupWaitS, D, dir) : await startAlertmanager(rx, groupWaitS, D, dir);
    await rx.call('reset');
    const warm = rx.next('reached', 30_000);
    await s.post(1, () => `peer_${tag}_warm`, Q);
    await rx.call('expect', { prefix: '/w/', n: 1 });
    if (!(await warm)) throw new Error('the warm-up webhook did not arrive');
    await sleep(300);
    await rx.call('reset');
    const reached = rx.next('reached', 180_000);
    await rx.call('expect', { prefix: '/d/', n: D });
    const m = meter(s.pid);
    const t0 = mono();
    const ans = await s.post(items, (i) => `peer_${tag}_${i}`, P);
    if (ans.status < 200 || ans.status > 299) throw new Error(`POST answered ${ans.status}: ${ans.text.slice(0, 200)}`);
    const r = await reached;
    const cpuS = m.cpu();
    await sleep(groupWaitS ? 2_500 : 1_500); // late duplicates would show up here
    const peakMB = m.stop();
    const { arrivals } = (await rx.call('dump', {}, 'dump')) as { arrivals: { path: string; items: number }[] };
    const d = arrivals.filter((a) => a.path.startsWith('/d/'));
    const ok = !!r && d.length === D && new Set(d.map((a) => a.path)).size === D && d.every((a) => a.items === items);
    const run = { ok, lastMs: r ? r.last - t0 : NaN, cpuS, peakMB };
    note(`${sys} D=${D} ×${items} ${tag}: ${ok ? 'ok' : 'INCOMPLETE'} last arrival ${run.lastMs.toFixed(0)} ms, CPU ${cpuS.toFixed(2)} s, peak RSS ${peakMB.toFixed(0)} MB`);
    return run;
  } catch (e) {
    note(`${sys} D=${D} ×${items} ${tag}: FAILED ${(e as Error).message}`);
    return { ok: false, lastMs: NaN, cpuS: NaN, peakMB: NaN };
  } finally {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const CASES = [
  { name: 'one change to 2,000 webhook destinations: POST → last arrival', D: 2_000, items: 1, groupWaitS: 0 },
  { name: 'one change to 100 webhook destinations: POST → last arrival', D: 100, items: 1, groupWaitS: 0 },
  { name: '500 changes to 100 destinations, group wait 1 s, one message each: POST → last arrival', D: 100, items: 500, groupWaitS: 1 },
];

export async function benchPeers(): Promise<BenchRow[]> {
  // PEER_SYSTEMS=cw measures ClauseWatch alone (an A/B of two checkouts); PEER_CASES=100x1,2000x1 picks cases.
  const withPeer = existsSync(AM_BIN) && process.env.PEER_SYSTEMS !== 'cw';
  if (!existsSync(AM_BIN)) note(`SKIPPED the Alertmanager rows: no binary at ${AM_BIN} (apt-get install prometheus-alertmanager, or set ALERTMANAGER_BIN); ClauseWatch measured alone`);
  const systems: ('cw' | 'am')[] = withPeer ? ['cw', 'am'] : ['cw'];
  const rx = await startReceiver();
  const tag = randomBytes(3).toString('hex');
  const rows: BenchRow[] = [];
  const f = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(2));
  try {
    for (const c of CASES.filter((c) => !process.env.PEER_CASES || process.env.PEER_CASES.split(',').includes(`${c.D}x${c.items}`))) {
      const runs: Record<'cw' | 'am', Run[]> = { cw: [], am: [] };
      for (let r = 0; r < RUNS; r++) for (const sys of r % 2 ? [...systems].reverse() : systems) runs[sys].push(await oneRun(rx, sys, c.groupWaitS, c.D, c.items, `${tag}-${c.D}-${c.items}-${r}`));
      const med = (sys: 'cw' | 'am', k: keyof Omit<Run, 'ok'>) => median(runs[sys].map((x) => x[k]));
      const correct = runs.cw.every((x) => x.ok) && runs.am.every((x) => x.ok);
      const cw = med('cw', 'lastMs');
      if (withPeer) {
        const am = med('am', 'lastMs');
        rows.push({
          name: `${c.name}: ClauseWatch ${f(cw)} ms, Alertmanager ${f(am)} ms (medians of ${RUNS}; ClauseWatch ${runs.cw.map((x) => f(x.lastMs)).join(', ')}; Alertmanager ${runs.am.map((x) => f(x.lastMs)).join(', ')})`,
          value: cw / am,
          // Each round's ratio: ClauseWatch's run against the Alertmanager run beside it.
          samples: runs.cw.map((x, i) => x.lastMs / runs.am[i]!.lastMs),
          unit: '× Alertmanager',
          target: '≤ 1.0×',
          ok: correct && cw / am <= 1,
        });
      } else rows.push({ name: `${c.name}, ClauseWatch (median of ${RUNS})`, value: cw, samples: runs.cw.map((x) => x.lastMs), unit: 'ms', target: 'reported', ok: correct });
      if (c.D === 2_000) {
        const cpuMs = (med('cw', 'cpuS') * 1000) / c.D;
        const amCpu = withPeer ? `, Alertmanager ${f((med('am', 'cpuS') * 1000) / c.D)} ms` : '';
        rows.push({ name: `CPU per delivered webhook in the 2,000 fan-out (ClauseWatch${amCpu})`, value: cpuMs, samples: runs.cw.map((x) => (x.cpuS * 1000) / c.D), unit: 'ms', target: '≤ 0.6 ms', ok: cpuMs <= 0.6 });
        const rss = med('cw', 'peakMB');
        const amRss = withPeer ? `, Alertmanager ${f(med('am', 'peakMB'))} MB` : '';
        rows.push({ name: `peak RSS during the 2,000 fan-out (ClauseWatch${amRss})`, value: rss, samples: runs.cw.map((x) => x.peakMB), unit: 'MB', target: '≤ 160 MB', ok: rss <= 160 });
      }
    }
  } finally {
    rx.close();
  }
  return rows;
}
