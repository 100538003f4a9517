/**
 * Neighbor Discovery for IPv6 (RFC 4861): neighbour solicitations and advertisements (7.1
 * validation, 7.2.3 / 7.2.4 answering, 7.2.5 updating the cache), the solicitations address
 * resolution sends (7.2.2, 7.3.3), redirects (8.1, 8.3), router solicitations and advertisements
 * (6.1 validation; 6.2 as a router: `advertiseRouter`; 6.3.4 as a host: handed to src/hostconf/).
 *
 * The neighbour cache itself is the shared machine of src/device/nud.ts (NDP is its
 * `NeighborProtocol` for IPv6). Duplicate address detection (RFC 4862 5.4) and router discovery
 * are src/hostconf/'s: solicitations and advertisements naming a tentative address, and router
 * advertisements, go there first.
 */

import type { DeviceId, ErrorCode } from "../context.ts";
import type { Core } from "../core.ts";
import { counter } from "../counters.ts";
import type { Device } from "../device/device.ts";
import { type Ethernet, LINK_HEADER_ROOM } from "../device/ethernet.ts";
import type { NeighborEntry } from "../device/neighbor.ts";
import { NeighborState } from "../device/neighbor.ts";
import type { NeighborProtocol, Nud } from "../device/nud.ts";
import type { Hostconf } from "../hostconf/hostconf.ts";
import { solicitedNodeGroup } from "../hostconf/iid.ts";
import type { Buf } from "../packet/buf.ts";
import { EMPTY_BODY, TooBig } from "../packet/serialize.ts";
import { ParseError } from "../wire/errors.ts";
import { EtherType } from "../wire/ethernet.ts";
import { IpProto } from "../wire/ipproto.ts";
import { Ipv6Builder } from "../wire/ipv6.ts";
import {
  LinkAddrOption,
  MtuOption,
  NdpOptionType,
  type NdpOptionWriter,
  NeighborAdvertisementBuilder,
  NeighborAdvertisementView,
  NeighborSolicitationBuilder,
  NeighborSolicitationView,
  ndpValid,
  PrefixInfoOption,
  RedirectView,
  RouterAdvertisementBuilder,
  RouterAdvertisementView,
  RouterSolicitationView,
} from "../wire/ndp.ts";
import { IPV6_ALL_NODES, type Ipv6Addr, type MacAddr } from "./addr.ts";
import type { LocalAddresses } from "./sas.ts";
import type { IpState } from "./state.ts";
import { parseSubnet } from "./subnet.ts";
import type { IpRxInfo, IpSender } from "./transport-api.ts";
import { Ipv6 } from "./version.ts";

const RX_BAD = counter("ndp.rx.malformed");
const RX_GROUP_LINK_ADDRESS = counter("ndp.rx.group-link-address");
const RX_BAD_HOP_LIMIT = counter("ndp.rx.bad-hop-limit");
const RX_NS = counter("ndp.rx.neighbor-solicitation");
const RX_NA = counter("ndp.rx.neighbor-advertisement");
const RX_NOT_OUR_TARGET = counter("ndp.rx.not-our-target");
const RX_UNSOLICITED_NA = counter("ndp.rx.unsolicited-na");
const RX_DUPLICATE = counter("ndp.rx.duplicate-address");
const RX_RS = counter("ndp.rx.router-solicitation");
const RX_RA = counter("ndp.rx.router-advertisement");
const RX_RA_IGNORED = counter("ndp.rx.router-advertisement-ignored");
const TX_NS = counter("ndp.tx.neighbor-solicitation");
const TX_NA = counter("ndp.tx.neighbor-advertisement");
const TX_RA = counter("ndp.tx.router-advertisement");
const DAD_FAILED = counter("ndp.dad.failed");
const NO_SOURCE = counter("neighbor.no-source-address");
const REDIRECT_RX = counter("redirect.rx");
const REDIRECT_IGNORED = counter("redirect.ignored");

/** What this stack advertises as a router on a device (RFC 4861 6.2.1, a subset). */
export interface RouterAdvertConfig {
  /** On-link, autonomous prefixes (RFC 4861 4.6.2), as text ("2001:db8:1::/64"). */
  prefixes: string[];
  /** The MTU option; omitted: none. */
  mtu?: number;
  /** Router lifetime in seconds (0: not a default router). Default 1800. */
  routerLifetime?: number;
  /** Cur Hop Limit to advertise (0: unspecified). Default 64. */
  curHopLimit?: number;
  /** Prefix valid and preferred lifetimes, seconds (RFC 4861 6.2.1 defaults: 30 days, 7 days). */
  validLifetime?: number;
  preferredLifetime?: number;
}

/** A `RouterAdvertConfig` checked and filled in. */
interface Advertisement {
  prefixes: { addr: Uint8Array; len: number }[];
  mtu: number;
  routerLifetime: number;
  curHopLimit: number;
  validLifetime: number;
  preferredLifetime: number;
}

export class Ndp implements NeighborProtocol<Ipv6Addr> {
  private readonly nsView = new NeighborSolicitationView();
  private readonly naView = new NeighborAdvertisementView();
  private readonly rsView = new RouterSolicitationView();
  private readonly raView = new RouterAdvertisementView();
  private readonly redirectView = new RedirectView();
  /** Devices this stack advertises itself on as a router. */
  private readonly adverts = new Map<DeviceId, Advertisement>();
  /**
   * What happens to packets whose neighbour never answered (RFC 4861 7.2.2: ICMPv6 address
   * unreachable); set by the Stack to ICMPv6's.
   */
  onUnreachable: (dev: Device, pkt: Buf) => void = () => {};

  constructor(
    private readonly core: Core,
    private readonly ip: IpSender,
    private readonly ethernet: Ethernet,
    private readonly nud: Nud<Ipv6Addr>,
    private readonly addrs: LocalAddresses,
    private readonly state: IpState<Ipv6Addr>,
    private readonly hostconf: Hostconf,
  ) {}

  // ---- neighbour solicitations and advertisements ----

  receiveNeighborSolicitation(dev: Device, buf: Buf, info: IpRxInfo<Ipv6Addr>): void {
    const counters = this.core.counters;
    counters.inc(RX_NS);
    const ns = this.nsView;
    if (ns.parseFrom(buf.bytes, buf.start, buf.length) !== null) {
      counters.inc(RX_BAD);
      return;
    }
    // RFC 4861 7.1.1: hop limit 255 (not forwarded) and code 0.
    if (!ndpValid(info.ttl, ns.code)) {
      counters.inc(RX_BAD_HOP_LIMIT);
      return;
    }
    const srcUnspecified = Ipv6.isUnspecified(info.src);
    const dstB = info.dst;
    // RFC 4861 7.1.1: from the unspecified source: to a solicited-node address, no SLLA option.
    if (
      !ns.validForSource(srcUnspecified) ||
      (srcUnspecified && !(dstB[0] === 0xff && dstB[1] === 0x02 && dstB[11] === 1 && dstB[12] === 0xff))
    ) {
      counters.inc(RX_BAD);
      return;
    }
    const target = ns.target;
    const mine = dev.find6(target);
    if (mine === undefined || dev.isLoopback) {
      counters.inc(RX_NOT_OUR_TARGET);
      return;
    }
    if (mine.state === "tentative") {
      // RFC 4862 5.4.3: another node probing the same tentative address: a duplicate (hostconf
      // gives the address up). A solicitation from a unicast source for it is ignored.
      if (this.hostconf.onNeighborSolicitation(dev.id, info.src, ns) === "duplicate") counters.inc(DAD_FAILED);
      return;
    }
    const sll = ns.sourceLinkAddr;
    // RFC 1812 3.3.2 (as for ARP): a group link address is never a neighbour's.
    if (sll !== null && (sll[0] & 1) !== 0) {
      counters.inc(RX_GROUP_LINK_ADDRESS);
      return;
    }
    // RFC 4861 7.2.3: create or update the sender's entry (STALE when new or changed).
    if (!srcUnspecified && sll !== null) this.nud.learnStale(dev, info.src, sll);
    // RFC 4861 7.2.4: answer with a solicited advertisement (to all-nodes when the source was ::).
    const to = srcUnspecified ? IPV6_ALL_NODES : (info.src.slice() as Ipv6Addr);
    const tgt = target.slice() as Ipv6Addr;
    const na = new NeighborAdvertisementBuilder(
      tgt,
      to,
      tgt,
      { router: this.state.forwarding, solicited: !srcUnspecified, override: true },
      [new LinkAddrOption(NdpOptionType.TargetLinkAddr, dev.mac)],
    );
    counters.inc(TX_NA);
    this.ip.send(Ipv6, { src: tgt, dst: to, proto: IpProto.Icmpv6, ttl: 255, device: dev.id }, EMPTY_BODY.wrapIn(na));
  }

  receiveNeighborAdvertisement(dev: Device, buf: Buf, info: IpRxInfo<Ipv6Addr>): void {
    const counters = this.core.counters;
    counters.inc(RX_NA);
    const na = this.naView;
    if (na.parseFrom(buf.bytes, buf.start, buf.length) !== null) {
      counters.inc(RX_BAD);
      return;
    }
    // RFC 4861 7.1.2: hop limit 255, code 0; to a multicast destination the S flag is clear.
    if (!ndpValid(info.ttl, na.code)) {
      counters.inc(RX_BAD_HOP_LIMIT);
      return;
    }
    if (!na.validForDestination(info.dst[0] === 0xff)) {
      counters.inc(RX_BAD);
      return;
    }
    const target = na.target;
    if (dev.find6(target) !== undefined) {
      // RFC 4862 5.4.4: someone else answers for our address; a tentative one is a duplicate.
      counters.inc(RX_DUPLICATE);
      if (this.hostconf.onNeighborAdvertisement(dev.id, na) === "duplicate") counters.inc(DAD_FAILED);
      return;
    }
    const e = dev.neighbors6?.get(target);
    if (e === undefined) {
      // RFC 4861 7.2.5: no entry: the advertisement is silently discarded.
      counters.inc(RX_UNSOLICITED_NA);
      return;
    }
    const tll = na.targetLinkAddr;
    // RFC 1812 3.3.2 (as for ARP): a group link address is never a neighbour's.
    if (tll !== null && (tll[0] & 1) !== 0) {
      counters.inc(RX_GROUP_LINK_ADDRESS);
      return;
    }
    // RFC 4861 7.2.5.
    if (e.state === NeighborState.Incomplete) {
      if (tll === null) return;
      e.isRouter = na.router;
      if (na.solicited) this.nud.confirm(dev, e, tll);
      else this.nud.markStale(dev, e, tll);
      return;
    }
    const differs = tll !== null && !e.sameMac(tll);
    if (!na.override && differs) {
      if (e.state === NeighborState.Reachable) {
        e.state = NeighborState.Stale;
        this.core.timers.cancel(e.timer);
      }
      return;
    }
    e.isRouter = na.router;
    if (na.solicited) this.nud.confirm(dev, e, tll ?? e.mac);
    else if (differs && tll !== null) this.nud.markStale(dev, e, tll);
  }

  /** Send a neighbour solicitation for `e`: multicast to its solicited-node group, or unicast to probe. */
  solicit(dev: Device, e: NeighborEntry<Ipv6Addr>, unicast: boolean): void {
    const target = e.addr;
    const src = this.addrs.sourceOn(Ipv6, dev, target);
    if (src === null) {
      this.core.counters.inc(NO_SOURCE);
      return;
    }
    // RFC 4861 7.2.2: multicast to the solicited-node address, or unicast to probe (7.3.3).
    const dst = unicast ? target : solicitedNodeGroup(target);
    const ns = new NeighborSolicitationBuilder(src, dst, target, [
      new LinkAddrOption(NdpOptionType.SourceLinkAddr, dev.mac),
    ]);
    // RFC 4861 7.1.1: hop limit 255.
    const ip = new Ipv6Builder(src, dst, IpProto.Icmpv6, { hopLimit: 255 });
    const pkt = EMPTY_BODY.wrapIn(ns).wrapIn(ip).serialize({ prefix: LINK_HEADER_ROOM });
    if (pkt instanceof TooBig) return;
    this.core.counters.inc(TX_NS);
    if (unicast) this.ethernet.send(dev, e.mac, EtherType.Ipv6, pkt);
    else this.ethernet.sendToGroup6(dev, dst, pkt);
  }

  unreachable(dev: Device, pkt: Buf): void {
    this.onUnreachable(dev, pkt);
  }

  // ---- redirects ----

  /**
   * RFC 4861 8.1 / 8.3: a valid Redirect (link-local source, hop limit 255, code 0, from the current
   * first-hop router for the destination; the target is link-local or the destination itself) makes
   * the target the destination's next hop: a host route, on-link when target = destination. A target
   * link-layer address option creates or updates the target's neighbour entry (STALE).
   */
  receiveRedirect(dev: Device, buf: Buf, info: IpRxInfo<Ipv6Addr>): void {
    const counters = this.core.counters;
    counters.inc(REDIRECT_RX);
    const r = this.redirectView;
    if (
      r.parseFrom(buf.bytes, buf.start, buf.length) !== null ||
      !ndpValid(info.ttl, r.code) ||
      !Ipv6.isLinkLocal(info.src)
    ) {
      counters.inc(REDIRECT_IGNORED);
      return;
    }
    const tll = r.targetLinkAddr;
    if (tll !== null && (tll[0] & 1) !== 0) {
      counters.inc(REDIRECT_IGNORED);
      return;
    }
    const dst = r.destination;
    const target = r.target.slice() as Ipv6Addr;
    const onLink = Ipv6.equals(target, dst);
    if (!this.state.learnRedirect(dev, info.src, dst, onLink ? null : target)) return;
    if (tll !== null) this.nud.learnStale(dev, target, tll);
  }

  // ---- routers ----

  receiveRouterSolicitation(dev: Device, buf: Buf, info: IpRxInfo<Ipv6Addr>): void {
    const counters = this.core.counters;
    counters.inc(RX_RS);
    const rs = this.rsView;
    if (rs.parseFrom(buf.bytes, buf.start, buf.length) !== null || !rs.validForSource(Ipv6.isUnspecified(info.src))) {
      counters.inc(RX_BAD);
      return;
    }
    // RFC 4861 6.1.1: hop limit 255, code 0.
    if (!ndpValid(info.ttl, rs.code)) {
      counters.inc(RX_BAD_HOP_LIMIT);
      return;
    }
    // RFC 4861 6.2.6: a router answers (here: with a multicast advertisement).
    if (this.state.forwarding && this.adverts.has(dev.id)) this.sendRouterAdvert(dev);
  }

  /**
   * RFC 4861 6.3.4 (hosts): validated here (6.1.2), processed by hostconf (default router, link
   * MTU, Cur Hop Limit, on-link prefixes, SLAAC); the source link-layer address option updates the
   * router's neighbour entry, which is marked a router.
   */
  receiveRouterAdvertisement(dev: Device, buf: Buf, info: IpRxInfo<Ipv6Addr>): void {
    const counters = this.core.counters;
    counters.inc(RX_RA);
    const ra = this.raView;
    if (ra.parseFrom(buf.bytes, buf.start, buf.length) !== null) {
      counters.inc(RX_BAD);
      return;
    }
    // RFC 4861 6.1.2: hop limit 255, code 0, a link-local source.
    if (!ndpValid(info.ttl, ra.code)) {
      counters.inc(RX_BAD_HOP_LIMIT);
      return;
    }
    if (!Ipv6.isLinkLocal(info.src) || this.state.forwarding || dev.isLoopback) {
      counters.inc(RX_RA_IGNORED);
      return;
    }
    if (this.hostconf.onRouterAdvertisement(dev.id, info.src, info.ttl, ra) !== "ok") {
      counters.inc(RX_RA_IGNORED);
      return;
    }
    const sll = ra.sourceLinkAddr;
    // RFC 1812 3.3.2 (as for ARP): a group link address is never a neighbour's.
    if (sll !== null && (sll[0] & 1) !== 0) {
      counters.inc(RX_GROUP_LINK_ADDRESS);
      return;
    }
    if (sll !== null) {
      const e = this.nud.learnStale(dev, info.src, sll as MacAddr);
      if (e !== null) e.isRouter = true;
    }
  }

  /**
   * Advertise this stack as an IPv6 router on `device` (forwarding must be on): answer router
   * solicitations with an advertisement of the prefixes (on-link, autonomous; RFC 4861 6.2), and
   * send one advertisement now. Errors: ENODEV, EINVAL (bad prefix text or forwarding off).
   */
  advertiseRouter(device: DeviceId, cfg: RouterAdvertConfig): ErrorCode | null {
    const dev = this.core.devices[device];
    if (dev === undefined || dev.isLoopback) return "ENODEV";
    if (!this.state.forwarding) return "EINVAL";
    const prefixes: { addr: Uint8Array; len: number }[] = [];
    for (const t of cfg.prefixes) {
      const p = parseSubnet(t);
      if (p instanceof ParseError || p.ip.version !== 6) return "EINVAL";
      prefixes.push({ addr: p.addr as Uint8Array, len: p.prefixLen });
    }
    this.adverts.set(device, {
      prefixes,
      mtu: cfg.mtu ?? 0,
      routerLifetime: cfg.routerLifetime ?? 1800,
      curHopLimit: cfg.curHopLimit ?? 64,
      validLifetime: cfg.validLifetime ?? 2592000,
      preferredLifetime: cfg.preferredLifetime ?? 604800,
    });
    this.sendRouterAdvert(dev);
    return null;
  }

  private sendRouterAdvert(dev: Device): void {
    const cfg = this.adverts.get(dev.id);
    if (cfg === undefined || !dev.up) return;
    const src = dev.v6.find((a) => a.state === "assigned" && Ipv6.isLinkLocal(a.addr))?.addr;
    // RFC 4861 6.2.6: advertisements come from the link-local address.
    if (src === undefined) return;
    const opts: NdpOptionWriter[] = [new LinkAddrOption(NdpOptionType.SourceLinkAddr, dev.mac)];
    if (cfg.mtu > 0) opts.push(new MtuOption(cfg.mtu));
    for (const p of cfg.prefixes) {
      opts.push(new PrefixInfoOption(p.len, true, true, cfg.validLifetime, cfg.preferredLifetime, p.addr));
    }
    const ra = new RouterAdvertisementBuilder(
      src,
      IPV6_ALL_NODES,
      { curHopLimit: cfg.curHopLimit, routerLifetime: cfg.routerLifetime },
      opts,
    );
    const ip = new Ipv6Builder(src, IPV6_ALL_NODES, IpProto.Icmpv6, { hopLimit: 255 });
    const pkt = EMPTY_BODY.wrapIn(ra).wrapIn(ip).serialize({ prefix: LINK_HEADER_ROOM });
    if (pkt instanceof TooBig) return;
    this.core.counters.inc(TX_RA);
    this.ethernet.sendToGroup6(dev, IPV6_ALL_NODES, pkt);
  }
}
