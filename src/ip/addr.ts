/**
 * IP and link-layer addresses: branded types, parsing and text forms.
 * RFC 791 (IPv4 dotted quad), RFC 4291 (IPv6 addressing), RFC 5952 (IPv6 text representation).
 *
 * `Ipv4Addr` is an unsigned 32-bit number; `Ipv6Addr` is a 16-byte `Uint8Array`. Addresses read
 * from a packet view are *borrowed*: an `Ipv6Addr` getter returns a view into the packet buffer, so
 * copy it (`v6Copy`) before keeping it past the current event. `MacAddr` is a 6-byte `Uint8Array`,
 * borrowed the same way.
 */

declare const v4Brand: unique symbol;
declare const v6Brand: unique symbol;
declare const macBrand: unique symbol;

/** An IPv4 address as an unsigned 32-bit integer, most significant byte first on the wire. */
export type Ipv4Addr = number & { readonly [v4Brand]: true };
/** An IPv6 address: 16 bytes, network order. */
export type Ipv6Addr = Uint8Array & { readonly [v6Brand]: true };
/** An Ethernet MAC address: 6 bytes. */
export type MacAddr = Uint8Array & { readonly [macBrand]: true };
/** An IP address of either version (the version is told by the type: a number is IPv4). */
export type IpAddr = Ipv4Addr | Ipv6Addr;

// ---- IPv4 ----

/** Brand a 32-bit number as an IPv4 address. */
export function v4(n: number): Ipv4Addr {
  return (n >>> 0) as Ipv4Addr;
}

/** Read an IPv4 address at `b[off]`. */
export function v4At(b: Uint8Array, off: number): Ipv4Addr {
  return (((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0) as Ipv4Addr;
}

/** Write an IPv4 address at `b[off]`. */
export function v4Put(b: Uint8Array, off: number, a: Ipv4Addr): void {
  b[off] = a >>> 24;
  b[off + 1] = (a >>> 16) & 0xff;
  b[off + 2] = (a >>> 8) & 0xff;
  b[off + 3] = a & 0xff;
}

/** Parse dotted-quad text; null when it is not exactly four decimal octets. */
export function parseV4(text: string): Ipv4Addr | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n as Ipv4Addr;
}

/** Dotted-quad text. */
export function formatV4(a: Ipv4Addr | number): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

// ---- IPv6 ----

/** A new zeroed IPv6 address. */
export function v6Zero(): Ipv6Addr {
  return new Uint8Array(16) as Ipv6Addr;
}

/** A borrowed view of the IPv6 address at `b[off]`. */
export function v6At(b: Uint8Array, off: number): Ipv6Addr {
  return b.subarray(off, off + 16) as Ipv6Addr;
}

/** An owned copy of an IPv6 address (or of the 16 bytes at `b[off]`). */
export function v6Copy(b: Uint8Array, off = 0): Ipv6Addr {
  return b.slice(off, off + 16) as Ipv6Addr;
}

/** Write an IPv6 address at `b[off]`. */
export function v6Put(b: Uint8Array, off: number, a: Ipv6Addr): void {
  b.set(a, off);
}

/** True when two IPv6 addresses are equal. */
export function v6Equal(a: Uint8Array, b: Uint8Array, bOff = 0): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[bOff + i]) return false;
  return true;
}

/** Parse IPv6 text (RFC 4291 section 2.2, including an embedded dotted quad); null if invalid. */
export function parseV6(text: string): Ipv6Addr | null {
  if (text.length < 2 || text.length > 45) return null;
  const out = v6Zero();
  let s = text;
  let tailV4: Ipv4Addr | null = null;
  const lastColon = s.lastIndexOf(":");
  if (s.indexOf(".", lastColon) >= 0) {
    tailV4 = parseV4(s.slice(lastColon + 1));
    if (tailV4 === null) return null;
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const dbl = s.indexOf("::");
  if (dbl >= 0 && s.indexOf("::", dbl + 1) >= 0) return null;
  const parseGroups = (part: string): number[] | null => {
    if (part === "") return [];
    const groups = part.split(":");
    const words: number[] = [];
    for (const g of groups) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      words.push(Number.parseInt(g, 16));
    }
    return words;
  };
  let words: number[];
  if (dbl >= 0) {
    const head = parseGroups(s.slice(0, dbl));
    const tail = parseGroups(s.slice(dbl + 2));
    if (head === null || tail === null || head.length + tail.length > 7) return null;
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = parseGroups(s);
    if (all === null || all.length !== 8) return null;
    words = all;
  }
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i] >>> 8;
    out[2 * i + 1] = words[i] & 0xff;
  }
  if (tailV4 !== null) v4Put(out, 12, tailV4);
  return out;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (>= 2) of zero words as `::`. */
export function formatV6(a: Uint8Array, off = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((a[off + 2 * i] << 8) | a[off + 2 * i + 1]);
  // RFC 5952 section 4.2.3: the longest run, the first if tied; a single zero word is not shortened.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  // RFC 5952 section 5: IPv4-mapped addresses keep the dotted quad.
  if (bestStart === 0 && bestLen === 5 && w[5] === 0xffff) {
    return `::ffff:${formatV4(v4At(a, off + 12))}`;
  }
  const hex = (x: number) => x.toString(16);
  if (bestStart < 0) return w.map(hex).join(":");
  const head = w.slice(0, bestStart).map(hex).join(":");
  const tail = w
    .slice(bestStart + bestLen)
    .map(hex)
    .join(":");
  return `${head}::${tail}`;
}

/** A string key for maps (32 hex digits). */
export function v6Key(a: Uint8Array, off = 0): string {
  let s = "";
  for (let i = 0; i < 16; i++) s += HEX2[a[off + i]];
  return s;
}

const HEX2: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

// ---- MAC ----

/** A borrowed view of the MAC address at `b[off]`. */
export function macAt(b: Uint8Array, off: number): MacAddr {
  return b.subarray(off, off + 6) as MacAddr;
}

/** Parse `aa:bb:cc:dd:ee:ff` (or with `-`); null if invalid. */
export function parseMac(text: string): MacAddr | null {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6) return null;
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) {
    if (!/^[0-9a-fA-F]{2}$/.test(parts[i])) return null;
    out[i] = Number.parseInt(parts[i], 16);
  }
  return out as MacAddr;
}

/** Lower-case colon-separated text. */
export function formatMac(b: Uint8Array, off = 0): string {
  let s = HEX2[b[off]];
  for (let i = 1; i < 6; i++) s += `:${HEX2[b[off + i]]}`;
  return s;
}

/** The MAC as a number (48 bits fit a double exactly), for map keys. */
export function macKey(b: Uint8Array, off = 0): number {
  return (
    (b[off] * 0x10000 + ((b[off + 1] << 8) | b[off + 2])) * 0x1000000 +
    ((b[off + 3] << 16) | (b[off + 4] << 8) | b[off + 5])
  );
}

/** The broadcast MAC ff:ff:ff:ff:ff:ff. */
export const MAC_BROADCAST = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) as MacAddr;
/** The all-zero MAC (unknown target in ARP requests). */
export const MAC_ZERO = new Uint8Array(6) as MacAddr;

/** RFC 4291 2.7.1: the link-scope all-nodes group ff02::1. */
export const IPV6_ALL_NODES = new Uint8Array([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]) as Ipv6Addr;
/** RFC 4291 2.7.1: the link-scope all-routers group ff02::2. */
export const IPV6_ALL_ROUTERS = new Uint8Array([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]) as Ipv6Addr;
