import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { median, type BenchRow } from './report.js';

export const SERVICE_HEAP_FLAG = '--max-old-space-size=256';

/** Rounds of the 100,000-digest run, each a fresh process on a fresh database. */
const ROUNDS = 3;

export async function benchDigests(): Promise<BenchRow[]> {
  const rounds = Array.from({ length: ROUNDS }, digestRun);
  const r = rounds[0]!;
  const each = (f: (x: DigestRun) => number) => {
    const samples = rounds.map(f);
    return { value: median(samples), samples };
  };
  const rate = each((x) => x.rate);
  const speedup = each((x) => x.mjmlPerDigestMs / x.renderPerDigestMs);
  const rss = each((x) => x.peakRss / 1024 / 1024);
  return [
    {
      name: `digests built from the database and rendered (${r.built.toLocaleString('en-US')} × ${r.avgItems.toFixed(0)} changes, ${Math.round(r.avgBytes / 1024)} KB each)`,
      ...rate,
      unit: 'digests/s',
      target: '≥ 5,000/s',
      ok: rate.value >= 5000,
    },
    // Per digest of the 100,000-digest run, as it really renders (change entries shared per zone).
    { name: 'rendering one digest in the run: filling the compiled template', ...each((x) => x.renderPerDigestMs * 1000), unit: 'µs', target: 'reported', ok: true },
    { name: 'rendering one digest alone, nothing shared (20-digest sample)', ...each((x) => x.fillPerDigestMs * 1000), unit: 'µs', target: 'reported', ok: true },
    { name: 'rendering one digest: mjml2html of its MJML, once per digest (same sample)', ...each((x) => x.mjmlPerDigestMs), unit: 'ms', target: 'reported', ok: true },
    { name: 'compiled template vs mjml per digest', ...speedup, unit: '× faster', target: '≥ 100×', ok: speedup.value >= 100 },
    { name: `peak RSS of the 100,000-digest run (node ${SERVICE_HEAP_FLAG})`, ...rss, unit: 'MB', target: '< 250 MB', ok: rss.value < 250 },
  ];
}

interface DigestRun {
  built: number;
  rate: number;
  avgItems: number;
  avgBytes: number;
  peakRss: number;
  mjmlPerDigestMs: number;
  fillPerDigestMs: number;
  renderPerDigestMs: number;
}

function digestRun(): DigestRun {
  const script = fileURLToPath(new URL('./digest-run.ts', import.meta.url));
  const lastLine = (out: string) => JSON.parse(out.trim().split('\n').pop()!);
  // The subscribers and the week's changes, ingested by a process of their own (as the service did).
  const { dir, url } = lastLine(execFileSync(process.execPath, ['--import', 'tsx', script, 'setup'], { encoding: 'utf8', maxBuffer: 1 << 20 })) as { dir: string; url: string };
  try {
    // The service's own V8 heap setting (see package.json "start"): without a cap V8 grows its heap
    // lazily toward a quarter of this machine's 24 GiB, and RSS says more about that than about us.
    const out = execFileSync(process.execPath, [SERVICE_HEAP_FLAG, '--import', 'tsx', script], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
      env: { ...process.env, DIGEST_DATABASE_URL: url },
    });
    return lastLine(out) as DigestRun;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
