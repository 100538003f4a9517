/**
 * The host platform of a browser tab or worker (also usable in Node, which has the same globals):
 * `performance.now()` as the monotonic clock, `setTimeout` as the one host timer,
 * `crypto.getRandomValues` for randomness, and a macrotask queue for frame batches (a
 * MessageChannel, which unlike `setTimeout(0)` is not clamped to 4 ms; `setImmediate` where the
 * host has it). No RFC.
 */
import type { HostPlatform } from "../host/platform.ts";

type Task = () => void;

/** A macrotask queue: every task deferred before it runs goes in one message. */
function macrotasks(): (fn: Task) => void {
  const g = globalThis as { setImmediate?: (fn: Task) => unknown };
  if (typeof g.setImmediate === "function") {
    const si = g.setImmediate;
    return (fn) => {
      si(fn);
    };
  }
  if (typeof MessageChannel === "function") {
    let queue: Task[] = [];
    const ch = new MessageChannel();
    (ch.port1 as unknown as { onmessage: (() => void) | null }).onmessage = () => {
      const run = queue;
      queue = [];
      for (const fn of run) {
        try {
          fn();
        } catch (err) {
          reportError(err);
        }
      }
    };
    return (fn) => {
      queue.push(fn);
      if (queue.length === 1) ch.port2.postMessage(null);
    };
  }
  return (fn) => {
    setTimeout(fn, 0);
  };
}

function reportError(err: unknown): void {
  const g = globalThis as { reportError?: (e: unknown) => void };
  if (typeof g.reportError === "function") g.reportError(err);
  else
    setTimeout(() => {
      throw err;
    }, 0);
}

let shared: HostPlatform | null = null;

/** The platform of this realm (one object shared by every stack in it). */
export function browserPlatform(): HostPlatform {
  if (shared !== null) return shared;
  const defer = macrotasks();
  shared = {
    now: () => performance.now(),
    setTimer: (fn, ms) => setTimeout(fn, ms),
    clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    fillRandom: (out) => {
      crypto.getRandomValues(out);
    },
    defer,
    reportError,
    // No refTimer: under Node the core's timer is an ordinary (referenced) timer, so a BrowserStack
    // keeps the process alive while its core has a timer pending, until `close()`.
  };
  return shared;
}
