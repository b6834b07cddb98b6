import { lookup } from 'node:dns/promises';
import { lookup as lookupCallback, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { isPublicAddress } from './core/ip-address.js';
import type { WebhookAnswer, WebhookRequest } from './delivery/channels/webhook/send.js';
import { NOT_SENT } from './delivery/channels/webhook/not-sent.js';

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

/**
 * Connections one agent keeps to one origin (scheme, host and port) at most; further POSTs to it
 * wait for one of them, kept alive, to come free. Many destinations can share a host (a team's
 * own gateway, an automation service's hook URLs): unbounded, a fan-out to them opened a
 * connection for nearly every send in flight (64), a handshake and a parser set up at both ends
 * for each, where 16 kept in use carry the same sends. With 16, the 100-destination fan-out to
 * one receiver reached its last webhook 7–30 % sooner in each of four rounds of alternating runs
 * (README, "Where the fan-out time went", eighth session).
 */
export const CONNECTIONS_PER_ORIGIN = 16;

/** An undici dispatcher whose connections refuse non-public addresses (unless allowed). */
export function webhookDispatcher(allowPrivate: boolean): Agent {
  return new Agent({ connections: CONNECTIONS_PER_ORIGIN, connect: guardedConnector(allowPrivate) });
}

/** Milliseconds on the system's monotonic clock, one clock for every thread of the process. */
export function monotonicMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}

/**
 * When a POST must have started by, on two clocks, and it is not sent once either has passed. The
 * monotonic one is the same in both threads and a wall clock set back (NTP, an operator) does not
 * move it, so a late POST cannot look early. The wall clock goes on counting while a host or VM
 * is suspended and the monotonic one stands still, and the delivery leases are kept on it: after
 * a resume, the row may already be another dispatcher's.
 */
export interface StartBy {
  mono: number;
  wall: number;
}
export const startWithin = (ms: number): StartBy => ({ mono: monotonicMs() + ms, wall: Date.now() + ms });
/** Written so that a deadline that is not a StartBy (NaN, missing) counts as passed. */
export const startPassed = (by: StartBy): boolean => !(monotonicMs() <= by.mono && Date.now() <= by.wall);

/** A POST with the time after which it must not start: its caller stops waiting soon after. */
export interface TimedWebhookRequest extends WebhookRequest {
  notAfter?: StartBy;
}

/** What of an answer's body is read (and thrown away) before the connection is dropped instead, as undici's dump() does. */
const ANSWER_BODY_LIMIT = 128 * 1024;

/**
 * Webhook POSTs through the guarded agent, dispatched with a handler of our own: kept-alive
 * connections, no WHATWG Request, Response or AbortSignal per send (a sixth of the CPU of a
 * 2,000-destination fan-out went there), and no stream for an answer body nobody reads (undici's
 * request() builds a Readable per answer: another tenth). The timeout still holds: headersTimeout
 * for the answer to start, bodyTimeout for each gap while it arrives (the connection's own connect
 * timeout comes before both). A POST that waited for a free connection past its `notAfter` is
 * not written at all: it fails as not sent, so a caller that gave up on it and recorded a retry
 * never has it delivered behind its back.
 */
export function guardedPost(allowPrivate: boolean, timeoutMs = 10_000): (request: TimedWebhookRequest) => Promise<WebhookAnswer> {
  const agent = webhookDispatcher(allowPrivate);
  const fail = (err: unknown) => {
    const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
    const timedOut = e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT';
    const why = timedOut ? `no answer within ${timeoutMs / 1000} s` : e.cause?.code === 'EADDRNOTPUBLIC' ? e.cause.message : (e.message ?? String(err));
    return new Error(why, { cause: err });
  };
  return ({ url, headers, body, notAfter }) =>
    new Promise((resolve, reject) => {
      const u = new URL(url);
      let answer: WebhookAnswer | undefined;
      let abort: ((err?: Error) => void) | undefined;
      let read = 0;
      try {
        agent.dispatch(
          { origin: u.origin, path: `${u.pathname}${u.search}`, method: 'POST', headers, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs },
          {
            // Called as the request is about to be written on a connection. Thrown here, the
            // error fails the request unwritten and the connection stays for the next (an abort
            // would close it, just when its host is slow).
            onConnect: (a) => {
              if (notAfter !== undefined && startPassed(notAfter)) throw Object.assign(new Error(`not sent: no connection to ${u.origin} came free in time`), { code: NOT_SENT });
              abort = a;
            },
            onHeaders(status, raw) {
              let retryAfter: string | null = null;
              for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 11 && raw[i]!.toString('latin1').toLowerCase() === 'retry-after') retryAfter = raw[i + 1]!.toString('latin1');
              answer = { status, retryAfter };
              return true;
            },
            onData(chunk) {
              read += chunk.length;
              // The answer is known; a long body is not worth the connection.
              if (read > ANSWER_BODY_LIMIT && answer) {
                resolve(answer);
                abort?.();
              }
              return true;
            },
            onComplete: () => (answer ? resolve(answer) : reject(fail(new Error('the answer ended before its status')))),
            // After the status was read, an error in the rest of the body changes nothing.
            onError: (err) => (answer ? resolve(answer) : reject(fail(err))),
          },
        );
      } catch (err) {
        reject(fail(err));
      }
    });
}
