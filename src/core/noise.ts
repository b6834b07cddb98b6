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
