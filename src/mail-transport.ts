import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer, { type Transporter, type TransportOptions } from 'nodemailer';

/**
 * The mail transport: an SMTP pool when SMTP_URL is set, otherwise a nodemailer transport that
 * writes each message, fully built by nodemailer, as an .eml file (the embedded default: open it
 * in any mail client). Timeouts stay under the outbox lease (60 s).
 */
export function createMailTransport(
  smtpUrl: string | undefined,
  outboxDir: string,
  dkim?: { domainName: string; keySelector: string; privateKey: string },
): Transporter {
  if (smtpUrl) {
    return nodemailer.createTransport({
      url: smtpUrl,
      // nodemailer signs every message (RFC 6376) when given the key.
      ...(dkim ? { dkim } : {}),
      pool: true,
      maxConnections: 5,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    } as TransportOptions);
  }
  mkdirSync(outboxDir, { recursive: true });
  let sequence = 0;
  return nodemailer.createTransport({
    name: 'eml-file',
    version: '1',
    send(mail: any, callback: (err: Error | null, info?: unknown) => void) {
      const messageId: string = mail.message.messageId();
      mail.message.build((err: Error | null, raw: Buffer) => {
        if (err) return callback(err);
        const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${++sequence}.eml`;
        try {
          writeFileSync(join(outboxDir, name), raw);
        } catch (e) {
          return callback(e as Error);
        }
        callback(null, { envelope: mail.message.getEnvelope(), messageId, file: name });
      });
    },
  } as unknown as TransportOptions);
}
