import type { Transporter } from 'nodemailer';
import { DeliveryError, type Channel, type Send } from '../../channel.js';
import type { EmailMessage } from '../../../render/email.js';
import type { EmailTemplates } from '../../../render/template.js';
import type { EmailDestination } from './destination.js';
import { emailRenderers } from './render.js';

/** One mail as a mailer takes it. */
export interface Mail extends EmailMessage {
  to: string;
  /** `<key@domain>`: stable across retries, so a receiver (and our own duplicate checks) can tell a re-send. */
  messageId: string;
}

/**
 * How an edition hands a mail over: SMTP through nodemailer on Node (`smtpMailer`), Cloudflare
 * Email Service on Workers. It throws a classified DeliveryError.
 */
export type Mailer = (mail: Mail) => Promise<{ providerId: string | null }>;

export function emailSend(mailer: Mailer, messageIdDomain: string): Send<EmailDestination, EmailMessage> {
  return (destination, m, key) => mailer({ ...m, to: destination.address, messageId: `<${key}@${messageIdDomain}>` });
}

export interface EmailChannelOptions {
  mailer: Mailer;
  templates: EmailTemplates;
  /** Domain of Message-IDs, e.g. the host of PUBLIC_URL. */
  messageIdDomain: string;
  close?: () => Promise<void>;
}

export function createEmailChannel(o: EmailChannelOptions): Channel<'email', EmailMessage> {
  return { type: 'email', render: emailRenderers(o.templates), send: emailSend(o.mailer, o.messageIdDomain), close: o.close };
}

/**
 * The Node mailer: nodemailer builds the MIME and talks SMTP (pooled); this file only classifies
 * SMTP failures.
 */
export function smtpMailer(transport: Transporter, from: string): Mailer {
  return async (m) => {
    try {
      const info = await transport.sendMail({
        from,
        to: m.to,
        subject: m.subject,
        html: m.html,
        text: m.text,
        headers: m.headers,
        // base64 costs a third of quoted-printable's CPU in nodemailer, the pool's bottleneck here.
        textEncoding: 'base64',
        messageId: m.messageId,
      });
      return { providerId: info.messageId ?? null };
    } catch (err) {
      throw classifySmtpError(err);
    }
  };
}

/**
 * SMTP replies: 4xx is "try later". A 5xx to RCPT TO switches the destination off only when it
 * says the mailbox is gone: enhanced status 5.1.x (bad address) or 5.2.1 (mailbox disabled), or
 * without one the classic 550/551/553. A 5.7.x there is the receiving side refusing *us*
 * (relaying denied, our host blocked): the operator's to fix, like our own credentials, so it is
 * retried and never switches off every destination at once. Other 5xx refuse this message only.
 */
export function classifySmtpError(err: unknown): DeliveryError {
  const e = err as { responseCode?: number; command?: string; code?: string; message?: string; response?: string };
  const what = e.response ?? e.message ?? String(err);
  const label = `SMTP ${e.responseCode ?? e.code ?? 'error'}: ${what}`;
  const recipient = /RCPT/i.test(e.command ?? '') || e.code === 'EENVELOPE';
  // The enhanced status code is the one right after the reply code ("550 5.1.1 …"), never any
  // dotted number further on (an IP address in "Client host [5.1.2.3] blocked").
  const enhanced = e.responseCode ? new RegExp(`(?:^|\\D)${e.responseCode}[ -]([245])\\.(\\d{1,3})\\.(\\d{1,3})\\b`).exec(what) : null;
  const [, klass, subject, detail] = enhanced ?? [];
  // Our own credentials or sender refused (AUTH, MAIL FROM, 530), or a policy refusal of us at RCPT.
  if (e.code === 'EAUTH' || e.responseCode === 530 || /^(AUTH|MAIL FROM)/i.test(e.command ?? '') || (recipient && klass === '5' && subject === '7')) {
    return new DeliveryError(label, 'retry', { cause: err });
  }
  if (typeof e.responseCode === 'number' && e.responseCode >= 500 && e.responseCode < 600) {
    const mailboxGone = klass ? klass === '5' && (subject === '1' || (subject === '2' && detail === '1')) : [550, 551, 553].includes(e.responseCode);
    return new DeliveryError(label, 'permanent', { disableDestination: recipient && mailboxGone, cause: err });
  }
  return new DeliveryError(label, 'retry', { cause: err });
}
