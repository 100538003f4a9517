/**
 * The netsim table of issue 18 (after smoltcp's tests/netsim.rs): goodput of a 1 MB transfer over a
 * 10 Mbit/s bottleneck (50-packet queue) with a 10 ms base RTT, against random loss and reordering
 * of the packets on the path (both directions), for CUBIC and NewReno, with and without RACK-TLP.
 * Everything runs in virtual time on `TcpTestNet`, so a cell is deterministic: the same seed, the
 * same figure. Shared by test/tcp/netsim.test.ts (a subset, checked against the snapshot) and
 * bench/netsim.bench.ts (the whole table).
 */
import { v4 } from "../../src/ip/addr.ts";
import type { TcpConfig } from "../../src/transport/tcp/config.ts";
import { bulkTransfer, pattern, TcpTestNet } from "../../src/transport/tcp/test-net.ts";

export const LOSS = [0, 0.005, 0.01, 0.02, 0.05, 0.1];
export const REORDER = [0, 0.05, 0.25];
/** Extra delay (ms) of a reordered packet: up to 8 ms on a 10 ms RTT path. */
export const JITTER = 8;
export const COLUMNS = [
  { name: "cubic", cc: "cubic", rack: false },
  { name: "cubic+rack", cc: "cubic", rack: true },
  { name: "newreno", cc: "newreno", rack: false },
  { name: "newreno+rack", cc: "newreno", rack: true },
] as const;
export type Column = (typeof COLUMNS)[number];

export interface Cell {
  /** Goodput in kbit/s (the link carries 10 000). */
  kbps: number;
  /** Retransmission timeouts and retransmitted segments of the sender. */
  rto: number;
  retransmits: number;
}

/** Row label of a table row. */
export function rowName(loss: number, reorder: number): string {
  return `loss ${+(loss * 100).toFixed(1)}% reorder ${reorder * 100}%`;
}

/** One cell: a 1 MB transfer from a to b, checked byte for byte. */
export function netsimCell(col: Column, loss: number, reorder: number, seed = 11): Cell {
  const net = new TcpTestNet({
    seed,
    latency: 5,
    loss,
    reorder,
    jitter: JITTER,
    bandwidth: 1250,
    queueLimit: 50,
    record: false,
  });
  const cfg: Partial<TcpConfig> = { congestion: col.cc, rack: col.rack };
  const a = net.addHost("a", v4(0x0a000001), cfg);
  const b = net.addHost("b", v4(0x0a000002), cfg);
  const data = pattern(1 << 20, 1);
  const r = bulkTransfer(net, a, b, data, { until: 3_600_000 });
  if (r.received.length !== data.length || !sameBytes(r.received, data)) {
    throw new Error(`${col.name} ${rowName(loss, reorder)}: data corrupted or incomplete`);
  }
  return {
    kbps: Math.round((data.length * 8) / r.elapsed),
    rto: a.counters.get("tcp.rto"),
    retransmits: a.counters.get("tcp.retransmit"),
  };
}

function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
