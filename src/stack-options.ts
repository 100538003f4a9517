/**
 * What a Stack is built and configured with: its options, every bound and protocol timer it uses
 * (`StackLimits`, each listed in the README's Bounds table with the counter that shows it being
 * hit), and the shapes of its configuration calls and reports. The neighbour, DAD and router
 * discovery defaults are the RFC 4861 section 10 / RFC 4862 constants of src/hostconf/constants.ts.
 */

import type { DeviceId, IpAddr } from "./context.ts";
import type { NEIGHBOR_STATE_NAMES } from "./device/neighbor.ts";
import {
  DELAY_FIRST_PROBE_TIME_MS,
  DUP_ADDR_DETECT_TRANSMITS,
  MAX_MULTICAST_SOLICIT,
  MAX_RTR_SOLICITATION_DELAY_MS,
  MAX_RTR_SOLICITATIONS,
  MAX_UNICAST_SOLICIT,
  REACHABLE_TIME_MS,
  RETRANS_TIMER_MS,
  RTR_SOLICITATION_INTERVAL_MS,
} from "./hostconf/constants.ts";
import type { MacAddr } from "./ip/addr.ts";
import type { IcmpEchoLimits } from "./transport/icmp-echo.ts";
import type { TcpConfig } from "./transport/tcp/config.ts";
import type { UdpLimits } from "./transport/udp/udp.ts";

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
  /** Addresses formed by SLAAC (RFC 4862 5.5.3) per device. Default 16. */
  slaacAddresses: number;
  /** Host routes learned from ICMP redirects, per version (oldest dropped first). Default 256. */
  redirectRoutes: number;
}

export const DEFAULT_STACK_LIMITS: Readonly<StackLimits> = Object.freeze({
  neighborEntries: 512,
  neighborPending: 16,
  neighborRetransMs: RETRANS_TIMER_MS,
  neighborMulticastSolicit: MAX_MULTICAST_SOLICIT,
  neighborUnicastSolicit: MAX_UNICAST_SOLICIT,
  neighborReachableMs: REACHABLE_TIME_MS,
  neighborDelayMs: DELAY_FIRST_PROBE_TIME_MS,
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
  dadTransmits: DUP_ADDR_DETECT_TRANSMITS,
  routerSolicitations: MAX_RTR_SOLICITATIONS,
  routerSolicitIntervalMs: RTR_SOLICITATION_INTERVAL_MS,
  dadMaxDelayMs: MAX_RTR_SOLICITATION_DELAY_MS,
  maxRouters: 8,
  maxPrefixes: 16,
  slaacAddresses: 16,
  redirectRoutes: 256,
});

/**
 * IPv6 host configuration (src/hostconf/) beyond what the Stack does by default; each is off by
 * default, which keeps the behaviour the Stack has always had.
 */
export interface HostconfOptions {
  /** RFC 7527: a nonce in DAD probes, so our own probe looped back by the link is no duplicate. */
  dadNonce?: boolean;
  /** RFC 4861 6.3.7: a random delay up to MAX_RTR_SOLICITATION_DELAY before the first router solicitation. */
  randomSolicitationDelay?: boolean;
  /** RFC 4861 6.3.4: take ReachableTime and RetransTimer from router advertisements. */
  learnNeighborTimes?: boolean;
  /** Interface identifiers: "eui64" (RFC 4291 appendix A, the default) or "stable" (RFC 7217). */
  iid?: "eui64" | "stable";
  /** RFC 7217 5: the 16-byte secret of stable identifiers (kept across restarts); random when absent. */
  stableSecret?: Uint8Array;
  /** IGMP version: 2 (RFC 2236, the default) or 3 (RFC 3376 reports, with IGMPv2/v1 compatibility). */
  igmpVersion?: 2 | 3;
  /** MLD version: 2 (RFC 3810 with MLDv1 compatibility, the default) or 1 (RFC 2710 only). */
  mldVersion?: 1 | 2;
}

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
  /** IPv6 host configuration features (all off by default). */
  hostconf?: HostconfOptions;
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
  /** Generate the fe80::/64 link-local address when the device comes up (RFC 4862 5.3). Default true. */
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

/** A neighbour as `Stack.neighbors()` reports it. */
export interface NeighborInfo {
  addr: string;
  mac: string | null;
  state: (typeof NEIGHBOR_STATE_NAMES)[number];
  pending: number;
}
