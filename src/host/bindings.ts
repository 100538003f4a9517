/**
 * Real-time `Bindings` (src/context.ts) on any host, from a `HostPlatform` (platform.ts): the same
 * contract NodeBindings (src/node/bindings.ts) implements with Node's APIs, written once without
 * them so browsers, workers and Node can share it.
 *
 * - Clock: the platform's monotonic clock; while a batch of frames or a timer wake-up runs, the core
 *   gets the time the batch started (one clock read per batch, as a kernel's per-softirq stamp).
 * - Timers: the core asks for one wake-up at a time; one host timer serves it.
 * - Frames out: `sendFrame` hands the bytes to the device's sink synchronously (sinks copy).
 * - Frames in: links deliver batches; each batch is fed to the core (`receiveFrames` when present:
 *   TCP answers a batch with cumulative ACKs), then the events it caused are delivered before
 *   `receive` returns, so the application's reactions go out in the same task.
 * - Events: the core must not be re-entered from inside an entry point, so events are queued and
 *   delivered after it returned: at the end of the batch or timer, or in a microtask after a socket
 *   call made by an application.
 * - Random: `fillRandom` in blocks of 256 values.
 * No RFC: host plumbing.
 */
import type { Bindings, DeviceId, StackEvent } from "../context.ts";
import type { Buf } from "../packet/buf.ts";
import type { HostPlatform, TimerHandle } from "./platform.ts";

/** A settled promise: `.then(fn)` queues a microtask. */
const settled = Promise.resolve();

/** The entry points of the core this host drives (the Stack implements them). */
export interface CoreEntry {
  receiveFrame(device: DeviceId, frame: Buf): void;
  receiveFrames?(device: DeviceId, frames: readonly Buf[]): void;
  handleTimers(now: number): void;
}

/** Where a device's outgoing frames go. */
export interface FrameSink {
  /** Transmit `len` bytes of `bytes` at `off`; copy or write them before returning. */
  send(bytes: Uint8Array, off: number, len: number): void;
}

export class HostBindings implements Bindings {
  private core: CoreEntry | null = null;
  private timer: TimerHandle | null = null;
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
  private depth = 0;
  private batchNow = 0;
  /** Event deliveries so far (each may hold many events). */
  flushes = 0;
  /** Host timer wake-ups that ran the core's timers. */
  wakeups = 0;
  /** Frames the core sent to a device without a sink (counted, dropped). */
  droppedNoLink = 0;

  constructor(readonly platform: HostPlatform) {}

  attach(core: CoreEntry): void {
    this.core = core;
  }

  setSink(device: DeviceId, sink: FrameSink | null): void {
    if (sink === null) this.sinks.delete(device);
    else this.sinks.set(device, sink);
  }

  /** Listen to every event of the core (delivered after the entry point, in order). */
  subscribe(fn: (ev: StackEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** One more user that wants the host timer to keep the process alive (where that means anything). */
  ref(): void {
    if (++this.refs === 1 && this.timer !== null) this.platform.refTimer?.(this.timer, true);
  }

  unref(): void {
    if (this.refs === 0) return;
    if (--this.refs === 0 && this.timer !== null) this.platform.refTimer?.(this.timer, false);
  }

  /** Feed a batch of frames received on `device` to the core, then deliver the events they caused. */
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

  get pendingEvents(): number {
    return this.events.length;
  }

  /** Stop the host timer and event delivery. */
  close(): void {
    this.closed = true;
    this.cancelTimer();
  }

  // --- Bindings ---

  now(): number {
    return this.depth > 0 ? this.batchNow : this.platform.now();
  }

  scheduleTimer(at: number): void {
    if (this.closed) return;
    if (this.timer !== null) {
      if (at === this.timerAt) return;
      this.platform.clearTimer(this.timer);
    }
    this.timerAt = at;
    this.arm(at - this.platform.now());
  }

  cancelTimer(): void {
    if (this.timer !== null) this.platform.clearTimer(this.timer);
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
    if (this.depth > 0 || this.flushQueued) return;
    this.flushQueued = true;
    settled.then(this.flush);
  }

  random(): number {
    if (this.randomNext === this.randomPool.length) {
      this.platform.fillRandom(this.randomPool);
      this.randomNext = 0;
    }
    return this.randomPool[this.randomNext++];
  }

  private arm(delay: number): void {
    this.timer = this.platform.setTimer(this.fire, Math.max(0, Math.ceil(delay)));
    if (this.refs === 0) this.platform.refTimer?.(this.timer, false);
  }

  private readonly fire = (): void => {
    this.timer = null;
    if (this.core === null || this.closed || this.timerAt === Infinity) return;
    // Host timers may fire a little early by the monotonic clock: wait out the rest.
    const now = this.platform.now();
    if (now < this.timerAt) {
      this.arm(Math.max(1, this.timerAt - now));
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
    if (this.depth++ === 0) this.batchNow = this.platform.now();
  }

  private leave(): void {
    if (--this.depth === 0 && this.events.length > 0) this.flush();
  }

  /** Deliver queued events in order until none is left (listeners may call into the core). */
  private readonly flush = (): void => {
    this.flushQueued = false;
    const events = this.events;
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
            this.platform.reportError(err);
          }
        }
      }
    } finally {
      events.splice(0, i);
      this.flushing = false;
    }
  };
}
