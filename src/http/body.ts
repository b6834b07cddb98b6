import type { Context } from 'hono';
import { ApiError, invalid } from './errors.js';

export const MAX_BODY_BYTES = 1024 * 1024;
/** The HTML forms behind signed links (manage, unsubscribe) send a few fields: 8 KiB is ample. */
export const FORM_MAX_BYTES = 8 * 1024;
/** Slack's and Discord's requests are small (a slash command, an interaction): 64 KiB is ample. */
export const CHAT_MAX_BYTES = 64 * 1024;

const sizeText = (bytes: number) => (bytes >= 1024 * 1024 ? `${bytes / 1024 / 1024} MiB` : `${bytes / 1024} KiB`);
const tooLarge = (maxBytes: number) => new ApiError(413, 'payload_too_large', `The body is larger than ${sizeText(maxBytes)}. Send less per request.`);

/**
 * The body's bytes, at most `maxBytes`: 413 from Content-Length before anything is read, and by
 * counting while reading when the length is not declared (chunked), cancelling the stream at the
 * cap. Every route that reads a body reads it through here, before any signature check, so a
 * 60 MB body costs 413 and never 60 MB of memory.
 */
export async function readBodyBytes(c: Context, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(c.req.header('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  return readCapped(c.req.raw, maxBytes, () => tooLarge(maxBytes));
}

/** The body as text, capped as readBodyBytes. */
export async function readTextBody(c: Context, maxBytes: number): Promise<string> {
  return new TextDecoder().decode(await readBodyBytes(c, maxBytes));
}

/**
 * An HTML form's fields (urlencoded, or multipart as some mail clients send RFC 8058's one-click
 * POST), capped at `maxBytes`. A body that is not a form reads as no fields.
 */
export async function readFormBody(c: Context, maxBytes = FORM_MAX_BYTES): Promise<Record<string, string>> {
  const bytes = await readBodyBytes(c, maxBytes);
  const type = c.req.header('content-type') ?? '';
  const fields: Record<string, string> = {};
  if (/^multipart\/form-data/i.test(type)) {
    const form = await new Response(bytes, { headers: { 'content-type': type } }).formData().catch(() => undefined);
    form?.forEach((v, k) => {
      if (typeof v === 'string') fields[k] = v;
    });
    return fields;
  }
  for (const [k, v] of new URLSearchParams(new TextDecoder().decode(bytes))) fields[k] = v;
  return fields;
}

/**
 * Reads a JSON body: 415 unless it says JSON, 413 past the limit (from Content-Length, and by
 * counting while reading when the length is not declared), 400 when it does not parse, with the
 * endpoint's own error code and an issue at `(body)`, as for any other bad input.
 * Hono's bodyLimit middleware cost 3–4× throughput here, hence this direct check.
 */
export async function readJsonBody(c: Context, invalidCode: string, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(type)) {
    throw new ApiError(415, 'unsupported_media_type', 'Send the body as JSON with Content-Type: application/json.');
  }
  const text = await readTextBody(c, maxBytes);
  try {
    return JSON.parse(text);
  } catch {
    throw invalid(invalidCode, [{ path: '(body)', message: 'JSON that parses (this body does not)' }], 'body');
  }
}

async function readCapped(req: Request, maxBytes: number, tooLarge: () => ApiError): Promise<Uint8Array<ArrayBuffer>> {
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      // Stop reading, but do not cancel: cancelling destroys Node's socket at once, and a peer
      // whose unread data meets a closed socket gets a reset instead of the 413. Left unread,
      // the server discards what still comes (bounded in time and bytes) after the answer.
      reader.releaseLock();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const ch of chunks) {
    all.set(ch, offset);
    offset += ch.byteLength;
  }
  return all;
}
