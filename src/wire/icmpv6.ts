/**
 * ICMPv6: RFC 4443 (messages, checksum over the RFC 8200 8.1 pseudo-header, error quoting limits),
 * with the type numbers of RFC 4861 (NDP, see ndp.ts), RFC 2710 and RFC 3810 (MLD).
 *
 * `Icmpv6View.parse` verifies the checksum with the pseudo-header (the caller passes the source and
 * destination addresses, or the pseudo-header sum from `pseudoV6`). Every message is at least 8
 * bytes (type, code, checksum and the 4-byte field every defined message has), so the 4-byte field
 * getters are always in bounds. Error messages (type < 128) expose the quoted packet range.
 */
import { formatV6 } from "../ip/addr.ts";
import type { PacketBuilder } from "../packet/serialize.ts";
import { finish, fold, pseudoV6, sumBytes } from "./checksum.ts";
import { type ParseError, parseError } from "./errors.ts";
import { IpProto } from "./ipproto.ts";

/** ICMPv6 message types (IANA "ICMPv6 Parameters"). An open set: unknown types pass through. */
export const Icmpv6Type = {
  DestUnreachable: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  ParamProblem: 4,
  EchoRequest: 128,
  EchoReply: 129,
  MldQuery: 130,
  MldReport: 131,
  MldDone: 132,
  RouterSolicitation: 133,
  RouterAdvertisement: 134,
  NeighborSolicitation: 135,
  NeighborAdvertisement: 136,
  Redirect: 137,
  Mldv2Report: 143,
} as const;

/** Destination unreachable codes (RFC 4443 3.1). */
export const Icmpv6DestUnreachableCode = {
  NoRoute: 0,
  AdminProhibited: 1,
  BeyondScope: 2,
  AddressUnreachable: 3,
  PortUnreachable: 4,
  SourcePolicyFailed: 5,
  RejectRoute: 6,
} as const;

/** Time exceeded codes (RFC 4443 3.3). */
export const Icmpv6TimeExceededCode = {
  HopLimitExceeded: 0,
  ReassemblyTimeExceeded: 1,
} as const;

/** Parameter problem codes (RFC 4443 3.4, RFC 7112). */
export const Icmpv6ParamProblemCode = {
  ErroneousHeaderField: 0,
  UnrecognizedNextHeader: 1,
  UnrecognizedOption: 2,
  IncompleteHeaderChain: 3,
} as const;

/** Header length: type, code, checksum and the 4-byte field. */
export const ICMPV6_HEADER_LEN = 8;
/**
 * RFC 4443 2.4 (c): an error message must not exceed the minimum IPv6 MTU (1280); with a 40-byte
 * IPv6 header and no extension headers this is the most of the invoking packet it may quote.
 */
export const ICMPV6_ERROR_MAX_QUOTE = 1280 - 40 - ICMPV6_HEADER_LEN;

/** How many bytes of an invoking packet of `packetLen` bytes an error may quote. */
export function icmpv6QuoteLen(packetLen: number, ipHeaderLen = 40): number {
  return Math.max(0, Math.min(packetLen, 1280 - ipHeaderLen - ICMPV6_HEADER_LEN));
}

/** RFC 4443 2.1: types 0-127 are error messages, 128-255 informational. */
export function icmpv6IsError(type: number): boolean {
  return type < 128;
}

const E_SHORT: ParseError = parseError("icmpv6", "too-short");
const E_CHECKSUM: ParseError = parseError("icmpv6", "bad-checksum");

const EMPTY = new Uint8Array(0);

/** The pseudo-header sum of an ICMPv6 message of `len` bytes from `src` to `dst`. */
export function icmpv6PseudoSum(src: Uint8Array, dst: Uint8Array, len: number): number {
  return pseudoV6(src, dst, IpProto.Icmpv6, len);
}

/**
 * Compute and write the checksum of the ICMPv6 message at `b[off, off + len)` (every other byte
 * already in place): used by every ICMPv6 and NDP builder.
 */
export function writeIcmpv6Checksum(b: Uint8Array, off: number, len: number, src: Uint8Array, dst: Uint8Array): void {
  b[off + 2] = 0;
  b[off + 3] = 0;
  const c = finish(sumBytes(b, off, len, icmpv6PseudoSum(src, dst, len)));
  b[off + 2] = c >> 8;
  b[off + 3] = c & 0xff;
}

/** A checksum-verified ICMPv6 message. */
export class Icmpv6View {
  bytes: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  /** Parse and verify the message at `bytes[off, off + len)` sent from `src` to `dst`. */
  static parse(bytes: Uint8Array, off: number, len: number, src: Uint8Array, dst: Uint8Array): Icmpv6View | ParseError {
    const v = new Icmpv6View();
    return v.parseFrom(bytes, off, len, src, dst) ?? v;
  }

  /** As `parse`, with the pseudo-header sum computed by the caller (`icmpv6PseudoSum`, `pseudoSum`). */
  static parseWithSum(bytes: Uint8Array, off: number, len: number, pseudo: number): Icmpv6View | ParseError {
    const v = new Icmpv6View();
    return v.parseFromWithSum(bytes, off, len, pseudo) ?? v;
  }

  /** Re-point this view (no allocation). */
  parseFrom(bytes: Uint8Array, off: number, len: number, src: Uint8Array, dst: Uint8Array): ParseError | null {
    return this.parseFromWithSum(bytes, off, len, icmpv6PseudoSum(src, dst, len));
  }

  parseFromWithSum(bytes: Uint8Array, off: number, len: number, pseudo: number): ParseError | null {
    if (off < 0 || len < ICMPV6_HEADER_LEN || off + len > bytes.length) return E_SHORT;
    // RFC 4443 2.3: the checksum covers the pseudo-header and the whole message.
    if (fold(sumBytes(bytes, off, len, pseudo)) !== 0xffff) return E_CHECKSUM;
    this.bytes = bytes;
    this.off = off;
    this.len = len;
    return null;
  }

  get type(): number {
    return this.bytes[this.off];
  }
  get code(): number {
    return this.bytes[this.off + 1];
  }
  get checksum(): number {
    return (this.bytes[this.off + 2] << 8) | this.bytes[this.off + 3];
  }
  /** The 4-byte field after the checksum, whatever the type. */
  get rest(): number {
    const b = this.bytes;
    const o = this.off + 4;
    return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  }
  /** Echo identifier (RFC 4443 4.1). */
  get id(): number {
    return (this.bytes[this.off + 4] << 8) | this.bytes[this.off + 5];
  }
  /** Echo sequence number. */
  get seq(): number {
    return (this.bytes[this.off + 6] << 8) | this.bytes[this.off + 7];
  }
  /** Packet too big: the next-hop MTU (RFC 4443 3.2). */
  get mtu(): number {
    return this.rest;
  }
  /** Parameter problem: offset of the error in the quoted packet (RFC 4443 3.4). */
  get pointer(): number {
    return this.rest;
  }
  get isError(): boolean {
    return this.bytes[this.off] < 128;
  }
  /** Offset of what follows the 8-byte header: echo data, or the quoted packet of an error. */
  get payloadOff(): number {
    return this.off + ICMPV6_HEADER_LEN;
  }
  get payloadLen(): number {
    return this.len - ICMPV6_HEADER_LEN;
  }
  /** The bytes after the header (a subarray): echo data, the quoted packet, or NDP fields. */
  payload(): Uint8Array {
    return this.bytes.subarray(this.off + ICMPV6_HEADER_LEN, this.off + this.len);
  }
  /** Echo data. */
  data(): Uint8Array {
    return this.payload();
  }
  /** The invoking packet quoted by an error message (starts at its IPv6 header; may be cut short). */
  quoted(): Uint8Array {
    return this.payload();
  }
}

/**
 * An ICMPv6 message with an 8-byte header: type, code, checksum and a 4-byte field; the body
 * (echo data, quoted packet) is serialized by the inner layer. Holds `src` and `dst` for the
 * pseudo-header checksum.
 */
export class Icmpv6Builder implements PacketBuilder {
  readonly headerLen = ICMPV6_HEADER_LEN;
  readonly footerLen = 0;
  readonly minBodyLen = 0;
  /** The upper-layer length in the pseudo-header is 32 bits, but the IPv6 payload length is 16. */
  maxBodyLen = 0xffff - ICMPV6_HEADER_LEN;

  constructor(
    public src: Uint8Array,
    public dst: Uint8Array,
    public type: number,
    public code: number,
    public rest = 0,
  ) {}

  /** The 4-byte field to write. */
  protected field(): number {
    return this.rest;
  }

  serialize(b: Uint8Array, off: number, bodyLen: number): void {
    const f = this.field();
    b[off] = this.type;
    b[off + 1] = this.code;
    b[off + 4] = f >>> 24;
    b[off + 5] = (f >>> 16) & 0xff;
    b[off + 6] = (f >>> 8) & 0xff;
    b[off + 7] = f & 0xff;
    writeIcmpv6Checksum(b, off, ICMPV6_HEADER_LEN + bodyLen, this.src, this.dst);
  }
}

/** Echo request or reply (RFC 4443 4.1, 4.2); the body is the echo data. */
export class Icmpv6EchoBuilder extends Icmpv6Builder {
  constructor(
    src: Uint8Array,
    dst: Uint8Array,
    type: number,
    public id: number,
    public seq: number,
  ) {
    super(src, dst, type, 0);
  }
  protected override field(): number {
    return (((this.id & 0xffff) << 16) | (this.seq & 0xffff)) >>> 0;
  }
}

/**
 * An error message (RFC 4443 section 3): `field` is the MTU (packet too big), the pointer
 * (parameter problem) or 0. The body is the quoted invoking packet, which the caller limits to
 * `icmpv6QuoteLen` so the error fits the minimum MTU (RFC 4443 2.4 (c)); longer bodies are `TooBig`.
 */
export class Icmpv6ErrorBuilder extends Icmpv6Builder {
  constructor(src: Uint8Array, dst: Uint8Array, type: number, code: number, field = 0) {
    super(src, dst, type, code, field);
    this.maxBodyLen = ICMPV6_ERROR_MAX_QUOTE;
  }
}

/** The readable form of an ICMPv6 message. */
export interface Icmpv6Repr {
  type: number;
  code: number;
  /** The 4-byte field after the checksum. */
  rest: number;
  /** Echo request/reply. */
  id?: number;
  seq?: number;
  /** Packet too big. */
  mtu?: number;
  /** Parameter problem. */
  pointer?: number;
  /** Bytes after the 8-byte header. */
  payloadLen: number;
}

/** The repr of a parsed message. */
export function toRepr(v: Icmpv6View): Icmpv6Repr {
  const r: Icmpv6Repr = { type: v.type, code: v.code, rest: v.rest, payloadLen: v.payloadLen };
  if (v.type === Icmpv6Type.EchoRequest || v.type === Icmpv6Type.EchoReply) {
    r.id = v.id;
    r.seq = v.seq;
  } else if (v.type === Icmpv6Type.PacketTooBig) {
    r.mtu = v.mtu;
  } else if (v.type === Icmpv6Type.ParamProblem) {
    r.pointer = v.pointer;
  }
  return r;
}

/** A builder that re-serializes `r` around its payload (`view.payload()`), for `src` to `dst`. */
export function builderFromRepr(r: Icmpv6Repr, src: Uint8Array, dst: Uint8Array): Icmpv6Builder {
  if (r.id !== undefined && r.seq !== undefined) {
    const e = new Icmpv6EchoBuilder(src, dst, r.type, r.id, r.seq);
    e.code = r.code;
    return e;
  }
  return new Icmpv6Builder(src, dst, r.type, r.code, r.rest);
}

/** One line for logs: `echo request id=1 seq=2`, `packet too big mtu=1280`, ... */
export function describe(v: Icmpv6View, src?: Uint8Array, dst?: Uint8Array): string {
  const who = src !== undefined && dst !== undefined ? `${formatV6(src)} > ${formatV6(dst)}: ` : "";
  switch (v.type) {
    case Icmpv6Type.EchoRequest:
      return `${who}echo request id=${v.id} seq=${v.seq} len=${v.payloadLen}`;
    case Icmpv6Type.EchoReply:
      return `${who}echo reply id=${v.id} seq=${v.seq} len=${v.payloadLen}`;
    case Icmpv6Type.PacketTooBig:
      return `${who}packet too big mtu=${v.mtu}`;
    case Icmpv6Type.ParamProblem:
      return `${who}parameter problem code=${v.code} pointer=${v.pointer}`;
    default:
      return `${who}icmp6 type=${v.type} code=${v.code}`;
  }
}
