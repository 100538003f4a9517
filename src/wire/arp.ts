/**
 * ARP: RFC 826, for Ethernet hardware addresses and IPv4 protocol addresses only (RFC 826's
 * `ar$hrd` = 1, `ar$pro` = 0x0800, `ar$hln` = 6, `ar$pln` = 4). Other combinations are rejected as
 * "unsupported". RFC 5227 (probes and announcements) uses the same packet.
 *
 * An ARP packet is 28 bytes; Ethernet pads it to 46, and bytes after the 28 are ignored.
 */

import { formatMac, formatV4, type Ipv4Addr, type MacAddr, macAt, parseMac, parseV4, v4At, v4Put } from "../ip/addr.ts";
import type { PacketBuilder } from "../packet/serialize.ts";
import { type ParseError, parseError } from "./errors.ts";

/** ARP operation codes (RFC 826; IANA "ARP Parameters"). An open set: other values pass through. */
export const ArpOp = {
  Request: 1,
  Reply: 2,
} as const;
export type ArpOp = (typeof ArpOp)[keyof typeof ArpOp];

/** Length of an Ethernet/IPv4 ARP packet. */
export const ARP_LEN = 28;
/** `ar$hrd` for Ethernet (RFC 826; IANA hardware type 1). */
export const ARP_HTYPE_ETHERNET = 1;
/** `ar$pro` for IPv4: the IPv4 EtherType. */
export const ARP_PTYPE_IPV4 = 0x0800;

const HTYPE = 0;
const PTYPE = 2;
const HLEN = 4;
const PLEN = 5;
const OP = 6;
const SHA = 8;
const SPA = 14;
const THA = 18;
const TPA = 24;

const E_SHORT = parseError("arp", "too-short");
const E_UNSUPPORTED = parseError("arp", "unsupported");

/** Write the 6 bytes of `mac` at `b[off]` (a byte loop: no subarray on the hot path). */
function putMac(b: Uint8Array, off: number, mac: Uint8Array): void {
  for (let i = 0; i < 6; i++) b[off + i] = mac[i];
}

const EMPTY = new Uint8Array(0);

/** An Ethernet/IPv4 ARP packet in a byte buffer. `len` is 28 after a successful parse. */
export class ArpView {
  bytes: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  /** Parse the packet at `bytes[off, off + len)` (trailing padding allowed). */
  static parse(bytes: Uint8Array, off: number, len: number): ArpView | ParseError {
    const v = new ArpView();
    const e = v.parseFrom(bytes, off, len);
    return e === null ? v : e;
  }

  /** Re-point this view at a packet and validate it. Returns null or the error; never throws. */
  parseFrom(bytes: Uint8Array, off: number, len: number): ParseError | null {
    if (off < 0 || len < 0 || off + len > bytes.length) return E_SHORT;
    // The fixed part tells the address sizes; check it first so that a short packet of another
    // hardware/protocol type is reported as unsupported rather than short.
    if (len < 8) return E_SHORT;
    const htype = (bytes[off + HTYPE] << 8) | bytes[off + HTYPE + 1];
    const ptype = (bytes[off + PTYPE] << 8) | bytes[off + PTYPE + 1];
    if (
      htype !== ARP_HTYPE_ETHERNET ||
      ptype !== ARP_PTYPE_IPV4 ||
      bytes[off + HLEN] !== 6 ||
      bytes[off + PLEN] !== 4
    ) {
      return E_UNSUPPORTED;
    }
    if (len < ARP_LEN) return E_SHORT;
    this.bytes = bytes;
    this.off = off;
    this.len = ARP_LEN;
    return null;
  }

  get htype(): number {
    return (this.bytes[this.off + HTYPE] << 8) | this.bytes[this.off + HTYPE + 1];
  }
  get ptype(): number {
    return (this.bytes[this.off + PTYPE] << 8) | this.bytes[this.off + PTYPE + 1];
  }
  get hlen(): number {
    return this.bytes[this.off + HLEN];
  }
  get plen(): number {
    return this.bytes[this.off + PLEN];
  }
  /** The operation (`ArpOp`). */
  get op(): number {
    return (this.bytes[this.off + OP] << 8) | this.bytes[this.off + OP + 1];
  }
  /** Sender hardware address, borrowed. */
  get senderMac(): MacAddr {
    return macAt(this.bytes, this.off + SHA);
  }
  get senderIp(): Ipv4Addr {
    return v4At(this.bytes, this.off + SPA);
  }
  /** Target hardware address, borrowed (zero in a request). */
  get targetMac(): MacAddr {
    return macAt(this.bytes, this.off + THA);
  }
  get targetIp(): Ipv4Addr {
    return v4At(this.bytes, this.off + TPA);
  }
}

/** Writes a 28-byte Ethernet/IPv4 ARP packet. It has no body. */
export class ArpBuilder implements PacketBuilder {
  readonly headerLen = ARP_LEN;
  readonly footerLen = 0;
  readonly minBodyLen = 0;
  readonly maxBodyLen = 0;

  constructor(
    public op: number,
    public senderMac: MacAddr,
    public senderIp: Ipv4Addr,
    public targetMac: MacAddr,
    public targetIp: Ipv4Addr,
  ) {}

  serialize(bytes: Uint8Array, off: number, _bodyLen: number): void {
    bytes[off + HTYPE] = 0;
    bytes[off + HTYPE + 1] = ARP_HTYPE_ETHERNET;
    bytes[off + PTYPE] = ARP_PTYPE_IPV4 >>> 8;
    bytes[off + PTYPE + 1] = ARP_PTYPE_IPV4 & 0xff;
    bytes[off + HLEN] = 6;
    bytes[off + PLEN] = 4;
    bytes[off + OP] = (this.op >>> 8) & 0xff;
    bytes[off + OP + 1] = this.op & 0xff;
    putMac(bytes, off + SHA, this.senderMac);
    v4Put(bytes, off + SPA, this.senderIp);
    putMac(bytes, off + THA, this.targetMac);
    v4Put(bytes, off + TPA, this.targetIp);
  }
}

/** Readable form of an ARP packet (the shape of `netstack decode --json`'s "arp"). */
export interface ArpRepr {
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

/** The repr of a parsed packet. */
export function toRepr(v: ArpView): ArpRepr {
  return {
    op: v.op,
    senderMac: formatMac(v.senderMac),
    senderIp: formatV4(v.senderIp),
    targetMac: formatMac(v.targetMac),
    targetIp: formatV4(v.targetIp),
  };
}

/** A builder that re-serializes `r`. Throws `RangeError` on malformed address text (not network input). */
export function builderFromRepr(r: ArpRepr): ArpBuilder {
  const sha = parseMac(r.senderMac);
  const tha = parseMac(r.targetMac);
  const spa = parseV4(r.senderIp);
  const tpa = parseV4(r.targetIp);
  if (sha === null || tha === null || spa === null || tpa === null) {
    throw new RangeError(`bad address in ${JSON.stringify(r)}`);
  }
  return new ArpBuilder(r.op, sha, spa, tha, tpa);
}
