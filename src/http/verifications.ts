import type { AppDeps } from './deps.js';
import { readJsonBody } from './body.js';
import { invalid, parseOrThrow } from './errors.js';
import { futureTimeIssue, parseTimestamp } from '../core/event.js';
import { requireToken } from './auth.js';
import { recordVerifications, verificationsSchema } from '../ingest/verifications.js';
import { restoreDocuments } from '../ingest/health.js';
import { defineRoute, describedRoute, describedRoutes, errors, ingestAuth, json, jsonBody } from './openapi.js';
import { z } from 'zod';

const recordRoute = defineRoute({
  method: 'post',
  path: '/',
  tags: ['Ingest'],
  summary: 'Record that documents were checked and found unchanged',
  security: ingestAuth,
  request: { body: jsonBody(verificationsSchema) },
  responses: {
    202: json('Recorded', z.object({ accepted: z.int(), verified: z.int(), unknown: z.array(z.object({ platform: z.string(), document: z.string() })) })),
    ...errors(400, 401, 413, 415),
  },
});

export function verificationRoutes(deps: AppDeps) {
  const app = describedRoutes();
  describedRoute(app, recordRoute, requireToken(() => deps.config.ingestTokens, 'ingest'), async (c) => {
    const body = parseOrThrow(verificationsSchema, await readJsonBody(c, 'invalid_verification'), 'invalid_verification');
    // A check from the future would count its document as verified until then, silencing the
    // stale detection of a tracker that stops.
    const now = deps.clock();
    const future = body.checks.flatMap((check, i) => futureTimeIssue(`checks.${i}.checked_at`, parseTimestamp(check.checked_at)!, now) ?? []);
    if (future.length) throw invalid('invalid_verification', future);
    const r = await recordVerifications(deps.db, body);
    // A verified document that was silent too long ends its monitoring outage.
    const restored = await restoreDocuments(deps.db, deps.clock(), deps.config.staleAfterHours);
    if (restored) deps.onAlertWork?.();
    deps.log.info('verifications.recorded', { checks: body.checks.length, verified: r.verified, unknown: r.unknown.length, restored });
    return c.json({ accepted: body.checks.length, verified: r.verified, unknown: r.unknown }, 202);
  });
  return app;
}
