import { toBase64Url } from './base64url.js';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** Prefixed, unguessable ids (`acc_…`, `dst_…`): 20 base32 characters carry 100 random bits. */
export function newId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  let out = '';
  for (const b of bytes) out += ALPHABET[b & 31];
  return `${prefix}_${out}`;
}

/** A random secret as URL-safe base64, for tokens and keys. */
export function randomSecret(bytes = 32): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}
