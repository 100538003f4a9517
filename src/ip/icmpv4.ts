/**
 * ICMPv4 as a transport of IPv4: RFC 792, RFC 1122 3.2.2 (which errors to
 * send and never to send, echo), RFC 1812 4.3.2 (errors from routers: quote length, source address,
 * rate limit), RFC 1191 (fragmentation needed: path MTU), RFC 1122 3.2.2.2 (redirects), RFC 5927
 * (errors are passed to the transport that sent the quoted packet only if the packet was ours).
 *
 * Echo requests are answered in the received buffer: type and checksum patched (RFC 1624), the
 * buffer sent back through the IP layer with the addresses swapped. Replies and errors about our
 * echo requests go to the echo handler (the ICMP echo sockets). Everything is sent through the
 * `IpSender` every transport uses.
 */

import type { Core } from "../core.ts";
import { counter } from "../counters.ts";
import type { Device } from "../device/device.ts";
import { LINK_HEADER_ROOM } from "../device/ethernet.ts";
import { Buf } from "../packet/buf.ts";
import { BufBody } from "../packet/serialize.ts";
import { update16 } from "../wire/checksum.ts";
import {
  ICMPV4_HEADER_LEN,
  Icmpv4ErrorBuilder,
  Icmpv4Type,
  Icmpv4UnreachableCode,
  Icmpv4View,
  icmpv4QuoteLen,
  isIcmpv4Error,
} from "../wire/icmpv4.ts";
import { IpProto } from "../wire/ipproto.ts";
import { IPV4_HEADER_LEN } from "../wire/ipv4.ts";
import { type Ipv4Addr, v4At } from "./addr.ts";
import { dispatchQuoted, icmpv4ErrorCode, MutableIcmpErrorInfo } from "./icmp.ts";
import type { LocalAddresses } from "./sas.ts";
import type { IpState } from "./state.ts";
import type { IcmpErrorInfo, IpRxInfo, IpSender, TransportProtocol } from "./transport-api.ts";
import { Ipv4, V4_BROADCAST } from "./version.ts";

const RX = counter("icmpv4.rx");
const RX_ECHO_REQUEST = counter("icmpv4.rx.echo-request");
const RX_ECHO_REPLY = counter("icmpv4.rx.echo-reply");
const RX_ECHO_IGNORED = counter("icmpv4.rx.echo-request-broadcast-ignored");
const RX_ERROR = counter("icmpv4.rx.error");
const RX_ERROR_NOT_OURS = counter("icmpv4.rx.error-not-ours");
const RX_ERROR_SHORT = counter("icmpv4.rx.error-quote-too-short");
const RX_OTHER = counter("icmpv4.rx.other-type");
const RX_FRAG_NEEDED = counter("icmpv4.rx.frag-needed");
const TX_ECHO_REPLY = counter("icmpv4.tx.echo-reply");
const TX_ERROR = counter("icmpv4.tx.error");
const TX_SUPPRESSED = counter("icmpv4.tx.error-suppressed");
const TX_RATE_LIMITED = counter("icmpv4.tx.error-rate-limited");
const REDIRECT_RX = counter("redirect.rx");
const REDIRECT_IGNORED = counter("redirect.ignored");

export class Icmpv4 implements TransportProtocol {
  private readonly view = new Icmpv4View();
  private readonly errorInfo = new MutableIcmpErrorInfo<Ipv4Addr>();

  constructor(
    private readonly core: Core,
    private readonly ip: IpSender,
    private readonly addrs: LocalAddresses,
    private readonly state: IpState<Ipv4Addr>,
  ) {}

  /** An ICMPv4 message for us (`buf`'s body; the IPv4 header lies before it). */
  receive<A>(rx: IpRxInfo<A>, buf: Buf): void {
    const info = rx as unknown as IpRxInfo<Ipv4Addr>;
    const m = this.view;
    const counters = this.core.counters;
    counters.inc(RX);
    const e = m.parseFrom(buf.bytes, buf.start, buf.length);
    if (e !== null) {
      counters.inc(counter(`icmpv4.rx.${e.reason}`));
      return;
    }
    const type = m.type;
    if (type === Icmpv4Type.EchoRequest) {
      counters.inc(RX_ECHO_REQUEST);
      // RFC 1122 3.2.2.6: an echo request to a broadcast or multicast address MAY be ignored.
      if (info.multicast) {
        counters.inc(RX_ECHO_IGNORED);
        return;
      }
      // RFC 792 / RFC 1122 3.2.2.6: the reply, built in the received buffer: type 0, same data.
      const b = m.bytes;
      const o = m.off;
      const check = (b[o + 2] << 8) | b[o + 3];
      const c = update16(check, (b[o] << 8) | b[o + 1], Icmpv4Type.EchoReply << 8);
      b[o] = Icmpv4Type.EchoReply;
      b[o + 1] = 0;
      b[o + 2] = c >>> 8;
      b[o + 3] = c & 0xff;
      const err = this.ip.send(Ipv4, { src: info.dst, dst: info.src, proto: IpProto.Icmp }, new BufBody(buf));
      if (err === null) counters.inc(TX_ECHO_REPLY);
      return;
    }
    if (type === Icmpv4Type.EchoReply) {
      counters.inc(RX_ECHO_REPLY);
      this.state.echo?.receiveEchoReply(info, m.id, m.seq, m.data());
      return;
    }
    if (type === Icmpv4Type.Redirect) {
      const dev = this.core.devices[info.device];
      if (dev !== undefined) this.receiveRedirect(dev, m, info);
      return;
    }
    if (isIcmpv4Error(type)) {
      this.receiveError(m);
      return;
    }
    counters.inc(RX_OTHER);
  }

  /** Errors about ICMP messages are the echo handler's (`dispatchQuoted`): nothing comes here. */
  receiveIcmpError<A>(_err: IcmpErrorInfo<A>): void {}

  /**
   * RFC 1122 3.2.2.2 / RFC 792: a Redirect from the current first-hop gateway for the quoted
   * destination, naming a gateway on the network it arrived from, becomes a host route (network
   * redirects are treated as host redirects, as RFC 1122 asks). Routers ignore redirects.
   */
  private receiveRedirect(dev: Device, m: Icmpv4View, info: IpRxInfo<Ipv4Addr>): void {
    const counters = this.core.counters;
    counters.inc(REDIRECT_RX);
    const b = m.bytes;
    const q = m.quoteOff;
    if (m.quoteLen < IPV4_HEADER_LEN || b[q] >>> 4 !== 4 || m.code > 3) {
      counters.inc(REDIRECT_IGNORED);
      return;
    }
    const gw = m.gateway;
    // The gateway must be a neighbour on the link the redirect came from.
    const onLink = this.state.routes.lookup(gw);
    if (onLink === null || onLink.gateway !== null || onLink.device !== dev.id || this.addrs.isLocal4(gw)) {
      counters.inc(REDIRECT_IGNORED);
      return;
    }
    this.state.learnRedirect(dev, info.src, v4At(b, q + 16), gw);
  }

  private receiveError(m: Icmpv4View): void {
    const counters = this.core.counters;
    counters.inc(RX_ERROR);
    const b = m.bytes;
    const q = m.quoteOff;
    const qlen = m.quoteLen;
    if (qlen < IPV4_HEADER_LEN || b[q] >>> 4 !== 4) {
      counters.inc(RX_ERROR_SHORT);
      return;
    }
    const hl = (b[q] & 0x0f) * 4;
    if (hl < IPV4_HEADER_LEN || qlen < hl) {
      counters.inc(RX_ERROR_SHORT);
      return;
    }
    const src = v4At(b, q + 12);
    const dst = v4At(b, q + 16);
    // RFC 5927 4: only errors about packets we sent concern us.
    if (!this.addrs.isLocal4(src)) {
      counters.inc(RX_ERROR_NOT_OURS);
      return;
    }
    const code = icmpv4ErrorCode(m.type, m.code);
    if (code === null) return;
    const info = this.errorInfo;
    info.I = Ipv4;
    info.src = src;
    info.dst = dst;
    info.code = code;
    info.mtu = 0;
    const proto = b[q + 9];
    if (m.type === Icmpv4Type.DestUnreachable && m.code === Icmpv4UnreachableCode.FragNeeded) {
      // RFC 1191: learn the path MTU (the plateau table when the router did not say).
      counters.inc(RX_FRAG_NEEDED);
      const totalLen = (b[q + 2] << 8) | b[q + 3];
      const now = this.core.now();
      this.state.pmtu.update(dst, m.nextHopMtu, now, totalLen);
      info.mtu = this.state.pmtu.peek(dst, now) ?? 0;
    }
    const st = this.state;
    dispatchQuoted(info, b, q + hl, qlen - hl, proto, IpProto.Icmp, Icmpv4Type.EchoRequest, st.transports, st.echo);
  }

  /**
   * Send an ICMPv4 error about the packet at `bytes[off]` (RFC 792, RFC 1122 3.2.2, RFC 1812 4.3.2).
   * Suppressed for errors about ICMP errors, non-first fragments, broadcast/multicast destinations
   * or link-layer groups, and sources that are not a unique host; rate limited. `rest` is the
   * 4-byte rest of header. `avail` bounds how many bytes are readable (default: the total length).
   */
  sendError(
    dev: Device | null,
    bytes: Uint8Array,
    off: number,
    groupDst: boolean,
    type: number,
    code: number,
    rest: number,
    avail = -1,
  ): void {
    if (off < 0 || off + IPV4_HEADER_LEN > bytes.length) return;
    const counters = this.core.counters;
    const src = v4At(bytes, off + 12);
    const dst = v4At(bytes, off + 16);
    const hl = (bytes[off] & 0x0f) * 4;
    const total = (bytes[off + 2] << 8) | bytes[off + 3];
    const fragOff = ((bytes[off + 6] << 8) | bytes[off + 7]) & 0x1fff;
    let len = Math.min(total, bytes.length - off);
    if (avail >= 0) len = Math.min(len, avail);
    // RFC 1122 3.2.2: never about an ICMP error, a non-first fragment, a broadcast or multicast
    // destination, or a source that does not define a single host.
    let suppress =
      groupDst ||
      fragOff !== 0 ||
      Ipv4.isMulticast(dst) ||
      dst === V4_BROADCAST ||
      src === 0 ||
      src === V4_BROADCAST ||
      Ipv4.isMulticast(src) ||
      dev?.isBroadcast4(dst) === true ||
      dev?.isBroadcast4(src) === true;
    if (!suppress && bytes[off + 9] === IpProto.Icmp && len >= hl + 1) {
      const t = bytes[off + hl];
      suppress = isIcmpv4Error(t) || (t !== Icmpv4Type.EchoRequest && t !== Icmpv4Type.EchoReply && t > 18);
    }
    if (suppress) {
      counters.inc(TX_SUPPRESSED);
      return;
    }
    // RFC 1812 4.3.2.8 / RFC 1122 3.2.2: rate limited (token bucket).
    if (!this.state.icmpErrors.take(this.core.now())) {
      counters.inc(TX_RATE_LIMITED);
      return;
    }
    // RFC 1812 4.3.2.3: quote as much as fits in 576 bytes.
    const qlen = icmpv4QuoteLen(len);
    const body = Buf.alloc(LINK_HEADER_ROOM + IPV4_HEADER_LEN + ICMPV4_HEADER_LEN, qlen, 0);
    body.bytes.set(bytes.subarray(off, off + qlen), body.start);
    // RFC 1812 4.3.2.4: the source is an address of ours: the one the packet was sent to if it was ours.
    const from = this.addrs.isLocal4(dst) ? dst : null;
    const err = this.ip.send(
      Ipv4,
      { src: from, dst: src, proto: IpProto.Icmp },
      new BufBody(body).wrapIn(new Icmpv4ErrorBuilder(type, code, rest)),
    );
    if (err === null) counters.inc(TX_ERROR);
  }

  /** RFC 1122 2.3.2.2: the neighbour of a packet waiting for ARP never answered: host unreachable. */
  hostUnreachable(dev: Device, pkt: Buf): void {
    this.sendError(dev, pkt.bytes, pkt.start, false, Icmpv4Type.DestUnreachable, Icmpv4UnreachableCode.Host, 0);
  }
}
