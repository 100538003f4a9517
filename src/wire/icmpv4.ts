/**
 * ICMPv4: RFC 792 (messages and the checksum over the whole message), RFC 1191 (the next-hop MTU in
 * "fragmentation needed"), RFC 1812 (codes 13-15; section 4.3.2.3: an error quotes as much of the
 * offending packet as fits in 576 bytes), RFC 4884 (the length attribute of multi-part errors),
 * RFC 1122 3.2.2 (which messages a host handles).
 *
 * Every message is an 8-byte header (type, code, checksum, 4 bytes "rest of header") and a body:
 * the echo data for echo messages, the quoted original packet for errors. The view checks the
 * length and the checksum once; the type-specific getters just read the rest of the header.
 */

import { formatV4, type Ipv4Addr, parseV4, v4At } from "../ip/addr.ts";
import type { PacketBuilder } from "../packet/serialize.ts";
import { checksum, verify } from "./checksum.ts";
import { type ParseError, parseError } from "./errors.ts";

/** ICMPv4 message types (IANA "ICMP Type Numbers"). An open set: other values pass through. */
export const Icmpv4Type = {
  EchoReply: 0,
  DestUnreachable: 3,
  SourceQuench: 4,
  Redirect: 5,
  EchoRequest: 8,
  RouterAdvertisement: 9,
  RouterSolicitation: 10,
  TimeExceeded: 11,
  ParamProblem: 12,
  Timestamp: 13,
  TimestampReply: 14,
} as const;

/** Codes of Destination Unreachable (RFC 792, RFC 1122 3.2.2.1, RFC 1812 5.2.7.1). */
export const Icmpv4UnreachableCode = {
  Net: 0,
  Host: 1,
  Proto: 2,
  Port: 3,
  /** Fragmentation needed and DF set; the next-hop MTU is in the header (RFC 1191). */
  FragNeeded: 4,
  SourceRouteFailed: 5,
  NetUnknown: 6,
  HostUnknown: 7,
  SourceHostIsolated: 8,
  NetProhibited: 9,
  HostProhibited: 10,
  NetTos: 11,
  HostTos: 12,
  /** Communication administratively prohibited (RFC 1812). */
  AdminProhibited: 13,
  HostPrecedenceViolation: 14,
  PrecedenceCutoff: 15,
} as const;

/** Codes of Time Exceeded (RFC 792). */
export const Icmpv4TimeExceededCode = {
  /** TTL exceeded in transit. */
  Ttl: 0,
  /** Fragment reassembly time exceeded. */
  Reassembly: 1,
} as const;

/** Codes of Parameter Problem (RFC 792, RFC 1122 3.2.2.5, RFC 1812). */
export const Icmpv4ParamProblemCode = {
  /** The pointer indicates the error. */
  Pointer: 0,
  MissingOption: 1,
  BadLength: 2,
} as const;

/** Codes of Redirect (RFC 792). */
export const Icmpv4RedirectCode = {
  Net: 0,
  Host: 1,
  TosNet: 2,
  TosHost: 3,
} as const;

/** Length of the ICMPv4 header (type, code, checksum, rest of header). */
export const ICMPV4_HEADER_LEN = 8;
/**
 * RFC 1812 4.3.2.3: an ICMP error carries as much of the original datagram as fits without the
 * error datagram exceeding 576 bytes.
 */
export const ICMPV4_ERROR_MAX_LEN = 576;

const TYPE = 0;
const CODE = 1;
const CHECKSUM = 2;
const REST = 4;

const E_SHORT = parseError("icmpv4", "too-short");
const E_CHECKSUM = parseError("icmpv4", "bad-checksum");

const EMPTY = new Uint8Array(0);

/** True for the error messages, which quote the offending packet (RFC 1122 3.2.2). */
export function isIcmpv4Error(type: number): boolean {
  return (
    type === Icmpv4Type.DestUnreachable ||
    type === Icmpv4Type.SourceQuench ||
    type === Icmpv4Type.Redirect ||
    type === Icmpv4Type.TimeExceeded ||
    type === Icmpv4Type.ParamProblem
  );
}

/**
 * How many bytes of an offending packet of `packetLen` bytes an ICMP error may quote so that the
 * error datagram (IP header of `ipHeaderLen` bytes + 8 + quote) stays within 576 bytes (RFC 1812
 * 4.3.2.3). RFC 792 asks for at least the IP header and 64 bits of data, which this always allows.
 */
export function icmpv4QuoteLen(packetLen: number, ipHeaderLen = 20): number {
  return Math.max(0, Math.min(packetLen, ICMPV4_ERROR_MAX_LEN - ipHeaderLen - ICMPV4_HEADER_LEN));
}

/** An ICMPv4 message in a byte buffer (`len` = the IP payload length: the message has no length field). */
export class Icmpv4View {
  bytes: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  /** Parse the message at `bytes[off, off + len)`. Allocates the view; `parseFrom` reuses one. */
  static parse(bytes: Uint8Array, off: number, len: number): Icmpv4View | ParseError {
    const v = new Icmpv4View();
    const e = v.parseFrom(bytes, off, len);
    return e === null ? v : e;
  }

  /** Re-point this view at a message and validate it. Returns null or the error; never throws. */
  parseFrom(bytes: Uint8Array, off: number, len: number): ParseError | null {
    if (off < 0 || len < ICMPV4_HEADER_LEN || off + len > bytes.length) return E_SHORT;
    // RFC 792: the checksum covers the whole ICMP message, starting with the type.
    if (!verify(bytes, off, len)) return E_CHECKSUM;
    this.bytes = bytes;
    this.off = off;
    this.len = len;
    return null;
  }

  get type(): number {
    return this.bytes[this.off + TYPE];
  }
  get code(): number {
    return this.bytes[this.off + CODE];
  }
  get checksum(): number {
    return (this.bytes[this.off + CHECKSUM] << 8) | this.bytes[this.off + CHECKSUM + 1];
  }
  /** The 4 "rest of header" bytes as an unsigned 32-bit number. */
  get rest(): number {
    return v4At(this.bytes, this.off + REST);
  }
  /** True when the message is an error (it quotes an offending packet). */
  get isError(): boolean {
    return isIcmpv4Error(this.bytes[this.off + TYPE]);
  }

  /** Echo (and timestamp) identifier: the first 16 bits of the rest of header. */
  get id(): number {
    return (this.bytes[this.off + REST] << 8) | this.bytes[this.off + REST + 1];
  }
  /** Echo (and timestamp) sequence number. */
  get seq(): number {
    return (this.bytes[this.off + REST + 2] << 8) | this.bytes[this.off + REST + 3];
  }
  /** Offset of the echo data (the body). */
  get dataOff(): number {
    return this.off + ICMPV4_HEADER_LEN;
  }
  /** Length of the echo data (the body). */
  get dataLen(): number {
    return this.len - ICMPV4_HEADER_LEN;
  }
  /** The body, borrowed: echo data, or the quote and any RFC 4884 extension of an error. */
  data(): Uint8Array {
    return this.bytes.subarray(this.off + ICMPV4_HEADER_LEN, this.off + this.len);
  }

  /**
   * The next-hop MTU of "fragmentation needed" (type 3 code 4, RFC 1191 section 4); 0 for any other
   * message, and when an old router (RFC 792) left the field zero.
   */
  get nextHopMtu(): number {
    const b = this.bytes;
    const o = this.off;
    if (b[o + TYPE] !== Icmpv4Type.DestUnreachable || b[o + CODE] !== Icmpv4UnreachableCode.FragNeeded) return 0;
    return (b[o + REST + 2] << 8) | b[o + REST + 3];
  }
  /** The Parameter Problem pointer (RFC 792: the octet of the quoted header in error); -1 for other types. */
  get pointer(): number {
    return this.bytes[this.off + TYPE] === Icmpv4Type.ParamProblem ? this.bytes[this.off + REST] : -1;
  }
  /** The Redirect's gateway address (the rest of header; meaningful for type 5). */
  get gateway(): Ipv4Addr {
    return v4At(this.bytes, this.off + REST);
  }

  /** Offset of the quoted original packet (errors). */
  get quoteOff(): number {
    return this.off + ICMPV4_HEADER_LEN;
  }
  /**
   * Length of the quoted original packet: 0 for non-errors; for errors the rest of the message,
   * or, when an RFC 4884 length attribute (byte 5 of types 3, 11, 12: the quote in 32-bit words)
   * is set and fits, just the quote before the extension structure.
   */
  get quoteLen(): number {
    const b = this.bytes;
    const t = b[this.off + TYPE];
    if (!isIcmpv4Error(t)) return 0;
    const body = this.len - ICMPV4_HEADER_LEN;
    if (t === Icmpv4Type.DestUnreachable || t === Icmpv4Type.TimeExceeded || t === Icmpv4Type.ParamProblem) {
      const words = b[this.off + REST + 1];
      if (words !== 0 && words * 4 <= body) return words * 4;
    }
    return body;
  }
  /** The quoted original packet, borrowed. */
  quote(): Uint8Array {
    const o = this.off + ICMPV4_HEADER_LEN;
    return this.bytes.subarray(o, o + this.quoteLen);
  }
}

/** Write the 8-byte header at `bytes[off]` and the checksum over header and body. */
function writeMessage(bytes: Uint8Array, off: number, bodyLen: number, type: number, code: number, rest: number) {
  bytes[off + TYPE] = type & 0xff;
  bytes[off + CODE] = code & 0xff;
  bytes[off + CHECKSUM] = 0;
  bytes[off + CHECKSUM + 1] = 0;
  bytes[off + REST] = (rest >>> 24) & 0xff;
  bytes[off + REST + 1] = (rest >>> 16) & 0xff;
  bytes[off + REST + 2] = (rest >>> 8) & 0xff;
  bytes[off + REST + 3] = rest & 0xff;
  const c = checksum(bytes, off, ICMPV4_HEADER_LEN + bodyLen);
  bytes[off + CHECKSUM] = c >>> 8;
  bytes[off + CHECKSUM + 1] = c & 0xff;
}

/** Largest ICMP body inside an IPv4 packet without options. */
const MAX_BODY = 0xffff - 20 - ICMPV4_HEADER_LEN;

/** Writes an Echo Request or Echo Reply (RFC 792); the body is the echo data. */
export class Icmpv4EchoBuilder implements PacketBuilder {
  readonly headerLen = ICMPV4_HEADER_LEN;
  readonly footerLen = 0;
  readonly minBodyLen = 0;
  readonly maxBodyLen = MAX_BODY;

  constructor(
    /** `Icmpv4Type.EchoRequest` or `Icmpv4Type.EchoReply`. */
    public type: number,
    public id: number,
    public seq: number,
    /** Always 0 for echo (RFC 792); settable to re-serialize odd packets exactly. */
    public code = 0,
  ) {}

  serialize(bytes: Uint8Array, off: number, bodyLen: number): void {
    writeMessage(bytes, off, bodyLen, this.type, this.code, (((this.id & 0xffff) << 16) | (this.seq & 0xffff)) >>> 0);
  }
}

/**
 * Writes an ICMP error (or any message given as type, code and the 4-byte rest of header); the body
 * is the quoted packet, whose length the caller limits (`icmpv4QuoteLen`, RFC 1812 4.3.2.3). Use
 * the static helpers for the rest of header of each error type.
 */
export class Icmpv4ErrorBuilder implements PacketBuilder {
  readonly headerLen = ICMPV4_HEADER_LEN;
  readonly footerLen = 0;
  readonly minBodyLen = 0;
  readonly maxBodyLen = MAX_BODY;

  constructor(
    public type: number,
    public code: number,
    /** The rest of header as an unsigned 32-bit number (unused bytes zero). */
    public rest = 0,
  ) {}

  /** Destination Unreachable with `code`; for FragNeeded pass the next-hop MTU (RFC 1191). */
  static destUnreachable(code: number, nextHopMtu = 0): Icmpv4ErrorBuilder {
    return new Icmpv4ErrorBuilder(Icmpv4Type.DestUnreachable, code, nextHopMtu & 0xffff);
  }
  /** Time Exceeded (code `Icmpv4TimeExceededCode.*`). */
  static timeExceeded(code: number): Icmpv4ErrorBuilder {
    return new Icmpv4ErrorBuilder(Icmpv4Type.TimeExceeded, code, 0);
  }
  /** Parameter Problem, code 0, pointing at byte `pointer` of the quoted header. */
  static paramProblem(pointer: number, code: number = Icmpv4ParamProblemCode.Pointer): Icmpv4ErrorBuilder {
    return new Icmpv4ErrorBuilder(Icmpv4Type.ParamProblem, code, ((pointer & 0xff) << 24) >>> 0);
  }
  /** Redirect to `gateway`. */
  static redirect(code: number, gateway: Ipv4Addr): Icmpv4ErrorBuilder {
    return new Icmpv4ErrorBuilder(Icmpv4Type.Redirect, code, gateway >>> 0);
  }

  serialize(bytes: Uint8Array, off: number, bodyLen: number): void {
    writeMessage(bytes, off, bodyLen, this.type, this.code, this.rest >>> 0);
  }
}

/** Readable form of an ICMPv4 message. */
export interface Icmpv4Repr {
  type: number;
  code: number;
  /** The rest of header (32 bits); what builders write for non-echo types (else from the named fields). */
  rest?: number;
  /** Body length (echo data, or quote and extensions). */
  bodyLen: number;
  /** Echo id and sequence number (types 0 and 8). */
  id?: number;
  seq?: number;
  /** Fragmentation needed (type 3 code 4). */
  nextHopMtu?: number;
  /** Parameter Problem (type 12). */
  pointer?: number;
  /** Redirect (type 5): dotted quad. */
  gateway?: string;
  /** Errors: the quoted packet's length. */
  quoteLen?: number;
}

/** The repr of a parsed message. */
export function toRepr(v: Icmpv4View): Icmpv4Repr {
  const t = v.type;
  const r: Icmpv4Repr = { type: t, code: v.code, rest: v.rest, bodyLen: v.dataLen };
  if (t === Icmpv4Type.EchoRequest || t === Icmpv4Type.EchoReply) {
    r.id = v.id;
    r.seq = v.seq;
  }
  if (t === Icmpv4Type.DestUnreachable && v.code === Icmpv4UnreachableCode.FragNeeded) r.nextHopMtu = v.nextHopMtu;
  if (t === Icmpv4Type.ParamProblem) r.pointer = v.pointer;
  if (t === Icmpv4Type.Redirect) r.gateway = formatV4(v.gateway);
  if (v.isError) r.quoteLen = v.quoteLen;
  return r;
}

/**
 * A builder that re-serializes `r` (the body is the echo data or quote). Echo messages use `id` and
 * `seq` (falling back to `rest`); others use `rest`, or, when absent, the named field.
 */
export function builderFromRepr(r: Icmpv4Repr): Icmpv4EchoBuilder | Icmpv4ErrorBuilder {
  if (r.type === Icmpv4Type.EchoRequest || r.type === Icmpv4Type.EchoReply) {
    const rest = r.rest ?? 0;
    return new Icmpv4EchoBuilder(r.type, r.id ?? rest >>> 16, r.seq ?? rest & 0xffff, r.code);
  }
  let rest = r.rest;
  if (rest === undefined) {
    if (r.nextHopMtu !== undefined) rest = r.nextHopMtu & 0xffff;
    else if (r.pointer !== undefined) rest = ((r.pointer & 0xff) << 24) >>> 0;
    else if (r.gateway !== undefined) rest = parseV4(r.gateway) ?? 0;
    else rest = 0;
  }
  return new Icmpv4ErrorBuilder(r.type, r.code, rest);
}
