/**
 * `npm run tokens`: prints the ingest and admin tokens a development start generated and kept in
 * its database (table `settings`), as `NAME=value` lines a shell can export:
 *
 *   export $(npm run -s tokens)      then: curl -H "authorization: Bearer $ADMIN_TOKEN" …
 *
 * A service given INGEST_TOKENS / ADMIN_TOKENS in its environment generates none: those are yours.
 */
import { existsSync } from 'node:fs';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db.js';
import { storedDevelopmentToken } from '../secrets.js';
import { parseCli } from './args.js';

parseCli({
  name: 'tokens',
  usage: `usage: npm run tokens

Prints the tokens a development start generated on DATABASE_URL, as INGEST_TOKEN=… and
ADMIN_TOKEN=… lines (the names npm run demo, replay and the README's curl examples read):
export $(npm run -s tokens) puts them in your shell.`,
  options: {},
});

async function main() {
  const config = loadConfig(process.env);
  const url = config.database.url;
  const file = url.startsWith('file:') ? url.slice('file:'.length).replace(/\?.*$/, '') : undefined;
  // Opening a file that does not exist would make an empty database: say what to do instead.
  if (file !== undefined && !existsSync(file)) throw new Error(`${url} does not exist yet: run \`npm start\` once, it generates the tokens there`);
  const database = await openDatabase(url, config.database.authToken);
  try {
    const ingest = await storedDevelopmentToken(database.db, 'INGEST_TOKENS');
    const admin = await storedDevelopmentToken(database.db, 'ADMIN_TOKENS');
    if (!ingest || !admin) throw new Error(`no generated tokens in ${url}: a start with INGEST_TOKENS and ADMIN_TOKENS set generates none (use those), and one without generates them`);
    console.log(`INGEST_TOKEN=${ingest}\nADMIN_TOKEN=${admin}`);
  } finally {
    database.close();
  }
}

main().catch((e) => {
  console.error(`tokens: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
