import v8 from 'node:v8';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** A thread's heap: both generations bounded, so neither is sized like the main thread's. */
export interface ThreadHeap {
  maxOldGenerationSizeMb: number;
  maxYoungGenerationSizeMb: number;
}

let ownLimits = false;

/**
 * A worker thread whose heap bounds hold. npm start's `--max-old-space-size` and
 * `--max-semi-space-size` are for the main thread, but V8 reads them each time it creates an
 * isolate, and there they win over a worker's `resourceLimits` (`Heap::ConfigureHeap`). So every
 * thread had the main thread's 256 MB old generation and 8 MB young one whatever it asked for: a
 * leak in a thread could take 256 MB before the thread was stopped, and each young generation cost
 * about 6 MB of RSS more once the thread's allocations had touched it (the sending thread's do in
 * every fan-out). V8 reads those flags nowhere else, and the main thread's isolate exists before
 * any thread starts: with them cleared, each later isolate is sized by its own resourceLimits and
 * the main thread keeps the limits it started with.
 *
 * A worker started without resourceLimits after this gets V8's defaults (a 16 MB semi-space, an
 * old generation sized from the machine's memory), not npm start's: every thread of ours passes
 * both limits (ThreadHeap), and tsx's loader thread, started only when running from the sources,
 * is the one other thread such a process has.
 */
export function startThread(source: string | URL, options: WorkerOptions & { resourceLimits: ThreadHeap }): Worker {
  if (!ownLimits) {
    v8.setFlagsFromString('--max-old-space-size=0');
    v8.setFlagsFromString('--max-semi-space-size=0');
    ownLimits = true;
  }
  return new Worker(source, options);
}
