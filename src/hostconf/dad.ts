/**
 * Duplicate Address Detection: RFC 4862 5.4, with the nonce of RFC 7527 (enhanced DAD) so a
 * solicitation looped back to us by the link is not mistaken for another node's.
 *
 * `start` installs the address as tentative and, after a random delay (RFC 4862 5.4.2), sends
 * `DupAddrDetectTransmits` neighbour solicitations from :: to the address's solicited-node group,
 * `RetransTimer` apart. A solicitation for the tentative address from :: (another node doing DAD)
 * or an advertisement for it (a node using it) means the address is a duplicate: it is removed and
 * `dad-failed` is emitted. When the last solicitation's `RetransTimer` passes quietly, the address
 * is assigned. The owner (SLAAC, link-local generation) hears the outcome through `onResult`.
 */
import type { AddressOrigin, DeviceId, TimerId, TimerIdOf } from "../context.ts";
import { type Ipv6Addr, v6Copy, v6Key } from "../ip/addr.ts";
import { Timer } from "../timers.ts";
import {
  NDP_HOP_LIMIT,
  NdpOptionType,
  type NeighborAdvertisementView,
  NeighborSolicitationBuilder,
  type NeighborSolicitationView,
  RawNdpOption,
} from "../wire/ndp.ts";
import { DUP_ADDR_DETECT_TRANSMITS, MAX_RTR_SOLICITATION_DELAY_MS, RETRANS_TIMER_MS } from "./constants.ts";
import { type HostconfContext, randomBelow } from "./context.ts";
import { isUnspecified, solicitedNodeGroup } from "./iid.ts";

/** RFC 7527 2: the nonce option carries 6 bytes. */
const NONCE_LEN = 6;

export interface DadConfig {
  /** Solicitations per address (0 disables DAD: addresses are assigned at once). Default 1. */
  transmits: number;
  /** Upper bound of the random delay before the first solicitation, ms (0: sent at once). Default 1000. */
  maxInitialDelay: number;
  /** Include an RFC 7527 nonce option (and ignore our own looped-back solicitations). Default true. */
  nonce: boolean;
}

export const DEFAULT_DAD_CONFIG: DadConfig = {
  transmits: DUP_ADDR_DETECT_TRANSMITS,
  maxInitialDelay: MAX_RTR_SOLICITATION_DELAY_MS,
  nonce: true,
};

/** What a received NS/NA meant for DAD. */
export type DadVerdict =
  /** The target is not an address under DAD: the Stack processes the message as usual. */
  | "not-tentative"
  /** A solicitation from a unicast source for a tentative address: drop it, do not answer (5.4.3). */
  | "tentative"
  /** Our own solicitation came back (same nonce, RFC 7527 4): ignore it. */
  | "looped"
  /** The address is in use: it has been removed and `dad-failed` emitted. */
  | "duplicate";

/** One address under DAD. */
class DadEntry {
  sent = 0;
  readonly nonce = new Uint8Array(NONCE_LEN);
  readonly timer: Timer<TimerId>;
  constructor(
    readonly device: DeviceId,
    readonly addr: Ipv6Addr,
    readonly prefixLen: number,
    readonly origin: AddressOrigin,
  ) {
    this.timer = new Timer<TimerId>({ kind: "dad", device, addr });
  }
}

/** DAD for every tentative address of every device. */
export class Dad {
  private readonly entries = new Map<string, DadEntry>();
  /** Called after an address passed (`ok`) or failed DAD (after the events are emitted). */
  onResult: (device: DeviceId, addr: Ipv6Addr, ok: boolean, origin: AddressOrigin) => void = () => {};

  constructor(
    private readonly ctx: HostconfContext,
    readonly config: DadConfig = DEFAULT_DAD_CONFIG,
    /** RetransTimer of a device in ms (RFC 4861 6.3.4: learned from router advertisements). */
    private readonly retransTimer: (device: DeviceId) => number = () => RETRANS_TIMER_MS,
  ) {}

  private static key(device: DeviceId, addr: Uint8Array): string {
    return `${device}/${v6Key(addr)}`;
  }

  /** True while `addr` is under DAD on `device`. */
  isTentative(device: DeviceId, addr: Uint8Array): boolean {
    return this.entries.has(Dad.key(device, addr));
  }

  /** Addresses under DAD (for tests and inspection). */
  get size(): number {
    return this.entries.size;
  }

  /**
   * RFC 4862 5.4: install `addr` as tentative and start DAD (no-op when it is already under DAD).
   * With `transmits` 0 the address is assigned at once (5.4: DAD disabled): one `assigned` event.
   */
  start(device: DeviceId, addr: Ipv6Addr, prefixLen: number, origin: AddressOrigin): void {
    const k = Dad.key(device, addr);
    if (this.entries.has(k)) return;
    const e = new DadEntry(device, v6Copy(addr), prefixLen, origin);
    if (this.config.transmits <= 0) {
      this.ctx.addAddress(device, e.addr, prefixLen, "assigned", origin);
      this.assigned(e);
      return;
    }
    this.ctx.addAddress(device, e.addr, prefixLen, "tentative", origin);
    this.ctx.emit({ type: "address-changed", device, addr: e.addr, prefixLen, state: "tentative" });
    this.entries.set(k, e);
    if (this.config.nonce) this.drawNonce(e);
    // RFC 4862 5.4.2: delay the first solicitation by a random time in [0, MAX_RTR_SOLICITATION_DELAY].
    if (this.config.maxInitialDelay <= 0) {
      this.step(e);
      return;
    }
    const delay = randomBelow(() => this.ctx.random(), this.config.maxInitialDelay);
    this.ctx.schedule(e.timer, this.ctx.now() + delay);
  }

  /** Stop DAD of `addr` without a verdict (the address was removed by someone else). */
  cancel(device: DeviceId, addr: Uint8Array): boolean {
    const k = Dad.key(device, addr);
    const e = this.entries.get(k);
    if (e === undefined) return false;
    this.ctx.cancel(e.timer);
    this.entries.delete(k);
    return true;
  }

  /** Stop DAD of every address of `device` (device down). */
  cancelDevice(device: DeviceId): void {
    for (const e of [...this.entries.values()]) if (e.device === device) this.cancel(device, e.addr);
  }

  /** A `dad` timer fired: send the next solicitation, or assign the address. */
  handleTimer(id: TimerIdOf<"dad">): void {
    const e = this.entries.get(Dad.key(id.device, id.addr));
    if (e !== undefined) this.step(e);
  }

  private step(e: DadEntry): void {
    if (e.sent < this.config.transmits) {
      this.sendProbe(e);
      e.sent++;
      this.ctx.schedule(e.timer, this.ctx.now() + this.retransTimer(e.device));
      return;
    }
    // RFC 4862 5.4.3: RetransTimer passed after the last solicitation without a duplicate.
    this.entries.delete(Dad.key(e.device, e.addr));
    this.succeed(e);
  }

  private sendProbe(e: DadEntry): void {
    const unspecified = new Uint8Array(16) as Ipv6Addr;
    const dst = solicitedNodeGroup(e.addr);
    // RFC 4862 5.4.2: source ::, destination the solicited-node group, target the tentative
    // address, no source link-layer address option (RFC 4861 7.2.2); RFC 7527 adds the nonce.
    const options = this.config.nonce ? [new RawNdpOption(NdpOptionType.Nonce, e.nonce)] : [];
    const ns = new NeighborSolicitationBuilder(unspecified, dst, e.addr, options);
    this.ctx.sendIcmpv6(e.device, unspecified, dst, NDP_HOP_LIMIT, ns, false);
  }

  private succeed(e: DadEntry): void {
    this.ctx.setAddressState(e.device, e.addr, "assigned");
    this.assigned(e);
  }

  private assigned(e: DadEntry): void {
    this.ctx.emit({
      type: "address-changed",
      device: e.device,
      addr: e.addr,
      prefixLen: e.prefixLen,
      state: "assigned",
    });
    this.onResult(e.device, e.addr, true, e.origin);
  }

  private fail(e: DadEntry): void {
    this.cancel(e.device, e.addr);
    // RFC 4862 5.4.5: the tentative address is not assigned: it goes (`removed`), then the failure
    // is logged (`dad-failed`), the order the Stack has always reported them in.
    this.ctx.removeAddress(e.device, e.addr);
    this.ctx.emit({
      type: "address-changed",
      device: e.device,
      addr: e.addr,
      prefixLen: e.prefixLen,
      state: "removed",
    });
    this.ctx.emit({ type: "dad-failed", device: e.device, addr: e.addr });
    this.onResult(e.device, e.addr, false, e.origin);
  }

  /**
   * Stop DAD of every address of `device` (device down) and return the manual ones that were
   * still tentative, to be probed again when the device comes back (RFC 4862 5.4).
   */
  suspendDevice(device: DeviceId): { addr: Ipv6Addr; prefixLen: number }[] {
    const out: { addr: Ipv6Addr; prefixLen: number }[] = [];
    for (const e of [...this.entries.values()]) {
      if (e.device !== device) continue;
      if (e.origin === "manual") out.push({ addr: e.addr, prefixLen: e.prefixLen });
      this.cancel(device, e.addr);
    }
    return out;
  }

  /** Probe again a tentative address `suspendDevice` returned (it is still installed as tentative). */
  resume(device: DeviceId, addr: Ipv6Addr, prefixLen: number): void {
    const k = Dad.key(device, addr);
    if (this.entries.has(k)) return;
    const e = new DadEntry(device, v6Copy(addr), prefixLen, "manual");
    this.entries.set(k, e);
    if (this.config.nonce) this.drawNonce(e);
    if (this.config.maxInitialDelay <= 0) {
      this.step(e);
      return;
    }
    const delay = randomBelow(() => this.ctx.random(), this.config.maxInitialDelay);
    this.ctx.schedule(e.timer, this.ctx.now() + delay);
  }

  /**
   * A neighbour solicitation arrived on `device` from `src` (already validated by the Stack: hop
   * limit 255, code 0, RFC 4861 7.1.1).
   */
  onNeighborSolicitation(device: DeviceId, src: Uint8Array, ns: NeighborSolicitationView): DadVerdict {
    const e = this.entries.get(Dad.key(device, ns.target));
    if (e === undefined) return "not-tentative";
    // RFC 4862 5.4.3: a solicitation from a unicast source for a tentative target is discarded.
    if (!isUnspecified(src)) return "tentative";
    if (this.config.nonce && e.sent > 0 && this.hasOurNonce(ns, e)) return "looped";
    // RFC 4862 5.4.3: another node is doing DAD for the same address.
    this.fail(e);
    return "duplicate";
  }

  /** A neighbour advertisement arrived on `device` (validated by the Stack, RFC 4861 7.1.2). */
  onNeighborAdvertisement(device: DeviceId, na: NeighborAdvertisementView): DadVerdict {
    const e = this.entries.get(Dad.key(device, na.target));
    if (e === undefined) return "not-tentative";
    // RFC 4862 5.4.4: an advertisement for a tentative address: it is a duplicate.
    this.fail(e);
    return "duplicate";
  }

  private drawNonce(e: DadEntry): void {
    for (let i = 0; i < NONCE_LEN; i += 3) {
      const r = this.ctx.random();
      e.nonce[i] = r & 0xff;
      e.nonce[i + 1] = (r >>> 8) & 0xff;
      e.nonce[i + 2] = (r >>> 16) & 0xff;
    }
  }

  private hasOurNonce(ns: NeighborSolicitationView, e: DadEntry): boolean {
    const c = ns.options();
    while (c.next()) {
      if (c.type !== NdpOptionType.Nonce) continue;
      const d = c.data();
      // RFC 7527 4: the option carries the nonce in its first 6 bytes after type and length.
      if (d.length < NONCE_LEN) return false;
      for (let i = 0; i < NONCE_LEN; i++) if (d[i] !== e.nonce[i]) return false;
      return true;
    }
    return false;
  }
}
