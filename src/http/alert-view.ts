import { html, raw } from 'hono/html';
import { sql } from 'drizzle-orm';
import type { AppDeps } from './deps.js';
import { page } from './pages/layout.js';
import { verifyAlertView } from '../links.js';
import { getDestinationWithAccount } from '../store/destinations.js';
import { loadContent } from '../delivery/content.js';
import { outboxRowColumns, type OutboxRow } from '../delivery/outbox.js';
import { renderAlertEmail } from '../render/email.js';
import { defineRoute, describedRoute, describedRoutes, htmlPage, pathParams } from './openapi.js';

const viewRoute = defineRoute({
  method: 'get',
  path: '/alerts/{token}',
  tags: ['Pages'],
  summary: 'An alert in the browser, every change it grouped (a signed link in the alert)',
  request: { params: pathParams({ token: 'The signed token of the alert’s link' }) },
  responses: { 200: htmlPage('The alert'), 400: htmlPage('The link is not valid'), 404: htmlPage('Its changes were withdrawn') },
});

/**
 * An alert in the browser: every change the mail grouped, including those it left out to stay
 * within its size budget ("N more … see every change of this alert in your browser"). Its own
 * signed token names the destination and the alert's outbox row, and opens nothing else.
 */
export function alertViewRoutes(deps: AppDeps) {
  const app = describedRoutes();
  describedRoute(app, viewRoute, async (c) => {
    const view = await verifyAlertView(deps.links, c.req.param('token'));
    const found = view ? await getDestinationWithAccount(deps.db, view.destinationId) : undefined;
    const [row] = view && found
      ? await deps.db.all<OutboxRow>(sql`
          SELECT ${outboxRowColumns()}
          FROM outbox WHERE id = ${view.outboxId} AND destination_id = ${view.destinationId} AND kind IN ('alert', 'budget', 'follow_up')`)
      : [];
    if (!found || !row || !deps.templates) {
      return c.html(page('Link not valid', html`<h1>This alert link is not valid</h1><p>It may have been copied incompletely.</p>`, { status: 'error' }), 400);
    }
    const content = await loadContent(deps.db, row, found.destination, found.account, deps.links, deps.clock());
    if (content?.kind !== 'alert') return c.html(page('Nothing to show', html`<h1>Nothing to show</h1><p>The changes of this alert were withdrawn.</p>`), 404);
    const mail = renderAlertEmail(deps.templates, content, { address: found.destination.address ?? 'this destination', planLine: `on the ${content.plan} plan`, unlimited: true });
    // The mail's own HTML: compiled MJML, every value escaped where the renderer placed it.
    return c.html(raw(mail.html));
  });
  return app;
}
