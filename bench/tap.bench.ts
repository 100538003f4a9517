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
 * - 1000 concurrent: 1000 connections opened at once, each sends 1 KB to echo and closes once the
 *   1 KB came back: milliseconds until all are closed.
 *
 * Sides: the stack with offloads (TAP opened with IFF_VNET_HDR; the default) and without
 * (NETSTACK_TAP_OFFLOAD=0); optionally another tree's `netstack serve` (NETSTACK_BENCH_BASELINE=DIR,
 * e.g. the main branch: a "before" measured in the same run); the kernel over a veth pair with
 * offloads off ("kernel-noofl") and on ("kernel-ofl": TSO/GSO/GRO and checksum offload, as a kernel
 * talks to a kernel).
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
async function c1000() {
  const N = 1000;
  const req = Buffer.alloc(1024, 0x61);
  let ok = 0;
  const t0 = now();
  await Promise.all(Array.from({ length: N }, () => new Promise((res) => {
    const s = net.connect({ host, port: 7, noDelay: true }, () => s.write(req));
    let got = 0;
    s.on("data", (d) => { got += d.length; if (got >= req.length) s.end(); });
    s.on("error", () => {});
    s.on("close", () => { if (got >= req.length) ok++; res(); });
    s.setTimeout(20000, () => s.destroy());
  })));
  return { ms: now() - t0, ok };
}
const r = await ({ send, recv, rr, cps, c1000 })[mode]();
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
  /** Milliseconds for 1000 concurrent connections (connect, 1 KB request, 1 KB response, close). */
  c1000: number;
  /** Connections of those 1000 that got their whole response. */
  c1000ok: number;
}

function measure(ns: string, host: string): Figures {
  const recv = client(ns, host, "recv"); // the server sends: chargen
  const send = client(ns, host, "send"); // the server receives: discard
  const rr = client(ns, host, "rr");
  const cps = client(ns, host, "cps");
  const many = client(ns, host, "c1000");
  return {
    send: (recv.bytes * 8) / recv.secs,
    recv: (send.bytes * 8) / send.secs,
    rttUs: rr.usPerRtt,
    cps: cps.conns / cps.secs,
    c1000: many.ms,
    c1000ok: many.ok,
  };
}

/** A side of the comparison: where its client runs and what it talks to. */
interface Side {
  label: string;
  ns: string;
  host: string;
  best: Figures | null;
}

/** The stack over TAP in a namespace of its own (`env` for its serve process, `bin` its CLI). */
async function stackSide(label: string, tag: string, bin: string, env: Record<string, string>): Promise<Side> {
  const t = netns(tag);
  sh("ip", ["-n", t, "tuntap", "add", "dev", "tap0", "mode", "tap"]);
  sh("ip", ["-n", t, "addr", "add", "10.0.0.1/24", "dev", "tap0"]);
  sh("ip", ["-n", t, "link", "set", "tap0", "up"]);
  await start(
    t,
    [
      "env",
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      process.execPath,
      bin,
      "serve",
      "--tap",
      "tap0:10.0.0.2/24",
    ],
    /ready/,
  );
  return { label, ns: t, host: "10.0.0.2", best: null };
}

/** The kernel over a veth pair between two namespaces, offloads off or on. */
async function kernelSide(label: string, tag: string, offloads: boolean): Promise<Side> {
  const a = netns(`${tag}a`);
  const b = netns(`${tag}b`);
  sh("ip", ["-n", a, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", b]);
  sh("ip", ["-n", a, "addr", "add", "10.9.0.1/24", "dev", "veth0"]);
  sh("ip", ["-n", b, "addr", "add", "10.9.0.2/24", "dev", "veth1"]);
  for (const [ns, dev] of [
    [a, "veth0"],
    [b, "veth1"],
  ]) {
    sh("ip", ["-n", ns, "link", "set", dev, "up"]);
    const on = offloads ? "on" : "off";
    sh("ip", ["netns", "exec", ns, "ethtool", "-K", dev, "tso", on, "gso", on, "gro", on, "tx", on]);
  }
  await start(b, [process.execPath, "--input-type=module", "-e", KERNEL_SERVER], /ready/);
  return { label, ns: a, host: "10.9.0.2", best: null };
}

function best(x: Figures | null, y: Figures): Figures {
  if (x === null) return y;
  return {
    send: Math.max(x.send, y.send),
    recv: Math.max(x.recv, y.recv),
    rttUs: Math.min(x.rttUs, y.rttUs),
    cps: Math.max(x.cps, y.cps),
    c1000: y.c1000ok === 1000 && (x.c1000ok < 1000 || y.c1000 < x.c1000) ? y.c1000 : x.c1000,
    c1000ok: Math.max(x.c1000ok, y.c1000ok),
  };
}

async function main(): Promise<void> {
  const why = skipReason();
  if (why !== null) {
    console.log(`bench:tap skipped: ${why}`);
    return;
  }
  const cliPath = join(root, "bin/netstack.js");
  const sides: Side[] = [
    await stackSide("stack (offloads)", "tap", cliPath, {}),
    await stackSide("stack (no offloads)", "tapn", cliPath, { NETSTACK_TAP_OFFLOAD: "0" }),
  ];
  // Another tree's `netstack serve` (e.g. the main branch) as a "before" in the same run.
  const baseline = process.env.NETSTACK_BENCH_BASELINE;
  if (baseline) sides.push(await stackSide("before", "tapb", join(baseline, "bin/netstack.js"), {}));
  sides.push(await kernelSide("kernel-noofl", "k", false));
  sides.push(await kernelSide("kernel-ofl", "o", true));

  console.log(
    `bench:tap: ${SECONDS} s per figure, best of ${ROUNDS} alternating rounds; the stack over TAP (offloads on and off) vs the kernel over veth (offloads off and on)`,
  );
  const mbit = (x: number) => `${(x / 1e6).toFixed(0)} Mbit/s`;
  const line = (f: Figures) =>
    `send ${mbit(f.send)}, receive ${mbit(f.recv)}, rtt ${f.rttUs.toFixed(1)} us, ${f.cps.toFixed(0)} conn/s, 1000 concurrent ${f.c1000.toFixed(0)} ms (${f.c1000ok} ok)`;
  for (let r = 0; r < ROUNDS; r++) {
    for (const side of sides) {
      const f = measure(side.ns, side.host);
      console.log(`round ${r + 1}: ${side.label}: ${line(f)}`);
      side.best = best(side.best, f);
    }
  }
  const [ofl, noofl] = sides;
  const kNo = sides.find((x) => x.label === "kernel-noofl")?.best as Figures;
  const kOfl = sides.find((x) => x.label === "kernel-ofl")?.best as Figures;
  if (ofl.best === null || noofl.best === null) return;
  const rows: [string, (f: Figures) => number, (v: number) => string][] = [
    ["stack sends (kernel receives)", (f) => f.send, mbit],
    ["stack receives (kernel sends)", (f) => f.recv, mbit],
    ["request/response round trip", (f) => f.rttUs, (v) => `${v.toFixed(1)} us`],
    ["connections/s (8 at a time)", (f) => f.cps, (v) => v.toFixed(0)],
    ["1000 concurrent (1 KB each way)", (f) => f.c1000, (v) => `${v.toFixed(0)} ms`],
  ];
  const w0 = 32;
  const w = 15;
  console.log(["".padEnd(w0), ...sides.map((x) => x.label.padStart(w))].join(" "));
  for (const [name, get, fmt] of rows) {
    console.log([name.padEnd(w0), ...sides.map((x) => fmt(get(x.best as Figures)).padStart(w))].join(" "));
  }
  console.log("ratios (same run; time figures: the kernel's over ours, so higher is better everywhere)");
  const ratio = (f: Figures, k: Figures, i: number) => {
    const [, get] = rows[i];
    return i >= 2 && i !== 3 ? get(k) / get(f) : get(f) / get(k);
  };
  const pairs: [string, Figures, Figures][] = [
    ["stack (offloads) / kernel-noofl", ofl.best, kNo],
    ["stack (offloads) / kernel-ofl", ofl.best, kOfl],
    ["stack (no offloads) / kernel-noofl", noofl.best, kNo],
  ];
  const before = sides.find((x) => x.label === "before")?.best;
  if (before) {
    pairs.push(["before / kernel-noofl", before, kNo]);
    pairs.push(["stack (offloads) / before", ofl.best, before]);
    pairs.push(["stack (no offloads) / before", noofl.best, before]);
  }
  console.log(["".padEnd(36), ...rows.map((r) => r[0].split(" ")[0].padStart(12))].join(" "));
  for (const [name, f, k] of pairs) {
    console.log([name.padEnd(36), ...rows.map((_, i) => ratio(f, k, i).toFixed(2).padStart(12))].join(" "));
  }
  console.log(
    "targets (issue 17): offloads: bulk >= 0.5x kernel-ofl and >= 1.5x kernel-noofl; no offloads: bulk >= 0.8x kernel-noofl; conn/s >= 1.0x; 1000 concurrent within 1.5x; rtt within 1.0x",
  );
}

try {
  await main();
} finally {
  cleanup();
}
