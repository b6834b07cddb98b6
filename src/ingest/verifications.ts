import { z } from 'zod';
import { sql } from 'drizzle-orm';
import type { Db } from '../db.js';
import { parseTimestamp, PLATFORM_SLUG, timestampField } from '../core/event.js';

export const MAX_CHECKS = 5_000;

export const verificationsSchema = z.strictObject({
  checks: z
    .array(
      z.strictObject({
        platform: z.string().regex(PLATFORM_SLUG, 'a platform slug such as openai'),
        document: z.string().trim().min(1, 'the document’s id or title').max(300, 'at most 300 characters'),
        checked_at: timestampField('2026-11-20T06:00:00Z'),
        sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hexadecimal characters').optional(),
      }),
    )
    .min(1, 'at least one check')
    .max(MAX_CHECKS, `at most ${MAX_CHECKS.toLocaleString('en-US')} checks`),
});

export type Verifications = z.output<typeof verificationsSchema>;

/**
 * Keeps each document's last-verified time: the tracker looked and found no substantive change.
 * One UPDATE … FROM for the whole batch (documents found by the producer's id or by title);
 * the answer says which checks named no known document.
 */
export async function recordVerifications(db: Db, body: Verifications): Promise<{ verified: number; unknown: { platform: string; document: string }[] }> {
  const rows = body.checks.map((c) => ({ slug: c.platform, doc: c.document, key: c.document.trim().toLowerCase(), at: parseTimestamp(c.checked_at)!, sha: c.sha256 ?? null }));
  const json = JSON.stringify(rows);
  const [updated, known] = (await db.batch([
    db.run(sql`
      UPDATE documents SET
        last_verified_at = max(coalesce(documents.last_verified_at, 0), v.at),
        last_sha256 = coalesce(v.sha, documents.last_sha256)
      FROM (
        SELECT p.id AS platform_id, j.value ->> 'doc' AS doc, j.value ->> 'key' AS key,
          max(j.value ->> 'at') AS at, j.value ->> 'sha' AS sha
        FROM json_each(${json}) j JOIN platforms p ON p.slug = j.value ->> 'slug'
        GROUP BY 1, 2
      ) v
      WHERE documents.platform_id = v.platform_id AND (documents.external_id = v.doc OR documents.title_key = v.key)`),
    db.all<{ slug: string; doc: string }>(sql`
      SELECT DISTINCT j.value ->> 'slug' AS slug, j.value ->> 'doc' AS doc FROM json_each(${json}) j
      WHERE EXISTS (SELECT 1 FROM documents d JOIN platforms p ON p.id = d.platform_id
        WHERE p.slug = j.value ->> 'slug' AND (d.external_id = j.value ->> 'doc' OR d.title_key = j.value ->> 'key'))`),
  ])) as [{ rowsAffected: number }, { slug: string; doc: string }[]];
  const found = new Set(known.map((k) => `${k.slug}\u0000${k.doc}`));
  const unknown = [...new Map(rows.filter((r) => !found.has(`${r.slug}\u0000${r.doc}`)).map((r) => [`${r.slug}\u0000${r.doc}`, { platform: r.slug, document: r.doc }])).values()];
  return { verified: updated.rowsAffected, unknown };
}
