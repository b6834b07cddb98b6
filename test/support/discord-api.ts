import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback stand-in of Discord's REST API: records channel and webhook messages, answers 429
 * with rate-limit headers when told to, refuses embeds over Discord's limits with 400 (code
 * 50035) and the channel errors it is told to (404 Unknown Channel, 403 Missing Access…), as Discord does.
 * Message edits (PATCH of a channel message, or of a webhook's own message) are recorded in
 * `edits` and applied; a message `deleteMessage` removed (or never sent) answers 404 Unknown
 * Message (10008). A reply (`message_reference`) to a message that is gone is refused with 400
 * unless it says `fail_if_not_exists: false`, then it is an ordinary message.
 */
export async function startDiscordApi() {
  const messages: { channel?: string; webhook?: string; auth?: string; body: any }[] = [];
  const edits: { path: string; body: any; channel?: string; webhook?: string; id?: string }[] = [];
  const deleted = new Set<string>();
  const unknownMessage = { message: 'Unknown Message', code: 10008 };
  /** Channels that answer with an error as Discord does: 404 Unknown Channel, 403 Missing Access… */
  const state = { rateLimitNext: 0, channelErrors: new Map<string, { status: number; code: number; message: string }>(), rateLimited: 0 };
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let s = '';
      req.on('data', (c) => (s += c));
      req.on('end', () => resolve(s));
    });
  const tooBig = (body: any) => {
    const embeds: any[] = body.embeds ?? [];
    if (embeds.length > 10) return true;
    let total = 0;
    for (const e of embeds) {
      if ((e.title?.length ?? 0) > 256 || (e.description?.length ?? 0) > 4096 || (e.fields?.length ?? 0) > 25) return true;
      if ((e.fields ?? []).some((f: any) => f.name.length > 256 || f.value.length > 1024)) return true;
      total += (e.title?.length ?? 0) + (e.description?.length ?? 0) + (e.footer?.text?.length ?? 0) + (e.fields ?? []).reduce((n: number, f: any) => n + f.name.length + f.value.length, 0);
    }
    // Components: at most 5 action rows of at most 5 parts, custom ids of at most 100 characters.
    const rows: any[] = body.components ?? [];
    const badRows =
      rows.length > 5 ||
      rows.some((r) => r.type !== 1 || !r.components?.length || r.components.length > 5 || r.components.some((c: any) => !c.custom_id || c.custom_id.length > 100 || (c.label?.length ?? 0) > 80));
    return total > 6000 || (body.content?.length ?? 0) > 2000 || badRows;
  };
  const server = createServer(async (req, res) => {
    const raw = await read(req);
    const json = (code: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(code, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const url = req.url!.replace(/\?.*$/, '');
    if (req.method === 'PATCH' && /\/webhooks\/\d+\/[^/]+\/messages\/@original$/.test(url)) {
      edits.push({ path: url, body: JSON.parse(raw) });
      return json(200, { id: '1' });
    }
    if (state.rateLimitNext > 0) {
      state.rateLimitNext--;
      state.rateLimited++;
      return json(429, { message: 'You are being rate limited.', retry_after: 0.2, global: false }, {
        'retry-after': '0.2',
        'x-ratelimit-limit': '5',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset-after': '0.2',
        'x-ratelimit-bucket': 'test-bucket',
        'x-ratelimit-scope': 'user',
      });
    }
    const body = raw ? JSON.parse(raw) : {};
    const edited = req.method === 'PATCH' ? /\/api\/v10\/(?:channels\/(\d+)|webhooks\/(\d+)\/[^/]+)\/messages\/(\d+)$/.exec(url) : null;
    if (edited) {
      const [, ch, hook, id] = edited;
      const original = messages[Number(id) - 1];
      if (!original || deleted.has(id!) || (ch ? original.channel !== ch : original.webhook !== hook)) return json(404, unknownMessage);
      if (tooBig(body)) return json(400, { message: 'Invalid Form Body', code: 50035, errors: {} });
      edits.push({ path: url, body, channel: ch, webhook: hook, id });
      original.body = { ...original.body, ...body };
      return json(200, { id, channel_id: ch ?? '0' });
    }
    const channel = /\/api\/v10\/channels\/(\d+)\/messages$/.exec(url)?.[1];
    const webhook = /\/api\/v10\/webhooks\/(\d+)\/([^/]+)$/.exec(url)?.[1];
    const refused = channel ? state.channelErrors.get(channel) : undefined;
    if (refused) return json(refused.status, { message: refused.message, code: refused.code });
    if (!channel && !webhook) return json(404, { message: '404: Not Found', code: 0 });
    if (tooBig(body)) return json(400, { message: 'Invalid Form Body', code: 50035, errors: {} });
    const ref = body.message_reference?.message_id as string | undefined;
    if (ref && (deleted.has(ref) || !messages[Number(ref) - 1]) && body.message_reference.fail_if_not_exists !== false) {
      return json(400, { message: 'Invalid Form Body', code: 50035, errors: { message_reference: { _errors: [{ code: 'REPLIES_UNKNOWN_MESSAGE', message: 'Unknown message' }] } } });
    }
    messages.push({ channel, webhook, auth: req.headers.authorization, body });
    return json(200, { id: String(messages.length), channel_id: channel ?? '0' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/api`,
    messages,
    edits,
    state,
    /** The message with this id as it stands now (edits applied), unless deleted. */
    message: (id: string) => (deleted.has(id) ? undefined : messages[Number(id) - 1]),
    /** Someone deleted the message: editing it is 404 Unknown Message from now on. */
    deleteMessage: (id: string) => deleted.add(id),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
