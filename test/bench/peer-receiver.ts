/**
 * The webhook receiver of `npm run bench -- peers`, in its own process, shared by ClauseWatch and
 * Alertmanager: answers every POST 204 once its body is read, and records when (CLOCK_MONOTONIC
 * ms, the same clock in every process), for which path and with how many items. The parent asks
 * it to `expect` n distinct paths under a prefix and is told when they have all arrived.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const mono = () => Number(process.hrtime.bigint()) / 1e6;
interface Arrival {
  path: string;
  t: number;
  items: number;
}
let arrivals: Arrival[] = [];
let expect: { prefix: string; n: number } | null = null;
const distinct = new Set<string>();

function check() {
  if (expect && distinct.size >= expect.n) {
    const prefix = expect.prefix;
    expect = null;
    process.send?.({ type: 'reached', last: Math.max(...arrivals.filter((a) => a.path.startsWith(prefix)).map((a) => a.t)) });
  }
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const t = mono();
    res.statusCode = 204;
    res.end();
    let body: { data?: { changes?: unknown[] }; alerts?: unknown[] } | null = null;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      body = null;
    }
    const items = body?.data?.changes?.length ?? body?.alerts?.length ?? -1;
    const path = (req.url ?? '').split('?')[0]!;
    arrivals.push({ path, t, items });
    if (expect && path.startsWith(expect.prefix)) {
      distinct.add(path);
      check();
    }
  });
});
server.keepAliveTimeout = 30_000;
process.on('message', (m: { cmd: string; prefix?: string; n?: number }) => {
  if (m.cmd === 'reset') {
    arrivals = [];
    distinct.clear();
    expect = null;
    process.send?.({ type: 'ok' });
  } else if (m.cmd === 'expect') {
    expect = { prefix: m.prefix!, n: m.n! };
    distinct.clear();
    for (const a of arrivals) if (a.path.startsWith(m.prefix!)) distinct.add(a.path);
    process.send?.({ type: 'ok' });
    check();
  } else if (m.cmd === 'dump') process.send?.({ type: 'dump', arrivals });
});
process.on('disconnect', () => process.exit(0));
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => process.send?.({ type: 'port', port: (server.address() as AddressInfo).port }));
