import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startScriptNodeOptions } from './support/service-process.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Each thread reports its young generation's size once it has allocated well past it, so a young
 * generation that may grow has grown: V8 sizes it up to its maximum as objects survive. An ES module,
 * as the process below evaluates its threads' code (`--input-type=module`).
 */
const REPORT = `
  import { parentPort } from 'node:worker_threads';
  import v8 from 'node:v8';
  const keep = [];
  for (let i = 0; i < 300000; i++) { keep.push({ i }); if (keep.length > 50000) keep.length = 0; }
  const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  parentPort.postMessage(young.space_size / 1048576);`;

function youngGenerationsUnderNpmStart(): { plain: number; bounded: number; main: number } {
  const script = `
    import { Worker } from 'node:worker_threads';
    import v8 from 'node:v8';
    const limits = { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 };
    const source = ${JSON.stringify(REPORT)};
    const run = async (w) => { const mb = await new Promise((r) => w.once('message', r)); await w.terminate(); return mb; };
    const plain = await run(new Worker(source, { eval: true, resourceLimits: limits }));
    const { startThread } = await import('./src/threads.ts');
    const bounded = await run(startThread(source, { eval: true, resourceLimits: limits }));
    const keep = []; for (let i = 0; i < 300000; i++) { keep.push({ i }); if (keep.length > 50000) keep.length = 0; }
    const main = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576;
    process.stdout.write(JSON.stringify({ plain, bounded, main }));`;
  const out = execFileSync(process.execPath, [...startScriptNodeOptions('start'), '--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  return JSON.parse(out) as { plain: number; bounded: number; main: number };
}

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourcesUnder(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('threads under npm start', () => {
  it('have the young generation their resourceLimits ask for, not the main thread’s', () => {
    const { plain, bounded, main } = youngGenerationsUnderNpmStart();
    // What npm start's --max-semi-space-size=4 does to a thread that does not go through startThread.
    expect(plain).toBe(8);
    // 2 MB asked for: V8's smallest semi-space (1 MB), two of them.
    expect(bounded).toBe(2);
    // The main thread keeps its own.
    expect(main).toBe(8);
  });

  it('are all started through startThread', () => {
    const starts = sourcesUnder(join(root, 'src')).filter((f) => /\bnew Worker\(/.test(readFileSync(f, 'utf8')));
    expect(starts.map((f) => f.slice(root.length))).toEqual(['src/threads.ts']);
  });
});
