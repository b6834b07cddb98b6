import type { Context } from 'hono';
import { html } from 'hono/html';
import type { AppDeps } from './deps.js';
import { page } from './pages/layout.js';
import { readFormBody } from './body.js';
import { ApiError } from './errors.js';
import { requestSignup, signupSentMessage } from './signup.js';
import { platformNames } from '../store/platforms.js';
import { defineRoute, describedRoute, describedRoutes, formBody, htmlPage } from './openapi.js';
import { signupFields } from './signup.js';

const homeRoute = defineRoute({
  method: 'get',
  path: '/',
  tags: ['Pages'],
  summary: 'The home page: what ClauseWatch is, the feeds, and the sign-up form',
  responses: { 200: htmlPage('The home page') },
});

const signupFormRoute = defineRoute({
  method: 'post',
  path: '/signup',
  tags: ['Pages'],
  summary: 'The home page’s sign-up form: POST /v1/signup for a browser, answered with the page',
  request: { body: formBody(signupFields) },
  responses: { 200: htmlPage('The page, saying where the confirmation went'), 400: htmlPage('The page with the form as typed and what to fix'), 404: htmlPage('No such platform'), 413: htmlPage('The form is too large'), 429: htmlPage('Too many sign-ups from this address') },
});

/**
 * `GET /`: what this service is, its feeds, and a sign-up form for a person (no JavaScript: the
 * platform field is a text input with the catalog as its <datalist>, which browsers filter as
 * one types). The form posts to `POST /signup`, which is `POST /v1/signup` for a browser: the
 * same rate limit, validation and answer, shown as a page.
 */
export function homeRoutes(deps: AppDeps, opts: { signup: boolean }) {
  const app = describedRoutes();

  async function home(c: Context, notice?: { ok: boolean; text: string }, typed: { email?: string; platform?: string } = {}) {
    const platforms = opts.signup ? await platformNames(deps.db) : [];
    return page(
      'Policy-change alerts',
      html`${notice ? html`<div class="notice${notice.ok ? '' : ' error'}" role="${notice.ok ? 'status' : 'alert'}">${notice.text}</div>` : ''}
<h1>Know when a platform changes its terms</h1>
<p>ClauseWatch watches the terms of service, privacy and usage policies of ${platforms.length || 'many'} platforms and tells you when a clause changes: same-day alerts and a weekly digest, by email, Slack, Discord or webhook.</p>
${opts.signup
  ? html`<h2>Get the weekly digest by email</h2>
<p class="muted">Free: one platform, every week. We send a link to confirm first; nothing arrives until you follow it.</p>
<form method="post" action="/signup" class="add">
  <label>Email address <input type="email" name="email" required maxlength="254" autocomplete="email" value="${typed.email ?? ''}"></label>
  <label>Platform <input type="text" name="platform" required list="platforms" placeholder="openai" autocapitalize="none" spellcheck="false" value="${typed.platform ?? ''}"></label>
  <datalist id="platforms">${platforms.map((p) => html`<option value="${p.slug}">${p.name}</option>`)}</datalist>
  <button type="submit">Sign up</button>
</form>`
  : ''}
<h2>Feeds</h2>
<p>Every change as Atom: <a href="/feeds/all.atom">all platforms</a>, <a href="/feeds/all.atom?min_severity=high">high severity only</a>, or one platform's at <code>/feeds/&lt;platform&gt;.atom</code>, such as <a href="/feeds/openai.atom">OpenAI's</a>.</p>
<h2>For developers</h2>
<p class="muted">The HTTP API (<code>/v1/…</code>) takes change events from a monitoring pipeline and manages accounts, destinations and subscriptions; <a href="/v1/platforms">GET /v1/platforms</a> lists the catalog.</p>`,
    );
  }

  describedRoute(app, homeRoute, async (c) => c.html(await home(c)));

  if (opts.signup) {
    describedRoute(app, signupFormRoute, async (c) => {
      let typed: { email?: string; platform?: string } = {};
      try {
        const r = await requestSignup(deps, c, async () => {
          const form = await readFormBody(c);
          typed = { email: form.email, platform: form.platform };
          return { email: form.email, platform: form.platform };
        });
        return c.html(await home(c, { ok: true, text: signupSentMessage(r) }));
      } catch (err) {
        if (!(err instanceof ApiError) || err.status >= 500) throw err;
        // Refused: the page again, with what was typed (escaped) and the API's sentence.
        const issues = (err.extra.issues as { path: string; message: string }[] | undefined) ?? [];
        const text = issues.length ? `Please check the form: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}.` : err.message.replace(/ Search with GET .*$/, '');
        return c.html(await home(c, { ok: false, text }, typed), err.status);
      }
    });
  }
  return app;
}
