/**
 * MLD, the IPv6 face of the multicast listener machine (multicast-listener.ts): RFC 3810 (MLDv2:
 * reports of group records to ff02::16) with RFC 2710 (MLDv1) compatibility: an MLDv1 query puts
 * the interface in MLDv1 mode for the Older Version Querier Present Timeout (RFC 3810 8.2.1), where
 * reports are MLDv1 reports to the group and leaving sends a Done to all-routers. A host configured
 * for MLDv1 only (`version` 1) always speaks it.
 *
 * Messages are ICMPv6 with hop limit 1 and a Hop-by-Hop Router Alert (RFC 3810 5, RFC 2711), from
 * the link-local address or, before the interface has one, from :: (RFC 3810 5.2.13). Queries from
 * a source that is not link-local (RFC 3810 5.1.14) or with another hop limit are ignored. The
 * link-scope all-nodes group and groups of reserved or interface-local scope are never reported
 * (RFC 3810 6).
 */
import type { DeviceId } from "../context.ts";
import { IPV6_ALL_ROUTERS, type Ipv6Addr } from "../ip/addr.ts";
import { Ipv6 } from "../ip/version.ts";
import { Icmpv6Type } from "../wire/icmpv6.ts";
import { ALL_MLDV2_ROUTERS, MldBuilder, type MldView, Mldv2ReportBuilder } from "../wire/mld.ts";
import type { HostconfContext, TimerRegistry } from "./context.ts";
import { isLinkLocal } from "./iid.ts";
import {
  type ListenerMode,
  type ListenerProtocol,
  type ListenerRecord,
  MulticastListener,
} from "./multicast-listener.ts";

/** RFC 3810 9.1: Robustness Variable default. */
export const MLD_ROBUSTNESS = 2;
/** RFC 3810 9.11: Unsolicited Report Interval, 1 s. */
export const MLD_UNSOLICITED_REPORT_INTERVAL_MS = 1000;
/** RFC 2710 7.10: the MLDv1 Unsolicited Report Interval, 10 s. */
export const MLDV1_UNSOLICITED_REPORT_INTERVAL_MS = 10_000;
/** RFC 3810 9.12: Older Version Querier Present Timeout = Robustness * Query Interval (125 s) + Query Response Interval (10 s). */
export const MLD_OLDER_VERSION_QUERIER_TIMEOUT_MS = MLD_ROBUSTNESS * 125_000 + 10_000;
/** Records per report: a report of 60 records (1208 bytes) fits the IPv6 minimum MTU with Hop-by-Hop. */
const MAX_RECORDS = 60;
/** MLD messages are sent with hop limit 1 (RFC 3810 5, RFC 2710 3). */
const MLD_HOP_LIMIT = 1;
const UNSPECIFIED = new Uint8Array(16) as Ipv6Addr;

/** Why a query was not processed, or "ok". */
export type MldVerdict = "ok" | "bad-source" | "bad-hop-limit" | "not-query";

/** RFC 3810 6: groups never reported: ff02::1, and scopes 0 (reserved) and 1 (interface-local). */
export function mldReportable(g: Uint8Array): boolean {
  const scope = g[1] & 0x0f;
  if (scope <= 1) return false;
  if (g[1] === 0x02) {
    for (let i = 2; i < 15; i++) if (g[i] !== 0) return true;
    return g[15] !== 1;
  }
  return true;
}

/** MLD for every device. */
export class Mld implements ListenerProtocol<Ipv6Addr> {
  readonly ip = Ipv6;
  /** The listener generation this host speaks: 3 for MLDv2, 2 for MLDv1 only (see multicast-listener.ts). */
  readonly version: ListenerMode;
  readonly listener: MulticastListener<Ipv6Addr>;

  constructor(
    private readonly ctx: HostconfContext,
    timers: TimerRegistry,
    robustness = MLD_ROBUSTNESS,
    /** The MLDv2 Unsolicited Report Interval, ms. */
    readonly unsolicitedReportIntervalMs = MLD_UNSOLICITED_REPORT_INTERVAL_MS,
    /** 2 (MLDv2 with MLDv1 compatibility, the default) or 1 (MLDv1 only). */
    mldVersion: 1 | 2 = 2,
  ) {
    this.version = mldVersion === 2 ? 3 : 2;
    this.listener = new MulticastListener(ctx, timers, this, robustness);
  }

  /** The groups joined on `device` (for tests and inspection). */
  groups(device: DeviceId): Ipv6Addr[] {
    return this.listener.groups(device);
  }

  /** True while the interface speaks MLDv1 (an MLDv1 querier is present, or MLDv1 is configured). */
  isV1Mode(device: DeviceId): boolean {
    return this.listener.mode(device) < 3;
  }

  /** Join `group` on `device` (reference counted). Reports on the first join. */
  join(device: DeviceId, group: Uint8Array): void {
    this.listener.join(device, group as Ipv6Addr);
  }

  /** Leave `group` on `device`. Reports when the last reference goes. */
  leave(device: DeviceId, group: Uint8Array): void {
    this.listener.leave(device, group as Ipv6Addr);
  }

  /** The device came (back) up: report every group again (RFC 3810 6.1, as on a join). */
  start(device: DeviceId): void {
    this.listener.start(device);
  }

  /** The device went down: cancel every pending report (memberships are kept). */
  stop(device: DeviceId): void {
    this.listener.stop(device);
  }

  /**
   * An MLD query arrived on `device` from `src` with IP hop limit `hopLimit` (checksum checked,
   * parsed with `MldView`). Schedules the answer.
   */
  onQuery(device: DeviceId, src: Uint8Array, hopLimit: number, q: MldView): MldVerdict {
    if (q.type !== Icmpv6Type.MldQuery) return "not-query";
    // RFC 3810 5.1.14: a query from a source that is not link-local is discarded.
    if (!isLinkLocal(src)) return "bad-source";
    // RFC 3810 5 / RFC 2710 3: MLD messages travel with hop limit 1.
    if (hopLimit !== MLD_HOP_LIMIT) return "bad-hop-limit";
    const sources: Ipv6Addr[] = [];
    for (let i = 0; i < q.numSources; i++) sources.push(q.source(i));
    this.listener.onQuery(device, {
      mode: q.isV2Query ? 3 : 2,
      group: q.group,
      maxRespDelayMs: q.maxRespDelay,
      sources,
    });
    return "ok";
  }

  /** RFC 2710 4: another listener's MLDv1 report for `group` suppresses ours (MLDv1 mode only). */
  onReport(device: DeviceId, group: Uint8Array): void {
    this.listener.onReport(device, group as Ipv6Addr);
  }

  // ---- ListenerProtocol ----

  reportable(group: Ipv6Addr): boolean {
    return mldReportable(group);
  }

  unsolicitedReportInterval(mode: ListenerMode): number {
    return mode === 3 ? this.unsolicitedReportIntervalMs : MLDV1_UNSOLICITED_REPORT_INTERVAL_MS;
  }

  olderQuerierTimeout(): number {
    return MLD_OLDER_VERSION_QUERIER_TIMEOUT_MS;
  }

  private source(device: DeviceId): Ipv6Addr {
    // RFC 3810 5.2.13: a link-local source, or :: before the interface has one.
    return this.ctx.linkLocalAddress(device) ?? UNSPECIFIED;
  }

  sendReport(device: DeviceId, _mode: 1 | 2, group: Ipv6Addr): void {
    // RFC 2710 3: a Multicast Listener Report to the group itself.
    const src = this.source(device);
    const msg = new MldBuilder(src, group, Icmpv6Type.MldReport, 0, group);
    this.ctx.sendIcmpv6(device, src, group, MLD_HOP_LIMIT, msg, true);
  }

  sendLeave(device: DeviceId, group: Ipv6Addr): void {
    // RFC 2710 3: a Multicast Listener Done to all-routers.
    const src = this.source(device);
    const msg = new MldBuilder(src, IPV6_ALL_ROUTERS, Icmpv6Type.MldDone, 0, group);
    this.ctx.sendIcmpv6(device, src, IPV6_ALL_ROUTERS, MLD_HOP_LIMIT, msg, true);
  }

  sendRecords(device: DeviceId, records: ListenerRecord<Ipv6Addr>[]): void {
    const src = this.source(device);
    for (let i = 0; i < records.length; i += MAX_RECORDS) {
      const b = new Mldv2ReportBuilder(src, ALL_MLDV2_ROUTERS, records.slice(i, i + MAX_RECORDS));
      this.ctx.sendIcmpv6(device, src, ALL_MLDV2_ROUTERS, MLD_HOP_LIMIT, b, true);
    }
  }
}
