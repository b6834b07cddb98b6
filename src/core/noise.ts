import type { ChangeEvent } from './event.js';

/**
 * Noise rules: what changed for a machine but not for people. Each rule names one general kind of
 * noise and compares the removed and added text under one normalisation; every step is a single
 * left-to-right pass (or a regular expression whose every attempt is bounded), so a hostile 1 MB
 * line costs a few milliseconds, never a quadratic scan.
 */

/** Kinds of change that are no news by themselves, decided from the event alone. */
export type DiffNoise = 'whitespace' | 'links_only' | 'date_only' | 'reordered';
export type IntrinsicNoise = 'first_recorded' | 'technical_upgrade' | DiffNoise;

type Diff = { removed: string[]; added: string[] };

/** Noise the event is by itself, whatever its document did before. */
export function intrinsicNoise(event: ChangeEvent): IntrinsicNoise | null {
  if (event.kind === 'first_recorded') return 'first_recorded';
  if (event.technical_upgrade) return 'technical_upgrade';
  if (event.kind === 'changed') return diffNoise(event.diff);
  return null;
}

/**
 * The kind of noise a changed event's diff shows, the first that holds:
 * - `whitespace`: removed and added text are equal once all whitespace is removed (double spaces,
 *   non-breaking spaces, lines merely re-wrapped), or the diff has no non-blank line at all;
 * - `links_only`: equal once link targets and URLs are cut out (rotating ids, tracking parameters,
 *   image sources, redirect links, a moved help-centre article);
 * - `date_only`: equal once links and dates are cut out ("Last updated: May 3, 2026", "12 days
 *   ago"): no alert, but the digest may say the document was re-dated;
 * - `reordered`: the same lines (links and whitespace aside) in another order: a moved paragraph,
 *   a shuffled list of related articles; nothing was reworded.
 * No diff at all says nothing: such an event is news.
 */
export function diffNoise(diff: Diff | undefined): DiffNoise | null {
  if (!diff) return null;
  const { removed, added } = diff;
  if (!removed.some(hasText) && !added.some(hasText)) return 'whitespace';
  const isCut = producerCut(diff);
  if (!visible(diff, isCut)) return null;
  // Whitespace never counts (the comparisons skip it); each normalisation is computed once per line.
  if (sameUnder(diff, isCut, removed, added)) return 'whitespace';
  const [r, a] = [removed.map(withoutLinks), added.map(withoutLinks)];
  if (sameUnder(diff, isCut, r, a)) return 'links_only';
  if (sameUnder(diff, isCut, r.map(withoutDates), a.map(withoutDates))) return 'date_only';
  if (sameLinesInAnotherOrder(r, a)) return 'reordered';
  return null;
}

/**
 * Producers shorten long diff lines to a fixed length (pga-versions: 500 characters), which can end
 * a line mid-link, and a link that grew or shrank moves where the cut falls. A line is taken as cut
 * when it has the diff's greatest length, at least 200, and either another line has that length
 * too or it stops mid-sentence (a finished paragraph ends with punctuation). Of a cut line only
 * its beginning is known. Returns the test for one line.
 */
function producerCut(diff: Diff): (line: string) => boolean {
  let max = 0;
  let count = 0;
  for (const l of diff.removed.concat(diff.added)) {
    if (l.length > max) [max, count] = [l.length, 1];
    else if (l.length === max) count++;
  }
  if (max < 200) return () => false;
  return (line) => line.length === max && (count >= 2 || !FINISHED.test(line.slice(-8)));
}
/** How a finished line ends: sentence or list punctuation, a closing bracket, quote or emphasis. */
const FINISHED = /[.!?:;)\]"”’'*_|>]\s*$/;

/** The same lines (already normalised, whitespace aside) in another order. */
function sameLinesInAnotherOrder(removed: string[], added: string[]): boolean {
  if (removed.length !== added.length || removed.length < 2) return false;
  const r = [...removed].sort(compareIgnoringSpace);
  const a = [...added].sort(compareIgnoringSpace);
  return r.every((l, i) => compareIgnoringSpace(l, a[i]!) === 0);
}

/**
 * Removed and added text (each line already normalised) agree: line by line when both sides have as many lines
 * (a cut line only as far as it reaches), else as one text each (lines re-wrapped or merged),
 * where only a side's last line may have been cut. A pair of cut lines that read the same as far
 * as they go changed out of sight: it neither proves nor disproves noise, so it is left out, and a
 * diff that shows no change at all is not judged (`visible` tells).
 */
function sameUnder(diff: Diff, isCut: (line: string) => boolean, removed: string[], added: string[]): boolean {
  if (removed.length === added.length) {
    return removed.every((r, i) => {
      const [rawR, rawA] = [diff.removed[i]!, diff.added[i]!];
      return (rawR === rawA && isCut(rawR)) || agrees(r, isCut(rawR), added[i]!, isCut(rawA));
    });
  }
  const cutBefore = (lines: string[]) => lines.slice(0, -1).some(isCut);
  if (cutBefore(diff.removed) || cutBefore(diff.added)) return false;
  const last = (lines: string[]) => lines.length > 0 && isCut(lines[lines.length - 1]!);
  return agrees(removed.join(''), last(diff.removed), added.join(''), last(diff.added));
}

/** False when every changed line pair was cut before anything differs: the change is out of sight. */
function visible(diff: Diff, isCut: (line: string) => boolean): boolean {
  const { removed, added } = diff;
  return removed.length !== added.length || removed.some((r, i) => r !== added[i] || !isCut(r));
}

/**
 * Equal once whitespace is skipped, or, where a side was cut, that side is the beginning of the
 * other (both cut: the shorter). One walk over both strings, nothing allocated.
 */
function agrees(a: string, aCut: boolean, b: string, bCut: boolean): boolean {
  let i = 0;
  let j = 0;
  for (;;) {
    while (i < a.length && isSpace(a.charCodeAt(i))) i++;
    while (j < b.length && isSpace(b.charCodeAt(j))) j++;
    if (i === a.length || j === b.length) break;
    if (a.charCodeAt(i) !== b.charCodeAt(j)) return false;
    i++;
    j++;
  }
  if (i === a.length && j === b.length) return true;
  return i === a.length ? aCut : bCut;
}

/** Order of two lines with whitespace skipped (by UTF-16 code unit, as the default sort). */
function compareIgnoringSpace(a: string, b: string): number {
  let i = 0;
  let j = 0;
  for (;;) {
    while (i < a.length && isSpace(a.charCodeAt(i))) i++;
    while (j < b.length && isSpace(b.charCodeAt(j))) j++;
    if (i === a.length || j === b.length) return (i === a.length ? 0 : 1) - (j === b.length ? 0 : 1);
    const d = a.charCodeAt(i) - b.charCodeAt(j);
    if (d !== 0) return d;
    i++;
    j++;
  }
}

const isSpace = (c: number) =>
  c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
const isWordChar = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
const hasText = (line: string) => /\S/.test(line);

/** `word` (lowercase letters and punctuation) at `i`, in any letter case. */
function wordAt(line: string, i: number, word: string): boolean {
  for (let k = 0; k < word.length; k++) {
    const c = line.charCodeAt(i + k);
    const w = word.charCodeAt(k);
    if (c !== w && !(w >= 0x61 && w <= 0x7a && c === w - 0x20)) return false;
  }
  return true;
}

/** Characters that end a URL written in running text (as in `(see https://a.test/x)`). */
const endsBareUrl = (c: number) => isSpace(c) || c === 0x29 || c === 0x5d || c === 0x3e || c === 0x3c || c === 0x22 || c === 0x27;

/**
 * The line with every link target cut out, in one pass: Markdown link and image targets
 * (`[text](…)`, `![alt](…)`, up to the balancing parenthesis, or to the end of a line cut mid-URL),
 * bare URLs (`https://…`, percent-encoded redirect parameters included) and HTML `href`/`src`
 * values. Link texts and image alt texts stay: they are what people read.
 */
function withoutLinks(line: string): string {
  const n = line.length;
  const out: string[] = [];
  let from = 0; // start of the text not yet copied
  let i = 0;
  while (i < n) {
    const c = line.charCodeAt(i);
    if (c === 0x5d && line.charCodeAt(i + 1) === 0x28) {
      // `](`: a Markdown target. Parentheses inside balance; a space ends it before a title.
      out.push(line.slice(from, i), ']()');
      let depth = 1;
      i += 2;
      while (i < n) {
        const d = line.charCodeAt(i);
        if (d === 0x28) depth++;
        else if (d === 0x29 && --depth === 0) {
          i++;
          break;
        } else if (isSpace(d)) break;
        i++;
      }
      from = i;
      continue;
    }
    if ((c === 0x68 || c === 0x48) && !isWordChar(line.charCodeAt(i - 1)) && (wordAt(line, i, 'http://') || wordAt(line, i, 'https://'))) {
      out.push(line.slice(from, i));
      while (i < n && !endsBareUrl(line.charCodeAt(i))) i++;
      from = i;
      continue;
    }
    if ((c === 0x68 || c === 0x48 || c === 0x73 || c === 0x53) && !isWordChar(line.charCodeAt(i - 1))) {
      const name = wordAt(line, i, 'href') ? 'href' : wordAt(line, i, 'src') ? 'src' : null;
      if (name) {
        let j = i + name.length;
        while (j < n && isSpace(line.charCodeAt(j))) j++;
        if (line.charCodeAt(j) === 0x3d) {
          j++;
          while (j < n && isSpace(line.charCodeAt(j))) j++;
          const q = line.charCodeAt(j);
          out.push(line.slice(from, i), name, '=');
          if (q === 0x22 || q === 0x27) {
            j++;
            while (j < n && line.charCodeAt(j) !== q) j++;
            j++;
          } else while (j < n && !isSpace(line.charCodeAt(j)) && line.charCodeAt(j) !== 0x3e) j++;
          i = from = Math.min(j, n);
          continue;
        }
      }
    }
    i++;
  }
  if (from === 0) return line;
  out.push(line.slice(from));
  return out.join('');
}

// Dates as policies print them. Every quantifier is bounded, so each attempt reads a few dozen
// characters at most and a whole line is matched in linear time.
const MONTH = '(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\\.?';
const DAY = '\\d{1,2}(?:st|nd|rd|th)?';
const DATES = new RegExp(
  [
    `\\b${MONTH}[ \\t\\u00a0]{0,3}${DAY},?[ \\t\\u00a0]{0,3}\\d{4}\\b`, // May 3, 2026 · January 12 2024
    `\\b${DAY}[ \\t\\u00a0]{0,3}(?:of[ \\t\\u00a0]{1,3})?${MONTH},?[ \\t\\u00a0]{0,3}\\d{4}\\b`, // 3 May 2026
    `\\b${MONTH}[ \\t\\u00a0]{0,3}\\d{4}\\b`, // May 2026
    '\\b\\d{4}[-/.]\\d{1,2}[-/.]\\d{1,2}\\b', // 2026-05-03
    '\\b\\d{1,2}[-/.]\\d{1,2}[-/.]\\d{2,4}\\b', // 05/03/2026 · 3.5.26
    // 12 days ago · an hour ago
    '\\b(?:\\d{1,4}|an?|one)[ \\t\\u00a0]{1,3}(?:second|minute|hour|day|week|month|year)s?[ \\t\\u00a0]{1,3}ago\\b',
  ].join('|'),
  'gi',
);

/** The line with every date cut out. */
function withoutDates(line: string): string {
  return line.replace(DATES, '');
}
