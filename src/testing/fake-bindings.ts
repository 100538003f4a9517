/**
 * FakeBindings: the core's `Bindings` for tests (after netstack3's FakeBindingsCtx and gVisor's
 * faketime). A virtual clock that moves only when told, the single pending wake-up, every frame sent
 * (device, a copy of the bytes, time) and every event recorded, and a seeded `random()`.
 *
 * Alone, a test drives one host with `advanceTo(t, host)`; inside a `FakeNetwork` the network owns
 * the clock and the wake-ups (`onWake`) and routes the frames (`onFrame`).
 */
import type { Bindings, DeviceId, EntryPoints, StackEvent } from "../context.ts";
import type { Buf } from "../packet/buf.ts";
import { Rng } from "./rng.ts";

/** A virtual clock that several bindings can share. */
export class FakeClock {
  constructor(
    /** Current virtual time in ms. */
    public now = 0,
  ) {}
}

/** A frame the core sent. */
export interface SentFrame {
  device: DeviceId;
  /** A copy of the frame's bytes, taken when it was sent. */
  bytes: Uint8Array;
  /** Virtual time of sending. */
  time: number;
}

export interface FakeBindingsOptions {
  /** Seed of `random()` (default 0). */
  seed?: number;
  /** A clock shared with other bindings; default a new one at `start`. */
  clock?: FakeClock;
  /** Initial time of a new clock (default 0). */
  start?: number;
  /** Called for each sent frame with a copy of its bytes (the copy is also recorded). */
  onFrame?: (device: DeviceId, bytes: Uint8Array, time: number) => void;
  /** Called whenever the pending wake-up changes (`Infinity` = none). */
  onWake?: (at: number) => void;
  /** Keep sent frames and events in `frames` / `events` (default true). */
  record?: boolean;
}

export class FakeBindings implements Bindings {
  readonly clock: FakeClock;
  readonly rng: Rng;
  /** The pending wake-up requested by the core, `Infinity` when none. */
  wakeAt = Infinity;
  /** How many times the core called `scheduleTimer` / `cancelTimer`. */
  scheduleCalls = 0;
  cancelCalls = 0;
  /** Frames sent, oldest first (when recording). */
  readonly frames: SentFrame[] = [];
  /** Events emitted, oldest first (when recording). */
  readonly events: StackEvent[] = [];
  private readonly onFrame: FakeBindingsOptions["onFrame"];
  private readonly onWake: FakeBindingsOptions["onWake"];
  private readonly record: boolean;

  constructor(options: FakeBindingsOptions = {}) {
    this.clock = options.clock ?? new FakeClock(options.start ?? 0);
    this.rng = new Rng(options.seed ?? 0);
    this.onFrame = options.onFrame;
    this.onWake = options.onWake;
    this.record = options.record ?? true;
  }

  now(): number {
    return this.clock.now;
  }

  scheduleTimer(at: number): void {
    if (Number.isNaN(at)) throw new RangeError("scheduleTimer(NaN)");
    this.scheduleCalls++;
    this.wakeAt = at;
    this.onWake?.(at);
  }

  cancelTimer(): void {
    this.cancelCalls++;
    this.wakeAt = Infinity;
    this.onWake?.(Infinity);
  }

  sendFrame(device: DeviceId, frame: Buf): void {
    const bytes = frame.toBytes();
    const time = this.clock.now;
    if (this.record) this.frames.push({ device, bytes, time });
    this.onFrame?.(device, bytes, time);
  }

  onEvent(event: StackEvent): void {
    if (this.record) this.events.push({ ...event });
  }

  random(): number {
    return this.rng.uint32();
  }

  /** Remove and return the recorded frames. */
  takeFrames(): SentFrame[] {
    return this.frames.splice(0);
  }

  /** Remove and return the recorded events. */
  takeEvents(): StackEvent[] {
    return this.events.splice(0);
  }

  /**
   * Move the clock to `t` (never backwards). With a `host`, every wake-up due by then fires first,
   * in order, each at its own time (`host.handleTimers(wakeAt)`); at most `maxWakeups` of them.
   */
  advanceTo(t: number, host?: Pick<EntryPoints, "handleTimers">, maxWakeups = 1_000_000): number {
    let fired = 0;
    if (host !== undefined) {
      while (this.wakeAt <= t) {
        if (fired++ >= maxWakeups) throw new Error(`FakeBindings: more than ${maxWakeups} wake-ups before ${t}`);
        const at = this.wakeAt;
        if (at > this.clock.now) this.clock.now = at;
        this.wakeAt = Infinity;
        host.handleTimers(this.clock.now);
      }
    }
    if (t > this.clock.now) this.clock.now = t;
    return fired;
  }

  /** `advanceTo(now + ms, host)`. */
  advance(ms: number, host?: Pick<EntryPoints, "handleTimers">): number {
    return this.advanceTo(this.clock.now + ms, host);
  }
}
