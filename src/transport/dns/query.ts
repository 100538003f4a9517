/**
 * The query engine of the stub resolver: one question (a name and A or AAAA) asked of the
 * configured servers over UDP, with TCP when the answer is truncated (RFC 1035 4.2, RFC 7766 5:
 * TC set, the query is repeated over TCP with 2-byte length framing), timeouts and retries over
 * the server list (resolv.conf's timeout, attempts and rotate), and the answer checked as RFC 5452
 * 9.1 asks: from the server's address and port, to the random port the query left from, with the
 * query's random id and the same question. Replies that fail a check are counted and dropped (the
 * query keeps waiting for the real one); CNAME chains (RFC 1034 3.6.2, RFC 2181 10.1.1) are
 * followed inside the answer, at most `maxCnameChain` links.
 *
 * Sans-IO: sockets, timers and randomness come from the `DnsTransport` the Stack provides; what
 * arrives is handed to `onUdp`, `onTcpConnected`, `onTcpData`, `onTcpClosed`, `handleTimer`.
 * Outstanding queries are bounded; a second ask for a question already in flight waits for the
 * same query (at most `maxWaiters` of them).
 */
import type { IpAddr, TimerId, TimerIdOf } from "../../context.ts";
import { type CounterId, type Counters, counter } from "../../counters.ts";
import { formatV4, formatV6, type Ipv4Addr, type Ipv6Addr } from "../../ip/addr.ts";
import { Timer } from "../../timers.ts";
import {
  DNS_PORT,
  DnsBuilder,
  DnsClass,
  DnsFlag,
  DnsRcode,
  DnsRecordCursor,
  DnsSection,
  DnsType,
  DnsView,
  dnsRecord,
  encodeName,
} from "../../wire/dns.ts";
import { DnsTcpFramer, frameDnsMessage } from "./framing.ts";

declare module "../../context.ts" {
  interface TimerIdMap {
    /** A query of the DNS resolver (`key` is the resolver's number for it): its timeout. */
    dns: { key: number };
  }
}

/** A name server: an address and a port (53 unless said otherwise). */
export interface DnsServerAddr {
  addr: IpAddr;
  port: number;
}

/** What the resolver needs from the Stack: sockets, timers, randomness. */
export interface DnsTransport {
  /** Monotonic time in ms. */
  now(): number;
  /** A uniformly random 32-bit unsigned integer (ids and ports must be unpredictable, RFC 5452). */
  random(): number;
  schedule(timer: Timer<TimerId>, at: number): void;
  cancel(timer: Timer<TimerId>): void;
  /**
   * Open a UDP socket of `family` bound to local port `port` (any local address). Datagrams that
   * arrive on it go to `resolver.onUdp(handle, src, srcPort, payload)`. Returns a handle (a
   * non-negative integer), or -1 when the port is taken (another port is then tried).
   */
  udpOpen(port: number, family: 4 | 6): number;
  /** Send `data` from the socket to `dst`:`dstPort`. */
  udpSend(handle: number, dst: IpAddr, dstPort: number, data: Uint8Array): void;
  /** Close the socket; nothing more is delivered for it. */
  udpClose(handle: number): void;
  /**
   * Open a TCP connection to `dst`:`port`; then `onTcpConnected(handle)`, `onTcpData(handle,
   * bytes)` as bytes arrive, `onTcpClosed(handle)` when it fails or the peer closes. Returns a
   * handle, or -1 when no connection can be opened.
   */
  tcpConnect(dst: IpAddr, port: number): number;
  tcpSend(handle: number, data: Uint8Array): void;
  /** Close (or abort) the connection; nothing more is delivered for it. */
  tcpClose(handle: number): void;
}

export interface QueryConfig {
  /** Wait for an answer this long per try, ms (resolv.conf `timeout`, in seconds there). Default 5000. */
  timeout: number;
  /** Rounds over the server list (resolv.conf `attempts`). Default 2. */
  attempts: number;
  /** Start each query at the next server in turn (resolv.conf `rotate`). Default false. */
  rotate: boolean;
  /** EDNS0 (RFC 6891): the UDP payload size to advertise, 0 for none. Default 0 (plain RFC 1035). */
  ednsUdpSize: number;
  /** Queries in flight, at most. Default 256. */
  maxOutstanding: number;
  /** Callers waiting on one query, at most. Default 64. */
  maxWaiters: number;
  /** CNAME links followed in an answer, at most. Default 8. */
  maxCnameChain: number;
  /** Larger UDP answers are dropped as oversized. Default 4096. */
  maxUdpResponse: number;
  /** Local UDP ports drawn from this range (RFC 6056 2.1). Default 49152..65535. */
  ephemeralMin: number;
  ephemeralMax: number;
}

export const DEFAULT_QUERY_CONFIG: QueryConfig = {
  timeout: 5000,
  attempts: 2,
  rotate: false,
  ednsUdpSize: 0,
  maxOutstanding: 256,
  maxWaiters: 64,
  maxCnameChain: 8,
  maxUdpResponse: 4096,
  ephemeralMin: 49152,
  ephemeralMax: 65535,
};

/** An address from an answer and its TTL in seconds. */
export interface AnswerAddress {
  address: string;
  family: 4 | 6;
  ttl: number;
}

/** Why a query failed, in c-ares' words. */
export type QueryFailure =
  | "ETIMEOUT"
  | "ESERVFAIL"
  | "EREFUSED"
  | "ENOTIMP"
  | "EFORMERR"
  | "ECONNREFUSED"
  | "ENOMEM"
  | "ECANCELLED";

/** How a query ended. TTLs are seconds; a negative TTL is null when the answer had no SOA (not cached). */
export type QueryOutcome =
  | { kind: "answer"; addrs: AnswerAddress[]; ttl: number }
  | { kind: "nxdomain"; ttl: number | null }
  | { kind: "nodata"; ttl: number | null }
  | { kind: "failed"; error: QueryFailure };

const C = {
  txUdp: counter("dns.resolver.tx.udp"),
  txTcp: counter("dns.resolver.tx.tcp"),
  malformed: counter("dns.resolver.rx.malformed"),
  wrongSource: counter("dns.resolver.rx.wrong-source"),
  badId: counter("dns.resolver.rx.bad-id"),
  badQuestion: counter("dns.resolver.rx.bad-question"),
  notResponse: counter("dns.resolver.rx.not-response"),
  oversized: counter("dns.resolver.rx.oversized"),
  stray: counter("dns.resolver.rx.stray"),
  truncated: counter("dns.resolver.rx.truncated"),
  serverError: counter("dns.resolver.rx.server-error"),
  cnameChain: counter("dns.resolver.rx.cname-chain-too-long"),
  timeout: counter("dns.resolver.timeout"),
  tcpFailed: counter("dns.resolver.tcp-failed"),
  tcpBadFrame: counter("dns.resolver.rx.tcp-bad-frame"),
  noPort: counter("dns.resolver.no-port"),
  outstandingFull: counter("dns.resolver.outstanding-full"),
  waitersFull: counter("dns.resolver.waiters-full"),
} as const satisfies Record<string, CounterId>;

/** Local ports tried for one send before the try is given up. */
const PORT_TRIES = 8;

function ipEqual(a: IpAddr, b: IpAddr): boolean {
  if (typeof a === "number" || typeof b === "number") return a === b;
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

class Query {
  readonly timer: Timer<TimerId>;
  readonly waiters: ((o: QueryOutcome) => void)[] = [];
  /** Tries made (each one server, once). */
  tries = 0;
  firstServer = 0;
  server: DnsServerAddr | null = null;
  id = 0;
  udp = -1;
  tcp = -1;
  framer: DnsTcpFramer | null = null;
  message: Uint8Array = new Uint8Array(0);
  /** The failure to report if the tries run out. */
  lastError: QueryFailure = "ETIMEOUT";
  constructor(
    readonly key: number,
    readonly flightKey: string,
    /** Lower case, no final dot: how the answer's owner names are compared. */
    readonly name: string,
    readonly wire: Uint8Array,
    readonly type: number,
  ) {
    this.timer = new Timer<TimerId>({ kind: "dns", key });
  }
}

/** Queries in flight over one set of servers. */
export class QueryEngine {
  readonly config: QueryConfig;
  servers: DnsServerAddr[] = [];
  private readonly queries = new Map<number, Query>();
  private readonly inFlight = new Map<string, Query>();
  private readonly byUdp = new Map<number, Query>();
  private readonly byTcp = new Map<number, Query>();
  private nextKey = 1;
  private rotation = 0;
  private readonly view = new DnsView();
  private readonly cursor = new DnsRecordCursor();

  constructor(
    private readonly t: DnsTransport,
    private readonly counters: Counters,
    config: Partial<QueryConfig> = {},
  ) {
    this.config = { ...DEFAULT_QUERY_CONFIG, ...config };
  }

  /** Queries in flight. */
  get outstanding(): number {
    return this.queries.size;
  }

  /**
   * Ask for `type` records of `name` (lower case, no final dot, valid: see `encodeName`);
   * `done` is called once with the outcome (never before this returns, unless the outcome is a
   * failure known at once: no server, too many queries).
   */
  ask(name: string, type: number, done: (o: QueryOutcome) => void): void {
    const flightKey = `${type} ${name}`;
    const same = this.inFlight.get(flightKey);
    if (same !== undefined) {
      if (same.waiters.length >= this.config.maxWaiters) {
        this.counters.inc(C.waitersFull);
        done({ kind: "failed", error: "ENOMEM" });
        return;
      }
      same.waiters.push(done);
      return;
    }
    if (this.servers.length === 0) {
      done({ kind: "failed", error: "ECONNREFUSED" });
      return;
    }
    if (this.queries.size >= this.config.maxOutstanding) {
      this.counters.inc(C.outstandingFull);
      done({ kind: "failed", error: "ENOMEM" });
      return;
    }
    const wire = encodeName(name);
    if (wire === null) throw new RangeError(`invalid name ${name}`);
    const q = new Query(this.nextKey++, flightKey, name, wire, type);
    q.waiters.push(done);
    this.queries.set(q.key, q);
    this.inFlight.set(flightKey, q);
    q.firstServer = this.config.rotate ? this.rotation++ % this.servers.length : 0;
    this.tryNext(q);
  }

  /** The next try of `q` (next server, next round), or its end. */
  private tryNext(q: Query): void {
    this.closeSockets(q);
    const n = this.servers.length;
    if (n === 0 || q.tries >= n * Math.max(1, this.config.attempts)) {
      this.finish(q, { kind: "failed", error: q.lastError });
      return;
    }
    const server = this.servers[(q.firstServer + q.tries) % n];
    q.tries++;
    q.server = server;
    // RFC 5452 9.2: a new random id (and source port) for every query sent.
    q.id = this.t.random() & 0xffff;
    q.message = this.buildQuery(q);
    const family = typeof server.addr === "number" ? 4 : 6;
    let handle = -1;
    for (let i = 0; i < PORT_TRIES && handle < 0; i++) handle = this.t.udpOpen(this.randomPort(), family);
    if (handle < 0) {
      this.counters.inc(C.noPort);
      q.lastError = "ECONNREFUSED";
      this.tryNext(q);
      return;
    }
    q.udp = handle;
    this.byUdp.set(handle, q);
    this.t.schedule(q.timer, this.t.now() + this.config.timeout);
    this.t.udpSend(handle, server.addr, server.port, q.message);
    this.counters.inc(C.txUdp);
  }

  private randomPort(): number {
    const { ephemeralMin: lo, ephemeralMax: hi } = this.config;
    return lo + ((this.t.random() >>> 0) % (hi - lo + 1));
  }

  private buildQuery(q: Query): Uint8Array {
    const additional = this.config.ednsUdpSize > 0 ? [dnsRecord.opt(this.config.ednsUdpSize)] : [];
    return new DnsBuilder(
      q.id,
      DnsFlag.RD,
      [{ name: q.name, type: q.type, class: DnsClass.IN }],
      [],
      [],
      additional,
    ).toBytes();
  }

  private closeSockets(q: Query): void {
    if (q.udp >= 0) {
      this.byUdp.delete(q.udp);
      this.t.udpClose(q.udp);
      q.udp = -1;
    }
    if (q.tcp >= 0) {
      this.byTcp.delete(q.tcp);
      this.t.tcpClose(q.tcp);
      q.tcp = -1;
      q.framer = null;
    }
  }

  private finish(q: Query, o: QueryOutcome): void {
    this.closeSockets(q);
    this.t.cancel(q.timer);
    this.queries.delete(q.key);
    if (this.inFlight.get(q.flightKey) === q) this.inFlight.delete(q.flightKey);
    for (const w of q.waiters) w(o);
  }

  /** The timeout of a query's try. */
  handleTimer(id: TimerIdOf<"dns">): void {
    const q = this.queries.get(id.key);
    if (q === undefined) return;
    this.counters.inc(C.timeout);
    q.lastError = "ETIMEOUT";
    this.tryNext(q);
  }

  /** A datagram arrived on socket `handle` from `src`:`srcPort`. */
  onUdp(handle: number, src: IpAddr, srcPort: number, data: Uint8Array): void {
    const q = this.byUdp.get(handle);
    if (q === undefined || q.server === null) {
      this.counters.inc(C.stray);
      return;
    }
    // RFC 5452 9.1: the answer comes from the address and port the query went to.
    if (srcPort !== q.server.port || !ipEqual(src, q.server.addr)) {
      this.counters.inc(C.wrongSource);
      return;
    }
    if (data.length > this.config.maxUdpResponse) {
      this.counters.inc(C.oversized);
      return;
    }
    this.onResponse(q, data, false);
  }

  /** The TCP connection `handle` is established: send the framed query. */
  onTcpConnected(handle: number): void {
    const q = this.byTcp.get(handle);
    if (q === undefined) return;
    this.t.tcpSend(handle, frameDnsMessage(q.message));
    this.counters.inc(C.txTcp);
  }

  /** Bytes arrived on TCP connection `handle`. */
  onTcpData(handle: number, data: Uint8Array): void {
    const q = this.byTcp.get(handle);
    if (q === undefined || q.framer === null) return;
    const ok = q.framer.push(data, (msg) => {
      if (this.byTcp.get(handle) === q) this.onResponse(q, msg, true);
    });
    if (!ok && this.byTcp.get(handle) === q) {
      this.counters.inc(C.tcpBadFrame);
      q.lastError = "ETIMEOUT";
      this.tryNext(q);
    }
  }

  /** TCP connection `handle` failed or was closed by the server. */
  onTcpClosed(handle: number): void {
    const q = this.byTcp.get(handle);
    if (q === undefined) return;
    this.byTcp.delete(handle);
    q.tcp = -1;
    this.counters.inc(C.tcpFailed);
    q.lastError = "ECONNREFUSED";
    this.tryNext(q);
  }

  private onResponse(q: Query, data: Uint8Array, tcp: boolean): void {
    const v = this.view;
    if (v.parseFrom(data, 0, data.length) !== null) {
      this.counters.inc(C.malformed);
      return;
    }
    if (!v.qr || v.opcode !== 0) {
      this.counters.inc(C.notResponse);
      return;
    }
    if (v.id !== q.id) {
      this.counters.inc(C.badId);
      return;
    }
    // RFC 5452 9.1: the question must be ours (name compared without case, RFC 4343).
    const c = v.records(this.cursor);
    if (v.qdcount !== 1 || !c.next() || c.type !== q.type || c.class !== DnsClass.IN || !c.nameIs(q.wire)) {
      this.counters.inc(C.badQuestion);
      return;
    }
    const rcode = v.rcode;
    if (v.tc && !tcp) {
      // RFC 7766 5: a truncated answer: ask the same server over TCP.
      this.counters.inc(C.truncated);
      this.toTcp(q);
      return;
    }
    if (rcode === DnsRcode.NXDomain) {
      this.finish(q, { kind: "nxdomain", ttl: this.negativeTtl(v) });
      return;
    }
    if (rcode !== DnsRcode.NoError) {
      this.counters.inc(C.serverError);
      q.lastError =
        rcode === DnsRcode.Refused
          ? "EREFUSED"
          : rcode === DnsRcode.NotImp
            ? "ENOTIMP"
            : rcode === DnsRcode.FormErr
              ? "EFORMERR"
              : "ESERVFAIL";
      this.tryNext(q);
      return;
    }
    const answer = this.answer(q, v);
    if (answer === null) {
      this.counters.inc(C.cnameChain);
      q.lastError = "ESERVFAIL";
      this.tryNext(q);
      return;
    }
    if (answer.addrs.length > 0) this.finish(q, answer);
    else this.finish(q, { kind: "nodata", ttl: this.negativeTtl(v) });
  }

  private toTcp(q: Query): void {
    const server = q.server as DnsServerAddr;
    if (q.udp >= 0) {
      this.byUdp.delete(q.udp);
      this.t.udpClose(q.udp);
      q.udp = -1;
    }
    const h = this.t.tcpConnect(server.addr, server.port);
    if (h < 0) {
      this.counters.inc(C.tcpFailed);
      q.lastError = "ECONNREFUSED";
      this.tryNext(q);
      return;
    }
    q.tcp = h;
    q.framer = new DnsTcpFramer();
    this.byTcp.set(h, q);
    // The try's timeout covers the TCP exchange too.
    this.t.schedule(q.timer, this.t.now() + this.config.timeout);
  }

  /** The addresses of the type asked for, following CNAMEs; null for a chain that is too long. */
  private answer(q: Query, v: DnsView): { kind: "answer"; addrs: AnswerAddress[]; ttl: number } | null {
    const addrs: AnswerAddress[] = [];
    let target = q.name;
    let ttl = Infinity;
    for (let hop = 0; ; hop++) {
      let cname: string | null = null;
      let cnameTtl = 0;
      const c = v.records(this.cursor);
      while (c.next()) {
        if (c.section !== DnsSection.Answer || c.class !== DnsClass.IN) continue;
        if (c.type !== q.type && c.type !== DnsType.CNAME) continue;
        if (lowerName(c.name()) !== target) continue;
        if (c.type === DnsType.CNAME) {
          if (cname === null) {
            cname = lowerName(c.target());
            cnameTtl = c.ttl;
          }
        } else {
          addrs.push({
            address: q.type === DnsType.A ? formatV4(c.a as Ipv4Addr) : formatV6(c.aaaa as Ipv6Addr),
            family: q.type === DnsType.A ? 4 : 6,
            ttl: c.ttl,
          });
          ttl = Math.min(ttl, c.ttl);
        }
      }
      if (addrs.length > 0 || cname === null) break;
      // RFC 1034 3.6.2: restart with the canonical name; the chain's TTL is its shortest.
      if (hop >= this.config.maxCnameChain) return null;
      ttl = Math.min(ttl, cnameTtl);
      target = cname;
    }
    return { kind: "answer", addrs, ttl: Number.isFinite(ttl) ? ttl : 0 };
  }

  /** RFC 2308 5: the negative TTL is the SOA's TTL bounded by its MINIMUM; null without an SOA. */
  private negativeTtl(v: DnsView): number | null {
    const c = v.records(this.cursor);
    let best: number | null = null;
    while (c.next()) {
      if (c.section === DnsSection.Authority && c.type === DnsType.SOA) {
        const t = Math.min(c.ttl, c.soaMinimum);
        best = best === null ? t : Math.min(best, t);
      }
    }
    return best;
  }

  /** End every query with ECANCELLED. */
  cancelAll(): void {
    for (const q of [...this.queries.values()]) this.finish(q, { kind: "failed", error: "ECANCELLED" });
  }
}

/** A name as the engine compares it: lower case, no final dot. */
export function lowerName(name: string): string {
  const n = name.length > 1 && name.endsWith(".") ? name.slice(0, -1) : name;
  return n.toLowerCase();
}

export { DNS_PORT };
