import { z } from 'zod';
import type { AppDeps } from './deps.js';
import { readJsonBody } from './body.js';
import { ApiError, invalid, parseOrThrow } from './errors.js';
import { requireToken } from './auth.js';
import { parseEventBody, parseTimestamp, timestampField } from '../core/event.js';
import { ingestEvents } from '../ingest/ingest.js';
import { undoneWithinMs } from '../core/policy.js';
import { restoreDocuments } from '../ingest/health.js';
import { listEvents, EVENT_CURSOR } from '../store/events.js';
import { pageQuery } from './query.js';
import { changeEventSchema, MAX_BATCH_EVENTS, PLATFORM_SLUG } from '../core/event.js';
import { adminAuth, defineRoute, describedRoute, describedRoutes, errors, ingestAuth, json, jsonBody, listOf } from './openapi.js';

const listQuery = z.object({
  platform: z.string().regex(PLATFORM_SLUG, 'a platform slug such as openai').optional(),
  since: timestampField('2026-11-01T00:00:00Z').optional(),
  ...pageQuery(EVENT_CURSOR),
});

/** The change event of the contract, as POST /v1/events reads it (parseEventBody), one or a batch. */
export const changeEvent = changeEventSchema.meta({ id: 'ChangeEvent', description: 'A change event of the contract. Unknown fields are kept and go out to webhooks as received.' });
const ingestBody = z.union([
  changeEvent,
  z.object({ events: z.array(changeEvent).min(1).max(MAX_BATCH_EVENTS) }).meta({ id: 'EventBatch', description: `Up to ${MAX_BATCH_EVENTS} events, stored all or none` }),
]);
const ingestAnswer = z.object({
  accepted: z.int().meta({ description: 'Events stored now' }),
  duplicates: z.int().meta({ description: 'Events re-sent with an id and content already stored' }),
  matched: z.int().meta({ description: 'Destinations matched by the stored events' }),
});

const ingestRoute = defineRoute({
  method: 'post',
  path: '/',
  tags: ['Ingest'],
  summary: 'Post one change event or a batch',
  description: 'All or nothing: a batch with one invalid event stores none, and the answer lists every field at fault in every event. A re-sent event (same id, same content) counts as a duplicate.',
  security: ingestAuth,
  request: { body: jsonBody(ingestBody) },
  responses: {
    202: json('Stored (or recognised as duplicates) and matched', ingestAnswer),
    ...errors(400, 401, 409, 413, 415),
  },
});

const listRoute = defineRoute({
  method: 'get',
  path: '/',
  tags: ['Ingest'],
  summary: 'Stored events, newest first, each with what became of it',
  description: 'Each event as received, with `received_at` and `delivery`: the destinations it matched and alerted, and why it was not alerted.',
  security: adminAuth,
  request: { query: listQuery },
  responses: { 200: json('A page of events', listOf(z.looseObject({ received_at: z.string(), delivery: z.looseObject({}) }))), ...errors(400, 401) },
});

export function eventRoutes(deps: AppDeps) {
  const app = describedRoutes();

  describedRoute(app, ingestRoute, requireToken(() => deps.config.ingestTokens, 'ingest'), async (c) => {
    const body = await readJsonBody(c, 'invalid_event');
    const parsed = parseEventBody(body, deps.clock());
    if (!parsed.ok) throw invalid('invalid_event', parsed.issues, parsed.issues.some((i) => i.path.startsWith('events.')) ? 'batch' : 'event');
    const outcome = await ingestEvents(
      {
        db: deps.db,
        clock: deps.clock,
        alertMaxAgeHours: deps.config.alertMaxAgeHours,
        flapWindowHours: deps.config.flapWindowHours,
        undoneWithinMs: undoneWithinMs(deps.config.alertGroupWaitSeconds * 1000),
      },
      parsed.events,
    );
    if (!outcome.ok) {
      throw new ApiError(
        409,
        'event_conflict',
        `Event id ${outcome.conflicts.map((id) => `'${id}'`).join(', ')} was already used for different content. Send a new id for a new event; nothing was stored.`,
        { ids: outcome.conflicts },
      );
    }
    deps.metrics?.eventsIngested(outcome.accepted, outcome.duplicates);
    deps.metrics?.matched(outcome.matched);
    for (const [reason, n] of Object.entries(outcome.suppressed)) deps.metrics?.suppressed(reason, n);
    for (const [decision, n] of Object.entries(outcome.decisions)) deps.metrics?.decided(decision, n);
    deps.log.info('events.ingested', { ingestId: outcome.ingestId, accepted: outcome.accepted, duplicates: outcome.duplicates, matched: outcome.matched });
    // The dispatcher is woken before anything else is written: it groups and sends while this answers.
    if (outcome.matched > 0) deps.onAlertWork?.();
    // News of a document that was silent too long ends its monitoring outage.
    const restored = outcome.accepted ? await restoreDocuments(deps.db, deps.clock(), deps.config.staleAfterHours) : 0;
    if (restored) deps.onAlertWork?.();
    return c.json({ accepted: outcome.accepted, duplicates: outcome.duplicates, matched: outcome.matched }, 202);
  });

  describedRoute(app, listRoute, requireToken(() => deps.config.adminTokens, 'admin'), async (c) => {
    const q = parseOrThrow(listQuery, c.req.query(), 'invalid_query');
    const page = await listEvents(deps.db, { platformSlug: q.platform, since: q.since ? parseTimestamp(q.since)! : undefined }, q.limit, q.cursor);
    return c.json({
      data: page.data.map((e) => ({
        ...e.event,
        received_at: new Date(e.receivedAt).toISOString(),
        delivery: {
          matched_destinations: e.matchedDestinations,
          alerted_destinations: e.alertedDestinations,
          alerted: e.alertedDestinations > 0,
          suppressed_reason: e.suppressedReason,
          suppressed_destinations: e.destinationSuppressions,
          reversion: e.revertsToAt === null ? null : { reverted_to_version_of: new Date(e.revertsToAt).toISOString(), shown_severity: 'low', undoes: e.undoesId },
        },
      })),
      next_cursor: page.nextCursor,
    });
  });

  return app;
}
