/**
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012), in pure TypeScript.
 *
 * The keyed hash behind RFC 6528 initial sequence numbers and RFC 4987 SYN cookies. 64-bit lanes are
 * kept as pairs of 32-bit halves so hashing allocates nothing and needs no BigInt.
 */

// Working state: four 64-bit lanes as (high, low) 32-bit halves, in a typed array: a uint32 kept in
// a module-level `let` is a heap number, and every store of one allocated. Module-level because
// hashing is synchronous and never re-entered.
const V0H = 0;
const V0L = 1;
const V1H = 2;
const V1L = 3;
const V2H = 4;
const V2L = 5;
const V3H = 6;
const V3L = 7;
const S = new Uint32Array(8);

/** `n` SipRounds on the state in `S` (its lanes held in locals meanwhile). */
function sipRounds(n: number): void {
  let v0h = S[V0H];
  let v0l = S[V0L];
  let v1h = S[V1H];
  let v1l = S[V1L];
  let v2h = S[V2H];
  let v2l = S[V2L];
  let v3h = S[V3H];
  let v3l = S[V3L];
  for (let r = 0; r < n; r++) {
    // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
    let l = (v0l + v1l) >>> 0;
    v0h = (v0h + v1h + (l < v0l ? 1 : 0)) >>> 0;
    v0l = l;
    let h = ((v1h << 13) | (v1l >>> 19)) >>> 0;
    l = ((v1l << 13) | (v1h >>> 19)) >>> 0;
    v1h = (h ^ v0h) >>> 0;
    v1l = (l ^ v0l) >>> 0;
    h = v0h;
    v0h = v0l;
    v0l = h;
    // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
    l = (v2l + v3l) >>> 0;
    v2h = (v2h + v3h + (l < v2l ? 1 : 0)) >>> 0;
    v2l = l;
    h = ((v3h << 16) | (v3l >>> 16)) >>> 0;
    l = ((v3l << 16) | (v3h >>> 16)) >>> 0;
    v3h = (h ^ v2h) >>> 0;
    v3l = (l ^ v2l) >>> 0;
    // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
    l = (v0l + v3l) >>> 0;
    v0h = (v0h + v3h + (l < v0l ? 1 : 0)) >>> 0;
    v0l = l;
    h = ((v3h << 21) | (v3l >>> 11)) >>> 0;
    l = ((v3l << 21) | (v3h >>> 11)) >>> 0;
    v3h = (h ^ v0h) >>> 0;
    v3l = (l ^ v0l) >>> 0;
    // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
    l = (v2l + v1l) >>> 0;
    v2h = (v2h + v1h + (l < v2l ? 1 : 0)) >>> 0;
    v2l = l;
    h = ((v1h << 17) | (v1l >>> 15)) >>> 0;
    l = ((v1l << 17) | (v1h >>> 15)) >>> 0;
    v1h = (h ^ v2h) >>> 0;
    v1l = (l ^ v2l) >>> 0;
    h = v2h;
    v2h = v2l;
    v2l = h;
  }
  S[V0H] = v0h;
  S[V0L] = v0l;
  S[V1H] = v1h;
  S[V1L] = v1l;
  S[V2H] = v2h;
  S[V2L] = v2l;
  S[V3H] = v3h;
  S[V3L] = v3l;
}

function le32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

function absorb(mh: number, ml: number): void {
  S[V3H] ^= mh;
  S[V3L] ^= ml;
  sipRounds(2);
  S[V0H] ^= mh;
  S[V0L] ^= ml;
}

/** A SipHash-2-4 key: 128 bits as four 32-bit words (k0 = bytes 0..7 little-endian, k1 = 8..15). */
export class SipHash {
  private readonly k0l: number;
  private readonly k0h: number;
  private readonly k1l: number;
  private readonly k1h: number;
  /** High 32 bits of the last result (the low 32 bits are the return value of `hash`). */
  hi = 0;

  /** From 16 key bytes (the paper's byte order). */
  static fromBytes(key: Uint8Array): SipHash {
    if (key.length !== 16) throw new RangeError("SipHash key must be 16 bytes");
    return new SipHash(le32(key, 0), le32(key, 4), le32(key, 8), le32(key, 12));
  }

  /** From a source of random 32-bit words (the stack's `Bindings.random`). */
  static fromRandom(random: () => number): SipHash {
    return new SipHash(random(), random(), random(), random());
  }

  /** `w0..w3` are the key's little-endian 32-bit words in order. */
  constructor(w0: number, w1: number, w2: number, w3: number) {
    this.k0l = w0 >>> 0;
    this.k0h = w1 >>> 0;
    this.k1l = w2 >>> 0;
    this.k1h = w3 >>> 0;
  }

  /**
   * Hash `bytes[off, off + len)`. Returns the low 32 bits of the 64-bit result; the high 32 bits
   * are left in `this.hi`. Allocates nothing.
   */
  hash(bytes: Uint8Array, off = 0, len: number = bytes.length - off): number {
    // "somepseudorandomlygeneratedbytes" as the paper's initialisation constants.
    S[V0H] = this.k0h ^ 0x736f6d65;
    S[V0L] = this.k0l ^ 0x70736575;
    S[V1H] = this.k1h ^ 0x646f7261;
    S[V1L] = this.k1l ^ 0x6e646f6d;
    S[V2H] = this.k0h ^ 0x6c796765;
    S[V2L] = this.k0l ^ 0x6e657261;
    S[V3H] = this.k1h ^ 0x74656462;
    S[V3L] = this.k1l ^ 0x79746573;
    const end = off + len;
    const full = off + (len & ~7);
    let o = off;
    for (; o < full; o += 8) absorb(le32(bytes, o + 4), le32(bytes, o));
    // Last block: the remaining 0..7 bytes, then the length modulo 256 in the top byte.
    let ml = 0;
    let mh = (len & 0xff) << 24;
    const rest = end - o;
    for (let i = 0; i < rest; i++) {
      if (i < 4) ml |= bytes[o + i] << (8 * i);
      else mh |= bytes[o + i] << (8 * (i - 4));
    }
    absorb(mh >>> 0, ml >>> 0);
    S[V2L] ^= 0xff;
    sipRounds(4);
    this.hi = (S[V0H] ^ S[V1H] ^ S[V2H] ^ S[V3H]) >>> 0;
    return (S[V0L] ^ S[V1L] ^ S[V2L] ^ S[V3L]) >>> 0;
  }

  /** The 64-bit result as 8 little-endian bytes at `out[outOff]` (the paper's output order). */
  digestInto(bytes: Uint8Array, off: number, len: number, out: Uint8Array, outOff = 0): void {
    const lo = this.hash(bytes, off, len);
    const hi = this.hi;
    for (let i = 0; i < 4; i++) {
      out[outOff + i] = (lo >>> (8 * i)) & 0xff;
      out[outOff + 4 + i] = (hi >>> (8 * i)) & 0xff;
    }
  }
}
