// `npm run bench:lossy`: issue 18's table. A 4 MiB TCP echo from the Linux kernel through the
// impairing relay (test/interop/relay.ts: 5% of frames dropped; 20 ms delay with 10 ms jitter and
// 25% reordered; 2% duplicated; 1% corrupted; each direction) to the kernel and to `netstack serve`
// behind the same relay and bridge (test/interop/lossy.ts), in the same run. Each target is set up
// afresh per round, rounds alternate Linux / netstack, and each round makes one warm-up echo and
// then `--echoes` measured ones; a target's figure is its best echo (the machine is shared: load
// only ever slows a run down). Needs root, /dev/net/tun, `ip netns`, python3 and the TAP addon.
//
// Run: npm run bench:lossy [-- --rounds 3 --echoes 2 --size 4194304 --only loss]
import { parseArgs } from "node:util";
import { skipReason } from "../test/interop/helpers.ts";
import { ISSUE_TABLE, type LossyResult, lossyEcho, type Target } from "../test/interop/lossy.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    echoes: { type: "string", default: "2" },
    size: { type: "string", default: String(4 << 20) },
    only: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const skip = skipReason("python3", "ping");
if (skip !== false) {
  console.log(`bench:lossy skipped: ${skip}`);
  process.exit(0);
}
const rounds = Number(values.rounds);
const size = Number(values.size);
const out: { label: string; impair: string; linux: number[]; netstack: number[]; errors: string[] }[] = [];
for (const row of ISSUE_TABLE) {
  if (values.only !== undefined && !row.impair.includes(values.only) && !row.label.includes(values.only)) continue;
  const rec = {
    label: row.label,
    impair: row.impair,
    linux: [] as number[],
    netstack: [] as number[],
    errors: [] as string[],
  };
  for (let r = 0; r < rounds; r++) {
    const order: Target[] = r % 2 === 0 ? ["linux", "netstack"] : ["netstack", "linux"];
    for (const target of order) {
      const res: LossyResult = await lossyEcho({
        target,
        impair: row.impair,
        size,
        seed: 1 + r,
        warmup: 1,
        rounds: Number(values.echoes),
      });
      if (!res.intact || res.error !== undefined) rec.errors.push(`${target}: ${res.error ?? "data not intact"}`);
      rec[target].push(...res.runs);
    }
  }
  out.push(rec);
  const best = (xs: number[]) => (xs.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...xs));
  const l = best(rec.linux);
  const n = best(rec.netstack);
  const list = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(" ");
  console.log(
    `| ${row.label.padEnd(42)} | ${l.toFixed(3)} s | ${n.toFixed(3)} s | ${(n / l).toFixed(2)}x | linux ${list(rec.linux)}; netstack ${list(rec.netstack)}${rec.errors.length > 0 ? `; ERRORS ${rec.errors.join("; ")}` : ""}`,
  );
}
if (values.json) console.log(JSON.stringify(out));
