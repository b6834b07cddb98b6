import { verify } from 'hono/jwt';
import { fromBase64Url } from './core/base64url.js';
import type { Clock } from './core/clock.js';
import type { MessageLinks } from './core/message.js';

/**
 * Signed links in messages (confirm, unsubscribe, manage, a digest's browser view, an alert's
 * page, a change's review page). Each token is signed (HMAC-SHA256) over the destination id (a
 * digest's: with its period) with its purpose as the audience, so a token made for one purpose
 * or one destination opens nothing else, and no token can be guessed. A digest posted to a chat
 * channel carries only its read-only view link, never the manage link that would let anyone in
 * the channel change what it watches.
 *
 * The token is one word: lowercase base32 (RFC 4648, a–z and 2–7, unpadded) of the claims, then
 * the 52 base32 characters of their MAC. Tokens used to be JWTs (base64url, with `-`, `_` and
 * `.`), and now and then a run of one between two `-` read as a Bitcoin address to SpamAssassin
 * (`__BITCOIN_ID`: `\b(?<!=)[13][base58]{29,34}\b`, and its variants with separators between the
 * characters and bech32's `bc1…`), about +3 for the mail. A token of word characters only is one
 * word (no `\b` inside it), and at 53 characters or more too long for the 30–35 a base58 address
 * has; it holds no `-`, `=` or space to separate characters with (the obfuscated variants), and
 * no `1`, so it cannot start `bc1`. JWTs in mails already sent still open their pages.
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
  /**
   * Many links at once (a page of digests): signed synchronously where the runtime has a
   * synchronous HMAC, without a promise per link; otherwise all at once (WebCrypto signs off the
   * main thread).
   */
  urls(links: readonly (readonly [LinkPurpose, string])[]): Promise<string[]>;
  /** The subject of a valid token for `purpose`, or null. */
  verify(purpose: LinkPurpose, token: string): Promise<string | null>;
}

/**
 * A synchronous HMAC-SHA256 (base64url) of the runtime, when it has one: Node's is ~50× faster
 * than a WebCrypto round trip, which matters when a digest run signs 200,000 links. The tokens
 * are the same either way.
 */
export type Hs256 = (key: string, data: string) => string;

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const BASE64URL_VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64URL.length; i++) BASE64URL_VALUES[BASE64URL.charCodeAt(i)] = i;

/** The bytes of an unpadded base64url MAC (atob and a callback per byte were a tenth of signing). */
function macBytes(text: string): Uint8Array {
  const out = new Uint8Array(Math.floor((text.length * 6) / 8));
  let bits = 0;
  let value = 0;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const v = BASE64URL_VALUES[text.charCodeAt(i)] ?? -1;
    if (v < 0) return fromBase64Url(text); // not base64url: as before (atob throws)
    value = ((value << 6) | v) & 0xfff;
    bits += 6;
    if (bits >= 8) {
      out[n++] = (value >>> (bits - 8)) & 255;
      bits -= 8;
    }
  }
  return out;
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const BASE32_CODES = Uint8Array.from(BASE32, (c) => c.charCodeAt(0));

/**
 * RFC 4648 base32, lowercase and unpadded: word characters only. Built as character codes and
 * made a string at once: appending one character at a time left each token a rope of one V8
 * string per character (about 3.7 KB of heap a token instead of 0.2), and the tokens a digest
 * run's page holds and the remembered ones (below) were a hundred MB of its peak RSS.
 */
export function toBase32(bytes: Uint8Array): string {
  const codes = new Uint8Array(Math.ceil((bytes.length * 8) / 5));
  let n = 0;
  let bits = 0;
  let value = 0;
  for (let i = 0; i < bytes.length; i++) {
    value = ((value << 8) | bytes[i]!) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      codes[n++] = BASE32_CODES[(value >>> (bits - 5)) & 31]!;
      bits -= 5;
    }
  }
  if (bits > 0) codes[n++] = BASE32_CODES[(value << (5 - bits)) & 31]!;
  let out = '';
  // fromCharCode takes its codes as arguments (apply, not a spread, which iterates): a few
  // thousand at a time stay within any engine's limit.
  for (let i = 0; i < n; i += 4096) out += String.fromCharCode.apply(null, codes.subarray(i, Math.min(n, i + 4096)) as unknown as number[]);
  return out;
}

function fromBase32(text: string): Uint8Array {
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let bits = 0;
  let value = 0;
  let n = 0;
  for (const ch of text) {
    value = ((value << 5) | BASE32.indexOf(ch)) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      out[n++] = (value >>> (bits - 8)) & 255;
      bits -= 8;
    }
  }
  return out;
}

/** The MAC's length in base32: 32 bytes, 256 bits, 52 characters. */
const MAC_CHARS = 52;
/** A token: claims and MAC, nothing but base32 characters. */
const WORD_TOKEN = new RegExp(`^[a-z2-7]{${MAC_CHARS + 1},}$`);
/** What the MAC covers: never the start of a JWT's signing input (base64url of `{"…`, "eyJ…"). */
const MAC_INPUT = 'clausewatch-link-v2:';

/** Equal strings in time that does not depend on where they differ. */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export function createLinkSigner(secretKey: string, publicUrl: string, clock: Clock, hs256?: Hs256): LinkSigner {
  const rawKey = `clausewatch-links:${secretKey}`;
  const encoder = new TextEncoder();
  // With a synchronous HMAC a token is made without a promise: a digest run signs 300,000 links,
  // and the chain of promises per link cost as much as the HMAC.
  const mac = (data: string): string | Promise<string> =>
    hs256 ? toBase32(macBytes(hs256(rawKey, data))) : cryptoKey().then(async (key) => toBase32(new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(data)))));
  const signToken = (payload: Record<string, unknown>): string | Promise<string> => {
    const claims = toBase32(encoder.encode(JSON.stringify(payload)));
    const m = mac(`${MAC_INPUT}${claims}`);
    return typeof m === 'string' ? claims + m : m.then((x) => claims + x);
  };
  /** The claims of a valid word token, or null. */
  const readToken = async (t: string): Promise<Record<string, unknown> | null> => {
    if (!WORD_TOKEN.test(t)) return null;
    const claims = t.slice(0, -MAC_CHARS);
    if (!sameText(t.slice(-MAC_CHARS), await mac(`${MAC_INPUT}${claims}`))) return null;
    try {
      const payload: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(fromBase32(claims)));
      return payload && typeof payload === 'object' ? (payload as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  };
  /** A JWT of the links before (base64url): still valid in mails sent then. */
  const readJwt = async (t: string, purpose: LinkPurpose): Promise<Record<string, unknown> | null> => {
    try {
      // Expiry is checked against our clock, not the library's Date.now(), so tests can move time.
      return await verify(t, await cryptoKey(), { alg: 'HS256', aud: purpose, exp: false, iat: false, nbf: false });
    } catch {
      return null;
    }
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
  // to it carries them, so they are signed once and remembered, in two generations of up to
  // 10,000 (a token used in the older one moves to the newer; the older is dropped whole). Not
  // one Map with its first key deleted per insert: V8 skips every deleted slot from the start of
  // the table to find the first key, and a digest run of 100,000 destinations spent 5 s there.
  let recent = new Map<string, string | Promise<string>>();
  let older = new Map<string, string | Promise<string>>();
  const remembered = (key: string) => {
    const t = recent.get(key) ?? older.get(key);
    if (t !== undefined && !recent.has(key)) remember(key, t);
    return t;
  };
  const remember = (key: string, t: string | Promise<string>) => {
    if (recent.size >= 10_000) [older, recent] = [recent, new Map()];
    recent.set(key, t);
  };
  const token = (purpose: LinkPurpose, subject: string): string | Promise<string> => {
    const ttl = TTL_SECONDS[purpose];
    if (ttl) {
      const iat = Math.floor(clock() / 1000);
      return signToken({ sub: subject, aud: purpose, iat, exp: iat + ttl });
    }
    if (!REUSED.has(purpose)) return signToken({ sub: subject, aud: purpose });
    const key = `${purpose}:${subject}`;
    let t = remembered(key);
    if (t === undefined) remember(key, (t = signToken({ sub: subject, aud: purpose })));
    return t;
  };
  const url = (purpose: LinkPurpose, subject: string): string | Promise<string> => {
    const t = token(purpose, subject);
    return typeof t === 'string' ? `${publicUrl}/${PATHS[purpose]}/${t}` : t.then((x) => `${publicUrl}/${PATHS[purpose]}/${x}`);
  };
  return {
    token: async (purpose, subject) => token(purpose, subject),
    url: async (purpose, subject) => url(purpose, subject),
    urls(list) {
      const out = list.map(([purpose, subject]) => url(purpose, subject));
      return out.every((u) => typeof u === 'string') ? Promise.resolve(out as string[]) : Promise.all(out);
    },
    async verify(purpose, t) {
      if (t.length > 2048) return null;
      const payload = t.includes('.') ? await readJwt(t, purpose) : await readToken(t);
      if (!payload || payload.aud !== purpose) return null;
      if (typeof payload.exp === 'number' && payload.exp * 1000 < clock()) return null;
      return typeof payload.sub === 'string' ? payload.sub : null;
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

const digestViewSubject = ({ destinationId, period: { key, start, end } }: DigestView) => `${destinationId}|${key}|${start}|${end}`;

export function digestViewUrl(links: LinkSigner, view: DigestView): Promise<string> {
  return links.url('digest', digestViewSubject(view));
}

/** The unsubscribe, manage and browser-view links of a page of digests, signed at once. */
export async function digestLinks(links: LinkSigner, views: readonly DigestView[]): Promise<(MessageLinks & { view: string })[]> {
  const signed = await links.urls(views.flatMap((v) => [['unsubscribe', v.destinationId], ['manage', v.destinationId], ['digest', digestViewSubject(v)]] as const));
  return views.map((_, i) => ({ unsubscribe: signed[3 * i]!, manage: signed[3 * i + 1]!, view: signed[3 * i + 2]! }));
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
