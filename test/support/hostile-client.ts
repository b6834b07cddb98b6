import { connect } from 'node:net';
import { readFileSync } from 'node:fs';

export interface StreamedAnswer {
  status: number;
  body: string;
  /** Bytes of the body handed to the socket before the answer came. */
  bytesSent: number;
  ms: number;
}

/**
 * POSTs a body of `totalBytes` to a running server as an attacker would: streamed in 256 KiB
 * chunks over a plain socket, either with Content-Length declared or chunked without one,
 * stopping as soon as the server answers. With `stopAfter`, it writes only that many bytes and
 * then waits for an answer with the rest missing (up to `waitMs`): one that comes says the server
 * did not wait for the body, however slowly this client looked at its socket. (A plain socket,
 * not node:http, because the server closing on the rest of the body makes node:http report the
 * write error and drop the answer it already received.)
 */
export function streamBody(
  port: number,
  path: string,
  opts: { totalBytes: number; chunked: boolean; headers?: Record<string, string>; stopAfter?: number; waitMs?: number },
): Promise<StreamedAnswer> {
  const chunk = Buffer.alloc(256 * 1024, 'a');
  const framed = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
  const started = performance.now();
  const headers = { host: `127.0.0.1:${port}`, 'content-type': 'application/x-www-form-urlencoded', ...opts.headers, ...(opts.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(opts.totalBytes) }) };
  return new Promise((resolve, reject) => {
    let sent = 0;
    let at: number | undefined;
    let received = Buffer.alloc(0);
    const socket = connect(port, '127.0.0.1');
    const answer = () => {
      const text = received.toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return undefined;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))?.[1] ?? NaN);
      const body = text.slice(end + 4);
      if (Number.isFinite(length) && Buffer.byteLength(body) < length) return undefined;
      return { status, body, bytesSent: at ?? sent, ms: performance.now() - started };
    };
    const finish = () => {
      const a = answer();
      socket.destroy();
      if (a) resolve(a);
      else reject(new Error(`no answer from ${path} after ${sent} bytes`));
    };
    socket.on('data', (d: Buffer) => {
      at ??= sent;
      received = Buffer.concat([received, d]);
      if (answer()) finish();
    });
    // Once the server has answered and closed, writes fail: that is the point, not an error.
    socket.on('error', () => setTimeout(finish, 50));
    socket.on('close', () => setTimeout(finish, 50));
    socket.on('connect', () => {
      socket.write(`POST ${path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
      const limit = Math.min(opts.totalBytes, opts.stopAfter ?? Infinity);
      if (opts.stopAfter !== undefined) setTimeout(finish, opts.waitMs ?? 10_000).unref();
      const pump = () => {
        while (at === undefined && sent < limit && !socket.destroyed) {
          const n = Math.min(chunk.length, limit - sent);
          const data = n === chunk.length ? chunk : chunk.subarray(0, n);
          sent += n;
          const ok = !opts.chunked ? socket.write(data) : n === chunk.length ? socket.write(framed) : socket.write(Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), data, Buffer.from('\r\n')]));
          if (!ok) return void socket.once('drain', pump);
        }
        if (opts.chunked && at === undefined && sent === opts.totalBytes && !socket.destroyed) socket.write('0\r\n\r\n');
      };
      pump();
    });
  });
}

/** A process's resident memory in bytes (Linux: VmRSS of /proc/<pid>/status). */
export function residentBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}
