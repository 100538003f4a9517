/**
 * The loopback device's link (RFC 1122 3.2.1.3: 127/8 and, RFC 4291 2.5.3, ::1 stay inside the
 * host). Its frames are bare IP packets, told apart by the version nibble.
 *
 * A packet sent to one of our own addresses must not be received inside the send that made it (a
 * receive path would run inside another), so it is queued here and received when the entry point
 * that sent it finishes (the Stack drains the queue before returning). A send made outside any
 * entry point (a socket call from the application) asks the bindings for an immediate wake-up, and
 * the packet is received from `handleTimers`. The queue is bounded (`StackLimits.loopbackQueue`).
 */

import type { DeviceId, TimerId } from "../context.ts";
import type { Core } from "../core.ts";
import { counter } from "../counters.ts";
import type { Buf } from "../packet/buf.ts";
import { Timer } from "../timers.ts";
import type { Device } from "./device.ts";
import type { FrameReceiver } from "./ethernet.ts";

declare module "../context.ts" {
  interface TimerIdMap {
    /** Packets wait on the loopback queue of `device` for the next entry point to drain them. */
    loopback: { device: DeviceId };
  }
}

const QUEUE_FULL = counter("stack.loopback.queue-full");

/** A packet waiting to be received on the loopback device. */
export interface LoopedPacket {
  readonly device: DeviceId;
  readonly buf: Buf;
}

export class Loopback {
  /** IPv4 and IPv6 receivers; set by the Stack. */
  ipv4: FrameReceiver | null = null;
  ipv6: FrameReceiver | null = null;
  private readonly queue: LoopedPacket[] = [];
  private readonly wakeUp = new Timer<TimerId>({ kind: "loopback", device: -1 });

  constructor(
    private readonly core: Core,
    /** Packets queued at most (`StackLimits.loopbackQueue`). */
    private readonly limit: number,
  ) {}

  /** Packets waiting. */
  get length(): number {
    return this.queue.length;
  }

  /**
   * Queue the IP packet in `buf` (its body) for `dev`; false when the queue is full (counted).
   * `insideEntryPoint` false: nothing will drain the queue soon, so a wake-up is requested.
   */
  enqueue(dev: Device, buf: Buf, insideEntryPoint: boolean): boolean {
    if (this.queue.length >= this.limit) {
      this.core.counters.inc(QUEUE_FULL);
      return false;
    }
    this.queue.push({ device: dev.id, buf });
    if (!insideEntryPoint && !this.wakeUp.scheduled) this.core.timers.schedule(this.wakeUp, this.core.now());
    return true;
  }

  /** The oldest waiting packet, removed from the queue; undefined when none waits. */
  take(): LoopedPacket | undefined {
    const w = this.queue.shift();
    if (w === undefined && this.wakeUp.scheduled) this.core.timers.cancel(this.wakeUp);
    return w;
  }

  /** A loopback frame (a bare IP packet) is received. */
  receive(dev: Device, buf: Buf): void {
    if (buf.length < 1) return;
    const version = buf.bytes[buf.start] >>> 4;
    if (version === 4) this.ipv4?.receive(dev, buf);
    else if (version === 6) this.ipv6?.receive(dev, buf);
  }
}
