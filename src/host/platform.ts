/**
 * What a host (a browser tab, Node, a worker) gives the platform-neutral host layer: a monotonic
 * clock, one kind of one-shot timer, randomness and a way to run a function soon. The core never
 * sees this; `HostBindings` (bindings.ts) builds the core's `Bindings` from it, and the links and
 * socket APIs of src/host/ and src/http/ use it where they need time. No RFC.
 */

/** A host timer handle, as the platform's `setTimer` returns it. */
export type TimerHandle = unknown;

export interface HostPlatform {
  /** Monotonic milliseconds (fractions allowed); only differences matter. */
  now(): number;
  /** Call `fn` once after `ms` milliseconds. */
  setTimer(fn: () => void, ms: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
  /** Fill `out` with cryptographically strong random values. */
  fillRandom(out: Uint32Array): void;
  /**
   * Run `fn` in a later task (a macrotask: what arrived meanwhile is batched, and rendering and I/O
   * are not starved). Used by links to deliver frame batches.
   */
  defer(fn: () => void): void;
  /** Report an exception thrown by an application callback without stopping the stack. */
  reportError(err: unknown): void;
  /** Optional: whether a host timer keeps the process alive (Node's `ref`); absent in browsers. */
  refTimer?(handle: TimerHandle, on: boolean): void;
}

/** A random locally administered unicast MAC (IEEE 802: bit 1 of the first byte set, bit 0 clear). */
export function randomMacFrom(platform: HostPlatform): Uint8Array {
  const r = new Uint32Array(2);
  platform.fillRandom(r);
  const m = new Uint8Array(6);
  for (let i = 0; i < 6; i++) m[i] = (r[i >> 2] >>> ((i & 3) * 8)) & 0xff;
  m[0] = (m[0] & 0xfc) | 0x02;
  return m;
}
