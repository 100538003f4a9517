// Shared helpers for the benchmarks: run a tinybench Bench and print a compact table.
//
// Operations of 30-300 ns cannot be timed one call at a time: reading the clock around each call
// costs about as much as the work, and tinybench's per-iteration closure call adds more. So every
// task runs a batch of `ops` operations per timed sample (its own loop, so the call sites inside
// stay monomorphic) and the rate is `ops / median sample time`.
//
// The machine is shared (2 cores, other jobs): a busy neighbour only ever slows a task down. So the
// tasks run in several short rounds, interleaved (task A, task B, ..., then again), and each
// task's figure is its best round: the uncontended speed, measured close in time to the
// references it is compared with.
import { Bench } from "tinybench";

/** One benchmark: `fn` performs `ops` operations per call. */
export interface BenchTask {
  name: string;
  ops: number;
  fn: () => void;
}

export interface Row {
  name: string;
  /** Operations per second, from the median batch time of the best round. */
  hz: number;
  /** Relative margin of error of the mean batch time in that round, percent. */
  rme: number;
}

export async function runBench(
  tasks: BenchTask[],
  opts: { rounds?: number; time?: number; warmupTime?: number } = {},
): Promise<Map<string, Row>> {
  const out = new Map<string, Row>();
  const rounds = opts.rounds ?? 5;
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({
      time: opts.time ?? 150,
      warmupTime: round === 0 ? (opts.warmupTime ?? 150) : 20,
    });
    for (const t of tasks) bench.add(t.name, t.fn);
    await bench.run();
    for (const t of bench.tasks) {
      const ops = tasks.find((x) => x.name === t.name)?.ops ?? 1;
      const r = t.result as unknown as { latency?: { p50: number; rme: number } } | undefined;
      const ms = r?.latency?.p50 ?? 0;
      const hz = ms > 0 ? (ops * 1000) / ms : 0;
      const prev = out.get(t.name);
      if (prev === undefined || hz > prev.hz) out.set(t.name, { name: t.name, hz, rme: r?.latency?.rme ?? 0 });
    }
  }
  return out;
}

/** The row of a task that must have run. */
export function row(r: Map<string, Row>, name: string): Row {
  const x = r.get(name);
  if (x === undefined) throw new Error(`benchmark ${name} did not run`);
  return x;
}

export function fmt(n: number, unit = ""): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G${unit}`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M${unit}`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(2)} k${unit}`;
  return `${n.toFixed(2)} ${unit}`;
}

export function table(rows: (string | number)[][], header: string[]): void {
  const all = [header, ...rows.map((r) => r.map(String))];
  const w = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i])).join(" | ")} |`;
  console.log(line(all[0]));
  console.log(`|${w.map((x) => "-".repeat(x + 2)).join("|")}|`);
  for (const r of all.slice(1)) console.log(line(r));
}
