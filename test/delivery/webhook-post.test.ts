import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { guardedPost } from '../../src/webhook-guard.js';
import { startPostWorker, threadedPost, type ThreadedPost } from '../../src/webhook-post-thread.js';
import type { WebhookPost } from '../../src/delivery/channels/webhook/send.js';

let server: Server | undefined;
const threads: ThreadedPost[] = [];
afterEach(async () => {
  await Promise.all(threads.splice(0).map((t) => t.close()));
  await new Promise<void>((r) => (server ? (server.closeAllConnections(), server.close(() => r())) : r()));
});

/** The service sends from a thread of its own (threadedPost); both ways must answer alike. */
const ways: [string, (allowPrivate: boolean, timeoutMs?: number) => WebhookPost][] = [
  ['guardedPost', (allowPrivate, timeoutMs) => guardedPost(allowPrivate, timeoutMs)],
  [
    'threadedPost',
    (allowPrivate, timeoutMs = 10_000) => {
      const t = threadedPost({ allowPrivate, timeoutMs });
      threads.push(t);
      return t.post;
    },
  ],
];

async function receiver(answer: (body: string, res: import('node:http').ServerResponse) => void): Promise<string> {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => answer(body, res));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}/hook?x=1`;
}

describe.each(ways)('a webhook POST (%s)', (_, makePost) => {
  it('sends the body and headers and gives the status and Retry-After back', async () => {
    const seen: string[] = [];
    const url = await receiver((body, res) => {
      seen.push(body);
      res.writeHead(429, { 'Retry-After': '7' }).end('slow down');
    });
    const post = makePost(true);
    expect(await post({ url, headers: { 'content-type': 'application/json' }, body: '{"a":1}' })).toEqual({ status: 429, retryAfter: '7' });
    expect(await post({ url, headers: {}, body: '{"a":2}' })).toEqual({ status: 429, retryAfter: '7' });
    expect(seen).toEqual(['{"a":1}', '{"a":2}']);
  });

  it('reads the status of an answer with a long body, and the next POST still goes out', async () => {
    const url = await receiver((_, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(1_000_000)));
    const post = makePost(true);
    expect(await post({ url, headers: {}, body: '{}' })).toEqual({ status: 200, retryAfter: null });
    expect(await post({ url, headers: {}, body: '{}' })).toEqual({ status: 200, retryAfter: null });
  });

  it('gives up on a receiver that never answers, saying so', async () => {
    const url = await receiver(() => undefined);
    await expect(makePost(true, 300)({ url, headers: {}, body: '{}' })).rejects.toThrow('no answer within 0.3 s');
  });

  it('refuses a loopback address unless private addresses are allowed', async () => {
    const url = await receiver((_, res) => res.writeHead(204).end());
    await expect(makePost(false)({ url, headers: {}, body: '{}' })).rejects.toThrow(/private, loopback or link-local/);
  });
});

describe('the sending thread', () => {
  it('sends a burst in a few messages, matching each answer to its request', async () => {
    const url = await receiver((body, res) => res.writeHead(200 + (JSON.parse(body) as { i: number }).i % 7).end());
    const t = threadedPost({ allowPrivate: true, timeoutMs: 10_000 });
    threads.push(t);
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => t.post({ url, headers: {}, body: new TextEncoder().encode(JSON.stringify({ i })) })));
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 300 }, (_, i) => 200 + (i % 7)));
  });

  it('sends a large body (a 500-change burst) from the calling thread, byte for byte, and small ones from the thread', async () => {
    const seen: number[] = [];
    const url = await receiver((body, res) => (seen.push(body.length), res.writeHead(204).end()));
    const t = threadedPost({ allowPrivate: true, timeoutMs: 10_000 });
    threads.push(t);
    const large = new TextEncoder().encode(JSON.stringify({ pad: 'x'.repeat(600_000) }));
    expect(await t.post({ url, headers: {}, body: large })).toEqual({ status: 204, retryAfter: null });
    expect(t.running(), 'a large body starts no thread').toBe(false);
    expect(await t.post({ url, headers: {}, body: '{"small":1}' })).toEqual({ status: 204, retryAfter: null });
    expect(t.running()).toBe(true);
    expect(seen.sort((a, b) => a - b)).toEqual([11, 600_010]);
  });

  it('fails the POSTs in flight when stopped, and refuses later ones', async () => {
    let held = 0;
    const url = await receiver((body, res) => (body === 'hold' ? held++ : res.writeHead(204).end()));
    const t = threadedPost({ allowPrivate: true, timeoutMs: 10_000 });
    threads.push(t);
    expect(await t.post({ url, headers: {}, body: 'first' })).toEqual({ status: 204, retryAfter: null });
    const inFlight = t.post({ url, headers: {}, body: 'hold' });
    const failed = expect(inFlight).rejects.toThrow('the webhook thread was stopped');
    await expect.poll(() => held).toBe(1);
    await t.close();
    await failed;
    await expect(t.post({ url, headers: {}, body: 'after' })).rejects.toThrow('the webhook thread was stopped');
    expect(t.running()).toBe(false);
  });

  it('does not send a request it took up too late: its caller has stopped waiting and may have recorded a retry', async () => {
    const seen: string[] = [];
    const url = await receiver((body, res) => (seen.push(body), res.writeHead(204).end()));
    const w = startPostWorker({ allowPrivate: true, timeoutMs: 5_000 });
    try {
      const results = new Promise<unknown[]>((resolve) => {
        const got: unknown[] = [];
        w.on('message', (r: unknown[]) => (got.push(...r), got.length === 2 && resolve(got)));
      });
      w.postMessage([
        { n: 1, url, headers: {}, body: 'late', notAfter: Date.now() - 1 },
        { n: 2, url, headers: {}, body: 'in time', notAfter: Date.now() + 60_000 },
      ]);
      expect(await results).toEqual(expect.arrayContaining([{ n: 1, error: 'not sent: the webhook thread took it up too late' }, { n: 2, answer: { status: 204, retryAfter: null } }]));
      expect(seen).toEqual(['in time']);
    } finally {
      await w.terminate();
    }
  });

});

describe('the sending thread, from the sources', () => {
  it('starts when the process was started outside the project directory', async () => {
    const { execFile } = await import('node:child_process');
    const { tmpdir } = await import('node:os');
    const { fileURLToPath } = await import('node:url');
    const url = await receiver((_, res) => res.writeHead(204).end());
    const thread = fileURLToPath(new URL('../../src/webhook-post-thread.ts', import.meta.url));
    const tsx = fileURLToPath(new URL('../../node_modules/tsx/dist/esm/index.mjs', import.meta.url));
    const script = `const { threadedPost } = await import(${JSON.stringify(thread)});
      const t = threadedPost({ allowPrivate: true, timeoutMs: 5000 });
      try { console.log(JSON.stringify(await t.post({ url: ${JSON.stringify(url)}, headers: {}, body: '{}' }))); }
      catch (e) { console.log(e.message); } finally { await t.close(); }`;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--import', tsx, '--input-type=module', '-e', script], { cwd: tmpdir() }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim()))),
    );
    expect(out).toBe('{"status":204,"retryAfter":null}');
  }, 60_000);
});
