import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { guardedPost } from '../../src/webhook-guard.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? (server.closeAllConnections(), server.close(() => r())) : r())));

async function receiver(answer: (body: string, res: import('node:http').ServerResponse) => void): Promise<string> {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => answer(body, res));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}/hook?x=1`;
}

describe('a webhook POST (guardedPost)', () => {
  it('sends the body and headers and gives the status and Retry-After back', async () => {
    const seen: string[] = [];
    const url = await receiver((body, res) => {
      seen.push(body);
      res.writeHead(429, { 'Retry-After': '7' }).end('slow down');
    });
    const post = guardedPost(true);
    expect(await post({ url, headers: { 'content-type': 'application/json' }, body: '{"a":1}' })).toEqual({ status: 429, retryAfter: '7' });
    expect(await post({ url, headers: {}, body: '{"a":2}' })).toEqual({ status: 429, retryAfter: '7' });
    expect(seen).toEqual(['{"a":1}', '{"a":2}']);
  });

  it('reads the status of an answer with a long body, and the next POST still goes out', async () => {
    const url = await receiver((_, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(1_000_000)));
    const post = guardedPost(true);
    expect(await post({ url, headers: {}, body: '{}' })).toEqual({ status: 200, retryAfter: null });
    expect(await post({ url, headers: {}, body: '{}' })).toEqual({ status: 200, retryAfter: null });
  });

  it('gives up on a receiver that never answers, saying so', async () => {
    const url = await receiver(() => undefined);
    await expect(guardedPost(true, 300)({ url, headers: {}, body: '{}' })).rejects.toThrow('no answer within 0.3 s');
  });

  it('refuses a loopback address unless private addresses are allowed', async () => {
    const url = await receiver((_, res) => res.writeHead(204).end());
    await expect(guardedPost(false)({ url, headers: {}, body: '{}' })).rejects.toThrow(/private, loopback or link-local/);
  });
});
