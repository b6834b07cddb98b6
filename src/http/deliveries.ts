import { z } from 'zod';
import { sql } from 'drizzle-orm';
import type { AppDeps } from './deps.js';
import { parseOrThrow } from './errors.js';
import { accountOr404 } from './accounts.js';
import { pageQuery } from './query.js';
import { decodeCursor, encodeCursor } from '../store/paging.js';
import { DESTINATION_TYPES, OUTBOX_KINDS, OUTBOX_STATUSES } from '../../db/schema.js';
import { adminAuth, defineRoute, describedRoute, describedRoutes, errors, json, listOf, pathParams } from './openapi.js';

/** The delivery log lists newest first, by outbox id. */
const DELIVERY_CURSOR = ['number'] as const;

const query = z.object({
  status: z.enum(['queued', 'sending', 'retrying', 'sent', 'dead', 'cancelled'], { error: 'one of queued, sending, retrying, sent, dead, cancelled' }).optional(),
  ...pageQuery(DELIVERY_CURSOR),
});

const iso = (ms: number | null) => (ms == null ? null : new Date(ms).toISOString());

const timestamp = z.string().meta({ format: 'date-time' });
const deliverySchema = z
  .object({
    id: z.int(),
    kind: z.enum(OUTBOX_KINDS),
    destination: z.string(),
    channel: z.enum(DESTINATION_TYPES),
    status: z.enum(OUTBOX_STATUSES),
    attempts: z.int(),
    changes: z.int().optional().meta({ description: 'alert: the changes it carries' }),
    last_error: z.string().nullable(),
    provider_id: z.string().nullable(),
    next_attempt_at: timestamp.nullable(),
    sent_at: timestamp.nullable(),
    created_at: timestamp,
  })
  .meta({ id: 'Delivery' });

const logRoute = defineRoute({
  method: 'get',
  path: '/',
  tags: ['Deliveries'],
  summary: 'The delivery log: every message to the account’s destinations, newest first, with its fate',
  security: adminAuth,
  request: { params: pathParams({ id: 'The account id (acc_…)' }), query },
  responses: { 200: json('A page of messages', listOf(deliverySchema)), ...errors(400, 401, 404) },
});

/** The delivery log: every message to the account's destinations, newest first, with its fate. */
export function deliveryRoutes(deps: AppDeps) {
  const app = describedRoutes();
  describedRoute(app, logRoute, async (c) => {
    const account = await accountOr404(deps, c.req.param('id')!);
    const q = parseOrThrow(query, c.req.query(), 'invalid_query');
    const before = decodeCursor(q.cursor, DELIVERY_CURSOR)?.[0];
    const rows = await deps.db.all<{
      id: number;
      kind: string;
      destination_id: string;
      channel: string;
      status: string;
      attempts: number;
      parts_sent: number;
      last_error: string | null;
      provider_id: string | null;
      due_at: number;
      sent_at: number | null;
      created_at: number;
      items: number;
    }>(sql`
      SELECT o.id, o.kind, o.destination_id, o.channel, o.status, o.attempts, o.parts_sent, o.last_error, o.provider_id,
        o.due_at, o.sent_at, o.created_at, (SELECT count(*) FROM matches m WHERE m.outbox_id = o.id) + (SELECT count(*) FROM matches m WHERE m.digest_outbox_id = o.id) AS items
      FROM outbox o
      WHERE o.account_id = ${account.id}
        AND ${q.status ? sql`o.status = ${q.status}` : sql`1`}
        AND ${before !== undefined ? sql`o.id < ${before}` : sql`1`}
      ORDER BY o.id DESC LIMIT ${q.limit + 1}`);
    const data = rows.slice(0, q.limit).map((r) => ({
      id: r.id,
      kind: r.kind,
      destination: r.destination_id,
      channel: r.channel,
      status: r.status,
      attempts: r.attempts,
      changes: r.kind === 'alert' ? r.items : undefined,
      last_error: r.last_error,
      provider_id: r.provider_id,
      next_attempt_at: r.status === 'queued' || r.status === 'retrying' ? iso(r.due_at) : null,
      sent_at: iso(r.sent_at),
      created_at: iso(r.created_at),
    }));
    const last = data[data.length - 1];
    return c.json({ data, next_cursor: rows.length > q.limit && last ? encodeCursor(DELIVERY_CURSOR, [last.id]) : null });
  });
  return app;
}
