import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { testService, type TestService } from '../support/service.js';

let s: TestService;
beforeAll(async () => {
  s = await testService();
});
afterAll(() => s.dispose());

async function replaceCatalog(names: string[]) {
  await s.database.db.run(sql`DELETE FROM documents`);
  await s.database.db.run(sql`DELETE FROM platforms`);
  const rows = JSON.stringify(names.map((name, i) => ({ slug: `p-${i}`, name })));
  await s.database.db.run(sql`INSERT INTO platforms (slug, name, created_at) SELECT j.value ->> 'slug', j.value ->> 'name', 0 FROM json_each(${rows}) j`);
}

/** Every slug of GET /v1/platforms, following next_cursor page by page. */
async function pageThrough(limit: number, q = ''): Promise<string[]> {
  const slugs: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const r = await s.call('GET', `/v1/platforms?limit=${limit}${q ? `&q=${encodeURIComponent(q)}` : ''}${cursor ? `&cursor=${cursor}` : ''}`, undefined, null, {
      // A walk pages further than the per-client limit of the catalog search allows one address.
      'x-test-client': `pager-${pages}-${Math.random()}`,
    });
    expect(r.status, r.text).toBe(200);
    slugs.push(...r.json.data.map((p: { slug: string }) => p.slug));
    cursor = r.json.next_cursor;
    if (!cursor) return slugs;
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/); // base64url: safe in a query string as it is
  }
  throw new Error('the pages never end');
}

describe('paging the catalog by name', () => {
  it('goes past names outside Latin-1 and names whose case SQLite does not fold, each row exactly once', async () => {
    await replaceCatalog(['Zürich Bank – 銀行', 'Ärzte Portal', 'Ébay Clone', 'apple', 'Banana', 'ébay clone', '😀 Emoji Co', 'Zeta']);
    const slugs = await pageThrough(1);
    expect(slugs.slice().sort()).toEqual(['p-0', 'p-1', 'p-2', 'p-3', 'p-4', 'p-5', 'p-6', 'p-7']);
    expect(await pageThrough(2)).toEqual(slugs);
  });

  it('pages through random Unicode names, every row exactly once and in the order of one page holding them all', async () => {
    const letters = fc.constantFrom('a', 'B', 'z', 'Ä', 'ä', 'É', 'é', 'ß', 'İ', 'ı', 'Σ', 'ς', '銀', '行', '😀', ' ', '–', '"', '\\', 'Z', '0');
    const name = fc.oneof(fc.string({ unit: letters, minLength: 1, maxLength: 6 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }));
    await fc.assert(
      fc.asyncProperty(fc.array(name, { minLength: 1, maxLength: 25 }), fc.integer({ min: 1, max: 4 }), async (names, limit) => {
        await replaceCatalog(names);
        const all = await pageThrough(200);
        expect(all.slice().sort()).toEqual(names.map((_, i) => `p-${i}`).sort());
        expect(await pageThrough(limit)).toEqual(all);
      }),
      { numRuns: 40 },
    );
  });
});
