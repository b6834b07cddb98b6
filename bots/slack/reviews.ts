import type { App, BlockAction, ButtonAction, UsersSelectAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Db } from '../../src/db.js';
import type { Clock } from '../../src/core/clock.js';
import type { LinkSigner } from '../../src/links.js';
import { errorFields, type Logger } from '../../src/log.js';
import { REASON_MAX, type Decision } from '../../src/core/review.js';
import { decideReview } from '../../src/review/decide.js';
import { alertCarrying } from '../../src/review/messages.js';
import { changeTitle, chatDestinationFor } from '../../src/store/reviews.js';
import { escapeMrkdwn, renderAlertSlack, REVIEW_ACTIONS, reviewRef } from '../../src/render/slack.js';
import { cut } from '../../src/render/text.js';

export interface SlackReviewDeps {
  db: Db;
  clock: Clock;
  log: Logger;
  links: LinkSigner;
}

/** Where a button was pressed: the message (channel and ts) and the change it is about. */
interface Pressed {
  team: string;
  channel: string;
  ts: string;
  eventPk: number;
}

const REASON_VIEW = 'review_reason';

/**
 * The review buttons of same-day alerts in Slack (src/render/slack.ts draws them): Reviewed,
 * Not applicable (a modal asks for the reason) and Assign (a users select). Every handler acks
 * first, within Slack's 3 seconds, except the modal's submission, which is answered with the
 * refusal when there is one (Slack shows it under the field). After a decision the original
 * message is rendered again from its alert and edited with chat.update: the decided change shows
 * who decided and when, and loses its buttons.
 */
export function registerReviewActions(app: App, deps: SlackReviewDeps) {
  const pressed = (body: BlockAction, blockId: string | undefined): Pressed | undefined => {
    const eventPk = reviewRef(blockId);
    const team = body.team?.id ?? body.user.team_id;
    const channel = body.channel?.id ?? body.container?.channel_id;
    const ts = body.message?.ts ?? body.container?.message_ts;
    return eventPk !== undefined && team && channel && ts ? { team, channel, ts, eventPk } : undefined;
  };

  /**
   * The assignee's name for the record (users.info, scope users:read): the real name an auditor
   * reads, else the display name or handle. A workspace that installed the app before it asked
   * for users:read answers missing_scope; a user gone answers user_not_found; either way (or no
   * answer within 2 s) the record keeps the user id as the name, and the decision goes on.
   */
  async function assigneeName(client: WebClient, id: string): Promise<string> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const info = await Promise.race([
        client.users.info({ user: id }),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('users.info took longer than 2 s')), 2_000))),
      ]);
      const u = info.user;
      return u?.real_name || u?.profile?.real_name || u?.profile?.display_name || u?.name || id;
    } catch (err) {
      deps.log.warn('review.assignee_lookup_failed', { assigneeId: id, ...errorFields(err) });
      return id;
    } finally {
      clearTimeout(timer);
    }
  }

  async function decide(
    client: WebClient,
    where: Pressed,
    user: { id: string; name?: string; username?: string },
    status: Decision,
    extra: { reason?: string; assigneeId?: string } = {},
  ): Promise<{ refusal: string } | { destinationId: string }> {
    const destination = await chatDestinationFor(deps.db, { type: 'slack', workspace: where.team, channel: where.channel, eventPk: where.eventPk });
    if (!destination) return { refusal: 'This change was not alerted to this channel, so it cannot be reviewed here.' };
    const outcome = await decideReview(deps, {
      accountId: destination.accountId,
      destinationId: destination.id,
      change: { eventPk: where.eventPk },
      input: {
        status,
        source: 'slack',
        actorId: user.id,
        actorName: user.name || user.username || user.id,
        reason: extra.reason,
        assigneeId: extra.assigneeId,
        assigneeName: extra.assigneeId ? await assigneeName(client, extra.assigneeId) : undefined,
      },
    });
    return outcome.ok ? { destinationId: destination.id } : { refusal: outcome.refusal.message };
  }

  /** Decides, then shows the decision in the message (or the refusal to the one who pressed). */
  async function decideAndShow(client: WebClient, respond: (m: object) => Promise<unknown>, where: Pressed, user: Parameters<typeof decide>[2], status: Decision, extra?: Parameters<typeof decide>[4]) {
    const r = await decide(client, where, user, status, extra);
    if ('refusal' in r) await respond({ response_type: 'ephemeral', replace_original: false, text: escapeMrkdwn(r.refusal) }).catch(() => undefined);
    else await updateMessage(client, r.destinationId, where);
  }

  async function updateMessage(client: WebClient, destinationId: string, where: Pressed) {
    try {
      const alert = await alertCarrying(deps.db, deps.links, deps.clock(), destinationId, where.eventPk);
      if (!alert) return;
      const parts = renderAlertSlack(alert);
      const ref = String(where.eventPk);
      const part = parts.find((p) => p.blocks.some((b) => 'block_id' in b && reviewRef(b.block_id) === where.eventPk)) ?? (parts.length === 1 ? parts[0] : undefined);
      if (!part) return;
      await client.chat.update({ channel: where.channel, ts: where.ts, text: part.text, blocks: part.blocks as never });
      deps.log.info('review.message_updated', { destinationId, eventPk: ref });
    } catch (err) {
      // A message deleted since, or a channel left: the decision is recorded all the same.
      deps.log.warn('review.message_update_failed', { destinationId, ...errorFields(err) });
    }
  }

  app.action<BlockAction<ButtonAction>>({ action_id: REVIEW_ACTIONS.reviewed }, async ({ ack, body, action, client, respond }) => {
    await ack();
    const where = pressed(body, action.block_id);
    if (!where) return;
    await decideAndShow(client, respond, where, body.user, 'reviewed');
  });

  app.action<BlockAction<UsersSelectAction>>({ action_id: REVIEW_ACTIONS.assign }, async ({ ack, body, action, client, respond }) => {
    await ack();
    const where = pressed(body, action.block_id);
    if (!where || !action.selected_user) return;
    await decideAndShow(client, respond, where, body.user, 'assigned', { assigneeId: action.selected_user });
  });

  app.action<BlockAction<ButtonAction>>({ action_id: REVIEW_ACTIONS.notApplicable }, async ({ ack, body, action, client, respond }) => {
    await ack();
    const where = pressed(body, action.block_id);
    if (!where) return;
    // The trigger_id is good for 3 seconds: the modal opens at once, and the rules are applied
    // when it is submitted.
    const title = (await changeTitle(deps.db, where.eventPk)) ?? 'this change';
    try {
      await client.views.open({
        trigger_id: body.trigger_id,
        view: {
          type: 'modal',
          callback_id: REASON_VIEW,
          private_metadata: JSON.stringify(where),
          title: { type: 'plain_text', text: 'Not applicable' },
          submit: { type: 'plain_text', text: 'Record' },
          close: { type: 'plain_text', text: 'Cancel' },
          blocks: [
            { type: 'section', text: { type: 'mrkdwn', text: cut(`*${escapeMrkdwn(title)}*`, 3000) } },
            {
              type: 'input',
              block_id: 'reason',
              label: { type: 'plain_text', text: 'Why does this change not apply to you?' },
              element: { type: 'plain_text_input', action_id: 'reason', multiline: true, max_length: REASON_MAX },
            },
          ],
        },
      });
    } catch (err) {
      deps.log.warn('review.modal_failed', errorFields(err));
      await respond({ response_type: 'ephemeral', replace_original: false, text: 'The reason form could not be opened. Press the button again.' }).catch(() => undefined);
    }
  });

  app.view(REASON_VIEW, async ({ ack, body, view, client }) => {
    let where: Pressed;
    try {
      where = JSON.parse(view.private_metadata) as Pressed;
    } catch {
      return ack();
    }
    const reason = view.state.values.reason?.reason?.value ?? '';
    const r = await decide(client, where, body.user, 'not_applicable', { reason });
    if ('refusal' in r) return ack({ response_action: 'errors', errors: { reason: r.refusal } });
    await ack();
    await updateMessage(client, r.destinationId, where);
  });
}
