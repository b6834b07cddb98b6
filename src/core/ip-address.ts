/**
 * Which IP addresses a webhook may reach: not private, loopback, link-local or other special-use
 * ones (SSRF). Pure, so the Node service (after DNS) and the Workers edition (IP literals) judge
 * alike.
 */
const V4_BLOCKED: readonly (readonly [string, number])[] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];

function parseV4(s: string): number | null {
  const parts = s.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return null;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

const v4Blocked = (n: number) =>
  V4_BLOCKED.some(([net, prefix]) => {
    const size = 2 ** (32 - prefix);
    return Math.floor(n / size) === Math.floor(parseV4(net)! / size);
  });

/** The eight 16-bit groups of an IPv6 address (an IPv4 tail included), or null. */
function parseV6(s: string): number[] | null {
  let text = s.replace(/%.*$/, '');
  // An IPv4 tail (::ffff:127.0.0.1) becomes its two groups.
  const tail = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const n = parseV4(tail[2]!);
    if (n === null) return null;
    text = `${tail[1]}${Math.floor(n / 65536).toString(16)}:${(n % 65536).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  if (![...head, ...rest].every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return null;
  const known = head.length + rest.length;
  if (halves.length === 1 ? known !== 8 : known > 7) return null;
  const zeros = Array<number>(8 - known).fill(0);
  return [...head, ...(halves.length === 2 ? zeros.map(String) : []), ...rest].map((g) => (typeof g === 'number' ? g : parseInt(g, 16)));
}

export function isPublicAddress(address: string): boolean {
  const v4 = parseV4(address);
  if (v4 !== null) return !v4Blocked(v4);
  const g = parseV6(address.replace(/^\[|\]$/g, ''));
  if (!g) return false;
  if (g.every((x) => x === 0)) return false; // ::
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return false; // ::1
  if ((g[0]! & 0xfe00) === 0xfc00 || (g[0]! & 0xffc0) === 0xfe80 || (g[0]! & 0xff00) === 0xff00) return false;
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return false;
  // IPv4-mapped (::ffff:a.b.c.d, in either notation): judged by the IPv4 rules.
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return !v4Blocked(g[6]! * 65536 + g[7]!);
  return true;
}

export function isIpLiteral(host: string): boolean {
  return parseV4(host) !== null || parseV6(host.replace(/^\[|\]$/g, '')) !== null;
}

/**
 * What can be told of a webhook URL without resolving its name: an IP literal of a non-public
 * address, or localhost. Null when nothing is wrong with it so far.
 */
export function literalHostRefusal(url: string): string | null {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return `${host} is this machine`;
  if (isIpLiteral(host) && !isPublicAddress(host)) return `${host} is a private, loopback or link-local address`;
  return null;
}
