import { z } from 'zod';
import type { AppDeps } from './deps.js';
import { parseOrThrow } from './errors.js';
import { searchPlatforms, PLATFORM_CURSOR } from '../store/platforms.js';
import { pageQuery } from './query.js';
import { PUBLIC_RATE_LIMITS, rateLimited } from './rate-limit.js';
import { defineRoute, describedRoute, describedRoutes, errors, json, listOf } from './openapi.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const listQuery = z.object({ q: z.string().trim().max(100, 'at most 100 characters').optional(), ...pageQuery(PLATFORM_CURSOR) });

const searchRoute = defineRoute({
  method: 'get',
  path: '/',
  tags: ['Catalog'],
  summary: 'The platform catalog, searched by name or slug',
  description: 'Each platform with its documents and their last event and last verification times. Rate-limited per client address.',
  request: { query: listQuery },
  responses: { 200: json('A page of platforms', listOf(z.looseObject({ slug: z.string(), name: z.string() }))), ...errors(400, 429) },
});

export function platformRoutes(deps: AppDeps) {
  const app = describedRoutes();
  const { limit, windowMs } = PUBLIC_RATE_LIMITS.platformSearch;
  describedRoute(app, searchRoute, rateLimited(deps, 'platforms', limit, windowMs, 'catalog searches'), async (c) => {
    const q = parseOrThrow(listQuery, c.req.query(), 'invalid_query');
    const page = await searchPlatforms(deps.db, q.q || undefined, q.limit, q.cursor);
    return c.json({
      data: page.data.map((p) => ({
        slug: p.slug,
        name: p.name,
        sector: p.sector,
        documents: p.documents.map((d) => ({
          title: d.title,
          url: d.url,
          kind: d.kind,
          last_event_at: iso(d.lastEventAt),
          last_verified_at: iso(d.lastVerifiedAt),
        })),
      })),
      next_cursor: page.nextCursor,
    });
  });
  return app;
}
