/** A page of a list answer: `{"data": [...], "next_cursor": "…" | null}` in the contract. */
export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/**
 * Cursors are opaque to callers: base64url of the last row's sort key, a tuple of numbers and
 * strings. Each list declares its key's shape, and a cursor of any other shape is refused (400),
 * never handed to a query.
 */
export type CursorShape = readonly ('number' | 'string')[];
type CursorKey<S extends CursorShape> = { -readonly [I in keyof S]: S[I] extends 'number' ? number : string };

export function encodeCursor<S extends CursorShape>(_shape: S, key: CursorKey<S>): string {
  return btoa(JSON.stringify(key)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function decodeCursor<S extends CursorShape>(cursor: string | undefined, shape: S): CursorKey<S> | undefined {
  if (!cursor) return undefined;
  let key: unknown;
  try {
    key = JSON.parse(atob(cursor.replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    return undefined;
  }
  if (!Array.isArray(key) || key.length !== shape.length) return undefined;
  const fits = key.every((v, i) => typeof v === shape[i] && (typeof v !== 'number' || Number.isFinite(v)));
  return fits ? (key as CursorKey<S>) : undefined;
}
