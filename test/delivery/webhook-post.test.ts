import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CONNECTIONS_PER_ORIGIN, guardedPost, startWithin } from '../../src/webhook-guard.js';
import { startPostWorker, threadedPost, type ThreadedPost } from '../../src/webhook-post-thread.js';
import type { WebhookPost } from '../../src/delivery/channels/webhook/send.js';
import { NOT_SENT } from '../../src/delivery/channels/webhook/not-sent.js';

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

  it(`keeps at most ${CONNECTIONS_PER_ORIGIN} connections to one origin, the other POSTs waiting for one to come free`, async () => {
    const held: import('node:http').ServerResponse[] = [];
    let release = false;
    const url = await receiver((_, res) => (release ? res.writeHead(204).end() : held.push(res)));
    let connections = 0;
    server!.on('connection', () => connections++);
    const post = makePost(true);
    const answers = Promise.all(Array.from({ length: 40 }, (_, i) => post({ url: `${url}&i=${i}`, headers: {}, body: '{}' })));
    await expect.poll(() => held.length, { timeout: 10_000 }).toBe(CONNECTIONS_PER_ORIGIN);
    // Unbounded, the other 24 would be on connections of their own by now.
    await new Promise((r) => setTimeout(r, 100));
    expect(held.length).toBe(CONNECTIONS_PER_ORIGIN);
    release = true;
    for (const res of held) res.writeHead(204).end();
    expect((await answers).every((a) => a.status === 204)).toBe(true);
    expect(connections).toBe(CONNECTIONS_PER_ORIGIN);
  });

  it('refuses a loopback address unless private addresses are allowed', async () => {
    const url = await receiver((_, res) => res.writeHead(204).end());
    await expect(makePost(false)({ url, headers: {}, body: '{}' })).rejects.toThrow(/private, loopback or link-local/);
  });
});

/** A receiver that holds every POST but 'answer' ones until released, and the bodies it read. */
async function holdingReceiver() {
  const held: import('node:http').ServerResponse[] = [];
  const seen: string[] = [];
  const url = await receiver((body, res) => (seen.push(body), body.startsWith('answer') ? res.writeHead(204).end() : held.push(res)));
  return { url, held, seen, release: () => held.splice(0).forEach((res) => res.writeHead(204).end()) };
}

describe('a POST waiting for a free connection', () => {
  it('is not written once its start-by time has passed, even with the wall clock set back, and the connection stays for the next', async () => {
    const r = await holdingReceiver();
    let connections = 0;
    server!.on('connection', () => connections++);
    const post = guardedPost(true);
    const busy = Array.from({ length: CONNECTIONS_PER_ORIGIN }, (_, i) => post({ url: r.url, headers: {}, body: `hold ${i}` }));
    await expect.poll(() => r.held.length, { timeout: 10_000 }).toBe(CONNECTIONS_PER_ORIGIN);
    const late = post({ url: r.url, headers: {}, body: 'answer late', notAfter: startWithin(100) });
    const inTime = post({ url: r.url, headers: {}, body: 'answer in time', notAfter: startWithin(60_000) });
    const refused = expect(late).rejects.toMatchObject({ message: `not sent: no connection to ${new URL(r.url).origin} came free in time`, cause: { code: NOT_SENT } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The wall clock steps an hour back (NTP, an operator): on it, the late POST would be early.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 3_600_000 });
    try {
      // One connection comes free: the late POST is refused on it, and the next goes out on it.
      r.held.shift()!.writeHead(204).end();
      await refused;
    } finally {
      vi.useRealTimers();
    }
    expect(await inTime).toEqual({ status: 204, retryAfter: null });
    expect(connections).toBe(CONNECTIONS_PER_ORIGIN);
    r.release();
    await Promise.all(busy);
    expect(r.seen).not.toContain('answer late');
  });

  it('is not written once the wall clock has passed its start-by time either (a host resumed from suspend)', async () => {
    const r = await holdingReceiver();
    const post = guardedPost(true);
    const busy = Array.from({ length: CONNECTIONS_PER_ORIGIN }, (_, i) => post({ url: r.url, headers: {}, body: `hold ${i}` }));
    await expect.poll(() => r.held.length, { timeout: 10_000 }).toBe(CONNECTIONS_PER_ORIGIN);
    const late = post({ url: r.url, headers: {}, body: 'answer late', notAfter: startWithin(60_000) });
    const refused = expect(late).rejects.toMatchObject({ cause: { code: NOT_SENT } });
    // An hour passes on the wall clock, on which the leases run, and not on the monotonic one,
    // which stands still while a host sleeps: the row may be another dispatcher's by now.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 3_600_000 });
    try {
      r.held.shift()!.writeHead(204).end();
      await refused;
    } finally {
      vi.useRealTimers();
    }
    r.release();
    await Promise.all(busy);
    expect(r.seen).not.toContain('answer late');
  });

  it('is not written by the sending thread past its notAfter either', async () => {
    const r = await holdingReceiver();
    const w = startPostWorker({ allowPrivate: true, timeoutMs: 5_000 });
    try {
      const got: { n: number }[] = [];
      w.on('message', (rs: { n: number }[]) => got.push(...rs));
      const far = startWithin(60_000);
      w.postMessage(Array.from({ length: CONNECTIONS_PER_ORIGIN }, (_, i) => ({ n: i, url: r.url, headers: {}, body: `hold ${i}`, notAfter: far })));
      await expect.poll(() => r.held.length, { timeout: 10_000 }).toBe(CONNECTIONS_PER_ORIGIN);
      // Taken up at once, well before its time; it then waits for a connection past it.
      w.postMessage([{ n: 100, url: r.url, headers: {}, body: 'answer late', notAfter: startWithin(1_000) }]);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      r.release();
      await expect.poll(() => got.length, { timeout: 10_000 }).toBe(CONNECTIONS_PER_ORIGIN + 1);
      expect(got.find((x) => x.n === 100)).toEqual({ n: 100, error: `not sent: no connection to ${new URL(r.url).origin} came free in time`, code: NOT_SENT });
      expect(r.seen).not.toContain('answer late');
    } finally {
      await w.terminate();
    }
  });

  it('is not written from the calling thread (a large body) past its start-by time either', async () => {
    const r = await holdingReceiver();
    const t = threadedPost({ allowPrivate: true, timeoutMs: 10_000 });
    threads.push(t);
    const large = (label: string) => new TextEncoder().encode(`${label}${' '.repeat(70_000)}`);
    const busy = Array.from({ length: CONNECTIONS_PER_ORIGIN }, (_, i) => t.post({ url: r.url, headers: {}, body: large(`hold ${i}`) }));
    await expect.poll(() => r.held.length, { timeout: 10_000 }).toBe(CONNECTIONS_PER_ORIGIN);
    // Only this thread's monotonic clock is faked, starting near 0: only large bodies (posted from
    // here) inside this window, since the sending thread would read its own clock.
    vi.useFakeTimers({ toFake: ['hrtime'] });
    try {
      const late = t.post({ url: r.url, headers: {}, body: large('answer late') });
      const refused = expect(late).rejects.toMatchObject({ message: expect.stringContaining('not sent: no connection'), cause: { code: NOT_SENT } });
      // Past the 30 s a POST has to start, without waiting for them (only the clock moves).
      vi.advanceTimersByTime(31_000);
      r.release();
      await refused;
    } finally {
      vi.useRealTimers();
    }
    await Promise.allSettled(busy);
    expect(r.seen.some((b) => b.startsWith('answer late'))).toBe(false);
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
        { n: 1, url, headers: {}, body: 'late', notAfter: startWithin(-1) },
        { n: 2, url, headers: {}, body: 'in time', notAfter: startWithin(60_000) },
      ]);
      expect(await results).toEqual(expect.arrayContaining([{ n: 1, error: 'not sent: the webhook thread took it up too late', code: NOT_SENT }, { n: 2, answer: { status: 204, retryAfter: null } }]));
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
