import { Routes, type APIInteraction, type APIMessage } from 'discord-api-types/v10';
import type { REST } from '@discordjs/rest';
import type { Db } from '../../src/db.js';
import type { Clock } from '../../src/core/clock.js';
import type { LinkSigner } from '../../src/links.js';
import { errorFields, type Logger } from '../../src/log.js';
import { REASON_MAX, type Decision } from '../../src/core/review.js';
import { decideReview } from '../../src/review/decide.js';
import { alertCarrying } from '../../src/review/messages.js';
import { changeTitle, chatDestinationFor } from '../../src/store/reviews.js';
import { DISCORD_REVIEW, escapeDiscord, parseReviewId, renderAlertDiscord, reviewControls, type DiscordMessage } from '../../src/render/discord.js';
import { cut } from '../../src/render/text.js';
import { ANSWER_DEADLINE_MS } from '../../src/chat/commands.js';

export interface DiscordReviewDeps {
  db: Db;
  clock: Clock;
  log: Logger;
  links: LinkSigner;
}

/** Discord's interaction types and answers used here (discord-api-types names them too). */
const T = { component: 3, modalSubmit: 5 };
const R = { message: 4, deferredUpdate: 6, update: 7, modal: 9 };
const EPHEMERAL = 64;

/** The result of `work` if it comes within `ms`, else undefined (the work goes on). */
function within<T>(work: Promise<T>, ms = ANSWER_DEADLINE_MS): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

type Decided = { refusal: string } | { destinationId: string; channel: string };

export type InteractionAnswer = { type: number; data?: Record<string, unknown> };

const ephemeral = (content: string): InteractionAnswer => ({ type: R.message, data: { content: escapeDiscord(content), flags: EPHEMERAL, allowed_mentions: { parse: [] } } });

/** The message part of a re-rendered alert that a Discord message showed: the one with the same embed titles. */
function partShowing(parts: DiscordMessage[], titles: (string | undefined)[] | undefined, eventPk: number): DiscordMessage | undefined {
  if (titles) {
    const found = parts.find((p) => p.embeds.length === titles.length && p.embeds.every((e, i) => e.title === titles[i]));
    if (found) return found;
  }
  // An assigned change keeps its buttons: the part that has them (or, a budget message, its menu).
  const ref = String(eventPk);
  const withButtons = parts.find((p) =>
    p.components?.some((row) => row.components.some((c) => parseReviewId(c.custom_id)?.eventPk === eventPk || (c.type === 3 && c.options.some((o) => o.value === ref)))),
  );
  return withButtons ?? (parts.length === 1 ? parts[0] : undefined);
}

const messageBody = (m: DiscordMessage) => ({ content: m.content ?? '', embeds: m.embeds, components: m.components ?? [], allowed_mentions: m.allowed_mentions });

/**
 * The review buttons of same-day alerts in Discord (src/render/discord.ts draws them): Reviewed,
 * Not applicable (a modal, type 9, asks for the reason) and Assign (a user select, offered in an
 * ephemeral reply: a message has room for five rows only, one per change). Only members who may
 * manage subscriptions (the commands' rule) may decide. A decision answers UPDATE_MESSAGE (7)
 * with the message rendered again from its alert, or, when that takes longer than Discord's
 * 3 seconds allow, DEFERRED_UPDATE_MESSAGE (6) and an edit of the message afterwards.
 */
export function createDiscordReviews(deps: DiscordReviewDeps & { rest: REST; applicationId: string; answerDeadlineMs?: number; canManage: (permissions: string | undefined) => boolean }) {
  async function decide(i: APIInteraction, eventPk: number, status: Decision, extra: { reason?: string; assigneeId?: string; assigneeName?: string } = {}): Promise<Decided> {
    const guild = i.guild_id;
    const channel = i.channel?.id ?? (i as { channel_id?: string }).channel_id;
    const user = i.member?.user ?? i.user;
    if (!guild || !channel || !user) return { refusal: 'Reviews are decided in the server channel the alert was posted to.' };
    const destination = await chatDestinationFor(deps.db, { type: 'discord', workspace: guild, channel, eventPk });
    if (!destination) return { refusal: 'This change was not alerted to this channel, so it cannot be reviewed here.' };
    const outcome = await decideReview(deps, {
      accountId: destination.accountId,
      destinationId: destination.id,
      change: { eventPk },
      canManage: deps.canManage(i.member?.permissions),
      input: { status, source: 'discord', actorId: user.id, actorName: user.global_name || user.username || user.id, ...extra },
    });
    return outcome.ok ? ({ destinationId: destination.id, channel } as const) : ({ refusal: outcome.refusal.message });
  }

  async function rendered(destinationId: string, eventPk: number, titles: (string | undefined)[] | undefined): Promise<DiscordMessage | undefined> {
    const alert = await alertCarrying(deps.db, deps.links, deps.clock(), destinationId, eventPk);
    return alert ? partShowing(renderAlertDiscord(alert), titles, eventPk) : undefined;
  }

  /**
   * Decides from the controls a budget message's menu opened (an ephemeral reply naming the
   * budget message): answers UPDATE_MESSAGE with those controls showing the decision, and edits
   * the budget message itself through the bot, so its menus keep the changes still awaiting.
   */
  async function decideFromControls(i: APIInteraction, eventPk: number, messageId: string, status: Decision, extra?: { reason?: string }): Promise<{ answer: InteractionAnswer; later?: Promise<unknown> }> {
    let edit: Promise<unknown> | undefined;
    const work = (async (): Promise<InteractionAnswer> => {
      const r = await decide(i, eventPk, status, extra);
      if ('refusal' in r) return ephemeral(r.refusal);
      const alert = await alertCarrying(deps.db, deps.links, deps.clock(), r.destinationId, eventPk);
      if (!alert) return { type: R.deferredUpdate };
      const part = partShowing(renderAlertDiscord(alert), undefined, eventPk);
      if (part) {
        edit = deps.rest
          .patch(Routes.channelMessage(r.channel, messageId), { body: messageBody(part) })
          .catch((err) => deps.log.warn('discord.review_edit_failed', errorFields(err)));
      }
      const change = alert.changes.find((c) => alert.reviews?.[c.eventId]?.ref === String(eventPk));
      const review = change && alert.reviews?.[change.eventId];
      return change && review ? { type: R.update, data: messageBody(reviewControls(change, review, alert.reader, messageId)) } : { type: R.deferredUpdate };
    })();
    const answer = await within(work, deps.answerDeadlineMs);
    if (answer) return { answer, later: edit };
    const later = work
      .then(async (a) => {
        await edit;
        if (a.type === R.update) await deps.rest.patch(Routes.webhookMessage(deps.applicationId, i.token), { body: a.data, auth: false });
        else if (a.type === R.message) await deps.rest.post(Routes.webhook(deps.applicationId, i.token), { body: a.data, auth: false });
      })
      .catch((err) => deps.log.error('discord.review_followup_failed', errorFields(err)));
    return { answer: { type: R.deferredUpdate }, later };
  }

  /** A budget message's menu: the chosen change and its controls, to the chooser only. */
  async function controlsFor(i: APIInteraction, eventPk: number): Promise<InteractionAnswer> {
    const message = (i as { message?: APIMessage }).message;
    const channel = i.channel?.id ?? (i as { channel_id?: string }).channel_id;
    if (!i.guild_id || !channel || !message) return ephemeral('Reviews are decided in the server channel the alert was posted to.');
    const destination = await chatDestinationFor(deps.db, { type: 'discord', workspace: i.guild_id, channel, eventPk });
    const alert = destination && (await alertCarrying(deps.db, deps.links, deps.clock(), destination.id, eventPk));
    const change = alert ? alert.changes.find((c) => alert.reviews?.[c.eventId]?.ref === String(eventPk)) : undefined;
    const review = change && alert!.reviews?.[change.eventId];
    if (!alert || !change || !review) return ephemeral('This change was not alerted to this channel, so it cannot be reviewed here.');
    return { type: R.message, data: { ...messageBody(reviewControls(change, review, alert.reader, message.id)), flags: EPHEMERAL } };
  }

  /** Decides from a button or the modal on the alert message itself, and answers with the message updated. */
  async function decideOnMessage(i: APIInteraction, eventPk: number, status: Decision, extra?: { reason?: string }): Promise<{ answer: InteractionAnswer; later?: Promise<unknown> }> {
    const message = (i as { message?: APIMessage }).message;
    const titles = message?.embeds.map((e) => e.title);
    const work = (async (): Promise<InteractionAnswer> => {
      const r = await decide(i, eventPk, status, extra);
      if ('refusal' in r) return ephemeral(r.refusal);
      const part = await rendered(r.destinationId, eventPk, titles);
      return part ? { type: R.update, data: messageBody(part) } : { type: R.deferredUpdate };
    })();
    const answer = await within(work, deps.answerDeadlineMs);
    if (answer) return { answer };
    // Slow: acknowledge now, then edit the message (or say why not) through the interaction's webhook.
    const later = work
      .then((a) =>
        a.type === R.update
          ? deps.rest.patch(Routes.webhookMessage(deps.applicationId, i.token), { body: a.data, auth: false })
          : a.type === R.message
            ? deps.rest.post(Routes.webhook(deps.applicationId, i.token), { body: a.data, auth: false })
            : undefined,
      )
      .catch((err) => deps.log.error('discord.review_followup_failed', errorFields(err)));
    return { answer: { type: R.deferredUpdate }, later };
  }

  return {
    /** The answer to a component or modal interaction that is a review's, or undefined for any other. */
    async handle(i: APIInteraction): Promise<{ answer: InteractionAnswer; later?: Promise<unknown> } | undefined> {
      if (i.type !== T.component && i.type !== T.modalSubmit) return undefined;
      const data = i.data as { custom_id?: string; values?: string[]; resolved?: { users?: Record<string, { username?: string; global_name?: string | null }> }; components?: { components?: { custom_id?: string; value?: string }[] }[] };
      const id = parseReviewId(data.custom_id);
      if (!id) return undefined;
      // Refused before any modal or select is offered: nothing to fill in for nothing.
      if (!deps.canManage(i.member?.permissions)) return { answer: ephemeral('Only members with Manage Server or Manage Channels may decide reviews.') };
      const on = id.messageId ? `:${id.messageId}` : '';
      switch (id.action) {
        case 'pick': {
          const chosen = Number(data.values?.[0]);
          if (!Number.isSafeInteger(chosen)) return { answer: ephemeral('Choose a change to review.') };
          return { answer: await controlsFor(i, chosen) };
        }
        case 'reviewed':
          return id.messageId ? decideFromControls(i, id.eventPk, id.messageId, 'reviewed') : decideOnMessage(i, id.eventPk, 'reviewed');
        case 'not_applicable': {
          const title = (await changeTitle(deps.db, id.eventPk)) ?? 'this change';
          return {
            answer: {
              type: R.modal,
              data: {
                custom_id: `${DISCORD_REVIEW.reason}${id.eventPk}${on}`,
                title: 'Not applicable',
                components: [
                  {
                    type: 1,
                    components: [{ type: 4, custom_id: 'reason', style: 2, label: cut(`Why does "${title}" not apply?`, 45), min_length: 1, max_length: REASON_MAX, required: true }],
                  },
                ],
              },
            },
          };
        }
        case 'reason': {
          const reason = data.components?.flatMap((row) => row.components ?? []).find((c) => c.custom_id === 'reason')?.value ?? '';
          return id.messageId ? decideFromControls(i, id.eventPk, id.messageId, 'not_applicable', { reason }) : decideOnMessage(i, id.eventPk, 'not_applicable', { reason });
        }
        case 'assign': {
          const message = (i as { message?: APIMessage }).message;
          const title = (await changeTitle(deps.db, id.eventPk)) ?? 'this change';
          return {
            answer: {
              type: R.message,
              data: {
                content: `Assign **${escapeDiscord(cut(title, 200))}** to:`,
                flags: EPHEMERAL,
                allowed_mentions: { parse: [] },
                components: [{ type: 1, components: [{ type: 5, custom_id: `${DISCORD_REVIEW.assignee}${id.eventPk}:${id.messageId ?? message?.id ?? ''}`, placeholder: 'Choose a member', min_values: 1, max_values: 1 }] }],
              },
            },
          };
        }
        case 'assignee': {
          const assigneeId = data.values?.[0];
          if (!assigneeId) return { answer: ephemeral('Choose a member to assign the change to.') };
          const who = data.resolved?.users?.[assigneeId];
          const r = await decide(i, id.eventPk, 'assigned', { assigneeId, assigneeName: who?.global_name || who?.username || assigneeId });
          if ('refusal' in r) return { answer: { type: R.update, data: { content: escapeDiscord(r.refusal), components: [], allowed_mentions: { parse: [] } } } };
          // The select is on an ephemeral reply: the alert itself is edited through the bot.
          const later = (async () => {
            if (!id.messageId) return;
            const part = await rendered(r.destinationId, id.eventPk, undefined);
            if (part) await deps.rest.patch(Routes.channelMessage(r.channel, id.messageId), { body: messageBody(part) });
          })().catch((err) => deps.log.warn('discord.review_edit_failed', errorFields(err)));
          await within(later, deps.answerDeadlineMs);
          return { answer: { type: R.update, data: { content: `Assigned to <@${assigneeId}>.`, components: [], allowed_mentions: { parse: [] } } }, later };
        }
      }
    },
  };
}
