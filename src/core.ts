/**
 * What every module of the core shares: the bindings (clock, randomness, frames out, events), the
 * counters, the timer queue, the device table, and the generation number that the fast paths'
 * caches check. The Stack (stack.ts) creates one `Core`
 * and hands it to each layer it composes.
 */
import type { Bindings, DeviceId, StackEvent, TimerId } from "./context.ts";
import { Counters } from "./counters.ts";
import type { Device } from "./device/device.ts";
import { CoreTimers } from "./timers.ts";

export class Core {
  readonly counters = new Counters();
  readonly timers: CoreTimers<TimerId>;
  /** Devices by id (ids are indexes, handed out in order). */
  readonly devices: Device[] = [];
  /** The loopback device's id, -1 when the Stack has none. */
  loopback: DeviceId = -1;
  /**
   * Bumped by every change a cached route, source address or neighbour entry depends on
   * (addresses, routes, devices going up or down, neighbour entries removed): the IPv4 transmit
   * and receive caches (src/ip/ipv4.ts) are valid while it stays the same.
   */
  generation = 0;

  constructor(readonly bindings: Bindings) {
    this.timers = new CoreTimers<TimerId>(bindings);
  }

  /** Monotonic time in ms. */
  now(): number {
    return this.bindings.now();
  }

  /** A uniformly random 32-bit unsigned integer. */
  random(): number {
    return this.bindings.random();
  }

  /** Tell the host about an event. */
  emit(ev: StackEvent): void {
    this.bindings.onEvent(ev);
  }
}
