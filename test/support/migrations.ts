import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@libsql/client';
import { drizzle, type LibSQLDatabase } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import * as schema from '../../db/schema.js';

/** The committed migrations, as the service applies them at start. */
const MIGRATIONS = fileURLToPath(new URL('../../db/migrations', import.meta.url));

/** The migrations up to (not including) `tag`, copied under `dir` as a folder drizzle can apply. */
function migrationsBefore(dir: string, tag: string): string {
  const folder = join(dir, 'before');
  mkdirSync(join(folder, 'meta'), { recursive: true });
  const journal = JSON.parse(readFileSync(join(MIGRATIONS, 'meta/_journal.json'), 'utf8')) as { entries: { tag: string }[] };
  const upto = journal.entries.findIndex((e) => e.tag === tag);
  if (upto < 0) throw new Error(`no migration tagged ${tag}`);
  journal.entries = journal.entries.slice(0, upto);
  for (const e of journal.entries) cpSync(join(MIGRATIONS, `${e.tag}.sql`), join(folder, `${e.tag}.sql`));
  writeFileSync(join(folder, 'meta/_journal.json'), JSON.stringify(journal));
  return folder;
}

export interface OldDatabase {
  db: LibSQLDatabase<typeof schema>;
  /** Applies the committed migrations from `tag` on, as the service does at start. */
  upgrade(): Promise<void>;
  /** Closes the database and removes its directory. */
  close(): void;
}

/** A database file in a directory of its own, as it was before the migration `tag`: what an upgrade meets. */
export async function databaseBefore(tag: string): Promise<OldDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'clausewatch-migration-'));
  const client = createClient({ url: `file:${join(dir, 'old.db')}` });
  const db = drizzle(client, { schema });
  await migrate(db, { migrationsFolder: migrationsBefore(dir, tag) });
  return {
    db,
    upgrade: () => migrate(db, { migrationsFolder: MIGRATIONS }),
    close() {
      client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
