/**
 * URL-safe base64 without padding (RFC 4648 §5) of bytes, and back: for tokens, cursors and
 * sealed secrets alike. btoa/atob exist on Node and Workers; they take one byte per character.
 */
export function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Throws on text that is not base64 (atob's InvalidCharacterError). */
export function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
}
