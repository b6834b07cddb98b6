import { lookup } from 'node:dns/promises';
import { lookup as lookupCallback, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { isPublicAddress } from './core/ip-address.js';
import type { WebhookPost } from './delivery/channels/webhook/send.js';

/**
 * Webhook URLs must not reach into our own network (SSRF): private, loopback, link-local and
 * other special-use addresses are refused after DNS resolution, both when a destination is
 * created and on every connection (the connection's own lookup refuses them, so a DNS answer
 * that changes between the check and the request cannot slip through; an IP literal, which
 * Node connects to without a lookup, is judged by the connector itself).
 */
/** Null when the URL may be called, else why not (for the 400 at creation). */
export async function checkWebhookUrl(url: string, allowPrivate: boolean): Promise<string | null> {
  if (allowPrivate) return null;
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    return `the host ${host} does not resolve`;
  }
  const bad = addresses.find((a) => !isPublicAddress(a));
  return bad ? `${host} resolves to ${bad}, a private, loopback or link-local address` : null;
}

function refused(message: string): Error {
  return Object.assign(new Error(`refused: ${message}`), { code: 'EADDRNOTPUBLIC' });
}

/**
 * undici connection options whose connections refuse non-public addresses (unless allowed): a
 * name through its lookup, an IP literal before connecting, since Node connects to a literal
 * without any lookup. Whatever agent delivers webhooks builds its connector from these.
 */
export function guardedConnector(allowPrivate: boolean, options: buildConnector.BuildOptions = {}): buildConnector.connector {
  const connect = buildConnector({
    ...options,
    lookup(hostname, lookupOptions, callback) {
      lookupCallback(hostname, { ...lookupOptions, all: true }, (err, addresses) => {
        if (err) return callback(err, '', 4);
        const list = addresses as unknown as LookupAddress[];
        const ok = allowPrivate ? list : list.filter((a) => isPublicAddress(a.address));
        if (!ok.length) return callback(refused(`${hostname} resolves only to private addresses`), '', 4);
        if ((lookupOptions as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, ok);
        callback(null, ok[0]!.address, ok[0]!.family);
      });
    },
  });
  return (target, callback) => {
    // undici hands over IPv6 literals without their brackets.
    if (!allowPrivate && isIP(target.hostname) && !isPublicAddress(target.hostname))
      return callback(refused(`${target.hostname} is a private, loopback or link-local address`), null);
    connect(target, callback);
  };
}

/** An undici dispatcher whose connections refuse non-public addresses (unless allowed). */
export function webhookDispatcher(allowPrivate: boolean): Agent {
  return new Agent({ connect: guardedConnector(allowPrivate) });
}

/**
 * Webhook POSTs through the guarded agent with undici's own request API: kept-alive connections,
 * no WHATWG Request, Response or AbortSignal per send (a sixth of the CPU of a 2,000-destination
 * fan-out went there). The timeout still holds: headersTimeout for the answer to start, bodyTimeout
 * for each gap while it arrives (the connection's own connect timeout comes before both).
 */
export function guardedPost(allowPrivate: boolean, timeoutMs = 10_000): WebhookPost {
  const agent = webhookDispatcher(allowPrivate);
  return async ({ url, headers, body }) => {
    const u = new URL(url);
    try {
      const res = await agent.request({ origin: u.origin, path: `${u.pathname}${u.search}`, method: 'POST', headers, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
      await res.body.dump();
      const retryAfter = res.headers['retry-after'];
      return { status: res.statusCode, retryAfter: Array.isArray(retryAfter) ? (retryAfter[0] ?? null) : (retryAfter ?? null) };
    } catch (err) {
      const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
      const timedOut = e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT';
      const why = timedOut ? `no answer within ${timeoutMs / 1000} s` : e.cause?.code === 'EADDRNOTPUBLIC' ? e.cause.message : (e.message ?? String(err));
      throw new Error(why, { cause: err });
    }
  };
}
