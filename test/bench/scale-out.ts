import { sql } from 'drizzle-orm';
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { testService } from '../support/service.js';
import { makeEvent } from '../support/app.js';
import { freePort, startServiceProcess, type ServiceProcess } from '../support/service-process.js';
import { seedSubscribers } from './seed.js';
import { groupDueAlerts } from '../../src/delivery/grouping.js';
import { newWebhookSecret } from '../../src/core/webhook-secret.js';
import type { BenchRow } from './report.js';

const MESSAGES = 2_000;
const ROUNDS = 3;
/** A first round warms the processes up (JIT, connections) and is not counted. */
const WARM_UP = 1;
const PROCESSES = [1, 2, 4];

/** The webhook receiver runs in a child process, as a customer's endpoint would. */
async function webhookSink() {
  const child = fork(fileURLToPath(new URL('./webhook-sink.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: 'ignore' });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  const counts = (reset = false) =>
    new Promise<{ count: number; repeated: number }>((resolve) => {
      child.once('message', resolve);
      child.send({ count: true, reset });
    });
  return { url: `http://127.0.0.1:${port}/hooks/clausewatch`, pid: child.pid!, counts, close: () => void child.kill() };
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Webhook delivery by N `ROLE=dispatcher` processes sharing one database file: 2,000 destinations
 * with one due alert each (2,000 outbox rows), made due at one instant every process is waiting
 * for, timed from then to the last row recorded as sent. Grouping is done beforehand by the
 * benchmark (the processes' own group wait is an hour), so this is the delivery path alone:
 * claim, load, render, sign, POST, record. Median of three rounds on the same processes, after a
 * warm-up round.
 */
async function deliveriesPerSecond(processes: number, sink: Awaited<ReturnType<typeof webhookSink>>) {
  const s = await testService();
  const { db } = s.database;
  const dispatchers: ServiceProcess[] = [];
  try {
    // Seeded with a digest weekday away from today: no weekly digest may fall due (or be caught
    // up) during the run, adding rows.
    await seedSubscribers(db, { count: MESSAGES, platformSlugs: ['openai'], plan: 'monitor', channel: 'webhook', webhookUrl: sink.url, prefix: `w${processes}` });
    await db.run(sql`UPDATE destinations SET secret = ${newWebhookSecret()}`);

    for (let i = 0; i < processes; i++) {
      dispatchers.push(
        startServiceProcess('dispatcher', {
          DATABASE_URL: s.database.url,
          WEBHOOK_ALLOW_PRIVATE: 'true',
          ALERT_GROUP_WAIT_SECONDS: '3600',
          MAX_ALERTS_PER_DAY: '10000',
        }, await freePort(), 'build'),
      );
    }
    await Promise.all(dispatchers.map((d) => d.ready));
    await sink.counts(true);

    const rates: number[] = [];
    const cpu: number[] = [];
    for (let round = 0; round < WARM_UP + ROUNDS; round++) {
      const ingested = await s.ingest(makeEvent({ id: `scale-${processes}-${round}`, detected_at: new Date().toISOString() }));
      if (ingested.status !== 202) throw new Error(`ingest: ${ingested.status} ${JSON.stringify(ingested.json)}`);
      // Due a little more than a poll interval (5 s) ahead: every process has looked by then and
      // sleeps until exactly that moment.
      const at = Date.now() + 5_500;
      const created = await groupDueAlerts(db, at, 0);
      if (created !== MESSAGES) throw new Error(`expected ${MESSAGES} outbox rows, grouping made ${created}`);
      const before = await sink.counts();
      while (Date.now() < at) await new Promise((r) => setTimeout(r, 20));
      const cpuBefore = [...dispatchers.map((d) => d.child.pid!), sink.pid].map(cpuSeconds);
      for (;;) {
        const [r] = await db.all<{ open: number; last: number | null }>(
          sql`SELECT coalesce(sum(status <> 'sent'), 0) AS open, max(sent_at) AS last FROM outbox WHERE created_at = ${at}`,
        );
        if (r!.open === 0) {
          const seconds = (r!.last! - at) / 1000;
          const used = [...dispatchers.map((d) => d.child.pid!), sink.pid].map((pid, i) => cpuSeconds(pid) - cpuBefore[i]!);
          if (round >= WARM_UP) {
            rates.push(MESSAGES / seconds);
            // Share of the machine's two cores the dispatchers and the sink kept busy.
            cpu.push(used.reduce((a, b) => a + b, 0) / (seconds * 2));
          }
          break;
        }
        // The end is the last sent_at, so a slow look costs no accuracy and little CPU.
        await new Promise((r) => setTimeout(r, 200));
      }
      const after = await sink.counts();
      if (after.count - before.count !== MESSAGES || after.repeated !== before.repeated) {
        throw new Error(`the receiver got ${after.count - before.count} deliveries for ${MESSAGES} rows, ${after.repeated - before.repeated} of them repeated`);
      }
      const failed = dispatchers.flatMap((d) => d.logs.filter((l) => l.level !== 'info'));
      if (failed.length) throw new Error(`dispatchers logged: ${JSON.stringify(failed.slice(0, 3))}`);
    }
    const pct = (xs: number[]) => xs.map((x) => `${Math.round(x * 100)} %`).join(', ');
    process.stderr.write(
      `bench: ${processes} dispatcher process(es): ${rates.map((r) => Math.round(r)).join(', ')} messages/s; ` +
        `CPU of dispatchers and receiver ${pct(cpu)} of 2 cores\n`,
    );
    return rates;
  } finally {
    await Promise.all(dispatchers.map((d) => d.stop()));
    await s.dispose();
  }
}

export async function benchScaleOut(): Promise<BenchRow[]> {
  const sink = await webhookSink();
  try {
    const rows: BenchRow[] = [];
    for (const n of PROCESSES) {
      const rates = await deliveriesPerSecond(n, sink);
      rows.push({
        name: `webhook deliveries, ${n} dispatcher process${n === 1 ? '' : 'es'} on one database file, loopback receiver (${MESSAGES.toLocaleString('en-US')} messages, median of ${ROUNDS})`,
        value: median(rates),
        samples: rates,
        unit: 'messages/s',
        target: 'reported',
        ok: true,
      });
    }
    return rows;
  } finally {
    sink.close();
  }
}
