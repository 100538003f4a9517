/**
 * Real-time bindings for Node.js: the core's `Bindings` (context.ts) on a monotonic clock, one host
 * timer and real links.
 *
 * - Clock: `performance.now()` (monotonic, milliseconds with fractions).
 * - Timers: the core asks for one wake-up at a time; we keep exactly one `setTimeout` for it. The
 *   timer holds the event loop open only while something is referenced (an open socket, a
 *   listening server, a pending ping): `ref()` / `unref()` count those, as Node's own handles do.
 * - Frames out: `sendFrame` hands the bytes to the device's link synchronously (links copy or write
 *   before returning, as the contract requires).
 * - Frames in: links deliver batches; each frame is fed to the core, then the events the whole
 *   batch caused are delivered at once, synchronously, before `receive` returns (so the
 *   applications' reactions, such as reading the data and opening the window, go out in the same
 *   event-loop turn). The same after a timer wake-up.
 * - Events: the core must not be re-entered from inside an entry point, so events are queued and
 *   delivered after the entry point has returned, in order: right after the batch or timer for
 *   entry points this host drives, in a microtask for socket calls made by applications.
 * - Clock during a batch: the core reads `now()` many times per frame; while a batch or a timer
 *   runs it gets the time the batch started (as a kernel's per-softirq timestamp), one clock read
 *   per batch.
 * - Random: `crypto.getRandomValues` in blocks.
 */
import { getRandomValues } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Bindings, DeviceId, EntryPoints, StackEvent } from "../context.ts";
import type { Buf } from "../packet/buf.ts";

/** A settled promise: `.then(fn)` queues a microtask without queueMicrotask's per-call AsyncResource. */
const settled = Promise.resolve();

/** Where a device's outgoing frames go. */
export interface FrameSink {
  /** Transmit `len` bytes of `bytes` at `off`; copy or write them before returning. */
  send(bytes: Uint8Array, off: number, len: number): void;
}

/** Real-time `Bindings`. Create it, construct the Stack with it, then `attach(stack)`. */
export class NodeBindings implements Bindings {
  private core: EntryPoints | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private refs = 0;
  private readonly sinks = new Map<DeviceId, FrameSink>();
  private readonly events: StackEvent[] = [];
  private flushQueued = false;
  private flushing = false;
  private readonly listeners = new Set<(ev: StackEvent) => void>();
  private readonly randomPool = new Uint32Array(256);
  private randomNext = 256;
  private closed = false;
  /** > 0 while an entry point this host drives (a frame batch, a timer) runs. */
  private depth = 0;
  /** The clock reading of the running batch (valid while `depth > 0`). */
  private batchNow = 0;
  /** Event deliveries so far (each may hold many events): for benchmarks and tests. */
  flushes = 0;
  /** Host timer wake-ups that ran the core's timers: for benchmarks and tests. */
  wakeups = 0;
  /** Frames the core sent to a device without a link (counted, dropped). */
  droppedNoLink = 0;

  /** Connect the core whose entry points this host drives. */
  attach(core: EntryPoints): void {
    this.core = core;
  }

  /** Route a device's outgoing frames to `sink` (null detaches). */
  setSink(device: DeviceId, sink: FrameSink | null): void {
    if (sink === null) this.sinks.delete(device);
    else this.sinks.set(device, sink);
  }

  /** Listen to every event of the core (delivered asynchronously, in order). Returns an unsubscribe. */
  subscribe(fn: (ev: StackEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Keep the process alive while the core has timers (one more referenced user). */
  ref(): void {
    this.refs++;
    if (this.refs === 1) this.timer?.ref();
  }

  /** Drop one referenced user. */
  unref(): void {
    if (this.refs === 0) return;
    this.refs--;
    if (this.refs === 0) this.timer?.unref();
  }

  /**
   * Feed frames received on `device` to the core, then deliver the events they caused (before
   * returning). The frames go in as one batch (`receiveFrames`: TCP answers them with cumulative
   * ACKs). Called by links' batch callbacks, never from inside the core.
   */
  receive(device: DeviceId, frames: readonly Buf[]): void {
    const core = this.core;
    if (core === null || this.closed) return;
    this.enter();
    try {
      if (core.receiveFrames !== undefined) core.receiveFrames(device, frames);
      else for (let i = 0; i < frames.length; i++) core.receiveFrame(device, frames[i]);
    } finally {
      this.leave();
    }
  }

  /** Events waiting for delivery. */
  get pendingEvents(): number {
    return this.events.length;
  }

  /** Stop the host timer and event delivery. */
  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  // --- Bindings ---

  now(): number {
    return this.depth > 0 ? this.batchNow : performance.now();
  }

  scheduleTimer(at: number): void {
    if (this.closed) return;
    if (this.timer !== null) {
      if (at === this.timerAt) return;
      clearTimeout(this.timer);
    }
    this.timerAt = at;
    const delay = Math.max(0, Math.ceil(at - performance.now()));
    this.timer = setTimeout(this.fire, delay);
    if (this.refs === 0) this.timer.unref();
  }

  cancelTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  sendFrame(device: DeviceId, frame: Buf): void {
    const sink = this.sinks.get(device);
    if (sink === undefined) {
      this.droppedNoLink++;
      return;
    }
    sink.send(frame.bytes, frame.start, frame.end - frame.start);
  }

  onEvent(event: StackEvent): void {
    this.events.push(event);
    // Inside a batch or timer: `leave()` delivers. Otherwise (a socket call): once it returned.
    if (this.depth > 0 || this.flushQueued) return;
    this.flushQueued = true;
    settled.then(this.flush);
  }

  random(): number {
    if (this.randomNext === this.randomPool.length) {
      getRandomValues(this.randomPool);
      this.randomNext = 0;
    }
    return this.randomPool[this.randomNext++];
  }

  private readonly fire = (): void => {
    this.timer = null;
    if (this.core === null || this.closed) return;
    // libuv measures timeouts from its cached loop time, so a timer may fire a little before the
    // monotonic clock reaches the deadline: wait out the rest rather than wake the core early.
    const now = performance.now();
    if (now < this.timerAt) {
      this.timer = setTimeout(this.fire, Math.max(1, Math.ceil(this.timerAt - now)));
      if (this.refs === 0) this.timer.unref();
      return;
    }
    this.timerAt = Infinity;
    this.wakeups++;
    this.enter();
    try {
      this.core.handleTimers(now);
    } finally {
      this.leave();
    }
  };

  private enter(): void {
    if (this.depth++ === 0) this.batchNow = performance.now();
  }

  private leave(): void {
    if (--this.depth === 0 && this.events.length > 0) this.flush();
  }

  /**
   * Deliver queued events, in order, until none is left. Listeners may call into the core (no
   * entry point is running): the events those calls cause are delivered in the same loop, after
   * the ones already queued.
   */
  private readonly flush = (): void => {
    this.flushQueued = false;
    const events = this.events;
    // A flush already running (further up this call stack) delivers these too.
    if (events.length === 0 || this.flushing) return;
    this.flushing = true;
    this.flushes++;
    let i = 0;
    try {
      for (; i < events.length; i++) {
        const ev = events[i];
        for (const fn of this.listeners) {
          try {
            fn(ev);
          } catch (err) {
            queueMicrotask(() => {
              throw err;
            });
          }
        }
      }
    } finally {
      // Normally every event was delivered; keep any left (only if a listener set threw past us).
      events.splice(0, i);
      this.flushing = false;
    }
  };
}
