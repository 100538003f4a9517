/**
 * The gateway's DNS forwarder: a guest's query (UDP, or TCP with RFC 1035 4.2.2 / RFC 7766
 * framing) goes to the upstream servers (the host's resolvers) through an abstract upstream, and
 * the answer goes back to the guest unchanged but for its id (RFC 1035 4.1.1). Ids are remapped:
 * each query in flight upstream has its own random id (RFC 5452 9.2), so guests cannot collide or
 * guess each other's. A try that gets no answer within `timeout` moves to the next server, over
 * `attempts` rounds; when every try failed (or the servers answered SERVFAIL or REFUSED) the
 * guest gets SERVFAIL (RFC 1035 4.1.1 rcode 2). Queries in flight and TCP connections are bounded
 * and every drop is counted.
 *
 * Upstream answers are checked like a stub resolver's (RFC 5452 9.1): from a server the query was
 * sent to, with the id in flight, a response, the same question.
 *
 * Sans-IO and generic over `G`, whatever the gateway uses to know where to answer (a guest's
 * address and port for UDP, a connection for TCP).
 */
import type { TimerId, TimerIdOf } from "../context.ts";
import { type CounterId, Counters, counter } from "../counters.ts";
import { Timer } from "../timers.ts";
import { DnsTcpFramer, frameDnsMessage } from "../transport/dns/framing.ts";
import { DNS_HEADER_LEN, DnsFlag, DnsRcode, DnsRecordCursor, DnsView } from "../wire/dns.ts";

declare module "../context.ts" {
  interface TimerIdMap {
    /** A query the gateway's DNS forwarder relays (`key`: its upstream id): its timeout. */
    "dns-forwarder": { key: number };
  }
}

/** Where the forwarder's queries go: the host's resolvers. */
export interface DnsForwarderUpstream {
  /** How many servers there are (resolv.conf's `nameserver` lines); 0: every query gets SERVFAIL. */
  readonly servers: number;
  /**
   * Send `query` (a whole DNS message; copy it if it is kept) to server `server`, over TCP when
   * `tcp` (framing is the upstream's). Its answer, a whole message, comes back through
   * `forwarder.onUpstreamAnswer(server, message)`.
   */
  send(server: number, query: Uint8Array, tcp: boolean): void;
}

/** What the forwarder needs from the gateway. */
export interface DnsForwarderContext<G> {
  now(): number;
  /** A uniformly random 32-bit unsigned integer (upstream ids). */
  random(): number;
  schedule(timer: Timer<TimerId>, at: number): void;
  cancel(timer: Timer<TimerId>): void;
  /**
   * Send `bytes` to `guest`: a datagram for a query that came over UDP, stream bytes (already
   * framed) for one that came over TCP. The bytes are the caller's to keep.
   */
  reply(guest: G, bytes: Uint8Array, tcp: boolean): void;
}

export interface DnsForwarderConfig {
  /** Wait for an upstream answer this long per try, ms. Default 2000. */
  timeout: number;
  /** Rounds over the upstream servers. Default 2. */
  attempts: number;
  /** Queries in flight upstream, at most (up to 32768); beyond, guests get SERVFAIL at once. Default 256. */
  maxOutstanding: number;
  /** Guest TCP connections with framing state, at most. Default 64. */
  maxTcpConnections: number;
}

export const DEFAULT_DNS_FORWARDER_CONFIG: DnsForwarderConfig = {
  timeout: 2000,
  attempts: 2,
  maxOutstanding: 256,
  maxTcpConnections: 64,
};

/** Largest `maxOutstanding` accepted: half of the 16-bit id space. */
export const MAX_OUTSTANDING = 32768;

const C = {
  rxMalformed: counter("dns.forwarder.rx.malformed"),
  rxNotQuery: counter("dns.forwarder.rx.not-query"),
  rxDuplicate: counter("dns.forwarder.rx.duplicate"),
  formErr: counter("dns.forwarder.tx.formerr"),
  notImp: counter("dns.forwarder.tx.notimp"),
  servFail: counter("dns.forwarder.tx.servfail"),
  answered: counter("dns.forwarder.tx.answer"),
  forwarded: counter("dns.forwarder.upstream.tx"),
  outstandingFull: counter("dns.forwarder.outstanding-full"),
  timeout: counter("dns.forwarder.upstream.timeout"),
  upMalformed: counter("dns.forwarder.upstream.rx.malformed"),
  upStray: counter("dns.forwarder.upstream.rx.stray"),
  upWrongServer: counter("dns.forwarder.upstream.rx.wrong-server"),
  upBadQuestion: counter("dns.forwarder.upstream.rx.bad-question"),
  upError: counter("dns.forwarder.upstream.rx.error"),
  tcpBadFrame: counter("dns.forwarder.tcp.bad-frame"),
  tcpTooMany: counter("dns.forwarder.tcp.too-many"),
} as const satisfies Record<string, CounterId>;

interface Pending<G> {
  readonly upId: number;
  readonly guest: G;
  readonly guestKey: string;
  readonly guestId: number;
  readonly tcp: boolean;
  /** The query as sent upstream (the guest's bytes with `upId`). */
  readonly query: Uint8Array;
  /** The question's name in wire form, type and class, for checking answers. */
  readonly qname: Uint8Array;
  readonly qtype: number;
  readonly qclass: number;
  /** Bit i: sent to server i (answers are taken from these only). */
  sentTo: number;
  tries: number;
  readonly timer: Timer<TimerId>;
}

/** The DNS forwarder of the gateway. */
export class DnsForwarder<G> {
  readonly config: DnsForwarderConfig;
  readonly counters: Counters;
  private readonly pending = new Map<number, Pending<G>>();
  private readonly byGuest = new Map<string, Pending<G>>();
  private readonly framers = new Map<G, DnsTcpFramer>();
  private readonly view = new DnsView();
  private readonly cursor = new DnsRecordCursor();

  constructor(
    private readonly ctx: DnsForwarderContext<G>,
    private readonly upstream: DnsForwarderUpstream,
    config: Partial<DnsForwarderConfig> = {},
    counters?: Counters,
  ) {
    const c = { ...DEFAULT_DNS_FORWARDER_CONFIG, ...config };
    // Half the id space at most, so a free random id is always found in a few draws.
    c.maxOutstanding = Math.min(c.maxOutstanding, MAX_OUTSTANDING);
    this.config = c;
    this.counters = counters ?? new Counters();
  }

  /** Queries in flight upstream. */
  get outstanding(): number {
    return this.pending.size;
  }

  /** Guest TCP connections with framing state. */
  get tcpConnections(): number {
    return this.framers.size;
  }

  /**
   * A guest's query over UDP (`tcp` false) or one whole message from its TCP stream (`tcp` true;
   * `onGuestTcpData` calls this). `guestKey` names the guest's socket (address and port, or the
   * connection): a retransmission with the same key and id while the first is in flight is dropped.
   */
  onGuestQuery(guest: G, guestKey: string, bytes: Uint8Array, tcp: boolean): void {
    if (bytes.length < DNS_HEADER_LEN || (bytes[2] & 0x80) !== 0) {
      // Too short to answer, or a response: nothing to say.
      this.counters.inc(C.rxNotQuery);
      return;
    }
    const v = this.view;
    if (v.parseFrom(bytes, 0, bytes.length) !== null) {
      this.counters.inc(C.rxMalformed);
      this.error(guest, bytes, DNS_HEADER_LEN, DnsRcode.FormErr, tcp, C.formErr);
      return;
    }
    if (v.opcode !== 0) {
      this.error(guest, bytes, DNS_HEADER_LEN, DnsRcode.NotImp, tcp, C.notImp);
      return;
    }
    const c = v.records(this.cursor);
    if (v.qdcount !== 1 || !c.next()) {
      this.error(guest, bytes, DNS_HEADER_LEN, DnsRcode.FormErr, tcp, C.formErr);
      return;
    }
    const guestId = v.id;
    const dupKey = `${tcp ? "t" : "u"} ${guestKey} ${guestId}`;
    if (this.byGuest.has(dupKey)) {
      this.counters.inc(C.rxDuplicate);
      return;
    }
    const questionsEnd = v.questionsEnd;
    if (this.upstream.servers === 0 || this.pending.size >= this.config.maxOutstanding) {
      if (this.upstream.servers !== 0) this.counters.inc(C.outstandingFull);
      this.error(guest, bytes, questionsEnd, DnsRcode.ServFail, tcp, C.servFail);
      return;
    }
    const upId = this.freeId();
    const query = bytes.slice();
    query[0] = upId >>> 8;
    query[1] = upId & 0xff;
    const qname = wireName(bytes, c.nameOff);
    const p: Pending<G> = {
      upId,
      guest,
      guestKey: dupKey,
      guestId,
      tcp,
      query,
      qname,
      qtype: c.type,
      qclass: c.class,
      sentTo: 0,
      tries: 0,
      timer: new Timer<TimerId>({ kind: "dns-forwarder", key: upId }),
    };
    this.pending.set(upId, p);
    this.byGuest.set(dupKey, p);
    this.send(p);
  }

  /** A random upstream id not in flight (the table is far smaller than the id space). */
  private freeId(): number {
    for (;;) {
      const id = this.ctx.random() & 0xffff;
      if (!this.pending.has(id)) return id;
    }
  }

  private send(p: Pending<G>): void {
    const n = this.upstream.servers;
    const rounds = Math.max(1, this.config.attempts);
    if (n === 0 || p.tries >= n * rounds) {
      this.fail(p);
      return;
    }
    const server = p.tries % n;
    p.tries++;
    if (server < 31) p.sentTo |= 1 << server;
    this.ctx.schedule(p.timer, this.ctx.now() + this.config.timeout);
    this.upstream.send(server, p.query, p.tcp);
    this.counters.inc(C.forwarded);
  }

  private done(p: Pending<G>): void {
    this.ctx.cancel(p.timer);
    this.pending.delete(p.upId);
    this.byGuest.delete(p.guestKey);
  }

  private fail(p: Pending<G>): void {
    this.done(p);
    // The question ends where the query's question section ends: parse it again to know where.
    const v = this.view;
    const end = v.parseFrom(p.query, 0, p.query.length) === null ? v.questionsEnd : DNS_HEADER_LEN;
    const msg = p.query.slice(0, end);
    msg[0] = p.guestId >>> 8;
    msg[1] = p.guestId & 0xff;
    this.error(p.guest, msg, end, DnsRcode.ServFail, p.tcp, C.servFail);
  }

  /**
   * An error answer to `query`: its header and its first `end` bytes (the question, or none),
   * QR and RA set, `rcode`, no records (RFC 1035 4.1.1).
   */
  private error(guest: G, query: Uint8Array, end: number, rcode: number, tcp: boolean, which: CounterId): void {
    const msg = query.slice(0, end);
    msg[2] = (msg[2] | (DnsFlag.QR >>> 8)) & ~((DnsFlag.AA | DnsFlag.TC) >>> 8);
    msg[3] = (DnsFlag.RA & 0xff) | rcode;
    if (end === DNS_HEADER_LEN) msg[4] = msg[5] = 0;
    for (let i = 6; i < 12; i++) msg[i] = 0;
    this.ctx.reply(guest, tcp ? frameDnsMessage(msg) : msg, tcp);
    this.counters.inc(which);
  }

  /** The timeout of a query's try. */
  handleTimer(id: TimerIdOf<"dns-forwarder">): void {
    const p = this.pending.get(id.key);
    if (p === undefined) return;
    this.counters.inc(C.timeout);
    this.send(p);
  }

  /** An answer from upstream server `server`. */
  onUpstreamAnswer(server: number, bytes: Uint8Array): void {
    const v = this.view;
    if (v.parseFrom(bytes, 0, bytes.length) !== null || !v.qr) {
      this.counters.inc(C.upMalformed);
      return;
    }
    const p = this.pending.get(v.id);
    if (p === undefined) {
      this.counters.inc(C.upStray);
      return;
    }
    if (server < 0 || server >= 31 || (p.sentTo & (1 << server)) === 0) {
      this.counters.inc(C.upWrongServer);
      return;
    }
    const c = v.records(this.cursor);
    if (v.qdcount !== 1 || !c.next() || c.type !== p.qtype || c.class !== p.qclass || !c.nameIs(p.qname)) {
      this.counters.inc(C.upBadQuestion);
      return;
    }
    const rcode = v.rcode;
    if (rcode === DnsRcode.ServFail || rcode === DnsRcode.Refused) {
      // This server cannot help: the next one might.
      this.counters.inc(C.upError);
      this.ctx.cancel(p.timer);
      this.send(p);
      return;
    }
    this.done(p);
    // Relayed unchanged but for the id.
    const out = bytes.slice();
    out[0] = p.guestId >>> 8;
    out[1] = p.guestId & 0xff;
    this.ctx.reply(p.guest, p.tcp ? frameDnsMessage(out) : out, p.tcp);
    this.counters.inc(C.answered);
  }

  /**
   * Bytes from a guest's TCP connection to port 53 (RFC 7766): each framed message is a query.
   * Returns false when the connection should be closed (bad framing, too many connections).
   */
  onGuestTcpData(conn: G, guestKey: string, data: Uint8Array): boolean {
    let f = this.framers.get(conn);
    if (f === undefined) {
      if (this.framers.size >= this.config.maxTcpConnections) {
        this.counters.inc(C.tcpTooMany);
        return false;
      }
      f = new DnsTcpFramer();
      this.framers.set(conn, f);
    }
    const ok = f.push(data, (msg) => this.onGuestQuery(conn, guestKey, msg.slice(), true));
    if (!ok) {
      this.counters.inc(C.tcpBadFrame);
      this.framers.delete(conn);
    }
    return ok;
  }

  /** The guest's TCP connection is gone: forget its framing (answers in flight are dropped by the gateway). */
  onGuestTcpClosed(conn: G): void {
    this.framers.delete(conn);
  }
}

/** The uncompressed wire form of the (validated) name at `p` of a message starting at 0. */
function wireName(b: Uint8Array, p: number): Uint8Array {
  const out: number[] = [];
  for (;;) {
    const l = b[p];
    if ((l & 0xc0) === 0xc0) {
      p = ((l & 0x3f) << 8) | b[p + 1];
      continue;
    }
    out.push(l);
    if (l === 0) break;
    for (let i = 1; i <= l; i++) out.push(b[p + i]);
    p += l + 1;
  }
  return Uint8Array.from(out);
}
