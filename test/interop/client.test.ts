/**
 * `netstack fetch` and `netstack ping` against the Linux kernel: the namespace's kernel owns a
 * persistent TAP device (configured before the stack opens it) and runs `python3 -m http.server`;
 * the stack downloads from it and pings it, including 4000-byte pings that leave fragmented.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { cli, Netns, skipReason, sleep } from "./helpers.ts";

const skip = skipReason("python3");

/** python3 -c: listen on argv[1] (IPv6 and IPv4), never accept, never answer. */
const SILENT_SERVER = `
import socket, sys, time
s = socket.create_server(("::", int(sys.argv[1])), family=socket.AF_INET6, dualstack_ipv6=True, backlog=16)
time.sleep(3600)
`;

describe("interop: netstack fetch and ping against the kernel", { skip, timeout: 180_000 }, () => {
  let ns: Netns;
  let dir: string;
  let http: ChildProcess | undefined;
  let silent: ChildProcess | undefined;
  const blob = randomBytes(3_000_000);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "netstack-fetch-"));
    writeFileSync(join(dir, "blob"), blob);
    ns = new Netns("client");
    try {
      ns.tap("tap0", ["10.0.0.1/24", "fd00::1/64"]);
      http = ns.spawn("python3", ["-m", "http.server", "--bind", "::", "--directory", dir, "8000"]);
      // A server that never answers: it listens (the kernel completes handshakes) and never accepts.
      silent = ns.spawn("python3", ["-c", SILENT_SERVER, "8002"]);
      // Wait until both servers listen (from inside the namespace).
      for (const port of [8000, 8002]) {
        for (let i = 0; i < 100; i++) {
          const probe = `import socket; socket.create_connection(('::1', ${port}), timeout=1)`;
          if (ns.run("python3", ["-c", probe], 5000).status === 0) break;
          await sleep(100);
        }
      }
    } catch (e) {
      http?.kill("SIGKILL");
      silent?.kill("SIGKILL");
      ns.destroy();
      throw e;
    }
  });

  after(() => {
    http?.kill("SIGKILL");
    silent?.kill("SIGKILL");
    ns?.destroy();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const netstack = (...args: string[]) => ns.run(process.execPath, [cli, ...args], 60_000);

  test("fetch downloads a file from python's http.server over IPv4, byte for byte", () => {
    const out = join(dir, "got");
    const r = netstack("fetch", "--tap", "tap0:10.0.0.2/24", "http://10.0.0.1:8000/blob", "-o", out);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /^fetched http:\/\/10\.0\.0\.1:8000\/blob: 3000000 bytes \(3\.00 MB\) in [\d.]+ s, [\d.]+ [kMG]?bit\/s/,
    );
    // Progress went to stderr.
    assert.match(r.stderr, /3\.00 MB \(100%\)/);
    assert.equal(
      createHash("sha256").update(readFileSync(out)).digest("hex"),
      createHash("sha256").update(blob).digest("hex"),
    );
  });

  test("fetch over IPv6; an HTTP error or a refused connection is exit 1 with one line", () => {
    const r = netstack("fetch", "--tap", "tap0:fd00::2/64", "-q", "http://[fd00::1]:8000/blob");
    // Quiet and successful: nothing on stderr (a stall or a process that does not exit says so there).
    assert.deepEqual({ status: r.status, stderr: r.stderr }, { status: 0, stderr: "" }, r.stdout);
    assert.match(r.stdout, /3000000 bytes/);
    const missing = netstack("fetch", "--tap", "tap0:10.0.0.2/24", "-q", "http://10.0.0.1:8000/missing");
    assert.equal(missing.status, 1);
    assert.equal(missing.stderr.trim(), "netstack fetch: http://10.0.0.1:8000/missing: HTTP 404 File not found");
    const refused = netstack("fetch", "--tap", "tap0:10.0.0.2/24", "-q", "http://10.0.0.1:8001/");
    assert.equal(refused.status, 1);
    assert.equal(refused.stderr.trim(), "netstack fetch: http://10.0.0.1:8001/: connection refused by 10.0.0.1:8001");
  });

  test("fetch from a server that never answers gives up after --timeout with the TCP state", () => {
    const esc = (t: string) => t.replace(/[.[\]]/g, "\\$&");
    for (const [addr, peer, server] of [
      ["fd00::2/64", "[fd00::1]:8002", "fd00::1"],
      ["10.0.0.2/24", "10.0.0.1:8002", "10.0.0.1"],
    ]) {
      const t0 = Date.now();
      const r = netstack("fetch", "--tap", `tap0:${addr}`, "-q", "--timeout", "1.5", `http://${peer}/`);
      assert.equal(r.status, 1, r.stderr);
      assert.ok(Date.now() - t0 < 20_000);
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      // The request went out and was acknowledged (snd.una = snd.nxt), nothing came back (rcv.nxt
      // 1: just the SYN), and the server's neighbour entry is resolved.
      const m = new RegExp(
        `^netstack fetch: no data from ${esc(peer)} for 1\\.5 s \\(TCP state ESTABLISHED, snd\\.una/nxt (\\d+)/\\1, ` +
          "rcv\\.nxt 1, snd\\.wnd \\d+, rcv\\.wnd \\d+, retransmitted \\d+ segments? .*; " +
          `neighbour ${esc(server)} (reachable|stale|delay|probe) [0-9a-f:]{17}\\)$`,
      ).exec(lines[0]);
      assert.ok(m !== null, lines[0]);
      // SYN + "GET / HTTP/1.1\r\nHost: ...": well over 40 bytes.
      assert.ok(Number(m[1]) > 40, lines[0]);
    }
  });

  test("ping prints per-reply lines and a ping(8) summary, v4 and v6", () => {
    for (const [addr, target] of [
      ["10.0.0.2/24", "10.0.0.1"],
      ["fd00::2/64", "fd00::1"],
    ]) {
      const r = netstack("ping", "--tap", `tap0:${addr}`, "-c", "3", "-i", "100", target);
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stdout.trim().split("\n");
      assert.equal(lines[0], `PING ${target} (${target}) 56(${target.includes(":") ? 104 : 84}) bytes of data.`);
      for (let seq = 0; seq < 3; seq++) {
        assert.match(r.stdout, new RegExp(`64 bytes from ${target}: icmp_seq=${seq} time=[\\d.]+ ms`));
      }
      assert.match(
        r.stdout,
        /--- .* ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss, time \d+ms\n/,
      );
      assert.match(r.stdout, /rtt min\/avg\/max\/mdev = [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ ms/);
    }
  });

  test("4000-byte pings from the stack to the kernel (fragmented both ways)", () => {
    for (const [addr, target] of [
      ["10.0.0.2/24", "10.0.0.1"],
      ["fd00::2/64", "fd00::1"],
    ]) {
      const r = netstack("ping", "--tap", `tap0:${addr}`, "-c", "2", "-i", "100", "-s", "4000", target);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`4008 bytes from ${target}: icmp_seq=1`));
      assert.match(r.stdout, /2 packets transmitted, 2 received/);
    }
  });

  test("ping with no reply: 100% loss, exit 1", () => {
    const r = netstack("ping", "--tap", "tap0:10.0.0.2/24", "-c", "2", "-i", "100", "-W", "300", "10.0.0.99");
    assert.equal(r.status, 1);
    assert.match(r.stdout, /2 packets transmitted, 0 received.*100% packet loss/);
  });
});
