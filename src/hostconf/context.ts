/**
 * What the host-configuration state machines need from the Stack (`HostconfContext`), the timer
 * kinds they add, and the registry that maps their numeric timer keys back to the state that owns
 * them.
 *
 * The state machines are sans-IO: they never touch devices, routes or frames themselves. Every
 * change they make goes through this interface, and every input arrives as a method call (see
 * index.ts for which Stack hook calls which method).
 */
import type { AddressOrigin, AddressState, DeviceId, StackEvent, TimerId } from "../context.ts";
import type { Counters } from "../counters.ts";
import type { Ipv4Addr, Ipv6Addr } from "../ip/addr.ts";
import type { PacketBuilder } from "../packet/serialize.ts";
import { Timer } from "../timers.ts";

declare module "../context.ts" {
  interface TimerIdMap {
    /**
     * The multicast listener machine's report timers on `device` (IGMP: RFC 2236, RFC 3376; MLD:
     * RFC 3810); `key` is the hostconf registry's handle.
     */
    "multicast-listener": { device: DeviceId; key: number };
  }
}

/** The Stack, as the host-configuration state machines see it. */
export interface HostconfContext {
  /** Where the state machines count what they do (the Stack's counters). */
  readonly counters: Counters;
  /** Monotonic time in ms (the bindings' clock). */
  now(): number;
  /** A uniformly random 32-bit unsigned integer. */
  random(): number;
  /** Schedule (or move) a timer on the Stack's timer queue; the Stack hands it back when it fires. */
  schedule(timer: Timer<TimerId>, at: number): void;
  /** Cancel a timer (no-op when it is not scheduled). */
  cancel(timer: Timer<TimerId>): void;
  /**
   * Send an ICMPv6 message on `device`: `msg` writes the whole message (serialize it around an
   * empty body); the Stack adds the IPv6 header with `src`, `dst` and `hopLimit`, with a Hop-by-Hop
   * Router Alert option (RFC 2711, value 0: MLD) when `routerAlert`, and the link header (the
   * multicast MAC for a multicast `dst`, RFC 2464 7). Sent even from the unspecified address.
   */
  sendIcmpv6(
    device: DeviceId,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hopLimit: number,
    msg: PacketBuilder,
    routerAlert: boolean,
  ): void;
  /**
   * Send an IGMP message to `dst` on `device` (RFC 2236 2: TTL 1 and the IPv4 Router Alert option,
   * RFC 2113); the Stack picks the source: the device's first IPv4 address, or 0.0.0.0.
   */
  sendIgmp(device: DeviceId, dst: Ipv4Addr, msg: PacketBuilder): void;
  /**
   * A valid link-local address of `device` that is not tentative, or null (MLD reports and router
   * solicitations are then sent from the unspecified address, RFC 3810 5.2.13, RFC 4861 6.3.7).
   */
  linkLocalAddress(device: DeviceId): Ipv6Addr | null;
  /**
   * Install `addr/prefixLen` on `device` in `state` (always "tentative": DAD follows) and receive
   * packets for its solicited-node group (RFC 4862 5.4.2). No event: hostconf emits them.
   */
  addAddress(device: DeviceId, addr: Ipv6Addr, prefixLen: number, state: AddressState, origin: AddressOrigin): void;
  /** Change the state of an address installed by `addAddress`. */
  setAddressState(device: DeviceId, addr: Ipv6Addr, state: AddressState): void;
  /** Remove an address (and leave its solicited-node group). */
  removeAddress(device: DeviceId, addr: Ipv6Addr): void;
  /** Add a route: on-link for `prefix/prefixLen` when `gateway` is null, else via `gateway`. */
  addRoute(device: DeviceId, prefix: Ipv6Addr, prefixLen: number, gateway: Ipv6Addr | null): void;
  /** Remove a route added by `addRoute`. */
  removeRoute(device: DeviceId, prefix: Ipv6Addr, prefixLen: number, gateway: Ipv6Addr | null): void;
  /** Set the IPv6 link MTU of `device` (RFC 4861 6.3.4, MTU option). */
  setLinkMtu(device: DeviceId, mtu: number): void;
  /** Set the hop limit of packets sent on `device` (RFC 4861 6.3.4, Cur Hop Limit). */
  setCurHopLimit(device: DeviceId, hopLimit: number): void;
  /** Neighbour unreachability detection times of `device` in ms (RFC 4861 6.3.4, 6.3.2). */
  setNeighborTimes(device: DeviceId, reachableTime: number, retransTimer: number): void;
  /** Tell the application (`address-changed`, `dad-failed`). */
  emit(event: StackEvent): void;
}

/** The timer kinds hostconf schedules; `Hostconf.handleTimer` takes every timer of these kinds. */
export const HOSTCONF_TIMER_KINDS = ["dad", "router-solicit", "lifetime", "multicast-listener"] as const;

/** Timer ids with a numeric `key` that the registry resolves. */
type KeyedKind = "lifetime" | "multicast-listener";

/**
 * Numeric timer keys for `lifetime` and `multicast-listener` timers, each mapped to the callback of
 * the state that owns it. Keys are unique across both kinds.
 */
export class TimerRegistry {
  private next = 1;
  private readonly owners = new Map<number, () => void>();

  /** A new timer of `kind` on `device` that calls `fire` when it expires. */
  create(kind: KeyedKind, device: DeviceId, fire: () => void): Timer<TimerId> {
    const key = this.next++;
    this.owners.set(key, fire);
    return new Timer<TimerId>({ kind, device, key });
  }

  /** Forget a timer (its state is gone); cancel it first. */
  release(timer: Timer<TimerId>): void {
    const id = timer.data;
    if ("key" in id) this.owners.delete(id.key);
  }

  /** Run the owner of `key`; false when no state owns it (a stale timer). */
  fire(key: number): boolean {
    const f = this.owners.get(key);
    if (f === undefined) return false;
    f();
    return true;
  }

  /** Number of live timers (for tests and leak checks). */
  get size(): number {
    return this.owners.size;
  }
}

/** RFC 4861 2.3: lifetimes of all ones are infinite. */
export const INFINITE_LIFETIME = 0xffffffff;

/** A uniformly random integer in [0, max) from a 32-bit random source. */
export function randomBelow(random: () => number, max: number): number {
  if (max <= 0) return 0;
  return Math.floor(((random() >>> 0) / 0x100000000) * max);
}
