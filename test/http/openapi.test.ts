import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { testService, type TestService } from '../support/service.js';
import { SLACK_SIGNING_SECRET } from '../support/slack-sign.js';
import { parseEventBody } from '../../src/core/event.js';
import { INGEST_TOKEN } from '../support/app.js';

/**
 * What the description leaves out, and why: Slack's and Discord's endpoints (slash commands,
 * events, interactions, the OAuth install), which Slack and Discord call with bodies they define
 * and sign, or which a browser follows in their flows; an OpenAPI client can do nothing with them.
 */
const NOT_DESCRIBED = [
  { prefix: '/slack/', why: 'Slack’s requests, signed by Slack, and its OAuth flow' },
  { prefix: '/discord/', why: 'Discord’s interactions, signed by Discord' },
];
const excluded = (route: string) => NOT_DESCRIBED.some((x) => route.split(' ')[1]!.startsWith(x.prefix));

type Doc = {
  paths: Record<string, Record<string, { security?: unknown[]; parameters?: { in: string; name: string }[]; responses: Record<string, { $ref?: string; content?: Record<string, unknown> }> }>>;
  components: { schemas: Record<string, unknown>; responses: Record<string, unknown> };
};

let s: TestService;
let doc: Doc;

beforeAll(async () => {
  // Slack (with OAuth) and Discord on, so that every route the app can serve is registered.
  s = await testService({
    SLACK_SIGNING_SECRET,
    SLACK_BOT_TOKEN: 'xoxb-test-token',
    SLACK_CLIENT_ID: '1111.2222',
    SLACK_CLIENT_SECRET: 'slack-client-secret',
    SLACK_STATE_SECRET: 'slack-state-secret-0123456789',
    DISCORD_APPLICATION_ID: '999',
    DISCORD_PUBLIC_KEY: '0'.repeat(64),
    DISCORD_BOT_TOKEN: 'discord-bot-token',
    // A webhook destination on loopback is accepted (no DNS here); nothing is sent to it.
    WEBHOOK_ALLOW_PRIVATE: 'true',
    ALERT_GROUP_WAIT_SECONDS: '0',
  });
  const r = await s.call('GET', '/openapi.json', undefined, null);
  expect(r.status).toBe(200);
  doc = r.json;
});
afterAll(() => s?.dispose());

/** Hono's registered handlers (not middleware), as "METHOD /path/{param}". */
function servedRoutes(): string[] {
  const routes = s.app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path.replace(/:([A-Za-z_]+)(\{[^/]*\})?/g, '{$1}')}`);
  return [...new Set(routes)].sort();
}

const describedRoutes = () => Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();

/** Validates values against the description's schemas (JSON Schema 2020-12, as OpenAPI 3.1 has it), formats included. */
function validator() {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  // The components as one schema document, so that their references resolve.
  const rebase = <T>(v: T): T => JSON.parse(JSON.stringify(v).replaceAll('"#/components/schemas/', '"doc#/$defs/'));
  ajv.addSchema({ $id: 'doc', $defs: rebase(doc.components.schemas) });
  return (schema: string | object, value: unknown) => {
    const validate = typeof schema === 'string' ? ajv.getSchema(`doc#/$defs/${schema}`)! : ajv.compile(rebase(schema));
    return validate(value) ? [] : validate.errors!.map((e) => `${e.instancePath} ${e.message}`);
  };
}

/** The JSON schema of an operation's answer with `status`. */
function answerSchema(method: string, path: string, status: number): object {
  const op = doc.paths[path]?.[method];
  const schema = (op?.responses[String(status)]?.content?.['application/json'] as { schema?: object } | undefined)?.schema;
  if (!schema) throw new Error(`${method} ${path} ${status} has no JSON answer described`);
  return schema;
}

describe('GET /openapi.json', () => {
  it('describes every route the app serves, and only those (Slack’s and Discord’s receivers left out, each with its reason)', () => {
    const served = servedRoutes();
    // Each exclusion names real routes of this app (a stale entry fails here).
    for (const x of NOT_DESCRIBED) expect(served.some((r) => r.split(' ')[1]!.startsWith(x.prefix)), x.prefix).toBe(true);
    expect(served.filter((r) => !excluded(r))).toEqual(describedRoutes());
    expect(describedRoutes().filter(excluded)).toEqual([]);
    expect(served.length).toBeGreaterThan(30);
  });

  it('is OpenAPI 3.1 whose every path parameter is described', () => {
    expect(doc).toMatchObject({ openapi: '3.1.0', info: { title: 'ClauseWatch' }, servers: [{ url: 'https://clausewatch.test' }] });
    for (const [path, ops] of Object.entries(doc.paths)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(ops)) {
        expect((op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name).sort(), `${method} ${path}`).toEqual(names.sort());
      }
    }
  });

  it('accepts the change event example of the contract (docs/contract.md) as a ChangeEvent, as the API does', () => {
    const fixture = JSON.parse(readFileSync('test/fixtures/contract/change-event.json', 'utf8'));
    // The fixture is the contract's example with its elisions ("…64 hex…", "https://…") filled in.
    const contract = readFileSync('docs/contract.md', 'utf8');
    const example = JSON.parse(/## Change event \(POST \/v1\/events\)\n\n```json\n([\s\S]*?)\n```/.exec(contract)![1]!);
    const leaves = (v: unknown, path = ''): [string, unknown][] =>
      v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.entries(v).flatMap(([k, x]) => leaves(x, `${path}.${k}`)) : [[path, v]];
    const filled = new Map(leaves(fixture));
    expect([...filled.keys()]).toEqual(leaves(example).map(([k]) => k));
    for (const [path, value] of leaves(example)) if (!JSON.stringify(value).includes('…')) expect(filled.get(path), path).toEqual(value);

    const check = validator();
    expect(check('ChangeEvent', fixture)).toEqual([]);
    expect(parseEventBody(fixture)).toMatchObject({ ok: true });
    // And the schema is no rubber stamp: what the API refuses, it refuses too.
    expect(check('ChangeEvent', { ...fixture, severity: 'urgent' })).not.toEqual([]);
    expect(check('ChangeEvent', { ...fixture, detected_at: 'yesterday' })).not.toEqual([]);
    const { title: _, ...untitled } = fixture;
    expect(check('ChangeEvent', untitled)).not.toEqual([]);
  });

  it('describes the answers the API gives: accounts, destinations of every type, subscriptions, the delivery log, events', async () => {
    const check = validator();
    const answers: [string, string, number, { status: number; json: unknown }][] = [];
    const call = async (method: string, described: string, url: string, body?: unknown, token?: string | null) => {
      const r = await s.call(method.toUpperCase(), url, body, token);
      answers.push([method, described, r.status, r]);
      return r.json;
    };
    const account = await call('post', '/v1/accounts', '/v1/accounts', { name: 'Acme Legal', plan: 'monitor' });
    const base = `/v1/accounts/${account.id}`;
    const email = await call('post', '/v1/accounts/{id}/destinations', `${base}/destinations`, { type: 'email', address: 'legal@acme.test' });
    const hook = await call('post', '/v1/accounts/{id}/destinations', `${base}/destinations`, { type: 'webhook', url: 'http://127.0.0.1:9/clausewatch' });
    await call('post', '/v1/accounts/{id}/destinations', `${base}/destinations`, { type: 'discord', webhook_url: `https://discord.com/api/webhooks/123456789012345678/${'t'.repeat(40)}` });
    await call('post', '/v1/accounts/{id}/destinations', `${base}/destinations`, { type: 'slack', team: 'T0123ABC', channel: 'C0123ABC' });
    await call('post', '/v1/accounts/{id}/destinations/{destId}/rotate-secret', `${base}/destinations/${hook.id}/rotate-secret`);
    await call('post', '/v1/accounts/{id}/subscriptions', `${base}/subscriptions`, { platform: 'anthropic', destination: email.id });
    await call('post', '/v1/events', '/v1/events', { ...JSON.parse(readFileSync('test/fixtures/contract/change-event.json', 'utf8')), detected_at: new Date().toISOString() }, INGEST_TOKEN);
    await s.drain();
    await call('get', '/v1/accounts/{id}', base);
    await call('get', '/v1/accounts', '/v1/accounts?email=legal@acme.test');
    await call('patch', '/v1/accounts/{id}', base, { plan: 'free' });
    await call('get', '/v1/accounts/{id}/destinations', `${base}/destinations`);
    await call('get', '/v1/accounts/{id}/subscriptions', `${base}/subscriptions`);
    await call('get', '/v1/accounts/{id}/deliveries', `${base}/deliveries`);
    await call('get', '/v1/events', '/v1/events');
    await call('get', '/v1/platforms', '/v1/platforms?q=anthropic');
    await call('post', '/v1/digests/run', '/v1/digests/run');
    await call('get', '/health', '/health');
    for (const [method, path, status, r] of answers) {
      expect(status, `${method} ${path}: ${JSON.stringify(r.json)}`).toBeLessThan(300);
      expect(check(answerSchema(method, path, status), r.json), `${method} ${path} ${status}`).toEqual([]);
    }
    // A delivery was made, so the log's schema met a real row.
    expect((answers.find(([m, p]) => m === 'get' && p.endsWith('/deliveries'))![3].json as { data: unknown[] }).data.length).toBeGreaterThan(0);
    // Not a rubber stamp: an answer missing a field fails.
    const { created_at: _, ...undated } = account;
    expect(check(answerSchema('post', '/v1/accounts', 201), undated)).not.toEqual([]);
  });

  it('describes error answers once, as shared responses every route references', async () => {
    const shared = Object.keys(doc.components.responses);
    expect(shared).toEqual(expect.arrayContaining(['InvalidInput', 'Unauthorized', 'NotFound', 'PayloadTooLarge', 'UnsupportedMediaType', 'RateLimited']));
    let refs = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) < 400 || (response.content && !('application/json' in response.content))) continue;
          // A JSON error answer is a reference to a shared response, never an inline copy.
          expect(response.$ref, `${method} ${path} ${status}`).toMatch(/^#\/components\/responses\/\w+$/);
          expect(shared).toContain(response.$ref!.split('/').pop());
          refs++;
        }
      }
    }
    expect(refs).toBeGreaterThan(40);
    // What the API answers has the shape described: a refused event, with the field at fault.
    const refused = await s.ingest({ ...JSON.parse(readFileSync('test/fixtures/contract/change-event.json', 'utf8')), severity: 'urgent' });
    expect(refused.status).toBe(400);
    expect(refused.json).toMatchObject({ error: 'invalid_event', issues: [{ path: 'severity' }] });
    expect(validator()('Error', refused.json)).toEqual([]);
    expect(validator()('Error', { message: 'no code' })).not.toEqual([]);
  });

  it('names the token of every route that needs one: without it, each answers 401', async () => {
    let secured = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const url = path.replace(/\{file\}/, 'openai.atom').replace(/\{\w+\}/g, 'x1');
        const r = await s.call(method.toUpperCase(), url, method === 'get' || method === 'delete' ? undefined : {}, null);
        if (op.security?.length) {
          secured++;
          expect(r.status, `${method} ${path}`).toBe(401);
          expect(op.responses['401'], `${method} ${path}`).toEqual({ $ref: '#/components/responses/Unauthorized' });
        } else {
          expect(r.status, `${method} ${path} needs a token the description does not name`).not.toBe(401);
        }
      }
    }
    expect(secured).toBeGreaterThan(15);
  });
});

describe('GET /docs', () => {
  it('is Swagger UI from this server (no CDN), under a strict Content-Security-Policy', async () => {
    const page = await s.call('GET', '/docs', undefined, null);
    expect(page.status).toBe(200);
    expect(page.res.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self';/);
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(4);
    for (const asset of assets) {
      expect(asset, 'served from this origin').toMatch(/^\/(docs\/|openapi\.json$)/);
      const r = await s.call('GET', asset, undefined, null);
      expect(r.status, asset).toBe(200);
    }
    expect((await s.call('GET', '/docs/docs.js', undefined, null)).text).toContain("url: '/openapi.json'");
    // Only the page's own files: nothing else of the package (or the disk) is reachable.
    for (const other of ['/docs/package.json', '/docs/index.html', '/docs/..%2Fpackage.json', '/docs/swagger-ui.js.map']) {
      expect((await s.call('GET', other, undefined, null)).status, other).toBe(404);
    }
  });
});
