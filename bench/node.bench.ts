// The Node layer's cost (issue 5, "Benchmark"): two NodeStacks in one process on a memoryLinkPair,
// driven by real time (NodeBindings: one host timer, link batches on setImmediate), used through
// the node:net-compatible Socket, beside the same transfer between two bare Stacks on
// stack-tcp.bench.ts's MemNet (no event loop, no streams) as the reference.
//
// Measured, best of a few interleaved rounds since the machine is shared:
//   - bulk: one connection, the client writes 64 KiB Buffers (respecting `write()` / `drain`), the
//     server's `data` handler counts them: Gbit/s of payload, CPU ns per data segment, and what the
//     event loop did per round: link batches (frames per batch), event deliveries, timer wake-ups;
//   - request/response: 1-byte ping-pong over an echo server (`pipe`), Nagle off: round trips/s;
//   - the core-only bulk figure from the same run (`bulkOnce` on MemNet, MTU 1500).
//
// Run alone: node --import tsx bench/node.bench.ts
import { memoryLinkPair } from "../src/node/link.ts";
import type { Socket } from "../src/node/net.ts";
import { NodeStack } from "../src/node/node-stack.ts";
import { bulkOnce, MemNet } from "./stack-tcp.bench.ts";
import { fmt, table } from "./util.ts";

interface Pair {
  a: NodeStack;
  b: NodeStack;
  links: ReturnType<typeof memoryLinkPair>;
}

function pair(): Pair {
  const links = memoryLinkPair();
  const a = new NodeStack({ dad: false });
  const b = new NodeStack({ dad: false });
  a.addLink(links[0], { addresses: ["10.0.0.1/24"] });
  b.addLink(links[1], { addresses: ["10.0.0.2/24"] });
  return { a, b, links };
}

/** Counts of what the event loop did, read before and after a measurement. */
function counters(p: Pair) {
  return {
    frames: p.links[0].stats.rxFrames + p.links[1].stats.rxFrames,
    flushes: p.a.bindings.flushes + p.b.bindings.flushes,
    wakeups: p.a.bindings.wakeups + p.b.bindings.wakeups,
    linkBatches: p.links[0].batches + p.links[1].batches,
  };
}

interface NodeBulk {
  gbps: number;
  cpuNsPerSeg: number;
  framesPerBatch: number;
  flushesPerSeg: number;
  wakeups: number;
}

async function connected(p: Pair, port: number): Promise<Socket> {
  const c = p.b.net.createConnection({ host: "10.0.0.1", port });
  await new Promise<void>((resolve, reject) => {
    c.once("connect", resolve);
    c.once("error", reject);
  });
  return c;
}

async function bulk(p: Pair, bytes: number, port: number): Promise<NodeBulk> {
  let received = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const server = p.a.net.createServer((s) => {
    s.on("data", (d: Buffer) => {
      received += d.length;
      if (received >= bytes) done();
    });
    s.on("end", () => s.end());
  });
  server.listen(port, "10.0.0.1");
  const c = await connected(p, port);
  const chunk = Buffer.alloc(65536, 0x5a);
  const before = counters(p);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let sent = 0;
  const pump = (): void => {
    while (sent < bytes) {
      sent += chunk.length;
      if (!c.write(chunk)) {
        c.once("drain", pump);
        return;
      }
    }
  };
  pump();
  await finished;
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const after = counters(p);
  c.end();
  await new Promise<void>((r) => c.once("close", r).resume());
  await new Promise<void>((r) => server.close(() => r()));
  const dataSegs = Math.ceil(bytes / 1448);
  return {
    gbps: (bytes * 8) / ms / 1e6,
    cpuNsPerSeg: ((cpu.user + cpu.system) * 1e3) / dataSegs,
    framesPerBatch: (after.frames - before.frames) / Math.max(1, after.linkBatches - before.linkBatches),
    flushesPerSeg: (after.flushes - before.flushes) / dataSegs,
    wakeups: after.wakeups - before.wakeups,
  };
}

async function requestResponse(p: Pair, ms: number, port: number): Promise<number> {
  const server = p.a.net.createServer({ noDelay: true }, (s) => {
    s.pipe(s);
  });
  server.listen(port, "10.0.0.1");
  const c = await connected(p, port);
  c.setNoDelay(true);
  const one = Buffer.from("x");
  let n = 0;
  const t0 = performance.now();
  let elapsed = 0;
  await new Promise<void>((resolve) => {
    c.on("data", () => {
      n++;
      elapsed = performance.now() - t0;
      if (elapsed >= ms) resolve();
      else c.write(one);
    });
    c.write(one);
  });
  c.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return (n * 1000) / elapsed;
}

export async function benchNode(): Promise<void> {
  const ROUNDS = 3;
  const BYTES = 16 << 20;
  const p = pair();
  let best: NodeBulk | null = null;
  let rr = 0;
  let core = { gbps: 0, cpuNsPerSeg: Number.POSITIVE_INFINITY };
  let port = 5000;
  // Warm up both paths (JIT), then interleave the measured rounds.
  await bulk(p, 4 << 20, port++);
  bulkOnce(new MemNet(1500), 4 << 20, 80);
  for (let round = 0; round < ROUNDS; round++) {
    const r = await bulk(p, BYTES, port++);
    if (best === null || r.gbps > best.gbps) best = r;
    const c = bulkOnce(new MemNet(1500), BYTES, 80);
    if (c.gbps > core.gbps) core = { gbps: c.gbps, cpuNsPerSeg: Math.min(core.cpuNsPerSeg, c.cpuNsPerSeg) };
    rr = Math.max(rr, await requestResponse(p, 300, port++));
  }
  await p.a.close();
  await p.b.close();
  const b = best as NodeBulk;
  table(
    [
      ["bulk, net.Socket 64 KiB writes (MTU 1500)", `${b.gbps.toFixed(2)} Gbit/s`, `${b.cpuNsPerSeg.toFixed(0)} ns`],
      [
        "bulk, core only (MemNet, no event loop)",
        `${core.gbps.toFixed(2)} Gbit/s`,
        `${core.cpuNsPerSeg.toFixed(0)} ns`,
      ],
      ["node / core", (b.gbps / core.gbps).toFixed(2), ""],
      ["request/response, 1 byte, Nagle off", `${fmt(rr)} round trips/s`, `${(1e6 / rr).toFixed(1)} us each`],
    ],
    ["NodeStack pair on memoryLinkPair", "rate", "CPU per data segment"],
  );
  console.log(
    `bulk round: ${b.framesPerBatch.toFixed(1)} frames per link batch, ` +
      `${b.flushesPerSeg.toFixed(3)} event deliveries per data segment, ${b.wakeups} timer wake-ups`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await benchNode();
