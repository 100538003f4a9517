/**
 * Input generation: random bytes, and stacked mutations of seeds (bit flips, byte sets,
 * truncation, extension, insertion and deletion, length-field lies at the target's known offsets,
 * option soup, duplicated chunks, splices with another seed), then, half the time, the target's
 * checksum fix-up so the mutant reaches the code after checksum verification. Everything is
 * drawn from one `Rng`: the same seed gives the same inputs.
 */
import type { Rng } from "../src/testing/rng.ts";
import type { FuzzTarget, LengthField } from "./target.ts";

/** Byte values that sit on boundaries parsers compare against. */
const INTERESTING8 = [0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x08, 0x0f, 0x10, 0x20, 0x3f, 0x40, 0x7f, 0x80, 0xfe, 0xff];
/** Mutated inputs stop growing here. */
const MAX_INPUT = 4096;

export const MUTATORS = [
  "bitflip",
  "byteset",
  "truncate",
  "extend",
  "insert",
  "delete",
  "lengthlie",
  "soup",
  "duplicate",
  "splice",
] as const;
export type Mutator = (typeof MUTATORS)[number];

/** Random bytes of random length up to `maxLen`. */
export function randomInput(rng: Rng, maxLen: number): Uint8Array {
  // Short inputs are where the boundary checks live: favour them.
  const n = rng.chance(0.5) ? rng.int(Math.min(64, maxLen) + 1) : rng.int(maxLen + 1);
  return rng.fill(new Uint8Array(n));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A length value near the boundaries of an input of `n` bytes with the field at `off`. */
function lie(rng: Rng, n: number, f: LengthField): number {
  const max = f.size === 1 ? 0xff : f.size === 2 ? 0xffff : 0xffffffff;
  const candidates = [0, 1, n - f.off - 1, n - f.off, n - f.off + 1, n, n + 1, n - 1, max, max >>> 1, rng.uint32()];
  const v = candidates[rng.int(candidates.length)];
  return Math.max(v, 0) % (max + 1);
}

function writeField(b: Uint8Array, f: LengthField, v: number): void {
  if (f.off < 0 || f.off + f.size > b.length) return;
  if (f.size === 1) {
    b[f.off] = v & 0xff;
    return;
  }
  for (let i = 0; i < f.size; i++) {
    const shift = 8 * (f.le ? i : f.size - 1 - i);
    b[f.off + i] = (v / 2 ** shift) & 0xff;
  }
}

/** Apply one mutation to `x` (which may be returned changed in place, or replaced). */
export function mutateOnce(
  rng: Rng,
  x: Uint8Array,
  m: Mutator,
  target: FuzzTarget,
  corpus: readonly Uint8Array[],
): Uint8Array {
  const n = x.length;
  switch (m) {
    case "bitflip": {
      if (n === 0) return x;
      const k = 1 + rng.int(4);
      for (let i = 0; i < k; i++) x[rng.int(n)] ^= 1 << rng.int(8);
      return x;
    }
    case "byteset": {
      if (n === 0) return x;
      x[rng.int(n)] = rng.chance(0.6) ? INTERESTING8[rng.int(INTERESTING8.length)] : rng.int(256);
      return x;
    }
    case "truncate":
      return n === 0 ? x : x.slice(0, rng.int(n));
    case "extend": {
      const add = rng.fill(new Uint8Array(1 + rng.int(64)));
      if (rng.chance(0.5)) add.fill(0);
      return n + add.length > MAX_INPUT ? x : concat(x, add);
    }
    case "insert": {
      const at = rng.int(n + 1);
      const add = rng.fill(new Uint8Array(1 + rng.int(16)));
      return n + add.length > MAX_INPUT ? x : concat(x.subarray(0, at), add, x.subarray(at));
    }
    case "delete": {
      if (n === 0) return x;
      const at = rng.int(n);
      const k = 1 + rng.int(Math.min(16, n - at));
      return concat(x.subarray(0, at), x.subarray(at + k));
    }
    case "lengthlie": {
      const fields = target.lengthFields?.(x) ?? [];
      if (fields.length === 0) return mutateOnce(rng, x, "byteset", target, corpus);
      const f = fields[rng.int(fields.length)];
      writeField(x, f, lie(rng, n, f));
      return x;
    }
    case "soup":
      return target.soup !== undefined ? target.soup(rng, x) : mutateOnce(rng, x, "bitflip", target, corpus);
    case "duplicate": {
      if (n === 0) return x;
      const from = rng.int(n);
      const k = 1 + rng.int(Math.min(64, n - from));
      const at = rng.int(n + 1);
      const chunk = x.slice(from, from + k);
      return n + k > MAX_INPUT ? x : concat(x.subarray(0, at), chunk, x.subarray(at));
    }
    case "splice": {
      if (corpus.length === 0 || n === 0) return x;
      const other = corpus[rng.int(corpus.length)];
      if (other.length === 0) return x;
      const at = rng.int(n);
      const from = rng.int(other.length);
      return concat(x.subarray(0, at), other.subarray(from));
    }
  }
}

/** A mutant of `seed` (not changed): 1 to 4 stacked mutations, then the fix-up half the time. */
export function mutate(rng: Rng, seed: Uint8Array, target: FuzzTarget, corpus: readonly Uint8Array[]): Uint8Array {
  let x: Uint8Array = seed.slice();
  const k = 1 + rng.int(4);
  for (let i = 0; i < k; i++) {
    const m = MUTATORS[rng.int(MUTATORS.length)];
    x = mutateOnce(rng, x, m, target, corpus);
  }
  if (target.fixup !== undefined && rng.chance(0.5)) target.fixup(x);
  return x;
}

/**
 * The next input for a target: a mutant of a corpus entry (80%), fresh option soup (10%, when the
 * target has it) or random bytes.
 */
export function nextInput(rng: Rng, target: FuzzTarget, corpus: readonly Uint8Array[]): Uint8Array {
  const r = rng.int(10);
  if (r < 8 && corpus.length > 0) return mutate(rng, corpus[rng.int(corpus.length)], target, corpus);
  if (r === 8 && target.soup !== undefined) {
    const x = target.soup(rng, null);
    if (target.fixup !== undefined && rng.chance(0.7)) target.fixup(x);
    return x;
  }
  const x = randomInput(rng, target.maxLen);
  if (target.fixup !== undefined && rng.chance(0.5)) target.fixup(x);
  return x;
}
