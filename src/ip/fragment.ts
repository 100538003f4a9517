/**
 * Fragmentation of outgoing datagrams.
 * RFC 791 section 3.2 ("Fragmentation and Reassembly": fragment data in multiples of 8 octets, the
 * copy flag of options), RFC 1812 section 5.2.6 (routers fragmenting forwarded datagrams),
 * RFC 8200 section 4.5 (IPv6 source fragmentation with a Fragment header), RFC 7112 (the first
 * fragment carries the whole header chain).
 *
 * Each fragment is a new `Buf` holding one complete IP packet with `prefix` free bytes before it
 * (room for the link header) and `suffix` after (room for link padding). The original packet is
 * read, never modified. Fragmentation is the slow path (a copy per fragment); a packet that fits
 * its MTU never comes here.
 */

import { Buf } from "../packet/buf.ts";
import { checksum } from "../wire/checksum.ts";
import { IpProto } from "../wire/ipproto.ts";
import { IPV6_FRAG_HEADER_LEN, writeFragHeader } from "../wire/ipv6-ext.ts";

const FLAG_DF = 0x40;
const FLAG_MF = 0x20;

/**
 * The options of an IPv4 header that must be copied into every fragment (RFC 791: the copy flag,
 * the high bit of the option type), padded to a multiple of 4 bytes.
 */
function copiedOptions(b: Uint8Array, off: number, len: number): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < len) {
    const t = b[off + i];
    if (t === 0) break;
    if (t === 1) {
      i++;
      continue;
    }
    if (i + 1 >= len) break;
    const l = b[off + i + 1];
    if (l < 2 || i + l > len) break;
    if (t & 0x80) for (let k = 0; k < l; k++) out.push(b[off + i + k]);
    i += l;
  }
  while (out.length & 3) out.push(0);
  return Uint8Array.from(out);
}

/**
 * Split the IPv4 packet at `bytes[off, off + len)` (a parsed, valid packet whose DF bit the caller
 * has already checked) into fragments of at most `mtu` bytes, calling `emit` with each in order.
 * Returns the number of fragments, or 0 when `mtu` cannot carry 8 bytes of data.
 */
export function fragmentIpv4(
  bytes: Uint8Array,
  off: number,
  len: number,
  mtu: number,
  prefix: number,
  suffix: number,
  emit: (frag: Buf) => void,
): number {
  const hl = (bytes[off] & 0x0f) * 4;
  const ff = (bytes[off + 6] << 8) | bytes[off + 7];
  const baseOffset = (ff & 0x1fff) * 8;
  const lastMore = (ff & 0x2000) !== 0;
  const rest = copiedOptions(bytes, off + 20, hl - 20);
  const hlRest = 20 + rest.length;
  // RFC 791: every fragment but the last carries a multiple of 8 octets of data.
  const firstMax = (mtu - hl) & ~7;
  const restMax = (mtu - hlRest) & ~7;
  if (firstMax < 8 || restMax < 8) return 0;
  const dataLen = len - hl;
  let pos = 0;
  let n = 0;
  while (pos < dataLen) {
    const first = pos === 0;
    const h = first ? hl : hlRest;
    const max = first ? firstMax : restMax;
    const chunk = Math.min(max, dataLen - pos);
    const more = pos + chunk < dataLen || lastMore;
    const frag = Buf.alloc(prefix, h + chunk, suffix);
    const b = frag.bytes;
    const o = frag.start;
    if (first) b.set(bytes.subarray(off, off + hl), o);
    else {
      b.set(bytes.subarray(off, off + 20), o);
      b.set(rest, o + 20);
      b[o] = 0x40 | (hlRest >>> 2);
    }
    const total = h + chunk;
    b[o + 2] = total >>> 8;
    b[o + 3] = total & 0xff;
    const fo = (baseOffset + pos) >>> 3;
    // RFC 791: DF stays as it was (it is clear here), MF is set on all but the last fragment.
    b[o + 6] = (bytes[off + 6] & FLAG_DF) | (more ? FLAG_MF : 0) | ((fo >>> 8) & 0x1f);
    b[o + 7] = fo & 0xff;
    b[o + 10] = 0;
    b[o + 11] = 0;
    const c = checksum(b, o, h);
    b[o + 10] = c >>> 8;
    b[o + 11] = c & 0xff;
    b.set(bytes.subarray(off + hl + pos, off + hl + pos + chunk), o + h);
    emit(frag);
    n++;
    pos += chunk;
  }
  return n;
}

/**
 * Split the IPv6 packet at `bytes[off, off + len)`, which has no extension headers of its own (the
 * packets this stack originates), into fragments of at most `mtu` bytes with identification `id`
 * (RFC 8200 4.5). Returns the number of fragments, or 0 when `mtu` is below 56.
 */
export function fragmentIpv6(
  bytes: Uint8Array,
  off: number,
  len: number,
  mtu: number,
  id: number,
  prefix: number,
  suffix: number,
  emit: (frag: Buf) => void,
): number {
  const unfrag = 40;
  const next = bytes[off + 6];
  const max = (mtu - unfrag - IPV6_FRAG_HEADER_LEN) & ~7;
  if (max < 8) return 0;
  const dataLen = len - unfrag;
  let pos = 0;
  let n = 0;
  while (pos < dataLen) {
    const chunk = Math.min(max, dataLen - pos);
    const more = pos + chunk < dataLen;
    const frag = Buf.alloc(prefix, unfrag + IPV6_FRAG_HEADER_LEN + chunk, suffix);
    const b = frag.bytes;
    const o = frag.start;
    b.set(bytes.subarray(off, off + unfrag), o);
    const plen = IPV6_FRAG_HEADER_LEN + chunk;
    b[o + 4] = plen >>> 8;
    b[o + 5] = plen & 0xff;
    b[o + 6] = IpProto.Ipv6Frag;
    writeFragHeader(b, o + unfrag, next, { id, offset: pos, more });
    b.set(bytes.subarray(off + unfrag + pos, off + unfrag + pos + chunk), o + unfrag + IPV6_FRAG_HEADER_LEN);
    emit(frag);
    n++;
    pos += chunk;
  }
  return n;
}
