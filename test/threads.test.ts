import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startScriptNodeOptions } from './support/service-process.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Each thread reports its heap's limit (fixed when V8 sizes the heap) and its young generation's
 * size once it has allocated well past it. An ES module, as the process below evaluates its
 * threads' code (`--input-type=module`).
 */
const REPORT = `
  import { parentPort } from 'node:worker_threads';
  import v8 from 'node:v8';
  const keep = [];
  for (let i = 0; i < 300000; i++) { keep.push({ i }); if (keep.length > 50000) keep.length = 0; }
  const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  parentPort.postMessage({ youngMb: young.space_size / 1048576, limitMb: v8.getHeapStatistics().heap_size_limit / 1048576 });`;

interface HeapReport {
  youngMb: number;
  limitMb: number;
}

function heapsUnderNpmStart(): { plain: HeapReport; bounded: HeapReport; mainLimitMb: number } {
  const script = `
    import { Worker } from 'node:worker_threads';
    import v8 from 'node:v8';
    const limits = { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 };
    const source = ${JSON.stringify(REPORT)};
    const run = async (w) => { const report = await new Promise((r) => w.once('message', r)); await w.terminate(); return report; };
    const plain = await run(new Worker(source, { eval: true, resourceLimits: limits }));
    const { startThread } = await import('./src/threads.ts');
    const bounded = await run(startThread(source, { eval: true, resourceLimits: limits }));
    const mainLimitMb = v8.getHeapStatistics().heap_size_limit / 1048576;
    process.stdout.write(JSON.stringify({ plain, bounded, mainLimitMb }));`;
  const out = execFileSync(process.execPath, [...startScriptNodeOptions('start'), '--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  return JSON.parse(out) as { plain: HeapReport; bounded: HeapReport; mainLimitMb: number };
}

describe('threads under npm start', () => {
  it('have the heap their resourceLimits ask for, not the main thread’s', () => {
    const { plain, bounded, mainLimitMb } = heapsUnderNpmStart();
    // A heap's limit is its old generation's plus three semi-spaces (V8 11, Node 20), fixed when the
    // heap is sized. The young generation's size only says it stayed within its bound: how far it
    // has grown depends on what survived.
    // A thread not started through startThread has npm start's --max-old-space-size=256
    // --max-semi-space-size=4, the main thread's limits, whatever it asked for.
    expect(plain.limitMb).toBeGreaterThan(256);
    // 16 MB of old generation asked for and 2 MB of young: V8's smallest semi-space (1 MB). Either
    // flag left in force would put it past 24 (a 4 MB semi-space, or a 256 MB old generation).
    expect(bounded.limitMb).toBeGreaterThanOrEqual(16);
    expect(bounded.limitMb).toBeLessThan(24);
    expect(bounded.youngMb).toBeLessThanOrEqual(2);
    // The main thread keeps its own.
    expect(mainLimitMb).toBeGreaterThan(256);
  });

  it('are all started through startThread', () => {
    // A Worker constructed anywhere else, however it was imported (a type-only import is fine).
    const starts = /\bnew\s+[\w.]*Worker\s*\(|^import\s+(?!type\b)[^;]*\bWorker\b[^;]*from\s+'node:worker_threads'/m;
    const sources = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const files = sources.filter((f) => starts.test(readFileSync(join(root, 'src', f), 'utf8')));
    expect(sources.length).toBeGreaterThan(50);
    expect(files).toEqual(['threads.ts']);
  });
});
