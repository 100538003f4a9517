/**
 * UDP sockets: RFC 768 (the protocol), RFC 1122 section 4.1 (UDP in hosts: port unreachable,
 * broadcast and multicast receive, ICMP errors passed up), RFC 8200 section 8.1 (IPv6 pseudo-header
 * and the mandatory checksum), RFC 6056 (ephemeral port randomization), RFC 1112 / RFC 4604 and
 * RFC 3810 (host group membership: what a socket joins, the IP layer reports).
 *
 * One `UdpLayer` serves both IP versions. Its sockets live in two port tables (one per version):
 * `Map<port, PortEntry>`, and inside a port the sockets are indexed by specificity, so an incoming
 * unicast datagram is matched in O(1): a connected socket (4-tuple) before an unconnected one bound
 * to the destination address before one bound to the unspecified address. Broadcast and multicast
 * datagrams go to every matching socket on the port.
 *
 * Semantics (Linux's where the RFCs leave a choice):
 * - No dual stack: an IPv6 socket never receives IPv4 datagrams (no v4-mapped addresses, as with
 *   Linux's IPV6_V6ONLY), and a port bound in one version is free in the other.
 * - `bind(port 0)` picks a port of 49152..65535 (RFC 6056 algorithm 1) that no socket of the version
 *   uses. A socket sending or connecting before `bind` is bound to an ephemeral port first.
 * - Two bindings of one port conflict (`EADDRINUSE`) when their addresses overlap (equal, or either
 *   unspecified) unless both sockets set `reuseAddr` or both set `reusePort` (Linux SO_REUSEADDR /
 *   SO_REUSEPORT for UDP). In a group of sockets bound to the same address and port, a unicast
 *   datagram goes to one socket: chosen by a hash of the source address and port when every socket
 *   of the group set `reusePort` (load balancing), else the most recently bound one. Broadcast and
 *   multicast datagrams go to all of them.
 * - `connect` fixes the remote address and port (a receive filter and the default destination) and
 *   the local address: the bound one, or the source the IP layer selects for the remote. A connected
 *   socket therefore no longer receives broadcasts (as in Linux). `disconnect` keeps the port.
 * - Multicast is delivered only to sockets that joined the group (on the arrival device or on "any
 *   device"), i.e. Linux with IP_MULTICAST_ALL off. Joining twice is `EADDRINUSE`, leaving a group
 *   not joined `EADDRNOTAVAIL`, as in Linux. The layer keeps the union of memberships for the IP
 *   layer (`memberships`, `isMember`, and the `onMembershipChange` hook for IGMP/MLD reports).
 * - Sending to 255.255.255.255 needs the `broadcast` option (`EACCES` otherwise, Linux's
 *   SO_BROADCAST); subnet-directed broadcast is the IP layer's to recognise.
 * - ICMP errors reach connected sockets only (as in Linux without IP_RECVERR), as an `error` event:
 *   `ECONNREFUSED` for port unreachable, the IP layer's code for others. The socket stays open (no
 *   `closed` event follows). Packet too big / fragmentation needed (`EMSGSIZE`) is not reported: the
 *   IP layer records the path MTU and fragments later datagrams.
 * - The receive queue is bounded in datagrams and in payload bytes: a datagram is accepted when the
 *   queue stays within both bounds with it, or when the queue is empty (so one datagram larger than
 *   the byte bound is still received, as Linux's receive buffer check allows). Overflow is counted
 *   (`udp.rx.queue-full`) and dropped.
 */

import type { DeviceId, ErrorCode, IpAddr, SocketId, StackEvent } from "../../context.ts";
import { type Counters, counter } from "../../counters.ts";
import type { IcmpErrorInfo, IpRxInfo, IpSender, TransportProtocol } from "../../ip/transport-api.ts";
import { type IpVersion, V4_BROADCAST } from "../../ip/version.ts";
import type { Buf } from "../../packet/buf.ts";
import { BytesBody } from "../../packet/serialize.ts";
import { pseudoSum } from "../../wire/checksum.ts";
import { Icmpv4Type, Icmpv4UnreachableCode } from "../../wire/icmpv4.ts";
import { Icmpv6DestUnreachableCode, Icmpv6Type } from "../../wire/icmpv6.ts";
import { IpProto } from "../../wire/ipproto.ts";
import { UdpBuilder, UdpView } from "../../wire/udp.ts";
import { EPHEMERAL_MAX, EPHEMERAL_MIN, pickEphemeralPort } from "./ports.ts";

// ---- counters ----

const RX = counter("udp.rx");
const RX_DELIVERED = counter("udp.rx.delivered");
const RX_TOO_SHORT = counter("udp.rx.too-short");
const RX_BAD_LENGTH = counter("udp.rx.bad-length");
const RX_BAD_CHECKSUM = counter("udp.rx.bad-checksum");
const RX_ZERO_CHECKSUM = counter("udp.rx.zero-checksum");
const RX_MALFORMED = counter("udp.rx.malformed");
const RX_NO_SOCKET = counter("udp.rx.no-socket");
const RX_NO_SOCKET_GROUPCAST = counter("udp.rx.no-socket-groupcast");
const RX_QUEUE_FULL = counter("udp.rx.queue-full");
const TX = counter("udp.tx");
const TX_ERROR = counter("udp.tx.error");
const ICMP_DELIVERED = counter("udp.icmp-error.delivered");
const ICMP_NO_SOCKET = counter("udp.icmp-error.no-socket");
const ICMP_PMTU = counter("udp.icmp-error.pmtu");

/** Parse error reason -> drop counter. */
const PARSE_DROPS: Record<string, ReturnType<typeof counter>> = {
  "too-short": RX_TOO_SHORT,
  "bad-length": RX_BAD_LENGTH,
  "bad-checksum": RX_BAD_CHECKSUM,
  "zero-checksum": RX_ZERO_CHECKSUM,
};

// ---- public types ----

/** Layer-wide bounds. */
export interface UdpLimits {
  /** Default receive queue bound in datagrams (per socket; `UdpSocketOptions` overrides). */
  recvQueueDatagrams: number;
  /** Default receive queue bound in payload bytes (per socket). */
  recvQueueBytes: number;
  /** Ephemeral port range (RFC 6335 section 6 by default). */
  ephemeralMin: number;
  ephemeralMax: number;
  /** Open sockets at most (`EMFILE` past it). */
  maxSockets: number;
  /** Multicast groups one socket may join (Linux IP_MAX_MEMBERSHIPS: 20); `ENOBUFS` past it. */
  maxGroupsPerSocket: number;
}

/** The defaults: 256 datagrams / 208 KiB (Linux's rmem_default) per socket. */
export const DEFAULT_UDP_LIMITS: Readonly<UdpLimits> = {
  recvQueueDatagrams: 256,
  recvQueueBytes: 212992,
  ephemeralMin: EPHEMERAL_MIN,
  ephemeralMax: EPHEMERAL_MAX,
  maxSockets: 65536,
  maxGroupsPerSocket: 20,
};

/** Per-socket options (all optional; settable at `open` and with `setOptions`). */
export interface UdpSocketOptions {
  /** Share an address and port with other `reuseAddr` sockets (Linux SO_REUSEADDR). */
  reuseAddr?: boolean;
  /** Share with other `reusePort` sockets; unicast is load-balanced by source (SO_REUSEPORT). */
  reusePort?: boolean;
  /** Allow sending to the limited broadcast address (SO_BROADCAST). */
  broadcast?: boolean;
  /** TTL / hop limit of unicast datagrams (default: the IP layer's, 64). */
  ttl?: number;
  /** TTL / hop limit of multicast datagrams (default 1, RFC 1112 section 6.1). */
  multicastTtl?: number;
  /** Device for multicast sends (null: the route's). */
  multicastInterface?: DeviceId | null;
  /** IPv4 only: send a zero checksum ("no checksum", RFC 768). Ignored on IPv6 (RFC 8200 8.1). */
  noChecksum?: boolean;
  /** Receive queue bound in datagrams (default: the layer's limit). */
  recvQueueDatagrams?: number;
  /** Receive queue bound in payload bytes (default: the layer's limit). */
  recvQueueBytes?: number;
}

/** A received datagram, as `recv` returns it. Everything in it is owned by the caller. */
export interface UdpDatagram {
  /** The payload (a copy). */
  data: Uint8Array;
  /** Source address (a copy) and port. */
  address: IpAddr;
  port: number;
  family: "IPv4" | "IPv6";
}

/** A socket's local or remote endpoint. */
export interface UdpEndpoint {
  address: IpAddr;
  port: number;
  family: "IPv4" | "IPv6";
}

/** A group membership as the IP layer sees it: joined by at least one socket. */
export interface UdpMembership<A> {
  group: A;
  /** The device it was joined on; null for "any device" (the IP layer's choice). */
  device: DeviceId | null;
}

/** What a `UdpLayer` is built with. */
export interface UdpLayerOptions {
  ip: IpSender;
  emit(ev: StackEvent): void;
  /** A uniformly random 32-bit unsigned integer (ephemeral ports, the reuse-port hash key). */
  random(): number;
  counters: Counters;
  limits?: Partial<UdpLimits>;
  /** Hands out socket ids (the Stack's, shared with TCP and ICMP echo). Default: 1, 2, 3, ... */
  allocSocketId?(): SocketId;
  /** Called when a (group, device) gets its first member or loses its last (IGMP / MLD reports). */
  onMembershipChange?(I: IpVersion<IpAddr>, group: IpAddr, device: DeviceId | null, joined: boolean): void;
}

// ---- internals ----

type AnyVersion = IpVersion<IpAddr>;
type AddrKey = number | string;

/** "Any device" in the membership maps. */
const ANY_DEVICE = -1;

/** A FIFO of datagrams with a moving head (no shifting per dequeue). */
class DatagramQueue {
  private items: (UdpDatagram | undefined)[] = [];
  private head = 0;
  /** Queued datagrams and their payload bytes. */
  count = 0;
  bytes = 0;

  push(d: UdpDatagram): void {
    this.items.push(d);
    this.count++;
    this.bytes += d.data.length;
  }

  shift(): UdpDatagram | null {
    if (this.count === 0) return null;
    const d = this.items[this.head] as UdpDatagram;
    this.items[this.head] = undefined;
    this.head++;
    this.count--;
    this.bytes -= d.data.length;
    if (this.count === 0) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return d;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
    this.count = 0;
    this.bytes = 0;
  }
}

interface Group {
  group: IpAddr;
  key: AddrKey;
  device: number;
}

class UdpSock {
  /** Bound port (0 while unbound). */
  port = 0;
  /** The address given to bind (unspecified for "any"). */
  bindAddr: IpAddr;
  /** The local address datagrams must be sent to: `bindAddr`, or the source chosen at connect. */
  localAddr: IpAddr;
  remoteAddr: IpAddr | null = null;
  remotePort = 0;
  readonly queue = new DatagramQueue();
  readonly groups: Group[] = [];

  constructor(
    readonly id: SocketId,
    readonly I: AnyVersion,
    readonly opts: UdpSocketOptions,
  ) {
    this.bindAddr = I.unspecified;
    this.localAddr = I.unspecified;
  }
}

/** The sockets on one port of one IP version, indexed by specificity. */
class PortEntry {
  /** Every socket on the port, in bind order (conflict checks, broadcast and multicast). */
  readonly all: UdpSock[] = [];
  /** Unconnected sockets bound to the unspecified address. */
  readonly any: UdpSock[] = [];
  /** Unconnected sockets bound to a specific address, by address key. */
  readonly bound = new Map<AddrKey, UdpSock[]>();
  /** Connected sockets by remote port, then remote address key. */
  readonly connected = new Map<number, Map<AddrKey, UdpSock[]>>();
}

function removeItem<T>(list: T[], x: T): void {
  const i = list.indexOf(x);
  if (i >= 0) list.splice(i, 1);
}

function fits(I: AnyVersion, a: IpAddr): boolean {
  return I.version === 4 ? typeof a === "number" : a instanceof Uint8Array && a.length === 16;
}

function validPort(p: number, allowZero: boolean): boolean {
  return Number.isInteger(p) && p >= (allowZero ? 0 : 1) && p <= 0xffff;
}

/** RFC 768 + the IP header: 65535 - 20 - 8 on IPv4, 65535 - 8 on IPv6 (no jumbograms, RFC 2675). */
function maxPayload(I: AnyVersion): number {
  return I.version === 4 ? 65507 : 65527;
}

/** The UDP transport: a socket table for both IP versions. */
export class UdpLayer implements TransportProtocol {
  private readonly ip: IpSender;
  private readonly emit: (ev: StackEvent) => void;
  private readonly random: () => number;
  private readonly counters: Counters;
  readonly limits: Readonly<UdpLimits>;
  private readonly allocId: () => SocketId;
  private readonly onMembershipChange: UdpLayerOptions["onMembershipChange"];
  private readonly sockets = new Map<SocketId, UdpSock>();
  /** Port tables: [IPv4, IPv6]. */
  private readonly tables: [Map<number, PortEntry>, Map<number, PortEntry>] = [new Map(), new Map()];
  /** Membership reference counts: [IPv4, IPv6], group key -> device (ANY_DEVICE) -> sockets. */
  private readonly members: [Map<AddrKey, Map<number, number>>, Map<AddrKey, Map<number, number>>] = [
    new Map(),
    new Map(),
  ];
  /** Keys the reuse-port hash so the choice cannot be steered from outside. */
  private readonly hashKey: number;
  private readonly view = new UdpView();
  private nextId = 1;

  constructor(opts: UdpLayerOptions) {
    this.ip = opts.ip;
    this.emit = opts.emit;
    this.random = opts.random;
    this.counters = opts.counters;
    this.limits = { ...DEFAULT_UDP_LIMITS, ...opts.limits };
    this.allocId = opts.allocSocketId ?? (() => this.nextId++);
    this.onMembershipChange = opts.onMembershipChange;
    this.hashKey = opts.random() >>> 0;
  }

  // ---- socket API ----

  /** Open an unbound socket of version `I`. Returns its id, or `EMFILE` past `limits.maxSockets`. */
  open<A>(I: IpVersion<A>, options: UdpSocketOptions = {}): SocketId | ErrorCode {
    if (this.sockets.size >= this.limits.maxSockets) return "EMFILE";
    const id = this.allocId();
    this.sockets.set(id, new UdpSock(id, I as unknown as AnyVersion, { ...options }));
    return id;
  }

  /** Change options; reuse flags affect later binds only. */
  setOptions(id: SocketId, options: UdpSocketOptions): ErrorCode | null {
    const s = this.sockets.get(id);
    if (s === undefined) return "EBADF";
    Object.assign(s.opts, options);
    return null;
  }

  /**
   * Bind to `addr` (the version's unspecified address = any) and `port` (0 = ephemeral).
   * Errors: EBADF, EINVAL (already bound, bad port), EAFNOSUPPORT (other version),
   * EADDRNOTAVAIL (not one of our addresses), EADDRINUSE.
   */
  bind(id: SocketId, addr: IpAddr, port: number): ErrorCode | null {
    const s = this.sockets.get(id);
    if (s === undefined) return "EBADF";
    if (s.port !== 0 || !validPort(port, true)) return "EINVAL";
    const I = s.I;
    if (!fits(I, addr)) return "EAFNOSUPPORT";
    // A socket may be bound to a local address, a multicast group (to receive only that group) or
    // the limited broadcast address; anything else is not ours.
    if (
      !I.isUnspecified(addr) &&
      !I.isMulticast(addr) &&
      !(I.version === 4 && addr === V4_BROADCAST) &&
      !this.ip.isLocal(I, addr)
    ) {
      return "EADDRNOTAVAIL";
    }
    return this.bindTo(s, I.copy(addr), port);
  }

  /**
   * Connect: fix the remote endpoint (receive filter, default destination) and the local address.
   * Binds an ephemeral port first when unbound. Errors: EBADF, EINVAL, EAFNOSUPPORT, ENETUNREACH
   * (no source address for `addr`), EADDRINUSE (no ephemeral port left), EACCES (limited
   * broadcast without the `broadcast` option).
   */
  connect(id: SocketId, addr: IpAddr, port: number): ErrorCode | null {
    const s = this.sockets.get(id);
    if (s === undefined) return "EBADF";
    const I = s.I;
    if (!fits(I, addr)) return "EAFNOSUPPORT";
    if (!validPort(port, false) || I.isUnspecified(addr)) return "EINVAL";
    // As for sending: the limited broadcast address needs the `broadcast` option (Linux EACCES).
    if (I.version === 4 && addr === V4_BROADCAST && s.opts.broadcast !== true) return "EACCES";
    let local = s.bindAddr;
    if (I.isUnspecified(local) || I.isMulticast(local) || (I.version === 4 && local === V4_BROADCAST)) {
      const src = this.ip.selectSource(I, addr);
      if (src === null) return "ENETUNREACH";
      local = I.copy(src);
    }
    if (s.port === 0) {
      const e = this.bindTo(s, I.unspecified, 0);
      if (e !== null) return e;
    }
    const entry = this.table(I).get(s.port) as PortEntry;
    this.unindex(entry, s);
    s.localAddr = local;
    s.remoteAddr = I.copy(addr);
    s.remotePort = port;
    this.index(entry, s);
    return null;
  }

  /** Forget the remote endpoint; the local address reverts to the bound one, the port stays. */
  disconnect(id: SocketId): ErrorCode | null {
    const s = this.sockets.get(id);
    if (s === undefined) return "EBADF";
    if (s.remoteAddr === null) return null;
    const entry = this.table(s.I).get(s.port) as PortEntry;
    this.unindex(entry, s);
    s.remoteAddr = null;
    s.remotePort = 0;
    s.localAddr = s.bindAddr;
    this.index(entry, s);
    return null;
  }

  /** Send `data` to the connected remote. EDESTADDRREQ when not connected; otherwise as `sendTo`. */
  send(id: SocketId, data: Uint8Array): ErrorCode | null {
    const s = this.sockets.get(id);
    if (s === undefined) return "EBADF";
    if (s.remoteAddr === null) return "EDESTADDRREQ";
    return this.sendFrom(s, data, s.remoteAddr, s.remotePort);
  }

  /**
   * Send one datagram to `addr`:`port`. The payload is copied once, into the outgoing packet.
   * Errors: EBADF, EAFNOSUPPORT, EINVAL (port 0, unspecified destination), EMSGSIZE (above 65507 /
   * 65527 bytes), EACCES (limited broadcast without the `broadcast` option), ENETUNREACH (no source
   * address), EADDRINUSE (no ephemeral port), and whatever `ip.send` returns.
   */
  sendTo(id: SocketId, data: Uint8Array, addr: IpAddr, port: number): ErrorCode | null {
    const s = this.sockets.get(id);
    if (s === undefined) return "EBADF";
    if (!fits(s.I, addr)) return "EAFNOSUPPORT";
    return this.sendFrom(s, data, addr, port);
  }

  /** The next queued datagram, or null when the queue is empty (or the socket unknown). */
  recv(id: SocketId): UdpDatagram | null {
    const s = this.sockets.get(id);
    return s === undefined ? null : s.queue.shift();
  }

  /** What is queued for `recv`: datagrams and payload bytes; null for an unknown socket. */
  queued(id: SocketId): { datagrams: number; bytes: number } | null {
    const s = this.sockets.get(id);
    return s === undefined ? null : { datagrams: s.queue.count, bytes: s.queue.bytes };
  }

  /** The local endpoint (port 0 while unbound); null for an unknown socket. */
  address(id: SocketId): UdpEndpoint | null {
    const s = this.sockets.get(id);
    if (s === undefined) return null;
    return { address: s.I.copy(s.localAddr), port: s.port, family: s.I.name as UdpEndpoint["family"] };
  }

  /** The connected remote endpoint; null when not connected. */
  remoteAddress(id: SocketId): UdpEndpoint | null {
    const s = this.sockets.get(id);
    if (s === undefined || s.remoteAddr === null) return null;
    return { address: s.I.copy(s.remoteAddr), port: s.remotePort, family: s.I.name as UdpEndpoint["family"] };
  }

  /**
   * Join multicast `group` on `device` (null: any device). Errors: EBADF, EAFNOSUPPORT, EINVAL (not
   * a multicast address), EADDRINUSE (already joined), ENOBUFS (`limits.maxGroupsPerSocket`).
   */
  joinGroup(id: SocketId, group: IpAddr, device: DeviceId | null = null): ErrorCode | null {
    const s = this.sockets.get(id);
    if (s === undefined) return "EBADF";
    const I = s.I;
    if (!fits(I, group)) return "EAFNOSUPPORT";
    if (!I.isMulticast(group)) return "EINVAL";
    const key = I.key(group);
    const dev = device ?? ANY_DEVICE;
    for (const g of s.groups) if (g.key === key && g.device === dev) return "EADDRINUSE";
    if (s.groups.length >= this.limits.maxGroupsPerSocket) return "ENOBUFS";
    const g: Group = { group: I.copy(group), key, device: dev };
    s.groups.push(g);
    this.addMember(I, g, 1);
    return null;
  }

  /** Leave a group joined with `joinGroup`. EADDRNOTAVAIL when not joined. */
  leaveGroup(id: SocketId, group: IpAddr, device: DeviceId | null = null): ErrorCode | null {
    const s = this.sockets.get(id);
    if (s === undefined) return "EBADF";
    const I = s.I;
    if (!fits(I, group)) return "EAFNOSUPPORT";
    const key = I.key(group);
    const dev = device ?? ANY_DEVICE;
    const i = s.groups.findIndex((g) => g.key === key && g.device === dev);
    if (i < 0) return "EADDRNOTAVAIL";
    const [g] = s.groups.splice(i, 1);
    this.addMember(I, g, -1);
    return null;
  }

  /** Every group of version `I` some socket has joined (for IGMP / MLD). */
  memberships<A>(I: IpVersion<A>): UdpMembership<A>[] {
    const out: UdpMembership<A>[] = [];
    const seen = new Set<string>();
    for (const s of this.sockets.values()) {
      if (s.I.version !== I.version) continue;
      for (const g of s.groups) {
        const k = `${g.key}/${g.device}`;
        if (seen.has(k)) continue;
        seen.add(k);
        out.push({ group: I.copy(g.group as A), device: g.device === ANY_DEVICE ? null : g.device });
      }
    }
    return out;
  }

  /** True when some socket joined `group` on `device` or on any device. Allocates nothing on IPv4. */
  isMember<A>(I: IpVersion<A>, group: A, device: DeviceId): boolean {
    const byDev = this.members[I.version === 4 ? 0 : 1].get(I.key(group));
    return byDev !== undefined && (byDev.has(device) || byDev.has(ANY_DEVICE));
  }

  /** Close: unbind, leave every group, drop the queue, emit `closed`. EBADF when unknown. */
  close(id: SocketId): ErrorCode | null {
    const s = this.sockets.get(id);
    if (s === undefined) return "EBADF";
    if (s.port !== 0) {
      const table = this.table(s.I);
      const entry = table.get(s.port) as PortEntry;
      this.unindex(entry, s);
      removeItem(entry.all, s);
      if (entry.all.length === 0) table.delete(s.port);
    }
    for (const g of s.groups) this.addMember(s.I, g, -1);
    s.groups.length = 0;
    s.queue.clear();
    this.sockets.delete(id);
    this.emit({ type: "closed", socket: id });
    return null;
  }

  // ---- from the IP layer ----

  receive<A>(info: IpRxInfo<A>, buf: Buf): void {
    const c = this.counters;
    c.inc(RX);
    const I = info.I as unknown as AnyVersion;
    const src = info.src as unknown as IpAddr;
    const dst = info.dst as unknown as IpAddr;
    const len = buf.length;
    const v = this.view;
    // RFC 768 / RFC 8200 8.1: the checksum covers the pseudo-header; the parser accepts a zero
    // checksum on IPv4 (none computed) and rejects it on IPv6.
    const err = v.parseFrom(buf.bytes, buf.start, len, pseudoSum(src, dst, IpProto.Udp, len), I.version);
    if (err !== null) {
      c.inc(PARSE_DROPS[err.reason] ?? RX_MALFORMED);
      return;
    }
    const srcPort = v.srcPort;
    const dstPort = v.dstPort;
    const entry = this.table(I).get(dstPort);

    if (info.multicast) {
      // RFC 1122 4.1.3.6 / RFC 1112: broadcast and multicast go to every socket that matches.
      let n = 0;
      if (entry !== undefined) {
        for (const s of entry.all) {
          if (this.acceptsGroupcast(s, I, src, srcPort, dst, info.device)) {
            this.deliver(s, v, src, srcPort);
            n++;
          }
        }
      }
      // RFC 1122 3.2.2 / RFC 4443 2.4 (e): no ICMP error in answer to a broadcast or multicast.
      if (n === 0) c.inc(RX_NO_SOCKET_GROUPCAST);
      return;
    }

    const s = entry === undefined ? null : this.lookupUnicast(entry, I, src, srcPort, dst);
    if (s === null) {
      c.inc(RX_NO_SOCKET);
      // RFC 1122 4.1.3.1: a datagram for a port with no socket is answered with ICMP port
      // unreachable (RFC 792 type 3 code 3; RFC 4443 3.1 type 1 code 4). `buf` still holds the
      // datagram with the IP header before it, for the quote.
      if (I.version === 4) {
        this.ip.sendIcmpError(info, buf, Icmpv4Type.DestUnreachable, Icmpv4UnreachableCode.Port);
      } else {
        this.ip.sendIcmpError(info, buf, Icmpv6Type.DestUnreachable, Icmpv6DestUnreachableCode.PortUnreachable);
      }
      return;
    }
    this.deliver(s, v, src, srcPort);
  }

  receiveIcmpError<A>(err: IcmpErrorInfo<A>): void {
    const I = err.I as unknown as AnyVersion;
    if (err.code === "EMSGSIZE") {
      // The IP layer keeps the path MTU (RFC 1191, RFC 8201); later datagrams are fragmented.
      this.counters.inc(ICMP_PMTU);
      return;
    }
    const entry = this.table(I).get(err.srcPort);
    const list = entry?.connected.get(err.dstPort)?.get(I.key(err.dst as unknown as IpAddr));
    const local = err.src as unknown as IpAddr;
    let n = 0;
    if (list !== undefined) {
      for (const s of list) {
        if (!I.equals(s.localAddr, local)) continue;
        // RFC 1122 4.1.3.3: UDP must pass ICMP errors up to the application. Linux reports them
        // to connected sockets (port unreachable as ECONNREFUSED).
        this.emit({ type: "error", socket: s.id, code: err.code });
        n++;
      }
    }
    // Unconnected sockets cannot tell which of their datagrams failed: ignored (Linux without
    // IP_RECVERR), counted.
    this.counters.inc(n === 0 ? ICMP_NO_SOCKET : ICMP_DELIVERED);
  }

  // ---- internals ----

  private table(I: AnyVersion): Map<number, PortEntry> {
    return this.tables[I.version === 4 ? 0 : 1];
  }

  private bindTo(s: UdpSock, addr: IpAddr, port: number): ErrorCode | null {
    const I = s.I;
    const table = this.table(I);
    let p = port;
    if (p === 0) {
      // RFC 6056 3.3.1; only ports no socket of this version uses, so an ephemeral port is never shared.
      p = pickEphemeralPort(this.random, (q) => !table.has(q), this.limits.ephemeralMin, this.limits.ephemeralMax);
      if (p < 0) return "EADDRINUSE";
    } else {
      const entry = table.get(p);
      if (entry !== undefined) {
        for (const o of entry.all) {
          const overlap = I.isUnspecified(addr) || I.isUnspecified(o.bindAddr) || I.equals(addr, o.bindAddr);
          if (!overlap) continue;
          const shared =
            (s.opts.reuseAddr === true && o.opts.reuseAddr === true) ||
            (s.opts.reusePort === true && o.opts.reusePort === true);
          if (!shared) return "EADDRINUSE";
        }
      }
    }
    let entry = table.get(p);
    if (entry === undefined) {
      entry = new PortEntry();
      table.set(p, entry);
    }
    s.port = p;
    s.bindAddr = addr;
    s.localAddr = addr;
    entry.all.push(s);
    this.index(entry, s);
    return null;
  }

  /** Put `s` in the unicast index of its port entry (by its current local/remote state). */
  private index(entry: PortEntry, s: UdpSock): void {
    const I = s.I;
    if (s.remoteAddr !== null) {
      let byAddr = entry.connected.get(s.remotePort);
      if (byAddr === undefined) {
        byAddr = new Map();
        entry.connected.set(s.remotePort, byAddr);
      }
      const k = I.key(s.remoteAddr);
      const list = byAddr.get(k);
      if (list === undefined) byAddr.set(k, [s]);
      else list.push(s);
    } else if (I.isUnspecified(s.localAddr)) {
      entry.any.push(s);
    } else {
      const k = I.key(s.localAddr);
      const list = entry.bound.get(k);
      if (list === undefined) entry.bound.set(k, [s]);
      else list.push(s);
    }
  }

  private unindex(entry: PortEntry, s: UdpSock): void {
    const I = s.I;
    if (s.remoteAddr !== null) {
      const byAddr = entry.connected.get(s.remotePort);
      if (byAddr === undefined) return;
      const k = I.key(s.remoteAddr);
      const list = byAddr.get(k);
      if (list === undefined) return;
      removeItem(list, s);
      if (list.length === 0) byAddr.delete(k);
      if (byAddr.size === 0) entry.connected.delete(s.remotePort);
    } else if (I.isUnspecified(s.localAddr)) {
      removeItem(entry.any, s);
    } else {
      const k = I.key(s.localAddr);
      const list = entry.bound.get(k);
      if (list === undefined) return;
      removeItem(list, s);
      if (list.length === 0) entry.bound.delete(k);
    }
  }

  /** The socket for a unicast datagram: connected 4-tuple, then bound address, then any. */
  private lookupUnicast(entry: PortEntry, I: AnyVersion, src: IpAddr, srcPort: number, dst: IpAddr): UdpSock | null {
    if (entry.connected.size !== 0) {
      const list = entry.connected.get(srcPort)?.get(I.key(src));
      if (list !== undefined) {
        let match: UdpSock | null = null;
        let n = 0;
        for (const s of list) {
          if (I.equals(s.localAddr, dst)) {
            match = s;
            n++;
          }
        }
        if (n === 1) return match;
        if (n > 1)
          return this.pick(
            list.filter((s) => I.equals(s.localAddr, dst)),
            I,
            src,
            srcPort,
          );
      }
    }
    if (entry.bound.size !== 0) {
      const list = entry.bound.get(I.key(dst));
      if (list !== undefined) return this.pick(list, I, src, srcPort);
    }
    return entry.any.length === 0 ? null : this.pick(entry.any, I, src, srcPort);
  }

  /**
   * One socket of a group bound to the same endpoint: by a keyed hash of the source when all set
   * `reusePort`, else the most recently bound.
   */
  private pick(list: UdpSock[], I: AnyVersion, src: IpAddr, srcPort: number): UdpSock {
    const n = list.length;
    if (n === 1) return list[0];
    for (const s of list) if (s.opts.reusePort !== true) return list[n - 1];
    let h = Math.imul(this.hashKey ^ srcPort, 0x9e3779b1);
    if (I.version === 4) {
      h = Math.imul(h ^ (src as number), 0x85ebca6b);
    } else {
      const a = src as Uint8Array;
      for (let i = 0; i < 16; i += 4) {
        h = Math.imul(h ^ ((a[i] << 24) | (a[i + 1] << 16) | (a[i + 2] << 8) | a[i + 3]), 0x85ebca6b);
      }
    }
    h ^= h >>> 16;
    return list[(h >>> 0) % n];
  }

  /** Does `s` take a broadcast or multicast datagram? */
  private acceptsGroupcast(
    s: UdpSock,
    I: AnyVersion,
    src: IpAddr,
    srcPort: number,
    dst: IpAddr,
    device: DeviceId,
  ): boolean {
    // Bound to another specific address (or connected, which fixes the local address): not for it.
    if (!I.isUnspecified(s.localAddr) && !I.equals(s.localAddr, dst)) return false;
    if (s.remoteAddr !== null && (s.remotePort !== srcPort || !I.equals(s.remoteAddr, src))) return false;
    if (!I.isMulticast(dst)) return true;
    // Multicast: only sockets that joined the group there (IP_MULTICAST_ALL off).
    const key = I.key(dst);
    for (const g of s.groups) if (g.key === key && (g.device === ANY_DEVICE || g.device === device)) return true;
    return false;
  }

  private deliver(s: UdpSock, v: UdpView, src: IpAddr, srcPort: number): void {
    const q = s.queue;
    const n = v.payloadLen;
    const maxDatagrams = s.opts.recvQueueDatagrams ?? this.limits.recvQueueDatagrams;
    const maxBytes = s.opts.recvQueueBytes ?? this.limits.recvQueueBytes;
    if (q.count >= maxDatagrams || (q.count > 0 && q.bytes + n > maxBytes)) {
      this.counters.inc(RX_QUEUE_FULL);
      return;
    }
    const off = v.payloadOff;
    q.push({
      data: v.bytes.slice(off, off + n),
      address: s.I.copy(src),
      port: srcPort,
      family: s.I.name as UdpDatagram["family"],
    });
    this.counters.inc(RX_DELIVERED);
    if (q.count === 1) this.emit({ type: "readable", socket: s.id });
  }

  private sendFrom(s: UdpSock, data: Uint8Array, dst: IpAddr, dstPort: number): ErrorCode | null {
    const I = s.I;
    if (!validPort(dstPort, false) || I.isUnspecified(dst)) return "EINVAL";
    if (data.length > maxPayload(I)) return "EMSGSIZE";
    const multicast = I.isMulticast(dst);
    if (I.version === 4 && dst === V4_BROADCAST && s.opts.broadcast !== true) return "EACCES";
    if (s.port === 0) {
      const e = this.bindTo(s, I.unspecified, 0);
      if (e !== null) return e;
    }
    // The source: the connected local address for the connected remote, else the bound address
    // when it is a unicast one, else the IP layer's choice for `dst` (needed here for the checksum).
    let src: IpAddr | null;
    if (s.remoteAddr !== null && s.remotePort === dstPort && I.equals(s.remoteAddr, dst)) {
      src = s.localAddr;
    } else if (
      !I.isUnspecified(s.bindAddr) &&
      !I.isMulticast(s.bindAddr) &&
      !(I.version === 4 && s.bindAddr === V4_BROADCAST)
    ) {
      src = s.bindAddr;
    } else {
      src = this.ip.selectSource(I, dst);
      if (src === null) {
        this.counters.inc(TX_ERROR);
        return "ENETUNREACH";
      }
    }
    // RFC 8200 8.1: IPv6 UDP always carries a checksum.
    const builder = new UdpBuilder(src, dst, s.port, dstPort, I.version === 4 && s.opts.noChecksum === true);
    const ttl = multicast ? (s.opts.multicastTtl ?? 1) : s.opts.ttl;
    const device = multicast ? (s.opts.multicastInterface ?? undefined) : undefined;
    const e = this.ip.send(I, { src, dst, proto: IpProto.Udp, ttl, device }, new BytesBody(data).wrapIn(builder));
    this.counters.inc(e === null ? TX : TX_ERROR);
    return e;
  }

  private addMember(I: AnyVersion, g: Group, delta: 1 | -1): void {
    const map = this.members[I.version === 4 ? 0 : 1];
    let byDev = map.get(g.key);
    if (byDev === undefined) {
      if (delta < 0) return;
      byDev = new Map();
      map.set(g.key, byDev);
    }
    const before = byDev.get(g.device) ?? 0;
    const after = before + delta;
    if (after <= 0) {
      byDev.delete(g.device);
      if (byDev.size === 0) map.delete(g.key);
    } else {
      byDev.set(g.device, after);
    }
    if ((before === 0) !== after <= 0) {
      this.onMembershipChange?.(I, g.group, g.device === ANY_DEVICE ? null : g.device, after > 0);
    }
  }
}
