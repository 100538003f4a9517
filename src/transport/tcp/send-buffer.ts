/**
 * The send buffer: bytes the application wrote that are not yet acknowledged (RFC 9293 3.3.1's
 * SND.UNA..SND.UNA+length), as a ring.
 *
 * Offsets are relative to SND.UNA: offset 0 is the oldest unacknowledged byte. `write` accepts what
 * fits (backpressure), `peek` copies without consuming for (re)transmission, `ack` frees. A
 * `SendSlice` is a `BodySource`, so a segment's payload is copied once, from this ring straight into
 * the outgoing packet buffer.
 *
 * The backing store grows by doubling up to `capacity` as data is written, so an idle connection
 * holds no buffer memory until it sends.
 */
import type { BodySource } from "../../packet/serialize.ts";
import { copyBytes } from "./bytes.ts";

const EMPTY = new Uint8Array(0);
/**
 * Smallest store allocated once data is written. V8 keeps typed arrays of up to 64 bytes on the JS
 * heap (cheap to allocate and collect); larger ones get an off-heap backing store, which costs about
 * a microsecond. A connection exchanging small messages thus never pays for one; the store doubles
 * as data needs it.
 */
const MIN_STORE = 64;

export class SendBuffer {
  private store: Uint8Array = EMPTY;
  /** Index of offset 0 (SND.UNA) in `store`. */
  private head = 0;
  private len = 0;
  private cap: number;

  constructor(capacity: number) {
    this.cap = checkCapacity(capacity);
  }

  /** Most bytes the buffer holds. */
  get capacity(): number {
    return this.cap;
  }

  /** Bytes held (written, not yet acknowledged). */
  get length(): number {
    return this.len;
  }

  /** Bytes `write` would accept now. */
  get free(): number {
    return this.cap - this.len;
  }

  /**
   * Change the capacity. It cannot drop below the bytes held; returns the capacity in effect.
   * (The store itself only grows when data needs it.)
   */
  setCapacity(capacity: number): number {
    this.cap = Math.max(checkCapacity(capacity), this.len);
    return this.cap;
  }

  /** Append up to `len` bytes of `data` from `off`. Returns the number accepted (0 when full). */
  write(data: Uint8Array, off = 0, len: number = data.length - off): number {
    const n = Math.min(len, this.cap - this.len);
    if (n <= 0) return 0;
    if (this.len + n > this.store.length) this.grow(this.len + n);
    const size = this.store.length;
    let at = this.head + this.len;
    if (at >= size) at -= size;
    const first = Math.min(n, size - at);
    copyBytes(this.store, at, data, off, first);
    if (first < n) copyBytes(this.store, 0, data, off + first, n - first);
    this.len += n;
    return n;
  }

  /**
   * Copy up to `len` bytes starting `offset` bytes after SND.UNA into `dst[dstOff]` without
   * consuming them. Returns the number copied (fewer when the buffer holds less).
   */
  peek(offset: number, len: number, dst: Uint8Array, dstOff = 0): number {
    const n = Math.min(len, this.len - offset);
    if (n <= 0 || offset < 0) return 0;
    const size = this.store.length;
    let at = this.head + offset;
    if (at >= size) at -= size;
    const first = Math.min(n, size - at);
    copyBytes(dst, dstOff, this.store, at, first);
    if (first < n) copyBytes(dst, dstOff + first, this.store, 0, n - first);
    return n;
  }

  /** Free `n` acknowledged bytes from the front (SND.UNA advanced by `n`). Returns the bytes freed. */
  ack(n: number): number {
    const k = Math.min(Math.max(n, 0), this.len);
    this.len -= k;
    if (this.len === 0) {
      this.head = 0;
    } else {
      this.head += k;
      if (this.head >= this.store.length) this.head -= this.store.length;
    }
    return k;
  }

  /** Drop everything (abort). Keeps the store. */
  clear(): void {
    this.head = 0;
    this.len = 0;
  }

  /**
   * A `BodySource` for the payload at `[offset, offset + len)` after SND.UNA, reusing `into` when
   * given (allocation-free on the per-segment path). `len` is clamped to what the buffer holds.
   */
  slice(offset: number, len: number, into?: SendSlice): SendSlice {
    const s = into ?? new SendSlice(this);
    s.buffer = this;
    s.offset = offset;
    s.length = Math.max(0, Math.min(len, this.len - offset));
    return s;
  }

  private grow(need: number): void {
    let size = Math.max(this.store.length, MIN_STORE);
    while (size < need) size *= 2;
    size = Math.min(size, this.cap);
    const next = new Uint8Array(size);
    this.peek(0, this.len, next, 0);
    this.store = next;
    this.head = 0;
  }
}

/**
 * A segment's payload inside a `SendBuffer`, as a `BodySource` for `BytesBody`: writing it copies
 * the bytes from the ring into the packet. Mutable so one instance serves every segment.
 */
export class SendSlice implements BodySource {
  offset = 0;
  length = 0;
  constructor(public buffer: SendBuffer) {}

  write(bytes: Uint8Array, off: number): void {
    this.buffer.peek(this.offset, this.length, bytes, off);
  }
}

function checkCapacity(c: number): number {
  if (!Number.isInteger(c) || c < 0) throw new RangeError(`bad buffer capacity ${c}`);
  return c;
}
