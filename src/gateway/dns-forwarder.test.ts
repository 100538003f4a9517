import assert from "node:assert/strict";
import { test } from "node:test";
import { fixtureFrames } from "../../test/fixtures/dhcp-dns/load.ts";
import type { TimerId } from "../context.ts";
import { Rng } from "../testing/rng.ts";
import { type Timer, TimerQueue } from "../timers.ts";
import { frameDnsMessage } from "../transport/dns/framing.ts";
import { DnsBuilder, DnsClass, DnsFlag, DnsRcode, DnsType, DnsView, toRepr } from "../wire/dns.ts";
import { isError } from "../wire/errors.ts";
import {
  DnsForwarder,
  type DnsForwarderConfig,
  type DnsForwarderContext,
  type DnsForwarderUpstream,
} from "./dns-forwarder.ts";

const dns = fixtureFrames("dns.pcap");
/** dig's query for www.test.example A (id 0x5e7c, EDNS0 with a cookie) and dnsmasq's answer. */
const QUERY = dns[0].payload;
const ANSWER = dns[1].payload;
/** The same over TCP: dig's framed query for big.test.example and dnsmasq's framed answer. */
const TCP_QUERY = dns[17].payload;
const TCP_ANSWER = dns[19].payload;

interface Guest {
  name: string;
}

class Fake implements DnsForwarderContext<Guest>, DnsForwarderUpstream {
  time = 0;
  servers = 2;
  readonly rng = new Rng(3);
  readonly queue = new TimerQueue<TimerId>();
  readonly up: { server: number; query: Uint8Array; tcp: boolean; at: number }[] = [];
  readonly replies: { guest: string; bytes: Uint8Array; tcp: boolean; at: number }[] = [];
  fwd: DnsForwarder<Guest> | null = null;
  now(): number {
    return this.time;
  }
  random(): number {
    return this.rng.uint32();
  }
  schedule(timer: Timer<TimerId>, at: number): void {
    this.queue.schedule(timer, at);
  }
  cancel(timer: Timer<TimerId>): void {
    this.queue.cancel(timer);
  }
  reply(guest: Guest, bytes: Uint8Array, tcp: boolean): void {
    this.replies.push({ guest: guest.name, bytes: bytes.slice(), tcp, at: this.time });
  }
  send(server: number, query: Uint8Array, tcp: boolean): void {
    this.up.push({ server, query: query.slice(), tcp, at: this.time });
  }
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const t = this.queue.peek();
      if (t === null || t.at > end) break;
      this.queue.popExpired(t.at);
      this.time = t.at;
      if (t.data.kind === "dns-forwarder") this.fwd?.handleTimer(t.data);
    }
    this.time = end;
  }
}

function setup(config: Partial<DnsForwarderConfig> = {}) {
  const f = new Fake();
  const fwd = new DnsForwarder<Guest>(f, f, config);
  f.fwd = fwd;
  const count = (n: string) => fwd.counters.get(`dns.forwarder.${n}`);
  return { f, fwd, count };
}

const idOf = (b: Uint8Array) => (b[0] << 8) | b[1];
const withId = (b: Uint8Array, id: number) => {
  const c = b.slice();
  c[0] = id >> 8;
  c[1] = id & 0xff;
  return c;
};
const G1 = { name: "10.0.2.15:40000" };
const G2 = { name: "10.0.2.16:40000" };

test("dns forwarder: dig's query goes upstream with a new id only; dnsmasq's answer comes back byte for byte", () => {
  const { f, fwd, count } = setup();
  fwd.onGuestQuery(G1, G1.name, QUERY, false);
  assert.equal(f.up.length, 1);
  const up = f.up[0];
  assert.deepEqual([up.server, up.tcp], [0, false]);
  assert.notEqual(idOf(up.query), 0x5e7c, "remapped (a 1 in 65536 chance of equal; seeded)");
  assert.deepEqual(up.query.subarray(2), QUERY.subarray(2), "the rest unchanged, EDNS0 cookie included");
  fwd.onUpstreamAnswer(0, withId(ANSWER, idOf(up.query)));
  assert.equal(f.replies.length, 1);
  assert.deepEqual(f.replies[0].bytes, ANSWER, "relayed unchanged with the guest's id");
  assert.equal(f.replies[0].guest, G1.name);
  assert.equal(fwd.outstanding, 0);
  assert.equal(f.queue.size, 0);
  assert.equal(count("tx.answer"), 1);
});

test("dns forwarder: two guests with the same id and question get distinct upstream ids and their own answers", () => {
  const { f, fwd } = setup();
  fwd.onGuestQuery(G1, G1.name, QUERY, false);
  fwd.onGuestQuery(G2, G2.name, QUERY, false);
  assert.equal(f.up.length, 2);
  const [a, b] = f.up.map((u) => idOf(u.query));
  assert.notEqual(a, b);
  fwd.onUpstreamAnswer(0, withId(ANSWER, b));
  fwd.onUpstreamAnswer(0, withId(ANSWER, a));
  assert.deepEqual(
    f.replies.map((r) => [r.guest, idOf(r.bytes)]),
    [
      [G2.name, 0x5e7c],
      [G1.name, 0x5e7c],
    ],
  );
});

test("dns forwarder: timeouts move to the next server; when all fail the guest gets SERVFAIL (bytes checked)", () => {
  const { f, fwd, count } = setup({ timeout: 2000, attempts: 2 });
  fwd.onGuestQuery(G1, G1.name, QUERY, false);
  f.advance(10_000);
  assert.deepEqual(
    f.up.map((u) => `${u.server}@${u.at}`),
    ["0@0", "1@2000", "0@4000", "1@6000"],
  );
  assert.equal(new Set(f.up.map((u) => idOf(u.query))).size, 1, "one id per query: a late answer still counts");
  assert.equal(f.replies.length, 1);
  const r = f.replies[0];
  assert.equal(r.at, 8000);
  // Header: id 0x5e7c, QR|RD|RA, SERVFAIL, 1 question; the question as the guest sent it.
  // biome-ignore format: packet bytes
  assert.deepEqual([...r.bytes.subarray(0, 12)], [0x5e, 0x7c, 0x81, 0x82, 0, 1, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(r.bytes.subarray(12), QUERY.subarray(12, 12 + 18 + 4));
  assert.equal(count("upstream.timeout"), 4);
  assert.equal(count("tx.servfail"), 1);
  assert.equal(fwd.outstanding, 0);
});

test("dns forwarder: SERVFAIL or REFUSED from a server tries the next; its answer is relayed", () => {
  const { f, fwd, count } = setup();
  fwd.onGuestQuery(G1, G1.name, QUERY, false);
  const id = idOf(f.up[0].query);
  const refused = withId(ANSWER, id);
  refused[3] = (refused[3] & 0xf0) | DnsRcode.Refused;
  fwd.onUpstreamAnswer(0, refused);
  assert.equal(f.up.length, 2);
  assert.equal(f.up[1].server, 1);
  fwd.onUpstreamAnswer(1, withId(ANSWER, id));
  assert.deepEqual(f.replies[0].bytes, ANSWER);
  assert.equal(count("upstream.rx.error"), 1);
});

test("dns forwarder: hostile upstream answers are counted and dropped; a retransmitted guest query is not sent twice", () => {
  const { f, fwd, count } = setup();
  fwd.onGuestQuery(G1, G1.name, QUERY, false);
  fwd.onGuestQuery(G1, G1.name, QUERY, false);
  assert.equal(count("rx.duplicate"), 1);
  assert.equal(f.up.length, 1);
  const id = idOf(f.up[0].query);
  const good = withId(ANSWER, id);
  const otherQuestion = new DnsBuilder(id, DnsFlag.QR, [
    { name: "evil.example", type: DnsType.A, class: DnsClass.IN },
  ]).toBytes();
  const notResponse = good.slice();
  notResponse[2] &= 0x7f;
  fwd.onUpstreamAnswer(1, good);
  fwd.onUpstreamAnswer(0, withId(ANSWER, id ^ 0x5555));
  fwd.onUpstreamAnswer(0, otherQuestion);
  fwd.onUpstreamAnswer(0, notResponse);
  fwd.onUpstreamAnswer(0, good.subarray(0, 30));
  fwd.onUpstreamAnswer(7, good);
  assert.deepEqual(
    ["upstream.rx.wrong-server", "upstream.rx.stray", "upstream.rx.bad-question", "upstream.rx.malformed"].map(count),
    [2, 1, 1, 2],
  );
  assert.equal(f.replies.length, 0);
  fwd.onUpstreamAnswer(0, good);
  assert.deepEqual(f.replies[0].bytes, ANSWER);
  fwd.onUpstreamAnswer(0, good);
  assert.equal(count("upstream.rx.stray"), 2, "a second answer finds nothing in flight");
  // Once answered, the same guest id may be used again.
  fwd.onGuestQuery(G1, G1.name, QUERY, false);
  assert.equal(f.up.length, 2);
});

test("dns forwarder: malformed guest queries get FORMERR, other opcodes NOTIMP; responses and scraps are dropped", () => {
  const { f, fwd, count } = setup();
  const cut = QUERY.slice(0, 20);
  fwd.onGuestQuery(G1, G1.name, cut, false);
  const formerr = f.replies[0].bytes;
  assert.deepEqual([...formerr], [0x5e, 0x7c, 0x81, 0x81, 0, 0, 0, 0, 0, 0, 0, 0]);
  const status = QUERY.slice();
  status[2] = (status[2] & 0x87) | (2 << 3);
  fwd.onGuestQuery(G1, G1.name, status, false);
  assert.equal(f.replies[1].bytes[3] & 0xf, DnsRcode.NotImp);
  const two = new DnsBuilder(1, DnsFlag.RD, [
    { name: "a.example", type: 1, class: 1 },
    { name: "b.example", type: 1, class: 1 },
  ]).toBytes();
  fwd.onGuestQuery(G1, G1.name, two, false);
  assert.equal(f.replies[2].bytes[3] & 0xf, DnsRcode.FormErr);
  fwd.onGuestQuery(G1, G1.name, ANSWER, false);
  fwd.onGuestQuery(G1, G1.name, QUERY.subarray(0, 11), false);
  assert.equal(count("rx.not-query"), 2);
  assert.equal(f.replies.length, 3);
  assert.equal(f.up.length, 0);
});

test("dns forwarder: queries in flight are bounded (SERVFAIL beyond), the table drains, then works again", () => {
  const { f, fwd, count } = setup({ maxOutstanding: 100, timeout: 1000, attempts: 1 });
  for (let i = 0; i < 10_000; i++) {
    const q = new DnsBuilder(i & 0xffff, DnsFlag.RD, [{ name: `n${i}.flood.example`, type: 1, class: 1 }]).toBytes();
    fwd.onGuestQuery(G1, `${G1.name}/${i}`, q, false);
  }
  assert.equal(fwd.outstanding, 100);
  assert.equal(f.up.length, 100);
  assert.equal(count("outstanding-full"), 9900);
  assert.ok(f.replies.every((r) => (r.bytes[3] & 0xf) === DnsRcode.ServFail));
  f.advance(2000);
  assert.equal(fwd.outstanding, 0);
  assert.equal(f.queue.size, 0);
  fwd.onGuestQuery(G2, G2.name, QUERY, false);
  fwd.onUpstreamAnswer(0, withId(ANSWER, idOf(f.up.at(-1)?.query as Uint8Array)));
  assert.deepEqual(f.replies.at(-1)?.bytes, ANSWER);
  const none = setup();
  none.f.servers = 0;
  none.fwd.onGuestQuery(G1, G1.name, QUERY, false);
  assert.equal(none.f.replies[0].bytes[3] & 0xf, DnsRcode.ServFail, "no upstream: SERVFAIL");
});

test("dns forwarder: TCP (RFC 7766): dig's framed query in pieces goes upstream over TCP; the framed answer comes back", () => {
  const { f, fwd, count } = setup();
  const conn = { name: "tcp 10.0.2.15:43165" };
  for (let i = 0; i < TCP_QUERY.length; i += 5)
    assert.ok(fwd.onGuestTcpData(conn, conn.name, TCP_QUERY.subarray(i, i + 5)));
  assert.equal(f.up.length, 1);
  assert.equal(f.up[0].tcp, true);
  assert.deepEqual(f.up[0].query.subarray(2), TCP_QUERY.subarray(4));
  const answer = TCP_ANSWER.subarray(2);
  fwd.onUpstreamAnswer(0, withId(answer, idOf(f.up[0].query)));
  assert.deepEqual(f.replies[0], { guest: conn.name, bytes: TCP_ANSWER, tcp: true, at: 0 });
  const v = DnsView.parse(TCP_ANSWER, 2, TCP_ANSWER.length - 2);
  if (isError(v)) assert.fail(String(v));
  assert.equal(toRepr(v).answers.length, 40);
  // Two queries in one segment (pipelining) both go; bad framing closes; connections are bounded.
  const q = TCP_QUERY.subarray(2);
  const two = Uint8Array.from([...frameDnsMessage(withId(q, 1)), ...frameDnsMessage(withId(q, 2))]);
  assert.ok(fwd.onGuestTcpData(conn, conn.name, two));
  assert.equal(f.up.length, 3);
  assert.equal(fwd.onGuestTcpData(conn, conn.name, Uint8Array.of(0, 0)), false);
  assert.equal(count("tcp.bad-frame"), 1);
  fwd.onGuestTcpClosed(conn);
  const small = setup({ maxTcpConnections: 2 });
  assert.ok(small.fwd.onGuestTcpData({ name: "a" }, "a", Uint8Array.of(0)));
  assert.ok(small.fwd.onGuestTcpData({ name: "b" }, "b", Uint8Array.of(0)));
  assert.equal(small.fwd.onGuestTcpData({ name: "c" }, "c", Uint8Array.of(0)), false);
  assert.equal(small.count("tcp.too-many"), 1);
  assert.equal(small.fwd.tcpConnections, 2);
});
