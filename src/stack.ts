/**
 * The Stack: one object that owns all state (the seed's "Control Flow"; DESIGN.md "The core and its
 * bindings"). Devices (Ethernet, loopback), neighbours (ARP RFC 826 / RFC 1122 2.3.2, NDP RFC 4861),
 * IPv4 (RFC 791, RFC 1122, RFC 1812 when forwarding) and IPv6 (RFC 8200), ICMP (RFC 792, RFC 4443),
 * fragmentation and reassembly, path MTU (RFC 1191, RFC 8201), and the transports plugged in
 * through src/ip/transport-api.ts. IPv6 host configuration: DAD (RFC 4862 5.4, random delay before
 * the first probe), router solicitation and advertisement processing with router, prefix and
 * SLAAC address lifetimes (RFC 4861 6.3.4, RFC 4862 5.5.3 / 5.5.4); multicast membership of the
 * groups sockets join through hostconf's `Mld` (RFC 3810) and `Igmp` (RFC 2236).
 *
 * Entry points: `receiveFrame(device, buf)` (or a batch of frames: `beginBatch()`, `receiveFrame`
 * per frame, `endBatch()`; or `receiveFrames(device, bufs)`), `handleTimers(now)`, and the
 * configuration and socket calls. Each processes its event completely and returns; frames leave through
 * `bindings.sendFrame`. Work that would re-enter the stack (a packet to one of our own addresses
 * goes through the loopback device) is queued and drained before the entry point returns, so no
 * receive path ever runs inside another. A loopback send made outside any entry point (a socket
 * call) asks the bindings for an immediate wake-up and is delivered from `handleTimers`.
 *
 * Buffers: a received frame travels up as one `Buf`. An ICMP echo request is answered in that
 * buffer (addresses swapped, type and checksum patched, a new IP header written in the prefix); a
 * forwarded packet has its TTL / hop limit decremented in place (RFC 1624 incremental checksum) and
 * its new link header written in the prefix; the same buffer is sent. Packets awaiting neighbour
 * resolution wait as complete IP packets in their own `Buf`, with prefix room for the link header.
 *
 * Nothing here throws on network input: every malformed or unwanted packet is counted (see
 * `counters.snapshot()`) and dropped, or answered with the ICMP error the RFCs ask for. An
 * exception escaping a handler would be a bug; it is caught at the entry point, counted as
 * `stack.internal-error` and kept in `lastInternalError`.
 */

import type { Bindings, DeviceId, ErrorCode, IpAddr, SocketId, StackEvent, TimerId } from "./context.ts";
import { type CounterId, Counters, counter } from "./counters.ts";
import {
  ALL_NODES,
  ALL_ROUTERS,
  Device,
  type DeviceAddr,
  deviceAddr4,
  deviceAddr6,
  eui64Into,
  type LearnedPrefix,
  type LearnedRouter,
  linkLocalFromMac,
  mac4Multicast,
  mac6Multicast,
  solicitedNode,
} from "./device/device.ts";
import { NEIGHBOR_STATE_NAMES, type NeighborEntry, NeighborState, NeighborTable } from "./device/neighbor.ts";
import {
  type AddrOrigin,
  type AddrState,
  type HostconfContext,
  INFINITE_LIFETIME,
  randomBelow,
  TimerRegistry,
} from "./hostconf/context.ts";
import { Igmp } from "./hostconf/igmp.ts";
import { Mld } from "./hostconf/mld.ts";
import { TWO_HOURS_MS } from "./hostconf/slaac.ts";
import {
  formatMac,
  formatV4,
  formatV6,
  type Ipv4Addr,
  type Ipv6Addr,
  MAC_BROADCAST,
  MAC_ZERO,
  type MacAddr,
  macAt,
  parseMac,
  v4At,
  v4Put,
  v6At,
  v6Key,
} from "./ip/addr.ts";
import { fragmentIpv4, fragmentIpv6 } from "./ip/fragment.ts";
import { type IcmpEchoHandler, icmpv4ErrorCode, icmpv6ErrorCode, MutableIcmpErrorInfo } from "./ip/icmp.ts";
import { PathMtuCache } from "./ip/pmtu.ts";
import { TokenBucket } from "./ip/ratelimit.ts";
import { type Fragment, Reassembler } from "./ip/reassembly.ts";
import { type Route, type RouteError, RoutingTable } from "./ip/route.ts";
import { isV4BroadcastFor, parseCidr, parseSubnet, Subnet } from "./ip/subnet.ts";
import type { IpRxInfo, IpSendError, IpSender, IpSendOptions, TransportProtocol } from "./ip/transport-api.ts";
import { type IpVersion, Ipv4, Ipv6, parseIp, V4_BROADCAST } from "./ip/version.ts";
import { Buf } from "./packet/buf.ts";
import {
  BufBody,
  EMPTY_BODY,
  type Nested,
  type PacketBuilder,
  type SerializeOptions,
  type Serializer,
  TooBig,
} from "./packet/serialize.ts";
import type { SimHost } from "./testing/fake-network.ts";
import { CoreTimers, Timer } from "./timers.ts";
import { type IcmpEchoLimits, IcmpEchoSockets } from "./transport/icmp-echo.ts";
import type { TcpConfig } from "./transport/tcp/config.ts";
import { TcpLayer } from "./transport/tcp/tcp-layer.ts";
import { UdpLayer, type UdpLimits } from "./transport/udp/udp.ts";
import { ARP_LEN, ArpBuilder, ArpOp, ArpView } from "./wire/arp.ts";
import { finish, update16 } from "./wire/checksum.ts";
import { ParseError } from "./wire/errors.ts";
import { ETHERNET_HEADER_LEN, ETHERNET_MIN_FRAME_LEN, EthernetView, EtherType } from "./wire/ethernet.ts";
import {
  ICMPV4_HEADER_LEN,
  Icmpv4ErrorBuilder,
  Icmpv4TimeExceededCode,
  Icmpv4Type,
  Icmpv4UnreachableCode,
  Icmpv4View,
  icmpv4QuoteLen,
  isIcmpv4Error,
} from "./wire/icmpv4.ts";
import {
  Icmpv6DestUnreachableCode,
  Icmpv6ErrorBuilder,
  Icmpv6ParamProblemCode,
  Icmpv6TimeExceededCode,
  Icmpv6Type,
  Icmpv6View,
  icmpv6QuoteLen,
} from "./wire/icmpv6.ts";
import { IgmpType, IgmpView, ROUTER_ALERT_V4 } from "./wire/igmp.ts";
import { IpProto } from "./wire/ipproto.ts";
import { decrementTtlInPlace, IPV4_HEADER_LEN, Ipv4Builder, Ipv4View } from "./wire/ipv4.ts";
import { decrementHopLimitInPlace, IPV6_HEADER_LEN, Ipv6Builder, type Ipv6ParseError, Ipv6View } from "./wire/ipv6.ts";
import { MldView, parseMld } from "./wire/mld.ts";
import {
  LinkAddrOption,
  MtuOption,
  NdpOptionCursor,
  NdpOptionType,
  type NdpOptionWriter,
  NeighborAdvertisementBuilder,
  NeighborAdvertisementView,
  NeighborSolicitationBuilder,
  NeighborSolicitationView,
  ndpValid,
  PrefixInfoOption,
  RedirectView,
  RouterAdvertisementBuilder,
  RouterAdvertisementView,
  RouterSolicitationBuilder,
  RouterSolicitationView,
} from "./wire/ndp.ts";

declare module "./context.ts" {
  interface TimerIdMap {
    /** The Stack's queue of loopback frames, waiting for the next entry point. */
    "stack-drain": { device: DeviceId };
  }
}

// ---- options ----

/** Every bound and protocol constant the Stack uses; all configurable through `StackOptions.limits`. */
export interface StackLimits {
  /** Neighbour entries per device and version (ARP cache, NDP neighbour cache). Default 512. */
  neighborEntries: number;
  /** Packets queued per unresolved neighbour (RFC 4861 7.2.2: "a small queue"). Default 16. */
  neighborPending: number;
  /** Solicitation retransmission interval, ms (RFC 4861 RETRANS_TIMER). Default 1000. */
  neighborRetransMs: number;
  /** Broadcast ARP requests / multicast NS before resolution fails (RFC 4861 MAX_MULTICAST_SOLICIT). Default 3. */
  neighborMulticastSolicit: number;
  /** Unicast probes before an entry is dropped (RFC 4861 MAX_UNICAST_SOLICIT). Default 3. */
  neighborUnicastSolicit: number;
  /** How long a confirmation keeps an entry REACHABLE, ms (RFC 4861 REACHABLE_TIME). Default 30000. */
  neighborReachableMs: number;
  /** DELAY state length, ms (RFC 4861 DELAY_FIRST_PROBE_TIME). Default 5000. */
  neighborDelayMs: number;
  /**
   * Bytes held for reassembly, per version: the fragment data in its buffers (which grow with the
   * data received, not with the offsets it arrived at) plus a small fixed cost per contiguous run
   * (src/ip/reassembly.ts). Default 4 MiB.
   */
  reassemblyBytes: number;
  /** Datagrams under reassembly, per version. Default 1024. */
  reassemblyDatagrams: number;
  /** Fragments per datagram. Default 256. */
  reassemblyFragments: number;
  /** Reassembly timeout, ms (RFC 8200 4.5: 60 s). Default 60000. */
  reassemblyTimeoutMs: number;
  /** ICMP errors per second, per version (RFC 4443 2.4 (f), RFC 1812 4.3.2.8). Default 1000. */
  icmpErrorRate: number;
  /** ICMP error burst (token bucket depth). Default 50. */
  icmpErrorBurst: number;
  /** Destinations remembered by the path MTU cache, per version. Default 1024. */
  pmtuEntries: number;
  /** Path MTU estimate lifetime, ms (RFC 8201 5.3: 10 minutes). Default 600000. */
  pmtuTimeoutMs: number;
  /** Loopback packets queued within one event. Default 1024. */
  loopbackQueue: number;
  /** TTL / hop limit of packets we originate. Default 64. */
  defaultTtl: number;
  /** Neighbour solicitations sent for duplicate address detection (RFC 4862 DupAddrDetectTransmits); 0 disables DAD. Default 1. */
  dadTransmits: number;
  /** Router solicitations sent when an interface comes up (RFC 4861 MAX_RTR_SOLICITATIONS). Default 3. */
  routerSolicitations: number;
  /** Interval between router solicitations, ms (RFC 4861 RTR_SOLICITATION_INTERVAL). Default 4000. */
  routerSolicitIntervalMs: number;
  /**
   * Upper bound of the random delay before the first DAD solicitation, ms (RFC 4862 5.4.2:
   * MAX_RTR_SOLICITATION_DELAY, so hosts powered up together do not collide). Default 1000.
   */
  dadMaxDelayMs: number;
  /** Default routers kept per device (RFC 4861 6.3.4 lets a host bound its lists). Default 8. */
  maxRouters: number;
  /** On-link prefixes kept per device. Default 16. */
  maxPrefixes: number;
  /** Host routes learned from ICMP redirects, per version (oldest dropped first). Default 256. */
  redirectRoutes: number;
}

export const DEFAULT_STACK_LIMITS: Readonly<StackLimits> = Object.freeze({
  neighborEntries: 512,
  neighborPending: 16,
  neighborRetransMs: 1000,
  neighborMulticastSolicit: 3,
  neighborUnicastSolicit: 3,
  neighborReachableMs: 30_000,
  neighborDelayMs: 5_000,
  reassemblyBytes: 4 * 1024 * 1024,
  reassemblyDatagrams: 1024,
  reassemblyFragments: 256,
  reassemblyTimeoutMs: 60_000,
  icmpErrorRate: 1000,
  icmpErrorBurst: 50,
  pmtuEntries: 1024,
  pmtuTimeoutMs: 600_000,
  loopbackQueue: 1024,
  defaultTtl: 64,
  dadTransmits: 1,
  routerSolicitations: 3,
  routerSolicitIntervalMs: 4_000,
  dadMaxDelayMs: 1_000,
  maxRouters: 8,
  maxPrefixes: 16,
  redirectRoutes: 256,
});

export interface StackOptions {
  /** Forward packets not addressed to us (RFC 1812 / RFC 8200 routers). Default false for both. */
  forwarding?: { v4?: boolean; v6?: boolean };
  /** Bounds and timers; unset fields take `DEFAULT_STACK_LIMITS`. */
  limits?: Partial<StackLimits>;
  /** UDP layer limits. */
  udp?: Partial<UdpLimits>;
  /** TCP configuration (buffer sizes, timers, limits, congestion control). */
  tcp?: Partial<TcpConfig>;
  /** ICMP echo (ping) socket limits. */
  icmpEcho?: Partial<IcmpEchoLimits>;
  /** Create the loopback device (id 0) with 127.0.0.1/8 and ::1/128. Default true. */
  loopback?: boolean;
}

export interface EthernetDeviceOptions {
  /** The MAC, as bytes or text. */
  mac: MacAddr | Uint8Array | string;
  /** Link MTU (largest IP packet). Default 1500. */
  mtu?: number;
  name?: string;
  /** Default true. */
  up?: boolean;
  /** Generate the fe80::/64 EUI-64 link-local address when the device comes up. Default true. */
  ipv6LinkLocal?: boolean;
}

export interface RouteOptions {
  /** Next-hop router (text or address); omit for an on-link route. */
  gateway?: string | IpAddr;
  /** Outgoing device; default: the device with an on-link route to the gateway. */
  device?: DeviceId;
  metric?: number;
}

/**
 * Occupancy of the Stack's bounded structures (`Stack.usage()`); each is at most the `StackLimits`
 * field of the same name (per device and version, or per version), `tcpConnections` at most
 * `TcpConfig.maxConnections`.
 */
export interface StackUsage {
  /** Largest neighbour table (entries) over devices and versions. */
  neighborEntries: number;
  /** Most packets queued on one unresolved neighbour. */
  neighborPending: number;
  /** Datagrams under reassembly (the larger version). */
  reassemblyDatagrams: number;
  /** Bytes held for reassembly (the larger version). */
  reassemblyBytes: number;
  /** Path MTU cache entries (the larger version). */
  pmtuEntries: number;
  /** Loopback packets queued now. */
  loopbackQueue: number;
  /** TCP connections in the demux table (every state but LISTEN and CLOSED). */
  tcpConnections: number;
}

/** A neighbour as `neighbors()` reports it. */
export interface NeighborInfo {
  addr: string;
  mac: string | null;
  state: (typeof NEIGHBOR_STATE_NAMES)[number];
  pending: number;
}

// ---- counters ----

const C = {
  internalError: counter("stack.internal-error"),
  rxUnknownDevice: counter("stack.rx.unknown-device"),
  rxDeviceDown: counter("stack.rx.device-down"),
  loopbackOverflow: counter("stack.loopback.queue-full"),
  ethRxShort: counter("ethernet.rx.too-short"),
  ethRxVlan: counter("ethernet.rx.vlan-tagged"),
  ethRxOtherHost: counter("ethernet.rx.other-host"),
  ethRxUnknownType: counter("ethernet.rx.unknown-ethertype"),
  ethTx: counter("ethernet.tx"),
  arpRx: counter("arp.rx"),
  arpRxBad: counter("arp.rx.malformed"),
  arpRxOwnMac: counter("arp.rx.own-mac"),
  arpRxConflict: counter("arp.rx.address-conflict"),
  arpRxBadSender: counter("arp.rx.bad-sender"),
  arpRxRequest: counter("arp.rx.request"),
  arpRxReply: counter("arp.rx.reply"),
  arpTxReply: counter("arp.tx.reply"),
  arpTxRequest: counter("arp.tx.request"),
  arpTxGratuitous: counter("arp.tx.gratuitous"),
  neighResolved: counter("neighbor.resolved"),
  neighFailed: counter("neighbor.resolution-failed"),
  neighEvicted: counter("neighbor.evicted"),
  neighPendingDropped: counter("neighbor.pending-dropped"),
  neighQueued: counter("neighbor.queued"),
  neighProbeFailed: counter("neighbor.probe-failed"),
  neighNoSource: counter("neighbor.no-source-address"),
  ip4Rx: counter("ipv4.rx"),
  ip4RxBadSrc: counter("ipv4.rx.bad-source"),
  ip4RxMartian: counter("ipv4.rx.martian"),
  ip4RxNotForUs: counter("ipv4.rx.not-for-us"),
  ip4RxNotMember: counter("ipv4.rx.not-member"),
  ip4RxDelivered: counter("ipv4.rx.delivered"),
  ip4RxUnknownProto: counter("ipv4.rx.unknown-protocol"),
  ip4Fragments: counter("ipv4.rx.fragment"),
  ip4Reassembled: counter("ipv4.reassembly.complete"),
  ip4ReasmTimeout: counter("ipv4.reassembly.timeout"),
  ip4Tx: counter("ipv4.tx"),
  ip4TxNoRoute: counter("ipv4.tx.no-route"),
  ip4TxNoSource: counter("ipv4.tx.no-source"),
  ip4TxTooBig: counter("ipv4.tx.too-big"),
  ip4TxFragmented: counter("ipv4.tx.fragmented"),
  ip4TxFragments: counter("ipv4.tx.fragments"),
  ip4Fwd: counter("ipv4.forward"),
  ip4FwdTtl: counter("ipv4.forward.ttl-exceeded"),
  ip4FwdNoRoute: counter("ipv4.forward.no-route"),
  ip4FwdFragNeeded: counter("ipv4.forward.frag-needed"),
  ip4FwdFragmented: counter("ipv4.forward.fragmented"),
  ip4FwdLinkLocal: counter("ipv4.forward.link-local"),
  ip6Rx: counter("ipv6.rx"),
  ip6RxBadSrc: counter("ipv6.rx.bad-source"),
  ip6RxMartian: counter("ipv6.rx.martian"),
  ip6RxNotForUs: counter("ipv6.rx.not-for-us"),
  ip6RxDelivered: counter("ipv6.rx.delivered"),
  ip6RxUnknownProto: counter("ipv6.rx.unknown-next-header"),
  ip6RxNoNext: counter("ipv6.rx.no-next-header"),
  ip6Fragments: counter("ipv6.rx.fragment"),
  ip6Reassembled: counter("ipv6.reassembly.complete"),
  ip6FirstFragShort: counter("ipv6.rx.first-fragment-incomplete-chain"),
  ip6ReasmTimeout: counter("ipv6.reassembly.timeout"),
  ip6Tx: counter("ipv6.tx"),
  ip6TxNoRoute: counter("ipv6.tx.no-route"),
  ip6TxNoSource: counter("ipv6.tx.no-source"),
  ip6TxTooBig: counter("ipv6.tx.too-big"),
  ip6TxFragmented: counter("ipv6.tx.fragmented"),
  ip6TxFragments: counter("ipv6.tx.fragments"),
  ip6Fwd: counter("ipv6.forward"),
  ip6FwdHopLimit: counter("ipv6.forward.hop-limit-exceeded"),
  ip6FwdNoRoute: counter("ipv6.forward.no-route"),
  ip6FwdTooBig: counter("ipv6.forward.packet-too-big"),
  ip6FwdScope: counter("ipv6.forward.scope"),
  icmp4Rx: counter("icmpv4.rx"),
  icmp4RxEchoRequest: counter("icmpv4.rx.echo-request"),
  icmp4RxEchoReply: counter("icmpv4.rx.echo-reply"),
  icmp4RxEchoIgnored: counter("icmpv4.rx.echo-request-broadcast-ignored"),
  icmp4RxError: counter("icmpv4.rx.error"),
  icmp4RxErrorNotOurs: counter("icmpv4.rx.error-not-ours"),
  icmp4RxErrorShort: counter("icmpv4.rx.error-quote-too-short"),
  icmp4RxOther: counter("icmpv4.rx.other-type"),
  icmp4TxEchoReply: counter("icmpv4.tx.echo-reply"),
  icmp4TxError: counter("icmpv4.tx.error"),
  icmp4ErrSuppressed: counter("icmpv4.tx.error-suppressed"),
  icmp4ErrRateLimited: counter("icmpv4.tx.error-rate-limited"),
  icmp4Pmtu: counter("icmpv4.rx.frag-needed"),
  icmp6Rx: counter("icmpv6.rx"),
  icmp6RxEchoRequest: counter("icmpv6.rx.echo-request"),
  icmp6RxEchoReply: counter("icmpv6.rx.echo-reply"),
  icmp6RxEchoIgnored: counter("icmpv6.rx.echo-request-multicast-ignored"),
  icmp6RxError: counter("icmpv6.rx.error"),
  icmp6RxErrorNotOurs: counter("icmpv6.rx.error-not-ours"),
  icmp6RxErrorShort: counter("icmpv6.rx.error-quote-too-short"),
  icmp6RxOther: counter("icmpv6.rx.other-type"),
  icmp6TxEchoReply: counter("icmpv6.tx.echo-reply"),
  icmp6TxError: counter("icmpv6.tx.error"),
  icmp6ErrSuppressed: counter("icmpv6.tx.error-suppressed"),
  icmp6ErrRateLimited: counter("icmpv6.tx.error-rate-limited"),
  icmp6Pmtu: counter("icmpv6.rx.packet-too-big"),
  ndpRxBad: counter("ndp.rx.malformed"),
  ndpRxBadLinkAddr: counter("ndp.rx.group-link-address"),
  ndpRxBadHopLimit: counter("ndp.rx.bad-hop-limit"),
  ndpRxNs: counter("ndp.rx.neighbor-solicitation"),
  ndpRxNa: counter("ndp.rx.neighbor-advertisement"),
  ndpRxNotOurTarget: counter("ndp.rx.not-our-target"),
  ndpRxUnsolicitedNa: counter("ndp.rx.unsolicited-na"),
  ndpRxDuplicate: counter("ndp.rx.duplicate-address"),
  ndpRxOther: counter("ndp.rx.other"),
  redirectRx: counter("redirect.rx"),
  redirectLearned: counter("redirect.learned"),
  redirectIgnored: counter("redirect.ignored"),
  ndpTxNs: counter("ndp.tx.neighbor-solicitation"),
  ndpTxNa: counter("ndp.tx.neighbor-advertisement"),
  ndpTxDad: counter("ndp.tx.dad-solicitation"),
  ndpTxRs: counter("ndp.tx.router-solicitation"),
  ndpTxRa: counter("ndp.tx.router-advertisement"),
  ndpRxRs: counter("ndp.rx.router-solicitation"),
  ndpRxRa: counter("ndp.rx.router-advertisement"),
  ndpRxRaIgnored: counter("ndp.rx.router-advertisement-ignored"),
  slaacAddresses: counter("ndp.slaac.address"),
  dadFailed: counter("ndp.dad.failed"),
  routerExpired: counter("ndp.router.expired"),
  prefixExpired: counter("ndp.prefix.expired"),
  slaacDeprecated: counter("ndp.slaac.deprecated"),
  slaacExpired: counter("ndp.slaac.expired"),
  igmpRx: counter("igmp.rx"),
  igmpRxBad: counter("igmp.rx.malformed"),
  igmpRxQuery: counter("igmp.rx.query"),
  igmpRxReport: counter("igmp.rx.report"),
  igmpRxOther: counter("igmp.rx.other"),
  igmpTx: counter("igmp.tx"),
  mldRx: counter("mld.rx"),
  mldRxBad: counter("mld.rx.malformed"),
  mldRxQuery: counter("mld.rx.query"),
  mldRxQueryIgnored: counter("mld.rx.query-ignored"),
  mldRxReport: counter("mld.rx.report"),
  mldTx: counter("mld.tx"),
} as const;

/** RFC 2711 / RFC 3810 5: a Hop-by-Hop header holding Router Alert (value 0, MLD) and a PadN. */
const HBH_ROUTER_ALERT = [{ type: IpProto.HopByHop as number, data: new Uint8Array([5, 2, 0, 0, 1, 0]) }];

/** ::/0, the IPv6 default route's prefix. */
const DEFAULT_ROUTE6 = Subnet.of(Ipv6, Ipv6.unspecified, 0);

/** Link header room left before every IP packet we build (Ethernet II, untagged). */
const LINK_PREFIX = ETHERNET_HEADER_LEN;
/** Smallest IP packet that needs no Ethernet padding. */
const MIN_IP_IN_FRAME = ETHERNET_MIN_FRAME_LEN - ETHERNET_HEADER_LEN;

type AnyVersion = IpVersion<Ipv4Addr> | IpVersion<Ipv6Addr>;

/** The mutable `IpRxInfo` the receive path fills and reuses (one per version). */
class RxInfo<A> implements IpRxInfo<A> {
  src!: A;
  dst!: A;
  device: DeviceId = 0;
  ttl = 0;
  multicast = false;
  ipOff = 0;
  constructor(readonly I: IpVersion<A>) {}
}

/** Smallest upper-layer header of a protocol (RFC 7112 5: a first fragment must hold it), 0 if unknown. */
function upperHeaderLen(proto: number): number {
  if (proto === IpProto.Tcp) return 20;
  if (proto === IpProto.Udp) return 8;
  if (proto === IpProto.Icmpv6) return 4;
  return 0;
}

function reasonCounter(prefix: string, reason: string): CounterId {
  return counter(`${prefix}.${reason}`);
}

function v6Eq(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  for (let i = 0; i < 16; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

function isZero6(a: Uint8Array, off: number): boolean {
  for (let i = 0; i < 16; i++) if (a[off + i] !== 0) return false;
  return true;
}

export class Stack implements SimHost {
  readonly bindings: Bindings;
  readonly counters = new Counters();
  readonly timers: CoreTimers<TimerId>;
  readonly limits: Readonly<StackLimits>;
  /** The IP layer as transports see it. */
  readonly ip: IpSender;
  /** UDP sockets (RFC 768), both versions. */
  readonly udp: UdpLayer;
  /** TCP (RFC 9293), both versions. */
  readonly tcp: TcpLayer;
  /** ICMP echo (ping) sockets, both versions. */
  readonly pingSockets: IcmpEchoSockets;
  /** The loopback device id, or -1 when created without one. */
  readonly loopback: DeviceId = -1;
  /** The last exception caught at an entry point (a bug if set). */
  lastInternalError: unknown = null;
  /** MLDv2 (RFC 3810, MLDv1 compatibility) for the IPv6 groups sockets join (hostconf's `Mld`). */
  readonly mld: Mld;
  /** IGMPv2 (RFC 2236) for the IPv4 groups sockets join (hostconf's `Igmp`). */
  readonly igmp: Igmp;
  /** Owners of `mld`, `igmp` and `lifetime` timers (by their numeric key). */
  private readonly keyedTimers = new TimerRegistry();

  private readonly devices: Device[] = [];
  private readonly routes4 = new RoutingTable<Ipv4Addr, DeviceId>(Ipv4);
  private readonly routes6 = new RoutingTable<Ipv6Addr, DeviceId>(Ipv6);
  /** Host routes learned from redirects by destination, oldest first (bounded by `limits.redirectRoutes`). */
  private readonly redirects4 = new Map<number | string, Route<Ipv4Addr, DeviceId>>();
  private readonly redirects6 = new Map<number | string, Route<Ipv6Addr, DeviceId>>();
  /** Assigned IPv4 addresses -> device. */
  private readonly local4 = new Map<number, DeviceId>();
  private readonly forwarding = { v4: false, v6: false };
  private readonly reasm4: Reassembler<Ipv4Addr>;
  private readonly reasm6: Reassembler<Ipv6Addr>;
  private readonly reasmTimer4 = new Timer<TimerId>({ kind: "reassembly", key: 4 });
  private readonly reasmTimer6 = new Timer<TimerId>({ kind: "reassembly", key: 6 });
  readonly pmtu4: PathMtuCache<Ipv4Addr>;
  readonly pmtu6: PathMtuCache<Ipv6Addr>;
  private readonly icmpBucket4: TokenBucket;
  private readonly icmpBucket6: TokenBucket;
  private readonly transports: (TransportProtocol | undefined)[] = new Array(256).fill(undefined);
  private echo: IcmpEchoHandler | null = null;
  private readonly timerHandlers = new Map<string, (id: TimerId, now: number) => void>();
  private nextSocketId = 1;
  private ipv4Id: number;
  private ipv6FragId: number;

  // Entry-point bookkeeping: depth of nested entry, and the queued loopback packets.
  private depth = 0;
  private readonly work: { device: DeviceId; buf: Buf }[] = [];
  private readonly drainTimer = new Timer<TimerId>({ kind: "stack-drain", device: -1 });

  // Reused views, builders and scratch (hot paths allocate nothing avoidable).
  private readonly eth = new EthernetView();
  private readonly arpView = new ArpView();
  private readonly v4view = new Ipv4View();
  private readonly v6view = new Ipv6View();
  private readonly icmp4view = new Icmpv4View();
  private readonly icmp6view = new Icmpv6View();
  private readonly nsView = new NeighborSolicitationView();
  private readonly naView = new NeighborAdvertisementView();
  private readonly redirectView = new RedirectView();
  private readonly rsView = new RouterSolicitationView();
  private readonly raView = new RouterAdvertisementView();
  private readonly ndpCursor = new NdpOptionCursor();
  private readonly ip4b = new Ipv4Builder(Ipv4.unspecified, Ipv4.unspecified, 0);
  private readonly ip6src = new Uint8Array(16) as Ipv6Addr;
  private readonly ip6dst = new Uint8Array(16) as Ipv6Addr;
  private readonly ip6b = new Ipv6Builder(this.ip6src, this.ip6dst, 0);
  private readonly rx4 = new RxInfo<Ipv4Addr>(Ipv4);
  private readonly rx6 = new RxInfo<Ipv6Addr>(Ipv6);
  private readonly err4 = new MutableIcmpErrorInfo<Ipv4Addr>();
  private readonly err6 = new MutableIcmpErrorInfo<Ipv6Addr>();
  private readonly frag4: Fragment<Ipv4Addr> = {
    src: Ipv4.unspecified,
    dst: Ipv4.unspecified,
    id: 0,
    proto: 0,
    offset: 0,
    more: false,
    bytes: new Uint8Array(0),
    off: 0,
    len: 0,
    headerLen: 0,
    header: null,
  };
  private readonly frag6: Fragment<Ipv6Addr> = {
    src: Ipv6.unspecified,
    dst: Ipv6.unspecified,
    id: 0,
    proto: 0,
    offset: 0,
    more: false,
    bytes: new Uint8Array(0),
    off: 0,
    len: 0,
    headerLen: 0,
    header: null,
  };
  /** Route lookup results (scratch, see `resolveRoute`). */
  private rDev: Device | null = null;
  private rHop: unknown = null;
  private readonly usableRoute = (r: Route<unknown, DeviceId>): boolean => this.devices[r.device]?.up === true;
  /**
   * Send path scratch (performance): the buffer locally generated packets are serialized into, reused
   * from one packet to the next once `sendFrame` has returned (the bindings copy before returning);
   * a queue that keeps the packet (loopback, neighbour resolution) takes it over (`keepTx`).
   */
  private txBuf = new Buf(new Uint8Array(2048), 0, 0);
  private readonly txOpts: SerializeOptions = { target: undefined, prefix: LINK_PREFIX, suffix: 0 };
  /** The last few `body.wrapIn(ip builder)` chains, by body (transports reuse their bodies). */
  private readonly wrapBody: (Serializer | null)[] = [null, null, null, null];
  private readonly wrapChain: (Nested | null)[] = [null, null, null, null];
  private wrapNext = 0;
  /**
   * IPv4 transmit fast path (performance): the route, source and neighbour entry of the last
   * destination sent to through an Ethernet device. Valid while `txGen` equals `fpGen`; `txGen` is
   * bumped by every change the lookup depends on (addresses, routes, devices up or down, neighbour
   * entries removed). A neighbour entry's state is read at each use (REACHABLE goes STALE in place).
   */
  private txGen = 0;
  private fpGen = -1;
  private fpDst = 0;
  private fpDevice: DeviceId | undefined = undefined;
  private fpDev: Device | null = null;
  private fpHop = 0;
  private fpSrc: Ipv4Addr | null = null;
  private fpEntry: NeighborEntry<Ipv4Addr> | null = null;
  /** IPv4 receive fast path: the last source and local destination that passed `rxIpv4`'s checks. */
  private rxGen = -1;
  private rxSrc = 0;
  private rxDst = 0;
  private rxDev: Device | null = null;

  constructor(bindings: Bindings, options: StackOptions = {}) {
    this.bindings = bindings;
    this.timers = new CoreTimers<TimerId>(bindings);
    const L = { ...DEFAULT_STACK_LIMITS, ...options.limits };
    this.limits = L;
    this.forwarding.v4 = options.forwarding?.v4 ?? false;
    this.forwarding.v6 = options.forwarding?.v6 ?? false;
    const ro = {
      timeout: L.reassemblyTimeoutMs,
      maxBytes: L.reassemblyBytes,
      maxDatagrams: L.reassemblyDatagrams,
      maxFragments: L.reassemblyFragments,
    };
    this.reasm4 = new Reassembler(Ipv4, { ...ro, headroom: LINK_PREFIX + 60 });
    this.reasm6 = new Reassembler(Ipv6, { ...ro, headroom: LINK_PREFIX + 40 });
    this.pmtu4 = new PathMtuCache(Ipv4, { maxEntries: L.pmtuEntries, timeout: L.pmtuTimeoutMs });
    this.pmtu6 = new PathMtuCache(Ipv6, { maxEntries: L.pmtuEntries, timeout: L.pmtuTimeoutMs });
    const now = bindings.now();
    this.icmpBucket4 = new TokenBucket(L.icmpErrorRate, L.icmpErrorBurst, now);
    this.icmpBucket6 = new TokenBucket(L.icmpErrorRate, L.icmpErrorBurst, now);
    this.ipv4Id = bindings.random() & 0xffff;
    this.ipv6FragId = bindings.random() >>> 0;
    const hc = this.hostconfContext();
    this.mld = new Mld(hc, this.keyedTimers);
    this.igmp = new Igmp(hc, this.keyedTimers);
    const fireKeyed = (id: TimerId) => {
      if (id.kind === "mld" || id.kind === "igmp" || id.kind === "lifetime") this.keyedTimers.fire(id.key);
    };
    this.setTimerHandler("mld", fireKeyed);
    this.setTimerHandler("igmp", fireKeyed);
    this.setTimerHandler("lifetime", fireKeyed);
    this.ip = {
      send: <A>(I: IpVersion<A>, opts: IpSendOptions<A>, body: Serializer) => this.sendIp(I, opts, body),
      maxPayload: <A>(I: IpVersion<A>, dst: A) => this.maxPayload(I, dst),
      selectSource: <A>(I: IpVersion<A>, dst: A) => this.selectSource(I, dst),
      isLocal: <A>(I: IpVersion<A>, a: A) => this.isLocal(I, a),
      sendIcmpError: <A>(info: IpRxInfo<A>, buf: Buf, type: number, code: number, param?: number) =>
        this.sendIcmpErrorFor(info, buf, type, code, param ?? 0),
    };
    if (options.loopback !== false) {
      const lo = this.newDevice("loopback", MAC_ZERO, 65536, "lo", true);
      this.loopback = lo.id;
      this.addAddress(lo.id, "127.0.0.1/8");
      this.addAddress(lo.id, "::1/128");
    }
    this.udp = new UdpLayer({
      ip: this.ip,
      emit: (ev) => this.emit(ev),
      random: () => this.bindings.random(),
      counters: this.counters,
      limits: options.udp,
      allocSocketId: () => this.allocSocketId(),
      onMembershipChange: (I, group, device, joined) => this.membershipChanged(I, group, device, joined),
    });
    this.registerTransport(IpProto.Udp, this.udp);
    this.tcp = new TcpLayer({
      ip: this.ip,
      timers: this.timers,
      now: () => this.bindings.now(),
      random: () => this.bindings.random(),
      emit: (ev) => this.emit(ev),
      counters: this.counters,
      options: options.tcp,
      allocSocketId: () => this.allocSocketId(),
    });
    this.registerTransport(IpProto.Tcp, this.tcp);
    this.setTimerHandler("tcp", (id) => {
      if (id.kind === "tcp") this.tcp.handleTimer(id.socket);
    });
    this.pingSockets = new IcmpEchoSockets({
      ip: this.ip,
      emit: (ev) => this.emit(ev),
      random: () => this.bindings.random(),
      now: () => this.bindings.now(),
      counters: this.counters,
      limits: options.icmpEcho,
      allocSocketId: () => this.allocSocketId(),
    });
    this.registerEcho(this.pingSockets);
  }

  // ---- plumbing for transports ----

  /** Deliver packets of IP protocol `proto` (both versions) to `t`. */
  registerTransport(proto: number, t: TransportProtocol): void {
    this.transports[proto & 0xff] = t;
  }

  /** Deliver ICMP echo replies (and errors quoting our echo requests) to `h`. */
  registerEcho(h: IcmpEchoHandler | null): void {
    this.echo = h;
  }

  /** Handle timers of `kind` (e.g. "tcp") scheduled on `stack.timers` by another module. */
  setTimerHandler(kind: TimerId["kind"], fn: (id: TimerId, now: number) => void): void {
    this.timerHandlers.set(kind, fn);
  }

  /** A socket id unique across the stack's transports. */
  allocSocketId(): SocketId {
    return this.nextSocketId++;
  }

  /** Tell the host about an event. */
  emit(ev: StackEvent): void {
    this.bindings.onEvent(ev);
  }

  // ---- hostconf (MLD, IGMP) ----

  /** The Stack as hostconf's state machines see it (src/hostconf/index.ts, the integration guide). */
  private hostconfContext(): HostconfContext {
    return {
      now: () => this.bindings.now(),
      random: () => this.bindings.random(),
      schedule: (t, at) => this.timers.schedule(t, at),
      cancel: (t) => {
        this.timers.cancel(t);
      },
      sendIcmpv6: (device, src, dst, hopLimit, msg, routerAlert) =>
        this.sendHostconf6(device, src, dst, hopLimit, msg, routerAlert),
      sendIgmp: (device, dst, msg) => this.sendIgmp(device, dst, msg),
      linkLocalAddress: (device) => {
        const d = this.devices[device];
        if (d === undefined) return null;
        for (const a of d.v6) if (a.state !== "tentative" && Ipv6.isLinkLocal(a.addr)) return a.addr;
        return null;
      },
      addAddress: (device, addr, prefixLen, state, origin) => this.installAddr6(device, addr, prefixLen, state, origin),
      setAddressState: (device, addr, state) => {
        const da = this.devices[device]?.find6(addr);
        if (da !== undefined) da.state = state;
      },
      removeAddress: (device, addr) => {
        const dev = this.devices[device];
        const da = dev?.find6(addr);
        if (dev !== undefined && da !== undefined) this.removeAddr6(dev, da, false);
      },
      addRoute: (device, prefix, prefixLen, gateway) => {
        this.routes6.add({ subnet: Subnet.of(Ipv6, prefix, prefixLen), device, gateway });
      },
      removeRoute: (device, prefix, prefixLen, gateway) => {
        this.routes6.remove(Subnet.of(Ipv6, prefix, prefixLen), device, gateway);
      },
      setLinkMtu: (device, mtu) => {
        const d = this.devices[device];
        if (d !== undefined && mtu >= Ipv6.minMtu && mtu <= d.maxMtu) d.mtu = mtu;
      },
      setCurHopLimit: (device, hopLimit) => {
        const d = this.devices[device];
        if (d !== undefined) d.curHopLimit = hopLimit;
      },
      // The Stack's neighbour times are stack-wide (`StackLimits`); per-device times are not kept.
      setNeighborTimes: () => {},
      emit: (ev) => this.emit(ev),
    };
  }

  /** `HostconfContext.addAddress`: install an IPv6 address as given (no DAD, no event). */
  private installAddr6(device: DeviceId, addr: Ipv6Addr, prefixLen: number, state: AddrState, origin: AddrOrigin) {
    const dev = this.devices[device];
    if (dev === undefined || dev.find6(addr) !== undefined) return;
    const da = deviceAddr6(addr, prefixLen);
    da.state = state;
    da.origin = origin;
    dev.v6.push(da);
    this.joinSolicitedNode(dev, da.addr);
    if (prefixLen < 128) this.routes6.add({ subnet: da.subnet, device });
  }

  /**
   * Send an MLD message built by hostconf: IPv6 with hop limit `hopLimit` and, when asked, a
   * Hop-by-Hop Router Alert (RFC 2711 value 0; RFC 3810 5), to the group's MAC (RFC 2464 7).
   */
  private sendHostconf6(
    device: DeviceId,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hopLimit: number,
    msg: PacketBuilder,
    routerAlert: boolean,
  ): void {
    const dev = this.devices[device];
    if (dev === undefined || dev.isLoopback || !dev.up) return;
    const ip = new Ipv6Builder(src, dst, IpProto.Icmpv6, { hopLimit, exts: routerAlert ? HBH_ROUTER_ALERT : [] });
    const pkt = EMPTY_BODY.wrapIn(msg).wrapIn(ip).serialize({ prefix: LINK_PREFIX });
    if (pkt instanceof TooBig) return;
    this.counters.inc(C.mldTx);
    if (dst[0] === 0xff) {
      const mac = new Uint8Array(6);
      mac6Multicast(dst, 0, mac, 0);
      this.ethernetSend(dev, mac, EtherType.Ipv6, pkt);
      return;
    }
    this.keepTx(pkt);
    this.resolveAndSend(Ipv6, dev, dev.ndp!, Ipv6.copy(dst), pkt);
  }

  /** Send an IGMP message built by hostconf (RFC 2236 2: TTL 1, the Router Alert option of RFC 2113). */
  private sendIgmp(device: DeviceId, dst: Ipv4Addr, msg: PacketBuilder): void {
    const dev = this.devices[device];
    if (dev === undefined || dev.isLoopback || !dev.up) return;
    // RFC 2236 / RFC 1112 7.2: the source is an address of the interface (0.0.0.0 without one).
    const src = dev.v4.length > 0 ? dev.v4[0].addr : Ipv4.unspecified;
    const ip = new Ipv4Builder(src, dst, IpProto.Igmp, 1);
    ip.options = ROUTER_ALERT_V4;
    ip.id = this.ipv4Id;
    this.ipv4Id = (this.ipv4Id + 1) & 0xffff;
    const pkt = EMPTY_BODY.wrapIn(msg).wrapIn(ip).serialize({ prefix: LINK_PREFIX });
    if (pkt instanceof TooBig) return;
    const mac = new Uint8Array(6);
    mac4Multicast(dst, mac, 0);
    this.counters.inc(C.igmpTx);
    this.ethernetSend(dev, mac, EtherType.Ipv4, pkt);
  }

  private readonly igmpView = new IgmpView();

  /** IGMP (IPv4 protocol 2) delivered to us: queries and other members' reports go to `Igmp`. */
  private rxIgmp(dev: Device, buf: Buf): void {
    this.counters.inc(C.igmpRx);
    const m = this.igmpView;
    if (m.parseFrom(buf.bytes, buf.start, buf.length) !== null) {
      this.counters.inc(C.igmpRxBad);
      return;
    }
    const t = m.type;
    if (t === IgmpType.MembershipQuery) {
      this.counters.inc(C.igmpRxQuery);
      this.igmp.onQuery(dev.id, m);
    } else if (t === IgmpType.V1MembershipReport || t === IgmpType.V2MembershipReport) {
      // RFC 2236 3: another member's report suppresses ours.
      this.counters.inc(C.igmpRxReport);
      this.igmp.onReport(dev.id, m.group);
    } else this.counters.inc(C.igmpRxOther);
  }

  /** MLD (ICMPv6 130, 131, 132, 143; checksum already checked): queries and MLDv1 reports go to `Mld`. */
  private rxMld(dev: Device, buf: Buf, info: RxInfo<Ipv6Addr>): void {
    this.counters.inc(C.mldRx);
    const m = parseMld(buf.bytes, buf.start, buf.length);
    if (m instanceof ParseError) {
      this.counters.inc(C.mldRxBad);
      return;
    }
    if (m instanceof MldView && m.type === Icmpv6Type.MldQuery) {
      this.counters.inc(C.mldRxQuery);
      // RFC 3810 5.1.14 / 6.2: link-local source and hop limit 1 are checked by `Mld`.
      if (this.mld.onQuery(dev.id, info.src, info.ttl, m) !== "ok") this.counters.inc(C.mldRxQueryIgnored);
      return;
    }
    this.counters.inc(C.mldRxReport);
    if (m instanceof MldView && m.type === Icmpv6Type.MldReport) this.mld.onReport(dev.id, m.group);
  }

  // ---- entry points ----

  /**
   * A frame arrived on `device`. The buffer becomes the stack's, unless `buf.borrowed`: then it is
   * only lent until this call returns, and whatever keeps it calls `own` (src/packet/buf.ts) first.
   * Never throws on any input.
   */
  receiveFrame(device: DeviceId, buf: Buf): void {
    this.depth++;
    try {
      this.rxFrame(device, buf);
    } catch (e) {
      this.internalError(e);
    }
    this.leave();
  }

  /**
   * Start a receive batch: the frames given to `receiveFrame` until the matching `endBatch` arrived
   * together (one read of a link's queue, one poll of a TAP device). TCP then answers every second
   * full-sized segment with one cumulative ACK per connection at `endBatch` instead of an ACK each
   * (RFC 9293 3.8.6.3 / RFC 5681 4.2 stretch ACKs, as Linux sends after GRO; at most
   * `TcpConfig.batchAckBytes` unacknowledged); everything else is answered at once as usual.
   * Batches nest. Bindings that never batch lose nothing: `receiveFrame` alone behaves as before.
   */
  beginBatch(): void {
    this.tcp.beginBatch();
  }

  /** End a receive batch (an entry point: the deferred ACKs leave here). */
  endBatch(): void {
    if (this.tcp.deferredAcks === 0) {
      // Nothing waits: no entry point work (the common case for a batch of one frame).
      this.tcp.endBatch();
      return;
    }
    this.depth++;
    try {
      this.tcp.endBatch();
    } catch (e) {
      this.internalError(e);
    }
    this.leave();
  }

  /** `beginBatch()`, `receiveFrame(device, f)` for each frame in order, `endBatch()`. */
  receiveFrames(device: DeviceId, frames: readonly Buf[]): void {
    this.beginBatch();
    for (let i = 0; i < frames.length; i++) this.receiveFrame(device, frames[i]);
    this.endBatch();
  }

  /** The host's wake-up came: fire every timer due at `now`. */
  handleTimers(now: number): void {
    this.depth++;
    try {
      for (let t = this.timers.popExpired(now); t !== null; t = this.timers.popExpired(now)) {
        this.fire(t.data, now);
      }
    } catch (e) {
      this.internalError(e);
    }
    this.leave();
  }

  private leave(): void {
    if (this.depth === 1) {
      // Drain what this event queued (loopback), one packet at a time, never nested.
      const q = this.work;
      while (q.length > 0) {
        const w = q.shift()!;
        try {
          this.rxFrame(w.device, w.buf);
        } catch (e) {
          this.internalError(e);
        }
      }
      if (this.drainTimer.scheduled) this.timers.cancel(this.drainTimer);
    }
    this.depth--;
  }

  private internalError(e: unknown): void {
    this.counters.inc(C.internalError);
    this.lastInternalError = e;
  }

  private fire(id: TimerId, now: number): void {
    switch (id.kind) {
      case "arp": {
        const dev = this.devices[id.device];
        if (dev?.arp) this.neighborTimer(Ipv4, dev, dev.arp, id.addr);
        return;
      }
      case "nud": {
        const dev = this.devices[id.device];
        if (dev?.ndp) this.neighborTimer(Ipv6, dev, dev.ndp, id.addr);
        return;
      }
      case "reassembly":
        if (id.key === 4) this.reassemblyTimeout4(now);
        else this.reassemblyTimeout6(now);
        return;
      case "stack-drain":
        return; // leave() drains the queue.
      case "dad": {
        const dev = this.devices[id.device];
        const da = dev?.find6(id.addr);
        if (dev !== undefined && da !== undefined && da.state === "tentative") this.dadStep(dev, da);
        return;
      }
      case "router-solicit": {
        const dev = this.devices[id.device];
        if (dev !== undefined) this.routerSolicit(dev);
        return;
      }
      default: {
        const h = this.timerHandlers.get(id.kind);
        if (h !== undefined) h(id, now);
      }
    }
  }

  // ---- configuration: devices ----

  private newDevice(kind: "ethernet" | "loopback", mac: MacAddr, mtu: number, name: string, up: boolean): Device {
    const id = this.devices.length;
    const L = this.limits;
    const eth = kind === "ethernet";
    const arp = eth
      ? new NeighborTable<Ipv4Addr>(
          Ipv4,
          (addr) => ({ kind: "arp", device: id, addr }),
          L.neighborEntries,
          L.neighborPending,
        )
      : null;
    const ndp = eth
      ? new NeighborTable<Ipv6Addr>(
          Ipv6,
          (addr) => ({ kind: "nud", device: id, addr }),
          L.neighborEntries,
          L.neighborPending,
        )
      : null;
    const dev = new Device(id, kind, mac, mtu, name, up, arp, ndp);
    this.devices.push(dev);
    this.txGen++;
    // RFC 4861 7.2.1 / RFC 4291 2.8: every interface listens to the all-nodes group.
    dev.join6(ALL_NODES);
    return dev;
  }

  /** Add an Ethernet device. Returns its id. Throws `RangeError` on a malformed MAC (configuration error). */
  addEthernetDevice(opts: EthernetDeviceOptions): DeviceId {
    const mac = typeof opts.mac === "string" ? parseMac(opts.mac) : (Uint8Array.from(opts.mac) as MacAddr);
    if (mac === null || mac.length !== 6) throw new RangeError(`bad MAC ${String(opts.mac)}`);
    const dev = this.newDevice("ethernet", mac, opts.mtu ?? 1500, opts.name ?? `eth${this.devices.length}`, false);
    dev.linkLocalDone = opts.ipv6LinkLocal === false;
    if (this.forwarding.v6) dev.join6(ALL_ROUTERS);
    if (opts.up !== false) this.setDeviceUp(dev.id, true);
    return dev.id;
  }

  /** Bring a device up or down. Down drops its neighbour caches (and their queued packets). */
  setDeviceUp(device: DeviceId, up: boolean): ErrorCode | null {
    const dev = this.devices[device];
    if (dev === undefined) return "ENODEV";
    if (dev.up === up) return null;
    dev.up = up;
    this.txGen++;
    if (!up) {
      for (const t of [dev.arp, dev.ndp]) {
        if (t === null) continue;
        for (const e of t.values()) {
          this.timers.cancel(e.timer);
          this.counters.inc(C.neighPendingDropped, e.pending.length);
        }
        t.clear();
      }
      // RFC 3810 / RFC 2236: pending reports stop; memberships stay and are reported again on up.
      this.mld.stop(dev.id);
      this.igmp.stop(dev.id);
      return null;
    }
    if (!dev.isLoopback) {
      this.mld.start(dev.id);
      this.igmp.start(dev.id);
      // RFC 4862 5.3: a link-local address is formed when the interface is enabled.
      if (!dev.linkLocalDone) {
        dev.linkLocalDone = true;
        this.addAddr6(dev, linkLocalFromMac(dev.mac), 64, "link-local");
      }
      // RFC 5227 3: announce our IPv4 addresses when the link comes up.
      for (const a of dev.v4) this.sendGratuitousArp(dev, a.addr);
    }
    return null;
  }

  /** Set a device's MTU (at least the IPv4 minimum, 68). */
  setMtu(device: DeviceId, mtu: number): ErrorCode | null {
    const dev = this.devices[device];
    if (dev === undefined) return "ENODEV";
    if (!Number.isInteger(mtu) || mtu < Ipv4.minMtu) return "EINVAL";
    dev.mtu = mtu;
    return null;
  }

  /** Turn forwarding on or off for one IP version. */
  setForwarding(version: 4 | 6, on: boolean): void {
    if (version === 4) this.forwarding.v4 = on;
    else {
      if (on !== this.forwarding.v6) {
        for (const d of this.devices) {
          if (d.isLoopback) continue;
          // RFC 4291 2.8: routers also listen to all-routers.
          if (on) d.join6(ALL_ROUTERS);
          else d.leave6(ALL_ROUTERS);
        }
      }
      this.forwarding.v6 = on;
    }
  }

  /** Device ids. */
  deviceIds(): DeviceId[] {
    return this.devices.map((d) => d.id);
  }

  /** A device's description. */
  deviceInfo(device: DeviceId): { name: string; kind: string; mac: string; mtu: number; up: boolean } | null {
    const d = this.devices[device];
    if (d === undefined) return null;
    return { name: d.name, kind: d.kind, mac: formatMac(d.mac), mtu: d.mtu, up: d.up };
  }

  /** The MAC of a device (a copy). */
  macOf(device: DeviceId): MacAddr | null {
    const d = this.devices[device];
    return d === undefined ? null : (d.mac.slice() as MacAddr);
  }

  // ---- configuration: addresses ----

  /**
   * Assign `cidr` ("10.0.0.2/24", "2001:db8::2/64") to `device` and add the on-link route for its
   * subnet. IPv4: a gratuitous ARP announces it (RFC 5227 3). IPv6: the solicited-node group is
   * joined (RFC 4861 7.2.1). Errors: ENODEV, EINVAL (bad text), EEXIST.
   */
  addAddress(device: DeviceId, cidr: string): ErrorCode | null {
    const dev = this.devices[device];
    if (dev === undefined) return "ENODEV";
    const p = parseCidr(cidr);
    if (p instanceof ParseError) return "EINVAL";
    if (p.ip.version === 4) {
      const a = p.addr as Ipv4Addr;
      if (dev.find4(a) !== undefined) return "EEXIST";
      if (Ipv4.isMulticast(a) || a === V4_BROADCAST || a === 0) return "EINVAL";
      const da = deviceAddr4(a, p.prefixLen);
      dev.v4.push(da);
      this.local4.set(a, dev.id);
      this.txGen++;
      this.routes4.add({ subnet: da.subnet, device: dev.id, metric: dev.isLoopback ? 0 : undefined });
      this.emit({ type: "address-changed", device: dev.id, addr: a, prefixLen: p.prefixLen, state: "assigned" });
      if (dev.up && !dev.isLoopback) this.sendGratuitousArp(dev, a);
      return null;
    }
    const a = p.addr as Ipv6Addr;
    if (dev.find6(a) !== undefined) return "EEXIST";
    if (Ipv6.isMulticast(a) || Ipv6.isUnspecified(a)) return "EINVAL";
    this.addAddr6(dev, a, p.prefixLen, "manual");
    return null;
  }

  private addAddr6(
    dev: Device,
    a: Ipv6Addr,
    prefixLen: number,
    origin: DeviceAddr<Ipv6Addr>["origin"],
  ): DeviceAddr<Ipv6Addr> {
    const da = deviceAddr6(a, prefixLen);
    da.origin = origin;
    // RFC 4862 5.4: a new address is tentative until duplicate address detection passes.
    const dad = !dev.isLoopback && this.limits.dadTransmits > 0;
    da.state = dad ? "tentative" : "assigned";
    dev.v6.push(da);
    // RFC 4861 7.2.1 / RFC 4862 5.4.2: join the solicited-node group (before DAD starts).
    this.joinSolicitedNode(dev, da.addr);
    if (prefixLen < 128 || dev.isLoopback) {
      this.routes6.add({ subnet: da.subnet, device: dev.id, metric: dev.isLoopback ? 0 : undefined });
    }
    this.emit({ type: "address-changed", device: dev.id, addr: da.addr, prefixLen, state: da.state });
    if (dad) {
      da.timer = new Timer<TimerId>({ kind: "dad", device: dev.id, addr: da.addr });
      // RFC 4862 5.4.2: the first solicitation waits a random delay up to MAX_RTR_SOLICITATION_DELAY.
      const max = this.limits.dadMaxDelayMs;
      if (max > 0) {
        this.timers.schedule(da.timer, this.bindings.now() + randomBelow(() => this.bindings.random(), max));
      } else this.dadStep(dev, da);
    } else this.addressReady(dev, da);
    return da;
  }

  /** RFC 4862 5.4.2: send the next DAD solicitation, or, after the last one timed out, assign. */
  private dadStep(dev: Device, da: DeviceAddr<Ipv6Addr>): void {
    if (da.dadSent >= this.limits.dadTransmits) {
      da.state = "assigned";
      this.emit({ type: "address-changed", device: dev.id, addr: da.addr, prefixLen: da.prefixLen, state: "assigned" });
      // RFC 4862 5.5.4: a preferred lifetime that ended during DAD deprecates the address now.
      if (da.preferredUntil <= this.bindings.now()) this.deprecate(dev, da);
      this.addressReady(dev, da);
      return;
    }
    da.dadSent++;
    this.timers.schedule(da.timer!, this.bindings.now() + this.limits.neighborRetransMs);
    // From the unspecified address, to the solicited-node group, without a link-layer option.
    const dst = solicitedNode(da.addr);
    const ns = new NeighborSolicitationBuilder(Ipv6.unspecified, dst, da.addr);
    const ip = new Ipv6Builder(Ipv6.unspecified, dst, IpProto.Icmpv6, { hopLimit: 255 });
    const pkt = EMPTY_BODY.wrapIn(ns).wrapIn(ip).serialize({ prefix: LINK_PREFIX });
    if (pkt instanceof TooBig) return;
    const mac = new Uint8Array(6);
    mac6Multicast(dst, 0, mac, 0);
    this.counters.inc(C.ndpTxDad);
    this.ethernetSend(dev, mac, EtherType.Ipv6, pkt);
  }

  /** RFC 4862 5.4.5: the address is in use elsewhere: give it up. */
  private dadFailed(dev: Device, da: DeviceAddr<Ipv6Addr>): void {
    this.counters.inc(C.dadFailed);
    if (da.timer !== null) this.timers.cancel(da.timer);
    this.removeAddress(dev.id, Ipv6.format(da.addr));
    this.emit({ type: "dad-failed", device: dev.id, addr: da.addr });
  }

  /** An address became usable: a host starts soliciting routers once it has a link-local address. */
  private addressReady(dev: Device, da: DeviceAddr<Ipv6Addr>): void {
    if (da.origin !== "link-local" || this.forwarding.v6 || dev.isLoopback) return;
    if (this.limits.routerSolicitations <= 0) return;
    dev.rsSent = 0;
    dev.rsTimer ??= new Timer<TimerId>({ kind: "router-solicit", device: dev.id });
    this.routerSolicit(dev);
  }

  /** RFC 4861 6.3.7: send a router solicitation and schedule the next, until an advertisement comes. */
  private routerSolicit(dev: Device): void {
    if (dev.raSeen || dev.rsSent >= this.limits.routerSolicitations || !dev.up) return;
    dev.rsSent++;
    if (dev.rsSent < this.limits.routerSolicitations) {
      this.timers.schedule(dev.rsTimer!, this.bindings.now() + this.limits.routerSolicitIntervalMs);
    }
    const src = this.sourceOn(Ipv6, dev, ALL_ROUTERS) ?? Ipv6.unspecified;
    const opts = Ipv6.isUnspecified(src) ? [] : [new LinkAddrOption(NdpOptionType.SourceLinkAddr, dev.mac)];
    const rs = new RouterSolicitationBuilder(src, ALL_ROUTERS, opts);
    const ip = new Ipv6Builder(src, ALL_ROUTERS, IpProto.Icmpv6, { hopLimit: 255 });
    const pkt = EMPTY_BODY.wrapIn(rs).wrapIn(ip).serialize({ prefix: LINK_PREFIX });
    if (pkt instanceof TooBig) return;
    const mac = new Uint8Array(6);
    mac6Multicast(ALL_ROUTERS, 0, mac, 0);
    this.counters.inc(C.ndpTxRs);
    this.ethernetSend(dev, mac, EtherType.Ipv6, pkt);
  }

  /**
   * Advertise this stack as an IPv6 router on `device` (forwarding must be on): answer router
   * solicitations with an advertisement of `prefixes` (on-link, autonomous; RFC 4861 6.2), and send
   * one advertisement now. Errors: ENODEV, EINVAL (bad prefix text or forwarding off).
   */
  advertiseRouter(
    device: DeviceId,
    cfg: {
      prefixes: string[];
      mtu?: number;
      routerLifetime?: number;
      curHopLimit?: number;
      /** Prefix valid and preferred lifetimes, seconds (RFC 4861 6.2.1 defaults: 30 days, 7 days). */
      validLifetime?: number;
      preferredLifetime?: number;
    },
  ): ErrorCode | null {
    const dev = this.devices[device];
    if (dev === undefined || dev.isLoopback) return "ENODEV";
    if (!this.forwarding.v6) return "EINVAL";
    const prefixes: { addr: Uint8Array; len: number }[] = [];
    for (const t of cfg.prefixes) {
      const p = parseSubnet(t);
      if (p instanceof ParseError || p.ip.version !== 6) return "EINVAL";
      prefixes.push({ addr: p.addr as Uint8Array, len: p.prefixLen });
    }
    dev.advert = {
      prefixes,
      mtu: cfg.mtu ?? 0,
      routerLifetime: cfg.routerLifetime ?? 1800,
      curHopLimit: cfg.curHopLimit ?? 64,
      validLifetime: cfg.validLifetime ?? 2592000,
      preferredLifetime: cfg.preferredLifetime ?? 604800,
    };
    this.sendRouterAdvert(dev);
    return null;
  }

  private sendRouterAdvert(dev: Device): void {
    const cfg = dev.advert;
    if (cfg === null || !dev.up) return;
    const src = dev.v6.find((a) => a.state === "assigned" && Ipv6.isLinkLocal(a.addr))?.addr;
    // RFC 4861 6.2.6: advertisements come from the link-local address.
    if (src === undefined) return;
    const opts: NdpOptionWriter[] = [new LinkAddrOption(NdpOptionType.SourceLinkAddr, dev.mac)];
    if (cfg.mtu > 0) opts.push(new MtuOption(cfg.mtu));
    for (const p of cfg.prefixes) {
      opts.push(new PrefixInfoOption(p.len, true, true, cfg.validLifetime, cfg.preferredLifetime, p.addr));
    }
    const ra = new RouterAdvertisementBuilder(
      src,
      ALL_NODES,
      { curHopLimit: cfg.curHopLimit, routerLifetime: cfg.routerLifetime },
      opts,
    );
    const ip = new Ipv6Builder(src, ALL_NODES, IpProto.Icmpv6, { hopLimit: 255 });
    const pkt = EMPTY_BODY.wrapIn(ra).wrapIn(ip).serialize({ prefix: LINK_PREFIX });
    if (pkt instanceof TooBig) return;
    const mac = new Uint8Array(6);
    mac6Multicast(ALL_NODES, 0, mac, 0);
    this.counters.inc(C.ndpTxRa);
    this.ethernetSend(dev, mac, EtherType.Ipv6, pkt);
  }

  /** Remove an address (text, without prefix) from a device, with its on-link route. */
  removeAddress(device: DeviceId, addr: string): ErrorCode | null {
    const dev = this.devices[device];
    if (dev === undefined) return "ENODEV";
    const a = parseIp(addr);
    if (a === null) return "EINVAL";
    if (typeof a === "number") {
      const i = dev.v4.findIndex((x) => x.addr === a);
      if (i < 0) return "EADDRNOTAVAIL";
      const [da] = dev.v4.splice(i, 1);
      this.txGen++;
      if (this.local4.get(a) === dev.id) this.local4.delete(a);
      if (!dev.v4.some((x) => x.subnet.equals(da.subnet))) this.routes4.remove(da.subnet, dev.id, null);
      this.emit({ type: "address-changed", device, addr: a, prefixLen: da.prefixLen, state: "removed" });
      return null;
    }
    const da = dev.find6(a);
    if (da === undefined) return "EADDRNOTAVAIL";
    this.removeAddr6(dev, da, true);
    return null;
  }

  /**
   * Listen to an address's solicited-node group and report it with MLD (RFC 4861 7.2.1: the group is
   * joined "using a Multicast Listener Discovery protocol", so MLD-snooping switches forward
   * neighbour solicitations to us; RFC 4862 5.4.2: before DAD; RFC 3810 5.2.13: from :: until a
   * link-local address is usable). Both the receive filter and `Mld` count references: a link-local
   * and a global address with the same interface identifier share the group.
   */
  private joinSolicitedNode(dev: Device, addr: Ipv6Addr): void {
    const group = solicitedNode(addr);
    dev.join6(group);
    if (!dev.isLoopback) this.mld.join(dev.id, group);
  }

  /** Remove an IPv6 address: its timers, its solicited-node group, its on-link route if unused. */
  private removeAddr6(dev: Device, da: DeviceAddr<Ipv6Addr>, emit: boolean): void {
    const i = dev.v6.indexOf(da);
    if (i < 0) return;
    dev.v6.splice(i, 1);
    for (const t of [da.timer, da.validTimer, da.preferredTimer]) {
      if (t === null) continue;
      this.timers.cancel(t);
      this.keyedTimers.release(t);
    }
    dev.leave6(solicitedNode(da.addr));
    if (!dev.isLoopback) this.mld.leave(dev.id, solicitedNode(da.addr));
    // The route stays while another address or the Prefix List (RFC 4861 6.3.4) still needs it.
    if (!dev.v6.some((x) => x.subnet.equals(da.subnet)) && !dev.prefixes6.has(da.subnet.toString())) {
      this.routes6.remove(da.subnet, dev.id, null);
    }
    if (emit) {
      this.emit({ type: "address-changed", device: dev.id, addr: da.addr, prefixLen: da.prefixLen, state: "removed" });
    }
  }

  /** The addresses of a device as "addr/len" text, IPv4 first. */
  addresses(device: DeviceId): string[] {
    const d = this.devices[device];
    if (d === undefined) return [];
    return [...d.v4.map((a) => a.toString()), ...d.v6.map((a) => a.toString())];
  }

  // ---- configuration: routes ----

  /**
   * Add a route: `addRoute("0.0.0.0/0", { gateway: "10.0.0.1" })`. Without `device`, the device
   * with an on-link route to the gateway is used. Errors: EINVAL (bad text), ENETUNREACH (no device
   * for the gateway), ENODEV, or the routing table's `RouteError`.
   */
  addRoute(prefix: string, opts: RouteOptions = {}): RouteError | ErrorCode | null {
    const s = parseSubnet(prefix);
    if (s instanceof ParseError) return "EINVAL";
    let gw: IpAddr | null = null;
    if (opts.gateway !== undefined) {
      gw = typeof opts.gateway === "string" ? parseIp(opts.gateway) : opts.gateway;
      if (gw === null || (typeof gw === "number") !== (s.ip.version === 4)) return "EINVAL";
    }
    let device = opts.device;
    if (device === undefined) {
      if (gw === null) return "EINVAL";
      const r = s.ip.version === 4 ? this.routes4.lookup(gw as Ipv4Addr) : this.routes6.lookup(gw as Ipv6Addr);
      if (r === null || r.gateway !== null) return "ENETUNREACH";
      device = r.device;
    }
    if (this.devices[device] === undefined) return "ENODEV";
    this.txGen++;
    const r =
      s.ip.version === 4
        ? this.routes4.add({ subnet: s as never, device, gateway: gw as Ipv4Addr | null, metric: opts.metric })
        : this.routes6.add({ subnet: s as never, device, gateway: gw as Ipv6Addr | null, metric: opts.metric });
    return typeof r === "string" ? r : null;
  }

  /** Remove routes for exactly `prefix` (optionally only through `device`). Returns how many. */
  removeRoute(prefix: string, device?: DeviceId): number {
    const s = parseSubnet(prefix);
    if (s instanceof ParseError) return 0;
    this.txGen++;
    return s.ip.version === 4 ? this.routes4.remove(s as never, device) : this.routes6.remove(s as never, device);
  }

  /** The routing table of a version as text rows. */
  routes(version: 4 | 6): { subnet: string; gateway: string | null; device: DeviceId; metric: number }[] {
    const list = version === 4 ? this.routes4.list() : this.routes6.list();
    return list.map((r) => ({
      subnet: r.subnet.toString(),
      gateway: r.gateway === null ? null : (r.subnet.ip as AnyVersion).format(r.gateway as never),
      device: r.device,
      metric: r.metric,
    }));
  }

  /**
   * How full every bounded structure is, next to its bound (tests, monitoring, `netstack` tools):
   * neighbour entries and queued packets (the largest per device and version), reassembly datagrams
   * and bytes, path MTU entries, the loopback queue and the TCP connection table.
   */
  usage(): StackUsage {
    let neighborEntries = 0;
    let neighborPending = 0;
    for (const d of this.devices) {
      for (const t of [d.arp, d.ndp]) {
        if (t === null) continue;
        neighborEntries = Math.max(neighborEntries, t.size);
        for (const e of t.values()) neighborPending = Math.max(neighborPending, e.pending.length);
      }
    }
    return {
      neighborEntries,
      neighborPending,
      reassemblyDatagrams: Math.max(this.reasm4.size, this.reasm6.size),
      reassemblyBytes: Math.max(this.reasm4.bytesBuffered, this.reasm6.bytesBuffered),
      pmtuEntries: Math.max(this.pmtu4.size, this.pmtu6.size),
      loopbackQueue: this.work.length,
      tcpConnections: this.tcp.connectionCount,
    };
  }

  /** The neighbour cache of a device for one version. */
  neighbors(device: DeviceId, version: 4 | 6): NeighborInfo[] {
    const d = this.devices[device];
    const t = d === undefined ? null : version === 4 ? d.arp : d.ndp;
    if (t === null) return [];
    const out: NeighborInfo[] = [];
    for (const e of t.values()) {
      out.push({
        addr: version === 4 ? formatV4(e.addr as number) : formatV6(e.addr as Uint8Array),
        mac: e.resolved ? formatMac(e.mac) : null,
        state: NEIGHBOR_STATE_NAMES[e.state],
        pending: e.pending.length,
      });
    }
    return out;
  }

  // ---- the IP sender ----

  /** True when `a` is one of our assigned addresses. */
  isLocal<A>(I: IpVersion<A>, a: A): boolean {
    if (I.version === 4) return this.local4.has(a as unknown as number);
    return this.findLocal6(a as unknown as Uint8Array, 0) !== null;
  }

  private findLocal6(a: Uint8Array, off: number): Device | null {
    const devs = this.devices;
    for (let d = 0; d < devs.length; d++) {
      const list = devs[d].v6;
      for (let i = 0; i < list.length; i++) {
        if (list[i].state !== "tentative" && v6Eq(list[i].addr, 0, a, off)) return devs[d];
      }
    }
    return null;
  }

  /**
   * Find the outgoing device and next hop for `dst` into `rDev` / `rHop`. Our own addresses go
   * through loopback. Returns false when there is no usable route.
   */
  private resolveRoute<A>(I: IpVersion<A>, dst: A, device: DeviceId | undefined): boolean {
    if (I.isLoopback(dst) || this.isLocal(I, dst)) {
      const lo = this.devices[this.loopback];
      if (lo === undefined || !lo.up) return false;
      this.rDev = lo;
      this.rHop = dst;
      return true;
    }
    const table = (I.version === 4 ? this.routes4 : this.routes6) as unknown as RoutingTable<A, DeviceId>;
    if (device !== undefined) {
      const dev = this.devices[device];
      if (dev === undefined || !dev.up) return false;
      const r = table.lookupOnDevice(dst, device);
      this.rDev = dev;
      this.rHop = r?.gateway ?? dst;
      return true;
    }
    const r = table.lookupWhere(dst, this.usableRoute as (r: Route<A, DeviceId>) => boolean);
    if (r !== null) {
      this.rDev = this.devices[r.device];
      this.rHop = r.gateway ?? dst;
      return true;
    }
    if (I.isMulticast(dst) || (I.version === 4 && (dst as unknown as number) === V4_BROADCAST)) {
      // No route for a group: the first Ethernet device that is up (as Linux without a multicast route).
      for (const d of this.devices) {
        if (d.up && !d.isLoopback) {
          this.rDev = d;
          this.rHop = dst;
          return true;
        }
      }
    }
    return false;
  }

  /** The source address for `dst` on `dev` (RFC 1122 3.3.4.3; RFC 6724 rules 2 and 8, simplified). */
  private sourceOn<A>(I: IpVersion<A>, dev: Device, dst: A): A | null {
    if (dev.isLoopback && this.isLocal(I, dst)) return dst;
    if (I.version === 4) {
      const d = dst as unknown as Ipv4Addr;
      const list = dev.v4;
      for (let i = 0; i < list.length; i++) if (list[i].subnet.contains(d)) return list[i].addr as unknown as A;
      return list.length > 0 ? (list[0].addr as unknown as A) : null;
    }
    const d = dst as unknown as Ipv6Addr;
    const wantLinkLocal = Ipv6.isLinkLocal(d) || Ipv6.isLinkLocalMulticast(d);
    let best: DeviceAddr<Ipv6Addr> | null = null;
    let bestScore = -1;
    for (const a of dev.v6) {
      if (a.state === "tentative") continue;
      // Rule 2 (appropriate scope) first, then rule 3 (avoid deprecated), then rule 8 (longest prefix).
      const scopeOk = Ipv6.isLinkLocal(a.addr) === wantLinkLocal ? 512 : 0;
      const fresh = a.state === "deprecated" ? 0 : 256;
      const score = scopeOk + fresh + Ipv6.commonPrefixLen(a.addr, d);
      if (score > bestScore) {
        best = a;
        bestScore = score;
      }
    }
    return best === null ? null : (best.addr as unknown as A);
  }

  selectSource<A>(I: IpVersion<A>, dst: A): A | null {
    if (!this.resolveRoute(I, dst, undefined)) return null;
    return this.sourceOn(I, this.rDev!, dst);
  }

  maxPayload<A>(I: IpVersion<A>, dst: A): number {
    if (!this.resolveRoute(I, dst, undefined)) return I.minMtu - I.headerLen;
    const dev = this.rDev!;
    const now = this.bindings.now();
    const mtu =
      I.version === 4
        ? this.pmtu4.get(dst as unknown as Ipv4Addr, dev.mtu, now)
        : this.pmtu6.get(dst as unknown as Ipv6Addr, dev.mtu, now);
    return Math.min(mtu, 0xffff) - I.headerLen;
  }

  /** `IpSender.send`: route, wrap in IP, fragment when allowed, resolve the next hop, send. */
  sendIp<A>(I: IpVersion<A>, opts: IpSendOptions<A>, body: Serializer): IpSendError {
    return I.version === 4
      ? this.send4(opts as unknown as IpSendOptions<Ipv4Addr>, body)
      : this.send6(opts as unknown as IpSendOptions<Ipv6Addr>, body);
  }

  /** `body.wrapIn(b)`, reusing the chain built the last time this body was sent with this builder. */
  private wrapped(body: Serializer, b: Ipv4Builder | Ipv6Builder): Nested {
    const bodies = this.wrapBody;
    const chains = this.wrapChain;
    for (let i = 0; i < 4; i++) {
      const c = chains[i];
      if (bodies[i] === body && c !== null && c.outer === b) return c;
    }
    const c = body.wrapIn(b);
    const i = this.wrapNext;
    this.wrapNext = (i + 1) & 3;
    bodies[i] = body;
    chains[i] = c;
    return c;
  }

  /** A queue keeps `pkt`: if it is the reused send buffer, later packets get a new one. */
  private keepTx(pkt: Buf): void {
    if (pkt === this.txBuf) this.txBuf = new Buf(new Uint8Array(pkt.bytes.length), 0, 0);
  }

  private send4(opts: IpSendOptions<Ipv4Addr>, body: Serializer): IpSendError {
    const dst = opts.dst;
    if (this.fpGen === this.txGen && this.fpDst === dst && this.fpDevice === opts.device) {
      const r = this.send4Fast(opts, body);
      if (r !== undefined) return r;
    }
    if (!this.resolveRoute(Ipv4, dst, opts.device)) {
      this.counters.inc(C.ip4TxNoRoute);
      return "ENETUNREACH";
    }
    const dev = this.rDev!;
    const hop = this.rHop as Ipv4Addr;
    const src = opts.src ?? this.sourceOn(Ipv4, dev, dst);
    // Remember a unicast route through an Ethernet device for the fast path.
    if (!dev.isLoopback && !Ipv4.isMulticast(hop) && !this.isBroadcast4(dev, hop)) {
      this.fpGen = this.txGen;
      this.fpDst = dst;
      this.fpDevice = opts.device;
      this.fpDev = dev;
      this.fpHop = hop;
      this.fpSrc = opts.src === null || opts.src === undefined ? src : this.sourceOn(Ipv4, dev, dst);
      this.fpEntry = null;
    }
    if (src === null) {
      this.counters.inc(C.ip4TxNoSource);
      return "EADDRNOTAVAIL";
    }
    const bodyLen = body.measure();
    if (bodyLen < 0 || bodyLen + IPV4_HEADER_LEN > 0xffff) {
      this.counters.inc(C.ip4TxTooBig);
      return "EMSGSIZE";
    }
    const mtu = dev.isLoopback ? dev.mtu : this.pmtu4.get(dst, dev.mtu, this.bindings.now());
    const total = IPV4_HEADER_LEN + bodyLen;
    const df = opts.dontFragment === true;
    // RFC 1191 / RFC 1122 3.3.3: a datagram with DF set that does not fit is not sent.
    if (total > mtu && df) {
      this.counters.inc(C.ip4TxTooBig);
      return "EMSGSIZE";
    }
    const b = this.ip4b;
    b.src = src;
    b.dst = dst;
    b.proto = opts.proto;
    const multicast = Ipv4.isMulticast(dst);
    b.ttl = opts.ttl ?? (multicast ? 1 : this.limits.defaultTtl);
    b.id = this.ipv4Id;
    this.ipv4Id = (this.ipv4Id + 1) & 0xffff;
    b.df = df;
    b.mf = false;
    b.fragOffset = 0;
    b.mtu = 0xffff;
    const so = this.txOpts;
    so.target = this.txBuf;
    so.suffix = total < MIN_IP_IN_FRAME ? MIN_IP_IN_FRAME - total : 0;
    const pkt = this.wrapped(body, b).serialize(so);
    so.target = undefined;
    if (pkt instanceof TooBig) {
      this.counters.inc(C.ip4TxTooBig);
      return "EMSGSIZE";
    }
    this.counters.inc(C.ip4Tx);
    if (total > mtu) {
      this.counters.inc(C.ip4TxFragmented);
      const n = fragmentIpv4(pkt.bytes, pkt.start, pkt.length, mtu, LINK_PREFIX, 0, (f) =>
        this.linkOutput(Ipv4, dev, hop, f),
      );
      if (n === 0) return "EMSGSIZE";
      this.counters.inc(C.ip4TxFragments, n);
      return null;
    }
    this.linkOutput(Ipv4, dev, hop, pkt);
    return null;
  }

  /**
   * `send4` towards the cached destination (see `fpGen`) when nothing unusual is needed: the
   * neighbour is resolved and not STALE, the packet fits the path MTU, and the device is up. The
   * body is serialized with room for the IPv4 and Ethernet headers, which are written here directly
   * (no IPv4 builder, no chain walk, no route or neighbour lookup). Returns undefined, having sent
   * and counted nothing, when the general path must handle the packet.
   */
  private send4Fast(opts: IpSendOptions<Ipv4Addr>, body: Serializer): IpSendError | undefined {
    const dev = this.fpDev!;
    if (!dev.up) return undefined;
    let e = this.fpEntry;
    if (e === null) {
      e = dev.arp!.get(this.fpHop as Ipv4Addr) ?? null;
      if (e === null) return undefined;
      this.fpEntry = e;
    }
    // RFC 4861 7.3.3 (as for ARP): the first use of a STALE entry starts DELAY: the general path.
    const state = e.state;
    if (state === NeighborState.Incomplete || state === NeighborState.Stale) return undefined;
    const src = opts.src ?? this.fpSrc;
    if (src === null) return undefined;
    const bodyLen = body.measure();
    if (bodyLen < 0) return undefined;
    const total = IPV4_HEADER_LEN + bodyLen;
    const dst = opts.dst;
    const pm = this.pmtu4;
    const mtu = pm.size === 0 ? dev.mtu : pm.get(dst, dev.mtu, this.bindings.now());
    if (total > mtu || total > 0xffff) return undefined;
    const so = this.txOpts;
    so.target = this.txBuf;
    so.prefix = LINK_PREFIX + IPV4_HEADER_LEN;
    const pad = MIN_IP_IN_FRAME - total;
    so.suffix = Math.max(pad, 0);
    const out = body.serialize(so);
    so.target = undefined;
    so.prefix = LINK_PREFIX;
    // Tested by its tag: `instanceof` of an imported class costs more than this whole header.
    if ((out as TooBig).kind === "too-big") {
      this.counters.inc(C.ip4TxTooBig);
      return "EMSGSIZE";
    }
    const pkt = out as Buf;
    const b = pkt.bytes;
    // `serialize` left at least the requested prefix and suffix.
    const o = pkt.start - IPV4_HEADER_LEN;
    const id = this.ipv4Id;
    this.ipv4Id = (id + 1) & 0xffff;
    // RFC 791 3.1: version 4, IHL 5, TOS 0, no options, reserved flag zero.
    b[o] = 0x45;
    b[o + 1] = 0;
    b[o + 2] = total >>> 8;
    b[o + 3] = total & 0xff;
    b[o + 4] = id >>> 8;
    b[o + 5] = id & 0xff;
    const ff = opts.dontFragment === true ? 0x4000 : 0;
    b[o + 6] = ff >>> 8;
    b[o + 7] = 0;
    const ttlProto = (((opts.ttl ?? this.limits.defaultTtl) & 0xff) << 8) | (opts.proto & 0xff);
    b[o + 8] = ttlProto >>> 8;
    b[o + 9] = ttlProto & 0xff;
    b[o + 10] = 0;
    b[o + 11] = 0;
    b[o + 12] = src >>> 24;
    b[o + 13] = (src >>> 16) & 0xff;
    b[o + 14] = (src >>> 8) & 0xff;
    b[o + 15] = src & 0xff;
    b[o + 16] = dst >>> 24;
    b[o + 17] = (dst >>> 16) & 0xff;
    b[o + 18] = (dst >>> 8) & 0xff;
    b[o + 19] = dst & 0xff;
    // RFC 791 / RFC 1071: the header checksum, summed from the field values rather than re-read.
    const c = finish(
      0x4500 + total + id + ff + ttlProto + (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff),
    );
    b[o + 10] = c >>> 8;
    b[o + 11] = c & 0xff;
    // Seed, "Zeroing Buffers": the layer that adds padding zeroes it.
    if (pad > 0) {
      const end = pkt.end;
      for (let i = end; i < end + pad; i++) b[i] = 0;
      pkt.end = end + pad;
    }
    const f = o - ETHERNET_HEADER_LEN;
    const dmac = e.mac;
    const smac = dev.mac;
    // Straight-line stores: a loop over the 12 address bytes costs more than the IPv4 header.
    b[f] = dmac[0];
    b[f + 1] = dmac[1];
    b[f + 2] = dmac[2];
    b[f + 3] = dmac[3];
    b[f + 4] = dmac[4];
    b[f + 5] = dmac[5];
    b[f + 6] = smac[0];
    b[f + 7] = smac[1];
    b[f + 8] = smac[2];
    b[f + 9] = smac[3];
    b[f + 10] = smac[4];
    b[f + 11] = smac[5];
    b[f + 12] = EtherType.Ipv4 >>> 8;
    b[f + 13] = EtherType.Ipv4 & 0xff;
    pkt.start = f;
    this.counters.inc(C.ip4Tx);
    this.counters.inc(C.ethTx);
    this.bindings.sendFrame(dev.id, pkt);
    return null;
  }

  private send6(opts: IpSendOptions<Ipv6Addr>, body: Serializer): IpSendError {
    // Copy the addresses first: they may be borrowed from the buffer the packet is written into.
    const dstA = this.ip6dst;
    dstA.set(opts.dst);
    if (!this.resolveRoute(Ipv6, dstA, opts.device)) {
      this.counters.inc(C.ip6TxNoRoute);
      return "ENETUNREACH";
    }
    const dev = this.rDev!;
    const hop = this.rHop as Ipv6Addr;
    const src = opts.src ?? this.sourceOn(Ipv6, dev, dstA);
    if (src === null) {
      this.counters.inc(C.ip6TxNoSource);
      return "EADDRNOTAVAIL";
    }
    const srcA = this.ip6src;
    if (src !== srcA) srcA.set(src);
    const bodyLen = body.measure();
    if (bodyLen < 0 || bodyLen > 0xffff) {
      this.counters.inc(C.ip6TxTooBig);
      return "EMSGSIZE";
    }
    const mtu = dev.isLoopback ? dev.mtu : this.pmtu6.get(dstA, dev.mtu, this.bindings.now());
    const total = IPV6_HEADER_LEN + bodyLen;
    const b = this.ip6b;
    b.src = srcA;
    b.dst = dstA;
    b.nextHeader = opts.proto;
    const multicast = dstA[0] === 0xff;
    b.hopLimit = opts.ttl ?? (multicast ? 1 : dev.curHopLimit || this.limits.defaultTtl);
    b.mtu = 0xffff + IPV6_HEADER_LEN;
    const so = this.txOpts;
    so.target = this.txBuf;
    so.suffix = total < MIN_IP_IN_FRAME ? MIN_IP_IN_FRAME - total : 0;
    const pkt = this.wrapped(body, b).serialize(so);
    so.target = undefined;
    if (pkt instanceof TooBig) {
      this.counters.inc(C.ip6TxTooBig);
      return "EMSGSIZE";
    }
    this.counters.inc(C.ip6Tx);
    // The next hop may be the scratch destination: copy it if it must outlive this call.
    const nextHop = hop === dstA ? dstA : hop;
    if (total > mtu) {
      // RFC 8200 4.5 / 5: the source fragments packets larger than the path MTU.
      this.counters.inc(C.ip6TxFragmented);
      const id = this.ipv6FragId;
      this.ipv6FragId = (this.ipv6FragId + 1) >>> 0;
      const hopCopy = Ipv6.copy(nextHop);
      const n = fragmentIpv6(pkt.bytes, pkt.start, pkt.length, mtu, id, LINK_PREFIX, 0, (f) =>
        this.linkOutput(Ipv6, dev, hopCopy, f),
      );
      if (n === 0) return "EMSGSIZE";
      this.counters.inc(C.ip6TxFragments, n);
      return null;
    }
    this.linkOutput(Ipv6, dev, nextHop, pkt);
    return null;
  }

  // ---- link output and neighbours ----

  /** Send the IP packet in `pkt` (its body) to next hop `hop` on `dev`. */
  private linkOutput<A>(I: IpVersion<A>, dev: Device, hop: A, pkt: Buf): void {
    if (dev.isLoopback) {
      if (this.work.length >= this.limits.loopbackQueue) {
        this.counters.inc(C.loopbackOverflow);
        return;
      }
      this.keepTx(pkt);
      this.work.push({ device: dev.id, buf: pkt });
      if (this.depth === 0 && !this.drainTimer.scheduled) this.timers.schedule(this.drainTimer, this.bindings.now());
      return;
    }
    const type = I.version === 4 ? EtherType.Ipv4 : EtherType.Ipv6;
    if (I.version === 4) {
      const h = hop as unknown as Ipv4Addr;
      if (Ipv4.isMulticast(h)) {
        const mac = this.scratchMac;
        mac4Multicast(h, mac, 0);
        this.ethernetSend(dev, mac, type, pkt);
        return;
      }
      if (this.isBroadcast4(dev, h)) {
        this.ethernetSend(dev, MAC_BROADCAST, type, pkt);
        return;
      }
      this.resolveAndSend(Ipv4, dev, dev.arp!, h, pkt);
      return;
    }
    const h = hop as unknown as Ipv6Addr;
    if (h[0] === 0xff) {
      const mac = this.scratchMac;
      mac6Multicast(h, 0, mac, 0);
      this.ethernetSend(dev, mac, type, pkt);
      return;
    }
    this.resolveAndSend(Ipv6, dev, dev.ndp!, h, pkt);
  }

  private readonly scratchMac = new Uint8Array(6) as MacAddr;

  private isBroadcast4(dev: Device, a: Ipv4Addr): boolean {
    if (a === V4_BROADCAST) return true;
    const list = dev.v4;
    for (let i = 0; i < list.length; i++) if (isV4BroadcastFor(list[i].subnet, a)) return true;
    return false;
  }

  private resolveAndSend<A>(I: IpVersion<A>, dev: Device, table: NeighborTable<A>, hop: A, pkt: Buf): void {
    const type = I.version === 4 ? EtherType.Ipv4 : EtherType.Ipv6;
    let e = table.get(hop);
    if (e?.resolved) {
      // RFC 4861 7.3.3: the first use of a STALE entry starts the DELAY timer.
      if (e.state === NeighborState.Stale) {
        e.state = NeighborState.Delay;
        this.timers.schedule(e.timer, this.bindings.now() + this.limits.neighborDelayMs);
      }
      this.ethernetSend(dev, e.mac, type, pkt);
      return;
    }
    if (e === undefined) {
      const c = table.create(hop);
      if (c.evicted !== null) this.dropEntry(c.evicted);
      e = c.entry;
      e.probes = 1;
      this.timers.schedule(e.timer, this.bindings.now() + this.limits.neighborRetransMs);
      this.keepTx(pkt);
      if (table.enqueue(e, pkt) !== "queued") this.counters.inc(C.neighPendingDropped);
      else this.counters.inc(C.neighQueued);
      this.solicit(I, dev, e, false);
      return;
    }
    // RFC 4861 7.2.2 / RFC 1122 2.3.2.2: queue while resolution is in progress; bounded.
    this.keepTx(pkt);
    if (table.enqueue(e, pkt) !== "queued") this.counters.inc(C.neighPendingDropped);
    else this.counters.inc(C.neighQueued);
  }

  /** An entry evicted from a full table: its timer and queued packets go with it. */
  private dropEntry<A>(e: NeighborEntry<A>): void {
    this.txGen++;
    this.timers.cancel(e.timer);
    this.counters.inc(C.neighEvicted);
    if (e.pending.length > 0) this.counters.inc(C.neighPendingDropped, e.pending.length);
    e.pending = [];
  }

  /** Send an ARP request / neighbour solicitation for `e` (broadcast/multicast, or unicast to probe). */
  private solicit<A>(I: IpVersion<A>, dev: Device, e: NeighborEntry<A>, unicast: boolean): void {
    if (I.version === 4) {
      const target = e.addr as unknown as Ipv4Addr;
      const src = this.sourceOn(Ipv4, dev, target) ?? Ipv4.unspecified;
      const buf = Buf.alloc(LINK_PREFIX, 0, ETHERNET_MIN_FRAME_LEN);
      const at = buf.growBack(ARP_LEN);
      new ArpBuilder(ArpOp.Request, dev.mac, src, MAC_ZERO, target).serialize(buf.bytes, at, 0);
      this.counters.inc(C.arpTxRequest);
      this.ethernetSend(dev, unicast ? e.mac : MAC_BROADCAST, EtherType.Arp, buf);
      return;
    }
    const target = e.addr as unknown as Ipv6Addr;
    const src = this.sourceOn(Ipv6, dev, target);
    if (src === null) {
      this.counters.inc(C.neighNoSource);
      return;
    }
    // RFC 4861 7.2.2: multicast to the solicited-node address, or unicast to probe (7.3.3).
    const dst = unicast ? target : solicitedNode(target);
    const ns = new NeighborSolicitationBuilder(src, dst, target, [
      new LinkAddrOption(NdpOptionType.SourceLinkAddr, dev.mac),
    ]);
    // RFC 4861 7.1.1: hop limit 255.
    const ip = new Ipv6Builder(src, dst, IpProto.Icmpv6, { hopLimit: 255 });
    const pkt = EMPTY_BODY.wrapIn(ns).wrapIn(ip).serialize({ prefix: LINK_PREFIX });
    if (pkt instanceof TooBig) return;
    const mac = new Uint8Array(6) as MacAddr;
    if (unicast) mac.set(e.mac);
    else mac6Multicast(dst, 0, mac, 0);
    this.counters.inc(C.ndpTxNs);
    this.ethernetSend(dev, mac, EtherType.Ipv6, pkt);
  }

  private neighborTimer<A>(I: IpVersion<A>, dev: Device, table: NeighborTable<A>, addr: A): void {
    const e = table.get(addr);
    if (e === undefined) return;
    const L = this.limits;
    const now = this.bindings.now();
    switch (e.state) {
      case NeighborState.Incomplete:
        if (e.probes < L.neighborMulticastSolicit) {
          e.probes++;
          this.timers.schedule(e.timer, now + L.neighborRetransMs);
          this.solicit(I, dev, e, false);
          return;
        }
        this.resolutionFailed(I, dev, table, e);
        return;
      case NeighborState.Reachable:
        // RFC 4861 7.3.2: REACHABLE becomes STALE after ReachableTime without confirmation.
        e.state = NeighborState.Stale;
        return;
      case NeighborState.Delay:
        e.state = NeighborState.Probe;
        e.probes = 1;
        this.timers.schedule(e.timer, now + L.neighborRetransMs);
        this.solicit(I, dev, e, true);
        return;
      case NeighborState.Probe:
        if (e.probes < L.neighborUnicastSolicit) {
          e.probes++;
          this.timers.schedule(e.timer, now + L.neighborRetransMs);
          this.solicit(I, dev, e, true);
          return;
        }
        // RFC 4861 7.3.3: no answer to the probes: the entry is deleted.
        this.counters.inc(C.neighProbeFailed);
        table.delete(e);
        this.txGen++;
        return;
      default:
        return;
    }
  }

  /**
   * RFC 4861 7.2.2 / RFC 1122 2.3.2.2: resolution failed: each queued packet is answered with
   * ICMP destination unreachable (address / host unreachable) and dropped.
   */
  private resolutionFailed<A>(I: IpVersion<A>, dev: Device, table: NeighborTable<A>, e: NeighborEntry<A>): void {
    table.delete(e);
    this.txGen++;
    this.counters.inc(C.neighFailed);
    const pending = e.pending;
    e.pending = [];
    for (const p of pending) {
      this.counters.inc(C.neighPendingDropped);
      if (I.version === 4) {
        this.icmpError4(dev, p.bytes, p.start, false, Icmpv4Type.DestUnreachable, Icmpv4UnreachableCode.Host, 0);
      } else {
        this.icmpError6(
          dev,
          p.bytes,
          p.start,
          false,
          false,
          Icmpv6Type.DestUnreachable,
          Icmpv6DestUnreachableCode.AddressUnreachable,
          0,
        );
      }
    }
  }

  /** Mark `e` REACHABLE with `mac` (RFC 4861 7.2.5 solicited advertisement; ARP reply). */
  private confirm<A>(I: IpVersion<A>, dev: Device, table: NeighborTable<A>, e: NeighborEntry<A>, mac: Uint8Array) {
    e.setMac(mac);
    const wasIncomplete = e.state === NeighborState.Incomplete;
    e.state = NeighborState.Reachable;
    e.confirmed = true;
    e.probes = 0;
    table.touch(e);
    this.timers.schedule(e.timer, this.bindings.now() + this.limits.neighborReachableMs);
    if (wasIncomplete) this.counters.inc(C.neighResolved);
    this.flush(I, dev, e);
  }

  /** Record `mac` for `e` as STALE (unsolicited information, RFC 4861 7.2.3 / 7.2.5; RFC 826 merge). */
  private markStale<A>(I: IpVersion<A>, dev: Device, e: NeighborEntry<A>, mac: Uint8Array): void {
    const wasIncomplete = e.state === NeighborState.Incomplete;
    e.setMac(mac);
    e.state = NeighborState.Stale;
    e.probes = 0;
    this.timers.cancel(e.timer);
    if (wasIncomplete) {
      this.counters.inc(C.neighResolved);
      this.flush(I, dev, e);
    }
  }

  /** Send every packet queued on a now-resolved entry. */
  private flush<A>(I: IpVersion<A>, dev: Device, e: NeighborEntry<A>): void {
    if (e.pending.length === 0) return;
    const q = e.pending;
    e.pending = [];
    const type = I.version === 4 ? EtherType.Ipv4 : EtherType.Ipv6;
    for (const p of q) this.ethernetSend(dev, e.mac, type, p);
  }

  /** Write the Ethernet header (and zero padding) around `buf`'s body and send it. */
  private ethernetSend(dev: Device, dst: Uint8Array, etherType: number, buf: Buf): void {
    if (!dev.up) return;
    const pad = MIN_IP_IN_FRAME - buf.length;
    buf.ensure(ETHERNET_HEADER_LEN, Math.max(pad, 0));
    // Seed, "Zeroing Buffers": the layer that adds padding zeroes it.
    if (pad > 0) buf.growBackZero(pad);
    const o = buf.growFront(ETHERNET_HEADER_LEN);
    const b = buf.bytes;
    for (let i = 0; i < 6; i++) {
      b[o + i] = dst[i];
      b[o + 6 + i] = dev.mac[i];
    }
    b[o + 12] = etherType >>> 8;
    b[o + 13] = etherType & 0xff;
    this.counters.inc(C.ethTx);
    this.bindings.sendFrame(dev.id, buf);
  }

  private sendGratuitousArp(dev: Device, a: Ipv4Addr): void {
    // RFC 5227 3 (announcement): an ARP request with sender and target both our address.
    const buf = Buf.alloc(LINK_PREFIX, 0, ETHERNET_MIN_FRAME_LEN);
    const at = buf.growBack(ARP_LEN);
    new ArpBuilder(ArpOp.Request, dev.mac, a, MAC_ZERO, a).serialize(buf.bytes, at, 0);
    this.counters.inc(C.arpTxGratuitous);
    this.ethernetSend(dev, MAC_BROADCAST, EtherType.Arp, buf);
  }

  // ---- receive: link layer ----

  private rxFrame(device: DeviceId, buf: Buf): void {
    const dev = this.devices[device];
    if (dev === undefined) {
      this.counters.inc(C.rxUnknownDevice);
      return;
    }
    if (!dev.up) {
      this.counters.inc(C.rxDeviceDown);
      return;
    }
    if (dev.isLoopback) {
      // Loopback frames are bare IP packets.
      if (buf.length < 1) return;
      const ver = buf.bytes[buf.start] >>> 4;
      if (ver === 4) this.rxIpv4(dev, buf);
      else if (ver === 6) this.rxIpv6(dev, buf);
      return;
    }
    const b0 = buf.bytes;
    const o0 = buf.start;
    // Fast path: an untagged IPv4 frame (type 0x0800, so no 802.1Q tag) to our unicast MAC skips
    // the Ethernet view; the Buf invariants already hold the length checks `parseFrom` makes.
    if (buf.end - o0 >= ETHERNET_HEADER_LEN + IPV4_HEADER_LEN && b0[o0 + 12] === 0x08 && b0[o0 + 13] === 0x00) {
      const mac = dev.mac;
      if (
        b0[o0] === mac[0] &&
        b0[o0 + 1] === mac[1] &&
        b0[o0 + 2] === mac[2] &&
        b0[o0 + 3] === mac[3] &&
        b0[o0 + 4] === mac[4] &&
        b0[o0 + 5] === mac[5]
      ) {
        buf.start = o0 + ETHERNET_HEADER_LEN;
        this.rxIpv4(dev, buf);
        return;
      }
    }
    const eth = this.eth;
    if (eth.parseFrom(buf.bytes, buf.start, buf.length) !== null) {
      this.counters.inc(C.ethRxShort);
      return;
    }
    if (eth.tagged) {
      this.counters.inc(C.ethRxVlan);
      return;
    }
    const b = buf.bytes;
    const o = eth.off;
    // IEEE 802.3: accept our unicast MAC and group addresses; the IP layer filters groups.
    if ((b[o] & 1) === 0) {
      for (let i = 0; i < 6; i++) {
        if (b[o + i] !== dev.mac[i]) {
          this.counters.inc(C.ethRxOtherHost);
          return;
        }
      }
    }
    const type = eth.etherType;
    buf.setRange(eth.payloadOff, eth.off + eth.len);
    if (type === EtherType.Ipv4) this.rxIpv4(dev, buf);
    else if (type === EtherType.Ipv6) this.rxIpv6(dev, buf);
    else if (type === EtherType.Arp) this.rxArp(dev, buf);
    else this.counters.inc(C.ethRxUnknownType);
  }

  // ---- ARP ----

  private rxArp(dev: Device, buf: Buf): void {
    const a = this.arpView;
    this.counters.inc(C.arpRx);
    if (a.parseFrom(buf.bytes, buf.start, buf.length) !== null) {
      this.counters.inc(C.arpRxBad);
      return;
    }
    const b = a.bytes;
    const o = a.off;
    const sha = a.senderMac;
    let own = true;
    for (let i = 0; i < 6; i++) if (sha[i] !== dev.mac[i]) own = false;
    if (own) {
      this.counters.inc(C.arpRxOwnMac);
      return;
    }
    const op = a.op;
    if (op === ArpOp.Request) this.counters.inc(C.arpRxRequest);
    else if (op === ArpOp.Reply) this.counters.inc(C.arpRxReply);
    const spa = a.senderIp;
    // RFC 1812 3.3.2: a broadcast or multicast link address is never believed; nor is a broadcast,
    // multicast or loopback sender address (RFC 1122 3.2.1.3), which no neighbour can own.
    if ((sha[0] & 1) !== 0 || Ipv4.isMulticast(spa) || spa === V4_BROADCAST || Ipv4.isLoopback(spa)) {
      this.counters.inc(C.arpRxBadSender);
      return;
    }
    const tpa = a.targetIp;
    const mine = dev.find4(tpa) !== undefined;
    const table = dev.arp!;
    if (spa !== 0) {
      if (dev.find4(spa) !== undefined) {
        // RFC 5227 2.4: someone else claims our address; never learn it.
        this.counters.inc(C.arpRxConflict);
        return;
      }
      // RFC 826 "Packet Reception": update an existing entry (merge), add one if we are the target.
      let e = table.get(spa);
      if (e !== undefined) {
        if (op === ArpOp.Reply && (e.state === NeighborState.Incomplete || e.sameMac(sha))) {
          this.confirm(Ipv4, dev, table, e, sha);
        } else if (e.state === NeighborState.Incomplete || !e.sameMac(sha)) {
          this.markStale(Ipv4, dev, e, sha);
        }
      } else if (mine) {
        const c = table.create(spa);
        if (c.evicted !== null) this.dropEntry(c.evicted);
        e = c.entry;
        this.markStale(Ipv4, dev, e, sha);
      }
    }
    if (!mine || op !== ArpOp.Request) return;
    // RFC 826: answer in the received buffer: swap sender and target, our MAC as the sender.
    b[o + 6] = 0;
    b[o + 7] = ArpOp.Reply;
    b.copyWithin(o + 18, o + 8, o + 14);
    v4Put(b, o + 24, spa);
    for (let i = 0; i < 6; i++) b[o + 8 + i] = dev.mac[i];
    v4Put(b, o + 14, tpa);
    buf.setRange(o, o + ARP_LEN);
    this.counters.inc(C.arpTxReply);
    this.ethernetSend(dev, macAt(b, o + 18), EtherType.Arp, buf);
  }

  // ---- IPv4 receive ----

  private rxIpv4(dev: Device, buf: Buf): void {
    const v = this.v4view;
    const bytes = buf.bytes;
    this.counters.inc(C.ip4Rx);
    const e = v.parseFrom(bytes, buf.start, buf.length);
    if (e !== null) {
      this.counters.inc(reasonCounter("ipv4.rx", e.reason));
      // RFC 1122 3.2.2.5: a header error is answered with parameter problem.
      if (e.icmp !== null) {
        const dst = v4At(bytes, buf.start + 16);
        const mc = Ipv4.isMulticast(dst) || this.isBroadcast4(dev, dst);
        this.icmpError4(dev, bytes, buf.start, mc, e.icmp.type, e.icmp.code, ((e.icmp.pointer & 0xff) << 24) >>> 0);
      }
      return;
    }
    buf.end = v.off + v.len;
    const src = v.src;
    const dst = v.dst;
    // Fast path: the addresses of the last unicast packet delivered locally, checks already passed
    // below, while no address, route or device changed (`txGen`).
    if (src === this.rxSrc && dst === this.rxDst && dev === this.rxDev && this.rxGen === this.txGen) {
      if (v.isFragment) this.reassemble4(dev, v);
      else this.deliver4(dev, buf, v, false);
      return;
    }
    // RFC 1122 3.2.1.3: a source that is broadcast or multicast is discarded.
    if (Ipv4.isMulticast(src) || src === V4_BROADCAST) {
      this.counters.inc(C.ip4RxBadSrc);
      return;
    }
    // RFC 1122 3.2.1.3 (g), RFC 1812 5.3.7: 127/8 never arrives on a real interface.
    // RFC 1812 5.3.7 / Linux's fib_validate_source: a packet claiming to come from one of our own
    // addresses never arrives on a real interface (LAND attacks: it would answer itself in a loop).
    if (!dev.isLoopback && (Ipv4.isLoopback(src) || Ipv4.isLoopback(dst) || this.local4.has(src))) {
      this.counters.inc(C.ip4RxMartian);
      return;
    }
    const local = this.local4.has(dst) || (dev.isLoopback && Ipv4.isLoopback(dst));
    let group = false;
    if (!local) {
      if (this.isBroadcast4(dev, dst)) group = true;
      else if (Ipv4.isMulticast(dst)) {
        // RFC 1112 / RFC 1122 3.2.2: all-hosts, or a group some socket joined on this device.
        if (dst !== 0xe0000001 && !dev.groups4.has(dst)) {
          this.counters.inc(C.ip4RxNotMember);
          return;
        }
        group = true;
      } else {
        this.forward4(dev, buf, v);
        return;
      }
    }
    if (!group) {
      this.rxGen = this.txGen;
      this.rxSrc = src;
      this.rxDst = dst;
      this.rxDev = dev;
    }
    if (v.isFragment) {
      this.reassemble4(dev, v);
      return;
    }
    this.deliver4(dev, buf, v, group);
  }

  private deliver4(dev: Device, buf: Buf, v: Ipv4View, group: boolean): void {
    const info = this.rx4;
    info.src = v.src;
    info.dst = v.dst;
    info.device = dev.id;
    info.ttl = v.ttl;
    info.multicast = group;
    info.ipOff = v.off;
    const proto = v.proto;
    buf.setRange(v.payloadOff, v.off + v.len);
    this.counters.inc(C.ip4RxDelivered);
    if (proto === IpProto.Icmp) {
      this.rxIcmpv4(dev, buf, info);
      return;
    }
    if (proto === IpProto.Igmp) {
      this.rxIgmp(dev, buf);
      return;
    }
    const t = this.transports[proto];
    if (t !== undefined) {
      t.receive(info, buf);
      return;
    }
    this.counters.inc(C.ip4RxUnknownProto);
    // RFC 1122 3.2.2.1: protocol unreachable for a protocol nobody serves.
    this.icmpError4(dev, buf.bytes, info.ipOff, group, Icmpv4Type.DestUnreachable, Icmpv4UnreachableCode.Proto, 0);
  }

  private reassemble4(dev: Device, v: Ipv4View): void {
    this.counters.inc(C.ip4Fragments);
    const f = this.frag4;
    f.src = v.src;
    f.dst = v.dst;
    f.id = v.id;
    f.proto = v.proto;
    f.offset = v.fragOffset;
    f.more = v.mf;
    f.bytes = v.bytes;
    f.off = v.payloadOff;
    f.len = v.payloadLen;
    f.headerLen = v.headerLen;
    f.header = f.offset === 0 ? v.bytes.subarray(v.off, v.payloadOff) : null;
    const d = this.reassemble(this.reasm4, this.reasmTimer4, "ipv4.reassembly", C.ip4Reassembled, f);
    if (d === null) return;
    const { bytes, at, hl } = d;
    const total = hl + d.len;
    bytes[at + 2] = total >>> 8;
    bytes[at + 3] = total & 0xff;
    // The reassembled datagram is no fragment: clear MF and the offset, keep DF.
    bytes[at + 6] &= 0x40;
    bytes[at + 7] = 0;
    bytes[at + 10] = 0;
    bytes[at + 11] = 0;
    let s = 0;
    for (let i = 0; i < hl; i += 2) s += (bytes[at + i] << 8) | bytes[at + i + 1];
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    const c = ~s & 0xffff;
    bytes[at + 10] = c >>> 8;
    bytes[at + 11] = c & 0xff;
    this.rxIpv4(dev, new Buf(bytes, at, at + total));
  }

  /**
   * Both versions: add fragment `f`; once its datagram is complete, the first fragment's header is
   * placed right before the payload (in the reassembly buffer's headroom, or a new buffer with room
   * for the link header) and returned for the caller to fix the length fields. Null while pending,
   * when dropped (counted), or when the first fragment's header never came.
   */
  private reassemble<A>(
    reasm: Reassembler<A>,
    timer: Timer<TimerId>,
    prefix: string,
    done: CounterId,
    f: Fragment<A>,
  ): { bytes: Uint8Array; at: number; hl: number; len: number; proto: number } | null {
    const r = reasm.insert(this.bindings.now(), f);
    if (r.kind === "pending") {
      this.armReassembly(timer, reasm.nextDeadline());
      return null;
    }
    if (r.kind === "dropped") {
      this.counters.inc(reasonCounter(prefix, r.reason));
      return null;
    }
    this.counters.inc(done);
    const header = r.header;
    if (header === null) return null;
    const hl = header.length;
    let bytes = r.bytes;
    let at = r.off - hl;
    if (at < LINK_PREFIX) {
      const nb = new Uint8Array(LINK_PREFIX + hl + r.len);
      nb.set(r.payload, LINK_PREFIX + hl);
      bytes = nb;
      at = LINK_PREFIX;
    }
    bytes.set(header, at);
    return { bytes, at, hl, len: r.len, proto: r.proto };
  }

  private armReassembly(t: Timer<TimerId>, deadline: number | null): void {
    if (deadline === null) {
      if (t.scheduled) this.timers.cancel(t);
    } else if (!t.scheduled || t.at !== deadline) {
      this.timers.schedule(t, deadline);
    }
  }

  private reassemblyTimeout4(now: number): void {
    for (const x of this.reasm4.expire(now)) {
      this.counters.inc(C.ip4ReasmTimeout);
      // RFC 792 / RFC 1122 3.3.2: time exceeded (reassembly) only if the first fragment arrived.
      if (!x.timeExceeded || x.header === null) continue;
      const q = new Uint8Array(x.header.length + x.firstData.length);
      q.set(x.header, 0);
      q.set(x.firstData, x.header.length);
      const dev = this.devices[this.local4.get(x.dst) ?? -1] ?? null;
      this.icmpError4(dev, q, 0, false, Icmpv4Type.TimeExceeded, Icmpv4TimeExceededCode.Reassembly, 0, q.length);
    }
    this.armReassembly(this.reasmTimer4, this.reasm4.nextDeadline());
  }

  // ---- IPv4 forwarding ----

  private forward4(dev: Device, buf: Buf, v: Ipv4View): void {
    if (!this.forwarding.v4 || dev.isLoopback) {
      this.counters.inc(C.ip4RxNotForUs);
      return;
    }
    const bytes = v.bytes;
    const src = v.src;
    const dst = v.dst;
    // RFC 3927 2.7: link-local addresses are never forwarded; nor is an unspecified source.
    if (Ipv4.isLinkLocal(src) || Ipv4.isLinkLocal(dst) || src === 0) {
      this.counters.inc(C.ip4FwdLinkLocal);
      return;
    }
    // RFC 1812 5.3.1: TTL 1 or 0 is not forwarded; the router answers with time exceeded.
    if (v.ttl <= 1) {
      this.counters.inc(C.ip4FwdTtl);
      this.icmpError4(dev, bytes, v.off, false, Icmpv4Type.TimeExceeded, Icmpv4TimeExceededCode.Ttl, 0);
      return;
    }
    const r = this.routes4.lookupWhere(dst, this.usableRoute as (r: Route<Ipv4Addr, DeviceId>) => boolean);
    if (r === null) {
      this.counters.inc(C.ip4FwdNoRoute);
      // RFC 1812 5.2.7.1: no route: destination unreachable, network unreachable.
      this.icmpError4(dev, bytes, v.off, false, Icmpv4Type.DestUnreachable, Icmpv4UnreachableCode.Net, 0);
      return;
    }
    const out = this.devices[r.device];
    const hop = r.gateway ?? dst;
    const len = v.len;
    if (len > out.mtu && v.df) {
      // RFC 1191 / RFC 1812 5.2.7.1: fragmentation needed and DF set, with the next-hop MTU.
      this.counters.inc(C.ip4FwdFragNeeded);
      this.icmpError4(dev, bytes, v.off, false, Icmpv4Type.DestUnreachable, Icmpv4UnreachableCode.FragNeeded, out.mtu);
      return;
    }
    // RFC 1812 5.3.1: decrement the TTL in place with an incremental checksum update (RFC 1624).
    decrementTtlInPlace(bytes, v.off);
    this.counters.inc(C.ip4Fwd);
    if (len > out.mtu) {
      this.counters.inc(C.ip4FwdFragmented);
      fragmentIpv4(bytes, v.off, len, out.mtu, LINK_PREFIX, 0, (f) => this.linkOutput(Ipv4, out, hop, f));
      return;
    }
    // The seed's "In-Place Packet Modification": the same buffer, a new link header in its prefix.
    buf.setRange(v.off, v.off + len);
    this.linkOutput(Ipv4, out, hop, buf);
  }

  // ---- ICMPv4 ----

  private rxIcmpv4(dev: Device, buf: Buf, info: RxInfo<Ipv4Addr>): void {
    const m = this.icmp4view;
    this.counters.inc(C.icmp4Rx);
    const e = m.parseFrom(buf.bytes, buf.start, buf.length);
    if (e !== null) {
      this.counters.inc(reasonCounter("icmpv4.rx", e.reason));
      return;
    }
    const type = m.type;
    if (type === Icmpv4Type.EchoRequest) {
      this.counters.inc(C.icmp4RxEchoRequest);
      // RFC 1122 3.2.2.6: an echo request to a broadcast or multicast address MAY be ignored.
      if (info.multicast) {
        this.counters.inc(C.icmp4RxEchoIgnored);
        return;
      }
      // RFC 792 / RFC 1122 3.2.2.6: the reply, built in the received buffer: type 0, same data.
      const b = m.bytes;
      const o = m.off;
      const check = (b[o + 2] << 8) | b[o + 3];
      const c = update16(check, (b[o] << 8) | b[o + 1], Icmpv4Type.EchoReply << 8);
      b[o] = Icmpv4Type.EchoReply;
      b[o + 1] = 0;
      b[o + 2] = c >>> 8;
      b[o + 3] = c & 0xff;
      const err = this.send4({ src: info.dst, dst: info.src, proto: IpProto.Icmp }, new BufBody(buf));
      if (err === null) this.counters.inc(C.icmp4TxEchoReply);
      return;
    }
    if (type === Icmpv4Type.EchoReply) {
      this.counters.inc(C.icmp4RxEchoReply);
      this.echo?.receiveEchoReply(info, m.id, m.seq, m.data());
      return;
    }
    if (type === Icmpv4Type.Redirect) {
      this.rxRedirect4(dev, m, info);
      return;
    }
    if (isIcmpv4Error(type)) {
      this.rxIcmpv4Error(m);
      return;
    }
    this.counters.inc(C.icmp4RxOther);
  }

  /**
   * RFC 1122 3.2.2.2 / RFC 792: a Redirect from the current first-hop gateway for the quoted
   * destination, naming a gateway on the network it arrived from, becomes a host route (network
   * redirects are treated as host redirects, as RFC 1122 asks). Routers ignore redirects.
   */
  private rxRedirect4(dev: Device, m: Icmpv4View, info: RxInfo<Ipv4Addr>): void {
    this.counters.inc(C.redirectRx);
    const b = m.bytes;
    const q = m.quoteOff;
    if (m.quoteLen < IPV4_HEADER_LEN || b[q] >>> 4 !== 4 || m.code > 3) {
      this.counters.inc(C.redirectIgnored);
      return;
    }
    const gw = m.gateway;
    // The gateway must be a neighbour on the link the redirect came from.
    const onLink = this.routes4.lookup(gw);
    if (onLink === null || onLink.gateway !== null || onLink.device !== dev.id || this.local4.has(gw)) {
      this.counters.inc(C.redirectIgnored);
      return;
    }
    const dst = v4At(b, q + 16);
    this.learnRedirect(Ipv4, this.routes4, this.redirects4, this.forwarding.v4, dev, info.src, dst, gw);
  }

  /**
   * RFC 4861 8.1 / 8.3: a valid Redirect (link-local source, hop limit 255, code 0, from the current
   * first-hop router for the destination; the target is link-local or the destination itself) makes
   * the target the destination's next hop: a host route, on-link when target = destination. A target
   * link-layer address option creates or updates the target's neighbour entry (STALE).
   */
  private rxRedirect6(dev: Device, buf: Buf, info: RxInfo<Ipv6Addr>): void {
    this.counters.inc(C.redirectRx);
    const r = this.redirectView;
    if (
      r.parseFrom(buf.bytes, buf.start, buf.length) !== null ||
      !ndpValid(info.ttl, r.code) ||
      !Ipv6.isLinkLocal(info.src)
    ) {
      this.counters.inc(C.redirectIgnored);
      return;
    }
    const tll = r.targetLinkAddr;
    if (tll !== null && (tll[0] & 1) !== 0) {
      this.counters.inc(C.redirectIgnored);
      return;
    }
    const dst = r.destination;
    const target = r.target.slice() as Ipv6Addr;
    const onLink = Ipv6.equals(target, dst);
    if (
      !this.learnRedirect(
        Ipv6,
        this.routes6,
        this.redirects6,
        this.forwarding.v6,
        dev,
        info.src,
        dst,
        onLink ? null : target,
      )
    ) {
      return;
    }
    if (tll !== null && dev.ndp !== null) this.learnStale6(dev, dev.ndp, target, tll);
  }

  /** Create `addr`'s neighbour entry, or update it, as STALE with `mac` when new or changed (RFC 4861 7.2.3, 8.3). */
  private learnStale6(dev: Device, table: NonNullable<Device["ndp"]>, addr: Ipv6Addr, mac: MacAddr): void {
    const e = table.get(addr);
    if (e === undefined) {
      const c = table.create(addr);
      if (c.evicted !== null) this.dropEntry(c.evicted);
      this.markStale(Ipv6, dev, c.entry, mac);
    } else if (e.state === NeighborState.Incomplete || !e.sameMac(mac)) {
      this.markStale(Ipv6, dev, e, mac);
    }
  }

  /**
   * Both versions: check that `from` is the current first hop for `dst` on `dev` and install the host
   * route to `next` (null: on-link), replacing an earlier redirect for `dst` and dropping the oldest
   * one beyond `limits.redirectRoutes`. Returns whether the route was installed.
   */
  private learnRedirect<A>(
    I: IpVersion<A>,
    routes: RoutingTable<A, DeviceId>,
    learned: Map<number | string, Route<A, DeviceId>>,
    forwarding: boolean,
    dev: Device,
    from: A,
    dst: A,
    next: A | null,
  ): boolean {
    const cur = routes.lookup(dst);
    if (
      forwarding ||
      I.isMulticast(dst) ||
      cur === null ||
      cur.gateway === null ||
      cur.device !== dev.id ||
      !I.equals(cur.gateway, from) ||
      (next !== null && I.equals(next, from))
    ) {
      this.counters.inc(C.redirectIgnored);
      return false;
    }
    const limit = this.limits.redirectRoutes;
    if (limit <= 0) return false;
    const key = I.key(dst);
    const old = learned.get(key);
    if (old !== undefined) {
      routes.remove(old.subnet, old.device, old.gateway);
      learned.delete(key);
    }
    while (learned.size >= limit) {
      const [k, oldest] = learned.entries().next().value as [number | string, Route<A, DeviceId>];
      routes.remove(oldest.subnet, oldest.device, oldest.gateway);
      learned.delete(k);
    }
    const added = routes.add({
      subnet: Subnet.of(I, I.copy(dst), I.addrBits),
      device: dev.id,
      gateway: next,
      metric: 0,
    });
    if (typeof added === "string") {
      this.counters.inc(C.redirectIgnored);
      return false;
    }
    learned.set(key, added);
    this.txGen++;
    this.counters.inc(C.redirectLearned);
    return true;
  }

  private rxIcmpv4Error(m: Icmpv4View): void {
    this.counters.inc(C.icmp4RxError);
    const b = m.bytes;
    const q = m.quoteOff;
    const qlen = m.quoteLen;
    if (qlen < IPV4_HEADER_LEN || b[q] >>> 4 !== 4) {
      this.counters.inc(C.icmp4RxErrorShort);
      return;
    }
    const hl = (b[q] & 0x0f) * 4;
    if (hl < IPV4_HEADER_LEN || qlen < hl) {
      this.counters.inc(C.icmp4RxErrorShort);
      return;
    }
    const src = v4At(b, q + 12);
    const dst = v4At(b, q + 16);
    // RFC 5927 4: only errors about packets we sent concern us.
    if (!this.local4.has(src)) {
      this.counters.inc(C.icmp4RxErrorNotOurs);
      return;
    }
    const code = icmpv4ErrorCode(m.type, m.code);
    if (code === null) return;
    const info = this.err4;
    info.I = Ipv4;
    info.src = src;
    info.dst = dst;
    info.code = code;
    info.mtu = 0;
    const proto = b[q + 9];
    if (m.type === Icmpv4Type.DestUnreachable && m.code === Icmpv4UnreachableCode.FragNeeded) {
      // RFC 1191: learn the path MTU (the plateau table when the router did not say).
      this.counters.inc(C.icmp4Pmtu);
      const totalLen = (b[q + 2] << 8) | b[q + 3];
      const now = this.bindings.now();
      this.pmtu4.update(dst, m.nextHopMtu, now, totalLen);
      info.mtu = this.pmtu4.peek(dst, now) ?? 0;
    }
    this.dispatchQuoted(info, b, q + hl, qlen - hl, proto, IpProto.Icmp, Icmpv4Type.EchoRequest);
  }

  /**
   * Hand an ICMP error to whoever sent the quoted packet: its upper-layer header starts at `b[p]`
   * with `have` bytes quoted. Transports get the ports and (TCP) the sequence number; an error about
   * our echo request goes to the echo handler with its identifier and sequence number.
   */
  private dispatchQuoted<A>(
    info: MutableIcmpErrorInfo<A>,
    b: Uint8Array,
    p: number,
    have: number,
    proto: number,
    icmpProto: number,
    echoRequest: number,
  ): void {
    info.srcPort = have >= 2 ? (b[p] << 8) | b[p + 1] : 0;
    info.dstPort = have >= 4 ? (b[p + 2] << 8) | b[p + 3] : 0;
    info.seq = have >= 8 ? v4At(b, p + 4) : 0;
    if (proto === icmpProto) {
      if (have >= 8 && b[p] === echoRequest) {
        info.srcPort = (b[p + 4] << 8) | b[p + 5];
        info.dstPort = 0;
        info.seq = (b[p + 6] << 8) | b[p + 7];
        this.echo?.receiveIcmpError?.(info);
      }
      return;
    }
    this.transports[proto]?.receiveIcmpError(info);
  }

  /**
   * Send an ICMPv4 error about the packet at `bytes[off]` (RFC 792, RFC 1122 3.2.2, RFC 1812 4.3.2).
   * Suppressed for errors about ICMP errors, non-first fragments, broadcast/multicast destinations
   * or link-layer groups, and sources that are not a unique host; rate limited. `rest` is the
   * 4-byte rest of header. `avail` bounds how many bytes are readable (default: the total length).
   */
  private icmpError4(
    dev: Device | null,
    bytes: Uint8Array,
    off: number,
    groupDst: boolean,
    type: number,
    code: number,
    rest: number,
    avail = -1,
  ): void {
    if (off < 0 || off + IPV4_HEADER_LEN > bytes.length) return;
    const src = v4At(bytes, off + 12);
    const dst = v4At(bytes, off + 16);
    const hl = (bytes[off] & 0x0f) * 4;
    const total = (bytes[off + 2] << 8) | bytes[off + 3];
    const fragOff = ((bytes[off + 6] << 8) | bytes[off + 7]) & 0x1fff;
    let len = Math.min(total, bytes.length - off);
    if (avail >= 0) len = Math.min(len, avail);
    // RFC 1122 3.2.2: never about an ICMP error, a non-first fragment, a broadcast or multicast
    // destination, or a source that does not define a single host.
    let suppress =
      groupDst ||
      fragOff !== 0 ||
      Ipv4.isMulticast(dst) ||
      dst === V4_BROADCAST ||
      src === 0 ||
      src === V4_BROADCAST ||
      Ipv4.isMulticast(src) ||
      (dev !== null && this.isBroadcast4(dev, dst)) ||
      (dev !== null && this.isBroadcast4(dev, src));
    if (!suppress && bytes[off + 9] === IpProto.Icmp && len >= hl + 1) {
      const t = bytes[off + hl];
      suppress = isIcmpv4Error(t) || (t !== Icmpv4Type.EchoRequest && t !== Icmpv4Type.EchoReply && t > 18);
    }
    if (suppress) {
      this.counters.inc(C.icmp4ErrSuppressed);
      return;
    }
    // RFC 1812 4.3.2.8 / RFC 1122 3.2.2: rate limited (token bucket).
    if (!this.icmpBucket4.take(this.bindings.now())) {
      this.counters.inc(C.icmp4ErrRateLimited);
      return;
    }
    // RFC 1812 4.3.2.3: quote as much as fits in 576 bytes.
    const qlen = icmpv4QuoteLen(len);
    const body = Buf.alloc(LINK_PREFIX + IPV4_HEADER_LEN + ICMPV4_HEADER_LEN, qlen, 0);
    body.bytes.set(bytes.subarray(off, off + qlen), body.start);
    // RFC 1812 4.3.2.4: the source is an address of ours: the one the packet was sent to if it was ours.
    const from = this.local4.has(dst) ? dst : null;
    const err = this.send4(
      { src: from, dst: src, proto: IpProto.Icmp },
      new BufBody(body).wrapIn(new Icmpv4ErrorBuilder(type, code, rest)),
    );
    if (err === null) this.counters.inc(C.icmp4TxError);
  }

  // ---- IPv6 receive ----

  private rxIpv6(dev: Device, buf: Buf): void {
    const v = this.v6view;
    const bytes = buf.bytes;
    this.counters.inc(C.ip6Rx);
    // RFC 8200 4: until the packet is known to be ours, only the fixed header and a Hop-by-Hop
    // header are examined; a router forwards the rest of the chain unexamined.
    const e = v.parseHeader(bytes, buf.start, buf.length);
    if (e !== null) {
      this.rxIpv6Error(dev, bytes, buf.start, buf.length, e);
      return;
    }
    buf.end = v.off + v.len;
    const o = v.off;
    // RFC 4291 2.7: a multicast source is invalid.
    if (bytes[o + 8] === 0xff) {
      this.counters.inc(C.ip6RxBadSrc);
      return;
    }
    const src = v.src;
    const dst = v.dst;
    // RFC 4291 2.5.3: ::1 never arrives on a real interface.
    if (!dev.isLoopback && (Ipv6.isLoopback(src) || Ipv6.isLoopback(dst))) {
      this.counters.inc(C.ip6RxMartian);
      return;
    }
    let group = false;
    if (bytes[o + 24] === 0xff) {
      if (!dev.inGroup6(bytes, o + 24)) {
        this.counters.inc(C.ip6RxNotForUs);
        return;
      }
      group = true;
    } else if (!(dev.isLoopback && Ipv6.isLoopback(dst)) && this.findLocal6(bytes, o + 24) === null) {
      if (!dev.isLoopback && this.findLocal6(bytes, o + 8) !== null && this.transitProto6(v) !== IpProto.Icmpv6) {
        this.counters.inc(C.ip6RxMartian);
        return;
      }
      this.forward6(dev, buf, v);
      return;
    }
    // RFC 8200 4: the node the destination names processes the whole chain.
    const ce = v.parseChain();
    if (ce !== null) {
      this.rxIpv6Error(dev, bytes, o, v.len, ce);
      return;
    }
    // Nor a source that is one of our addresses (LAND; see rxIpv4), except for ICMPv6: a node that
    // duplicates our address answers our NDP from it (RFC 4862 5.4.4), and nothing there loops.
    if (!dev.isLoopback && v.proto !== IpProto.Icmpv6 && this.findLocal6(bytes, o + 8) !== null) {
      this.counters.inc(C.ip6RxMartian);
      return;
    }
    if (v.hasFrag) {
      this.reassemble6(dev, v);
      return;
    }
    this.deliver6(dev, buf, v, group);
  }

  /** A packet that failed `parseHeader` or `parseChain`: counted, and answered when the error asks. */
  private rxIpv6Error(dev: Device, bytes: Uint8Array, off: number, len: number, e: Ipv6ParseError): void {
    this.counters.inc(reasonCounter("ipv6.rx", e.reason));
    if (e.icmp !== null && len >= IPV6_HEADER_LEN) {
      const mc = bytes[off + 24] === 0xff;
      // RFC 4443 2.4 (e.3): parameter problem about a multicast packet only for code 2 with 10 bits.
      if (!mc || e.icmp.multicastOk) {
        this.icmpError6(dev, bytes, off, false, false, e.icmp.type, e.icmp.code, e.icmp.pointer);
      }
    }
  }

  /**
   * The upper-layer protocol of a packet in transit after `parseHeader` (the chain walked with the
   * structural checks only; -1 when it is malformed). Its fragment fields are then known too.
   */
  private transitProto6(v: Ipv6View): number {
    return v.parseChainInTransit() === null ? v.proto : -1;
  }

  /**
   * A packet in transit that is a fragment other than the first (`icmpError6` sends no error about
   * those, as RFC 1122 3.2.2 asks for IPv4: they quote no upper-layer header).
   */
  private nonFirstFragment6(v: Ipv6View): boolean {
    v.parseChainInTransit();
    return v.hasFrag && v.fragOffset !== 0;
  }

  private deliver6(dev: Device, buf: Buf, v: Ipv6View, group: boolean): void {
    const info = this.rx6;
    info.src = v.src;
    info.dst = v.dst;
    info.device = dev.id;
    info.ttl = v.hopLimit;
    info.multicast = group;
    info.ipOff = v.off;
    const proto = v.proto;
    const protoPointer = v.protoPointer;
    buf.setRange(v.upperOff, v.off + v.len);
    this.counters.inc(C.ip6RxDelivered);
    if (proto === IpProto.Icmpv6) {
      this.rxIcmpv6(dev, buf, info);
      return;
    }
    if (proto === IpProto.Ipv6NoNext) {
      this.counters.inc(C.ip6RxNoNext);
      return;
    }
    const t = this.transports[proto];
    if (t !== undefined) {
      t.receive(info, buf);
      return;
    }
    this.counters.inc(C.ip6RxUnknownProto);
    // RFC 8200 4: an unrecognized Next Header: parameter problem code 1 pointing at the field.
    this.icmpError6(
      dev,
      buf.bytes,
      info.ipOff,
      group,
      false,
      Icmpv6Type.ParamProblem,
      Icmpv6ParamProblemCode.UnrecognizedNextHeader,
      protoPointer,
    );
  }

  private reassemble6(dev: Device, v: Ipv6View): void {
    this.counters.inc(C.ip6Fragments);
    const b = v.bytes;
    // RFC 7112 5: a first fragment that does not hold every header through the upper-layer header
    // is discarded with parameter problem code 3, pointer 0 (it defeats filtering and is never needed).
    if (v.fragOffset === 0 && v.moreFragments && v.off + v.len - v.upperOff < upperHeaderLen(v.proto)) {
      this.counters.inc(C.ip6FirstFragShort);
      this.icmpError6(
        dev,
        b,
        v.off,
        false,
        false,
        Icmpv6Type.ParamProblem,
        Icmpv6ParamProblemCode.IncompleteHeaderChain,
        0,
      );
      return;
    }
    const f = this.frag6;
    f.src = v.src;
    f.dst = v.dst;
    f.id = v.fragId;
    f.proto = b[v.fragHeaderOff];
    f.offset = v.fragOffset;
    f.more = v.moreFragments;
    f.bytes = b;
    f.off = v.fragmentableOff;
    f.len = v.off + v.len - v.fragmentableOff;
    f.headerLen = v.fragHeaderOff - v.off - IPV6_HEADER_LEN;
    f.header = f.offset === 0 ? b.subarray(v.off, v.fragHeaderOff) : null;
    const d = this.reassemble(this.reasm6, this.reasmTimer6, "ipv6.reassembly", C.ip6Reassembled, f);
    if (d === null) return;
    const { bytes, at, hl } = d;
    const plen = hl - IPV6_HEADER_LEN + d.len;
    bytes[at + 4] = plen >>> 8;
    bytes[at + 5] = plen & 0xff;
    // RFC 8200 4.5: the Next Header of the last unfragmentable header takes the fragment's.
    let nextField = at + 6;
    let p = at + IPV6_HEADER_LEN;
    while (p + 2 <= at + hl) {
      nextField = p;
      p += (bytes[p + 1] + 1) * 8;
    }
    bytes[nextField] = d.proto;
    this.rxIpv6(dev, new Buf(bytes, at, at + hl + d.len));
  }

  private reassemblyTimeout6(now: number): void {
    for (const x of this.reasm6.expire(now)) {
      this.counters.inc(C.ip6ReasmTimeout);
      // RFC 8200 4.5: time exceeded (reassembly) to the source, if the first fragment arrived.
      if (!x.timeExceeded || x.header === null) continue;
      const q = new Uint8Array(x.header.length + x.firstData.length);
      q.set(x.header, 0);
      q.set(x.firstData, x.header.length);
      const plen = q.length - IPV6_HEADER_LEN;
      q[4] = plen >>> 8;
      q[5] = plen & 0xff;
      const dev = this.findLocal6(x.dst, 0);
      this.icmpError6(
        dev,
        q,
        0,
        false,
        false,
        Icmpv6Type.TimeExceeded,
        Icmpv6TimeExceededCode.ReassemblyTimeExceeded,
        0,
      );
    }
    this.armReassembly(this.reasmTimer6, this.reasm6.nextDeadline());
  }

  // ---- IPv6 forwarding ----

  private forward6(dev: Device, buf: Buf, v: Ipv6View): void {
    if (!this.forwarding.v6 || dev.isLoopback) {
      this.counters.inc(C.ip6RxNotForUs);
      return;
    }
    const bytes = v.bytes;
    const src = v.src;
    const dst = v.dst;
    // RFC 4291 2.5.6: link-local sources and destinations are never forwarded.
    if (Ipv6.isLinkLocal(src) || Ipv6.isLinkLocal(dst) || Ipv6.isUnspecified(src)) {
      this.counters.inc(C.ip6FwdScope);
      this.icmpError6(
        dev,
        bytes,
        v.off,
        false,
        this.nonFirstFragment6(v),
        Icmpv6Type.DestUnreachable,
        Icmpv6DestUnreachableCode.BeyondScope,
        0,
      );
      return;
    }
    // RFC 8200 3 / RFC 4443 3.3: hop limit exhausted: time exceeded.
    if (v.hopLimit <= 1) {
      this.counters.inc(C.ip6FwdHopLimit);
      this.icmpError6(
        dev,
        bytes,
        v.off,
        false,
        this.nonFirstFragment6(v),
        Icmpv6Type.TimeExceeded,
        Icmpv6TimeExceededCode.HopLimitExceeded,
        0,
      );
      return;
    }
    const r = this.routes6.lookupWhere(dst, this.usableRoute as (r: Route<Ipv6Addr, DeviceId>) => boolean);
    if (r === null) {
      this.counters.inc(C.ip6FwdNoRoute);
      this.icmpError6(
        dev,
        bytes,
        v.off,
        false,
        this.nonFirstFragment6(v),
        Icmpv6Type.DestUnreachable,
        Icmpv6DestUnreachableCode.NoRoute,
        0,
      );
      return;
    }
    const out = this.devices[r.device];
    const len = v.len;
    if (len > out.mtu) {
      // RFC 8200 5 / RFC 4443 3.2: routers never fragment: packet too big with the link MTU.
      this.counters.inc(C.ip6FwdTooBig);
      this.icmpError6(dev, bytes, v.off, false, false, Icmpv6Type.PacketTooBig, 0, out.mtu);
      return;
    }
    decrementHopLimitInPlace(bytes, v.off);
    this.counters.inc(C.ip6Fwd);
    const hop = r.gateway ?? (Ipv6.copy(dst) as Ipv6Addr);
    buf.setRange(v.off, v.off + len);
    this.linkOutput(Ipv6, out, hop, buf);
  }

  // ---- ICMPv6 and NDP ----

  private rxIcmpv6(dev: Device, buf: Buf, info: RxInfo<Ipv6Addr>): void {
    const m = this.icmp6view;
    this.counters.inc(C.icmp6Rx);
    const e = m.parseFrom(buf.bytes, buf.start, buf.length, info.src, info.dst);
    if (e !== null) {
      this.counters.inc(reasonCounter("icmpv6.rx", e.reason));
      return;
    }
    const type = m.type;
    switch (type) {
      case Icmpv6Type.EchoRequest: {
        this.counters.inc(C.icmp6RxEchoRequest);
        if (info.multicast) {
          this.counters.inc(C.icmp6RxEchoIgnored);
          return;
        }
        // RFC 4443 4.2: the reply in the received buffer; the pseudo-header sum is unchanged by the
        // address swap, so only the type changes the checksum.
        const b = m.bytes;
        const o = m.off;
        const check = (b[o + 2] << 8) | b[o + 3];
        const c = update16(check, (b[o] << 8) | b[o + 1], Icmpv6Type.EchoReply << 8);
        b[o] = Icmpv6Type.EchoReply;
        b[o + 1] = 0;
        b[o + 2] = c >>> 8;
        b[o + 3] = c & 0xff;
        const err = this.send6({ src: info.dst, dst: info.src, proto: IpProto.Icmpv6 }, new BufBody(buf));
        if (err === null) this.counters.inc(C.icmp6TxEchoReply);
        return;
      }
      case Icmpv6Type.EchoReply:
        this.counters.inc(C.icmp6RxEchoReply);
        this.echo?.receiveEchoReply(info, m.id, m.seq, m.data());
        return;
      case Icmpv6Type.NeighborSolicitation:
        this.rxNs(dev, buf, info);
        return;
      case Icmpv6Type.NeighborAdvertisement:
        this.rxNa(dev, buf, info);
        return;
      case Icmpv6Type.RouterSolicitation:
        this.rxRs(dev, buf, info);
        return;
      case Icmpv6Type.RouterAdvertisement:
        this.rxRa(dev, buf, info);
        return;
      case Icmpv6Type.Redirect:
        this.rxRedirect6(dev, buf, info);
        return;
      case Icmpv6Type.MldQuery:
      case Icmpv6Type.MldReport:
      case Icmpv6Type.MldDone:
      case Icmpv6Type.Mldv2Report:
        this.rxMld(dev, buf, info);
        return;
      case Icmpv6Type.DestUnreachable:
      case Icmpv6Type.PacketTooBig:
      case Icmpv6Type.TimeExceeded:
      case Icmpv6Type.ParamProblem:
        this.rxIcmpv6Error(m);
        return;
      default:
        if (type >= 133 && type <= 137) this.counters.inc(C.ndpRxOther);
        else this.counters.inc(C.icmp6RxOther);
    }
  }

  private rxIcmpv6Error(m: Icmpv6View): void {
    this.counters.inc(C.icmp6RxError);
    const b = m.bytes;
    const q = m.payloadOff;
    const end = m.off + m.len;
    if (end - q < IPV6_HEADER_LEN || b[q] >>> 4 !== 6) {
      this.counters.inc(C.icmp6RxErrorShort);
      return;
    }
    const src = v6At(b, q + 8);
    const dst = v6At(b, q + 24);
    if (this.findLocal6(src, 0) === null) {
      this.counters.inc(C.icmp6RxErrorNotOurs);
      return;
    }
    const code = icmpv6ErrorCode(m.type, m.code);
    if (code === null) return;
    const info = this.err6;
    info.I = Ipv6;
    info.src = src;
    info.dst = dst;
    info.code = code;
    info.mtu = 0;
    if (m.type === Icmpv6Type.PacketTooBig) {
      // RFC 8201 4: lower the path MTU estimate (never below 1280).
      this.counters.inc(C.icmp6Pmtu);
      const now = this.bindings.now();
      this.pmtu6.update(dst, m.mtu, now);
      info.mtu = this.pmtu6.peek(dst, now) ?? 0;
    }
    // Walk the quoted extension headers (as far as they were quoted) to the upper layer.
    let next = b[q + 6];
    let p = q + IPV6_HEADER_LEN;
    for (let n = 0; n < 8 && p + 8 <= end; n++) {
      if (next === IpProto.HopByHop || next === IpProto.Ipv6Opts || next === IpProto.Ipv6Route) {
        next = b[p];
        p += (b[p + 1] + 1) * 8;
      } else if (next === IpProto.Ipv6Frag) {
        // A non-first fragment quotes no upper-layer header.
        if ((((b[p + 2] << 8) | b[p + 3]) & 0xfff8) !== 0) return;
        next = b[p];
        p += 8;
      } else break;
    }
    this.dispatchQuoted(info, b, p, end - p, next, IpProto.Icmpv6, Icmpv6Type.EchoRequest);
  }

  /**
   * Send an ICMPv6 error about the packet at `bytes[off]` (RFC 4443 2.4): never about an ICMPv6
   * error, an unspecified or multicast source, or (except packet too big and parameter problem
   * code 2, `groupOk`) a multicast destination; never about a non-first fragment; rate limited.
   */
  private icmpError6(
    dev: Device | null,
    bytes: Uint8Array,
    off: number,
    groupDst: boolean,
    nonFirstFragment: boolean,
    type: number,
    code: number,
    field: number,
  ): void {
    if (off < 0 || off + IPV6_HEADER_LEN > bytes.length) return;
    const plen = (bytes[off + 4] << 8) | bytes[off + 5];
    const len = Math.min(IPV6_HEADER_LEN + plen, bytes.length - off);
    const mcDst = groupDst || bytes[off + 24] === 0xff;
    const groupOk = type === Icmpv6Type.PacketTooBig || (type === Icmpv6Type.ParamProblem && code === 2);
    let suppress = nonFirstFragment || (mcDst && !groupOk) || bytes[off + 8] === 0xff || isZero6(bytes, off + 8);
    // RFC 4443 2.4 (e.1): never about an ICMPv6 error message.
    if (!suppress && bytes[off + 6] === IpProto.Icmpv6 && len > IPV6_HEADER_LEN && bytes[off + 40] < 128) {
      suppress = true;
    }
    if (suppress) {
      this.counters.inc(C.icmp6ErrSuppressed);
      return;
    }
    // RFC 4443 2.4 (f): rate limited.
    if (!this.icmpBucket6.take(this.bindings.now())) {
      this.counters.inc(C.icmp6ErrRateLimited);
      return;
    }
    const origSrc = v6At(bytes, off + 8).slice() as Ipv6Addr;
    const dst6 = v6At(bytes, off + 24);
    // RFC 4443 2.2: the source is the packet's destination when it was ours, else one of ours.
    let from: Ipv6Addr | null = !mcDst && this.findLocal6(dst6, 0) !== null ? (dst6.slice() as Ipv6Addr) : null;
    if (from === null) {
      from = this.selectSource(Ipv6, origSrc);
      if (from === null && dev !== null) from = this.sourceOn(Ipv6, dev, origSrc);
      if (from === null) return;
      from = from.slice() as Ipv6Addr;
    }
    // RFC 4443 2.4 (c): as much of the invoking packet as fits in the minimum MTU.
    const qlen = icmpv6QuoteLen(len);
    const body = Buf.alloc(LINK_PREFIX + IPV6_HEADER_LEN + 8, qlen, 0);
    body.bytes.set(bytes.subarray(off, off + qlen), body.start);
    const err = this.send6(
      { src: from, dst: origSrc, proto: IpProto.Icmpv6 },
      new BufBody(body).wrapIn(new Icmpv6ErrorBuilder(from, origSrc, type, code, field)),
    );
    if (err === null) this.counters.inc(C.icmp6TxError);
  }

  /** `IpSender.sendIcmpError`: a transport asks for an error about the packet it was given. */
  private sendIcmpErrorFor<A>(info: IpRxInfo<A>, buf: Buf, type: number, code: number, param: number): void {
    const dev = this.devices[info.device] ?? null;
    if (info.I.version === 4) {
      const rest = type === Icmpv4Type.ParamProblem ? ((param & 0xff) << 24) >>> 0 : param >>> 0;
      this.icmpError4(dev, buf.bytes, info.ipOff, info.multicast, type, code, rest);
    } else {
      this.icmpError6(dev, buf.bytes, info.ipOff, info.multicast, false, type, code, param >>> 0);
    }
  }

  private rxNs(dev: Device, buf: Buf, info: RxInfo<Ipv6Addr>): void {
    this.counters.inc(C.ndpRxNs);
    const ns = this.nsView;
    if (ns.parseFrom(buf.bytes, buf.start, buf.length) !== null) {
      this.counters.inc(C.ndpRxBad);
      return;
    }
    // RFC 4861 7.1.1: hop limit 255 (not forwarded) and code 0.
    if (!ndpValid(info.ttl, ns.code)) {
      this.counters.inc(C.ndpRxBadHopLimit);
      return;
    }
    const srcUnspecified = Ipv6.isUnspecified(info.src);
    const dstB = info.dst;
    // RFC 4861 7.1.1: from the unspecified source: to a solicited-node address, no SLLA option.
    if (
      !ns.validForSource(srcUnspecified) ||
      (srcUnspecified && !(dstB[0] === 0xff && dstB[1] === 0x02 && dstB[11] === 1 && dstB[12] === 0xff))
    ) {
      this.counters.inc(C.ndpRxBad);
      return;
    }
    const target = ns.target;
    const mine = dev.find6(target);
    if (mine === undefined || dev.isLoopback) {
      this.counters.inc(C.ndpRxNotOurTarget);
      return;
    }
    if (mine.state === "tentative") {
      // RFC 4862 5.4.3: another node probing the same tentative address: a duplicate. A
      // solicitation from a unicast source for a tentative address is ignored.
      if (srcUnspecified) this.dadFailed(dev, mine);
      return;
    }
    const sll = ns.sourceLinkAddr;
    // RFC 1812 3.3.2 (as for ARP): a group link address is never a neighbour's.
    if (sll !== null && (sll[0] & 1) !== 0) {
      this.counters.inc(C.ndpRxBadLinkAddr);
      return;
    }
    if (!srcUnspecified && sll !== null && dev.ndp !== null) {
      // RFC 4861 7.2.3: create or update the sender's entry (STALE when new or changed).
      this.learnStale6(dev, dev.ndp, info.src, sll);
    }
    // RFC 4861 7.2.4: answer with a solicited advertisement (to all-nodes when the source was ::).
    const to = srcUnspecified ? ALL_NODES : (info.src.slice() as Ipv6Addr);
    const tgt = target.slice() as Ipv6Addr;
    const na = new NeighborAdvertisementBuilder(
      tgt,
      to,
      tgt,
      { router: this.forwarding.v6, solicited: !srcUnspecified, override: true },
      [new LinkAddrOption(NdpOptionType.TargetLinkAddr, dev.mac)],
    );
    this.counters.inc(C.ndpTxNa);
    this.send6({ src: tgt, dst: to, proto: IpProto.Icmpv6, ttl: 255, device: dev.id }, EMPTY_BODY.wrapIn(na));
  }

  private rxNa(dev: Device, buf: Buf, info: RxInfo<Ipv6Addr>): void {
    this.counters.inc(C.ndpRxNa);
    const na = this.naView;
    if (na.parseFrom(buf.bytes, buf.start, buf.length) !== null) {
      this.counters.inc(C.ndpRxBad);
      return;
    }
    // RFC 4861 7.1.2: hop limit 255, code 0; to a multicast destination the S flag is clear.
    if (!ndpValid(info.ttl, na.code)) {
      this.counters.inc(C.ndpRxBadHopLimit);
      return;
    }
    if (!na.validForDestination(info.dst[0] === 0xff)) {
      this.counters.inc(C.ndpRxBad);
      return;
    }
    const target = na.target;
    const mine = dev.find6(target);
    if (mine !== undefined) {
      // RFC 4862 5.4.4: someone else answers for our address; a tentative one is a duplicate.
      this.counters.inc(C.ndpRxDuplicate);
      if (mine.state === "tentative") this.dadFailed(dev, mine);
      return;
    }
    const table = dev.ndp;
    const e = table?.get(target);
    if (table === null || e === undefined) {
      // RFC 4861 7.2.5: no entry: the advertisement is silently discarded.
      this.counters.inc(C.ndpRxUnsolicitedNa);
      return;
    }
    const tll = na.targetLinkAddr;
    // RFC 1812 3.3.2 (as for ARP): a group link address is never a neighbour's.
    if (tll !== null && (tll[0] & 1) !== 0) {
      this.counters.inc(C.ndpRxBadLinkAddr);
      return;
    }
    // RFC 4861 7.2.5.
    if (e.state === NeighborState.Incomplete) {
      if (tll === null) return;
      e.isRouter = na.router;
      if (na.solicited) this.confirm(Ipv6, dev, table, e, tll);
      else this.markStale(Ipv6, dev, e, tll);
      return;
    }
    const differs = tll !== null && !e.sameMac(tll);
    if (!na.override && differs) {
      if (e.state === NeighborState.Reachable) {
        e.state = NeighborState.Stale;
        this.timers.cancel(e.timer);
      }
      return;
    }
    e.isRouter = na.router;
    if (na.solicited) this.confirm(Ipv6, dev, table, e, tll ?? e.mac);
    else if (differs && tll !== null) this.markStale(Ipv6, dev, e, tll);
  }

  private rxRs(dev: Device, buf: Buf, info: RxInfo<Ipv6Addr>): void {
    this.counters.inc(C.ndpRxRs);
    const rs = this.rsView;
    if (rs.parseFrom(buf.bytes, buf.start, buf.length) !== null || !rs.validForSource(Ipv6.isUnspecified(info.src))) {
      this.counters.inc(C.ndpRxBad);
      return;
    }
    // RFC 4861 6.1.1: hop limit 255, code 0.
    if (!ndpValid(info.ttl, rs.code)) {
      this.counters.inc(C.ndpRxBadHopLimit);
      return;
    }
    // RFC 4861 6.2.6: a router answers (here: with a multicast advertisement).
    if (this.forwarding.v6 && dev.advert !== null) this.sendRouterAdvert(dev);
  }

  /**
   * RFC 4861 6.3.4 (hosts): learn the default router, the link MTU, the cur hop limit and on-link
   * prefixes; RFC 4862 5.5.3: form addresses from autonomous /64 prefixes (modified EUI-64).
   */
  private rxRa(dev: Device, buf: Buf, info: RxInfo<Ipv6Addr>): void {
    this.counters.inc(C.ndpRxRa);
    const ra = this.raView;
    if (ra.parseFrom(buf.bytes, buf.start, buf.length) !== null) {
      this.counters.inc(C.ndpRxBad);
      return;
    }
    // RFC 4861 6.1.2: hop limit 255, code 0, a link-local source.
    if (!ndpValid(info.ttl, ra.code)) {
      this.counters.inc(C.ndpRxBadHopLimit);
      return;
    }
    if (!Ipv6.isLinkLocal(info.src) || this.forwarding.v6 || dev.isLoopback) {
      this.counters.inc(C.ndpRxRaIgnored);
      return;
    }
    dev.raSeen = true;
    if (dev.rsTimer !== null) this.timers.cancel(dev.rsTimer);
    const router = info.src.slice() as Ipv6Addr;
    if (ra.curHopLimit !== 0) dev.curHopLimit = ra.curHopLimit;
    const now = this.bindings.now();
    this.updateRouter(dev, router, ra.routerLifetime, now);
    // RFC 4861 6.3.4: the MTU option sets the link MTU when it is valid for the link.
    const mtu = ra.mtu;
    if (mtu >= Ipv6.minMtu && mtu <= dev.maxMtu) dev.mtu = mtu;
    const sll = ra.sourceLinkAddr;
    // RFC 1812 3.3.2 (as for ARP): a group link address is never a neighbour's.
    if (sll !== null && (sll[0] & 1) !== 0) {
      this.counters.inc(C.ndpRxBadLinkAddr);
      return;
    }
    if (sll !== null && dev.ndp !== null) {
      const e = dev.ndp.get(router);
      if (e === undefined) {
        const c = dev.ndp.create(router);
        if (c.evicted !== null) this.dropEntry(c.evicted);
        c.entry.isRouter = true;
        this.markStale(Ipv6, dev, c.entry, sll);
      } else if (e.state === NeighborState.Incomplete || !e.sameMac(sll)) this.markStale(Ipv6, dev, e, sll);
    }
    const cur = ra.options(this.ndpCursor);
    while (cur.next()) {
      const prefix = cur.prefix;
      if (prefix === null) continue;
      const len = cur.prefixLength;
      // RFC 4861 6.3.4 / RFC 4862 5.5.3 (b): the link-local prefix is ignored.
      if (Ipv6.isLinkLocal(prefix) || len > 128) continue;
      const valid = cur.validLifetime;
      const preferred = cur.preferredLifetime;
      if (cur.onLink) this.updatePrefix(dev, Subnet.of(Ipv6, prefix, len), valid, now);
      // RFC 4862 5.5.3 (c), (d): autonomous, preferred <= valid, and an interface identifier of 64 bits.
      if (!cur.autonomous || preferred > valid || len !== 64) continue;
      const a = new Uint8Array(16) as Ipv6Addr;
      a.set(prefix.subarray(0, 8), 0);
      eui64Into(dev.mac, a, 8);
      const have = dev.find6(a);
      if (have !== undefined) {
        if (have.origin === "slaac") this.refreshSlaac(dev, have, valid, preferred, now);
        continue;
      }
      // RFC 4862 5.5.3 (d): a new prefix forms an address only with a non-zero valid lifetime.
      if (valid === 0) continue;
      this.counters.inc(C.slaacAddresses);
      const da = this.addAddr6(dev, a, 64, "slaac");
      this.setValid(dev, da, valid === INFINITE_LIFETIME ? Number.POSITIVE_INFINITY : now + valid * 1000);
      this.setPreferred(dev, da, preferred, now);
    }
  }

  // ---- router, prefix and address lifetimes (RFC 4861 6.3.4, RFC 4862 5.5.3 / 5.5.4) ----

  /** RFC 4861 6.3.4: add, refresh or (lifetime 0) time out a default router. */
  private updateRouter(dev: Device, addr: Ipv6Addr, lifetime: number, now: number): void {
    const key = v6Key(addr);
    const r = dev.routers6.get(key);
    if (lifetime === 0) {
      // RFC 4861 6.3.4: a Router Lifetime of zero times the router out immediately.
      if (r !== undefined) this.dropRouter(dev, r);
      return;
    }
    const at = now + lifetime * 1000;
    if (r !== undefined) {
      this.timers.schedule(r.timer, at);
      return;
    }
    // The list is bounded: routers beyond it are not remembered (RFC 4861 6.3.4 allows it).
    if (dev.routers6.size >= this.limits.maxRouters) return;
    const entry: LearnedRouter = {
      addr,
      timer: this.keyedTimers.create("lifetime", dev.id, () => {
        this.counters.inc(C.routerExpired);
        this.dropRouter(dev, entry);
      }),
    };
    dev.routers6.set(key, entry);
    this.routes6.add({ subnet: DEFAULT_ROUTE6, device: dev.id, gateway: addr });
    this.timers.schedule(entry.timer, at);
  }

  private dropRouter(dev: Device, r: LearnedRouter): void {
    const key = v6Key(r.addr);
    if (dev.routers6.get(key) !== r) return;
    dev.routers6.delete(key);
    this.timers.cancel(r.timer);
    this.keyedTimers.release(r.timer);
    this.routes6.remove(DEFAULT_ROUTE6, dev.id, r.addr);
  }

  /** RFC 4861 6.3.4: add, refresh or (valid lifetime 0) time out an on-link prefix. */
  private updatePrefix(dev: Device, subnet: Subnet<Ipv6Addr>, valid: number, now: number): void {
    const key = subnet.toString();
    const p = dev.prefixes6.get(key);
    if (valid === 0) {
      if (p !== undefined) this.dropPrefix(dev, p);
      return;
    }
    let entry = p;
    if (entry === undefined) {
      if (dev.prefixes6.size >= this.limits.maxPrefixes) return;
      const e: LearnedPrefix = {
        subnet,
        timer: this.keyedTimers.create("lifetime", dev.id, () => {
          this.counters.inc(C.prefixExpired);
          this.dropPrefix(dev, e);
        }),
      };
      entry = e;
      dev.prefixes6.set(key, e);
      this.routes6.add({ subnet, device: dev.id });
    }
    if (valid === INFINITE_LIFETIME) this.timers.cancel(entry.timer);
    else this.timers.schedule(entry.timer, now + valid * 1000);
  }

  private dropPrefix(dev: Device, p: LearnedPrefix): void {
    const key = p.subnet.toString();
    if (dev.prefixes6.get(key) !== p) return;
    dev.prefixes6.delete(key);
    this.timers.cancel(p.timer);
    this.keyedTimers.release(p.timer);
    // An address on the prefix keeps its on-link route until it goes itself.
    if (!dev.v6.some((x) => x.subnet.equals(p.subnet))) this.routes6.remove(p.subnet, dev.id, null);
  }

  /** RFC 4862 5.5.3 (e): an advertisement for the prefix of an existing SLAAC address. */
  private refreshSlaac(dev: Device, da: DeviceAddr<Ipv6Addr>, valid: number, preferred: number, now: number): void {
    this.setPreferred(dev, da, preferred, now);
    const remaining = da.validUntil - now;
    const advertised = valid === INFINITE_LIFETIME ? Number.POSITIVE_INFINITY : valid * 1000;
    // The two-hour rule: 1. longer than two hours or than what remains: take it.
    if (advertised > TWO_HOURS_MS || advertised > remaining) this.setValid(dev, da, now + advertised);
    // 2. two hours or less remain: ignore it (unauthenticated advertisements cannot shorten it);
    // 3. otherwise: two hours.
    else if (remaining > TWO_HOURS_MS) this.setValid(dev, da, now + TWO_HOURS_MS);
  }

  private setValid(dev: Device, da: DeviceAddr<Ipv6Addr>, until: number): void {
    da.validUntil = until;
    da.validTimer ??= this.keyedTimers.create("lifetime", dev.id, () => {
      // RFC 4862 5.5.4: an address whose valid lifetime ends is removed.
      this.counters.inc(C.slaacExpired);
      this.removeAddr6(dev, da, true);
    });
    if (until === Number.POSITIVE_INFINITY) this.timers.cancel(da.validTimer);
    else this.timers.schedule(da.validTimer, until);
  }

  private setPreferred(dev: Device, da: DeviceAddr<Ipv6Addr>, lifetime: number, now: number): void {
    const until = lifetime === INFINITE_LIFETIME ? Number.POSITIVE_INFINITY : now + lifetime * 1000;
    da.preferredUntil = until;
    da.preferredTimer ??= this.keyedTimers.create("lifetime", dev.id, () => this.deprecate(dev, da));
    if (until <= now) {
      this.timers.cancel(da.preferredTimer);
      this.deprecate(dev, da);
      return;
    }
    if (until === Number.POSITIVE_INFINITY) this.timers.cancel(da.preferredTimer);
    else this.timers.schedule(da.preferredTimer, until);
    // RFC 4862 5.5.4: a deprecated address whose preferred lifetime is renewed is preferred again.
    if (da.state === "deprecated") {
      da.state = "assigned";
      this.emit({ type: "address-changed", device: dev.id, addr: da.addr, prefixLen: da.prefixLen, state: "assigned" });
    }
  }

  /** RFC 4862 5.5.4: the preferred lifetime ended: still ours, no longer a source for new traffic. */
  private deprecate(dev: Device, da: DeviceAddr<Ipv6Addr>): void {
    // A tentative address is deprecated when DAD passes (`dadStep`).
    if (da.state !== "assigned") return;
    da.state = "deprecated";
    this.counters.inc(C.slaacDeprecated);
    this.emit({ type: "address-changed", device: dev.id, addr: da.addr, prefixLen: da.prefixLen, state: "deprecated" });
  }

  // ---- multicast membership (from the UDP layer) ----

  private membershipChanged(I: IpVersion<IpAddr>, group: IpAddr, device: DeviceId | null, joined: boolean): void {
    for (const d of this.devices) {
      if (d.isLoopback || (device !== null && d.id !== device)) continue;
      // The receive filter (reference counted), and IGMP / MLD reports (RFC 2236 3, RFC 3810 6.1).
      if (I.version === 4) {
        const g = group as Ipv4Addr;
        const n = d.groups4.get(g) ?? 0;
        if (joined) d.groups4.set(g, n + 1);
        else if (n <= 1) d.groups4.delete(g);
        else d.groups4.set(g, n - 1);
        if (joined) this.igmp.join(d.id, g);
        else if (n > 0) this.igmp.leave(d.id, g);
      } else if (joined) {
        d.join6(group as Ipv6Addr);
        this.mld.join(d.id, group as Ipv6Addr);
      } else if (d.inGroup6(group as Ipv6Addr)) {
        d.leave6(group as Ipv6Addr);
        this.mld.leave(d.id, group as Ipv6Addr);
      }
    }
  }

  /** IPv6 groups a device listens to (RFC 5952 text), for tests and tools. */
  groups6(device: DeviceId): string[] {
    const d = this.devices[device];
    if (d === undefined) return [];
    return [...d.groups6.keys()].map((k) => {
      const a = new Uint8Array(16);
      for (let i = 0; i < 16; i++) a[i] = Number.parseInt(k.slice(2 * i, 2 * i + 2), 16);
      return formatV6(a);
    });
  }
}
