/**
 * IGMP, the IPv4 face of the multicast listener machine (multicast-listener.ts). By default a host
 * speaks IGMPv2 (RFC 2236: reports to the group, Leave Group to 224.0.0.2), with IGMPv1 routers
 * handled as section 4 says (a query with Max Response Time 0: version 1 reports and no leave for
 * the Version 1 Router Present Timeout) and IGMPv3 queries answered as IGMPv2 queries (RFC 3376
 * 7.2.1). Configured for IGMPv3 (`version` 3) it sends RFC 3376 4.2 reports of group records to
 * 224.0.0.22 and falls back to IGMPv2 or IGMPv1 while an older querier is present (RFC 3376 7.2.1,
 * the Older Version Querier Present Timeout of 8.12).
 *
 * Messages are sent with TTL 1 and the Router Alert option (the Stack's `sendIgmp`); 224.0.0.1 is
 * never reported (RFC 2236 6, RFC 3376 5).
 */
import type { DeviceId } from "../context.ts";
import type { Ipv4Addr } from "../ip/addr.ts";
import { Ipv4 } from "../ip/version.ts";
import {
  ALL_IGMPV3_ROUTERS,
  IgmpBuilder,
  IgmpType,
  type IgmpView,
  type Igmpv3Record,
  Igmpv3ReportBuilder,
} from "../wire/igmp.ts";
import type { HostconfContext, TimerRegistry } from "./context.ts";
import {
  type ListenerMode,
  type ListenerProtocol,
  type ListenerRecord,
  MulticastListener,
} from "./multicast-listener.ts";

/** RFC 2236 8.1 / RFC 3376 8.1: Robustness Variable. */
export const IGMP_ROBUSTNESS = 2;
/** RFC 2236 8.10: Unsolicited Report Interval, 10 s. */
export const IGMP_UNSOLICITED_REPORT_INTERVAL_MS = 10_000;
/** RFC 3376 8.11: the IGMPv3 Unsolicited Report Interval, 1 s. */
export const IGMPV3_UNSOLICITED_REPORT_INTERVAL_MS = 1000;
/** RFC 2236 8.11: Version 1 Router Present Timeout, 400 s. */
export const IGMP_V1_ROUTER_PRESENT_TIMEOUT_MS = 400_000;
/** RFC 3376 8.12: Older Version Querier Present Timeout = Robustness * Query Interval (125 s) + Query Response Interval (10 s). */
export const IGMP_OLDER_VERSION_QUERIER_TIMEOUT_MS = IGMP_ROBUSTNESS * 125_000 + 10_000;
const ALL_SYSTEMS = 0xe0000001 as Ipv4Addr;
const ALL_ROUTERS = 0xe0000002 as Ipv4Addr;
/** Records per IGMPv3 report: 60 (488 bytes) fit the 576-byte datagram every host takes. */
const MAX_RECORDS = 60;

/** Why a query was not processed, or "ok". */
export type IgmpVerdict = "ok" | "not-query";

/** IGMP for every device. */
export class Igmp implements ListenerProtocol<Ipv4Addr> {
  readonly ip = Ipv4;
  /** The listener generation this host speaks: 2 (IGMPv2) or 3 (IGMPv3). */
  readonly version: ListenerMode;
  readonly listener: MulticastListener<Ipv4Addr>;

  constructor(
    private readonly ctx: HostconfContext,
    timers: TimerRegistry,
    robustness = IGMP_ROBUSTNESS,
    /** The IGMPv2 Unsolicited Report Interval, ms. */
    readonly unsolicitedReportIntervalMs = IGMP_UNSOLICITED_REPORT_INTERVAL_MS,
    /** 2 (IGMPv2, the default) or 3 (IGMPv3 reports). */
    igmpVersion: 2 | 3 = 2,
  ) {
    this.version = igmpVersion;
    this.listener = new MulticastListener(ctx, timers, this, robustness);
  }

  /** The groups joined on `device`. */
  groups(device: DeviceId): Ipv4Addr[] {
    return this.listener.groups(device);
  }

  /** Join `group` on `device` (reference counted); reports on the first join (RFC 2236 3). */
  join(device: DeviceId, group: Ipv4Addr): void {
    this.listener.join(device, group);
  }

  /** Leave `group` on `device`; the last reference sends a Leave Group when appropriate. */
  leave(device: DeviceId, group: Ipv4Addr): void {
    this.listener.leave(device, group);
  }

  /** The device went down: cancel pending reports (memberships are kept; `start` reports again). */
  stop(device: DeviceId): void {
    this.listener.stop(device);
  }

  /** The device came (back) up: report every group as on a join. */
  start(device: DeviceId): void {
    this.listener.start(device);
  }

  /** An IGMP query arrived on `device` (checksum checked, parsed with `IgmpView`). */
  onQuery(device: DeviceId, q: IgmpView): IgmpVerdict {
    if (q.type !== IgmpType.MembershipQuery) return "not-query";
    const sources: Ipv4Addr[] = [];
    for (let i = 0; i < q.numSources; i++) sources.push(q.source(i));
    // RFC 3376 7.1: an IGMPv1 query has Max Resp Time 0 (8 bytes); IGMPv2 a non-zero one; IGMPv3 is longer.
    const mode: ListenerMode = q.isV3Query ? 3 : q.maxRespTime === 0 ? 1 : 2;
    this.listener.onQuery(device, { mode, group: q.group, maxRespDelayMs: q.maxRespDelayMs, sources });
    return "ok";
  }

  /** RFC 2236 3: another member's report for `group` cancels our pending report. */
  onReport(device: DeviceId, group: Ipv4Addr): void {
    this.listener.onReport(device, group);
  }

  // ---- ListenerProtocol ----

  reportable(group: Ipv4Addr): boolean {
    return group !== ALL_SYSTEMS;
  }

  unsolicitedReportInterval(mode: ListenerMode): number {
    return mode === 3 ? IGMPV3_UNSOLICITED_REPORT_INTERVAL_MS : this.unsolicitedReportIntervalMs;
  }

  olderQuerierTimeout(mode: ListenerMode): number {
    // RFC 2236 4 for an IGMPv2 host; RFC 3376 7.2.1 / 8.12 for an IGMPv3 host.
    return this.version === 2 && mode === 1 ? IGMP_V1_ROUTER_PRESENT_TIMEOUT_MS : IGMP_OLDER_VERSION_QUERIER_TIMEOUT_MS;
  }

  sendReport(device: DeviceId, mode: 1 | 2, group: Ipv4Addr): void {
    // RFC 2236 3: a version 1 report while an IGMPv1 router is present, else a version 2 report.
    const type = mode === 1 ? IgmpType.V1MembershipReport : IgmpType.V2MembershipReport;
    this.ctx.sendIgmp(device, group, new IgmpBuilder(type, 0, group));
  }

  sendLeave(device: DeviceId, group: Ipv4Addr): void {
    // RFC 2236 3: a Leave Group to all-routers.
    this.ctx.sendIgmp(device, ALL_ROUTERS, new IgmpBuilder(IgmpType.LeaveGroup, 0, group));
  }

  sendRecords(device: DeviceId, records: ListenerRecord<Ipv4Addr>[]): void {
    for (let i = 0; i < records.length; i += MAX_RECORDS) {
      const chunk: Igmpv3Record[] = records.slice(i, i + MAX_RECORDS);
      this.ctx.sendIgmp(device, ALL_IGMPV3_ROUTERS, new Igmpv3ReportBuilder(chunk));
    }
  }
}
