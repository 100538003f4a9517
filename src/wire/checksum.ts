/**
 * The Internet checksum: RFC 1071 (computation), RFC 1624 (incremental update), and the
 * pseudo-headers of RFC 768 / RFC 9293 (IPv4) and RFC 8200 section 8.1 (IPv6).
 *
 * Sums are kept unfolded in a JS number (ones' complement addition is associative, so 16-bit words
 * can be added as plain integers and folded once at the end); `Number` holds 2^53 exactly, so any
 * packet up to 2^37 bytes sums without overflow. Words are read big-endian two bytes at a time,
 * unrolled, with no copies and no `DataView`.
 */

/**
 * Add the bytes `b[off, off + len)` to the running sum `acc`, as big-endian 16-bit words; an odd
 * final byte is padded with zero (RFC 1071 section 4.1). `off` parity matters only relative to the
 * other pieces summed: pieces must start on even offsets of the checksummed data, except the last.
 */
export function sumBytes(b: Uint8Array, off: number, len: number, acc = 0): number {
  let i = off;
  const end = off + len;
  const end16 = end - 15;
  let s = acc;
  // Sum even bytes and odd bytes separately: (hi << 8) + lo over many words, folded once.
  let hi = 0;
  let lo = 0;
  while (i < end16) {
    hi += b[i] + b[i + 2] + b[i + 4] + b[i + 6] + b[i + 8] + b[i + 10] + b[i + 12] + b[i + 14];
    lo += b[i + 1] + b[i + 3] + b[i + 5] + b[i + 7] + b[i + 9] + b[i + 11] + b[i + 13] + b[i + 15];
    i += 16;
  }
  const end2 = end - 1;
  while (i < end2) {
    hi += b[i];
    lo += b[i + 1];
    i += 2;
  }
  if (i < end) hi += b[i];
  s += hi * 256 + lo;
  return s;
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
