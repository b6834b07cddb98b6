import type { Context } from 'hono';
import { Feed } from 'feed';
import { z } from 'zod';
import type { AppDeps } from './deps.js';
import { notFound, parseOrThrow } from './errors.js';
import { feedEvents, type FeedPage } from '../store/feed-events.js';
import { findPlatform } from '../store/platforms.js';
import { SEVERITIES, severityRank } from '../core/severity.js';
import { SEVERITY_LABELS } from '../core/message.js';
import { escapeHtml as e } from '../render/escape.js';
import { formatDate } from '../core/effective-date.js';
import { PUBLIC_RATE_LIMITS, rateLimited } from './rate-limit.js';
import { defineRoute, describedRoute, describedRoutes, errors, pathParams } from './openapi.js';

/** Rendered feeds kept, in characters (a feed of 50 long changes is about 600 KB). */
const FEED_CACHE_CHARS = 16 * 1024 * 1024;

const query = z.object({ min_severity: z.enum(SEVERITIES, { error: 'one of low, medium, high' }).default('low') });

/** A short, stable ETag for a feed version (FNV-1a: not a secret, just a fingerprint). */
function etagOf(version: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < version.length; i++) h = Math.imul(h ^ version.charCodeAt(i), 0x01000193) >>> 0;
  return `W/"${h.toString(36)}-${version.length.toString(36)}"`;
}

const atom = { description: 'An Atom feed (RFC 4287); 304 to a matching If-None-Match', content: { 'application/atom+xml': { schema: z.string() } } };

const allRoute = defineRoute({
  method: 'get',
  path: '/feeds/all.atom',
  tags: ['Feeds'],
  summary: 'Every platform’s changes as Atom',
  request: { query },
  responses: { 200: atom, 304: { description: 'Not modified' }, ...errors(400, 429) },
});

const platformRoute = defineRoute({
  method: 'get',
  path: '/feeds/{file}',
  routing: '/feeds/:file{[a-z0-9][a-z0-9-]{0,63}\\.atom}',
  tags: ['Feeds'],
  summary: 'One platform’s changes as Atom',
  request: { params: z.object({ file: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}\.atom$/).meta({ description: 'The platform slug and .atom, such as openai.atom' }) }), query },
  responses: { 200: atom, 304: { description: 'Not modified' }, ...errors(400, 404, 429) },
});

/**
 * Atom feeds of changes (the `feed` package writes and escapes the XML): one per platform and
 * one for everything, with ETag and Last-Modified so feed readers poll for 304s.
 */
export function feedRoutes(deps: AppDeps) {
  const app = describedRoutes();
  const { limit, windowMs } = PUBLIC_RATE_LIMITS.feeds;
  app.use('/feeds/*', rateLimited(deps, 'feeds', limit, windowMs, 'feed requests'));
  // Rendered feeds by ETag (which names the feed, its filter and its version): a feed is built
  // once per new change, not per reader's poll. Oldest out first past FEED_CACHE_CHARS.
  const rendered = new Map<string, string>();
  let renderedChars = 0;

  async function respond(c: Context, page: FeedPage, title: string, selfPath: string) {
    // The feed's canonical path, not the request's URL: extra query parameters make no new feed.
    const etag = etagOf(`${page.version}:${selfPath}`);
    const lastModified = new Date(Math.floor((page.lastModified ?? 0) / 1000) * 1000);
    const headers = { ETag: etag, 'Last-Modified': lastModified.toUTCString(), 'Cache-Control': 'public, max-age=300' };
    const inm = c.req.header('if-none-match');
    const ims = Date.parse(c.req.header('if-modified-since') ?? '');
    if ((inm && inm.split(',').map((t) => t.trim()).includes(etag)) || (!inm && Number.isFinite(ims) && page.lastModified !== null && lastModified.getTime() <= ims)) {
      return c.body(null, 304, headers);
    }
    const atom = { 'Content-Type': 'application/atom+xml; charset=utf-8' };
    const cached = rendered.get(etag);
    if (cached !== undefined) return c.body(cached, 200, { ...headers, ...atom });
    // RFC 4287 §4.1.1/§4.1.2: a feed and each entry carry an author; the service publishes the
    // records, so it is the author of both. The alternate link is the home page (GET /), which
    // says what the feed is and links every other one.
    const home = `${deps.config.publicUrl}/`;
    const author = { name: 'ClauseWatch', link: home };
    const feed = new Feed({
      id: `${deps.config.publicUrl}${selfPath}`,
      title,
      link: home,
      author,
      updated: page.lastModified ? new Date(page.lastModified) : new Date(0),
      generator: 'ClauseWatch',
      feedLinks: { atom: `${deps.config.publicUrl}${selfPath}` },
      copyright: 'Change records as published by their monitoring pipeline',
    });
    for (const item of await page.items()) {
      const clause = item.provision?.title ?? item.provision?.id;
      const content = [
        `<p><strong>${e(SEVERITY_LABELS[item.severity])}</strong> · ${e(item.platform.name)} · ${e(item.document.title)}${clause ? ` · ${e(clause)}` : ''}</p>`,
        item.summary ? `<p>${e(item.summary)}</p>` : '',
        item.impact ? `<p><em>Why it matters:</em> ${e(item.impact)}</p>` : '',
        item.effectiveAt ? `<p>Effective ${e(formatDate(item.effectiveAt))}</p>` : '',
        item.evidence?.sha256 ? `<p>Evidence: SHA-256 <code>${e(item.evidence.sha256)}</code>${item.evidence.archive_url ? ` · <a href="${e(item.evidence.archive_url)}">archived copy</a>` : ''}</p>` : '',
      ].join('');
      feed.addItem({
        id: `urn:clausewatch:event:${encodeURIComponent(item.eventId)}`,
        // The feed package writes titles and summaries as type="html": readers render them as
        // HTML, so the event's text goes in escaped and reads back as the text it was.
        title: e(`[${item.marker ?? SEVERITY_LABELS[item.severity]}] ${item.platform.name}: ${item.title}`),
        link: item.changeUrl ?? item.document.url ?? `${deps.config.publicUrl}${selfPath}`,
        date: new Date(item.detectedAt),
        author: [author],
        description: item.summary ? e(item.summary) : undefined,
        content,
        category: [{ term: item.severity, name: SEVERITY_LABELS[item.severity] }, ...item.categories.map((t) => ({ term: t, name: t }))],
      });
    }
    const body = feed.atom1();
    rendered.set(etag, body);
    renderedChars += body.length;
    while (renderedChars > FEED_CACHE_CHARS) {
      const [oldest, text] = rendered.entries().next().value!;
      rendered.delete(oldest);
      renderedChars -= text.length;
    }
    return c.body(body, 200, { ...headers, ...atom });
  }

  describedRoute(app, allRoute, async (c) => {
    const q = parseOrThrow(query, c.req.query(), 'invalid_query');
    const page = await feedEvents(deps.db, { minSeverityRank: severityRank(q.min_severity) });
    return respond(c, page, `ClauseWatch: policy changes${q.min_severity === 'low' ? '' : ` (${q.min_severity} and above)`}`, `/feeds/all.atom${q.min_severity === 'low' ? '' : `?min_severity=${q.min_severity}`}`);
  });

  describedRoute(app, platformRoute, async (c) => {
    const slug = c.req.param('file').replace(/\.atom$/, '');
    const q = parseOrThrow(query, c.req.query(), 'invalid_query');
    const platform = await findPlatform(deps.db, slug);
    if (!platform) throw notFound('platform', slug, 'Search the catalog with GET /v1/platforms?q=….');
    const page = await feedEvents(deps.db, { platformId: platform.id, minSeverityRank: severityRank(q.min_severity) });
    return respond(c, page, `ClauseWatch: ${platform.name} policy changes`, `/feeds/${slug}.atom`);
  });

  return app;
}
