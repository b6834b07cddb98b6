import { drizzle } from 'drizzle-orm/d1';
import * as schema from '../../db/schema.js';
import type { Db } from '../db.js';

interface RawQuery {
  getQuery(): { sql: string; params: unknown[]; method?: string };
  mapResult(result: unknown, isFromBatch: boolean): unknown;
  _prepare(): { getQuery(): { sql: string; params: unknown[] }; stmt?: D1PreparedStatement; mapResult(result: unknown, isFromBatch: boolean): unknown };
  execute: (...args: unknown[]) => Promise<unknown>;
  mapBatchResult: (result: unknown) => unknown;
  config?: { action?: string };
}

/** libSQL's name for what D1 calls meta.changes: the domain reads `rowsAffected` on both. */
function withRowsAffected<T>(result: T): T {
  const meta = (result as { meta?: { changes?: number } }).meta;
  return Object.assign(result as object, { rowsAffected: meta?.changes ?? 0 }) as T;
}

/**
 * The schema's database on D1, speaking as the libSQL one does to the code that shares them:
 * `run` results carry `rowsAffected`, and `batch` takes raw SQL statements with parameters
 * (drizzle 0.45's D1 batch cannot bind those, drizzle-orm#2277, so they are prepared on the
 * binding directly; the batch stays one atomic D1 batch).
 */
export function d1Database(binding: D1Database): Db {
  const db = drizzle(binding, { schema });
  const run = db.run.bind(db);
  Object.assign(db, {
    run(query: Parameters<typeof run>[0]) {
      const raw = run(query) as unknown as RawQuery;
      const execute = raw.execute;
      raw.execute = async (...args) => withRowsAffected(await execute(...args));
      const mapBatch = raw.mapBatchResult;
      raw.mapBatchResult = (result) => withRowsAffected(mapBatch(result));
      return raw;
    },
    async batch(queries: RawQuery[]) {
      const prepared = queries.map((q) => q._prepare());
      const statements = prepared.map((p) => {
        if (p.stmt) return p.stmt.bind(...p.getQuery().params);
        const { sql, params } = p.getQuery();
        return binding.prepare(sql).bind(...params);
      });
      const results = await binding.batch(statements);
      return results.map((r, i) => prepared[i]!.mapResult(r, true));
    },
  });
  return db as unknown as Db;
}
