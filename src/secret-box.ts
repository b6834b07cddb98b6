import { fromBase64Url, toBase64Url } from './core/base64url.js';

/**
 * Secrets at rest (Slack installations' bot tokens, webhook signing secrets): AES-256-GCM with a key derived from
 * SECRET_KEY by HKDF-SHA256, one key per purpose, through WebCrypto (`crypto.subtle`), so the
 * same module runs on Node and on Workers. A sealed value is `enc:v1:<base64url(iv ‖ ciphertext)>`;
 * a value without the prefix is a plaintext row from before, read as it is until the start-up
 * migration seals it.
 */
export interface SecretBox {
  seal(plain: string): Promise<string>;
  open(stored: string): Promise<string>;
}

export const SEALED_PREFIX = 'enc:v1:';

/** One derived key per kind of secret: a key that leaks for one opens nothing of the other. */
export const SECRET_PURPOSES = { slackInstallation: 'slack-installation', webhookSecret: 'webhook-secret' } as const;
const utf8 = new TextEncoder();
/** HKDF's salt for every purpose's key (secret-box-node.ts derives the same keys). */
export const SECRET_BOX_SALT = 'clausewatch secrets at rest';


export function createSecretBox(secretKey: string, purpose: string): SecretBox {
  let key: Promise<CryptoKey> | undefined;
  const aesKey = () =>
    (key ??= crypto.subtle
      .importKey('raw', utf8.encode(secretKey), 'HKDF', false, ['deriveKey'])
      .then((base) =>
        crypto.subtle.deriveKey(
          { name: 'HKDF', hash: 'SHA-256', salt: utf8.encode(SECRET_BOX_SALT), info: utf8.encode(purpose) },
          base,
          { name: 'AES-GCM', length: 256 },
          false,
          ['encrypt', 'decrypt'],
        ),
      ));
  return {
    async seal(plain) {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, await aesKey(), utf8.encode(plain)));
      const out = new Uint8Array(iv.length + sealed.length);
      out.set(iv);
      out.set(sealed, iv.length);
      return SEALED_PREFIX + toBase64Url(out);
    },
    async open(stored) {
      if (!stored.startsWith(SEALED_PREFIX)) return stored;
      const bytes = fromBase64Url(stored.slice(SEALED_PREFIX.length));
      const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bytes.subarray(0, 12) }, await aesKey(), bytes.subarray(12));
      return new TextDecoder().decode(plain);
    },
  };
}
