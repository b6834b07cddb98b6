import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { sql } from 'drizzle-orm';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.js';
import { testService, type TestService } from '../support/service.js';
import { openDatabase } from '../../src/db.js';
import { createDispatcher } from '../../src/delivery/dispatcher.js';
import { silentLogger } from '../../src/log.js';
import { makeEvent, ADMIN_TOKEN, INGEST_TOKEN } from '../support/app.js';
import { seedSubscribers } from '../bench/seed.js';
import { TEST_SECRET_KEY } from '../support/service.js';
import { freePort } from '../support/service-process.js';

let smtp: TestSmtpServer | undefined;
let s: TestService | undefined;
afterEach(async () => {
  await s?.dispose();
  await smtp?.close();
  s = undefined;
  smtp = undefined;
});

/**
 * A slow SMTP server, `count` monitor subscribers with one due alert each, and a separate
 * `ROLE=dispatcher` process (as an operator runs it) delivering them from the same database file.
 */
async function dispatcherProcessWithWork(smtpDelayMs: number, count: number) {
  smtp = await startSmtpServer({ delayMs: smtpDelayMs });
  s = await testService({ SMTP_URL: smtp.url, ALERT_GROUP_WAIT_SECONDS: '0' });
  await seedSubscribers(s.database.db, { count, platformSlugs: ['openai'], plan: 'monitor' });
  await s.ingest(makeEvent({ detected_at: new Date().toISOString() }));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      ...process.env,
      ROLE: 'dispatcher',
      PORT: String(await freePort()),
      DATABASE_URL: s.database.url,
      SMTP_URL: smtp.url,
      ALERT_GROUP_WAIT_SECONDS: '0',
      INGEST_TOKENS: INGEST_TOKEN,
      ADMIN_TOKENS: ADMIN_TOKEN,
      SECRET_KEY: TEST_SECRET_KEY,
      LOG_LEVEL: 'error',
    },
    stdio: 'ignore',
  });
  return { child, smtp, s };
}

const recipients = (mails: { to: string[] }[]) => mails.flatMap((m) => m.to).sort();
const expected = (n: number) => Array.from({ length: n }, (_, i) => `reader${i + 1}@bench.test`).sort();

describe('several dispatchers on one database', () => {
  it('send each message exactly once', async () => {
    smtp = await startSmtpServer();
    s = await testService({ SMTP_URL: smtp.url, ALERT_GROUP_WAIT_SECONDS: '0' });
    await seedSubscribers(s.database.db, { count: 40, platformSlugs: ['openai'], plan: 'monitor' });
    await s.ingest(makeEvent({ detected_at: new Date().toISOString() }));

    // A second dispatcher with its own connection to the same file, as another process would have.
    const other = await openDatabase(s.database.url);
    const second = createDispatcher({
      db: other.db,
      clock: Date.now,
      log: silentLogger,
      channels: s.channels,
      links: s.links,
      groupWaitMs: 0,
      batchSize: 5,
    });
    const drain = async (d: { runOnce(): Promise<number> }) => {
      while ((await d.runOnce()) > 0);
    };
    await Promise.all([drain(s.dispatcher), drain(second), drain(s.dispatcher)]);
    await smtp.waitFor(40);
    await new Promise((r) => setTimeout(r, 200));
    expect(recipients(smtp.mails)).toEqual(expected(40));
    other.close();
  });

  it('lose nothing and duplicate nothing when one is killed mid-batch', async () => {
    const { child, smtp, s } = await dispatcherProcessWithWork(300, 20);
    await smtp.waitFor(4, 15_000);
    // Kill while every accepted mail is recorded as sent and the next ones wait at MAIL FROM.
    // No SMTP exchange can close the window between a server's 250 and our record of it
    // (RFC 1047), so the test shuts that window, aiming at what leases must guarantee: it holds
    // new transactions, lets those already past MAIL FROM finish, and waits for their records.
    let release!: () => void;
    smtp.behaviour.hold = new Promise((r) => (release = r));
    try {
      const sentRows = async () => (await s.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM outbox WHERE status = 'sent'`))[0]!.n;
      const until = Date.now() + 15_000;
      for (let settled = false; !settled; ) {
        await new Promise((r) => setTimeout(r, 5));
        // open() after the await, with none between it and the kill: the server runs in this process.
        const sent = await sentRows();
        settled = sent === smtp.mails.length && smtp.open() === 0;
        if (!settled && Date.now() > until) throw new Error(`never settled: ${sent} rows sent, ${smtp.mails.length} mails received, ${smtp.open()} transactions open`);
      }
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    } finally {
      child.kill('SIGKILL');
      smtp.behaviour.hold = undefined;
      release();
    }
    const delivered = smtp.mails.length;
    expect(delivered).toBeLessThan(20);
    const sending = await s.database.db.all<{ n: number }>(sql`SELECT count(*) AS n FROM outbox WHERE status = 'sending'`);
    expect(sending[0]!.n).toBeGreaterThan(0); // the killed process held leases

    // Another dispatcher after the lease ran out (its clock runs 61 s ahead) picks up the rest.
    const after = createDispatcher({
      db: s.database.db,
      clock: () => Date.now() + 61_000,
      log: silentLogger,
      channels: s.channels,
      links: s.links,
      groupWaitMs: 0,
    });
    while ((await after.runOnce()) > 0);
    await smtp.waitFor(20);
    await new Promise((r) => setTimeout(r, 300));
    expect(recipients(smtp.mails)).toEqual(expected(20));
  });
});

describe('graceful shutdown', () => {
  it('on SIGTERM finishes in-flight sends, gives back the rest and exits 0', async () => {
    const { child, smtp, s } = await dispatcherProcessWithWork(200, 30);
    await smtp.waitFor(3, 15_000);
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(0);
    const rows = await s.database.db.all<{ status: string; n: number }>(sql`SELECT status, count(*) AS n FROM outbox GROUP BY status`);
    const by = Object.fromEntries(rows.map((r) => [r.status, r.n]));
    expect(by.sending).toBeUndefined();
    expect(by.sent).toBe(smtp.mails.length);
    expect((by.sent ?? 0) + (by.queued ?? 0)).toBe(30);
  });
});
