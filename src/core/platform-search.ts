export interface PlatformName {
  slug: string;
  name: string;
}

const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '');

/**
 * The longest query the search looks at. A slug is at most 64 characters and names are short;
 * a longer query matches nothing, and is refused before any work, so a 500,000-character form
 * field costs nothing (an edit distance over it froze every request for seconds).
 */
export const MAX_SEARCH_QUERY = 64;
/** Edit-distance cells one search may compute in all: a few milliseconds, whatever the catalog's size. */
const MAX_DISTANCE_CELLS = 1_000_000;

/** Edit distance: enough to rank "opnai" next to "openai" among a few hundred names. */
function distance(a: string, b: string): number {
  if (a === b) return 0;
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/**
 * Platforms close to what someone typed: prefix and substring matches first, then near misses
 * by edit distance. Used for "No platform 'x'. Did you mean …" in every surface (chat commands
 * and their autocomplete, the admin API, sign-up, the manage page), and bounded here for all of
 * them: the query's length, and the edit-distance work in all.
 */
export function closestPlatforms<T extends PlatformName>(query: string, catalog: readonly T[], max = 5): T[] {
  if (query.length > MAX_SEARCH_QUERY) return [];
  const q = norm(query);
  if (!q) return [];
  const maxDistance = Math.max(2, Math.floor(q.length / 3));
  let budget = MAX_DISTANCE_CELLS;
  const near = (s: string) => {
    // Lengths further apart than the distance allowed cannot be near: no need to compute.
    if (Math.abs(s.length - q.length) > maxDistance || budget <= 0) return Infinity;
    budget -= q.length * s.length;
    return distance(q, s);
  };
  const scored: { p: T; score: number }[] = [];
  for (const p of catalog) {
    const slug = norm(p.slug);
    const name = norm(p.name);
    let score: number;
    if (slug === q || name === q) score = 0;
    else if (slug.startsWith(q) || name.startsWith(q)) score = 1;
    else if (slug.includes(q) || name.includes(q)) score = 2;
    else {
      const d = Math.min(near(slug), near(name));
      if (d > maxDistance) continue;
      score = 3 + d;
    }
    scored.push({ p, score });
  }
  return scored
    .sort((a, b) => a.score - b.score || a.p.slug.localeCompare(b.p.slug))
    .slice(0, max)
    .map((s) => s.p);
}
