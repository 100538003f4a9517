/**
 * Network devices of a Stack: Ethernet interfaces and the loopback interface.
 * RFC 894 (IPv4 over Ethernet), RFC 2464 (IPv6 over Ethernet: 33:33 multicast MACs, EUI-64
 * interface identifiers), RFC 1112 section 6.4 (01:00:5e IPv4 multicast MACs), RFC 4291 2.5.1 and
 * appendix A (modified EUI-64), RFC 4291 2.7.1 (solicited-node multicast), RFC 1122 3.2.1.3
 * (loopback).
 *
 * A device holds its addresses per version (several of each), the IPv6 multicast groups it has
 * joined (so the IP layer accepts packets sent to them), its link MTU and up/down state, and its
 * neighbour tables (ARP for IPv4, NDP for IPv6). It does no I/O: the Stack sends its frames.
 */

import type { DeviceId, TimerId } from "../context.ts";
import { eui64, linkLocalAddr } from "../hostconf/iid.ts";
import { type Ipv4Addr, type Ipv6Addr, type MacAddr, v6Key } from "../ip/addr.ts";
import { AddrSubnet, type Subnet } from "../ip/subnet.ts";
import { Ipv4, Ipv6 } from "../ip/version.ts";
import type { Timer } from "../timers.ts";
import type { NeighborTable } from "./neighbor.ts";

/** Link types. */
export type DeviceKind = "ethernet" | "loopback";

/**
 * Address states (RFC 4862 5.4: tentative until duplicate address detection passes; 5.5.4:
 * deprecated once the preferred lifetime ends: still ours, not chosen as a source for new traffic).
 */
export type AddressState = "tentative" | "assigned" | "deprecated";

/** An address assigned to a device, with its prefix and state. */
export class DeviceAddr<A> extends AddrSubnet<A> {
  /** Tentative addresses are not used as sources and not accepted as destinations (RFC 4862 5.4). */
  state: AddressState = "assigned";
  /** IPv6: how the address came to be. */
  origin: "manual" | "link-local" | "slaac" = "manual";
  /** RFC 4862 5.4: the DAD timer (`{ kind: "dad" }`), created when DAD starts. */
  timer: Timer<TimerId> | null = null;
  /** DAD solicitations sent so far. */
  dadSent = 0;
  /** SLAAC (RFC 4862 5.5.3): end of the valid and preferred lifetimes, ms (`Infinity`: infinite). */
  validUntil = Number.POSITIVE_INFINITY;
  preferredUntil = Number.POSITIVE_INFINITY;
  /** SLAAC: the `{ kind: "lifetime" }` timers of the valid and preferred lifetimes. */
  validTimer: Timer<TimerId> | null = null;
  preferredTimer: Timer<TimerId> | null = null;
}

/** A default router learned from router advertisements (RFC 4861 6.3.4), with its lifetime timer. */
export interface LearnedRouter {
  readonly addr: Ipv6Addr;
  readonly timer: Timer<TimerId>;
}

/** An on-link prefix learned from router advertisements (RFC 4861 6.3.4), with its lifetime timer. */
export interface LearnedPrefix {
  readonly subnet: Subnet<Ipv6Addr>;
  readonly timer: Timer<TimerId>;
}

/** What a router advertises on a device (RFC 4861 6.2.1, a subset). */
export interface RouterAdvertConfig {
  /** On-link, autonomous /64 prefixes (RFC 4861 4.6.2). */
  prefixes: { addr: Uint8Array; len: number }[];
  /** The MTU option, 0 for none. */
  mtu: number;
  /** Router lifetime in seconds (0: not a default router). */
  routerLifetime: number;
  /** Cur Hop Limit to advertise (0: unspecified). */
  curHopLimit: number;
  /** Valid and preferred lifetimes of the prefixes, seconds. */
  validLifetime: number;
  preferredLifetime: number;
}

export class Device {
  /** Addresses in the order they were added. */
  readonly v4: DeviceAddr<Ipv4Addr>[] = [];
  readonly v6: DeviceAddr<Ipv6Addr>[] = [];
  /** IPv6 multicast groups joined (v6Key -> reference count), RFC 4861 7.2.1 and RFC 3810. */
  readonly groups6 = new Map<string, number>();
  /** IPv4 multicast groups joined (address -> reference count). */
  readonly groups4 = new Map<number, number>();
  /** Current hop limit learned from router advertisements (0: the stack default). */
  curHopLimit = 0;
  /** Set once the link-local address has been generated. */
  linkLocalDone = false;
  /** The largest MTU the link supports (a router advertisement may lower `mtu`, never raise it past this). */
  readonly maxMtu: number;
  /** RFC 4861 6.3.7: router solicitations sent, their timer, and whether an advertisement came. */
  rsSent = 0;
  rsTimer: Timer<TimerId> | null = null;
  raSeen = false;
  /** Set when this stack advertises itself as a router on the device. */
  advert: RouterAdvertConfig | null = null;
  /** RFC 4861 5.1: the Default Router List (v6Key -> router) and Prefix List ("v6Key/len" -> prefix). */
  readonly routers6 = new Map<string, LearnedRouter>();
  readonly prefixes6 = new Map<string, LearnedPrefix>();

  constructor(
    readonly id: DeviceId,
    readonly kind: DeviceKind,
    /** The device's MAC (all zero for loopback). */
    readonly mac: MacAddr,
    /** Largest IP packet the link carries. */
    public mtu: number,
    readonly name: string,
    public up: boolean,
    readonly arp: NeighborTable<Ipv4Addr> | null,
    readonly ndp: NeighborTable<Ipv6Addr> | null,
  ) {
    this.maxMtu = mtu;
  }

  get isLoopback(): boolean {
    return this.kind === "loopback";
  }

  /** The IPv4 address entry `a` of this device, or undefined. */
  find4(a: Ipv4Addr): DeviceAddr<Ipv4Addr> | undefined {
    for (const x of this.v4) if (x.addr === a) return x;
    return undefined;
  }

  /** The IPv6 address entry `a` of this device, or undefined. */
  find6(a: Uint8Array): DeviceAddr<Ipv6Addr> | undefined {
    outer: for (const x of this.v6) {
      for (let i = 0; i < 16; i++) if (x.addr[i] !== a[i]) continue outer;
      return x;
    }
    return undefined;
  }

  /** Join an IPv6 group (reference counted). Returns true on the first join. */
  join6(group: Ipv6Addr): boolean {
    const k = v6Key(group);
    const n = this.groups6.get(k) ?? 0;
    this.groups6.set(k, n + 1);
    return n === 0;
  }

  /** Leave an IPv6 group. Returns true when the last reference went. */
  leave6(group: Ipv6Addr): boolean {
    const k = v6Key(group);
    const n = this.groups6.get(k) ?? 0;
    if (n <= 1) {
      this.groups6.delete(k);
      return n === 1;
    }
    this.groups6.set(k, n - 1);
    return false;
  }

  /** True when the device listens to IPv6 group `g` (a borrowed address is fine). */
  inGroup6(g: Uint8Array, off = 0): boolean {
    return this.groups6.has(v6Key(g, off));
  }
}

/** New address entries (helpers so the version objects stay out of call sites). */
export function deviceAddr4(a: Ipv4Addr, prefixLen: number): DeviceAddr<Ipv4Addr> {
  return new DeviceAddr(Ipv4, a, prefixLen);
}
export function deviceAddr6(a: Ipv6Addr, prefixLen: number): DeviceAddr<Ipv6Addr> {
  return new DeviceAddr(Ipv6, a, prefixLen);
}

// IPv6 interface-identifier helpers live in hostconf/iid.ts (RFC 4291 2.7.1, appendix A).
export { eui64Into, solicitedNodeGroup as solicitedNode } from "../hostconf/iid.ts";

/** RFC 4291 appendix A: the modified EUI-64 link-local address fe80::/64 of a MAC. */
export function linkLocalFromMac(mac: Uint8Array): Ipv6Addr {
  return linkLocalAddr(eui64(mac));
}

/** RFC 2464 section 7: IPv6 multicast `g` maps to 33:33 and its last 32 bits. */
export function mac6Multicast(g: Uint8Array, goff: number, out: Uint8Array, off: number): void {
  out[off] = 0x33;
  out[off + 1] = 0x33;
  out[off + 2] = g[goff + 12];
  out[off + 3] = g[goff + 13];
  out[off + 4] = g[goff + 14];
  out[off + 5] = g[goff + 15];
}

/** RFC 1112 6.4: IPv4 multicast `g` maps to 01:00:5e and its low 23 bits. */
export function mac4Multicast(g: Ipv4Addr, out: Uint8Array, off: number): void {
  out[off] = 0x01;
  out[off + 1] = 0x00;
  out[off + 2] = 0x5e;
  out[off + 3] = (g >>> 16) & 0x7f;
  out[off + 4] = (g >>> 8) & 0xff;
  out[off + 5] = g & 0xff;
}

/** The all-nodes group ff02::1 (RFC 4291 2.7.1). */
export const ALL_NODES: Ipv6Addr = Ipv6.parse("ff02::1") as Ipv6Addr;
/** The all-routers group ff02::2. */
export const ALL_ROUTERS: Ipv6Addr = Ipv6.parse("ff02::2") as Ipv6Addr;
