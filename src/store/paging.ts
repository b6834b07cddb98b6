/** A page of a list answer: `{"data": [...], "next_cursor": "…" | null}` in the contract. */
export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

/** Cursors are opaque to callers: base64url of the last row's sort key. */
export function encodeCursor(key: unknown): string {
  return btoa(JSON.stringify(key)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function decodeCursor<T>(cursor: string | undefined): T | undefined {
  if (!cursor) return undefined;
  try {
    return JSON.parse(atob(cursor.replace(/-/g, '+').replace(/_/g, '/'))) as T;
  } catch {
    return undefined;
  }
}

export function isValidCursor(cursor: string | undefined): boolean {
  return cursor === undefined || decodeCursor(cursor) !== undefined;
}
