/**
 * Neighbour unreachability detection, written once for both IP versions: RFC 4861 7.2 (address
 * resolution: queue, solicit, give up) and 7.3 (the INCOMPLETE / REACHABLE / STALE / DELAY / PROBE
 * machine), used by NDP for IPv6 and, as Linux does, by ARP for IPv4 (RFC 826,
 * RFC 1122 2.3.2.1: ARP requests are the solicitations, replies the confirmations).
 *
 * One `Nud<A>` per IP version drives the neighbour tables of every device (device/neighbor.ts): it
 * sends packets to resolved neighbours, queues them (bounded) while a neighbour is resolved, owns
 * the entries' timers, and applies what the protocol learned (`confirm`, `markStale`,
 * `learnStale`). What differs between the versions comes through `NeighborProtocol`: how a
 * solicitation is sent (an ARP request, device/arp.ts; a neighbour solicitation, src/ip/ndp.ts)
 * and what happens to packets whose neighbour never answered (ICMP unreachable, src/ip/).
 */

import type { Core } from "../core.ts";
import { type Counters, counter } from "../counters.ts";
import type { IpVersion } from "../ip/version.ts";
import type { Buf } from "../packet/buf.ts";
import { EtherType } from "../wire/ethernet.ts";
import type { Device } from "./device.ts";
import type { Ethernet } from "./ethernet.ts";
import { type NeighborEntry, NeighborState, type NeighborTable } from "./neighbor.ts";

const RESOLVED = counter("neighbor.resolved");
const FAILED = counter("neighbor.resolution-failed");
const EVICTED = counter("neighbor.evicted");
const PENDING_DROPPED = counter("neighbor.pending-dropped");
const QUEUED = counter("neighbor.queued");
const PROBE_FAILED = counter("neighbor.probe-failed");

/** RFC 4861 section 10 constants, as the Stack configures them (`StackLimits.neighbor*`). */
export interface NudConfig {
  /** RetransTimer, ms (a device may have learned its own: `Device.retransMs`). */
  retransMs: number;
  /** MAX_MULTICAST_SOLICIT: broadcast or multicast solicitations before resolution fails. */
  multicastSolicit: number;
  /** MAX_UNICAST_SOLICIT: unicast probes before an entry is dropped. */
  unicastSolicit: number;
  /** ReachableTime, ms (a device may have learned its own: `Device.reachableMs`). */
  reachableMs: number;
  /** DELAY_FIRST_PROBE_TIME, ms. */
  delayMs: number;
}

/** What differs between ARP and NDP. */
export interface NeighborProtocol<A> {
  /** Solicit `e`: broadcast or multicast, or unicast to `e.mac` when probing (RFC 4861 7.3.3). */
  solicit(dev: Device, e: NeighborEntry<A>, unicast: boolean): void;
  /**
   * Resolution failed: `pkt` (a complete IP packet) was waiting for it. RFC 4861 7.2.2 / RFC 1122
   * 2.3.2.2: answered with ICMP destination unreachable.
   */
  unreachable(dev: Device, pkt: Buf): void;
}

export class Nud<A> {
  /** The version's protocol; set by the Stack. */
  protocol: NeighborProtocol<A> | null = null;

  private readonly v4: boolean;
  private readonly etherType: number;
  private readonly counters: Counters;

  constructor(
    private readonly core: Core,
    private readonly ethernet: Ethernet,
    readonly ip: IpVersion<A>,
    readonly config: NudConfig,
  ) {
    this.v4 = ip.version === 4;
    this.etherType = this.v4 ? EtherType.Ipv4 : EtherType.Ipv6;
    this.counters = core.counters;
  }

  /** The device's table for this version (null: loopback). */
  private tableOf(dev: Device): NeighborTable<A> | null {
    return (this.v4 ? dev.neighbors4 : dev.neighbors6) as NeighborTable<A> | null;
  }

  private retransMs(dev: Device): number {
    return dev.retransMs > 0 ? dev.retransMs : this.config.retransMs;
  }

  /**
   * Send the IP packet in `pkt` to neighbour `hop` on `dev`, or queue it while `hop` is resolved.
   * Returns true when the packet was queued (its buffer is kept past this call).
   */
  send(dev: Device, hop: A, pkt: Buf): boolean {
    const table = this.tableOf(dev);
    if (table === null) return false;
    let e = table.get(hop);
    if (e !== undefined && e.state !== NeighborState.Incomplete) {
      // RFC 4861 7.3.3: the first use of a STALE entry starts the DELAY timer.
      if (e.state === NeighborState.Stale) {
        e.state = NeighborState.Delay;
        this.core.timers.schedule(e.timer, this.core.now() + this.config.delayMs);
      }
      this.ethernet.send(dev, e.mac, this.etherType, pkt);
      return false;
    }
    const counters = this.counters;
    if (e === undefined) {
      e = this.create(table, hop);
      e.probes = 1;
      this.core.timers.schedule(e.timer, this.core.now() + this.retransMs(dev));
      if (table.enqueue(e, pkt) !== "queued") counters.inc(PENDING_DROPPED);
      else counters.inc(QUEUED);
      this.protocol?.solicit(dev, e, false);
      return true;
    }
    // RFC 4861 7.2.2 / RFC 1122 2.3.2.2: queue while resolution is in progress; bounded.
    if (table.enqueue(e, pkt) !== "queued") counters.inc(PENDING_DROPPED);
    else counters.inc(QUEUED);
    return true;
  }

  /** A new entry for `addr` in `table`; an entry evicted to make room loses its timer and packets. */
  private create(table: NeighborTable<A>, addr: A): NeighborEntry<A> {
    const c = table.create(addr);
    const old = c.evicted;
    if (old !== null) {
      this.core.generation++;
      this.core.timers.cancel(old.timer);
      this.core.counters.inc(EVICTED);
      if (old.pending.length > 0) this.core.counters.inc(PENDING_DROPPED, old.pending.length);
      old.pending = [];
    }
    return c.entry;
  }

  /** The entry's timer fired (`{ kind: "neighbor", device, addr }`). */
  timer(dev: Device, addr: A): void {
    const table = this.tableOf(dev);
    const e = table?.get(addr);
    if (table === null || e === undefined) return;
    const config = this.config;
    const timers = this.core.timers;
    const now = this.core.now();
    switch (e.state) {
      case NeighborState.Incomplete:
        if (e.probes < config.multicastSolicit) {
          e.probes++;
          timers.schedule(e.timer, now + this.retransMs(dev));
          this.protocol?.solicit(dev, e, false);
          return;
        }
        this.failed(dev, table, e);
        return;
      case NeighborState.Reachable:
        // RFC 4861 7.3.2: REACHABLE becomes STALE after ReachableTime without confirmation.
        e.state = NeighborState.Stale;
        return;
      case NeighborState.Delay:
        e.state = NeighborState.Probe;
        e.probes = 1;
        timers.schedule(e.timer, now + this.retransMs(dev));
        this.protocol?.solicit(dev, e, true);
        return;
      case NeighborState.Probe:
        if (e.probes < config.unicastSolicit) {
          e.probes++;
          timers.schedule(e.timer, now + this.retransMs(dev));
          this.protocol?.solicit(dev, e, true);
          return;
        }
        // RFC 4861 7.3.3: no answer to the probes: the entry is deleted.
        this.core.counters.inc(PROBE_FAILED);
        table.delete(e);
        this.core.generation++;
        return;
      default:
        return;
    }
  }

  /** RFC 4861 7.2.2 / RFC 1122 2.3.2.2: resolution failed: every queued packet is answered and dropped. */
  private failed(dev: Device, table: NeighborTable<A>, e: NeighborEntry<A>): void {
    table.delete(e);
    this.core.generation++;
    this.core.counters.inc(FAILED);
    const pending = e.pending;
    e.pending = [];
    for (const p of pending) {
      this.core.counters.inc(PENDING_DROPPED);
      this.protocol?.unreachable(dev, p);
    }
  }

  /** Mark `e` REACHABLE with `mac` (RFC 4861 7.2.5 solicited advertisement; an ARP reply). */
  confirm(dev: Device, e: NeighborEntry<A>, mac: Uint8Array): void {
    const table = this.tableOf(dev);
    if (table === null) return;
    e.setMac(mac);
    const wasIncomplete = e.state === NeighborState.Incomplete;
    e.state = NeighborState.Reachable;
    e.confirmed = true;
    e.probes = 0;
    table.touch(e);
    const reachable = dev.reachableMs > 0 ? dev.reachableMs : this.config.reachableMs;
    this.core.timers.schedule(e.timer, this.core.now() + reachable);
    if (wasIncomplete) this.core.counters.inc(RESOLVED);
    this.flush(dev, e);
  }

  /** Record `mac` for `e` as STALE (unsolicited information, RFC 4861 7.2.3 / 7.2.5; RFC 826 merge). */
  markStale(dev: Device, e: NeighborEntry<A>, mac: Uint8Array): void {
    const wasIncomplete = e.state === NeighborState.Incomplete;
    e.setMac(mac);
    e.state = NeighborState.Stale;
    e.probes = 0;
    this.core.timers.cancel(e.timer);
    if (wasIncomplete) {
      this.core.counters.inc(RESOLVED);
      this.flush(dev, e);
    }
  }

  /**
   * Create `addr`'s entry, or update it, as STALE with `mac` when new or changed (RFC 4861 7.2.3 for
   * a solicitation's source, 8.3 for a redirect's target, 6.3.4 for a router; RFC 826 "Packet
   * Reception" for an ARP sender addressed to us). Returns the entry.
   */
  learnStale(dev: Device, addr: A, mac: Uint8Array): NeighborEntry<A> | null {
    const table = this.tableOf(dev);
    if (table === null) return null;
    const e = table.get(addr);
    if (e === undefined) {
      const fresh = this.create(table, addr);
      this.markStale(dev, fresh, mac);
      return fresh;
    }
    if (e.state === NeighborState.Incomplete || !e.sameMac(mac)) this.markStale(dev, e, mac);
    return e;
  }

  /** Send every packet queued on a now-resolved entry. */
  private flush(dev: Device, e: NeighborEntry<A>): void {
    if (e.pending.length === 0) return;
    const q = e.pending;
    e.pending = [];
    for (const p of q) this.ethernet.send(dev, e.mac, this.etherType, p);
  }

  /** The device went down: every entry goes, with its timer and queued packets (counted). */
  clear(dev: Device): void {
    const table = this.tableOf(dev);
    if (table === null) return;
    for (const e of table.values()) {
      this.core.timers.cancel(e.timer);
      this.core.counters.inc(PENDING_DROPPED, e.pending.length);
    }
    table.clear();
  }
}
