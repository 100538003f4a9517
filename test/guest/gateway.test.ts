/**
 * A real Linux guest on `netstack gateway --qemu unix:...` (issue 15, phase 1: the switch and the
 * gateway's own stack; DHCP, DNS and NAT come with phase 2, so the guest takes a static address).
 * One boot, then the checks: the guest pings the gateway's two addresses and downloads from the
 * gateway's HTTP service byte-exact; it configures fec0::/64 from the gateway's router
 * advertisement; a stack joining by WebSocket (issue 16's WebSocketLink) on the same switch reaches
 * the guest and the other way round; SIGTERM stops the gateway with exit 0 and the capture of its
 * port holds the traffic.
 * Skips with the reason when QEMU or the guest is unavailable.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { WebSocketLink } from "../../src/browser/websocket-link.ts";
import { NodeStack } from "../../src/node/node-stack.ts";
import { bytesBody } from "../../src/node/services.ts";
import { GatewayProcess } from "./gateway-process.ts";
import { Guest, guestSkipReason, root } from "./qemu.ts";

const skip = guestSkipReason();

describe("a guest on netstack gateway --qemu unix:PATH", { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), "nsgw-test-"));
  const sock = join(dir, "gw.sock");
  const pcap = join(dir, "gw.pcapng");
  let gw: GatewayProcess;
  let guest: Guest;
  let wsPort = 0;

  before(async () => {
    gw = new GatewayProcess(["--qemu", `unix:${sock}`, "--ws", "0", "--pcap", pcap]);
    const line = await gw.ready();
    wsPort = Number(/ws ws:\/\/127\.0\.0\.1:(\d+)\//.exec(line)?.[1]);
    guest = await Guest.boot({ net: { type: "stream", path: sock } });
    await guest.sh("ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2");
  });
  after(async () => {
    await guest?.close();
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the gateway's ready line names the network and the ports", () => {
    assert.match(gw.stdout, /ready on 10\.0\.2\.0\/24 gateway 10\.0\.2\.2 dns 10\.0\.2\.3, fec0::\/64 gateway fec0::2/);
    assert.match(gw.stdout, new RegExp(`qemu unix:${sock}`));
    assert.match(gw.stderr, /connected/);
  });

  test("the guest pings 10.0.2.2 and 10.0.2.3 and fetches http://10.0.2.2/ byte-exact", async () => {
    assert.match(await guest.sh("ping -c 2 -W 5 10.0.2.2"), /2 packets transmitted, 2 packets received/);
    assert.match(await guest.sh("ping -c 1 -W 5 10.0.2.3"), /1 packets received/);
    // The gateway's MAC follows slirp's convention (52:55 + 10.0.2.2).
    assert.match(await guest.sh("ip neigh show 10.0.2.2"), /lladdr 52:55:0a:00:02:02/);
    const page = await guest.sh("wget -q -O - http://10.0.2.2/");
    assert.match(page, /^<!doctype html>\n<html><head><title>netstack<\/title>/);
    const n = 1_000_000;
    const sum = await guest.sh(`wget -q -O - http://10.0.2.2/bytes/${n} | sha256sum`, { timeoutMs: 60_000 });
    assert.equal(sum.split(" ")[0], createHash("sha256").update(bytesBody(n)).digest("hex"));
  });

  test("IPv6: the guest configures fec0::/64 from the gateway's router advertisement and pings fec0::2", async () => {
    const addrs = await guest.sh(
      "for i in $(seq 1 100); do ip -6 addr show dev eth0 | grep 'inet6 fec0::' | grep -qv tentative && break; sleep 0.1; done; ip -6 addr show dev eth0",
      { timeoutMs: 30_000 },
    );
    // SLAAC from the MAC (RFC 4862 5.5.3 with the EUI-64 of 52:54:00:12:34:56), past DAD.
    assert.match(addrs, /inet6 fec0::5054:ff:fe12:3456\/64 scope site dynamic/);
    assert.match(await guest.sh("ip -6 route show default"), /default via fe80::\S+ dev eth0/);
    assert.match(await guest.sh("ping6 -c 2 -W 5 fec0::2"), /2 packets received/);
    assert.match(await guest.sh("wget -q -O - 'http://[fec0::3]/'"), /<title>netstack<\/title>/);
  });

  test("a stack joining by WebSocket reaches the guest, and the guest reaches it", async () => {
    const stack = new NodeStack({ dad: false });
    try {
      // Issue 16's client link (what a browser tab uses) against the gateway's WebSocket port.
      const link = await WebSocketLink.connect(`ws://127.0.0.1:${wsPort}/any/path`);
      stack.addLink(link, { addresses: ["10.0.2.20/24"] });
      const r = await stack.ping("10.0.2.15", { count: 2, interval: 50, timeout: 10_000 });
      assert.equal(r.received, 2);
      assert.match(await guest.sh("ping -c 2 -W 5 10.0.2.20"), /2 packets received/);
    } finally {
      await stack.close();
    }
  });

  test("SIGTERM: exit 0; the capture of the gateway's port holds the guest's traffic", async () => {
    await guest.close();
    assert.equal(await gw.stop(), 0);
    assert.match(gw.stderr, /SIGTERM: stopping/);
    const r = spawnSync(process.execPath, [join(root, "bin", "netstack.js"), "decode", pcap], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /10\.0\.2\.15 > 10\.0\.2\.2: ICMP echo request/);
    assert.match(r.stdout, /10\.0\.2\.2 > 10\.0\.2\.15: ICMP echo reply/);
    assert.match(r.stdout, /fec0::2 > fec0::5054:ff:fe12:3456: ICMP6, echo reply/);
    // The frames between the guest and the WebSocket stack did not cross the gateway's port
    // (the switch forwards unicast to the learned port only); their ARP broadcasts did.
    assert.doesNotMatch(r.stdout, /10\.0\.2\.20 > 10\.0\.2\.15: ICMP echo request/);
  });
});
