/**
 * The Internet checksum: RFC 1071 (computation), RFC 1624 (incremental update), and the
 * pseudo-headers of RFC 768 / RFC 9293 (IPv4) and RFC 8200 section 8.1 (IPv6).
 *
 * Sums are kept unfolded in a JS number (ones' complement addition is associative, so words can be
 * added as plain integers and folded once at the end); `Number` holds 2^53 exactly, so any packet up
 * to 2^20 32-bit words at a time sums without overflow. No copies.
 */

/**
 * One `DataView` per backing store, cached for the last store seen: the checksum of a packet and of
 * the reply serialized into the same buffer reuse it, so the hot path allocates nothing. (A
 * `DataView` over the whole store, not one per field: V8 compiles `getUint32` to a load and a byte
 * swap, four bytes a step, which a byte loop cannot match.)
 */
let cachedStore: ArrayBufferLike | null = null;
let cachedView: DataView | null = null;

function storeView(b: Uint8Array): DataView {
  const store = b.buffer;
  if (store !== cachedStore || cachedView === null) {
    cachedStore = store;
    cachedView = new DataView(store);
  }
  return cachedView;
}

/**
 * Add the bytes `b[off, off + len)` to the running sum `acc`, as big-endian 16-bit words; an odd
 * final byte is padded with zero (RFC 1071 section 4.1). Pieces summed separately must each start
 * at an even offset of the checksummed data, except the last.
 *
 * Big-endian 32-bit words are added whole: a 32-bit word is congruent to the sum of its two 16-bit
 * halves modulo 0xffff (2^16 = 1), so folding at the end gives the same ones' complement sum.
 */
export function sumBytes(b: Uint8Array, off: number, len: number, acc = 0): number {
  let s = acc;
  let i = off;
  const end = off + len;
  if (len >= 128) {
    const dv = storeView(b);
    const base = b.byteOffset;
    let j = base + off;
    const stop = base + end - 15;
    while (j < stop) {
      s += dv.getUint32(j) + dv.getUint32(j + 4) + dv.getUint32(j + 8) + dv.getUint32(j + 12);
      j += 16;
    }
    i = j - base;
  }
  // Remaining bytes (and short ranges, where a DataView lookup costs more than it saves): even
  // bytes are high halves, odd bytes low halves.
  let hi = 0;
  let lo = 0;
  const end8 = end - 7;
  while (i < end8) {
    hi += b[i] + b[i + 2] + b[i + 4] + b[i + 6];
    lo += b[i + 1] + b[i + 3] + b[i + 5] + b[i + 7];
    i += 8;
  }
  const end2 = end - 1;
  while (i < end2) {
    hi += b[i];
    lo += b[i + 1];
    i += 2;
  }
  if (i < end) hi += b[i];
  return s + hi * 256 + lo;
}

/** Fold a running sum to 16 bits (ones' complement end-around carry). */
export function fold(acc: number): number {
  let s = acc;
  // Values beyond 32 bits: fold with division (bit ops would truncate).
  while (s > 0xffffffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** The checksum field value for a finished sum: the ones' complement of the folded sum. */
export function finish(acc: number): number {
  return ~fold(acc) & 0xffff;
}

/** Checksum of a byte range alone (IPv4 header, ICMPv4). */
export function checksum(b: Uint8Array, off: number, len: number): number {
  return finish(sumBytes(b, off, len, 0));
}

/**
 * True when the range, which contains its own checksum field, sums to 0xffff (RFC 1071: a correct
 * checksum makes the ones' complement sum of everything all ones).
 */
export function verify(b: Uint8Array, off: number, len: number, acc = 0): boolean {
  return fold(sumBytes(b, off, len, acc)) === 0xffff;
}

/** Sum of an IPv4 pseudo-header (RFC 9293 section 3.1, RFC 768): addresses, protocol, length. */
export function pseudoV4(src: number, dst: number, proto: number, len: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + len;
}

/** Sum of an IPv6 pseudo-header (RFC 8200 section 8.1): addresses, upper-layer length, next header. */
export function pseudoV6(src: Uint8Array, dst: Uint8Array, proto: number, len: number): number {
  let s = proto + (len >>> 16) + (len & 0xffff);
  for (let i = 0; i < 16; i += 2) s += ((src[i] << 8) | src[i + 1]) + ((dst[i] << 8) | dst[i + 1]);
  return s;
}

/**
 * RFC 1624 eqn. 3: the new checksum after a 16-bit word of the covered data changes from `oldWord`
 * to `newWord`: HC' = ~(~HC + ~m + m').
 */
export function update16(check: number, oldWord: number, newWord: number): number {
  const s = (~check & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  return ~fold(s) & 0xffff;
}

/** RFC 1624 for a 32-bit field (two words), e.g. an IPv4 address rewritten by NAT. */
export function update32(check: number, oldValue: number, newValue: number): number {
  return update16(update16(check, oldValue >>> 16, newValue >>> 16), oldValue & 0xffff, newValue & 0xffff);
}

/**
 * Pseudo-header sum for either IP version: IPv4 addresses are numbers, IPv6 addresses 16-byte arrays.
 * Transport builders and parsers take addresses this way so they are written once for both versions.
 */
export function pseudoSum(src: number | Uint8Array, dst: number | Uint8Array, proto: number, len: number): number {
  return typeof src === "number"
    ? pseudoV4(src, dst as number, proto, len)
    : pseudoV6(src, dst as Uint8Array, proto, len);
}
