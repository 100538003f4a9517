/**
 * `npm run bench:tap` (as root): the stack over a Linux TAP device against the Linux kernel over a
 * veth pair, measured in the same run and reported as ratios (issue 5's benchmark).
 *
 * - TAP: `netstack serve --tap tap0:10.0.0.2/24` in a namespace whose kernel owns the other side of
 *   tap0 (10.0.0.1); a client on that kernel talks to the stack's services.
 * - Kernel reference: two namespaces joined by a veth pair with offloads off (`ethtool -K ... tso off
 *   gso off gro off tx off`, so the kernel too handles MTU-sized segments); a small node:net server
 *   with the same services on one side, the same client on the other.
 *
 * Figures, each with the same client program (plain node:net on the kernel):
 * - stack sends: the client reads from chargen (TCP 19) for a few seconds: bytes/s into the kernel.
 * - stack receives: the client writes into discard (TCP 9), then waits for the server's FIN.
 * - request/response: 1-byte messages ping-ponged over echo (TCP 7), Nagle off: mean round trip.
 * - connections/s: connect, one byte echoed, close; 8 at a time for a few seconds.
 *
 * The machine is shared: the two sides are measured in alternating rounds (stack, kernel, stack,
 * kernel, ...) and each figure keeps its best round on each side (another process only ever slows a
 * side down, so the best round is the least disturbed one, measured close in time to the other side's).
 * Usage: npm run bench:tap [-- SECONDS [ROUNDS]]   (default 3 seconds per figure, 3 rounds)
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { tapAvailable } from "../src/node/tap.ts";

const root = new URL("..", import.meta.url).pathname;
const SECONDS = Number(process.argv[2] ?? 3);
const ROUNDS = Number(process.argv[3] ?? 3);

/** The client, run on a kernel (plain ESM JavaScript: no tsx needed). Prints one JSON line. */
const CLIENT = `
import net from "node:net";
const [host, mode, secsText] = process.argv.slice(1);
const secs = Number(secsText);
const now = () => performance.now();
const connect = (port) => new Promise((res, rej) => {
  const s = net.connect({ host, port, noDelay: true }, () => res(s));
  s.once("error", rej);
});
async function send() {
  const s = await connect(9);
  const chunk = Buffer.alloc(65536, 0x61);
  let bytes = 0;
  const t0 = now();
  await new Promise((res) => {
    const pump = () => {
      while (now() - t0 < secs * 1000) {
        bytes += chunk.length;
        if (!s.write(chunk)) { s.once("drain", pump); return; }
      }
      s.end();
      res();
    };
    pump();
  });
  await new Promise((res) => { s.on("end", res); s.on("close", res); s.resume(); });
  return { bytes, secs: (now() - t0) / 1000 };
}
async function recv() {
  const s = await connect(19);
  let bytes = 0;
  const t0 = now();
  await new Promise((res) => {
    s.on("data", (d) => { bytes += d.length; if (now() - t0 >= secs * 1000) { s.destroy(); res(); } });
    s.on("close", res);
  });
  return { bytes, secs: (now() - t0) / 1000 };
}
async function rr() {
  const s = await connect(7);
  const one = Buffer.from("x");
  let n = 0;
  const t0 = now();
  await new Promise((res) => {
    s.on("data", () => { n++; if (now() - t0 >= secs * 1000) { s.destroy(); res(); } else s.write(one); });
    s.write(one);
  });
  const t = (now() - t0) / 1000;
  return { rtts: n, secs: t, usPerRtt: (t * 1e6) / n };
}
async function cps() {
  let n = 0;
  const t0 = now();
  const worker = async () => {
    while (now() - t0 < secs * 1000) {
      const s = await connect(7);
      await new Promise((res) => { s.once("data", res); s.write("x"); });
      s.end();
      await new Promise((res) => s.once("close", res));
      n++;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { conns: n, secs: (now() - t0) / 1000 };
}
const r = await ({ send, recv, rr, cps })[mode]();
console.log(JSON.stringify(r));
process.exit(0);
`;

/** The kernel reference server: discard (9), chargen (19), echo (7), as serve runs them. */
const KERNEL_SERVER = `
import net from "node:net";
const line = Buffer.alloc(74 * 95);
for (let l = 0, o = 0; l < 95; l++) { for (let i = 0; i < 72; i++) line[o++] = 32 + ((l + i) % 95); line[o++] = 13; line[o++] = 10; }
const listen = (port, fn) => net.createServer({ noDelay: true }, (s) => { s.on("error", () => s.destroy()); fn(s); }).listen(port);
listen(7, (s) => s.pipe(s));
listen(9, (s) => { s.resume(); });
listen(19, (s) => {
  s.resume();
  const pump = () => { while (!s.destroyed && s.writable) { if (!s.write(line)) { s.once("drain", pump); return; } } };
  pump();
});
console.log("ready");
`;

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout;
}

function skipReason(): string | null {
  if (process.platform !== "linux") return "Linux only";
  if (process.getuid?.() !== 0) return "needs root (network namespaces, TAP, veth)";
  if (!existsSync("/dev/net/tun")) return "no /dev/net/tun";
  if (spawnSync("ethtool", ["--version"], { stdio: "ignore" }).status !== 0) return "ethtool is not installed";
  const t = tapAvailable();
  if (!t.ok) return t.reason;
  return null;
}

const tag = randomBytes(3).toString("hex");
const namespaces: string[] = [];
const children: ChildProcess[] = [];

function netns(name: string): string {
  const ns = `bench-${name}-${tag}`;
  sh("ip", ["netns", "add", ns]);
  namespaces.push(ns);
  sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
  // Connections/s runs for several rounds: let the client reuse its ports in TIME-WAIT (the client
  // closes first), or later rounds measure the search for a free port.
  sh("ip", ["netns", "exec", ns, "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1"]);
  sh("ip", ["netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_local_port_range=10000 65000"]);
  return ns;
}

function cleanup(): void {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  for (const ns of namespaces) {
    const pids = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout ?? "";
    for (const p of pids.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(p), "SIGKILL");
      } catch {}
    }
    spawnSync("ip", ["netns", "del", ns]);
  }
}

/** Start a long-running process in `ns`; resolves once it printed `word`. */
function start(ns: string, args: string[], word: RegExp): Promise<ChildProcess> {
  const c = spawn("ip", ["netns", "exec", ns, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  children.push(c);
  let out = "";
  let err = "";
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${args.join(" ")}: not ready: ${out} ${err}`)), 30_000);
    c.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (word.test(out)) {
        clearTimeout(t);
        resolve(c);
      }
    });
    c.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    c.on("exit", (code) => reject(new Error(`${args.join(" ")} exited ${code}: ${err}`)));
  });
}

function client(ns: string, host: string, mode: string): Record<string, number> {
  const r = spawnSync(
    "ip",
    ["netns", "exec", ns, process.execPath, "--input-type=module", "-e", CLIENT, host, mode, String(SECONDS)],
    { encoding: "utf8", timeout: (SECONDS + 30) * 1000 },
  );
  if (r.status !== 0) throw new Error(`client ${mode} to ${host} failed: ${r.stderr.trim() || r.signal}`);
  return JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}");
}

interface Figures {
  send: number;
  recv: number;
  rttUs: number;
  cps: number;
}

function measure(ns: string, host: string): Figures {
  const recv = client(ns, host, "recv"); // the server sends: chargen
  const send = client(ns, host, "send"); // the server receives: discard
  const rr = client(ns, host, "rr");
  const cps = client(ns, host, "cps");
  return {
    send: (recv.bytes * 8) / recv.secs,
    recv: (send.bytes * 8) / send.secs,
    rttUs: rr.usPerRtt,
    cps: cps.conns / cps.secs,
  };
}

async function main(): Promise<void> {
  const why = skipReason();
  if (why !== null) {
    console.log(`bench:tap skipped: ${why}`);
    return;
  }
  // The stack over TAP.
  const t = netns("tap");
  sh("ip", ["-n", t, "tuntap", "add", "dev", "tap0", "mode", "tap"]);
  sh("ip", ["-n", t, "addr", "add", "10.0.0.1/24", "dev", "tap0"]);
  sh("ip", ["-n", t, "link", "set", "tap0", "up"]);
  await start(t, [process.execPath, join(root, "bin/netstack.js"), "serve", "--tap", "tap0:10.0.0.2/24"], /ready/);
  // The kernel over veth, offloads off.
  const a = netns("ka");
  const b = netns("kb");
  sh("ip", ["-n", a, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", b]);
  sh("ip", ["-n", a, "addr", "add", "10.9.0.1/24", "dev", "veth0"]);
  sh("ip", ["-n", b, "addr", "add", "10.9.0.2/24", "dev", "veth1"]);
  for (const [ns, dev] of [
    [a, "veth0"],
    [b, "veth1"],
  ]) {
    sh("ip", ["-n", ns, "link", "set", dev, "up"]);
    sh("ip", ["netns", "exec", ns, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", "tx", "off"]);
  }
  await start(b, [process.execPath, "--input-type=module", "-e", KERNEL_SERVER], /ready/);

  console.log(
    `bench:tap: ${SECONDS} s per figure, best of ${ROUNDS} alternating rounds; the stack over TAP vs the kernel over veth (offloads off)`,
  );
  let stack: Figures | null = null;
  let kernel: Figures | null = null;
  const best = (x: Figures | null, y: Figures): Figures =>
    x === null
      ? y
      : {
          send: Math.max(x.send, y.send),
          recv: Math.max(x.recv, y.recv),
          rttUs: Math.min(x.rttUs, y.rttUs),
          cps: Math.max(x.cps, y.cps),
        };
  const mbit = (x: number) => `${(x / 1e6).toFixed(1)} Mbit/s`;
  const line = (f: Figures) =>
    `send ${mbit(f.send)}, receive ${mbit(f.recv)}, rtt ${f.rttUs.toFixed(1)} us, ${f.cps.toFixed(0)} conn/s`;
  for (let r = 0; r < ROUNDS; r++) {
    const s1 = measure(t, "10.0.0.2");
    const k1 = measure(a, "10.9.0.2");
    console.log(`round ${r + 1}: stack ${line(s1)}; kernel ${line(k1)}`);
    stack = best(stack, s1);
    kernel = best(kernel, k1);
  }
  if (stack === null || kernel === null) return;
  const rows: [string, string, string, string][] = [
    ["stack sends (kernel receives)", mbit(stack.send), mbit(kernel.send), (stack.send / kernel.send).toFixed(2)],
    ["stack receives (kernel sends)", mbit(stack.recv), mbit(kernel.recv), (stack.recv / kernel.recv).toFixed(2)],
    [
      "request/response round trip",
      `${stack.rttUs.toFixed(1)} us`,
      `${kernel.rttUs.toFixed(1)} us`,
      (stack.rttUs / kernel.rttUs).toFixed(2),
    ],
    ["connections/s (8 at a time)", stack.cps.toFixed(0), kernel.cps.toFixed(0), (stack.cps / kernel.cps).toFixed(2)],
  ];
  const w = [32, 16, 16, 8];
  const fmt = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  ");
  console.log(fmt(["", "stack over TAP", "kernel (veth)", "ratio"]));
  for (const r of rows) console.log(fmt(r));
  console.log("targets: >= 0.60 both ways; round trip ratio <= 1.30 (lower is better)");
}

try {
  await main();
} finally {
  cleanup();
}
