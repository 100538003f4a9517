/**
 * ICMP echo ("ping") sockets: RFC 792 (Echo / Echo Reply: identifier and sequence number "to aid in
 * matching echos and replies"), RFC 4443 section 4.1 / 4.2 (ICMPv6 Echo Request / Reply, checksum
 * over the RFC 8200 8.1 pseudo-header), RFC 1122 3.2.2.6 (a reply carries the request's identifier,
 * sequence number and data).
 *
 * The IP layer answers echo *requests* itself; this module is the requesting side, after Linux's
 * unprivileged ping sockets (`socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)`):
 * - A socket has one identifier per IP version, chosen at `open` or picked at random among the ones
 *   no socket of that version uses. The identifier is the socket's "port": replies are demultiplexed
 *   by it in O(1).
 * - `send(sock, dst, seq, payload)` sends one Echo Request through `ip.send` and remembers (seq, the
 *   destination, the send time). At most `maxOutstanding` requests per socket are remembered: sending
 *   one more forgets the oldest (counted `icmp-echo.evicted`); a late reply to it is then unmatched.
 *   Sending a sequence number that is still outstanding (16-bit wrap) replaces the old request.
 * - The IP layer calls `receiveEchoReply(info, id, seq, payload)` for every Echo Reply addressed to
 *   us. A reply matches when a socket of that version has the identifier, the sequence number is
 *   outstanding, and the reply comes from the address the request was sent to. Requests sent to a
 *   multicast address, or from a socket with the `broadcast` option (limited or subnet broadcast),
 *   accept replies from any source and stay outstanding, so every responder is reported, until
 *   evicted or the socket is closed. A match emits `icmp-echo-reply` with the round-trip time from
 *   the `now()` clock (milliseconds). Everything else is counted and dropped.
 * - `receiveIcmpError(err)`: an ICMP error quoting one of our echo requests (destination
 *   unreachable, time exceeded, ...). Convention with the IP layer: `err.srcPort` carries the quoted
 *   identifier and `err.seq` the quoted sequence number (`dstPort` is ignored). The socket with that
 *   identifier gets an `error` event with `err.code` and the request is forgotten; the socket stays
 *   open (no `closed` event).
 * - Sending to the IPv4 limited broadcast 255.255.255.255 needs the `broadcast` option (EACCES
 *   otherwise), as Linux's `ping -b`.
 */

import type { DeviceId, ErrorCode, IpAddr, SocketId, StackEvent } from "../context.ts";
import { type Counters, counter } from "../counters.ts";
import type { IcmpErrorInfo, IpRxInfo, IpSender } from "../ip/transport-api.ts";
import { type IpVersion, V4_BROADCAST } from "../ip/version.ts";
import { BytesBody } from "../packet/serialize.ts";
import { Icmpv4EchoBuilder, Icmpv4Type } from "../wire/icmpv4.ts";
import { Icmpv6EchoBuilder, Icmpv6Type } from "../wire/icmpv6.ts";
import { IpProto } from "../wire/ipproto.ts";

// ---- counters ----

const TX = counter("icmp-echo.tx");
const TX_ERROR = counter("icmp-echo.tx.error");
const EVICTED = counter("icmp-echo.evicted");
const RX_MATCHED = counter("icmp-echo.rx.matched");
const RX_NO_SOCKET = counter("icmp-echo.rx.no-socket");
const RX_UNMATCHED_SEQ = counter("icmp-echo.rx.unmatched-seq");
const RX_WRONG_SOURCE = counter("icmp-echo.rx.wrong-source");
const ERR_DELIVERED = counter("icmp-echo.icmp-error.delivered");
const ERR_NO_SOCKET = counter("icmp-echo.icmp-error.no-socket");

// ---- public types ----

/** Bounds of the echo socket table. */
export interface IcmpEchoLimits {
  /** Requests remembered per socket; the oldest is forgotten past it. */
  maxOutstanding: number;
  /** Open sockets at most (`EMFILE` past it). */
  maxSockets: number;
}

export const DEFAULT_ICMP_ECHO_LIMITS: Readonly<IcmpEchoLimits> = {
  maxOutstanding: 64,
  maxSockets: 1024,
};

/** Options of one echo socket. */
export interface IcmpEchoSocketOptions {
  /** The identifier (0..65535); default: a random one no socket of the version uses. */
  id?: number;
  /** Allow the limited broadcast destination and accept replies from any source (ping -b). */
  broadcast?: boolean;
  /** TTL / hop limit (default: the IP layer's). */
  ttl?: number;
  /** Send out of this device (link-local and multicast destinations). */
  device?: DeviceId;
}

/** What `IcmpEchoSockets` is built with (the Stack passes its own services). */
export interface IcmpEchoSocketsOptions {
  ip: IpSender;
  emit(ev: StackEvent): void;
  /** A uniformly random 32-bit unsigned integer (identifiers). */
  random(): number;
  /** The clock for round-trip times (milliseconds, the Bindings' `now`). */
  now(): number;
  counters: Counters;
  limits?: Partial<IcmpEchoLimits>;
  /** Hands out socket ids (the Stack's, shared with UDP and TCP). Default: 1, 2, 3, ... */
  allocSocketId?(): SocketId;
}

// ---- internals ----

type AnyVersion = IpVersion<IpAddr>;

interface Pending {
  dst: IpAddr;
  sentAt: number;
  /** Replies from any source match, and do not end the request. */
  anySource: boolean;
}

class EchoSock {
  /** seq -> request, in send order (a Map iterates in insertion order: the first is the oldest). */
  readonly pending = new Map<number, Pending>();
  constructor(
    readonly sock: SocketId,
    readonly I: AnyVersion,
    readonly id: number,
    readonly opts: IcmpEchoSocketOptions,
  ) {}
}

function fits(I: AnyVersion, a: IpAddr): boolean {
  return I.version === 4 ? typeof a === "number" : a instanceof Uint8Array && a.length === 16;
}

function isU16(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffff;
}

/** Echo data at most: 65535 - 20 - 8 (IPv4 without options), 65535 - 8 (IPv6 payload length). */
function maxData(I: AnyVersion): number {
  return I.version === 4 ? 65507 : 65527;
}

/** ICMP echo (ping) sockets of both IP versions. */
export class IcmpEchoSockets {
  private readonly ip: IpSender;
  private readonly emit: (ev: StackEvent) => void;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly counters: Counters;
  readonly limits: Readonly<IcmpEchoLimits>;
  private readonly allocId: () => SocketId;
  private readonly sockets = new Map<SocketId, EchoSock>();
  /** identifier -> socket: [IPv4, IPv6]. */
  private readonly byId: [Map<number, EchoSock>, Map<number, EchoSock>] = [new Map(), new Map()];
  private nextSock = 1;

  constructor(opts: IcmpEchoSocketsOptions) {
    this.ip = opts.ip;
    this.emit = opts.emit;
    this.random = opts.random;
    this.now = opts.now;
    this.counters = opts.counters;
    this.limits = { ...DEFAULT_ICMP_ECHO_LIMITS, ...opts.limits };
    this.allocId = opts.allocSocketId ?? (() => this.nextSock++);
  }

  /**
   * Open an echo socket of version `I`. Errors: EINVAL (identifier outside 0..65535), EADDRINUSE
   * (identifier taken in that version, or none left), EMFILE (`limits.maxSockets`).
   */
  open<A>(I: IpVersion<A>, options: IcmpEchoSocketOptions = {}): SocketId | ErrorCode {
    if (this.sockets.size >= this.limits.maxSockets) return "EMFILE";
    const table = this.table(I as unknown as AnyVersion);
    let id: number;
    if (options.id !== undefined) {
      if (!isU16(options.id)) return "EINVAL";
      if (table.has(options.id)) return "EADDRINUSE";
      id = options.id;
    } else {
      // Random start, then the next free one (as RFC 6056 algorithm 1 does for ports).
      id = -1;
      let cand = (this.random() >>> 0) & 0xffff;
      for (let i = 0; i <= 0xffff; i++) {
        if (!table.has(cand)) {
          id = cand;
          break;
        }
        cand = (cand + 1) & 0xffff;
      }
      if (id < 0) return "EADDRINUSE";
    }
    const sock = this.allocId();
    const s = new EchoSock(sock, I as unknown as AnyVersion, id, { ...options });
    this.sockets.set(sock, s);
    table.set(id, s);
    return sock;
  }

  /** The socket's identifier; null for an unknown socket. */
  identifier(sock: SocketId): number | null {
    return this.sockets.get(sock)?.id ?? null;
  }

  /** How many requests the socket remembers (awaiting replies); null for an unknown socket. */
  outstanding(sock: SocketId): number | null {
    return this.sockets.get(sock)?.pending.size ?? null;
  }

  /**
   * Send Echo Request `seq` with `payload` (copied once, into the packet) to `dst`. Errors: EBADF,
   * EAFNOSUPPORT, EINVAL (seq outside 0..65535, unspecified destination), EMSGSIZE, EACCES (limited
   * broadcast without the `broadcast` option), ENETUNREACH (IPv6: no source address for the
   * checksum), and whatever `ip.send` returns.
   */
  send(sock: SocketId, dst: IpAddr, seq: number, payload: Uint8Array): ErrorCode | null {
    const s = this.sockets.get(sock);
    if (s === undefined) return "EBADF";
    const I = s.I;
    if (!fits(I, dst)) return "EAFNOSUPPORT";
    if (!isU16(seq) || I.isUnspecified(dst)) return "EINVAL";
    if (payload.length > maxData(I)) return "EMSGSIZE";
    const broadcast = s.opts.broadcast === true;
    if (I.version === 4 && dst === V4_BROADCAST && !broadcast) return "EACCES";

    let src: IpAddr | null = null;
    let builder: Icmpv4EchoBuilder | Icmpv6EchoBuilder;
    if (I.version === 4) {
      // RFC 792: the ICMPv4 checksum covers the message only; the IP layer picks the source.
      builder = new Icmpv4EchoBuilder(Icmpv4Type.EchoRequest, s.id, seq);
    } else {
      // RFC 4443 2.3: the checksum covers the pseudo-header, so the source is chosen here.
      src = this.ip.selectSource(I, dst);
      if (src === null) {
        this.counters.inc(TX_ERROR);
        return "ENETUNREACH";
      }
      builder = new Icmpv6EchoBuilder(src as Uint8Array, dst as Uint8Array, Icmpv6Type.EchoRequest, s.id, seq);
    }

    // Remember the request before sending: a loopback reply may arrive from inside `ip.send`.
    const pending = s.pending;
    const old = pending.get(seq);
    if (old !== undefined) pending.delete(seq);
    else if (pending.size >= this.limits.maxOutstanding) {
      pending.delete(pending.keys().next().value as number);
      this.counters.inc(EVICTED);
    }
    const p: Pending = { dst: I.copy(dst), sentAt: this.now(), anySource: broadcast || I.isMulticast(dst) };
    pending.set(seq, p);

    const e = this.ip.send(
      I,
      { src, dst, proto: I.version === 4 ? IpProto.Icmp : IpProto.Icmpv6, ttl: s.opts.ttl, device: s.opts.device },
      new BytesBody(payload).wrapIn(builder),
    );
    if (e !== null) {
      if (pending.get(seq) === p) pending.delete(seq);
      this.counters.inc(TX_ERROR);
      return e;
    }
    this.counters.inc(TX);
    return null;
  }

  /**
   * From the IP layer: an Echo Reply (`payload` is its data, borrowed) addressed to us. Returns true
   * when it matched an outstanding request of some socket (an `icmp-echo-reply` event was emitted).
   */
  receiveEchoReply<A>(info: IpRxInfo<A>, id: number, seq: number, _payload: Uint8Array): boolean {
    const I = info.I as unknown as AnyVersion;
    const s = this.table(I).get(id);
    if (s === undefined) {
      this.counters.inc(RX_NO_SOCKET);
      return false;
    }
    const p = s.pending.get(seq);
    if (p === undefined) {
      this.counters.inc(RX_UNMATCHED_SEQ);
      return false;
    }
    const from = info.src as unknown as IpAddr;
    if (!p.anySource) {
      // A reply comes from the address the request went to (RFC 792: the addresses are swapped).
      if (!I.equals(p.dst, from)) {
        this.counters.inc(RX_WRONG_SOURCE);
        return false;
      }
      s.pending.delete(seq);
    }
    this.counters.inc(RX_MATCHED);
    this.emit({ type: "icmp-echo-reply", socket: s.sock, from: I.copy(from), id, seq, rtt: this.now() - p.sentAt });
    return true;
  }

  /**
   * From the IP layer: an ICMP error quoting one of our echo requests. `err.srcPort` is the quoted
   * identifier, `err.seq` the quoted sequence number.
   */
  receiveIcmpError<A>(err: IcmpErrorInfo<A>): void {
    const I = err.I as unknown as AnyVersion;
    const s = this.table(I).get(err.srcPort);
    if (s === undefined) {
      this.counters.inc(ERR_NO_SOCKET);
      return;
    }
    const p = s.pending.get(err.seq);
    if (p !== undefined && I.equals(p.dst, err.dst as unknown as IpAddr)) s.pending.delete(err.seq);
    this.counters.inc(ERR_DELIVERED);
    this.emit({ type: "error", socket: s.sock, code: err.code });
  }

  /** Close: forget the identifier and the outstanding requests, emit `closed`. EBADF when unknown. */
  close(sock: SocketId): ErrorCode | null {
    const s = this.sockets.get(sock);
    if (s === undefined) return "EBADF";
    this.table(s.I).delete(s.id);
    s.pending.clear();
    this.sockets.delete(sock);
    this.emit({ type: "closed", socket: sock });
    return null;
  }

  private table(I: AnyVersion): Map<number, EchoSock> {
    return this.byId[I.version === 4 ? 0 : 1];
  }
}
