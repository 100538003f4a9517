import assert from "node:assert/strict";
import { test } from "node:test";
import { fixtureFrames } from "../../test/fixtures/dhcp-dns/load.ts";
import { formatV4, type Ipv4Addr, parseV4 } from "../ip/addr.ts";
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
import { DhcpClient, type DhcpClientConfig, maskToPrefix } from "./dhcp-client.ts";
import { serializeMessage } from "./fake-context.ts";
import { FakeDhcpClientContext, type SentDhcp } from "./fake-dhcp-context.ts";

const a = (s: string) => parseV4(s) as Ipv4Addr;
const MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
const dhcp = fixtureFrames("dhcp.pcap");
/** dnsmasq's OFFER and ACK to udhcpc (xid 0xa4fdb431), and its ACK to the renewal. */
const OFFER = dhcp[6].payload;
const ACK = dhcp[9].payload;
const RENEW_ACK = dhcp[13].payload;
const XID = 0xa4fdb431;
const SERVER = "10.0.2.2";
/** Half the 32-bit range: randomBelow gives half its bound, the +-1 s jitter is 0. */
const MID = 0x80000000;

function view(m: SentDhcp | Uint8Array): DhcpView {
  const b = m instanceof Uint8Array ? m : m.bytes;
  const v = DhcpView.parse(b, 0, b.length);
  if (isError(v)) assert.fail(String(v));
  return v;
}

/** The options of a message as [code, hex data] pairs. */
function opts(m: SentDhcp): [number, string][] {
  const out: [number, string][] = [];
  const c = view(m).options();
  while (c.next()) out.push([c.code, Buffer.from(c.data()).toString("hex")]);
  return out;
}

function setup(config: Partial<DhcpClientConfig> = {}) {
  const ctx = new FakeDhcpClientContext();
  const client = new DhcpClient(ctx, 0, MAC, config);
  ctx.onTimer = (id) => {
    if (id.kind === "dhcp") client.handleTimer(id);
  };
  const deliver = (bytes: Uint8Array) => client.onMessage(a(SERVER), bytes, 0, bytes.length);
  const count = (name: string) => client.counters.get(`dhcp.client.${name}`);
  return { ctx, client, deliver, count };
}

interface Reply {
  type: number;
  xid: number;
  yiaddr?: string;
  server?: string | null;
  lease?: number | null;
  t1?: number;
  t2?: number;
  mask?: string;
  routers?: string[];
  dns?: string[];
  domain?: string;
  mtu?: number;
  chaddr?: Uint8Array;
  op?: number;
}

/** A server reply built field by field (for the cases the capture does not have). */
function reply(r: Reply): Uint8Array {
  const o: DhcpOptionData[] = [dhcpOpt.messageType(r.type)];
  const server = r.server === undefined ? SERVER : r.server;
  if (server !== null) o.push(dhcpOpt.addrs(DhcpOption.ServerId, [a(server)]));
  const lease = r.lease === undefined ? 3600 : r.lease;
  if (lease !== null) o.push(dhcpOpt.u32(DhcpOption.LeaseTime, lease));
  if (r.t1 !== undefined) o.push(dhcpOpt.u32(DhcpOption.RenewalTime, r.t1));
  if (r.t2 !== undefined) o.push(dhcpOpt.u32(DhcpOption.RebindingTime, r.t2));
  o.push(dhcpOpt.addrs(DhcpOption.SubnetMask, [a(r.mask ?? "255.255.255.0")]));
  if (r.routers !== undefined) o.push(dhcpOpt.addrs(DhcpOption.Router, r.routers.map(a)));
  if (r.dns !== undefined) o.push(dhcpOpt.addrs(DhcpOption.DomainNameServer, r.dns.map(a)));
  if (r.domain !== undefined) o.push(dhcpOpt.text(DhcpOption.DomainName, r.domain));
  if (r.mtu !== undefined) o.push(dhcpOpt.u16(DhcpOption.InterfaceMtu, r.mtu));
  return serializeMessage(
    new DhcpBuilder(
      {
        op: r.op ?? DhcpOp.Reply,
        xid: r.xid,
        yiaddr: a(r.type === DhcpMessageType.Nak ? "0.0.0.0" : (r.yiaddr ?? "10.0.2.15")),
        chaddr: r.chaddr ?? MAC,
      },
      o,
    ),
  );
}

/** A client bound to 10.0.2.43 by dnsmasq's captured OFFER and ACK (lease 120 s, T1 60, T2 105). */
function boundByDnsmasq(config: Partial<DhcpClientConfig> = {}) {
  const s = setup(config);
  s.ctx.randoms = [0, XID];
  s.client.start();
  s.ctx.advance(0);
  s.ctx.advance(3000);
  s.deliver(OFFER);
  s.deliver(ACK);
  s.client.probeResult(a("10.0.2.43"), false);
  s.ctx.endProbe(0, "10.0.2.43");
  assert.equal(s.client.state, "bound");
  return s;
}

test("dhcp client: DISCOVER, dnsmasq's OFFER, REQUEST, its ACK, the probe, BOUND (bytes checked)", () => {
  const { ctx, client, deliver } = setup();
  // Start delay (0 of 1000 ms), then the xid udhcpc happened to use, so dnsmasq's replies match.
  ctx.randoms = [0, XID];
  client.start();
  assert.equal(client.state, "init");
  ctx.advance(0);
  assert.equal(client.state, "selecting");
  assert.equal(ctx.sent.length, 1);
  const d = ctx.sent[0];
  assert.deepEqual([d.src, d.dst], ["0.0.0.0", "255.255.255.255"]);
  const dv = view(d);
  assert.equal(d.bytes.length, 300);
  assert.deepEqual([dv.op, dv.htype, dv.hlen, dv.xid, dv.secs, dv.flags], [1, 1, 6, XID, 0, DHCP_FLAG_BROADCAST]);
  assert.deepEqual([dv.ciaddr, dv.yiaddr, dv.siaddr, dv.giaddr], [0, 0, 0, 0]);
  assert.ok(dv.chaddrIs(MAC));
  // RFC 2131 table 5: DISCOVER: message type, client id (RFC 2132 9.14), max size, parameter list.
  assert.deepEqual(opts(d), [
    [53, "01"],
    [61, "01525400123456"],
    [57, "05c0"],
    [55, "0103060f1a33363a3b"],
  ]);
  // The rest of the 300 bytes after End is zero.
  assert.ok(d.bytes.subarray(240 + 3 + 9 + 4 + 11 + 1).every((x) => x === 0));

  ctx.advance(3000);
  deliver(OFFER);
  assert.equal(client.state, "requesting");
  const r = ctx.sent[1];
  assert.deepEqual([r.src, r.dst], ["0.0.0.0", "255.255.255.255"]);
  const rv = view(r);
  assert.deepEqual(
    [rv.xid, rv.secs, rv.flags, rv.ciaddr],
    [XID, 3, DHCP_FLAG_BROADCAST, 0],
    "same xid as the DISCOVER",
  );
  assert.deepEqual(opts(r), [
    [53, "03"],
    [50, "0a00022b"],
    [54, "0a000202"],
    [61, "01525400123456"],
    [57, "05c0"],
    [55, "0103060f1a33363a3b"],
  ]);

  deliver(ACK);
  assert.equal(client.state, "checking");
  assert.deepEqual(ctx.probes, ["0 10.0.2.43"], "RFC 5227: the address is probed before use");
  assert.deepEqual(ctx.addresses(0), []);
  ctx.advance(2000);
  ctx.endProbe(0, "10.0.2.43");
  client.probeResult(a("10.0.2.43"), false);
  assert.equal(client.state, "bound");
  assert.deepEqual(ctx.addresses(0), ["10.0.2.43/24"]);
  assert.deepEqual([...ctx.routes], ["0 0.0.0.0/0 via 10.0.2.2"]);
  assert.equal(ctx.mtu.get(0), 1500);
  assert.deepEqual(ctx.dns.get(0), { servers: ["10.0.2.3"], search: ["test.example"] });
  assert.deepEqual(ctx.eventLog(), ["address-changed 10.0.2.43 assigned", "dhcp bound 10.0.2.43 120"]);
  // RFC 2131 4.4.1: the lease runs from when the REQUEST was sent (3 s): T1 63 s, T2 108 s, end 123 s.
  const l = client.lease;
  assert.ok(l !== null);
  assert.deepEqual([l.start, l.t1, l.t2, l.expires], [3000, 63000, 108000, 123000]);
  assert.equal(ctx.queue.size, 1, "only the lease timer");
  assert.equal(ctx.sent.length, 2);
});

test("dhcp client: RENEWING unicasts to the server at T1; dnsmasq's ACK renews", () => {
  const { ctx, client, deliver } = boundByDnsmasq();
  ctx.randoms = [XID];
  ctx.advance(63000 - ctx.time - 1);
  assert.equal(ctx.sent.length, 2);
  ctx.advance(1);
  assert.equal(client.state, "renewing");
  const r = ctx.sent[2];
  // RFC 2131 4.3.2 / 4.4.5: RENEWING: unicast from our address, ciaddr filled, no 50 or 54.
  assert.deepEqual([r.src, r.dst, r.at], ["10.0.2.43", "10.0.2.2", 63000]);
  const rv = view(r);
  assert.deepEqual([rv.xid, rv.flags, formatV4(rv.ciaddr), rv.secs], [XID, 0, "10.0.2.43", 0]);
  assert.deepEqual(
    opts(r).map(([c]) => c),
    [53, 61, 57, 55],
  );
  ctx.advance(1000);
  deliver(RENEW_ACK);
  assert.equal(client.state, "bound");
  assert.deepEqual(ctx.eventLog().slice(2), ["dhcp renewed 10.0.2.43 120"]);
  const l = client.lease;
  assert.ok(l !== null);
  // dnsmasq's renewal ACK gives the time left on its lease, T1 54 s this time.
  const ack = view(RENEW_ACK);
  assert.deepEqual([ack.leaseTime, ack.renewalTime], [120, 54]);
  assert.deepEqual([l.start, l.t1, l.expires], [63000, 63000 + 54000, 183000]);
  assert.deepEqual(ctx.addresses(0), ["10.0.2.43/24"]);
  assert.deepEqual([...ctx.routes], ["0 0.0.0.0/0 via 10.0.2.2"]);
});

test("dhcp client: no answer: RENEWING, then REBINDING broadcasts at T2, then the lease expires", () => {
  const { ctx, client } = boundByDnsmasq();
  // Renewal at 63 s; its retransmission would come 60 s later (RFC 2131 4.4.5 minimum), after T2.
  ctx.advance(63000 - ctx.time);
  assert.equal(client.state, "renewing");
  ctx.advance(108000 - ctx.time);
  assert.equal(client.state, "rebinding");
  const rb = ctx.sent.at(-1) as SentDhcp;
  assert.deepEqual([rb.src, rb.dst, rb.at], ["10.0.2.43", "255.255.255.255", 108000]);
  assert.equal(formatV4(view(rb).ciaddr), "10.0.2.43");
  assert.equal(view(rb).flags, 0);
  assert.deepEqual(
    ctx.sent.map((m) => m.at),
    [0, 3000, 63000, 108000],
  );
  // RFC 2131 4.4.5: at expiry the address and its routes go; back to INIT, asking for it again.
  ctx.advance(123000 - ctx.time - 1);
  assert.deepEqual(ctx.addresses(0), ["10.0.2.43/24"]);
  ctx.advance(1);
  assert.deepEqual(ctx.addresses(0), []);
  assert.deepEqual([...ctx.routes], []);
  assert.equal(ctx.mtu.get(0), null);
  assert.deepEqual(ctx.dns.get(0), { servers: [], search: [] });
  assert.deepEqual(ctx.eventLog().slice(2), ["dhcp expired 10.0.2.43 0", "address-changed 10.0.2.43 removed"]);
  assert.equal(client.state, "selecting");
  const d = ctx.sent.at(-1) as SentDhcp;
  assert.equal(view(d).messageType, DhcpMessageType.Discover);
  assert.equal(formatV4(view(d).requestedIp as Ipv4Addr), "10.0.2.43");
  assert.equal(client.counters.get("dhcp.client.expired"), 1);
});

test("dhcp client: a long lease renews with retransmissions half-way to T2, at least 60 s apart", () => {
  const { ctx, client, deliver } = setup({ probe: false });
  client.start();
  ctx.advance(1000);
  const xid = view(ctx.sent[0]).xid;
  deliver(reply({ type: DhcpMessageType.Offer, xid }));
  deliver(reply({ type: DhcpMessageType.Ack, xid, lease: 3600, routers: ["10.0.2.2"] }));
  assert.equal(client.state, "bound");
  const start = client.lease?.start as number;
  ctx.advance(start + 3600_000 - ctx.time + 1);
  // T1 1800 s; then (T2 - now)/2: 1800 + 675, + 337.5, then 60 s steps until T2 at 3150 s.
  const times = ctx.sent.slice(2).map((m) => (m.at - start) / 1000);
  assert.deepEqual(times.slice(0, 4), [1800, 2475, 2812.5, 2981.25]);
  const renewing = ctx.sent.slice(2).filter((m) => m.dst === SERVER);
  assert.ok(renewing.every((m, i) => i === 0 || m.at - renewing[i - 1].at >= 60_000));
  assert.ok(renewing.every((m) => (m.at - start) / 1000 < 3150));
  const rebinding = ctx.sent.filter((m) => m.dst === "255.255.255.255" && m.src === "10.0.2.15");
  assert.equal((rebinding[0].at - start) / 1000, 3150);
  assert.equal(client.state, "selecting", "expired after 3600 s without an answer");
});

test("dhcp client: DISCOVER retransmission backoff 4, 8, 16, 32, 64, 64 s (+-1 s, RFC 2131 4.1)", () => {
  for (const [rnd, jitter] of [
    [MID, 0],
    [0, -1000],
    [0xffffffff, 1000],
  ]) {
    const { ctx, client } = setup({ startDelayMax: 0 });
    ctx.defaultRandom = rnd;
    client.start();
    ctx.advance(300_000);
    const gaps = ctx.sent.slice(1).map((m, i) => m.at - ctx.sent[i].at);
    assert.deepEqual(
      gaps.slice(0, 6),
      [4000, 8000, 16000, 32000, 64000, 64000].map((g) => g + jitter),
      `random ${rnd}`,
    );
    assert.ok(ctx.sent.every((m) => view(m).messageType === DhcpMessageType.Discover));
    assert.equal(new Set(ctx.sent.map((m) => view(m).xid)).size, 1, "retransmissions keep the xid");
    // secs counts from the first DISCOVER (RFC 2131 table 5).
    assert.equal(view(ctx.sent[3]).secs, Math.floor((ctx.sent[3].at - ctx.sent[0].at) / 1000));
    assert.equal(client.state, "selecting");
  }
});

test("dhcp client: no ACK after the REQUEST retransmissions: back to INIT with a new xid", () => {
  const { ctx, client, deliver } = setup({ startDelayMax: 0, requestAttempts: 3 });
  client.start();
  ctx.advance(0);
  const xid = view(ctx.sent[0]).xid;
  ctx.randoms = [MID, MID, MID, 0x12345678];
  deliver(reply({ type: DhcpMessageType.Offer, xid }));
  ctx.advance(4000 + 8000 + 16000);
  const types = ctx.sent.map((m) => view(m).messageType);
  assert.deepEqual(types, [1, 3, 3, 3, 1]);
  assert.equal(client.state, "selecting");
  assert.equal(view(ctx.sent[4]).xid, 0x12345678);
});

test("dhcp client: NAK in REQUESTING restarts; NAKs in a row are spaced out; NAK while RENEWING drops the lease", () => {
  const { ctx, client, deliver, count } = setup({ startDelayMax: 0, probe: false });
  client.start();
  ctx.advance(0);
  for (let round = 0; round < 4; round++) {
    const xid = view(ctx.sent.at(-1) as SentDhcp).xid;
    deliver(reply({ type: DhcpMessageType.Offer, xid }));
    assert.equal(client.state, "requesting");
    deliver(reply({ type: DhcpMessageType.Nak, xid }));
    assert.equal(client.state, "init");
    const before = ctx.sent.length;
    const wait = [0, 1000, 2000, 4000][round];
    if (wait > 0) ctx.advance(wait - 1);
    assert.equal(ctx.sent.length, before, `round ${round}`);
    ctx.advance(1);
    assert.equal(view(ctx.sent.at(-1) as SentDhcp).messageType, DhcpMessageType.Discover);
  }
  assert.equal(count("rx.nak"), 4);
  // Now bind, then NAK the renewal.
  const xid = view(ctx.sent.at(-1) as SentDhcp).xid;
  deliver(reply({ type: DhcpMessageType.Offer, xid }));
  deliver(reply({ type: DhcpMessageType.Ack, xid, lease: 600, routers: ["10.0.2.2"] }));
  assert.equal(client.state, "bound");
  ctx.advance(300_000);
  assert.equal(client.state, "renewing");
  deliver(reply({ type: DhcpMessageType.Nak, xid: view(ctx.sent.at(-1) as SentDhcp).xid }));
  assert.deepEqual(ctx.addresses(0), []);
  assert.deepEqual([...ctx.routes], []);
  assert.deepEqual(ctx.eventLog().slice(-2), ["dhcp nak 10.0.2.15 0", "address-changed 10.0.2.15 removed"]);
  ctx.advance(0);
  assert.equal(client.state, "selecting", "the first NAK after a lease restarts at once");
});

test("dhcp client: an address in use is DECLINEd (bytes checked) and the client waits 10 s", () => {
  const { ctx, client, deliver } = setup({ startDelayMax: 0 });
  client.start();
  ctx.advance(0);
  const xid = view(ctx.sent[0]).xid;
  deliver(reply({ type: DhcpMessageType.Offer, xid, yiaddr: "10.0.2.16" }));
  deliver(reply({ type: DhcpMessageType.Ack, xid, yiaddr: "10.0.2.16", routers: ["10.0.2.2"] }));
  assert.equal(client.state, "checking");
  ctx.endProbe(0, "10.0.2.16");
  client.probeResult(a("10.0.2.99"), true);
  assert.equal(client.state, "checking", "a result for another address is ignored");
  client.probeResult(a("10.0.2.16"), true);
  const d = ctx.sent[2];
  assert.deepEqual([d.src, d.dst], ["0.0.0.0", "255.255.255.255"]);
  const dv = view(d);
  // RFC 2131 table 5: DECLINE: ciaddr 0, secs 0, requested address and server identifier.
  assert.deepEqual([dv.messageType, dv.ciaddr, dv.secs, dv.flags, dv.xid], [DhcpMessageType.Decline, 0, 0, 0, xid]);
  assert.deepEqual(opts(d), [
    [53, "04"],
    [50, "0a000210"],
    [54, "0a000202"],
    [61, "01525400123456"],
  ]);
  assert.deepEqual(ctx.addresses(0), [], "never installed");
  assert.deepEqual(ctx.eventLog(), ["dhcp declined 10.0.2.16 0"]);
  assert.equal(client.counters.get("dhcp.client.conflict"), 1);
  ctx.advance(9999);
  assert.equal(ctx.sent.length, 3, "RFC 2131 3.1.5: at least ten seconds before starting again");
  ctx.advance(1);
  assert.equal(view(ctx.sent[3]).messageType, DhcpMessageType.Discover);
  assert.equal(view(ctx.sent[3]).requestedIp, null, "the declined address is not asked for");
});

test("dhcp client: a conflict while BOUND (RFC 5227 2.4) gives the address up and DECLINEs it", () => {
  const { ctx, client } = boundByDnsmasq();
  client.onConflict(a("10.0.2.99"));
  assert.equal(client.state, "bound");
  client.onConflict(a("10.0.2.43"));
  assert.deepEqual(ctx.addresses(0), []);
  assert.deepEqual([...ctx.routes], []);
  assert.equal(view(ctx.sent.at(-1) as SentDhcp).messageType, DhcpMessageType.Decline);
  assert.equal(client.state, "init");
  assert.equal(ctx.queue.size, 1, "only the restart timer; no lease timer left");
});

test("dhcp client: RELEASE on orderly shutdown (RFC 2131 4.4.6), unicast from the address", () => {
  const { ctx, client } = boundByDnsmasq();
  ctx.randoms = [0xbfb63c1f];
  client.stop();
  const r = ctx.sent.at(-1) as SentDhcp;
  assert.deepEqual([r.src, r.dst], ["10.0.2.43", "10.0.2.2"]);
  const rv = view(r);
  assert.deepEqual(
    [rv.messageType, formatV4(rv.ciaddr), rv.xid, rv.secs, rv.flags],
    [7, "10.0.2.43", 0xbfb63c1f, 0, 0],
  );
  assert.deepEqual(opts(r), [
    [53, "07"],
    [54, "0a000202"],
    [61, "01525400123456"],
  ]);
  // udhcpc's RELEASE to the same lease (frame 19) carries the same fields and options.
  const theirs = view(dhcp[18].payload);
  assert.deepEqual(
    [theirs.messageType, formatV4(theirs.ciaddr), formatV4(theirs.serverId as Ipv4Addr), theirs.xid],
    [7, "10.0.2.43", "10.0.2.2", 0xbfb63c1f],
  );
  assert.deepEqual(ctx.addresses(0), []);
  assert.deepEqual(ctx.eventLog().slice(-2), ["dhcp released 10.0.2.43 0", "address-changed 10.0.2.43 removed"]);
  assert.equal(client.state, "stopped");
  assert.equal(ctx.queue.size, 0);
  const quiet = setup();
  quiet.client.start();
  quiet.client.stop();
  assert.equal(quiet.ctx.sent.length, 0, "nothing to release");
  assert.equal(quiet.ctx.queue.size, 0);
});

test("dhcp client: INIT-REBOOT asks for the old address; silence falls back to DISCOVER", () => {
  const { ctx, client, deliver } = setup({ probe: false });
  client.start(a("10.0.2.43"));
  assert.equal(client.state, "rebooting");
  const r = ctx.sent[0];
  const rv = view(r);
  // RFC 2131 4.3.2 INIT-REBOOT: broadcast, ciaddr 0, option 50, no server identifier.
  assert.deepEqual([r.src, r.dst, rv.messageType, rv.ciaddr], ["0.0.0.0", "255.255.255.255", 3, 0]);
  assert.equal(formatV4(rv.requestedIp as Ipv4Addr), "10.0.2.43");
  assert.equal(rv.serverId, null);
  deliver(reply({ type: DhcpMessageType.Ack, xid: rv.xid, yiaddr: "10.0.2.44" }));
  assert.equal(client.counters.get("dhcp.client.rx.bad-ack"), 1, "an ACK for another address");
  deliver(reply({ type: DhcpMessageType.Ack, xid: rv.xid, yiaddr: "10.0.2.43", lease: 120 }));
  assert.equal(client.state, "bound");
  assert.deepEqual(ctx.addresses(0), ["10.0.2.43/24"]);

  const silent = setup();
  silent.client.start(a("10.0.2.43"));
  silent.ctx.advance(4000 + 8000);
  assert.deepEqual(
    silent.ctx.sent.map((m) => view(m).messageType),
    [3, 3, 1],
  );
  assert.equal(formatV4(view(silent.ctx.sent[2]).requestedIp as Ipv4Addr), "10.0.2.43");
  // A NAK in REBOOTING: start over without the hint.
  const nak = setup({ startDelayMax: 0 });
  nak.client.start(a("10.0.9.9"));
  nak.deliver(reply({ type: DhcpMessageType.Nak, xid: view(nak.ctx.sent[0]).xid, server: "10.0.2.2" }));
  nak.ctx.advance(0);
  assert.equal(view(nak.ctx.sent[1]).messageType, DhcpMessageType.Discover);
  assert.equal(view(nak.ctx.sent[1]).requestedIp, null);
});

test("dhcp client: mismatched and malformed replies are counted and dropped; offer floods cost nothing", () => {
  const { ctx, client, deliver, count } = setup({ startDelayMax: 0, probe: false });
  deliver(OFFER);
  assert.equal(count("rx.not-expected"), 1, "stopped: nothing expected");
  client.start();
  ctx.advance(0);
  const xid = view(ctx.sent[0]).xid;
  deliver(new Uint8Array(100));
  deliver(OFFER.subarray(0, 250));
  assert.equal(count("rx.malformed"), 2);
  deliver(reply({ type: DhcpMessageType.Offer, xid, op: DhcpOp.Request }));
  assert.equal(count("rx.not-reply"), 1);
  deliver(reply({ type: DhcpMessageType.Offer, xid: xid ^ 1 }));
  assert.equal(count("rx.bad-xid"), 1);
  deliver(reply({ type: DhcpMessageType.Offer, xid, chaddr: Uint8Array.of(2, 0, 0, 0, 0, 1) }));
  assert.equal(count("rx.bad-chaddr"), 1);
  deliver(reply({ type: DhcpMessageType.Ack, xid }));
  assert.equal(count("rx.unexpected-type"), 1, "an ACK while selecting");
  for (const bad of [
    reply({ type: DhcpMessageType.Offer, xid, server: null }),
    reply({ type: DhcpMessageType.Offer, xid, lease: null }),
    reply({ type: DhcpMessageType.Offer, xid, yiaddr: "0.0.0.0" }),
    reply({ type: DhcpMessageType.Offer, xid, yiaddr: "224.0.0.1" }),
    reply({ type: DhcpMessageType.Offer, xid, yiaddr: "127.0.0.1" }),
    reply({ type: DhcpMessageType.Offer, xid, yiaddr: "255.255.255.255" }),
  ]) {
    deliver(bad);
  }
  assert.equal(count("rx.bad-offer"), 6);
  assert.equal(client.state, "selecting");
  assert.equal(ctx.sent.length, 1, "nothing answered");
  // The first good offer is taken; a flood of offers after it is dropped.
  deliver(reply({ type: DhcpMessageType.Offer, xid, yiaddr: "10.0.2.20" }));
  for (let i = 0; i < 10_000; i++) {
    deliver(reply({ type: DhcpMessageType.Offer, xid, yiaddr: `10.0.${i >> 8}.${i & 0xff}`, server: "10.9.9.9" }));
  }
  assert.equal(count("rx.unexpected-type"), 10_001);
  assert.equal(ctx.sent.length, 2, "one REQUEST");
  // An ACK from another server than the one chosen is not ours to take.
  deliver(reply({ type: DhcpMessageType.Ack, xid, yiaddr: "10.0.2.20", server: "10.9.9.9" }));
  deliver(reply({ type: DhcpMessageType.Nak, xid, server: "10.9.9.9" }));
  assert.equal(count("rx.wrong-server"), 2);
  deliver(reply({ type: DhcpMessageType.Ack, xid, yiaddr: "10.0.2.21" }));
  assert.equal(count("rx.bad-ack"), 1, "an ACK for another address than offered");
  deliver(reply({ type: DhcpMessageType.Ack, xid, yiaddr: "10.0.2.20", lease: null }));
  assert.equal(count("rx.bad-ack"), 2, "RFC 2131 table 3: an ACK carries the lease time");
  // The legitimate ACK still binds.
  deliver(reply({ type: DhcpMessageType.Ack, xid, yiaddr: "10.0.2.20", routers: ["10.0.2.2"] }));
  assert.equal(client.state, "bound");
  assert.deepEqual(ctx.addresses(0), ["10.0.2.20/24"]);
  deliver(reply({ type: DhcpMessageType.Ack, xid, yiaddr: "10.0.2.20" }));
  assert.equal(count("rx.not-expected"), 2, "BOUND expects nothing");
});

test("dhcp client: lease options: T1/T2 defaults and sanity, infinite leases, bounded lists, short leases", () => {
  const bind = (r: Partial<Reply>, config: Partial<DhcpClientConfig> = {}) => {
    const s = setup({ probe: false, startDelayMax: 0, ...config });
    s.client.start();
    s.ctx.advance(0);
    const xid = view(s.ctx.sent[0]).xid;
    s.deliver(reply({ type: DhcpMessageType.Offer, xid }));
    s.deliver(reply({ type: DhcpMessageType.Ack, xid, ...r }));
    assert.equal(s.client.state, "bound");
    return s;
  };
  const times = (s: ReturnType<typeof bind>) => {
    const l = s.client.lease;
    assert.ok(l !== null);
    return [l.t1, l.t2, l.expires].map((t) => t / 1000);
  };
  assert.deepEqual(times(bind({ lease: 1000 })), [500, 875, 1000], "RFC 2131 4.4.5 defaults");
  assert.deepEqual(times(bind({ lease: 1000, t1: 100, t2: 200 })), [100, 200, 1000]);
  assert.deepEqual(times(bind({ lease: 1000, t1: 900, t2: 800 })), [500, 800, 1000], "T1 after T2: the default");
  assert.deepEqual(times(bind({ lease: 1000, t1: 100, t2: 2000 })), [100, 875, 1000], "T2 after the end");
  assert.deepEqual(times(bind({ lease: 5 })), [30, 52.5, 60], "a 5 s lease is taken as 60 s");
  const inf = bind({ lease: 0xffffffff });
  assert.deepEqual(times(inf), [Infinity, Infinity, Infinity]);
  assert.equal(inf.ctx.queue.size, 0, "no lease timer for an infinite lease");
  const many = bind({
    routers: ["10.0.2.2", "0.0.0.0", "10.0.2.3", "10.0.2.4", "10.0.2.5", "10.0.2.6"],
    dns: ["10.0.2.3", "10.0.2.4", "10.0.2.5", "10.0.2.6"],
    domain: "corp.example.",
    mtu: 60,
    mask: "255.0.255.0",
  });
  const l = many.client.lease;
  assert.ok(l !== null);
  assert.deepEqual(l.routers.map(formatV4), ["10.0.2.2", "10.0.2.3", "10.0.2.4", "10.0.2.5"]);
  assert.deepEqual(many.ctx.dns.get(0), { servers: ["10.0.2.3", "10.0.2.4", "10.0.2.5"], search: ["corp.example"] });
  assert.equal(l.mtu, -1, "RFC 2132 5.1: an MTU below 68 is ignored");
  assert.equal(many.ctx.mtu.get(0), undefined);
  assert.equal(l.prefixLen, 8, "a non-contiguous mask: the classful length");
  assert.equal(bind({ domain: "bad domain!" }).ctx.dns.get(0)?.search.length, 0);
  assert.deepEqual(
    [maskToPrefix(0), maskToPrefix(0xffffffff), maskToPrefix(0xfffffe00), maskToPrefix(0xff00ff00)],
    [0, 32, 23, -1],
  );
});

test("dhcp client: a renewal that changes routers, name servers and MTU updates only those", () => {
  const { ctx, client, deliver } = setup({ probe: false, startDelayMax: 0 });
  client.start();
  ctx.advance(0);
  let xid = view(ctx.sent[0]).xid;
  deliver(reply({ type: DhcpMessageType.Offer, xid }));
  deliver(reply({ type: DhcpMessageType.Ack, xid, lease: 600, routers: ["10.0.2.2"], dns: ["10.0.2.3"], mtu: 1400 }));
  ctx.advance(300_000);
  xid = view(ctx.sent.at(-1) as SentDhcp).xid;
  deliver(reply({ type: DhcpMessageType.Ack, xid, lease: 600, routers: ["10.0.2.1"], dns: ["10.0.2.4"] }));
  assert.equal(client.state, "bound");
  assert.deepEqual([...ctx.routes], ["0 0.0.0.0/0 via 10.0.2.1"]);
  assert.deepEqual(ctx.dns.get(0), { servers: ["10.0.2.4"], search: [] });
  assert.equal(ctx.mtu.get(0), null, "the MTU option went away: the link's own MTU again");
  assert.deepEqual(ctx.addresses(0), ["10.0.2.15/24"]);
  // A renewal ACK for another address replaces the configuration.
  ctx.advance(300_000);
  xid = view(ctx.sent.at(-1) as SentDhcp).xid;
  deliver(reply({ type: DhcpMessageType.Ack, xid, yiaddr: "10.0.2.77", lease: 600, routers: ["10.0.2.1"] }));
  assert.deepEqual(ctx.addresses(0), ["10.0.2.77/24"]);
  assert.deepEqual([...ctx.routes], ["0 0.0.0.0/0 via 10.0.2.1"]);
});

test("dhcp client: options host name and client id; no broadcast flag when configured", () => {
  const { ctx, client } = setup({
    hostName: "guest1",
    clientId: Uint8Array.of(0xff, 1, 2, 3),
    broadcastFlag: false,
    startDelayMax: 0,
  });
  client.start();
  ctx.advance(0);
  const v = view(ctx.sent[0]);
  assert.equal(v.flags, 0);
  assert.equal(v.text(DhcpOption.HostName), "guest1");
  assert.deepEqual([...(v.option(DhcpOption.ClientId) ?? [])], [0xff, 1, 2, 3]);
  const none = setup({ clientId: new Uint8Array(0), startDelayMax: 0 });
  none.client.start();
  none.ctx.advance(0);
  assert.equal(view(none.ctx.sent[0]).has(DhcpOption.ClientId), false);
});
