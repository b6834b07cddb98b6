import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';

export interface ReceivedMail {
  to: string[];
  raw: string;
  parsed: ParsedMail;
}

export interface SmtpBehaviour {
  /** Answer RCPT TO for these addresses with 550 (no such mailbox). */
  rejectRecipients?: Set<string>;
  /** Answer every RCPT TO with this permanent refusal, e.g. 550 5.7.1 relaying denied. */
  refuseRecipients?: { code: number; message: string };
  /** Answer the next N messages' DATA with this temporary failure code. */
  failNext?: { count: number; code: 421 | 451 };
  /**
   * Wait this long before answering MAIL FROM: a slow server. (Not at the end of DATA: a server
   * that keeps a message whose sender hung up before the 250 causes duplicates by design.)
   */
  delayMs?: number;
  /**
   * While set, a MAIL FROM that arrives waits for it: no new message can reach its 250, so a test
   * can let the ones already past MAIL FROM finish (`open` falls to 0) and know that nothing else
   * arrives while it does not yield. A MAIL FROM already waiting out `delayMs` when it is set is
   * not held, and counts as open once its delay ends: before the 250 it needs to end its DATA.
   */
  hold?: Promise<void>;
}

export interface TestSmtpServer {
  url: string;
  port: number;
  mails: ReceivedMail[];
  behaviour: SmtpBehaviour;
  /** Resolves once `n` mails have arrived (or rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  /**
   * Transactions past MAIL FROM and not yet answered at the end of DATA (or reset), from the
   * server's own session state: smtp-server sets a session's envelope sender when MAIL FROM is
   * accepted and clears it on RSET, EHLO and the reply to DATA.
   */
  open(): number;
  close(): Promise<void>;
}

/**
 * A real SMTP server on loopback (the smtp-server package), every accepted mail parsed with
 * mailparser. Its bundled certificate has expired, so AUTH and STARTTLS are off.
 */
export async function startSmtpServer(behaviour: SmtpBehaviour = {}, options: Partial<SMTPServerOptions> = {}): Promise<TestSmtpServer> {
  const mails: ReceivedMail[] = [];
  const waiters: (() => void)[] = [];
  const server = new SMTPServer({
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    ...options,
    onMailFrom(_address, _session, cb) {
      const after = (behaviour.hold ?? Promise.resolve()).then(() => (behaviour.delayMs ? new Promise((r) => setTimeout(r, behaviour.delayMs)) : undefined));
      void after.then(() => cb());
    },
    onRcptTo(address, _session, cb) {
      if (behaviour.rejectRecipients?.has(address.address.toLowerCase())) {
        const err = new Error('5.1.1 No such mailbox') as Error & { responseCode: number };
        err.responseCode = 550;
        return cb(err);
      }
      if (behaviour.refuseRecipients) {
        const err = new Error(behaviour.refuseRecipients.message) as Error & { responseCode: number };
        err.responseCode = behaviour.refuseRecipients.code;
        return cb(err);
      }
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        if (behaviour.failNext && behaviour.failNext.count > 0) {
          behaviour.failNext.count--;
          const err = new Error('4.3.0 Try again later') as Error & { responseCode: number };
          err.responseCode = behaviour.failNext.code;
          return cb(err);
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw, parsed: await simpleParser(raw) });
        waiters.splice(0).forEach((w) => w());
        cb();
      });
    },
  });
  // A client killed mid-session (the SIGKILL tests) resets its connection: expected here.
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') throw err;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    mails,
    behaviour,
    async waitFor(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (mails.length < n) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${n} mails, got ${mails.length}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, Math.min(left, 200));
        });
      }
      return mails;
    },
    open: () => [...server.connections].filter((c) => c.session.envelope.mailFrom).length,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
