import type { Context } from 'hono';
import { z } from 'zod';
import { defineRoute, describedRoute, describedRoutes, formBody, htmlPage, pathParams } from './openapi.js';
import { html } from 'hono/html';
import type { AppDeps } from './deps.js';
import { invalidLinkPage, page } from './pages/layout.js';
import { readFormBody } from './body.js';
import { checkRateLimit, PUBLIC_RATE_LIMITS } from './rate-limit.js';
import { verifyReviewLink } from '../links.js';
import { getDestinationById, type DestinationRow } from '../store/destinations.js';
import { getAccount } from '../store/accounts.js';
import { reviewEntry, reviewHistory, type ReviewEntry } from '../store/reviews.js';
import { DECISIONS, NAME_MAX, REASON_MAX, decisionLine, type Decision, type ReviewState } from '../core/review.js';
import { decideReview } from '../review/decide.js';
import { formatDate, formatDateTime } from '../core/effective-date.js';
import { SEVERITY_LABELS } from '../core/message.js';
import type { Severity } from '../core/severity.js';

const STATUS_TEXT: Record<ReviewState['status'], string> = { open: 'Awaiting review', reviewed: 'Reviewed', not_applicable: 'Not applicable', assigned: 'Assigned' };

const token = pathParams({ token: 'The signed token of the review link in the alert mail' });
const invalidAnswer = htmlPage('The link is not valid (copied incompletely, or the change is not under review for it)');

const reviewPageRoute = defineRoute({
  method: 'get',
  path: '/review/{token}',
  tags: ['Pages'],
  summary: 'A change’s review page from an alert mail: the change, its evidence and history, and a form (a GET changes nothing)',
  request: { params: token, query: z.object({ done: z.enum(['recorded']).optional() }) },
  responses: { 200: htmlPage('The review page'), 400: invalidAnswer },
});

const reviewDecideRoute = defineRoute({
  method: 'post',
  path: '/review/{token}',
  tags: ['Pages'],
  summary: 'Record a decision on the change under the name typed (no login); rate-limited per client address',
  request: {
    params: token,
    body: formBody(
      z.object({
        status: z.enum(['reviewed', 'not_applicable', 'assigned']),
        name: z.string().max(NAME_MAX).meta({ description: 'Who decides: a name or an email address' }),
        reason: z.string().max(REASON_MAX).optional().meta({ description: 'Required for not_applicable' }),
        assignee: z.string().max(NAME_MAX).optional().meta({ description: 'For assigned: a name or address' }),
      }),
    ),
  },
  responses: {
    303: { description: 'Recorded: back to the page, which says so' },
    400: htmlPage('Refused (the page again, saying why, with what was typed)'),
    403: htmlPage('The account is not on the monitor plan'),
    413: htmlPage('The form is too large'),
    429: htmlPage('Too many decisions from this address'),
  },
});

/**
 * The review page an alert mail links each change to (GET /review/:token): the change with its
 * evidence, its review so far, and a form. The GET changes nothing (mail scanners open every
 * link); the POST records the decision under the name the reader types. There is no login: the
 * signed link is the permission, as it is for unsubscribing.
 */
export function reviewPageRoutes(deps: AppDeps) {
  const app = describedRoutes();

  const invalidLink = (c: Context) =>
    invalidLinkPage(c, 'This link is not valid', 'It may have been copied incompletely, or the change is no longer under review for this address. Use the review link of the alert mail itself.');

  async function resolve(c: Context): Promise<{ destination: DestinationRow; entry: ReviewEntry; timeZone: string } | undefined> {
    const link = await verifyReviewLink(deps.links, c.req.param('token')!);
    if (!link) return undefined;
    const destination = await getDestinationById(deps.db, link.destinationId);
    if (!destination) return undefined;
    const [entry, account] = await Promise.all([reviewEntry(deps.db, destination.accountId, link.eventId), getAccount(deps.db, destination.accountId)]);
    return entry && account ? { destination, entry, timeZone: account.timezone } : undefined;
  }

  describedRoute(app, reviewPageRoute, async (c) => {
    const found = await resolve(c);
    if (!found) return invalidLink(c);
    const done = c.req.query('done') === 'recorded' ? 'Your decision is recorded.' : undefined;
    return c.html(await reviewPage(c, found, { done }));
  });

  describedRoute(app, reviewDecideRoute, async (c) => {
    const { limit, windowMs } = PUBLIC_RATE_LIMITS.reviewForm;
    await checkRateLimit(deps, c, 'review', limit, windowMs, 'review decisions');
    const form = await readFormBody(c);
    const found = await resolve(c);
    if (!found) return invalidLink(c);
    const status = String(form.status ?? '');
    const outcome = await decideReview(deps, {
      accountId: found.destination.accountId,
      destinationId: found.destination.id,
      change: { eventId: found.entry.eventId },
      input: {
        status,
        source: 'page',
        actorName: String(form.name ?? ''),
        reason: String(form.reason ?? ''),
        assigneeName: status === 'assigned' ? String(form.assignee ?? '') : null,
      },
    });
    // A refusal is the page itself (400) with what was typed kept in the form, escaped; a
    // decision redirects, so reloading the page never records it twice.
    if (!outcome.ok) return c.html(await reviewPage(c, found, { error: outcome.refusal.message, form }), outcome.refusal.code === 'plan' ? 403 : 400);
    return c.redirect(`${c.req.path}?done=recorded`, 303);
  });

  async function reviewPage(c: Context, f: { destination: DestinationRow; entry: ReviewEntry; timeZone: string }, opts: { done?: string; error?: string; form?: Record<string, string> }) {
    const e = f.entry;
    const history = await reviewHistory(deps.db, f.destination.accountId, e.eventPk);
    const form = opts.form ?? {};
    const chosen = (s: Decision) => (form.status ?? 'reviewed') === s;
    const when = (ms: number) => formatDateTime(ms, f.timeZone);
    const current = decisionLine(e.review, f.timeZone);
    return page(
      `Review: ${e.title}`,
      html`${opts.done ? html`<div class="notice" role="status">${opts.done}</div>` : ''}
        ${opts.error ? html`<div class="notice error" role="alert">${opts.error}</div>` : ''}
        <p class="muted">${e.platform.name} · ${e.document}${e.clause ? html` · ${e.clause}` : ''}</p>
        <h1>${e.title}</h1>
        <p><span class="badge">${SEVERITY_LABELS[e.severity as Severity] ?? e.severity} severity</span> <strong>${current ?? STATUS_TEXT[e.review.status]}</strong></p>
        ${e.summary ? html`<p>${e.summary}</p>` : ''}
        <h2>Evidence</h2>
        <dl class="facts">
          <dt>Detected</dt><dd>${when(e.detectedAt)}</dd>
          ${e.effectiveAt ? html`<dt>Takes effect</dt><dd>${formatDate(e.effectiveAt)}</dd>` : ''}
          ${e.sha256 ? html`<dt>SHA-256</dt><dd><code>${e.sha256}</code></dd>` : ''}
          ${e.previousSha256 ? html`<dt>Previous SHA-256</dt><dd><code>${e.previousSha256}</code></dd>` : ''}
          ${e.archiveUrl ? html`<dt>Archived copy</dt><dd><a href="${e.archiveUrl}">${e.archiveUrl}</a></dd>` : ''}
          ${e.lastVerifiedAt ? html`<dt>Last verified</dt><dd>${when(e.lastVerifiedAt)}</dd>` : ''}
          ${e.changeUrl ? html`<dt>Change record</dt><dd><a href="${e.changeUrl}">View the change</a></dd>` : ''}
        </dl>
        <h2>Your decision</h2>
        <form method="post" action="${c.req.path}" class="review">
          <fieldset>
            <legend>Decision</legend>
            ${(Object.keys(DECISIONS) as Decision[]).map(
              (s) => html`<label class="choice"><input type="radio" name="status" value="${s}"${chosen(s) ? html` checked` : ''}> ${DECISIONS[s].action}</label>`,
            )}
          </fieldset>
          <label for="review-name">Your name or email address</label>
          <input id="review-name" type="text" name="name" required maxlength="${NAME_MAX}" autocomplete="name" value="${form.name ?? ''}">
          <label for="review-reason">Reason <span class="muted">(required for Not applicable)</span></label>
          <textarea id="review-reason" name="reason" rows="3" maxlength="${REASON_MAX}">${form.reason ?? ''}</textarea>
          <label for="review-assignee">Assign to <span class="muted">(for Assign: a name or address)</span></label>
          <input id="review-assignee" type="text" name="assignee" maxlength="${NAME_MAX}" value="${form.assignee ?? ''}">
          <button type="submit">Record decision</button>
        </form>
        ${history.length
          ? html`<h2>History</h2>
              <ol class="history">
                ${history.map((h) => html`<li>${decisionLine(h, f.timeZone)} <span class="muted">(${h.source === 'page' ? 'review page' : h.source})</span></li>`)}
              </ol>`
          : ''}
        <p class="muted" style="margin-top:24px">Anyone with this mail's link can record a decision; the record keeps the name typed, the time and every earlier decision.</p>`,
    );
  }

  return app;
}
