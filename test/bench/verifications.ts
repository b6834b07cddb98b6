import { sql } from 'drizzle-orm';
import { tempDatabase } from '../support/db.js';
import { recordVerifications, verificationsSchema } from '../../src/ingest/verifications.js';
import { median, type BenchRow } from './report.js';

/** 5,000 checks in one request body: validation and the one UPDATE … FROM. */
export async function benchVerifications(): Promise<BenchRow[]> {
  const database = await tempDatabase();
  try {
    const docs = await database.db.all<{ slug: string; title: string }>(sql`SELECT p.slug, d.title FROM documents d JOIN platforms p ON p.id = d.platform_id`);
    const times: number[] = [];
    for (let run = 0; run < 5; run++) {
      const checks = Array.from({ length: 5_000 }, (_, i) => {
        const d = docs[i % docs.length]!;
        return { platform: d.slug, document: d.title, checked_at: new Date(Date.UTC(2026, 10, 20, 6, 0, run * 5 + (i % 60))).toISOString(), sha256: 'e'.repeat(64) };
      });
      const body = JSON.parse(JSON.stringify({ checks }));
      const t0 = performance.now();
      const r = await recordVerifications(database.db, verificationsSchema.parse(body));
      times.push(performance.now() - t0);
      if (r.verified !== docs.length) throw new Error(`verified ${r.verified} of ${docs.length}`);
    }
    const value = median(times);
    return [{ name: `verifications: 5,000 checks (${docs.length} documents) validated and stored in one statement`, value, samples: times, unit: 'ms', target: '< 500 ms', ok: value < 500 }];
  } finally {
    database.dispose();
  }
}
