import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { tempDatabase, type TempDatabase } from '../support/db.js';
import { versionHistory } from '../../src/ingest/versions.js';

let database: TempDatabase | undefined;
afterEach(() => database?.dispose());

describe('version history look-ups', () => {
  it("reads a document's versions in the window by platform and time, for the look and for the history", async () => {
    database = await tempDatabase({ catalog: false });
    const wanted = [{ slug: 'openai', title_key: 'terms', since: 0, targets: 'a'.repeat(64), within_batch: 0 as const }];
    const plan = (await database.db.all<{ detail: string }>(sql`EXPLAIN QUERY PLAN ${versionHistory(wanted)}`)).map((r) => r.detail);
    // Both subqueries seek the window; neither scans the platform's or the document's whole history.
    expect(plan.filter((d) => d.startsWith('SEARCH e '))).toEqual([
      'SEARCH e USING INDEX events_platform_detected (platform_id=? AND detected_at>?)',
      'SEARCH e USING INDEX events_platform_detected (platform_id=? AND detected_at>?)',
    ]);
    expect(plan.filter((d) => /^SCAN (e|events)\b/.test(d))).toEqual([]);
  });
});
