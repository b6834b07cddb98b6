import { ConfigError } from '../config.js';
import { DeliveryError } from '../delivery/channel.js';
import { classifySmtpError, type Mailer } from '../delivery/channels/email/send.js';

/**
 * The part of Cloudflare Email Service's `send_email` binding used here: the structured form of
 * `send`, which mails any recipient from a domain verified in Email Sending (workers-types'
 * `SendEmail`; tests hand in a recording binding of the same shape).
 */
export interface EmailSendingBinding {
  send(message: {
    from: { email: string; name: string };
    to: string;
    subject: string;
    html: string;
    text: string;
    headers: Record<string, string>;
  }): Promise<{ messageId: string }>;
}

/**
 * Our stable id of a mail. Email Service sets Message-ID itself (setting it is
 * E_HEADER_NOT_ALLOWED), so the id the Node edition puts in Message-ID travels in this header.
 */
export const MESSAGE_ID_HEADER = 'X-ClauseWatch-Message-Id';

/**
 * The mailer of the Workers edition: the email channel's mails (the Node edition's renderers and
 * Message-IDs) sent through the Email Service binding instead of SMTP, its errors in the same
 * three classes.
 */
export function emailServiceMailer(binding: EmailSendingBinding, from: { email: string; name: string }): Mailer {
  return async ({ to, subject, html, text, headers, messageId }) => {
    try {
      const r = await binding.send({ from, to, subject, html, text, headers: { ...headers, [MESSAGE_ID_HEADER]: messageId } });
      return { providerId: r.messageId ?? null };
    } catch (err) {
      throw classifyEmailServiceError(err);
    }
  };
}

/** Refused for this message only: sending the same again fails the same way. */
const MESSAGE_REFUSED = new Set(['E_VALIDATION_ERROR', 'E_FIELD_MISSING', 'E_TOO_MANY_RECIPIENTS', 'E_TOO_MANY_ATTACHMENTS', 'E_CONTENT_TOO_LARGE']);
/**
 * Our own set-up refused (the sending domain not verified or not onboarded, the binding's
 * allowed lists): the operator's to fix, like SMTP credentials on Node, so retried and never a
 * reason to switch off every destination at once.
 */
const SETUP_REFUSED = new Set(['E_SENDER_NOT_VERIFIED', 'E_SENDER_DOMAIN_NOT_AVAILABLE', 'E_RECIPIENT_NOT_ALLOWED']);

/**
 * Email Service's errors (an Error with a string `code`, documented in its Workers API error
 * table) as the Node channel's classes: the address on the suppression list (it bounced or
 * complained) is a mailbox gone and switches the destination off; a delivery failure with the
 * receiving server's SMTP reply in it is judged as that reply at RCPT TO would be on Node; rate
 * and daily limits wait without using up attempts; anything unknown is retried.
 */
export function classifyEmailServiceError(err: unknown): DeliveryError {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  // The code is a property on the thrown Error; across an RPC boundary only the message may survive.
  const code = typeof e?.code === 'string' ? e.code : /\bE_[A-Z_]+\b/.exec(message)?.[0];
  const label = `Email Service ${code ?? 'error'}: ${message}`;
  if (code === 'E_RECIPIENT_SUPPRESSED') return new DeliveryError(label, 'permanent', { disableDestination: true, cause: err });
  if (code === 'E_RATE_LIMIT_EXCEEDED') return new DeliveryError(label, 'retry', { rateLimited: true, retryAfterMs: 60_000, cause: err });
  // The daily quota: the day's remaining mail waits for it, checking hourly, and none is given up.
  if (code === 'E_DAILY_LIMIT_EXCEEDED') return new DeliveryError(label, 'retry', { rateLimited: true, retryAfterMs: 3_600_000, cause: err });
  if (code && SETUP_REFUSED.has(code)) return new DeliveryError(`${label} (the operator's set-up, see the README's Workers set-up)`, 'retry', { cause: err });
  if (code && (MESSAGE_REFUSED.has(code) || code.startsWith('E_HEADER'))) return new DeliveryError(label, 'permanent', { cause: err });
  if (code === 'E_DELIVERY_FAILED') {
    const reply = /\b([45]\d\d)[ -]/.exec(message);
    if (reply) {
      const smtp = classifySmtpError({ responseCode: Number(reply[1]), command: 'RCPT TO', response: message.slice(reply.index) });
      return new DeliveryError(label, smtp.kind, { disableDestination: smtp.disableDestination, cause: err });
    }
  }
  // E_INTERNAL_SERVER_ERROR, a failed RPC, anything new: try again later.
  return new DeliveryError(label, 'retry', { cause: err });
}

/**
 * The sender as the binding takes it, from MAIL_FROM ("Name <address>" or a bare address),
 * checked at start for what can be checked without sending: an explicit address on a real
 * domain (Email Service sends only from a domain verified in it, and says so only at the first
 * send), and an https PUBLIC_URL (List-Unsubscribe is refused with an http link).
 */
export function emailSender(vars: Record<string, string | undefined>): { email: string; name: string } {
  const raw = vars.MAIL_FROM?.trim();
  if (!raw) throw new ConfigError('MAIL_FROM', 'a sender on the domain verified in Email Service, such as "ClauseWatch <alerts@example.com>"');
  const m = /^(?:"?([^"<>]*?)"?\s*<([^\s<>@]+@[^\s<>@]+)>|([^\s<>@]+@[^\s<>@]+))$/.exec(raw);
  const email = m?.[2] ?? m?.[3];
  const domain = email?.split('@')[1]?.toLowerCase() ?? '';
  if (!email || !/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(domain) || domain.endsWith('.localhost')) {
    throw new ConfigError('MAIL_FROM', `a sender on the domain verified in Email Service, such as "ClauseWatch <alerts@example.com>" (got "${raw}")`);
  }
  if (!vars.PUBLIC_URL?.startsWith('https://')) {
    throw new ConfigError('PUBLIC_URL', 'an https:// URL: Email Service refuses List-Unsubscribe links that are not https');
  }
  return { email, name: m?.[1]?.trim() || 'ClauseWatch' };
}
