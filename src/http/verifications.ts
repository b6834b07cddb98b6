import { Hono } from 'hono';
import type { AppDeps } from './deps.js';
import { readJsonBody } from './body.js';
import { parseOrThrow } from './errors.js';
import { requireToken } from './auth.js';
import { recordVerifications, verificationsSchema } from '../ingest/verifications.js';
import { restoreDocuments } from '../ingest/health.js';

export function verificationRoutes(deps: AppDeps) {
  const app = new Hono();
  app.post('/', requireToken(() => deps.config.ingestTokens, 'ingest'), async (c) => {
    const body = parseOrThrow(verificationsSchema, await readJsonBody(c, 'invalid_verification'), 'invalid_verification');
    const r = await recordVerifications(deps.db, body);
    // A verified document that was silent too long ends its monitoring outage.
    const restored = await restoreDocuments(deps.db, deps.clock(), deps.config.staleAfterHours);
    if (restored) deps.onAlertWork?.();
    deps.log.info('verifications.recorded', { checks: body.checks.length, verified: r.verified, unknown: r.unknown.length, restored });
    return c.json({ accepted: body.checks.length, verified: r.verified, unknown: r.unknown }, 202);
  });
  return app;
}
