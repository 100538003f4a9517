/**
 * IP version objects: the seed design's `Ip` trait as runtime values with static types.
 * RFC 791 and RFC 1122 (IPv4 addressing), RFC 3927 (IPv4 link-local), RFC 5771 (IPv4 multicast),
 * RFC 4291 (IPv6 addressing), RFC 8200 section 5 (IPv6 minimum link MTU).
 *
 * TypeScript has no specialization, so shared logic is written once as a generic function taking
 * `I: IpVersion<A>` and branches on `I.version` only where the protocols really differ. Exactly two
 * version objects exist (`Ipv4`, `Ipv6`), so call sites stay close to monomorphic.
 *
 * `Subnet` lives here (and is re-exported by `subnet.ts`) because each version object carries its
 * loopback, multicast and link-local subnets: keeping both in one module avoids an import cycle.
 */

import {
  formatV4,
  formatV6,
  type IpAddr,
  type Ipv4Addr,
  type Ipv6Addr,
  parseV4,
  parseV6,
  v4,
  v4At,
  v4Put,
  v6At,
  v6Copy,
  v6Equal,
  v6Key,
  v6Put,
} from "./addr.ts";

export type { IpAddr } from "./addr.ts";

/** What an IP version knows about itself and its addresses. `A` is its address type. */
export interface IpVersion<A> {
  /** 4 or 6: the value of the IP header's version field. */
  readonly version: 4 | 6;
  /** "IPv4" or "IPv6", for logs. */
  readonly name: string;
  /** Address length in bytes (4 or 16). */
  readonly addrLen: number;
  /** Address length in bits (32 or 128): the longest prefix. */
  readonly addrBits: number;
  /** The unspecified address (0.0.0.0, ::). */
  readonly unspecified: A;
  /** The loopback address (127.0.0.1, ::1). */
  readonly loopback: A;
  /** 127.0.0.0/8, ::1/128. */
  readonly loopbackSubnet: Subnet<A>;
  /** 224.0.0.0/4, ff00::/8. */
  readonly multicastSubnet: Subnet<A>;
  /** Link-local unicast: 169.254.0.0/16 (RFC 3927), fe80::/10 (RFC 4291 2.5.6). */
  readonly linkLocalSubnet: Subnet<A>;
  /** The minimum link MTU: 68 (RFC 791), 1280 (RFC 8200 section 5). */
  readonly minMtu: number;
  /** Size of the fixed header: 20 (without options), 40. */
  readonly headerLen: number;

  isMulticast(a: A): boolean;
  isUnspecified(a: A): boolean;
  isLoopback(a: A): boolean;
  /** Link-local unicast (the `linkLocalSubnet`). */
  isLinkLocal(a: A): boolean;
  /** Link-local-scope multicast: 224.0.0.0/24 (RFC 5771), ff02::/16 (RFC 4291 2.7 scope 2). */
  isLinkLocalMulticast(a: A): boolean;
  /** Value equality (IPv6 addresses are arrays, so `===` is not enough). */
  equals(a: A, b: A): boolean;
  /** Total order (numeric, network byte order): negative, zero or positive. */
  compare(a: A, b: A): number;
  /** A `Map` key: the number itself for IPv4, 32 hex digits for IPv6. */
  key(a: A): number | string;
  /** An owned copy (IPv6 addresses read from packets are borrowed views). IPv4: the same number. */
  copy(a: A): A;
  /** Text form: dotted quad, RFC 5952. */
  format(a: A): string;
  /** Parse text; null when it is not an address of this version. */
  parse(text: string): A | null;
  /** The address at `bytes[off]`; for IPv6 a *borrowed* view into `bytes`. */
  readAt(bytes: Uint8Array, off: number): A;
  /** Write the address at `bytes[off]`. */
  writeAt(bytes: Uint8Array, off: number, a: A): void;
  /** The address with every bit after the first `prefixLen` cleared (a new array for IPv6). */
  maskBits(a: A, prefixLen: number): A;
  /** True when `a` and `b` agree in their first `prefixLen` bits. Allocates nothing. */
  prefixMatch(a: A, b: A, prefixLen: number): boolean;
  /** Bit `i` of the address, counting from the most significant bit (0 .. addrBits-1). */
  bitAt(a: A, i: number): number;
  /** How many leading bits `a` and `b` share (0 .. addrBits); RFC 6724's CommonPrefixLen. */
  commonPrefixLen(a: A, b: A): number;
}

/** The IPv4 version object's type. */
export type Ipv4Version = IpVersion<Ipv4Addr> & { readonly version: 4 };
/** The IPv6 version object's type. */
export type Ipv6Version = IpVersion<Ipv6Addr> & { readonly version: 6 };

/**
 * An IP subnet: a masked address and a prefix length. Immutable. Build one with `Subnet.of`, which
 * masks the host bits, or parse one with `parseSubnet` / `parseCidr` (subnet.ts).
 */
export class Subnet<A> {
  private constructor(
    /** The subnet's version object. */
    readonly ip: IpVersion<A>,
    /** The network address: host bits are zero. */
    readonly addr: A,
    /** Prefix length in bits, 0 .. addrBits. */
    readonly prefixLen: number,
  ) {}

  /**
   * The subnet of `addr` with `prefixLen` bits (host bits cleared; IPv6 addresses are copied).
   * Throws `RangeError` on a prefix length outside 0..addrBits: a programming error.
   */
  static of<A>(ip: IpVersion<A>, addr: A, prefixLen: number): Subnet<A> {
    if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > ip.addrBits) {
      throw new RangeError(`prefix length ${prefixLen} outside 0..${ip.addrBits}`);
    }
    return new Subnet(ip, ip.maskBits(addr, prefixLen), prefixLen);
  }

  /** True when `a` is inside this subnet. Allocates nothing. */
  contains(a: A): boolean {
    return this.ip.prefixMatch(this.addr, a, this.prefixLen);
  }

  /** True when `other` is a subnet of (or equal to) this one. */
  covers(other: Subnet<A>): boolean {
    return other.prefixLen >= this.prefixLen && this.contains(other.addr);
  }

  /** Same version, address and prefix length. */
  equals(other: Subnet<A>): boolean {
    return this.ip === other.ip && this.prefixLen === other.prefixLen && this.ip.equals(this.addr, other.addr);
  }

  /** `10.0.0.0/24`, `2001:db8::/32` (RFC 5952 address text, RFC 4632 / RFC 4291 2.3 prefix). */
  toString(): string {
    return `${this.ip.format(this.addr)}/${this.prefixLen}`;
  }
}

type Ops<A> = Omit<IpVersion<A>, "loopbackSubnet" | "multicastSubnet" | "linkLocalSubnet">;

/**
 * A version object from its operations and its loopback, multicast and link-local subnets. The
 * object is created with every property in place (one shape), then its subnets are built with it so
 * `subnet.ip` is the version object itself.
 */
function makeVersion<A, O extends Ops<A>>(
  ops: O,
  loopback: [A, number],
  multicast: [A, number],
  linkLocal: [A, number],
): O & Pick<IpVersion<A>, "loopbackSubnet" | "multicastSubnet" | "linkLocalSubnet"> {
  const I = { ...ops, loopbackSubnet: null, multicastSubnet: null, linkLocalSubnet: null } as unknown as {
    -readonly [K in keyof IpVersion<A>]: IpVersion<A>[K];
  };
  I.loopbackSubnet = Subnet.of(I, loopback[0], loopback[1]);
  I.multicastSubnet = Subnet.of(I, multicast[0], multicast[1]);
  I.linkLocalSubnet = Subnet.of(I, linkLocal[0], linkLocal[1]);
  return I as unknown as O & Pick<IpVersion<A>, "loopbackSubnet" | "multicastSubnet" | "linkLocalSubnet">;
}

// ---- IPv4 ----

/** V4_MASKS[n]: the netmask with n leading one bits, as an unsigned number. */
const V4_MASKS: number[] = Array.from({ length: 33 }, (_, n) => (n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0));

/** The netmask for an IPv4 prefix length (24 -> 255.255.255.0). */
export function v4Netmask(prefixLen: number): Ipv4Addr {
  return V4_MASKS[prefixLen] as Ipv4Addr;
}

/** The limited broadcast address 255.255.255.255 (RFC 919, RFC 1122 3.2.1.3). */
export const V4_BROADCAST: Ipv4Addr = v4(0xffffffff);

const v4Ops = {
  version: 4,
  name: "IPv4",
  addrLen: 4,
  addrBits: 32,
  minMtu: 68, // RFC 791: every internet module must be able to forward a datagram of 68 octets.
  headerLen: 20,
  unspecified: v4(0),
  loopback: v4(0x7f000001),
  // RFC 1122 3.2.1.3 (g): 127.0.0.0/8 is the internal host loopback address.
  isLoopback: (a: Ipv4Addr) => a >>> 24 === 127,
  // RFC 5771: 224.0.0.0/4 (class D).
  isMulticast: (a: Ipv4Addr) => a >>> 28 === 0xe,
  isUnspecified: (a: Ipv4Addr) => a === 0,
  // RFC 3927 section 2.1: 169.254.0.0/16.
  isLinkLocal: (a: Ipv4Addr) => a >>> 16 === 0xa9fe,
  // RFC 5771 section 4: 224.0.0.0/24 is the local network control block, never forwarded.
  isLinkLocalMulticast: (a: Ipv4Addr) => a >>> 8 === 0xe00000,
  equals: (a: Ipv4Addr, b: Ipv4Addr) => a === b,
  compare: (a: Ipv4Addr, b: Ipv4Addr) => a - b,
  key: (a: Ipv4Addr) => a as number,
  copy: (a: Ipv4Addr) => a,
  format: (a: Ipv4Addr) => formatV4(a),
  parse: (text: string) => parseV4(text),
  readAt: v4At,
  writeAt: v4Put,
  maskBits: (a: Ipv4Addr, prefixLen: number) => ((a & V4_MASKS[prefixLen]) >>> 0) as Ipv4Addr,
  prefixMatch: (a: Ipv4Addr, b: Ipv4Addr, prefixLen: number) => ((a ^ b) & V4_MASKS[prefixLen]) === 0,
  bitAt: (a: Ipv4Addr, i: number) => (a >>> (31 - i)) & 1,
  commonPrefixLen: (a: Ipv4Addr, b: Ipv4Addr) => Math.clz32(a ^ b),
} as const;

/** The IPv4 version object. */
export const Ipv4: Ipv4Version = makeVersion(v4Ops, [v4(0x7f000000), 8], [v4(0xe0000000), 4], [v4(0xa9fe0000), 16]);

// ---- IPv6 ----

function v6Const(text: string): Ipv6Addr {
  const a = parseV6(text);
  if (a === null) throw new Error(`bad IPv6 constant ${text}`);
  return a;
}

const V6_UNSPECIFIED = v6Const("::");
const V6_LOOPBACK = v6Const("::1");

function v6IsZero(a: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== 0) return false;
  return true;
}

const v6Ops = {
  version: 6,
  name: "IPv6",
  addrLen: 16,
  addrBits: 128,
  minMtu: 1280, // RFC 8200 section 5.
  headerLen: 40,
  unspecified: V6_UNSPECIFIED,
  loopback: V6_LOOPBACK,
  // RFC 4291 2.5.3: the loopback address is ::1 only.
  isLoopback: (a: Ipv6Addr) => v6Equal(a, V6_LOOPBACK),
  // RFC 4291 2.7: ff00::/8.
  isMulticast: (a: Ipv6Addr) => a[0] === 0xff,
  // RFC 4291 2.5.2.
  isUnspecified: (a: Ipv6Addr) => v6IsZero(a),
  // RFC 4291 2.5.6: fe80::/10.
  isLinkLocal: (a: Ipv6Addr) => a[0] === 0xfe && (a[1] & 0xc0) === 0x80,
  // RFC 4291 2.7: multicast with scope 2 (link-local), whatever the flags.
  isLinkLocalMulticast: (a: Ipv6Addr) => a[0] === 0xff && (a[1] & 0x0f) === 2,
  equals: (a: Ipv6Addr, b: Ipv6Addr) => v6Equal(a, b),
  compare: (a: Ipv6Addr, b: Ipv6Addr) => {
    for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return a[i] - b[i];
    return 0;
  },
  key: (a: Ipv6Addr) => v6Key(a),
  copy: (a: Ipv6Addr) => v6Copy(a),
  format: (a: Ipv6Addr) => formatV6(a),
  parse: (text: string) => parseV6(text),
  readAt: v6At,
  writeAt: v6Put,
  maskBits: (a: Ipv6Addr, prefixLen: number) => {
    const out = new Uint8Array(16) as Ipv6Addr;
    const whole = prefixLen >>> 3;
    for (let i = 0; i < whole; i++) out[i] = a[i];
    const rest = prefixLen & 7;
    if (rest !== 0) out[whole] = a[whole] & (0xff << (8 - rest));
    return out;
  },
  prefixMatch: (a: Ipv6Addr, b: Ipv6Addr, prefixLen: number) => {
    const whole = prefixLen >>> 3;
    for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
    const rest = prefixLen & 7;
    return rest === 0 || ((a[whole] ^ b[whole]) & (0xff << (8 - rest)) & 0xff) === 0;
  },
  bitAt: (a: Ipv6Addr, i: number) => (a[i >>> 3] >>> (7 - (i & 7))) & 1,
  commonPrefixLen: (a: Ipv6Addr, b: Ipv6Addr) => {
    for (let i = 0; i < 16; i++) {
      const x = a[i] ^ b[i];
      if (x !== 0) return i * 8 + Math.clz32(x) - 24;
    }
    return 128;
  },
} as const;

/** The IPv6 version object. */
export const Ipv6: Ipv6Version = makeVersion(
  v6Ops,
  [V6_LOOPBACK, 128],
  [v6Const("ff00::"), 8],
  [v6Const("fe80::"), 10],
);

// ---- generic helpers ----

/** The version object of an address: IPv4 addresses are numbers, IPv6 addresses byte arrays. */
export function versionOf(a: Ipv4Addr): Ipv4Version;
export function versionOf(a: Ipv6Addr): Ipv6Version;
export function versionOf(a: IpAddr): Ipv4Version | Ipv6Version;
export function versionOf(a: IpAddr): Ipv4Version | Ipv6Version {
  return typeof a === "number" ? Ipv4 : Ipv6;
}

/** Parse an address of either version ("10.0.0.1", "fe80::1"); null when neither. */
export function parseIp(text: string): IpAddr | null {
  return text.includes(":") ? parseV6(text) : parseV4(text);
}

/** Format an address of either version. */
export function formatIp(a: IpAddr): string {
  return typeof a === "number" ? formatV4(a) : formatV6(a);
}

/**
 * A unicast address: neither unspecified, multicast nor (IPv4) the limited broadcast. Subnet-directed
 * broadcast depends on the interface's prefix: see `AddrSubnet.broadcast` (subnet.ts).
 */
export function isUnicast<A>(I: IpVersion<A>, a: A): boolean {
  if (I.isUnspecified(a) || I.isMulticast(a)) return false;
  return I.version !== 4 || (a as unknown as number) !== V4_BROADCAST;
}
