import { eq } from 'drizzle-orm';
import type { Db } from '../db.js';
import { settings } from '../../db/schema.js';

/** Returns the stored value of `key`, storing `make()` first if there is none (first writer wins). */
export async function getOrCreateSetting(db: Db, key: string, make: () => string): Promise<{ value: string; created: boolean }> {
  const candidate = make();
  const inserted = await db.insert(settings).values({ key, value: candidate }).onConflictDoNothing().returning();
  if (inserted[0]) return { value: inserted[0].value, created: true };
  const row = await db.query.settings.findFirst({ where: eq(settings.key, key) });
  return { value: row!.value, created: false };
}
