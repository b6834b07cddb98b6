import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { WebhookAnswer, WebhookPost, WebhookRequest } from './delivery/channels/webhook/send.js';
import { guardedPost } from './webhook-guard.js';

/** What the main thread hands the sending thread in one message, and what comes back. */
export interface PostJob extends WebhookRequest {
  n: number;
}
export type PostResult = { n: number; answer: WebhookAnswer } | { n: number; error: string };
export interface PostThreadOptions {
  allowPrivate: boolean;
  timeoutMs: number;
}

/** Bodies up to this size go to the thread (a change alert is 2 KB; a 500-change burst 580 KB). */
const THREAD_BODY_MAX = 64 * 1024;

export interface ThreadedPost {
  post: WebhookPost;
  /** Ends the thread; POSTs still in flight fail (their rows are retried once their lease runs out). */
  close(): Promise<void>;
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
 * die, the POSTs it had fail as unanswered (retried like any other) and the next POST starts a
 * new one.
 */
export function threadedPost(options: PostThreadOptions): ThreadedPost {
  let worker: Worker | undefined;
  let next = 0;
  const waiting = new Map<number, { resolve: (a: WebhookAnswer) => void; reject: (e: Error) => void }>();
  let outgoing: PostJob[] = [];
  let flushing: ReturnType<typeof setImmediate> | undefined;

  const failAll = (why: string) => {
    for (const w of waiting.values()) w.reject(new Error(why));
    waiting.clear();
  };
  const start = () => {
    // Compiled, the thread is the .js file beside this one. From the sources (tests, `npm run dev`)
    // it is TypeScript, which a worker loads only once tsx's loader is registered in it.
    const ts = fileURLToPath(import.meta.url).endsWith('.ts');
    const file = new URL(`./webhook-post-worker.${ts ? 'ts' : 'js'}`, import.meta.url);
    const source = ts
      ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(file.href)}); })`
      : file;
    const w = new Worker(source, {
      eval: ts,
      workerData: options,
      // It needs little: a JSON-free loop over undici. Bounded so a leak cannot take the process's memory.
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 2 },
    });
    // Only in-flight POSTs keep the thread busy; it never holds the process open by itself.
    w.unref();
    w.on('message', (results: PostResult[]) => {
      for (const r of results) {
        const p = waiting.get(r.n);
        if (!p) continue;
        waiting.delete(r.n);
        if ('answer' in r) p.resolve(r.answer);
        else p.reject(new Error(r.error));
      }
    });
    const gone = (why: string) => {
      if (worker !== w) return;
      worker = undefined;
      failAll(why);
    };
    w.on('error', (err) => gone(`the webhook thread failed: ${err.message}`));
    w.on('exit', (code) => gone(`the webhook thread exited (${code})`));
    return w;
  };
  const flush = () => {
    flushing = undefined;
    const jobs = outgoing;
    outgoing = [];
    if (!jobs.length) return;
    worker ??= start();
    // A body of bytes is handed over, not copied (a burst's bodies are 580 KB each, one per destination).
    const bodies = jobs.flatMap((j) => (j.body instanceof Uint8Array ? [j.body.buffer] : []));
    worker.postMessage(jobs, [...new Set(bodies)]);
  };

  let here: WebhookPost | undefined;
  return {
    post: (request) => {
      // A large body is sent from here: its cost is in its bytes (signed here already, written
      // once either way), and bytes handed to the thread stay there until it next collects
      // garbage (a 500-change burst to 100 destinations held 40 MB more at its peak).
      if (request.body.length > THREAD_BODY_MAX) return (here ??= guardedPost(options.allowPrivate, options.timeoutMs))(request);
      return new Promise((resolve, reject) => {
        const n = next++;
        waiting.set(n, { resolve, reject });
        outgoing.push({ n, url: request.url, headers: request.headers, body: request.body });
        flushing ??= setImmediate(flush);
      });
    },
    async close() {
      if (flushing) clearImmediate(flushing);
      flushing = undefined;
      outgoing = [];
      const w = worker;
      worker = undefined;
      failAll('the webhook thread was stopped');
      await w?.terminate();
    },
  };
}
