/**
 * A loopback SMTP server in its own process (as a real one would be), with smtp-server's default
 * settings bar the expired test certificate. Prints its port, then one line per 100 mails.
 */
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';

let count = 0;
const server = new SMTPServer({
  disabledCommands: ['AUTH', 'STARTTLS'],
  logger: false,
  onData(stream, _s, cb) {
    stream.on('data', () => {});
    stream.on('end', () => {
      count++;
      process.send?.({ count, at: Date.now() });
      cb();
    });
  },
});
server.on('error', () => {});
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.server.address() as AddressInfo).port }));
process.on('disconnect', () => process.exit(0));
