import type { AlertContent, ChangeItem, ConfirmationContent, ManageLinkContent } from '../core/message.js';
import { alertHeadline, itemLabel, SEVERITY_COLORS, SEVERITY_LABELS } from '../core/message.js';
import { effectiveDatePhrase, formatDate, formatDateTime } from '../core/effective-date.js';
import { escapeHtml } from './escape.js';
import { fill, trusted, type EmailTemplates } from './template.js';
import { cut, utf8Length } from './text.js';

export interface EmailMessage {
  subject: string;
  html: string;
  text: string;
  headers: Record<string, string>;
}

/** Gmail clips messages past 102 KB of HTML; stay below with room for the transport's headers. */
export const EMAIL_HTML_BUDGET = 100 * 1024;
const DIFF_LINES = 3;
const DIFF_CHARS = 400;

// The change body is built here, after MJML ran, so its styles are inline (mj-style inlining only
// reaches markup MJML itself compiled).
const S = {
  p: 'margin:0 0 10px;',
  label: 'font-size:12px;font-weight:700;text-transform:uppercase;letter-spacing:0.04em;color:#52606d;',
  removed: 'background:#fdecec;color:#7f1d1d;text-decoration:line-through;padding:4px 8px;margin:2px 0;border-radius:4px;word-break:break-word;',
  added: 'background:#e7f6ec;color:#14532d;padding:4px 8px;margin:2px 0;border-radius:4px;word-break:break-word;',
  hash: 'word-break:break-all;font-family:Menlo,Consolas,Courier New,monospace;font-size:12px;color:#334155;',
  muted: 'color:#52606d;font-size:13px;',
  effective: 'display:inline-block;background:#fff7ed;color:#9a3412;border-radius:4px;padding:2px 8px;font-size:13px;font-weight:600;',
};

const e = escapeHtml;
const link = (href: string, label: string) => `<a href="${e(href)}" style="color:#1d4ed8;">${e(label)}</a>`;

/** From this many changes on, a mail opens with the summary box ("at a glance"). */
export const GLANCE_FROM_CHANGES = 3;
/** Titles the summary box lists, each linked to its change further down the mail. */
const GLANCE_TITLES = 15;

/** The in-mail anchor of a change: stable per event, and only [A-Za-z0-9-] (safe in id and href). */
export function changeAnchor(eventId: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < eventId.length; i++) h = Math.imul(h ^ eventId.charCodeAt(i), 0x01000193) >>> 0;
  return `cw-${eventId.replace(/[^A-Za-z0-9-]/g, '').slice(0, 40)}-${h.toString(36)}`;
}

/**
 * The summary box's HTML: counts by severity (as badges), the platforms, and the titles, linked to
 * their anchors in this mail (`linked`: the changes the mail shows; the rest are counted).
 */
/** A change's line in the summary box, made once per change however many mails show it. */
const glanceTitles = new WeakMap<ChangeItem, string>();
function glanceTitle(c: ChangeItem): string {
  let html = glanceTitles.get(c);
  if (html === undefined) {
    html = `<li style="margin:0 0 4px;"><a href="#${changeAnchor(c.eventId)}" style="color:#1d4ed8;">${e(c.title)}</a> <span class="cw-muted" style="${S.muted}">· ${e(c.platform.name)}</span></li>`;
    glanceTitles.set(c, html);
  }
  return html;
}

export function glanceHtml(changes: ChangeItem[], linked: ReadonlySet<ChangeItem>): string {
  const badges = (['high', 'medium', 'low'] as const)
    .map((s) => [s, changes.filter((c) => c.severity === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `<span class="badge cw-badge" style="display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:700;color:#ffffff;background:${SEVERITY_COLORS[s]};">${n} ${e(SEVERITY_LABELS[s])}</span>`)
    .join(' ');
  const platforms = [...new Set(changes.map((c) => c.platform.name))];
  const shown = changes.filter((c) => linked.has(c));
  const titles = shown.slice(0, GLANCE_TITLES).map(glanceTitle).join('');
  const rest = changes.length - Math.min(shown.length, GLANCE_TITLES);
  return [
    `<p style="margin:0 0 6px;"><span class="cw-label" style="${S.label}">At a glance</span></p>`,
    `<p style="margin:0 0 8px;">${badges} &nbsp;<strong>${changes.length} changes</strong> on ${e(platforms.join(', '))}</p>`,
    `<ol style="margin:0;padding-left:20px;">${titles}</ol>`,
    rest > 0 ? `<p class="cw-muted" style="margin:6px 0 0;${S.muted}">…and ${rest} more ${shown.length > GLANCE_TITLES ? 'below' : 'not shown in this mail'}.</p>` : '',
  ].join('');
}

/** The summary lines that open the plain-text part of a mail of many changes. */
export function glanceText(changes: ChangeItem[]): string[] {
  const counts = (['high', 'medium', 'low'] as const).map((s) => [s, changes.filter((c) => c.severity === s).length] as const).filter(([, n]) => n > 0);
  const platforms = [...new Set(changes.map((c) => c.platform.name))];
  return [
    `At a glance: ${changes.length} changes (${counts.map(([s, n]) => `${n} ${s}`).join(', ')}) on ${platforms.join(', ')}`,
    ...changes.slice(0, GLANCE_TITLES).map((c, i) => `  ${i + 1}. [${SEVERITY_LABELS[c.severity]}] ${c.platform.name}: ${c.title}`),
    ...(changes.length > GLANCE_TITLES ? [`  …and ${changes.length - GLANCE_TITLES} more`] : []),
    '',
  ];
}

/** The details of one change, as HTML from escaped parts. */
function changeBodyHtml(c: ChangeItem, reader: AlertContent['reader'], reviewUrl?: string): string {
  const out: string[] = [];
  const label = itemLabel(c, reader.timeZone);
  if (label) out.push(`<p style="${S.p}"><span class="cw-label" style="${S.label}">${e(label)}</span></p>`);
  if (c.summary) out.push(`<p style="${S.p}">${e(c.summary)}</p>`);
  if (c.impact) out.push(`<p style="${S.p}"><span class="cw-label" style="${S.label}">Why it matters</span><br>${e(c.impact)}</p>`);
  if (c.effectiveAt) {
    out.push(`<p style="${S.p}"><span class="cw-effective" style="${S.effective}">${e(`Effective ${formatDate(c.effectiveAt)}: ${effectiveDatePhrase(c.effectiveAt, reader.now, reader.timeZone)}`)}</span></p>`);
  }
  const diff = diffExcerpt(c);
  if (diff.removed.length || diff.added.length) {
    out.push('<div style="margin:0 0 10px;font-size:14px;">');
    for (const l of diff.removed) out.push(`<div class="cw-removed" style="${S.removed}">− ${e(l)}</div>`);
    for (const l of diff.added) out.push(`<div class="cw-added" style="${S.added}">+ ${e(l)}</div>`);
    if (diff.more && c.changeUrl) out.push(`<div class="cw-muted" style="${S.muted}">${link(c.changeUrl, 'Full text of the change')}</div>`);
    out.push('</div>');
  }
  const links = [
    c.changeUrl && link(c.changeUrl, 'View the change'),
    c.document.url && link(c.document.url, 'Current document'),
    reviewUrl && link(reviewUrl, 'Review: mark reviewed, not applicable or assign'),
  ].filter(Boolean);
  if (links.length) out.push(`<p style="${S.p}">${links.join(' &nbsp;·&nbsp; ')}</p>`);
  const ev = c.evidence;
  if (ev && (ev.sha256 || ev.archive_url || ev.snapshot_url)) {
    const parts: string[] = [];
    if (ev.sha256) parts.push(`SHA-256 <span class="cw-hash" style="${S.hash}">${e(ev.sha256)}</span>`);
    if (ev.previous_sha256) parts.push(`previous <span class="cw-hash" style="${S.hash}">${e(ev.previous_sha256)}</span>`);
    const evLinks = [ev.archive_url && link(ev.archive_url, 'Archived copy'), ev.snapshot_url && link(ev.snapshot_url, 'Snapshot')].filter(Boolean);
    out.push(`<p class="cw-muted" style="${S.p}${S.muted}"><span class="cw-label" style="${S.label}">Evidence</span><br>${[...parts, ...evLinks].join('<br>')}</p>`);
  }
  const meta = [`Detected ${formatDateTime(c.detectedAt, reader.timeZone)}`, c.categories.length ? c.categories.join(', ') : ''].filter(Boolean);
  out.push(`<p class="cw-muted" style="margin:0;${S.muted}">${e(meta.join(' · '))}</p>`);
  return out.join('');
}

export function diffExcerpt(c: ChangeItem, lines = DIFF_LINES, chars = DIFF_CHARS): { removed: string[]; added: string[]; more: boolean } {
  const removed = c.diff?.removed ?? [];
  const added = c.diff?.added ?? [];
  const more = removed.length > lines || added.length > lines || [...removed, ...added].some((l) => l.length > chars);
  return { removed: removed.slice(0, lines).map((l) => cut(l, chars)), added: added.slice(0, lines).map((l) => cut(l, chars)), more };
}

function changeBlock(t: EmailTemplates, c: ChangeItem, reader: AlertContent['reader'], reviewUrl?: string): string {
  const clause = c.provision?.title ?? c.provision?.id;
  return fill(t.blocks.change, {
    anchor: changeAnchor(c.eventId),
    color: SEVERITY_COLORS[c.severity],
    severity: SEVERITY_LABELS[c.severity],
    platform: c.platform.name,
    document: c.document.title,
    clause: clause ? ` · ${clause}` : '',
    title: c.title,
    body: trusted(changeBodyHtml(c, reader, reviewUrl)),
  });
}

function noticeBlock(t: EmailTemplates, n: ChangeItem, reader: AlertContent['reader']): string {
  const down = n.kind === 'unreachable';
  return fill(t.blocks.notice, {
    state: down ? 'cannot be watched' : 'watched again',
    platform: n.platform.name,
    document: n.document.title,
    detail: `${down ? 'Since' : 'Restored'} ${formatDateTime(n.detectedAt, reader.timeZone)}. ${down ? 'Changes made while it cannot be read will be reported once it can.' : 'Monitoring is back to normal.'}${n.summary ? ` ${n.summary}` : ''}`,
  });
}

export function unsubscribeHeaders(unsubscribeUrl: string): Record<string, string> {
  // RFC 2369 List-Unsubscribe with an https URL, and RFC 8058 one-click: mail clients POST
  // "List-Unsubscribe=One-Click" to it, with no cookie and no confirmation page.
  return { 'List-Unsubscribe': `<${unsubscribeUrl}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
}

export interface AlertEmailContext {
  address: string;
  planLine: string;
  /** The browser view of the alert: every change, past the mail's size budget. */
  unlimited?: boolean;
}

/**
 * An alert mail: every change of the group, most severe first, then monitoring notices. The whole
 * HTML, frame and "N more" block included, stays within EMAIL_HTML_BUDGET: past it the least
 * severe changes (and then notices) are left out, counted, and linked to the alert's own page,
 * which lists them all.
 */
export function renderAlertEmail(t: EmailTemplates, a: AlertContent, ctx: AlertEmailContext): EmailMessage {
  const subject = cut(alertHeadline(a), 180);
  const n = a.changes.length;
  const listed = a.budget && n > 0;
  const heading = a.reminder || listed
    ? alertHeadline(a)
    : n === 0 ? 'Monitoring notice' : n === 1 ? `${a.changes[0]!.platform.name} changed its ${a.changes[0]!.document.title}` : `${n} policy changes`;
  const intro = listed
    ? 'This destination reached its alert limit for today; these are the rest of the day’s changes, together. The weekly digest lists every change.'
    : a.reminder
    ? 'A reminder: this change, already reported, takes effect soon.'
    : n === 0
      ? 'ClauseWatch could not read a document you watch, or can read it again.'
      : `${countBySeverity(a.changes)}, detected since the last alert.`;
  const frame = {
    subject,
    preview: n ? a.changes.map((c) => c.title).join(' · ').slice(0, 140) : heading,
    heading,
    intro,
    address: ctx.address,
    plan_line: ctx.planLine,
    manage_url: a.links.manage,
    unsubscribe_url: a.links.unsubscribe,
  };

  const changeHtml = a.changes.map((c) => changeBlock(t, c, a.reader, a.links.review?.[c.eventId]));
  const noticeHtml = a.notices.map((x) => noticeBlock(t, x, a.reader));
  const glanceOf = (linked: ReadonlySet<ChangeItem>) => (n >= GLANCE_FROM_CHANGES ? fill(t.blocks.summary, { body: trusted(glanceHtml(a.changes, linked)) }) : '');
  const page = (changes: string[], notices: string[], glance = '') =>
    fill(t.alert, { ...frame, glance: trusted(glance), changes: trusted(changes.join('')), notices: trusted(notices.join('')) });
  if (ctx.unlimited) return { subject, html: page(changeHtml, noticeHtml, glanceOf(new Set(a.changes))), text: alertText(a, ctx), headers: unsubscribeHeaders(a.links.unsubscribe) };

  // Most severe first, as many as fit, then notices: measured against the whole mail, its frame,
  // the summary box (sized as if it linked every change: it links only those shown) and the
  // "N more" block (sized for everything left out) included.
  let budget = EMAIL_HTML_BUDGET - utf8Length(page([], [], glanceOf(new Set(a.changes)))) - 200 - utf8Length(moreBlock(t, a, n, a.notices.length));
  const fits = (block: string) => {
    const size = utf8Length(block);
    if (size > budget) return false;
    budget -= size;
    return true;
  };
  const shown = new Set<ChangeItem>();
  const keptChanges = changeHtml.filter((html, i) => fits(html) && shown.add(a.changes[i]!));
  const keptNotices = noticeHtml.filter(fits);
  const omittedChanges = changeHtml.length - keptChanges.length;
  const omittedNotices = noticeHtml.length - keptNotices.length;
  if (omittedChanges || omittedNotices) keptNotices.push(moreBlock(t, a, omittedChanges, omittedNotices));
  return { subject, html: page(keptChanges, keptNotices, glanceOf(shown)), text: alertText(a, ctx), headers: unsubscribeHeaders(a.links.unsubscribe) };
}

/** What the mail left out, counted, with the link to the alert's page that lists it all. */
function moreBlock(t: EmailTemplates, a: AlertContent, changes: number, notices: number): string {
  const parts = [changes && `${changes} more change${changes === 1 ? '' : 's'}`, notices && `${notices} monitoring notice${notices === 1 ? '' : 's'}`].filter(Boolean);
  const where = a.links.view ? link(a.links.view, 'see every change of this alert in your browser') : 'the weekly digest lists every change';
  return fill(t.blocks.digestSection, { heading: parts.join(' and '), body: trusted(`Not shown to keep this mail readable: ${where}.`) });
}

function countBySeverity(changes: ChangeItem[]): string {
  const counts = (['high', 'medium', 'low'] as const)
    .map((s) => [s, changes.filter((c) => c.severity === s).length] as const)
    .filter(([, n]) => n > 0);
  return counts.map(([s, n]) => `${n} ${s}`).join(', ');
}

/** The plain-text part: the same content, for clients and filters that read text. */
export function alertText(a: AlertContent, ctx: AlertEmailContext): string {
  const lines: string[] = [alertHeadline(a), ''];
  if (a.changes.length >= GLANCE_FROM_CHANGES) lines.push(...glanceText(a.changes));
  for (const c of a.changes) {
    const clause = c.provision?.title ?? c.provision?.id;
    lines.push(`[${SEVERITY_LABELS[c.severity].toUpperCase()}] ${c.platform.name} · ${c.document.title}${clause ? ` · ${clause}` : ''}`);
    lines.push(c.title);
    const label = itemLabel(c, a.reader.timeZone);
    if (label) lines.push(label);
    if (c.summary) lines.push(c.summary);
    if (c.impact) lines.push(`Why it matters: ${c.impact}`);
    if (c.effectiveAt) lines.push(`Effective ${formatDate(c.effectiveAt)}: ${effectiveDatePhrase(c.effectiveAt, a.reader.now, a.reader.timeZone)}`);
    const d = diffExcerpt(c);
    for (const l of d.removed) lines.push(`  - ${l}`);
    for (const l of d.added) lines.push(`  + ${l}`);
    if (c.changeUrl) lines.push(`Change: ${c.changeUrl}`);
    const review = a.links.review?.[c.eventId];
    if (review) lines.push(`Review: ${review}`);
    if (c.evidence?.sha256) lines.push(`Evidence: SHA-256 ${c.evidence.sha256}${c.evidence.previous_sha256 ? ` (previous ${c.evidence.previous_sha256})` : ''}`);
    if (c.evidence?.archive_url) lines.push(`Archived copy: ${c.evidence.archive_url}`);
    if (c.evidence?.snapshot_url) lines.push(`Snapshot: ${c.evidence.snapshot_url}`);
    lines.push(`Detected ${formatDateTime(c.detectedAt, a.reader.timeZone)}`, '');
  }
  for (const n of a.notices) {
    lines.push(`MONITORING · ${n.kind === 'unreachable' ? 'cannot be watched' : 'watched again'}: ${n.platform.name} · ${n.document.title} (${formatDateTime(n.detectedAt, a.reader.timeZone)})`, '');
  }
  lines.push('--', `You receive this because ${ctx.address} watches these platforms on ClauseWatch, ${ctx.planLine}.`);
  lines.push(`Manage subscriptions: ${a.links.manage}`, `Unsubscribe: ${a.links.unsubscribe}`);
  return lines.join('\n');
}

export function renderConfirmationEmail(t: EmailTemplates, c: ConfirmationContent): EmailMessage {
  const platforms = c.platforms.join(', ');
  const html = fill(t.confirm, { platforms, address: c.address, confirm_url: c.confirmUrl });
  const text = [
    'Confirm your ClauseWatch subscription',
    '',
    `Someone, hopefully you, asked ClauseWatch to send ${c.address} a weekly digest of changes to the terms, privacy and usage policies of ${platforms}.`,
    '',
    `Confirm: ${c.confirmUrl}`,
    '',
    'The link works for 7 days. If you did not ask for this, ignore this mail: nothing will be sent.',
  ].join('\n');
  return { subject: 'Confirm your ClauseWatch subscription', html, text, headers: {} };
}

export function renderManageLinkEmail(t: EmailTemplates, c: ManageLinkContent): EmailMessage {
  const html = fill(t.manageLink, { address: c.address, manage_url: c.manageUrl });
  const text = [
    'Your ClauseWatch subscription',
    '',
    `Someone asked to sign ${c.address} up for ClauseWatch. This address is already subscribed; see and change what it receives here:`,
    '',
    c.manageUrl,
    '',
    'If that was not you, there is nothing to do.',
  ].join('\n');
  return { subject: 'Your ClauseWatch subscription', html, text, headers: {} };
}
