import v8 from 'node:v8';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** A thread's heap: both generations bounded, so neither is sized like the main thread's. */
export interface ThreadHeap {
  maxOldGenerationSizeMb: number;
  maxYoungGenerationSizeMb: number;
}

let ownLimits = false;

/**
 * A worker thread whose heap bounds hold. npm start's `--max-semi-space-size` is for the main
 * thread, but V8 reads the flag each time it creates an isolate, and there it wins over a worker's
 * `maxYoungGenerationSizeMb` (`Heap::ConfigureHeap`). So every thread had the main thread's 8 MB
 * young generation whatever it asked for: about 6 MB of RSS more each, once its allocations had
 * touched it (the sending thread's do in every fan-out). V8 reads that flag nowhere else, and the
 * main thread's isolate exists before any thread starts: with the flag cleared, each later isolate
 * is sized by its own resourceLimits and the main thread keeps the size it started with.
 */
export function startThread(source: string | URL, options: WorkerOptions & { resourceLimits: ThreadHeap }): Worker {
  if (!ownLimits) {
    v8.setFlagsFromString('--max-semi-space-size=0');
    ownLimits = true;
  }
  return new Worker(source, options);
}
