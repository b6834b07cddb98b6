import { App, isValidSlackRequest, type Receiver } from '@slack/bolt';
import type { Hono, Context } from 'hono';
import { eq } from 'drizzle-orm';
import type { Db } from '../../src/db.js';
import type { Clock } from '../../src/core/clock.js';
import { errorFields, type Logger } from '../../src/log.js';
import { slackLogger } from './logger.js';
import { destinations } from '../../db/schema.js';
import { ANSWER_DEADLINE_MS, parseCommandText, replyWithin, runCommand, type CommandDeps } from '../../src/chat/commands.js';
import { renderReplySlack } from '../../src/render/slack.js';
import { disableDestination } from '../../src/store/destinations.js';
import { CHAT_MAX_BYTES, readTextBody } from '../../src/http/body.js';
import { registerReviewActions, type SlackReviewDeps } from './reviews.js';

export interface SlackBotDeps {
  db: Db;
  clock: Clock;
  log: Logger;
  signingSecret: string;
  tokenFor: (team: string) => Promise<string | undefined>;
  commands: CommandDeps;
  /** Forget the workspace's installation (OAuth mode). */
  onWorkspaceGone?: (teamId: string) => Promise<void>;
  /** How long a command may take before it is acknowledged and answered through response_url. */
  answerDeadlineMs?: number;
  /** Web API base for the calls listeners make (chat.update, views.open); tests: loopback. */
  apiUrl?: string;
  /** The review buttons of alerts: how decisions are recorded and messages rendered again. */
  reviews?: SlackReviewDeps;
}

/**
 * A receiver that is no server: Bolt's own Express server is never started. Hono routes hand each
 * verified request to `app.processEvent`, and the listener's ack becomes the HTTP answer, so one
 * process and one port serve everything.
 */
class HonoReceiver implements Receiver {
  app: InstanceType<typeof App> | undefined;
  init(app: InstanceType<typeof App>) {
    this.app = app;
  }
  async start() {}
  async stop() {}
}

const sleep = (ms: number) => new Promise<null>((r) => setTimeout(() => r(null), ms));

export function createSlackBot(deps: SlackBotDeps) {
  const deadlineMs = deps.answerDeadlineMs ?? ANSWER_DEADLINE_MS;
  const receiver = new HonoReceiver();
  const app = new App({
    receiver,
    // Given only a token, Bolt would call auth.test on the first event: answer from our store instead.
    authorize: async ({ teamId }) => ({ botToken: teamId ? await deps.tokenFor(teamId) : undefined, botId: 'clausewatch', botUserId: 'clausewatch' }),
    logger: slackLogger(deps.log, 'slack.bolt_error'),
    ...(deps.apiUrl ? { clientOptions: { slackApiUrl: deps.apiUrl } } : {}),
  });
  if (deps.reviews) registerReviewActions(app, deps.reviews);

  app.command('/clausewatch', async ({ command, ack, respond }) => {
    const parsed = parseCommandText(command.text ?? '');
    const work = parsed.ok
      ? runCommand(deps.commands, { platform: 'slack', workspaceId: command.team_id, workspaceName: command.team_domain, channelId: command.channel_id, canManage: true }, parsed.command)
      : Promise.resolve(parsed.reply);
    const reply = await replyWithin(work, deadlineMs);
    if (reply) return ack(renderReplySlack(reply));
    // Slow: acknowledge now, answer through the response_url when done.
    await ack({ response_type: 'ephemeral', text: 'Working on it…' });
    await respond(renderReplySlack(await work));
  });

  // Uninstalled, or its tokens revoked: stop delivering to the workspace's channels.
  const workspaceGone = async (teamId: string | undefined, why: string) => {
    if (!teamId) return;
    const rows = await deps.db.select({ id: destinations.id }).from(destinations).where(eq(destinations.slackTeam, teamId));
    for (const r of rows) await disableDestination(deps.db, deps.clock, r.id, why);
    await deps.onWorkspaceGone?.(teamId);
    deps.log.info('slack.workspace_gone', { teamId, why, destinations: rows.length });
  };
  app.event('app_uninstalled', async ({ body }) => workspaceGone(body.team_id, 'Slack app uninstalled'));
  app.event('tokens_revoked', async ({ body }) => workspaceGone(body.team_id, 'Slack tokens revoked'));
  app.error(async (err) => deps.log.error('slack.listener_failed', errorFields(err)));

  async function handle(c: Context) {
    // Capped before the signature is checked: an unsigned 60 MB body is refused unread.
    const raw = await readTextBody(c, CHAT_MAX_BYTES);
    const signature = c.req.header('x-slack-signature') ?? '';
    const timestamp = Number(c.req.header('x-slack-request-timestamp') ?? NaN);
    // Bolt's verifier: v0 HMAC of "v0:timestamp:body", constant-time, timestamp within 5 minutes.
    const valid =
      !!deps.signingSecret &&
      Number.isFinite(timestamp) &&
      isValidSlackRequest({ signingSecret: deps.signingSecret, body: raw, headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': timestamp }, nowMilliseconds: deps.clock() });
    if (!valid) return c.json({ error: 'invalid_signature', message: 'The Slack signature is missing, wrong or too old.' }, 401);

    let body: Record<string, unknown>;
    try {
      if ((c.req.header('content-type') ?? '').includes('application/json')) body = JSON.parse(raw);
      else {
        body = Object.fromEntries(new URLSearchParams(raw));
        if (typeof body.payload === 'string') body = JSON.parse(body.payload);
      }
    } catch {
      return c.json({ error: 'invalid_body', message: 'The body could not be read.' }, 400);
    }
    if (body.type === 'url_verification') return c.json({ challenge: body.challenge });

    let acked: (v: unknown) => void = () => {};
    const ack = new Promise<unknown>((resolve) => (acked = resolve));
    receiver.app!.processEvent({ body, ack: async (response?: unknown) => acked(response ?? '') }).catch((err) => {
      deps.log.error('slack.process_failed', errorFields(err));
      acked('');
    });
    // An unknown command never acks: answer before Slack's deadline either way.
    const response = await Promise.race([ack, sleep(deadlineMs + 300).then(() => '')]);
    if (response && typeof response === 'object') return c.json(response);
    if (typeof response === 'string' && response) return c.text(response);
    return c.body(null, 200);
  }

  return {
    routes(hono: Hono) {
      hono.post('/slack/commands', handle);
      hono.post('/slack/events', handle);
      // Block Kit buttons and modal submissions: the same signature check and 3-second ack.
      hono.post('/slack/interactions', handle);
    },
  };
}
