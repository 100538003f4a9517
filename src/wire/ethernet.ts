/**
 * Ethernet II framing (IEEE 802.3 clause 3.2.6 "Length/Type" >= 0x0600, RFC 894 for IPv4 over
 * Ethernet) and one IEEE 802.1Q VLAN tag.
 *
 * Frames are handled without the FCS (the NIC or TAP device strips and adds it). A frame is at
 * least 14 bytes to parse; frames received with padding are fine: the payload range runs to the end
 * of the frame and the IP layer trims it by its own length field. Frames built here are padded to
 * 60 bytes (64 on the wire with the FCS), the 802.3 minimum.
 */

import { formatMac, type MacAddr, macAt, parseMac } from "../ip/addr.ts";
import type { PacketBuilder } from "../packet/serialize.ts";
import { type ParseError, parseError } from "./errors.ts";

/** EtherType values (IEEE Registration Authority). An open set: other values pass through. */
export const EtherType = {
  Ipv4: 0x0800,
  Arp: 0x0806,
  /** IEEE 802.1Q customer VLAN tag. */
  Vlan: 0x8100,
  Ipv6: 0x86dd,
  /** IEEE 802.1ad service VLAN tag (not read as a tag here: it passes through as a type). */
  QinQ: 0x88a8,
} as const;
export type EtherType = (typeof EtherType)[keyof typeof EtherType];

/** Header length of an untagged frame. */
export const ETHERNET_HEADER_LEN = 14;
/** Bytes added by one 802.1Q tag (TPID + TCI). */
export const VLAN_TAG_LEN = 4;
/** Smallest frame without FCS (IEEE 802.3: 64 bytes with the 4-byte FCS). */
export const ETHERNET_MIN_FRAME_LEN = 60;
/** Default MTU: the largest body of an untagged Ethernet II frame. */
export const ETHERNET_DEFAULT_MTU = 1500;

const DST = 0;
const SRC = 6;
const TYPE = 12;
/** With a tag: the TCI (PCP 3 bits, DEI 1 bit, VID 12 bits) follows the TPID at 12. */
const TCI = 14;
const INNER_TYPE = 16;

const E_SHORT = parseError("ethernet", "too-short");

/** Write the 6 bytes of `mac` at `b[off]` (six stores: no subarray, no `set` call on the hot path). */
function putMac(b: Uint8Array, off: number, mac: Uint8Array): void {
  b[off] = mac[0];
  b[off + 1] = mac[1];
  b[off + 2] = mac[2];
  b[off + 3] = mac[3];
  b[off + 4] = mac[4];
  b[off + 5] = mac[5];
}

const EMPTY = new Uint8Array(0);

/** An Ethernet II frame (without FCS) in a byte buffer. */
export class EthernetView {
  bytes: Uint8Array = EMPTY;
  off = 0;
  len = 0;
  /** 14, or 18 when the frame carries an 802.1Q tag. */
  headerLen = ETHERNET_HEADER_LEN;

  /** Parse the frame at `bytes[off, off + len)`. Allocates the view; `parseFrom` reuses one. */
  static parse(bytes: Uint8Array, off: number, len: number): EthernetView | ParseError {
    const v = new EthernetView();
    const e = v.parseFrom(bytes, off, len);
    return e === null ? v : e;
  }

  /** Re-point this view at a frame and validate it. Returns null or the error; never throws. */
  parseFrom(bytes: Uint8Array, off: number, len: number): ParseError | null {
    if (off < 0 || len < ETHERNET_HEADER_LEN || off + len > bytes.length) return E_SHORT;
    let hl = ETHERNET_HEADER_LEN;
    // IEEE 802.1Q: a TPID of 0x8100 in the type field means a 4-byte tag precedes the real type.
    if (((bytes[off + TYPE] << 8) | bytes[off + TYPE + 1]) === EtherType.Vlan) {
      if (len < ETHERNET_HEADER_LEN + VLAN_TAG_LEN) return E_SHORT;
      hl += VLAN_TAG_LEN;
    }
    this.bytes = bytes;
    this.off = off;
    this.len = len;
    this.headerLen = hl;
    return null;
  }

  /** Destination MAC, borrowed from the frame. */
  get dst(): MacAddr {
    return macAt(this.bytes, this.off + DST);
  }
  /** Source MAC, borrowed from the frame. */
  get src(): MacAddr {
    return macAt(this.bytes, this.off + SRC);
  }
  /** True when the frame carries an 802.1Q tag. */
  get tagged(): boolean {
    return this.headerLen !== ETHERNET_HEADER_LEN;
  }
  /** The EtherType of the payload: the one after the 802.1Q tag when there is one. */
  get etherType(): number {
    const b = this.bytes;
    const o = this.off + (this.headerLen === ETHERNET_HEADER_LEN ? TYPE : INNER_TYPE);
    return (b[o] << 8) | b[o + 1];
  }
  /** The VLAN id (12 bits) of the 802.1Q tag, or -1 for an untagged frame. */
  get vlan(): number {
    if (this.headerLen === ETHERNET_HEADER_LEN) return -1;
    const b = this.bytes;
    const o = this.off + TCI;
    return ((b[o] & 0x0f) << 8) | b[o + 1];
  }
  /** The tag's priority code point (0..7); 0 when untagged. */
  get pcp(): number {
    return this.headerLen === ETHERNET_HEADER_LEN ? 0 : this.bytes[this.off + TCI] >>> 5;
  }
  /** The tag's drop eligible indicator; false when untagged. */
  get dei(): boolean {
    return this.headerLen !== ETHERNET_HEADER_LEN && (this.bytes[this.off + TCI] & 0x10) !== 0;
  }
  /** Offset of the payload in `bytes`. */
  get payloadOff(): number {
    return this.off + this.headerLen;
  }
  /** Payload length: the rest of the frame, padding included. */
  get payloadLen(): number {
    return this.len - this.headerLen;
  }
  /** The payload, borrowed from the frame buffer. */
  payload(): Uint8Array {
    return this.bytes.subarray(this.off + this.headerLen, this.off + this.len);
  }
}

/** Writes an Ethernet II header (with an 802.1Q tag when `vlan >= 0`) and pads short bodies. */
export class EthernetBuilder implements PacketBuilder {
  readonly footerLen = 0;

  constructor(
    public src: MacAddr,
    public dst: MacAddr,
    public etherType: number,
    /** VLAN id 0..4095 to write an 802.1Q tag, or -1 for an untagged frame. */
    public vlan = -1,
    /** Largest body (the link MTU). */
    public mtu = ETHERNET_DEFAULT_MTU,
    /** Priority code point of the tag (0..7). */
    public pcp = 0,
    /** Drop eligible indicator of the tag. */
    public dei = false,
  ) {}

  get headerLen(): number {
    return this.vlan >= 0 ? ETHERNET_HEADER_LEN + VLAN_TAG_LEN : ETHERNET_HEADER_LEN;
  }
  /** IEEE 802.3: frames are at least 60 bytes before the FCS; the padding is zeroed by the serializer. */
  get minBodyLen(): number {
    return ETHERNET_MIN_FRAME_LEN - this.headerLen;
  }
  get maxBodyLen(): number {
    return this.mtu;
  }

  serialize(bytes: Uint8Array, off: number, _bodyLen: number): void {
    putMac(bytes, off + DST, this.dst);
    putMac(bytes, off + SRC, this.src);
    let t = off + TYPE;
    if (this.vlan >= 0) {
      bytes[t] = EtherType.Vlan >>> 8;
      bytes[t + 1] = EtherType.Vlan & 0xff;
      const tci = ((this.pcp & 7) << 13) | (this.dei ? 0x1000 : 0) | (this.vlan & 0x0fff);
      bytes[t + 2] = tci >>> 8;
      bytes[t + 3] = tci & 0xff;
      t += VLAN_TAG_LEN;
    }
    bytes[t] = (this.etherType >>> 8) & 0xff;
    bytes[t + 1] = this.etherType & 0xff;
  }
}

/** Readable form of an Ethernet header. */
export interface EthernetRepr {
  /** Source MAC, lower-case colon-separated. */
  src: string;
  dst: string;
  /** The EtherType after any 802.1Q tag. */
  etherType: number;
  /** VLAN id, present when the frame is tagged. */
  vlan?: number;
  /** Tag priority, present when tagged and non-zero. */
  pcp?: number;
  /** Present and true when tagged with the DEI bit set. */
  dei?: boolean;
}

/** The repr of a parsed frame. */
export function toRepr(v: EthernetView): EthernetRepr {
  const r: EthernetRepr = { src: formatMac(v.src), dst: formatMac(v.dst), etherType: v.etherType };
  if (v.tagged) {
    r.vlan = v.vlan;
    if (v.pcp !== 0) r.pcp = v.pcp;
    if (v.dei) r.dei = true;
  }
  return r;
}

/** A builder that re-serializes `r`. Throws `RangeError` on malformed MAC text (not network input). */
export function builderFromRepr(r: EthernetRepr, mtu = ETHERNET_DEFAULT_MTU): EthernetBuilder {
  const src = parseMac(r.src);
  const dst = parseMac(r.dst);
  if (src === null || dst === null) throw new RangeError(`bad MAC in ${JSON.stringify(r)}`);
  return new EthernetBuilder(src, dst, r.etherType, r.vlan ?? -1, mtu, r.pcp ?? 0, r.dei === true);
}
