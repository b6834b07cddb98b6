/**
 * When to try again: exponential from 30 s, capped at an hour, with "equal jitter" (half fixed,
 * half random) so a provider outage does not bring every retry back in the same second. A
 * provider's Retry-After wins when it asks for longer. Twelve attempts span 2.5 to 5 hours, so a
 * mail server down for an afternoon delays the day's alerts instead of losing them.
 */
export const MAX_ATTEMPTS = 12;

export function retryDelayMs(attempt: number, random: () => number = Math.random, retryAfterMs?: number): number {
  const base = Math.min(3_600_000, 30_000 * 2 ** Math.max(0, attempt - 1));
  const delay = base / 2 + random() * (base / 2);
  return Math.max(delay, retryAfterMs ?? 0);
}
