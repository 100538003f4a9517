/**
 * IPv4: what differs from IPv6 on the way in, up, through and out. RFC 791 (header, fragmentation,
 * reassembly), RFC 1122 3.2.1 (receive checks: martian sources and destinations, broadcast and
 * multicast, protocol unreachable), RFC 1812 (forwarding: TTL, no route, fragmentation needed,
 * link-local scope per RFC 3927 2.7), RFC 1191 (DF and the path MTU), RFC 1624 (the TTL decremented
 * with an incremental checksum update, in the received buffer).
 *
 * The shared pieces live elsewhere: the state (state.ts), routes and link output (output.ts),
 * source addresses (sas.ts), ICMPv4 (icmpv4.ts), IGMP (multicast.ts).
 *
 * Two caches make the common case cheap, both valid while `Core.generation` is unchanged: the
 * receive cache skips the martian and membership checks for the last unicast source/destination
 * pair delivered locally; the transmit cache keeps the route, source and neighbour entry of the
 * last destination sent to through an Ethernet device, so `send` writes the IPv4 and Ethernet
 * headers straight into the buffer (no builder, no route or neighbour lookup).
 */

import type { DeviceId } from "../context.ts";
import type { Core } from "../core.ts";
import { type Counters, counter } from "../counters.ts";
import type { Device } from "../device/device.ts";
import { ETHERNET_TX, type FrameReceiver, LINK_HEADER_ROOM, MIN_IP_IN_FRAME } from "../device/ethernet.ts";
import { type NeighborEntry, NeighborState } from "../device/neighbor.ts";
import { Buf } from "../packet/buf.ts";
import { type Serializer, TooBig } from "../packet/serialize.ts";
import { finish } from "../wire/checksum.ts";
import { ETHERNET_HEADER_LEN, EtherType } from "../wire/ethernet.ts";
import { Icmpv4TimeExceededCode, Icmpv4Type, Icmpv4UnreachableCode } from "../wire/icmpv4.ts";
import { IpProto } from "../wire/ipproto.ts";
import { decrementTtlInPlace, IPV4_HEADER_LEN, Ipv4Builder, Ipv4View } from "../wire/ipv4.ts";
import { type Ipv4Addr, v4At } from "./addr.ts";
import { fragmentIpv4 } from "./fragment.ts";
import type { Icmpv4 } from "./icmpv4.ts";
import { type IpOutput, NextHop } from "./output.ts";
import type { Fragment } from "./reassembly.ts";
import type { Route } from "./route.ts";
import type { LocalAddresses } from "./sas.ts";
import type { IpState } from "./state.ts";
import { type IpRxInfo, type IpSendError, type IpSendOptions, MutableIpRxInfo } from "./transport-api.ts";
import { Ipv4, V4_BROADCAST } from "./version.ts";

const RX = counter("ipv4.rx");
const RX_BAD_SOURCE = counter("ipv4.rx.bad-source");
const RX_MARTIAN = counter("ipv4.rx.martian");
const RX_NOT_FOR_US = counter("ipv4.rx.not-for-us");
const RX_NOT_MEMBER = counter("ipv4.rx.not-member");
const RX_DELIVERED = counter("ipv4.rx.delivered");
const RX_UNKNOWN_PROTO = counter("ipv4.rx.unknown-protocol");
const RX_FRAGMENT = counter("ipv4.rx.fragment");
const REASSEMBLY_TIMEOUT = counter("ipv4.reassembly.timeout");
const TX = counter("ipv4.tx");
const TX_NO_ROUTE = counter("ipv4.tx.no-route");
const TX_NO_SOURCE = counter("ipv4.tx.no-source");
const TX_TOO_BIG = counter("ipv4.tx.too-big");
const TX_FRAGMENTED = counter("ipv4.tx.fragmented");
const TX_FRAGMENTS = counter("ipv4.tx.fragments");
const FWD = counter("ipv4.forward");
const FWD_TTL = counter("ipv4.forward.ttl-exceeded");
const FWD_NO_ROUTE = counter("ipv4.forward.no-route");
const FWD_FRAG_NEEDED = counter("ipv4.forward.frag-needed");
const FWD_FRAGMENTED = counter("ipv4.forward.fragmented");
const FWD_LINK_LOCAL = counter("ipv4.forward.link-local");

/** All-hosts, 224.0.0.1: every host receives it (RFC 1112 4). */
const ALL_HOSTS = 0xe0000001;

/** IGMP (IPv4 protocol 2), which the multicast layer (multicast.ts) handles. */
export interface IgmpReceiver {
  receiveIgmp(dev: Device, buf: Buf): void;
}

export class Ipv4Layer implements FrameReceiver {
  private readonly view = new Ipv4View();
  private readonly rx = new MutableIpRxInfo<Ipv4Addr>(Ipv4);
  private readonly builder = new Ipv4Builder(Ipv4.unspecified, Ipv4.unspecified, 0);
  private readonly next = new NextHop<Ipv4Addr>();
  private readonly fragment: Fragment<Ipv4Addr> = {
    src: Ipv4.unspecified,
    dst: Ipv4.unspecified,
    id: 0,
    proto: 0,
    offset: 0,
    more: false,
    bytes: new Uint8Array(0),
    off: 0,
    len: 0,
    headerLen: 0,
    header: null,
  };
  private readonly counters: Counters;
  /** The Identification of the next datagram we originate (RFC 791, RFC 6864). */
  private nextIdent: number;
  // The receive cache: the last unicast pair that passed `receive`'s checks (see the header).
  private rxCacheGeneration = -1;
  private rxCacheSrc = 0;
  private rxCacheDst = 0;
  private rxCacheDev: Device | null = null;
  // The transmit cache (see the header); the neighbour entry's state is read at each use.
  private txCacheGeneration = -1;
  private txCacheDst = 0;
  private txCacheDevice: DeviceId | undefined = undefined;
  private txCacheDev: Device | null = null;
  private txCacheHop = 0;
  private txCacheSrc: Ipv4Addr | null = null;
  private txCacheEntry: NeighborEntry<Ipv4Addr> | null = null;

  constructor(
    private readonly core: Core,
    private readonly state: IpState<Ipv4Addr>,
    private readonly addrs: LocalAddresses,
    private readonly output: IpOutput,
    private readonly icmp: Icmpv4,
    private readonly igmp: IgmpReceiver,
    /** TTL of packets we originate (`StackLimits.defaultTtl`). */
    private readonly defaultTtl: number,
  ) {
    this.counters = core.counters;
    this.nextIdent = core.random() & 0xffff;
  }

  /** An Identification for a datagram built elsewhere (IGMP). */
  takeIdent(): number {
    const id = this.nextIdent;
    this.nextIdent = (id + 1) & 0xffff;
    return id;
  }

  // ---- receive ----

  /** An IPv4 packet arrived on `dev` (`buf`'s body). */
  receive(dev: Device, buf: Buf): void {
    const v = this.view;
    const bytes = buf.bytes;
    const counters = this.counters;
    counters.inc(RX);
    const e = v.parseFrom(bytes, buf.start, buf.length);
    if (e !== null) {
      counters.inc(counter(`ipv4.rx.${e.reason}`));
      // RFC 1122 3.2.2.5: a header error is answered with parameter problem.
      if (e.icmp !== null) {
        const dst = v4At(bytes, buf.start + 16);
        const mc = Ipv4.isMulticast(dst) || dev.isBroadcast4(dst);
        this.icmp.sendError(dev, bytes, buf.start, mc, e.icmp.type, e.icmp.code, ((e.icmp.pointer & 0xff) << 24) >>> 0);
      }
      return;
    }
    buf.end = v.off + v.len;
    const src = v.src;
    const dst = v.dst;
    // The receive cache: checks below already passed for this pair while nothing changed.
    if (
      src === this.rxCacheSrc &&
      dst === this.rxCacheDst &&
      dev === this.rxCacheDev &&
      this.rxCacheGeneration === this.core.generation
    ) {
      if (v.isFragment) this.reassemble(dev, v);
      else this.deliver(dev, buf, v, false);
      return;
    }
    // RFC 1122 3.2.1.3: a source that is broadcast or multicast is discarded.
    if (Ipv4.isMulticast(src) || src === V4_BROADCAST) {
      counters.inc(RX_BAD_SOURCE);
      return;
    }
    // RFC 1122 3.2.1.3 (g), RFC 1812 5.3.7: 127/8 never arrives on a real interface.
    // RFC 1812 5.3.7 / Linux's fib_validate_source: a packet claiming to come from one of our own
    // addresses never arrives on a real interface (LAND attacks: it would answer itself in a loop).
    if (!dev.isLoopback && (Ipv4.isLoopback(src) || Ipv4.isLoopback(dst) || this.addrs.isLocal4(src))) {
      counters.inc(RX_MARTIAN);
      return;
    }
    const local = this.addrs.isLocal4(dst) || (dev.isLoopback && Ipv4.isLoopback(dst));
    let group = false;
    if (!local) {
      if (dev.isBroadcast4(dst)) group = true;
      else if (Ipv4.isMulticast(dst)) {
        // RFC 1112 / RFC 1122 3.2.2: all-hosts, or a group some socket joined on this device.
        if (dst !== ALL_HOSTS && !dev.groups4.has(dst)) {
          counters.inc(RX_NOT_MEMBER);
          return;
        }
        group = true;
      } else {
        this.forward(dev, buf, v);
        return;
      }
    }
    if (!group) {
      this.rxCacheGeneration = this.core.generation;
      this.rxCacheSrc = src;
      this.rxCacheDst = dst;
      this.rxCacheDev = dev;
    }
    if (v.isFragment) {
      this.reassemble(dev, v);
      return;
    }
    this.deliver(dev, buf, v, group);
  }

  private deliver(dev: Device, buf: Buf, v: Ipv4View, group: boolean): void {
    const info = this.rx;
    info.src = v.src;
    info.dst = v.dst;
    info.device = dev.id;
    info.ttl = v.ttl;
    info.multicast = group;
    info.ipOff = v.off;
    const proto = v.proto;
    buf.setRange(v.payloadOff, v.off + v.len);
    this.counters.inc(RX_DELIVERED);
    if (proto === IpProto.Icmp) {
      this.icmp.receive(info, buf);
      return;
    }
    if (proto === IpProto.Igmp) {
      this.igmp.receiveIgmp(dev, buf);
      return;
    }
    const t = this.state.transports[proto];
    if (t !== undefined) {
      t.receive(info, buf);
      return;
    }
    this.counters.inc(RX_UNKNOWN_PROTO);
    // RFC 1122 3.2.2.1: protocol unreachable for a protocol nobody serves.
    this.icmp.sendError(dev, buf.bytes, info.ipOff, group, Icmpv4Type.DestUnreachable, Icmpv4UnreachableCode.Proto, 0);
  }

  private reassemble(dev: Device, v: Ipv4View): void {
    this.counters.inc(RX_FRAGMENT);
    const f = this.fragment;
    f.src = v.src;
    f.dst = v.dst;
    f.id = v.id;
    f.proto = v.proto;
    f.offset = v.fragOffset;
    f.more = v.mf;
    f.bytes = v.bytes;
    f.off = v.payloadOff;
    f.len = v.payloadLen;
    f.headerLen = v.headerLen;
    f.header = f.offset === 0 ? v.bytes.subarray(v.off, v.payloadOff) : null;
    const d = this.state.reassemble(f, LINK_HEADER_ROOM);
    if (d === null) return;
    const { bytes, at, hl } = d;
    const total = hl + d.len;
    bytes[at + 2] = total >>> 8;
    bytes[at + 3] = total & 0xff;
    // The reassembled datagram is no fragment: clear MF and the offset, keep DF.
    bytes[at + 6] &= 0x40;
    bytes[at + 7] = 0;
    bytes[at + 10] = 0;
    bytes[at + 11] = 0;
    let s = 0;
    for (let i = 0; i < hl; i += 2) s += (bytes[at + i] << 8) | bytes[at + i + 1];
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    const c = ~s & 0xffff;
    bytes[at + 10] = c >>> 8;
    bytes[at + 11] = c & 0xff;
    this.receive(dev, new Buf(bytes, at, at + total));
  }

  /** The reassembly timer fired: drop what expired; RFC 792 / RFC 1122 3.3.2: time exceeded. */
  reassemblyTimeout(now: number): void {
    for (const x of this.state.reassembler.expire(now)) {
      this.counters.inc(REASSEMBLY_TIMEOUT);
      // Only if the first fragment arrived (it is quoted).
      if (!x.timeExceeded || x.header === null) continue;
      const q = new Uint8Array(x.header.length + x.firstData.length);
      q.set(x.header, 0);
      q.set(x.firstData, x.header.length);
      const dev = this.addrs.device4(x.dst);
      this.icmp.sendError(dev, q, 0, false, Icmpv4Type.TimeExceeded, Icmpv4TimeExceededCode.Reassembly, 0, q.length);
    }
    this.state.armReassembly();
  }

  // ---- forwarding ----

  private forward(dev: Device, buf: Buf, v: Ipv4View): void {
    const counters = this.counters;
    if (!this.state.forwarding || dev.isLoopback) {
      counters.inc(RX_NOT_FOR_US);
      return;
    }
    const bytes = v.bytes;
    const src = v.src;
    const dst = v.dst;
    // RFC 3927 2.7: link-local addresses are never forwarded; nor is an unspecified source.
    if (Ipv4.isLinkLocal(src) || Ipv4.isLinkLocal(dst) || src === 0) {
      counters.inc(FWD_LINK_LOCAL);
      return;
    }
    // RFC 1812 5.3.1: TTL 1 or 0 is not forwarded; the router answers with time exceeded.
    if (v.ttl <= 1) {
      counters.inc(FWD_TTL);
      this.icmp.sendError(dev, bytes, v.off, false, Icmpv4Type.TimeExceeded, Icmpv4TimeExceededCode.Ttl, 0);
      return;
    }
    const st = this.state;
    const r = st.routes.lookupWhere(dst, st.usable as (r: Route<Ipv4Addr, DeviceId>) => boolean);
    if (r === null) {
      counters.inc(FWD_NO_ROUTE);
      // RFC 1812 5.2.7.1: no route: destination unreachable, network unreachable.
      this.icmp.sendError(dev, bytes, v.off, false, Icmpv4Type.DestUnreachable, Icmpv4UnreachableCode.Net, 0);
      return;
    }
    const out = this.core.devices[r.device];
    const hop = r.gateway ?? dst;
    const len = v.len;
    if (len > out.mtu && v.df) {
      // RFC 1191 / RFC 1812 5.2.7.1: fragmentation needed and DF set, with the next-hop MTU.
      counters.inc(FWD_FRAG_NEEDED);
      const code = Icmpv4UnreachableCode.FragNeeded;
      this.icmp.sendError(dev, bytes, v.off, false, Icmpv4Type.DestUnreachable, code, out.mtu);
      return;
    }
    // RFC 1812 5.3.1: decrement the TTL in place with an incremental checksum update (RFC 1624).
    decrementTtlInPlace(bytes, v.off);
    counters.inc(FWD);
    const output = this.output;
    if (len > out.mtu) {
      counters.inc(FWD_FRAGMENTED);
      fragmentIpv4(bytes, v.off, len, out.mtu, LINK_HEADER_ROOM, 0, (f) => output.linkOutput4(out, hop, f));
      return;
    }
    // Modified in place: the same buffer, a new link header in its prefix.
    buf.setRange(v.off, v.off + len);
    output.linkOutput4(out, hop, buf);
  }

  // ---- send ----

  /** `IpSender.send` for IPv4: route, wrap in IPv4, fragment when allowed, resolve the next hop, send. */
  send(opts: IpSendOptions<Ipv4Addr>, body: Serializer): IpSendError {
    const dst = opts.dst;
    if (
      this.txCacheGeneration === this.core.generation &&
      this.txCacheDst === dst &&
      this.txCacheDevice === opts.device
    ) {
      const r = this.sendCached(opts, body);
      if (r !== undefined) return r;
    }
    const counters = this.counters;
    const next = this.next;
    if (!this.output.route(Ipv4, dst, opts.device, next)) {
      counters.inc(TX_NO_ROUTE);
      return "ENETUNREACH";
    }
    const dev = next.dev as Device;
    const hop = next.hop as Ipv4Addr;
    const src = opts.src ?? this.addrs.sourceOn(Ipv4, dev, dst);
    // Remember a unicast route through an Ethernet device for the transmit cache.
    if (!dev.isLoopback && !Ipv4.isMulticast(hop) && !dev.isBroadcast4(hop)) {
      this.txCacheGeneration = this.core.generation;
      this.txCacheDst = dst;
      this.txCacheDevice = opts.device;
      this.txCacheDev = dev;
      this.txCacheHop = hop;
      this.txCacheSrc = opts.src === null || opts.src === undefined ? src : this.addrs.sourceOn(Ipv4, dev, dst);
      this.txCacheEntry = null;
    }
    if (src === null) {
      counters.inc(TX_NO_SOURCE);
      return "EADDRNOTAVAIL";
    }
    const bodyLen = body.measure();
    if (bodyLen < 0 || bodyLen + IPV4_HEADER_LEN > 0xffff) {
      counters.inc(TX_TOO_BIG);
      return "EMSGSIZE";
    }
    const mtu = dev.isLoopback ? dev.mtu : this.state.pmtu.get(dst, dev.mtu, this.core.now());
    const total = IPV4_HEADER_LEN + bodyLen;
    const df = opts.dontFragment === true;
    // RFC 1191 / RFC 1122 3.3.3: a datagram with DF set that does not fit is not sent.
    if (total > mtu && df) {
      counters.inc(TX_TOO_BIG);
      return "EMSGSIZE";
    }
    const b = this.builder;
    b.src = src;
    b.dst = dst;
    b.proto = opts.proto;
    const multicast = Ipv4.isMulticast(dst);
    b.ttl = opts.ttl ?? (multicast ? 1 : this.defaultTtl);
    b.id = this.takeIdent();
    b.df = df;
    b.mf = false;
    b.fragOffset = 0;
    b.mtu = 0xffff;
    const output = this.output;
    const so = output.txOpts;
    so.target = output.txBuf;
    so.suffix = total < MIN_IP_IN_FRAME ? MIN_IP_IN_FRAME - total : 0;
    const pkt = output.wrapped(body, b).serialize(so);
    so.target = undefined;
    if (pkt instanceof TooBig) {
      counters.inc(TX_TOO_BIG);
      return "EMSGSIZE";
    }
    counters.inc(TX);
    if (total > mtu) {
      counters.inc(TX_FRAGMENTED);
      const n = fragmentIpv4(pkt.bytes, pkt.start, pkt.length, mtu, LINK_HEADER_ROOM, 0, (f) =>
        output.linkOutput4(dev, hop, f),
      );
      if (n === 0) return "EMSGSIZE";
      counters.inc(TX_FRAGMENTS, n);
      return null;
    }
    output.linkOutput4(dev, hop, pkt);
    return null;
  }

  /**
   * `send` towards the cached destination when nothing unusual is needed: the neighbour is
   * resolved and not STALE, the packet fits the path MTU, and the device is up. The body is
   * serialized with room for the IPv4 and Ethernet headers, which are written here directly.
   * Returns undefined, having sent and counted nothing, when the general path must handle it.
   */
  private sendCached(opts: IpSendOptions<Ipv4Addr>, body: Serializer): IpSendError | undefined {
    const dev = this.txCacheDev as Device;
    if (!dev.up) return undefined;
    let e = this.txCacheEntry;
    if (e === null) {
      e = dev.neighbors4?.get(this.txCacheHop as Ipv4Addr) ?? null;
      if (e === null) return undefined;
      this.txCacheEntry = e;
    }
    // RFC 4861 7.3.3 (as for ARP): the first use of a STALE entry starts DELAY: the general path.
    const state = e.state;
    if (state === NeighborState.Incomplete || state === NeighborState.Stale) return undefined;
    const src = opts.src ?? this.txCacheSrc;
    if (src === null) return undefined;
    const bodyLen = body.measure();
    if (bodyLen < 0) return undefined;
    const total = IPV4_HEADER_LEN + bodyLen;
    const dst = opts.dst;
    const pm = this.state.pmtu;
    const mtu = pm.size === 0 ? dev.mtu : pm.get(dst, dev.mtu, this.core.now());
    if (total > mtu || total > 0xffff) return undefined;
    const output = this.output;
    const so = output.txOpts;
    so.target = output.txBuf;
    so.prefix = LINK_HEADER_ROOM + IPV4_HEADER_LEN;
    const pad = MIN_IP_IN_FRAME - total;
    so.suffix = Math.max(pad, 0);
    const out = body.serialize(so);
    so.target = undefined;
    so.prefix = LINK_HEADER_ROOM;
    // Tested by its tag: `instanceof` of an imported class costs more than this whole header.
    if ((out as TooBig).kind === "too-big") {
      this.counters.inc(TX_TOO_BIG);
      return "EMSGSIZE";
    }
    const pkt = out as Buf;
    const b = pkt.bytes;
    // `serialize` left at least the requested prefix and suffix.
    const o = pkt.start - IPV4_HEADER_LEN;
    const id = this.nextIdent;
    this.nextIdent = (id + 1) & 0xffff;
    // RFC 791 3.1: version 4, IHL 5, TOS 0, no options, reserved flag zero.
    b[o] = 0x45;
    b[o + 1] = 0;
    b[o + 2] = total >>> 8;
    b[o + 3] = total & 0xff;
    b[o + 4] = id >>> 8;
    b[o + 5] = id & 0xff;
    const ff = opts.dontFragment === true ? 0x4000 : 0;
    b[o + 6] = ff >>> 8;
    b[o + 7] = 0;
    const ttlProto = (((opts.ttl ?? this.defaultTtl) & 0xff) << 8) | (opts.proto & 0xff);
    b[o + 8] = ttlProto >>> 8;
    b[o + 9] = ttlProto & 0xff;
    b[o + 10] = 0;
    b[o + 11] = 0;
    b[o + 12] = src >>> 24;
    b[o + 13] = (src >>> 16) & 0xff;
    b[o + 14] = (src >>> 8) & 0xff;
    b[o + 15] = src & 0xff;
    b[o + 16] = dst >>> 24;
    b[o + 17] = (dst >>> 16) & 0xff;
    b[o + 18] = (dst >>> 8) & 0xff;
    b[o + 19] = dst & 0xff;
    // RFC 791 / RFC 1071: the header checksum, summed from the field values rather than re-read.
    const c = finish(
      0x4500 + total + id + ff + ttlProto + (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff),
    );
    b[o + 10] = c >>> 8;
    b[o + 11] = c & 0xff;
    // The layer that adds padding zeroes it (a reused buffer never leaks an old packet's bytes).
    if (pad > 0) {
      const end = pkt.end;
      for (let i = end; i < end + pad; i++) b[i] = 0;
      pkt.end = end + pad;
    }
    const f = o - ETHERNET_HEADER_LEN;
    const dmac = e.mac;
    const smac = dev.mac;
    // Straight-line stores: a loop over the 12 address bytes costs more than the IPv4 header.
    b[f] = dmac[0];
    b[f + 1] = dmac[1];
    b[f + 2] = dmac[2];
    b[f + 3] = dmac[3];
    b[f + 4] = dmac[4];
    b[f + 5] = dmac[5];
    b[f + 6] = smac[0];
    b[f + 7] = smac[1];
    b[f + 8] = smac[2];
    b[f + 9] = smac[3];
    b[f + 10] = smac[4];
    b[f + 11] = smac[5];
    b[f + 12] = EtherType.Ipv4 >>> 8;
    b[f + 13] = EtherType.Ipv4 & 0xff;
    pkt.start = f;
    const counters = this.counters;
    counters.inc(TX);
    counters.inc(ETHERNET_TX);
    this.core.bindings.sendFrame(dev.id, pkt);
    return null;
  }

  /** `IpSender.sendIcmpError` for IPv4: a transport asks for an error about the packet it was given. */
  sendIcmpErrorFor(info: IpRxInfo<Ipv4Addr>, buf: Buf, type: number, code: number, param: number): void {
    const dev = this.core.devices[info.device] ?? null;
    const rest = type === Icmpv4Type.ParamProblem ? ((param & 0xff) << 24) >>> 0 : param >>> 0;
    this.icmp.sendError(dev, buf.bytes, info.ipOff, info.multicast, type, code, rest);
  }
}
