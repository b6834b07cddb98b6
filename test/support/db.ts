import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { openDatabase, type Database } from '../../src/db.js';
import { loadCatalog, type CatalogEntry } from '../../src/store/platforms.js';

export interface TempDatabase extends Database {
  dir: string;
  url: string;
  dispose(): void;
}

/** A real libSQL database file in a fresh temp directory, migrated; `:memory:` is one connection only. */
export async function tempDatabase(options: { catalog?: boolean } = {}): Promise<TempDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'clausewatch-test-'));
  const url = `file:${join(dir, 'test.db')}`;
  const database = await openDatabase(url);
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
