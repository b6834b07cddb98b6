import { sign, verify } from 'hono/jwt';
import type { Clock } from './core/clock.js';
import type { MessageLinks } from './core/message.js';

/**
 * Signed links in messages (confirm, unsubscribe, manage, view a digest). Each token is an HS256
 * JWT over the destination (or digest) id with its purpose as the audience, so a token made for
 * one purpose or one destination opens nothing else, and no token can be guessed.
 */
export type LinkPurpose = 'confirm' | 'unsubscribe' | 'manage' | 'digest';

const PATHS: Record<LinkPurpose, string> = { confirm: 'confirm', unsubscribe: 'unsubscribe', manage: 'manage', digest: 'digests' };
/** Confirmation links expire; unsubscribe links must keep working in old mails (RFC 8058). */
const TTL_SECONDS: Partial<Record<LinkPurpose, number>> = { confirm: 7 * 86_400 };

export interface LinkSigner {
  token(purpose: LinkPurpose, subject: string): Promise<string>;
  url(purpose: LinkPurpose, subject: string): Promise<string>;
  /** The subject of a valid token for `purpose`, or null. */
  verify(purpose: LinkPurpose, token: string): Promise<string | null>;
}

export function createLinkSigner(secretKey: string, publicUrl: string, clock: Clock): LinkSigner {
  // Imported once: importing the HMAC key on every token was a tenth of a mail's CPU time.
  let keyPromise: Promise<CryptoKey> | undefined;
  const cryptoKey = () =>
    (keyPromise ??= crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(`clausewatch-links:${secretKey}`),
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
      return sign({ sub: subject, aud: purpose, iat, exp: iat + ttl }, await cryptoKey(), 'HS256');
    }
    const key = `${purpose}:${subject}`;
    let t = stable.get(key);
    if (!t) {
      t = cryptoKey().then((k) => sign({ sub: subject, aud: purpose }, k, 'HS256'));
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
