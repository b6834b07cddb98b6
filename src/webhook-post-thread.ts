import type { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { WebhookAnswer, WebhookPost } from './delivery/channels/webhook/send.js';
import { guardedPost, startWithin, type StartBy, type TimedWebhookRequest } from './webhook-guard.js';
import { startThread } from './threads.js';

/** What the main thread hands the sending thread in one message, and what comes back. */
export interface PostJob extends TimedWebhookRequest {
  n: number;
  /** A job not started by then (taken up by the thread, then written on a free connection) is not sent (the caller has given up on it). */
  notAfter: StartBy;
}
export type PostResult = { n: number; answer: WebhookAnswer } | { n: number; error: string; code?: string };
export interface PostThreadOptions {
  allowPrivate: boolean;
  timeoutMs: number;
}

/** Bodies up to this size go to the thread (a change alert is 2 KB; a 500-change burst 580 KB). */
const THREAD_BODY_MAX = 64 * 1024;
/**
 * Jobs handed over in one message at most. Without a bound, what one turn of the event loop asked
 * for went over at its end: a claim's sends are prepared together (each awaits in turn with the
 * others), then the next claim was read in the same turn, so the first 96 of a 100-destination
 * fan-out reached the thread in one message 4–8 ms after the first was ready.
 */
const JOBS_PER_MESSAGE = 16;

export interface ThreadedPost {
  post: WebhookPost;
  /** Whether the sending thread is up (it starts with the first POST that goes to it). */
  running(): boolean;
  /** Ends the thread; POSTs still in flight fail (their rows are retried once their lease runs out), later ones are refused. */
  close(): Promise<void>;
}

/** The sending thread itself (`webhook-post-worker`), which answers PostJob batches with PostResult batches. */
export function startPostWorker(options: PostThreadOptions): Worker {
  // Compiled, the thread is the .js file beside this one. From the sources (tests, `npm run dev`)
  // it is TypeScript, which a worker loads only once tsx's loader is registered in it.
  const ts = fileURLToPath(import.meta.url).endsWith('.ts');
  const file = new URL(`./webhook-post-worker.${ts ? 'ts' : 'js'}`, import.meta.url);
  const source = ts
    ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(file.href)}); })`
    : file;
  return startThread(source, {
    eval: ts,
    workerData: options,
    // It needs little: a JSON-free loop over undici. Bounded so a leak cannot take the process's memory.
    resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 2 },
  });
}

/**
 * Webhook POSTs sent from a thread of their own: the same guarded keep-alive agent
 * (`guardedPost`), run in a worker so that undici's request machinery, the socket writes and the
 * answers' parsing (about a third of the main thread in a 2,000-destination fan-out) run beside
 * the dispatcher's database work and rendering instead of after it. What one turn of the event
 * loop asks for goes over in one message, and answers come back the same way, so the threads
 * exchange a few messages per claim, not two per webhook. The main thread still signs every
 * request and decides and records every outcome: the outbox guarantees do not move.
 *
 * The thread starts with the first POST (an api-only process never starts it) and, should it
 * die, the POSTs it had been handed fail as unanswered (retried like any other) and the next
 * flush starts a new one. A POST is never sent after its promise settled: a job the thread takes
 * up too late is refused there, and one that fails here was never handed over or died with it.
 */
export function threadedPost(options: PostThreadOptions): ThreadedPost {
  interface Pending {
    resolve: (a: WebhookAnswer) => void;
    reject: (e: Error) => void;
    timer: ReturnType<typeof setTimeout>;
  }
  let worker: { thread: Worker; sent: Set<number> } | undefined;
  let closed = false;
  let next = 0;
  const waiting = new Map<number, Pending>();
  let outgoing: PostJob[] = [];
  let flushing: ReturnType<typeof setImmediate> | undefined;
  // A job that has not started by then (taken up by the thread, then written on a free connection
  // to its origin) is not sent, and the thread answers why; one that started is answered within
  // its own timeouts. The main thread's own deadline is for a thread that hangs.
  // Both stay inside a delivery lease (60 s): 30 s to start (a cold thread from the sources takes
  // a second), 10 s for the answer to begin and 10 s for each gap in its body, then 5 s.
  const startWithinMs = Math.max(options.timeoutMs, 30_000);
  const answerWithinMs = startWithinMs + 2 * options.timeoutMs + 5_000;

  const settle = (n: number): Pending | undefined => {
    const p = waiting.get(n);
    if (!p) return undefined;
    waiting.delete(n);
    clearTimeout(p.timer);
    worker?.sent.delete(n);
    return p;
  };
  const fail = (ns: Iterable<number>, why: string) => {
    for (const n of [...ns]) settle(n)?.reject(new Error(why));
  };
  const start = () => {
    const thread = startPostWorker(options);
    const self = { thread, sent: new Set<number>() };
    // Only in-flight POSTs keep the thread busy; it never holds the process open by itself.
    thread.unref();
    thread.on('message', (results: PostResult[]) => {
      for (const r of results) {
        const p = settle(r.n);
        if (!p) continue;
        if ('answer' in r) p.resolve(r.answer);
        else p.reject(new Error(r.error, r.code ? { cause: { code: r.code } } : undefined));
      }
    });
    // Only what this thread was given fails with it: jobs not yet handed over go to the next one.
    const gone = (why: string) => {
      if (worker !== self) return;
      worker = undefined;
      fail(self.sent, why);
    };
    thread.on('error', (err) => gone(`the webhook thread failed: ${err.message}`));
    thread.on('exit', (code) => gone(`the webhook thread exited (${code})`));
    return self;
  };
  const flush = () => {
    if (flushing) clearImmediate(flushing);
    flushing = undefined;
    const jobs = outgoing.filter((j) => waiting.has(j.n));
    outgoing = [];
    if (!jobs.length || closed) return;
    const w = (worker ??= start());
    // A body of bytes that is a whole buffer is handed over, not copied; a view of a larger buffer
    // (a pooled Buffer) is copied, since handing it over would empty the buffer for its other users.
    const transfer = new Set<ArrayBuffer>();
    for (const j of jobs) if (j.body instanceof Uint8Array && j.body.byteOffset === 0 && j.body.byteLength === j.body.buffer.byteLength) transfer.add(j.body.buffer);
    try {
      w.thread.postMessage(jobs, [...transfer]);
    } catch (err) {
      fail(jobs.map((j) => j.n), `the webhook thread could not be handed the request: ${(err as Error).message}`);
      return;
    }
    for (const j of jobs) w.sent.add(j.n);
  };

  let here: ReturnType<typeof guardedPost> | undefined;
  return {
    post: (request) => {
      if (closed) return Promise.reject(new Error('the webhook thread was stopped'));
      // A large body is sent from here: its cost is in its bytes (signed here already, written
      // once either way), and bytes handed to the thread stay there until it next collects
      // garbage (a 500-change burst to 100 destinations held 40 MB more at its peak).
      const bytes = typeof request.body === 'string' ? Buffer.byteLength(request.body) : request.body.byteLength;
      if (bytes > THREAD_BODY_MAX) return (here ??= guardedPost(options.allowPrivate, options.timeoutMs))({ ...request, notAfter: startWithin(startWithinMs) });
      return new Promise((resolve, reject) => {
        const n = next++;
        const timer = setTimeout(() => fail([n], `no answer within ${answerWithinMs / 1000} s (the webhook thread did not answer)`), answerWithinMs);
        timer.unref();
        waiting.set(n, { resolve, reject, timer });
        outgoing.push({ n, url: request.url, headers: request.headers, body: request.body, notAfter: startWithin(startWithinMs) });
        if (outgoing.length >= JOBS_PER_MESSAGE) flush();
        else flushing ??= setImmediate(flush);
      });
    },
    running: () => worker !== undefined,
    async close() {
      closed = true;
      if (flushing) clearImmediate(flushing);
      flushing = undefined;
      outgoing = [];
      const w = worker;
      worker = undefined;
      fail(waiting.keys(), 'the webhook thread was stopped');
      await w?.thread.terminate();
    },
  };
}
