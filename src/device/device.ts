/**
 * Network devices of a Stack: Ethernet interfaces and the loopback interface, as data.
 * RFC 894 / RFC 2464 (IP over Ethernet), RFC 1122 3.2.1.3 (loopback), RFC 1122 3.3.6 and RFC 919
 * (IPv4 broadcast addresses), RFC 4291 2.7 (IPv6 multicast groups).
 *
 * A device holds its addresses per version (several of each, with their RFC 4862 state), the
 * multicast groups it receives (reference counted receive filters), its link MTU and up/down state,
 * the IPv6 parameters host configuration sets on it (RFC 4861 6.3.4: Cur Hop Limit, ReachableTime,
 * RetransTimer), and its neighbour tables (ARP's for IPv4, NDP's for IPv6; device/neighbor.ts). It
 * does no I/O and runs no protocol: the layers in device/ and ip/ do, and src/hostconf/ decides
 * which IPv6 addresses it holds.
 */

import type { AddressOrigin, AddressState, DeviceId } from "../context.ts";
import { type Ipv4Addr, type Ipv6Addr, type MacAddr, v6Key } from "../ip/addr.ts";
import { AddrSubnet, v4Broadcast } from "../ip/subnet.ts";
import { Ipv4, Ipv6, V4_BROADCAST } from "../ip/version.ts";
import type { NeighborTable } from "./neighbor.ts";

/** Link types. */
export type DeviceKind = "ethernet" | "loopback";

/** An address assigned to a device, with its prefix, state and origin. */
export class DeviceAddr<A> extends AddrSubnet<A> {
  /** Tentative addresses are not used as sources and not accepted as destinations (RFC 4862 5.4). */
  state: AddressState = "assigned";
  /** How the address came to be (IPv6: src/hostconf/ manages link-local and SLAAC ones). */
  origin: AddressOrigin = "manual";
}

export class Device {
  /** Addresses in the order they were added (IPv4 ones change through `addV4` / `removeV4`). */
  readonly v4: DeviceAddr<Ipv4Addr>[] = [];
  readonly v6: DeviceAddr<Ipv6Addr>[] = [];
  /** IPv6 groups received (v6Key -> reference count): RFC 4861 7.2.1, RFC 3810. */
  readonly groups6 = new Map<string, number>();
  /** IPv4 groups received (address -> reference count): RFC 1112. */
  readonly groups4 = new Map<number, number>();
  /** RFC 4861 6.3.4: Cur Hop Limit learned from router advertisements (0: the Stack's default). */
  curHopLimit = 0;
  /** RFC 4861 6.3.2 / 6.3.4: ReachableTime and RetransTimer learned for this link, ms (0: the Stack's). */
  reachableMs = 0;
  retransMs = 0;
  /** The largest MTU the link supports (a router advertisement may lower `mtu`, never raise it past this). */
  readonly maxMtu: number;
  /** The directed broadcast address of each IPv4 subnet of the device (RFC 919), kept with `v4`. */
  private broadcasts4: number[] = [];

  constructor(
    readonly id: DeviceId,
    readonly kind: DeviceKind,
    /** The device's MAC (all zero for loopback). */
    readonly mac: MacAddr,
    /** Largest IP packet the link carries. */
    public mtu: number,
    readonly name: string,
    public up: boolean,
    /** The ARP cache (null: loopback). */
    readonly neighbors4: NeighborTable<Ipv4Addr> | null,
    /** The NDP neighbour cache (null: loopback). */
    readonly neighbors6: NeighborTable<Ipv6Addr> | null,
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

  /** The IPv6 address entry `a` of this device, or undefined (a borrowed address is fine). */
  find6(a: Uint8Array): DeviceAddr<Ipv6Addr> | undefined {
    outer: for (const x of this.v6) {
      for (let i = 0; i < 16; i++) if (x.addr[i] !== a[i]) continue outer;
      return x;
    }
    return undefined;
  }

  /**
   * The IPv4 source for `dst` on this device: the address whose subnet holds it, else the first
   * (RFC 1122 3.3.4.3); null without an address.
   */
  source4(dst: Ipv4Addr): Ipv4Addr | null {
    const list = this.v4;
    for (let i = 0; i < list.length; i++) if (list[i].subnet.contains(dst)) return list[i].addr;
    return list.length > 0 ? list[0].addr : null;
  }

  /** Add an IPv4 address entry. */
  addV4(da: DeviceAddr<Ipv4Addr>): void {
    this.v4.push(da);
    this.updateBroadcasts4();
  }

  /** Remove the IPv4 address entry at `index`; returns it. */
  removeV4(index: number): DeviceAddr<Ipv4Addr> {
    const [da] = this.v4.splice(index, 1);
    this.updateBroadcasts4();
    return da;
  }

  private updateBroadcasts4(): void {
    const out: number[] = [];
    for (const a of this.v4) {
      const b = v4Broadcast(a.subnet);
      if (b !== null) out.push(b);
    }
    this.broadcasts4 = out;
  }

  /** RFC 1122 3.3.6 / RFC 919: `a` is the limited broadcast or the directed broadcast of one of our subnets. */
  isBroadcast4(a: Ipv4Addr): boolean {
    if (a === V4_BROADCAST) return true;
    const list = this.broadcasts4;
    for (let i = 0; i < list.length; i++) if (list[i] === a) return true;
    return false;
  }

  /** Receive IPv6 group `group` (reference counted). Returns true on the first join. */
  join6(group: Ipv6Addr): boolean {
    const k = v6Key(group);
    const n = this.groups6.get(k) ?? 0;
    this.groups6.set(k, n + 1);
    return n === 0;
  }

  /** Drop one reference to IPv6 group `group`. Returns true when the last one went. */
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

  /** True when the device receives IPv6 group `g` (a borrowed address is fine). */
  inGroup6(g: Uint8Array, off = 0): boolean {
    return this.groups6.has(v6Key(g, off));
  }

  /** Receive IPv4 group `group` (reference counted). Returns true on the first join. */
  join4(group: Ipv4Addr): boolean {
    const n = this.groups4.get(group) ?? 0;
    this.groups4.set(group, n + 1);
    return n === 0;
  }

  /** Drop one reference to IPv4 group `group`. Returns true when the last one went. */
  leave4(group: Ipv4Addr): boolean {
    const n = this.groups4.get(group) ?? 0;
    if (n <= 1) {
      this.groups4.delete(group);
      return n === 1;
    }
    this.groups4.set(group, n - 1);
    return false;
  }
}

/** New address entries (helpers so the version objects stay out of call sites). */
export function deviceAddr4(a: Ipv4Addr, prefixLen: number): DeviceAddr<Ipv4Addr> {
  return new DeviceAddr(Ipv4, a, prefixLen);
}
export function deviceAddr6(a: Ipv6Addr, prefixLen: number): DeviceAddr<Ipv6Addr> {
  return new DeviceAddr(Ipv6, a, prefixLen);
}
