export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  target: string;
  ok: boolean;
}

export function formatValue(v: number): string {
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** A Markdown table, pasted as is into the README. */
export function markdownTable(rows: BenchRow[]): string {
  const lines = ['| measure | result | target | |', '|---|---:|---|---|'];
  for (const r of rows) lines.push(`| ${r.name} | ${formatValue(r.value)} ${r.unit} | ${r.target} | ${r.ok ? 'met' : '**missed**'} |`);
  return lines.join('\n');
}
