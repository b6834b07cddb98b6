import { sign, verify } from 'hono/jwt';
import type { Clock } from './core/clock.js';
import type { MessageLinks } from './core/message.js';

/**
 * Signed links in messages (confirm, unsubscribe, manage, a digest's browser view). Each token is
 * an HS256 JWT over the destination id (a digest's: with its period) with its purpose as the
 * audience, so a token made for one purpose or one destination opens nothing else, and no token
 * can be guessed. A digest posted to a chat channel carries only its read-only view link, never
 * the manage link that would let anyone in the channel change what it watches.
 */
export type LinkPurpose = 'confirm' | 'unsubscribe' | 'manage' | 'digest' | 'alert' | 'review';

const PATHS: Record<LinkPurpose, string> = { confirm: 'confirm', unsubscribe: 'unsubscribe', manage: 'manage', digest: 'digests', alert: 'alerts', review: 'review' };
/** Tokens made once per message are not worth remembering; these are the same in every message. */
const REUSED: ReadonlySet<LinkPurpose> = new Set(['unsubscribe', 'manage']);
/** Confirmation links expire; unsubscribe links must keep working in old mails (RFC 8058). */
const TTL_SECONDS: Partial<Record<LinkPurpose, number>> = { confirm: 7 * 86_400 };

export interface LinkSigner {
  token(purpose: LinkPurpose, subject: string): Promise<string>;
  url(purpose: LinkPurpose, subject: string): Promise<string>;
  /** The subject of a valid token for `purpose`, or null. */
  verify(purpose: LinkPurpose, token: string): Promise<string | null>;
}

/**
 * A synchronous HMAC-SHA256 (base64url) of the runtime, when it has one: Node's is ~50× faster
 * than a WebCrypto round trip, which matters when a digest run signs 200,000 links. The tokens
 * are the same standard HS256 JWTs either way, and are always verified with hono/jwt.
 */
export type Hs256 = (key: string, data: string) => string;

const b64url = (s: string) => btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const JWT_HEADER = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

export function createLinkSigner(secretKey: string, publicUrl: string, clock: Clock, hs256?: Hs256): LinkSigner {
  const rawKey = `clausewatch-links:${secretKey}`;
  const signJwt = async (payload: Record<string, unknown>): Promise<string> => {
    if (!hs256) return sign(payload, await cryptoKey(), 'HS256');
    const body = `${JWT_HEADER}.${b64url(JSON.stringify(payload))}`;
    return `${body}.${hs256(rawKey, body)}`;
  };
  // Imported once: importing the HMAC key on every token was a tenth of a mail's CPU time.
  let keyPromise: Promise<CryptoKey> | undefined;
  const cryptoKey = () =>
    (keyPromise ??= crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(rawKey),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    ));
  // Links that never expire are the same every time for a destination: every alert and digest
  // to it carries them, so they are signed once and remembered (a bounded, oldest-out cache).
  const stable = new Map<string, Promise<string>>();
  const token = async (purpose: LinkPurpose, subject: string) => {
    const ttl = TTL_SECONDS[purpose];
    if (ttl) {
      const iat = Math.floor(clock() / 1000);
      return signJwt({ sub: subject, aud: purpose, iat, exp: iat + ttl });
    }
    if (!REUSED.has(purpose)) return signJwt({ sub: subject, aud: purpose });
    const key = `${purpose}:${subject}`;
    let t = stable.get(key);
    if (!t) {
      t = signJwt({ sub: subject, aud: purpose });
      stable.set(key, t);
      if (stable.size > 20_000) stable.delete(stable.keys().next().value!);
    }
    return t;
  };
  return {
    token,
    url: async (purpose, subject) => `${publicUrl}/${PATHS[purpose]}/${await token(purpose, subject)}`,
    async verify(purpose, t) {
      if (t.length > 2048) return null;
      try {
        // Expiry is checked against our clock, not the library's Date.now(), so tests can move time.
        const payload = await verify(t, await cryptoKey(), { alg: 'HS256', aud: purpose, exp: false, iat: false, nbf: false });
        if (typeof payload.exp === 'number' && payload.exp * 1000 < clock()) return null;
        return typeof payload.sub === 'string' ? payload.sub : null;
      } catch {
        return null;
      }
    },
  };
}

/** The unsubscribe and manage links every message to a destination carries. */
export async function destinationLinks(links: LinkSigner, destinationId: string): Promise<MessageLinks> {
  const [unsubscribe, manage] = await Promise.all([links.url('unsubscribe', destinationId), links.url('manage', destinationId)]);
  return { unsubscribe, manage };
}

/** A digest's period travels in its view link, so the page shows the week the message showed. */
export interface DigestView {
  destinationId: string;
  period: { key: string; start: number; end: number };
}

export function digestViewUrl(links: LinkSigner, view: DigestView): Promise<string> {
  const { key, start, end } = view.period;
  return links.url('digest', `${view.destinationId}|${key}|${start}|${end}`);
}

/** The digest a valid view token names, or null. */
export async function verifyDigestView(links: LinkSigner, token: string): Promise<DigestView | null> {
  const subject = await links.verify('digest', token);
  const [destinationId, key, start, end] = subject?.split('|') ?? [];
  if (!destinationId || !key || !Number.isFinite(Number(start)) || !Number.isFinite(Number(end))) return null;
  return { destinationId, period: { key, start: Number(start), end: Number(end) } };
}

/**
 * An alert mail's "see every change" page: the outbox row of the alert (the changes grouped into
 * it) and its destination, so the page lists exactly what the mail listed and what it left out.
 */
export function alertViewUrl(links: LinkSigner, destinationId: string, outboxId: number): Promise<string> {
  return links.url('alert', `${destinationId}|${outboxId}`);
}

export async function verifyAlertView(links: LinkSigner, token: string): Promise<{ destinationId: string; outboxId: number } | null> {
  const [destinationId, outboxId] = (await links.verify('alert', token))?.split('|') ?? [];
  return destinationId && Number.isSafeInteger(Number(outboxId)) ? { destinationId, outboxId: Number(outboxId) } : null;
}

/**
 * A change's review page, from an alert mail: the destination the mail went to and the change.
 * Whoever holds the mail may record a decision there (no login), as whoever holds it may
 * unsubscribe; the record names the person they type.
 */
export function reviewUrl(links: LinkSigner, destinationId: string, eventId: string): Promise<string> {
  return links.url('review', `${destinationId}|${eventId}`);
}

export async function verifyReviewLink(links: LinkSigner, token: string): Promise<{ destinationId: string; eventId: string } | null> {
  const subject = await links.verify('review', token);
  const cut = subject?.indexOf('|') ?? -1;
  if (!subject || cut < 1 || cut === subject.length - 1) return null;
  return { destinationId: subject.slice(0, cut), eventId: subject.slice(cut + 1) };
}
