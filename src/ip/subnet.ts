/**
 * Subnets and interface addresses in CIDR notation.
 * RFC 4632 section 3.1 (IPv4 prefix notation), RFC 4291 section 2.3 (IPv6 prefix notation),
 * RFC 5952 (IPv6 text), RFC 919 / RFC 922 (subnet-directed broadcast), RFC 3021 (/31 links).
 *
 * `Subnet` itself is defined in version.ts (each version object carries its well-known subnets) and
 * re-exported here. Parsing returns a `ParseError` value on bad text; it never throws.
 */

import { ParseError, parseError } from "../wire/errors.ts";
import type { Ipv4Addr, Ipv6Addr } from "./addr.ts";
import { type IpVersion, Ipv4, Ipv6, Subnet, V4_BROADCAST, v4Netmask } from "./version.ts";

export { Subnet };

const E_NO_PREFIX = parseError("cidr", "missing-prefix");
const E_BAD_PREFIX = parseError("cidr", "bad-prefix");
const E_BAD_ADDR = parseError("cidr", "bad-address");
const E_HOST_BITS = parseError("cidr", "host-bits-set");
const E_VERSION = parseError("cidr", "wrong-version");

/**
 * An address assigned to an interface together with its prefix: `10.0.0.2/24` is the address
 * 10.0.0.2 on the subnet 10.0.0.0/24.
 */
export class AddrSubnet<A> {
  /** The subnet the address is on. */
  readonly subnet: Subnet<A>;
  /** The interface address (an owned copy). */
  readonly addr: A;

  /** Throws `RangeError` on a prefix length outside 0..addrBits (a programming error). */
  constructor(ip: IpVersion<A>, addr: A, prefixLen: number) {
    this.addr = ip.copy(addr);
    this.subnet = Subnet.of(ip, addr, prefixLen);
  }

  /** The address's version object. */
  get ip(): IpVersion<A> {
    return this.subnet.ip;
  }

  get prefixLen(): number {
    return this.subnet.prefixLen;
  }

  /** `10.0.0.2/24`, `fe80::1/64`. */
  toString(): string {
    return `${this.subnet.ip.format(this.addr)}/${this.subnet.prefixLen}`;
  }
}

/** Split `addr/len` and parse both halves for one version. */
function parseParts<A>(I: IpVersion<A>, text: string): { addr: A; len: number } | ParseError {
  const slash = text.indexOf("/");
  if (slash < 0) return E_NO_PREFIX;
  const lenText = text.slice(slash + 1);
  // Decimal, no sign, no leading zeros (the prefix is "a decimal value", RFC 4291 2.3).
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText)) return E_BAD_PREFIX;
  const len = Number(lenText);
  if (len > I.addrBits) return E_BAD_PREFIX;
  const addr = I.parse(text.slice(0, slash));
  if (addr === null) return E_BAD_ADDR;
  return { addr, len };
}

function versionFor(text: string): IpVersion<Ipv4Addr> | IpVersion<Ipv6Addr> {
  const slash = text.indexOf("/");
  return (slash < 0 ? text : text.slice(0, slash)).includes(":") ? Ipv6 : Ipv4;
}

/** Parse `10.0.0.2/24` for a given version: the address and its subnet. */
export function parseCidrFor<A>(I: IpVersion<A>, text: string): AddrSubnet<A> | ParseError {
  if (versionFor(text) !== (I as unknown)) return E_VERSION;
  const p = parseParts(I, text);
  if (p instanceof ParseError) return p;
  return new AddrSubnet(I, p.addr, p.len);
}

/** Parse `10.0.0.2/24` or `2001:db8::2/64` (either version): the address and its subnet. */
export function parseCidr(text: string): AddrSubnet<Ipv4Addr> | AddrSubnet<Ipv6Addr> | ParseError {
  return text.includes(":") ? parseCidrFor(Ipv6, text) : parseCidrFor(Ipv4, text);
}

/**
 * Parse a network prefix `10.0.0.0/24` for a given version. Host bits must be zero
 * (`10.0.0.1/24` is `host-bits-set`, as `ip route` refuses it): use `parseCidr` for an address.
 */
export function parseSubnetFor<A>(I: IpVersion<A>, text: string): Subnet<A> | ParseError {
  if (versionFor(text) !== (I as unknown)) return E_VERSION;
  const p = parseParts(I, text);
  if (p instanceof ParseError) return p;
  const s = Subnet.of(I, p.addr, p.len);
  return I.equals(s.addr, p.addr) ? s : E_HOST_BITS;
}

/** Parse a network prefix of either version (`10.0.0.0/8`, `::/0`). */
export function parseSubnet(text: string): Subnet<Ipv4Addr> | Subnet<Ipv6Addr> | ParseError {
  return text.includes(":") ? parseSubnetFor(Ipv6, text) : parseSubnetFor(Ipv4, text);
}

/**
 * The subnet-directed broadcast address of an IPv4 subnet (host bits all ones, RFC 919 / RFC 922);
 * null for /31 (RFC 3021: point-to-point links have no broadcast) and /32.
 */
export function v4Broadcast(s: Subnet<Ipv4Addr>): Ipv4Addr | null {
  if (s.prefixLen >= 31) return null;
  return ((s.addr | ~v4Netmask(s.prefixLen)) >>> 0) as Ipv4Addr;
}

/**
 * True when `a` is a broadcast destination for an interface on subnet `s`: the limited broadcast
 * 255.255.255.255 or the subnet-directed broadcast (RFC 1122 3.2.1.3, 3.3.6).
 */
export function isV4BroadcastFor(s: Subnet<Ipv4Addr>, a: Ipv4Addr): boolean {
  return a === V4_BROADCAST || (s.prefixLen < 31 && a === v4Broadcast(s));
}

/** True when two subnets of the same version share any address (one contains the other). */
export function subnetsOverlap<A>(a: Subnet<A>, b: Subnet<A>): boolean {
  return a.covers(b) || b.covers(a);
}

/** The netmask of a subnet as an address (255.255.255.0 for /24; ffff:ffff:: for /32). */
export function netmask<A>(s: Subnet<A>): A {
  const I = s.ip;
  if (I.version === 4) return v4Netmask(s.prefixLen) as unknown as A;
  const out = new Uint8Array(16);
  for (let i = 0; i < s.prefixLen; i++) out[i >>> 3] |= 0x80 >>> (i & 7);
  return out as unknown as A;
}
