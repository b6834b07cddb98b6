import type { Context } from 'hono';
import { html } from 'hono/html';
import type { AppDeps } from './deps.js';
import { invalidLinkPage, page } from './pages/layout.js';
import { activateDestination, disableDestination, getDestinationById, type DestinationRow } from '../store/destinations.js';
import { deleteSubscription, listSubscriptions, subscribe } from '../store/subscriptions.js';
import { getAccount, platformsInUse } from '../store/accounts.js';
import { findPlatform, suggestPlatforms } from '../store/platforms.js';
import { planLimitMessage, planUsage, PLANS } from '../core/plans.js';
import { isSeverity, SEVERITIES } from '../core/severity.js';
import type { LinkPurpose } from '../links.js';
import { PLATFORM_SLUG } from '../core/event.js';
import { readFormBody } from './body.js';
import { awaitingReview } from '../store/reviews.js';
import { reviewUrl } from '../links.js';
import { defineRoute, describedRoute, describedRoutes, formBody, htmlPage, pathParams } from './openapi.js';
import { z } from 'zod';

const token = pathParams({ token: 'The signed token of the link in the message' });
const invalid = htmlPage('The link is not valid (expired, or copied incompletely)');

const confirmPageRoute = defineRoute({
  method: 'get',
  path: '/confirm/{token}',
  tags: ['Pages'],
  summary: 'The confirm link of a sign-up: a page whose button confirms (a GET never does: mail scanners open links)',
  request: { params: token },
  responses: { 200: htmlPage('The confirm page, or "you are subscribed"'), 400: invalid },
});

const confirmRoute = defineRoute({
  method: 'post',
  path: '/confirm/{token}',
  tags: ['Pages'],
  summary: 'Confirm a sign-up (double opt-in)',
  request: { params: token },
  responses: { 200: htmlPage('You are subscribed'), 400: invalid },
});

const unsubscribePageRoute = defineRoute({
  method: 'get',
  path: '/unsubscribe/{token}',
  tags: ['Pages'],
  summary: 'The unsubscribe link: a page whose button unsubscribes',
  request: { params: token },
  responses: { 200: htmlPage('The unsubscribe page'), 400: invalid },
});

const unsubscribeRoute = defineRoute({
  method: 'post',
  path: '/unsubscribe/{token}',
  tags: ['Pages'],
  summary: 'Unsubscribe the destination from everything; also RFC 8058 one-click (List-Unsubscribe=One-Click)',
  request: {
    params: token,
    body: { ...formBody(z.object({ 'List-Unsubscribe': z.literal('One-Click').optional().meta({ description: 'Sent by mail clients (RFC 8058): answered with plain text, not a page' }) })), required: false },
  },
  responses: { 200: htmlPage('Unsubscribed (text/plain for a one-click POST)'), 400: invalid, 413: htmlPage('The form is too large') },
});

const manageRoute = defineRoute({
  method: 'get',
  path: '/manage/{token}',
  tags: ['Pages'],
  summary: 'Manage one destination’s subscriptions with plain HTML forms',
  request: { params: token, query: z.object({ done: z.enum(['added', 'removed']).optional(), platform: z.string().optional() }) },
  responses: { 200: htmlPage('The manage page'), 400: invalid },
});

const manageAddRoute = defineRoute({
  method: 'post',
  path: '/manage/{token}/subscriptions',
  tags: ['Pages'],
  summary: 'Watch another platform from the manage page',
  request: {
    params: token,
    body: formBody(z.object({ platform: z.string().meta({ description: 'A platform slug such as openai' }), min_severity: z.enum(SEVERITIES).default('low') })),
  },
  responses: { 303: { description: 'Back to the manage page, saying what changed' }, 400: htmlPage('The manage page, saying what to fix'), 413: htmlPage('The form is too large') },
});

const manageRemoveRoute = defineRoute({
  method: 'post',
  path: '/manage/{token}/subscriptions/{subId}/delete',
  tags: ['Pages'],
  summary: 'Stop watching a platform from the manage page',
  request: { params: pathParams({ token: 'The signed token of the manage link', subId: 'The subscription id (sub_…)' }) },
  responses: { 303: { description: 'Back to the manage page' }, 400: invalid },
});

/**
 * The pages behind signed links in messages: confirm (double opt-in), unsubscribe (a page, and
 * RFC 8058 one-click POST), and manage (see and change one destination's subscriptions with plain
 * HTML forms).
 */
export function linkPageRoutes(deps: AppDeps) {
  const app = describedRoutes();

  const invalidLink = (c: Context) =>
    invalidLinkPage(
      c,
      'This link is not valid',
      'It may have expired or been copied incompletely. Links in ClauseWatch mails are personal and work only for what they were sent for.',
    );

  async function destinationFor(c: Context, purpose: LinkPurpose): Promise<DestinationRow | undefined> {
    const id = await deps.links.verify(purpose, c.req.param('token')!);
    return id ? getDestinationById(deps.db, id) : undefined;
  }

  const describe = (d: DestinationRow) =>
    d.type === 'email' ? d.address : d.type === 'slack' ? `Slack channel ${d.slackChannel}` : d.type === 'discord' ? 'a Discord channel' : d.type === 'teams' ? 'a Teams channel' : 'a webhook';

  // Double opt-in: the link in the mail opens a page whose button confirms. A GET never
  // confirms, because mail scanners open every link of a mail (as with unsubscribe below).
  describedRoute(app, confirmPageRoute, async (c) => {
    const d = await destinationFor(c, 'confirm');
    // An old confirm link must not undo an unsubscribe.
    if (!d || d.status === 'disabled') return invalidLink(c);
    if (d.status === 'active') return confirmedPage(c, d);
    const subs = await listSubscriptions(deps.db, d.accountId, { destinationId: d.id });
    return c.html(
      page(
        'Confirm your subscription',
        html`<h1>Confirm your subscription</h1>
          <p>${describe(d)} will receive the weekly digest of changes to ${subs.map((s) => s.platform.name).join(', ') || 'the platforms you choose'}.</p>
          <form method="post" action="${c.req.path}"><button type="submit">Confirm subscription</button></form>
          <p class="muted" style="margin-top:16px">Did not sign up? Ignore this page: nothing is sent until the button is pressed.</p>`,
      ),
    );
  });

  describedRoute(app, confirmRoute, async (c) => {
    const d = await destinationFor(c, 'confirm');
    if (!d || d.status === 'disabled') return invalidLink(c);
    if (d.status === 'unconfirmed') await activateDestination(deps.db, deps.clock, d.id);
    deps.log.info('destination.confirmed', { destinationId: d.id });
    return confirmedPage(c, d);
  });

  async function confirmedPage(c: Context, d: DestinationRow) {
    const subs = await listSubscriptions(deps.db, d.accountId, { destinationId: d.id });
    const manage = await deps.links.url('manage', d.id);
    return c.html(
      page(
        'Subscription confirmed',
        html`<div class="notice" role="status">Confirmed.</div>
          <h1>You are subscribed</h1>
          <p>${describe(d)} will receive the weekly digest of changes to ${subs.map((s) => s.platform.name).join(', ') || 'the platforms you choose'}.</p>
          <p><a href="${manage}">Manage your subscription</a></p>`,
      ),
    );
  }

  describedRoute(app, unsubscribePageRoute, async (c) => {
    const d = await destinationFor(c, 'unsubscribe');
    if (!d) return invalidLink(c);
    // A GET never unsubscribes: mail scanners follow links. The form POSTs, as RFC 8058 asks.
    return c.html(
      page(
        'Unsubscribe',
        d.status === 'disabled' && d.disabledReason === 'unsubscribed'
          ? html`<h1>You are unsubscribed</h1><p>${describe(d)} receives nothing from ClauseWatch.</p>`
          : html`<h1>Unsubscribe ${describe(d)}?</h1>
              <p>It will receive no more alerts or digests from ClauseWatch.</p>
              <form method="post"><button type="submit">Unsubscribe</button></form>
              <p class="muted" style="margin-top:16px">Rather change what you receive? <a href="${await deps.links.url('manage', d.id)}">Manage subscriptions</a></p>`,
      ),
    );
  });

  describedRoute(app, unsubscribeRoute, async (c) => {
    const form = await readFormBody(c);
    const d = await destinationFor(c, 'unsubscribe');
    if (!d) return invalidLink(c);
    if (d.status !== 'disabled') await disableDestination(deps.db, deps.clock, d.id, 'unsubscribed');
    deps.log.info('destination.unsubscribed', { destinationId: d.id });
    // RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click"; it needs a 2xx, not a page.
    if (form['List-Unsubscribe'] === 'One-Click') return c.text('Unsubscribed.', 200);
    return c.html(page('Unsubscribed', html`<div class="notice" role="status">Done.</div><h1>You are unsubscribed</h1><p>${describe(d)} receives nothing more from ClauseWatch.</p>`));
  });

  describedRoute(app, manageRoute, async (c) => {
    const d = await destinationFor(c, 'manage');
    if (!d) return invalidLink(c);
    return c.html(await managePage(d, c.req.param('token'), await doneNotice(c.req.query('done'), c.req.query('platform'))));
  });

  describedRoute(app, manageAddRoute, async (c) => {
    const form = await readFormBody(c);
    const d = await destinationFor(c, 'manage');
    if (!d) return invalidLink(c);
    const token = c.req.param('token');
    const typed = String(form.platform ?? '').trim().toLowerCase();
    const severity = String(form.min_severity ?? 'low');
    const account = (await getAccount(deps.db, d.accountId))!;
    // The slug's own pattern first: what cannot be a slug is neither looked up nor searched.
    const slug = PLATFORM_SLUG.test(typed) ? typed : undefined;
    const platform = slug ? await findPlatform(deps.db, slug) : undefined;
    // A refusal is the page itself (400), not a redirect: what was typed never goes into a
    // Location header or a URL, and the page escapes it.
    if (!platform || !isSeverity(severity)) {
      if (!slug) return c.html(await managePage(d, token, undefined, 'That is not a platform slug: use lowercase letters, digits and hyphens, such as openai.'), 400);
      const close = await suggestPlatforms(deps.db, slug, 3);
      return c.html(await managePage(d, token, undefined, `No platform '${slug}'.${close.length ? ` Did you mean ${close.map((p) => p.slug).join(', ')}?` : ''}`), 400);
    }
    const r = await subscribe(deps.db, deps.clock, {
      accountId: d.accountId,
      plan: account.plan,
      destinationId: d.id,
      platformId: platform.id,
      minSeverity: severity,
      categories: null,
    });
    if (!r.ok) return c.html(await managePage(d, token, undefined, planLimitMessage(account.plan)), 400);
    return c.redirect(`/manage/${token}?done=added&platform=${platform.slug}`, 303);
  });

  describedRoute(app, manageRemoveRoute, async (c) => {
    const d = await destinationFor(c, 'manage');
    if (!d) return invalidLink(c);
    const subs = await listSubscriptions(deps.db, d.accountId, { destinationId: d.id });
    const sub = subs.find((s) => s.id === c.req.param('subId'));
    if (sub) await deleteSubscription(deps.db, d.accountId, sub.id);
    return c.redirect(`/manage/${c.req.param('token')}?done=removed${sub ? `&platform=${sub.platform.slug}` : ''}`, 303);
  });

  /**
   * What the page says after a change, from a fixed word and a catalog slug in the URL (the name
   * shown is the catalog's): a crafted link cannot make the page say anything else.
   */
  async function doneNotice(done: string | undefined, slug: string | undefined): Promise<string | undefined> {
    const platform = slug && PLATFORM_SLUG.test(slug) ? await findPlatform(deps.db, slug) : undefined;
    if (done === 'added' && platform) return `Now watching ${platform.name}.`;
    if (done === 'removed') return platform ? `Stopped watching ${platform.name}.` : 'Already removed.';
    return undefined;
  }

  async function managePage(d: DestinationRow, token: string, done?: string, error?: string) {
    const account = (await getAccount(deps.db, d.accountId))!;
    const subs = await listSubscriptions(deps.db, d.accountId, { destinationId: d.id });
    const used = await platformsInUse(deps.db, d.accountId);
    const plan = PLANS[account.plan];
    const unsubscribe = await deps.links.url('unsubscribe', d.id);
    // The changes still awaiting review (the review trail, monitor plan): decided anywhere, gone here.
    const awaiting = plan.sameDayAlerts ? await awaitingReview(deps.db, d.accountId, 10) : { total: 0, entries: [] };
    const awaitingLinks = await Promise.all(awaiting.entries.map((e) => reviewUrl(deps.links, d.id, e.eventId)));
    const statusLine =
      d.status === 'active'
        ? html`Receives ${plan.sameDayAlerts ? 'same-day alerts and ' : ''}a weekly digest (${account.digestWeekday}s at ${String(account.digestHour).padStart(2, '0')}:00, ${account.timezone}).`
        : d.status === 'unconfirmed'
          ? html`<strong>Not confirmed yet:</strong> open the confirmation link we mailed to start receiving.`
          : html`<strong>Receives nothing</strong> (${d.disabledReason}).`;
    return page(
      'Manage subscription',
      html`${done ? html`<div class="notice" role="status">${done}</div>` : ''}
        ${error ? html`<div class="notice error" role="alert">${error}</div>` : ''}
        <h1>${describe(d)}</h1>
        <p>${statusLine}</p>
        <p class="muted">Plan: <strong>${account.plan}</strong>, ${planUsage(account.plan, used)} in use.</p>
        <h2>Watched platforms</h2>
        ${subs.length
          ? html`<ul class="subs">
              ${subs.map(
                (s) => html`<li>
                  <span><strong>${s.platform.name}</strong> <span class="muted">${s.minSeverity === 'low' ? 'all changes' : `${s.minSeverity} and above`}</span>
                  ${s.status === 'paused' ? html`<span class="badge">paused by plan</span>` : ''}</span>
                  <form method="post" action="/manage/${token}/subscriptions/${s.id}/delete"><button class="secondary" type="submit" aria-label="Remove ${s.platform.name}">Remove</button></form>
                </li>`,
              )}
            </ul>`
          : html`<p class="muted">None yet.</p>`}
        ${awaiting.total
          ? html`<h2>Awaiting review (${awaiting.total})</h2>
              <ul class="subs">
                ${awaiting.entries.map(
                  (e, i) => html`<li><span><strong>${e.platform.name}</strong> ${e.title}${e.review.status === 'assigned' ? html` <span class="badge">assigned to ${e.review.assigneeName ?? ''}</span>` : ''}</span>
                    <a href="${awaitingLinks[i]}">Review</a></li>`,
                )}
              </ul>
              ${awaiting.total > awaiting.entries.length ? html`<p class="muted">and ${awaiting.total - awaiting.entries.length} more.</p>` : ''}`
          : ''}
        <h2>Watch another platform</h2>
        <form class="add" method="post" action="/manage/${token}/subscriptions">
          <label>Platform <input type="text" name="platform" placeholder="e.g. openai" required autocomplete="off"></label>
          <label>Changes
            <select name="min_severity">
              ${SEVERITIES.map((s) => html`<option value="${s}">${s === 'low' ? 'all changes' : `${s} and above`}</option>`)}
            </select>
          </label>
          <button type="submit">Add</button>
        </form>
        <p class="muted" style="margin-top:24px"><a href="${unsubscribe}">Unsubscribe from everything</a></p>`,
    );
  }

  return app;
}
