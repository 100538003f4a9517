/**
 * The contract between the IP layer and the transport protocols (UDP, TCP, ICMP echo sockets).
 * RFC 1122 section 3.4 (the IP/transport interface: addresses, TTL, errors passed up), RFC 4443
 * section 3 / RFC 1122 3.2.2.1 (ICMP errors delivered to the transport named in the quoted header).
 *
 * Transports are written once for both IP versions: every call carries the version object `I`, and
 * addresses are `A` (a number for IPv4, a 16-byte array for IPv6). Addresses handed *up* are
 * borrowed from the packet buffer: copy them with `I.copy(a)` before keeping them past the call.
 */
import type { DeviceId, ErrorCode } from "../context.ts";
import type { Buf } from "../packet/buf.ts";
import type { Serializer } from "../packet/serialize.ts";
import type { IpVersion } from "./version.ts";

/** What the IP layer knows about a received packet, passed to the transport with its payload. */
export interface IpRxInfo<A> {
  readonly I: IpVersion<A>;
  /** Source and destination addresses (borrowed). */
  readonly src: A;
  readonly dst: A;
  /** The device the packet arrived on. */
  readonly device: DeviceId;
  /** TTL / hop limit as received. */
  readonly ttl: number;
  /** The destination was a broadcast or multicast address (no RST, no ICMP error in reply). */
  readonly multicast: boolean;
  /** Offset in `buf.bytes` of the IP header (for quoting the packet in an ICMP error). */
  readonly ipOff: number;
}

/** Options for sending one IP packet. */
export interface IpSendOptions<A> {
  /** Source address; null picks one for the destination (RFC 6724 / the outgoing device). */
  src: A | null;
  dst: A;
  /** IP protocol number (IpProto). */
  proto: number;
  /** TTL / hop limit; default 64 (multicast: 1). */
  ttl?: number;
  /** IPv4: set Don't Fragment (TCP does, RFC 1191). IPv6 never fragments in transit. */
  dontFragment?: boolean;
  /** Send out of this device (link-local and multicast destinations), bypassing the route lookup. */
  device?: DeviceId;
}

/** Why a packet could not be sent (Node-style codes). null means it was sent or queued for resolution. */
export type IpSendError = Extract<ErrorCode, "ENETUNREACH" | "EHOSTUNREACH" | "EADDRNOTAVAIL" | "EMSGSIZE"> | null;

/** What transports call on the IP layer. */
export interface IpSender {
  /**
   * Send `body` (the transport segment, not yet wrapped in IP) to `opts.dst`. The IP layer picks the
   * route, wraps the IP header and link header, fragments when allowed and needed, and sends or
   * queues the frame. `body`'s buffer may be reused (a reply serialized into the received buffer).
   */
  send<A>(I: IpVersion<A>, opts: IpSendOptions<A>, body: Serializer): IpSendError;
  /**
   * The largest transport segment (bytes after the IP header) that reaches `dst` without
   * fragmentation: route MTU or learned path MTU, minus the IP header. Used for TCP's MSS.
   */
  maxPayload<A>(I: IpVersion<A>, dst: A): number;
  /** The source address the stack would use to reach `dst`, or null when there is no route. */
  selectSource<A>(I: IpVersion<A>, dst: A): A | null;
  /** True when `a` is one of the stack's own addresses (any device) of version `I`. */
  isLocal<A>(I: IpVersion<A>, a: A): boolean;
  /**
   * Answer the packet in `buf` with an ICMP error (destination unreachable / port unreachable, ...):
   * the IP layer applies the RFC 1122/4443 suppression rules and the rate limit.
   * `type`/`code` are the version's own ICMP numbers.
   */
  sendIcmpError<A>(info: IpRxInfo<A>, buf: Buf, type: number, code: number, param?: number): void;
}

/** An ICMP error about a packet this stack sent, passed to the transport that sent it. */
export interface IcmpErrorInfo<A> {
  readonly I: IpVersion<A>;
  /** The quoted packet's addresses and ports (our local side is `src`). */
  readonly src: A;
  readonly dst: A;
  readonly srcPort: number;
  readonly dstPort: number;
  /** A Node-style code: ECONNREFUSED (port unreachable), EHOSTUNREACH, ENETUNREACH, EMSGSIZE, ... */
  readonly code: ErrorCode;
  /** Packet too big / fragmentation needed: the reported MTU; 0 otherwise. */
  readonly mtu: number;
  /** TCP: the sequence number in the quoted header (RFC 5927 validation); 0 otherwise. */
  readonly seq: number;
}

/** What the IP layer calls on a transport protocol. */
export interface TransportProtocol {
  /**
   * A packet for us with this transport's protocol number. `buf`'s body is the transport segment
   * (the IP header lies just before it in the prefix). The transport may reuse `buf` to reply.
   */
  receive<A>(info: IpRxInfo<A>, buf: Buf): void;
  /** An ICMP error that quotes a packet this transport sent. */
  receiveIcmpError<A>(err: IcmpErrorInfo<A>): void;
}

/** The mutable `IpRxInfo` the IP layer fills and reuses (one per version: nothing allocated per packet). */
export class MutableIpRxInfo<A> implements IpRxInfo<A> {
  src!: A;
  dst!: A;
  device: DeviceId = 0;
  ttl = 0;
  multicast = false;
  ipOff = 0;
  constructor(readonly I: IpVersion<A>) {}
}
