/**
 * The multicast listener state machine of a host, written once for IGMP (IPv4: RFC 1112, RFC 2236,
 * RFC 3376) and MLD (IPv6: RFC 2710, RFC 3810). A host joins only any-source
 * groups: every group is in EXCLUDE mode with an empty source list.
 *
 * The protocols come in three generations, the "modes" here, oldest first:
 *   1  IGMPv1 (RFC 1112): per-group reports answer queries; leaving sends nothing.
 *   2  IGMPv2 (RFC 2236) and MLDv1 (RFC 2710): the same, a Leave / Done message when we were the
 *      last to report (2236 3, 2710 4), another member's report suppresses ours.
 *   3  IGMPv3 (RFC 3376) and MLDv2 (RFC 3810): state-change reports of group records
 *      (CHANGE_TO_EXCLUDE {} on join, CHANGE_TO_INCLUDE {} on leave, Robustness Variable times at
 *      random intervals, 3810 6.1 / 3376 5.1), current-state records answering queries through the
 *      per-interface timer (general queries) or per-group timers (group and group-and-source
 *      queries, the five rules of 3810 6.2 / 3376 5.2); no suppression.
 * A host speaks up to its version (`ListenerProtocol.version`); a query of an older generation puts
 * the interface in that mode for the Older Version Querier Present Timeout (RFC 3810 8.2.1, RFC 3376
 * 7.2.1; for an IGMPv2 host an IGMPv1 router, RFC 2236 4), and entering an older mode cancels the
 * pending responses and retransmissions (RFC 3376 7.2.1). The protocol adapters (igmp.ts, mld.ts)
 * parse queries into `ListenerQuery`s and build the messages.
 */
import type { DeviceId, TimerId } from "../context.ts";
import type { IpVersion } from "../ip/version.ts";
import type { Timer } from "../timers.ts";
import { type HostconfContext, randomBelow, type TimerRegistry } from "./context.ts";

/** A generation of listener protocol (see the header). */
export type ListenerMode = 1 | 2 | 3;

/** RFC 3376 4.2.12 / RFC 3810 5.2.12: record types (the same values for both protocols). */
export const RecordType = {
  ModeIsInclude: 1,
  ModeIsExclude: 2,
  ChangeToInclude: 3,
  ChangeToExclude: 4,
} as const;

/** One record of a mode-3 report. */
export interface ListenerRecord<A> {
  type: number;
  group: A;
  sources?: A[];
}

/** A query, as the adapter parsed and checked it. */
export interface ListenerQuery<A> {
  /** The querier's generation (an IGMPv1 query: 1; IGMPv2 and MLDv1: 2; IGMPv3 and MLDv2: 3). */
  mode: ListenerMode;
  /** The group asked about; unspecified for a general query. */
  group: A;
  /** Maximum response delay, ms. */
  maxRespDelayMs: number;
  /** Sources of a group-and-source-specific query (mode 3); empty otherwise. */
  sources: A[];
}

/** What differs between IGMP and MLD. */
export interface ListenerProtocol<A> {
  readonly ip: IpVersion<A>;
  /** The newest generation this host speaks. */
  readonly version: ListenerMode;
  /** RFC 2236 6 / RFC 3810 6: groups that are never reported (all-systems, all-nodes, small scopes). */
  reportable(group: A): boolean;
  /** The Unsolicited Report Interval in `mode`, ms. */
  unsolicitedReportInterval(mode: ListenerMode): number;
  /** How long a querier of generation `mode` keeps the interface in it, ms. */
  olderQuerierTimeout(mode: ListenerMode): number;
  /** A mode-1 or mode-2 report for `group`. */
  sendReport(device: DeviceId, mode: 1 | 2, group: A): void;
  /** A mode-2 Leave Group / Done for `group`. */
  sendLeave(device: DeviceId, group: A): void;
  /** A mode-3 report with `records` (the adapter splits it to fit the link). */
  sendRecords(device: DeviceId, records: ListenerRecord<A>[]): void;
}

class GroupState<A> {
  refs = 1;
  /** RFC 2236 6 / RFC 2710 5: we sent the last report for the group (a Leave / Done is due). */
  lastReporter = false;
  /** State-change reports (mode 3) or unsolicited reports (modes 1, 2) still to send. */
  changesLeft = 0;
  changeType: number = RecordType.ChangeToExclude;
  /** Sources of pending group-and-source-specific queries (RFC 3810 6.2 rules 3-5); null: whole group. */
  querySources: A[] | null = null;
  constructor(
    readonly group: A,
    /** Answers a group-specific query (modes 1 and 2: any query). */
    readonly queryTimer: Timer<TimerId>,
    /** Retransmits the state-change or unsolicited report. */
    readonly changeTimer: Timer<TimerId>,
  ) {}
  get leaving(): boolean {
    return this.refs === 0;
  }
}

class DeviceState<A> {
  readonly groups = new Map<number | string, GroupState<A>>();
  /** Until when (ms) a querier of generation 1 / 2 keeps the interface in that mode. */
  readonly olderUntil = [0, 0, 0];
  constructor(
    readonly device: DeviceId,
    /** RFC 3810 6.2 rule 2 / RFC 3376 5.2: the Interface Timer, answering general queries. */
    readonly interfaceTimer: Timer<TimerId>,
  ) {}
}

/** The listener state of every device, for one protocol. */
export class MulticastListener<A> {
  private readonly devices = new Map<DeviceId, DeviceState<A>>();

  constructor(
    private readonly ctx: HostconfContext,
    private readonly timers: TimerRegistry,
    readonly protocol: ListenerProtocol<A>,
    /** RFC 3810 9.1 / RFC 3376 8.1 / RFC 2236 8.1: Robustness Variable. */
    readonly robustness: number,
  ) {}

  private dev(device: DeviceId): DeviceState<A> {
    let s = this.devices.get(device);
    if (s === undefined) {
      const d: DeviceState<A> = new DeviceState(
        device,
        this.timers.create("multicast-listener", device, () => this.sendCurrentState(d, null)),
      );
      s = d;
      this.devices.set(device, s);
    }
    return s;
  }

  /** The generation `device` speaks now: the host's, or an older querier's while it is present. */
  mode(device: DeviceId): ListenerMode {
    const s = this.devices.get(device);
    return s === undefined ? this.protocol.version : this.modeOf(s);
  }

  private modeOf(s: DeviceState<A>): ListenerMode {
    const now = this.ctx.now();
    if (s.olderUntil[1] > now) return 1;
    if (s.olderUntil[2] > now && this.protocol.version > 2) return 2;
    return this.protocol.version;
  }

  /** The groups joined on `device` (not being left). */
  groups(device: DeviceId): A[] {
    const s = this.devices.get(device);
    if (s === undefined) return [];
    return [...s.groups.values()].filter((g) => !g.leaving).map((g) => g.group);
  }

  /** Join `group` on `device` (reference counted); the first join reports it. */
  join(device: DeviceId, group: A): void {
    const s = this.dev(device);
    const I = this.protocol.ip;
    const k = I.key(group);
    const g = s.groups.get(k);
    if (g !== undefined) {
      g.refs++;
      if (g.refs === 1) this.stateChange(s, g, RecordType.ChangeToExclude);
      return;
    }
    const fresh: GroupState<A> = new GroupState(
      I.copy(group),
      this.timers.create("multicast-listener", device, () => this.sendGroupResponse(s, fresh)),
      this.timers.create("multicast-listener", device, () => this.retransmitChange(s, fresh)),
    );
    s.groups.set(k, fresh);
    this.stateChange(s, fresh, RecordType.ChangeToExclude);
  }

  /** Leave `group` on `device`; the last reference reports it as the mode asks. */
  leave(device: DeviceId, group: A): void {
    const s = this.devices.get(device);
    const g = s?.groups.get(this.protocol.ip.key(group));
    if (s === undefined || g === undefined || g.leaving) return;
    g.refs--;
    if (g.refs > 0) return;
    this.ctx.cancel(g.queryTimer);
    g.querySources = null;
    if (!this.protocol.reportable(g.group)) {
      this.drop(s, g);
      return;
    }
    const mode = this.modeOf(s);
    if (mode === 3) {
      this.stateChange(s, g, RecordType.ChangeToInclude);
      return;
    }
    // RFC 2236 3 / RFC 2710 4: a Leave / Done when we reported last, none to an IGMPv1 router.
    if (mode === 2 && g.lastReporter) this.protocol.sendLeave(s.device, g.group);
    this.drop(s, g);
  }

  /** The device came (back) up: report every group again (as on a join). */
  start(device: DeviceId): void {
    const s = this.devices.get(device);
    if (s === undefined) return;
    for (const g of [...s.groups.values()]) {
      if (g.leaving) this.drop(s, g);
      else this.stateChange(s, g, RecordType.ChangeToExclude);
    }
  }

  /** The device went down: cancel every pending report (memberships are kept). */
  stop(device: DeviceId): void {
    const s = this.devices.get(device);
    if (s === undefined) return;
    this.ctx.cancel(s.interfaceTimer);
    for (const g of [...s.groups.values()]) {
      this.cancelPending(g);
      if (g.leaving) this.drop(s, g);
    }
  }

  private cancelPending(g: GroupState<A>): void {
    this.ctx.cancel(g.queryTimer);
    this.ctx.cancel(g.changeTimer);
    g.changesLeft = 0;
    g.querySources = null;
  }

  private drop(s: DeviceState<A>, g: GroupState<A>): void {
    this.ctx.cancel(g.queryTimer);
    this.ctx.cancel(g.changeTimer);
    this.timers.release(g.queryTimer);
    this.timers.release(g.changeTimer);
    s.groups.delete(this.protocol.ip.key(g.group));
  }

  /** Report a change now and Robustness - 1 more times at random intervals (3810 6.1, 3376 5.1, 2236 3). */
  private stateChange(s: DeviceState<A>, g: GroupState<A>, type: number): void {
    if (!this.protocol.reportable(g.group)) return;
    g.changeType = type;
    g.changesLeft = this.robustness;
    this.retransmitChange(s, g);
  }

  private retransmitChange(s: DeviceState<A>, g: GroupState<A>): void {
    if (g.changesLeft <= 0) return;
    g.changesLeft--;
    const mode = this.modeOf(s);
    if (mode === 3) {
      this.protocol.sendRecords(s.device, [{ type: g.changeType, group: g.group }]);
    } else if (g.leaving) {
      // Left while in mode 3, now older: the leave is the older mode's single message.
      if (mode === 2 && g.lastReporter) this.protocol.sendLeave(s.device, g.group);
      g.changesLeft = 0;
    } else {
      this.protocol.sendReport(s.device, mode, g.group);
    }
    g.lastReporter = true;
    if (g.changesLeft > 0) {
      const delay = randomBelow(() => this.ctx.random(), this.protocol.unsolicitedReportInterval(mode));
      this.ctx.schedule(g.changeTimer, this.ctx.now() + delay);
    } else if (g.leaving) {
      this.drop(s, g);
    }
  }

  /** RFC 3810 6.3 / RFC 3376 5.2: a current-state report for every group (`only` null) or one group. */
  private sendCurrentState(s: DeviceState<A>, only: GroupState<A> | null): void {
    if (this.modeOf(s) !== 3) return;
    const records: ListenerRecord<A>[] = [];
    for (const g of s.groups.values()) {
      if (g.leaving || !this.protocol.reportable(g.group) || (only !== null && g !== only)) continue;
      records.push({ type: RecordType.ModeIsExclude, group: g.group });
    }
    if (records.length > 0) this.protocol.sendRecords(s.device, records);
  }

  private sendGroupResponse(s: DeviceState<A>, g: GroupState<A>): void {
    if (g.leaving) return;
    const mode = this.modeOf(s);
    if (mode !== 3) {
      this.protocol.sendReport(s.device, mode, g.group);
      g.lastReporter = true;
      return;
    }
    const sources = g.querySources;
    g.querySources = null;
    // RFC 3810 6.3 / RFC 3376 5.2: EXCLUDE {} answers a group query with IS_EX {}, and a
    // group-and-source query with IS_IN of the queried sources (none excluded: all of them).
    if (sources !== null && sources.length > 0) {
      this.protocol.sendRecords(s.device, [{ type: RecordType.ModeIsInclude, group: g.group, sources }]);
    } else this.sendCurrentState(s, g);
  }

  /** A query arrived on `device` (checked by the adapter). Schedules the answer. */
  onQuery(device: DeviceId, q: ListenerQuery<A>): void {
    const s = this.dev(device);
    const now = this.ctx.now();
    const I = this.protocol.ip;
    const before = this.modeOf(s);
    // An older querier: its mode for the Older Version Querier Present Timeout (a newer query is
    // answered in the host's own generation).
    if (q.mode < this.protocol.version) s.olderUntil[q.mode] = now + this.protocol.olderQuerierTimeout(q.mode);
    const mode = this.modeOf(s);
    if (mode < before) {
      // RFC 3376 7.2.1: a change to an older mode cancels pending responses and retransmissions.
      this.ctx.cancel(s.interfaceTimer);
      for (const g of s.groups.values()) this.cancelPending(g);
    }
    const general = I.isUnspecified(q.group);
    if (mode !== 3) {
      // RFC 2236 3 / RFC 2710 4: a random delay timer per group; a running one only moves earlier,
      // and the unsolicited reports still due stop (this response stands for them).
      for (const g of s.groups.values()) {
        if (g.leaving || !this.protocol.reportable(g.group) || (!general && !I.equals(g.group, q.group))) continue;
        let at = now + randomBelow(() => this.ctx.random(), q.maxRespDelayMs);
        if (g.changeTimer.scheduled && g.changeTimer.at < at) at = g.changeTimer.at;
        this.ctx.cancel(g.changeTimer);
        g.changesLeft = 0;
        if (!g.queryTimer.scheduled || g.queryTimer.at > at) this.ctx.schedule(g.queryTimer, at);
      }
      return;
    }
    const at = now + randomBelow(() => this.ctx.random(), q.maxRespDelayMs);
    // RFC 3810 6.2 / RFC 3376 5.2 rule 1: a general response due sooner covers this query.
    if (s.interfaceTimer.scheduled && s.interfaceTimer.at <= at) return;
    if (general) {
      // Rule 2: the Interface Timer answers a general query.
      this.ctx.schedule(s.interfaceTimer, at);
      return;
    }
    const g = s.groups.get(I.key(q.group));
    if (g === undefined || g.leaving || !this.protocol.reportable(g.group)) return;
    const n = q.sources.length;
    if (!g.queryTimer.scheduled) {
      // Rule 3: no pending response for the group.
      g.querySources = n > 0 ? q.sources.map((a) => I.copy(a)) : null;
      this.ctx.schedule(g.queryTimer, at);
      return;
    }
    // Rules 4 and 5: one response at the earlier time; sources merged, or the whole group.
    if (n === 0 || g.querySources === null) g.querySources = null;
    else {
      for (const a of q.sources) if (!g.querySources.some((x) => I.equals(x, a))) g.querySources.push(I.copy(a));
    }
    if (g.queryTimer.at > at) this.ctx.schedule(g.queryTimer, at);
  }

  /** RFC 2236 3 / RFC 2710 4: another member's report for `group` suppresses ours (modes 1, 2). */
  onReport(device: DeviceId, group: A): void {
    const s = this.devices.get(device);
    if (s === undefined || this.modeOf(s) === 3) return;
    const g = s.groups.get(this.protocol.ip.key(group));
    if (g === undefined) return;
    this.ctx.cancel(g.queryTimer);
    this.ctx.cancel(g.changeTimer);
    g.changesLeft = 0;
    g.lastReporter = false;
  }
}
