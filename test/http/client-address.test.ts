import { describe, expect, it } from 'vitest';
import { clientAddress } from '../../src/http/client-address.js';
import { loadConfig } from '../../src/config.js';

describe('the client address for per-client limits', () => {
  it('is the socket peer when no proxy is trusted, whatever X-Forwarded-For claims', () => {
    expect(clientAddress('203.0.113.9', '1.2.3.4', 0)).toBe('203.0.113.9');
  });

  it('is the entry the trusted proxies saw, never one the client wrote itself', () => {
    // The client forged "1.2.3.4"; the load balancer appended the address it saw.
    expect(clientAddress('10.0.0.2', '1.2.3.4, 198.51.100.7', 1)).toBe('198.51.100.7');
    expect(clientAddress('10.0.0.2', '1.2.3.4, 198.51.100.7, 10.0.0.9', 2)).toBe('198.51.100.7');
    expect(clientAddress('10.0.0.2', undefined, 1)).toBe('10.0.0.2');
  });

  it('is configured with TRUST_PROXY_HOPS, 0 to 5', () => {
    expect(loadConfig({}).trustProxyHops).toBe(0);
    expect(loadConfig({ TRUST_PROXY_HOPS: '1' }).trustProxyHops).toBe(1);
    expect(() => loadConfig({ TRUST_PROXY_HOPS: 'yes' })).toThrow('TRUST_PROXY_HOPS: expected a whole number from 0 to 5');
  });
});
