/**
 * A loopback webhook receiver in its own process (as a customer's endpoint would be), so it does
 * not share an event loop with the benchmark. Answers 204 to every POST after reading the body,
 * counts the deliveries and the webhook-ids seen more than once, and reports both to the parent
 * when asked (`{ count: true }`); `{ reset: true }` forgets the ids (a new database numbers its
 * outbox from 1 again). It sends its port first.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let count = 0;
let repeated = 0;
const seen = new Set<string>();
const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    count++;
    const id = String(req.headers['webhook-id'] ?? '');
    if (seen.has(id)) repeated++;
    else seen.add(id);
    res.writeHead(204);
    res.end();
  });
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
process.on('message', (m: { count?: boolean; reset?: boolean }) => {
  if (m.reset) seen.clear();
  if (m.count) process.send?.({ count, repeated });
});
process.on('disconnect', () => process.exit(0));
