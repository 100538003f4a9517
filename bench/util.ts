// Shared helpers for the benchmarks: run a tinybench Bench and print a compact table.
import { Bench } from "tinybench";

export interface Row {
  name: string;
  /** Operations per second (mean). */
  hz: number;
  /** Relative margin of error, percent. */
  rme: number;
}

export async function runBench(
  tasks: [string, () => void][],
  opts: { time?: number; warmupTime?: number } = {},
): Promise<Map<string, Row>> {
  const bench = new Bench({ time: opts.time ?? 400, warmupTime: opts.warmupTime ?? 100 });
  for (const [name, fn] of tasks) bench.add(name, fn);
  await bench.run();
  const out = new Map<string, Row>();
  for (const t of bench.tasks) {
    const r = t.result as unknown as { throughput?: { mean: number; rme: number } } | undefined;
    const hz = r?.throughput?.mean ?? 0;
    out.set(t.name, { name: t.name, hz, rme: r?.throughput?.rme ?? 0 });
  }
  return out;
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
