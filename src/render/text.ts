/** Cuts text to at most `max` characters, at a word boundary when one is near, with an ellipsis. */
export function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  if (max <= 1) return '…'.slice(0, max);
  const hard = s.slice(0, max - 1);
  const space = hard.lastIndexOf(' ');
  return `${space > max * 0.6 ? hard.slice(0, space) : hard}…`;
}

/** Bytes of `s` in UTF-8, without encoding it: size budgets (Gmail's clipping) count bytes. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
