#!/usr/bin/env node
// Compiles the service to dist/ (tsc, tsconfig.build.json) and copies what it reads at run time
// beside it (the catalog, the migrations). `npm install` runs it (prepare); `npm start` and
// `npm run start:api` run it with --if-stale first (prestart), which builds only when a source is
// newer than the last build, so an edited checkout never starts yesterday's code. Tests and the
// CLIs run from the sources (tsx).
import { cpSync, existsSync, readdirSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const STAMP = 'dist/.tsbuildinfo';
const SOURCES = ['src', 'db', 'bots', 'templates/compiled.json', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((e) => newest(join(path, e))));
}

if (process.argv.includes('--if-stale') && existsSync(STAMP)) {
  const built = statSync(STAMP).mtimeMs;
  if (SOURCES.every((p) => !existsSync(p) || newest(p) <= built)) process.exit(0);
  console.error('clausewatch: sources changed since the last build: compiling (npm run build)…');
}
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
cpSync('db/migrations', 'dist/db/migrations', { recursive: true });
cpSync('db/catalog.json', 'dist/db/catalog.json');
