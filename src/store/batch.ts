import type { BatchItem } from 'drizzle-orm/batch';
import type { Db } from '../db.js';

/** Runs statements as one atomic batch (a transaction on libSQL, an atomic batch on D1). */
export async function runBatch(db: Db, statements: readonly unknown[]): Promise<unknown[]> {
  if (statements.length === 0) return [];
  return db.batch(statements as unknown as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]) as Promise<unknown[]>;
}
