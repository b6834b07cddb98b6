import { z } from 'zod';
import type { AppDeps } from './deps.js';
import { parseOrThrow } from './errors.js';
import { accountOr404 } from './accounts.js';
import { pageQuery } from './query.js';
import { parseTimestamp, timestampField } from '../core/event.js';
import { REVIEW_STATUSES, isReviewStatus, type ReviewStatus } from '../core/review.js';
import { listReviews, REVIEW_CURSOR, type ReviewEntry, type ReviewFilter } from '../store/reviews.js';
import { csvRow } from '../render/csv.js';
import { adminAuth, defineRoute, describedRoute, describedRoutes, errors, json, listOf, pathParams } from './openapi.js';

const statusList = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .refine((l) => l.length > 0 && l.every(isReviewStatus), `one or more of ${REVIEW_STATUSES.join(', ')}, comma-separated`)
  .transform((l) => l as ReviewStatus[]);

const query = z.object({
  status: statusList.optional(),
  since: timestampField('2026-11-01T00:00:00Z').optional(),
  format: z.enum(['json', 'csv'], { error: 'json or csv' }).default('json'),
  ...pageQuery(REVIEW_CURSOR),
});

const iso = (ms: number | null | undefined) => (ms == null ? null : new Date(ms).toISOString());

const SOURCE_NAMES = { slack: 'Slack', discord: 'Discord', page: 'review page' } as const;

function reviewJson(r: ReviewEntry) {
  const v = r.review;
  return {
    change: r.eventId,
    platform: r.platform,
    document: r.document,
    clause: r.clause,
    title: r.title,
    severity: r.severity,
    detected_at: iso(r.detectedAt),
    effective_at: r.effectiveAt,
    evidence: { sha256: r.sha256, previous_sha256: r.previousSha256, archive_url: r.archiveUrl },
    last_verified_at: iso(r.lastVerifiedAt),
    status: v.status,
    by: v.actorName ? { name: v.actorName, id: v.actorId ?? null, via: v.source } : null,
    at: iso(v.decidedAt),
    reason: v.reason ?? null,
    assigned_to: v.status === 'assigned' ? { name: v.assigneeName ?? null, id: v.assigneeId ?? null } : null,
  };
}

export const CSV_HEADER = [
  'change_id',
  'platform',
  'document',
  'clause',
  'title',
  'severity',
  'detected_at',
  'effective_at',
  'evidence_sha256',
  'previous_sha256',
  'archive_url',
  'last_verified_at',
  'status',
  'by',
  'at',
  'reason',
  'assigned_to',
] as const;

function reviewCsv(r: ReviewEntry): string {
  const v = r.review;
  // "maria (Slack U0001)": the name shown, and where it came from (a typed name has no id).
  const by = v.actorName ? `${v.actorName} (${SOURCE_NAMES[v.source ?? 'page']}${v.actorId ? ` ${v.actorId}` : ''})` : '';
  return csvRow([
    r.eventId,
    r.platform.slug,
    r.document,
    r.clause,
    r.title,
    r.severity,
    iso(r.detectedAt),
    r.effectiveAt,
    r.sha256,
    r.previousSha256,
    r.archiveUrl,
    iso(r.lastVerifiedAt),
    v.status,
    by,
    iso(v.decidedAt),
    v.reason,
    v.status === 'assigned' ? assignee(v.assigneeName, v.assigneeId) : null,
  ]);
}

/** "Jon Smith (U0JON0001)": the assignee's name, and their chat user id when it is not the name itself (a failed lookup). */
function assignee(name: string | null | undefined, id: string | null | undefined): string | null {
  if (!name) return id ?? null;
  return id && id !== name ? `${name} (${id})` : name;
}

/** Rows per query while a CSV export walks the whole trail. */
const CSV_PAGE = 500;

const listRoute = defineRoute({
  method: 'get',
  path: '/',
  tags: ['Reviews'],
  summary: 'The review trail: every change the account was alerted to, with its review (status, by whom, when, reason), newest first; JSON paged, or the whole trail as CSV',
  security: adminAuth,
  request: { params: pathParams({ id: 'The account id (acc_…)' }), query },
  responses: {
    200: {
      description: 'A page of reviews (JSON), or the whole filtered trail (CSV, RFC 4180, formula-safe)',
      content: {
        'application/json': { schema: listOf(z.looseObject({ change: z.string(), status: z.enum(REVIEW_STATUSES), at: z.string().nullable(), reason: z.string().nullable() })) },
        'text/csv': { schema: z.string() },
      },
    },
    ...errors(400, 401, 404),
  },
});

/**
 * The review trail of an account: every change it was alerted to, its current review, newest
 * change first. JSON is paged like every list; CSV is the whole trail (filtered) for an auditor.
 */
export function reviewRoutes(deps: AppDeps) {
  const app = describedRoutes();
  describedRoute(app, listRoute, async (c) => {
    const account = await accountOr404(deps, c.req.param('id')!);
    const q = parseOrThrow(query, c.req.query(), 'invalid_query');
    const filter: ReviewFilter = { statuses: q.status, since: q.since ? parseTimestamp(q.since)! : undefined };
    if (q.format === 'json') {
      const page = await listReviews(deps.db, account.id, filter, q.limit, q.cursor);
      return c.json({ data: page.data.map(reviewJson), next_cursor: page.nextCursor });
    }
    let out = csvRow(CSV_HEADER);
    let cursor = q.cursor;
    do {
      const page = await listReviews(deps.db, account.id, filter, CSV_PAGE, cursor);
      for (const r of page.data) out += reviewCsv(r);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return c.body(out, 200, {
      'content-type': 'text/csv; charset=utf-8; header=present',
      'content-disposition': `attachment; filename="clausewatch-reviews-${account.id}.csv"`,
    });
  });
  return app;
}
