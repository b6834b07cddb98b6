import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { drizzle } from 'drizzle-orm/libsql';
import type { Client } from '@libsql/client';
import { openDatabase, schema, type Database, type Db } from '../../src/db.js';
import { loadCatalog, type CatalogEntry } from '../../src/store/platforms.js';

export interface TempDatabase extends Database {
  dir: string;
  url: string;
  dispose(): void;
}

/** A real libSQL database file in a fresh temp directory, migrated; `:memory:` is one connection only. */
export async function tempDatabase(options: { catalog?: boolean; waitOnMainThread?: boolean } = {}): Promise<TempDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'clausewatch-test-'));
  const url = `file:${join(dir, 'test.db')}`;
  const database = await openDatabase(url, undefined, { waitOnMainThread: options.waitOnMainThread });
  if (options.catalog !== false) await loadCatalog(database.db, readCatalog(), 0);
  return {
    ...database,
    dir,
    url,
    dispose() {
      database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let catalogCache: CatalogEntry[] | undefined;
export function readCatalog(): CatalogEntry[] {
  catalogCache ??= (JSON.parse(readFileSync(new URL('../../db/catalog.json', import.meta.url), 'utf8')) as { platforms: CatalogEntry[] }).platforms;
  return catalogCache;
}

/**
 * The same database as if it were a network round trip away (a libSQL server, D1): each statement
 * and batch starts `ms` later. For what must keep its promises when the database is slow, such as
 * chat commands answered within Slack's and Discord's 3 seconds.
 */
export function distantDb(database: Database, ms: number): Db {
  const client = database.client;
  const later = <T>(f: () => Promise<T>) => new Promise<void>((r) => setTimeout(r, ms)).then(f);
  const distant = new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'execute') return (...args: Parameters<Client['execute']>) => later(() => target.execute(...args));
      if (prop === 'batch') return (...args: Parameters<Client['batch']>) => later(() => target.batch(...args));
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return drizzle(distant, { schema });
}

/** The database file and its WAL as bytes on disk, as someone with a copy of them reads it. */
export async function rawDatabase(database: Pick<TempDatabase, 'client' | 'url'>): Promise<string> {
  await database.client.execute('PRAGMA wal_checkpoint(TRUNCATE)');
  const file = database.url.slice('file:'.length);
  return [file, `${file}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f).toString('latin1')).join('');
}
