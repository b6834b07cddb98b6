export const SEVERITIES = ['low', 'medium', 'high'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Ranks are stored beside the name so SQL can filter with `>=` (low = 1, high = 3). */
export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity) + 1;
}

export function severityFromRank(rank: number): Severity {
  const s = SEVERITIES[rank - 1];
  if (!s) throw new RangeError(`no severity of rank ${rank}`);
  return s;
}

export function isSeverity(value: string): value is Severity {
  return (SEVERITIES as readonly string[]).includes(value);
}

/** Highest severity first, then newest first: the order every message lists changes in. */
export function bySeverityThenNewest<T extends { severity: Severity; detectedAt: number }>(a: T, b: T): number {
  return severityRank(b.severity) - severityRank(a.severity) || b.detectedAt - a.detectedAt;
}
