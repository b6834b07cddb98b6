import type { ChangeItem } from './message.js';
import type { ChangeEvent } from './event.js';

/**
 * Noise rules: what changed for a machine but not for people.
 */

const URL_IN_TEXT = /\bhttps?:\/\/[^\s)\]>"']+/gi;
const LINK_TARGET = /\]\([^)]*\)|href\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/gi;

/** The line with every URL, link target and href replaced by one placeholder. */
function withoutLinks(line: string): string {
  return line.replace(LINK_TARGET, '](LINK)').replace(URL_IN_TEXT, 'LINK').replace(/\s+/g, ' ').trim();
}

/** Noise the event is by itself, whatever its document did before. */
export function intrinsicNoise(event: ChangeEvent): 'first_recorded' | 'technical_upgrade' | 'links_only' | null {
  if (event.kind === 'first_recorded') return 'first_recorded';
  if (event.technical_upgrade) return 'technical_upgrade';
  if (event.kind === 'changed' && isLinksOnlyChange(event.diff)) return 'links_only';
  return null;
}

/**
 * True when every removed/added line pair differs only inside links: rotating ids, tracking
 * parameters, a moved help-centre article. Such an event is stored and shown in feeds, but never
 * alerted, like a technical upgrade.
 */
export function isLinksOnlyChange(diff: { removed: string[]; added: string[] } | undefined): boolean {
  if (!diff || diff.removed.length === 0 || diff.removed.length !== diff.added.length) return false;
  return diff.removed.every((r, i) => {
    const a = diff.added[i]!;
    return r !== a && withoutLinks(r) === withoutLinks(a);
  });
}

/**
 * In a weekly digest, an outage shorter than this that ended with the content unchanged was a
 * blip (an error page between two hourly captures): over before anyone could act, it is left out.
 */
export const DIGEST_BLIP_MS = 3_600_000;

/**
 * A document that could not be read and could again within one alert group (or, given
 * `withinMs`, that soon), with the same content as before, is no news: both notices cancel out.
 * Notices of documents that came back changed, or are still down, stay.
 */
export function cancelUnreachableBursts(notices: ChangeItem[], withinMs = Infinity): ChangeItem[] {
  const dropped = new Set<ChangeItem>();
  const key = (n: ChangeItem) => `${n.platform.slug}\u0000${n.document.title.toLowerCase()}`;
  for (const down of notices.filter((n) => n.kind === 'unreachable')) {
    const back = notices.find(
      (n) =>
        n.kind === 'restored' &&
        !dropped.has(n) &&
        key(n) === key(down) &&
        n.detectedAt >= down.detectedAt &&
        n.detectedAt - down.detectedAt < withinMs &&
        // Unchanged: the content after equals the content before the outage (when both are known).
        (!n.evidence?.sha256 || !down.evidence?.previous_sha256 || n.evidence.sha256 === down.evidence.previous_sha256),
    );
    if (back) {
      dropped.add(down);
      dropped.add(back);
    }
  }
  return notices.filter((n) => !dropped.has(n));
}
