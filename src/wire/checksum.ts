/**
 * The Internet checksum: RFC 1071 (computation), RFC 1624 (incremental update), and the
 * pseudo-headers of RFC 768 / RFC 9293 (IPv4) and RFC 8200 section 8.1 (IPv6).
 *
 * Sums are kept unfolded in a JS number (ones' complement addition is associative, so words can be
 * added as plain integers and folded once at the end); `Number` holds 2^53 exactly, so any packet up
 * to 2^20 32-bit words at a time sums without overflow. No copies.
 */

/**
 * Typed arrays use the platform's byte order (little-endian on every engine Node runs on; checked
 * rather than assumed).
 */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Weight of a byte at an even / odd absolute store offset in a native 16-bit word. */
const EVEN_WEIGHT = LITTLE_ENDIAN ? 1 : 256;
const ODD_WEIGHT = LITTLE_ENDIAN ? 256 : 1;

/** Ranges shorter than this are summed byte by byte (headers): aligning costs more than it saves. */
const WORDS_MIN = 64;
/**
 * Words summed before the running double is folded: 2^20 words of at most 2^32 each stay far
 * below 2^53 (exact).
 */
const CHUNK_WORDS = 1 << 20;

/**
 * `Uint32Array`s over whole backing stores, cached for the last two stores seen, and the last
 * `Uint8Array` seen with its `byteOffset` and words: the checksum of a packet and of the reply
 * serialized into the same buffer reuse them, so the hot path allocates nothing and skips the
 * `buffer` / `byteOffset` getters (each costs more than summing 40 bytes). Two stores, because a
 * host that sends from one buffer and receives into another alternates between them every
 * segment: one entry would make a new word view twice per segment. A word-array load is a plain
 * load: no `DataView` call and no byte swap per word.
 */
let storeA: ArrayBufferLike | null = null;
let wordsA: Uint32Array = new Uint32Array(0);
let storeB: ArrayBufferLike | null = null;
let wordsB: Uint32Array = new Uint32Array(0);
let lastBytes: Uint8Array | null = null;
let lastByteOffset = 0;
let lastWords: Uint32Array = wordsA;
/** The `Uint8Array` seen before the last one (the other side of a send / receive alternation). */
let prevBytes: Uint8Array | null = null;
let prevByteOffset = 0;
let prevWords: Uint32Array = wordsA;

/** Point the last-seen entry at `b`, whose range up to `b[end]` will be summed. */
function rebind(b: Uint8Array, end: number): void {
  if (b === prevBytes && prevWords.length >= (prevByteOffset + end) >>> 2) {
    prevBytes = lastBytes;
    lastBytes = b;
    const o = prevByteOffset;
    prevByteOffset = lastByteOffset;
    lastByteOffset = o;
    const w = prevWords;
    prevWords = lastWords;
    lastWords = w;
    return;
  }
  prevBytes = lastBytes;
  prevByteOffset = lastByteOffset;
  prevWords = lastWords;
  const store = b.buffer;
  const need = (b.byteOffset + end) >>> 2;
  // A resizable store may have grown since the view was made: re-make it when it is too short.
  if (store === storeA && wordsA.length >= need) {
    lastWords = wordsA;
  } else if (store === storeB && wordsB.length >= need) {
    // Most recently used first.
    storeB = storeA;
    const w = wordsB;
    wordsB = wordsA;
    storeA = store;
    wordsA = w;
    lastWords = w;
  } else {
    if (store !== storeA) {
      storeB = storeA;
      wordsB = wordsA;
    }
    storeA = store;
    wordsA = new Uint32Array(store, 0, store.byteLength >>> 2);
    lastWords = wordsA;
  }
  lastBytes = b;
  lastByteOffset = b.byteOffset;
}

/**
 * Sum of `b[off, off + len)` (len >= WORDS_MIN) as big-endian 16-bit words, folded to 16 bits.
 *
 * RFC 1071 section 2(B), byte-order independence: the ones' complement sum of byte-swapped words
 * is the byte-swapped sum. So the range is summed as native 32-bit words of the backing store
 * (aligned loads, no swap per word), pairing bytes by their absolute offset in the store; the
 * folded result is swapped once at the end when that pairing differs from the packet's (the
 * packet's even bytes are high halves). A 32-bit word is congruent to the sum of its 16-bit
 * halves modulo 0xffff (2^16 = 1), so whole words can be added as plain numbers: sixteen at a
 * time in a tree of independent additions (V8 adds them as 64-bit integers, their sum being a safe
 * integer, and converts once per sixteen), into a double that stays exact below 2^53.
 */
function sumWords(b: Uint8Array, off: number, len: number): number {
  if (b !== lastBytes || lastWords.length < (lastByteOffset + off + len) >>> 2) rebind(b, off + len);
  const abs = lastByteOffset + off;
  const end = off + len;
  const words = lastWords;
  // Head: the bytes before the first 4-byte-aligned store offset.
  const head = (4 - (abs & 3)) & 3;
  let even = 0;
  let odd = 0;
  for (let k = 0; k < head; k++) {
    if (((abs + k) & 1) === 0) even += b[off + k];
    else odd += b[off + k];
  }
  let i = (abs + head) >>> 2;
  const n = (len - head) >>> 2;
  const stop = i + n;
  let total = 0;
  while (i < stop) {
    const chunkEnd = stop - i > CHUNK_WORDS ? i + CHUNK_WORDS : stop;
    const end16 = chunkEnd - 15;
    let x = 0;
    // Sixteen words in a tree of independent additions: V8 adds 32-bit words as 64-bit integers
    // (the sum of sixteen is a safe integer) and converts once per iteration.
    while (i < end16) {
      x +=
        words[i] +
        words[i + 1] +
        (words[i + 2] + words[i + 3]) +
        (words[i + 4] + words[i + 5] + (words[i + 6] + words[i + 7])) +
        (words[i + 8] +
          words[i + 9] +
          (words[i + 10] + words[i + 11]) +
          (words[i + 12] + words[i + 13] + (words[i + 14] + words[i + 15])));
      i += 16;
    }
    const end4 = chunkEnd - 3;
    while (i < end4) {
      x += words[i] + words[i + 1] + (words[i + 2] + words[i + 3]);
      i += 4;
    }
    while (i < chunkEnd) x += words[i++];
    total += fold(x);
  }
  // Tail: the bytes after the last whole word.
  for (let k = head + (n << 2); off + k < end; k++) {
    if (((abs + k) & 1) === 0) even += b[off + k];
    else odd += b[off + k];
  }
  const f = fold(total + even * EVEN_WEIGHT + odd * ODD_WEIGHT);
  // The packet's pairing puts its first byte high; the native pairing put the byte at an even
  // store offset low (little-endian) or high (big-endian). Swap when the two disagree.
  return LITTLE_ENDIAN === ((abs & 1) === 0) ? ((f & 0xff) << 8) | (f >>> 8) : f;
}

/**
 * Add the bytes `b[off, off + len)` to the running sum `acc`, as big-endian 16-bit words; an odd
 * final byte is padded with zero (RFC 1071 section 4.1). Pieces summed separately must each start
 * at an even offset of the checksummed data, except the last. The result is unfolded (any
 * non-negative number congruent to the sum modulo 0xffff, zero only when every byte is zero).
 */
export function sumBytes(b: Uint8Array, off: number, len: number, acc = 0): number {
  // Two small functions rather than one large one, so the short path inlines into parsers.
  return len >= WORDS_MIN ? acc + sumWords(b, off, len) : sumShort(b, off, len, acc);
}

/** `sumBytes` for short ranges (headers), byte by byte. */
function sumShort(b: Uint8Array, off: number, len: number, acc: number): number {
  // Short ranges: even bytes are high halves, odd bytes low halves; sixteen bytes a step, then
  // four, then two (fewer loop trips than a step of eight for the 20-40 byte headers summed here).
  let hi = 0;
  let lo = 0;
  let i = off;
  const end = off + len;
  const end16 = end - 15;
  while (i < end16) {
    hi += b[i] + b[i + 2] + (b[i + 4] + b[i + 6]) + (b[i + 8] + b[i + 10] + (b[i + 12] + b[i + 14]));
    lo += b[i + 1] + b[i + 3] + (b[i + 5] + b[i + 7]) + (b[i + 9] + b[i + 11] + (b[i + 13] + b[i + 15]));
    i += 16;
  }
  const end4 = end - 3;
  while (i < end4) {
    hi += b[i] + b[i + 2];
    lo += b[i + 1] + b[i + 3];
    i += 4;
  }
  if (i < end - 1) {
    hi += b[i];
    lo += b[i + 1];
    i += 2;
  }
  if (i < end) hi += b[i];
  return acc + hi * 256 + lo;
}

/**
 * Unfolded sum of the 20 bytes at `b[off]` (an IPv4 header without options, a TCP header without
 * options) as big-endian 16-bit words: straight-line code, no loop. The caller checks the bounds.
 */
export function sumHeader20(b: Uint8Array, off: number): number {
  const o = off;
  const hi =
    b[o] +
    b[o + 2] +
    (b[o + 4] + b[o + 6]) +
    (b[o + 8] + b[o + 10] + (b[o + 12] + b[o + 14])) +
    (b[o + 16] + b[o + 18]);
  const lo =
    b[o + 1] +
    b[o + 3] +
    (b[o + 5] + b[o + 7]) +
    (b[o + 9] + b[o + 11] + (b[o + 13] + b[o + 15])) +
    (b[o + 17] + b[o + 19]);
  return hi * 256 + lo;
}

/** Fold a running sum to 16 bits (ones' complement end-around carry). */
export function fold(acc: number): number {
  let s = acc;
  // Values beyond 32 bits: split with a multiplication by 2^-16, exact in doubles (bit ops would
  // truncate, and `%` on doubles is a slow library call).
  while (s > 0xffffffff) {
    const h = Math.floor(s * (1 / 0x10000));
    s = s - h * 0x10000 + h;
  }
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

/**
 * `pseudoV4` with the addresses read from the IPv4 header at `b[ipOff]` (source at 12, destination
 * at 16), as 16-bit words: no 32-bit address values. (An address of 128.0.0.0 or above is not a
 * small integer to V8: passed between functions that are not inlined together it is boxed, one
 * heap allocation per read. Receive paths use this form.) The header must have been parsed.
 */
export function pseudoV4At(b: Uint8Array, ipOff: number, proto: number, len: number): number {
  const o = ipOff + 12;
  return (
    ((b[o] << 8) | b[o + 1]) +
    ((b[o + 2] << 8) | b[o + 3]) +
    (((b[o + 4] << 8) | b[o + 5]) + ((b[o + 6] << 8) | b[o + 7])) +
    proto +
    len
  );
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
