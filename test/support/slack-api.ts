import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackCall {
  method: string;
  token: string | undefined;
  args: Record<string, any>;
}

/**
 * A loopback stand-in of Slack's Web API, enough for chat.postMessage, chat.update, views.open and users.info: records
 * calls, answers 429 with Retry-After when told to, refuses what Slack refuses (Block Kit limits →
 * invalid_blocks, unknown channels), and takes response_url posts of slash commands. It keeps the
 * messages it was sent by channel and ts: chat.update edits one (message_not_found for a ts it
 * never gave or one `deleteMessage` removed), a post with `thread_ts` is a reply in that thread
 * (Slack posts it at the channel's top level when the parent is gone, as this does).
 */
export async function startSlackApi() {
  const calls: SlackCall[] = [];
  const responses: { path: string; body: any }[] = [];
  /** `failNext`: the next call of a method answers this error once (e.g. chat.postMessage → internal_error). */
  const state = { rateLimitNext: 0, retryAfter: 1, channelErrors: new Map<string, string>(), failNext: new Map<string, string>() };
  /** The channel's messages as they stand now (edits applied), by `channel/ts`. */
  const posted = new Map<string, { channel: string; ts: string; text: string; blocks: any[]; thread_ts?: string; edits: number }>();
  /** The workspace's members users.info knows (by id); tests add them. */
  const users = new Map<string, { name: string; real_name?: string; profile?: { display_name?: string; real_name?: string } }>();
  let serial = 0;
  const key = (channel: string, ts: string) => `${channel}/${ts}`;
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let s = '';
      req.on('data', (c) => (s += c));
      req.on('end', () => resolve(s));
    });
  const server = createServer(async (req, res) => {
    const raw = await read(req);
    const json = (code: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(code, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (req.url?.startsWith('/respond/')) {
      responses.push({ path: req.url, body: JSON.parse(raw) });
      return json(200, { ok: true });
    }
    const method = req.url!.replace(/^\/api\//, '').replace(/\?.*$/, '');
    const args: Record<string, any> = (req.headers['content-type'] ?? '').includes('json') ? JSON.parse(raw || '{}') : Object.fromEntries(new URLSearchParams(raw));
    if (typeof args.blocks === 'string') args.blocks = JSON.parse(args.blocks);
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '') || args.token;
    if (state.rateLimitNext > 0) {
      state.rateLimitNext--;
      return json(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(state.retryAfter) });
    }
    if (method === 'oauth.v2.access') {
      if (args.code !== 'good-code') return json(200, { ok: false, error: 'invalid_code' });
      return json(200, {
        ok: true,
        access_token: 'xoxb-installed-token',
        token_type: 'bot',
        scope: 'commands,chat:write,chat:write.public,users:read',
        bot_user_id: 'UBOT2',
        app_id: 'A0001',
        team: { id: 'T0002', name: 'Beta Corp' },
        enterprise: null,
        authed_user: { id: 'U0002' },
        is_enterprise_install: false,
      });
    }
    if (method === 'auth.test') return json(200, { ok: true, team_id: 'T0001', user_id: 'UBOT', bot_id: 'BBOT' });
    if (method === 'views.open') {
      // A modal opens only with the trigger_id of an interaction (Slack: valid for 3 seconds).
      if (typeof args.view === 'string') args.view = JSON.parse(args.view);
      if (!args.trigger_id) return json(200, { ok: false, error: 'invalid_trigger_id' });
      calls.push({ method, token, args });
      return json(200, { ok: true, view: { id: `V${calls.length}`, ...args.view } });
    }
    if (method === 'users.info') {
      // users:read; `failNext` set to missing_scope stands for a workspace that never granted it.
      calls.push({ method, token, args });
      const failed = state.failNext.get(method);
      if (failed) {
        state.failNext.delete(method);
        return json(200, { ok: false, error: failed });
      }
      const user = users.get(args.user);
      return json(200, user ? { ok: true, user: { id: args.user, team_id: 'T0001', ...user } } : { ok: false, error: 'user_not_found' });
    }
    if (method !== 'chat.postMessage' && method !== 'chat.update') return json(200, { ok: false, error: 'unknown_method' });
    const failure = state.failNext.get(method);
    if (failure) {
      state.failNext.delete(method);
      return json(200, { ok: false, error: failure });
    }
    const channelError = state.channelErrors.get(args.channel);
    if (channelError) return json(200, { ok: false, error: channelError });
    const blocks: any[] = args.blocks ?? [];
    const ids = blocks.map((b) => b.block_id).filter((id) => id !== undefined);
    const invalid =
      blocks.length > 50 ||
      // Block ids are unique within a message, and at most 255 characters; so are action ids.
      new Set(ids).size !== ids.length ||
      ids.some((id) => typeof id !== 'string' || id.length > 255) ||
      blocks.some(
        (b) =>
          (b.type === 'header' && (b.text?.text?.length ?? 0) > 150) ||
          (b.type === 'section' && (b.text?.text?.length ?? 0) > 3000) ||
          (b.type === 'context' && (b.elements?.length > 10 || b.elements?.some((e: any) => e.text?.length > 3000))) ||
          (b.type === 'actions' && (b.elements?.length > 25 || b.elements?.some((e: any) => (e.action_id?.length ?? 0) > 255 || (e.text?.text?.length ?? 0) > 75 || (e.value?.length ?? 0) > 2000))),
      );
    if (invalid) return json(200, { ok: false, error: 'invalid_blocks' });
    if (method === 'chat.update') {
      const message = posted.get(key(args.channel, args.ts));
      if (!message) return json(200, { ok: false, error: 'message_not_found' });
      calls.push({ method, token, args });
      Object.assign(message, { text: args.text, blocks, edits: message.edits + 1 });
      return json(200, { ok: true, channel: args.channel, ts: args.ts, text: args.text });
    }
    calls.push({ method, token, args });
    const ts = `${1_790_000_000 + ++serial}.000100`;
    const parent = args.thread_ts ? posted.get(key(args.channel, args.thread_ts)) : undefined;
    posted.set(key(args.channel, ts), { channel: args.channel, ts, text: args.text, blocks, ...(parent ? { thread_ts: parent.ts } : {}), edits: 0 });
    return json(200, { ok: true, channel: args.channel, ts, message: { text: args.text, ...(parent ? { thread_ts: parent.ts } : {}) } });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/api`,
    responseUrl: (id: string) => `http://127.0.0.1:${port}/respond/${id}`,
    calls,
    responses,
    state,
    users,
    /** Messages at the channel's top level (not replies in a thread), as they stand now. */
    topLevel: () => [...posted.values()].filter((m) => !m.thread_ts),
    /** Replies in the thread of `ts`. */
    replies: (ts: string) => [...posted.values()].filter((m) => m.thread_ts === ts),
    message: (channel: string, ts: string) => posted.get(key(channel, ts)),
    /** Someone deleted the message: an edit of it is message_not_found from now on. */
    deleteMessage: (channel: string, ts: string) => posted.delete(key(channel, ts)),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
