/**
 * Links on any host: the `Link` contract (the same shape as src/node/link.ts, so a Node link can be
 * added to a host stack and the other way round), a base class for links written in JavaScript that
 * queues received frames and delivers them in batches on the platform's `defer`, and an in-memory
 * pair of links (two stacks in one page). No RFC: a link carries whole Ethernet frames.
 *
 * - `send(bytes, off?, len?)`: transmit one frame, copied before returning. Never throws on a full
 *   queue or a closed link: the frame is dropped and counted in `stats.txDropped`.
 * - `onFrames(cb)`: received frames arrive in batches, never from inside `send`; they are the
 *   receiver's to keep (fresh memory); the batch array is valid only during the call.
 * - `pause()` / `resume()`: while paused frames wait in the link's bounded queue, then are dropped.
 * - `close()`: idempotent; `onClose` callbacks learn why (null: closed by us).
 */
import type { HostPlatform } from "./platform.ts";

export interface LinkStats {
  txFrames: number;
  txBytes: number;
  txDropped: number;
  rxFrames: number;
  rxBytes: number;
  rxDropped: number;
}

export type FramesCallback = (frames: readonly Uint8Array[]) => void;

export interface Link {
  readonly name: string;
  /** Largest frame (Ethernet header included, FCS excluded) the link carries. */
  readonly maxFrameLen: number;
  readonly stats: LinkStats;
  readonly closed: boolean;
  send(frame: Uint8Array): void;
  send(bytes: Uint8Array, off: number, len: number): void;
  onFrames(callback: FramesCallback | null): void;
  /** Optional: frames are only lent to the callback (their memory is reused after it returns). */
  lendFrames?(on: boolean): void;
  pause(): void;
  resume(): void;
  onClose(callback: (error: Error | null) => void): void;
  close(): Promise<void>;
}

export function newLinkStats(): LinkStats {
  return { txFrames: 0, txBytes: 0, txDropped: 0, rxFrames: 0, rxBytes: 0, rxDropped: 0 };
}

/** Normalize the two `send` forms to `[off, len]`, checking the range. */
export function sendRange(bytes: Uint8Array, off: number | undefined, len: number | undefined): [number, number] {
  const o = off ?? 0;
  const n = len ?? bytes.length - o;
  if (!Number.isInteger(o) || !Number.isInteger(n) || o < 0 || n < 0 || o + n > bytes.length) {
    throw new RangeError(`link send: range [${o}, ${o + n}) outside 0..${bytes.length}`);
  }
  return [o, n];
}

/**
 * The receive side shared by links written in JavaScript: a bounded queue of frames, batch delivery
 * in a later task (the platform's `defer`), pause and resume, close callbacks.
 */
export abstract class QueueLink implements Link {
  readonly stats: LinkStats = newLinkStats();
  closed = false;
  /** Batches delivered to the callback. */
  batches = 0;
  private callback: FramesCallback | null = null;
  private readonly closeCallbacks: ((error: Error | null) => void)[] = [];
  private queue: Uint8Array[] = [];
  private paused = false;
  private scheduled = false;

  constructor(
    readonly platform: HostPlatform,
    readonly name: string,
    readonly maxFrameLen: number,
    /** Frames kept while paused or before a callback is set; more are dropped (`rxDropped`). */
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
    if (this.closed) this.platform.defer(() => callback(null));
    else this.closeCallbacks.push(callback);
  }

  close(): Promise<void> {
    this.finish(null);
    return Promise.resolve();
  }

  /** Frames waiting for delivery. */
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
    this.stats.rxDropped += this.queue.length;
    this.queue = [];
    this.callback = null;
    for (const cb of this.closeCallbacks.splice(0)) cb(error);
  }

  private schedule(): void {
    if (this.scheduled || this.paused || this.callback === null || this.queue.length === 0) return;
    this.scheduled = true;
    this.platform.defer(this.flush);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const cb = this.callback;
    if (this.closed || this.paused || cb === null || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    let bytes = 0;
    for (let i = 0; i < batch.length; i++) bytes += batch[i].length;
    this.stats.rxFrames += batch.length;
    this.stats.rxBytes += bytes;
    this.batches++;
    cb(batch);
    this.schedule();
  };
}

/** Bytes of each slab frames are cut from (a slab is never reused; it lives while a frame does). */
const SLAB_BYTES = 256 * 1024;

/** One end of an in-memory pair: what it sends, the other end receives. */
export class PairLink extends QueueLink {
  peer: PairLink | null = null;
  private slab = new Uint8Array(0);
  private slabOff = 0;

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
    if (this.slab.length - this.slabOff < n) {
      this.slab = new Uint8Array(Math.max(SLAB_BYTES, n));
      this.slabOff = 0;
    }
    const f = this.slab.subarray(this.slabOff, this.slabOff + n);
    this.slabOff += (n + 7) & ~7;
    f.set(bytes.subarray(o, o + n));
    peer.deliver(f);
  }
}

export interface LinkPairOptions {
  names?: [string, string];
  /** Largest frame carried (default 1514: Ethernet with MTU 1500). */
  maxFrameLen?: number;
  /** Frames each end keeps while paused (default 1024). */
  queueLimit?: number;
}

/** Two links joined back to back. */
export function linkPair(platform: HostPlatform, options: LinkPairOptions = {}): [PairLink, PairLink] {
  const [na, nb] = options.names ?? ["mem0", "mem1"];
  const max = options.maxFrameLen ?? 1514;
  const limit = options.queueLimit ?? 1024;
  const a = new PairLink(platform, na, max, limit);
  const b = new PairLink(platform, nb, max, limit);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** Which way a frame went through an observed link. */
export type FrameDirection = "out" | "in";

/**
 * Wrap `link` so `onFrame` sees every frame sent and received (a view valid only during the call):
 * for frame logs and live frame lists. Everything else is the wrapped link's.
 */
export function observeLink(link: Link, onFrame: (dir: FrameDirection, frame: Uint8Array) => void): Link {
  const wrapped: Link = {
    get name() {
      return link.name;
    },
    get maxFrameLen() {
      return link.maxFrameLen;
    },
    get stats() {
      return link.stats;
    },
    get closed() {
      return link.closed;
    },
    send(bytes: Uint8Array, off?: number, len?: number): void {
      const [o, n] = sendRange(bytes, off, len);
      onFrame("out", bytes.subarray(o, o + n));
      link.send(bytes, o, n);
    },
    onFrames(cb: FramesCallback | null): void {
      link.onFrames(
        cb === null
          ? null
          : (frames) => {
              for (let i = 0; i < frames.length; i++) onFrame("in", frames[i]);
              cb(frames);
            },
      );
    },
    pause: () => link.pause(),
    resume: () => link.resume(),
    onClose: (cb) => link.onClose(cb),
    close: () => link.close(),
  };
  if (link.lendFrames !== undefined) wrapped.lendFrames = (on) => link.lendFrames?.(on);
  return wrapped;
}
