/**
 * Router discovery on a host: RFC 4861 6.3.7 (router solicitations when an interface comes up)
 * and 6.3.4 (processing router advertisements: the default router list, the prefix list, the MTU
 * option, Cur Hop Limit, ReachableTime and RetransTimer), with the validity checks of 6.1.2.
 *
 * Every router and on-link prefix has a lifetime timer; on expiry its route is removed. Both lists
 * are bounded per device (RFC 4861 6.3.4 lets a host keep what it can; new entries beyond the
 * bound are ignored). Autonomous prefixes are handed to SLAAC through `onPrefix`.
 */
import type { DeviceId, TimerId, TimerIdOf } from "../context.ts";
import { counter } from "../counters.ts";
import { IPV6_ALL_ROUTERS, type Ipv6Addr, v6Copy, v6Equal, v6Key } from "../ip/addr.ts";
import { Timer } from "../timers.ts";
import { IPV6_MIN_MTU } from "../wire/ipv6.ts";
import {
  LinkAddrOption,
  NDP_HOP_LIMIT,
  NdpOptionCursor,
  NdpOptionType,
  type RouterAdvertisementView,
  RouterSolicitationBuilder,
} from "../wire/ndp.ts";
import {
  MAX_RTR_SOLICITATION_DELAY_MS,
  MAX_RTR_SOLICITATIONS,
  REACHABLE_TIME_MS,
  RETRANS_TIMER_MS,
  RTR_SOLICITATION_INTERVAL_MS,
} from "./constants.ts";
import { type HostconfContext, INFINITE_LIFETIME, randomBelow, type TimerRegistry } from "./context.ts";
import { isLinkLocal, maskPrefix } from "./iid.ts";

const ROUTER_EXPIRED = counter("ndp.router.expired");
const PREFIX_EXPIRED = counter("ndp.prefix.expired");
const ROUTERS_FULL = counter("ndp.router.list-full");
const PREFIXES_FULL = counter("ndp.prefix.list-full");

/** RFC 4861 6.3.2: ReachableTime is BaseReachableTime times a random factor in [0.5, 1.5). */
const MIN_RANDOM_FACTOR = 0.5;
const MAX_RANDOM_FACTOR = 1.5;
const UNSPECIFIED = new Uint8Array(16) as Ipv6Addr;
const DEFAULT_PREFIX = new Uint8Array(16) as Ipv6Addr;

export interface RouterDiscoveryConfig {
  /** Router solicitations sent after the interface comes up. Default 3 (MAX_RTR_SOLICITATIONS). */
  solicitations: number;
  /** Interval between them, ms. Default 4000. */
  solicitationInterval: number;
  /** Upper bound of the random delay before the first, ms (0: the first is sent at once). Default 1000. */
  maxSolicitationDelay: number;
  /** Default routers kept per device. Default 8. */
  maxRouters: number;
  /** On-link prefixes kept per device. Default 16. */
  maxPrefixes: number;
  /** RetransTimer and BaseReachableTime until an advertisement says otherwise, ms. Defaults 1000, 30000. */
  retransTimer: number;
  reachableTime: number;
  /**
   * Take ReachableTime and RetransTimer from advertisements (RFC 4861 6.3.4) and hand them to the
   * neighbour machine (`HostconfContext.setNeighborTimes`). Default true.
   */
  learnTimes: boolean;
}

export const DEFAULT_ROUTER_DISCOVERY_CONFIG: RouterDiscoveryConfig = {
  solicitations: MAX_RTR_SOLICITATIONS,
  solicitationInterval: RTR_SOLICITATION_INTERVAL_MS,
  maxSolicitationDelay: MAX_RTR_SOLICITATION_DELAY_MS,
  maxRouters: 8,
  maxPrefixes: 16,
  retransTimer: RETRANS_TIMER_MS,
  reachableTime: REACHABLE_TIME_MS,
  learnTimes: true,
};

/** Why a router advertisement was not processed (for the Stack's counters), or "ok". */
export type RaVerdict = "ok" | "bad-source" | "bad-hop-limit" | "bad-code" | "unknown-device";

/** A prefix information option with the autonomous flag, for SLAAC. */
export interface AutonomousPrefix {
  /** The prefix, masked to `prefixLen` (owned). */
  prefix: Ipv6Addr;
  prefixLen: number;
  /** Seconds; 0xffffffff is infinite. */
  validLifetime: number;
  preferredLifetime: number;
}

/** A default router (RFC 4861 5.1 Default Router List). */
export interface RouterEntry {
  readonly addr: Ipv6Addr;
  /** Expiry time in ms (the context's clock). */
  expires: number;
  readonly timer: Timer<TimerId>;
}

/** An on-link prefix (RFC 4861 5.1 Prefix List). */
export interface PrefixEntry {
  readonly prefix: Ipv6Addr;
  readonly prefixLen: number;
  /** Expiry time in ms; `Infinity` for an infinite lifetime. */
  expires: number;
  readonly timer: Timer<TimerId>;
}

class DeviceState {
  readonly rsTimer: Timer<TimerId>;
  rsSent = 0;
  readonly routers = new Map<string, RouterEntry>();
  readonly prefixes = new Map<string, PrefixEntry>();
  baseReachableTime: number;
  reachableTime: number;
  retransTimer: number;
  constructor(
    readonly device: DeviceId,
    readonly mac: Uint8Array | null,
    /** The link type's largest MTU (RFC 4861 6.3.4: the MTU option may not exceed it). */
    readonly maxMtu: number,
    config: RouterDiscoveryConfig,
  ) {
    this.rsTimer = new Timer<TimerId>({ kind: "router-solicit", device });
    this.baseReachableTime = config.reachableTime;
    this.reachableTime = config.reachableTime;
    this.retransTimer = config.retransTimer;
  }
}

/** Router solicitation and advertisement processing for every device. */
export class RouterDiscovery {
  private readonly devices = new Map<DeviceId, DeviceState>();
  private readonly cursor = new NdpOptionCursor();
  /** Called for every prefix information option with the A flag of an accepted advertisement. */
  onPrefix: (device: DeviceId, p: AutonomousPrefix) => void = () => {};

  constructor(
    private readonly ctx: HostconfContext,
    private readonly timers: TimerRegistry,
    readonly config: RouterDiscoveryConfig = DEFAULT_ROUTER_DISCOVERY_CONFIG,
  ) {}

  /**
   * The interface came up (RFC 4861 6.3.7): start soliciting routers after a random delay.
   * `mac` goes in the source link-layer address option (null: no link-layer address).
   */
  start(device: DeviceId, mac: Uint8Array | null, maxMtu: number): void {
    this.attach(device, mac, maxMtu);
    this.solicit(device);
  }

  /**
   * The interface came up: keep its router and prefix lists and process its advertisements, but
   * send no solicitation until `solicit` (a host that waits for its link-local address first).
   */
  attach(device: DeviceId, mac: Uint8Array | null, maxMtu: number): void {
    this.stop(device);
    this.devices.set(device, new DeviceState(device, mac === null ? null : mac.slice(), maxMtu, this.config));
  }

  /** RFC 4861 6.3.7: start soliciting routers on an attached interface, after a random delay. */
  solicit(device: DeviceId): void {
    const s = this.devices.get(device);
    if (s === undefined || this.config.solicitations <= 0) return;
    s.rsSent = 0;
    if (this.config.maxSolicitationDelay <= 0) {
      this.handleTimer(s.rsTimer.data as TimerIdOf<"router-solicit">);
      return;
    }
    const delay = randomBelow(() => this.ctx.random(), this.config.maxSolicitationDelay);
    this.ctx.schedule(s.rsTimer, this.ctx.now() + delay);
  }

  /** The interface went down: stop soliciting, forget its routers and prefixes and their routes. */
  stop(device: DeviceId): void {
    const s = this.devices.get(device);
    if (s === undefined) return;
    this.ctx.cancel(s.rsTimer);
    for (const r of [...s.routers.values()]) this.removeRouter(s, r);
    for (const p of [...s.prefixes.values()]) this.removePrefix(s, p);
    this.devices.delete(device);
  }

  /** RetransTimer of `device` in ms (default RETRANS_TIMER until an advertisement sets it). */
  retransTimer(device: DeviceId): number {
    return this.devices.get(device)?.retransTimer ?? this.config.retransTimer;
  }

  /** The randomized ReachableTime of `device` (RFC 4861 6.3.2). */
  reachableTime(device: DeviceId): number {
    return this.devices.get(device)?.reachableTime ?? this.config.reachableTime;
  }

  /** The default router list of `device`. */
  routers(device: DeviceId): readonly RouterEntry[] {
    return [...(this.devices.get(device)?.routers.values() ?? [])];
  }

  /** The prefix list of `device`. */
  prefixes(device: DeviceId): readonly PrefixEntry[] {
    return [...(this.devices.get(device)?.prefixes.values() ?? [])];
  }

  /** Router solicitations sent on `device` since it came up. */
  solicitationsSent(device: DeviceId): number {
    return this.devices.get(device)?.rsSent ?? 0;
  }

  /** A `router-solicit` timer fired. */
  handleTimer(id: TimerIdOf<"router-solicit">): void {
    const s = this.devices.get(id.device);
    if (s === undefined || s.rsSent >= this.config.solicitations) return;
    this.sendSolicitation(s);
    s.rsSent++;
    // RFC 4861 6.3.7: up to MAX_RTR_SOLICITATIONS, RTR_SOLICITATION_INTERVAL apart.
    if (s.rsSent < this.config.solicitations) {
      this.ctx.schedule(s.rsTimer, this.ctx.now() + this.config.solicitationInterval);
    }
  }

  private sendSolicitation(s: DeviceState): void {
    const ll = this.ctx.linkLocalAddress(s.device);
    // RFC 4861 6.3.7: from a link-local address if we have one (with our link-layer address,
    // 4.1), else from :: without the option (RFC 4861 4.1).
    const src = ll ?? UNSPECIFIED;
    const options = ll !== null && s.mac !== null ? [new LinkAddrOption(NdpOptionType.SourceLinkAddr, s.mac)] : [];
    const rs = new RouterSolicitationBuilder(src, IPV6_ALL_ROUTERS, options);
    this.ctx.sendIcmpv6(s.device, src, IPV6_ALL_ROUTERS, NDP_HOP_LIMIT, rs, false);
  }

  /**
   * A router advertisement arrived on `device` from `src` with IP hop limit `hopLimit`; `ra` is
   * parsed (checksum and options checked). Returns "ok" when it was processed.
   */
  onRouterAdvertisement(device: DeviceId, src: Uint8Array, hopLimit: number, ra: RouterAdvertisementView): RaVerdict {
    // RFC 4861 6.1.2: the source is link-local, the hop limit 255, the code 0.
    if (!isLinkLocal(src)) return "bad-source";
    if (hopLimit !== NDP_HOP_LIMIT) return "bad-hop-limit";
    if (ra.code !== 0) return "bad-code";
    const s = this.devices.get(device);
    if (s === undefined) return "unknown-device";
    const now = this.ctx.now();

    // RFC 4861 6.3.4: Cur Hop Limit, when specified.
    if (ra.curHopLimit !== 0) this.ctx.setCurHopLimit(device, ra.curHopLimit);
    let times = false;
    // RFC 4861 6.3.4: a new BaseReachableTime re-randomizes ReachableTime (6.3.2).
    if (this.config.learnTimes && ra.reachableTime !== 0 && ra.reachableTime !== s.baseReachableTime) {
      s.baseReachableTime = ra.reachableTime;
      const f = MIN_RANDOM_FACTOR + randomBelow(() => this.ctx.random(), 1000) / 1000;
      s.reachableTime = Math.round(ra.reachableTime * Math.min(f, MAX_RANDOM_FACTOR));
      times = true;
    }
    if (this.config.learnTimes && ra.retransTimer !== 0 && ra.retransTimer !== s.retransTimer) {
      s.retransTimer = ra.retransTimer;
      times = true;
    }
    if (times && this.config.learnTimes) this.ctx.setNeighborTimes(device, s.reachableTime, s.retransTimer);

    this.updateRouter(s, src, ra.routerLifetime, now);
    // RFC 4861 6.3.7: a valid advertisement with a non-zero router lifetime ends solicitation.
    if (ra.routerLifetime !== 0) {
      s.rsSent = this.config.solicitations;
      this.ctx.cancel(s.rsTimer);
    }

    // RFC 4861 6.3.4: the MTU option, when within [IPv6 minimum, the link type's maximum].
    const mtu = ra.mtu;
    if (mtu >= IPV6_MIN_MTU && mtu <= s.maxMtu) this.ctx.setLinkMtu(device, mtu);

    const c = ra.options(this.cursor);
    while (c.next()) {
      if (!c.known || c.type !== NdpOptionType.PrefixInformation) continue;
      const len = c.prefixLength;
      if (len > 128) continue;
      const prefix = c.prefix as Ipv6Addr;
      // RFC 4861 6.3.4: a link-local prefix is ignored (for on-link; RFC 4862 5.5.3 b for SLAAC).
      if (isLinkLocal(prefix)) continue;
      const masked = maskPrefix(prefix, len);
      if (c.onLink) this.updatePrefix(s, masked, len, c.validLifetime, now);
      if (c.autonomous) {
        this.onPrefix(device, {
          prefix: masked,
          prefixLen: len,
          validLifetime: c.validLifetime,
          preferredLifetime: c.preferredLifetime,
        });
      }
    }
    return "ok";
  }

  private updateRouter(s: DeviceState, src: Uint8Array, lifetime: number, now: number): void {
    const key = v6Key(src);
    const r = s.routers.get(key);
    if (lifetime === 0) {
      // RFC 4861 6.3.4: a lifetime of zero times the router out immediately.
      if (r !== undefined) this.removeRouter(s, r);
      return;
    }
    const expires = now + lifetime * 1000;
    if (r !== undefined) {
      r.expires = expires;
      this.ctx.schedule(r.timer, expires);
      return;
    }
    if (s.routers.size >= this.config.maxRouters) {
      this.ctx.counters.inc(ROUTERS_FULL);
      return;
    }
    const addr = v6Copy(src);
    const entry: RouterEntry = {
      addr,
      expires,
      timer: this.timers.create("lifetime", s.device, () => {
        this.ctx.counters.inc(ROUTER_EXPIRED);
        this.removeRouter(s, entry);
      }),
    };
    s.routers.set(key, entry);
    this.ctx.addRoute(s.device, DEFAULT_PREFIX, 0, addr);
    this.ctx.schedule(entry.timer, expires);
  }

  private removeRouter(s: DeviceState, r: RouterEntry): void {
    const key = v6Key(r.addr);
    if (s.routers.get(key) !== r) return;
    s.routers.delete(key);
    this.ctx.cancel(r.timer);
    this.timers.release(r.timer);
    this.ctx.removeRoute(s.device, DEFAULT_PREFIX, 0, r.addr);
  }

  private updatePrefix(s: DeviceState, prefix: Ipv6Addr, len: number, valid: number, now: number): void {
    const key = `${v6Key(prefix)}/${len}`;
    const p = s.prefixes.get(key);
    if (valid === 0) {
      // RFC 4861 6.3.4: a valid lifetime of zero times the prefix out immediately.
      if (p !== undefined) this.removePrefix(s, p);
      return;
    }
    const expires = valid === INFINITE_LIFETIME ? Infinity : now + valid * 1000;
    if (p !== undefined) {
      p.expires = expires;
      if (expires === Infinity) this.ctx.cancel(p.timer);
      else this.ctx.schedule(p.timer, expires);
      return;
    }
    if (s.prefixes.size >= this.config.maxPrefixes) {
      this.ctx.counters.inc(PREFIXES_FULL);
      return;
    }
    const entry: PrefixEntry = {
      prefix,
      prefixLen: len,
      expires,
      timer: this.timers.create("lifetime", s.device, () => {
        this.ctx.counters.inc(PREFIX_EXPIRED);
        this.removePrefix(s, entry);
      }),
    };
    s.prefixes.set(key, entry);
    this.ctx.addRoute(s.device, prefix, len, null);
    if (expires !== Infinity) this.ctx.schedule(entry.timer, expires);
  }

  private removePrefix(s: DeviceState, p: PrefixEntry): void {
    const key = `${v6Key(p.prefix)}/${p.prefixLen}`;
    if (s.prefixes.get(key) !== p) return;
    s.prefixes.delete(key);
    this.ctx.cancel(p.timer);
    this.timers.release(p.timer);
    this.ctx.removeRoute(s.device, p.prefix, p.prefixLen, null);
  }

  /** True when `addr` is a default router of `device`. */
  isRouter(device: DeviceId, addr: Uint8Array): boolean {
    const s = this.devices.get(device);
    if (s === undefined) return false;
    for (const r of s.routers.values()) if (v6Equal(r.addr, addr)) return true;
    return false;
  }
}
