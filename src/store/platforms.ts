import { asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import { documents, platforms } from '../../db/schema.js';
import { closestPlatforms } from '../core/platform-search.js';
import { decodeCursor, keysetLimit, keysetPage, type Page } from './paging.js';

/**
 * The catalog lists by name, then slug: by SQLite's lower(name), which folds ASCII letters only,
 * and the cursor keeps that very value, so the order and the cursor's comparison agree.
 */
export const PLATFORM_CURSOR = ['string', 'string'] as const;

export type PlatformRow = typeof platforms.$inferSelect;

export interface CatalogEntry {
  slug: string;
  name: string;
  sector?: string;
  documents: { title: string; url?: string; kind?: string }[];
}

/**
 * Loads the shipped catalog. Runs at every start and only adds what is missing, so a newer
 * catalog reaches an existing database and nothing learnt from events is overwritten.
 */
export async function loadCatalog(db: Db, catalog: readonly CatalogEntry[], now: number): Promise<void> {
  const docs = catalog.flatMap((p) =>
    p.documents.map((d) => ({ slug: p.slug, title: d.title, title_key: d.title.trim().toLowerCase(), url: d.url ?? null, kind: d.kind ?? null })),
  );
  await db.batch([
    db.run(sql`
      INSERT INTO platforms (slug, name, sector, created_at)
      SELECT j.value ->> 'slug', j.value ->> 'name', j.value ->> 'sector', ${now}
      FROM json_each(${JSON.stringify(catalog.map(({ slug, name, sector }) => ({ slug, name, sector: sector ?? null })))}) j
      WHERE true ON CONFLICT (slug) DO NOTHING`),
    db.run(sql`
      INSERT INTO documents (platform_id, title, title_key, url, kind, created_at)
      SELECT p.id, j.value ->> 'title', j.value ->> 'title_key', j.value ->> 'url', j.value ->> 'kind', ${now}
      FROM json_each(${JSON.stringify(docs)}) j JOIN platforms p ON p.slug = j.value ->> 'slug'
      WHERE true ON CONFLICT (platform_id, title_key) DO NOTHING`),
  ]);
}

export async function findPlatform(db: Db, slug: string): Promise<PlatformRow | undefined> {
  return db.query.platforms.findFirst({ where: eq(platforms.slug, slug.toLowerCase()) });
}

export interface PlatformWithDocuments extends PlatformRow {
  documents: { title: string; url: string | null; kind: string | null; lastEventAt: number | null; lastVerifiedAt: number | null }[];
}

/** The catalog, searched by slug or name (`?q=`), by name, paged. */
export async function searchPlatforms(db: Db, q: string | undefined, limit: number, cursor?: string): Promise<Page<PlatformWithDocuments>> {
  const after = decodeCursor(cursor, PLATFORM_CURSOR);
  const like = q ? `%${q.toLowerCase().replace(/[\\%_]/g, (m) => `\\${m}`)}%` : undefined;
  const rows = await db
    .select({ platform: platforms, sortName: sql<string>`lower(${platforms.name})` })
    .from(platforms)
    .where(
      sql`${like ? sql`(lower(${platforms.slug}) LIKE ${like} ESCAPE '\\' OR lower(${platforms.name}) LIKE ${like} ESCAPE '\\')` : sql`1`}
        AND ${after ? sql`(lower(${platforms.name}), ${platforms.slug}) > (${after[0]}, ${after[1]})` : sql`1`}`,
    )
    .orderBy(sql`lower(${platforms.name})`, asc(platforms.slug))
    .limit(keysetLimit(limit));
  const { rows: kept, nextCursor } = keysetPage(rows, limit, PLATFORM_CURSOR, (r) => [r.sortName, r.platform.slug]);
  const page = kept.map((r) => r.platform);
  const docs = page.length
    ? await db
        .select({
          platformId: documents.platformId,
          title: documents.title,
          url: documents.url,
          kind: documents.kind,
          lastEventAt: documents.lastEventAt,
          lastVerifiedAt: documents.lastVerifiedAt,
        })
        .from(documents)
        .where(sql`${documents.platformId} IN (SELECT value FROM json_each(${JSON.stringify(page.map((p) => p.id))}))`)
        .orderBy(asc(documents.title))
    : [];
  const data = page.map((p) => ({
    ...p,
    documents: docs.filter((d) => d.platformId === p.id).map(({ platformId: _, ...d }) => d),
  }));
  return { data, nextCursor };
}

/** Every platform's slug and name, by name: the sign-up form's list (a few hundred rows). */
export async function platformNames(db: Db): Promise<{ slug: string; name: string }[]> {
  return db.select({ slug: platforms.slug, name: platforms.name }).from(platforms).orderBy(asc(platforms.name), asc(platforms.slug));
}

/** Close matches for a slug nobody knows, for the "did you mean" of every surface. */
export async function suggestPlatforms(db: Db, query: string, max = 5): Promise<{ slug: string; name: string }[]> {
  const all = await db.select({ slug: platforms.slug, name: platforms.name }).from(platforms);
  return closestPlatforms(query, all, max);
}
