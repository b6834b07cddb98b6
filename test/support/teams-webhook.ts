import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What Teams takes in one Workflows webhook request. */
export const TEAMS_BODY_LIMIT = 28 * 1024;

/**
 * Why a request body is not a card Teams would post, or null: the Workflows envelope (a
 * `message` with one Adaptive Card attachment), the card's required fields (type, version 1.5,
 * a body of typed elements, TextBlocks with text, facts with title and value, OpenUrl actions
 * with an http(s) url and a title), and the 28 KB limit.
 */
export function teamsCardProblem(raw: string): string | null {
  if (Buffer.byteLength(raw) > TEAMS_BODY_LIMIT) return `body of ${Buffer.byteLength(raw)} bytes is over 28 KB`;
  let m: any;
  try {
    m = JSON.parse(raw);
  } catch {
    return 'body is not JSON';
  }
  if (m?.type !== 'message') return 'envelope type is not "message"';
  if (!Array.isArray(m.attachments) || m.attachments.length !== 1) return 'envelope needs exactly one attachment';
  const a = m.attachments[0];
  if (a.contentType !== 'application/vnd.microsoft.card.adaptive') return `attachment contentType is ${a.contentType}`;
  const card = a.content;
  if (card?.type !== 'AdaptiveCard') return 'content is not an AdaptiveCard';
  if (card.version !== '1.5') return `card version is ${card.version}`;
  if (!Array.isArray(card.body) || !card.body.length) return 'card has no body';
  const problems: string[] = [];
  const walk = (el: any, where: string) => {
    if (typeof el?.type !== 'string') return problems.push(`${where} has no type`);
    switch (el.type) {
      case 'TextBlock':
        if (typeof el.text !== 'string' || !el.text) problems.push(`${where} TextBlock without text`);
        break;
      case 'FactSet':
        if (!Array.isArray(el.facts) || el.facts.some((f: any) => typeof f.title !== 'string' || typeof f.value !== 'string')) problems.push(`${where} FactSet with a bad fact`);
        break;
      case 'Container':
        if (!Array.isArray(el.items)) problems.push(`${where} Container without items`);
        else el.items.forEach((x: any, i: number) => walk(x, `${where}.items[${i}]`));
        break;
      case 'ActionSet':
        if (!Array.isArray(el.actions)) problems.push(`${where} ActionSet without actions`);
        else el.actions.forEach((x: any, i: number) => walk(x, `${where}.actions[${i}]`));
        break;
      case 'Action.OpenUrl':
        if (typeof el.title !== 'string' || !/^https?:\/\//.test(el.url ?? '')) problems.push(`${where} OpenUrl with url ${el.url}`);
        break;
      default:
        problems.push(`${where} has an element this stand-in does not know: ${el.type}`);
    }
    return 0;
  };
  card.body.forEach((x: any, i: number) => walk(x, `body[${i}]`));
  (card.actions ?? []).forEach((x: any, i: number) => walk(x, `actions[${i}]`));
  return problems.length ? problems.join('; ') : null;
}

/**
 * A Teams Workflows webhook on loopback: checks each request as Teams would (answering 400 to a
 * bad envelope or card), records what it got, and answers 202 Accepted as Workflows does, or what
 * the test sets (`state.answers` are used up first, one per request).
 */
export async function startTeamsWebhook() {
  const received: { raw: string; bytes: number; body: any; card: any; at: number }[] = [];
  const rejected: { raw: string; problem: string }[] = [];
  const state = { status: 202, retryAfter: undefined as string | undefined, answers: [] as { status: number; retryAfter?: string }[] };
  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const problem = req.headers['content-type']?.startsWith('application/json') ? teamsCardProblem(raw) : 'content-type is not application/json';
      if (problem) {
        rejected.push({ raw, problem });
        res.writeHead(400, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: { code: 'InvalidRequestContent', message: problem } }));
      }
      const body = JSON.parse(raw);
      received.push({ raw, bytes: Buffer.byteLength(raw), body, card: body.attachments[0].content, at: Date.now() });
      const answer = state.answers.shift() ?? { status: state.status, retryAfter: state.retryAfter };
      res.writeHead(answer.status, answer.retryAfter ? { 'retry-after': answer.retryAfter } : {});
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/workflows/abc123/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sig=secret-signature`,
    received,
    rejected,
    state,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
