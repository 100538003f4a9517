// The netsim table of issue 18 (test/tcp/netsim-table.ts: a 1 MB transfer over a 10 Mbit/s, 10 ms
// RTT path with random loss and reordering, CUBIC and NewReno, with and without RACK-TLP), in
// virtual time, so deterministic. This test runs a representative subset of the rows and compares
// each cell with test/tcp/netsim-snapshot.json, which holds the whole table (with the figures from
// before issue 18 beside it); `npm run bench:netsim -- --update` regenerates it after an intended
// change.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { COLUMNS, netsimCell, rowName } from "./netsim-table.ts";

const SNAPSHOT = JSON.parse(readFileSync(new URL("./netsim-snapshot.json", import.meta.url), "utf8")) as Record<
  string,
  Record<string, { kbps: number; rto: number; before?: number }>
>;
const ROWS: [number, number][] = [
  [0, 0],
  [0.01, 0],
  [0.01, 0.25],
  [0.05, 0],
  [0.05, 0.05],
];

test("netsim table (subset): goodput and RTOs per cell match the snapshot", () => {
  const got: Record<string, Record<string, { kbps: number; rto: number }>> = {};
  for (const [loss, reorder] of ROWS) {
    const row: Record<string, { kbps: number; rto: number }> = {};
    for (const col of COLUMNS) {
      const c = netsimCell(col, loss, reorder);
      row[col.name] = { kbps: c.kbps, rto: c.rto };
    }
    got[rowName(loss, reorder)] = row;
  }
  console.log(got);
  for (const [name, row] of Object.entries(got)) {
    for (const col of COLUMNS) {
      const want = SNAPSHOT[name]?.[col.name];
      assert.ok(want !== undefined, `${name} ${col.name} is in the snapshot`);
      assert.deepEqual(row[col.name], { kbps: want.kbps, rto: want.rto }, `${name} ${col.name}`);
      // The link caps goodput.
      assert.ok(row[col.name].kbps <= 10_000);
    }
  }
});

test("netsim table: RACK-TLP recovers 5% loss with fewer timeouts and more goodput than before issue 18", () => {
  // The whole snapshot, not recomputed: the claim over every row with loss.
  let rtoRack = 0;
  let rtoBefore = 0;
  for (const [name, row] of Object.entries(SNAPSHOT)) {
    for (const cc of ["cubic", "newreno"]) {
      const rack = row[`${cc}+rack`];
      const before = row[cc].before;
      assert.ok(before !== undefined, `${name}: a before figure`);
      if (name.startsWith("loss 5%")) {
        assert.ok(rack.kbps > before, `${name} ${cc}+rack: ${rack.kbps} > ${before} kbit/s before`);
      }
      rtoRack += rack.rto;
    }
  }
  for (const row of Object.values(SNAPSHOT)) rtoBefore += (row.cubic as { beforeRto?: number }).beforeRto ?? 0;
  assert.ok(rtoRack < rtoBefore, `RTOs with RACK (both controllers) ${rtoRack} < CUBIC's alone before ${rtoBefore}`);
});
