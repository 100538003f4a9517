/**
 * Buf: a byte buffer with a body range, the seed design's `BufferAndRange`.
 *
 * The backing store is one `Uint8Array`. Bytes before `start` are the prefix (room for lower-layer
 * headers), bytes in `[start, end)` are the body, bytes from `end` are the suffix (room for footers
 * and minimum-body padding). Parsing a header moves `start` forward (the header joins the prefix);
 * serializing a header moves `start` back over the bytes it writes.
 *
 * No method throws on the packet path except the explicit bounds checks on misuse, which are
 * programming errors (`RangeError`), never a reaction to network input.
 */

export class Buf {
  /** The whole backing store. May be replaced by `ensure()` when it is too small. */
  bytes: Uint8Array;
  /** First byte of the body. */
  start: number;
  /** One past the last byte of the body. */
  end: number;
  /**
   * The backing store is only lent until the entry point it was given to returns (a link that reuses
   * its frame memory, `Link.lendFrames`): whatever keeps the buffer, its bytes or a view of them past
   * that calls `own(buf)` first. False for buffers the stack may keep (the default).
   */
  borrowed: boolean;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    if (start < 0 || end < start || end > bytes.length) {
      throw new RangeError(`Buf range [${start}, ${end}) outside 0..${bytes.length}`);
    }
    this.bytes = bytes;
    this.start = start;
    this.end = end;
    this.borrowed = false;
  }

  /** A zero-filled buffer with `prefix` bytes before a `body`-byte body and `suffix` bytes after. */
  static alloc(prefix: number, body: number, suffix = 0): Buf {
    return new Buf(new Uint8Array(prefix + body + suffix), prefix, prefix + body);
  }

  /** A buffer whose body is a copy of `data`, with room around it. */
  static from(data: Uint8Array, prefix = 0, suffix = 0): Buf {
    const b = Buf.alloc(prefix, data.length, suffix);
    b.bytes.set(data, prefix);
    return b;
  }

  /** Body length. */
  get length(): number {
    return this.end - this.start;
  }

  /** Bytes available before the body. */
  get prefixLen(): number {
    return this.start;
  }

  /** Bytes available after the body. */
  get suffixLen(): number {
    return this.bytes.length - this.end;
  }

  /** The body as a view into the backing store (no copy). */
  body(): Uint8Array {
    return this.bytes.subarray(this.start, this.end);
  }

  /** Set the body range. */
  setRange(start: number, end: number): this {
    if (start < 0 || end < start || end > this.bytes.length) {
      throw new RangeError(`Buf range [${start}, ${end}) outside 0..${this.bytes.length}`);
    }
    this.start = start;
    this.end = end;
    return this;
  }

  /**
   * Take `n` bytes off the front of the body (a header being parsed). Returns the offset of the
   * taken bytes, or -1 when the body is shorter than `n` (nothing changes then).
   */
  takeFront(n: number): number {
    if (n < 0 || this.end - this.start < n) return -1;
    const at = this.start;
    this.start += n;
    return at;
  }

  /** Take `n` bytes off the back of the body (a footer). Returns their offset, or -1. */
  takeBack(n: number): number {
    if (n < 0 || this.end - this.start < n) return -1;
    this.end -= n;
    return this.end;
  }

  /** Shrink the body to its first `n` bytes (e.g. cut link-layer padding). */
  truncate(n: number): this {
    if (n < 0) throw new RangeError("negative length");
    if (n < this.end - this.start) this.end = this.start + n;
    return this;
  }

  /** Grow the body into the prefix by `n` bytes (a header about to be written there). */
  growFront(n: number): number {
    if (n < 0 || n > this.start) throw new RangeError(`growFront(${n}) with prefix ${this.start}`);
    this.start -= n;
    return this.start;
  }

  /** Grow the body into the suffix by `n` bytes without touching them. Returns their offset. */
  growBack(n: number): number {
    if (n < 0 || this.end + n > this.bytes.length) {
      throw new RangeError(`growBack(${n}) with suffix ${this.bytes.length - this.end}`);
    }
    const at = this.end;
    this.end += n;
    return at;
  }

  /** Grow the body into the suffix by `n` zeroed bytes (padding). */
  growBackZero(n: number): number {
    const at = this.growBack(n);
    const b = this.bytes;
    // `fill` is a builtin call that costs more than zeroing a few bytes (Ethernet pads at most 46).
    if (n > 64) b.fill(0, at, at + n);
    else for (let i = at; i < at + n; i++) b[i] = 0;
    return at;
  }

  /**
   * Make sure at least `prefix` bytes precede the body and `suffix` bytes follow it. When the
   * current backing store has room the body stays where it is (no allocation); otherwise one new
   * store of exactly the needed size is allocated and the body copied into it (the seed's
   * `ensure_prefix_padding`). Returns true when it reallocated.
   */
  ensure(prefix: number, suffix: number): boolean {
    if (this.start >= prefix && this.bytes.length - this.end >= suffix) return false;
    const len = this.end - this.start;
    const next = new Uint8Array(prefix + len + suffix);
    next.set(this.bytes.subarray(this.start, this.end), prefix);
    this.bytes = next;
    this.start = prefix;
    this.end = prefix + len;
    this.borrowed = false;
    return true;
  }

  /**
   * Re-centre a buffer for a new packet: the body becomes empty at `prefix`, keeping the backing
   * store when it can hold `prefix + capacity` bytes. Used to serialize a reply into the buffer
   * a request arrived in. Returns true when it reallocated.
   */
  reset(prefix: number, capacity: number): boolean {
    if (this.bytes.length >= prefix + capacity) {
      this.start = prefix;
      this.end = prefix;
      return false;
    }
    this.bytes = new Uint8Array(prefix + capacity);
    this.start = prefix;
    this.end = prefix;
    this.borrowed = false;
    return true;
  }

  /** A copy of the body. */
  toBytes(): Uint8Array {
    return this.bytes.slice(this.start, this.end);
  }
}

/** Prefix bytes `own` keeps before the body: room for the link and IP headers written later. */
const OWN_PREFIX = 128;
/** Suffix bytes `own` keeps after the body: room for Ethernet's minimum-frame padding (46). */
const OWN_SUFFIX = 64;

/**
 * Make `buf` the stack's to keep: when it is `borrowed`, copy its body with up to 128 bytes of
 * prefix and 64 of suffix into a new backing store (one copy: a lent 1 MiB pool slab is never
 * copied whole) and clear the flag; a no-op for an owned buffer. Offsets into the old store are
 * stale afterwards: take views (and re-read `start` / `bytes`) after calling it. Returns `buf`.
 * Called at each place the core keeps a received buffer past its entry point (netstack3's
 * packet buffers: copy only what is kept).
 */
export function own(buf: Buf): Buf {
  if (!buf.borrowed) return buf;
  const b = buf.bytes;
  const lo = buf.start > OWN_PREFIX ? buf.start - OWN_PREFIX : 0;
  const hi = b.length - buf.end > OWN_SUFFIX ? buf.end + OWN_SUFFIX : b.length;
  buf.bytes = b.slice(lo, hi);
  buf.start -= lo;
  buf.end -= lo;
  buf.borrowed = false;
  return buf;
}
