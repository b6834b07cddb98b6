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

/** Discord's embed limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits). */
export const DISCORD_LIMITS = { title: 256, description: 4096, fields: 25, fieldName: 256, fieldValue: 1024, footer: 2048, total: 6000, embeds: 10, content: 2000 } as const;

export interface DiscordEmbed {
  title?: string;
  url?: string;
  description?: string;
  color?: number;
  fields?: { name: string; value: string; inline?: boolean }[];
  footer?: { text: string };
  timestamp?: string;
}

/** A string select's option (Discord: label, value and description of at most 100 characters). */
export interface DiscordSelectOption {
  label: string;
  value: string;
  description?: string;
}

/** An action row (type 1) of buttons (type 2), or one string select (type 3) or user select (type 5). */
export interface DiscordComponentRow {
  type: 1;
  components: (
    | { type: 2; style: 1 | 2 | 3 | 4; label: string; custom_id: string }
    | { type: 3; custom_id: string; placeholder?: string; options: DiscordSelectOption[]; min_values: 1; max_values: 1 }
    | { type: 5; custom_id: string; placeholder?: string }
  )[];
}

export interface DiscordMessage {
  content?: string;
  embeds: DiscordEmbed[];
  /** The review buttons of the message's changes: at most 5 rows, Discord's limit. */
  components?: DiscordComponentRow[];
  /** Always empty: no event text can ping @everyone, a role or a user. */
  allowed_mentions: { parse: [] };
  /** A reply to one of our messages (a follow-up): a plain message if that one is gone. */
  message_reference?: { message_id: string; fail_if_not_exists: false };
}

/**
 * Escapes text for Discord markdown, and defuses mentions: markdown characters get a backslash,
 * and @everyone, @here and <@…>, <@&…>, <#…> lose their meaning. allowed_mentions is empty on
 * every message as well, so even a mention that slipped through would ping nobody.
 */
export function escapeDiscord(s: string): string {
  return s
    .replace(/@(everyone|here)/g, '@\u200b$1')
    .replace(/<(@[!&]?|#)(\d+)>/g, '<\u200b$1$2>')
    .replace(/([\\*_~`|>#\-[\]()])/g, '\\$1');
}

const link = (url: string, label: string) => `[${escapeDiscord(label)}](${url.replace(/\)/g, '%29')})`;
const SEVERITY_COLORS = { high: 0xc81e1e, medium: 0xd97706, low: 0x2563eb } as const;

/** The characters Discord counts toward a message's 6,000. */
export function embedSize(e: DiscordEmbed): number {
  return (e.title?.length ?? 0) + (e.description?.length ?? 0) + (e.footer?.text.length ?? 0) + (e.fields ?? []).reduce((n, f) => n + f.name.length + f.value.length, 0);
}

function field(name: string, value: string, inline = true) {
  return { name: cut(name, DISCORD_LIMITS.fieldName), value: cut(value, DISCORD_LIMITS.fieldValue), inline };
}

export function changeEmbed(c: ChangeItem, reader: AlertContent['reader'], opts: { diff: boolean; review?: ChangeReview; reviewUrl?: string }): DiscordEmbed {
  const clause = c.provision?.title ?? c.provision?.id;
  const parts: string[] = [];
  if (c.lifecycle) parts.push(`**${escapeDiscord(lifecycleSentence(c.lifecycle, reader.timeZone))}**`);
  if (itemLabel(c, reader.timeZone)) parts.push(`*${itemLabel(c, reader.timeZone)}*`);
  if (c.summary) parts.push(escapeDiscord(c.summary));
  if (c.impact) parts.push(`**Why it matters:** ${escapeDiscord(c.impact)}`);
  if (opts.diff) {
    const d = diffExcerpt(c, 2, 300);
    for (const l of d.removed) parts.push(`− ~~${escapeDiscord(l)}~~`);
    for (const l of d.added) parts.push(`\\+ ${escapeDiscord(l)}`);
  }
  const fields = [field('Platform', escapeDiscord(c.platform.name)), field('Document', escapeDiscord(c.document.title))];
  if (clause) fields.push(field('Clause', escapeDiscord(clause)));
  fields.push(field('Severity', SEVERITY_LABELS[c.severity]));
  if (c.effectiveAt) fields.push(field('Effective', `${formatDate(c.effectiveAt)}: ${effectiveDatePhrase(c.effectiveAt, reader.now, reader.timeZone)}`));
  const ev = c.evidence;
  const copy = evidenceLink(c);
  const proof = [ev?.sha256 ? `SHA-256 \`${ev.sha256}\`` : '', copy ? link(copy.url, copy.label) : ''].filter(Boolean);
  if (proof.length) fields.push(field('Evidence', proof.join('\n'), false));
  const decided = opts.review && decisionLine(opts.review, reader.timeZone, { text: escapeDiscord, person: discordPerson });
  if (decided) fields.push(field('Review', decided, false));
  // A channel webhook's message: a markdown link to the change's signed review page. Not a link
  // button: a webhook no application owns sends components only with ?with_components=true, and
  // a link in the embed needs nothing of the kind.
  else if (opts.reviewUrl) fields.push(field('Review', link(opts.reviewUrl, 'Review this change'), false));
  // The description gets what the embed's 6,000 characters leave after its title and fields.
  // Reverted or superseded since (an edited alert): the title struck through.
  const title = c.lifecycle ? `~~${cut(escapeDiscord(c.title), DISCORD_LIMITS.title - 4)}~~` : cut(escapeDiscord(c.title), DISCORD_LIMITS.title);
  const room = Math.min(DISCORD_LIMITS.description, DISCORD_LIMITS.total - embedSize({ title, fields }));
  let description = parts.join('\n\n');
  if (description.length > room) {
    const more = c.changeUrl ? `… ${link(c.changeUrl, 'read the rest')}` : '…';
    description = `${description.slice(0, Math.max(0, room - more.length - 2)).replace(/\\$/, '')}${more}`;
  }
  return {
    title,
    url: c.changeUrl,
    description: description || undefined,
    color: SEVERITY_COLORS[c.severity],
    fields,
    timestamp: new Date(c.detectedAt).toISOString(),
  };
}

/** Packs embeds into messages of at most 10 embeds and 6,000 characters, in order. */
export function packEmbeds(embeds: DiscordEmbed[], content?: string): DiscordMessage[] {
  const out: DiscordMessage[] = [];
  let current: DiscordEmbed[] = [];
  let size = 0;
  for (const e of embeds) {
    const n = embedSize(e);
    if (current.length && (current.length === DISCORD_LIMITS.embeds || size + n > DISCORD_LIMITS.total)) {
      out.push({ embeds: current, allowed_mentions: { parse: [] } });
      current = [];
      size = 0;
    }
    current.push(e);
    size += n;
  }
  if (current.length) out.push({ embeds: current, allowed_mentions: { parse: [] } });
  if (content && out[0]) out[0].content = cut(content, DISCORD_LIMITS.content);
  return out;
}

/**
 * Past the day's alert limit: one embed listing the rest, each linked to its change, as many as
 * its description holds, the others counted.
 */
function budgetEmbed(a: AlertContent): DiscordEmbed {
  const lines: string[] = [];
  let size = 0;
  const unlisted = a.reviews ? a.changes.filter((c) => isAwaiting(a.reviews?.[c.eventId])).length - MAX_ROWS * MAX_OPTIONS : 0;
  const footer = `Every one of them is also in this channel's weekly digest${unlisted > 0 ? `, and the ${unlisted} awaiting review past these menus in its Awaiting review` : ''}.`;
  for (const [i, c] of a.changes.entries()) {
    const title = c.changeUrl ? link(c.changeUrl, c.title) : escapeDiscord(c.title);
    const review = a.reviews?.[c.eventId];
    const decided = review && decisionLine(review, a.reader.timeZone, { text: escapeDiscord, person: discordPerson });
    const page = a.links.review?.[c.eventId];
    const line = `**${SEVERITY_LABELS[c.severity]}** · ${escapeDiscord(c.platform.name)} · ${escapeDiscord(c.document.title)}: ${title}${decided ? ` — ${decided}` : page ? ` · ${link(page, 'Review')}` : ''}`;
    const rest = a.changes.length - i;
    if (size + line.length + 40 > DISCORD_LIMITS.description) {
      lines.push(`…and ${rest} more`);
      break;
    }
    lines.push(line);
    size += line.length + 1;
  }
  return { title: cut(escapeDiscord(alertHeadline(a)), DISCORD_LIMITS.title), description: lines.join('\n'), color: 0x64748b, footer: { text: footer } };
}

/**
 * The custom ids of the review components (bots/discord/reviews.ts handles them), each followed by
 * the change's key, and by the alert message's id when the component is not on that message (the
 * assignee select, the controls a budget message's menu opens). `pick` is a budget message's
 * menu of changes, followed by the key of its first option (custom ids are unique in a message).
 */
export const DISCORD_REVIEW = { reviewed: 'cw:rv:', not_applicable: 'cw:na:', assign: 'cw:as:', reason: 'cw:nar:', assignee: 'cw:asu:', pick: 'cw:pk:' } as const;
export type DiscordReviewAction = keyof typeof DISCORD_REVIEW;

/** What a review component's custom id names: the action, the change's key, and the alert message when the component is elsewhere. */
export function parseReviewId(customId: string | undefined): { action: DiscordReviewAction; eventPk: number; messageId?: string } | undefined {
  const m = /^cw:(rv|na|as|nar|asu|pk):(\d{1,15})(?::(\d{1,20}))?$/.exec(customId ?? '');
  if (!m) return undefined;
  const action = (Object.keys(DISCORD_REVIEW) as DiscordReviewAction[]).find((k) => DISCORD_REVIEW[k] === `cw:${m[1]}:`)!;
  return { action, eventPk: Number(m[2]), ...(m[3] ? { messageId: m[3] } : {}) };
}

const DISCORD_USER_ID = /^\d{17,20}$/;

/** A person in a decision line: a Discord member as a mention (it pings nobody: allowed_mentions is empty), anyone else by name, escaped. */
function discordPerson(id: string | null | undefined, name: string, source: ReviewSource | undefined): string {
  return source === 'discord' && id && DISCORD_USER_ID.test(id) ? `<@${id}>` : escapeDiscord(name);
}

/**
 * A change awaiting review: one row, Reviewed · Not applicable · Assign. `messageId`: the row is
 * not on the alert message itself (a budget message's controls, in an ephemeral reply), and
 * names the message a decision must edit.
 */
export function reviewRow(r: ChangeReview, messageId?: string): DiscordComponentRow {
  const on = messageId ? `:${messageId}` : '';
  return {
    type: 1,
    components: [
      { type: 2, style: 3, label: 'Reviewed', custom_id: `${DISCORD_REVIEW.reviewed}${r.ref}${on}` },
      { type: 2, style: 2, label: 'Not applicable', custom_id: `${DISCORD_REVIEW.not_applicable}${r.ref}${on}` },
      { type: 2, style: 1, label: r.status === 'assigned' ? 'Reassign' : 'Assign', custom_id: `${DISCORD_REVIEW.assign}${r.ref}${on}` },
    ],
  };
}

/** Discord allows 5 action rows per message, and 25 options per select. */
const MAX_ROWS = 5;
const MAX_OPTIONS = 25;

const isAwaiting = (r: ChangeReview | undefined): r is ChangeReview => !!r && AWAITING.includes(r.status);

/**
 * A budget message's review controls: the changes still awaiting review in string selects (25
 * each, up to Discord's five rows: 125 changes), most severe first. Choosing one answers, to the
 * chooser only, with that change and its Reviewed · Not applicable · Assign (reviewControls).
 * A menu rather than a review-page link per change: a decision then stays in Discord, under
 * the member's own Discord identity and the Manage Server / Manage Channels rule of every other
 * decision there, where a signed link posted in a channel would let anyone in it decide. A
 * menu also holds five times the changes five rows of buttons would, in a message that has no
 * room for 60 embeds. Option texts are plain text to Discord (no markdown, no mentions), so
 * they are cut, not escaped (a backslash would show).
 */
function budgetSelects(a: AlertContent): DiscordComponentRow[] {
  const awaiting = a.changes.filter((c) => isAwaiting(a.reviews?.[c.eventId]));
  const rows: DiscordComponentRow[] = [];
  for (let i = 0; i < awaiting.length && rows.length < MAX_ROWS; i += MAX_OPTIONS) {
    const chunk = awaiting.slice(i, i + MAX_OPTIONS);
    const options = chunk.map((c) => {
      const r = a.reviews![c.eventId]!;
      return {
        label: cut(`${c.platform.name}: ${c.title}`, 100),
        value: r.ref,
        description: cut(`${SEVERITY_LABELS[c.severity]} · ${c.document.title}${r.status === 'assigned' ? ' · assigned' : ''}`, 100),
      };
    });
    const span = awaiting.length > MAX_OPTIONS ? ` (${i + 1}–${i + chunk.length} of ${awaiting.length})` : '';
    rows.push({ type: 1, components: [{ type: 3, custom_id: `${DISCORD_REVIEW.pick}${options[0]!.value}`, placeholder: cut(`Review a change…${span}`, 150), options, min_values: 1, max_values: 1 }] });
  }
  return rows;
}

/**
 * What choosing a change in a budget message's menu shows the chooser (ephemeral): the change in
 * full, its decision so far, and while it awaits review its three controls, which name the budget
 * message so a decision can edit it.
 */
export function reviewControls(c: ChangeItem, r: ChangeReview, reader: AlertContent['reader'], messageId: string): DiscordMessage {
  return {
    embeds: [changeEmbed(c, reader, { diff: true, review: r })],
    components: isAwaiting(r) ? [reviewRow(r, messageId)] : [],
    allowed_mentions: { parse: [] },
  };
}

/** packEmbeds, for changes with review rows: a message also ends where a sixth row would not fit. */
function packWithRows(items: { embed: DiscordEmbed; row?: DiscordComponentRow }[], content?: string): DiscordMessage[] {
  const out: DiscordMessage[] = [];
  let embeds: DiscordEmbed[] = [];
  let rows: DiscordComponentRow[] = [];
  let size = 0;
  const flush = () => {
    out.push({ embeds, ...(rows.length ? { components: rows } : {}), allowed_mentions: { parse: [] } });
    embeds = [];
    rows = [];
    size = 0;
  };
  for (const it of items) {
    const n = embedSize(it.embed);
    if (embeds.length && (embeds.length === DISCORD_LIMITS.embeds || size + n > DISCORD_LIMITS.total || (it.row && rows.length === MAX_ROWS))) flush();
    embeds.push(it.embed);
    if (it.row) rows.push(it.row);
    size += n;
  }
  if (embeds.length) flush();
  if (content && out[0]) out[0].content = cut(content, DISCORD_LIMITS.content);
  return out;
}

export function renderAlertDiscord(a: AlertContent): DiscordMessage[] {
  // A follow-up, posted as a reply to the alert it reverts or supersedes, says so first.
  const prefix = a.followUp === 'reverted' ? 'Reverted: ' : a.followUp === 'superseded' ? 'Superseded by a newer version: ' : '';
  if (a.reviews && !(a.budget && a.changes.length)) {
    const items: { embed: DiscordEmbed; row?: DiscordComponentRow }[] = a.changes.map((c) => {
      const review = a.reviews?.[c.eventId];
      return { embed: changeEmbed(c, a.reader, { diff: true, review }), row: review && AWAITING.includes(review.status) ? reviewRow(review) : undefined };
    });
    for (const n of a.notices) items.push({ embed: noticeEmbed(n, a) });
    return packWithRows(items, `${prefix}${escapeDiscord(alertHeadline(a))}`);
  }
  const embeds = a.budget && a.changes.length ? [budgetEmbed(a)] : a.changes.map((c) => changeEmbed(c, a.reader, { diff: true, reviewUrl: a.links.review?.[c.eventId] }));
  for (const n of a.notices) embeds.push(noticeEmbed(n, a));
  const messages = packEmbeds(embeds, `${prefix}${escapeDiscord(alertHeadline(a))}`);
  // The budget embed is the first message's first: its menus go with it.
  const selects = a.budget && a.reviews ? budgetSelects(a) : [];
  if (selects.length) messages[0]!.components = selects;
  return messages;
}

function noticeEmbed(n: ChangeItem, a: AlertContent): DiscordEmbed {
  return {
    title: cut(`Monitoring: ${n.document.title} ${n.kind === 'unreachable' ? 'cannot be read' : 'can be read again'}`, DISCORD_LIMITS.title),
    description: `${escapeDiscord(n.platform.name)} · since ${formatDateTime(n.detectedAt, a.reader.timeZone)}`,
    color: 0x64748b,
  };
}

export function renderDigestDiscord(d: DigestContent): DiscordMessage[] {
  const embeds: DiscordEmbed[] = [
    {
      title: cut(`Weekly digest · ${periodLabel(d)}`, DISCORD_LIMITS.title),
      url: d.links.view,
      description: d.total ? `**${escapeDiscord(digestHeadline(d))}**\n${countsLine(d.counts)}` : '**No policy changes this week.** Monitoring ran; each document’s last check is below.',
      color: 0x1f2933,
    },
  ];
  for (const g of d.groups) {
    for (const c of g.changes) embeds.push(changeEmbed(c, d.reader, { diff: false }));
  }
  const extra: string[] = [];
  if (d.awaiting) {
    const more = d.awaiting.total - d.awaiting.items.length;
    extra.push(`**${awaitingHeading(d.awaiting.total)}**\n${d.awaiting.items.map((a) => `• ${escapeDiscord(a.platform)} · ${a.url ? link(a.url, a.title) : escapeDiscord(a.title)}`).join('\n')}${more > 0 ? `\n*and ${more} more*` : ''}`);
  }
  if (d.upcoming.length) {
    extra.push(`**Upcoming effective dates (30 days)**\n${d.upcoming.map((c) => `• ${formatDate(c.effectiveAt!)} · ${escapeDiscord(c.platform.name)} · ${escapeDiscord(c.title)}`).join('\n')}`);
  }
  const monitoring = [
    ...d.notices.map((n) => `• ${formatDateTime(n.detectedAt, d.reader.timeZone)}: ${escapeDiscord(n.document.title)} ${n.kind === 'unreachable' ? 'could not be read' : 'could be read again'}`),
    ...d.flapping.map((f) => `• ${escapeDiscord(flappingLine(f))} *(not alerted)*`),
  ];
  if (monitoring.length) extra.push(`**Monitoring**\n${monitoring.join('\n')}`);
  extra.push(
    `**Watched documents**\n${d.watched
      .flatMap((w) => w.documents.map((doc) => `• ${escapeDiscord(w.platform.name)} · ${escapeDiscord(doc.title)}: ${doc.lastVerifiedAt === null ? 'not verified yet' : formatDateTime(doc.lastVerifiedAt, d.reader.timeZone)}`))
      .join('\n')}`,
  );
  embeds.push({ description: cut(extra.join('\n\n'), DISCORD_LIMITS.description), color: 0x64748b });
  return packEmbeds(embeds, escapeDiscord(digestHeadline(d)));
}

/** A command reply: ephemeral (flag 64), mentions off. */
export function renderReplyDiscord(r: ChatReply): { content: string; flags: 64; allowed_mentions: { parse: [] } } {
  const inline = (p: Inline) =>
    typeof p === 'string' ? escapeDiscord(p) : 'code' in p ? `\`${p.code.replace(/`/g, "'")}\`` : 'bold' in p ? `**${escapeDiscord(p.bold)}**` : link(p.link, p.label);
  const body = r.lines.map((l) => l.map(inline).join('')).join('\n');
  return { content: cut(`**${escapeDiscord(r.title)}**${body ? `\n${body}` : ''}`, DISCORD_LIMITS.content), flags: 64, allowed_mentions: { parse: [] } };
}
