// Allocation check for hot paths: how many bytes of JS heap (and of ArrayBuffer backing stores)
// one call allocates, measured over many calls between two garbage collections.
//
// `gc` is reached without restarting Node with --expose-gc: the flag is set at run time and the
// function taken from a fresh context (a documented V8 technique; benchmarks only, never the core).
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

export interface Allocation {
  /** JS heap bytes per call (objects, typed-array headers, closures, ...). */
  heapPerOp: number;
  /** ArrayBuffer backing-store bytes per call (a new packet buffer would show here). */
  arrayBuffersPerOp: number;
}

/**
 * Run `fn` `warmup` times (so it is optimized), then, five times, collect garbage, run it `n`
 * times and measure the growth of the heap per call; report the smallest of the five (other
 * work of the process, such as compiling, only ever adds). A run during which a collection
 * happened (the heap shrank) is repeated. `n` is small enough (1e4) that even 32 bytes a call stay
 * well inside V8's initial 1 MiB young generation, so no scavenge hides an allocation; resolution
 * is still far below one byte per call.
 */
export function allocationPerOp(fn: () => void, n = 10_000, warmup = 100_000): Allocation {
  for (let i = 0; i < warmup; i++) fn();
  let best: Allocation = { heapPerOp: Number.NaN, arrayBuffersPerOp: Number.NaN };
  let runs = 0;
  for (let attempt = 0; attempt < 15 && runs < 5; attempt++) {
    gc();
    const h0 = getHeapStatistics().used_heap_size;
    const a0 = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < n; i++) fn();
    const h1 = getHeapStatistics().used_heap_size;
    const a1 = process.memoryUsage().arrayBuffers;
    if (h1 < h0) continue;
    runs++;
    const heapPerOp = (h1 - h0) / n;
    if (!(heapPerOp >= best.heapPerOp)) best = { heapPerOp, arrayBuffersPerOp: Math.max(0, a1 - a0) / n };
  }
  return best;
}

/** "0 B/op" style text, with a verdict: under one byte per call is no allocation (measurement noise). */
export function allocText(a: Allocation): string {
  const none = a.heapPerOp < 1 && a.arrayBuffersPerOp < 1;
  return `${a.heapPerOp.toFixed(2)} B/op heap, ${a.arrayBuffersPerOp.toFixed(2)} B/op buffers${none ? " (no allocation)" : ""}`;
}
