import type { AlertContent, ChangeItem } from '../core/message.js';
import { alertHeadline, evidenceLink, itemLabel, SEVERITY_LABELS } from '../core/message.js';
import type { DigestContent } from '../core/digest.js';
import { awaitingHeading, countsLine, digestHeadline, flappingLine } from '../core/digest.js';
import { effectiveDatePhrase, formatDate, formatDateTime } from '../core/effective-date.js';
import type { ChatReply, Inline } from '../chat/commands.js';
import { cut } from './text.js';
import { diffExcerpt } from './email.js';
import { periodLabel } from './digest-email.js';
import { lifecycleSentence } from '../core/lifecycle.js';
import { AWAITING, decisionLine, type ChangeReview, type ReviewSource } from '../core/review.js';

/** Slack's Block Kit limits (https://api.slack.com/reference/block-kit). */
export const SLACK_LIMITS = { blocks: 50, sectionText: 3000, headerText: 150, contextElements: 10, fallbackText: 3000 } as const;

export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}
export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string; emoji?: boolean } }
  | { type: 'section'; block_id?: string; text: { type: 'mrkdwn'; text: string } }
  | { type: 'context'; block_id?: string; elements: { type: 'mrkdwn'; text: string }[] }
  | { type: 'actions'; block_id: string; elements: SlackActionElement[] }
  | { type: 'divider' };
export type SlackActionElement =
  | { type: 'button'; action_id: string; text: { type: 'plain_text'; text: string }; value: string; style?: 'primary' }
  | { type: 'users_select'; action_id: string; placeholder: { type: 'plain_text'; text: string } };


/**
 * Escapes text for Slack mrkdwn: &, < and > are the only control characters, so an event's text
 * can never make <!channel>, <!here>, a <@user> mention or a link it did not contain.
 */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A link whose label and URL are both escaped (a | in the URL would end it). */
export function mrkdwnLink(url: string, label: string): string {
  return `<${escapeMrkdwn(url).replace(/\|/g, '%7C')}|${escapeMrkdwn(label).replace(/\|/g, '¦')}>`;
}

const SEVERITY_EMOJI = { high: ':red_circle:', medium: ':large_orange_circle:', low: ':large_blue_circle:' } as const;

const header = (text: string): SlackBlock => ({ type: 'header', text: { type: 'plain_text', text: cut(text, SLACK_LIMITS.headerText), emoji: true } });
const context = (text: string): SlackBlock => ({ type: 'context', elements: [{ type: 'mrkdwn', text: cut(text, SLACK_LIMITS.sectionText) }] });

/** A section within Slack's 3,000 characters: cut, with the change link for the rest. */
function section(text: string, moreUrl?: string): SlackBlock {
  if (text.length <= SLACK_LIMITS.sectionText) return { type: 'section', text: { type: 'mrkdwn', text } };
  const tail = moreUrl ? `… ${mrkdwnLink(moreUrl, 'read the rest')}` : '…';
  // Cut before any half-escaped entity or half link.
  let body = text.slice(0, SLACK_LIMITS.sectionText - tail.length - 1);
  body = body.replace(/&[a-z]*$/, '').replace(/<[^>]*$/, '');
  return { type: 'section', text: { type: 'mrkdwn', text: `${body}${tail}` } };
}

export function changeMrkdwn(c: ChangeItem, reader: AlertContent['reader'], opts: { diff: boolean }): string {
  const clause = c.provision?.title ?? c.provision?.id;
  const title = c.changeUrl ? mrkdwnLink(c.changeUrl, c.title) : escapeMrkdwn(c.title);
  const lines = [
    `${SEVERITY_EMOJI[c.severity]} *${SEVERITY_LABELS[c.severity]}* · *${escapeMrkdwn(c.platform.name)}* · ${escapeMrkdwn(c.document.title)}${clause ? ` · ${escapeMrkdwn(clause)}` : ''}`,
    // Reverted or superseded since (an edited alert): the title struck through (a ~ inside would end the strike).
    `${c.lifecycle ? `~*${title.replace(/~/g, '∼')}*~` : `*${title}*`}${itemLabel(c, reader.timeZone) ? ` _(${itemLabel(c, reader.timeZone)})_` : ''}`,
  ];
  if (c.lifecycle) lines.push(`:leftwards_arrow_with_hook: *${escapeMrkdwn(lifecycleSentence(c.lifecycle, reader.timeZone))}*`);
  // The summary and impact are cut to what the section's 3,000 characters leave, so the lines
  // after them (the effective date, the diff, the evidence and its links) always stay.
  const prose = lines.length;
  if (c.effectiveAt) lines.push(`:date: Effective ${formatDate(c.effectiveAt)}: *${effectiveDatePhrase(c.effectiveAt, reader.now, reader.timeZone)}*`);
  if (opts.diff) {
    const d = diffExcerpt(c, 2, 300);
    for (const l of d.removed) lines.push(`> ~${escapeMrkdwn(l).replace(/~/g, '∼')}~`);
    for (const l of d.added) lines.push(`> ${escapeMrkdwn(l)}`);
  }
  const ev = c.evidence;
  const copy = evidenceLink(c);
  const proof = [
    ev?.sha256 ? `SHA-256 \`${ev.sha256.slice(0, 16)}…\`` : '',
    copy ? mrkdwnLink(copy.url, copy.label) : '',
    c.changeUrl ? mrkdwnLink(c.changeUrl, 'change record') : '',
  ].filter(Boolean);
  if (proof.length) lines.push(`Evidence: ${proof.join(' · ')}`);
  let room = SLACK_LIMITS.sectionText - lines.join('\n').length - 2;
  const texts = [c.summary && escapeMrkdwn(c.summary), c.impact && `_Why it matters:_ ${escapeMrkdwn(c.impact)}`].filter((t): t is string => !!t);
  const fitted: string[] = [];
  for (const t of texts) {
    // Cut plain text only (never inside an entity or the impact's italics); too little room: left out.
    const kept = t.length + 1 <= room ? t : room > 80 && !t.startsWith('_') ? `${t.slice(0, room - 2).replace(/&[a-z]*$/, '')}…` : undefined;
    if (!kept) break;
    fitted.push(kept);
    room -= kept.length + 1;
  }
  lines.splice(prose, 0, ...fitted);
  return lines.join('\n');
}

/** Splits blocks into messages of at most 50 blocks, in order; each keeps the fallback text. */
export function splitMessages(text: string, blocks: SlackBlock[]): SlackMessage[] {
  const out: SlackMessage[] = [];
  for (let i = 0; i < blocks.length; i += SLACK_LIMITS.blocks) {
    const part = blocks.slice(i, i + SLACK_LIMITS.blocks);
    const n = Math.ceil(blocks.length / SLACK_LIMITS.blocks);
    out.push({ text: cut(n > 1 ? `${text} (${out.length + 1}/${n})` : text, SLACK_LIMITS.fallbackText), blocks: part });
  }
  return out.length ? out : [{ text: cut(text, SLACK_LIMITS.fallbackText), blocks: [] }];
}

/** One line per change, for a message that lists rather than shows (the day's budget overflow). */
function changeLine(c: ChangeItem): string {
  const title = c.changeUrl ? mrkdwnLink(c.changeUrl, c.title) : escapeMrkdwn(c.title);
  return `${SEVERITY_EMOJI[c.severity]} *${SEVERITY_LABELS[c.severity]}* · ${escapeMrkdwn(c.platform.name)} · ${escapeMrkdwn(c.document.title)}: ${title}`;
}

/** Lines packed into as few sections as Slack's 3,000 characters allow. */
function listSections(lines: string[]): SlackBlock[] {
  const out: SlackBlock[] = [];
  let current = '';
  for (const line of lines) {
    if (current && current.length + 1 + line.length > SLACK_LIMITS.sectionText) {
      out.push(section(current));
      current = '';
    }
    current = current ? `${current}\n${line}` : line;
  }
  if (current) out.push(section(current));
  return out;
}

/** The header of a follow-up posted in the thread of the alert it reverts or supersedes. */
function followUpTitle(a: AlertContent): string {
  return a.followUp === 'reverted' ? 'Reverted' : `Superseded by a newer version`;
}

/** The action ids of the review buttons (bots/slack/reviews.ts handles them). */
export const REVIEW_ACTIONS = { reviewed: 'review_reviewed', notApplicable: 'review_not_applicable', assign: 'review_assign' } as const;

/** The change (its key) a review block is about: `cw-review:<key>` (buttons) or `cw-review-state:<key>` (the decision line). */
export function reviewRef(blockId: string | undefined): number | undefined {
  const m = /^cw-review(?:-state)?:(\d{1,15})$/.exec(blockId ?? '');
  return m ? Number(m[1]) : undefined;
}

const SLACK_USER_ID = /^[UW][A-Z0-9]{2,20}$/;
const REVIEW_MARK = { open: '', reviewed: ':white_check_mark:', not_applicable: ':heavy_minus_sign:', assigned: ':bust_in_silhouette:' } as const;

/** A person in a decision line: a Slack user as a mention (Slack shows @maria), anyone else by the name kept, escaped. */
function slackPerson(id: string | null | undefined, name: string, source: ReviewSource | undefined): string {
  return source === 'slack' && id && SLACK_USER_ID.test(id) ? `<@${id}>` : escapeMrkdwn(name);
}

/**
 * Under a change: its decision ("Reviewed by @maria, 2 Dec 09:14"), and while it awaits review
 * the buttons Reviewed and Not applicable and an Assign users select.
 */
export function reviewBlocks(r: ChangeReview | undefined, timeZone: string): SlackBlock[] {
  if (!r) return [];
  const out: SlackBlock[] = [];
  const line = decisionLine(r, timeZone, { text: escapeMrkdwn, person: slackPerson });
  if (line) out.push({ type: 'context', block_id: `cw-review-state:${r.ref}`, elements: [{ type: 'mrkdwn', text: `${REVIEW_MARK[r.status]} ${line}` }] });
  if (AWAITING.includes(r.status)) {
    out.push({
      type: 'actions',
      block_id: `cw-review:${r.ref}`,
      elements: [
        { type: 'button', action_id: REVIEW_ACTIONS.reviewed, text: { type: 'plain_text', text: 'Reviewed' }, value: r.ref, style: 'primary' },
        { type: 'button', action_id: REVIEW_ACTIONS.notApplicable, text: { type: 'plain_text', text: 'Not applicable' }, value: r.ref },
        { type: 'users_select', action_id: REVIEW_ACTIONS.assign, placeholder: { type: 'plain_text', text: r.status === 'assigned' ? 'Reassign' : 'Assign' } },
      ],
    });
  }
  return out;
}

/**
 * The day's budget overflow, one line per change, each with its review controls. A change with
 * buttons costs two blocks (its line, with the decision under it, and the buttons), so only as
 * many get buttons as fit Slack's 50 blocks beside the `fixed` ones (header, notices, footers)
 * and the sections that list the rest; the rest, least severe last, link to their review page
 * instead. One message, not several: a summary exists to keep a busy day from flooding the
 * channel. The layout depends only on the changes, never on their reviews (a button-holding
 * change is counted as two blocks even once decided), so the message edited after a decision
 * keeps every other change where it was, with its controls.
 */
function budgetReviewBlocks(a: AlertContent, fixed: number): SlackBlock[] {
  const reviews = a.reviews;
  if (!reviews) return listSections(a.changes.map(changeLine));
  const linked = (c: ChangeItem) => {
    const url = a.links.review?.[c.eventId];
    return url ? `${changeLine(c)} · ${mrkdwnLink(url, 'Review')}` : changeLine(c);
  };
  const layout = (withButtons: number) => listSections(a.changes.slice(withButtons).map(linked));
  let n = Math.min(a.changes.length, Math.floor((SLACK_LIMITS.blocks - fixed) / 2));
  while (n > 0 && fixed + 2 * n + layout(n).length > SLACK_LIMITS.blocks) n--;
  const out: SlackBlock[] = [];
  for (const c of a.changes.slice(0, n)) {
    const r = reviews[c.eventId];
    if (!r) {
      out.push(section(linked(c)));
      continue;
    }
    const line = decisionLine(r, a.reader.timeZone, { text: escapeMrkdwn, person: slackPerson });
    out.push({ ...section(`${changeLine(c)}${line ? `\n${REVIEW_MARK[r.status]} ${line}` : ''}`, c.changeUrl), block_id: `cw-review-state:${r.ref}` } as SlackBlock);
    out.push(...reviewBlocks(r, a.reader.timeZone).filter((b) => b.type === 'actions'));
  }
  return [...out, ...layout(n)];
}

export function renderAlertSlack(a: AlertContent): SlackMessage[] {
  const listed = a.budget && a.changes.length > 0;
  const title = a.reminder || listed
    ? alertHeadline(a)
    : a.followUp
      ? followUpTitle(a)
      : a.changes.length
        ? a.changes.length === 1 ? 'Policy change' : `${a.changes.length} policy changes`
        : 'Monitoring notice';
  const blocks: SlackBlock[] = [header(title)];
  if (listed) {
    // Past the day's alert limit: one message listing the rest, each linked to its change, with
    // its review controls (budgetReviewBlocks).
    blocks.push(...budgetReviewBlocks(a, 1 + a.notices.length + 2), context("Every one of them is also in this channel's weekly digest."));
  } else {
    for (const c of a.changes) {
      blocks.push(section(changeMrkdwn(c, a.reader, { diff: true }), c.changeUrl));
      blocks.push(...reviewBlocks(a.reviews?.[c.eventId], a.reader.timeZone));
      blocks.push({ type: 'divider' });
    }
  }
  for (const n of a.notices) {
    blocks.push(context(`:satellite_antenna: *Monitoring:* ${escapeMrkdwn(n.platform.name)} · ${escapeMrkdwn(n.document.title)} ${n.kind === 'unreachable' ? 'cannot be read since' : 'can be read again since'} ${formatDateTime(n.detectedAt, a.reader.timeZone)}`));
  }
  blocks.push(context('ClauseWatch · `/clausewatch list` to see what this channel watches'));
  return splitMessages(escapeMrkdwn(alertHeadline(a)), blocks);
}

export function renderDigestSlack(d: DigestContent): SlackMessage[] {
  const blocks: SlackBlock[] = [header(`Weekly digest · ${periodLabel(d)}`)];
  blocks.push(section(d.total ? `*${escapeMrkdwn(digestHeadline(d))}*\n${countsLine(d.counts)}` : '*No policy changes this week.* Monitoring ran; each document’s last check is below.'));
  for (const g of d.groups) {
    blocks.push({ type: 'divider' });
    blocks.push(section(`*${escapeMrkdwn(g.platform.name)}* · ${countsLine(g.counts)}`));
    for (const c of g.changes) blocks.push(section(changeMrkdwn(c, d.reader, { diff: false }), c.changeUrl));
  }
  if (d.awaiting) {
    blocks.push({ type: 'divider' });
    const more = d.awaiting.total - d.awaiting.items.length;
    blocks.push(section(`*${awaitingHeading(d.awaiting.total)}*\n${d.awaiting.items.map((a) => `• *${escapeMrkdwn(a.platform)}* · ${a.url ? mrkdwnLink(a.url, a.title) : escapeMrkdwn(a.title)}`).join('\n')}${more > 0 ? `\n_and ${more} more_` : ''}`));
  }
  if (d.upcoming.length) {
    blocks.push({ type: 'divider' });
    blocks.push(
      section(
        `*Upcoming effective dates (30 days)*\n${d.upcoming
          .map((c) => `• ${formatDate(c.effectiveAt!)} · *${escapeMrkdwn(c.platform.name)}* · ${escapeMrkdwn(c.title)} (${effectiveDatePhrase(c.effectiveAt!, d.reader.now, d.reader.timeZone)})`)
          .join('\n')}`,
      ),
    );
  }
  const monitoring = [
    ...d.notices.map((n) => `• ${formatDateTime(n.detectedAt, d.reader.timeZone)}: ${escapeMrkdwn(n.platform.name)} · ${escapeMrkdwn(n.document.title)} ${n.kind === 'unreachable' ? 'could not be read' : 'could be read again'}`),
    ...d.flapping.map((f) => `• ${escapeMrkdwn(flappingLine(f))} _(not alerted)_`),
  ];
  if (monitoring.length) blocks.push(section(`*Monitoring*\n${monitoring.join('\n')}`));
  const verified = d.watched.flatMap((w) =>
    w.documents.map((doc) => `${escapeMrkdwn(w.platform.name)} · ${escapeMrkdwn(doc.title)}: ${doc.lastVerifiedAt === null ? 'not verified yet' : `verified ${formatDateTime(doc.lastVerifiedAt, d.reader.timeZone)}`}`),
  );
  for (let i = 0; i < verified.length; i += 10) blocks.push(context(verified.slice(i, i + 10).join('\n')));
  blocks.push(context(`${mrkdwnLink(d.links.view, 'View in browser')} · \`/clausewatch list\``));
  return splitMessages(escapeMrkdwn(digestHeadline(d)), blocks);
}

/** A command reply, ephemeral: only the person who typed the command sees it. */
export function renderReplySlack(r: ChatReply): { response_type: 'ephemeral'; text: string; blocks: SlackBlock[] } {
  const inline = (p: Inline) =>
    typeof p === 'string' ? escapeMrkdwn(p) : 'code' in p ? `\`${escapeMrkdwn(p.code).replace(/`/g, "'")}\`` : 'bold' in p ? `*${escapeMrkdwn(p.bold)}*` : mrkdwnLink(p.link, p.label);
  const body = r.lines.map((l) => l.map(inline).join('')).join('\n');
  return {
    response_type: 'ephemeral',
    text: escapeMrkdwn(r.title),
    blocks: [section(`*${escapeMrkdwn(r.title)}*${body ? `\n${body}` : ''}`)],
  };
}
