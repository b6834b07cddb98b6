import { Column, getTableColumns, sql, type InferSelectModel, type SQL } from 'drizzle-orm';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';

/**
 * Whole rows of a table read as one JSON object each, for the hottest reads (a dispatcher's claim
 * of up to 256 destinations with their accounts). The driver builds a row object column by
 * column, two property definitions per column, and drizzle then maps each column again: for a
 * 2,000-destination fan-out that was a tenth of the main thread. SQLite's json_object and one
 * JSON.parse a row do the same in native code; drizzle's own column mappers still convert the
 * values (booleans), so a row is what `db.select()` would have returned. Only for tables without
 * BLOB columns (json_object refuses them) and whose integers stay within 2^53 (times in ms, counts):
 * the driver would refuse a larger one, JSON.parse would round it.
 */
export interface JsonRows<T extends SQLiteTable> {
  /** `json_object('jsName', alias.column, …)`: the row as one column. */
  select(alias: string): SQL;
  /** The parsed object back as the table's select model. */
  parse(json: string): InferSelectModel<T>;
}

export function jsonRows<T extends SQLiteTable>(table: T): JsonRows<T> {
  const columns = Object.entries(getTableColumns(table));
  // The column names are the schema's own identifiers, never input: safe to put in the SQL text.
  const text = (alias: string) => `json_object(${columns.map(([key, c]) => `'${key}', ${alias}."${c.name}"`).join(', ')})`;
  // Only columns whose values drizzle converts (booleans here) are mapped; the others come as JSON has them.
  const mapped = columns.filter(([, c]) => c.mapFromDriverValue !== Column.prototype.mapFromDriverValue);
  const cache = new Map<string, SQL>();
  return {
    select: (alias) => cache.get(alias) ?? cache.set(alias, sql.raw(text(alias))).get(alias)!,
    parse(json) {
      const row = JSON.parse(json) as Record<string, unknown>;
      for (const [key, c] of mapped) if (row[key] !== null) row[key] = c.mapFromDriverValue(row[key]);
      return row as InferSelectModel<T>;
    },
  };
}
