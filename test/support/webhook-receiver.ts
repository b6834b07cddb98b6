import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/**
 * A webhook receiver on loopback that verifies every delivery with the `standardwebhooks`
 * package, as a customer's endpoint would: given secrets, a delivery none of them verifies is
 * refused with 401 (so a bad signature fails the test's delivery); otherwise it answers with the
 * status it is told to.
 */
export async function startWebhookReceiver() {
  const received: { headers: Record<string, string>; body: any; verified: Record<string, boolean> }[] = [];
  const state = { status: 200, secrets: [] as string[], retryAfter: undefined as string | undefined, beforeAnswer: undefined as (() => Promise<void>) | undefined };
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', async () => {
      await state.beforeAnswer?.();
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const verified: Record<string, boolean> = {};
      for (const s of state.secrets) {
        try {
          new Webhook(s).verify(raw, headers);
          verified[s] = true;
        } catch {
          verified[s] = false;
        }
      }
      received.push({ headers, body: JSON.parse(raw), verified });
      if (state.secrets.length && !Object.values(verified).some(Boolean)) {
        res.writeHead(401);
        return res.end();
      }
      res.writeHead(state.status, state.retryAfter ? { 'retry-after': state.retryAfter } : {});
      res.end();
    });
  });
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/hooks/clausewatch`, received, state, connections: () => connections, close: () => new Promise<void>((r) => server.close(() => r())) };
}
