/**
 * Links: where a device's Ethernet frames go and come from. Every link (Linux TAP, QEMU stream
 * socket, in-memory pair, pcapng capture wrapper) implements `Link`:
 *
 * - `send(frame)` or `send(bytes, off, len)`: transmit one frame. The link copies or writes the
 *   bytes before returning, so the caller may reuse its buffer at once. Never throws on a full
 *   queue or a closed link: the frame is dropped and counted in `stats.txDropped`.
 * - `onFrames(callback)`: frames received arrive in batches, asynchronously (never from inside
 *   `send`). The frames are the receiver's to keep and modify (fresh memory the link never
 *   reuses); the batch array itself is only valid during the call.
 * - `pause()` / `resume()`: backpressure. While paused no callback runs; frames wait in the link's
 *   own queue (or the kernel's, for TAP) and are dropped when it overflows, as a full NIC ring would.
 * - `close()`: release the link; idempotent. `onClose` callbacks learn why (null = closed by us).
 */

/** Counters every link keeps. */
export interface LinkStats {
  /** Frames / bytes handed to the medium by `send`. */
  txFrames: number;
  txBytes: number;
  /** Frames `send` dropped (link closed, queue full, frame too large, write error). */
  txDropped: number;
  /** Frames / bytes delivered to the `onFrames` callback. */
  rxFrames: number;
  rxBytes: number;
  /** Frames received but dropped (queue overflow while paused or without a callback). */
  rxDropped: number;
}

/** Called with a batch of received frames. */
export type FramesCallback = (frames: readonly Uint8Array[]) => void;

/** The interface all links implement. */
export interface Link {
  /** A short name for logs and captures (e.g. "tap0", "mem0"). */
  readonly name: string;
  /** Largest frame (Ethernet header included, FCS excluded) the link carries. */
  readonly maxFrameLen: number;
  readonly stats: LinkStats;
  /** True once `close()` was called or the medium went away. */
  readonly closed: boolean;
  /** Transmit one frame (copied or written before returning). */
  send(frame: Uint8Array): void;
  send(bytes: Uint8Array, off: number, len: number): void;
  /** Set the receiver of frame batches (replaces the previous one; null detaches). */
  onFrames(callback: FramesCallback | null): void;
  /**
   * Optional: with `true`, frames are only lent to the callback: their memory may be reused for later
   * frames once the callback returns, so the receiver copies whatever it keeps (the core does, for
   * buffers marked `borrowed`). Saves allocating and collecting frame memory. Default false: frames
   * are the receiver's to keep.
   */
  lendFrames?(on: boolean): void;
  /** Stop delivering frames until `resume()`. */
  pause(): void;
  resume(): void;
  /** Learn when the link closes: `error` is null when `close()` was called, else why it closed. */
  onClose(callback: (error: Error | null) => void): void;
  /** Close the link. Resolves once its resources are released. */
  close(): Promise<void>;
}

/** Fresh zeroed counters. */
export function newLinkStats(): LinkStats {
  return { txFrames: 0, txBytes: 0, txDropped: 0, rxFrames: 0, rxBytes: 0, rxDropped: 0 };
}

/** Normalize the two `send` forms to `(bytes, off, len)`, checking the range. */
export function sendRange(bytes: Uint8Array, off: number | undefined, len: number | undefined): [number, number] {
  const o = off ?? 0;
  const n = len ?? bytes.length - o;
  if (!Number.isInteger(o) || !Number.isInteger(n) || o < 0 || n < 0 || o + n > bytes.length) {
    throw new RangeError(`link send: range [${o}, ${o + n}) outside 0..${bytes.length}`);
  }
  return [o, n];
}

/** Bytes of each slab `FrameSlab` cuts frames from. */
const SLAB_BYTES = 256 * 1024;

/**
 * Fresh frame memory without one allocation per frame: frames are cut from a slab (one
 * ArrayBuffer holds ~170 full-size frames, as a NIC's receive ring does) and a slab is never
 * reused: a new one is taken when it is full, and the old one lives as long as any frame cut from
 * it. Each frame starts on an 8-byte boundary.
 */
export class FrameSlab {
  private slab = new Uint8Array(0);
  private off = 0;

  constructor(private readonly slabBytes = SLAB_BYTES) {}

  /** `len` bytes of fresh memory (zeroed or not: the caller writes every byte). */
  take(len: number): Uint8Array {
    if (this.slab.length - this.off < len) {
      this.slab = new Uint8Array(Math.max(this.slabBytes, len));
      this.off = 0;
    }
    const f = this.slab.subarray(this.off, this.off + len);
    this.off += (len + 7) & ~7;
    return f;
  }

  /** A fresh copy of `bytes[off, off + len)`. */
  copy(bytes: Uint8Array, off: number, len: number): Uint8Array {
    const f = this.take(len);
    f.set(off === 0 && len === bytes.length ? bytes : bytes.subarray(off, off + len));
    return f;
  }
}

/**
 * Shared receive side for links implemented in JavaScript: a bounded queue of frames, batch
 * delivery on `setImmediate` (so a busy pair of stacks never starves the event loop's I/O), pause
 * and resume, close callbacks.
 */
export abstract class BaseLink implements Link {
  readonly stats: LinkStats = newLinkStats();
  closed = false;
  /** Batches delivered to the `onFrames` callback. */
  batches = 0;
  private callback: FramesCallback | null = null;
  private readonly closeCallbacks: ((error: Error | null) => void)[] = [];
  private queue: Uint8Array[] = [];
  private paused = false;
  private scheduled: NodeJS.Immediate | null = null;

  constructor(
    readonly name: string,
    readonly maxFrameLen: number,
    /** Frames kept while paused or before a callback is set; more are dropped. */
    readonly queueLimit: number,
  ) {}

  abstract send(frame: Uint8Array): void;
  abstract send(bytes: Uint8Array, off: number, len: number): void;

  onFrames(callback: FramesCallback | null): void {
    this.callback = callback;
    this.schedule();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.schedule();
  }

  onClose(callback: (error: Error | null) => void): void {
    if (this.closed) queueMicrotask(() => callback(null));
    else this.closeCallbacks.push(callback);
  }

  close(): Promise<void> {
    this.finish(null);
    return Promise.resolve();
  }

  /** Frames currently waiting for delivery. */
  get queued(): number {
    return this.queue.length;
  }

  /** Queue a received frame the link owns (no copy) for delivery. */
  protected deliver(frame: Uint8Array): void {
    if (this.closed) return;
    if (this.queue.length >= this.queueLimit) {
      this.stats.rxDropped++;
      return;
    }
    this.queue.push(frame);
    this.schedule();
  }

  /** Mark the link closed, drop queued frames and tell the close callbacks (once). */
  protected finish(error: Error | null): void {
    if (this.closed) return;
    this.closed = true;
    if (this.scheduled !== null) clearImmediate(this.scheduled);
    this.scheduled = null;
    this.stats.rxDropped += this.queue.length;
    this.queue = [];
    this.callback = null;
    const cbs = this.closeCallbacks.splice(0, this.closeCallbacks.length);
    for (const cb of cbs) cb(error);
  }

  private schedule(): void {
    if (this.scheduled !== null || this.paused || this.callback === null || this.queue.length === 0) return;
    this.scheduled = setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.scheduled = null;
    const cb = this.callback;
    if (this.paused || cb === null || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    let bytes = 0;
    for (let i = 0; i < batch.length; i++) bytes += batch[i].length;
    this.stats.rxFrames += batch.length;
    this.stats.rxBytes += bytes;
    this.batches++;
    cb(batch);
    // Frames that arrived during the callback go in the next turn.
    this.schedule();
  };
}

/** Options of `memoryLinkPair`. */
export interface MemoryLinkOptions {
  /** Names of the two ends (default "mem0", "mem1"). */
  names?: [string, string];
  /** Largest frame carried; larger ones are dropped at `send` (default 1514: Ethernet, MTU 1500). */
  maxFrameLen?: number;
  /** Frames each end keeps for its receiver while paused (default 1024). */
  queueLimit?: number;
}

/** One end of an in-memory pair. */
export class MemoryLink extends BaseLink {
  /** The other end (set by `memoryLinkPair`). */
  peer: MemoryLink | null = null;
  private readonly slab = new FrameSlab();

  send(frame: Uint8Array): void;
  send(bytes: Uint8Array, off: number, len: number): void;
  send(bytes: Uint8Array, off?: number, len?: number): void {
    const [o, n] = sendRange(bytes, off, len);
    const peer = this.peer;
    if (this.closed || peer === null || peer.closed || n > this.maxFrameLen) {
      this.stats.txDropped++;
      return;
    }
    this.stats.txFrames++;
    this.stats.txBytes += n;
    // The contract: copy before returning. The copy becomes the receiver's own frame.
    peer.deliver(this.slab.copy(bytes, o, n));
  }
}

/** Two links joined back to back: what one sends, the other receives. No root needed. */
export function memoryLinkPair(options: MemoryLinkOptions = {}): [MemoryLink, MemoryLink] {
  const [na, nb] = options.names ?? ["mem0", "mem1"];
  const max = options.maxFrameLen ?? 1514;
  const limit = options.queueLimit ?? 1024;
  const a = new MemoryLink(na, max, limit);
  const b = new MemoryLink(nb, max, limit);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
