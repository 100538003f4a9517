/**
 * Multicast groups of the Stack's devices: which groups a device receives (RFC 1112 4, RFC 1122
 * 3.2.2; RFC 4291 2.7 for IPv6), and the messages of the listener protocols, IGMP (RFC 1112,
 * RFC 2236, RFC 3376) and MLD (RFC 2710, RFC 3810), whose state machines live in src/hostconf/.
 *
 * Sockets join and leave groups (`membershipChanged`, from UDP): the device's receive filter counts
 * references and hostconf's listener reports the membership. IGMP messages (IPv4 protocol 2) and
 * MLD messages (ICMPv6 130, 131, 132, 143) received go to hostconf; the messages hostconf sends
 * are framed here (`sendIgmp`: TTL 1 and the Router Alert option, RFC 2113 / RFC 2236 2;
 * `sendIcmpv6`: the hop limit asked and, for MLD, a Hop-by-Hop Router Alert, RFC 2711 / RFC 3810
 * 5) and sent to the group's MAC (RFC 1112 6.4, RFC 2464 7).
 */

import type { DeviceId } from "../context.ts";
import type { Core } from "../core.ts";
import { counter } from "../counters.ts";
import type { Device } from "../device/device.ts";
import { type Ethernet, LINK_HEADER_ROOM } from "../device/ethernet.ts";
import type { Hostconf } from "../hostconf/hostconf.ts";
import type { Buf } from "../packet/buf.ts";
import { EMPTY_BODY, type PacketBuilder, TooBig } from "../packet/serialize.ts";
import { ParseError } from "../wire/errors.ts";
import { Icmpv6Type } from "../wire/icmpv6.ts";
import { IgmpType, IgmpView, ROUTER_ALERT_V4 } from "../wire/igmp.ts";
import { IpProto } from "../wire/ipproto.ts";
import { Ipv4Builder } from "../wire/ipv4.ts";
import { Ipv6Builder } from "../wire/ipv6.ts";
import { MldView, parseMld } from "../wire/mld.ts";
import { formatV6, type IpAddr, type Ipv4Addr, type Ipv6Addr } from "./addr.ts";
import type { IpOutput } from "./output.ts";
import type { IpRxInfo } from "./transport-api.ts";
import { type IpVersion, Ipv4, Ipv6 } from "./version.ts";

const IGMP_RX = counter("igmp.rx");
const IGMP_RX_BAD = counter("igmp.rx.malformed");
const IGMP_RX_QUERY = counter("igmp.rx.query");
const IGMP_RX_REPORT = counter("igmp.rx.report");
const IGMP_RX_OTHER = counter("igmp.rx.other");
const IGMP_TX = counter("igmp.tx");
const MLD_RX = counter("mld.rx");
const MLD_RX_BAD = counter("mld.rx.malformed");
const MLD_RX_QUERY = counter("mld.rx.query");
const MLD_RX_QUERY_IGNORED = counter("mld.rx.query-ignored");
const MLD_RX_REPORT = counter("mld.rx.report");
const MLD_TX = counter("mld.tx");
const DAD_TX = counter("ndp.tx.dad-solicitation");
const RS_TX = counter("ndp.tx.router-solicitation");

/** RFC 2711 / RFC 3810 5: a Hop-by-Hop header holding Router Alert (value 0, MLD) and a PadN. */
const HOP_BY_HOP_ROUTER_ALERT = [{ type: IpProto.HopByHop as number, data: new Uint8Array([5, 2, 0, 0, 1, 0]) }];

export class MulticastListeners {
  private readonly igmpView = new IgmpView();
  /** Set by the Stack once constructed (hostconf is built with this layer's senders). */
  hostconf: Hostconf | null = null;

  constructor(
    private readonly core: Core,
    private readonly ethernet: Ethernet,
    private readonly output: IpOutput,
    /** The IPv4 Identification of the next datagram (shared with the IPv4 layer). */
    private readonly takeIdent: () => number,
  ) {}

  /**
   * A socket joined or left `group` on `device` (every Ethernet device when null): the receive
   * filter counts the reference, and IGMP / MLD report the change (RFC 2236 3, RFC 3810 6.1).
   */
  membershipChanged(I: IpVersion<IpAddr>, group: IpAddr, device: DeviceId | null, joined: boolean): void {
    const hostconf = this.hostconf;
    for (const d of this.core.devices) {
      if (d.isLoopback || (device !== null && d.id !== device)) continue;
      if (I.version === 4) {
        const g = group as Ipv4Addr;
        const member = d.groups4.has(g);
        if (joined) {
          d.join4(g);
          hostconf?.joinGroup4(d.id, g);
        } else if (member) {
          d.leave4(g);
          hostconf?.leaveGroup4(d.id, g);
        }
      } else if (joined) {
        d.join6(group as Ipv6Addr);
        hostconf?.joinGroup6(d.id, group as Ipv6Addr);
      } else if (d.inGroup6(group as Ipv6Addr)) {
        d.leave6(group as Ipv6Addr);
        hostconf?.leaveGroup6(d.id, group as Ipv6Addr);
      }
    }
  }

  /** The IPv6 groups `device` receives (RFC 5952 text), for tests and tools. */
  groups6(device: DeviceId): string[] {
    const d = this.core.devices[device];
    if (d === undefined) return [];
    return [...d.groups6.keys()].map((k) => {
      const a = new Uint8Array(16);
      for (let i = 0; i < 16; i++) a[i] = Number.parseInt(k.slice(2 * i, 2 * i + 2), 16);
      return formatV6(a);
    });
  }

  /** IGMP (IPv4 protocol 2) for us: queries and other members' reports go to hostconf. */
  receiveIgmp(dev: Device, buf: Buf): void {
    const counters = this.core.counters;
    counters.inc(IGMP_RX);
    const m = this.igmpView;
    if (m.parseFrom(buf.bytes, buf.start, buf.length) !== null) {
      counters.inc(IGMP_RX_BAD);
      return;
    }
    const t = m.type;
    if (t === IgmpType.MembershipQuery) counters.inc(IGMP_RX_QUERY);
    else if (t === IgmpType.V1MembershipReport || t === IgmpType.V2MembershipReport) {
      // RFC 2236 3: another member's report suppresses ours.
      counters.inc(IGMP_RX_REPORT);
    } else {
      counters.inc(IGMP_RX_OTHER);
      return;
    }
    this.hostconf?.onIgmp(dev.id, m);
  }

  /** MLD (ICMPv6 130, 131, 132, 143; checksum checked): queries and MLDv1 reports go to hostconf. */
  receiveMld(dev: Device, buf: Buf, info: IpRxInfo<Ipv6Addr>): void {
    const counters = this.core.counters;
    counters.inc(MLD_RX);
    const m = parseMld(buf.bytes, buf.start, buf.length);
    if (m instanceof ParseError) {
      counters.inc(MLD_RX_BAD);
      return;
    }
    const hostconf = this.hostconf;
    if (m instanceof MldView && m.type === Icmpv6Type.MldQuery) {
      counters.inc(MLD_RX_QUERY);
      // RFC 3810 5.1.14 / 6.2: link-local source and hop limit 1 are checked by hostconf.
      if (hostconf?.onMld(dev.id, info.src, info.ttl, m) !== "ok") counters.inc(MLD_RX_QUERY_IGNORED);
      return;
    }
    counters.inc(MLD_RX_REPORT);
    if (m instanceof MldView && m.type === Icmpv6Type.MldReport) hostconf?.onMld(dev.id, info.src, info.ttl, m);
  }

  /**
   * `HostconfContext.sendIcmpv6`: an ICMPv6 message hostconf built (MLD, DAD probes, router
   * solicitations), in IPv6 with `hopLimit` and, when asked, a Hop-by-Hop Router Alert; to a
   * group's MAC, or resolved like any unicast packet. Sent even from the unspecified address.
   */
  sendIcmpv6(
    device: DeviceId,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hopLimit: number,
    msg: PacketBuilder,
    routerAlert: boolean,
  ): void {
    const dev = this.core.devices[device];
    if (dev === undefined || dev.isLoopback || !dev.up) return;
    const ip = new Ipv6Builder(src, dst, IpProto.Icmpv6, {
      hopLimit,
      exts: routerAlert ? HOP_BY_HOP_ROUTER_ALERT : [],
    });
    const pkt = EMPTY_BODY.wrapIn(msg).wrapIn(ip).serialize({ prefix: LINK_HEADER_ROOM });
    if (pkt instanceof TooBig) return;
    const type = pkt.bytes[pkt.start + ip.headerLen];
    const counters = this.core.counters;
    if (type === Icmpv6Type.NeighborSolicitation) counters.inc(DAD_TX);
    else if (type === Icmpv6Type.RouterSolicitation) counters.inc(RS_TX);
    else counters.inc(MLD_TX);
    if (dst[0] === 0xff) {
      this.ethernet.sendToGroup6(dev, dst, pkt);
      return;
    }
    this.output.linkOutput(Ipv6, dev, Ipv6.copy(dst), pkt);
  }

  /**
   * `HostconfContext.sendIgmp`: an IGMP message hostconf built, with TTL 1 and the Router Alert
   * option (RFC 2236 2, RFC 2113), from the device's first IPv4 address (0.0.0.0 without one,
   * RFC 1112 7.2), to the group's MAC.
   */
  sendIgmp(device: DeviceId, dst: Ipv4Addr, msg: PacketBuilder): void {
    const dev = this.core.devices[device];
    if (dev === undefined || dev.isLoopback || !dev.up) return;
    const src = dev.v4.length > 0 ? dev.v4[0].addr : Ipv4.unspecified;
    const ip = new Ipv4Builder(src, dst, IpProto.Igmp, 1);
    ip.options = ROUTER_ALERT_V4;
    ip.id = this.takeIdent();
    const pkt = EMPTY_BODY.wrapIn(msg).wrapIn(ip).serialize({ prefix: LINK_HEADER_ROOM });
    if (pkt instanceof TooBig) return;
    this.core.counters.inc(IGMP_TX);
    this.ethernet.sendToGroup4(dev, dst, pkt);
  }
}
