import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The committed migrations, as the service applies them at start. */
export const MIGRATIONS = fileURLToPath(new URL('../../db/migrations', import.meta.url));

/** The migrations up to (not including) `tag`, copied under `dir` as a folder drizzle can apply: a database as it was before that migration. */
export function migrationsBefore(dir: string, tag: string): string {
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
