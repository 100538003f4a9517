/**
 * `FakeHostconfContext`: a `HostconfContext` with a virtual clock that records everything the
 * state machines do (messages as bytes, addresses, routes, link parameters, events) and runs their
 * timers in time order. For hostconf's tests and for the Stack author to see the contract working.
 */
import type { AddressOrigin, AddressState, DeviceId, StackEvent, TimerId } from "../context.ts";
import { Counters } from "../counters.ts";
import { formatV4, formatV6, type Ipv4Addr, type Ipv6Addr, v6Copy, v6Key } from "../ip/addr.ts";
import { Buf } from "../packet/buf.ts";
import { EMPTY_BODY, type PacketBuilder, TooBig } from "../packet/serialize.ts";
import { type Timer, TimerQueue } from "../timers.ts";
import type { HostconfContext } from "./context.ts";

/** An ICMPv6 message sent through the context. */
export interface SentIcmpv6 {
  device: DeviceId;
  src: string;
  dst: string;
  hopLimit: number;
  routerAlert: boolean;
  /** The whole ICMPv6 message, checksum included. */
  bytes: Uint8Array;
  at: number;
}

/** An IGMP message sent through the context. */
export interface SentIgmp {
  device: DeviceId;
  dst: string;
  bytes: Uint8Array;
  at: number;
}

export interface FakeAddr {
  addr: Ipv6Addr;
  prefixLen: number;
  state: AddressState;
  origin: AddressOrigin;
}

/** Serialize a message builder alone into fresh bytes (every byte written by the builder). */
export function serializeMessage(msg: PacketBuilder): Uint8Array {
  const out = EMPTY_BODY.wrapIn(msg).serialize({ target: new Buf(new Uint8Array(msg.headerLen + 64).fill(0xaa)) });
  if (out instanceof TooBig) throw new RangeError("message too big");
  return out.toBytes();
}

export class FakeHostconfContext implements HostconfContext {
  readonly counters = new Counters();
  time = 0;
  /** Values `random()` returns first; then `defaultRandom`. */
  randoms: number[] = [];
  /** Half the range: every random delay is half its maximum. */
  defaultRandom = 0x80000000;
  readonly queue = new TimerQueue<TimerId>();
  readonly icmpv6: SentIcmpv6[] = [];
  readonly igmp: SentIgmp[] = [];
  readonly events: StackEvent[] = [];
  /** device -> v6Key -> address. */
  readonly addrs = new Map<DeviceId, Map<string, FakeAddr>>();
  /** "device prefix/len via gateway|on-link". */
  readonly routes = new Set<string>();
  readonly mtu = new Map<DeviceId, number>();
  readonly hopLimit = new Map<DeviceId, number>();
  readonly neighborTimes = new Map<DeviceId, { reachableTime: number; retransTimer: number }>();
  /** Called with each timer that fires during `advance` (wire it to `Hostconf.handleTimer`). */
  onTimer: (id: TimerId) => void = () => {};

  now(): number {
    return this.time;
  }
  random(): number {
    return (this.randoms.length > 0 ? (this.randoms.shift() as number) : this.defaultRandom) >>> 0;
  }
  schedule(timer: Timer<TimerId>, at: number): void {
    this.queue.schedule(timer, at);
  }
  cancel(timer: Timer<TimerId>): void {
    this.queue.cancel(timer);
  }
  sendIcmpv6(device: DeviceId, src: Ipv6Addr, dst: Ipv6Addr, hopLimit: number, msg: PacketBuilder, ra: boolean): void {
    this.icmpv6.push({
      device,
      src: formatV6(src),
      dst: formatV6(dst),
      hopLimit,
      routerAlert: ra,
      bytes: serializeMessage(msg),
      at: this.time,
    });
  }
  sendIgmp(device: DeviceId, dst: Ipv4Addr, msg: PacketBuilder): void {
    this.igmp.push({ device, dst: formatV4(dst), bytes: serializeMessage(msg), at: this.time });
  }
  linkLocalAddress(device: DeviceId): Ipv6Addr | null {
    for (const a of this.addrs.get(device)?.values() ?? []) {
      if (a.addr[0] === 0xfe && (a.addr[1] & 0xc0) === 0x80 && a.state !== "tentative") return a.addr;
    }
    return null;
  }
  addAddress(device: DeviceId, addr: Ipv6Addr, prefixLen: number, state: AddressState, origin: AddressOrigin): void {
    let m = this.addrs.get(device);
    if (m === undefined) {
      m = new Map();
      this.addrs.set(device, m);
    }
    m.set(v6Key(addr), { addr: v6Copy(addr), prefixLen, state, origin });
  }
  setAddressState(device: DeviceId, addr: Ipv6Addr, state: AddressState): void {
    const a = this.addrs.get(device)?.get(v6Key(addr));
    if (a === undefined) throw new Error(`setAddressState of unknown ${formatV6(addr)}`);
    a.state = state;
  }
  removeAddress(device: DeviceId, addr: Ipv6Addr): void {
    this.addrs.get(device)?.delete(v6Key(addr));
  }
  addRoute(device: DeviceId, prefix: Ipv6Addr, prefixLen: number, gateway: Ipv6Addr | null): void {
    this.routes.add(routeKey(device, prefix, prefixLen, gateway));
  }
  removeRoute(device: DeviceId, prefix: Ipv6Addr, prefixLen: number, gateway: Ipv6Addr | null): void {
    const k = routeKey(device, prefix, prefixLen, gateway);
    if (!this.routes.delete(k)) throw new Error(`removeRoute of unknown ${k}`);
  }
  setLinkMtu(device: DeviceId, mtu: number): void {
    this.mtu.set(device, mtu);
  }
  setCurHopLimit(device: DeviceId, hopLimit: number): void {
    this.hopLimit.set(device, hopLimit);
  }
  setNeighborTimes(device: DeviceId, reachableTime: number, retransTimer: number): void {
    this.neighborTimes.set(device, { reachableTime, retransTimer });
  }
  emit(event: StackEvent): void {
    this.events.push(event);
  }

  /** Move the clock to `now + ms`, firing every timer due on the way in time order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const t = this.queue.peek();
      if (t === null || t.at > end) break;
      this.queue.popExpired(t.at);
      this.time = Math.max(this.time, t.at);
      this.onTimer(t.data);
    }
    this.time = end;
  }

  /** The addresses of `device` as "addr/len state" text. */
  addresses(device: DeviceId): string[] {
    return [...(this.addrs.get(device)?.values() ?? [])].map((a) => `${formatV6(a.addr)}/${a.prefixLen} ${a.state}`);
  }

  /** Events as short text: "address-changed fe80::1 tentative", "dad-failed fe80::1". */
  eventLog(): string[] {
    return this.events.map((e) => {
      if (e.type === "address-changed")
        return `${e.type} ${typeof e.addr === "number" ? formatV4(e.addr) : formatV6(e.addr)} ${e.state}`;
      if (e.type === "dad-failed") return `${e.type} ${formatV6(e.addr)}`;
      return e.type;
    });
  }
}

function routeKey(device: DeviceId, prefix: Ipv6Addr, len: number, gw: Ipv6Addr | null): string {
  return `${device} ${formatV6(prefix)}/${len} ${gw === null ? "on-link" : `via ${formatV6(gw)}`}`;
}
