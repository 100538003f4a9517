/**
 * The addresses of the Stack's devices: assigning and removing them for both versions, with their
 * on-link routes (RFC 1122 3.3.1.1, RFC 4861 5.1 "on-link"), their solicited-node groups (RFC 4861
 * 7.2.1, RFC 4291 2.7.1), IPv4 announcements (RFC 5227 3) and events. IPv6 addresses of Ethernet
 * devices are src/hostconf/'s to run (DAD, RFC 4862 5.4; SLAAC, 5.5; the link-local address,
 * 5.3): `Addresses` is also the `HostconfContext` through which hostconf changes them, with the
 * routes, link parameters and timers it learns (RFC 4861 6.3.4).
 */

import type { AddressOrigin, AddressState, DeviceId, ErrorCode, StackEvent, TimerId } from "../context.ts";
import type { Core } from "../core.ts";
import type { Counters } from "../counters.ts";
import type { Arp } from "../device/arp.ts";
import { type Device, type DeviceAddr, deviceAddr4, deviceAddr6 } from "../device/device.ts";
import type { HostconfContext } from "../hostconf/context.ts";
import type { Hostconf } from "../hostconf/hostconf.ts";
import { solicitedNodeGroup } from "../hostconf/iid.ts";
import type { PacketBuilder } from "../packet/serialize.ts";
import type { Timer } from "../timers.ts";
import { ParseError } from "../wire/errors.ts";
import type { Ipv4Addr, Ipv6Addr } from "./addr.ts";
import type { MulticastListeners } from "./multicast.ts";
import type { LocalAddresses } from "./sas.ts";
import type { IpState } from "./state.ts";
import { parseCidr } from "./subnet.ts";
import { Ipv4, Ipv6, parseIp, Subnet, V4_BROADCAST } from "./version.ts";

export class Addresses implements HostconfContext {
  readonly counters: Counters;
  /** Set by the Stack once constructed (hostconf is built over this object). */
  hostconf: Hostconf | null = null;
  /**
   * On-link IPv6 prefixes hostconf learned (RFC 4861 6.3.4 Prefix List), "device subnet": an
   * address on such a prefix leaves its route in place when it goes, and the other way round.
   */
  private readonly prefixRoutes = new Set<string>();

  constructor(
    private readonly core: Core,
    private readonly local: LocalAddresses,
    private readonly state4: IpState<Ipv4Addr>,
    private readonly state6: IpState<Ipv6Addr>,
    private readonly arp: Arp,
    private readonly listeners: MulticastListeners,
    /** Take ReachableTime and RetransTimer from router advertisements (`StackOptions.hostconf`). */
    private readonly learnNeighborTimes: boolean,
  ) {
    this.counters = core.counters;
  }

  // ---- the Stack's configuration calls ----

  /**
   * Assign `cidr` ("10.0.0.2/24", "2001:db8::2/64") to `device` with the on-link route of its
   * subnet. IPv4: announced (RFC 5227 3). IPv6 on an Ethernet device: duplicate address detection
   * first (hostconf). Errors: ENODEV, EINVAL (bad text or an address that cannot be a host's), EEXIST.
   */
  add(device: DeviceId, cidr: string): ErrorCode | null {
    const dev = this.core.devices[device];
    if (dev === undefined) return "ENODEV";
    const p = parseCidr(cidr);
    if (p instanceof ParseError) return "EINVAL";
    if (p.ip.version === 4) {
      const a = p.addr as Ipv4Addr;
      if (dev.find4(a) !== undefined) return "EEXIST";
      if (Ipv4.isMulticast(a) || a === V4_BROADCAST || a === 0) return "EINVAL";
      const da = deviceAddr4(a, p.prefixLen);
      dev.addV4(da);
      this.local.add4(a, dev.id);
      this.core.generation++;
      this.state4.routes.add({ subnet: da.subnet, device: dev.id, metric: dev.isLoopback ? 0 : undefined });
      this.core.emit({ type: "address-changed", device: dev.id, addr: a, prefixLen: p.prefixLen, state: "assigned" });
      if (dev.up && !dev.isLoopback) this.arp.announce(dev, a);
      return null;
    }
    const a = p.addr as Ipv6Addr;
    if (dev.find6(a) !== undefined) return "EEXIST";
    if (Ipv6.isMulticast(a) || Ipv6.isUnspecified(a)) return "EINVAL";
    const hostconf = this.hostconf;
    if (dev.isLoopback || hostconf === null) {
      // The loopback device runs no DAD (RFC 4862 5.4 is about links with neighbours).
      this.addAddress(dev.id, a, p.prefixLen, "assigned", "manual");
      this.core.emit({ type: "address-changed", device: dev.id, addr: a, prefixLen: p.prefixLen, state: "assigned" });
    } else {
      hostconf.addAddress(dev.id, a, p.prefixLen);
    }
    return null;
  }

  /** Remove an address (text, without prefix) from a device, with its on-link route. */
  remove(device: DeviceId, addr: string): ErrorCode | null {
    const dev = this.core.devices[device];
    if (dev === undefined) return "ENODEV";
    const a = parseIp(addr);
    if (a === null) return "EINVAL";
    if (typeof a === "number") {
      const i = dev.v4.findIndex((x) => x.addr === a);
      if (i < 0) return "EADDRNOTAVAIL";
      const da = dev.removeV4(i);
      this.core.generation++;
      this.local.remove4(a, dev.id);
      if (!dev.v4.some((x) => x.subnet.equals(da.subnet))) this.state4.routes.remove(da.subnet, dev.id, null);
      this.core.emit({ type: "address-changed", device, addr: a, prefixLen: da.prefixLen, state: "removed" });
      return null;
    }
    const da = dev.find6(a);
    if (da === undefined) return "EADDRNOTAVAIL";
    if (!dev.isLoopback) this.hostconf?.removeAddress(dev.id, da.addr);
    this.remove6(dev, da);
    this.core.emit({ type: "address-changed", device, addr: da.addr, prefixLen: da.prefixLen, state: "removed" });
    return null;
  }

  /** The addresses of a device as "addr/len" text, IPv4 first. */
  list(device: DeviceId): string[] {
    const d = this.core.devices[device];
    if (d === undefined) return [];
    return [...d.v4.map((a) => a.toString()), ...d.v6.map((a) => a.toString())];
  }

  /** Remove an IPv6 address entry: its solicited-node group, its on-link route if nothing else needs it. */
  private remove6(dev: Device, da: DeviceAddr<Ipv6Addr>): void {
    const i = dev.v6.indexOf(da);
    if (i < 0) return;
    dev.v6.splice(i, 1);
    this.core.generation++;
    dev.leave6(solicitedNodeGroup(da.addr));
    // The route stays while another address or the Prefix List (RFC 4861 6.3.4) still needs it.
    if (!dev.v6.some((x) => x.subnet.equals(da.subnet)) && !this.prefixRoutes.has(`${dev.id} ${da.subnet}`)) {
      this.state6.routes.remove(da.subnet, dev.id, null);
    }
  }

  // ---- HostconfContext: the Stack as hostconf sees it ----

  now(): number {
    return this.core.now();
  }

  random(): number {
    return this.core.random();
  }

  schedule(timer: Timer<TimerId>, at: number): void {
    this.core.timers.schedule(timer, at);
  }

  cancel(timer: Timer<TimerId>): void {
    this.core.timers.cancel(timer);
  }

  emit(event: StackEvent): void {
    this.core.emit(event);
  }

  sendIcmpv6(
    device: DeviceId,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hopLimit: number,
    msg: PacketBuilder,
    routerAlert: boolean,
  ): void {
    this.listeners.sendIcmpv6(device, src, dst, hopLimit, msg, routerAlert);
  }

  sendIgmp(device: DeviceId, dst: Ipv4Addr, msg: PacketBuilder): void {
    this.listeners.sendIgmp(device, dst, msg);
  }

  linkLocalAddress(device: DeviceId): Ipv6Addr | null {
    const d = this.core.devices[device];
    return d === undefined ? null : this.local.linkLocal6(d);
  }

  /**
   * Install an IPv6 address as given (no event: hostconf emits them): receive its solicited-node
   * group (hostconf reports it with MLD) and add the on-link route of its prefix.
   */
  addAddress(device: DeviceId, addr: Ipv6Addr, prefixLen: number, state: AddressState, origin: AddressOrigin): void {
    const dev = this.core.devices[device];
    if (dev === undefined || dev.find6(addr) !== undefined) return;
    const da = deviceAddr6(addr, prefixLen);
    da.state = state;
    da.origin = origin;
    dev.v6.push(da);
    this.core.generation++;
    // RFC 4861 7.2.1 / RFC 4862 5.4.2: receive the solicited-node group (before DAD starts).
    dev.join6(solicitedNodeGroup(da.addr));
    if (prefixLen < 128 || dev.isLoopback) {
      this.state6.routes.add({ subnet: da.subnet, device: dev.id, metric: dev.isLoopback ? 0 : undefined });
    }
  }

  setAddressState(device: DeviceId, addr: Ipv6Addr, state: AddressState): void {
    const da = this.core.devices[device]?.find6(addr);
    if (da === undefined) return;
    da.state = state;
    this.core.generation++;
  }

  removeAddress(device: DeviceId, addr: Ipv6Addr): void {
    const dev = this.core.devices[device];
    const da = dev?.find6(addr);
    if (dev !== undefined && da !== undefined) this.remove6(dev, da);
  }

  addRoute(device: DeviceId, prefix: Ipv6Addr, prefixLen: number, gateway: Ipv6Addr | null): void {
    const subnet = Subnet.of(Ipv6, prefix, prefixLen);
    if (gateway === null) this.prefixRoutes.add(`${device} ${subnet}`);
    this.state6.routes.add({ subnet, device, gateway });
    this.core.generation++;
  }

  removeRoute(device: DeviceId, prefix: Ipv6Addr, prefixLen: number, gateway: Ipv6Addr | null): void {
    const subnet = Subnet.of(Ipv6, prefix, prefixLen);
    if (gateway === null) {
      this.prefixRoutes.delete(`${device} ${subnet}`);
      // An address on the prefix keeps its on-link route until it goes itself.
      if (this.core.devices[device]?.v6.some((x) => x.subnet.equals(subnet))) return;
    }
    this.state6.routes.remove(subnet, device, gateway);
    this.core.generation++;
  }

  setLinkMtu(device: DeviceId, mtu: number): void {
    const d = this.core.devices[device];
    if (d !== undefined && mtu >= Ipv6.minMtu && mtu <= d.maxMtu) d.mtu = mtu;
  }

  setCurHopLimit(device: DeviceId, hopLimit: number): void {
    const d = this.core.devices[device];
    if (d !== undefined) d.curHopLimit = hopLimit;
  }

  setNeighborTimes(device: DeviceId, reachableTime: number, retransTimer: number): void {
    const d = this.core.devices[device];
    if (d === undefined || !this.learnNeighborTimes) return;
    d.reachableMs = reachableTime;
    d.retransMs = retransTimer;
  }
}
