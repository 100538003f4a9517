/**
 * IPv4: RFC 791 (header, options, fragmentation fields), RFC 1122 section 3.2.1 (receive checks),
 * RFC 2474 / RFC 3168 (DSCP and ECN in the old TOS byte), RFC 6864 (the id field), RFC 1624
 * (incremental checksum update when forwarding), RFC 1812 section 5.3.1 (TTL decrement).
 *
 * Options are validated (walked: EOL, NOP, and type-length-value options whose length fits) and
 * kept as bytes; interpreting them is left to the IP layer.
 *
 * Parse errors are `Ipv4ParseError`s: besides the reason they say whether the header error warrants
 * an ICMP Parameter Problem (RFC 792, RFC 1122 3.2.2.5) and with which pointer, the way
 * netstack3's `IpParseError` does. The IP layer still applies RFC 1122 3.2.2's rules on when
 * never to send an ICMP error (broadcast/multicast destinations, non-initial fragments, ICMP errors).
 */

import { formatV4, type Ipv4Addr, parseV4, v4At, v4Put } from "../ip/addr.ts";
import type { PacketBuilder } from "../packet/serialize.ts";
import { checksum, finish, fold, sumHeader20, update16, verify } from "./checksum.ts";
import { ParseError } from "./errors.ts";

/** Length of a header without options. */
export const IPV4_HEADER_LEN = 20;
/** Longest header (IHL 15). */
export const IPV4_MAX_HEADER_LEN = 60;
/** Longest packet (the total length field is 16 bits). */
export const IPV4_MAX_PACKET_LEN = 0xffff;
/** RFC 791: every IPv4 module must forward a 68-byte datagram without fragmenting it. */
export const IPV4_MIN_MTU = 68;
/** RFC 1122 3.3.3: every host must accept a datagram of 576 bytes (reassembled). */
export const IPV4_MIN_REASSEMBLY = 576;
/** Default TTL (RFC 1700 / IANA recommends 64). */
export const IPV4_DEFAULT_TTL = 64;

/** IPv4 option types (IANA "IP Option Numbers"; copy bit, class and number in one byte). */
export const Ipv4Option = {
  EndOfList: 0,
  Nop: 1,
  RecordRoute: 7,
  Timestamp: 68,
  Security: 130,
  LooseSourceRoute: 131,
  StreamId: 136,
  StrictSourceRoute: 137,
  RouterAlert: 148,
} as const;

const VER_IHL = 0;
const TOS = 1;
const TOTAL_LEN = 2;
const IDENT = 4;
const FLAGS_FRAG = 6;
const TTL = 8;
const PROTO = 9;
const CHECKSUM = 10;
const SRC = 12;
const DST = 16;

/** The DF and MF bits of the flags/fragment-offset word (RFC 791 3.1); the top bit is reserved. */
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const FRAG_MASK = 0x1fff;

/** ICMPv4 type Parameter Problem and code "pointer indicates the error" (RFC 792). */
const ICMP_PARAM_PROBLEM = 12;
const ICMP_PARAM_POINTER = 0;

/** What an ICMP error about a rejected packet should say. */
export interface Ipv4IcmpAction {
  /** ICMPv4 type (12, Parameter Problem, for header errors). */
  readonly type: number;
  readonly code: number;
  /** Offset of the offending byte from the start of the IP header. */
  readonly pointer: number;
}

/**
 * Why an IPv4 packet was rejected. `icmp` is null for a silent drop (truncated packets, bad
 * checksums, wrong version: RFC 1122 3.2.1.1/3.2.1.2 say to discard silently), or the Parameter
 * Problem to send back (RFC 1122 3.2.2.5) with the pointer at the offending byte.
 */
export class Ipv4ParseError extends ParseError {
  constructor(
    reason: string,
    readonly icmp: Ipv4IcmpAction | null,
  ) {
    super("ipv4", reason);
  }
}

const E_SHORT = new Ipv4ParseError("too-short", null);
const E_VERSION = new Ipv4ParseError("bad-version", null);
const E_IHL = new Ipv4ParseError("bad-header-length", null);
const E_LENGTH = new Ipv4ParseError("bad-length", null);
const E_CHECKSUM = new Ipv4ParseError("bad-checksum", null);

/** One preallocated "bad-option" error per possible pointer (options live at header bytes 20..59). */
const E_OPTION: Ipv4ParseError[] = [];
for (let p = 0; p < IPV4_MAX_HEADER_LEN; p++) {
  E_OPTION.push(new Ipv4ParseError("bad-option", { type: ICMP_PARAM_PROBLEM, code: ICMP_PARAM_POINTER, pointer: p }));
}

/**
 * Walk the options at `b[off, off + len)` (RFC 791 3.1, "Options"). Returns -1 when they are
 * well-formed, or the offset (from `off`) of the option that is not: a length byte missing,
 * below 2 or running past the header.
 */
export function checkOptions(b: Uint8Array, off: number, len: number): number {
  let i = 0;
  while (i < len) {
    const t = b[off + i];
    // RFC 791: End of Option List ends the options; what follows it is padding.
    if (t === Ipv4Option.EndOfList) return -1;
    if (t === Ipv4Option.Nop) {
      i++;
      continue;
    }
    // RFC 791: other options are type, length (counting type and length), data.
    if (i + 1 >= len) return i;
    const l = b[off + i + 1];
    if (l < 2 || i + l > len) return i;
    i += l;
  }
  return -1;
}

const EMPTY = new Uint8Array(0);

/**
 * An IPv4 packet in a byte buffer. After a successful parse `len` is the total length field:
 * link-layer padding beyond it is not part of the packet.
 */
export class Ipv4View {
  bytes: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  /** Parse the packet at `bytes[off, off + len)`. Allocates the view; `parseFrom` reuses one. */
  static parse(bytes: Uint8Array, off: number, len: number): Ipv4View | Ipv4ParseError {
    const v = new Ipv4View();
    const e = v.parseFrom(bytes, off, len);
    return e === null ? v : e;
  }

  /** Re-point this view at a packet and validate it. Returns null or the error; never throws. */
  parseFrom(bytes: Uint8Array, off: number, len: number): Ipv4ParseError | null {
    if (off < 0 || len < IPV4_HEADER_LEN || off + len > bytes.length) return E_SHORT;
    const vi = bytes[off + VER_IHL];
    // RFC 1122 3.2.1.1: a datagram whose version number is not 4 must be silently discarded.
    if (vi >>> 4 !== 4) return E_VERSION;
    const hl = (vi & 0x0f) * 4;
    if (hl < IPV4_HEADER_LEN) return E_IHL;
    if (hl > len) return E_SHORT;
    const total = (bytes[off + TOTAL_LEN] << 8) | bytes[off + TOTAL_LEN + 1];
    // RFC 791: the total length counts header and data; RFC 1122 3.2.1.1 (and Linux's ip_rcv)
    // drop datagrams whose length is inconsistent with the header or the bytes received.
    if (total < hl) return E_LENGTH;
    if (total > len) return E_SHORT;
    // RFC 1122 3.2.1.2: a datagram with a bad header checksum must be silently discarded.
    if (hl === IPV4_HEADER_LEN) {
      // The usual header, without options: its ten 16-bit words summed straight, no loop.
      if (fold(sumHeader20(bytes, off)) !== 0xffff) return E_CHECKSUM;
    } else {
      if (!verify(bytes, off, hl)) return E_CHECKSUM;
      const bad = checkOptions(bytes, off + IPV4_HEADER_LEN, hl - IPV4_HEADER_LEN);
      // RFC 1122 3.2.2.5: a malformed option is answered with Parameter Problem, code 0, pointing
      // at the option (as Linux's ip_options_compile does).
      if (bad >= 0) return E_OPTION[IPV4_HEADER_LEN + bad];
    }
    this.bytes = bytes;
    this.off = off;
    this.len = total;
    return null;
  }

  get version(): number {
    return this.bytes[this.off + VER_IHL] >>> 4;
  }
  /** Header length in 32-bit words. */
  get ihl(): number {
    return this.bytes[this.off + VER_IHL] & 0x0f;
  }
  /** Header length in bytes. */
  get headerLen(): number {
    return (this.bytes[this.off + VER_IHL] & 0x0f) * 4;
  }
  /** Differentiated services code point (RFC 2474): the top 6 bits of the old TOS byte. */
  get dscp(): number {
    return this.bytes[this.off + TOS] >>> 2;
  }
  /** ECN field (RFC 3168): the low 2 bits of the old TOS byte. */
  get ecn(): number {
    return this.bytes[this.off + TOS] & 3;
  }
  get totalLength(): number {
    return (this.bytes[this.off + TOTAL_LEN] << 8) | this.bytes[this.off + TOTAL_LEN + 1];
  }
  get id(): number {
    return (this.bytes[this.off + IDENT] << 8) | this.bytes[this.off + IDENT + 1];
  }
  /** Don't Fragment. */
  get df(): boolean {
    return (this.bytes[this.off + FLAGS_FRAG] & (FLAG_DF >>> 8)) !== 0;
  }
  /** More Fragments. */
  get mf(): boolean {
    return (this.bytes[this.off + FLAGS_FRAG] & (FLAG_MF >>> 8)) !== 0;
  }
  /** Fragment offset in bytes (the field counts 8-byte units). */
  get fragOffset(): number {
    const b = this.bytes;
    const o = this.off + FLAGS_FRAG;
    return (((b[o] << 8) | b[o + 1]) & FRAG_MASK) * 8;
  }
  /** True when this packet is a fragment (MF set or a non-zero offset). */
  get isFragment(): boolean {
    const b = this.bytes;
    const o = this.off + FLAGS_FRAG;
    return (((b[o] << 8) | b[o + 1]) & (FLAG_MF | FRAG_MASK)) !== 0;
  }
  get ttl(): number {
    return this.bytes[this.off + TTL];
  }
  /** The upper-layer protocol (`IpProto`). */
  get proto(): number {
    return this.bytes[this.off + PROTO];
  }
  get checksum(): number {
    return (this.bytes[this.off + CHECKSUM] << 8) | this.bytes[this.off + CHECKSUM + 1];
  }
  get src(): Ipv4Addr {
    return v4At(this.bytes, this.off + SRC);
  }
  get dst(): Ipv4Addr {
    return v4At(this.bytes, this.off + DST);
  }
  /** Offset of the options in `bytes`. */
  get optionsOff(): number {
    return this.off + IPV4_HEADER_LEN;
  }
  /** Length of the options (padding included): `headerLen - 20`. */
  get optionsLen(): number {
    return this.headerLen - IPV4_HEADER_LEN;
  }
  /** The options bytes, borrowed. */
  options(): Uint8Array {
    return this.bytes.subarray(this.off + IPV4_HEADER_LEN, this.off + this.headerLen);
  }
  /** Offset of the payload in `bytes`. */
  get payloadOff(): number {
    return this.off + this.headerLen;
  }
  /** Payload length: total length minus header length. */
  get payloadLen(): number {
    return this.len - this.headerLen;
  }
  /** The payload, borrowed (link padding excluded). */
  payload(): Uint8Array {
    return this.bytes.subarray(this.off + this.headerLen, this.off + this.len);
  }
}

/** Writes an IPv4 header: total length = header + body, and the header checksum. */
export class Ipv4Builder implements PacketBuilder {
  readonly footerLen = 0;
  readonly minBodyLen = 0;

  /** DSCP (RFC 2474), 6 bits. */
  dscp = 0;
  /** ECN (RFC 3168), 2 bits. */
  ecn = 0;
  /** Identification (RFC 6864: unique per src/dst/proto while fragments may live; any value if atomic). */
  id = 0;
  /** Don't Fragment. */
  df = false;
  /** More Fragments. */
  mf = false;
  /** Fragment offset in bytes; must be a multiple of 8. */
  fragOffset = 0;
  /** Option bytes (at most 40); padded with End-of-Option-List zeroes to a multiple of 4. */
  options: Uint8Array = EMPTY;
  /** Largest packet (header + body) this layer may emit. */
  mtu = IPV4_MAX_PACKET_LEN;

  constructor(
    public src: Ipv4Addr,
    public dst: Ipv4Addr,
    public proto: number,
    public ttl = IPV4_DEFAULT_TTL,
  ) {}

  get headerLen(): number {
    return IPV4_HEADER_LEN + ((this.options.length + 3) & ~3);
  }
  get maxBodyLen(): number {
    return Math.min(this.mtu, IPV4_MAX_PACKET_LEN) - this.headerLen;
  }

  serialize(bytes: Uint8Array, off: number, bodyLen: number): void {
    const hl = this.headerLen;
    if (hl > IPV4_MAX_HEADER_LEN) throw new RangeError(`IPv4 options too long: ${this.options.length} bytes`);
    if ((this.fragOffset & 7) !== 0 || this.fragOffset < 0 || this.fragOffset > FRAG_MASK * 8) {
      throw new RangeError(`IPv4 fragment offset ${this.fragOffset} is not a multiple of 8 below 65536`);
    }
    const total = hl + bodyLen;
    bytes[off + VER_IHL] = 0x40 | (hl >>> 2);
    bytes[off + TOS] = ((this.dscp & 0x3f) << 2) | (this.ecn & 3);
    bytes[off + TOTAL_LEN] = (total >>> 8) & 0xff;
    bytes[off + TOTAL_LEN + 1] = total & 0xff;
    bytes[off + IDENT] = (this.id >>> 8) & 0xff;
    bytes[off + IDENT + 1] = this.id & 0xff;
    // RFC 791 3.1: the reserved flag bit must be zero.
    const ff = (this.df ? FLAG_DF : 0) | (this.mf ? FLAG_MF : 0) | (this.fragOffset >>> 3);
    bytes[off + FLAGS_FRAG] = ff >>> 8;
    bytes[off + FLAGS_FRAG + 1] = ff & 0xff;
    bytes[off + TTL] = this.ttl & 0xff;
    bytes[off + PROTO] = this.proto & 0xff;
    bytes[off + CHECKSUM] = 0;
    bytes[off + CHECKSUM + 1] = 0;
    v4Put(bytes, off + SRC, this.src);
    v4Put(bytes, off + DST, this.dst);
    const opts = this.options;
    if (opts.length > 0) {
      bytes.set(opts, off + IPV4_HEADER_LEN);
      // RFC 791: the header is padded to a 32-bit boundary with zeroes (End of Option List).
      bytes.fill(0, off + IPV4_HEADER_LEN + opts.length, off + hl);
    }
    const c = hl === IPV4_HEADER_LEN ? finish(sumHeader20(bytes, off)) : checksum(bytes, off, hl);
    bytes[off + CHECKSUM] = c >>> 8;
    bytes[off + CHECKSUM + 1] = c & 0xff;
  }
}

/**
 * Forwarding (RFC 1812 5.3.1): decrement the TTL of the IPv4 header at `bytes[off]` in place and
 * update its checksum incrementally (RFC 1624 eqn. 3). Returns the new TTL. A result of 0 means the
 * packet must not be forwarded (send Time Exceeded); a packet that arrived with TTL 0 is left as it
 * is and 0 returned. The header must have been parsed (checked) first.
 */
export function decrementTtlInPlace(bytes: Uint8Array, off: number): number {
  const ttl = bytes[off + TTL];
  if (ttl === 0) return 0;
  const proto = bytes[off + PROTO];
  const old = (ttl << 8) | proto;
  const c = update16((bytes[off + CHECKSUM] << 8) | bytes[off + CHECKSUM + 1], old, old - 0x100);
  bytes[off + TTL] = ttl - 1;
  bytes[off + CHECKSUM] = c >>> 8;
  bytes[off + CHECKSUM + 1] = c & 0xff;
  return ttl - 1;
}

/** Readable form of an IPv4 header. */
export interface Ipv4Repr {
  /** Dotted quad. */
  src: string;
  dst: string;
  proto: number;
  ttl: number;
  dscp: number;
  ecn: number;
  id: number;
  df: boolean;
  /** More Fragments. */
  mf: boolean;
  /** Fragment offset in bytes. */
  fragOffset: number;
  /** Payload length (total length minus header length). */
  payloadLen: number;
  /** Option bytes including padding, when the header has any. */
  options?: number[];
}

/** The repr of a parsed packet. */
export function toRepr(v: Ipv4View): Ipv4Repr {
  const r: Ipv4Repr = {
    src: formatV4(v.src),
    dst: formatV4(v.dst),
    proto: v.proto,
    ttl: v.ttl,
    dscp: v.dscp,
    ecn: v.ecn,
    id: v.id,
    df: v.df,
    mf: v.mf,
    fragOffset: v.fragOffset,
    payloadLen: v.payloadLen,
  };
  if (v.optionsLen > 0) r.options = Array.from(v.options());
  return r;
}

/** A builder that re-serializes `r` (the payload is the body). Throws `RangeError` on bad address text. */
export function builderFromRepr(r: Ipv4Repr): Ipv4Builder {
  const src = parseV4(r.src);
  const dst = parseV4(r.dst);
  if (src === null || dst === null) throw new RangeError(`bad address in ${JSON.stringify(r)}`);
  const b = new Ipv4Builder(src, dst, r.proto, r.ttl);
  b.dscp = r.dscp;
  b.ecn = r.ecn;
  b.id = r.id;
  b.df = r.df;
  b.mf = r.mf;
  b.fragOffset = r.fragOffset;
  if (r.options !== undefined) b.options = Uint8Array.from(r.options);
  return b;
}
