import { loadConfig } from '../../src/config.js';
import { createService, type Service, type ServiceDeps } from '../../src/service.js';
import { createLogger, silentLogger } from '../../src/log.js';
import type { Clock } from '../../src/core/clock.js';
import { distantDb, tempDatabase, type TempDatabase } from './db.js';
import { ADMIN_TOKEN, INGEST_TOKEN } from './app.js';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { fixedClock } from './clock.js';
import { startSmtpServer, type TestSmtpServer } from './smtp.js';

export interface TestService extends Service {
  database: TempDatabase;
  call(method: string, path: string, body?: unknown, token?: string | null, headers?: Record<string, string>): Promise<{ status: number; json: any; text: string; res: Response }>;
  ingest(body: unknown): Promise<{ status: number; json: any }>;
  /** Runs dispatcher passes until one finds nothing to do. */
  drain(): Promise<void>;
  dispose(): Promise<void>;
}

export const TEST_SECRET_KEY = 'test-secret-key-0123456789-0123456789';

/** The whole service as main.ts builds it, on a temp database, with the environment given. */
export async function testService(
  env: Record<string, string> = {},
  opts: { clock?: Clock; deps?: Partial<ServiceDeps>; dbLatencyMs?: number; waitOnMainThread?: boolean } = {},
): Promise<TestService> {
  const database = await tempDatabase({ catalog: false, waitOnMainThread: opts.waitOnMainThread });
  const config = loadConfig({
    PUBLIC_URL: 'https://clausewatch.test',
    INGEST_TOKENS: INGEST_TOKEN,
    ADMIN_TOKENS: ADMIN_TOKEN,
    SECRET_KEY: TEST_SECRET_KEY,
    ...env,
  });
  const service = await createService(config, {
    db: opts.dbLatencyMs ? distantDb(database, opts.dbLatencyMs) : database.db,
    clock: opts.clock ?? Date.now,
    log: process.env.TEST_LOG ? createLogger('debug') : silentLogger,
    outboxDir: join(database.dir, 'outbox'),
    clientAddress: (c) => c.req.header('x-test-client') ?? '127.0.0.1',
    ...opts.deps,
  });
  const call: TestService['call'] = async (method, path, body, token = ADMIN_TOKEN, headers = {}) => {
    const h: Record<string, string> = { ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    if (body !== undefined && !h['content-type']) h['content-type'] = 'application/json';
    const res = await service.app.request(path, {
      method,
      headers: h,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.clone().text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: res.status, json, text, res };
  };
  return {
    ...service,
    database,
    call,
    ingest: (body) => call('POST', '/v1/events', body, INGEST_TOKEN),
    async drain() {
      while ((await service.dispatcher.runOnce()) > 0);
    },
    async dispose() {
      await service.stop();
      database.dispose();
    },
  };
}

/** An account on `plan` with an email destination watching `platforms`. */
export async function emailSubscriber(s: TestService, address: string, platforms: string[] = ['openai'], plan: 'free' | 'monitor' = 'monitor') {
  const account = (await s.call('POST', '/v1/accounts', { name: address, plan })).json;
  const destination = (await s.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'email', address })).json;
  for (const platform of platforms) {
    const r = await s.call('POST', `/v1/accounts/${account.id}/subscriptions`, { platform, destination: destination.id });
    if (r.status !== 201) throw new Error(`subscribe ${platform}: ${r.status} ${r.text}`);
  }
  return { account, destination };
}

/**
 * The usual arrangement of a delivery test: a loopback SMTP server and the whole service on a
 * fixed clock, new for each test. Read `s` and `smtp` from the returned object inside tests.
 */
export function withSmtpService(env: Record<string, string> = {}, start = '2026-11-20T07:00:00Z') {
  const ctx = { clock: fixedClock(start), s: undefined as unknown as TestService, smtp: undefined as unknown as TestSmtpServer };
  beforeEach(async () => {
    ctx.clock.set(start);
    ctx.smtp = await startSmtpServer();
    ctx.s = await testService({ SMTP_URL: ctx.smtp.url, ...env }, { clock: ctx.clock });
  });
  afterEach(async () => {
    await ctx.s.dispose();
    await ctx.smtp.close();
  });
  return ctx;
}
