import type { Context } from 'hono';
import { html, raw } from 'hono/html';
import { z } from 'zod';
import type { AppDeps } from './deps.js';
import { readJsonBody } from './body.js';
import { invalid, parseOrThrow } from './errors.js';
import { requireToken } from './auth.js';
import { parseTimestamp, timestampField } from '../core/event.js';
import { digestTick, tickIsAhead } from '../schedule/tick.js';
import { loadDigests } from '../delivery/digest-content.js';
import { renderDigestEmail } from '../render/digest-email.js';
import { getDestinationWithAccount } from '../store/destinations.js';
import { digestViewUrl, verifyDigestView } from '../links.js';
import { digestTimeOn } from '../core/digest-schedule.js';
import { addDays } from '../core/zoned-time.js';
import { invalidLinkPage, page } from './pages/layout.js';
import { adminAuth, defineRoute, describedRoute, describedRoutes, errors, htmlPage, json, jsonBody, pathParams } from './openapi.js';

const runBody = z.strictObject({
  at: timestampField('2026-11-30T09:00:00Z').optional(),
});

const runRoute = defineRoute({
  method: 'post',
  path: '/v1/digests/run',
  tags: ['Digests'],
  summary: 'Run the digest tick: enqueue every digest (and effective-date reminder) due at `at`',
  description: 'The body is optional: none (a plain `curl -X POST`) runs what is due now. Never ahead of the clock. A second run sends nothing twice.',
  security: adminAuth,
  request: { body: { ...jsonBody(runBody), required: false } },
  responses: { 202: json('What was due and enqueued', z.object({ at: z.string(), due: z.int(), enqueued: z.int(), reminders: z.int() })), ...errors(400, 401, 413, 415) },
});

const viewRoute = defineRoute({
  method: 'get',
  path: '/digests/{token}',
  tags: ['Pages'],
  summary: 'A digest in the browser, for the week it was sent (a signed, read-only link)',
  request: { params: pathParams({ token: 'The signed token of the digest’s link' }) },
  responses: { 200: htmlPage('The digest'), 400: htmlPage('The link is not valid'), 404: htmlPage('Nothing to show') },
});

const legacyViewRoute = defineRoute({
  method: 'get',
  path: '/digests/{token}/{date}',
  routing: '/digests/:token/:date{[0-9]{4}-[0-9]{2}-[0-9]{2}}',
  tags: ['Pages'],
  summary: 'A digest link of older mails (manage token and date): redirects to the read-only view',
  request: { params: z.object({ token: z.string(), date: z.string().regex(/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/) }) },
  responses: { 301: { description: 'To GET /digests/{token}' }, 400: htmlPage('The link is not valid') },
});

const invalidLink = (c: Context) => invalidLinkPage(c, 'This digest link is not valid', 'It may have been copied incompletely.');

export function digestRoutes(deps: AppDeps) {
  const app = describedRoutes();

  // What a scheduler tick at `at` does. The outbox key per destination and period makes a second
  // run, or another process's tick, send nothing twice.
  describedRoute(app, runRoute, requireToken(() => deps.config.adminTokens, 'admin'), async (c) => {
    // The body is optional: no body runs the digests due now. A plain `curl -X POST` sends
    // neither Content-Type nor Content-Length nor Transfer-Encoding: an HTTP/1.1 request without
    // the last two has no body (RFC 9112, 6.3), though Node's server still hands one over, empty.
    const header = (name: string) => c.req.header(name);
    const hasBody =
      c.req.raw.body !== null && header('content-length') !== '0' && (header('content-type') !== undefined || header('content-length') !== undefined || header('transfer-encoding') !== undefined);
    const b = parseOrThrow(runBody, hasBody ? await readJsonBody(c, 'invalid_request') : {}, 'invalid_request');
    const at = b.at ? parseTimestamp(b.at)! : deps.clock();
    // A run may catch up on the past, never jump ahead (see MAX_TICK_AHEAD_MS).
    if (tickIsAhead(at, deps.clock())) throw invalid('invalid_request', [{ path: 'at', message: 'not in the future: a digest covers a week that has ended' }]);
    const r = await digestTick(deps.db, at, deps.clock());
    deps.log.info('digests.run', { at: new Date(at).toISOString(), ...r });
    if (r.enqueued || r.reminders) deps.onAlertWork?.();
    return c.json({ at: new Date(at).toISOString(), due: r.due, enqueued: r.enqueued, reminders: r.reminders }, 202);
  });

  // "View in browser": the whole digest, past the mail's size budget, for the week the message
  // showed. Its own read-only token opens it: a chat channel's members see this link, and the
  // manage token, which changes subscriptions, never leaves the destination's owner.
  describedRoute(app, viewRoute, async (c) => {
    const view = await verifyDigestView(deps.links, c.req.param('token'));
    const found = view ? await getDestinationWithAccount(deps.db, view.destinationId) : undefined;
    if (!view || !found || !deps.templates) {
      return invalidLink(c);
    }
    const { destination } = found;
    const period = view.period;
    const digest = (await loadDigests(deps.db, [{ destinationId: destination.id, period }], deps.links, deps.clock())).get(destination.id);
    if (!digest) return c.html(page('No digest', html`<h1>Nothing to show</h1><p>This destination watches no platform any more.</p>`), 404);
    const mail = renderDigestEmail(deps.templates, digest, {
      address: destination.address ?? 'this destination',
      planLine: `on the ${digest.plan} plan`,
      unlimited: true,
    });
    // The mail's own HTML: compiled MJML, every value escaped where the renderer placed it.
    return c.html(raw(mail.html));
  });

  // Links in digests mailed before the view had its own token named the manage token and the
  // date: they still open the week they named, through a redirect to the read-only view.
  describedRoute(app, legacyViewRoute, async (c) => {
    const id = await deps.links.verify('manage', c.req.param('token'));
    const found = id ? await getDestinationWithAccount(deps.db, id) : undefined;
    if (!found || found.destination.type !== 'email') {
      return invalidLink(c);
    }
    const { account } = found;
    const [y, m, d] = c.req.param('date').split('-').map(Number) as [number, number, number];
    const period = { key: c.req.param('date'), start: digestTimeOn(addDays(y, m, d, -7), account.digestHour, account.timezone), end: digestTimeOn({ y, m, d }, account.digestHour, account.timezone) };
    return c.redirect(await digestViewUrl(deps.links, { destinationId: found.destination.id, period }), 301);
  });

  return app;
}
