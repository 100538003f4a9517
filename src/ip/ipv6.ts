/**
 * IPv6: what differs from IPv4 on the way in, up, through and out. RFC 8200 (header, extension
 * headers: only Hop-by-Hop is examined before the packet is known to be ours (section 4);
 * fragmentation by the source only and reassembly, 4.5; the hop limit, 3), RFC 7112 (a first
 * fragment holds the whole header chain), RFC 4291 (address scopes: multicast sources, ::1 and
 * link-local addresses never forwarded), RFC 4443 (errors from the IPv6 layer: parameter problem,
 * time exceeded, packet too big, unreachable), RFC 8201 (path MTU).
 *
 * The shared pieces live elsewhere: the state (state.ts), routes and link output (output.ts),
 * source addresses (sas.ts), ICMPv6 with NDP and MLD (icmpv6.ts, ndp.ts, multicast.ts).
 */

import type { DeviceId } from "../context.ts";
import type { Core } from "../core.ts";
import { counter } from "../counters.ts";
import type { Device } from "../device/device.ts";
import { type FrameReceiver, LINK_HEADER_ROOM, MIN_IP_IN_FRAME } from "../device/ethernet.ts";
import { Buf } from "../packet/buf.ts";
import { type Serializer, TooBig } from "../packet/serialize.ts";
import {
  Icmpv6DestUnreachableCode,
  Icmpv6ParamProblemCode,
  Icmpv6TimeExceededCode,
  Icmpv6Type,
} from "../wire/icmpv6.ts";
import { IpProto } from "../wire/ipproto.ts";
import { decrementHopLimitInPlace, IPV6_HEADER_LEN, Ipv6Builder, type Ipv6ParseError, Ipv6View } from "../wire/ipv6.ts";
import type { Ipv6Addr } from "./addr.ts";
import { fragmentIpv6 } from "./fragment.ts";
import type { Icmpv6 } from "./icmpv6.ts";
import { type IpOutput, NextHop } from "./output.ts";
import type { Fragment } from "./reassembly.ts";
import type { Route } from "./route.ts";
import type { LocalAddresses } from "./sas.ts";
import type { IpState } from "./state.ts";
import { type IpRxInfo, type IpSendError, type IpSendOptions, MutableIpRxInfo } from "./transport-api.ts";
import { Ipv6 } from "./version.ts";

const RX = counter("ipv6.rx");
const RX_BAD_SOURCE = counter("ipv6.rx.bad-source");
const RX_MARTIAN = counter("ipv6.rx.martian");
const RX_NOT_FOR_US = counter("ipv6.rx.not-for-us");
const RX_DELIVERED = counter("ipv6.rx.delivered");
const RX_UNKNOWN_NEXT = counter("ipv6.rx.unknown-next-header");
const RX_NO_NEXT = counter("ipv6.rx.no-next-header");
const RX_FRAGMENT = counter("ipv6.rx.fragment");
const RX_FIRST_FRAGMENT_SHORT = counter("ipv6.rx.first-fragment-incomplete-chain");
const REASSEMBLY_TIMEOUT = counter("ipv6.reassembly.timeout");
const TX = counter("ipv6.tx");
const TX_NO_ROUTE = counter("ipv6.tx.no-route");
const TX_NO_SOURCE = counter("ipv6.tx.no-source");
const TX_TOO_BIG = counter("ipv6.tx.too-big");
const TX_FRAGMENTED = counter("ipv6.tx.fragmented");
const TX_FRAGMENTS = counter("ipv6.tx.fragments");
const FWD = counter("ipv6.forward");
const FWD_HOP_LIMIT = counter("ipv6.forward.hop-limit-exceeded");
const FWD_NO_ROUTE = counter("ipv6.forward.no-route");
const FWD_TOO_BIG = counter("ipv6.forward.packet-too-big");
const FWD_SCOPE = counter("ipv6.forward.scope");

/** Smallest upper-layer header of a protocol (RFC 7112 5: a first fragment must hold it), 0 if unknown. */
function upperHeaderLen(proto: number): number {
  if (proto === IpProto.Tcp) return 20;
  if (proto === IpProto.Udp) return 8;
  if (proto === IpProto.Icmpv6) return 4;
  return 0;
}

export class Ipv6Layer implements FrameReceiver {
  private readonly view = new Ipv6View();
  private readonly rx = new MutableIpRxInfo<Ipv6Addr>(Ipv6);
  /** The addresses of a packet being built, copied: the caller's may be borrowed from its buffer. */
  private readonly srcCopy = new Uint8Array(16) as Ipv6Addr;
  private readonly dstCopy = new Uint8Array(16) as Ipv6Addr;
  private readonly builder = new Ipv6Builder(this.srcCopy, this.dstCopy, 0);
  private readonly next = new NextHop<Ipv6Addr>();
  private readonly fragment: Fragment<Ipv6Addr> = {
    src: Ipv6.unspecified,
    dst: Ipv6.unspecified,
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
  /** The Identification of the next datagram we fragment (RFC 8200 4.5, RFC 7739). */
  private nextFragmentId: number;

  constructor(
    private readonly core: Core,
    private readonly state: IpState<Ipv6Addr>,
    private readonly addrs: LocalAddresses,
    private readonly output: IpOutput,
    private readonly icmp: Icmpv6,
    /** Hop limit of packets we originate (`StackLimits.defaultTtl`; a router may advertise another). */
    private readonly defaultHopLimit: number,
  ) {
    this.nextFragmentId = core.random() >>> 0;
  }

  // ---- receive ----

  /** An IPv6 packet arrived on `dev` (`buf`'s body). */
  receive(dev: Device, buf: Buf): void {
    const v = this.view;
    const bytes = buf.bytes;
    const counters = this.core.counters;
    counters.inc(RX);
    // RFC 8200 4: until the packet is known to be ours, only the fixed header and a Hop-by-Hop
    // header are examined; a router forwards the rest of the chain unexamined.
    const e = v.parseHeader(bytes, buf.start, buf.length);
    if (e !== null) {
      this.parseError(dev, bytes, buf.start, buf.length, e);
      return;
    }
    buf.end = v.off + v.len;
    const o = v.off;
    // RFC 4291 2.7: a multicast source is invalid.
    if (bytes[o + 8] === 0xff) {
      counters.inc(RX_BAD_SOURCE);
      return;
    }
    const src = v.src;
    const dst = v.dst;
    // RFC 4291 2.5.3: ::1 never arrives on a real interface.
    if (!dev.isLoopback && (Ipv6.isLoopback(src) || Ipv6.isLoopback(dst))) {
      counters.inc(RX_MARTIAN);
      return;
    }
    let group = false;
    if (bytes[o + 24] === 0xff) {
      if (!dev.inGroup6(bytes, o + 24)) {
        counters.inc(RX_NOT_FOR_US);
        return;
      }
      group = true;
    } else if (!(dev.isLoopback && Ipv6.isLoopback(dst)) && this.addrs.findLocal6(bytes, o + 24) === null) {
      if (!dev.isLoopback && this.addrs.findLocal6(bytes, o + 8) !== null && this.transitProto(v) !== IpProto.Icmpv6) {
        counters.inc(RX_MARTIAN);
        return;
      }
      this.forward(dev, buf, v);
      return;
    }
    // RFC 8200 4: the node the destination names processes the whole chain.
    const ce = v.parseChain();
    if (ce !== null) {
      this.parseError(dev, bytes, o, v.len, ce);
      return;
    }
    // Nor a source that is one of our addresses (LAND; see Ipv4Layer), except for ICMPv6: a node
    // that duplicates our address answers our NDP from it (RFC 4862 5.4.4), and nothing there loops.
    if (!dev.isLoopback && v.proto !== IpProto.Icmpv6 && this.addrs.findLocal6(bytes, o + 8) !== null) {
      counters.inc(RX_MARTIAN);
      return;
    }
    if (v.hasFrag) {
      this.reassemble(dev, v);
      return;
    }
    this.deliver(dev, buf, v, group);
  }

  /** A packet that failed `parseHeader` or `parseChain`: counted, and answered when the error asks. */
  private parseError(dev: Device, bytes: Uint8Array, off: number, len: number, e: Ipv6ParseError): void {
    this.core.counters.inc(counter(`ipv6.rx.${e.reason}`));
    if (e.icmp !== null && len >= IPV6_HEADER_LEN) {
      const mc = bytes[off + 24] === 0xff;
      // RFC 4443 2.4 (e.3): parameter problem about a multicast packet only for code 2 with 10 bits.
      if (!mc || e.icmp.multicastOk) {
        this.icmp.sendError(dev, bytes, off, false, false, e.icmp.type, e.icmp.code, e.icmp.pointer);
      }
    }
  }

  /**
   * The upper-layer protocol of a packet in transit after `parseHeader` (the chain walked with the
   * structural checks only; -1 when it is malformed). Its fragment fields are then known too.
   */
  private transitProto(v: Ipv6View): number {
    return v.parseChainInTransit() === null ? v.proto : -1;
  }

  /**
   * A packet in transit that is a fragment other than the first (`Icmpv6.sendError` sends no
   * error about those, as RFC 1122 3.2.2 asks for IPv4: they quote no upper-layer header).
   */
  private nonFirstFragment(v: Ipv6View): boolean {
    v.parseChainInTransit();
    return v.hasFrag && v.fragOffset !== 0;
  }

  private deliver(dev: Device, buf: Buf, v: Ipv6View, group: boolean): void {
    const info = this.rx;
    info.src = v.src;
    info.dst = v.dst;
    info.device = dev.id;
    info.ttl = v.hopLimit;
    info.multicast = group;
    info.ipOff = v.off;
    const proto = v.proto;
    const protoPointer = v.protoPointer;
    buf.setRange(v.upperOff, v.off + v.len);
    const counters = this.core.counters;
    counters.inc(RX_DELIVERED);
    if (proto === IpProto.Icmpv6) {
      this.icmp.receive(info, buf);
      return;
    }
    if (proto === IpProto.Ipv6NoNext) {
      counters.inc(RX_NO_NEXT);
      return;
    }
    const t = this.state.transports[proto];
    if (t !== undefined) {
      t.receive(info, buf);
      return;
    }
    counters.inc(RX_UNKNOWN_NEXT);
    // RFC 8200 4: an unrecognized Next Header: parameter problem code 1 pointing at the field.
    const code = Icmpv6ParamProblemCode.UnrecognizedNextHeader;
    this.icmp.sendError(dev, buf.bytes, info.ipOff, group, false, Icmpv6Type.ParamProblem, code, protoPointer);
  }

  private reassemble(dev: Device, v: Ipv6View): void {
    this.core.counters.inc(RX_FRAGMENT);
    const b = v.bytes;
    // RFC 7112 5: a first fragment that does not hold every header through the upper-layer header
    // is discarded with parameter problem code 3, pointer 0 (it defeats filtering and is never needed).
    if (v.fragOffset === 0 && v.moreFragments && v.off + v.len - v.upperOff < upperHeaderLen(v.proto)) {
      this.core.counters.inc(RX_FIRST_FRAGMENT_SHORT);
      const code = Icmpv6ParamProblemCode.IncompleteHeaderChain;
      this.icmp.sendError(dev, b, v.off, false, false, Icmpv6Type.ParamProblem, code, 0);
      return;
    }
    const f = this.fragment;
    f.src = v.src;
    f.dst = v.dst;
    f.id = v.fragId;
    f.proto = b[v.fragHeaderOff];
    f.offset = v.fragOffset;
    f.more = v.moreFragments;
    f.bytes = b;
    f.off = v.fragmentableOff;
    f.len = v.off + v.len - v.fragmentableOff;
    f.headerLen = v.fragHeaderOff - v.off - IPV6_HEADER_LEN;
    f.header = f.offset === 0 ? b.subarray(v.off, v.fragHeaderOff) : null;
    const d = this.state.reassemble(f, LINK_HEADER_ROOM);
    if (d === null) return;
    const { bytes, at, hl } = d;
    const plen = hl - IPV6_HEADER_LEN + d.len;
    bytes[at + 4] = plen >>> 8;
    bytes[at + 5] = plen & 0xff;
    // RFC 8200 4.5: the Next Header of the last unfragmentable header takes the fragment's.
    let nextField = at + 6;
    let p = at + IPV6_HEADER_LEN;
    while (p + 2 <= at + hl) {
      nextField = p;
      p += (bytes[p + 1] + 1) * 8;
    }
    bytes[nextField] = d.proto;
    this.receive(dev, new Buf(bytes, at, at + hl + d.len));
  }

  /** The reassembly timer fired: drop what expired; RFC 8200 4.5: time exceeded to the source. */
  reassemblyTimeout(now: number): void {
    for (const x of this.state.reassembler.expire(now)) {
      this.core.counters.inc(REASSEMBLY_TIMEOUT);
      // Only if the first fragment arrived (it is quoted).
      if (!x.timeExceeded || x.header === null) continue;
      const q = new Uint8Array(x.header.length + x.firstData.length);
      q.set(x.header, 0);
      q.set(x.firstData, x.header.length);
      const plen = q.length - IPV6_HEADER_LEN;
      q[4] = plen >>> 8;
      q[5] = plen & 0xff;
      const dev = this.addrs.findLocal6(x.dst, 0);
      const code = Icmpv6TimeExceededCode.ReassemblyTimeExceeded;
      this.icmp.sendError(dev, q, 0, false, false, Icmpv6Type.TimeExceeded, code, 0);
    }
    this.state.armReassembly();
  }

  // ---- forwarding ----

  private forward(dev: Device, buf: Buf, v: Ipv6View): void {
    const counters = this.core.counters;
    if (!this.state.forwarding || dev.isLoopback) {
      counters.inc(RX_NOT_FOR_US);
      return;
    }
    const bytes = v.bytes;
    const src = v.src;
    const dst = v.dst;
    const icmp = this.icmp;
    // RFC 4291 2.5.6: link-local sources and destinations are never forwarded.
    if (Ipv6.isLinkLocal(src) || Ipv6.isLinkLocal(dst) || Ipv6.isUnspecified(src)) {
      counters.inc(FWD_SCOPE);
      const code = Icmpv6DestUnreachableCode.BeyondScope;
      icmp.sendError(dev, bytes, v.off, false, this.nonFirstFragment(v), Icmpv6Type.DestUnreachable, code, 0);
      return;
    }
    // RFC 8200 3 / RFC 4443 3.3: hop limit exhausted: time exceeded.
    if (v.hopLimit <= 1) {
      counters.inc(FWD_HOP_LIMIT);
      const code = Icmpv6TimeExceededCode.HopLimitExceeded;
      icmp.sendError(dev, bytes, v.off, false, this.nonFirstFragment(v), Icmpv6Type.TimeExceeded, code, 0);
      return;
    }
    const st = this.state;
    const r = st.routes.lookupWhere(dst, st.usable as (r: Route<Ipv6Addr, DeviceId>) => boolean);
    if (r === null) {
      counters.inc(FWD_NO_ROUTE);
      const code = Icmpv6DestUnreachableCode.NoRoute;
      icmp.sendError(dev, bytes, v.off, false, this.nonFirstFragment(v), Icmpv6Type.DestUnreachable, code, 0);
      return;
    }
    const out = this.core.devices[r.device];
    const len = v.len;
    if (len > out.mtu) {
      // RFC 8200 5 / RFC 4443 3.2: routers never fragment: packet too big with the link MTU.
      counters.inc(FWD_TOO_BIG);
      icmp.sendError(dev, bytes, v.off, false, false, Icmpv6Type.PacketTooBig, 0, out.mtu);
      return;
    }
    decrementHopLimitInPlace(bytes, v.off);
    counters.inc(FWD);
    const hop = r.gateway ?? (Ipv6.copy(dst) as Ipv6Addr);
    buf.setRange(v.off, v.off + len);
    this.output.linkOutput6(out, hop, buf);
  }

  // ---- send ----

  /** `IpSender.send` for IPv6: route, wrap in IPv6, fragment at the source when needed, send. */
  send(opts: IpSendOptions<Ipv6Addr>, body: Serializer): IpSendError {
    const counters = this.core.counters;
    // Copy the addresses first: they may be borrowed from the buffer the packet is written into.
    const dstA = this.dstCopy;
    dstA.set(opts.dst);
    const next = this.next;
    if (!this.output.route(Ipv6, dstA, opts.device, next)) {
      counters.inc(TX_NO_ROUTE);
      return "ENETUNREACH";
    }
    const dev = next.dev as Device;
    const hop = next.hop as Ipv6Addr;
    const src = opts.src ?? this.addrs.sourceOn(Ipv6, dev, dstA);
    if (src === null) {
      counters.inc(TX_NO_SOURCE);
      return "EADDRNOTAVAIL";
    }
    const srcA = this.srcCopy;
    if (src !== srcA) srcA.set(src);
    const bodyLen = body.measure();
    if (bodyLen < 0 || bodyLen > 0xffff) {
      counters.inc(TX_TOO_BIG);
      return "EMSGSIZE";
    }
    const mtu = dev.isLoopback ? dev.mtu : this.state.pmtu.get(dstA, dev.mtu, this.core.now());
    const total = IPV6_HEADER_LEN + bodyLen;
    const b = this.builder;
    b.src = srcA;
    b.dst = dstA;
    b.nextHeader = opts.proto;
    const multicast = dstA[0] === 0xff;
    b.hopLimit = opts.ttl ?? (multicast ? 1 : dev.curHopLimit || this.defaultHopLimit);
    b.mtu = 0xffff + IPV6_HEADER_LEN;
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
      // RFC 8200 4.5 / 5: the source fragments packets larger than the path MTU.
      counters.inc(TX_FRAGMENTED);
      const id = this.nextFragmentId;
      this.nextFragmentId = (id + 1) >>> 0;
      // The next hop may be the copied destination, which the next packet overwrites.
      const hopCopy = Ipv6.copy(hop);
      const n = fragmentIpv6(pkt.bytes, pkt.start, pkt.length, mtu, id, LINK_HEADER_ROOM, 0, (f) =>
        output.linkOutput6(dev, hopCopy, f),
      );
      if (n === 0) return "EMSGSIZE";
      counters.inc(TX_FRAGMENTS, n);
      return null;
    }
    output.linkOutput6(dev, hop, pkt);
    return null;
  }

  /** `IpSender.sendIcmpError` for IPv6: a transport asks for an error about the packet it was given. */
  sendIcmpErrorFor(info: IpRxInfo<Ipv6Addr>, buf: Buf, type: number, code: number, param: number): void {
    const dev = this.core.devices[info.device] ?? null;
    this.icmp.sendError(dev, buf.bytes, info.ipOff, info.multicast, false, type, code, param >>> 0);
  }
}
