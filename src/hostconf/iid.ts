/**
 * Interface identifiers and the addresses built from them: RFC 4291 2.5.1 and appendix A
 * (modified EUI-64 from a MAC), 2.5.6 (fe80::/64 link-local), 2.7.1 (solicited-node groups), and
 * RFC 7217 (stable, semantically opaque IIDs: a keyed hash of prefix, interface and DAD counter,
 * so the address is stable per network but does not reveal the MAC).
 */
import type { Ipv6Addr } from "../ip/addr.ts";
import { SipHash } from "../transport/tcp/siphash.ts";

/** Length of an interface identifier in bits (RFC 4291 2.5.1: 64 for every unicast prefix but ::/3). */
export const IID_BITS = 64;

/** RFC 4291 appendix A: the modified EUI-64 IID of a 48-bit MAC, written at `out[off..off+8)`. */
export function eui64Into(mac: Uint8Array, out: Uint8Array, off: number): void {
  // Insert ff:fe between the OUI and the rest, and invert the universal/local bit.
  out[off] = mac[0] ^ 0x02;
  out[off + 1] = mac[1];
  out[off + 2] = mac[2];
  out[off + 3] = 0xff;
  out[off + 4] = 0xfe;
  out[off + 5] = mac[3];
  out[off + 6] = mac[4];
  out[off + 7] = mac[5];
}

/** The modified EUI-64 IID of `mac` (8 bytes). */
export function eui64(mac: Uint8Array): Uint8Array {
  const iid = new Uint8Array(8);
  eui64Into(mac, iid, 0);
  return iid;
}

/** `prefix` (its first 64 bits) followed by the 8-byte `iid`: a new address. */
export function addrFromPrefix(prefix: Uint8Array, iid: Uint8Array): Ipv6Addr {
  const a = new Uint8Array(16) as Ipv6Addr;
  a.set(prefix.subarray(0, 8), 0);
  a.set(iid.subarray(0, 8), 8);
  return a;
}

/** RFC 4291 2.5.6: fe80::/64 with `iid`. */
export function linkLocalAddr(iid: Uint8Array): Ipv6Addr {
  const a = new Uint8Array(16) as Ipv6Addr;
  a[0] = 0xfe;
  a[1] = 0x80;
  a.set(iid.subarray(0, 8), 8);
  return a;
}

/** RFC 4291 2.7.1: the solicited-node group of `a`: ff02::1:ff00:0/104 plus the low 24 bits of `a`. */
export function solicitedNodeGroup(a: Uint8Array): Ipv6Addr {
  const g = new Uint8Array(16) as Ipv6Addr;
  g[0] = 0xff;
  g[1] = 0x02;
  g[11] = 0x01;
  g[12] = 0xff;
  g[13] = a[13];
  g[14] = a[14];
  g[15] = a[15];
  return g;
}

/** RFC 4291 2.5.6: fe80::/10. */
export function isLinkLocal(a: Uint8Array): boolean {
  return a[0] === 0xfe && (a[1] & 0xc0) === 0x80;
}

/** True for ::. */
export function isUnspecified(a: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== 0) return false;
  return true;
}

/** A copy of `prefix` with every bit past `len` cleared. */
export function maskPrefix(prefix: Uint8Array, len: number): Ipv6Addr {
  const out = new Uint8Array(16) as Ipv6Addr;
  for (let i = 0; i < 16; i++) {
    const bits = len - 8 * i;
    out[i] = bits >= 8 ? prefix[i] : bits <= 0 ? 0 : prefix[i] & (0xff << (8 - bits));
  }
  return out;
}

/**
 * RFC 5453 / RFC 4291: IIDs that must not be used: all zeroes (the subnet-router anycast) and the
 * reserved subnet anycast range fdff:ffff:ffff:ff80 - ffff (RFC 2526 with the u/l bit cleared).
 */
export function isReservedIid(iid: Uint8Array, off = 0): boolean {
  let zero = true;
  for (let i = 0; i < 8; i++) if (iid[off + i] !== 0) zero = false;
  if (zero) return true;
  if (iid[off] !== 0xfd) return false;
  for (let i = 1; i < 7; i++) if (iid[off + i] !== 0xff) return false;
  return iid[off + 7] >= 0x80;
}

/**
 * RFC 7217 5: stable IIDs. RID = F(Prefix, Net_Iface, Network_ID, DAD_Counter, secret_key) with F
 * a keyed PRF; here SipHash-2-4 (64-bit output, exactly an IID) keyed by the 128-bit secret.
 */
export class StableIidGenerator {
  private readonly hash: SipHash;
  private readonly scratch = new Uint8Array(8 + 64 + 4);

  /** `secret` is 16 bytes, generated once per host and kept (RFC 7217 5: secret_key). */
  constructor(secret: Uint8Array) {
    this.hash = SipHash.fromBytes(secret);
  }

  /**
   * The IID for `prefix` (its first 64 bits) on the interface named by `netIface` (RFC 7217 5
   * suggests a stable interface index, name or MAC; at most 64 bytes used), for the `dadCounter`th
   * attempt (0 first, incremented after each DAD failure, RFC 7217 6).
   */
  iid(prefix: Uint8Array, netIface: Uint8Array, dadCounter: number): Uint8Array {
    const s = this.scratch;
    const n = Math.min(netIface.length, 64);
    s.set(prefix.subarray(0, 8), 0);
    s.set(netIface.subarray(0, n), 8);
    s[8 + n] = dadCounter >>> 24;
    s[9 + n] = (dadCounter >>> 16) & 0xff;
    s[10 + n] = (dadCounter >>> 8) & 0xff;
    s[11 + n] = dadCounter & 0xff;
    const out = new Uint8Array(8);
    const lo = this.hash.hash(s, 0, 12 + n);
    const hi = this.hash.hi;
    out[0] = hi >>> 24;
    out[1] = (hi >>> 16) & 0xff;
    out[2] = (hi >>> 8) & 0xff;
    out[3] = hi & 0xff;
    out[4] = lo >>> 24;
    out[5] = (lo >>> 16) & 0xff;
    out[6] = (lo >>> 8) & 0xff;
    out[7] = lo & 0xff;
    // RFC 7217 5: a reserved IID (RFC 5453) is treated as a DAD failure: take the next counter.
    return isReservedIid(out) ? this.iid(prefix, netIface, dadCounter + 1) : out;
  }
}
