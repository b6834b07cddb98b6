import { fromBase64Url, toBase64Url } from '../core/base64url.js';

/** A page of a list answer: `{"data": [...], "next_cursor": "…" | null}` in the contract. */
export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/**
 * Cursors are opaque to callers: base64url of the UTF-8 JSON of the last row's sort key, a tuple
 * of numbers and strings (names in any script: `btoa` alone takes Latin-1 only). Each list
 * declares its key's shape, and a cursor of any other shape is refused (400), never handed to a
 * query. A key holds the values the query sorted by, as the database computed them: comparing
 * them with anything computed elsewhere (JavaScript's toLowerCase is not SQLite's lower()) would
 * skip or repeat rows.
 */
export type CursorShape = readonly ('number' | 'string')[];
type CursorKey<S extends CursorShape> = { -readonly [I in keyof S]: S[I] extends 'number' ? number : string };

export function encodeCursor<S extends CursorShape>(_shape: S, key: CursorKey<S>): string {
  return toBase64Url(new TextEncoder().encode(JSON.stringify(key)));
}

export function decodeCursor<S extends CursorShape>(cursor: string | undefined, shape: S): CursorKey<S> | undefined {
  if (!cursor) return undefined;
  let key: unknown;
  try {
    key = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(fromBase64Url(cursor)));
  } catch {
    return undefined;
  }
  if (!Array.isArray(key) || key.length !== shape.length) return undefined;
  const fits = key.every((v, i) => typeof v === shape[i] && (typeof v !== 'number' || Number.isFinite(v)));
  return fits ? (key as CursorKey<S>) : undefined;
}

/** Rows a keyset query asks for: one past the page, which tells whether another page follows. */
export const keysetLimit = (limit: number): number => limit + 1;

/**
 * The page of a keyset query's rows (it asked for `keysetLimit(limit)` of them, in the list's
 * order, after the cursor's key): the first `limit`, and the cursor of the last one's key when
 * the extra row says more follow (null on the last page).
 */
export function keysetPage<R, S extends CursorShape>(rows: R[], limit: number, shape: S, keyOf: (row: R) => CursorKey<S>): { rows: R[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { rows: page, nextCursor: rows.length > limit && last ? encodeCursor(shape, keyOf(last)) : null };
}
