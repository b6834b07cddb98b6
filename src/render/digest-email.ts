import type { DigestContent, PlatformGroup } from '../core/digest.js';
import { awaitingHeading, countsLine, digestHeadline, flappingLine } from '../core/digest.js';
import type { ChangeItem } from '../core/message.js';
import { SEVERITY_COLORS, SEVERITY_LABELS, evidenceLink, itemLabel, lateLabel } from '../core/message.js';
import { effectiveDatePhrase, formatDate, formatDateTime } from '../core/effective-date.js';
import { escapeHtml } from './escape.js';
import { fill, templateBytes, trusted, type EmailTemplates } from './template.js';
import { EMAIL_HTML_BUDGET, GLANCE_FROM_CHANGES, changeAnchor, glanceHtml, glanceText, unsubscribeHeaders, type EmailMessage } from './email.js';
import { cut, utf8Length } from './text.js';
import { severityRank } from '../core/severity.js';

const e = escapeHtml;
const link = (href: string, label: string) => `<a href="${e(href)}" style="color:#1d4ed8;">${e(label)}</a>`;
const MUTED = 'color:#52606d;font-size:13px;';

export interface DigestEmailContext {
  address: string;
  planLine: string;
  /** The browser version shows everything; the mail stops at Gmail's clipping size. */
  unlimited?: boolean;
  /**
   * Rendered change entries by event and time zone: the same change reads the same in every
   * digest of the run, so a run of 100,000 digests renders each change once per zone.
   */
  cache?: Map<string, string>;
}

/** "23 Nov – 30 Nov 2026" in the reader's zone. */
export function periodLabel(d: DigestContent, cache?: Map<string, string>): string {
  return remembered(cache, `period\u0000${d.period.start}\u0000${d.period.end}\u0000${d.reader.timeZone}`, () => {
    const end = formatDateTime(d.period.end - 1, d.reader.timeZone).replace(/,.*$/, '');
    const start = formatDateTime(d.period.start, d.reader.timeZone).replace(/,.*$/, '').replace(/ \d{4}$/, '');
    return `${start} – ${end}`;
  });
}

/**
 * Text that depends only on its key, from the run's cache when there is one: Intl formats a date
 * in about 3 µs, and every digest of a zone shows the same period and verification times.
 */
function remembered(cache: Map<string, string> | undefined, key: string, make: () => string): string {
  if (!cache) return make();
  let v = cache.get(key);
  if (v === undefined) cache.set(key, (v = make()));
  return v;
}

/**
 * What a change's entry depends on besides the change. The entry says "takes effect in N days",
 * true for one local day. Every zone's offset is a whole number of quarter hours, so a local day
 * never changes inside a UTC quarter hour: the entry is shared within one, no longer (no time
 * zone arithmetic per change).
 */
const entryKey = (c: ChangeItem, d: DigestContent) => `${c.eventId}\u0000${d.reader.timeZone}\u0000${Math.floor(d.reader.now / 900_000)}${c.reportedLate ? '\u0000late' : ''}`;

/** One change of the digest, as HTML from escaped parts (inside its platform's section). */
function changeEntry(c: ChangeItem, d: DigestContent, cache?: Map<string, string>): string {
  const key = entryKey(c, d);
  const hit = cache?.get(key);
  if (hit) return hit;
  const clause = c.provision?.title ?? c.provision?.id;
  const out = [
    `<div id="${changeAnchor(c.eventId)}" class="cw-rule" style="padding:10px 0;border-top:1px solid #e5e7eb;"><a name="${changeAnchor(c.eventId)}"></a>`,
    `<span style="display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:700;color:#ffffff;background:${SEVERITY_COLORS[c.severity]};">${e(SEVERITY_LABELS[c.severity])}</span>&nbsp; <strong>${e(c.title)}</strong>`,
    `<br><span class="cw-muted" style="${MUTED}">${e(c.document.title)}${clause ? ` · ${e(clause)}` : ''}</span>`,
  ];
  const label = itemLabel(c, d.reader.timeZone);
  if (label) out.push(`<br><span class="cw-muted" style="${MUTED}">${e(label)}</span>`);
  if (c.summary) out.push(`<br>${e(cut(c.summary, 600))}`);
  if (c.effectiveAt) out.push(`<br><span class="cw-effective-text" style="color:#9a3412;font-weight:600;">${e(`Effective ${formatDate(c.effectiveAt)}: ${effectiveDatePhrase(c.effectiveAt, d.reader.now, d.reader.timeZone)}`)}</span>`);
  const copy = evidenceLink(c);
  const links = [c.changeUrl && link(c.changeUrl, 'View the change'), copy && link(copy.url, `Evidence (${copy.label})`)].filter(Boolean);
  if (links.length) out.push(`<br><span style="font-size:13px;">${links.join(' &nbsp;·&nbsp; ')}</span>`);
  out.push('</div>');
  const html = out.join('');
  cache?.set(key, html);
  return html;
}

function section(t: EmailTemplates, heading: string, bodyHtml: string): string {
  return fill(t.blocks.digestSection, { heading, body: trusted(bodyHtml) });
}

function lastVerified(at: number | null, d: DigestContent, cache?: Map<string, string>): string {
  return at === null ? 'not verified yet' : remembered(cache, `verified\u0000${at}\u0000${d.reader.timeZone}`, () => `last verified ${formatDateTime(at, d.reader.timeZone)}`);
}

/**
 * The weekly digest mail: changes grouped by platform (most severe first, with counts), coming
 * effective dates, monitoring notices, and every watched document's last verification. Past
 * Gmail's clipping size the least severe changes give way to "N more" and the browser link.
 */
export function renderDigestEmail(t: EmailTemplates, d: DigestContent, ctx: DigestEmailContext): EmailMessage {
  const subject = cut(digestHeadline(d), 180);
  const summary =
    d.total === 0
      ? 'Monitoring ran all week and found no substantive change. Here is when each document you watch was last checked.'
      : `${countsLine(d.counts)} across ${d.groups.length} platform${d.groups.length === 1 ? '' : 's'}.`;
  const frame = {
    subject,
    preview: d.total ? d.groups.flatMap((g) => g.changes.map((c) => c.title)).join(' · ').slice(0, 140) : summary,
    period: periodLabel(d, ctx.cache),
    view_url: d.links.view,
    heading: d.total === 0 ? 'No policy changes this week' : digestHeadline(d),
    summary,
    address: ctx.address,
    plan_line: ctx.planLine,
    // The browser view is read-only, whoever holds its link (a chat channel's members, a forward):
    // it never carries the destination's manage or unsubscribe tokens.
    footer_links: ctx.unlimited
      ? 'To change or stop this digest, use the links in the message it came in.'
      : trusted(`${link(d.links.manage, 'Manage subscriptions')} · ${link(d.links.unsubscribe, 'Unsubscribe')}`),
  };

  const awaiting = d.awaiting
    ? section(
        t,
        awaitingHeading(d.awaiting.total),
        d.awaiting.items.map((a) => `<strong>${e(a.platform)}</strong> · ${a.url ? link(a.url, a.title) : e(a.title)}`).join('<br>') +
          (d.awaiting.total > d.awaiting.items.length ? `<br><span style="${MUTED}">and ${d.awaiting.total - d.awaiting.items.length} more</span>` : ''),
      )
    : '';
  const upcoming = awaiting + (d.upcoming.length
    ? section(
        t,
        'Upcoming effective dates (next 30 days)',
        d.upcoming
          .map((c) => `${e(formatDate(c.effectiveAt!))} · <strong>${e(c.platform.name)}</strong> · ${e(c.title)} <span style="${MUTED}">(${e(effectiveDatePhrase(c.effectiveAt!, d.reader.now, d.reader.timeZone))})</span>`)
          .join('<br>'),
      )
    : '');
  const monitoring = [
    ...d.notices.map(
      (n) => `${e(formatDateTime(n.detectedAt, d.reader.timeZone))}: <strong>${e(n.platform.name)}</strong> · ${e(n.document.title)} ${n.kind === 'unreachable' ? 'could not be read' : 'could be read again'}`,
    ),
    ...d.flapping.map((f) => `${e(flappingLine(f))} <span style="${MUTED}">(not alerted)</span>`),
  ];
  const notices = monitoring.length ? section(t, 'Monitoring', monitoring.join('<br>')) : '';
  const watched = section(
    t,
    d.total === 0 ? 'Watched and verified' : 'Watched documents',
    d.watched
      .map(
        (w) =>
          `<strong>${e(w.platform.name)}</strong><br>${w.documents
            .map((doc) => `${e(doc.title)} <span style="${MUTED}">${e(lastVerified(doc.lastVerifiedAt, d, ctx.cache))}</span>`)
            .join('<br>')}`,
      )
      .join('<br><br>') + (d.quiet.technical ? `<br><br><span style="${MUTED}">${d.quiet.technical} re-extraction${d.quiet.technical === 1 ? '' : 's'} or link-only change${d.quiet.technical === 1 ? '' : 's'} without a substantive change not shown.</span>` : ''),
  );

  const groups: string[] = [];
  let omitted = 0;
  const kept = new Set<ChangeItem>();
  const heading = (g: PlatformGroup) =>
    `<div class="cw-rule" style="font-size:17px;font-weight:700;margin:18px 0 2px;padding-top:12px;border-top:2px solid #1f2933;">${e(g.platform.name)} <span class="cw-muted" style="font-size:13px;font-weight:400;color:#52606d;">${e(countsLine(g.counts))}</span></div>`;
  const all = d.groups.flatMap((g) => g.changes);
  // The summary box, sized as if it linked every change (it links only those the mail shows).
  const glanceOf = (linked: ReadonlySet<ChangeItem>) => (all.length >= GLANCE_FROM_CHANGES ? fill(t.blocks.summary, { body: trusted(glanceHtml(all, linked)) }) : '');
  const glanceOfAll = glanceOf(new Set(all));
  const fixed = [glanceOfAll, upcoming, notices, watched, ...Object.values(frame).map((v) => (typeof v === 'string' ? v : v.trustedHtml))];
  const chars = (xs: string[]) => xs.reduce((n, x) => n + x.length, 0);
  const base = templateBytes(t.digest, utf8Length) + templateBytes(t.blocks.digestChanges, utf8Length);
  // A UTF-8 character is at most 3 bytes per UTF-16 unit: when even that fits, skip counting.
  const worstCase = base + 3 * (chars(fixed) + chars(all.map((c) => changeEntry(c, d, ctx.cache))) + chars(d.groups.map(heading)));
  if (ctx.unlimited || worstCase <= EMAIL_HTML_BUDGET - 4096) {
    for (const c of all) kept.add(c);
  } else {
    // All platforms share one MJML section: its table scaffolding costs ~2.5 KB, a change ~1 KB.
    // The most severe changes are kept first, across platforms; the mail keeps platform order.
    let budget = EMAIL_HTML_BUDGET - base - fixed.reduce((n, x) => n + utf8Length(x), 0) - 4096;
    const ranked = d.groups.flatMap((g) => g.changes.map((c) => ({ g, c }))).sort((a, b) => severityRank(b.c.severity) - severityRank(a.c.severity));
    const opened = new Set<PlatformGroup>();
    for (const { g, c } of ranked) {
      const size = utf8Length(changeEntry(c, d, ctx.cache)) + (opened.has(g) ? 0 : utf8Length(heading(g)));
      if (size > budget) {
        omitted++;
        continue;
      }
      budget -= size;
      opened.add(g);
      kept.add(c);
    }
  }
  const body: string[] = [];
  for (const g of d.groups) {
    const shown = g.changes.filter((c) => kept.has(c));
    if (shown.length) body.push(heading(g), ...shown.map((c) => changeEntry(c, d, ctx.cache)));
  }
  if (body.length) groups.push(fill(t.blocks.digestChanges, { body: trusted(body.join('')) }));
  if (omitted) groups.push(section(t, `${omitted} more change${omitted === 1 ? '' : 's'}`, `Not shown to keep this mail readable: ${link(d.links.view, 'see the whole digest in your browser')}.`));

  const html = fill(t.digest, {
    ...frame,
    // Most mails keep every change: the box sized above is the box shown.
    glance: trusted(kept.size === all.length ? glanceOfAll : glanceOf(kept)),
    groups: trusted(groups.join('')),
    upcoming: trusted(upcoming),
    notices: trusted(notices),
    watched: trusted(watched),
  });
  return { subject, html, text: digestText(d, ctx), headers: unsubscribeHeaders(d.links.unsubscribe) };
}

/** One change of the digest's text part, as its lines (shared like `changeEntry`). */
function changeText(c: ChangeItem, d: DigestContent): string {
  const clause = c.provision?.title ?? c.provision?.id;
  const lines = [`[${SEVERITY_LABELS[c.severity].toUpperCase()}] ${c.title}`, `   ${c.document.title}${clause ? ` · ${clause}` : ''}`];
  if (c.reportedLate) lines.push(`   ${lateLabel(c, d.reader.timeZone)}`);
  if (c.summary) lines.push(`   ${cut(c.summary, 600)}`);
  if (c.effectiveAt) lines.push(`   Effective ${formatDate(c.effectiveAt)}: ${effectiveDatePhrase(c.effectiveAt, d.reader.now, d.reader.timeZone)}`);
  if (c.changeUrl) lines.push(`   ${c.changeUrl}`);
  const copy = evidenceLink(c);
  if (copy) lines.push(`   Evidence (${copy.label}): ${copy.url}`);
  return lines.join('\n');
}

export function digestText(d: DigestContent, ctx: DigestEmailContext): string {
  const lines = [`ClauseWatch weekly digest, ${periodLabel(d, ctx.cache)}`, `View in browser: ${d.links.view}`, '', d.total === 0 ? 'No policy changes this week.' : digestHeadline(d), ''];
  const all = d.groups.flatMap((g) => g.changes);
  if (all.length >= GLANCE_FROM_CHANGES) lines.push(...glanceText(all));
  for (const g of d.groups) {
    lines.push(`== ${g.platform.name} (${countsLine(g.counts)})`);
    for (const c of g.changes) lines.push(remembered(ctx.cache, `text\u0000${entryKey(c, d)}`, () => changeText(c, d)));
    lines.push('');
  }
  if (d.awaiting) {
    lines.push(`== ${awaitingHeading(d.awaiting.total)}`);
    for (const a of d.awaiting.items) lines.push(`${a.platform} · ${a.title}${a.url ? `: ${a.url}` : ''}`);
    lines.push('');
  }
  if (d.upcoming.length) {
    lines.push('== Upcoming effective dates (next 30 days)');
    for (const c of d.upcoming) lines.push(`${formatDate(c.effectiveAt!)} · ${c.platform.name} · ${c.title}`);
    lines.push('');
  }
  if (d.notices.length) {
    lines.push('== Monitoring');
    for (const n of d.notices) lines.push(`${formatDateTime(n.detectedAt, d.reader.timeZone)}: ${n.platform.name} · ${n.document.title} ${n.kind === 'unreachable' ? 'could not be read' : 'could be read again'}`);
    lines.push('');
  }
  if (d.flapping.length) {
    lines.push('== Flapping documents (not alerted)');
    for (const f of d.flapping) lines.push(flappingLine(f));
    lines.push('');
  }
  lines.push('== Watched documents');
  for (const w of d.watched) for (const doc of w.documents) lines.push(`${w.platform.name} · ${doc.title}: ${lastVerified(doc.lastVerifiedAt, d, ctx.cache)}`);
  lines.push('', '--', `You receive this weekly digest because ${ctx.address} watches these platforms on ClauseWatch, ${ctx.planLine}.`);
  lines.push(`Manage subscriptions: ${d.links.manage}`, `Unsubscribe: ${d.links.unsubscribe}`);
  return lines.join('\n');
}
