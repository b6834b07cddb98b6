import type { AlertContent, ChangeItem } from '../core/message.js';
import { alertHeadline, evidenceLink, itemLabel, SEVERITY_LABELS } from '../core/message.js';
import type { DigestContent } from '../core/digest.js';
import { countsLine, digestHeadline, flappingLine } from '../core/digest.js';
import { effectiveDatePhrase, formatDate, formatDateTime } from '../core/effective-date.js';
import type { ChatReply, Inline } from '../chat/commands.js';
import { cut } from './text.js';
import { diffExcerpt } from './email.js';
import { periodLabel } from './digest-email.js';
import { lifecycleSentence } from '../core/lifecycle.js';

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

export interface DiscordMessage {
  content?: string;
  embeds: DiscordEmbed[];
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

export function changeEmbed(c: ChangeItem, reader: AlertContent['reader'], opts: { diff: boolean }): DiscordEmbed {
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
  const footer = "Every one of them is also in this channel's weekly digest.";
  for (const [i, c] of a.changes.entries()) {
    const title = c.changeUrl ? link(c.changeUrl, c.title) : escapeDiscord(c.title);
    const line = `**${SEVERITY_LABELS[c.severity]}** · ${escapeDiscord(c.platform.name)} · ${escapeDiscord(c.document.title)}: ${title}`;
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

export function renderAlertDiscord(a: AlertContent): DiscordMessage[] {
  const embeds = a.budget && a.changes.length ? [budgetEmbed(a)] : a.changes.map((c) => changeEmbed(c, a.reader, { diff: true }));
  for (const n of a.notices) {
    embeds.push({
      title: cut(`Monitoring: ${n.document.title} ${n.kind === 'unreachable' ? 'cannot be read' : 'can be read again'}`, DISCORD_LIMITS.title),
      description: `${escapeDiscord(n.platform.name)} · since ${formatDateTime(n.detectedAt, a.reader.timeZone)}`,
      color: 0x64748b,
    });
  }
  // A follow-up, posted as a reply to the alert it reverts or supersedes, says so first.
  const prefix = a.followUp === 'reverted' ? 'Reverted: ' : a.followUp === 'superseded' ? 'Superseded by a newer version: ' : '';
  return packEmbeds(embeds, `${prefix}${escapeDiscord(alertHeadline(a))}`);
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
