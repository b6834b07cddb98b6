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

/** The IPv4 address in groups `hi` and `lo` (16 bits each) as one number. */
const v4Of = (hi: number, lo: number) => hi * 65536 + lo;

/**
 * IPv6 ranges that carry an IPv4 address inside: a connection to one of them may end at that
 * IPv4 address (the kernel for mapped forms, a NAT64 or 6to4 relay, a Teredo peer), so each is
 * judged by the IPv4 address it embeds. Null when the address embeds none.
 */
function embeddedV4(g: number[]): number[] | null {
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  // ::a.b.c.d (IPv4-compatible, deprecated; :: and ::1 land in 0.0.0.0/8), ::ffff:a.b.c.d
  // (IPv4-mapped) and ::ffff:0:a.b.c.d (IPv4-translated, RFC 2765).
  if (zero(0, 6) || (zero(0, 5) && g[5] === 0xffff) || (zero(0, 4) && g[4] === 0xffff && g[5] === 0)) return [v4Of(g[6]!, g[7]!)];
  // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052): the last 32 bits.
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6)) return [v4Of(g[6]!, g[7]!)];
  // 6to4 2002::/16 (RFC 3056): bits 16-48 are the site's IPv4 address.
  if (g[0] === 0x2002) return [v4Of(g[1]!, g[2]!)];
  // Teredo 2001::/32 (RFC 4380): the server in bits 32-64, the client in the last 32 bits, inverted.
  if (g[0] === 0x2001 && g[1] === 0) return [v4Of(g[2]!, g[3]!), v4Of(g[6]! ^ 0xffff, g[7]! ^ 0xffff)];
  return null;
}

/** Special-use IPv6 ranges (IANA's registry) that a webhook has no business reaching. */
function v6Blocked(g: number[]): boolean {
  const a = g[0]!;
  return (
    (a & 0xfe00) === 0xfc00 || // fc00::/7 unique local
    (a & 0xffc0) === 0xfe80 || // fe80::/10 link-local
    (a & 0xffc0) === 0xfec0 || // fec0::/10 site-local (deprecated, still routed inside some networks)
    (a & 0xff00) === 0xff00 || // ff00::/8 multicast
    // 64:ff9b:1::/48, local-use NAT64 (RFC 8215): where the IPv4 address sits depends on the
    // prefix length each network picks, and IANA lists the range as not globally reachable.
    (a === 0x64 && g[1] === 0xff9b && g[2] === 1) ||
    (a === 0x100 && g.slice(1, 4).every((x) => x === 0)) || // 100::/64 discard-only
    (a === 0x2001 && g[1] === 0xdb8) // 2001:db8::/32 documentation
  );
}

/** Whether a webhook may connect to this address (IPv4, or IPv6 with or without brackets). */
export function isPublicAddress(address: string): boolean {
  const v4 = parseV4(address);
  if (v4 !== null) return !v4Blocked(v4);
  const g = parseV6(address.replace(/^\[|\]$/g, ''));
  if (!g) return false;
  const inside = embeddedV4(g);
  if (inside) return !inside.some(v4Blocked);
  return !v6Blocked(g);
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
