/**
 * The Linux kernel against `netstack serve` over a TAP device, in a fresh network namespace:
 * ICMP/ICMPv6 echo (with 4000-byte pings fragmented both ways), TCP echo of 1 MB checked by hash
 * over IPv4 and IPv6, curl downloading /bytes/10000000, and the --pcap capture read back by
 * tcpdump and tshark. Skipped with the reason when not root, no /dev/net/tun, no `ip netns`, no
 * TAP addon, or a tool missing.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { bytesBody } from "../../src/node/services.ts";
import { cli, Netns, PY_ECHO_CLIENT, Serve, sh, skipReason } from "./helpers.ts";

const skip = skipReason("ping", "python3", "curl");

describe("interop: the kernel against netstack serve", { skip, timeout: 180_000 }, () => {
  let ns: Netns;
  let serve: Serve;
  let dir: string;
  let pcap: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "netstack-interop-"));
    pcap = join(dir, "serve.pcapng");
    ns = new Netns("serve");
    try {
      // serve creates tap0 itself; the kernel configures its side once it exists.
      serve = new Serve(ns, ["--tap", "tap0:10.0.0.2/24,fd00::2/64", "--pcap", pcap]);
      const line = await serve.ready();
      assert.match(line, /ready/);
      ns.configure("tap0", ["10.0.0.1/24", "fd00::1/64"]);
    } catch (e) {
      serve?.kill();
      ns.destroy();
      throw e;
    }
  });

  after(async () => {
    serve?.kill();
    ns?.destroy();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const ping = (args: string[]) => {
    const r = ns.run("ping", ["-c", "3", "-i", "0.2", "-W", "3", ...args], 20_000);
    assert.equal(r.status, 0, `ping ${args.join(" ")}: ${r.stdout} ${r.stderr}`);
    assert.match(r.stdout, /3 packets transmitted, 3 received, 0% packet loss/);
    return r.stdout;
  };

  test("the kernel pings the stack over IPv4 and IPv6", () => {
    assert.match(ping(["10.0.0.2"]), /64 bytes from 10\.0\.0\.2: icmp_seq=1/);
    assert.match(ping(["-6", "fd00::2"]), /64 bytes from fd00::2: icmp_seq=1/);
  });

  test("4000-byte pings from the kernel: fragmented requests, fragmented replies (v4 and v6)", () => {
    assert.match(ping(["-s", "4000", "10.0.0.2"]), /4008 bytes from 10\.0\.0\.2/);
    assert.match(ping(["-6", "-s", "4000", "fd00::2"]), /4008 bytes from fd00::2/);
  });

  test("TCP echo of 1 MB, verified by SHA-256, over IPv4 and IPv6", () => {
    for (const host of ["10.0.0.2", "fd00::2"]) {
      const r = ns.run("python3", ["-c", PY_ECHO_CLIENT, host, "7", String(1 << 20)], 60_000);
      assert.equal(r.status, 0, `echo client to ${host}: ${r.stderr}`);
      const [sent, got, n] = r.stdout.trim().split(" ");
      assert.equal(Number(n), 1 << 20, `echoed bytes from ${host}`);
      assert.equal(got, sent, `hash of the echo from ${host}`);
    }
  });

  test("UDP echo answers the kernel's datagram on port 7 (v4 and v6)", () => {
    const code = `
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(b"hello netstack", (sys.argv[1], 7))
d, a = s.recvfrom(2048)
print(d.decode(), a[1])`;
    for (const host of ["10.0.0.2", "fd00::2"]) {
      const r = ns.run("python3", ["-c", code, host], 20_000);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), "hello netstack 7");
    }
  });

  test("curl downloads /bytes/10000000: exactly the bytes, with Content-Length", () => {
    const out = join(dir, "bytes");
    const r = ns.run(
      "curl",
      [
        "-sS",
        "--max-time",
        "60",
        "-D",
        "-",
        "-o",
        out,
        "-w",
        "%{http_code} %{size_download}",
        "http://10.0.0.2/bytes/10000000",
      ],
      90_000,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /content-length: 10000000\r\n/i);
    assert.match(r.stdout, /200 10000000$/);
    const want = createHash("sha256").update(bytesBody(10_000_000)).digest("hex");
    assert.equal(sh("sha256sum", [out]).split(" ")[0], want);
    // And over IPv6, the page at /.
    const page = ns.run("curl", ["-sS", "--max-time", "20", "http://[fd00::2]/"], 30_000);
    assert.equal(page.status, 0, page.stderr);
    assert.match(page.stdout, /<h1>netstack<\/h1>/);
  });

  test("SIGTERM: exit 0; the pcapng written by --pcap reads back in tcpdump and tshark", async (t) => {
    assert.equal(await serve.stop(), 0, serve.stderr);
    assert.ok(existsSync(pcap));
    const td = ns.run("tcpdump", ["-nr", pcap], 60_000);
    if (td.status === null || td.stderr.includes("not found")) {
      t.diagnostic("tcpdump missing");
    } else {
      assert.equal(td.status, 0, td.stderr);
      assert.doesNotMatch(td.stderr, /truncated|cut short|bad/i);
      assert.match(td.stdout, /10\.0\.0\.1\.\d+ > 10\.0\.0\.2\.80: Flags \[S\]/);
      assert.match(td.stdout, /ICMP echo request/);
      assert.match(td.stdout, /fd00::1 > fd00::2: frag/);
    }
    if (skipReason("tshark") === false) {
      const ts = ns.run("tshark", ["-r", pcap, "-q", "-z", "io,stat,0"], 120_000);
      assert.equal(ts.status, 0, ts.stderr);
      assert.doesNotMatch(ts.stderr, /appears to have been cut short|isn't a capture file|error/i);
    }
  });

  test("bad --tap is a usage error (exit 2, one line)", () => {
    const r = ns.run(process.execPath, [cli, "serve", "--tap", "tap9"], 30_000);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    assert.match(r.stderr, /^netstack serve: --tap tap9: expected NAME:ADDR/);
  });
});
