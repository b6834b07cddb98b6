/** Cuts text to at most `max` characters, at a word boundary when one is near, with an ellipsis. */
export function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  if (max <= 1) return '…'.slice(0, max);
  const hard = s.slice(0, max - 1);
  const space = hard.lastIndexOf(' ');
  return `${space > max * 0.6 ? hard.slice(0, space) : hard}…`;
}
