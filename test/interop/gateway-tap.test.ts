/**
 * The Linux kernel as a host on `netstack gateway --tap NAME` (issue 15: a TAP device is one more
 * port of the gateway's switch), in a fresh network namespace: the kernel's side of the TAP, with
 * a static address (DHCP comes with phase 2), pings the gateway's addresses and downloads from its
 * HTTP service byte-exact, configures fec0::/64 from its router advertisement, and a QEMU-stream
 * client on the same switch (a raw socket) sees the kernel's ARP broadcast. Skipped with the
 * reason when not root, no /dev/net/tun, no `ip netns`, no TAP addon, or a tool missing.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { QemuFrameDecoder } from "../../src/node/qemu-link.ts";
import { bytesBody } from "../../src/node/services.ts";
import { cli, Netns, skipReason } from "./helpers.ts";

const skip = skipReason("ping", "curl");

describe("interop: the kernel on a TAP port of netstack gateway", { skip, timeout: 120_000 }, () => {
  let ns: Netns;
  let gw: ChildProcess;
  let out = "";
  let dir: string;
  let exit: Promise<number | null>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "nsgw-tap-"));
    ns = new Netns("gwtap");
    gw = ns.spawn(process.execPath, [cli, "gateway", "--tap", "gt0", "--qemu", `unix:${join(dir, "gw.sock")}`]);
    gw.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    gw.stderr?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    exit = new Promise((resolve) => gw.on("exit", (code) => resolve(code)));
    const t0 = Date.now();
    while (!/\bready\b/.test(out)) {
      if (gw.exitCode !== null || Date.now() - t0 > 20_000) throw new Error(`gateway did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    ns.configure("gt0", ["10.0.2.50/24"]);
  });

  after(() => {
    if (gw?.exitCode === null) gw.kill("SIGKILL");
    ns?.destroy();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test("the kernel pings the gateway and downloads from its HTTP service byte-exact", () => {
    const p = ns.run("ping", ["-c", "2", "-i", "0.2", "-W", "3", "10.0.2.2"], 20_000);
    assert.equal(p.status, 0, p.stdout + p.stderr);
    assert.match(ns.run("ip", ["neigh", "show", "10.0.2.2"]).stdout, /lladdr 52:55:0a:00:02:02/);
    const n = 2_000_000;
    const r = ns.run("sh", ["-c", `curl -sS http://10.0.2.3/bytes/${n} | sha256sum`], 30_000);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.split(" ")[0], createHash("sha256").update(bytesBody(n)).digest("hex"));
  });

  test("the kernel configures fec0::/64 from the gateway's router advertisement", async () => {
    let addrs = "";
    for (let i = 0; i < 100; i++) {
      addrs = ns.run("ip", ["-6", "addr", "show", "dev", "gt0"]).stdout;
      if (/inet6 fec0::\S+\/64 scope site/.test(addrs) && !/tentative/.test(addrs)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(addrs, /inet6 fec0::\S+\/64 scope site/);
    const p = ns.run("ping", ["-6", "-c", "2", "-i", "0.2", "-W", "3", "fec0::2"], 20_000);
    assert.equal(p.status, 0, p.stdout + p.stderr);
  });

  test("a QEMU-stream port on the same switch sees the kernel's broadcasts", async () => {
    const s = connect(join(dir, "gw.sock"));
    await once(s, "connect");
    const frames: Uint8Array[] = [];
    const d = new QemuFrameDecoder(1 << 16, (f) => frames.push(f));
    s.on("data", (c: Buffer) => d.push(c));
    try {
      // An address nobody has: the kernel's ARP requests are flooded to every port.
      ns.run("ping", ["-c", "1", "-W", "1", "10.0.2.99"], 10_000);
      const isArp = (f: Uint8Array) => f[12] === 0x08 && f[13] === 0x06 && f.subarray(38, 42).join(".") === "10.0.2.99";
      // The frames wait in the socket while ping ran (spawnSync): read them now.
      for (let i = 0; i < 100 && !frames.some(isArp); i++) await new Promise((r) => setTimeout(r, 20));
      const arp = frames.find(isArp);
      assert.ok(arp !== undefined, `no ARP request for 10.0.2.99 among ${frames.length} frames`);
      assert.deepEqual([...arp.subarray(0, 6)], [255, 255, 255, 255, 255, 255]);
    } finally {
      s.destroy();
    }
  });

  test("SIGTERM stops the gateway with exit 0", async () => {
    gw.kill("SIGTERM");
    assert.equal(await exit, 0, out);
  });
});
