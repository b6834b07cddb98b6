import { sign, verify } from 'hono/jwt';
import type { Clock } from './core/clock.js';

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
  const key = `clausewatch-links:${secretKey}`;
  const token = async (purpose: LinkPurpose, subject: string) => {
    const iat = Math.floor(clock() / 1000);
    const ttl = TTL_SECONDS[purpose];
    return sign({ sub: subject, aud: purpose, iat, ...(ttl ? { exp: iat + ttl } : {}) }, key, 'HS256');
  };
  return {
    token,
    url: async (purpose, subject) => `${publicUrl}/${PATHS[purpose]}/${await token(purpose, subject)}`,
    async verify(purpose, t) {
      if (t.length > 2048) return null;
      try {
        // Expiry is checked against our clock, not the library's Date.now(), so tests can move time.
        const payload = await verify(t, key, { alg: 'HS256', aud: purpose, exp: false, iat: false, nbf: false });
        if (typeof payload.exp === 'number' && payload.exp * 1000 < clock()) return null;
        return typeof payload.sub === 'string' ? payload.sub : null;
      } catch {
        return null;
      }
    },
  };
}
