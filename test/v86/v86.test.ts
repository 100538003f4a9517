/**
 * An i386 Linux guest in v86 (test/v86/harness.ts) on the stack's network: its NIC's frames go
 * over a WebSocket (v86's relay convention) to a relay (test/v86/relay.ts, a stand-in for the
 * gateway's switch) and from there over a memory link to a NodeStack running the services of
 * `netstack serve` (src/node/services.ts). The guest takes a static address (DHCP comes with the
 * gateway), pings the stack and downloads `/bytes/N` with busybox wget: length and SHA-256 checked
 * in the guest against what the service sends.
 *
 * - ne2k (v86's default card), IPv4: ARP and TCP with a real Linux peer through the emulated NIC
 *   that drops frames when its receive ring is full.
 * - virtio-net, IPv6: v86's ne2k drops all multicast, so neighbour discovery needs virtio.
 *
 * Skipped with the reason where the guest cannot be built (scripts/guest/v86/build.mjs needs a
 * Debian machine and its archive once).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { memoryLinkPair } from "../../src/node/link.ts";
import { NodeStack } from "../../src/node/node-stack.ts";
import { bytesBody, readyAlive, startServices } from "../../src/node/services.ts";
import { type GuestNic, guestSkipReason, V86Guest } from "./harness.ts";
import { startRelay } from "./relay.ts";

const skip = guestSkipReason();

/** A NodeStack with the services, a relay in front of it, and the guest on the relay. */
async function setup(nic: GuestNic) {
  const [a, b] = memoryLinkPair({ names: ["stack", "relay"] });
  const stack = new NodeStack();
  stack.addLink(a, { addresses: ["10.0.2.2/24", "fd00:86::2/64"] });
  await readyAlive(stack);
  const services = await startServices(stack);
  const relay = await startRelay(b);
  let guest: V86Guest | null = null;
  const close = async () => {
    await guest?.close();
    await relay.close();
    await services.close();
    await stack.close();
  };
  try {
    guest = await V86Guest.boot({ nic, relayUrl: relay.url });
  } catch (e) {
    await close();
    throw e;
  }
  return { stack, services, relay, guest, close };
}

function sha256(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Packets transmitted and received from ping's summary line. */
function pingSummary(out: string): [number, number] {
  const m = /(\d+) packets transmitted, (\d+) packets received/.exec(out);
  assert.ok(m, `no ping summary in:\n${out}`);
  return [Number(m[1]), Number(m[2])];
}

test("v86 ne2k guest over WebSocket: static IPv4 address, ping, download /bytes/N", {
  skip,
  timeout: 300_000,
}, async (t) => {
  const s = await setup("ne2k");
  try {
    const g = s.guest;
    t.diagnostic(`guest ${g.release} booted in ${g.bootMs.toFixed(0)} ms (${g.bootCpuMs.toFixed(0)} ms CPU)`);
    assert.ok(g.interfaces.includes("eth0"), `guest interfaces: ${g.interfaces.join(" ")}`);
    await g.check("ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up");

    const ping = await g.run("ping -c 3 -W 5 10.0.2.2");
    assert.equal(ping.status, 0, ping.output);
    assert.deepEqual(pingSummary(ping.output), [3, 3]);
    const counters = s.stack.stack.counters.snapshot();
    assert.ok((counters["icmpv4.tx.echo-reply"] ?? 0) >= 3, "the stack answered the pings");

    const n = 300_000;
    const got = await g.check(
      `wget -q -O /tmp/body http://10.0.2.2/bytes/${n} && wc -c < /tmp/body && sha256sum /tmp/body`,
      { timeoutMs: 120_000 },
    );
    const [len, hash] = got.trim().split(/\s+/);
    assert.equal(Number(len), n, "body length");
    assert.equal(hash, sha256(bytesBody(n)), "body hash");
    assert.equal(s.services.stats.httpRequests, 1);
    assert.ok(s.relay.stats.fromClient > 0 && s.relay.stats.toClient > 0);
    // The card saw every frame the relay sent it; of those for it (unicast and broadcast: it
    // drops all multicast), each was stored in its ring or dropped as the ring was full, and the
    // guest's driver got every stored one.
    assert.equal(g.nicReceived, s.relay.stats.toClient);
    assert.equal(g.ne2kStored + g.ne2kRingDrops, s.relay.stats.toClientUnicast + s.relay.stats.toClientBroadcast);
    const rx = Number(await g.check("cat /sys/class/net/eth0/statistics/rx_packets"));
    assert.equal(rx, g.ne2kStored, "guest rx_packets = frames the card stored");
    t.diagnostic(`ne2k: ${g.ne2kStored} frames stored, ${g.ne2kRingDrops} dropped with its ring full`);
  } finally {
    await s.close();
  }
});

test("v86 virtio-net guest over WebSocket: IPv6 neighbour discovery, ping6, download over IPv6", {
  skip,
  timeout: 300_000,
}, async (t) => {
  const s = await setup("virtio");
  try {
    const g = s.guest;
    t.diagnostic(`guest ${g.release} booted in ${g.bootMs.toFixed(0)} ms (${g.bootCpuMs.toFixed(0)} ms CPU)`);
    // No DAD in the guest: the address is usable at once (busybox ip has no `nodad`).
    await g.check(
      "sysctl -qw net.ipv6.conf.eth0.accept_dad=0 && ip link set eth0 up && ip -6 addr add fd00:86::15/64 dev eth0",
    );
    const ping = await g.run("ping6 -c 3 -W 5 fd00:86::2");
    assert.equal(ping.status, 0, ping.output);
    assert.deepEqual(pingSummary(ping.output), [3, 3]);
    const counters = s.stack.stack.counters.snapshot();
    assert.ok((counters["icmpv6.tx.echo-reply"] ?? 0) >= 3, "the stack answered the pings");

    const n = 300_000;
    const got = await g.check(
      `wget -q -O /tmp/body 'http://[fd00:86::2]/bytes/${n}' && wc -c < /tmp/body && sha256sum /tmp/body`,
      { timeoutMs: 120_000 },
    );
    const [len, hash] = got.trim().split(/\s+/);
    assert.equal(Number(len), n, "body length");
    assert.equal(hash, sha256(bytesBody(n)), "body hash");
    // The guest resolved the stack's address with neighbour discovery (multicast solicitation).
    const neigh = await g.check("ip -6 neigh show dev eth0");
    assert.match(neigh, /fd00:86::2 lladdr [0-9a-f:]{17}/);
  } finally {
    await s.close();
  }
});
