/**
 * A neighbour table for one device and one IP version: ARP's cache (RFC 826, RFC 1122 2.3.2) and
 * NDP's neighbour cache (RFC 4861 5.1, 7.3) share this structure and one state machine, the NUD
 * machine of RFC 4861 7.3.2 (as Linux does for both):
 *
 *   INCOMPLETE  resolution in progress: multicast/broadcast solicitations every RetransTimer, at most
 *               MAX_MULTICAST_SOLICIT, then failure (queued packets dropped, ICMP host unreachable).
 *   REACHABLE   confirmed within ReachableTime; used without further checks.
 *   STALE       no longer known to be reachable; used, and the first use moves to DELAY.
 *   DELAY       waiting DELAY_FIRST_PROBE_TIME for an upper-layer confirmation, then PROBE.
 *   PROBE       unicast solicitations every RetransTimer, at most MAX_UNICAST_SOLICIT, then removed.
 *
 * The table only stores: `Nud` (nud.ts) drives the transitions and owns the timers (each entry has
 * one `Timer` created with it, its id `{ kind: "neighbor", device, addr }`), and ARP (arp.ts) or
 * NDP (src/ip/ndp.ts) sends the solicitations.
 * Both bounds are hard: `maxEntries` entries (creating one more evicts the oldest, which loses its
 * queued packets) and `maxPending` packets queued per entry awaiting resolution (one more drops the
 * oldest queued packet). Queued packets are complete IP packets in their own `Buf`, with prefix room
 * for the link header.
 */

import type { TimerId } from "../context.ts";
import type { MacAddr } from "../ip/addr.ts";
import type { IpVersion } from "../ip/version.ts";
import { type Buf, own } from "../packet/buf.ts";
import { Timer } from "../timers.ts";

/** RFC 4861 7.3.2 states. */
export const NeighborState = {
  Incomplete: 0,
  Reachable: 1,
  Stale: 2,
  Delay: 3,
  Probe: 4,
} as const;
export type NeighborState = (typeof NeighborState)[keyof typeof NeighborState];

/** State names for introspection. */
export const NEIGHBOR_STATE_NAMES = ["incomplete", "reachable", "stale", "delay", "probe"] as const;

export class NeighborEntry<A> {
  /** Link address; meaningful when `state !== Incomplete`. An owned 6-byte array. */
  readonly mac = new Uint8Array(6) as MacAddr;
  state: NeighborState = NeighborState.Incomplete;
  /** Solicitations sent in the current INCOMPLETE or PROBE phase. */
  probes = 0;
  /** Reachability was confirmed at least once (a solicited answer): not a spoofed sender's entry. */
  confirmed = false;
  /** RFC 4861 7.2.5: the neighbour said it is a router. */
  isRouter = false;
  /** Packets awaiting resolution, oldest first. */
  pending: Buf[] = [];

  constructor(
    /** The neighbour's address (an owned copy). */
    readonly addr: A,
    readonly key: number | string,
    readonly timer: Timer<TimerId>,
  ) {}

  /** True when frames can be sent to this neighbour (its MAC is known). */
  get resolved(): boolean {
    return this.state !== NeighborState.Incomplete;
  }

  /** Record `mac` (copied); returns true when it differed from the one held. */
  setMac(mac: Uint8Array): boolean {
    let changed = false;
    for (let i = 0; i < 6; i++) {
      if (this.mac[i] !== mac[i]) {
        this.mac[i] = mac[i];
        changed = true;
      }
    }
    return changed;
  }

  /** True when `mac` equals the held link address. */
  sameMac(mac: Uint8Array): boolean {
    for (let i = 0; i < 6; i++) if (this.mac[i] !== mac[i]) return false;
    return true;
  }
}

/** What `enqueue` did. */
export type EnqueueResult = "queued" | "dropped-oldest";

export class NeighborTable<A> {
  private readonly entries = new Map<number | string, NeighborEntry<A>>();

  constructor(
    readonly ip: IpVersion<A>,
    /** Builds the timer id of an entry. */
    private readonly timerId: (addr: A) => TimerId,
    public maxEntries: number,
    public maxPending: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The entry for `addr` (a borrowed address is fine), or undefined. */
  get(addr: A): NeighborEntry<A> | undefined {
    return this.entries.get(this.ip.key(addr));
  }

  /**
   * A new INCOMPLETE entry for `addr`. When the table is full one entry is evicted first and
   * returned in `evicted` so the caller can cancel its timer and count its packets: the oldest
   * entry never confirmed (learned from a peer's own packet, nothing queued on it), else the least
   * recently confirmed entry. So a flood of requests or solicitations from many spoofed senders
   * recycles its own entries and does not push out the neighbours whose reachability was
   * confirmed, much as Linux's forced garbage collection spares the entries in use.
   */
  create(addr: A): { entry: NeighborEntry<A>; evicted: NeighborEntry<A> | null } {
    let evicted: NeighborEntry<A> | null = null;
    if (this.entries.size >= this.maxEntries) {
      for (const e of this.entries.values()) {
        evicted ??= e;
        if (!e.confirmed && e.state !== NeighborState.Incomplete) {
          evicted = e;
          break;
        }
      }
      if (evicted !== null) this.entries.delete(evicted.key);
    }
    const own = this.ip.copy(addr);
    const key = this.ip.key(own);
    const entry = new NeighborEntry(own, key, new Timer(this.timerId(own)));
    this.entries.set(key, entry);
    return { entry, evicted };
  }

  /** Mark `e` recently confirmed: it moves to the end of the eviction order. */
  touch(e: NeighborEntry<A>): void {
    if (this.entries.get(e.key) === e) {
      this.entries.delete(e.key);
      this.entries.set(e.key, e);
    }
  }

  /** Forget `e`. */
  delete(e: NeighborEntry<A>): void {
    if (this.entries.get(e.key) === e) this.entries.delete(e.key);
  }

  /** Queue a packet on an entry; past `maxPending` the oldest is dropped (returned via the result). */
  enqueue(e: NeighborEntry<A>, packet: Buf): EnqueueResult {
    if (this.maxPending <= 0) return "dropped-oldest";
    let r: EnqueueResult = "queued";
    if (e.pending.length >= this.maxPending) {
      e.pending.shift();
      r = "dropped-oldest";
    }
    // Kept until resolution (past the entry point): a lent receive buffer (an echo reply or a
    // forwarded packet written into the received frame) is copied now.
    e.pending.push(own(packet));
    return r;
  }

  /** Every entry (for introspection and for clearing a device). */
  values(): IterableIterator<NeighborEntry<A>> {
    return this.entries.values();
  }

  clear(): void {
    this.entries.clear();
  }
}
