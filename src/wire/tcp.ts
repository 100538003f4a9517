/**
 * TCP segment header: RFC 9293 section 3.1 (header format, checksum with the pseudo-header),
 * RFC 3168 (ECE, CWR), RFC 7323 / RFC 2018 options (see tcp-options.ts). IPv6 pseudo-header:
 * RFC 8200 section 8.1.
 *
 * Version-generic: the parser takes the pseudo-header sum (`pseudoSum(src, dst, IpProto.Tcp, len)`
 * from checksum.ts) or `SKIP_CHECKSUM`; the builder holds the addresses. This is the hottest parser:
 * `parseFrom` re-points a kept view, validates with a few compares, walks the options only when
 * there are some, and allocates nothing.
 */
import type { PacketBuilder } from "../packet/serialize.ts";
import { finish, fold, pseudoSum, sumBytes, sumHeader20 } from "./checksum.ts";
import { type ParseError, parseError } from "./errors.ts";
import { IpProto } from "./ipproto.ts";
import {
  readTcpOptions,
  TCP_MAX_OPTIONS_LEN,
  TcpOptions,
  type TcpOptionsRepr,
  tcpOptionsFromRepr,
  tcpOptionsLen,
  tcpOptionsToRepr,
  writeTcpOptions,
} from "./tcp-options.ts";

export { SKIP_CHECKSUM } from "./udp.ts";

/** Control bits (RFC 9293 3.1; ECE and CWR from RFC 3168 section 6.1). */
export const TcpFlags = {
  FIN: 1,
  SYN: 2,
  RST: 4,
  PSH: 8,
  ACK: 16,
  URG: 32,
  ECE: 64,
  CWR: 128,
} as const;
export type TcpFlags = (typeof TcpFlags)[keyof typeof TcpFlags];

/** Fixed header length (data offset 5). */
export const TCP_HEADER_LEN = 20;
/** Length of the options NOP NOP TS (RFC 7323 appendix A), which almost every segment carries. */
const TS_ONLY_LEN = 12;

const SRC_PORT = 0;
const DST_PORT = 2;
const SEQ = 4;
const ACK = 8;
const DATA_OFFSET = 12; // high nibble: data offset; low nibble: reserved (bit 0: AccECN AE)
const FLAGS = 13;
const WINDOW = 14;
const CHECKSUM = 16;
const URGENT = 18;

const E_SHORT = parseError("tcp", "too-short");
const E_DATA_OFFSET = parseError("tcp", "bad-data-offset");
const E_CHECKSUM = parseError("tcp", "bad-checksum");

const EMPTY = new Uint8Array(0);

/** A TCP segment in a byte buffer: `off`/`len` cover header and payload. */
export class TcpView {
  bytes: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  /**
   * Parse the segment at `bytes[off, off + len)`. `pseudo` is the pseudo-header sum for length `len`,
   * or `SKIP_CHECKSUM` (negative) to skip verification. Allocates the view.
   */
  static parse(bytes: Uint8Array, off: number, len: number, pseudo: number): TcpView | ParseError {
    const v = new TcpView();
    const e = v.parseFrom(bytes, off, len, pseudo);
    return e === null ? v : e;
  }

  /**
   * Re-point this view at a segment and validate it: length, data offset, options well-formed,
   * checksum. Returns null or the error; never throws, allocates nothing. On error the view is
   * unchanged.
   */
  parseFrom(bytes: Uint8Array, off: number, len: number, pseudo: number): ParseError | null {
    if (len < TCP_HEADER_LEN || off < 0 || off + len > bytes.length) return E_SHORT;
    const hl = (bytes[off + DATA_OFFSET] >>> 4) << 2;
    // RFC 9293 3.1: the data offset counts 32-bit words, at least 5, and the header is in the segment.
    if (hl < TCP_HEADER_LEN || hl > len) return E_DATA_OFFSET;
    if (hl > TCP_HEADER_LEN) {
      const o = off + TCP_HEADER_LEN;
      // Fast path for the options of almost every established-state segment: NOP NOP TS.
      const tsOnly =
        hl === TCP_HEADER_LEN + 12 && bytes[o] === 1 && bytes[o + 1] === 1 && bytes[o + 2] === 8 && bytes[o + 3] === 10;
      if (!tsOnly) {
        const e = readTcpOptions(bytes, o, hl - TCP_HEADER_LEN, null);
        if (e !== null) return e;
      }
    }
    // RFC 9293 3.1: the checksum covers pseudo-header, header and data; correct means all ones.
    // The fixed header is summed straight (no loop), then options and payload.
    if (pseudo >= 0) {
      const sum = sumBytes(bytes, off + TCP_HEADER_LEN, len - TCP_HEADER_LEN, pseudo + sumHeader20(bytes, off));
      if (fold(sum) !== 0xffff) return E_CHECKSUM;
    }
    this.bytes = bytes;
    this.off = off;
    this.len = len;
    return null;
  }

  get srcPort(): number {
    const b = this.bytes;
    const o = this.off + SRC_PORT;
    return (b[o] << 8) | b[o + 1];
  }
  get dstPort(): number {
    const b = this.bytes;
    const o = this.off + DST_PORT;
    return (b[o] << 8) | b[o + 1];
  }
  /** Sequence number (uint32). */
  get seq(): number {
    const b = this.bytes;
    const o = this.off + SEQ;
    return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  }
  /** Acknowledgment number (uint32; meaningful when ACK is set). */
  get ack(): number {
    const b = this.bytes;
    const o = this.off + ACK;
    return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  }
  /** Data offset in 32-bit words (5..15). */
  get dataOffset(): number {
    return this.bytes[this.off + DATA_OFFSET] >>> 4;
  }
  /** Header length in bytes (data offset * 4). */
  get headerLen(): number {
    return (this.bytes[this.off + DATA_OFFSET] >>> 4) << 2;
  }
  /** The four reserved bits after the data offset (zero from most senders; bit 0 is AccECN's AE). */
  get reserved(): number {
    return this.bytes[this.off + DATA_OFFSET] & 0x0f;
  }
  /** Control bits: an or of `TcpFlags`. */
  get flags(): number {
    return this.bytes[this.off + FLAGS];
  }
  /** Window field as sent (not scaled). */
  get window(): number {
    const b = this.bytes;
    const o = this.off + WINDOW;
    return (b[o] << 8) | b[o + 1];
  }
  get checksum(): number {
    const b = this.bytes;
    const o = this.off + CHECKSUM;
    return (b[o] << 8) | b[o + 1];
  }
  get urgent(): number {
    const b = this.bytes;
    const o = this.off + URGENT;
    return (b[o] << 8) | b[o + 1];
  }
  /** Offset of the options in `bytes`. */
  get optionsOff(): number {
    return this.off + TCP_HEADER_LEN;
  }
  /** Length of the options (0..40). */
  get optionsLen(): number {
    return ((this.bytes[this.off + DATA_OFFSET] >>> 4) << 2) - TCP_HEADER_LEN;
  }
  /** The options bytes, borrowed. */
  options(): Uint8Array {
    const o = this.off + TCP_HEADER_LEN;
    return this.bytes.subarray(o, o + this.optionsLen);
  }
  /** Read the options into `out` (validated by the parse, so this cannot fail). Returns `out`. */
  readOptions(out: TcpOptions): TcpOptions {
    readTcpOptions(this.bytes, this.off + TCP_HEADER_LEN, this.optionsLen, out);
    return out;
  }
  get payloadOff(): number {
    return this.off + this.headerLen;
  }
  get payloadLen(): number {
    return this.len - this.headerLen;
  }
  /** The payload, borrowed. */
  payload(): Uint8Array {
    return this.bytes.subarray(this.off + this.headerLen, this.off + this.len);
  }
}

/** Sequence space the segment occupies (RFC 9293 3.4): payload length, plus one each for SYN and FIN. */
export function tcpSegLen(v: TcpView): number {
  const f = v.flags;
  return v.payloadLen + (f & TcpFlags.SYN ? 1 : 0) + (f & TcpFlags.FIN ? 1 : 0);
}

/** Flag letters in the order F S R P A U E C (SYN+ACK is "SA"), as `netstack decode --json` prints them. */
export function tcpFlagsString(flags: number): string {
  const letters = "FSRPAUEC";
  let s = "";
  for (let i = 0; i < 8; i++) if (flags & (1 << i)) s += letters[i];
  return s;
}

/**
 * Writes a TCP header: fields, options (Linux layout from `options`, or `rawOptions` verbatim padded
 * with zeros to 4 bytes) and the checksum over pseudo-header, header and the body in place. All
 * fields are public and mutable: keep one builder per connection and reuse it; serializing
 * allocates nothing.
 */
export class TcpBuilder implements PacketBuilder {
  readonly footerLen = 0;
  readonly minBodyLen = 0;

  /** Source address for the pseudo-header: a number for IPv4, 16 bytes for IPv6. */
  src: number | Uint8Array;
  /** Destination address for the pseudo-header. */
  dst: number | Uint8Array;
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  /** An or of `TcpFlags`. */
  flags = 0;
  /** Window field as sent (already scaled down). */
  window = 0;
  urgent = 0;
  /** The reserved nibble after the data offset (0 unless re-serializing a captured segment). */
  reserved = 0;
  /** Options written in the Linux layout when `rawOptions` is null. */
  readonly options = new TcpOptions();
  /** Option bytes written as they are (at most 40), for layouts other than Linux's. */
  rawOptions: Uint8Array | null = null;

  constructor(src: number | Uint8Array, dst: number | Uint8Array) {
    this.src = src;
    this.dst = dst;
  }

  /**
   * No limit of its own (the IP layer below applies the MTU). A getter, not a field: a field
   * holding a non-integer number is boxed, and every read of it by the serializer would allocate.
   */
  get maxBodyLen(): number {
    return Number.POSITIVE_INFINITY;
  }

  /** Header length: 20 plus the options rounded up to 4 bytes. */
  get headerLen(): number {
    const raw = this.rawOptions;
    if (raw === null) {
      const o = this.options;
      // The options of almost every segment: none, or NOP NOP TS (read in a few loads).
      if (o.mss < 0 && o.wscale < 0 && !o.sackPermitted && o.sackCount === 0) {
        return o.hasTs ? TCP_HEADER_LEN + TS_ONLY_LEN : TCP_HEADER_LEN;
      }
      return TCP_HEADER_LEN + tcpOptionsLen(o);
    }
    if (raw.length > TCP_MAX_OPTIONS_LEN) throw new RangeError(`rawOptions of ${raw.length} bytes (at most 40)`);
    return TCP_HEADER_LEN + ((raw.length + 3) & ~3);
  }

  /** `headerLen`, when given, is this builder's `headerLen` read by the caller (not recomputed). */
  serialize(bytes: Uint8Array, off: number, bodyLen: number, headerLen?: number): void {
    const hl = headerLen ?? this.headerLen;
    const b = bytes;
    b[off] = (this.srcPort >>> 8) & 0xff;
    b[off + 1] = this.srcPort & 0xff;
    b[off + 2] = (this.dstPort >>> 8) & 0xff;
    b[off + 3] = this.dstPort & 0xff;
    const seq = this.seq;
    b[off + 4] = seq >>> 24;
    b[off + 5] = (seq >>> 16) & 0xff;
    b[off + 6] = (seq >>> 8) & 0xff;
    b[off + 7] = seq & 0xff;
    const ack = this.ack;
    b[off + 8] = ack >>> 24;
    b[off + 9] = (ack >>> 16) & 0xff;
    b[off + 10] = (ack >>> 8) & 0xff;
    b[off + 11] = ack & 0xff;
    b[off + 12] = ((hl >>> 2) << 4) | (this.reserved & 0x0f);
    b[off + 13] = this.flags & 0xff;
    b[off + 14] = (this.window >>> 8) & 0xff;
    b[off + 15] = this.window & 0xff;
    b[off + 16] = 0;
    b[off + 17] = 0;
    b[off + 18] = (this.urgent >>> 8) & 0xff;
    b[off + 19] = this.urgent & 0xff;
    const raw = this.rawOptions;
    if (raw === null) {
      const o = this.options;
      if (hl === TCP_HEADER_LEN + TS_ONLY_LEN && o.hasTs && o.mss < 0 && o.wscale < 0 && !o.sackPermitted) {
        // NOP NOP TS (RFC 7323 appendix A), as `writeTcpOptions` lays it out, written straight.
        const i = off + TCP_HEADER_LEN;
        const tv = o.tsVal;
        const te = o.tsEcr;
        b[i] = 1;
        b[i + 1] = 1;
        b[i + 2] = 8;
        b[i + 3] = 10;
        b[i + 4] = tv >>> 24;
        b[i + 5] = (tv >>> 16) & 0xff;
        b[i + 6] = (tv >>> 8) & 0xff;
        b[i + 7] = tv & 0xff;
        b[i + 8] = te >>> 24;
        b[i + 9] = (te >>> 16) & 0xff;
        b[i + 10] = (te >>> 8) & 0xff;
        b[i + 11] = te & 0xff;
      } else if (hl > TCP_HEADER_LEN) writeTcpOptions(b, off + TCP_HEADER_LEN, this.options);
    } else {
      b.set(raw, off + TCP_HEADER_LEN);
      // RFC 9293 3.1: the header is padded with zeros to a 32-bit boundary.
      b.fill(0, off + TCP_HEADER_LEN + raw.length, off + hl);
    }
    const len = hl + bodyLen;
    const acc = pseudoSum(this.src, this.dst, IpProto.Tcp, len) + sumHeader20(b, off);
    // A bare ACK has nothing after the fixed header to sum.
    const c = finish(len > TCP_HEADER_LEN ? sumBytes(b, off + TCP_HEADER_LEN, len - TCP_HEADER_LEN, acc) : acc);
    b[off + 16] = c >>> 8;
    b[off + 17] = c & 0xff;
  }
}

/** Readable form of a TCP header (the addresses belong to the IP layer). */
export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** An or of `TcpFlags`. */
  flags: number;
  /** Raw, unscaled. */
  window: number;
  urgent: number;
  /** Parsed options, in the shape `netstack decode --json` prints. */
  options: TcpOptionsRepr;
  /** Payload length (informational: the builder's body determines it). */
  payloadLen: number;
  /** The reserved nibble, present only when non-zero. */
  reserved?: number;
  /**
   * The option bytes, present only when writing `options` in the Linux layout would not reproduce
   * them (another stack's layout, unknown options, EOL padding): the builder then writes them as they are.
   */
  rawOptions?: Uint8Array;
}

const scratchOptions = new TcpOptions();
const scratchBytes = new Uint8Array(TCP_MAX_OPTIONS_LEN);

/** The repr of a parsed segment. */
export function toRepr(v: TcpView): TcpRepr {
  const opts = v.readOptions(scratchOptions);
  const r: TcpRepr = {
    srcPort: v.srcPort,
    dstPort: v.dstPort,
    seq: v.seq,
    ack: v.ack,
    flags: v.flags,
    window: v.window,
    urgent: v.urgent,
    options: tcpOptionsToRepr(opts),
    payloadLen: v.payloadLen,
  };
  if (v.reserved !== 0) r.reserved = v.reserved;
  // Keep the bytes when the canonical layout of what was parsed differs from what was sent.
  const n = v.optionsLen;
  let same = tcpOptionsLen(opts) === n;
  if (same && n > 0) {
    writeTcpOptions(scratchBytes, 0, opts);
    const b = v.bytes;
    const o = v.optionsOff;
    for (let i = 0; i < n; i++) {
      if (scratchBytes[i] !== b[o + i]) {
        same = false;
        break;
      }
    }
  }
  if (!same) r.rawOptions = v.options().slice();
  return r;
}

/** Set a builder's fields from a repr (into `into`, reused, when given). */
export function builderFromRepr(
  r: TcpRepr,
  src: number | Uint8Array,
  dst: number | Uint8Array,
  into?: TcpBuilder,
): TcpBuilder {
  const t = into ?? new TcpBuilder(src, dst);
  t.src = src;
  t.dst = dst;
  t.srcPort = r.srcPort;
  t.dstPort = r.dstPort;
  t.seq = r.seq >>> 0;
  t.ack = r.ack >>> 0;
  t.flags = r.flags;
  t.window = r.window;
  t.urgent = r.urgent;
  t.reserved = r.reserved ?? 0;
  tcpOptionsFromRepr(r.options, t.options);
  t.rawOptions = r.rawOptions ?? null;
  return t;
}
