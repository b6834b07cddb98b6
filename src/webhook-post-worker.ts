import { parentPort, workerData } from 'node:worker_threads';
import { guardedPost, startPassed } from './webhook-guard.js';
import type { PostJob, PostResult, PostThreadOptions } from './webhook-post-thread.js';
import { NOT_SENT } from './delivery/channels/webhook/not-sent.js';

// The sending thread of `threadedPost`: each job is one guarded POST; the answers finished in one
// turn of the event loop go back in one message.
const options = workerData as PostThreadOptions;
const post = guardedPost(options.allowPrivate, options.timeoutMs);

/**
 * Jobs started per turn of the event loop. Starting a POST on a new connection costs the thread
 * 100–400 µs (more while its code is cold), and a port's queued messages are all taken before the
 * loop looks at a socket again: handed 100 jobs at once, the thread opened all 100 connections
 * before writing the first request, and the receiver sat idle for that long. A few per turn let
 * the connections that are open write their requests, and answers come back, while the rest open.
 */
const STARTS_PER_TURN = 4;

let done: PostResult[] = [];
let replying: ReturnType<typeof setImmediate> | undefined;
const reply = () => {
  replying = undefined;
  const results = done;
  done = [];
  parentPort!.postMessage(results);
};
const finish = (r: PostResult) => {
  done.push(r);
  replying ??= setImmediate(reply);
};

// Started jobs are cleared from it at once, so their bodies are not held until the queue empties.
const queue: (PostJob | undefined)[] = [];
let head = 0;
let starting: ReturnType<typeof setImmediate> | undefined;
const startSome = () => {
  starting = undefined;
  for (let k = 0; k < STARTS_PER_TURN && head < queue.length; k++) {
    const job = queue[head]!;
    const n = job.n;
    queue[head++] = undefined;
    // The caller stops waiting soon after: sending it now could deliver after its retry was recorded.
    if (startPassed(job.notAfter)) {
      finish({ n, error: 'not sent: the webhook thread took it up too late', code: NOT_SENT });
      continue;
    }
    // Past notAfter while it waits for a free connection to its origin, it is not written either.
    post(job).then(
      (answer) => finish({ n, answer }),
      (err: Error & { cause?: { code?: string } }) => finish({ n, error: err.message, ...(err.cause?.code ? { code: err.cause.code } : {}) }),
    );
  }
  if (head < queue.length) starting = setImmediate(startSome);
  else queue.length = head = 0;
};
parentPort!.on('message', (jobs: PostJob[]) => {
  for (const j of jobs) queue.push(j);
  starting ??= setImmediate(startSome);
});
