/**
 * ICMPv6 as a transport of IPv6: RFC 4443 (echo, errors: which to send and
 * never to send, section 2.4; the source address, 2.2; the quote, 2.4 (c); the rate limit, 2.4 (f)),
 * RFC 8201 (packet too big: path MTU), RFC 5927 (errors are passed to the transport that sent the
 * quoted packet only if the packet was ours). Neighbor Discovery messages go to ndp.ts (RFC 4861),
 * multicast listener messages to multicast.ts (RFC 2710, RFC 3810).
 *
 * Echo requests are answered in the received buffer: the pseudo-header sum does not change when
 * the addresses swap, so only the type changes the checksum (RFC 1624). Everything is sent through
 * the `IpSender` every transport uses.
 */

import type { Core } from "../core.ts";
import { counter } from "../counters.ts";
import type { Device } from "../device/device.ts";
import { LINK_HEADER_ROOM } from "../device/ethernet.ts";
import { Buf } from "../packet/buf.ts";
import { BufBody } from "../packet/serialize.ts";
import { update16 } from "../wire/checksum.ts";
import {
  Icmpv6DestUnreachableCode,
  Icmpv6ErrorBuilder,
  Icmpv6Type,
  Icmpv6View,
  icmpv6QuoteLen,
} from "../wire/icmpv6.ts";
import { IpProto } from "../wire/ipproto.ts";
import { IPV6_HEADER_LEN } from "../wire/ipv6.ts";
import { type Ipv6Addr, v6At } from "./addr.ts";
import { dispatchQuoted, icmpv6ErrorCode, MutableIcmpErrorInfo } from "./icmp.ts";
import type { MulticastListeners } from "./multicast.ts";
import type { Ndp } from "./ndp.ts";
import type { LocalAddresses } from "./sas.ts";
import type { IpState } from "./state.ts";
import type { IcmpErrorInfo, IpRxInfo, IpSender, TransportProtocol } from "./transport-api.ts";
import { Ipv6 } from "./version.ts";

const RX = counter("icmpv6.rx");
const RX_ECHO_REQUEST = counter("icmpv6.rx.echo-request");
const RX_ECHO_REPLY = counter("icmpv6.rx.echo-reply");
const RX_ECHO_IGNORED = counter("icmpv6.rx.echo-request-multicast-ignored");
const RX_ERROR = counter("icmpv6.rx.error");
const RX_ERROR_NOT_OURS = counter("icmpv6.rx.error-not-ours");
const RX_ERROR_SHORT = counter("icmpv6.rx.error-quote-too-short");
const RX_OTHER = counter("icmpv6.rx.other-type");
const RX_PACKET_TOO_BIG = counter("icmpv6.rx.packet-too-big");
const TX_ECHO_REPLY = counter("icmpv6.tx.echo-reply");
const TX_ERROR = counter("icmpv6.tx.error");
const TX_SUPPRESSED = counter("icmpv6.tx.error-suppressed");
const TX_RATE_LIMITED = counter("icmpv6.tx.error-rate-limited");
const NDP_RX_OTHER = counter("ndp.rx.other");

function isZero6(a: Uint8Array, off: number): boolean {
  for (let i = 0; i < 16; i++) if (a[off + i] !== 0) return false;
  return true;
}

export class Icmpv6 implements TransportProtocol {
  private readonly view = new Icmpv6View();
  private readonly errorInfo = new MutableIcmpErrorInfo<Ipv6Addr>();

  constructor(
    private readonly core: Core,
    private readonly ip: IpSender,
    private readonly addrs: LocalAddresses,
    private readonly state: IpState<Ipv6Addr>,
    private readonly ndp: Ndp,
    private readonly listeners: MulticastListeners,
  ) {}

  /** An ICMPv6 message for us (`buf`'s body; the IPv6 header and extension headers lie before it). */
  receive<A>(rx: IpRxInfo<A>, buf: Buf): void {
    const info = rx as unknown as IpRxInfo<Ipv6Addr>;
    const m = this.view;
    const counters = this.core.counters;
    counters.inc(RX);
    const e = m.parseFrom(buf.bytes, buf.start, buf.length, info.src, info.dst);
    if (e !== null) {
      counters.inc(counter(`icmpv6.rx.${e.reason}`));
      return;
    }
    const dev = this.core.devices[info.device];
    const type = m.type;
    switch (type) {
      case Icmpv6Type.EchoRequest: {
        counters.inc(RX_ECHO_REQUEST);
        if (info.multicast) {
          counters.inc(RX_ECHO_IGNORED);
          return;
        }
        // RFC 4443 4.2: the reply in the received buffer; the pseudo-header sum is unchanged by the
        // address swap, so only the type changes the checksum.
        const b = m.bytes;
        const o = m.off;
        const check = (b[o + 2] << 8) | b[o + 3];
        const c = update16(check, (b[o] << 8) | b[o + 1], Icmpv6Type.EchoReply << 8);
        b[o] = Icmpv6Type.EchoReply;
        b[o + 1] = 0;
        b[o + 2] = c >>> 8;
        b[o + 3] = c & 0xff;
        const err = this.ip.send(Ipv6, { src: info.dst, dst: info.src, proto: IpProto.Icmpv6 }, new BufBody(buf));
        if (err === null) counters.inc(TX_ECHO_REPLY);
        return;
      }
      case Icmpv6Type.EchoReply:
        counters.inc(RX_ECHO_REPLY);
        this.state.echo?.receiveEchoReply(info, m.id, m.seq, m.data());
        return;
      case Icmpv6Type.NeighborSolicitation:
        this.ndp.receiveNeighborSolicitation(dev, buf, info);
        return;
      case Icmpv6Type.NeighborAdvertisement:
        this.ndp.receiveNeighborAdvertisement(dev, buf, info);
        return;
      case Icmpv6Type.RouterSolicitation:
        this.ndp.receiveRouterSolicitation(dev, buf, info);
        return;
      case Icmpv6Type.RouterAdvertisement:
        this.ndp.receiveRouterAdvertisement(dev, buf, info);
        return;
      case Icmpv6Type.Redirect:
        this.ndp.receiveRedirect(dev, buf, info);
        return;
      case Icmpv6Type.MldQuery:
      case Icmpv6Type.MldReport:
      case Icmpv6Type.MldDone:
      case Icmpv6Type.Mldv2Report:
        this.listeners.receiveMld(dev, buf, info);
        return;
      case Icmpv6Type.DestUnreachable:
      case Icmpv6Type.PacketTooBig:
      case Icmpv6Type.TimeExceeded:
      case Icmpv6Type.ParamProblem:
        this.receiveError(m);
        return;
      default:
        if (type >= 133 && type <= 137) counters.inc(NDP_RX_OTHER);
        else counters.inc(RX_OTHER);
    }
  }

  /** Errors about ICMPv6 messages are the echo handler's (`dispatchQuoted`): nothing comes here. */
  receiveIcmpError<A>(_err: IcmpErrorInfo<A>): void {}

  private receiveError(m: Icmpv6View): void {
    const counters = this.core.counters;
    counters.inc(RX_ERROR);
    const b = m.bytes;
    const q = m.payloadOff;
    const end = m.off + m.len;
    if (end - q < IPV6_HEADER_LEN || b[q] >>> 4 !== 6) {
      counters.inc(RX_ERROR_SHORT);
      return;
    }
    const src = v6At(b, q + 8);
    const dst = v6At(b, q + 24);
    if (this.addrs.findLocal6(src, 0) === null) {
      counters.inc(RX_ERROR_NOT_OURS);
      return;
    }
    const code = icmpv6ErrorCode(m.type, m.code);
    if (code === null) return;
    const info = this.errorInfo;
    info.I = Ipv6;
    info.src = src;
    info.dst = dst;
    info.code = code;
    info.mtu = 0;
    if (m.type === Icmpv6Type.PacketTooBig) {
      // RFC 8201 4: lower the path MTU estimate (never below 1280).
      counters.inc(RX_PACKET_TOO_BIG);
      const now = this.core.now();
      this.state.pmtu.update(dst, m.mtu, now);
      info.mtu = this.state.pmtu.peek(dst, now) ?? 0;
    }
    // Walk the quoted extension headers (as far as they were quoted) to the upper layer.
    let next = b[q + 6];
    let p = q + IPV6_HEADER_LEN;
    for (let n = 0; n < 8 && p + 8 <= end; n++) {
      if (next === IpProto.HopByHop || next === IpProto.Ipv6Opts || next === IpProto.Ipv6Route) {
        next = b[p];
        p += (b[p + 1] + 1) * 8;
      } else if (next === IpProto.Ipv6Frag) {
        // A non-first fragment quotes no upper-layer header.
        if ((((b[p + 2] << 8) | b[p + 3]) & 0xfff8) !== 0) return;
        next = b[p];
        p += 8;
      } else break;
    }
    const st = this.state;
    dispatchQuoted(info, b, p, end - p, next, IpProto.Icmpv6, Icmpv6Type.EchoRequest, st.transports, st.echo);
  }

  /**
   * Send an ICMPv6 error about the packet at `bytes[off]` (RFC 4443 2.4): never about an ICMPv6
   * error, an unspecified or multicast source, or (except packet too big and parameter problem
   * code 2) a multicast destination; never about a non-first fragment; rate limited.
   */
  sendError(
    dev: Device | null,
    bytes: Uint8Array,
    off: number,
    groupDst: boolean,
    nonFirstFragment: boolean,
    type: number,
    code: number,
    field: number,
  ): void {
    if (off < 0 || off + IPV6_HEADER_LEN > bytes.length) return;
    const counters = this.core.counters;
    const plen = (bytes[off + 4] << 8) | bytes[off + 5];
    const len = Math.min(IPV6_HEADER_LEN + plen, bytes.length - off);
    const mcDst = groupDst || bytes[off + 24] === 0xff;
    const groupOk = type === Icmpv6Type.PacketTooBig || (type === Icmpv6Type.ParamProblem && code === 2);
    let suppress = nonFirstFragment || (mcDst && !groupOk) || bytes[off + 8] === 0xff || isZero6(bytes, off + 8);
    // RFC 4443 2.4 (e.1): never about an ICMPv6 error message.
    if (!suppress && bytes[off + 6] === IpProto.Icmpv6 && len > IPV6_HEADER_LEN && bytes[off + 40] < 128) {
      suppress = true;
    }
    if (suppress) {
      counters.inc(TX_SUPPRESSED);
      return;
    }
    // RFC 4443 2.4 (f): rate limited.
    if (!this.state.icmpErrors.take(this.core.now())) {
      counters.inc(TX_RATE_LIMITED);
      return;
    }
    const origSrc = v6At(bytes, off + 8).slice() as Ipv6Addr;
    const dst6 = v6At(bytes, off + 24);
    // RFC 4443 2.2: the source is the packet's destination when it was ours, else one of ours.
    let from: Ipv6Addr | null = !mcDst && this.addrs.findLocal6(dst6, 0) !== null ? (dst6.slice() as Ipv6Addr) : null;
    if (from === null) {
      from = this.ip.selectSource(Ipv6, origSrc);
      if (from === null && dev !== null) from = this.addrs.sourceOn(Ipv6, dev, origSrc);
      if (from === null) return;
      from = from.slice() as Ipv6Addr;
    }
    // RFC 4443 2.4 (c): as much of the invoking packet as fits in the minimum MTU.
    const qlen = icmpv6QuoteLen(len);
    const body = Buf.alloc(LINK_HEADER_ROOM + IPV6_HEADER_LEN + 8, qlen, 0);
    body.bytes.set(bytes.subarray(off, off + qlen), body.start);
    const err = this.ip.send(
      Ipv6,
      { src: from, dst: origSrc, proto: IpProto.Icmpv6 },
      new BufBody(body).wrapIn(new Icmpv6ErrorBuilder(from, origSrc, type, code, field)),
    );
    if (err === null) counters.inc(TX_ERROR);
  }

  /** RFC 4861 7.2.2: the neighbour of a packet waiting for resolution never answered: address unreachable. */
  addressUnreachable(dev: Device, pkt: Buf): void {
    const code = Icmpv6DestUnreachableCode.AddressUnreachable;
    this.sendError(dev, pkt.bytes, pkt.start, false, false, Icmpv6Type.DestUnreachable, code, 0);
  }
}
