/**
 * Interop of TAP offloads and TUN devices with the real kernel (issue 17, phase 1), each test in a
 * network namespace of its own:
 *
 * - A NodeStack over a TapLink with offloads on (IFF_VNET_HDR, TSO/CSUM: the kernel sends 64 KiB
 *   super-frames, which the link splits in software for the stack) and off: the kernel echoes
 *   4 MiB through the stack's TCP echo over IPv4 and IPv6, hashes compared both ways.
 * - The kernel takes our GSO super-frames (sendOffload): a TCP super-frame written into one TAP is
 *   forwarded out of another TAP without offloads, segmented by the kernel exactly as `segment` does.
 * - TUN: ICMP echo requests built with the wire builders, written as IP packets; the kernel's replies
 *   read back (IPv4 and IPv6); a kernel TCP SYN arrives with its partial checksum header.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { isError } from "../../src/wire/errors.ts";
import { Icmpv4View } from "../../src/wire/icmpv4.ts";
import { Icmpv6View } from "../../src/wire/icmpv6.ts";
import { Ipv4View } from "../../src/wire/ipv4.ts";
import { Ipv6View } from "../../src/wire/ipv6.ts";
import { Netns, PY_ECHO_CLIENT, root, skipReason } from "./helpers.ts";

const skip = skipReason("python3");
const tsx = [process.execPath, "--import", "tsx", "--input-type=module", "-e"];
const src = (p: string) => JSON.stringify(join(root, "src", p));

/** In the namespace: a NodeStack echo server on a TAP; the kernel's python client echoes through it. */
const ECHO_CHILD = `
import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { NodeStack } from ${src("node/node-stack.ts")};
import { TapLink } from ${src("node/tap.ts")};
const [offload, size] = [process.argv[1] === "on", Number(process.argv[2])];
const tap = TapLink.open("tap0", { up: true, offload });
execFileSync("ip", ["addr", "add", "10.0.7.1/24", "dev", "tap0"]);
execFileSync("ip", ["addr", "add", "fd07::1/64", "dev", "tap0", "nodad"]);
const s = new NodeStack({ dad: false });
s.addLink(tap, { addresses: ["10.0.7.2/24", "fd07::2/64"] });
const server = s.net.createServer((c) => { c.on("error", () => c.destroy()); c.pipe(c); });
await new Promise((r) => server.listen(7, r));
const run = (host) => new Promise((resolve) => {
  const p = spawn("python3", ["-c", ${JSON.stringify(PY_ECHO_CLIENT)}, host, "7", String(size)]);
  let out = "", err = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (err += d));
  p.on("exit", (code) => resolve({ code, out: out.trim(), err }));
});
const results = { v4: await run("10.0.7.2"), v6: await run("fd07::2") };
console.log(JSON.stringify({ results, vnetHdrLen: tap.vnetHdrLen, offloads: tap.offloads, gso: tap.gsoStats, stats: { ...tap.stats } }));
await s.close();
process.exit(0);
`;

for (const offload of ["on", "off"] as const) {
  test(`offload interop: 4 MiB echoed through a NodeStack over TAP, offloads ${offload}, IPv4 and IPv6`, {
    skip,
    timeout: 120_000,
  }, () => {
    const ns = new Netns("ofl");
    try {
      const size = 4 << 20;
      const r = ns.run(tsx[0], [...tsx.slice(1), ECHO_CHILD, offload, String(size)], 90_000);
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}");
      for (const v of ["v4", "v6"]) {
        const e = out.results[v];
        assert.equal(e.code, 0, `${v}: ${e.err}`);
        const [sent, got, n] = e.out.split(" ");
        assert.equal(Number(n), size, `${v}: bytes echoed`);
        assert.equal(got, sent, `${v}: SHA-256 of the echo`);
      }
      if (offload === "on") {
        assert.equal(out.vnetHdrLen, 12);
        assert.equal(out.offloads & 0x07, 0x07, "TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 accepted");
        // The kernel sent super-frames; the link split them for the stack, dropping none.
        assert.ok(out.gso.superFrames > 0, JSON.stringify(out.gso));
        assert.ok(out.gso.segments > out.gso.superFrames * 2, JSON.stringify(out.gso));
        assert.ok(out.gso.largest > 1514, JSON.stringify(out.gso));
        assert.equal(out.gso.dropped, 0);
      } else {
        assert.equal(out.vnetHdrLen, 0);
        assert.equal(out.gso, null);
        // Without offloads every frame fits the MTU: the bytes received over frames received.
        assert.ok(out.stats.rxBytes / out.stats.rxFrames <= 1514);
      }
    } finally {
      ns.destroy();
    }
  });
}

/** In the namespace: our GSO super-frame into tap0 (vnet), forwarded by the kernel out of tap1 (plain). */
const GSO_CHILD = `
import { execFileSync } from "node:child_process";
import { TapLink } from ${src("node/tap.ts")};
import { segment, VirtioNetHdrBuilder, VnetGso } from ${src("wire/virtio-net.ts")};
const ip = (...a) => execFileSync("ip", a, { encoding: "utf8" });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const a = TapLink.open("tap0", { up: true });
const b = TapLink.open("tap1", { up: true, offload: false });
ip("addr", "add", "10.0.8.1/24", "dev", "tap0");
ip("addr", "add", "10.0.9.1/24", "dev", "tap1");
execFileSync("sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
ip("neigh", "replace", "10.0.9.2", "lladdr", "02:00:00:00:09:02", "dev", "tap1", "nud", "permanent");
const kmac = ip("-j", "link", "show", "tap0").match(/"address":"([0-9a-f:]+)"/)[1].split(":").map((x) => parseInt(x, 16));
const got = [];
b.onFrames((fs) => { for (const f of fs) if (f[12] === 8 && f[23] === 6) got.push(Uint8Array.from(f)); });
// Ethernet + IPv4 10.0.8.2 -> 10.0.9.2 (id 0x4321, DF) + TCP (ACK|PSH) + 10000 bytes; a partial checksum.
const pay = new Uint8Array(10000).map((_, i) => (i * 13 + 5) & 255);
const f = new Uint8Array(54 + pay.length);
f.set(kmac, 0); f.set([2, 0, 0, 0, 8, 2, 8, 0], 6);
const tl = 20 + pay.length, il = 20 + tl;
f.set([0x45, 0, il >> 8, il & 255, 0x43, 0x21, 0x40, 0, 64, 6, 0, 0, 10, 0, 8, 2, 10, 0, 9, 2], 14);
let h = 0; for (let i = 14; i < 34; i += 2) h += (f[i] << 8) | f[i + 1];
while (h > 0xffff) h = (h & 0xffff) + (h >>> 16); h = ~h & 0xffff; f[24] = h >> 8; f[25] = h & 255;
f.set([0x9c, 0x41, 0, 9, 0, 0, 0x10, 0, 0, 0, 0, 1, 0x50, 0x18, 1, 0, 0, 0, 0, 0], 34);
f.set(pay, 54);
let p = 6 + tl; for (let i = 26; i < 34; i += 2) p += (f[i] << 8) | f[i + 1];
while (p > 0xffff) p = (p & 0xffff) + (p >>> 16); f[50] = p >> 8; f[51] = p & 255;
const hb = new VirtioNetHdrBuilder().partialChecksum(34, 16);
hb.gsoType = VnetGso.TcpV4; hb.gsoSize = 1460; hb.hdrLen = 54;
const meta = new Uint8Array(12); hb.writeTo(meta, 0);
await sleep(100);
a.sendOffload(f, 0, f.length, meta, 0);
for (let i = 0; i < 60 && got.length < 7; i++) await sleep(50);
// Our segmentation of the same frame as the kernel forwarded it (its MACs, TTL 63).
f.set(got[0]?.subarray(0, 12) ?? [], 0); f[22] = 63;
const out = new Uint8Array(20000), lens = new Uint32Array(16);
const n = segment(f, 0, f.length, 14, VnetGso.TcpV4, 1460, out, 0, lens);
const ours = [];
for (let i = 0, o = 0; i < n; i++, o += (54 + 1460 + 7) & ~7) ours.push(Buffer.from(out.subarray(o, o + lens[i])).toString("hex"));
let plain = null;
try { b.sendOffload(f, 0, f.length, meta, 0); } catch (e) { plain = e.code; }
console.log(JSON.stringify({ kernel: got.map((g) => Buffer.from(g).toString("hex")), ours, txDropped: a.stats.txDropped, plain }));
await a.close(); await b.close();
process.exit(0);
`;

test("offload interop: the kernel takes our TCP GSO super-frame and segments it as we do", {
  skip,
  timeout: 60_000,
}, () => {
  const ns = new Netns("gso");
  try {
    const r = ns.run(tsx[0], [...tsx.slice(1), GSO_CHILD], 30_000);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}");
    assert.equal(out.txDropped, 0);
    assert.equal(out.kernel.length, 7, "10000 bytes at gso_size 1460: 7 segments");
    assert.deepEqual(out.ours, out.kernel);
    assert.equal(out.plain, "ERR_OFFLOAD_UNAVAILABLE", "sendOffload on a link without offloads");
  } finally {
    ns.destroy();
  }
});

/** In the namespace: a TUN device; echo requests built with the wire builders; the kernel's answers. */
const TUN_CHILD = `
import net from "node:net";
import { execFileSync } from "node:child_process";
import { TunLink } from ${src("node/tun.ts")};
import { parseV4, parseV6 } from ${src("ip/addr.ts")};
import { BytesBody } from ${src("packet/serialize.ts")};
import { Ipv4Builder } from ${src("wire/ipv4.ts")};
import { Ipv6Builder } from ${src("wire/ipv6.ts")};
import { Icmpv4EchoBuilder, Icmpv4Type } from ${src("wire/icmpv4.ts")};
import { Icmpv6EchoBuilder, Icmpv6Type } from ${src("wire/icmpv6.ts")};
import { VirtioNetHdrView, completeChecksum, transportChecksumOk } from ${src("wire/virtio-net.ts")};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const offload = process.argv[1] === "on";
const t = TunLink.open("tun0", { up: true, offload });
execFileSync("ip", ["addr", "add", "10.0.6.1/24", "dev", "tun0"]);
execFileSync("ip", ["addr", "add", "fd06::1/64", "dev", "tun0", "nodad"]);
const got = [];
t.onOffloadFrames((frames, meta) => {
  for (let i = 0; i < frames.length; i++) got.push({ p: Uint8Array.from(frames[i]), m: meta.slice(i * 12, i * 12 + 12) });
});
await sleep(100);
const body = new Uint8Array(56).map((_, i) => i);
const s4 = parseV4("10.0.6.2"), d4 = parseV4("10.0.6.1"), s6 = parseV6("fd06::2"), d6 = parseV6("fd06::1");
const p4 = new BytesBody(body).wrapIn(new Icmpv4EchoBuilder(Icmpv4Type.EchoRequest, 0x1234, 1)).wrapIn(new Ipv4Builder(s4, d4, 1)).serialize().toBytes();
const p6 = new BytesBody(body).wrapIn(new Icmpv6EchoBuilder(s6, d6, Icmpv6Type.EchoRequest, 0x5678, 2)).wrapIn(new Ipv6Builder(s6, d6, 58)).serialize().toBytes();
t.send(p4);
t.send(p6);
for (let i = 0; i < 40 && got.filter((g) => (g.p[0] >> 4 === 4 && g.p[9] === 1) || (g.p[0] >> 4 === 6 && g.p[6] === 58 && g.p[40] === 129)).length < 2; i++) await sleep(50);
// A kernel TCP connection attempt to us: its SYN arrives as an IP packet with a vnet header.
const c = net.connect({ host: "10.0.6.2", port: 80 });
c.on("error", () => {});
for (let i = 0; i < 40 && !got.some((g) => g.p[0] >> 4 === 4 && g.p[9] === 6); i++) await sleep(50);
c.destroy();
const syn = got.find((g) => g.p[0] >> 4 === 4 && g.p[9] === 6);
let synInfo = null;
if (syn) {
  const h = VirtioNetHdrView.parse(syn.m, 0, 12);
  const before = transportChecksumOk(syn.p, 0);
  if (h.needsCsum) completeChecksum(syn.p, 0, syn.p.length, h.csumStart, h.csumOffset);
  synInfo = { needsCsum: h.needsCsum, csumStart: h.csumStart, csumOffset: h.csumOffset, before, after: transportChecksumOk(syn.p, 0), flags: syn.p[33] };
}
console.log(JSON.stringify({ packets: got.map((g) => Buffer.from(g.p).toString("hex")), syn: synInfo, vnetHdrLen: t.vnetHdrLen, maxFrameLen: t.maxFrameLen }));
await t.close();
process.exit(0);
`;

for (const offload of ["on", "off"] as const) {
  test(`tun interop: the kernel answers our IPv4 and IPv6 echo requests over a TUN device (offloads ${offload})`, {
    skip,
    timeout: 60_000,
  }, () => {
    const ns = new Netns("tun");
    try {
      const r = ns.run(tsx[0], [...tsx.slice(1), TUN_CHILD, offload], 30_000);
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}");
      assert.equal(out.vnetHdrLen, offload === "on" ? 12 : 0);
      assert.equal(out.maxFrameLen, 65535, "frames are IP packets: no link header");
      const pkts = (out.packets as string[]).map((h) => new Uint8Array(Buffer.from(h, "hex")));
      const reply4: Icmpv4View[] = [];
      for (const p of pkts) {
        if (p[0] >> 4 !== 4) continue;
        const v = Ipv4View.parse(p, 0, p.length);
        if (isError(v) || v.proto !== 1) continue;
        const e = Icmpv4View.parse(p, v.payloadOff, v.payloadLen);
        assert.ok(!isError(e), String(e));
        reply4.push(e);
      }
      assert.equal(reply4.length, 1, out.packets.join(" "));
      const e4 = reply4[0];
      assert.equal(e4.type, 0, "echo reply");
      assert.equal(e4.id, 0x1234);
      assert.equal(e4.seq, 1);
      const six = pkts.filter((p) => p[0] >> 4 === 6 && p[6] === 58 && p[40] === 129);
      assert.equal(six.length, 1, out.packets.join(" "));
      const v6 = Ipv6View.parse(six[0], 0, six[0].length);
      assert.ok(!isError(v6), String(v6));
      // The ICMPv6 checksum verified against the pseudo-header (RFC 4443 2.3) by the parser.
      const e6 = Icmpv6View.parse(six[0], 40, six[0].length - 40, v6.src, v6.dst);
      assert.ok(!isError(e6), String(e6));
      assert.equal(e6.id, 0x5678);
      assert.equal(e6.seq, 2);
      assert.ok(out.syn !== null, "the kernel's SYN arrived");
      assert.equal(out.syn.flags & 0x02, 0x02);
      assert.equal(out.syn.after, true, "valid TCP checksum");
      if (offload === "on") {
        // Partial checksum counted from the IP header (no link header on TUN).
        assert.deepEqual(
          [out.syn.needsCsum, out.syn.csumStart, out.syn.csumOffset, out.syn.before],
          [true, 20, 16, false],
        );
      } else {
        assert.equal(out.syn.needsCsum, false);
        assert.equal(out.syn.before, true);
      }
    } finally {
      ns.destroy();
    }
  });
}
