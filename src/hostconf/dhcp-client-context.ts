/**
 * The DHCPv4 client's contract with the Stack (`DhcpClientContext`), its configuration, the lease
 * it holds, its timer kind and event, and the address arithmetic of RFC 2131 / RFC 2132 it needs
 * (usable addresses, netmasks, the search domain of option 15). The state machine is
 * dhcp-client.ts.
 */
import type { DeviceId, StackEvent, TimerId } from "../context.ts";
import type { Ipv4Addr } from "../ip/addr.ts";
import type { PacketBuilder } from "../packet/serialize.ts";
import type { Timer } from "../timers.ts";
import { DhcpOption } from "../wire/dhcp.ts";

declare module "../context.ts" {
  interface TimerIdMap {
    /** The DHCPv4 client of `device`: message retransmission, or the lease times (T1, T2, expiry). */
    dhcp: { device: DeviceId; which: "retransmit" | "lease" };
  }
  interface StackEventMap {
    /** The DHCPv4 client of `device` got, renewed or lost its lease (`state` says which). */
    dhcp: {
      device: DeviceId;
      state: DhcpLeaseEvent;
      addr: Ipv4Addr;
      prefixLen: number;
      server: Ipv4Addr;
      /** Lease length in seconds (0xffffffff: infinite); 0 when the lease is gone. */
      leaseSeconds: number;
    };
  }
}

/** What happened to a lease. */
export type DhcpLeaseEvent = "bound" | "renewed" | "rebound" | "expired" | "nak" | "declined" | "released";

/** The client's states (RFC 2131 figure 5, with "checking" for the RFC 5227 probe after the ACK). */
export type DhcpClientState =
  | "stopped"
  | "init"
  | "selecting"
  | "requesting"
  | "checking"
  | "bound"
  | "renewing"
  | "rebinding"
  | "init-reboot"
  | "rebooting";

/** What the DHCP client needs from the Stack. */
export interface DhcpClientContext {
  /** Monotonic time in ms. */
  now(): number;
  /** A uniformly random 32-bit unsigned integer. */
  random(): number;
  schedule(timer: Timer<TimerId>, at: number): void;
  cancel(timer: Timer<TimerId>): void;
  /**
   * Send a DHCP message (serialize `msg` around an empty body) in a UDP datagram from port 68 to
   * port 67 of `dst`, with IPv4 source `src` (0.0.0.0 until an address is bound), on `device`.
   * 255.255.255.255 goes to the Ethernet broadcast address without routing; a unicast `dst`
   * (renewal, release) is routed and resolved as usual.
   */
  sendDhcp(device: DeviceId, src: Ipv4Addr, dst: Ipv4Addr, msg: PacketBuilder): void;
  /**
   * RFC 5227 2.1.1: probe `addr` on `device` (ARP probes from 0.0.0.0, PROBE_NUM of them after a
   * random PROBE_WAIT, then ANNOUNCE_WAIT) and call `client.probeResult(addr, inUse)` when done:
   * `inUse` when an ARP packet had `addr` as sender, or a probe from another host had it as
   * target. Called at most once at a time per client.
   */
  probeAddress(device: DeviceId, addr: Ipv4Addr): void;
  /** Abandon the probe of `addr` (no result is expected any more). */
  cancelProbe(device: DeviceId, addr: Ipv4Addr): void;
  /**
   * Install `addr/prefixLen` on `device` with its on-link subnet route (RFC 5227 2.3: announce it
   * with ARP). From then on ARP packets naming `addr` from another host go to `onConflict`.
   */
  addAddress4(device: DeviceId, addr: Ipv4Addr, prefixLen: number): void;
  /** Remove an address added by `addAddress4`, and its subnet route. */
  removeAddress4(device: DeviceId, addr: Ipv4Addr, prefixLen: number): void;
  /** Add a route to `prefix/prefixLen` via `gateway` (the default route: 0.0.0.0/0). */
  addRoute4(device: DeviceId, prefix: Ipv4Addr, prefixLen: number, gateway: Ipv4Addr): void;
  /** Remove a route added by `addRoute4`. */
  removeRoute4(device: DeviceId, prefix: Ipv4Addr, prefixLen: number, gateway: Ipv4Addr): void;
  /** Set the IPv4 MTU of `device` (RFC 2132 5.1); null gives the link's own MTU back. */
  setMtu4(device: DeviceId, mtu: number | null): void;
  /** Name servers and search domains learned on `device` (empty lists: none any more). */
  setDnsConfig(device: DeviceId, servers: readonly Ipv4Addr[], search: readonly string[]): void;
  /** Tell the application (`address-changed`, `dhcp`). */
  emit(event: StackEvent): void;
}

export interface DhcpClientConfig {
  /** Option 61 (RFC 2132 9.14); default: type 1 (Ethernet) and the MAC. Empty: not sent. */
  clientId: Uint8Array | null;
  /** Option 12 (RFC 2132 3.14), sent when not null. */
  hostName: string | null;
  /** Option 55, the parameters asked for. */
  requestOptions: readonly number[];
  /**
   * Set the broadcast flag (RFC 2131 4.1) while no address is bound: the Stack accepts no
   * unicast to an address it has not been given. Default true.
   */
  broadcastFlag: boolean;
  /** Check the address with ARP (RFC 5227) before using it; DECLINE when taken. Default true. */
  probe: boolean;
  /** Upper bound of the random delay before the first DISCOVER, ms (RFC 2131 4.4.1). Default 1000. */
  startDelayMax: number;
  /** REQUESTs sent in REQUESTING before starting again from INIT. Default 4. */
  requestAttempts: number;
  /** REQUESTs sent in REBOOTING before falling back to INIT. Default 2. */
  rebootAttempts: number;
  /** Wait after a DECLINE before starting again, ms (RFC 2131 3.1.5: at least ten seconds). Default 10000. */
  declineWait: number;
  /** Option 57, the largest message we accept. Default 1472 (a 1500-byte MTU less IPv4 and UDP headers). */
  maxMessageSize: number;
  /** Shorter leases are taken as this long, in seconds (bounds renewal traffic). Default 60. */
  minLeaseSeconds: number;
  /** Routers kept from option 3. Default 4 (the first is the default route). */
  maxRouters: number;
  /** Name servers kept from option 6. Default 3 (resolv.conf's MAXNS). */
  maxDnsServers: number;
}

/** RFC 2131 4.4.5: retransmissions in RENEWING and REBINDING are at least 60 s apart. */
export const RENEW_MIN_RETRANSMIT_MS = 60_000;

export const DEFAULT_DHCP_CLIENT_CONFIG: DhcpClientConfig = {
  clientId: null,
  hostName: null,
  requestOptions: [
    DhcpOption.SubnetMask,
    DhcpOption.Router,
    DhcpOption.DomainNameServer,
    DhcpOption.DomainName,
    DhcpOption.InterfaceMtu,
    DhcpOption.LeaseTime,
    DhcpOption.ServerId,
    DhcpOption.RenewalTime,
    DhcpOption.RebindingTime,
  ],
  broadcastFlag: true,
  probe: true,
  startDelayMax: 1000,
  requestAttempts: 4,
  rebootAttempts: 2,
  declineWait: 10_000,
  maxMessageSize: 1472,
  minLeaseSeconds: 60,
  maxRouters: 4,
  maxDnsServers: 3,
};

/** A lease as the client holds it. Times are the context's clock, in ms. */
export interface DhcpLease {
  addr: Ipv4Addr;
  prefixLen: number;
  server: Ipv4Addr;
  routers: Ipv4Addr[];
  dnsServers: Ipv4Addr[];
  /** Option 15, the search domain; null when absent. */
  domain: string | null;
  /** Option 26; -1 when absent. */
  mtu: number;
  /** Seconds; 0xffffffff is infinite. */
  leaseSeconds: number;
  /** When the REQUEST that got the lease was first sent (RFC 2131 4.4.1: the lease counts from there). */
  start: number;
  t1: number;
  t2: number;
  expires: number;
}

/** True for an address a server may hand out: not 0/8, 127/8, multicast, class E or broadcast. */
export function usableUnicast(a: number): boolean {
  const top = a >>> 24;
  return top !== 0 && top !== 127 && top < 224;
}

/** The prefix length of a contiguous netmask; -1 when it is not contiguous. */
export function maskToPrefix(mask: number): number {
  const m = mask >>> 0;
  const len = Math.clz32(~m >>> 0);
  const back = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return back === m ? len : -1;
}

/** The classful prefix length of `a` (RFC 791 3.2), used when a lease has no subnet mask. */
export function classfulPrefix(a: number): number {
  const top = a >>> 24;
  return top < 128 ? 8 : top < 192 ? 16 : 24;
}

export function sameList(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Option 15 as a search domain: trimmed of a final dot; null when empty or not a plausible name. */
export function cleanDomain(s: string | null): string | null {
  if (s === null) return null;
  const t = s.endsWith(".") ? s.slice(0, -1) : s;
  // RFC 1035 2.3.4: at most 253 characters of text; letters, digits, hyphens, dots, underscores.
  if (t.length === 0 || t.length > 253 || !/^[A-Za-z0-9_.-]+$/.test(t) || t.includes("..")) return null;
  return t;
}
