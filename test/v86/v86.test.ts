/**
 * An i386 Linux guest in v86 (test/v86/harness.ts) on the stack's network: its NIC's frames go
 * over a WebSocket (v86's relay convention) to a NodeStack running the services of `netstack serve`
 * (src/node/services.ts): through a relay (test/v86/relay.ts) or the gateway's learning switch. The guest takes a static address (DHCP comes with the
 * gateway), pings the stack and downloads `/bytes/N` with busybox wget: length and SHA-256 checked
 * in the guest against what the service sends.
 *
 * - ne2k (v86's default card), IPv4: ARP and TCP with a real Linux peer through the emulated NIC
 *   that drops frames when its receive ring is full.
 * - virtio-net, IPv6, through the switch's WebSocket port: v86's ne2k drops all multicast, so
 *   neighbour discovery needs virtio.
 *
 * Skipped with the reason where the guest cannot be built (scripts/guest/v86/build.mjs needs a
 * Debian machine and its archive once).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { LearningSwitch } from "../../src/gateway/switch.ts";
import { memoryLinkPair } from "../../src/node/link.ts";
import { NodeStack } from "../../src/node/node-stack.ts";
import { bytesBody, readyAlive, startServices } from "../../src/node/services.ts";
import { SwitchLink } from "../../src/node/switch-ports.ts";
import { WebSocketPortServer } from "../../src/node/ws-port-server.ts";
import { type GuestNic, guestSkipReason, V86Guest } from "./harness.ts";
import { type Relay, startRelay } from "./relay.ts";

const skip = guestSkipReason();

/**
 * A NodeStack with the services and the guest's NIC on a WebSocket to it: through the relay
 * stand-in (exact frame counts for the ne2k accounting), or through the gateway's learning switch
 * (src/gateway/switch.ts) with its WebSocket port server (src/node/ws-port-server.ts) and the stack
 * as another port (SwitchLink), as `netstack gateway --ws` joins them.
 */
async function setup(nic: GuestNic, via: "relay" | "switch") {
  const stack = new NodeStack();
  const closers: (() => Promise<void>)[] = [];
  let relay: Relay | null = null;
  let sw: LearningSwitch | null = null;
  let url: string;
  if (via === "relay") {
    const [a, b] = memoryLinkPair({ names: ["stack", "relay"] });
    stack.addLink(a, { addresses: ["10.0.2.2/24", "fd00:86::2/64"] });
    relay = await startRelay(b);
    closers.push(() => relay?.close() ?? Promise.resolve());
    url = relay.url;
  } else {
    sw = new LearningSwitch({ now: () => performance.now() });
    const server = await WebSocketPortServer.listen(sw, { port: 0 });
    closers.push(() => server.close());
    stack.addLink(new SwitchLink(sw, { name: "stack" }), { addresses: ["10.0.2.2/24", "fd00:86::2/64"] });
    url = `ws://127.0.0.1:${server.address().port}/`;
  }
  await readyAlive(stack);
  const services = await startServices(stack);
  let guest: V86Guest | null = null;
  const close = async () => {
    await guest?.close();
    for (const c of closers) await c();
    await services.close();
    await stack.close();
  };
  try {
    guest = await V86Guest.boot({ nic, relayUrl: url });
  } catch (e) {
    await close();
    throw e;
  }
  return { stack, services, relay, sw, guest, close };
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
  const s = await setup("ne2k", "relay");
  const relay = s.relay!;
  try {
    const g = s.guest;
    t.diagnostic(`guest ${g.release} booted in ${g.bootMs.toFixed(0)} ms (${g.bootCpuMs.toFixed(0)} ms CPU)`);
    assert.ok(g.interfaces.includes("eth0"), `guest interfaces: ${g.interfaces.join(" ")}`);
    await g.check("ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up");

    const ping = await g.run("ping -c 3 -W 5 10.0.2.2");
    assert.equal(ping.status, 0, ping.output);
    assert.deepEqual(pingSummary(ping.output), [3, 3]);
    const counters = s.stack.core.counters.snapshot();
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
    assert.ok(relay.stats.fromClient > 0 && relay.stats.toClient > 0);
    // The card saw every frame the relay sent it; of those for it (unicast and broadcast: it
    // drops all multicast), each was stored in its ring or dropped as the ring was full, and the
    // guest's driver got every stored one.
    assert.equal(g.nicReceived, relay.stats.toClient);
    assert.equal(g.ne2kStored + g.ne2kRingDrops, relay.stats.toClientUnicast + relay.stats.toClientBroadcast);
    const rx = Number(await g.check("cat /sys/class/net/eth0/statistics/rx_packets"));
    assert.equal(rx, g.ne2kStored, "guest rx_packets = frames the card stored");
    t.diagnostic(`ne2k: ${g.ne2kStored} frames stored, ${g.ne2kRingDrops} dropped with its ring full`);
  } finally {
    await s.close();
  }
});

test("v86 virtio-net guest through the learning switch's WebSocket port: IPv6 neighbour discovery, ping6, download over IPv6", {
  skip,
  timeout: 300_000,
}, async (t) => {
  const s = await setup("virtio", "switch");
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
    const counters = s.stack.core.counters.snapshot();
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
    // The switch learned the guest's MAC on its WebSocket port.
    const learned = s.sw!.macTable().find((e) => e.mac.toLowerCase() === g.mac.toLowerCase());
    assert.ok(learned?.portName.startsWith("ws:"), `guest ${g.mac} in ${JSON.stringify(s.sw!.macTable())}`);
  } finally {
    await s.close();
  }
});
