/**
 * The `code` (on a failed POST's error or its cause) of a POST refused before it was written:
 * its time to start passed while the sending thread or a free connection to its host kept it
 * waiting. A module of its own, free of imports, because the sending thread and the guarded
 * agent (Node) and the channels (Node and Workers) all need it.
 */
export const NOT_SENT = 'ECW_NOT_SENT';

/** Whether a failed POST was never written. */
export function wasNotSent(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } } | null;
  return e?.code === NOT_SENT || e?.cause?.code === NOT_SENT;
}
