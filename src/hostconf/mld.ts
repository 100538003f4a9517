/**
 * Multicast listener state of a host: RFC 3810 (MLDv2) for the any-source joins a host makes
 * (every group is in EXCLUDE mode with an empty source list), and RFC 2710 (MLDv1) compatibility:
 * an MLDv1 query puts the interface in MLDv1 mode for the Older Version Querier Present Timeout
 * (RFC 3810 8.2.1), where reports are MLDv1 reports and leaves MLDv1 done messages.
 *
 * Joining sends an unsolicited state-change report (CHANGE_TO_EXCLUDE {}), repeated Robustness
 * Variable times at random intervals up to the Unsolicited Report Interval (RFC 3810 6.1); leaving
 * sends CHANGE_TO_INCLUDE {} the same way. Queries are answered after a random delay up to their
 * Maximum Response Delay (RFC 3810 6.2, 6.3). The link-scope all-nodes group and groups of
 * reserved or interface-local scope are never reported (RFC 3810 6).
 */
import type { DeviceId, TimerId } from "../context.ts";
import { type Ipv6Addr, v6Copy, v6Equal, v6Key } from "../ip/addr.ts";
import type { Timer } from "../timers.ts";
import { Icmpv6Type } from "../wire/icmpv6.ts";
import {
  ALL_MLDV2_ROUTERS,
  MldBuilder,
  type MldRecord,
  MldRecordType,
  type MldView,
  Mldv2ReportBuilder,
} from "../wire/mld.ts";
import { type HostconfContext, randomBelow, type TimerRegistry } from "./context.ts";
import { isLinkLocal, isUnspecified } from "./iid.ts";

/** RFC 3810 9.1: Robustness Variable default. */
export const MLD_ROBUSTNESS = 2;
/** RFC 3810 9.11: Unsolicited Report Interval, 1 s. */
export const MLD_UNSOLICITED_REPORT_INTERVAL_MS = 1000;
/** RFC 3810 9.12: Older Version Querier Present Timeout = Robustness * Query Interval (125 s) + Query Response Interval (10 s). */
export const MLD_OLDER_VERSION_QUERIER_TIMEOUT_MS = MLD_ROBUSTNESS * 125_000 + 10_000;
/** Records per report: a report of 60 records (1208 bytes) fits the IPv6 minimum MTU with Hop-by-Hop. */
const MAX_RECORDS = 60;
/** MLD messages are sent with hop limit 1 (RFC 3810 5, RFC 2710 3). */
const MLD_HOP_LIMIT = 1;
const UNSPECIFIED = new Uint8Array(16) as Ipv6Addr;
const ALL_ROUTERS = new Uint8Array([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]) as Ipv6Addr;

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

class GroupState {
  refs = 1;
  /** State-change reports still to send (RFC 3810 6.1: Robustness Variable in all). */
  changesLeft = 0;
  changeType: number = MldRecordType.ChangeToExclude;
  /** Sources of pending group-and-source-specific queries (RFC 3810 6.2 rules 3-5); null: whole group. */
  querySources: Ipv6Addr[] | null = null;
  constructor(
    readonly group: Ipv6Addr,
    /** Answers a group-specific query (or, in MLDv1 mode, any query). */
    readonly queryTimer: Timer<TimerId>,
    /** Retransmits the state-change report. */
    readonly changeTimer: Timer<TimerId>,
  ) {}
  get leaving(): boolean {
    return this.refs === 0;
  }
}

class DeviceState {
  readonly groups = new Map<string, GroupState>();
  /** MLDv1 compatibility mode until (ms); 0: MLDv2 mode. */
  v1Until = 0;
  constructor(
    readonly device: DeviceId,
    /** RFC 3810 6.2 rule 2: the Interface Timer, answering general queries. */
    readonly interfaceTimer: Timer<TimerId>,
  ) {}
}

/** MLD for every device. */
export class Mld {
  private readonly devices = new Map<DeviceId, DeviceState>();

  constructor(
    private readonly ctx: HostconfContext,
    private readonly timers: TimerRegistry,
    readonly robustness = MLD_ROBUSTNESS,
    readonly unsolicitedReportInterval = MLD_UNSOLICITED_REPORT_INTERVAL_MS,
  ) {}

  private dev(device: DeviceId): DeviceState {
    let s = this.devices.get(device);
    if (s === undefined) {
      const d: DeviceState = new DeviceState(
        device,
        this.timers.create("mld", device, () => this.sendCurrentState(d, null)),
      );
      s = d;
      this.devices.set(device, s);
    }
    return s;
  }

  private v1(s: DeviceState): boolean {
    return s.v1Until > this.ctx.now();
  }

  /** The groups joined on `device` (for tests and the Stack's receive filter). */
  groups(device: DeviceId): Ipv6Addr[] {
    const s = this.devices.get(device);
    if (s === undefined) return [];
    return [...s.groups.values()].filter((g) => !g.leaving).map((g) => g.group);
  }

  /** True in MLDv1 compatibility mode. */
  isV1Mode(device: DeviceId): boolean {
    const s = this.devices.get(device);
    return s !== undefined && this.v1(s);
  }

  /** Join `group` on `device` (reference counted). Reports on the first join. */
  join(device: DeviceId, group: Uint8Array): void {
    const s = this.dev(device);
    const k = v6Key(group);
    const g = s.groups.get(k);
    if (g !== undefined) {
      g.refs++;
      if (g.refs === 1) this.stateChange(s, g, MldRecordType.ChangeToExclude);
      return;
    }
    const copy = v6Copy(group);
    const fresh: GroupState = new GroupState(
      copy,
      this.timers.create("mld", device, () => this.sendGroupResponse(s, fresh)),
      this.timers.create("mld", device, () => this.retransmitChange(s, fresh)),
    );
    s.groups.set(k, fresh);
    this.stateChange(s, fresh, MldRecordType.ChangeToExclude);
  }

  /** Leave `group` on `device`. Reports when the last reference goes. */
  leave(device: DeviceId, group: Uint8Array): void {
    const s = this.devices.get(device);
    const g = s?.groups.get(v6Key(group));
    if (s === undefined || g === undefined || g.leaving) return;
    g.refs--;
    if (g.refs > 0) return;
    this.ctx.cancel(g.queryTimer);
    g.querySources = null;
    if (!mldReportable(g.group)) {
      this.drop(s, g);
      return;
    }
    this.stateChange(s, g, MldRecordType.ChangeToInclude);
  }

  /** The device came (back) up: report every group again (RFC 3810 6.1, as on a join). */
  start(device: DeviceId): void {
    const s = this.devices.get(device);
    if (s === undefined) return;
    for (const g of [...s.groups.values()]) {
      if (g.leaving) this.drop(s, g);
      else this.stateChange(s, g, MldRecordType.ChangeToExclude);
    }
  }

  /** The device went down: cancel every pending report (memberships are kept). */
  stop(device: DeviceId): void {
    const s = this.devices.get(device);
    if (s === undefined) return;
    this.ctx.cancel(s.interfaceTimer);
    for (const g of [...s.groups.values()]) {
      this.ctx.cancel(g.queryTimer);
      this.ctx.cancel(g.changeTimer);
      g.changesLeft = 0;
      if (g.leaving) this.drop(s, g);
    }
  }

  private drop(s: DeviceState, g: GroupState): void {
    this.ctx.cancel(g.queryTimer);
    this.ctx.cancel(g.changeTimer);
    this.timers.release(g.queryTimer);
    this.timers.release(g.changeTimer);
    s.groups.delete(v6Key(g.group));
  }

  /** RFC 3810 6.1: send a state-change report now and Robustness - 1 more at random intervals. */
  private stateChange(s: DeviceState, g: GroupState, type: number): void {
    if (!mldReportable(g.group)) return;
    g.changeType = type;
    g.changesLeft = this.robustness;
    this.retransmitChange(s, g);
  }

  private retransmitChange(s: DeviceState, g: GroupState): void {
    if (g.changesLeft <= 0) return;
    g.changesLeft--;
    if (this.v1(s)) {
      // RFC 2710 4: a report to the group (repeated), or one done to all-routers.
      if (g.changeType === MldRecordType.ChangeToInclude) {
        this.sendV1(s, Icmpv6Type.MldDone, g.group, ALL_ROUTERS);
        g.changesLeft = 0;
      } else this.sendV1(s, Icmpv6Type.MldReport, g.group, g.group);
    } else {
      this.sendV2(s, [{ type: g.changeType, group: g.group }]);
    }
    if (g.changesLeft > 0) {
      const delay = randomBelow(() => this.ctx.random(), this.unsolicitedReportInterval);
      this.ctx.schedule(g.changeTimer, this.ctx.now() + delay);
    } else if (g.leaving) {
      this.drop(s, g);
    }
  }

  private source(s: DeviceState): Ipv6Addr {
    // RFC 3810 5.2.13: a link-local source, or :: before the interface has one.
    return this.ctx.linkLocalAddress(s.device) ?? UNSPECIFIED;
  }

  private sendV1(s: DeviceState, type: number, group: Ipv6Addr, dst: Ipv6Addr): void {
    const src = this.source(s);
    this.ctx.sendIcmpv6(s.device, src, dst, MLD_HOP_LIMIT, new MldBuilder(src, dst, type, 0, group), true);
  }

  private sendV2(s: DeviceState, records: MldRecord[]): void {
    const src = this.source(s);
    for (let i = 0; i < records.length; i += MAX_RECORDS) {
      const b = new Mldv2ReportBuilder(src, ALL_MLDV2_ROUTERS, records.slice(i, i + MAX_RECORDS));
      this.ctx.sendIcmpv6(s.device, src, ALL_MLDV2_ROUTERS, MLD_HOP_LIMIT, b, true);
    }
  }

  /** RFC 3810 6.3: a current-state report for every group (`only` null) or one group. */
  private sendCurrentState(s: DeviceState, only: GroupState | null): void {
    if (this.v1(s)) return;
    const records: MldRecord[] = [];
    for (const g of s.groups.values()) {
      if (g.leaving || !mldReportable(g.group) || (only !== null && g !== only)) continue;
      records.push({ type: MldRecordType.ModeIsExclude, group: g.group });
    }
    if (records.length > 0) this.sendV2(s, records);
  }

  private sendGroupResponse(s: DeviceState, g: GroupState): void {
    if (g.leaving) return;
    if (this.v1(s)) {
      this.sendV1(s, Icmpv6Type.MldReport, g.group, g.group);
      return;
    }
    const sources = g.querySources;
    g.querySources = null;
    // RFC 3810 6.3: EXCLUDE {} answers a group query with IS_EX {}, and a group-and-source query
    // with IS_IN of the queried sources (those not excluded: all of them).
    if (sources !== null && sources.length > 0)
      this.sendV2(s, [{ type: MldRecordType.ModeIsInclude, group: g.group, sources }]);
    else this.sendCurrentState(s, g);
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
    const s = this.dev(device);
    const now = this.ctx.now();
    // RFC 3810 8.2.1: an MLDv1 query switches to MLDv1 mode for the Older Version Querier Present Timeout.
    if (!q.isV2Query) s.v1Until = now + MLD_OLDER_VERSION_QUERIER_TIMEOUT_MS;
    const delay = randomBelow(() => this.ctx.random(), q.maxRespDelay);
    const at = now + delay;
    const general = isUnspecified(q.group);
    if (this.v1(s)) {
      // RFC 2710 4: per-group timers; a running timer is only moved earlier.
      for (const g of s.groups.values()) {
        if (g.leaving || !mldReportable(g.group) || (!general && !v6Equal(g.group, q.group))) continue;
        if (!g.queryTimer.scheduled || g.queryTimer.at > at) this.ctx.schedule(g.queryTimer, at);
      }
      return "ok";
    }
    // RFC 3810 6.2 rule 1: a general response due sooner covers this query.
    if (s.interfaceTimer.scheduled && s.interfaceTimer.at <= at) return "ok";
    if (general) {
      // Rule 2: the Interface Timer answers a general query.
      this.ctx.schedule(s.interfaceTimer, at);
      return "ok";
    }
    const g = s.groups.get(v6Key(q.group));
    if (g === undefined || g.leaving || !mldReportable(g.group)) return "ok";
    const n = q.numSources;
    if (!g.queryTimer.scheduled) {
      // Rule 3: no pending response for the group.
      g.querySources = n > 0 ? sourcesOf(q) : null;
      this.ctx.schedule(g.queryTimer, at);
    } else {
      // Rules 4 and 5: one response at the earlier time; sources merged, or the whole group.
      if (n === 0 || g.querySources === null) g.querySources = null;
      else for (const a of sourcesOf(q)) if (!g.querySources.some((x) => v6Equal(x, a))) g.querySources.push(a);
      if (g.queryTimer.at > at) this.ctx.schedule(g.queryTimer, at);
    }
    return "ok";
  }

  /** RFC 2710 4: another listener's MLDv1 report for `group` suppresses ours (MLDv1 mode only). */
  onReport(device: DeviceId, group: Uint8Array): void {
    const s = this.devices.get(device);
    if (s === undefined || !this.v1(s)) return;
    const g = s.groups.get(v6Key(group));
    if (g !== undefined) this.ctx.cancel(g.queryTimer);
  }
}

function sourcesOf(q: MldView): Ipv6Addr[] {
  const out: Ipv6Addr[] = [];
  for (let i = 0; i < q.numSources; i++) out.push(v6Copy(q.source(i)));
  return out;
}
