/**
 * Fragment chains of real frames for the whole-stack target: an Ethernet frame carrying an IPv4 or
 * IPv6 packet (no VLAN tag, no IPv6 extension headers needed) cut into IP fragments, well-formed
 * or hostile: tiny (8-byte) pieces, overlapping pieces with different bytes (RFC 5722 says drop
 * the IPv6 datagram), a last piece past 65535 bytes (the "ping of death" size), pieces out of order.
 * Headers are rewritten with valid lengths and IPv4 header checksums, so the chain reaches the
 * reassembler.
 */
import { checksum } from "../../src/wire/checksum.ts";

export const FragKind = { Plain: 0, Tiny: 1, Overlap: 2, Beyond: 3 } as const;
export type FragKind = (typeof FragKind)[keyof typeof FragKind];

const ETH = 14;

/** One piece: `[off, off + len)` of the IP payload, written with the given fragment offset and MF. */
interface Piece {
  off: number;
  len: number;
  fragOff: number;
  more: boolean;
  /** XOR the piece's bytes with this (0: unchanged): overlapping data that disagrees. */
  xor: number;
}

function pieces(payloadLen: number, kind: FragKind, size: number): Piece[] {
  const out: Piece[] = [];
  const step = kind === FragKind.Tiny ? 8 : Math.max(8, (size >> 3) << 3);
  for (let o = 0; o < payloadLen; o += step) {
    const len = Math.min(step, payloadLen - o);
    out.push({ off: o, len, fragOff: o, more: o + len < payloadLen, xor: 0 });
  }
  if (out.length === 0) out.push({ off: 0, len: 0, fragOff: 0, more: false, xor: 0 });
  if (kind === FragKind.Overlap && payloadLen >= 16) {
    // A second copy of the first half, shifted by 8 bytes, with different bytes.
    const half = Math.max(8, ((payloadLen >> 1) >> 3) << 3);
    out.splice(1, 0, { off: 8, len: Math.min(half, payloadLen - 8), fragOff: 8, more: true, xor: 0x5a });
  }
  if (kind === FragKind.Beyond) {
    // The last piece moved so that it ends past 65535 bytes of reassembled datagram.
    const last = out[out.length - 1];
    last.fragOff = 65528;
    last.more = false;
    if (out.length > 1) out[out.length - 2].more = true;
  }
  return out;
}

/**
 * Cut the IPv4 packet in `frame` into fragment frames (null when it is not a plain IPv4 frame or
 * has DF semantics we must not break: we clear DF). `size`: payload bytes per piece.
 */
export function fragmentV4(frame: Uint8Array, kind: FragKind, size = 64, id = 0x4242): Uint8Array[] | null {
  if (frame.length < ETH + 20 || frame[12] !== 0x08 || frame[13] !== 0x00) return null;
  const ihl = (frame[ETH] & 0x0f) * 4;
  const total = (frame[ETH + 2] << 8) | frame[ETH + 3];
  if (frame[ETH] >> 4 !== 4 || ihl < 20 || total < ihl || ETH + total > frame.length) return null;
  const hdr = frame.subarray(0, ETH + ihl);
  const body = frame.subarray(ETH + ihl, ETH + total);
  const out: Uint8Array[] = [];
  for (const p of pieces(body.length, kind, size)) {
    const f = new Uint8Array(hdr.length + p.len);
    f.set(hdr, 0);
    f.set(body.subarray(p.off, p.off + p.len), hdr.length);
    if (p.xor !== 0) for (let i = hdr.length; i < f.length; i++) f[i] ^= p.xor;
    const ip = ETH;
    const tl = ihl + p.len;
    f[ip + 2] = tl >> 8;
    f[ip + 3] = tl & 0xff;
    f[ip + 4] = id >> 8;
    f[ip + 5] = id & 0xff;
    const fo = (p.fragOff >> 3) & 0x1fff;
    f[ip + 6] = (p.more ? 0x20 : 0) | (fo >> 8);
    f[ip + 7] = fo & 0xff;
    f[ip + 10] = 0;
    f[ip + 11] = 0;
    const c = checksum(f, ip, ihl);
    f[ip + 10] = c >> 8;
    f[ip + 11] = c & 0xff;
    out.push(f);
  }
  return out;
}

/**
 * Cut the IPv6 packet in `frame` into fragment frames: a Fragment header (RFC 8200 4.5) inserted
 * right after the fixed header, carrying the original next header. Null when not IPv6.
 */
export function fragmentV6(frame: Uint8Array, kind: FragKind, size = 64, id = 0x42424242): Uint8Array[] | null {
  if (frame.length < ETH + 40 || frame[12] !== 0x86 || frame[13] !== 0xdd) return null;
  const plen = (frame[ETH + 4] << 8) | frame[ETH + 5];
  if (frame[ETH] >> 4 !== 6 || ETH + 40 + plen > frame.length) return null;
  const next = frame[ETH + 6];
  const hdr = frame.subarray(0, ETH + 40);
  const body = frame.subarray(ETH + 40, ETH + 40 + plen);
  const out: Uint8Array[] = [];
  for (const p of pieces(body.length, kind, size)) {
    const f = new Uint8Array(hdr.length + 8 + p.len);
    f.set(hdr, 0);
    const ip = ETH;
    f[ip + 6] = 44;
    const pl = 8 + p.len;
    f[ip + 4] = pl >> 8;
    f[ip + 5] = pl & 0xff;
    const fh = ETH + 40;
    f[fh] = next;
    f[fh + 1] = 0;
    const fo = ((p.fragOff >> 3) & 0x1fff) << 3;
    f[fh + 2] = fo >> 8;
    f[fh + 3] = (fo & 0xf8) | (p.more ? 1 : 0);
    f[fh + 4] = id >>> 24;
    f[fh + 5] = (id >>> 16) & 0xff;
    f[fh + 6] = (id >>> 8) & 0xff;
    f[fh + 7] = id & 0xff;
    f.set(body.subarray(p.off, p.off + p.len), fh + 8);
    if (p.xor !== 0) for (let i = fh + 8; i < f.length; i++) f[i] ^= p.xor;
    out.push(f);
  }
  return out;
}

/** Fragment an IPv4 or IPv6 frame; null when it is neither. */
export function fragmentFrame(frame: Uint8Array, kind: FragKind, size = 64, id = 0x4242): Uint8Array[] | null {
  return fragmentV4(frame, kind, size, id) ?? fragmentV6(frame, kind, size, id);
}
