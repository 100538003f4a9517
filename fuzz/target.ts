/**
 * What a fuzz target is, and the invariant checks every parser target shares.
 *
 * A target takes one input (a byte string: for transport targets it starts with the addresses the
 * checksum needs, see `ctx.ts`) and returns null when every invariant held, or a one-line message
 * saying which broke. An exception escaping `run` is a finding too: the engine catches it.
 *
 * `checkParse` is the wire-view contract of CONTRIBUTING.md turned into checks:
 * - the parser reads only `bytes[off, off + len)`: the input is parsed twice, surrounded by guard
 *   bytes of two different values, and both parses must agree;
 * - after a successful parse no getter reads outside the view's `[off, off + len)`: every getter and
 *   payload method is evaluated, then every byte outside that range is overwritten and they are
 *   evaluated again; the two snapshots must be equal, and every returned subarray must lie inside;
 * - getters return no `NaN` or `undefined` (what a read past the end of a `Uint8Array` produces).
 */
import type { Rng } from "../src/testing/rng.ts";
import { ParseError } from "../src/wire/errors.ts";

/** A length field at a known offset of an input: a place to tell lies. */
export interface LengthField {
  /** Absolute offset in the input. */
  off: number;
  /** 1 (a byte or a nibble-packed byte), 2 or 4 bytes, big-endian unless `le`. */
  size: 1 | 2 | 4;
  le?: boolean;
}

/** One fuzz target: a parser (or the whole stack) and how to make and mutate its inputs. */
export interface FuzzTarget {
  readonly name: string;
  /** One line for `npm run fuzz -- --list` and the README. */
  readonly description: string;
  /** Seeds cut from real Ethernet frames (test/fixtures/*.pcap), in this target's input format. */
  seedsFromFrames(frames: readonly Uint8Array[]): Uint8Array[];
  /** Seeds built with the builders (deterministic from `rng`). */
  builtSeeds(rng: Rng): Uint8Array[];
  /** Where the input's length fields are (for length-field lies). */
  lengthFields?(input: Uint8Array): LengthField[];
  /** Recompute checksums in place so mutations get past checksum verification. */
  fixup?(input: Uint8Array): void;
  /** A structurally plausible input with random options ("option soup"), from `base` when given. */
  soup?(rng: Rng, base: Uint8Array | null): Uint8Array;
  /** Largest input worth generating from scratch. */
  readonly maxLen: number;
  /** Frames in one input (the whole-stack target feeds several); 1 when absent. */
  framesOf?(input: Uint8Array): number;
  /**
   * Generated inputs joined (with `join`) into one execution: for targets whose set-up is costly
   * (the live whole stack), so the host built per execution takes many inputs' frames.
   */
  readonly batch?: number;
  /** Join generated inputs into one (required with `batch`). */
  join?(inputs: readonly Uint8Array[]): Uint8Array;
  /** Run one input: null when every invariant held, else what broke. May throw (a finding). */
  run(input: Uint8Array): string | null;
}

/** Bytes placed around the input to catch reads outside it. */
const GUARD = 64;
const GUARD_A = 0x00;
const GUARD_B = 0xa5;
/** What every byte outside the view's range is overwritten with before the second snapshot. */
const SCRIBBLE = 0xff;

/** Methods of views that take no argument, read the packet and allocate at most a subarray. */
const METHODS = ["payload", "data", "quote", "quoted", "upper", "options", "redirected"];

const getterCache = new Map<object, string[]>();

/** Names of the getters on `v`'s prototype chain (cached per prototype). */
function gettersOf(v: object): string[] {
  const proto = Object.getPrototypeOf(v) as object;
  let names = getterCache.get(proto);
  if (names === undefined) {
    names = [];
    for (let p: object | null = proto; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
      for (const [k, d] of Object.entries(Object.getOwnPropertyDescriptors(p))) {
        if (d.get !== undefined && !names.includes(k)) names.push(k);
      }
    }
    names.sort();
    getterCache.set(proto, names);
  }
  return names;
}

export function hex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
  return s;
}

/** JSON with byte arrays as hex and bigints as decimal, for comparing reprs. */
export function stableJson(x: unknown): string {
  return JSON.stringify(x, (_k, v) => {
    if (v instanceof Uint8Array) return `hex:${hex(v)}`;
    if (typeof v === "bigint") return `${v}n`;
    return v;
  });
}

/** The view's range in its byte array: `[off, off + len)`. */
interface Ranged {
  bytes: Uint8Array;
  off: number;
  len: number;
}

/**
 * Evaluate every getter and payload method of `v`; returns the snapshot, or throws an Error naming
 * the getter that broke an invariant (a subarray outside the range, NaN, undefined).
 */
function snapshot(v: Ranged, extra: ((v: never) => unknown) | undefined): string {
  const parts: string[] = [];
  const lo = v.off;
  const hi = v.off + v.len;
  const rec = v as unknown as Record<string, unknown>;
  const note = (name: string, x: unknown): void => {
    if (x === undefined) throw new Error(`${name} returned undefined`);
    if (typeof x === "number" && Number.isNaN(x)) throw new Error(`${name} returned NaN`);
    if (x instanceof Uint8Array) {
      if (x.buffer === v.bytes.buffer) {
        const s = x.byteOffset - v.bytes.byteOffset;
        if (s < lo || s + x.length > hi) {
          throw new Error(`${name} returned bytes [${s}, ${s + x.length}) outside the view [${lo}, ${hi})`);
        }
      }
      parts.push(`${name}=${hex(x)}`);
    } else if (x === null || typeof x !== "object") {
      parts.push(`${name}=${String(x)}`);
    }
  };
  for (const g of gettersOf(v)) {
    let x: unknown;
    try {
      x = rec[g];
    } catch (e) {
      throw new Error(`getter ${g} threw: ${(e as Error).message}`);
    }
    note(g, x);
  }
  for (const m of METHODS) {
    const f = rec[m];
    if (typeof f !== "function") continue;
    let x: unknown;
    try {
      x = (f as () => unknown).call(v);
    } catch (e) {
      throw new Error(`${m}() threw: ${(e as Error).message}`);
    }
    note(`${m}()`, x);
  }
  if (extra !== undefined) parts.push(stableJson(extra(v as never)));
  return parts.join(" ");
}

/** How many `checkParse` calls accepted their input (reset by the engine per target): coverage at a glance. */
export const parseStats = { ok: 0 };

function place(data: Uint8Array, fill: number): Uint8Array {
  const b = new Uint8Array(GUARD + data.length + GUARD).fill(fill);
  b.set(data, GUARD);
  return b;
}

function outcome(r: unknown): string {
  return r instanceof ParseError ? `error ${r.layer}: ${r.reason}` : "ok";
}

/** A successful `checkParse`: the view over a private copy of the input, and the copy. */
export interface Parsed<V> {
  view: V;
  /** The bytes the view points into (the input surrounded by guards). */
  bytes: Uint8Array;
  /** Where the input starts in `bytes`. */
  off: number;
}

/**
 * The zero-allocation parse path: re-point a kept view (`view.parseFrom(bytes, off, len, ...ctx)`).
 * `key` names the kind of view (one kept view per key).
 */
export interface Reuse<V> {
  key: string;
  parseInto: (view: V, bytes: Uint8Array, off: number, len: number) => ParseError | null;
}

/** The views kept for the reuse check, by `Reuse.key`: each has parsed earlier inputs. */
const kept = new Map<string, Ranged>();

/**
 * Parse `data` with `parse(bytes, off, len)` under the view contract (see the file comment).
 * Returns the error string of a broken invariant, the parse error (a `ParseError`, not a finding),
 * or the view over a private copy of the input (guard fill 0) for further checks. `inspect` adds
 * more to the snapshot (toRepr). With `reuse`, a view kept from earlier inputs is re-pointed at
 * this one too and must agree with the fresh parse: same outcome, same getters (no state left
 * over from the packet it held before).
 */
export function checkParse<V extends Ranged>(
  data: Uint8Array,
  parse: (bytes: Uint8Array, off: number, len: number) => V | ParseError,
  inspect?: (v: V) => unknown,
  reuse?: Reuse<V>,
): string | ParseError | Parsed<V> {
  const a = place(data, GUARD_A);
  const b = place(data, GUARD_B);
  const ra = parse(a, GUARD, data.length);
  const rb = parse(b, GUARD, data.length);
  if (outcome(ra) !== outcome(rb)) {
    return `parse read outside its input: ${outcome(ra)} with guard 0x00, ${outcome(rb)} with guard 0xa5`;
  }
  const old = reuse !== undefined ? (kept.get(reuse.key) as V | undefined) : undefined;
  let rr: ParseError | null = null;
  if (reuse !== undefined && old !== undefined) {
    rr = reuse.parseInto(old, b, GUARD, data.length);
    if (outcome(rr ?? old) !== outcome(ra)) {
      return `a reused view disagrees with a fresh parse: ${outcome(rr ?? old)} after parseFrom, ${outcome(ra)} fresh`;
    }
  }
  if (ra instanceof ParseError) return ra;
  if (reuse !== undefined && old === undefined) kept.set(reuse.key, rb as V);
  const va = ra as V;
  if (va.bytes !== a) return "the view does not point into the parsed bytes";
  if (va.off < GUARD || va.len < 0 || va.off + va.len > GUARD + data.length) {
    return `view range [${va.off - GUARD}, ${va.off - GUARD + va.len}) outside the input of ${data.length} bytes`;
  }
  const ex = inspect as ((v: never) => unknown) | undefined;
  let s1: string;
  let s2: string;
  let sb: string;
  try {
    s1 = snapshot(va, ex);
    sb = snapshot(rb as V, ex);
  } catch (e) {
    return (e as Error).message;
  }
  if (s1 !== sb) return `getters differ with the guard bytes changed: a read outside the input`;
  if (old !== undefined) {
    let so: string;
    try {
      so = snapshot(old, ex);
    } catch (e) {
      return `reused view: ${(e as Error).message}`;
    }
    if (so !== sb) return `a reused view reads differently from a fresh one: ${firstDiff(sb, so)}`;
  }
  // Overwrite everything outside the view's range (guards and trimmed padding), read again.
  const saved = a.slice();
  a.fill(SCRIBBLE, 0, va.off);
  a.fill(SCRIBBLE, va.off + va.len);
  try {
    s2 = snapshot(va, ex);
  } catch (e) {
    return (e as Error).message;
  }
  a.set(saved);
  if (s1 !== s2) return `getters read outside the view's range: ${firstDiff(s1, s2)}`;
  parseStats.ok++;
  return { view: va, bytes: a, off: GUARD };
}

function firstDiff(x: string, y: string): string {
  const xs = x.split(" ");
  const ys = y.split(" ");
  for (let i = 0; i < xs.length; i++) {
    if (xs[i] !== ys[i]) return `${xs[i]?.slice(0, 80)} then ${ys[i]?.slice(0, 80)}`;
  }
  return "(snapshots differ in length)";
}

/**
 * Compare `got` with `want` after clearing don't-care bits: `mask` lists `[offset, bits]` pairs
 * whose set bits are ignored (reserved bits a builder writes as zero, checksums that have two
 * valid encodings). Returns null or where they differ.
 */
export function compareMasked(
  want: Uint8Array,
  got: Uint8Array,
  mask: readonly (readonly [number, number])[] = [],
): string | null {
  if (want.length !== got.length) return `length ${got.length}, want ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    let m = 0xff;
    for (const [o, bits] of mask) if (o === i) m &= ~bits;
    if ((want[i] & m) !== (got[i] & m)) {
      return `byte ${i} is 0x${got[i].toString(16)}, want 0x${want[i].toString(16)}`;
    }
  }
  return null;
}

/** Compare two reprs as stable JSON; null or a message naming both. */
export function compareReprs(what: string, a: unknown, b: unknown): string | null {
  const x = stableJson(a);
  const y = stableJson(b);
  return x === y ? null : `${what} repr changed by the round trip: ${x.slice(0, 300)} then ${y.slice(0, 300)}`;
}
