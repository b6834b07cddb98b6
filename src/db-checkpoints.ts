import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import { startThread } from './threads.js';

/**
 * The WAL's length in frames at which a commit asks the checkpoint thread to copy it back:
 * SQLite's own auto-checkpoint threshold (the default `wal_autocheckpoint`), so the WAL stays as
 * long as it always was (about 4 MB with 4 KiB pages).
 */
export const CHECKPOINT_AFTER_FRAMES = 1_000;

/**
 * The bound, kept by SQLite itself: `wal_autocheckpoint` of every connection of the process. A
 * commit that leaves the WAL this long checkpoints inside the committing statement, as every
 * commit past 1,000 frames did before: only when the checkpoint thread falls behind, cannot start
 * or died. About 40 MB of WAL with 4 KiB pages.
 */
export const INLINE_CHECKPOINT_FRAMES = 10_000;

/** How long a failed checkpoint thread is not started again (the inline bound holds meanwhile). */
const RESTART_PAUSE_MS = 1_000;
/** How long `close()` waits for the thread to close its connection. */
const CLOSE_WAIT_MS = 2_000;

/**
 * The WAL's length in frames, from its size on disk. That says how long it is only because every
 * connection truncates it when it starts over (`journal_size_limit = 0`, set by openDatabase):
 * otherwise SQLite keeps the file at its longest and writes over it from the start. A `stat`, about
 * 2 µs, and no file descriptor: closing one would drop every lock this process holds on the file
 * (https://sqlite.org/howtocorrupt.html, 2.2). 0 when there is no WAL.
 */
export function walFrames(path: string, pageSize: number): number {
  try {
    // A 32-byte header, then frames of a 24-byte header and one page (https://sqlite.org/fileformat.html#the_write_ahead_log).
    return Math.max(0, Math.floor((statSync(`${path}-wal`).size - 32) / (pageSize + 24)));
  } catch {
    return 0;
  }
}

/** One checkpoint, as the thread tells of it: how long it took there. */
export interface CheckpointResult {
  ms: number;
}

export interface WalCheckpoints {
  /** Call after each committed write: asks the thread for a checkpoint when the WAL is CHECKPOINT_AFTER_FRAMES long. */
  wrote(): void;
  /**
   * Closes the checkpoint thread's connection (waiting for a checkpoint under way), then the
   * caller's with `closeConnection`, so that one is the file's last and, as before the thread,
   * checkpoints and removes the WAL.
   */
  close(closeConnection: () => void): void;
  /** Checkpoints the thread finished, the last one's time, failures (a checkpoint or the thread), whether a thread runs now, and whether a copy was asked for and not yet answered (a thread's start-up included). */
  readonly stats: { checkpoints: number; last?: CheckpointResult; running: boolean; readonly copying: boolean; failures: number };
}

/**
 * The checkpoint thread's code: a connection of its own to the same file, which copies the WAL
 * back into the database when asked (PASSIVE: it never waits for readers or the writer, and never
 * blocks them) and says what it did. Plain JavaScript evaluated in the worker, so it runs the
 * same from the sources and from dist/ without a TypeScript loader in the thread.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const closed = new Int32Array(workerData.closed);
// However the thread ends, a close() waiting for it goes on.
const ended = () => {
  Atomics.store(closed, 0, 1);
  Atomics.notify(closed, 0);
};
process.on('exit', ended);
const db = new Database(workerData.path, { timeout: 1000 });
// The checkpoint syncs the WAL before copying and the database after, as the main connection's would.
db.exec('PRAGMA synchronous = NORMAL');
parentPort.on('message', (message) => {
  if (message === 'close') {
    try { db.close(); } catch {}
    ended();
    parentPort.close();
    return;
  }
  const started = performance.now();
  try {
    // exec, not a prepared statement: a statement not yet collected keeps the connection open after close().
    db.exec('PRAGMA wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ ms: performance.now() - started });
  } catch (err) {
    parentPort.postMessage({ error: String((err && err.message) || err) });
  }
});
`;

/**
 * WAL checkpoints of a database file, run on a thread of their own instead of inside the commit
 * that leaves the WAL 1,000 frames long. SQLite's auto-checkpoint runs in the committing
 * statement: the embedded driver runs statements on the main thread, so every second 500-event
 * ingest request (about 900 pages written) waited for 1,800 pages to be copied back and the file
 * synced, 12 ms of the request on average. SQLite's documentation suggests exactly this: "If an
 * application therefore runs checkpoint in a separate thread or process, the main thread or
 * process that is doing database queries and updates will never block on a sync operation"
 * (https://sqlite.org/wal.html, Checkpointing).
 *
 * After each committed write the caller tells us so (`wrote`); when the WAL is at least
 * CHECKPOINT_AFTER_FRAMES frames long, the thread (started then, the first time) runs one PASSIVE
 * checkpoint, and once more after it if writes went on meanwhile: what SQLite's auto-checkpoint
 * asks for, on another thread. A request's commit is followed by its JSON reply and the next
 * request's parsing, so the checkpoint mostly ends before the next write begins, and that write
 * starts the WAL over, as before. A database that never writes 1,000 pages never starts a thread. The committing
 * connection still checkpoints by itself past INLINE_CHECKPOINT_FRAMES, which bounds the WAL
 * should the thread fall behind, die or never start. What a commit guarantees does not change:
 * a commit is durable once it is in the WAL, whoever copies it back later, and synchronous=NORMAL
 * syncs the WAL at every checkpoint as before. Readers holding old snapshots (another process's
 * read) hold a PASSIVE checkpoint back here exactly as they held SQLite's own.
 */
export function walCheckpoints(path: string, pageSize: number): WalCheckpoints {
  const driver = createRequire(import.meta.url).resolve('libsql');
  let worker: Worker | undefined;
  let running = false;
  let again = false;
  let closed = false;
  let failedAt = -Infinity;
  const stats: { checkpoints: number; last?: CheckpointResult; running: boolean; readonly copying: boolean; failures: number } = {
    checkpoints: 0,
    running: false,
    get copying() {
      return running && !closed;
    },
    failures: 0,
  };
  const closedFlag = new SharedArrayBuffer(4);

  const start = (): Worker | undefined => {
    if (performance.now() - failedAt < RESTART_PAUSE_MS) return undefined;
    const thread = startThread(THREAD_SOURCE, {
      eval: true,
      workerData: { driver, path, closed: closedFlag },
      // A loop over one prepared pragma: it needs next to no heap.
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
    });
    // It never holds the process open by itself.
    thread.unref();
    const gone = () => {
      if (worker !== thread) return;
      worker = undefined;
      running = false;
      stats.running = false;
      if (!closed) {
        stats.failures++;
        failedAt = performance.now();
      }
    };
    thread.on('message', (answer: CheckpointResult | { error: string }) => {
      running = false;
      if ('error' in answer) {
        stats.failures++;
      } else {
        stats.checkpoints++;
        stats.last = answer;
      }
      if (again) {
        again = false;
        wrote();
      }
    });
    thread.on('error', gone);
    thread.on('exit', gone);
    stats.running = true;
    return thread;
  };

  const wrote = () => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    if (walFrames(path, pageSize) < CHECKPOINT_AFTER_FRAMES) return;
    worker ??= start();
    if (!worker) return;
    running = true;
    worker.postMessage('checkpoint');
  };

  return {
    wrote,
    stats,
    close(closeConnection) {
      if (closed) return;
      closed = true;
      const thread = worker;
      worker = undefined;
      stats.running = false;
      // Synchronously, so the caller's connection is the file's last: waits at most for the
      // checkpoint under way (a few milliseconds) or the thread's start.
      const threadClosed = !thread || (thread.postMessage('close'), Atomics.wait(new Int32Array(closedFlag), 0, 0, CLOSE_WAIT_MS) !== 'timed-out');
      if (!threadClosed) stats.failures++;
      void thread?.terminate();
      closeConnection();
    },
  };
}
