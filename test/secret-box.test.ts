import { describe, expect, it } from 'vitest';
import { createSecretBox, SECRET_PURPOSES } from '../src/secret-box.js';
import { createNodeSecretBox } from '../src/secret-box-node.js';

const KEY = 'a-secret-key-of-enough-length-for-tests-0123456789';

describe('sealed secrets', () => {
  it('sealed through WebCrypto open through node:crypto, and the other way round', async () => {
    const web = createSecretBox(KEY, SECRET_PURPOSES.webhookSecret);
    const node = createNodeSecretBox(KEY, SECRET_PURPOSES.webhookSecret);
    const plain = 'whsec_c2lnbmluZyBzZWNyZXQgb2YgMzIgYnl0ZXMuLi4uLi4uLg==';
    expect(await node.open(await web.seal(plain))).toBe(plain);
    expect(await web.open(await node.seal(plain))).toBe(plain);
    expect(await node.seal(plain)).toMatch(/^enc:v1:[A-Za-z0-9_-]+$/);
  });

  it('do not open under another purpose, nor when a byte was changed', async () => {
    const sealed = await createSecretBox(KEY, SECRET_PURPOSES.webhookSecret).seal('whsec_abc');
    await expect(createNodeSecretBox(KEY, SECRET_PURPOSES.slackInstallation).open(sealed)).rejects.toThrow();
    const body = Buffer.from(sealed.slice('enc:v1:'.length), 'base64url');
    body[14]! ^= 1;
    await expect(createNodeSecretBox(KEY, SECRET_PURPOSES.webhookSecret).open(`enc:v1:${body.toString('base64url')}`)).rejects.toThrow();
  });

  it('stored in plain text (from before sealing) are read as they are', async () => {
    expect(await createNodeSecretBox(KEY, SECRET_PURPOSES.webhookSecret).open('whsec_plain')).toBe('whsec_plain');
  });
});
