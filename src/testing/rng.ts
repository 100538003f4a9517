/**
 * A small seeded PRNG for deterministic simulation: xoshiro128** 1.1 (Blackman & Vigna, 2018),
 * 128 bits of state, period 2^128 - 1, seeded from one 32-bit number through splitmix32. Not
 * cryptographic: it is for tests, fault injection and fake bindings only.
 */

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** A generator seeded from any number (its low 32 bits are used). */
  constructor(seed = 0) {
    let z = seed >>> 0;
    const next = (): number => {
      z = (z + 0x9e3779b9) >>> 0;
      let x = z;
      x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
      x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
      return (x ^ (x >>> 15)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A generator with the given raw state (not all zero), e.g. to check reference vectors. */
  static fromState(a: number, b: number, c: number, d: number): Rng {
    const r = new Rng();
    r.s0 = a >>> 0;
    r.s1 = b >>> 0;
    r.s2 = c >>> 0;
    r.s3 = d >>> 0;
    if ((r.s0 | r.s1 | r.s2 | r.s3) === 0) throw new RangeError("xoshiro state must not be all zero");
    return r;
  }

  /** The next uniformly random 32-bit unsigned integer. */
  uint32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.uint32() / 4294967296;
  }

  /** A uniform integer in [0, n), without modulo bias; 1 <= n <= 2^32. */
  int(n: number): number {
    if (!(n >= 1 && n <= 4294967296) || !Number.isInteger(n)) throw new RangeError(`int(${n})`);
    // Reject the top partial block of 2^32 so every residue is equally likely.
    const limit = 4294967296 - (4294967296 % n);
    let x = this.uint32();
    while (x >= limit) x = this.uint32();
    return x % n;
  }

  /** True with probability `p` (no draw when p <= 0 or p >= 1). */
  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.float() < p;
  }

  /** Fill `bytes` with random bytes. */
  fill(bytes: Uint8Array): Uint8Array {
    for (let i = 0; i < bytes.length; i += 4) {
      let x = this.uint32();
      for (let j = i; j < i + 4 && j < bytes.length; j++) {
        bytes[j] = x & 0xff;
        x >>>= 8;
      }
    }
    return bytes;
  }

  /** A new independent generator seeded from this one (advances this one by one draw). */
  fork(): Rng {
    return new Rng(this.uint32());
  }

  /** A copy that will produce the same sequence as this one from here on. */
  clone(): Rng {
    return Rng.fromState(this.s0, this.s1, this.s2, this.s3);
  }
}
