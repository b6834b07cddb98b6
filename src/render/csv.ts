/**
 * CSV as RFC 4180 writes it (CRLF line ends, a field quoted when it holds a comma, a quote or a
 * line break, quotes doubled), safe to open in a spreadsheet: a cell that starts with `=`, `+`,
 * `-`, `@`, a tab or a carriage return would be read as a formula (OWASP's "CSV injection"), so
 * it is prefixed with `'`. Text from events (titles, reasons, names) is data, never a formula.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  let s = String(value);
  if (typeof value === 'string' && FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(cells: readonly (string | number | null | undefined)[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}
