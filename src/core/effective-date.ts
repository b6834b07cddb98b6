/**
 * "takes effect in 12 days" / "takes effect today" / "took effect 3 days ago": one phrase for
 * every channel. Days are counted between calendar dates in the reader's time zone, so a change
 * effective tomorrow reads "tomorrow" all day long wherever the reader is.
 */
export function daysUntil(effectiveAt: string, now: number, timeZone: string): number {
  const today = localDate(now, timeZone);
  const [y, m, d] = effectiveAt.split('-').map(Number) as [number, number, number];
  return Math.round((Date.UTC(y, m - 1, d) - Date.UTC(today.y, today.m - 1, today.d)) / 86_400_000);
}

export function effectiveDatePhrase(effectiveAt: string, now: number, timeZone: string): string {
  const n = daysUntil(effectiveAt, now, timeZone);
  if (n === 0) return 'takes effect today';
  if (n === 1) return 'takes effect tomorrow';
  if (n === -1) return 'took effect yesterday';
  return n > 0 ? `takes effect in ${n} days` : `took effect ${-n} days ago`;
}

// Building an Intl.DateTimeFormat costs far more than using one: keep one per zone and style.
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(key: string, make: () => Intl.DateTimeFormat): Intl.DateTimeFormat {
  let f = formatters.get(key);
  if (!f) formatters.set(key, (f = make()));
  return f;
}

export function localDate(at: number, timeZone: string): { y: number; m: number; d: number } {
  const parts = formatter(`date:${timeZone}`, () => new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })).formatToParts(at);
  const get = (t: string) => Number(parts.find((p) => p.type === t)!.value);
  return { y: get('year'), m: get('month'), d: get('day') };
}

/** "27 Mar 2026": dates as people read them in every channel. */
export function formatDate(isoDate: string): string {
  const [y, m, d] = isoDate.split('-').map(Number) as [number, number, number];
  return formatter('day', () => new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' })).format(Date.UTC(y, m - 1, d));
}

/** "20 Nov 2026, 06:04 UTC" in the reader's zone. */
export function formatDateTime(at: number, timeZone: string): string {
  return formatter(
    `datetime:${timeZone}`,
    () =>
      new Intl.DateTimeFormat('en-GB', {
        day: 'numeric',
        month: 'short',
        year: 'numeric',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
        timeZone,
        timeZoneName: 'short',
      }),
  ).format(at);
}
