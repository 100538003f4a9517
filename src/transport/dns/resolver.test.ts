import assert from "node:assert/strict";
import { test } from "node:test";
import { fixtureFrames } from "../../../test/fixtures/dhcp-dns/load.ts";
import type { IpAddr, TimerId } from "../../context.ts";
import { formatV4, formatV6, type Ipv4Addr, type Ipv6Addr, parseV4, parseV6 } from "../../ip/addr.ts";
import { Rng } from "../../testing/rng.ts";
import { type Timer, TimerQueue } from "../../timers.ts";
import { DnsBuilder, DnsFlag, DnsRcode, type DnsRecord, DnsType, DnsView, dnsRecord, toRepr } from "../../wire/dns.ts";
import { isError } from "../../wire/errors.ts";
import type { DnsError } from "./errors.ts";
import { frameDnsMessage } from "./framing.ts";
import { HostsTable } from "./hosts.ts";
import type { DnsTransport } from "./query.ts";
import { type LookupAddress, Resolver, type ResolverConfig } from "./resolver.ts";

const dns = fixtureFrames("dns.pcap");
/** dnsmasq's answers (frame numbers as tshark shows them). */
const DNSMASQ = {
  wwwA: dns[1].payload,
  wwwAAAA: dns[3].payload,
  aliasA: dns[5].payload,
  nx: dns[9].payload,
  bigTruncated: dns[13].payload,
  /** The TCP answer with its 2-byte length prefix. */
  bigTcp: dns[19].payload,
};

const S1 = parseV4("10.0.2.3") as Ipv4Addr;
const S2 = parseV4("10.0.2.4") as Ipv4Addr;
const S6 = parseV6("fec0::3") as Ipv6Addr;
const fmt = (a: IpAddr) => (typeof a === "number" ? formatV4(a) : formatV6(a));

interface UdpSent {
  handle: number;
  family: 4 | 6;
  port: number;
  dst: string;
  dstPort: number;
  bytes: Uint8Array;
  at: number;
}

/** What a fake server does with a query: answer bytes, or nothing. */
type Serve = (server: string, query: DnsView, bytes: Uint8Array, tcp: boolean) => Uint8Array | null;

/**
 * A `DnsTransport` over fake servers on a fake clock: UDP sockets with their ports, TCP
 * connections, answers delivered `latency` ms after the query. Everything recorded.
 */
class FakeDnsNet implements DnsTransport {
  time = 0;
  latency = 10;
  readonly rng = new Rng(7);
  readonly queue = new TimerQueue<TimerId>();
  readonly udpSent: UdpSent[] = [];
  readonly tcpSent: { handle: number; dst: string; bytes: Uint8Array }[] = [];
  readonly open = new Map<number, { port: number; family: 4 | 6 }>();
  readonly tcp = new Map<number, { dst: string; port: number; buf: number[] }>();
  private nextHandle = 1;
  private pending: { at: number; run: () => void }[] = [];
  resolver: Resolver | null = null;
  serve: Serve = () => null;
  /** Refuse TCP connections. */
  tcpRefused = false;

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
  udpOpen(port: number, family: 4 | 6): number {
    for (const s of this.open.values()) if (s.port === port) return -1;
    const h = this.nextHandle++;
    this.open.set(h, { port, family });
    return h;
  }
  udpSend(handle: number, dst: IpAddr, dstPort: number, data: Uint8Array): void {
    const s = this.open.get(handle);
    assert.ok(s !== undefined, "send on a closed socket");
    const m = { handle, family: s.family, port: s.port, dst: fmt(dst), dstPort, bytes: data.slice(), at: this.time };
    this.udpSent.push(m);
    const v = DnsView.parse(m.bytes, 0, m.bytes.length);
    if (isError(v)) assert.fail(String(v));
    const answer = this.serve(m.dst, v, m.bytes, false);
    if (answer !== null) this.later(() => this.deliverUdp(handle, dst, dstPort, answer));
  }
  /** Deliver a datagram to socket `handle` now, if it is still open. */
  deliverUdp(handle: number, src: IpAddr, srcPort: number, data: Uint8Array): void {
    if (this.open.has(handle)) this.resolver?.onUdp(handle, src, srcPort, data);
  }
  udpClose(handle: number): void {
    this.open.delete(handle);
  }
  tcpConnect(dst: IpAddr, port: number): number {
    const h = this.nextHandle++;
    this.tcp.set(h, { dst: fmt(dst), port, buf: [] });
    if (this.tcpRefused) this.later(() => this.tcp.has(h) && this.resolver?.onTcpClosed(h));
    else this.later(() => this.tcp.has(h) && this.resolver?.onTcpConnected(h));
    return h;
  }
  tcpSend(handle: number, data: Uint8Array): void {
    const c = this.tcp.get(handle);
    assert.ok(c !== undefined);
    this.tcpSent.push({ handle, dst: c.dst, bytes: data.slice() });
    c.buf.push(...data);
    if (c.buf.length < 2 || c.buf.length < 2 + ((c.buf[0] << 8) | c.buf[1])) return;
    const msg = Uint8Array.from(c.buf.slice(2));
    c.buf = [];
    const v = DnsView.parse(msg, 0, msg.length);
    if (isError(v)) assert.fail(String(v));
    const answer = this.serve(c.dst, v, msg, true);
    if (answer === null) return;
    // The answer arrives in pieces of 7 bytes (the framer must put them together).
    for (let i = 0; i < answer.length; i += 7) {
      const piece = answer.slice(i, i + 7);
      this.later(() => this.tcp.has(handle) && this.resolver?.onTcpData(handle, piece));
    }
  }
  tcpClose(handle: number): void {
    this.tcp.delete(handle);
  }
  later(run: () => void): void {
    this.pending.push({ at: this.time + this.latency, run });
  }
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const t = this.queue.peek();
      this.pending.sort((a, b) => a.at - b.at);
      const p = this.pending[0];
      const tAt = t?.at ?? Infinity;
      const pAt = p?.at ?? Infinity;
      if (Math.min(tAt, pAt) > end) break;
      if (pAt <= tAt) {
        this.pending.shift();
        this.time = Math.max(this.time, pAt);
        p.run();
      } else {
        this.queue.popExpired(tAt);
        this.time = Math.max(this.time, tAt);
        if (t !== null && t.data.kind === "dns") this.resolver?.handleTimer(t.data);
      }
    }
    this.time = end;
  }
}

function setup(config: Partial<ResolverConfig> = {}) {
  const net = new FakeDnsNet();
  const r = new Resolver(net, { servers: [{ addr: S1, port: 53 }], ...config });
  net.resolver = r;
  const count = (name: string) => r.counters.get(name);
  return { net, r, count };
}

/** `bytes` with the id of `query`. */
function withId(bytes: Uint8Array, query: DnsView): Uint8Array {
  const b = bytes.slice();
  b[0] = query.id >> 8;
  b[1] = query.id & 0xff;
  return b;
}

/** The question of a query as "name type". */
function question(v: DnsView): string {
  const q = toRepr(v).questions[0];
  return `${q.name} ${q.type}`;
}

/** An answer to `q` built field by field. */
function answer(q: DnsView, rcode: number, answers: DnsRecord[], authority: DnsRecord[] = [], flags = 0): Uint8Array {
  const rq = toRepr(q).questions[0];
  return new DnsBuilder(
    q.id,
    DnsFlag.QR | DnsFlag.RD | DnsFlag.RA | rcode | flags,
    [{ name: rq.name, type: rq.type, class: rq.class }],
    answers,
    authority,
  ).toBytes();
}

const SOA = {
  mname: "ns.test.example",
  rname: "hostmaster.test.example",
  serial: 1,
  refresh: 1,
  retry: 1,
  expire: 1,
  minimum: 30,
};

/** dnsmasq's answers for the names it served, by question. */
const dnsmasq: Serve = (_server, q) => {
  const name = question(q);
  if (name === "www.test.example 1") return withId(DNSMASQ.wwwA, q);
  if (name === "www.test.example 28") return withId(DNSMASQ.wwwAAAA, q);
  if (name === "alias.test.example 1") return withId(DNSMASQ.aliasA, q);
  if (name === "nx.test.example 1") return withId(DNSMASQ.nx, q);
  if (name === "big.test.example 1") return withId(DNSMASQ.bigTruncated, q);
  return answer(q, DnsRcode.NXDomain, [], [dnsRecord.soa("test.example", 60, SOA)]);
};

/** Run `lookup` and return what its callback got (after `ms` of fake time). */
function lookup(
  s: ReturnType<typeof setup>,
  name: string,
  options: Parameters<Resolver["lookup"]>[1] = {},
  ms = 100,
): { err: DnsError | null; address: string | LookupAddress[]; family?: number } {
  let got: { err: DnsError | null; address: string | LookupAddress[]; family?: number } | null = null;
  s.r.lookup(name, options, (err, address, family) => {
    assert.equal(got, null, "one callback");
    got = { err, address, family };
  });
  s.net.advance(ms);
  assert.ok(got !== null, `lookup ${name} answered within ${ms} ms`);
  return got;
}

test("resolver: lookup over UDP from a random port with a random id (bytes checked); dnsmasq's answer; cached", () => {
  const s = setup();
  s.net.serve = dnsmasq;
  const got = lookup(s, "www.test.example", { family: 4 });
  assert.deepEqual(got, { err: null, address: "10.0.2.80", family: 4 });
  assert.equal(s.net.udpSent.length, 1);
  const m = s.net.udpSent[0];
  assert.deepEqual([m.dst, m.dstPort], ["10.0.2.3", 53]);
  assert.ok(m.port >= 49152 && m.port <= 65535);
  const q = DnsView.parse(m.bytes, 0, m.bytes.length) as DnsView;
  // RFC 1035 4.1: id, RD, one question, nothing else; no OPT unless EDNS0 is configured.
  // biome-ignore format: packet bytes
  const expected = [
    q.id >> 8, q.id & 0xff, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x03, 0x77, 0x77, 0x77, 0x04, 0x74, 0x65, 0x73, 0x74, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x00,
    0x00, 0x01, 0x00, 0x01,
  ];
  assert.deepEqual([...m.bytes], expected);
  assert.equal(s.net.open.size, 0, "the socket is closed after the answer");
  // Cached for its TTL (600 s): no second query.
  assert.deepEqual(lookup(s, "WWW.Test.Example.", { family: 4 }), { err: null, address: "10.0.2.80", family: 4 });
  assert.equal(s.net.udpSent.length, 1);
  assert.equal(s.count("dns.cache.hit"), 1);
  // Ids and ports of further queries differ (RFC 5452).
  lookup(s, "www.test.example", { family: 6 });
  const m2 = s.net.udpSent[1];
  assert.notEqual(m2.port, m.port);
  assert.notEqual((m2.bytes[0] << 8) | m2.bytes[1], q.id);
});

test("resolver: family 0 asks A and AAAA together; all: true lists both; order options", () => {
  const s = setup();
  s.net.serve = dnsmasq;
  const got = lookup(s, "www.test.example", { all: true });
  assert.deepEqual(got.address, [
    { address: "10.0.2.80", family: 4 },
    { address: "fd00::80", family: 6 },
  ]);
  assert.deepEqual(
    s.net.udpSent.map((m) => question(DnsView.parse(m.bytes, 0, m.bytes.length) as DnsView)),
    ["www.test.example 1", "www.test.example 28"],
  );
  assert.equal(s.net.udpSent[0].at, s.net.udpSent[1].at, "in parallel");
  assert.deepEqual(lookup(s, "www.test.example", { order: "ipv6first" }), {
    err: null,
    address: "fd00::80",
    family: 6,
  });
  assert.deepEqual(lookup(s, "www.test.example", { family: "IPv6", all: true }).address, [
    { address: "fd00::80", family: 6 },
  ]);
});

test("resolver: a CNAME chain is followed (dnsmasq's alias answer)", () => {
  const s = setup();
  s.net.serve = dnsmasq;
  assert.deepEqual(lookup(s, "alias.test.example", { family: 4 }), { err: null, address: "10.0.2.80", family: 4 });
});

test("resolver: NXDOMAIN is ENOTFOUND as Node words it, cached for the SOA's negative TTL (RFC 2308)", () => {
  const s = setup();
  s.net.serve = dnsmasq;
  const got = lookup(s, "nx.test.example", { family: 4 });
  const e = got.err as DnsError;
  assert.ok(e instanceof Error);
  assert.deepEqual(
    [e.code, e.errno, e.syscall, e.hostname, e.message],
    ["ENOTFOUND", -3008, "getaddrinfo", "nx.test.example", "getaddrinfo ENOTFOUND nx.test.example"],
  );
  // dnsmasq's SOA: TTL 600, MINIMUM 600. NXDOMAIN covers every type of the name.
  lookup(s, "nx.test.example", { family: 6 });
  assert.equal(s.net.udpSent.length, 1, "negative answer cached for AAAA too");
  s.net.advance(600_000);
  lookup(s, "nx.test.example", { family: 4 });
  assert.equal(s.net.udpSent.length, 2, "asked again once the negative TTL ran out");
  // Without an SOA a negative answer is not cached (RFC 2308 5).
  const t = setup();
  t.net.serve = (_srv, q) => answer(q, DnsRcode.NXDomain, []);
  lookup(t, "gone.example", { family: 4 });
  lookup(t, "gone.example", { family: 4 });
  assert.equal(t.net.udpSent.length, 2);
});

test("resolver: resolve4 / resolve6 (c-ares words): answers with TTLs, ENODATA, ENOTFOUND, EBADNAME", () => {
  const s = setup();
  s.net.serve = (srv, q, b, tcp) =>
    question(q) === "mx.test.example 28"
      ? answer(q, DnsRcode.NoError, [], [dnsRecord.soa("test.example", 300, SOA)])
      : dnsmasq(srv, q, b, tcp);
  const results: unknown[] = [];
  s.r.resolve4("www.test.example", { ttl: true }, (err, a) => results.push([err, a]));
  s.r.resolve6("www.test.example", (err, a) => results.push([err, a]));
  s.r.resolve6("mx.test.example", (err) => results.push([err?.code, err?.syscall, err?.message]));
  s.r.resolve4("nx.test.example", (err) => results.push([err?.code, err?.syscall, err?.errno]));
  s.r.resolve4("a..b", (err) => results.push([err?.code]));
  s.net.advance(100);
  assert.deepEqual(results, [
    ["EBADNAME"],
    [null, [{ address: "10.0.2.80", ttl: 600 }]],
    [null, ["fd00::80"]],
    ["ENODATA", "queryAaaa", "queryAaaa ENODATA mx.test.example"],
    ["ENOTFOUND", "queryA", undefined],
  ]);
  // NODATA is cached for min(SOA TTL, MINIMUM) = 30 s.
  s.r.resolve6("mx.test.example", () => {});
  assert.equal(s.net.udpSent.length, 4);
  // From the cache the TTL counts down.
  s.net.advance(100_000);
  let ttl = -1;
  s.r.resolve4("www.test.example", { ttl: true }, (_e, a) => {
    ttl = (a as { ttl: number }[])[0].ttl;
  });
  assert.equal(ttl, 500);
});

test("resolver: a truncated answer is asked again over TCP (RFC 7766), framing checked; dnsmasq's 40 addresses", () => {
  const s = setup();
  s.net.serve = (srv, q, b, tcp) => {
    if (!tcp) return dnsmasq(srv, q, b, tcp);
    const whole = DNSMASQ.bigTcp.slice();
    whole[2] = q.id >> 8;
    whole[3] = q.id & 0xff;
    return whole;
  };
  const got = lookup(s, "big.test.example", { family: 4, all: true });
  assert.equal(got.err, null);
  assert.equal((got.address as LookupAddress[]).length, 40);
  assert.equal(s.count("dns.resolver.rx.truncated"), 1);
  assert.equal(s.net.tcpSent.length, 1);
  const framed = s.net.tcpSent[0];
  assert.equal(framed.dst, "10.0.2.3", "the same server");
  // The TCP query is the UDP query with its 2-byte length (RFC 1035 4.2.2).
  assert.deepEqual(framed.bytes, frameDnsMessage(s.net.udpSent[0].bytes));
  assert.equal(s.net.tcp.size, 0, "closed after the answer");
  assert.equal(s.net.open.size, 0);
});

test("resolver: timeouts and retries over the servers (attempts 2), then EAI_AGAIN; new id and port each try", () => {
  const s = setup({
    servers: [
      { addr: S1, port: 53 },
      { addr: S2, port: 5353 },
    ],
    timeout: 5000,
    attempts: 2,
  });
  const got = lookup(s, "slow.example", { family: 4 }, 30_000);
  assert.equal(got.err?.code, "EAI_AGAIN");
  assert.equal(got.err?.errno, -3001);
  assert.deepEqual(
    s.net.udpSent.map((m) => `${m.dst}:${m.dstPort}@${m.at}`),
    ["10.0.2.3:53@0", "10.0.2.4:5353@5000", "10.0.2.3:53@10000", "10.0.2.4:5353@15000"],
  );
  assert.equal(new Set(s.net.udpSent.map((m) => m.port)).size, 4);
  assert.equal(new Set(s.net.udpSent.map((m) => (m.bytes[0] << 8) | m.bytes[1])).size, 4);
  assert.equal(s.count("dns.resolver.timeout"), 4);
  assert.equal(s.net.open.size, 0);
  assert.equal(s.net.queue.size, 0);
  // resolve4 says ETIMEOUT.
  let code = "";
  s.r.resolve4("slow.example", (e) => {
    code = e?.code ?? "";
  });
  s.net.advance(20_000);
  assert.equal(code, "ETIMEOUT");
});

test("resolver: rotate starts each query at the next server; SERVFAIL moves on to the next server at once", () => {
  const s = setup({
    servers: [
      { addr: S1, port: 53 },
      { addr: S2, port: 53 },
    ],
    rotate: true,
  });
  s.net.serve = dnsmasq;
  lookup(s, "www.test.example", { family: 4 });
  lookup(s, "www.test.example", { family: 6 });
  assert.deepEqual(
    s.net.udpSent.map((m) => m.dst),
    ["10.0.2.3", "10.0.2.4"],
  );
  const t = setup({
    servers: [
      { addr: S1, port: 53 },
      { addr: S2, port: 53 },
    ],
  });
  t.net.serve = (srv, q, b, tcp) => (srv === "10.0.2.3" ? answer(q, DnsRcode.ServFail, []) : dnsmasq(srv, q, b, tcp));
  assert.deepEqual(lookup(t, "www.test.example", { family: 4 }), { err: null, address: "10.0.2.80", family: 4 });
  assert.deepEqual(
    t.net.udpSent.map((m) => `${m.dst}@${m.at}`),
    ["10.0.2.3@0", "10.0.2.4@10"],
  );
  assert.equal(t.count("dns.resolver.rx.server-error"), 1);
  const u = setup();
  u.net.serve = (_srv, q) => answer(q, DnsRcode.Refused, []);
  let code = "";
  u.r.resolve4("www.test.example", (e) => {
    code = e?.code ?? "";
  });
  u.net.advance(100);
  assert.equal(code, "EREFUSED");
});

test("resolver: TCP refused falls back to the next server; an IPv6 server is asked over an IPv6 socket", () => {
  const s = setup({
    servers: [
      { addr: S1, port: 53 },
      { addr: S6, port: 53 },
    ],
  });
  s.net.tcpRefused = true;
  s.net.serve = (srv, q, b, tcp) =>
    srv === "10.0.2.3"
      ? dnsmasq(srv, q, b, tcp)
      : answer(q, 0, [dnsRecord.a("big.test.example", 60, 0x0a000363 as Ipv4Addr)]);
  const got = lookup(s, "big.test.example", { family: 4 });
  assert.deepEqual(got, { err: null, address: "10.0.3.99", family: 4 });
  assert.deepEqual(
    s.net.udpSent.map((m) => `${m.dst} ${m.family}`),
    ["10.0.2.3 4", "fec0::3 6"],
  );
  assert.equal(s.count("dns.resolver.tcp-failed"), 1);
});

test("resolver: hostile replies are counted and dropped; the real answer is still taken", () => {
  const s = setup();
  const got: string[] = [];
  s.r.lookup("www.test.example", { family: 4 }, (err, a) => got.push(err?.code ?? String(a)));
  const m = s.net.udpSent[0];
  const q = DnsView.parse(m.bytes, 0, m.bytes.length) as DnsView;
  const good = withId(DNSMASQ.wwwA, q);
  const other = withId(DNSMASQ.wwwAAAA, q);
  const badId = good.slice();
  badId[1] ^= 1;
  const notResponse = good.slice();
  notResponse[2] &= 0x7f;
  s.net.deliverUdp(m.handle, S2, 53, good);
  s.net.deliverUdp(m.handle, S1, 5353, good);
  s.net.deliverUdp(m.handle, S1, 53, badId);
  s.net.deliverUdp(m.handle, S1, 53, other);
  s.net.deliverUdp(m.handle, S1, 53, notResponse);
  s.net.deliverUdp(m.handle, S1, 53, good.subarray(0, 40));
  s.net.deliverUdp(m.handle, S1, 53, new Uint8Array(5000));
  s.r.onUdp(m.handle + 99, S1, 53, good);
  // A flood of guesses at the id.
  for (let id = 0; id < 65536; id++) {
    if (id === q.id) continue;
    const g = good.slice();
    g[0] = id >> 8;
    g[1] = id & 0xff;
    s.net.deliverUdp(m.handle, S1, 53, g);
  }
  assert.deepEqual(got, []);
  assert.deepEqual(
    ["wrong-source", "bad-id", "bad-question", "not-response", "malformed", "oversized", "stray"].map((n) =>
      s.count(`dns.resolver.rx.${n}`),
    ),
    [2, 65536, 1, 1, 1, 1, 1],
  );
  assert.equal(s.r.engine.outstanding, 1);
  s.net.deliverUdp(m.handle, S1, 53, good);
  assert.deepEqual(got, ["10.0.2.80"]);
  assert.equal(s.r.engine.outstanding, 0);
});

test("resolver: cache flooding: the cache holds its bounds, evictions counted, a real lookup works after", () => {
  const s = setup({ cache: { maxEntries: 100, maxBytes: 20_000 } });
  let n = 0;
  s.net.serve = (_srv, q) => {
    n++;
    const name = toRepr(q).questions[0].name;
    return name === "www.test.example"
      ? withId(DNSMASQ.wwwA, q)
      : answer(q, 0, [
          dnsRecord.a(name, 86400, (0x0a000000 + n) as Ipv4Addr),
          dnsRecord.a(name, 86400, (0x0b000000 + n) as Ipv4Addr),
        ]);
  };
  for (let i = 0; i < 3000; i++) {
    s.r.lookup(`host-${i}-${"x".repeat(i % 50)}.flood.example`, { family: 4 }, () => {});
    if (i % 100 === 99) s.net.advance(20);
  }
  s.net.advance(100);
  assert.ok(s.r.cache.size <= 100, `entries ${s.r.cache.size}`);
  assert.ok(s.r.cache.bytes <= 20_000, `bytes ${s.r.cache.bytes}`);
  assert.ok(s.count("dns.cache.evicted") >= 2900);
  assert.deepEqual(lookup(s, "www.test.example", { family: 4 }), { err: null, address: "10.0.2.80", family: 4 });
});

test("resolver: search domains and ndots (resolv.conf(5)); a final dot means the name as given", () => {
  const s = setup({ search: ["test.example", "corp.example"] });
  s.net.serve = dnsmasq;
  const asked = () => s.net.udpSent.map((m) => question(DnsView.parse(m.bytes, 0, m.bytes.length) as DnsView));
  assert.deepEqual(lookup(s, "www", { family: 4 }), { err: null, address: "10.0.2.80", family: 4 });
  assert.deepEqual(asked(), ["www.test.example 1"]);
  s.net.udpSent.length = 0;
  assert.equal(lookup(s, "nope", { family: 4 }).err?.code, "ENOTFOUND");
  assert.deepEqual(asked(), ["nope.test.example 1", "nope.corp.example 1", "nope 1"]);
  s.net.udpSent.length = 0;
  lookup(s, "a.b", { family: 4 });
  assert.deepEqual(asked(), ["a.b 1", "a.b.test.example 1", "a.b.corp.example 1"], "ndots 1: as given first");
  s.net.udpSent.length = 0;
  lookup(s, "c.", { family: 4 });
  assert.deepEqual(asked(), ["c 1"]);
  // A timeout in the search gives EAI_AGAIN (not ENOTFOUND) when nothing is found.
  const t = setup({ search: ["test.example"], timeout: 1000, attempts: 1 });
  t.net.serve = (srv, q, b, tcp) => (question(q).endsWith("test.example 1") ? null : dnsmasq(srv, q, b, tcp));
  assert.equal(lookup(t, "x", { family: 4 }, 5000).err?.code, "EAI_AGAIN");
});

test("resolver: literals, the hosts table and localhost never reach the network", () => {
  const hosts = HostsTable.parse(
    "10.1.1.1 printer printer.lan # office\n::1 ip6-localhost\nbad line\nfd00::9 printer\n",
  );
  const s = setup({ hosts });
  assert.deepEqual(lookup(s, "10.9.8.7", { family: 6 }), { err: null, address: "10.9.8.7", family: 4 });
  assert.deepEqual(lookup(s, "fd00::1", { all: true }).address, [{ address: "fd00::1", family: 6 }]);
  assert.deepEqual(lookup(s, "PRINTER.LAN.", { family: 4 }), { err: null, address: "10.1.1.1", family: 4 });
  assert.deepEqual(lookup(s, "printer", { all: true }).address, [
    { address: "10.1.1.1", family: 4 },
    { address: "fd00::9", family: 6 },
  ]);
  assert.deepEqual(lookup(s, "localhost", { all: true }).address, [
    { address: "127.0.0.1", family: 4 },
    { address: "::1", family: 6 },
  ]);
  assert.deepEqual(lookup(s, "db.localhost", { family: 6 }), { err: null, address: "::1", family: 6 });
  assert.equal(s.net.udpSent.length, 0);
  assert.equal(hosts.size, 3);
  const small = new HostsTable(1);
  assert.ok(small.add("a", "10.0.0.1"));
  assert.ok(!small.add("b", "10.0.0.2"), "bounded");
  assert.ok(!small.add("c", "not-an-address"));
});

test("resolver: bounded outstanding queries; identical questions share one query", () => {
  const s = setup({ maxOutstanding: 2, maxWaiters: 3 });
  const codes: string[] = [];
  const cb = (e: DnsError | null, a: unknown) => codes.push(e?.code ?? String(a));
  s.r.lookup("a.example", 4, cb);
  s.r.lookup("b.example", 4, cb);
  s.r.lookup("c.example", 4, cb);
  assert.deepEqual(codes, ["EAI_AGAIN"], "the third fails at once");
  assert.equal(s.count("dns.resolver.outstanding-full"), 1);
  s.r.lookup("a.example", 4, cb);
  s.r.lookup("a.example", 4, cb);
  s.r.lookup("a.example", 4, cb);
  assert.deepEqual(codes, ["EAI_AGAIN", "EAI_AGAIN"], "a fourth waiter on one query is refused");
  assert.equal(s.net.udpSent.length, 2);
  const qa = DnsView.parse(s.net.udpSent[0].bytes, 0, s.net.udpSent[0].bytes.length) as DnsView;
  s.net.deliverUdp(
    s.net.udpSent[0].handle,
    S1,
    53,
    answer(qa, 0, [dnsRecord.a("a.example", 60, 0x01020304 as Ipv4Addr)]),
  );
  assert.deepEqual(codes, ["EAI_AGAIN", "EAI_AGAIN", "1.2.3.4", "1.2.3.4", "1.2.3.4"]);
  s.r.close();
  assert.deepEqual(codes.at(-1), "ECANCELLED");
  assert.equal(s.net.open.size, 0);
  assert.equal(s.net.queue.size, 0);
});

test("resolver: CNAME loops and long chains are cut (EAI_AGAIN / ESERVFAIL), counted", () => {
  const s = setup({ maxCnameChain: 3 });
  s.net.serve = (_srv, q) =>
    answer(q, 0, [
      dnsRecord.cname("loop.example", 60, "loop2.example"),
      dnsRecord.cname("loop2.example", 60, "loop.example"),
    ]);
  assert.equal(lookup(s, "loop.example", { family: 4 }).err?.code, "EAI_AGAIN");
  assert.ok(s.count("dns.resolver.rx.cname-chain-too-long") >= 1);
  const t = setup({ maxCnameChain: 3 });
  const chain = (n: number) => {
    const rr: DnsRecord[] = [];
    for (let i = 0; i < n; i++) rr.push(dnsRecord.cname(`c${i}.example`, 60 - i, `c${i + 1}.example`));
    rr.push(dnsRecord.a(`c${n}.example`, 600, 0x05060708 as Ipv4Addr));
    return rr;
  };
  t.net.serve = (_srv, q) => answer(q, 0, chain(toRepr(q).questions[0].name === "c0.example" ? 3 : 4));
  let ttl = 0;
  t.r.resolve4("c0.example", { ttl: true }, (_e, a) => {
    ttl = (a as { ttl: number }[])[0].ttl;
  });
  t.net.advance(100);
  assert.equal(ttl, 600, "the address's own TTL");
  assert.equal(
    t.r.cache.get("c0.example", DnsType.A, t.net.time)?.ttl,
    58,
    "the entry lives as long as the shortest link",
  );
});

test("resolver: EDNS0 adds an OPT record (RFC 6891); bad arguments throw like Node", () => {
  const s = setup({ ednsUdpSize: 1232 });
  s.r.lookup("www.test.example", 4, () => {});
  const r = toRepr(DnsView.parse(s.net.udpSent[0].bytes, 0, s.net.udpSent[0].bytes.length) as DnsView);
  assert.deepEqual(r.additional, [{ name: ".", type: DnsType.OPT, class: 1232, ttl: 0, data: "" }]);
  assert.throws(() => s.r.lookup("x", { family: 5 }, () => {}), { code: "ERR_INVALID_ARG_VALUE" });
  assert.throws(() => s.r.lookup("x", {}), { code: "ERR_INVALID_ARG_VALUE" });
  const none = setup({ servers: [] });
  assert.equal(lookup(none, "www.test.example", 4).err?.code, "EAI_AGAIN");
  let code = "";
  none.r.resolve4("www.test.example", (e) => {
    code = e?.code ?? "";
  });
  assert.equal(code, "ECONNREFUSED");
  assert.equal(lookup(none, "a..b", 4).err?.code, "ENOTFOUND");
});
