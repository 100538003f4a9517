/**
 * UDP: RFC 768, with the IPv4 pseudo-header of RFC 768 and the IPv6 one of RFC 8200 section 8.1.
 *
 * Version-generic: the parser takes the pseudo-header sum (`pseudoSum(src, dst, IpProto.Udp, len)`
 * from checksum.ts, `len` being the length given to the parser) and the IP version (a zero checksum
 * means "none" on IPv4 and is invalid on IPv6); the builder holds the addresses.
 */
import type { PacketBuilder } from "../packet/serialize.ts";
import { finish, fold, pseudoSum, sumBytes } from "./checksum.ts";
import { type ParseError, parseError } from "./errors.ts";
import { IpProto } from "./ipproto.ts";

/** Pass as the pseudo-header sum to skip checksum verification (e.g. already verified by hardware). */
export const SKIP_CHECKSUM = -1;

/** UDP header length. */
export const UDP_HEADER_LEN = 8;

const SRC_PORT = 0;
const DST_PORT = 2;
const LENGTH = 4;
const CHECKSUM = 6;

const E_SHORT = parseError("udp", "too-short");
const E_LENGTH = parseError("udp", "bad-length");
const E_CHECKSUM = parseError("udp", "bad-checksum");
const E_ZERO_CHECKSUM = parseError("udp", "zero-checksum");

const EMPTY = new Uint8Array(0);

/** A UDP datagram in a byte buffer. After a successful parse `len` is the UDP length field. */
export class UdpView {
  bytes: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  /**
   * Parse the datagram at `bytes[off, off + len)`. `pseudo` is the pseudo-header sum for length
   * `len` (or `SKIP_CHECKSUM`). Allocates the view; use `parseFrom` on a kept view to allocate nothing.
   */
  static parse(bytes: Uint8Array, off: number, len: number, pseudo: number, ipVersion: 4 | 6): UdpView | ParseError {
    const v = new UdpView();
    const e = v.parseFrom(bytes, off, len, pseudo, ipVersion);
    return e === null ? v : e;
  }

  /** Re-point this view at a datagram and validate it. Returns null or the error; never throws. */
  parseFrom(bytes: Uint8Array, off: number, len: number, pseudo: number, ipVersion: 4 | 6): ParseError | null {
    if (len < UDP_HEADER_LEN || off < 0 || off + len > bytes.length) return E_SHORT;
    const ulen = (bytes[off + LENGTH] << 8) | bytes[off + LENGTH + 1];
    // RFC 768: the length counts header and data, so it is at least 8; bytes past it (link-layer
    // padding) are not part of the datagram.
    if (ulen < UDP_HEADER_LEN || ulen > len) return E_LENGTH;
    if (pseudo >= 0) {
      const check = (bytes[off + CHECKSUM] << 8) | bytes[off + CHECKSUM + 1];
      if (check === 0) {
        // RFC 8200 8.1: an IPv6 receiver must discard UDP packets with a zero checksum.
        if (ipVersion === 6) return E_ZERO_CHECKSUM;
        // RFC 768: zero means the sender computed no checksum.
      } else {
        // The pseudo-header carries the UDP length (RFC 768); correct the length term when the
        // caller's `len` included trailing bytes. (`len - ulen` is congruent mod 0xffff to its
        // IPv6 32-bit form.)
        let acc = pseudo;
        if (ulen !== len) {
          acc = acc - len + ulen;
          while (acc < 0) acc += 0xffff;
        }
        if (fold(sumBytes(bytes, off, ulen, acc)) !== 0xffff) return E_CHECKSUM;
      }
    }
    this.bytes = bytes;
    this.off = off;
    this.len = ulen;
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
  /** The length field: header plus payload. */
  get length(): number {
    const b = this.bytes;
    const o = this.off + LENGTH;
    return (b[o] << 8) | b[o + 1];
  }
  get checksum(): number {
    const b = this.bytes;
    const o = this.off + CHECKSUM;
    return (b[o] << 8) | b[o + 1];
  }
  get payloadOff(): number {
    return this.off + UDP_HEADER_LEN;
  }
  get payloadLen(): number {
    return this.len - UDP_HEADER_LEN;
  }
  /** The payload, borrowed from the packet buffer. */
  payload(): Uint8Array {
    return this.bytes.subarray(this.off + UDP_HEADER_LEN, this.off + this.len);
  }
}

/** Writes a UDP header (checksum over pseudo-header, header and the body in place). */
export class UdpBuilder implements PacketBuilder {
  readonly headerLen = UDP_HEADER_LEN;
  readonly footerLen = 0;
  readonly minBodyLen = 0;
  /** The length field is 16 bits (IPv6 jumbograms, RFC 2675, are not supported). */
  readonly maxBodyLen = 0xffff - UDP_HEADER_LEN;

  constructor(
    /** Source address for the pseudo-header: a number for IPv4, 16 bytes for IPv6. */
    public src: number | Uint8Array,
    /** Destination address for the pseudo-header. */
    public dst: number | Uint8Array,
    public srcPort: number,
    public dstPort: number,
    /** Send checksum 0 ("none"; RFC 768). Only legal on IPv4. */
    public noChecksum = false,
  ) {}

  serialize(bytes: Uint8Array, off: number, bodyLen: number): void {
    const len = UDP_HEADER_LEN + bodyLen;
    bytes[off] = (this.srcPort >>> 8) & 0xff;
    bytes[off + 1] = this.srcPort & 0xff;
    bytes[off + 2] = (this.dstPort >>> 8) & 0xff;
    bytes[off + 3] = this.dstPort & 0xff;
    bytes[off + 4] = (len >>> 8) & 0xff;
    bytes[off + 5] = len & 0xff;
    bytes[off + 6] = 0;
    bytes[off + 7] = 0;
    if (this.noChecksum) return;
    let c = finish(sumBytes(bytes, off, len, pseudoSum(this.src, this.dst, IpProto.Udp, len)));
    // RFC 768: a computed checksum of zero is transmitted as all ones (zero means "none").
    if (c === 0) c = 0xffff;
    bytes[off + 6] = c >>> 8;
    bytes[off + 7] = c & 0xff;
  }
}

/** Readable form of a UDP header (`netstack decode --json` prints srcPort, dstPort, length). */
export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  /** The length field (header + payload). */
  length: number;
  /** Present and true when the checksum field is zero (IPv4 "no checksum"). */
  noChecksum?: boolean;
}

/** The repr of a parsed datagram. */
export function toRepr(v: UdpView): UdpRepr {
  const r: UdpRepr = { srcPort: v.srcPort, dstPort: v.dstPort, length: v.length };
  if (v.checksum === 0) r.noChecksum = true;
  return r;
}

/** A builder that re-serializes `r` (the payload, `r.length - 8` bytes, is the body). */
export function builderFromRepr(r: UdpRepr, src: number | Uint8Array, dst: number | Uint8Array): UdpBuilder {
  return new UdpBuilder(src, dst, r.srcPort, r.dstPort, r.noChecksum === true);
}
