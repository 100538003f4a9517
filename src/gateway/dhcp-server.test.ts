import assert from "node:assert/strict";
import { test } from "node:test";
import { type FixtureFrame, fixtureFrames } from "../../test/fixtures/dhcp-dns/load.ts";
import { DhcpClient } from "../hostconf/dhcp-client.ts";
import { serializeMessage } from "../hostconf/fake-context.ts";
import { FakeDhcpClientContext } from "../hostconf/fake-dhcp-context.ts";
import { formatMac, formatV4, type Ipv4Addr, type MacAddr, parseV4 } from "../ip/addr.ts";
import type { PacketBuilder } from "../packet/serialize.ts";
import {
  DHCP_FLAG_BROADCAST,
  DhcpBuilder,
  DhcpMessageType,
  DhcpOp,
  DhcpOption,
  type DhcpOptionData,
  DhcpView,
  dhcpOpt,
} from "../wire/dhcp.ts";
import { isError } from "../wire/errors.ts";
import { DhcpServer, type DhcpServerConfig, type DhcpServerContext } from "./dhcp-server.ts";

const a = (s: string) => parseV4(s) as Ipv4Addr;
const frames = fixtureFrames("dhcp.pcap");
const f = (n: number): FixtureFrame => frames[n - 1];

interface Sent {
  dst: string;
  port: number;
  mac: string | null;
  bytes: Uint8Array;
  at: number;
}

class FakeServerContext implements DhcpServerContext {
  time = 0;
  readonly sent: Sent[] = [];
  onSend: (s: Sent) => void = () => {};
  now(): number {
    return this.time;
  }
  sendDhcp(dst: Ipv4Addr, port: number, mac: MacAddr | null, msg: PacketBuilder): void {
    const s = {
      dst: formatV4(dst),
      port,
      mac: mac === null ? null : formatMac(mac),
      bytes: serializeMessage(msg),
      at: this.time,
    };
    this.sent.push(s);
    this.onSend(s);
  }
}

function view(b: Uint8Array): DhcpView {
  const v = DhcpView.parse(b, 0, b.length);
  if (isError(v)) assert.fail(String(v));
  return v;
}

function server(config: Partial<DhcpServerConfig> = {}) {
  const ctx = new FakeServerContext();
  const srv = new DhcpServer(ctx, config);
  const deliver = (b: Uint8Array, mac: Uint8Array | null = null) => srv.onMessage(a("0.0.0.0"), b, 0, b.length, mac);
  const count = (name: string) => srv.counters.get(`dhcp.server.${name}`);
  return { ctx, srv, deliver, count };
}

/** dnsmasq's configuration in test/fixtures/dhcp-dns/capture.sh, with the pool starting where dnsmasq's hash put udhcpc. */
const LIKE_DNSMASQ: Partial<DhcpServerConfig> = {
  poolStart: a("10.0.2.43"),
  poolSize: 58,
  leaseSeconds: 120,
  domainName: "test.example",
  mtu: 1500,
};

/** `bytes` with `secs` (offset 8) zeroed: dnsmasq echoes the client's, RFC 2131 table 3 says 0. */
function secsZero(b: Uint8Array): Uint8Array {
  const c = b.slice();
  c[8] = 0;
  c[9] = 0;
  return c;
}

test("dhcp server: OFFER and ACK to udhcpc are byte for byte dnsmasq's (secs aside), sent where dnsmasq sent them", () => {
  const { ctx, deliver } = server(LIKE_DNSMASQ);
  deliver(f(1).payload);
  assert.equal(ctx.sent.length, 1);
  const offer = ctx.sent[0];
  assert.deepEqual(offer.bytes, f(7).payload);
  // RFC 2131 4.1: no broadcast flag: unicast to yiaddr at chaddr, as dnsmasq did.
  assert.deepEqual([offer.dst, offer.port, offer.mac], [f(7).dst, f(7).dstPort, f(7).dstMac]);
  ctx.time = 3000;
  deliver(f(9).payload);
  const ack = ctx.sent[1];
  assert.equal(view(f(10).payload).secs, 3);
  assert.deepEqual(ack.bytes, secsZero(f(10).payload));
  assert.deepEqual([ack.dst, ack.port, ack.mac], ["10.0.2.43", 68, "52:54:00:12:34:56"]);
  // The renewal (frame 13, unicast, ciaddr): the same ACK but dnsmasq gives the time left on its
  // lease as T1/T2 (54 and 99 s), we a fresh lease (60 and 105 s).
  ctx.time = 4000;
  deliver(f(13).payload);
  const renew = ctx.sent[2];
  const theirs = f(14).payload.slice();
  const ours = renew.bytes;
  assert.equal(view(ours).renewalTime, 60);
  assert.equal(view(theirs).renewalTime, 54);
  theirs.set(ours.subarray(240 + 15, 240 + 27), 240 + 15);
  assert.deepEqual(ours, theirs);
  assert.deepEqual([renew.dst, renew.port, renew.mac], ["10.0.2.43", 68, null], "to ciaddr, resolved as usual");
});

test("dhcp server: with the broadcast flag, OFFER and ACK are broadcast and equal dnsmasq's", () => {
  const { ctx, deliver } = server(LIKE_DNSMASQ);
  deliver(f(20).payload);
  deliver(f(22).payload);
  assert.deepEqual(ctx.sent[0].bytes, f(21).payload);
  assert.deepEqual(ctx.sent[1].bytes, f(23).payload);
  for (const s of ctx.sent) assert.deepEqual([s.dst, s.port, s.mac], ["255.255.255.255", 68, null]);
  assert.equal(view(ctx.sent[0].bytes).flags, DHCP_FLAG_BROADCAST);
  assert.equal(view(ctx.sent[0].bytes).has(DhcpOption.InterfaceMtu), false, "26 only when asked for");
});

test("dhcp server: NAK for another network and ACK to INFORM, as dnsmasq (flags aside)", () => {
  const { ctx, deliver, count } = server(LIKE_DNSMASQ);
  deliver(f(25).payload);
  const nak = ctx.sent[0];
  assert.deepEqual([nak.dst, nak.port, nak.mac], ["255.255.255.255", 68, null]);
  // dnsmasq sets the broadcast flag in NAKs; RFC 2131 table 3 copies the client's flags.
  const theirs = f(26).payload.slice();
  assert.equal(view(theirs).flags, DHCP_FLAG_BROADCAST);
  theirs[10] = 0;
  assert.deepEqual(nak.bytes, theirs);
  assert.equal(view(nak.bytes).text(DhcpOption.Message), "wrong network");
  deliver(f(27).payload);
  const inform = ctx.sent[1];
  assert.deepEqual(inform.bytes, f(30).payload);
  assert.deepEqual([inform.dst, inform.port, inform.mac], ["10.0.2.50", 68, null]);
  assert.equal(count("tx.nak"), 1);
  assert.equal(count("tx.ack"), 1);
});

// ---- our client against our server ----

const MACS = [0x10, 0x11, 0x12, 0x13, 0x14].map((x) => Uint8Array.of(0x52, 0x54, 0, 0, 0, x));

/** Clients and a server on one broadcast segment, all on one fake clock. */
function network(n: number, config: Partial<DhcpServerConfig> = {}) {
  const s = server(config);
  const clients: { ctx: FakeDhcpClientContext; client: DhcpClient }[] = [];
  let up = true;
  s.ctx.onSend = (m) => {
    if (!up) return;
    for (const c of clients) {
      // Broadcast to everyone; unicast to the MAC it names, or to the client holding the address.
      const mine =
        m.dst === "255.255.255.255" ||
        (m.mac !== null && m.mac === formatMac(c.client.mac)) ||
        (m.mac === null && c.client.lease !== null && formatV4(c.client.lease.addr) === m.dst);
      if (mine) c.client.onMessage(a("10.0.2.2"), m.bytes, 0, m.bytes.length);
    }
  };
  for (let i = 0; i < n; i++) {
    const ctx = new FakeDhcpClientContext();
    const client = new DhcpClient(ctx, 0, MACS[i], { probe: false, startDelayMax: 0 });
    ctx.onTimer = (id) => {
      if (id.kind === "dhcp") client.handleTimer(id);
    };
    ctx.onSend = (m) => {
      if (up && (m.dst === "255.255.255.255" || m.dst === "10.0.2.2")) s.deliver(m.bytes, client.mac);
    };
    ctx.randoms = [0, 0x1000 + i];
    clients.push({ ctx, client });
  }
  const advance = (ms: number) => {
    // Step all clocks together, one second at a time (timers within a step fire in order per host).
    for (let t = 0; t < ms; t += 1000) {
      const step = Math.min(1000, ms - t);
      s.ctx.time += step;
      for (const c of clients) c.ctx.advance(step);
    }
  };
  return {
    ...s,
    clients,
    advance,
    setLink(on: boolean) {
      up = on;
    },
  };
}

test("dhcp server + client: three clients get distinct leases from 10.0.2.15 up, with the options", () => {
  const net = network(3, { domainName: "guest.test" });
  for (const c of net.clients) c.client.start();
  net.advance(0);
  net.advance(1000);
  assert.deepEqual(
    net.clients.map((c) => c.client.state),
    ["bound", "bound", "bound"],
  );
  assert.deepEqual(
    net.clients.map((c) => c.ctx.addresses(0)[0]),
    ["10.0.2.15/24", "10.0.2.16/24", "10.0.2.17/24"],
  );
  const c0 = net.clients[0].ctx;
  assert.deepEqual([...c0.routes], ["0 0.0.0.0/0 via 10.0.2.2"]);
  assert.deepEqual(c0.dns.get(0), { servers: ["10.0.2.3"], search: ["guest.test"] });
  assert.equal(c0.mtu.get(0), 1500);
  assert.equal(net.clients[0].client.lease?.leaseSeconds, 86400);
  assert.deepEqual(
    net.srv.leases().map((l) => `${formatV4(l.addr)} ${formatMac(l.mac)}`),
    ["10.0.2.15 52:54:00:00:00:10", "10.0.2.16 52:54:00:00:00:11", "10.0.2.17 52:54:00:00:00:12"],
  );
  assert.equal(formatMac(net.srv.leaseOf(a("10.0.2.16"))?.mac as Uint8Array), "52:54:00:00:00:11");
  assert.equal(net.srv.leaseOf(a("10.0.2.18")), null);
});

test("dhcp server + client: renewal at T1 by unicast, then server loss, rebinding, expiry on both sides", () => {
  const net = network(1, { leaseSeconds: 600 });
  const { client, ctx } = net.clients[0];
  client.start();
  net.advance(1000);
  assert.equal(client.state, "bound");
  net.advance(300_000);
  assert.equal(client.state, "bound", "renewed at T1");
  const renew = ctx.sent.find((m) => m.dst === "10.0.2.2");
  assert.ok(renew !== undefined);
  assert.equal(formatV4(view(renew.bytes).ciaddr), "10.0.2.15");
  assert.equal(net.srv.leaseOf(a("10.0.2.15"))?.expires, 300_000 + 600_000);
  // The server goes away: RENEWING, REBINDING, then the lease ends.
  net.setLink(false);
  net.advance(300_000);
  assert.equal(client.state, "renewing");
  net.advance(225_000);
  assert.equal(client.state, "rebinding");
  net.advance(75_000);
  assert.equal(client.state, "selecting");
  assert.deepEqual(ctx.addresses(0), []);
  assert.deepEqual([...ctx.routes], []);
  assert.equal(net.srv.leaseOf(a("10.0.2.15")), null, "the server's lease ran out too");
  // The server comes back: the client asks for its old address and gets it.
  net.setLink(true);
  net.advance(64_000);
  assert.equal(client.state, "bound");
  assert.deepEqual(ctx.addresses(0), ["10.0.2.15/24"]);
});

test("dhcp server + client: rebinding is answered by the server (broadcast REQUEST with ciaddr)", () => {
  const net = network(1, { leaseSeconds: 600 });
  const { client, ctx } = net.clients[0];
  client.start();
  net.advance(1000);
  // Only unicast is lost: the renewal goes unanswered, the broadcast at T2 is answered.
  ctx.onSend = (m) => {
    if (m.dst === "255.255.255.255") net.deliver(m.bytes, client.mac);
  };
  net.advance(525_000);
  assert.equal(client.state, "bound");
  assert.deepEqual(net.clients[0].ctx.eventLog().slice(-1), ["dhcp rebound 10.0.2.15 600"]);
});

test("dhcp server + client: RELEASE frees the address; pool exhaustion; expired leases are reused", () => {
  const net = network(3, { poolSize: 2 });
  for (const c of net.clients) c.client.start();
  net.advance(1000);
  assert.deepEqual(
    net.clients.map((c) => c.client.state),
    ["bound", "bound", "selecting"],
  );
  assert.ok(net.count("pool-exhausted") >= 1);
  assert.ok(net.srv.tableSize <= 2, "the table is bounded by the pool");
  net.clients[0].client.stop();
  assert.equal(net.count("released"), 1);
  assert.equal(net.srv.leaseOf(a("10.0.2.15")), null);
  net.advance(70_000);
  assert.equal(net.clients[2].client.state, "bound");
  assert.deepEqual(net.clients[2].ctx.addresses(0), ["10.0.2.15/24"]);
  // Client 1 vanishes without a RELEASE; after its lease ends client 0 gets its address.
  net.clients[1].client.stop(false);
  net.clients[0].ctx.randoms = [0, 0x2000];
  net.clients[0].client.start();
  net.advance(200_000);
  assert.equal(net.clients[0].client.state, "selecting", "nothing free yet");
  net.advance(86400_000 - 270_000);
  net.advance(64_000);
  assert.equal(net.clients[0].client.state, "bound");
  assert.deepEqual(net.clients[0].ctx.addresses(0), ["10.0.2.16/24"]);
});

test("dhcp server + client: a declined address is held back; the client gets another", () => {
  const net = network(1);
  const { client, ctx } = net.clients[0];
  client.config.probe = true;
  client.start();
  net.advance(1000);
  assert.equal(client.state, "checking");
  ctx.endProbe(0, "10.0.2.15");
  client.probeResult(a("10.0.2.15"), true);
  assert.equal(net.count("declined"), 1);
  net.advance(10_000);
  assert.equal(client.state, "checking");
  assert.deepEqual(ctx.probes, ["0 10.0.2.15", "0 10.0.2.16"]);
  assert.deepEqual(net.srv.describe(), ["10.0.2.15 declined 52:54:00:00:00:10", "10.0.2.16 bound 52:54:00:00:00:10"]);
});

/** A client request built field by field. */
function request(r: {
  type: number;
  mac?: Uint8Array;
  xid?: number;
  ciaddr?: string;
  requested?: string;
  server?: string;
  flags?: number;
  giaddr?: string;
  clientId?: Uint8Array;
  op?: number;
  htype?: number;
}): Uint8Array {
  const o: DhcpOptionData[] = [dhcpOpt.messageType(r.type)];
  if (r.requested !== undefined) o.push(dhcpOpt.addrs(DhcpOption.RequestedIp, [a(r.requested)]));
  if (r.server !== undefined) o.push(dhcpOpt.addrs(DhcpOption.ServerId, [a(r.server)]));
  if (r.clientId !== undefined) o.push(dhcpOpt.bytes(DhcpOption.ClientId, r.clientId));
  return serializeMessage(
    new DhcpBuilder(
      {
        op: r.op ?? DhcpOp.Request,
        htype: r.htype ?? 1,
        xid: r.xid ?? 1,
        flags: r.flags ?? 0,
        ciaddr: a(r.ciaddr ?? "0.0.0.0"),
        giaddr: a(r.giaddr ?? "0.0.0.0"),
        chaddr: r.mac ?? MACS[0],
      },
      o,
    ),
  );
}

test("dhcp server: INIT-REBOOT: own address ACKed, another's NAKed, unknown clients per `authoritative`", () => {
  const { ctx, deliver, count } = server();
  deliver(request({ type: DhcpMessageType.Discover, mac: MACS[0] }));
  deliver(request({ type: DhcpMessageType.Request, mac: MACS[0], requested: "10.0.2.15", server: "10.0.2.2" }));
  assert.equal(view(ctx.sent[1].bytes).messageType, DhcpMessageType.Ack);
  deliver(request({ type: DhcpMessageType.Request, mac: MACS[0], requested: "10.0.2.15" }));
  assert.equal(view(ctx.sent[2].bytes).messageType, DhcpMessageType.Ack, "its own address");
  deliver(request({ type: DhcpMessageType.Request, mac: MACS[1], requested: "10.0.2.15" }));
  const nak = view(ctx.sent[3].bytes);
  assert.equal(nak.messageType, DhcpMessageType.Nak);
  assert.equal(nak.text(DhcpOption.Message), "address in use");
  deliver(request({ type: DhcpMessageType.Request, mac: MACS[1], requested: "10.0.2.20" }));
  assert.equal(view(ctx.sent[4].bytes).messageType, DhcpMessageType.Ack, "authoritative: a free address is ACKed");
  deliver(request({ type: DhcpMessageType.Request, mac: MACS[2], requested: "10.0.2.5" }));
  assert.equal(view(ctx.sent[5].bytes).messageType, DhcpMessageType.Nak, "outside the pool");
  const quiet = server({ authoritative: false });
  quiet.deliver(request({ type: DhcpMessageType.Request, mac: MACS[1], requested: "10.0.2.20" }));
  assert.equal(quiet.ctx.sent.length, 0, "RFC 2131 4.3.2: no record of the client: silent");
  assert.equal(quiet.count("rx.unknown-client"), 1);
  assert.equal(count("tx.nak"), 2);
});

test("dhcp server: SELECTING REQUESTs: for another server free the offer; for another address NAK", () => {
  const { ctx, srv, deliver, count } = server();
  deliver(request({ type: DhcpMessageType.Discover, mac: MACS[0] }));
  assert.equal(srv.tableSize, 1);
  deliver(request({ type: DhcpMessageType.Request, mac: MACS[0], requested: "10.0.2.15", server: "10.0.2.9" }));
  assert.equal(count("rx.other-server"), 1);
  assert.equal(srv.tableSize, 0, "the offer is released");
  deliver(request({ type: DhcpMessageType.Discover, mac: MACS[0] }));
  deliver(request({ type: DhcpMessageType.Request, mac: MACS[0], requested: "10.0.2.16", server: "10.0.2.2" }));
  assert.equal(view(ctx.sent.at(-1)?.bytes as Uint8Array).messageType, DhcpMessageType.Nak);
  deliver(request({ type: DhcpMessageType.Request, mac: MACS[0], server: "10.0.2.2" }));
  assert.equal(count("rx.bad-request"), 1, "no address named");
});

test("dhcp server: offers are held for a while, then the address can go to another client", () => {
  const { ctx, deliver } = server({ poolSize: 1 });
  deliver(request({ type: DhcpMessageType.Discover, mac: MACS[0] }));
  deliver(request({ type: DhcpMessageType.Discover, mac: MACS[1] }));
  assert.equal(ctx.sent.length, 1, "held for the first client");
  ctx.time = 60_000;
  deliver(request({ type: DhcpMessageType.Discover, mac: MACS[1] }));
  assert.equal(ctx.sent.length, 2);
  assert.equal(formatV4(view(ctx.sent[1].bytes).yiaddr), "10.0.2.15");
  // The first client now asks for it: NAK (it is offered to the second).
  deliver(request({ type: DhcpMessageType.Request, mac: MACS[0], requested: "10.0.2.15", server: "10.0.2.2" }));
  assert.equal(view(ctx.sent[2].bytes).messageType, DhcpMessageType.Nak);
});

test("dhcp server: client identifier binds the lease; the same MAC with another id is another client", () => {
  const { ctx, deliver } = server();
  deliver(request({ type: DhcpMessageType.Discover, clientId: Uint8Array.of(1, 2, 3) }));
  deliver(request({ type: DhcpMessageType.Discover, clientId: Uint8Array.of(4, 5, 6) }));
  deliver(request({ type: DhcpMessageType.Discover, clientId: Uint8Array.of(1, 2, 3), mac: MACS[3] }));
  assert.deepEqual(
    ctx.sent.map((s) => formatV4(view(s.bytes).yiaddr)),
    ["10.0.2.15", "10.0.2.16", "10.0.2.15"],
  );
});

test("dhcp server: DECLINE and RELEASE only from the holder; INFORM needs ciaddr", () => {
  const { ctx, srv, deliver, count } = server();
  deliver(request({ type: DhcpMessageType.Discover, mac: MACS[0] }));
  deliver(request({ type: DhcpMessageType.Request, mac: MACS[0], requested: "10.0.2.15", server: "10.0.2.2" }));
  // Another client cannot decline or release 10.0.2.15.
  deliver(request({ type: DhcpMessageType.Decline, mac: MACS[1], requested: "10.0.2.15", server: "10.0.2.2" }));
  deliver(request({ type: DhcpMessageType.Release, mac: MACS[1], ciaddr: "10.0.2.15", server: "10.0.2.2" }));
  deliver(request({ type: DhcpMessageType.Release, mac: MACS[0], ciaddr: "10.0.2.15", server: "10.9.9.9" }));
  assert.deepEqual([count("rx.bad-decline"), count("rx.bad-release")], [1, 2]);
  assert.ok(srv.leaseOf(a("10.0.2.15")) !== null);
  deliver(request({ type: DhcpMessageType.Decline, mac: MACS[0], requested: "10.0.2.15", server: "10.0.2.2" }));
  assert.equal(srv.leaseOf(a("10.0.2.15")), null);
  deliver(request({ type: DhcpMessageType.Discover, mac: MACS[2], requested: "10.0.2.15" }));
  assert.equal(formatV4(view(ctx.sent.at(-1)?.bytes as Uint8Array).yiaddr), "10.0.2.16", "declined: held back");
  ctx.time = 600_000;
  deliver(request({ type: DhcpMessageType.Discover, mac: MACS[3], requested: "10.0.2.15" }));
  assert.equal(formatV4(view(ctx.sent.at(-1)?.bytes as Uint8Array).yiaddr), "10.0.2.15", "after the hold");
  const before = ctx.sent.length;
  deliver(request({ type: DhcpMessageType.Inform, mac: MACS[0] }));
  deliver(request({ type: DhcpMessageType.Inform, mac: MACS[0], ciaddr: "192.168.1.1" }));
  assert.equal(ctx.sent.length, before);
  assert.equal(count("rx.bad-inform"), 2);
});

test("dhcp server: replies go where RFC 2131 4.1 says (relay, ciaddr, broadcast flag, chaddr)", () => {
  const { ctx, deliver } = server();
  deliver(request({ type: DhcpMessageType.Discover, mac: MACS[0], giaddr: "10.0.2.1" }));
  deliver(request({ type: DhcpMessageType.Discover, mac: MACS[1], flags: DHCP_FLAG_BROADCAST }));
  deliver(request({ type: DhcpMessageType.Discover, mac: MACS[2] }));
  deliver(request({ type: DhcpMessageType.Request, mac: MACS[3], requested: "10.9.9.9", giaddr: "10.0.2.1" }));
  assert.deepEqual(
    ctx.sent.map((s) => [s.dst, s.port, s.mac]),
    [
      ["10.0.2.1", 67, null],
      ["255.255.255.255", 68, null],
      ["10.0.2.17", 68, "52:54:00:00:00:12"],
      ["10.0.2.1", 67, null],
    ],
  );
});

test("dhcp server: malformed and foreign input is counted and dropped; the pool never grows past its bound", () => {
  const { ctx, srv, deliver, count } = server({ poolSize: 4 });
  deliver(new Uint8Array(10));
  deliver(request({ type: DhcpMessageType.Discover }).subarray(0, 241));
  deliver(request({ type: DhcpMessageType.Offer, op: DhcpOp.Reply }));
  deliver(request({ type: DhcpMessageType.Discover, htype: 6 }));
  deliver(request({ type: DhcpMessageType.Offer }));
  deliver(request({ type: 0 }));
  deliver(request({ type: DhcpMessageType.Discover, mac: MACS[1] }), MACS[0]);
  assert.deepEqual(
    ["rx.malformed", "rx.not-request", "rx.unsupported-hardware", "rx.bad-type", "rx.chaddr-mismatch"].map(count),
    [2, 1, 1, 2, 1],
  );
  assert.equal(ctx.sent.length, 0);
  // A flood of DISCOVERs from made-up MACs: four offers, then nothing; the table stays at four.
  for (let i = 0; i < 5000; i++) {
    deliver(request({ type: DhcpMessageType.Discover, mac: Uint8Array.of(2, 0, 0, 0, i >> 8, i & 0xff) }));
  }
  assert.equal(ctx.sent.length, 4);
  assert.equal(srv.tableSize, 4);
  assert.equal(count("pool-exhausted"), 4996);
  // The offers lapse; a real client is served again.
  ctx.time = 61_000;
  deliver(request({ type: DhcpMessageType.Discover, mac: MACS[0] }));
  assert.equal(view(ctx.sent[4].bytes).messageType, DhcpMessageType.Offer);
  assert.throws(() => new DhcpServer(ctx, { poolStart: a("10.0.3.1") }), RangeError);
  assert.throws(() => new DhcpServer(ctx, { poolSize: 0 }), RangeError);
});
