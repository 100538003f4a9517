// smoltcp-netsim-style table: goodput of a 1 MB transfer over a 10 Mbit/s, 10 ms RTT bottleneck
// against loss rate and receive buffer size, in virtual time, for CUBIC and NewReno. Deterministic:
// compared with the committed snapshot (regenerate with UPDATE_SNAPSHOTS=1 after an intended change).
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { test } from "node:test";
import { v4 } from "../../src/ip/addr.ts";
import { bulkTransfer, pattern, TcpTestNet } from "../../src/transport/tcp/test-net.ts";

const SNAPSHOT = new URL("./netsim-snapshot.json", import.meta.url);
const LOSS = [0, 0.01, 0.05];
const BUFFERS = [16384, 65536, 262144];

function goodputKbps(cc: "cubic" | "newreno", loss: number, buffer: number): number {
  const net = new TcpTestNet({ seed: 11, latency: 5, loss, bandwidth: 1250, queueLimit: 50, record: false });
  const cfg = { congestion: cc, recvBufferSize: buffer, sendBufferSize: buffer };
  const a = net.addHost("a", v4(0x0a000001), cfg);
  const b = net.addHost("b", v4(0x0a000002), cfg);
  const data = pattern(1 << 20, 1);
  const r = bulkTransfer(net, a, b, data, { until: 3_600_000 });
  assert.equal(r.received.length, data.length);
  assert.ok(sameBytes(r.received, data));
  return Math.round((data.length * 8) / r.elapsed);
}

test("netsim table: goodput (kbit/s) against loss and buffer size matches the snapshot", () => {
  const table: Record<string, Record<string, number>> = {};
  for (const cc of ["cubic", "newreno"] as const) {
    for (const loss of LOSS) {
      const row: Record<string, number> = {};
      for (const buf of BUFFERS) row[`buf ${buf / 1024} KiB`] = goodputKbps(cc, loss, buf);
      table[`${cc} loss ${loss * 100}%`] = row;
    }
  }
  console.log(table);
  // Sanity that holds whatever the snapshot: more loss never helps, and the link caps goodput.
  for (const cc of ["cubic", "newreno"]) {
    for (const buf of BUFFERS) {
      const k = `buf ${buf / 1024} KiB`;
      assert.ok(table[`${cc} loss 0%`][k] >= table[`${cc} loss 5%`][k]);
      assert.ok(table[`${cc} loss 0%`][k] <= 10_000);
    }
  }
  if (process.env.UPDATE_SNAPSHOTS === "1" || !existsSync(SNAPSHOT)) {
    writeFileSync(SNAPSHOT, `${JSON.stringify(table, null, 2)}\n`);
  }
  assert.deepEqual(table, JSON.parse(readFileSync(SNAPSHOT, "utf8")));
});

function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
