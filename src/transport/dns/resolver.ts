/**
 * The stub resolver (RFC 1035, RFC 3596 for AAAA; RFC 1123 6.1.3.3 and resolv.conf(5) for the
 * search list and `ndots`; RFC 2308 negative caching; RFC 6761 6.3 for localhost) with the API of
 * Node's `dns` module: `lookup(hostname, { family, all, order }, callback)` as getaddrinfo answers
 * it (hosts table, then the search list, IPv4 and IPv6 asked together for family 0) and
 * `resolve4` / `resolve6` as c-ares answers them (the name as given, no search list, no hosts),
 * with the `ttl` option.
 *
 * Sans-IO: queries go out through the `DnsTransport` (query.ts), answers come back through the
 * `onUdp` / `onTcp*` / `handleTimer` entry points. Callbacks whose answer is known at once (an IP
 * literal, the hosts table, the cache, a failure before any query) run before the call returns;
 * the Node layer defers them to keep Node's "always asynchronous" promise.
 */
import type { TimerIdOf } from "../../context.ts";
import { Counters } from "../../counters.ts";
import { parseV4, parseV6 } from "../../ip/addr.ts";
import { DnsType, encodeName } from "../../wire/dns.ts";
import { type CachedAddress, DnsCache, type DnsCacheConfig } from "./cache.ts";
import { DnsError, type DnsErrorCode } from "./errors.ts";
import { type HostsAddress, HostsTable } from "./hosts.ts";
import {
  type DnsServerAddr,
  type DnsTransport,
  lowerName,
  type QueryConfig,
  QueryEngine,
  type QueryFailure,
  type QueryOutcome,
} from "./query.ts";

export interface ResolverConfig extends QueryConfig {
  /** Name servers (resolv.conf `nameserver`); at most `maxServers` are used. */
  servers: DnsServerAddr[];
  /** Search domains (resolv.conf `search`, DHCP option 15); at most `maxSearch` are used. */
  search: string[];
  /** Names with at least this many dots are tried as given first (resolv.conf `ndots`). Default 1. */
  ndots: number;
  /** Default 3 (resolv.conf's MAXNS). */
  maxServers: number;
  /** Default 6 (resolv.conf's MAXDNSRCH). */
  maxSearch: number;
  cache: Partial<DnsCacheConfig>;
  /** Names answered before any query (RFC 6761 localhost is always answered). */
  hosts: HostsTable;
}

export interface LookupOptions {
  /** 0 (both), 4 or 6. Default 0. */
  family?: number | "IPv4" | "IPv6";
  /** All addresses (an array) rather than the first. Default false. */
  all?: boolean;
  /**
   * "verbatim" (the resolver's order: IPv4 answers, then IPv6), "ipv4first" or "ipv6first" (Node
   * 22's `order`). Node 20's `verbatim: false` means "ipv4first". Default "verbatim".
   */
  order?: "verbatim" | "ipv4first" | "ipv6first";
  verbatim?: boolean;
}

export interface LookupAddress {
  address: string;
  family: 4 | 6;
}

/** Node's lookup callback: `(err, address, family)`, or `(err, addresses)` with `all`. */
export type LookupCallback = (err: DnsError | null, address: string | LookupAddress[], family?: number) => void;

export interface ResolveOptions {
  /** Answer `{ address, ttl }` objects instead of strings. */
  ttl?: boolean;
}

export interface RecordWithTtl {
  address: string;
  ttl: number;
}

export type ResolveCallback = (err: DnsError | null, addresses: string[] | RecordWithTtl[]) => void;

/** A misuse of the API (bad argument): Node throws these synchronously. */
export class DnsArgumentError extends TypeError {
  readonly code = "ERR_INVALID_ARG_VALUE";
}

/** One name and type asked: the outcome as lookup and resolve read it. */
type Asked =
  | { kind: "answer"; addrs: { address: string; family: 4 | 6; ttl: number }[] }
  | { kind: "nxdomain" }
  | { kind: "nodata" }
  | { kind: "failed"; error: QueryFailure };

export class Resolver {
  readonly config: ResolverConfig;
  readonly counters: Counters;
  readonly cache: DnsCache;
  readonly engine: QueryEngine;
  private closed = false;

  constructor(
    private readonly transport: DnsTransport,
    config: Partial<ResolverConfig> = {},
    counters?: Counters,
  ) {
    this.counters = counters ?? new Counters();
    this.engine = new QueryEngine(transport, this.counters, config);
    this.config = {
      ...this.engine.config,
      servers: [],
      search: [],
      ndots: 1,
      maxServers: 3,
      maxSearch: 6,
      cache: {},
      hosts: new HostsTable(),
      ...config,
    };
    this.cache = new DnsCache(this.counters, this.config.cache);
    this.setServers(this.config.servers);
    this.setSearch(this.config.search);
  }

  /** Use these servers from now on (the first `maxServers`). Queries in flight keep theirs. */
  setServers(servers: readonly DnsServerAddr[]): void {
    this.config.servers = servers.slice(0, this.config.maxServers).map((s) => ({ addr: s.addr, port: s.port }));
    this.engine.servers = this.config.servers;
  }

  /** Use these search domains (the first `maxSearch` valid ones). */
  setSearch(search: readonly string[]): void {
    this.config.search = search
      .map(lowerName)
      .filter((d) => d !== "." && d !== "" && encodeName(d) !== null)
      .slice(0, this.config.maxSearch);
  }

  /** Name servers in use. */
  getServers(): DnsServerAddr[] {
    return this.config.servers.slice();
  }

  // ---- entry points from the Stack ----

  onUdp(handle: number, src: DnsServerAddr["addr"], srcPort: number, data: Uint8Array): void {
    this.engine.onUdp(handle, src, srcPort, data);
  }
  onTcpConnected(handle: number): void {
    this.engine.onTcpConnected(handle);
  }
  onTcpData(handle: number, data: Uint8Array): void {
    this.engine.onTcpData(handle, data);
  }
  onTcpClosed(handle: number): void {
    this.engine.onTcpClosed(handle);
  }
  handleTimer(id: TimerIdOf<"dns">): void {
    this.engine.handleTimer(id);
  }

  /** Cancel everything in flight (callbacks get ECANCELLED) and refuse new work. */
  close(): void {
    this.closed = true;
    this.engine.cancelAll();
  }

  // ---- one name, one type, through the cache ----

  private ask(name: string, type: number, done: (a: Asked) => void): void {
    const now = this.transport.now();
    const hit = this.cache.get(name, type, now);
    if (hit !== null) {
      const v = hit.value;
      if (v.kind === "answer") done({ kind: "answer", addrs: v.addrs.map((x) => ({ ...x, ttl: hit.ttl })) });
      else done({ kind: v.kind });
      return;
    }
    if (this.closed) {
      done({ kind: "failed", error: "ECANCELLED" });
      return;
    }
    this.engine.ask(name, type, (o: QueryOutcome) => {
      const t = this.transport.now();
      switch (o.kind) {
        case "answer": {
          const addrs: CachedAddress[] = o.addrs.map((x) => ({ address: x.address, family: x.family }));
          this.cache.put(name, type, { kind: "answer", addrs }, o.ttl, t);
          done({
            kind: "answer",
            addrs: o.addrs.map((x) => ({ ...x, ttl: Math.min(x.ttl, this.cache.config.maxTtl) })),
          });
          return;
        }
        case "nxdomain":
        case "nodata":
          // RFC 2308 5: without an SOA there is no negative TTL and nothing is cached.
          if (o.ttl !== null) this.cache.put(name, type, { kind: o.kind }, o.ttl, t);
          done({ kind: o.kind });
          return;
        default:
          done(o);
      }
    });
  }

  // ---- resolve4 / resolve6 ----

  /** Node's `dns.resolve4`: the A records of `hostname` (no search list, no hosts table). */
  resolve4(hostname: string, options: ResolveOptions | ResolveCallback, callback?: ResolveCallback): void {
    this.resolve(hostname, DnsType.A, "queryA", options, callback);
  }

  /** Node's `dns.resolve6`: the AAAA records of `hostname`. */
  resolve6(hostname: string, options: ResolveOptions | ResolveCallback, callback?: ResolveCallback): void {
    this.resolve(hostname, DnsType.AAAA, "queryAaaa", options, callback);
  }

  private resolve(
    hostname: string,
    type: number,
    syscall: string,
    options: ResolveOptions | ResolveCallback,
    callback?: ResolveCallback,
  ): void {
    const cb = typeof options === "function" ? options : callback;
    if (typeof cb !== "function") throw new DnsArgumentError('The "callback" argument must be a function');
    if (typeof hostname !== "string") throw new DnsArgumentError('The "name" argument must be a string');
    const withTtl = typeof options === "object" && options !== null && options.ttl === true;
    const name = lowerName(hostname);
    const fail = (code: DnsErrorCode) => cb(new DnsError(code, syscall, hostname), []);
    if (name === "" || name === "." || encodeName(name) === null) {
      fail("EBADNAME");
      return;
    }
    this.ask(name, type, (a) => {
      switch (a.kind) {
        case "answer":
          cb(null, withTtl ? a.addrs.map((x) => ({ address: x.address, ttl: x.ttl })) : a.addrs.map((x) => x.address));
          return;
        case "nxdomain":
          fail("ENOTFOUND");
          return;
        case "nodata":
          fail("ENODATA");
          return;
        default:
          fail(a.error);
      }
    });
  }

  // ---- lookup ----

  /**
   * Node's `dns.lookup`: addresses of `hostname` for `family` (0: both). IP literals come back as
   * they are; then the hosts table; then DNS through the search list. Throws `DnsArgumentError`
   * for a bad family or a missing callback, as Node does.
   */
  lookup(hostname: string, options: LookupOptions | number | LookupCallback, callback?: LookupCallback): void {
    const cb = typeof options === "function" ? options : callback;
    if (typeof cb !== "function") throw new DnsArgumentError('The "callback" argument must be a function');
    const o: LookupOptions =
      typeof options === "number" ? { family: options } : typeof options === "object" ? options : {};
    const fam = o.family === "IPv4" ? 4 : o.family === "IPv6" ? 6 : (o.family ?? 0);
    if (fam !== 0 && fam !== 4 && fam !== 6) {
      throw new DnsArgumentError(`The property 'options.family' must be one of: 0, 4, 6. Received ${String(o.family)}`);
    }
    const all = o.all === true;
    const order = o.order ?? (o.verbatim === false ? "ipv4first" : "verbatim");
    const reply = (list: LookupAddress[]) => {
      const sorted =
        order === "ipv4first"
          ? [...list.filter((x) => x.family === 4), ...list.filter((x) => x.family === 6)]
          : order === "ipv6first"
            ? [...list.filter((x) => x.family === 6), ...list.filter((x) => x.family === 4)]
            : list;
      if (all) cb(null, sorted);
      else cb(null, sorted[0].address, sorted[0].family);
    };
    const fail = (code: DnsErrorCode) =>
      all ? cb(new DnsError(code, "getaddrinfo", hostname), []) : cb(new DnsError(code, "getaddrinfo", hostname), "");
    if (typeof hostname !== "string") throw new DnsArgumentError('The "hostname" argument must be a string');
    // An address literal is its own answer, whatever the family asked for (as Node does).
    const literal = literalFamily(hostname);
    if (literal !== 0) {
      reply([{ address: hostname, family: literal }]);
      return;
    }
    const hosts = this.config.hosts.get(hostname);
    if (hosts !== null) {
      const list = hosts.filter((h: HostsAddress) => fam === 0 || h.family === fam);
      if (list.length > 0) {
        reply(list.map((h) => ({ address: h.address, family: h.family })));
        return;
      }
    }
    const candidates = this.candidates(hostname);
    if (candidates.length === 0) {
      fail("ENOTFOUND");
      return;
    }
    const types = fam === 4 ? [DnsType.A] : fam === 6 ? [DnsType.AAAA] : [DnsType.A, DnsType.AAAA];
    let temporary = false;
    let cancelled = false;
    const tryCandidate = (i: number) => {
      if (i >= candidates.length) {
        fail(cancelled ? "ECANCELLED" : temporary ? "EAI_AGAIN" : "ENOTFOUND");
        return;
      }
      const results: (Asked | null)[] = types.map(() => null);
      let left = types.length;
      types.forEach((type, k) => {
        this.ask(candidates[i], type, (a) => {
          results[k] = a;
          if (--left > 0) return;
          const found: LookupAddress[] = [];
          for (const r of results) {
            if (r?.kind === "answer") for (const x of r.addrs) found.push({ address: x.address, family: x.family });
            if (r?.kind === "failed") {
              if (r.error === "ECANCELLED") cancelled = true;
              else temporary = true;
            }
          }
          if (found.length > 0) reply(found);
          else tryCandidate(i + 1);
        });
      });
    };
    tryCandidate(0);
  }

  /**
   * The names to ask for `hostname` (resolv.conf(5)): as given when it ends with a dot; else with
   * each search domain, the name as given first when it has `ndots` dots or more, last otherwise.
   */
  private candidates(hostname: string): string[] {
    const absolute = hostname.endsWith(".");
    const name = lowerName(hostname);
    if (name === "" || name === "." || encodeName(name) === null) return [];
    if (absolute) return [name];
    const dots = name.split(".").length - 1;
    const searched = this.config.search.map((d) => `${name}.${d}`).filter((n) => encodeName(n) !== null);
    return dots >= this.config.ndots ? [name, ...searched] : [...searched, name];
  }
}

/** 4 or 6 for an IP address literal, 0 otherwise. */
function literalFamily(s: string): 0 | 4 | 6 {
  if (parseV4(s) !== null) return 4;
  if (s.includes(":") && parseV6(s.replace(/%.*$/, "")) !== null) return 6;
  return 0;
}
