/**
 * The virtio-net packet header (OASIS virtio 1.0, section 5.1.6 "Device Operation": `struct
 * virtio_net_hdr_v1`), as Linux TAP/TUN devices opened with IFF_VNET_HDR put it in front of every
 * frame; segmentation of a GSO super-frame into MSS-sized TCP (RFC 9293) or UDP (RFC 768) packets
 * over IPv4 (RFC 791) or IPv6 (RFC 8200), and completion of a partial checksum (RFC 1071).
 *
 * Layout (little-endian, 12 bytes): flags (u8), gso_type (u8), hdr_len (u16), gso_size (u16),
 * csum_start (u16), csum_offset (u16), num_buffers (u16). The legacy header is the first 10 bytes.
 * We use the 12-byte form: it is the virtio 1.0 header (always little-endian, whatever the host),
 * the one QEMU and vhost use, and the base the later extensions (hash report) grow from; its extra
 * `num_buffers` is ignored by TAP devices. native/tap.c sets the device to this size.
 *
 * - flags: NEEDS_CSUM (the checksum at csum_start + csum_offset holds only the pseudo-header sum:
 *   complete it over [csum_start, end)), DATA_VALID (the sender verified the checksum).
 * - gso_type: NONE, TCPV4, TCPV6, UDP (UFO, IPv4 fragmentation), UDP_L4 (USO); ECN (0x80) with a
 *   TCP type: the super-frame has CWR set and only the first segment keeps it.
 * - hdr_len: bytes of headers (link + IP + transport); only a hint (Linux reports its linear part),
 *   so segmentation reads the headers itself. gso_size: payload bytes per segment.
 *
 * Everything here is a pure function of byte ranges: `segment` writes its output frames into a
 * caller's buffer and allocates nothing.
 */
import { finish, fold, sumBytes, sumHeader20 } from "./checksum.ts";
import { type ParseError, parseError } from "./errors.ts";
import { IpProto } from "./ipproto.ts";

/** Bytes of the virtio_net_hdr_v1 (the header size native/tap.c sets). */
export const VNET_HDR_LEN = 12;
/** Bytes of the legacy virtio_net_hdr (without num_buffers). */
export const VNET_HDR_LEN_LEGACY = 10;

/** Header flags. */
export const VnetFlags = {
  /** csum_start / csum_offset are valid: the checksum field holds the pseudo-header sum only. */
  NeedsCsum: 1,
  /** The checksum was verified (receive) or need not be (send). */
  DataValid: 2,
  /** RSC information in the checksum fields (devices that coalesce; not used by TAP). */
  RscInfo: 4,
} as const;

/** gso_type values (the low 7 bits) and the ECN bit. */
export const VnetGso = {
  None: 0,
  TcpV4: 1,
  /** UFO: one IPv4 datagram to be sent as IP fragments. */
  Udp: 3,
  TcpV6: 4,
  /** USO: UDP datagrams of gso_size bytes each (Linux 6.2: TUN_F_USO4/6). */
  UdpL4: 5,
  Ecn: 0x80,
} as const;

/** TUNSETOFFLOAD flags (linux/if_tun.h), as `TapLink` reports the ones the kernel accepted. */
export const TunOffload = {
  Csum: 0x01,
  Tso4: 0x02,
  Tso6: 0x04,
  TsoEcn: 0x08,
  Ufo: 0x10,
  Uso4: 0x20,
  Uso6: 0x40,
} as const;

const FLAGS = 0;
const GSO_TYPE = 1;
const HDR_LEN = 2;
const GSO_SIZE = 4;
const CSUM_START = 6;
const CSUM_OFFSET = 8;
const NUM_BUFFERS = 10;

const E_SHORT = parseError("virtio-net", "too-short");
const E_GSO_TYPE = parseError("virtio-net", "bad-gso-type");
const E_GSO_SIZE = parseError("virtio-net", "bad-gso-size");
const E_ECN = parseError("virtio-net", "ecn-without-tcp");
const E_CSUM = parseError("virtio-net", "bad-csum-range");
const E_FRAME = parseError("virtio-net", "bad-frame");
const E_UNSUPPORTED = parseError("virtio-net", "unsupported");
const E_SPACE = parseError("virtio-net", "no-room");

const EMPTY = new Uint8Array(0);

function le16(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}

function put16le(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
}

function be16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

/** A virtio_net_hdr_v1 in a byte buffer (check, then access). */
export class VirtioNetHdrView {
  bytes: Uint8Array = EMPTY;
  off = 0;

  /** Parse the header at `bytes[off, off + len)`; allocates the view (use `parseFrom` on a kept one). */
  static parse(bytes: Uint8Array, off: number, len: number): VirtioNetHdrView | ParseError {
    const v = new VirtioNetHdrView();
    const e = v.parseFrom(bytes, off, len);
    return e === null ? v : e;
  }

  /**
   * Re-point this view and validate the header alone: a known gso_type, ECN only with TCP, a non-zero
   * gso_size with GSO. Returns null or the error; never throws. `checkFrame` checks it against a frame.
   */
  parseFrom(bytes: Uint8Array, off: number, len: number): ParseError | null {
    if (len < VNET_HDR_LEN || off < 0 || off + VNET_HDR_LEN > bytes.length) return E_SHORT;
    const t = bytes[off + GSO_TYPE];
    const base = t & 0x7f;
    if (base !== VnetGso.None && base !== VnetGso.TcpV4 && base !== VnetGso.TcpV6 && base !== VnetGso.Udp) {
      if (base !== VnetGso.UdpL4) return E_GSO_TYPE;
    }
    if (t & VnetGso.Ecn && base !== VnetGso.TcpV4 && base !== VnetGso.TcpV6) return E_ECN;
    if (base !== VnetGso.None && le16(bytes, off + GSO_SIZE) === 0) return E_GSO_SIZE;
    this.bytes = bytes;
    this.off = off;
    return null;
  }

  get flags(): number {
    return this.bytes[this.off + FLAGS];
  }
  get needsCsum(): boolean {
    return (this.bytes[this.off + FLAGS] & VnetFlags.NeedsCsum) !== 0;
  }
  get dataValid(): boolean {
    return (this.bytes[this.off + FLAGS] & VnetFlags.DataValid) !== 0;
  }
  /** The GSO type without the ECN bit. */
  get gsoType(): number {
    return this.bytes[this.off + GSO_TYPE] & 0x7f;
  }
  get ecn(): boolean {
    return (this.bytes[this.off + GSO_TYPE] & VnetGso.Ecn) !== 0;
  }
  get hdrLen(): number {
    return le16(this.bytes, this.off + HDR_LEN);
  }
  get gsoSize(): number {
    return le16(this.bytes, this.off + GSO_SIZE);
  }
  get csumStart(): number {
    return le16(this.bytes, this.off + CSUM_START);
  }
  get csumOffset(): number {
    return le16(this.bytes, this.off + CSUM_OFFSET);
  }
  get numBuffers(): number {
    return le16(this.bytes, this.off + NUM_BUFFERS);
  }

  /**
   * Check the header against the frame `len` bytes long it came with: the checksum field inside the
   * frame, a GSO frame longer than one segment's headers. Null or the error.
   */
  checkFrame(len: number): ParseError | null {
    if (this.needsCsum) {
      const start = this.csumStart;
      const o = this.csumOffset;
      if (o & 1 || start + o + 2 > len) return E_CSUM;
    }
    if (this.gsoType !== VnetGso.None && len <= this.gsoSize) return E_GSO_SIZE;
    return null;
  }
}

/** The readable form of a header (tests, logs). */
export interface VirtioNetHdrRepr {
  flags: number;
  gsoType: number;
  ecn: boolean;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
  numBuffers: number;
}

export function toRepr(v: VirtioNetHdrView): VirtioNetHdrRepr {
  return {
    flags: v.flags,
    gsoType: v.gsoType,
    ecn: v.ecn,
    hdrLen: v.hdrLen,
    gsoSize: v.gsoSize,
    csumStart: v.csumStart,
    csumOffset: v.csumOffset,
    numBuffers: v.numBuffers,
  };
}

/** The fields of a header to write (all zero: GSO_NONE, no checksum request). */
export class VirtioNetHdrBuilder {
  flags = 0;
  gsoType: number = VnetGso.None;
  ecn = false;
  hdrLen = 0;
  gsoSize = 0;
  csumStart = 0;
  csumOffset = 0;

  /** Ask for a partial checksum: the receiver completes the sum over [start, end) into start + offset. */
  partialChecksum(start: number, offset: number): this {
    this.flags |= VnetFlags.NeedsCsum;
    this.csumStart = start;
    this.csumOffset = offset;
    return this;
  }

  /** Write the 12 bytes at `bytes[off]` (num_buffers 0). */
  writeTo(bytes: Uint8Array, off: number): void {
    bytes[off + FLAGS] = this.flags;
    bytes[off + GSO_TYPE] = (this.gsoType & 0x7f) | (this.ecn ? VnetGso.Ecn : 0);
    put16le(bytes, off + HDR_LEN, this.hdrLen);
    put16le(bytes, off + GSO_SIZE, this.gsoSize);
    put16le(bytes, off + CSUM_START, this.csumStart);
    put16le(bytes, off + CSUM_OFFSET, this.csumOffset);
    put16le(bytes, off + NUM_BUFFERS, 0);
  }
}

export function builderFromRepr(r: VirtioNetHdrRepr): VirtioNetHdrBuilder {
  const b = new VirtioNetHdrBuilder();
  b.flags = r.flags;
  b.gsoType = r.gsoType;
  b.ecn = r.ecn;
  b.hdrLen = r.hdrLen;
  b.gsoSize = r.gsoSize;
  b.csumStart = r.csumStart;
  b.csumOffset = r.csumOffset;
  return b;
}

/**
 * Complete a partial checksum in place (NEEDS_CSUM): the field at `csumStart + csumOffset` holds the
 * pseudo-header sum; the ones' complement of the sum over `[csumStart, len)` goes there (RFC 1071).
 * Offsets are relative to `bytes[off]`, the frame being `len` bytes. A UDP checksum (offset 6) that
 * computes to zero is sent as 0xffff (RFC 768). Returns false (nothing written) when the range is not
 * inside the frame.
 */
export function completeChecksum(
  bytes: Uint8Array,
  off: number,
  len: number,
  csumStart: number,
  csumOffset: number,
): boolean {
  const field = off + csumStart + csumOffset;
  if (csumOffset & 1 || csumStart + csumOffset + 2 > len || off + len > bytes.length) return false;
  const c = finish(sumBytes(bytes, off + csumStart, len - csumStart, 0));
  put16(bytes, field, c === 0 && csumOffset === 6 ? 0xffff : c);
  return true;
}

/** Where a super-frame's headers are: set by `segment` (read by tests and callers). */
export interface SegmentInfo {
  /** Offset of the IP header in the frame (the link header's length). */
  l3Off: number;
  /** IP version of the packet (4 or 6). */
  ipVersion: number;
  /** Offset of the transport header in the frame. */
  l4Off: number;
  /** Bytes of all headers (link + IP + transport). */
  hdrLen: number;
  /** Bytes of transport payload. */
  payloadLen: number;
}

/** The last `segment`'s header layout (one shared object: no allocation per call). */
export const segmentInfo: SegmentInfo = { l3Off: 0, ipVersion: 0, l4Off: 0, hdrLen: 0, payloadLen: 0 };

const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;

/** Output bytes `segment` needs: each segment's headers and payload, 8-byte aligned. */
export function segmentSpace(hdrLen: number, payloadLen: number, gsoSize: number): number {
  const n = Math.ceil(payloadLen / gsoSize);
  return n * ((hdrLen + gsoSize + 7) & ~7);
}

/**
 * Split the GSO super-frame `frame[off, off + len)` (link header of `l3Off` bytes, then IPv4 or IPv6,
 * then TCP or UDP) into packets of at most `gsoSize` payload bytes, as the kernel's GSO does:
 *
 * - every segment gets a copy of the headers; IPv4 total length and header checksum, IPv6 payload
 *   length, and the transport checksum (pseudo-header, header and payload: complete, whatever the
 *   super-frame's checksum field held) are rewritten;
 * - IPv4 identification: the super-frame's, plus the segment's index (Linux `inet_gso_segment`);
 * - TCP: sequence number advanced by the payload before it; FIN and PSH only on the last segment,
 *   CWR only on the first (RFC 3168 6.1.2: CWR is set on one segment);
 * - UDP (USO): each segment is a datagram with its own length.
 *
 * Segments are written into `out` from `outOff` at 8-byte aligned offsets, their lengths into
 * `lens`; returns how many, or an error (headers it cannot handle: IPv4 fragments, IPv6 extension
 * headers, a protocol other than the one `gsoType` says; `out` or `lens` too small). `segmentInfo`
 * describes the headers afterwards. Allocates nothing.
 */
export function segment(
  frame: Uint8Array,
  off: number,
  len: number,
  l3Off: number,
  gsoType: number,
  gsoSize: number,
  out: Uint8Array,
  outOff: number,
  lens: Uint32Array,
): number | ParseError {
  if (gsoSize <= 0 || off < 0 || off + len > frame.length || len < l3Off + 20) return E_FRAME;
  const ip = off + l3Off;
  const version = frame[ip] >> 4;
  let l4: number;
  let proto: number;
  let ipEnd: number;
  if (version === 4) {
    const ihl = (frame[ip] & 0x0f) * 4;
    const total = be16(frame, ip + 2);
    if (ihl < 20 || total < ihl || l3Off + total > len) return E_FRAME;
    if ((be16(frame, ip + 6) & 0x3fff) !== 0) return E_UNSUPPORTED; // a fragment
    proto = frame[ip + 9];
    l4 = ip + ihl;
    ipEnd = ip + total;
  } else if (version === 6) {
    if (len < l3Off + 40) return E_FRAME;
    const plen = be16(frame, ip + 4);
    if (l3Off + 40 + plen > len) return E_FRAME;
    proto = frame[ip + 6];
    l4 = ip + 40;
    ipEnd = l4 + plen;
  } else {
    return E_FRAME;
  }
  const tcp = gsoType === VnetGso.TcpV4 || gsoType === VnetGso.TcpV6;
  if (tcp) {
    if (proto !== IpProto.Tcp || (gsoType === VnetGso.TcpV4) !== (version === 4)) return E_UNSUPPORTED;
  } else if (gsoType === VnetGso.UdpL4) {
    if (proto !== IpProto.Udp) return E_UNSUPPORTED;
  } else {
    return E_UNSUPPORTED;
  }
  let l4Len: number;
  if (tcp) {
    if (ipEnd - l4 < 20) return E_FRAME;
    l4Len = (frame[l4 + 12] >> 4) * 4;
    if (l4Len < 20 || l4 + l4Len > ipEnd) return E_FRAME;
  } else {
    l4Len = 8;
    if (ipEnd - l4 < 8) return E_FRAME;
  }
  const hdrLen = l4 + l4Len - off;
  const payloadLen = ipEnd - (l4 + l4Len);
  const info = segmentInfo;
  info.l3Off = l3Off;
  info.ipVersion = version;
  info.l4Off = l4 - off;
  info.hdrLen = hdrLen;
  info.payloadLen = payloadLen;
  const n = payloadLen === 0 ? 1 : Math.ceil(payloadLen / gsoSize);
  const stride = (hdrLen + gsoSize + 7) & ~7;
  if (n > lens.length || outOff + (n - 1) * stride + hdrLen + Math.min(gsoSize, payloadLen) > out.length) {
    return E_SPACE;
  }
  const ipHdrLen = l4 - ip;
  const l4Rel = l4 - off;
  const ipRel = l3Off;
  // Pseudo-header addresses, summed once (RFC 9293 3.1, RFC 8200 8.1).
  const addrSum = version === 4 ? sumBytes(frame, ip + 12, 8, 0) : sumBytes(frame, ip + 8, 32, 0);
  const id0 = version === 4 ? be16(frame, ip + 4) : 0;
  const seq0 = tcp ? ((frame[l4 + 4] << 24) | (frame[l4 + 5] << 16) | (frame[l4 + 6] << 8) | frame[l4 + 7]) >>> 0 : 0;
  const flags0 = tcp ? frame[l4 + 13] : 0;
  let data = l4 + l4Len;
  let o = outOff;
  for (let i = 0; i < n; i++) {
    const seg = i === n - 1 ? payloadLen - i * gsoSize : gsoSize;
    // Headers, then payload (short copies by loop: `set` costs more than a header's bytes).
    for (let k = 0; k < hdrLen; k++) out[o + k] = frame[off + k];
    out.set(frame.subarray(data, data + seg), o + hdrLen);
    const segIp = o + ipRel;
    const segL4 = o + l4Rel;
    const l4Total = l4Len + seg;
    if (version === 4) {
      put16(out, segIp + 2, ipHdrLen + l4Total);
      put16(out, segIp + 4, (id0 + i) & 0xffff);
      put16(out, segIp + 10, 0);
      const hs = ipHdrLen === 20 ? sumHeader20(out, segIp) : sumBytes(out, segIp, ipHdrLen, 0);
      put16(out, segIp + 10, finish(hs));
    } else {
      put16(out, segIp + 4, l4Total);
    }
    let check: number;
    if (tcp) {
      const s = (seq0 + i * gsoSize) >>> 0;
      out[segL4 + 4] = s >>> 24;
      out[segL4 + 5] = (s >>> 16) & 0xff;
      out[segL4 + 6] = (s >>> 8) & 0xff;
      out[segL4 + 7] = s & 0xff;
      let f = flags0;
      if (i !== n - 1) f &= ~(TCP_FIN | TCP_PSH);
      if (i !== 0) f &= ~TCP_CWR;
      out[segL4 + 13] = f;
      check = 16;
    } else {
      put16(out, segL4 + 4, l4Total);
      check = 6;
    }
    put16(out, segL4 + check, 0);
    const sum = sumBytes(out, segL4, l4Total, addrSum + proto + l4Total);
    const c = finish(sum);
    put16(out, segL4 + check, c === 0 && !tcp ? 0xffff : c);
    lens[i] = hdrLen + seg;
    data += seg;
    o += stride;
  }
  return n;
}

/** True when the transport checksum of an IP packet at `b[ip, ip + ipLen)` verifies (tests, tools). */
export function transportChecksumOk(b: Uint8Array, ip: number): boolean {
  const version = b[ip] >> 4;
  if (version === 4) {
    const ihl = (b[ip] & 0x0f) * 4;
    const l4Len = be16(b, ip + 2) - ihl;
    return fold(sumBytes(b, ip + ihl, l4Len, sumBytes(b, ip + 12, 8, 0) + b[ip + 9] + l4Len)) === 0xffff;
  }
  const l4Len = be16(b, ip + 4);
  return fold(sumBytes(b, ip + 40, l4Len, sumBytes(b, ip + 8, 32, 0) + b[ip + 6] + l4Len)) === 0xffff;
}
