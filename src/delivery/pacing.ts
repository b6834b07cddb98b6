import type { Clock } from '../core/clock.js';

/**
 * Waits for a key's next free slot, `intervalMs` after its last one, by the given clock. The slot
 * is taken before waiting, so sends to one key running at once line up instead of all waking
 * together. (Slack's one message per second per channel; Teams' few requests per second per webhook.)
 */
export function perKeyPacer(clock: Clock, intervalMs: number): (key: string) => Promise<void> {
  const last = new Map<string, number>();
  return async (key) => {
    const now = clock();
    const slot = Math.max(now, (last.get(key) ?? -Infinity) + intervalMs);
    last.set(key, slot);
    // Slots long past are of no use: forget them, so the map holds only recently paced keys.
    if (last.size > 10_000) for (const [k, t] of last) if (t < now - intervalMs) last.delete(k);
    if (slot > now) await new Promise((r) => setTimeout(r, slot - now));
  };
}
