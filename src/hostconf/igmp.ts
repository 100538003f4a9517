/**
 * IGMPv2 host membership: RFC 2236 (section 3 host behaviour, section 6 host state diagram),
 * with IGMPv1 routers handled as section 4 says and IGMPv3 queries answered as IGMPv2 queries
 * (RFC 3376 7.2.1, a host in IGMPv2 compatibility).
 *
 * Joining sends an unsolicited report, repeated after a random delay up to the Unsolicited Report
 * Interval (Robustness Variable reports in all). A query starts a random timer per group, up to
 * its Max Response Time; another member's report for the group cancels ours (we are then not the
 * last reporter). Leaving sends a Leave Group to all-routers when we were the last reporter and no
 * IGMPv1 router is present. 224.0.0.1 is never reported (RFC 2236 6).
 */
import type { DeviceId, TimerId } from "../context.ts";
import type { Ipv4Addr } from "../ip/addr.ts";
import type { Timer } from "../timers.ts";
import { IgmpBuilder, IgmpType, type IgmpView } from "../wire/igmp.ts";
import { type HostconfContext, randomBelow, type TimerRegistry } from "./context.ts";

/** RFC 2236 8.1: Robustness Variable. */
export const IGMP_ROBUSTNESS = 2;
/** RFC 2236 8.10: Unsolicited Report Interval, 10 s. */
export const IGMP_UNSOLICITED_REPORT_INTERVAL_MS = 10_000;
/** RFC 2236 8.11: Version 1 Router Present Timeout, 400 s. */
export const IGMP_V1_ROUTER_PRESENT_TIMEOUT_MS = 400_000;
const ALL_SYSTEMS = 0xe0000001 as Ipv4Addr;
const ALL_ROUTERS = 0xe0000002 as Ipv4Addr;

/** Why a query was not processed, or "ok". */
export type IgmpVerdict = "ok" | "not-query";

class GroupState {
  refs = 1;
  /** RFC 2236 6: the flag saying we sent the last report for the group. */
  lastReporter = false;
  /** Unsolicited reports still to send. */
  unsolicitedLeft = 0;
  constructor(
    readonly group: Ipv4Addr,
    readonly timer: Timer<TimerId>,
  ) {}
}

class DeviceState {
  readonly groups = new Map<number, GroupState>();
  /** IGMPv1 router present until (ms). */
  v1Until = 0;
}

/** IGMPv2 for every device. */
export class Igmp {
  private readonly devices = new Map<DeviceId, DeviceState>();

  constructor(
    private readonly ctx: HostconfContext,
    private readonly timers: TimerRegistry,
    readonly robustness = IGMP_ROBUSTNESS,
    readonly unsolicitedReportInterval = IGMP_UNSOLICITED_REPORT_INTERVAL_MS,
  ) {}

  private dev(device: DeviceId): DeviceState {
    let s = this.devices.get(device);
    if (s === undefined) {
      s = new DeviceState();
      this.devices.set(device, s);
    }
    return s;
  }

  private v1(s: DeviceState): boolean {
    return s.v1Until > this.ctx.now();
  }

  /** The groups joined on `device`. */
  groups(device: DeviceId): Ipv4Addr[] {
    return [...(this.devices.get(device)?.groups.values() ?? [])].map((g) => g.group);
  }

  /** Join `group` on `device` (reference counted); reports on the first join (RFC 2236 3). */
  join(device: DeviceId, group: Ipv4Addr): void {
    const s = this.dev(device);
    const old = s.groups.get(group);
    if (old !== undefined) {
      old.refs++;
      return;
    }
    const g: GroupState = new GroupState(
      group,
      this.timers.create("igmp", device, () => this.timerFired(device, s, g)),
    );
    s.groups.set(group, g);
    if (group === ALL_SYSTEMS) return;
    g.unsolicitedLeft = this.robustness;
    this.timerFired(device, s, g);
  }

  /** Leave `group` on `device`; the last reference sends a Leave Group when appropriate. */
  leave(device: DeviceId, group: Ipv4Addr): void {
    const s = this.devices.get(device);
    const g = s?.groups.get(group);
    if (s === undefined || g === undefined) return;
    if (--g.refs > 0) return;
    this.ctx.cancel(g.timer);
    this.timers.release(g.timer);
    s.groups.delete(group);
    // RFC 2236 3: a Leave Group to all-routers if we were the last to report and no IGMPv1 router is present.
    if (group !== ALL_SYSTEMS && g.lastReporter && !this.v1(s)) {
      this.ctx.sendIgmp(device, ALL_ROUTERS, new IgmpBuilder(IgmpType.LeaveGroup, 0, group));
    }
  }

  /** The device went down: cancel pending reports (memberships are kept; `start` reports again). */
  stop(device: DeviceId): void {
    const s = this.devices.get(device);
    if (s === undefined) return;
    for (const g of s.groups.values()) {
      this.ctx.cancel(g.timer);
      g.unsolicitedLeft = 0;
    }
  }

  /** The device came (back) up: report every group as on a join. */
  start(device: DeviceId): void {
    const s = this.devices.get(device);
    if (s === undefined) return;
    for (const g of s.groups.values()) {
      if (g.group === ALL_SYSTEMS) continue;
      g.unsolicitedLeft = this.robustness;
      this.timerFired(device, s, g);
    }
  }

  private timerFired(device: DeviceId, s: DeviceState, g: GroupState): void {
    // RFC 2236 3: a version 1 report while an IGMPv1 router is present, else a version 2 report.
    const type = this.v1(s) ? IgmpType.V1MembershipReport : IgmpType.V2MembershipReport;
    this.ctx.sendIgmp(device, g.group, new IgmpBuilder(type, 0, g.group));
    g.lastReporter = true;
    if (g.unsolicitedLeft > 0) g.unsolicitedLeft--;
    if (g.unsolicitedLeft > 0) {
      const delay = randomBelow(() => this.ctx.random(), this.unsolicitedReportInterval);
      this.ctx.schedule(g.timer, this.ctx.now() + delay);
    }
  }

  /** An IGMP query arrived on `device` (checksum checked, parsed with `IgmpView`). */
  onQuery(device: DeviceId, q: IgmpView): IgmpVerdict {
    if (q.type !== IgmpType.MembershipQuery) return "not-query";
    const s = this.dev(device);
    const now = this.ctx.now();
    // RFC 2236 4: a query with Max Response Time 0 comes from an IGMPv1 router.
    if (!q.isV3Query && q.maxRespTime === 0) s.v1Until = now + IGMP_V1_ROUTER_PRESENT_TIMEOUT_MS;
    const at = now + randomBelow(() => this.ctx.random(), q.maxRespDelayMs);
    const general = q.group === 0;
    for (const g of s.groups.values()) {
      if (g.group === ALL_SYSTEMS || (!general && g.group !== q.group)) continue;
      // RFC 2236 3: a running timer is reset only when the new delay is shorter.
      g.unsolicitedLeft = 0;
      if (!g.timer.scheduled || g.timer.at > at) this.ctx.schedule(g.timer, at);
    }
    return "ok";
  }

  /** RFC 2236 3: another member's report for `group` cancels our pending report. */
  onReport(device: DeviceId, group: Ipv4Addr): void {
    const g = this.devices.get(device)?.groups.get(group);
    if (g === undefined) return;
    this.ctx.cancel(g.timer);
    g.unsolicitedLeft = 0;
    g.lastReporter = false;
  }
}
