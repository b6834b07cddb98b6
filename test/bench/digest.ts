import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchRow } from './report.js';

export const SERVICE_HEAP_FLAG = '--max-old-space-size=256';

export async function benchDigests(): Promise<BenchRow[]> {
  // The service's own V8 heap setting (see package.json "start"): without a cap V8 grows its heap
  // lazily toward a quarter of this machine's 24 GiB, and RSS says more about that than about us.
  const out = execFileSync(process.execPath, [SERVICE_HEAP_FLAG, '--import', 'tsx', fileURLToPath(new URL('./digest-run.ts', import.meta.url))], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  const r = JSON.parse(out.trim().split('\n').pop()!) as {
    built: number;
    rate: number;
    avgItems: number;
    avgBytes: number;
    peakRss: number;
    mjmlPerDigestMs: number;
    fillPerDigestMs: number;
    renderPerDigestMs: number;
  };
  // Per digest of the 100,000-digest run, as it really renders (change entries shared per zone).
  const speedup = r.mjmlPerDigestMs / r.renderPerDigestMs;
  return [
    {
      name: `digests built from the database and rendered (${r.built.toLocaleString('en-US')} × ${r.avgItems.toFixed(0)} changes, ${Math.round(r.avgBytes / 1024)} KB each)`,
      value: r.rate,
      unit: 'digests/s',
      target: '≥ 5,000/s',
      ok: r.rate >= 5000,
    },
    { name: 'rendering one digest in the run: filling the compiled template', value: r.renderPerDigestMs * 1000, unit: 'µs', target: 'reported', ok: true },
    { name: 'rendering one digest alone, nothing shared (20-digest sample)', value: r.fillPerDigestMs * 1000, unit: 'µs', target: 'reported', ok: true },
    { name: 'rendering one digest: mjml2html of its MJML, once per digest (same sample)', value: r.mjmlPerDigestMs, unit: 'ms', target: 'reported', ok: true },
    { name: 'compiled template vs mjml per digest', value: speedup, unit: '× faster', target: '≥ 100×', ok: speedup >= 100 },
    { name: `peak RSS of the 100,000-digest run (node ${SERVICE_HEAP_FLAG})`, value: r.peakRss / 1024 / 1024, unit: 'MB', target: '< 250 MB', ok: r.peakRss < 250 * 1024 * 1024 },
  ];
}
