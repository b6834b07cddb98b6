import { Column, getTableColumns, sql, type InferSelectModel, type SQL } from 'drizzle-orm';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';

/**
 * Whole rows of a table read as JSON objects, for the hottest reads (a dispatcher's claim of up to
 * 256 destinations with their accounts). The driver builds a row object column by column, two
 * property definitions per column, and drizzle then maps each column again: for a
 * 2,000-destination fan-out that was a tenth of the main thread. SQLite's json_object and
 * JSON.parse do the same in native code; drizzle's own column mappers still convert the values
 * that need it (booleans), so a row is what `db.select()` would have returned. Only for tables
 * without BLOB columns (json_object refuses them) and whose integers stay within 2^53 (times in
 * ms, counts): the driver would refuse a larger one, JSON.parse would round it.
 */
export interface JsonRows<T extends SQLiteTable> {
  /** The row as a few result columns `<alias>_0`, `<alias>_1`, … of JSON objects. */
  select(alias: string): SQL;
  /** Those columns of a result row back as the table's select model. */
  parse(row: Record<string, unknown>, alias: string): InferSelectModel<T>;
}

/** Columns per json_object: D1 allows a SQL function 32 arguments, two per column. */
const PER_OBJECT = 16;

export function jsonRows<T extends SQLiteTable>(table: T): JsonRows<T> {
  const columns = Object.entries(getTableColumns(table));
  const chunks = Array.from({ length: Math.ceil(columns.length / PER_OBJECT) }, (_, i) => columns.slice(i * PER_OBJECT, (i + 1) * PER_OBJECT));
  // The column names are the schema's own identifiers, never input: safe to put in the SQL text.
  const text = (alias: string) => chunks.map((chunk, i) => `json_object(${chunk.map(([key, c]) => `'${key}', ${alias}."${c.name}"`).join(', ')}) AS ${alias}_${i}`).join(', ');
  // Only columns whose values drizzle converts (booleans here) are mapped; the others come as JSON has them.
  const mapped = columns.filter(([, c]) => c.mapFromDriverValue !== Column.prototype.mapFromDriverValue);
  const cache = new Map<string, SQL>();
  return {
    select: (alias) => cache.get(alias) ?? cache.set(alias, sql.raw(text(alias))).get(alias)!,
    parse(result, alias) {
      const row = JSON.parse(result[`${alias}_0`] as string) as Record<string, unknown>;
      for (let i = 1; i < chunks.length; i++) Object.assign(row, JSON.parse(result[`${alias}_${i}`] as string));
      for (const [key, c] of mapped) if (row[key] !== null) row[key] = c.mapFromDriverValue(row[key]);
      return row as InferSelectModel<T>;
    },
  };
}
