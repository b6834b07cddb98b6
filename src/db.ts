import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client, type InArgs, type InStatement, type TransactionMode } from '@libsql/client';
import { drizzle, type LibSQLDatabase } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import * as schema from '../db/schema.js';
import { reusePreparedStatements } from './store/statement-cache.js';
import { INLINE_CHECKPOINT_FRAMES, walCheckpoints, type WalCheckpoints } from './db-checkpoints.js';

export type Db = LibSQLDatabase<typeof schema>;
export { schema };

export const MIGRATIONS_FOLDER = resolve(dirname(fileURLToPath(import.meta.url)), '../db/migrations');

export interface Database {
  db: Db;
  client: Client;
  close(): void;
  /** A file database's WAL checkpoints, run on a thread of their own (db-checkpoints.ts). */
  checkpoints?: WalCheckpoints;
}

/**
 * How long one statement may wait for another process's write lock synchronously. The embedded
 * driver waits on the main thread, so a long busy timeout froze every request, /health
 * included, while a dispatcher, `npm run digest` or a replay held the lock. Waits are short here
 * and the rest is retried asynchronously, with backoff, by `retryWhenBusy`.
 */
export const BUSY_WAIT_MS = 2;
/** How long a statement keeps retrying a locked database before the error is given to the caller. */
export const BUSY_GIVE_UP_MS = 15_000;

/**
 * SQLite's page cache per connection, KiB as a negative cache_size: 32 MiB instead of the default
 * 2. Matching writes one decision row per (event, subscriber) into indexes spread over every
 * destination; once those indexes outgrow 2 MiB each insert re-read pages through the OS, which
 * cost a 500-event ingest batch (31,000 decisions) a third of its matching time. Memory is taken
 * only as pages are used.
 */
export const PAGE_CACHE_KIB = -32_768;
/**
 * 8 MiB for a process that only reads decisions in pages and writes little (the digest run, `npm
 * run digest`): the 32 MiB that speeds matching would be 30 MB of its memory. SQLite's default
 * 2 MiB was too small for a page of 1,000 digests' look-ups through the (event, destination) key
 * and the decisions' rows: with 8 MiB the preview query of a 100,000-digest run took 1.5–2.3 s
 * instead of 2.9–3.2 (16 MiB was no faster), for about 7 MB of RSS.
 */
export const READER_PAGE_CACHE_KIB = -8_000;

/**
 * Opens the libSQL database (a file for the embedded default, or a libSQL server) and applies
 * the committed migrations. WAL lets other processes read while one writes; a second process
 * (another dispatcher) holding the write lock makes a statement wait for it, never blocking the
 * event loop for more than BUSY_WAIT_MS at a time.
 *
 * A file database gets one connection per process for its statements: the embedded driver runs every statement
 * synchronously on the main thread, so more connections add no parallelism, and with one the
 * per-connection pragma below holds for every statement. synchronous=NORMAL is SQLite's advice
 * for WAL: never corrupt, and a power cut can lose only the last commits, which for the outbox
 * means at worst a message sent again, never one lost. Write transactions are single batches
 * (no interactive transaction holds the lock across an await), so each holds it only for its SQL.
 * The WAL's checkpoints run on a second connection in a thread of its own (`walCheckpoints`),
 * which only copies the WAL back into the file and never runs the service's statements.
 */
export async function openDatabase(url: string, authToken?: string, options: { waitOnMainThread?: boolean; pageCacheKib?: number } = {}): Promise<Database> {
  const isFile = url.startsWith('file:');
  const path = isFile ? url.slice('file:'.length).replace(/\?.*$/, '') : '';
  if (path && path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
  if (isFile) reusePreparedStatements();
  // A process that serves no HTTP (ROLE=dispatcher, the CLIs) may wait on its main thread as the
  // driver does: it has nothing else to answer, and its leases assume its sends wait with it.
  const async = isFile && !options.waitOnMainThread;
  const open = () => createClient({ url, authToken, ...(async ? { timeout: BUSY_WAIT_MS } : { timeout: 10_000 }), ...(isFile ? { concurrency: 1 } : {}) });
  // The WAL is copied back by a thread of its own (db-checkpoints.ts): a commit checkpoints by
  // itself only past the bound, and the WAL is truncated when it starts over, so that its size on
  // disk is its length.
  const ownCheckpoints = !!path && path !== ':memory:';
  let checkpoints: WalCheckpoints | undefined;
  const perConnection = async (c: Client) => {
    await c.execute('PRAGMA synchronous = NORMAL');
    await c.execute(`PRAGMA cache_size = ${options.pageCacheKib ?? PAGE_CACHE_KIB}`);
    if (ownCheckpoints) {
      await c.execute(`PRAGMA wal_autocheckpoint = ${INLINE_CHECKPOINT_FRAMES}`);
      await c.execute('PRAGMA journal_size_limit = 0');
    }
  };
  const opened = async ? retryWhenBusy(open, perConnection) : open();
  const client = ownCheckpoints ? afterWrites(opened, () => checkpoints?.wrote()) : opened;
  if (isFile) {
    await client.execute('PRAGMA journal_mode = WAL');
    await perConnection(client);
  }
  if (ownCheckpoints) {
    const pageSize = Number((await client.execute('PRAGMA page_size')).rows[0]![0]);
    checkpoints = walCheckpoints(resolve(path), pageSize);
  }
  const db = drizzle(client, { schema });
  await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  return {
    db,
    client,
    checkpoints,
    close: () => (checkpoints ? checkpoints.close(() => client.close()) : client.close()),
  };
}

/** Not a plain object, so drizzle takes it for a client rather than for its configuration. */
class WatchedClient {}

/** A client that calls `wrote` after each write statement, batch or migration it committed. */
function afterWrites(client: Client, wrote: () => void): Client {
  const then = <T>(p: Promise<T>): Promise<T> =>
    p.then((r) => {
      wrote();
      return r;
    });
  const wrapped = {
    execute: (stmtOrSql: InStatement, args?: InArgs) => {
      const stmt = typeof stmtOrSql === 'string' ? { sql: stmtOrSql, args: args ?? [] } : stmtOrSql;
      return isRead(stmt) ? client.execute(stmt) : then(client.execute(stmt));
    },
    batch: (stmts: InStatement[], mode?: TransactionMode) => (mode === 'read' ? client.batch(stmts, mode) : then(client.batch(stmts, mode))),
    migrate: (stmts: InStatement[]) => then(client.migrate(stmts)),
  };
  return new Proxy(new WatchedClient() as unknown as Client, {
    get(_, prop) {
      if (Object.hasOwn(wrapped, prop)) return wrapped[prop as keyof typeof wrapped];
      const value = Reflect.get(client, prop, client) as unknown;
      return typeof value === 'function' ? value.bind(client) : value;
    },
  });
}

/** Statements that never write (PRAGMA may not run inside a transaction). */
const isRead = (stmt: InStatement) => /^\s*(select|pragma)\b/i.test(typeof stmt === 'string' ? stmt : stmt.sql);

const isBusy = (err: unknown): boolean => {
  const e = err as { code?: unknown; extendedCode?: unknown };
  return [e.code, e.extendedCode].some((c) => typeof c === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(c));
};

/**
 * A client whose statements and batches are retried while the database is locked by another
 * connection, after an asynchronous pause that doubles from 2 ms to 50 ms (with jitter), for up
 * to BUSY_GIVE_UP_MS. Writes take the write lock first (BEGIN IMMEDIATE; a single write
 * statement runs as a batch of one), so a locked write changed nothing and running it again is
 * safe. After a locked attempt the connection is replaced by a new one (`open`, then `prepare`
 * for its per-connection pragmas): the embedded driver leaves the statement that met the lock
 * active, and an active statement makes every later write on that connection fail
 * (SQLITE_BUSY_SNAPSHOT, "cannot commit transaction - SQL statements in progress").
 * Interactive transactions are not retried: nothing here uses them.
 */
/** Not a plain object, so drizzle takes it for a client rather than for its configuration. */
class RetryingClient {}

export function retryWhenBusy(open: () => Client, prepare: (c: Client) => Promise<void>, giveUpMs = BUSY_GIVE_UP_MS): Client {
  let current = open();
  let ready: Promise<void> = Promise.resolve();
  // Writes of this process wait for the lock one at a time, in order, as they did when the
  // driver's busy wait held the whole process: otherwise every queued write would poll the lock
  // on its own, and a write that must land before a lease runs out could lose to the others.
  let writes: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(work: () => Promise<T>): Promise<T> => {
    const turn = writes.then(work, work);
    writes = turn.catch(() => undefined);
    return turn;
  };
  const retrying = <A extends unknown[], T>(run: (c: Client, ...args: A) => Promise<T>) =>
    async (...args: A): Promise<T> => {
      const started = Date.now();
      for (let attempt = 0; ; attempt++) {
        await ready;
        const c = current;
        try {
          return await run(c, ...args);
        } catch (err) {
          // Operations queued on a connection replaced meanwhile are refused with CLIENT_CLOSED.
          const replaced = c !== current && (err as { code?: unknown }).code === 'CLIENT_CLOSED';
          if (!(isBusy(err) || replaced) || Date.now() - started > giveUpMs) throw err;
          if (c === current) {
            current = open();
            ready = prepare(current).catch(() => undefined);
            c.close();
          }
          const pause = Math.min(50, 2 * 2 ** attempt) * (0.5 + Math.random() / 2);
          await new Promise((r) => setTimeout(r, pause));
        }
      }
    };
  const read = retrying((c: Client, stmt: InStatement) => c.execute(stmt));
  const write = retrying(async (c: Client, stmts: InStatement[], mode: TransactionMode) => c.batch(stmts, mode));
  const wrapped = {
    execute: async (stmtOrSql: InStatement, args?: InArgs) => {
      const stmt = typeof stmtOrSql === 'string' ? { sql: stmtOrSql, args: args ?? [] } : stmtOrSql;
      if (isRead(stmt)) return read(stmt);
      const [result] = await inTurn(() => write([stmt], 'write'));
      return result!;
    },
    batch: (stmts: InStatement[], mode?: TransactionMode) => (mode === 'read' ? write(stmts, 'read') : inTurn(() => write(stmts, 'write'))),
    migrate: (stmts: InStatement[]) => inTurn(() => retrying((c: Client) => c.migrate(stmts))()),
  };
  // Everything else is the current connection's own (its methods use its private fields).
  return new Proxy(new RetryingClient() as unknown as Client, {
    get(_, prop) {
      if (Object.hasOwn(wrapped, prop)) return wrapped[prop as keyof typeof wrapped];
      const value = Reflect.get(current, prop, current) as unknown;
      return typeof value === 'function' ? value.bind(current) : value;
    },
  });
}
