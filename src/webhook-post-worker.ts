import { parentPort, workerData } from 'node:worker_threads';
import { guardedPost } from './webhook-guard.js';
import type { PostJob, PostResult, PostThreadOptions } from './webhook-post-thread.js';

// The sending thread of `threadedPost`: each job is one guarded POST; the answers finished in one
// turn of the event loop go back in one message.
const options = workerData as PostThreadOptions;
const post = guardedPost(options.allowPrivate, options.timeoutMs);
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
parentPort!.on('message', (jobs: PostJob[]) => {
  const now = Date.now();
  for (const { n, notAfter, ...request } of jobs) {
    // The caller stops waiting soon after: sending it now could deliver after its retry was recorded.
    if (now > notAfter) {
      finish({ n, error: 'not sent: the webhook thread took it up too late' });
      continue;
    }
    post(request).then(
      (answer) => finish({ n, answer }),
      (err: Error & { cause?: { code?: string } }) => finish({ n, error: err.message, ...(err.cause?.code ? { code: err.cause.code } : {}) }),
    );
  }
});
