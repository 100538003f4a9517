// `npm run bench:lossy`: issue 18's table. A 4 MiB TCP echo from the Linux kernel through the
// impairing relay (test/interop/relay.ts: 5% of frames dropped; 20 ms delay with 10 ms jitter and
// 25% reordered; 2% duplicated; 1% corrupted; each direction) to the kernel and to `netstack serve`
// behind the same relay and bridge (test/interop/lossy.ts), in the same run, three ways:
//   - Linux: kernel to kernel with the namespace's default congestion control (BBR on this machine),
//   - Linux cubic: kernel to kernel, both sockets set to CUBIC (TCP_CONGESTION), like for like,
//   - netstack: the kernel (CUBIC) to netstack (CUBIC, the default).
// Each target is set up afresh per round, rounds rotate the order, and each round makes one
// warm-up echo and then `--echoes` measured ones; a target's figure is its best echo (the machine is
// shared: load only ever slows a run down), its median is printed beside it. Needs root,
// /dev/net/tun, `ip netns`, bridges, python3 and the TAP addon.
//
// Run: npm run bench:lossy [-- --rounds 3 --echoes 2 --size 4194304 --only loss --json]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ISSUE_TABLE, type LossyResult, lossyEcho, lossySkipReason, type Target } from "../test/interop/lossy.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    echoes: { type: "string", default: "2" },
    size: { type: "string", default: String(4 << 20) },
    only: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const skip = lossySkipReason();
if (skip !== false) {
  console.log(`bench:lossy skipped: ${skip}`);
  process.exit(0);
}
let defaultCc = "default";
try {
  defaultCc = readFileSync("/proc/sys/net/ipv4/tcp_congestion_control", "utf8").trim();
} catch {}
const WAYS: { name: string; target: Target; cc: string }[] = [
  { name: `Linux (${defaultCc})`, target: "linux", cc: "" },
  { name: "Linux (cubic)", target: "linux", cc: "cubic" },
  { name: "netstack (cubic)", target: "netstack", cc: "cubic" },
];
const rounds = Number(values.rounds);
const size = Number(values.size);
const best = (xs: number[]) => (xs.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...xs));
const median = (xs: number[]) => {
  if (xs.length === 0) return Number.POSITIVE_INFINITY;
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};
const out: { label: string; impair: string; runs: Record<string, number[]>; errors: string[] }[] = [];
console.log(
  `| impairment (each direction) | ${WAYS.map((w) => w.name).join(" | ")} | netstack / Linux (${defaultCc}) | netstack / Linux (cubic) |`,
);
console.log(`|---|${WAYS.map(() => "---|").join("")}---|---|`);
for (const row of ISSUE_TABLE) {
  if (values.only !== undefined && !row.impair.includes(values.only) && !row.label.includes(values.only)) continue;
  const rec = { label: row.label, impair: row.impair, runs: {} as Record<string, number[]>, errors: [] as string[] };
  for (const w of WAYS) rec.runs[w.name] = [];
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < WAYS.length; k++) {
      const w = WAYS[(k + r) % WAYS.length];
      const res: LossyResult = await lossyEcho({
        target: w.target,
        impair: row.impair,
        size,
        seed: 1 + r,
        warmup: 1,
        rounds: Number(values.echoes),
        linuxCc: w.cc,
      });
      if (!res.intact || res.error !== undefined) rec.errors.push(`${w.name}: ${res.error ?? "data not intact"}`);
      rec.runs[w.name].push(...res.runs);
    }
  }
  out.push(rec);
  const cells = WAYS.map(
    (w) => `${best(rec.runs[w.name]).toFixed(2)} s (median ${median(rec.runs[w.name]).toFixed(2)})`,
  );
  const ns = best(rec.runs[WAYS[2].name]);
  console.log(
    `| ${row.label} | ${cells.join(" | ")} | ${(ns / best(rec.runs[WAYS[0].name])).toFixed(2)}x | ${(ns / best(rec.runs[WAYS[1].name])).toFixed(2)}x |${rec.errors.length > 0 ? ` ERRORS: ${rec.errors.join("; ")}` : ""}`,
  );
}
if (values.json) console.log(JSON.stringify(out));
