import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { formatMac, formatV4 } from "../ip/addr.ts";
import { ArpOp, ArpView } from "../wire/arp.ts";
import { isError } from "../wire/errors.ts";
import { EthernetView, EtherType } from "../wire/ethernet.ts";
import { keepHeapMemory, TapError, TapLink, tapAvailable } from "./tap.ts";

const root = new URL("../..", import.meta.url).pathname;

// Build the addon if `npm run build` has not (the build never fails; it may just not produce it).
if (process.platform === "linux" && !existsSync(join(root, "native", "build", "tap.node"))) {
  spawnSync(process.execPath, [join(root, "scripts", "build-native.mjs"), "--quiet"], { stdio: "inherit" });
}

function tapSkipReason(): string | false {
  const avail = tapAvailable();
  return avail.ok ? false : avail.reason;
}

function netnsSkipReason(): string | false {
  const avail = tapAvailable();
  if (!avail.ok) return avail.reason;
  if (process.getuid?.() !== 0) return "needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create a network namespace";
  if (spawnSync("ip", ["-V"], { stdio: "ignore" }).status !== 0) return "`ip` (iproute2) is not installed";
  return false;
}

test("tap: unusable names and devices give one clear line", {
  skip: tapSkipReason(),
}, () => {
  assert.throws(
    () => TapLink.open("a-name-longer-than-15"),
    (e: TapError) => e instanceof TapError && /interface names are at most 15 bytes/.test(e.message),
  );
  // "lo" exists and is not a TAP device: the kernel refuses (EINVAL), or we lack the privilege (EPERM).
  assert.throws(
    () => TapLink.open("lo"),
    (e: TapError) =>
      e instanceof TapError &&
      /cannot open TAP device lo: (the kernel refused it|permission denied: needs root or CAP_NET_ADMIN)/.test(
        e.message,
      ),
  );
});

test("tap: without CAP_NET_ADMIN the error says so", {
  skip:
    !tapAvailable().ok || process.getuid?.() !== 0
      ? "needs root (to drop to an unprivileged user) and the TAP addon"
      : spawnSync("setpriv", ["--version"], { stdio: "ignore" }).status !== 0
        ? "setpriv (util-linux) is not installed"
        : false,
}, () => {
  // Run as nobody with no capabilities: /dev/net/tun or TUNSETIFF refuses.
  const code = `import { TapLink } from ${JSON.stringify(join(root, "src/node/tap.ts"))};
try { TapLink.open("nstest0"); console.log("opened"); } catch (e) { console.log(JSON.stringify({ message: e.message, code: e.code })); }`;
  const r = spawnSync(
    "setpriv",
    [
      "--reuid=65534",
      "--regid=65534",
      "--clear-groups",
      "--inh-caps=-all",
      process.execPath,
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      code,
    ],
    { cwd: root, encoding: "utf8", timeout: 30_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}");
  assert.match(out.message, /cannot open TAP device nstest0: permission denied: needs root or CAP_NET_ADMIN/);
  assert.ok(out.code === "EPERM" || out.code === "EACCES", out.code);
});

// The body run inside the namespace: open tap0, configure the kernel's side, send an ARP request
// for the kernel's address (while paused, then resumed), report what came back as JSON.
const CHILD = `
import { execFileSync } from "node:child_process";
import { TapLink } from ${JSON.stringify(join(root, "src/node/tap.ts"))};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = { frames: [], batches: [], duringPause: 0 };
const t = TapLink.open("tap0", { up: true });
out.name = t.name;
execFileSync("ip", ["addr", "add", "10.77.0.1/24", "dev", "tap0"]);
// ARP request: who-has 10.77.0.1 tell 10.77.0.2 (02:00:00:00:00:02), padded to 60 bytes.
const req = new Uint8Array(60);
req.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1,
  2, 0, 0, 0, 0, 2, 10, 77, 0, 2, 0, 0, 0, 0, 0, 0, 10, 77, 0, 1]);
let paused = true;
t.onFrames((frames) => {
  if (paused) out.duringPause += frames.length;
  out.batches.push(frames.length);
  for (const f of frames) out.frames.push(Buffer.from(f).toString("hex"));
});
t.pause();
// Send from inside a larger buffer: the (bytes, off, len) form.
const big = new Uint8Array(100);
big.set(req, 20);
t.send(big, 20, 60);
await sleep(300);
paused = false;
t.resume();
for (let i = 0; i < 60 && !out.frames.some((h) => h.slice(24, 28) === "0806"); i++) await sleep(50);
out.neigh = execFileSync("ip", ["neigh", "show", "10.77.0.2", "dev", "tap0"], { encoding: "utf8" });
out.stats = t.stats;
await t.close();
out.afterClose = execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" });
console.log(JSON.stringify(out));
`;

test("tap: the kernel answers our ARP request through a TAP in a fresh namespace", {
  skip: netnsSkipReason(),
  timeout: 60_000,
}, () => {
  const ns = `nstest-${randomBytes(4).toString("hex")}`;
  const add = spawnSync("ip", ["netns", "add", ns], { encoding: "utf8" });
  assert.equal(add.status, 0, `ip netns add ${ns}: ${add.stderr}`);
  try {
    const r = spawnSync(
      "ip",
      ["netns", "exec", ns, process.execPath, "--import", "tsx", "--input-type=module", "-e", CHILD],
      { cwd: root, encoding: "utf8", timeout: 30_000 },
    );
    assert.equal(r.status, 0, `child failed: ${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}");
    assert.equal(out.name, "tap0");
    // Paused: nothing delivered, although the kernel had answered.
    assert.equal(out.duringPause, 0);
    assert.ok(out.stats.txFrames === 1 && out.stats.txBytes === 60, JSON.stringify(out.stats));
    assert.equal(out.stats.rxFrames, out.frames.length);
    assert.ok(out.batches.every((n: number) => n >= 1));
    // Find the reply among whatever else the kernel sent (IPv6 router solicitations, MLD, ...).
    const replies = out.frames
      .map((h: string) => new Uint8Array(Buffer.from(h, "hex")))
      .filter((f: Uint8Array) => {
        const eth = EthernetView.parse(f, 0, f.length);
        return !isError(eth) && eth.etherType === EtherType.Arp;
      });
    assert.equal(replies.length, 1, `frames: ${out.frames.join(" ")}`);
    const f = replies[0];
    const eth = EthernetView.parse(f, 0, f.length);
    assert.ok(!isError(eth));
    assert.equal(formatMac(eth.dst), "02:00:00:00:00:02");
    const arp = ArpView.parse(f, eth.payloadOff, f.length - eth.payloadOff);
    assert.ok(!isError(arp));
    assert.equal(arp.op, ArpOp.Reply);
    assert.equal(formatV4(arp.senderIp), "10.77.0.1");
    assert.equal(formatMac(arp.senderMac), formatMac(eth.src));
    assert.equal(formatMac(arp.targetMac), "02:00:00:00:00:02");
    assert.equal(formatV4(arp.targetIp), "10.77.0.2");
    // The kernel learned our address from the request we wrote.
    assert.match(out.neigh, /10\.77\.0\.2 lladdr 02:00:00:00:00:02/);
    // Closing the fd removes the (non-persistent) device.
    assert.doesNotMatch(out.afterClose, /tap0/);
  } finally {
    spawnSync("ip", ["netns", "del", ns]);
  }
});

// Thousands of frames each way, through the reader/writer threads (default) or on the JS thread:
// the kernel receives every frame we write, in order, and we receive every datagram it sends, in
// order. UDP/IPv4 between 10.78.0.2 (us, a static neighbour entry) and the kernel's 10.78.0.1.
const ORDER_CHILD = `
import dgram from "node:dgram";
import { execFileSync } from "node:child_process";
import { TapLink } from ${JSON.stringify(join(root, "src/node/tap.ts"))};
const N = 3000;
const options = JSON.parse(process.argv[1]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const t = TapLink.open("tap1", { up: true, ...options });
if (options.lend) t.lendFrames(true);
execFileSync("ip", ["addr", "add", "10.78.0.1/24", "dev", "tap1"]);
execFileSync("ip", ["neigh", "replace", "10.78.0.2", "lladdr", "02:00:00:00:00:02", "dev", "tap1", "nud", "permanent"]);
const kmac = execFileSync("cat", ["/sys/class/net/tap1/address"], { encoding: "utf8" }).trim().split(":").map((x) => parseInt(x, 16));
const sock = dgram.createSocket("udp4");
await new Promise((r) => sock.bind(9998, "10.78.0.1", r));
const got = [];
sock.on("message", (m) => got.push(m.readUInt32BE(0)));
// Ethernet + IPv4 + UDP (checksum 0) + a 4-byte sequence number, padded to 60 bytes.
function frame(seq) {
  const f = new Uint8Array(60);
  f.set(kmac, 0); f.set([2, 0, 0, 0, 0, 2, 0x08, 0x00], 6);
  f.set([0x45, 0, 0, 32, seq >> 8, seq & 255, 0x40, 0, 64, 17, 0, 0, 10, 78, 0, 2, 10, 78, 0, 1], 14);
  let s = 0;
  for (let i = 14; i < 34; i += 2) s += (f[i] << 8) | f[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  s = ~s & 0xffff; f[24] = s >> 8; f[25] = s & 255;
  f.set([0x27, 0x0f, 0x27, 0x0e, 0, 12, 0, 0, seq >>> 24, (seq >> 16) & 255, (seq >> 8) & 255, seq & 255], 34);
  return f;
}
// A burst of 100 frames per turn (more than the writer thread gets through at once).
for (let i = 0; i < N; i += 100) {
  for (let j = i; j < i + 100; j++) t.send(frame(j));
  await sleep(5);
}
for (let i = 0; i < 100 && got.length < N; i++) await sleep(50);
const out = { kernelGot: got.length, kernelInOrder: got.every((v, i) => v === i), stats: { ...t.stats } };
// The other way: the kernel sends N datagrams to us.
const ours = [];
t.onFrames((frames) => {
  for (const f of frames) {
    if (f.length >= 46 && f[12] === 8 && f[13] === 0 && f[23] === 17 && f[36] === 0x27 && f[37] === 0x0f) {
      ours.push(((f[42] << 24) | (f[43] << 16) | (f[44] << 8) | f[45]) >>> 0);
    }
  }
});
const msg = Buffer.alloc(4);
for (let i = 0; i < N; i++) {
  msg.writeUInt32BE(i, 0);
  await new Promise((r) => sock.send(msg, 9999, "10.78.0.2", r));
  if (i % 100 === 99) await sleep(5);
}
for (let i = 0; i < 100 && ours.length < N; i++) await sleep(50);
out.weGot = ours.length;
out.weInOrder = ours.every((v, i) => v === i);
out.writer = t.writerStats();
sock.close();
await t.close();
console.log(JSON.stringify(out));
`;

for (const [label, options] of [
  ["reader and writer threads", { readerThread: true, writerThread: true }],
  ["on the JS thread", { readerThread: false, writerThread: false }],
  ["the defaults, frames lent", { lend: true }],
] as const) {
  test(`tap: 3000 frames each way arrive complete and in order (${label})`, {
    skip: netnsSkipReason(),
    timeout: 90_000,
  }, () => {
    const ns = `nstest-${randomBytes(4).toString("hex")}`;
    const add = spawnSync("ip", ["netns", "add", ns], { encoding: "utf8" });
    assert.equal(add.status, 0, `ip netns add ${ns}: ${add.stderr}`);
    try {
      const r = spawnSync(
        "ip",
        [
          "netns",
          "exec",
          ns,
          process.execPath,
          "--import",
          "tsx",
          "--input-type=module",
          "-e",
          ORDER_CHILD,
          JSON.stringify(options),
        ],
        { cwd: root, encoding: "utf8", timeout: 60_000 },
      );
      assert.equal(r.status, 0, `child failed: ${r.stderr}`);
      const out = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}");
      assert.equal(out.kernelGot, 3000, JSON.stringify(out));
      assert.equal(out.kernelInOrder, true);
      assert.equal(out.stats.txFrames, 3000);
      assert.equal(out.stats.txDropped, 0);
      assert.equal(out.weGot, 3000, JSON.stringify(out));
      assert.equal(out.weInOrder, true);
      if (label !== "on the JS thread") {
        // All but the first frame of each turn went through the thread (the first is written directly).
        assert.ok(out.writer.written >= 2900, JSON.stringify(out.writer));
      } else {
        assert.equal(out.writer.written, 0);
      }
    } finally {
      spawnSync("ip", ["netns", "del", ns]);
    }
  });
}

test("keepHeapMemory: applies glibc's malloc parameters; bad values are a RangeError", {
  skip: process.platform !== "linux" ? "glibc malloc tuning is for Linux" : tapSkipReason(),
}, () => {
  assert.throws(
    () => keepHeapMemory({ topPad: -1 }),
    (e: RangeError & { code?: string }) => e.code === "ERR_OUT_OF_RANGE" && /topPad/.test(e.message),
  );
  assert.throws(() => keepHeapMemory({ trimThreshold: 2 ** 31 }), /trimThreshold/);
  // Process-wide: run it in a child. glibc's `ldd --version` names it; elsewhere the answer is false.
  const glibc = /glibc|GNU libc/i.test(spawnSync("ldd", ["--version"], { encoding: "utf8" }).stdout ?? "");
  const code = `import { keepHeapMemory } from ${JSON.stringify(join(root, "src/node/tap.ts"))};
    const before = process.memoryUsage().rss;
    const ok = keepHeapMemory({ trimThreshold: 256 << 20, topPad: 0, mmapThreshold: 8 << 20 });
    // Freed 4 MiB Buffers stay in the heap: the resident size does not fall back after they are collected.
    let keep = [];
    for (let i = 0; i < 32; i++) keep.push(Buffer.alloc(4 << 20, 1));
    const peak = process.memoryUsage().rss;
    keep = null;
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 50));
    globalThis.gc();
    const after = process.memoryUsage().rss;
    console.log(JSON.stringify({ ok, grew: peak - before, kept: after - before }));`;
  const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", "--input-type=module", "-e", code], {
    cwd: root,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split("\n").pop() as string);
  assert.equal(out.ok, glibc);
  if (glibc) {
    assert.ok(out.grew > 100 << 20, `the Buffers took ${out.grew} bytes`);
    assert.ok(out.kept > 100 << 20, `only ${out.kept} bytes stayed resident after collection`);
  }
});
