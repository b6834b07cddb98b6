export interface BenchRow {
  name: string;
  /** The median of `samples` when there are several. */
  value: number;
  unit: string;
  target: string;
  ok: boolean;
  /** Each round's figure (the row's value is their median): printed as the spread. */
  samples?: number[];
}

export function formatValue(v: number): string {
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** The range of a row's rounds, "min–max (n rounds)"; a single measurement says so. */
export function formatSpread(r: BenchRow): string {
  const xs = r.samples ?? [r.value];
  if (xs.length < 2) return 'one round';
  return `${formatValue(Math.min(...xs))}–${formatValue(Math.max(...xs))} (${xs.length} rounds)`;
}

/**
 * Whether `value` meets a target as the table prints it ("≥ 5,000/s", "< 300 ms", "≤ 1.0×"); a
 * target without a bound ("reported") is met by any figure.
 */
export function meetsTarget(target: string, value: number): boolean {
  const m = /^(≥|≤|<|>)\s*([\d,.]+)/.exec(target);
  if (!m) return true;
  const bound = Number(m[2]!.replace(/,/g, ''));
  return m[1] === '≥' ? value >= bound : m[1] === '≤' ? value <= bound : m[1] === '<' ? value < bound : value > bound;
}

/**
 * Rounds of one section merged row by row (same order each round): the value is the median of
 * the rounds, the samples every round's figure; a target counts as met when the median meets it.
 */
export function mergeRounds(rounds: BenchRow[][]): BenchRow[] {
  const [first] = rounds;
  if (!first || rounds.length === 1) return first ?? [];
  return first.map((row, i) => {
    const samples = rounds.flatMap((r) => (r[i] ? [r[i]!.value] : []));
    const value = median(samples);
    return { ...row, value, samples, ok: meetsTarget(row.target, value) };
  });
}

/** A Markdown table, pasted as is into the README. */
export function markdownTable(rows: BenchRow[]): string {
  const lines = ['| measure | median | spread | target | |', '|---|---:|---:|---|---|'];
  for (const r of rows) lines.push(`| ${r.name} | ${formatValue(r.value)} ${r.unit} | ${formatSpread(r)} | ${r.target} | ${r.ok ? 'met' : '**missed**'} |`);
  return lines.join('\n');
}
