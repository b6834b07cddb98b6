/**
 * Escaping, one function per medium, applied at the last step: event text is data and must never
 * become markup, a mention or a link it did not contain.
 */

const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

const HTML_SPECIAL = /[&<>"']/;

/** For HTML text and attribute values. Most text has nothing to escape: it is returned as it is. */
export function escapeHtml(s: string): string {
  return HTML_SPECIAL.test(s) ? s.replace(/[&<>"']/g, (c) => HTML[c]!) : s;
}
