import { readdirSync, readFileSync } from 'node:fs';
import { createApp, type AppDeps } from '../../src/http/app.js';
import { createLinkSigner } from '../../src/links.js';
import { createLogger, silentLogger } from '../../src/log.js';
import type { Clock } from '../../src/core/clock.js';
import { tempDatabase, type TempDatabase } from './db.js';
import { fixedClock } from './clock.js';

export const INGEST_TOKEN = 'test-ingest-token-0123456789';
export const ADMIN_TOKEN = 'test-admin-token-0123456789ab';

export interface TestApp {
  app: ReturnType<typeof createApp>;
  database: TempDatabase;
  db: TempDatabase['db'];
  clock: ReturnType<typeof fixedClock>;
  deps: AppDeps;
  /** JSON request with the admin token unless `token` says otherwise. */
  call(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; json: any; res: Response }>;
  ingest(body: unknown): Promise<{ status: number; json: any }>;
  dispose(): void;
}

export async function testApp(options: { now?: string; config?: Partial<AppDeps['config']>; clock?: Clock } = {}): Promise<TestApp> {
  const database = await tempDatabase();
  const clock = fixedClock(options.now ?? '2026-11-20T07:00:00Z');
  const deps: AppDeps = {
    db: database.db,
    clock: options.clock ?? clock,
    log: process.env.TEST_LOG ? createLogger('debug') : silentLogger,
    config: {
      publicUrl: 'https://clausewatch.test',
      ingestTokens: [INGEST_TOKEN],
      adminTokens: [ADMIN_TOKEN],
      secretKey: 'test-secret-key-0123456789-0123456789',
      alertGroupWaitSeconds: 60,
      alertMaxAgeHours: 48,
      flapWindowHours: 72,
      digest: { weekday: 'monday', hour: 9 },
      webhookAllowPrivate: true,
      signupLimitPerHour: 5,
      staleAfterHours: 48,
      // The app alone, as if both bots were set up: test/http/chat-off.test.ts turns them off.
      chat: { slack: true, discord: true },
      ...options.config,
    },
    links: createLinkSigner('test-secret-key-0123456789-0123456789', 'https://clausewatch.test', options.clock ?? clock),
    clientAddress: (c) => c.req.header('x-test-client') ?? '127.0.0.1',
  };
  const app = createApp(deps);
  const call: TestApp['call'] = async (method, path, body, token = ADMIN_TOKEN) => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await app.request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.clone().text();
    return { status: res.status, json: text ? JSON.parse(text) : null, res };
  };
  return {
    app,
    database,
    db: database.db,
    clock,
    deps,
    call,
    ingest: (body) => call('POST', '/v1/events', body, INGEST_TOKEN),
    dispose: () => database.dispose(),
  };
}

/** The sample events shipped in test/fixtures/events, by file name. */
export function fixtureEvents(): Record<string, any> {
  const dir = new URL('../fixtures/events/', import.meta.url);
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => [f, JSON.parse(readFileSync(new URL(f, dir), 'utf8'))]),
  );
}

/** A valid event of `slug`, with overrides. */
export function makeEvent(overrides: Record<string, any> = {}): any {
  const { platform, document, ...rest } = overrides;
  return {
    id: `evt_${Math.random().toString(36).slice(2)}`,
    platform: platform?.slug ? { ...platform } : { slug: 'openai', name: 'OpenAI', ...platform },
    document: { title: 'OpenAI Terms of Use', kind: 'terms_of_service', ...document },
    severity: 'medium',
    categories: ['privacy'],
    title: 'Data retention period extended',
    summary: 'Conversations are kept for 90 days instead of 30.',
    detected_at: '2026-11-20T06:04:11Z',
    ...rest,
  };
}

/** Creates an account with one active email destination subscribed to `platform`. */
export async function seedSubscriber(
  t: TestApp,
  opts: { plan?: 'free' | 'monitor'; platform?: string; email?: string; min_severity?: string; categories?: string[] | null } = {},
) {
  const account = (await t.call('POST', '/v1/accounts', { name: 'Acme Legal', plan: opts.plan ?? 'monitor' })).json;
  const destination = (await t.call('POST', `/v1/accounts/${account.id}/destinations`, { type: 'email', address: opts.email ?? 'legal@acme.test' })).json;
  const sub = await t.call('POST', `/v1/accounts/${account.id}/subscriptions`, {
    platform: opts.platform ?? 'openai',
    destination: destination.id,
    ...(opts.min_severity ? { min_severity: opts.min_severity } : {}),
    ...(opts.categories !== undefined ? { categories: opts.categories } : {}),
  });
  if (sub.status !== 201) throw new Error(`seedSubscriber: ${sub.status} ${JSON.stringify(sub.json)}`);
  return { account, destination, subscription: sub.json };
}
