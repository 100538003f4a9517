/**
 * `FakeDhcpClientContext`: a `DhcpClientContext` with a virtual clock that records what the DHCP
 * client does (messages as bytes with their addresses, the address, routes, MTU and name servers
 * it installs, events) and answers its RFC 5227 probes as the test says. For the client's tests,
 * the client-against-server tests of src/gateway/, and the Stack author to see the contract.
 */
import type { DeviceId, StackEvent, TimerId } from "../context.ts";
import { formatV4, type Ipv4Addr } from "../ip/addr.ts";
import type { PacketBuilder } from "../packet/serialize.ts";
import { type Timer, TimerQueue } from "../timers.ts";
import type { DhcpClientContext } from "./dhcp-client.ts";
import { serializeMessage } from "./fake-context.ts";

/** A DHCP message the client sent. */
export interface SentDhcp {
  device: DeviceId;
  src: string;
  dst: string;
  /** The whole DHCP message (the UDP payload). */
  bytes: Uint8Array;
  at: number;
}

export class FakeDhcpClientContext implements DhcpClientContext {
  time = 0;
  /** Values `random()` returns first; then `defaultRandom`. */
  randoms: number[] = [];
  /** Half the range: random delays are half their maximum, jitter is zero. */
  defaultRandom = 0x80000000;
  readonly queue = new TimerQueue<TimerId>();
  readonly sent: SentDhcp[] = [];
  readonly events: StackEvent[] = [];
  /** "addr/len" per device. */
  readonly addrs = new Map<DeviceId, Set<string>>();
  /** "device prefix/len via gw". */
  readonly routes = new Set<string>();
  readonly mtu = new Map<DeviceId, number | null>();
  readonly dns = new Map<DeviceId, { servers: string[]; search: string[] }>();
  /** Probes asked for and not finished: "device addr". */
  readonly probing = new Set<string>();
  /** Every probe asked for, in order. */
  readonly probes: string[] = [];
  /** Called with each timer that fires during `advance` (wire it to the client's `handleTimer`). */
  onTimer: (id: TimerId) => void = () => {};
  /** Called after each message sent (a server under test can answer from here). */
  onSend: (m: SentDhcp) => void = () => {};

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
  sendDhcp(device: DeviceId, src: Ipv4Addr, dst: Ipv4Addr, msg: PacketBuilder): void {
    const m = { device, src: formatV4(src), dst: formatV4(dst), bytes: serializeMessage(msg), at: this.time };
    this.sent.push(m);
    this.onSend(m);
  }
  probeAddress(device: DeviceId, addr: Ipv4Addr): void {
    const k = `${device} ${formatV4(addr)}`;
    if (this.probing.has(k)) throw new Error(`a second probe of ${k}`);
    this.probing.add(k);
    this.probes.push(k);
  }
  cancelProbe(device: DeviceId, addr: Ipv4Addr): void {
    this.probing.delete(`${device} ${formatV4(addr)}`);
  }
  addAddress4(device: DeviceId, addr: Ipv4Addr, prefixLen: number): void {
    let s = this.addrs.get(device);
    if (s === undefined) {
      s = new Set();
      this.addrs.set(device, s);
    }
    const k = `${formatV4(addr)}/${prefixLen}`;
    if (s.has(k)) throw new Error(`addAddress4 of ${k} twice`);
    s.add(k);
  }
  removeAddress4(device: DeviceId, addr: Ipv4Addr, prefixLen: number): void {
    const k = `${formatV4(addr)}/${prefixLen}`;
    if (this.addrs.get(device)?.delete(k) !== true) throw new Error(`removeAddress4 of unknown ${k}`);
  }
  addRoute4(device: DeviceId, prefix: Ipv4Addr, prefixLen: number, gateway: Ipv4Addr): void {
    this.routes.add(`${device} ${formatV4(prefix)}/${prefixLen} via ${formatV4(gateway)}`);
  }
  removeRoute4(device: DeviceId, prefix: Ipv4Addr, prefixLen: number, gateway: Ipv4Addr): void {
    const k = `${device} ${formatV4(prefix)}/${prefixLen} via ${formatV4(gateway)}`;
    if (!this.routes.delete(k)) throw new Error(`removeRoute4 of unknown ${k}`);
  }
  setMtu4(device: DeviceId, mtu: number | null): void {
    this.mtu.set(device, mtu);
  }
  setDnsConfig(device: DeviceId, servers: readonly Ipv4Addr[], search: readonly string[]): void {
    this.dns.set(device, { servers: servers.map(formatV4), search: [...search] });
  }
  emit(event: StackEvent): void {
    this.events.push(event);
  }

  /** Finish the probe of `addr` on `device` (it must be running): the caller then tells the client. */
  endProbe(device: DeviceId, addr: string): void {
    if (!this.probing.delete(`${device} ${addr}`)) throw new Error(`no probe of ${addr} running`);
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

  /** The addresses of `device` as "addr/len". */
  addresses(device: DeviceId): string[] {
    return [...(this.addrs.get(device) ?? [])];
  }

  /** Events as short text: "address-changed 10.0.2.15 assigned", "dhcp bound 10.0.2.15 120". */
  eventLog(): string[] {
    return this.events.map((e) => {
      if (e.type === "address-changed" && typeof e.addr === "number") return `${e.type} ${formatV4(e.addr)} ${e.state}`;
      if (e.type === "dhcp") return `dhcp ${e.state} ${formatV4(e.addr)} ${e.leaseSeconds}`;
      return e.type;
    });
  }
}
