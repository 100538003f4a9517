/**
 * `Hostconf`: the host-configuration state machines of one Stack, composed: link-local address
 * generation (RFC 4862 5.3), DAD (dad.ts), router discovery (routers.ts), SLAAC (slaac.ts), and the
 * multicast listener machine (multicast-listener.ts) as MLD (mld.ts) and IGMP (igmp.ts), sharing
 * one `HostconfContext` and one timer registry. See index.ts for how the Stack drives it.
 */
import type { AddressOrigin, DeviceId, TimerId } from "../context.ts";
import { type Ipv4Addr, type Ipv6Addr, v6Equal } from "../ip/addr.ts";
import { Icmpv6Type } from "../wire/icmpv6.ts";
import type { IgmpView } from "../wire/igmp.ts";
import { IgmpType } from "../wire/igmp.ts";
import type { MldView, Mldv2ReportView } from "../wire/mld.ts";
import type { NeighborAdvertisementView, NeighborSolicitationView, RouterAdvertisementView } from "../wire/ndp.ts";
import { type HostconfContext, TimerRegistry } from "./context.ts";
import { Dad, type DadConfig, type DadVerdict, DEFAULT_DAD_CONFIG } from "./dad.ts";
import { Igmp } from "./igmp.ts";
import { eui64, linkLocalAddr, StableIidGenerator, solicitedNodeGroup } from "./iid.ts";
import { MLD_ROBUSTNESS, Mld, type MldVerdict } from "./mld.ts";
import {
  DEFAULT_ROUTER_DISCOVERY_CONFIG,
  type RaVerdict,
  RouterDiscovery,
  type RouterDiscoveryConfig,
} from "./routers.ts";
import { DEFAULT_SLAAC_CONFIG, IDGEN_RETRIES, Slaac, type SlaacConfig } from "./slaac.ts";

export interface HostconfConfig {
  dad: DadConfig;
  routers: RouterDiscoveryConfig;
  slaac: SlaacConfig;
  /**
   * Interface identifiers: "eui64" (RFC 4291 appendix A, from the MAC) or "stable" (RFC 7217,
   * keyed by `stableSecret`). Default "eui64".
   */
  iid: "eui64" | "stable";
  /** 16 bytes, kept across restarts for stable IIDs; drawn from `random()` when absent. */
  stableSecret: Uint8Array | null;
  /** Generate a link-local address when a device comes up. Default true. */
  linkLocal: boolean;
  /** MLD and IGMP Robustness Variable. Default 2. */
  robustness: number;
  /** MLD version: 2 (MLDv2 with MLDv1 compatibility, RFC 3810) or 1 (MLDv1 only, RFC 2710). Default 2. */
  mldVersion: 1 | 2;
  /** IGMP version: 2 (RFC 2236, with IGMPv1 compatibility) or 3 (RFC 3376 reports). Default 2. */
  igmpVersion: 2 | 3;
  /**
   * Start soliciting routers only once the link-local address passed DAD (so the solicitations
   * carry it and the link-layer address option; Linux does the same), instead of when the device
   * comes up. Without a link-local address none is sent. Default false.
   */
  solicitAfterLinkLocal: boolean;
}

export const DEFAULT_HOSTCONF_CONFIG: HostconfConfig = {
  dad: DEFAULT_DAD_CONFIG,
  routers: DEFAULT_ROUTER_DISCOVERY_CONFIG,
  slaac: DEFAULT_SLAAC_CONFIG,
  iid: "eui64",
  stableSecret: null,
  linkLocal: true,
  robustness: MLD_ROBUSTNESS,
  mldVersion: 2,
  igmpVersion: 2,
  solicitAfterLinkLocal: false,
};

interface DeviceInfo {
  mac: Uint8Array | null;
  maxMtu: number;
  /** The link-local address hostconf generated, and its DAD attempt. */
  linkLocal: Ipv6Addr | null;
  linkLocalCounter: number;
}

const LINK_LOCAL_PREFIX = new Uint8Array([0xfe, 0x80, 0, 0, 0, 0, 0, 0]);

/** Host configuration for every device of one Stack. */
export class Hostconf {
  readonly timers = new TimerRegistry();
  readonly dad: Dad;
  readonly routers: RouterDiscovery;
  readonly slaac: Slaac;
  readonly mld: Mld;
  readonly igmp: Igmp;
  readonly config: HostconfConfig;
  private readonly devices = new Map<DeviceId, DeviceInfo>();
  /** Manual addresses whose DAD a device going down interrupted (probed again when it comes up). */
  private readonly suspended = new Map<DeviceId, { addr: Ipv6Addr; prefixLen: number }[]>();
  private readonly stable: StableIidGenerator | null;
  /** A router (RFC 4861 6.2) solicits no routers. */
  private router = false;

  constructor(
    private readonly ctx: HostconfContext,
    config: Partial<HostconfConfig> = {},
  ) {
    const c = { ...DEFAULT_HOSTCONF_CONFIG, ...config };
    this.config = c;
    this.routers = new RouterDiscovery(ctx, this.timers, c.routers);
    this.dad = new Dad(ctx, c.dad, (d) => this.routers.retransTimer(d));
    this.slaac = new Slaac(ctx, this.dad, this.timers, (d, p, n) => this.iidFor(d, p, n), c.slaac);
    this.mld = new Mld(ctx, this.timers, c.robustness, undefined, c.mldVersion);
    this.igmp = new Igmp(ctx, this.timers, c.robustness, undefined, c.igmpVersion);
    if (c.iid === "stable") {
      let secret = c.stableSecret;
      if (secret === null) {
        secret = new Uint8Array(16);
        for (let i = 0; i < 16; i += 4) {
          const r = ctx.random();
          secret[i] = r & 0xff;
          secret[i + 1] = (r >>> 8) & 0xff;
          secret[i + 2] = (r >>> 16) & 0xff;
          secret[i + 3] = r >>> 24;
        }
      }
      this.stable = new StableIidGenerator(secret);
    } else this.stable = null;
    this.routers.onPrefix = (d, p) => this.slaac.onPrefix(d, p);
    this.slaac.onAddress = (d, a, added) => {
      if (added) this.mld.join(d, solicitedNodeGroup(a));
      else this.mld.leave(d, solicitedNodeGroup(a));
    };
    this.dad.onResult = (d, a, ok, origin) => this.dadResult(d, a, ok, origin);
  }

  /** The interface identifier for `prefix` on `device`, DAD attempt `counter`; null without one. */
  private iidFor(device: DeviceId, prefix: Uint8Array, counter: number): Uint8Array | null {
    const info = this.devices.get(device);
    if (info === undefined || info.mac === null) return null;
    if (this.stable !== null) return this.stable.iid(prefix, info.mac, counter);
    // An EUI-64 IID is the same on every attempt: no retry after a DAD failure.
    return counter === 0 ? eui64(info.mac) : null;
  }

  /**
   * `device` came up. `mac` is its link-layer address (null for links without one, e.g. loopback:
   * no link-local address, no router discovery), `maxMtu` the link type's largest MTU.
   * RFC 4862 5.3: generate the link-local address (DAD follows); RFC 4861 6.3.7: solicit routers;
   * RFC 3810 6.1 / RFC 2236 3: report joined groups again.
   */
  deviceUp(device: DeviceId, mac: Uint8Array | null, maxMtu: number, options: { linkLocal?: boolean } = {}): void {
    const info: DeviceInfo = { mac: mac === null ? null : mac.slice(), maxMtu, linkLocal: null, linkLocalCounter: 0 };
    this.devices.set(device, info);
    this.mld.start(device);
    this.igmp.start(device);
    for (const a of this.suspended.get(device) ?? []) this.dad.resume(device, a.addr, a.prefixLen);
    this.suspended.delete(device);
    if (mac === null) return;
    const waitForLinkLocal = this.config.solicitAfterLinkLocal || this.router;
    if (waitForLinkLocal) this.routers.attach(device, mac, maxMtu);
    if (this.config.linkLocal && options.linkLocal !== false) this.startLinkLocal(device, info);
    if (!waitForLinkLocal) this.routers.start(device, mac, maxMtu);
  }

  /** Act as a router (RFC 4861 6.2: no router solicitations) or as a host again. */
  setRouter(router: boolean): void {
    this.router = router;
  }

  private startLinkLocal(device: DeviceId, info: DeviceInfo): void {
    const iid = this.iidFor(device, LINK_LOCAL_PREFIX, info.linkLocalCounter);
    if (iid === null) return;
    const ll = linkLocalAddr(iid);
    info.linkLocal = ll;
    // RFC 4862 5.4.2: join the solicited-node group (its MLD report goes out first), then DAD.
    this.mld.join(device, solicitedNodeGroup(ll));
    this.dad.start(device, ll, 64, "link-local");
  }

  /** `device` went down: stop every timer, remove the link-local and SLAAC addresses and learned routes. */
  deviceDown(device: DeviceId): void {
    const info = this.devices.get(device);
    this.routers.stop(device);
    this.slaac.stop(device);
    if (info?.linkLocal != null) {
      const ll = info.linkLocal;
      info.linkLocal = null;
      this.dad.cancel(device, ll);
      this.ctx.removeAddress(device, ll);
      this.ctx.emit({ type: "address-changed", device, addr: ll, prefixLen: 64, state: "removed" });
      this.mld.leave(device, solicitedNodeGroup(ll));
    }
    const tentative = this.dad.suspendDevice(device);
    if (tentative.length > 0) this.suspended.set(device, tentative);
    this.mld.stop(device);
    this.igmp.stop(device);
    this.devices.delete(device);
  }

  /** The link-local address hostconf generated for `device` (null until generated, or after DAD failed). */
  linkLocal(device: DeviceId): Ipv6Addr | null {
    return this.devices.get(device)?.linkLocal ?? null;
  }

  /** A manually configured IPv6 address: join its solicited-node group and run DAD (RFC 4862 5.4). */
  addAddress(device: DeviceId, addr: Ipv6Addr, prefixLen: number): void {
    if (this.dad.isTentative(device, addr)) return;
    this.mld.join(device, solicitedNodeGroup(addr));
    this.dad.start(device, addr, prefixLen, "manual");
  }

  /**
   * The Stack removes an address itself (an application's `removeAddress`): stop its DAD, leave
   * its solicited-node group, and forget it if SLAAC formed it or it was the link-local one.
   */
  removeAddress(device: DeviceId, addr: Uint8Array): void {
    if (this.slaac.release(device, addr)) return;
    const info = this.devices.get(device);
    if (info?.linkLocal != null && v6Equal(info.linkLocal, addr)) info.linkLocal = null;
    const waiting = this.suspended.get(device);
    if (waiting !== undefined)
      this.suspended.set(
        device,
        waiting.filter((a) => !v6Equal(a.addr, addr)),
      );
    this.dad.cancel(device, addr);
    this.mld.leave(device, solicitedNodeGroup(addr));
  }

  private dadResult(device: DeviceId, addr: Ipv6Addr, ok: boolean, origin: AddressOrigin): void {
    if (origin === "slaac") {
      this.slaac.onDadResult(device, addr, ok);
      return;
    }
    if (ok) {
      // RFC 4861 6.3.7: solicit routers now that the link-local address can be the source.
      if (origin === "link-local" && this.config.solicitAfterLinkLocal && !this.router) this.routers.solicit(device);
      return;
    }
    this.mld.leave(device, solicitedNodeGroup(addr));
    const info = this.devices.get(device);
    if (origin !== "link-local" || info === undefined || info.linkLocal === null || !v6Equal(info.linkLocal, addr)) {
      return;
    }
    // RFC 4862 5.4.5: a duplicate link-local address is not used. RFC 7217 6: stable IIDs retry.
    info.linkLocal = null;
    if (this.stable !== null && info.linkLocalCounter < IDGEN_RETRIES) {
      info.linkLocalCounter++;
      this.startLinkLocal(device, info);
    }
  }

  /** Join an IPv6 multicast group for an application (MLD reports). */
  joinGroup6(device: DeviceId, group: Ipv6Addr): void {
    this.mld.join(device, group);
  }
  leaveGroup6(device: DeviceId, group: Ipv6Addr): void {
    this.mld.leave(device, group);
  }
  /** Join an IPv4 multicast group (IGMP reports). */
  joinGroup4(device: DeviceId, group: Ipv4Addr): void {
    this.igmp.join(device, group);
  }
  leaveGroup4(device: DeviceId, group: Ipv4Addr): void {
    this.igmp.leave(device, group);
  }

  /** A neighbour solicitation (validated by the Stack). "tentative"/"looped"/"duplicate": do not answer it. */
  onNeighborSolicitation(device: DeviceId, src: Uint8Array, ns: NeighborSolicitationView): DadVerdict {
    return this.dad.onNeighborSolicitation(device, src, ns);
  }

  /** A neighbour advertisement (validated by the Stack). "duplicate": it was for a tentative address. */
  onNeighborAdvertisement(device: DeviceId, na: NeighborAdvertisementView): DadVerdict {
    return this.dad.onNeighborAdvertisement(device, na);
  }

  /** A router advertisement (checksum and options checked; hostconf checks source, hop limit, code). */
  onRouterAdvertisement(device: DeviceId, src: Uint8Array, hopLimit: number, ra: RouterAdvertisementView): RaVerdict {
    return this.routers.onRouterAdvertisement(device, src, hopLimit, ra);
  }

  /** An MLD message (checksum checked, parsed with `parseMld`). */
  onMld(device: DeviceId, src: Uint8Array, hopLimit: number, m: MldView | Mldv2ReportView): MldVerdict | "ignored" {
    if (m.type === Icmpv6Type.MldQuery) return this.mld.onQuery(device, src, hopLimit, m as MldView);
    if (m.type === Icmpv6Type.MldReport) this.mld.onReport(device, (m as MldView).group);
    return "ignored";
  }

  /** An IGMP message (checksum checked, parsed with `IgmpView`). */
  onIgmp(device: DeviceId, m: IgmpView): "ok" | "ignored" {
    if (m.type === IgmpType.MembershipQuery) return this.igmp.onQuery(device, m) === "ok" ? "ok" : "ignored";
    if (m.type === IgmpType.V1MembershipReport || m.type === IgmpType.V2MembershipReport) {
      this.igmp.onReport(device, m.group);
    }
    return "ignored";
  }

  /**
   * A timer of kind dad, router-solicit, lifetime, mld or igmp fired. Returns false when the id is
   * not one of hostconf's (another module's timer kind, or a stale key).
   */
  handleTimer(id: TimerId): boolean {
    switch (id.kind) {
      case "dad":
        this.dad.handleTimer(id);
        return true;
      case "router-solicit":
        this.routers.handleTimer(id);
        return true;
      case "lifetime":
      case "multicast-listener":
        return this.timers.fire(id.key);
      default:
        return false;
    }
  }
}
