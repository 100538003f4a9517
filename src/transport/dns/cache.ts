/**
 * The resolver's cache: answers kept for their TTL (RFC 1035 3.2.1, capped by `maxTtl` as RFC
 * 2181 8 allows), negative answers (NXDOMAIN for every type of the name, NODATA for one type) for
 * the TTL RFC 2308 5 gives them (the SOA's TTL and MINIMUM, capped by `maxNegativeTtl`).
 *
 * Bounded by entries and by bytes (an estimate of what an entry holds); the least recently used
 * entries are evicted first, and every eviction is counted. Expired entries are dropped when met.
 */
import { type CounterId, type Counters, counter } from "../../counters.ts";

/** One cached address with the family it came in. */
export interface CachedAddress {
  address: string;
  family: 4 | 6;
}

/** What the cache holds for a name and type. */
export type CacheValue =
  | { kind: "answer"; addrs: CachedAddress[] }
  /** RFC 2308 2.1: the name does not exist (any type). */
  | { kind: "nxdomain" }
  /** RFC 2308 2.2: the name exists, without records of the type. */
  | { kind: "nodata" };

interface Entry {
  value: CacheValue;
  expires: number;
  bytes: number;
}

export interface DnsCacheConfig {
  /** Entries kept, at most. Default 1000. */
  maxEntries: number;
  /** Bytes kept (estimated), at most. Default 1 MiB. */
  maxBytes: number;
  /** Longest TTL honoured, seconds. Default 86400. */
  maxTtl: number;
  /** Longest negative TTL honoured, seconds (RFC 2308 5 suggests 1 to 3 hours). Default 3600. */
  maxNegativeTtl: number;
}

export const DEFAULT_DNS_CACHE_CONFIG: DnsCacheConfig = {
  maxEntries: 1000,
  maxBytes: 1 << 20,
  maxTtl: 86400,
  maxNegativeTtl: 3600,
};

const C = {
  hit: counter("dns.cache.hit"),
  miss: counter("dns.cache.miss"),
  evicted: counter("dns.cache.evicted"),
  expired: counter("dns.cache.expired"),
} as const satisfies Record<string, CounterId>;

/** Fixed cost of an entry in the byte estimate (map slot, objects). */
const ENTRY_OVERHEAD = 96;

/** The key of a name (lower case, no final dot) and a record type. */
export function cacheKey(name: string, type: number): string {
  return `${type} ${name}`;
}

/** The key of a name's NXDOMAIN entry (it answers every type). */
function nxKey(name: string): string {
  return `nx ${name}`;
}

export class DnsCache {
  readonly config: DnsCacheConfig;
  /** Insertion order is recency order: a hit moves the entry to the end. */
  private readonly entries = new Map<string, Entry>();
  private bytesUsed = 0;

  constructor(
    private readonly counters: Counters,
    config: Partial<DnsCacheConfig> = {},
  ) {
    this.config = { ...DEFAULT_DNS_CACHE_CONFIG, ...config };
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.bytesUsed;
  }

  /**
   * What is cached for `name` (lower case, no final dot) and `type` at `now` (ms), with the
   * seconds it has left; null on a miss.
   */
  get(name: string, type: number, now: number): { value: CacheValue; ttl: number } | null {
    const hit = this.take(nxKey(name), now) ?? this.take(cacheKey(name, type), now);
    if (hit === null) {
      this.counters.inc(C.miss);
      return null;
    }
    this.counters.inc(C.hit);
    return { value: hit.value, ttl: Math.max(0, Math.ceil((hit.expires - now) / 1000)) };
  }

  private take(key: string, now: number): Entry | null {
    const e = this.entries.get(key);
    if (e === undefined) return null;
    if (e.expires <= now) {
      this.remove(key, e);
      this.counters.inc(C.expired);
      return null;
    }
    // Most recently used goes last.
    this.entries.delete(key);
    this.entries.set(key, e);
    return e;
  }

  private remove(key: string, e: Entry): void {
    this.entries.delete(key);
    this.bytesUsed -= e.bytes;
  }

  /**
   * Keep `value` for `name` and `type` for `ttl` seconds (capped; negative values by
   * `maxNegativeTtl`). A TTL of 0 keeps nothing (RFC 1035 3.2.1: use only for this transaction).
   */
  put(name: string, type: number, value: CacheValue, ttl: number, now: number): void {
    const cap = value.kind === "answer" ? this.config.maxTtl : this.config.maxNegativeTtl;
    const secs = Math.min(Math.max(0, Math.floor(ttl)), cap);
    if (secs === 0 || this.config.maxEntries <= 0) return;
    const key = value.kind === "nxdomain" ? nxKey(name) : cacheKey(name, type);
    let bytes = ENTRY_OVERHEAD + 2 * key.length;
    if (value.kind === "answer") for (const a of value.addrs) bytes += 32 + 2 * a.address.length;
    if (bytes > this.config.maxBytes) return;
    const old = this.entries.get(key);
    if (old !== undefined) this.remove(key, old);
    // Evict the least recently used until the new entry fits both bounds.
    for (const [k, e] of this.entries) {
      if (this.entries.size < this.config.maxEntries && this.bytesUsed + bytes <= this.config.maxBytes) break;
      this.remove(k, e);
      this.counters.inc(C.evicted);
    }
    this.entries.set(key, { value, expires: now + secs * 1000, bytes });
    this.bytesUsed += bytes;
  }

  /** Forget everything (new servers, a new network). */
  clear(): void {
    this.entries.clear();
    this.bytesUsed = 0;
  }
}
