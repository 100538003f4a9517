// `npm run bench:netsim`: the whole netsim table of issue 18 (test/tcp/netsim-table.ts): goodput in
// kbit/s of a 1 MB transfer over a 10 Mbit/s, 10 ms RTT path against loss x reordering, for CUBIC
// and NewReno with and without RACK-TLP, with the sender's RTO count, beside the figures measured
// before issue 18 (test/tcp/netsim-before.json). Virtual time: the figures do not depend on the
// machine. `--update` rewrites test/tcp/netsim-snapshot.json (what test/tcp/netsim.test.ts checks).
//
// Run: node --import tsx bench/netsim.bench.ts [--update]
import { readFileSync, writeFileSync } from "node:fs";
import { COLUMNS, LOSS, netsimCell, REORDER, rowName } from "../test/tcp/netsim-table.ts";

const before = JSON.parse(readFileSync(new URL("../test/tcp/netsim-before.json", import.meta.url), "utf8")) as Record<
  string,
  Record<string, { kbps: number; rto: number }>
>;
const snapshot: Record<string, Record<string, { kbps: number; rto: number; before?: number; beforeRto?: number }>> = {};
const t0 = performance.now();
console.log(`| ${"path".padEnd(26)} | ${COLUMNS.map((c) => c.name.padEnd(21)).join(" | ")} |`);
for (const loss of LOSS) {
  for (const reorder of REORDER) {
    const name = rowName(loss, reorder);
    const row: (typeof snapshot)[string] = {};
    for (const col of COLUMNS) {
      const c = netsimCell(col, loss, reorder);
      const b = col.rack ? undefined : before[name]?.[col.cc];
      row[col.name] = { kbps: c.kbps, rto: c.rto, ...(b !== undefined && { before: b.kbps, beforeRto: b.rto }) };
    }
    snapshot[name] = row;
    const cells = COLUMNS.map((c) => {
      const x = row[c.name];
      const now = `${x.kbps} (${x.rto} rto)`;
      return (x.before !== undefined ? `${now} was ${x.before}` : now).padEnd(21);
    });
    console.log(`| ${name.padEnd(26)} | ${cells.join(" | ")} |`);
  }
}
console.log(
  `kbit/s (RTOs of the sender); "was": before issue 18 (no RACK then); ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);
if (process.argv.includes("--update")) {
  writeFileSync(new URL("../test/tcp/netsim-snapshot.json", import.meta.url), `${JSON.stringify(snapshot, null, 1)}\n`);
  console.log("wrote test/tcp/netsim-snapshot.json");
}
