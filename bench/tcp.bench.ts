// TCP between two TcpLayers joined in memory (TcpTestNet, zero latency, no loss): bulk transfer at
// the MSS of MTU 1500 and 65535 (Gbit/s of payload, wall clock), request/response round trips per
// second, connections (open, 1-byte exchange, close) per second, and the heap cost of an idle
// established connection (run with `node --expose-gc` for a precise figure).
import type { SocketId } from "../src/context.ts";
import { v4 } from "../src/ip/addr.ts";
import type { TcpConfig } from "../src/transport/tcp/config.ts";
import { bulkTransfer, pattern, TcpTestNet } from "../src/transport/tcp/test-net.ts";
import { fmt, table } from "./util.ts";

const A = v4(0x0a000001);
const B = v4(0x0a000002);

function pair(mtu: number, cfg: Partial<TcpConfig> = {}) {
  const net = new TcpTestNet({ seed: 1, latency: 0, record: false });
  const a = net.addHost("a", A, cfg, mtu);
  const b = net.addHost("b", B, cfg, mtu);
  return { net, a, b };
}

function bulk(mtu: number, bytes: number): { gbps: number; segs: number } {
  const { net, a, b } = pair(mtu, { sendBufferSize: 4 << 20, recvBufferSize: 4 << 20 });
  const data = pattern(bytes, 1);
  bulkTransfer(net, a, b, pattern(1 << 20, 2), { port: 1 }); // warm-up
  const t0 = performance.now();
  const r = bulkTransfer(net, a, b, data, { port: 2, discard: true });
  const ms = performance.now() - t0;
  if (r.total !== bytes) throw new Error("bulk transfer incomplete");
  return { gbps: (bytes * 8) / ms / 1e6, segs: a.sent / (ms / 1000) };
}

function requestResponse(rounds: number): number {
  const { net, a, b } = pair(1500, { noDelay: true });
  const lid = b.tcp.listen(b.I, b.I.unspecified, 80) as number;
  let sid: SocketId = -1;
  const req = new Uint8Array(64);
  const resp = new Uint8Array(256);
  b.onEvent = (ev) => {
    if (ev.type === "accepted") sid = b.tcp.accept(lid)!;
    else if (ev.type === "readable" && ev.socket === sid) {
      if (b.tcp.recv(sid)!.length > 0) b.tcp.send(sid, resp);
    }
  };
  const cid = a.tcp.connect(a.I, null, B, 80) as number;
  let done = 0;
  a.onEvent = (ev) => {
    if (ev.type === "readable" && a.tcp.recv(cid)!.length > 0 && ++done < rounds) a.tcp.send(cid, req);
    if (ev.type === "connected") a.tcp.send(cid, req);
  };
  const t0 = performance.now();
  net.runUntil(() => done >= rounds);
  return rounds / ((performance.now() - t0) / 1000);
}

function connections(n: number): number {
  const { net, a, b } = pair(1500, { timeWaitMs: 1 });
  const lid = b.tcp.listen(b.I, b.I.unspecified, 80, 1024) as number;
  b.onEvent = (ev) => {
    if (ev.type === "accepted") b.tcp.accept(lid);
    else if (ev.type === "readable") {
      const d = b.tcp.recv(ev.socket);
      if (d === null) b.tcp.close(ev.socket);
      else if (d.length > 0) b.tcp.send(ev.socket, d);
    }
  };
  let done = 0;
  a.onEvent = (ev) => {
    if (ev.type === "connected") a.tcp.send(ev.socket, new Uint8Array([1]));
    else if (ev.type === "readable" && (a.tcp.recv(ev.socket)?.length ?? 0) > 0) {
      a.tcp.close(ev.socket);
      done++;
    }
  };
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    a.tcp.connect(a.I, null, B, 80);
    if (i % 100 === 99) net.run(net.now + 10);
  }
  net.run();
  if (done !== n) throw new Error(`only ${done} of ${n} connections completed`);
  return n / ((performance.now() - t0) / 1000);
}

function idleBytes(n: number): number {
  const g = (globalThis as { gc?: () => void }).gc;
  const { net, a, b } = pair(1500);
  const lid = b.tcp.listen(b.I, b.I.unspecified, 80, n) as number;
  b.onEvent = (ev) => {
    if (ev.type === "accepted") b.tcp.accept(lid);
  };
  g?.();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) a.tcp.connect(a.I, null, B, 80);
  net.run(net.now + 1000);
  g?.();
  const after = process.memoryUsage().heapUsed;
  if (a.tcp.connectionCount !== n) throw new Error("not all connections established");
  // Two endpoints per connection.
  return (after - before) / (2 * n);
}

export async function benchTcp(): Promise<void> {
  const rows: (string | number)[][] = [];
  for (const mtu of [1500, 65535]) {
    const r = bulk(mtu, 64 << 20);
    rows.push([`bulk transfer, MTU ${mtu}`, `${r.gbps.toFixed(2)} Gbit/s`, `${fmt(r.segs)} segments/s sent`]);
  }
  rows.push(["request/response (64 B / 256 B)", `${fmt(requestResponse(20_000))} round trips/s`, ""]);
  rows.push(["connect + 1 B echo + close", `${fmt(connections(5000))} connections/s`, ""]);
  const gc = typeof (globalThis as { gc?: () => void }).gc === "function";
  rows.push([
    "idle established connection",
    `${(idleBytes(5000) / 1024).toFixed(2)} KiB per endpoint`,
    gc ? "after gc" : "no --expose-gc: approximate",
  ]);
  table(rows, ["tcp", "result", "note"]);
}
