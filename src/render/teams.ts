import { alertHeadline, evidenceLink, itemLabel, SEVERITY_LABELS, type AlertContent, type ChangeItem } from '../core/message.js';
import { countsLine, digestHeadline, flappingLine, type DigestContent } from '../core/digest.js';
import { effectiveDatePhrase, formatDate, formatDateTime } from '../core/effective-date.js';
import type { Severity } from '../core/severity.js';
import { periodLabel } from './digest-email.js';
import { diffExcerpt } from './email.js';
import { cut, utf8Length } from './text.js';
import { priorAlertSentence } from '../core/lifecycle.js';

/**
 * Teams takes about 28 KB per message (the whole request body). Cards are split to stay under
 * this, with room to spare for the headline and the footer each part repeats.
 */
export const TEAMS_MAX_BYTES = 28 * 1024;
const TEAMS_BUDGET = TEAMS_MAX_BYTES - 2 * 1024;

export type CardElement = Record<string, unknown> & { type: string };
export interface AdaptiveCard {
  type: 'AdaptiveCard';
  $schema: string;
  version: '1.5';
  body: CardElement[];
  actions?: CardElement[];
  msteams?: { width: 'Full' };
}
/** The Workflows webhook's envelope: a message with one Adaptive Card attachment. */
export interface TeamsMessage {
  type: 'message';
  attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive'; contentUrl: null; content: AdaptiveCard }];
}

/**
 * Text from events in a TextBlock, which renders a markdown subset: every character that subset
 * gives meaning to is escaped with a backslash, a line's leading list or heading marker too, and
 * a `<` is kept from opening a tag (no `<at>` mention, which Teams would otherwise resolve).
 */
export function escapeCardMarkdown(s: string): string {
  return s
    .replace(/[\\`*_~[\]()#>|{}!]/g, (c) => `\\${c}`)
    .replace(/^(\s*)([-+]|\d+\.)(?=\s)/gm, (_, space: string, marker: string) => `${space}${marker.replace(/([-+.])$/, '\\$1')}`)
    .replace(/</g, '<\u200b');
}

/** Only http(s) links reach a card (no javascript:, data: or file: in an Action.OpenUrl). */
export function safeUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : undefined;
  } catch {
    return undefined;
  }
}

const SEVERITY_COLOR: Record<Severity, string> = { high: 'attention', medium: 'warning', low: 'accent' };

const text = (t: string, extra: Record<string, unknown> = {}): CardElement => ({ type: 'TextBlock', text: t, wrap: true, ...extra });
const openUrl = (title: string, url: string | undefined): CardElement | undefined => {
  const safe = safeUrl(url);
  return safe ? { type: 'Action.OpenUrl', title, url: safe } : undefined;
};
const actionSet = (actions: (CardElement | undefined)[]): CardElement[] => {
  const kept = actions.filter((a): a is CardElement => !!a);
  return kept.length ? [{ type: 'ActionSet', actions: kept }] : [];
};

/** One change as a card container: the same facts the other channels show. */
export function changeContainer(c: ChangeItem, reader: AlertContent['reader'], opts: { diff: boolean; reviewUrl?: string }): CardElement {
  const clause = c.provision?.title ?? c.provision?.id;
  const label = itemLabel(c, reader.timeZone);
  const items: CardElement[] = [
    text(`**${SEVERITY_LABELS[c.severity]}** · ${escapeCardMarkdown(c.platform.name)} · ${escapeCardMarkdown(c.document.title)}`, { color: SEVERITY_COLOR[c.severity], spacing: 'none' }),
    text(escapeCardMarkdown(cut(c.title, 500)), { weight: 'bolder', size: 'medium', spacing: 'small' }),
  ];
  if (label) items.push(text(`_${escapeCardMarkdown(label)}_`, { isSubtle: true, spacing: 'none' }));
  // A follow-up is a new card (Teams cannot edit or thread): it names the change it follows up.
  if (c.followsUp) items.push(text(`**${escapeCardMarkdown(priorAlertSentence(c.followsUp, reader.timeZone))}**`, { spacing: 'small' }));
  const facts: { title: string; value: string }[] = [];
  if (clause) facts.push({ title: 'Clause', value: escapeCardMarkdown(cut(clause, 300)) });
  if (c.effectiveAt) facts.push({ title: 'Effective', value: `${formatDate(c.effectiveAt)} (${effectiveDatePhrase(c.effectiveAt, reader.now, reader.timeZone)})` });
  facts.push({ title: 'Detected', value: formatDateTime(c.detectedAt, reader.timeZone) });
  items.push({ type: 'FactSet', facts });
  if (c.summary) items.push(text(escapeCardMarkdown(cut(c.summary, 1500))));
  if (c.impact) items.push(text(`**Why it matters:** ${escapeCardMarkdown(cut(c.impact, 1000))}`));
  if (opts.diff) {
    const d = diffExcerpt(c, 2, 300);
    for (const l of d.removed) items.push(text(`− ${escapeCardMarkdown(l)}`, { fontType: 'monospace', color: 'attention', spacing: 'small' }));
    for (const l of d.added) items.push(text(`+ ${escapeCardMarkdown(l)}`, { fontType: 'monospace', color: 'good', spacing: 'small' }));
  }
  if (c.evidence?.sha256) items.push(text(`Evidence: SHA-256 ${c.evidence.sha256.slice(0, 16)}…`, { isSubtle: true, size: 'small' }));
  const copy = evidenceLink(c);
  // The review page (the review trail): Teams cards get a link where Slack and Discord get buttons.
  items.push(...actionSet([opts.reviewUrl ? openUrl('Review', opts.reviewUrl) : undefined, openUrl('View change', c.changeUrl), copy && openUrl(copy.label === 'archived copy' ? 'Archived copy' : 'Snapshot', copy.url), openUrl('Document', c.document.url)]));
  return { type: 'Container', style: 'emphasis', separator: true, spacing: 'medium', items };
}

const card = (body: CardElement[], actions: CardElement[] = []): AdaptiveCard => ({
  type: 'AdaptiveCard',
  $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
  version: '1.5',
  body,
  ...(actions.length ? { actions } : {}),
  msteams: { width: 'Full' },
});

export const teamsMessage = (content: AdaptiveCard): TeamsMessage => ({
  type: 'message',
  attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content }],
});

/** The request body's size in bytes, as Teams counts it. */
export const teamsMessageBytes = (m: TeamsMessage): number => utf8Length(JSON.stringify(m));

/**
 * Packs body elements into as few cards as the size limit allows, in order; each part repeats the
 * headline (with "(2/3)") and the closing actions. An element too large alone is still sent alone.
 */
export function packCards(headline: string, elements: CardElement[], footer: CardElement[], actions: CardElement[]): TeamsMessage[] {
  const size = (els: CardElement[]) => utf8Length(JSON.stringify(els));
  const fixed = size([text(headline), ...footer, ...actions]) + 600;
  const parts: CardElement[][] = [];
  let current: CardElement[] = [];
  let used = fixed;
  for (const el of elements) {
    const s = size([el]);
    if (current.length && used + s > TEAMS_BUDGET) {
      parts.push(current);
      current = [];
      used = fixed;
    }
    current.push(el);
    used += s;
  }
  parts.push(current);
  return parts.map((els, i) =>
    teamsMessage(card([text(parts.length > 1 ? `${headline} (${i + 1}/${parts.length})` : headline, { weight: 'bolder', size: 'large' }), ...els, ...footer], actions)),
  );
}

export function renderAlertTeams(a: AlertContent): TeamsMessage[] {
  const elements: CardElement[] = [];
  if (a.budget && a.changes.length) {
    // One line per change, each with its review page (Teams webhooks take no answers back).
    for (const c of a.changes) {
      const line = text(`**${SEVERITY_LABELS[c.severity]}** · ${escapeCardMarkdown(c.platform.name)} · ${escapeCardMarkdown(c.document.title)}: ${escapeCardMarkdown(c.title)}`);
      const review = a.links.review?.[c.eventId];
      elements.push(review ? { type: 'Container', spacing: 'small', items: [line, ...actionSet([openUrl('Review', review), openUrl('View change', c.changeUrl)])] } : line);
    }
    elements.push(text("Every one of them is also in this channel's weekly digest.", { isSubtle: true }));
  } else {
    for (const c of a.changes) elements.push(changeContainer(c, a.reader, { diff: true, reviewUrl: a.links.review?.[c.eventId] }));
  }
  for (const n of a.notices) {
    elements.push(
      text(`**Monitoring:** ${escapeCardMarkdown(n.platform.name)} · ${escapeCardMarkdown(n.document.title)} ${n.kind === 'unreachable' ? 'cannot be read since' : 'can be read again since'} ${formatDateTime(n.detectedAt, a.reader.timeZone)}`),
    );
  }
  const footer = [text('ClauseWatch', { isSubtle: true, size: 'small' })];
  const view = openUrl('All changes of this alert', a.links.view);
  return packCards(escapeCardMarkdown(alertHeadline(a)), elements, footer, view ? [view] : []);
}

export function renderDigestTeams(d: DigestContent): TeamsMessage[] {
  const elements: CardElement[] = [
    text(d.total ? `**${escapeCardMarkdown(digestHeadline(d))}**  \n${escapeCardMarkdown(countsLine(d.counts))}` : '**No policy changes this week.** Monitoring ran; each document’s last check is below.'),
  ];
  for (const g of d.groups) {
    elements.push(text(`**${escapeCardMarkdown(g.platform.name)}** · ${escapeCardMarkdown(countsLine(g.counts))}`, { separator: true, spacing: 'large' }));
    for (const c of g.changes) elements.push(changeContainer(c, d.reader, { diff: false }));
  }
  if (d.upcoming.length) {
    elements.push(text('**Upcoming effective dates (30 days)**', { separator: true, spacing: 'large' }));
    for (const c of d.upcoming) {
      elements.push(text(`${formatDate(c.effectiveAt!)} · **${escapeCardMarkdown(c.platform.name)}** · ${escapeCardMarkdown(c.title)} (${effectiveDatePhrase(c.effectiveAt!, d.reader.now, d.reader.timeZone)})`, { spacing: 'small' }));
    }
  }
  const monitoring = [
    ...d.notices.map((n) => `${formatDateTime(n.detectedAt, d.reader.timeZone)}: ${escapeCardMarkdown(n.platform.name)} · ${escapeCardMarkdown(n.document.title)} ${n.kind === 'unreachable' ? 'could not be read' : 'could be read again'}`),
    ...d.flapping.map((f) => `${escapeCardMarkdown(flappingLine(f))} _(not alerted)_`),
  ];
  if (monitoring.length) elements.push(text('**Monitoring**', { separator: true }), ...monitoring.map((m) => text(m, { spacing: 'small' })));
  const verified = d.watched.flatMap((w) =>
    w.documents.map((doc) => `${escapeCardMarkdown(w.platform.name)} · ${escapeCardMarkdown(doc.title)}: ${doc.lastVerifiedAt === null ? 'not verified yet' : `verified ${formatDateTime(doc.lastVerifiedAt, d.reader.timeZone)}`}`),
  );
  for (let i = 0; i < verified.length; i += 10) elements.push(text(verified.slice(i, i + 10).join('  \n'), { isSubtle: true, size: 'small' }));
  const footer = [text('ClauseWatch weekly digest', { isSubtle: true, size: 'small' })];
  const view = openUrl('View in browser', d.links.view);
  return packCards(`Weekly digest · ${periodLabel(d)}`, elements, footer, view ? [view] : []);
}
