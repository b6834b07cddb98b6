import { html } from 'hono/html';
import { z } from 'zod';
import { defineRoute, describedRoute, describedRoutes } from './openapi.js';

/** Reads one of the API page's static files (Swagger UI's bundle, styles and icon). */
export type DocsAsset = (file: DocsFile) => Promise<Uint8Array<ArrayBuffer>>;

/** Swagger UI's files the page loads, served by this app: no CDN, nothing from elsewhere. */
export const DOCS_FILES = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
} as const;
export type DocsFile = keyof typeof DOCS_FILES;

// Scripts and styles from this origin only (the start script is a file too, not inline);
// Swagger UI sets element styles and draws icons as data: images. It calls this API itself
// ("Try it out"), on this origin.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// deepLinking off: its anchors sit inside each operation's toggle button (nested controls, an
// axe violation). The servers list gets the name Swagger UI leaves out.
const START = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#api', deepLinking: false, validatorUrl: 'none', defaultModelsExpandDepth: 0 });
new MutationObserver(() => {
  for (const s of document.querySelectorAll('select#servers:not([aria-label])')) s.setAttribute('aria-label', 'Server');
}).observe(document.getElementById('api'), { childList: true, subtree: true });
`;

/**
 * Swagger UI's colours that fall below WCAG AA's 4.5:1 (version badges, links, the method badges
 * and the Authorize button: white on light blue or green, 2–2.3:1), darker.
 */
const STYLE = `.swagger-ui .info .title small { background: #3b6e00; }
.swagger-ui .info .title small.version-stamp { background: #2f6b0f; }
.swagger-ui .info .title small pre { color: #fff; }
.swagger-ui .info a, .swagger-ui .url { color: #1d4ed8; }
.swagger-ui .opblock.opblock-get .opblock-summary-method { background: #1d4ed8; }
.swagger-ui .opblock.opblock-post .opblock-summary-method { background: #047857; }
.swagger-ui .opblock.opblock-patch .opblock-summary-method { background: #0f766e; }
.swagger-ui .opblock.opblock-put .opblock-summary-method { background: #b45309; }
.swagger-ui .opblock.opblock-delete .opblock-summary-method { background: #b91c1c; }
.swagger-ui .btn.authorize { color: #047857; border-color: #047857; }
.swagger-ui .btn.authorize svg { fill: #047857; }
`;

const pageRoute = defineRoute({
  method: 'get',
  path: '/docs',
  tags: ['Operations'],
  summary: 'This description as a page (Swagger UI)',
  responses: { 200: { description: 'The page', content: { 'text/html': { schema: z.string() } } } },
});

const fileRoute = defineRoute({
  method: 'get',
  path: '/docs/{file}',
  routing: `/docs/:file{${['docs.js', 'docs.css', ...Object.keys(DOCS_FILES)].map((f) => f.replaceAll('.', '\\.')).join('|')}}`,
  tags: ['Operations'],
  summary: 'The page’s scripts, styles and icon',
  request: { params: z.object({ file: z.enum(['docs.js', 'docs.css', ...(Object.keys(DOCS_FILES) as DocsFile[])]) }) },
  responses: { 200: { description: 'The file' } },
});

/** GET /docs: the description, readable, from Swagger UI's static bundle (swagger-ui-dist). */
export function docsRoutes(asset: DocsAsset) {
  const app = describedRoutes();
  describedRoute(app, pageRoute, (c) => {
    c.header('content-security-policy', CSP);
    return c.html(html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ClauseWatch API</title>
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="stylesheet" href="/docs/docs.css">
</head>
<body>
<main id="api"><noscript><p>This page needs JavaScript. The description itself is <a href="/openapi.json">/openapi.json</a>.</p></noscript></main>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/docs.js"></script>
</body>
</html>`);
  });
  const cache = new Map<string, Promise<Uint8Array<ArrayBuffer>>>();
  describedRoute(app, fileRoute, async (c) => {
    const file = c.req.param('file');
    const headers = { 'cache-control': 'public, max-age=86400', 'x-content-type-options': 'nosniff' };
    if (file === 'docs.js') return c.body(START, 200, { ...headers, 'content-type': 'text/javascript; charset=utf-8' });
    if (file === 'docs.css') return c.body(STYLE, 200, { ...headers, 'content-type': 'text/css; charset=utf-8' });
    const name = file as DocsFile;
    // Read once, on first request: the bundle is 1.5 MB that a process serving no page never loads.
    let bytes = cache.get(name);
    if (!bytes) {
      bytes = asset(name);
      cache.set(name, bytes);
      bytes.catch(() => cache.delete(name));
    }
    return c.body(await bytes, 200, { ...headers, 'content-type': DOCS_FILES[name] });
  });
  return app;
}
