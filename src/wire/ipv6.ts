/**
 * IPv6: RFC 8200 (header, extension headers, fragment header, hop limit), RFC 2675 (jumbograms:
 * not supported), RFC 4443 section 3.4 (parameter problem pointers carried by parse errors).
 *
 * `Ipv6View.parse` checks the fixed header and walks the extension-header chain (ipv6-ext.ts) once;
 * the view then holds the upper-layer protocol and range and the fragment header's fields.
 * All offsets the view reports (`payloadOff`, `upperOff`, `fragHeaderOff`, `fragmentableOff`) are
 * absolute indexes into `bytes`; ICMP pointers are relative to the IPv6 header.
 */
import { formatV6, type Ipv6Addr, parseV6, v6At, v6Zero } from "../ip/addr.ts";
import type { PacketBuilder } from "../packet/serialize.ts";
import { IpProto } from "./ipproto.ts";
import {
  extHeaderLen,
  IPV6_FRAG_HEADER_LEN,
  IPV6_MAX_EXT_HEADERS,
  type Ipv6ExtChainOut,
  type Ipv6ExtHeader,
  type Ipv6FragFields,
  Ipv6ParseError,
  walkExtChain,
  walkHopByHop,
  writeExtHeader,
  writeFragHeader,
} from "./ipv6-ext.ts";

export {
  IPV6_MAX_EXT_HEADERS,
  type Ipv6ExtHeader,
  type Ipv6FragFields,
  type Ipv6IcmpError,
  Ipv6ParseError,
} from "./ipv6-ext.ts";

/** Length of the fixed header. */
export const IPV6_HEADER_LEN = 40;
/** RFC 8200 section 5: the minimum link MTU. */
export const IPV6_MIN_MTU = 1280;

const OFF_VTF = 0;
const OFF_PAYLOAD_LEN = 4;
const OFF_NEXT = 6;
const OFF_HOP = 7;
const OFF_SRC = 8;
const OFF_DST = 24;

const E_SHORT = new Ipv6ParseError("too-short", null);
const E_VERSION = new Ipv6ParseError("bad-version", null);
const E_LENGTH = new Ipv6ParseError("bad-length", null);
const E_JUMBO = new Ipv6ParseError("jumbo-unsupported", null);

const EMPTY = new Uint8Array(0);

/** A parsed IPv6 packet: fixed header getters plus the result of the extension-header walk. */
export class Ipv6View implements Ipv6ExtChainOut {
  bytes: Uint8Array = EMPTY;
  /** Offset of the IPv6 header. */
  off = 0;
  /** 40 + payload length (link-layer padding beyond it excluded). */
  len = 0;

  proto = 59;
  upperOff = 0;
  protoPointer = OFF_NEXT;
  extCount = 0;
  hasFrag = false;
  fragId = 0;
  fragOffset = 0;
  moreFragments = false;
  fragHeaderOff = -1;
  fragNextFieldOff = -1;
  fragmentableOff = -1;
  routerAlert = -1;

  /** Parse the packet at `bytes[off, off + len)`; `len` may include link padding. */
  static parse(bytes: Uint8Array, off: number, len: number, maxExt = IPV6_MAX_EXT_HEADERS): Ipv6View | Ipv6ParseError {
    const v = new Ipv6View();
    return v.parseFrom(bytes, off, len, maxExt) ?? v;
  }

  /** Re-point this view at a new packet (no allocation on success): the fixed header and the whole chain. */
  parseFrom(bytes: Uint8Array, off: number, len: number, maxExt = IPV6_MAX_EXT_HEADERS): Ipv6ParseError | null {
    const e = this.fixedHeader(bytes, off, len);
    if (e !== null) return e;
    return walkExtChain(bytes, off, off + this.len, this, maxExt);
  }

  /**
   * Re-point this view at a new packet and make only the checks every node makes before it knows
   * whether the packet is its own (RFC 8200 4): the fixed header, and a Hop-by-Hop header that
   * comes first. A router forwards what passes; the destination then calls `parseChain`. Until
   * then the chain fields (`proto`, `upperOff`, the fragment fields) are those of "no extension
   * headers" and must not be read.
   */
  parseHeader(bytes: Uint8Array, off: number, len: number): Ipv6ParseError | null {
    const e = this.fixedHeader(bytes, off, len);
    if (e !== null) return e;
    return walkHopByHop(bytes, off, off + this.len, this);
  }

  /**
   * After `parseHeader`, at the node the destination names: walk the extension-header chain with
   * the destination's rules (RFC 8200 4.2 unrecognized options, 4.4 Segments Left, 4.5 fragment
   * checks). Same result as `parseFrom`.
   */
  parseChain(maxExt = IPV6_MAX_EXT_HEADERS): Ipv6ParseError | null {
    return walkExtChain(this.bytes, this.off, this.off + this.len, this, maxExt);
  }

  /**
   * After `parseHeader`, for a packet in transit: walk the chain with the structural checks only
   * (no destination rules), to find the upper layer and the fragment header an ICMP error about
   * the packet must know of (RFC 4443 2.4). On an error the fields hold what was walked so far.
   */
  parseChainInTransit(maxExt = IPV6_MAX_EXT_HEADERS): Ipv6ParseError | null {
    return walkExtChain(this.bytes, this.off, this.off + this.len, this, maxExt, false);
  }

  private fixedHeader(bytes: Uint8Array, off: number, len: number): Ipv6ParseError | null {
    if (off < 0 || len < IPV6_HEADER_LEN || off + len > bytes.length) return E_SHORT;
    if (bytes[off + OFF_VTF] >> 4 !== 6) return E_VERSION;
    const plen = (bytes[off + OFF_PAYLOAD_LEN] << 8) | bytes[off + OFF_PAYLOAD_LEN + 1];
    // RFC 2675: payload length 0 with a hop-by-hop header announces a jumbogram; not supported.
    if (plen === 0 && bytes[off + OFF_NEXT] === IpProto.HopByHop) return E_JUMBO;
    if (IPV6_HEADER_LEN + plen > len) return E_LENGTH;
    this.bytes = bytes;
    this.off = off;
    this.len = IPV6_HEADER_LEN + plen;
    return null;
  }

  get version(): number {
    return this.bytes[this.off] >> 4;
  }
  get trafficClass(): number {
    const b = this.bytes;
    const o = this.off;
    return ((b[o] & 0x0f) << 4) | (b[o + 1] >> 4);
  }
  get flowLabel(): number {
    const b = this.bytes;
    const o = this.off;
    return ((b[o + 1] & 0x0f) << 16) | (b[o + 2] << 8) | b[o + 3];
  }
  get payloadLength(): number {
    const b = this.bytes;
    const o = this.off + OFF_PAYLOAD_LEN;
    return (b[o] << 8) | b[o + 1];
  }
  /** The fixed header's Next Header (the first extension header, or the upper layer). */
  get nextHeader(): number {
    return this.bytes[this.off + OFF_NEXT];
  }
  get hopLimit(): number {
    return this.bytes[this.off + OFF_HOP];
  }
  /** Source address, borrowed from the packet. */
  get src(): Ipv6Addr {
    return v6At(this.bytes, this.off + OFF_SRC);
  }
  /** Destination address, borrowed from the packet. */
  get dst(): Ipv6Addr {
    return v6At(this.bytes, this.off + OFF_DST);
  }
  /** Offset of the payload (the first extension header or the upper layer). */
  get payloadOff(): number {
    return this.off + IPV6_HEADER_LEN;
  }
  get payloadLen(): number {
    return this.len - IPV6_HEADER_LEN;
  }
  /** Length of the upper-layer range `[upperOff, off + len)`. */
  get upperLen(): number {
    return this.off + this.len - this.upperOff;
  }
  /** Bytes of extension headers before `upperOff`. */
  get extLen(): number {
    return this.upperOff - this.off - IPV6_HEADER_LEN;
  }
  /** The upper-layer bytes (a subarray, no copy). */
  upper(): Uint8Array {
    return this.bytes.subarray(this.upperOff, this.off + this.len);
  }
  /** Whole payload after the fixed header (a subarray). */
  payload(): Uint8Array {
    return this.bytes.subarray(this.off + IPV6_HEADER_LEN, this.off + this.len);
  }
}

/**
 * Decrement the hop limit of the IPv6 packet at `bytes[off]` for forwarding (IPv6 has no header
 * checksum to update). Returns the new hop limit; 0 means the packet must not be forwarded
 * (RFC 8200 section 3, RFC 4443 3.3 time exceeded). A hop limit already 0 stays 0.
 */
export function decrementHopLimitInPlace(bytes: Uint8Array, off: number): number {
  const h = bytes[off + OFF_HOP];
  if (h === 0) return 0;
  bytes[off + OFF_HOP] = h - 1;
  return h - 1;
}

/** Optional fields of an `Ipv6Builder`. */
export interface Ipv6BuilderInit {
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  exts?: Ipv6ExtHeader[];
  frag?: Ipv6FragFields | null;
  mtu?: number;
}

/**
 * Writes an IPv6 header, then `exts` in order, then the fragment header when `frag` is set, each
 * Next Header naming the following one and the last naming `nextHeader` (the upper layer).
 */
export class Ipv6Builder implements PacketBuilder {
  src: Ipv6Addr;
  dst: Ipv6Addr;
  /** The upper-layer protocol, after any extension headers. */
  nextHeader: number;
  hopLimit: number;
  trafficClass: number;
  flowLabel: number;
  /** Extension headers written after the fixed header. */
  exts: Ipv6ExtHeader[];
  /** A fragment header written after `exts`. */
  frag: Ipv6FragFields | null;
  /** Link MTU: the whole packet (header, extension headers, body) must fit. */
  mtu: number;
  readonly footerLen = 0;
  readonly minBodyLen = 0;

  constructor(src: Ipv6Addr, dst: Ipv6Addr, nextHeader: number, init: Ipv6BuilderInit = {}) {
    this.src = src;
    this.dst = dst;
    this.nextHeader = nextHeader;
    this.hopLimit = init.hopLimit ?? 64;
    this.trafficClass = init.trafficClass ?? 0;
    this.flowLabel = init.flowLabel ?? 0;
    this.exts = init.exts ?? [];
    this.frag = init.frag ?? null;
    this.mtu = init.mtu ?? Number.POSITIVE_INFINITY;
  }

  /** Bytes of extension headers (including the fragment header). */
  get extLen(): number {
    let n = this.frag !== null ? IPV6_FRAG_HEADER_LEN : 0;
    for (let i = 0; i < this.exts.length; i++) n += extHeaderLen(this.exts[i]);
    return n;
  }
  get headerLen(): number {
    return IPV6_HEADER_LEN + this.extLen;
  }
  /** The smaller of what the MTU leaves and what the 16-bit payload length can say. */
  get maxBodyLen(): number {
    const ext = this.extLen;
    return Math.min(this.mtu - IPV6_HEADER_LEN - ext, 0xffff - ext);
  }

  serialize(b: Uint8Array, off: number, bodyLen: number): void {
    const exts = this.exts;
    const firstNext =
      exts.length > 0 ? exts[0].type : this.frag !== null ? (IpProto.Ipv6Frag as number) : this.nextHeader;
    let p = off + IPV6_HEADER_LEN;
    for (let i = 0; i < exts.length; i++) {
      const next =
        i + 1 < exts.length ? exts[i + 1].type : this.frag !== null ? (IpProto.Ipv6Frag as number) : this.nextHeader;
      p += writeExtHeader(b, p, exts[i], next);
    }
    if (this.frag !== null) {
      writeFragHeader(b, p, this.nextHeader, this.frag);
      p += IPV6_FRAG_HEADER_LEN;
    }
    const plen = p - off - IPV6_HEADER_LEN + bodyLen;
    const tc = this.trafficClass & 0xff;
    const fl = this.flowLabel & 0xfffff;
    b[off] = 0x60 | (tc >> 4);
    b[off + 1] = ((tc & 0x0f) << 4) | (fl >> 16);
    b[off + 2] = (fl >> 8) & 0xff;
    b[off + 3] = fl & 0xff;
    b[off + 4] = plen >> 8;
    b[off + 5] = plen & 0xff;
    b[off + OFF_NEXT] = firstNext;
    b[off + OFF_HOP] = this.hopLimit;
    b.set(this.src, off + OFF_SRC);
    b.set(this.dst, off + OFF_DST);
  }
}

/** The readable form of an IPv6 packet's headers. */
export interface Ipv6Repr {
  trafficClass: number;
  flowLabel: number;
  hopLimit: number;
  /** RFC 5952 text. */
  src: string;
  dst: string;
  /** The upper-layer protocol after the extension-header chain. */
  proto: number;
  /** Extension headers in order: type and the hex of the bytes after the first two. */
  exts: { type: number; data: string }[];
  /** The fragment header's fields, when there is one (also listed in `exts`). */
  frag?: Ipv6FragFields;
  payloadLength: number;
}

function hex(b: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
  return s;
}

function unhex(s: string): Uint8Array {
  const out = new Uint8Array(s.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The repr of a parsed packet. */
export function toRepr(v: Ipv6View): Ipv6Repr {
  const b = v.bytes;
  const exts: { type: number; data: string }[] = [];
  let type = v.nextHeader;
  let p = v.payloadOff;
  while (p < v.upperOff) {
    const hlen = type === IpProto.Ipv6Frag ? IPV6_FRAG_HEADER_LEN : (b[p + 1] + 1) * 8;
    exts.push({ type, data: hex(b, p + 2, p + hlen) });
    type = b[p];
    p += hlen;
  }
  const r: Ipv6Repr = {
    trafficClass: v.trafficClass,
    flowLabel: v.flowLabel,
    hopLimit: v.hopLimit,
    src: formatV6(v.src),
    dst: formatV6(v.dst),
    proto: v.proto,
    exts,
    payloadLength: v.payloadLength,
  };
  if (v.hasFrag) r.frag = { id: v.fragId, offset: v.fragOffset, more: v.moreFragments };
  return r;
}

/** A builder that re-serializes `r` around the upper-layer bytes (`view.upper()`). */
export function builderFromRepr(r: Ipv6Repr): Ipv6Builder {
  return new Ipv6Builder(parseV6(r.src) ?? v6Zero(), parseV6(r.dst) ?? v6Zero(), r.proto, {
    hopLimit: r.hopLimit,
    trafficClass: r.trafficClass,
    flowLabel: r.flowLabel,
    exts: r.exts.map((e) => ({ type: e.type, data: unhex(e.data) })),
  });
}
