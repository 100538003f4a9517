/**
 * Whole-frame decoding: an Ethernet frame's bytes to the record `netstack decode --json` prints
 * (the fixed contract of issue 2), a tcpdump-style one-line summary, and `verifyFrame`, which
 * re-serializes the frame from its parsed reprs with the builders and byte-compares.
 *
 * Layers: Ethernet II (+ one 802.1Q tag, IEEE 802.1Q), ARP (RFC 826), IPv4 (RFC 791), IPv6 with
 * its extension-header chain (RFC 8200), TCP (RFC 9293), UDP (RFC 768), ICMPv4 (RFC 792), ICMPv6
 * (RFC 4443), NDP (RFC 4861), IGMP (RFC 2236, RFC 3376) and MLD (RFC 2710, RFC 3810). IGMP and
 * MLD have no key of their own in the record (the contract fixes its shape): they show in the
 * summary line, and `--verify` rebuilds them with their builders. IPv6 packets a host would drop
 * but a link carries (routing headers in transit, options that say discard) are decoded too
 * (`parseIpv6ForDecode`). Every checksum is verified: a bad one is an error. Layers above IP are
 * decoded only for whole datagrams and for first fragments whose transport header is complete (a
 * fragment's transport checksum covers bytes it does not hold, so it is not checked).
 *
 * Malformed input never throws: the record says `"ok": false` with an `error`, and keeps the
 * layers parsed before the error.
 */
import { v6Copy } from "../ip/addr.ts";
import {
  BytesBody,
  EMPTY_BODY,
  type Nested,
  type PacketBuilder,
  type Serializer,
  TooBig,
} from "../packet/serialize.ts";
import * as arp from "./arp.ts";
import { pseudoSum } from "./checksum.ts";
import type { ParseError } from "./errors.ts";
import * as eth from "./ethernet.ts";
import * as icmpv4 from "./icmpv4.ts";
import * as icmpv6 from "./icmpv6.ts";
import * as igmp from "./igmp.ts";
import { IpProto } from "./ipproto.ts";
import * as ipv4 from "./ipv4.ts";
import * as ipv6 from "./ipv6.ts";
import { IPV6_FRAG_HEADER_LEN, IPV6_MAX_EXT_HEADERS, walkExtChain } from "./ipv6-ext.ts";
import * as mld from "./mld.ts";
import * as ndp from "./ndp.ts";
import * as tcp from "./tcp.ts";
import * as udp from "./udp.ts";

// ---- the JSON record (the `netstack decode --json` contract) ----

/** The "eth" object. */
export interface EthJson {
  src: string;
  dst: string;
  /** The EtherType after any 802.1Q tag. */
  type: number;
  /** The 802.1Q VLAN id, when tagged. */
  vlan?: number;
}

/** The "arp" object. */
export interface ArpJson {
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

/** The "ip" object. */
export interface IpJson {
  version: 4 | 6;
  src: string;
  dst: string;
  /** TTL or hop limit. */
  ttl: number;
  /** The upper-layer protocol; for IPv6 the one after the extension-header chain. */
  proto: number;
  /** IPv4 identification, or the IPv6 fragment header's identification (absent without one). */
  id?: number;
  /** Fragment offset in bytes. */
  fragOffset: number;
  moreFragments: boolean;
}

/** The "tcp" object. */
export interface TcpJson {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** Letters of the set flags in the order F S R P A U E C. */
  flags: string;
  /** Raw, unscaled. */
  window: number;
  options: {
    mss?: number;
    wscale?: number;
    sackPermitted?: true;
    sack?: [number, number][];
    ts?: [number, number];
  };
}

/** The "udp" object. */
export interface UdpJson {
  srcPort: number;
  dstPort: number;
  length: number;
}

/** The "icmp" object. */
export interface IcmpJson {
  version: 4 | 6;
  type: number;
  code: number;
}

/** One line of `netstack decode --json`. Keys appear in this order. */
export interface DecodeRecord {
  /** 1-based index in the capture. */
  frame: number;
  ok: boolean;
  /** Why the frame is malformed, e.g. "tcp: bad-checksum". */
  error?: string;
  eth?: EthJson;
  arp?: ArpJson;
  ip?: IpJson;
  tcp?: TcpJson;
  udp?: UdpJson;
  icmp?: IcmpJson;
}

// ---- the parse ----

/**
 * Everything decoded from one frame: the JSON record, and the full reprs and byte ranges that
 * `summarize` and `rebuildFrame` need. Byte ranges are subarrays of the frame (no copies).
 */
export interface DecodedFrame {
  record: DecodeRecord;
  /** The frame's bytes. */
  bytes: Uint8Array;
  eth?: eth.EthernetRepr;
  arp?: arp.ArpRepr;
  ipv4?: ipv4.Ipv4Repr;
  ipv6?: ipv6.Ipv6Repr;
  tcp?: tcp.TcpRepr;
  udp?: udp.UdpRepr;
  icmpv4?: icmpv4.Icmpv4Repr;
  icmpv6?: icmpv6.Icmpv6Repr;
  /** Present when the ICMPv6 message is a well-formed NDP message. */
  ndp?: ndp.NdpRepr;
  /** The IGMP message of a whole IPv4 datagram with protocol 2 (no key in the JSON record). */
  igmp?: igmp.IgmpRepr;
  /** The MLD message (ICMPv6 types 130, 131, 132, 143) of a whole datagram. */
  mld?: mld.MldRepr;
  /**
   * True when the IGMP or MLD repr holds every byte of the message, so its builder rebuilds it;
   * otherwise (an IGMPv3 report, a message longer than its fields) the bytes are copied as they are.
   */
  multicastRebuilt?: boolean;
  /** Offset just past the layer-3 packet (ARP packet, IP total length); bytes after it are link padding. */
  l3End: number;
  /** The IP payload after any IPv6 extension headers (the fragment data of a fragment). */
  upper?: Uint8Array;
  /** True when `upper` holds a whole transport message (not a fragment), so transport layers are rebuilt. */
  whole: boolean;
  /** The transport payload (TCP/UDP data, ICMP body), when a transport layer was decoded from a whole datagram. */
  transportPayload?: Uint8Array;
  /** Bytes of the IP payload after the UDP length (normally none). */
  udpTrailer?: Uint8Array;
  /** IP addresses for the pseudo-header: numbers for IPv4, 16-byte copies for IPv6. */
  ipSrc?: number | Uint8Array;
  ipDst?: number | Uint8Array;
  /** The TCP option bytes (for the summary). */
  tcpOptions?: Uint8Array;
  /** TCP payload length (for the summary; also set for first fragments). */
  tcpPayloadLen?: number;
}

function errorText(e: ParseError): string {
  return `${e.layer}: ${e.reason}`;
}

const NDP_FIRST = icmpv6.Icmpv6Type.RouterSolicitation;
const NDP_LAST = icmpv6.Icmpv6Type.Redirect;

/** Decode one Ethernet frame. Never throws. `frame` is the 1-based index printed in the record. */
export function decodeFrame(bytes: Uint8Array, frame = 1): DecodedFrame {
  const d: DecodedFrame = { record: { frame, ok: true }, bytes, l3End: bytes.length, whole: false };
  const error = decodeLayers(bytes, d);
  const r = d.record;
  // Rebuild the record so that its keys come in the contract's order.
  const out: DecodeRecord = { frame, ok: error === null };
  if (error !== null) out.error = error;
  if (r.eth !== undefined) out.eth = r.eth;
  if (r.arp !== undefined) out.arp = r.arp;
  if (r.ip !== undefined) out.ip = r.ip;
  if (r.tcp !== undefined) out.tcp = r.tcp;
  if (r.udp !== undefined) out.udp = r.udp;
  if (r.icmp !== undefined) out.icmp = r.icmp;
  d.record = out;
  return d;
}

/** The JSON record of one frame. */
export function decodeRecord(bytes: Uint8Array, frame = 1): DecodeRecord {
  return decodeFrame(bytes, frame).record;
}

/** Fill `d` layer by layer; returns the error text, or null when the frame is well-formed. */
function decodeLayers(bytes: Uint8Array, d: DecodedFrame): string | null {
  const r = d.record;
  const ev = eth.EthernetView.parse(bytes, 0, bytes.length);
  if (!(ev instanceof eth.EthernetView)) return errorText(ev);
  const er = eth.toRepr(ev);
  d.eth = er;
  r.eth = { src: er.src, dst: er.dst, type: er.etherType };
  if (er.vlan !== undefined) r.eth.vlan = er.vlan;
  const off = ev.payloadOff;
  const len = ev.payloadLen;
  d.l3End = off;
  switch (ev.etherType) {
    case eth.EtherType.Arp: {
      const av = arp.ArpView.parse(bytes, off, len);
      if (!(av instanceof arp.ArpView)) return errorText(av);
      const ar = arp.toRepr(av);
      d.arp = ar;
      r.arp = { ...ar };
      d.l3End = off + av.len;
      return null;
    }
    case eth.EtherType.Ipv4:
      return decodeIpv4(bytes, off, len, d);
    case eth.EtherType.Ipv6:
      return decodeIpv6(bytes, off, len, d);
    default:
      // Another EtherType: the payload is opaque.
      d.l3End = off + len;
      return null;
  }
}

function decodeIpv4(bytes: Uint8Array, off: number, len: number, d: DecodedFrame): string | null {
  const v = ipv4.Ipv4View.parse(bytes, off, len);
  if (!(v instanceof ipv4.Ipv4View)) return errorText(v);
  const ir = ipv4.toRepr(v);
  d.ipv4 = ir;
  d.l3End = off + v.len;
  d.record.ip = {
    version: 4,
    src: ir.src,
    dst: ir.dst,
    ttl: ir.ttl,
    proto: ir.proto,
    id: ir.id,
    fragOffset: ir.fragOffset,
    moreFragments: ir.mf,
  };
  d.ipSrc = v.src;
  d.ipDst = v.dst;
  d.upper = v.payload();
  // RFC 791: only the first fragment (offset 0) holds the transport header.
  if (v.fragOffset !== 0) return null;
  d.whole = !v.mf;
  return decodeTransport(bytes, v.payloadOff, v.payloadLen, v.proto, 4, d);
}

function decodeIpv6(bytes: Uint8Array, off: number, len: number, d: DecodedFrame): string | null {
  const v = parseIpv6ForDecode(bytes, off, len);
  if (!(v instanceof ipv6.Ipv6View)) return errorText(v);
  const ir = ipv6.toRepr(v);
  d.ipv6 = ir;
  d.l3End = off + v.len;
  // Keys in the contract's order; RFC 8200 4.5: the identification is the fragment header's, if any.
  const ip: IpJson = { version: 6, src: ir.src, dst: ir.dst, ttl: ir.hopLimit, proto: v.proto } as IpJson;
  if (v.hasFrag) ip.id = v.fragId;
  ip.fragOffset = v.fragOffset;
  ip.moreFragments = v.moreFragments;
  d.record.ip = ip;
  d.ipSrc = v6Copy(v.src);
  d.ipDst = finalDestination(v);
  d.upper = v.upper();
  // RFC 8200 4.5: only the first fragment (offset 0) holds the upper-layer header.
  if (v.fragOffset !== 0) return null;
  d.whole = !v.moreFragments;
  return decodeTransport(bytes, v.upperOff, v.upperLen, v.proto, 6, d);
}

// ---- IPv6 as a decoder sees it ----

/**
 * `Ipv6View.parse` rejects what the *receiving host* must not process (RFC 8200 4.4: a routing
 * header with Segments Left > 0 and an unsupported type; 4.2: an unrecognized option whose type
 * bits say discard). Those packets are well-formed, and a decoder watching a link sees them in
 * transit (SRv6, RFC 8754): for them the chain is walked again with the structural checks only.
 */
const HOST_ONLY_REASONS: ReadonlySet<string> = new Set(["routing-header-segments-left", "unrecognized-option"]);

/** Parse the IPv6 packet at `bytes[off, off + len)` for display (see `HOST_ONLY_REASONS`). */
export function parseIpv6ForDecode(bytes: Uint8Array, off: number, len: number): ipv6.Ipv6View | ParseError {
  const v = ipv6.Ipv6View.parse(bytes, off, len);
  if (v instanceof ipv6.Ipv6View || !HOST_ONLY_REASONS.has(v.reason)) return v;
  // The fixed header passed (the chain walk comes last in Ipv6View.parseFrom).
  const lv = new ipv6.Ipv6View();
  lv.bytes = bytes;
  lv.off = off;
  lv.len = ipv6.IPV6_HEADER_LEN + ((bytes[off + 4] << 8) | bytes[off + 5]);
  return walkExtChain(bytes, off, off + lv.len, lv, IPV6_MAX_EXT_HEADERS, false) ?? lv;
}

/**
 * The destination address of the upper-layer checksum's pseudo-header (a 16-byte copy).
 * RFC 8200 8.1: with a routing header, the final destination; in transit (Segments Left > 0) it
 * is in the routing header: the last address of type 0 (RFC 2460 4.4), the home address of type 2
 * (RFC 6275 6.4), the last compressed address of type 3 (RFC 6554 3), Segment List[0] of type 4
 * (RFC 8754 2). At the final hop (Segments Left 0) it is the header's Destination Address.
 */
export function finalDestination(v: ipv6.Ipv6View): Uint8Array {
  const b = v.bytes;
  const dst = v6Copy(v.dst);
  let type = v.nextHeader;
  let p = v.payloadOff;
  while (p < v.upperOff) {
    const hlen = type === IpProto.Ipv6Frag ? IPV6_FRAG_HEADER_LEN : (b[p + 1] + 1) * 8;
    if (type === IpProto.Ipv6Route && b[p + 3] !== 0) {
      routingFinal(b, p, hlen, dst);
      return dst;
    }
    type = b[p];
    p += hlen;
  }
  return dst;
}

/** Overwrite `dst` (the header's destination) with the final destination of the routing header at `b[p]`. */
function routingFinal(b: Uint8Array, p: number, hlen: number, dst: Uint8Array): void {
  const addrs = p + 8;
  const words = b[p + 1];
  switch (b[p + 2]) {
    case 0: {
      // RFC 2460 4.4: Hdr Ext Len is twice the number of addresses.
      const n = words >> 1;
      if (n > 0) dst.set(b.subarray(addrs + 16 * (n - 1), addrs + 16 * n));
      return;
    }
    case 2:
    case 4:
      // RFC 6275 6.4: the one address; RFC 8754 2: Segment List[0] is the last segment.
      if (words >= 2) dst.set(b.subarray(addrs, addrs + 16));
      return;
    case 3: {
      // RFC 6554 3: the last address keeps 16 - CmprE bytes; its first CmprE bytes are the
      // header's Destination Address's.
      const cmprE = b[p + 4] & 0x0f;
      const pad = b[p + 5] >> 4;
      const keep = 16 - cmprE;
      const last = p + hlen - pad;
      if (last - keep >= addrs) dst.set(b.subarray(last - keep, last), cmprE);
      return;
    }
    default:
      return;
  }
}

/**
 * Decode the transport layer at `bytes[off, off + len)`. For a first fragment (`d.whole` false)
 * a layer appears only when its header is complete, and checksums are not checked.
 */
function decodeTransport(
  bytes: Uint8Array,
  off: number,
  len: number,
  proto: number,
  version: 4 | 6,
  d: DecodedFrame,
): string | null {
  const r = d.record;
  const src = d.ipSrc as number | Uint8Array;
  const dst = d.ipDst as number | Uint8Array;
  const whole = d.whole;
  switch (proto) {
    case IpProto.Tcp: {
      if (!whole && (len < tcp.TCP_HEADER_LEN || (bytes[off + 12] >>> 4) * 4 > len)) return null;
      const pseudo = whole ? pseudoSum(src, dst, IpProto.Tcp, len) : tcp.SKIP_CHECKSUM;
      const v = tcp.TcpView.parse(bytes, off, len, pseudo);
      if (!(v instanceof tcp.TcpView)) return errorText(v);
      const tr = tcp.toRepr(v);
      d.tcp = tr;
      d.tcpOptions = v.options();
      d.tcpPayloadLen = v.payloadLen;
      const o = tr.options;
      const options: TcpJson["options"] = {};
      if (o.mss !== undefined) options.mss = o.mss;
      if (o.wscale !== undefined) options.wscale = o.wscale;
      if (o.sackPermitted === true) options.sackPermitted = true;
      if (o.sack !== undefined) options.sack = o.sack;
      if (o.ts !== undefined) options.ts = o.ts;
      r.tcp = {
        srcPort: tr.srcPort,
        dstPort: tr.dstPort,
        seq: tr.seq,
        ack: tr.ack,
        flags: tcp.tcpFlagsString(tr.flags),
        window: tr.window,
        options,
      };
      if (whole) d.transportPayload = v.payload();
      return null;
    }
    case IpProto.Udp: {
      if (!whole) {
        if (len < udp.UDP_HEADER_LEN) return null;
        // A first fragment: the length field counts bytes in later fragments; read the header only.
        r.udp = {
          srcPort: (bytes[off] << 8) | bytes[off + 1],
          dstPort: (bytes[off + 2] << 8) | bytes[off + 3],
          length: (bytes[off + 4] << 8) | bytes[off + 5],
        };
        return null;
      }
      const v = udp.UdpView.parse(bytes, off, len, pseudoSum(src, dst, IpProto.Udp, len), version);
      if (!(v instanceof udp.UdpView)) return errorText(v);
      const ur = udp.toRepr(v);
      d.udp = ur;
      r.udp = { srcPort: ur.srcPort, dstPort: ur.dstPort, length: ur.length };
      d.transportPayload = v.payload();
      d.udpTrailer = bytes.subarray(off + v.len, off + len);
      return null;
    }
    case IpProto.Icmp: {
      if (version !== 4) return null;
      if (!whole) {
        if (len < icmpv4.ICMPV4_HEADER_LEN) return null;
        r.icmp = { version: 4, type: bytes[off], code: bytes[off + 1] };
        return null;
      }
      const v = icmpv4.Icmpv4View.parse(bytes, off, len);
      if (!(v instanceof icmpv4.Icmpv4View)) return errorText(v);
      d.icmpv4 = icmpv4.toRepr(v);
      r.icmp = { version: 4, type: v.type, code: v.code };
      d.transportPayload = v.data();
      return null;
    }
    case IpProto.Igmp: {
      if (version !== 4 || !whole) return null;
      const v = igmp.IgmpView.parse(bytes, off, len);
      if (!(v instanceof igmp.IgmpView)) return errorText(v);
      d.igmp = igmp.toRepr(v);
      // RFC 2236 2 / RFC 3376 4.1: an IGMPv1/v2 message is 8 bytes; a v3 query 12 plus 4 per source.
      const exact = v.isV3Query ? igmp.IGMPV3_QUERY_MIN_LEN + 4 * v.numSources : igmp.IGMP_LEN;
      d.multicastRebuilt = v.type !== igmp.IgmpType.V3MembershipReport && v.len === exact;
      return null;
    }
    case IpProto.Icmpv6: {
      if (version !== 6) return null;
      if (!whole) {
        if (len < icmpv6.ICMPV6_HEADER_LEN) return null;
        r.icmp = { version: 6, type: bytes[off], code: bytes[off + 1] };
        return null;
      }
      const v = icmpv6.Icmpv6View.parse(bytes, off, len, src as Uint8Array, dst as Uint8Array);
      if (!(v instanceof icmpv6.Icmpv6View)) return errorText(v);
      d.icmpv6 = icmpv6.toRepr(v);
      r.icmp = { version: 6, type: v.type, code: v.code };
      d.transportPayload = v.payload();
      if (v.type >= NDP_FIRST && v.type <= NDP_LAST) {
        const n = ndp.parseNdp(bytes, off, len);
        if (n instanceof ndp.NdpView) d.ndp = ndp.toRepr(n);
        else return errorText(n);
      }
      if (isMldType(v.type)) return decodeMld(bytes, off, len, d);
      return null;
    }
    default:
      return null;
  }
}

function isMldType(t: number): boolean {
  return (
    t === icmpv6.Icmpv6Type.MldQuery ||
    t === icmpv6.Icmpv6Type.MldReport ||
    t === icmpv6.Icmpv6Type.MldDone ||
    t === icmpv6.Icmpv6Type.Mldv2Report
  );
}

/** The MLD message in a checksum-verified ICMPv6 message at `bytes[off, off + len)`. */
function decodeMld(bytes: Uint8Array, off: number, len: number, d: DecodedFrame): string | null {
  const v = mld.parseMld(bytes, off, len);
  if (!(v instanceof mld.MldView) && !(v instanceof mld.Mldv2ReportView)) return errorText(v);
  const r = mld.toRepr(v);
  d.mld = r;
  let exact: number;
  if (r.records !== undefined) {
    // RFC 3810 5.2: the report is its 8-byte header and its records, nothing after them.
    exact = mld.MLDV2_REPORT_HEADER_LEN;
    for (const rec of r.records) {
      exact += mld.MLDV2_RECORD_HEADER_LEN + 16 * rec.sources.length + (rec.auxData?.length ?? 0) / 2;
    }
  } else {
    // RFC 2710 3: 24 bytes; RFC 3810 5.1: an MLDv2 query is 28 bytes plus 16 per source.
    exact = r.sources !== undefined ? mld.MLDV2_QUERY_MIN_LEN + 16 * r.sources.length : mld.MLDV1_LEN;
  }
  d.multicastRebuilt = len === exact;
  return null;
}

// ---- re-serialization ----

/** Bytes written as a layer's footer: link padding or trailing bytes that belong to no layer's repr. */
class TrailerBuilder implements PacketBuilder {
  readonly headerLen = 0;
  readonly minBodyLen = 0;
  readonly maxBodyLen = Number.POSITIVE_INFINITY;
  constructor(readonly trailer: Uint8Array) {}
  get footerLen(): number {
    return this.trailer.length;
  }
  serialize(bytes: Uint8Array, off: number, bodyLen: number): void {
    bytes.set(this.trailer, off + bodyLen);
  }
}

/**
 * An Ethernet builder without the 60-byte minimum: frames captured on the sending host (veth,
 * loopback, TAP) are handed to the capture before any NIC pads them.
 */
class UnpaddedEthernet implements PacketBuilder {
  readonly footerLen = 0;
  readonly minBodyLen = 0;
  constructor(readonly inner: eth.EthernetBuilder) {}
  get headerLen(): number {
    return this.inner.headerLen;
  }
  get maxBodyLen(): number {
    return this.inner.maxBodyLen;
  }
  serialize(bytes: Uint8Array, off: number, bodyLen: number): void {
    this.inner.serialize(bytes, off, bodyLen);
  }
}

function allZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** The transport layer rebuilt from its repr around its payload, or null when it is not rebuilt. */
function transportSerializer(d: DecodedFrame): Serializer | null {
  if (!d.whole) return null;
  if (d.igmp !== undefined) return d.multicastRebuilt === true ? EMPTY_BODY.wrapIn(igmp.builderFromRepr(d.igmp)) : null;
  if (d.transportPayload === undefined) return null;
  const src = d.ipSrc as number | Uint8Array;
  const dst = d.ipDst as number | Uint8Array;
  const body = new BytesBody(d.transportPayload);
  if (d.tcp !== undefined) return body.wrapIn(tcp.builderFromRepr(d.tcp, src, dst));
  if (d.udp !== undefined) {
    let s: Serializer = body.wrapIn(udp.builderFromRepr(d.udp, src, dst));
    if (d.udpTrailer !== undefined && d.udpTrailer.length > 0) s = s.wrapIn(new TrailerBuilder(d.udpTrailer));
    return s;
  }
  if (d.icmpv4 !== undefined) return body.wrapIn(icmpv4.builderFromRepr(d.icmpv4));
  if (d.icmpv6 !== undefined) {
    const s6 = src as Uint8Array;
    const d6 = dst as Uint8Array;
    if (d.mld !== undefined && d.multicastRebuilt === true)
      return EMPTY_BODY.wrapIn(mld.builderFromRepr(d.mld, s6, d6));
    if (d.ndp !== undefined) {
      const b = ndp.builderFromRepr(d.ndp, s6, d6);
      if (b !== null) return EMPTY_BODY.wrapIn(b);
    }
    return body.wrapIn(icmpv6.builderFromRepr(d.icmpv6, s6, d6));
  }
  return null;
}

/**
 * Re-serialize a decoded frame from its reprs with the builders: the transport layer (whole
 * datagrams only; a fragment's payload is copied as it is), then IP or ARP, then Ethernet; bytes
 * after the layer-3 packet are written back as link padding. Returns null for a malformed frame.
 */
export function rebuildFrame(d: DecodedFrame): Uint8Array | null {
  if (!d.record.ok || d.eth === undefined) return null;
  const bytes = d.bytes;
  let l3: Serializer;
  if (d.arp !== undefined) {
    l3 = EMPTY_BODY.wrapIn(arp.builderFromRepr(d.arp));
  } else if (d.ipv4 !== undefined || d.ipv6 !== undefined) {
    const inner = transportSerializer(d) ?? new BytesBody(d.upper as Uint8Array);
    l3 =
      d.ipv4 !== undefined ? inner.wrapIn(ipv4.builderFromRepr(d.ipv4)) : inner.wrapIn(ipv6.builderFromRepr(d.ipv6!));
  } else {
    const hl = d.eth.vlan !== undefined ? eth.ETHERNET_HEADER_LEN + eth.VLAN_TAG_LEN : eth.ETHERNET_HEADER_LEN;
    l3 = new BytesBody(bytes.subarray(hl, d.l3End));
  }
  const trailer = bytes.subarray(d.l3End);
  const eb = eth.builderFromRepr(d.eth, Number.POSITIVE_INFINITY);
  let frame: Nested;
  // IEEE 802.3 padding: a 60-byte frame ending in zeroes is what the Ethernet builder itself writes.
  if (bytes.length === eth.ETHERNET_MIN_FRAME_LEN && trailer.length > 0 && allZero(trailer)) {
    frame = l3.wrapIn(eb);
  } else {
    frame = (trailer.length > 0 ? l3.wrapIn(new TrailerBuilder(trailer)) : l3).wrapIn(new UnpaddedEthernet(eb));
  }
  const out = frame.serialize();
  if (out instanceof TooBig) return null;
  return out.toBytes();
}

/** The outcome of `verifyFrame`. */
export type VerifyResult =
  | { kind: "same" }
  | { kind: "malformed"; error: string }
  | { kind: "differs"; at: number; rebuilt: Uint8Array; message: string };

/**
 * Decode `bytes`, re-serialize the frame from the parsed reprs with the builders and byte-compare.
 * `same` when the result is identical; `differs` names the first differing byte.
 */
export function verifyFrame(bytes: Uint8Array, decoded?: DecodedFrame): VerifyResult {
  const d = decoded ?? decodeFrame(bytes);
  if (!d.record.ok) return { kind: "malformed", error: d.record.error ?? "malformed" };
  let rebuilt: Uint8Array | null;
  try {
    rebuilt = rebuildFrame(d);
  } catch (e) {
    // A builder refusing a parsed value (a RangeError) is a difference, not a crash.
    return { kind: "differs", at: 0, rebuilt: new Uint8Array(0), message: `cannot re-serialize: ${String(e)}` };
  }
  if (rebuilt === null) return { kind: "differs", at: 0, rebuilt: new Uint8Array(0), message: "cannot re-serialize" };
  const n = Math.min(rebuilt.length, bytes.length);
  for (let i = 0; i < n; i++) {
    if (rebuilt[i] !== bytes[i]) {
      return {
        kind: "differs",
        at: i,
        rebuilt,
        message: `byte ${i}: re-serialized 0x${hex2(rebuilt[i])}, captured 0x${hex2(bytes[i])}`,
      };
    }
  }
  if (rebuilt.length !== bytes.length) {
    return {
      kind: "differs",
      at: n,
      rebuilt,
      message: `length: re-serialized ${rebuilt.length} bytes, captured ${bytes.length}`,
    };
  }
  return { kind: "same" };
}

function hex2(x: number): string {
  return x.toString(16).padStart(2, "0");
}

// ---- the one-line summary ----

const ICMP4_NAMES: Record<number, string> = {
  0: "echo reply",
  3: "destination unreachable",
  4: "source quench",
  5: "redirect",
  8: "echo request",
  11: "time exceeded",
  12: "parameter problem",
  13: "timestamp request",
  14: "timestamp reply",
};

const ICMP6_NAMES: Record<number, string> = {
  1: "destination unreachable",
  2: "packet too big",
  3: "time exceeded",
  4: "parameter problem",
  128: "echo request",
  129: "echo reply",
  130: "multicast listener query",
  131: "multicast listener report",
  132: "multicast listener done",
  133: "router solicitation",
  134: "router advertisement",
  135: "neighbor solicitation",
  136: "neighbor advertisement",
  137: "redirect",
  143: "multicast listener report v2",
};

/** tcpdump's flag characters, in its order: F S R P . (ACK) U E W (CWR). */
function tcpdumpFlags(flags: number): string {
  const chars = "FSRP.UEW";
  let s = "";
  for (let i = 0; i < 8; i++) if (flags & (1 << i)) s += chars[i];
  return s === "" ? "none" : s;
}

/** TCP options as tcpdump prints them: `mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7`. */
function tcpdumpOptions(b: Uint8Array): string {
  const parts: string[] = [];
  let i = 0;
  while (i < b.length) {
    const kind = b[i];
    if (kind === 0) {
      parts.push("eol");
      break;
    }
    if (kind === 1) {
      parts.push("nop");
      i++;
      continue;
    }
    const olen = b[i + 1];
    if (i + 1 >= b.length || olen < 2 || i + olen > b.length) break;
    parts.push(tcpOption(b, i, olen));
    i += olen;
  }
  return parts.join(",");
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function tcpOption(b: Uint8Array, i: number, olen: number): string {
  switch (b[i]) {
    case 2:
      return `mss ${(b[i + 2] << 8) | b[i + 3]}`;
    case 3:
      return `wscale ${b[i + 2]}`;
    case 4:
      return "sackOK";
    case 5: {
      let s = `sack ${(olen - 2) >> 3} `;
      for (let p = i + 2; p + 8 <= i + olen; p += 8) s += `{${u32(b, p)}:${u32(b, p + 4)}}`;
      return s;
    }
    case 8:
      return `TS val ${u32(b, i + 2)} ecr ${u32(b, i + 6)}`;
    default:
      return `unknown-${b[i]} len ${olen}`;
  }
}

/** Address and port the way tcpdump prints them: `10.0.0.1.80`, `fd00::1.80`. */
function endpoint(addr: string, port: number | undefined): string {
  return port === undefined ? addr : `${addr}.${port}`;
}

/**
 * A tcpdump-style line for a decoded frame, starting with its index:
 * `1 10.77.0.1.40000 > 10.77.0.2.7: Flags [S], seq 1, win 64240, options [mss 1460], length 0`.
 */
export function summarize(d: DecodedFrame): string {
  const r = d.record;
  let s = `${r.frame} `;
  if (r.eth?.vlan !== undefined) s += `vlan ${r.eth.vlan}, `;
  s += body(d).trimEnd();
  if (!r.ok) s += ` [${r.error}]`;
  return s;
}

function body(d: DecodedFrame): string {
  const r = d.record;
  if (r.eth === undefined) return `${d.bytes.length} bytes`;
  if (r.arp !== undefined) {
    const a = r.arp;
    if (a.op === arp.ArpOp.Request) return `ARP, Request who-has ${a.targetIp} tell ${a.senderIp}, length 28`;
    if (a.op === arp.ArpOp.Reply) return `ARP, Reply ${a.senderIp} is-at ${a.senderMac}, length 28`;
    return `ARP, op ${a.op} ${a.senderIp} (${a.senderMac}) > ${a.targetIp} (${a.targetMac}), length 28`;
  }
  const ip = r.ip;
  if (ip === undefined) {
    const t = r.eth.type;
    if (t === eth.EtherType.Arp) return `${r.eth.src} > ${r.eth.dst}, ARP, length ${d.bytes.length}`;
    if (t === eth.EtherType.Ipv4) return `${r.eth.src} > ${r.eth.dst}, IPv4, length ${d.bytes.length}`;
    if (t === eth.EtherType.Ipv6) return `${r.eth.src} > ${r.eth.dst}, IPv6, length ${d.bytes.length}`;
    return `${r.eth.src} > ${r.eth.dst}, ethertype 0x${t.toString(16).padStart(4, "0")}, length ${d.bytes.length}`;
  }
  const sport = r.tcp?.srcPort ?? r.udp?.srcPort;
  const dport = r.tcp?.dstPort ?? r.udp?.dstPort;
  let s = `${endpoint(ip.src, sport)} > ${endpoint(ip.dst, dport)}: `;
  if (d.ipv6 !== undefined) {
    // tcpdump's `srcrt (type=4, segleft=1)` for each routing header (its data: type, segments left).
    for (const e of d.ipv6.exts) {
      if (e.type === IpProto.Ipv6Route && e.data.length >= 4) {
        s += `srcrt (type=${Number.parseInt(e.data.slice(0, 2), 16)}, segleft=${Number.parseInt(e.data.slice(2, 4), 16)}) `;
      }
    }
  }
  if (ip.version === 6 && ip.id !== undefined) {
    const fragLen = d.upper !== undefined ? d.upper.length : 0;
    s += `frag (0x${ip.id.toString(16).padStart(8, "0")}:${ip.fragOffset}|${fragLen}) `;
  }
  if (r.tcp !== undefined) {
    const t = r.tcp;
    const tr = d.tcp as tcp.TcpRepr;
    const plen = d.tcpPayloadLen ?? 0;
    s += `Flags [${tcpdumpFlags(tr.flags)}]`;
    if (plen > 0 || tr.flags & (tcp.TcpFlags.SYN | tcp.TcpFlags.FIN | tcp.TcpFlags.RST)) {
      s += `, seq ${t.seq}`;
      if (plen > 0) s += `:${(t.seq + plen) >>> 0}`;
    }
    if (tr.flags & tcp.TcpFlags.ACK) s += `, ack ${t.ack}`;
    s += `, win ${t.window}`;
    if (tr.flags & tcp.TcpFlags.URG) s += `, urg ${tr.urgent}`;
    if (d.tcpOptions !== undefined && d.tcpOptions.length > 0) s += `, options [${tcpdumpOptions(d.tcpOptions)}]`;
    s += `, length ${plen}`;
  } else if (r.udp !== undefined) {
    s += `UDP, length ${r.udp.length - udp.UDP_HEADER_LEN}`;
  } else if (r.icmp !== undefined) {
    s += icmpText(d);
  } else if (d.igmp !== undefined) {
    s += igmpText(d.igmp, d.upper as Uint8Array);
  } else if (r.ok) {
    s += ip.fragOffset !== 0 || ip.moreFragments ? `ip-proto-${ip.proto}` : `proto ${ip.proto}`;
    s += `, length ${d.upper !== undefined ? d.upper.length : 0}`;
  }
  if (ip.version === 4 && (ip.fragOffset !== 0 || ip.moreFragments)) {
    s += ` (frag ${ip.id}:${d.upper !== undefined ? d.upper.length : 0}@${ip.fragOffset}${ip.moreFragments ? "+" : ""})`;
  }
  return s;
}

function icmpText(d: DecodedFrame): string {
  const c = d.record.icmp as IcmpJson;
  const v4 = c.version === 4;
  const name = (v4 ? ICMP4_NAMES : ICMP6_NAMES)[c.type] ?? `type ${c.type}`;
  let s = v4 ? `ICMP ${name}` : `ICMP6, ${name}`;
  const b = d.upper as Uint8Array;
  const echo = v4 ? c.type === 0 || c.type === 8 : c.type === 128 || c.type === 129;
  if (d.mld !== undefined) s += mldText(d.mld, b);
  if (echo && b.length >= 8) s += `, id ${(b[4] << 8) | b[5]}, seq ${(b[6] << 8) | b[7]}`;
  else if (c.code !== 0) s += `, code ${c.code}`;
  if (d.ndp?.target !== undefined) {
    s += c.type === icmpv6.Icmpv6Type.NeighborSolicitation ? `, who has ${d.ndp.target}` : `, tgt is ${d.ndp.target}`;
  }
  if (v4 && c.type === icmpv4.Icmpv4Type.DestUnreachable && c.code === 4 && b.length >= 8) {
    s += `, mtu ${(b[6] << 8) | b[7]}`;
  }
  if (!v4 && c.type === icmpv6.Icmpv6Type.PacketTooBig && b.length >= 8) s += `, mtu ${u32(b, 4)}`;
  s += `, length ${b.length}`;
  return s;
}

/** tcpdump's relative time: `1m4s`, `2h`. */
function relts(secs: number): string {
  if (secs === 0) return "0s";
  const units: [number, string][] = [
    [86400, "d"],
    [3600, "h"],
    [60, "m"],
    [1, "s"],
  ];
  let s = "";
  for (const [n, u] of units) {
    if (secs >= n) {
      s += `${Math.floor(secs / n)}${u}`;
      secs %= n;
    }
  }
  return s;
}

/**
 * An IGMP message as tcpdump prints it: `igmp v2 report 224.1.2.3`, `igmp leave 224.1.2.3`,
 * `igmp query v2 [gaddr 224.1.2.3]`, `igmp query v3 [max resp time 2.0s]`,
 * `igmp v3 report, 2 group record(s)`. `b` is the whole message.
 */
function igmpText(m: igmp.IgmpRepr, b: Uint8Array): string {
  const len = b.length;
  const lenNote = len !== igmp.IGMP_LEN ? ` [len ${len}]` : "";
  switch (m.type) {
    case igmp.IgmpType.MembershipQuery: {
      let s = "igmp query";
      const mrc = m.maxRespTime;
      const g = m.group !== "0.0.0.0" ? m.group : null;
      if (m.sources !== undefined) {
        // RFC 3376 4.1.1: the Max Resp Code in tenths of a second; 100 (10 s) is the default.
        s += " v3";
        const mrt = igmp.igmpv3Code(mrc);
        if (mrc !== 100)
          s += ` [max resp time ${mrt < 600 ? `${(mrt / 10).toFixed(1)}s` : relts(Math.floor(mrt / 10))}]`;
        if (g !== null) s += ` [gaddr ${g}${m.sources.length > 0 ? `, ${m.sources.length} source(s)` : ""}]`;
        return s;
      }
      // RFC 2236 4: a Max Resp Time of zero is an IGMPv1 query.
      if (mrc !== 0) s += mrc !== 100 ? ` v2 [max resp time ${mrc}]` : " v2";
      else s += " v1";
      if (g !== null) s += ` [gaddr ${g}]`;
      return s + lenNote;
    }
    case igmp.IgmpType.V1MembershipReport:
      return `igmp v1 report ${m.group}${lenNote}`;
    case igmp.IgmpType.V2MembershipReport:
      return `igmp v2 report ${m.group}`;
    case igmp.IgmpType.LeaveGroup:
      return `igmp leave ${m.group}`;
    case igmp.IgmpType.V3MembershipReport:
      // RFC 3376 4.2: Number of Group Records at bytes 6-7 (inside the 8 bytes parsing checked).
      return `igmp v3 report, ${(b[6] << 8) | b[7]} group record(s)`;
    default:
      return `igmp-${m.type}`;
  }
}

/** What tcpdump prints after an MLD message's name (`ICMP6, multicast listener report v2`). */
function mldText(m: mld.MldRepr, b: Uint8Array): string {
  if (m.records !== undefined) return `, ${m.records.length} group record(s)`;
  if (m.sources !== undefined) {
    const n = m.sources.length;
    return ` v2 [gaddr ${m.group}${n > 0 ? `, ${n} source(s)` : ""}]`;
  }
  // RFC 2710 3.4 / 3.6: MLDv1 Maximum Response Delay (ms) and Multicast Address.
  return ` max resp delay: ${(b[4] << 8) | b[5]} addr: ${m.group}`;
}

/** The tcpdump-style line of any frame's bytes (DESIGN.md's `pretty`; a fuzz target: never throws). */
export function pretty(bytes: Uint8Array, frame = 1): string {
  return summarize(decodeFrame(bytes, frame));
}
