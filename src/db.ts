import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from '@libsql/client';
import { drizzle, type LibSQLDatabase } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import * as schema from '../db/schema.js';
import { reusePreparedStatements } from './store/statement-cache.js';

export type Db = LibSQLDatabase<typeof schema>;
export { schema };

export const MIGRATIONS_FOLDER = resolve(dirname(fileURLToPath(import.meta.url)), '../db/migrations');

export interface Database {
  db: Db;
  client: Client;
  close(): void;
}

/**
 * Opens the libSQL database (a file for the embedded default, or a libSQL server) and applies
 * the committed migrations. WAL lets other processes read while one writes; the busy timeout
 * makes a second process (another dispatcher) wait for the lock instead of failing at once.
 *
 * A file database gets one connection per process: the embedded driver runs every statement
 * synchronously on the main thread, so more connections add no parallelism, and with one the
 * per-connection pragma below holds for every statement. synchronous=NORMAL is SQLite's advice
 * for WAL: never corrupt, and a power cut can lose only the last commits, which for the outbox
 * means at worst a message sent again, never one lost.
 */
export async function openDatabase(url: string, authToken?: string): Promise<Database> {
  const isFile = url.startsWith('file:');
  if (isFile) {
    const path = url.slice('file:'.length).replace(/\?.*$/, '');
    if (path && path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
  }
  if (isFile) reusePreparedStatements();
  const client = createClient({ url, authToken, timeout: 10_000, ...(isFile ? { concurrency: 1 } : {}) });
  if (isFile) {
    await client.execute('PRAGMA journal_mode = WAL');
    await client.execute('PRAGMA synchronous = NORMAL');
  }
  const db = drizzle(client, { schema });
  await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  return { db, client, close: () => client.close() };
}
