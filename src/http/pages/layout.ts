import type { Context } from 'hono';
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

type Content = HtmlEscapedString | Promise<HtmlEscapedString>;

/**
 * The frame of every page a person opens from a mail (confirm, unsubscribe, manage, a digest in
 * the browser). hono/html escapes every interpolated value; pages work without JavaScript and
 * down to a 375 px wide screen.
 */
export function page(title: string, body: Content, opts: { status?: 'ok' | 'error' } = {}) {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${title} · ClauseWatch</title>
<style>
  :root { color-scheme: light; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2933; background: #f3f4f6; }
  header { padding: 16px 20px; color: #3e4c59; font-size: 14px; }
  main { max-width: 640px; margin: 0 auto 40px; background: #fff; padding: 24px 20px; border-radius: 8px; }
  h1 { font-size: 1.4rem; line-height: 1.3; margin: 0 0 12px; }
  h2 { font-size: 1.1rem; margin: 24px 0 8px; }
  p { margin: 0 0 12px; }
  a { color: #1d4ed8; }
  .muted { color: #52606d; font-size: 0.9rem; }
  .notice { padding: 10px 12px; border-radius: 6px; background: #e7f6ec; color: #14532d; margin-bottom: 16px; }
  .notice.error { background: #fdecec; color: #7f1d1d; }
  button, select, input[type=text] { font: inherit; }
  button { background: #1d4ed8; color: #fff; border: 0; border-radius: 6px; padding: 10px 16px; cursor: pointer; }
  button.secondary { background: #e5e7eb; color: #1f2933; }
  ul.subs { list-style: none; padding: 0; margin: 0; }
  ul.subs li { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; justify-content: space-between; border-top: 1px solid #e5e7eb; padding: 10px 0; }
  ul.subs li form { margin: 0; }
  .add { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-end; }
  .add label { display: flex; flex-direction: column; font-size: 0.9rem; gap: 4px; flex: 1 1 160px; }
  .add input, .add select { width: 100%; padding: 8px; border: 1px solid #9aa5b1; border-radius: 6px; }
  form.review { display: flex; flex-direction: column; gap: 6px; }
  form.review fieldset { border: 1px solid #9aa5b1; border-radius: 6px; padding: 8px 12px; margin: 0 0 8px; }
  form.review .choice { display: block; padding: 4px 0; }
  form.review input[type=text], form.review textarea { font: inherit; width: 100%; padding: 8px; border: 1px solid #9aa5b1; border-radius: 6px; margin-bottom: 8px; }
  form.review button { align-self: flex-start; }
  dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 12px; margin: 0 0 12px; }
  dl.facts dt { color: #52606d; }
  dl.facts dd { margin: 0; overflow-wrap: anywhere; }
  ol.history { padding-left: 20px; }
  .badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 0.8rem; background: #e5e7eb; }
</style>
</head>
<body>
<header>ClauseWatch</header>
<main${opts.status === 'error' ? html` class="error"` : ''}>
${body}
</main>
</body>
</html>`;
}

/**
 * The answer to a signed link that does not verify (copied incompletely, expired, or no longer
 * for anything): a 400 page saying so, the same frame for every kind of link.
 */
export function invalidLinkPage(c: Context, heading: string, explanation: string) {
  return c.html(page('Link not valid', html`<h1>${heading}</h1><p>${explanation}</p>`, { status: 'error' }), 400);
}
