/**
 * Path MTU cache: what ICMP "fragmentation needed" / "packet too big" taught us, per destination.
 * RFC 1191 (IPv4 path MTU discovery: sections 3, 5 "plateau" table, 6.3 aging), RFC 8201 (IPv6:
 * sections 4 and 5.3), RFC 1981 (its predecessor).
 *
 * An entry only ever lowers the estimate (RFC 1191 section 3, RFC 8201 section 4: a Packet Too Big
 * never increases it). Entries age out (10 minutes by default, RFC 8201 5.3 / RFC 1191 6.3), after
 * which the sender tries the first-hop link MTU again. The cache is bounded: a new destination past
 * the bound evicts the least recently updated entry. Time is an explicit `now` in milliseconds.
 */

import type { IpVersion } from "./version.ts";

/** What `update` did with a report. */
export type PmtuUpdate =
  /** The estimate for the destination was lowered (or first set) to the reported value. */
  | "lowered"
  /** The report was not below the current estimate: nothing changed. */
  | "not-lower"
  /** RFC 8201 4: an IPv6 Packet Too Big below 1280 is discarded. */
  | "below-minimum"
  /** An IPv4 report without a usable MTU and without the original length to estimate from. */
  | "no-estimate";

export interface PmtuOptions {
  /** Age after which an entry is forgotten, in ms. Default 10 minutes. */
  timeout?: number;
  /** Bound on destinations remembered. Default 1024. */
  maxEntries?: number;
}

/**
 * RFC 1191 section 7, table 7-1: the plateaus used to guess a path MTU when an old router's
 * "fragmentation needed" carries no Next-Hop MTU.
 */
export const PMTU_PLATEAUS: readonly number[] = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

/** RFC 1191 section 5: the largest plateau below the length of the datagram that was too big. */
export function plateauBelow(len: number): number {
  for (const p of PMTU_PLATEAUS) if (p < len) return p;
  return 68;
}

interface Entry<A> {
  readonly dst: A;
  mtu: number;
  expires: number;
}

/** Path MTU estimates for one IP version, keyed by destination address. */
export class PathMtuCache<A> {
  readonly timeout: number;
  readonly maxEntries: number;
  /** In order of last update: the first entry is the next to expire and the first to evict. */
  private readonly entries = new Map<number | string, Entry<A>>();

  constructor(
    readonly ip: IpVersion<A>,
    opts: PmtuOptions = {},
  ) {
    this.timeout = opts.timeout ?? 10 * 60_000;
    this.maxEntries = opts.maxEntries ?? 1024;
  }

  /** Destinations with an estimate (expired ones may linger until `expire` or `get`). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * Learn from an ICMP fragmentation needed (RFC 792 type 3 code 4, RFC 1191) or ICMPv6 Packet Too
   * Big (RFC 4443 3.2) about a datagram sent to `dst`. `sentLen` is the original datagram's length
   * (IPv4 Total Length from the quoted header), used when the report has no usable MTU.
   */
  update(dst: A, reportedMtu: number, now: number, sentLen = 0): PmtuUpdate {
    const I = this.ip;
    let mtu = reportedMtu;
    if (I.version === 6) {
      // RFC 8201 section 4: a Packet Too Big reporting less than the IPv6 minimum link MTU is discarded.
      if (mtu < I.minMtu) return "below-minimum";
    } else {
      // RFC 1191 section 5: a zero (pre-RFC 1191 router) or nonsensical Next-Hop MTU: estimate from
      // the plateau table below the length of the datagram that did not fit.
      if (mtu === 0 || (sentLen > 0 && mtu >= sentLen)) {
        if (sentLen <= 0) return "no-estimate";
        mtu = plateauBelow(sentLen);
      }
      // RFC 1191 section 3: never reduce the estimate below 68 octets.
      if (mtu < I.minMtu) mtu = I.minMtu;
    }
    const key = I.key(dst);
    const e = this.entries.get(key);
    if (e !== undefined && e.expires > now) {
      // RFC 1191 section 3 / RFC 8201 section 4: a report never increases the estimate.
      if (mtu >= e.mtu) return "not-lower";
      this.entries.delete(key);
      e.mtu = mtu;
      e.expires = now + this.timeout;
      this.entries.set(key, e);
      return "lowered";
    }
    if (e !== undefined) this.entries.delete(key);
    else if (this.entries.size >= this.maxEntries) {
      // Evict the least recently updated destination.
      for (const k of this.entries.keys()) {
        this.entries.delete(k);
        break;
      }
    }
    this.entries.set(key, { dst: I.copy(dst), mtu, expires: now + this.timeout });
    return "lowered";
  }

  /** The MTU to use towards `dst` through a link of `linkMtu`: the smaller of the two. */
  get(dst: A, linkMtu: number, now: number): number {
    if (this.entries.size === 0) return linkMtu;
    const key = this.ip.key(dst);
    const e = this.entries.get(key);
    if (e === undefined) return linkMtu;
    if (e.expires <= now) {
      // RFC 8201 5.3: after the timeout the estimate goes back to the first-hop link MTU.
      this.entries.delete(key);
      return linkMtu;
    }
    return Math.min(e.mtu, linkMtu);
  }

  /** The learned estimate for `dst`, or null (ignores the link MTU). */
  peek(dst: A, now: number): number | null {
    const e = this.entries.get(this.ip.key(dst));
    return e === undefined || e.expires <= now ? null : e.mtu;
  }

  /** When the oldest entry expires (ms), or null when empty. */
  nextDeadline(): number | null {
    for (const e of this.entries.values()) return e.expires;
    return null;
  }

  /** Forget entries expired at `now`; returns the destinations forgotten (owned copies). */
  expire(now: number): A[] {
    const out: A[] = [];
    for (const [k, e] of this.entries) {
      if (e.expires > now) break;
      this.entries.delete(k);
      out.push(e.dst);
    }
    return out;
  }

  /** Forget the estimate for one destination. */
  delete(dst: A): boolean {
    return this.entries.delete(this.ip.key(dst));
  }

  clear(): void {
    this.entries.clear();
  }
}
