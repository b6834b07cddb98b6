/**
 * The client's address for per-client limits. Behind `hops` proxies that each append the address
 * they saw to X-Forwarded-For, the client is the entry `hops` from the right; anything left of it
 * the client may have written itself. With no proxy the socket's peer is the client.
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | undefined, hops: number): string {
  if (hops > 0 && forwardedFor) {
    const chain = forwardedFor.split(',').map((a) => a.trim()).filter(Boolean);
    const client = chain[chain.length - hops];
    if (client) return client;
  }
  return peer ?? 'unknown';
}
