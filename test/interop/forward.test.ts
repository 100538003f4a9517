/**
 * Two namespaces route through `netstack serve --forward` with two TAP devices: serve runs in a
 * third namespace, opens tapa and tapb, and each device is then moved into its host's namespace
 * (a TAP device keeps its file descriptor across `ip link set ... netns`). The hosts ping each
 * other and one downloads from the other's python http.server through the stack.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Netns, Serve, skipReason, sleep } from "./helpers.ts";

test("interop: two namespaces route through serve --forward (IPv4 and IPv6)", {
  skip: skipReason("ping", "python3", "curl"),
  timeout: 120_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "netstack-fwd-"));
  const blob = randomBytes(2_000_000);
  writeFileSync(join(dir, "blob"), blob);
  const nss: Netns[] = [];
  let serve: Serve | undefined;
  let http: ChildProcess | undefined;
  try {
    const r = new Netns("router");
    nss.push(r);
    const a = new Netns("hosta");
    nss.push(a);
    const b = new Netns("hostb");
    nss.push(b);
    r.ip("tuntap", "add", "dev", "tapa", "mode", "tap");
    r.ip("tuntap", "add", "dev", "tapb", "mode", "tap");
    serve = new Serve(r, ["--forward", "--tap", "tapa:10.1.0.1/24,fd01::1/64", "--tap", "tapb:10.2.0.1/24,fd02::1/64"]);
    assert.match(await serve.ready(), /ready.*forwarding/);
    r.ip("link", "set", "tapa", "netns", a.name);
    r.ip("link", "set", "tapb", "netns", b.name);
    a.configure("tapa", ["10.1.0.2/24", "fd01::2/64"]);
    b.configure("tapb", ["10.2.0.2/24", "fd02::2/64"]);
    a.ip("route", "add", "default", "via", "10.1.0.1");
    a.ip("-6", "route", "add", "default", "via", "fd01::1");
    b.ip("route", "add", "default", "via", "10.2.0.1");
    b.ip("-6", "route", "add", "default", "via", "fd02::1");

    for (const target of ["10.2.0.2", "fd02::2"]) {
      const p = a.run("ping", ["-c", "3", "-i", "0.2", "-W", "3", target], 20_000);
      assert.equal(p.status, 0, `ping ${target} through the stack: ${p.stdout} ${p.stderr}`);
      assert.match(p.stdout, /3 received/);
      // The kernel forwards nothing here: the TTL/hop limit shows one router (the stack) on the way.
      assert.match(p.stdout, /(ttl|hlim)=63/);
    }

    http = b.spawn("python3", ["-m", "http.server", "--bind", "::", "--directory", dir, "8000"]);
    for (let i = 0; i < 100; i++) {
      if (b.run("python3", ["-c", "import socket; socket.create_connection(('::1', 8000), timeout=1)"]).status === 0) {
        break;
      }
      await sleep(100);
    }
    for (const url of ["http://10.2.0.2:8000/blob", "http://[fd02::2]:8000/blob"]) {
      const out = join(dir, "got");
      const c = a.run("curl", ["-sS", "--max-time", "30", "-o", out, url], 40_000);
      assert.equal(c.status, 0, `curl ${url}: ${c.stderr}`);
      assert.equal(
        createHash("sha256").update(readFileSync(out)).digest("hex"),
        createHash("sha256").update(blob).digest("hex"),
      );
    }
    assert.equal(await serve.stop(), 0, serve.stderr);
  } finally {
    http?.kill("SIGKILL");
    serve?.kill();
    for (const n of nss) n.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
