import type { Transporter } from 'nodemailer';
import type { ChannelAdapter, SendContext } from '../channel.js';
import type { DestinationRow } from '../../store/destinations.js';
import { DeliveryError } from '../channel.js';
import type { EmailTemplates } from '../../render/template.js';
import { renderDigestEmail } from '../../render/digest-email.js';
import { renderAlertEmail, renderConfirmationEmail, renderManageLinkEmail, type EmailMessage } from '../../render/email.js';

export interface EmailChannelOptions {
  transport: Transporter;
  from: string;
  templates: EmailTemplates;
  /** Domain of Message-IDs, e.g. the host of PUBLIC_URL. */
  messageIdDomain: string;
}

/** Changes' digest HTML kept between messages: a digest run repeats the same week's changes. */
const DIGEST_CACHE_ENTRIES = 20_000;

/**
 * Content to mail, through the compiled templates: the Node SMTP channel and the Workers Email
 * Service channel render with this one function, so both editions send the same mails.
 */
export function createEmailRenderer(templates: EmailTemplates, digestCacheEntries = DIGEST_CACHE_ENTRIES): ChannelAdapter<EmailMessage>['render'] {
  // Each change's HTML is made once per time zone and quarter hour and shared by every digest that lists
  // it, as a dry run does: the send path renders at the benchmark's in-run cost, not from scratch.
  const digestCache = new Map<string, string>();
  return (content, destination) => {
    switch (content.kind) {
      case 'alert':
        return [renderAlertEmail(templates, content, { address: destination.address ?? '', planLine: `on the ${content.plan} plan` })];
      case 'confirmation':
        return [renderConfirmationEmail(templates, content)];
      case 'manage_link':
        return [renderManageLinkEmail(templates, content)];
      case 'digest':
        if (digestCache.size > digestCacheEntries) digestCache.clear();
        return [renderDigestEmail(templates, content, { address: destination.address ?? '', planLine: `on the ${content.plan} plan`, cache: digestCache })];
    }
  };
}

/**
 * The recipient and the Message-ID of one mail, the same on both editions. The Message-ID is
 * stable across retries, so a receiver (and our own duplicate checks) can tell a re-send.
 */
export function mailEnvelope(destination: DestinationRow, ctx: SendContext, messageIdDomain: string): { to: string; messageId: string } {
  if (!destination.address) throw new DeliveryError('email destination has no address', 'permanent', { disableDestination: true });
  return { to: destination.address, messageId: `<${ctx.messageKey}@${messageIdDomain}>` };
}

/**
 * The email adapter: nodemailer builds the MIME and talks SMTP (pooled); this file only renders
 * through the compiled templates and classifies SMTP failures.
 */
export function createEmailChannel(o: EmailChannelOptions): ChannelAdapter<EmailMessage> {
  return {
    type: 'email',
    render: createEmailRenderer(o.templates),
    async send(destination, m, ctx) {
      const { to, messageId } = mailEnvelope(destination, ctx, o.messageIdDomain);
      try {
        const info = await o.transport.sendMail({
          from: o.from,
          to,
          subject: m.subject,
          html: m.html,
          text: m.text,
          headers: m.headers,
          // base64 costs a third of quoted-printable's CPU in nodemailer, the pool's bottleneck here.
          textEncoding: 'base64',
          messageId,
        });
        return { providerId: info.messageId ?? null };
      } catch (err) {
        throw classifySmtpError(err);
      }
    },
    async close() {
      o.transport.close();
    },
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
