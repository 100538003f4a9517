/**
 * Stateless address autoconfiguration from router advertisements: RFC 4862 5.5.3 (prefix
 * information with the autonomous flag: form prefix + interface identifier, the two-hour rule of
 * 5.5.3 e), 5.5.4 (deprecation when the preferred lifetime ends), and removal when the valid
 * lifetime ends. New addresses go through DAD (dad.ts). With stable IIDs (RFC 7217) a DAD failure
 * retries with the next DAD counter, up to IDGEN_RETRIES times (RFC 7217 6).
 */
import type { DeviceId, TimerId } from "../context.ts";
import { counter } from "../counters.ts";
import { type Ipv6Addr, v6Equal, v6Key } from "../ip/addr.ts";
import type { Timer } from "../timers.ts";
import { type HostconfContext, INFINITE_LIFETIME, type TimerRegistry } from "./context.ts";
import type { Dad } from "./dad.ts";
import { addrFromPrefix, IID_BITS, isLinkLocal } from "./iid.ts";
import type { AutonomousPrefix } from "./routers.ts";

const FORMED = counter("ndp.slaac.address");
const DEPRECATED = counter("ndp.slaac.deprecated");
const EXPIRED = counter("ndp.slaac.expired");
const FULL = counter("ndp.slaac.full");

/** RFC 4862 5.5.3 e: two hours, in ms. */
export const TWO_HOURS_MS = 2 * 3600 * 1000;
/** RFC 7217 6: IDGEN_RETRIES. */
export const IDGEN_RETRIES = 3;

export interface SlaacConfig {
  /** SLAAC addresses kept per device; further prefixes are ignored. Default 16. */
  maxAddresses: number;
}

export const DEFAULT_SLAAC_CONFIG: SlaacConfig = { maxAddresses: 16 };

/** The interface identifier for `prefix` on `device`, attempt `dadCounter` (0 first). */
export type IidSource = (device: DeviceId, prefix: Ipv6Addr, dadCounter: number) => Uint8Array | null;

/** One autoconfigured address. */
export interface SlaacAddress {
  readonly device: DeviceId;
  readonly prefix: Ipv6Addr;
  addr: Ipv6Addr;
  /** "tentative" until DAD passes. */
  state: "tentative" | "assigned" | "deprecated";
  /** Expiry of the valid lifetime, ms (`Infinity`: infinite). */
  validUntil: number;
  /** End of the preferred lifetime, ms (`Infinity`: infinite). */
  preferredUntil: number;
  dadCounter: number;
  readonly validTimer: Timer<TimerId>;
  readonly preferredTimer: Timer<TimerId>;
}

/** SLAAC for every device. */
export class Slaac {
  private readonly entries = new Map<string, SlaacAddress>();
  /** An address of `device` was added (`true`) or removed (`false`): MLD joins/leaves its solicited-node group. */
  onAddress: (device: DeviceId, addr: Ipv6Addr, added: boolean) => void = () => {};

  constructor(
    private readonly ctx: HostconfContext,
    private readonly dad: Dad,
    private readonly timers: TimerRegistry,
    private readonly iid: IidSource,
    readonly config: SlaacConfig = DEFAULT_SLAAC_CONFIG,
  ) {}

  private static key(device: DeviceId, prefix: Uint8Array): string {
    return `${device}/${v6Key(prefix)}`;
  }

  /** The SLAAC addresses of `device`. */
  addresses(device: DeviceId): readonly SlaacAddress[] {
    return [...this.entries.values()].filter((e) => e.device === device);
  }

  /** RFC 4862 5.5.3: a prefix information option with the A flag, from an accepted advertisement. */
  onPrefix(device: DeviceId, p: AutonomousPrefix): void {
    // RFC 4862 5.5.3 b: the link-local prefix is ignored.
    if (isLinkLocal(p.prefix)) return;
    // RFC 4862 5.5.3 c: a preferred lifetime above the valid lifetime is ignored.
    if (p.preferredLifetime > p.validLifetime) return;
    const now = this.ctx.now();
    const e = this.entries.get(Slaac.key(device, p.prefix));
    if (e === undefined) {
      // RFC 4862 5.5.3 d: a new prefix with a non-zero valid lifetime forms an address...
      if (p.validLifetime === 0) return;
      // ... only when prefix length + IID length is 128.
      if (p.prefixLen + IID_BITS !== 128) return;
      if (this.countFor(device) >= this.config.maxAddresses) {
        this.ctx.counters.inc(FULL);
        return;
      }
      this.ctx.counters.inc(FORMED);
      this.create(device, p, now, 0);
      return;
    }
    // RFC 4862 5.5.3 e: reset the preferred lifetime to the advertised one.
    this.setPreferred(e, p.preferredLifetime, now);
    // RFC 4862 5.5.3 e, the two-hour rule for the valid lifetime.
    const remaining = e.validUntil - now;
    const advertised = p.validLifetime === INFINITE_LIFETIME ? Infinity : p.validLifetime * 1000;
    if (advertised > TWO_HOURS_MS || advertised > remaining) {
      // 1. longer than two hours or than what remains: take it.
      this.setValid(e, advertised === Infinity ? Infinity : now + advertised);
    } else if (remaining <= TWO_HOURS_MS) {
      // 2. two hours or less remain: ignore the advertised valid lifetime (no authentication).
    } else {
      // 3. otherwise: two hours.
      this.setValid(e, now + TWO_HOURS_MS);
    }
  }

  private countFor(device: DeviceId): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.device === device) n++;
    return n;
  }

  private create(device: DeviceId, p: AutonomousPrefix, now: number, dadCounter: number): void {
    const iid = this.iid(device, p.prefix, dadCounter);
    if (iid === null) return;
    const addr = addrFromPrefix(p.prefix, iid);
    const e: SlaacAddress = {
      device,
      prefix: p.prefix,
      addr,
      state: "tentative",
      validUntil: Infinity,
      preferredUntil: Infinity,
      dadCounter,
      validTimer: this.timers.create("lifetime", device, () => {
        this.ctx.counters.inc(EXPIRED);
        this.remove(e);
      }),
      preferredTimer: this.timers.create("lifetime", device, () => this.deprecate(e)),
    };
    this.entries.set(Slaac.key(device, p.prefix), e);
    const valid = p.validLifetime === INFINITE_LIFETIME ? Infinity : now + p.validLifetime * 1000;
    this.setValid(e, valid);
    this.setPreferred(e, p.preferredLifetime, now);
    this.onAddress(device, addr, true);
    this.dad.start(device, addr, p.prefixLen, "slaac");
  }

  private setValid(e: SlaacAddress, until: number): void {
    e.validUntil = until;
    if (until === Infinity) this.ctx.cancel(e.validTimer);
    else this.ctx.schedule(e.validTimer, until);
  }

  private setPreferred(e: SlaacAddress, lifetime: number, now: number): void {
    const until = lifetime === INFINITE_LIFETIME ? Infinity : now + lifetime * 1000;
    e.preferredUntil = until;
    if (until <= now) {
      this.ctx.cancel(e.preferredTimer);
      this.deprecate(e);
      return;
    }
    if (until === Infinity) this.ctx.cancel(e.preferredTimer);
    else this.ctx.schedule(e.preferredTimer, until);
    // RFC 4862 5.5.4: a deprecated address whose preferred lifetime is renewed is preferred again.
    if (e.state === "deprecated") {
      e.state = "assigned";
      this.ctx.setAddressState(e.device, e.addr, "assigned");
      this.emit(e, "assigned");
    }
  }

  /** RFC 4862 5.5.4: the preferred lifetime ended: the address is deprecated. */
  private deprecate(e: SlaacAddress): void {
    if (e.state === "deprecated") return;
    if (e.state === "tentative") {
      // Deprecated once DAD passes (`onDadResult`).
      return;
    }
    e.state = "deprecated";
    this.ctx.counters.inc(DEPRECATED);
    this.ctx.setAddressState(e.device, e.addr, "deprecated");
    this.emit(e, "deprecated");
  }

  /** The valid lifetime ended: the address is removed (RFC 4862 5.5.4, 5.5.3 d "invalid"). */
  private remove(e: SlaacAddress): void {
    if (!this.forget(e)) return;
    if (this.dad.cancel(e.device, e.addr) || e.state !== "tentative") {
      this.ctx.removeAddress(e.device, e.addr);
      this.emit(e, "removed");
    }
    this.onAddress(e.device, e.addr, false);
  }

  private forget(e: SlaacAddress): boolean {
    const k = Slaac.key(e.device, e.prefix);
    if (this.entries.get(k) !== e) return false;
    this.entries.delete(k);
    this.ctx.cancel(e.validTimer);
    this.ctx.cancel(e.preferredTimer);
    this.timers.release(e.validTimer);
    this.timers.release(e.preferredTimer);
    return true;
  }

  private emit(e: SlaacAddress, state: "assigned" | "deprecated" | "removed"): void {
    this.ctx.emit({ type: "address-changed", device: e.device, addr: e.addr, prefixLen: 64, state });
  }

  private find(device: DeviceId, addr: Uint8Array): SlaacAddress | undefined {
    for (const e of this.entries.values()) if (e.device === device && v6Equal(e.addr, addr)) return e;
    return undefined;
  }

  /** DAD finished for an address SLAAC formed. */
  onDadResult(device: DeviceId, addr: Ipv6Addr, ok: boolean): void {
    const e = this.find(device, addr);
    if (e === undefined) return;
    if (ok) {
      e.state = "assigned";
      // RFC 4862 5.5.4: a preferred lifetime that ended during DAD deprecates it now.
      if (e.preferredUntil <= this.ctx.now()) this.deprecate(e);
      return;
    }
    // RFC 4862 5.4.5: the address is not used. RFC 7217 6: with stable IIDs, try the next counter.
    this.forget(e);
    this.onAddress(device, addr, false);
    const now = this.ctx.now();
    if (e.dadCounter + 1 > IDGEN_RETRIES) return;
    const next = this.iid(device, e.prefix, e.dadCounter + 1);
    if (next === null || v6Equal(addrFromPrefix(e.prefix, next), addr)) return;
    const valid = e.validUntil === Infinity ? INFINITE_LIFETIME : Math.max(0, Math.floor((e.validUntil - now) / 1000));
    const preferred =
      e.preferredUntil === Infinity ? INFINITE_LIFETIME : Math.max(0, Math.floor((e.preferredUntil - now) / 1000));
    if (valid === 0) return;
    this.create(
      device,
      { prefix: e.prefix, prefixLen: 64, validLifetime: valid, preferredLifetime: preferred },
      now,
      e.dadCounter + 1,
    );
  }

  /**
   * The Stack removes `addr` itself (an application's `removeAddress`): if SLAAC formed it, forget
   * it (its timers, its DAD, its solicited-node membership) without events. False when not SLAAC's.
   */
  release(device: DeviceId, addr: Uint8Array): boolean {
    const e = this.find(device, addr);
    if (e === undefined || !this.forget(e)) return false;
    this.dad.cancel(device, e.addr);
    this.onAddress(device, e.addr, false);
    return true;
  }

  /** The device went down: forget its SLAAC addresses (removing them). */
  stop(device: DeviceId): void {
    for (const e of [...this.entries.values()]) if (e.device === device) this.remove(e);
  }
}
