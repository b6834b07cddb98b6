import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { createLinkSigner } from '../src/links.js';

const node = (key: string, data: string) => createHmac('sha256', key).update(data).digest('base64url');

describe('signed links', () => {
  it('make the same standard JWT with Node’s HMAC as with WebCrypto, and each verifies the other’s', async () => {
    const web = createLinkSigner('k'.repeat(32), 'https://cw.test', () => 0);
    const fast = createLinkSigner('k'.repeat(32), 'https://cw.test', () => 0, node);
    const a = await web.token('manage', 'dst_1');
    const b = await fast.token('manage', 'dst_1');
    expect(b).toBe(a);
    expect(await web.verify('manage', b)).toBe('dst_1');
    expect(await fast.verify('manage', a)).toBe('dst_1');
  });

  it('refuse another purpose, another key, and an expired confirmation', async () => {
    let now = 0;
    const s = createLinkSigner('k'.repeat(32), 'https://cw.test', () => now, node);
    const other = createLinkSigner('x'.repeat(32), 'https://cw.test', () => now, node);
    expect(await s.verify('unsubscribe', await s.token('manage', 'dst_1'))).toBeNull();
    expect(await s.verify('manage', await other.token('manage', 'dst_1'))).toBeNull();
    const confirm = await s.token('confirm', 'dst_1');
    now = 6 * 86_400_000;
    expect(await s.verify('confirm', confirm)).toBe('dst_1');
    now = 8 * 86_400_000;
    expect(await s.verify('confirm', confirm)).toBeNull();
  });
});
