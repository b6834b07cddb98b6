import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { tempDatabase } from '../support/db.js';
import { freePort, startServiceProcess, type ServiceCode } from '../support/service-process.js';
import { INGEST_TOKEN } from '../support/app.js';
import { seedSubscribers } from './seed.js';
import { median, type BenchRow } from './report.js';

// The build npm run start:api runs; BENCH_CODE=sources measures the tsx-run sources instead (an A/B).
const BENCH_CODE: ServiceCode = process.env.BENCH_CODE === 'sources' ? 'sources' : 'build';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** A realistic change event of about 800 bytes: evidence, a diff, a provision, links. */
export function realisticEvent(id: string, slug: string, title: string, i: number, detectedAt: string) {
  return {
    id,
    platform: { slug },
    document: { title, url: `https://${slug}.example/legal/terms`, kind: 'terms_of_service' },
    provision: { id: `P-${i % 40}`, title: `Section ${i % 40}: disputes and arbitration` },
    severity: ['low', 'medium', 'high'][i % 3],
    categories: ['arbitration', 'liability'],
    title: `Section ${i % 40} now requires binding arbitration`,
    summary: 'Claims go to binding arbitration instead of court; class actions are waived.',
    detected_at: detectedAt,
    evidence: { sha256: sha(`${id}:new`), previous_sha256: sha(`${id}:old`), archive_url: `https://archive.example/${id}` },
    change_url: `https://records.example/changes/${id}`,
    kind: 'changed',
    diff: { removed: [`Section ${i % 40}: claims go to the courts of your residence.`], added: [`Section ${i % 40}: claims go to binding arbitration.`] },
  };
}

/**
 * HTTP ingest through the real server: a ROLE=api process (node, as an operator runs it) on a
 * database with 10,000 subscriptions over the catalog, and 20 POSTs of 500 realistic events each
 * from this process, one after another. Events per second over the 20 requests, wall clock.
 */
export async function benchHttpIngest(): Promise<BenchRow[]> {
  const database = await tempDatabase();
  const slugs = (await database.db.all<{ slug: string }>(sql`SELECT slug FROM platforms ORDER BY slug`)).map((r) => r.slug);
  const titles = new Map(
    (await database.db.all<{ slug: string; title: string }>(sql`SELECT p.slug, min(d.title) AS title FROM platforms p JOIN documents d ON d.platform_id = p.id GROUP BY p.slug`)).map((r) => [r.slug, r.title]),
  );
  await seedSubscribers(database.db, { count: 10_000, platformSlugs: slugs, plan: 'monitor' });
  const port = await freePort();
  const api = startServiceProcess('api', { DATABASE_URL: database.url, LOG_LEVEL: 'info', ALERT_MAX_AGE_HOURS: '24', ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}) }, port, BENCH_CODE);
  try {
    await api.ready;
    const now = new Date().toISOString();
    const bodies = Array.from({ length: 21 }, (_, b) =>
      JSON.stringify({
        events: Array.from({ length: 500 }, (_, i) => {
          const slug = slugs[(b * 500 + i * 7) % slugs.length]!;
          return realisticEvent(`http-${b}-${i}`, slug, titles.get(slug)!, i, now);
        }),
      }),
    );
    const post = async (body: string) => {
      const res = await fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${INGEST_TOKEN}`, 'content-type': 'application/json' }, body });
      if (res.status !== 202) throw new Error(`POST /v1/events answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as { accepted: number };
    };
    await post(bodies[0]!); // warm-up
    // Each POST is a round (500 events, answered when stored and matched): the median and spread.
    const rates: number[] = [];
    for (const body of bodies.slice(1)) {
      const t0 = performance.now();
      const { accepted } = await post(body);
      rates.push(accepted / ((performance.now() - t0) / 1000));
    }
    const rate = median(rates);
    const bytes = Math.round(bodies[1]!.length / 500);
    return [
      {
        name: `HTTP ingest through the real server (ROLE=api process): 20 POSTs × 500 events of ~${bytes} bytes, 10,000 subscriptions`,
        value: rate,
        samples: rates,
        unit: 'events/s',
        target: '≥ 6,000/s',
        ok: rate >= 6000,
      },
    ];
  } finally {
    await api.stop(5_000);
    database.dispose();
  }
}
