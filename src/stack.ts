/**
 * The Stack: the composition root of the core. It builds the layers and wires them together, owns
 * the entry points (frames in, timers due, application calls) and the configuration (devices,
 * addresses, routes, forwarding), and reports usage and counters. The protocols themselves live in the layers:
 *
 *   device/    Ethernet framing, the loopback link, ARP, the neighbour machine (NUD) for both versions
 *   ip/        the per-version state, IPv4 and IPv6, ICMPv4 and ICMPv6 (NDP, MLD), multicast
 *              membership, source address selection, address configuration
 *   hostconf/  DAD, router discovery, SLAAC, the IGMP and MLD listener machine (RFC 4862, RFC 4861 6.3,
 *              RFC 3810, RFC 3376), driven from here
 *   transport/ UDP, TCP, ICMP echo sockets, plugged into the IP layer through ip/transport-api.ts
 *
 * (docs/ARCHITECTURE.md draws the layers and follows a frame through them.)
 *
 * Entry points: `receiveFrame(device, buf)` (or a batch of frames: `beginBatch()`, `receiveFrame`
 * per frame, `endBatch()`; or `receiveFrames(device, bufs)`), `handleTimers(now)`, and the
 * configuration and socket calls. Each processes its event completely and returns; frames leave
 * through `bindings.sendFrame`. Work that would re-enter the stack (a packet to one of our own
 * addresses goes through the loopback device) is queued and drained before the entry point
 * returns, so no receive path ever runs inside another. A loopback send made outside any entry
 * point (a socket call) asks the bindings for an immediate wake-up and is delivered from
 * `handleTimers`.
 *
 * Nothing here throws on network input: every malformed or unwanted packet is counted (see
 * `counters.snapshot()`) and dropped, or answered with the ICMP error the RFCs ask for. An
 * exception escaping a handler would be a bug; it is caught at the entry point, counted as
 * `stack.internal-error` and kept in `lastInternalError`.
 */

import type { Bindings, DeviceId, EntryPoints, ErrorCode, IpAddr, SocketId, StackEvent, TimerId } from "./context.ts";
import { Core } from "./core.ts";
import { type Counters, counter } from "./counters.ts";
import { Arp } from "./device/arp.ts";
import { Device } from "./device/device.ts";
import { Ethernet } from "./device/ethernet.ts";
import { Loopback } from "./device/loopback.ts";
import { NEIGHBOR_STATE_NAMES, NeighborTable } from "./device/neighbor.ts";
import { Nud } from "./device/nud.ts";
import { MAX_RTR_SOLICITATION_DELAY_MS } from "./hostconf/constants.ts";
import { Hostconf } from "./hostconf/hostconf.ts";
import {
  formatMac,
  formatV4,
  formatV6,
  IPV6_ALL_NODES,
  IPV6_ALL_ROUTERS,
  type Ipv4Addr,
  type Ipv6Addr,
  MAC_ZERO,
  type MacAddr,
  parseMac,
} from "./ip/addr.ts";
import { Addresses } from "./ip/addresses.ts";
import type { IcmpEchoHandler } from "./ip/icmp.ts";
import { Icmpv4 } from "./ip/icmpv4.ts";
import { Icmpv6 } from "./ip/icmpv6.ts";
import { Ipv4Layer } from "./ip/ipv4.ts";
import { Ipv6Layer } from "./ip/ipv6.ts";
import { MulticastListeners } from "./ip/multicast.ts";
import { Ndp, type RouterAdvertConfig } from "./ip/ndp.ts";
import { IpOutput } from "./ip/output.ts";
import type { PathMtuCache } from "./ip/pmtu.ts";
import type { RouteError } from "./ip/route.ts";
import { LocalAddresses } from "./ip/sas.ts";
import { IpState, type IpStateConfig } from "./ip/state.ts";
import { parseSubnet } from "./ip/subnet.ts";
import type { IpRxInfo, IpSendError, IpSender, IpSendOptions, TransportProtocol } from "./ip/transport-api.ts";
import { type IpVersion, Ipv4, Ipv6, parseIp } from "./ip/version.ts";
import type { Buf } from "./packet/buf.ts";
import type { Serializer } from "./packet/serialize.ts";
import {
  DEFAULT_STACK_LIMITS,
  type EthernetDeviceOptions,
  type NeighborInfo,
  type RouteOptions,
  type StackLimits,
  type StackOptions,
  type StackUsage,
} from "./stack-options.ts";
import type { CoreTimers } from "./timers.ts";
import { IcmpEchoSockets } from "./transport/icmp-echo.ts";
import { TcpLayer } from "./transport/tcp/tcp-layer.ts";
import { UdpLayer } from "./transport/udp/udp.ts";
import { ParseError } from "./wire/errors.ts";

export {
  DEFAULT_STACK_LIMITS,
  type EthernetDeviceOptions,
  type HostconfOptions,
  type NeighborInfo,
  type RouteOptions,
  type StackLimits,
  type StackOptions,
  type StackUsage,
} from "./stack-options.ts";

const INTERNAL_ERROR = counter("stack.internal-error");
const RX_UNKNOWN_DEVICE = counter("stack.rx.unknown-device");
const RX_DEVICE_DOWN = counter("stack.rx.device-down");

/** Room before a reassembled datagram: the link header and the largest IP header of the version. */
const REASSEMBLY_HEADROOM4 = 14 + 60;
const REASSEMBLY_HEADROOM6 = 14 + 40;

export class Stack implements EntryPoints {
  readonly bindings: Bindings;
  readonly counters: Counters;
  readonly timers: CoreTimers<TimerId>;
  readonly limits: Readonly<StackLimits>;
  /** The IP layer as transports see it. */
  readonly ip: IpSender;
  /** UDP sockets (RFC 768), both versions. */
  readonly udp: UdpLayer;
  /** TCP (RFC 9293), both versions. */
  readonly tcp: TcpLayer;
  /** ICMP echo (ping) sockets, both versions. */
  readonly icmpEcho: IcmpEchoSockets;
  /** IPv6 host configuration and the IGMP / MLD listeners (src/hostconf/), driven by this Stack. */
  readonly hostconf: Hostconf;
  /** The path MTU caches (RFC 1191, RFC 8201), for tools and tests. */
  readonly pmtu4: PathMtuCache<Ipv4Addr>;
  readonly pmtu6: PathMtuCache<Ipv6Addr>;
  /** The loopback device id, or -1 when created without one. */
  readonly loopback: DeviceId = -1;
  /** The last exception caught at an entry point (a bug if set). */
  lastInternalError: unknown = null;

  private readonly core: Core;
  private readonly ethernet: Ethernet;
  private readonly loopbackLink: Loopback;
  private readonly nud4: Nud<Ipv4Addr>;
  private readonly nud6: Nud<Ipv6Addr>;
  private readonly arp: Arp;
  private readonly local: LocalAddresses;
  private readonly state4: IpState<Ipv4Addr>;
  private readonly state6: IpState<Ipv6Addr>;
  private readonly output: IpOutput;
  private readonly ipv4: Ipv4Layer;
  private readonly ipv6: Ipv6Layer;
  private readonly ndp: Ndp;
  private readonly listeners: MulticastListeners;
  private readonly addressConfig: Addresses;
  private readonly timerHandlers = new Map<string, (id: TimerId, now: number) => void>();
  /** Devices created with `ipv6LinkLocal: false`. */
  private readonly noLinkLocal = new Set<DeviceId>();
  private nextSocketId = 1;
  /** Depth of nested entry points (the loopback queue is drained when the outermost returns). */
  private depth = 0;

  constructor(bindings: Bindings, options: StackOptions = {}) {
    const limits = { ...DEFAULT_STACK_LIMITS, ...options.limits };
    const core = new Core(bindings);
    this.core = core;
    this.bindings = bindings;
    this.counters = core.counters;
    this.timers = core.timers;
    this.limits = limits;

    // Links and neighbours.
    const ethernet = new Ethernet(core);
    this.ethernet = ethernet;
    this.loopbackLink = new Loopback(core, limits.loopbackQueue);
    const nudConfig = {
      retransMs: limits.neighborRetransMs,
      multicastSolicit: limits.neighborMulticastSolicit,
      unicastSolicit: limits.neighborUnicastSolicit,
      reachableMs: limits.neighborReachableMs,
      delayMs: limits.neighborDelayMs,
    };
    this.nud4 = new Nud(core, ethernet, Ipv4, nudConfig);
    this.nud6 = new Nud(core, ethernet, Ipv6, nudConfig);
    this.arp = new Arp(core, ethernet, this.nud4);

    // The IP layer's shared pieces.
    this.local = new LocalAddresses(core);
    const stateConfig = (headroom: number): IpStateConfig => ({
      reassemblyTimeoutMs: limits.reassemblyTimeoutMs,
      reassemblyBytes: limits.reassemblyBytes,
      reassemblyDatagrams: limits.reassemblyDatagrams,
      reassemblyFragments: limits.reassemblyFragments,
      reassemblyHeadroom: headroom,
      pmtuEntries: limits.pmtuEntries,
      pmtuTimeoutMs: limits.pmtuTimeoutMs,
      icmpErrorRate: limits.icmpErrorRate,
      icmpErrorBurst: limits.icmpErrorBurst,
      redirectRoutes: limits.redirectRoutes,
    });
    this.state4 = new IpState(core, Ipv4, stateConfig(REASSEMBLY_HEADROOM4));
    this.state6 = new IpState(core, Ipv6, stateConfig(REASSEMBLY_HEADROOM6));
    this.state4.forwarding = options.forwarding?.v4 ?? false;
    this.state6.forwarding = options.forwarding?.v6 ?? false;
    this.pmtu4 = this.state4.pmtu;
    this.pmtu6 = this.state6.pmtu;
    this.output = new IpOutput(
      core,
      ethernet,
      this.loopbackLink,
      this.nud4,
      this.nud6,
      this.local,
      this.state4,
      this.state6,
      () => this.depth > 0,
    );
    const output = this.output;
    this.ip = {
      send: (I, opts, body) =>
        I.version === 4 ? this.ipv4.send(opts as never, body) : this.ipv6.send(opts as never, body),
      maxPayload: (I, dst) => output.maxPayload(I, dst),
      selectSource: (I, dst) => output.selectSource(I, dst),
      isLocal: (I, a) => this.local.isLocal(I, a),
      sendIcmpError: <A>(info: IpRxInfo<A>, buf: Buf, type: number, code: number, param?: number) => {
        if (info.I.version === 4) this.ipv4.sendIcmpErrorFor(info as never, buf, type, code, param ?? 0);
        else this.ipv6.sendIcmpErrorFor(info as never, buf, type, code, param ?? 0);
      },
    };

    // ICMP, the IP layers, IPv6 host configuration and the listeners (hostconf drives the last two).
    const icmp4 = new Icmpv4(core, this.ip, this.local, this.state4);
    let ipv4: Ipv4Layer | null = null;
    this.listeners = new MulticastListeners(core, ethernet, output, () => ipv4?.takeIdent() ?? 0);
    ipv4 = new Ipv4Layer(core, this.state4, this.local, output, icmp4, this.listeners, limits.defaultTtl);
    this.ipv4 = ipv4;
    const hc = options.hostconf ?? {};
    this.addressConfig = new Addresses(
      core,
      this.local,
      this.state4,
      this.state6,
      this.arp,
      this.listeners,
      hc.learnNeighborTimes === true,
    );
    this.hostconf = new Hostconf(this.addressConfig, {
      dad: { transmits: limits.dadTransmits, maxInitialDelay: limits.dadMaxDelayMs, nonce: hc.dadNonce === true },
      routers: {
        solicitations: limits.routerSolicitations,
        solicitationInterval: limits.routerSolicitIntervalMs,
        maxSolicitationDelay: hc.randomSolicitationDelay === true ? MAX_RTR_SOLICITATION_DELAY_MS : 0,
        maxRouters: limits.maxRouters,
        maxPrefixes: limits.maxPrefixes,
        retransTimer: limits.neighborRetransMs,
        reachableTime: limits.neighborReachableMs,
        learnTimes: hc.learnNeighborTimes === true,
      },
      slaac: { maxAddresses: limits.slaacAddresses },
      iid: hc.iid ?? "eui64",
      stableSecret: hc.stableSecret ?? null,
      mldVersion: hc.mldVersion ?? 2,
      igmpVersion: hc.igmpVersion ?? 2,
      solicitAfterLinkLocal: true,
    });
    this.hostconf.setRouter(this.state6.forwarding);
    this.addressConfig.hostconf = this.hostconf;
    this.listeners.hostconf = this.hostconf;
    this.ndp = new Ndp(core, this.ip, ethernet, this.nud6, this.local, this.state6, this.hostconf);
    const icmp6 = new Icmpv6(core, this.ip, this.local, this.state6, this.ndp, this.listeners);
    this.ipv6 = new Ipv6Layer(core, this.state6, this.local, output, icmp6, limits.defaultTtl);

    // Wire the receive paths and what the neighbour machine does when resolution fails.
    ethernet.ipv4 = this.ipv4;
    ethernet.ipv6 = this.ipv6;
    ethernet.arp = this.arp;
    this.loopbackLink.ipv4 = this.ipv4;
    this.loopbackLink.ipv6 = this.ipv6;
    this.nud4.protocol = this.arp;
    this.nud6.protocol = this.ndp;
    this.arp.onUnreachable = (dev, pkt) => icmp4.hostUnreachable(dev, pkt);
    this.ndp.onUnreachable = (dev, pkt) => icmp6.addressUnreachable(dev, pkt);

    if (options.loopback !== false) {
      const lo = this.newDevice("loopback", MAC_ZERO, 65536, "lo", true);
      this.loopback = lo.id;
      core.loopback = lo.id;
      this.addAddress(lo.id, "127.0.0.1/8");
      this.addAddress(lo.id, "::1/128");
    }

    // The transports.
    this.udp = new UdpLayer({
      ip: this.ip,
      emit: (ev) => this.emit(ev),
      random: () => bindings.random(),
      counters: this.counters,
      limits: options.udp,
      allocSocketId: () => this.allocSocketId(),
      onMembershipChange: (I, group, device, joined) => this.listeners.membershipChanged(I, group, device, joined),
    });
    this.registerTransport(17, this.udp);
    this.tcp = new TcpLayer({
      ip: this.ip,
      timers: this.timers,
      now: () => bindings.now(),
      random: () => bindings.random(),
      emit: (ev) => this.emit(ev),
      counters: this.counters,
      options: options.tcp,
      allocSocketId: () => this.allocSocketId(),
    });
    this.registerTransport(6, this.tcp);
    this.setTimerHandler("tcp", (id) => {
      if (id.kind === "tcp") this.tcp.handleTimer(id.socket);
    });
    this.icmpEcho = new IcmpEchoSockets({
      ip: this.ip,
      emit: (ev) => this.emit(ev),
      random: () => bindings.random(),
      now: () => bindings.now(),
      counters: this.counters,
      limits: options.icmpEcho,
      allocSocketId: () => this.allocSocketId(),
    });
    this.registerEcho(this.icmpEcho);
  }

  // ---- plumbing for transports ----

  /** Deliver packets of IP protocol `proto` (both versions) to `t`. */
  registerTransport(proto: number, t: TransportProtocol): void {
    this.state4.transports[proto & 0xff] = t;
    this.state6.transports[proto & 0xff] = t;
  }

  /** Deliver ICMP echo replies (and errors quoting our echo requests) to `h`. */
  registerEcho(h: IcmpEchoHandler | null): void {
    this.state4.echo = h;
    this.state6.echo = h;
  }

  /** Handle timers of `kind` (e.g. "tcp") scheduled on `stack.timers` by another module. */
  setTimerHandler(kind: TimerId["kind"], fn: (id: TimerId, now: number) => void): void {
    this.timerHandlers.set(kind, fn);
  }

  /** A socket id unique across the stack's transports. */
  allocSocketId(): SocketId {
    return this.nextSocketId++;
  }

  /** Tell the host about an event. */
  emit(ev: StackEvent): void {
    this.bindings.onEvent(ev);
  }

  // ---- entry points ----

  /**
   * A frame arrived on `device`. The buffer becomes the stack's, unless `buf.borrowed`: then it is
   * only lent until this call returns, and whatever keeps it calls `own` (src/packet/buf.ts) first.
   * Never throws on any input.
   */
  receiveFrame(device: DeviceId, buf: Buf): void {
    this.depth++;
    try {
      this.rxFrame(device, buf);
    } catch (e) {
      this.internalError(e);
    }
    this.leave();
  }

  /**
   * Start a receive batch: the frames given to `receiveFrame` until the matching `endBatch` arrived
   * together (one read of a link's queue, one poll of a TAP device). TCP then answers every second
   * full-sized segment with one cumulative ACK per connection at `endBatch` instead of an ACK each
   * (RFC 9293 3.8.6.3 / RFC 5681 4.2 stretch ACKs, as Linux sends after GRO; at most
   * `TcpConfig.batchAckBytes` unacknowledged); everything else is answered at once as usual.
   * Batches nest. Bindings that never batch lose nothing: `receiveFrame` alone behaves as before.
   */
  beginBatch(): void {
    this.tcp.beginBatch();
  }

  /** End a receive batch (an entry point: the deferred ACKs leave here). */
  endBatch(): void {
    if (this.tcp.deferredAcks === 0) {
      // Nothing waits: no entry point work (the common case for a batch of one frame).
      this.tcp.endBatch();
      return;
    }
    this.depth++;
    try {
      this.tcp.endBatch();
    } catch (e) {
      this.internalError(e);
    }
    this.leave();
  }

  /** `beginBatch()`, `receiveFrame(device, f)` for each frame in order, `endBatch()`. */
  receiveFrames(device: DeviceId, frames: readonly Buf[]): void {
    this.beginBatch();
    for (let i = 0; i < frames.length; i++) this.receiveFrame(device, frames[i]);
    this.endBatch();
  }

  /** The host's wake-up came: fire every timer due at `now`. */
  handleTimers(now: number): void {
    this.depth++;
    try {
      for (let t = this.timers.popExpired(now); t !== null; t = this.timers.popExpired(now)) {
        this.fire(t.data, now);
      }
    } catch (e) {
      this.internalError(e);
    }
    this.leave();
  }

  private leave(): void {
    if (this.depth === 1) {
      // Receive what this event sent to ourselves, one packet at a time, never nested.
      for (let w = this.loopbackLink.take(); w !== undefined; w = this.loopbackLink.take()) {
        try {
          this.rxFrame(w.device, w.buf);
        } catch (e) {
          this.internalError(e);
        }
      }
    }
    this.depth--;
  }

  private internalError(e: unknown): void {
    this.counters.inc(INTERNAL_ERROR);
    this.lastInternalError = e;
  }

  private rxFrame(device: DeviceId, buf: Buf): void {
    const dev = this.core.devices[device];
    if (dev === undefined) {
      this.counters.inc(RX_UNKNOWN_DEVICE);
      return;
    }
    if (!dev.up) {
      this.counters.inc(RX_DEVICE_DOWN);
      return;
    }
    if (dev.isLoopback) this.loopbackLink.receive(dev, buf);
    else this.ethernet.receive(dev, buf);
  }

  private fire(id: TimerId, now: number): void {
    switch (id.kind) {
      case "neighbor": {
        const dev = this.core.devices[id.device];
        if (dev === undefined) return;
        if (typeof id.addr === "number") this.nud4.timer(dev, id.addr);
        else this.nud6.timer(dev, id.addr);
        return;
      }
      case "reassembly":
        if (id.version === 4) this.ipv4.reassemblyTimeout(now);
        else this.ipv6.reassemblyTimeout(now);
        return;
      case "loopback":
        return; // `leave` drains the queue.
      case "dad":
      case "router-solicit":
      case "lifetime":
      case "multicast-listener":
        this.hostconf.handleTimer(id);
        return;
      default: {
        const h = this.timerHandlers.get(id.kind);
        if (h !== undefined) h(id, now);
      }
    }
  }

  // ---- configuration: devices ----

  private newDevice(kind: "ethernet" | "loopback", mac: MacAddr, mtu: number, name: string, up: boolean): Device {
    const devices = this.core.devices;
    const id = devices.length;
    const limits = this.limits;
    const eth = kind === "ethernet";
    const neighbors4 = eth
      ? new NeighborTable<Ipv4Addr>(
          Ipv4,
          (addr) => ({ kind: "neighbor", device: id, addr }),
          limits.neighborEntries,
          limits.neighborPending,
        )
      : null;
    const neighbors6 = eth
      ? new NeighborTable<Ipv6Addr>(
          Ipv6,
          (addr) => ({ kind: "neighbor", device: id, addr }),
          limits.neighborEntries,
          limits.neighborPending,
        )
      : null;
    const dev = new Device(id, kind, mac, mtu, name, up, neighbors4, neighbors6);
    devices.push(dev);
    this.core.generation++;
    // RFC 4861 7.2.1 / RFC 4291 2.8: every interface listens to the all-nodes group.
    dev.join6(IPV6_ALL_NODES);
    return dev;
  }

  /** Add an Ethernet device. Returns its id. Throws `RangeError` on a malformed MAC (configuration error). */
  addEthernetDevice(opts: EthernetDeviceOptions): DeviceId {
    const mac = typeof opts.mac === "string" ? parseMac(opts.mac) : (Uint8Array.from(opts.mac) as MacAddr);
    if (mac === null || mac.length !== 6) throw new RangeError(`bad MAC ${String(opts.mac)}`);
    const name = opts.name ?? `eth${this.core.devices.length}`;
    const dev = this.newDevice("ethernet", mac, opts.mtu ?? 1500, name, false);
    if (opts.ipv6LinkLocal === false) this.noLinkLocal.add(dev.id);
    // RFC 4291 2.8: routers also listen to all-routers.
    if (this.state6.forwarding) dev.join6(IPV6_ALL_ROUTERS);
    if (opts.up !== false) this.setDeviceUp(dev.id, true);
    return dev.id;
  }

  /**
   * Bring a device up or down. Down drops its neighbour caches (and their queued packets) and
   * stops host configuration on it (RFC 4862: its link-local and SLAAC addresses go, and come
   * back through DAD when it is up again). Up announces its IPv4 addresses (RFC 5227 3).
   */
  setDeviceUp(device: DeviceId, up: boolean): ErrorCode | null {
    const dev = this.core.devices[device];
    if (dev === undefined) return "ENODEV";
    if (dev.up === up) return null;
    dev.up = up;
    this.core.generation++;
    if (dev.isLoopback) return null;
    if (!up) {
      this.nud4.clear(dev);
      this.nud6.clear(dev);
      this.hostconf.deviceDown(dev.id);
      return null;
    }
    this.hostconf.deviceUp(dev.id, dev.mac, dev.maxMtu, { linkLocal: !this.noLinkLocal.has(dev.id) });
    for (const a of dev.v4) this.arp.announce(dev, a.addr);
    return null;
  }

  /** Set a device's MTU (at least the IPv4 minimum, 68). */
  setMtu(device: DeviceId, mtu: number): ErrorCode | null {
    const dev = this.core.devices[device];
    if (dev === undefined) return "ENODEV";
    if (!Number.isInteger(mtu) || mtu < Ipv4.minMtu) return "EINVAL";
    dev.mtu = mtu;
    return null;
  }

  /** Turn forwarding on or off for one IP version. */
  setForwarding(version: 4 | 6, on: boolean): void {
    if (version === 4) {
      this.state4.forwarding = on;
      return;
    }
    if (on !== this.state6.forwarding) {
      for (const d of this.core.devices) {
        if (d.isLoopback) continue;
        // RFC 4291 2.8: routers also listen to all-routers.
        if (on) d.join6(IPV6_ALL_ROUTERS);
        else d.leave6(IPV6_ALL_ROUTERS);
      }
    }
    this.state6.forwarding = on;
    this.hostconf.setRouter(on);
  }

  /** Device ids. */
  deviceIds(): DeviceId[] {
    return this.core.devices.map((d) => d.id);
  }

  /** A device's description. */
  deviceInfo(device: DeviceId): { name: string; kind: string; mac: string; mtu: number; up: boolean } | null {
    const d = this.core.devices[device];
    if (d === undefined) return null;
    return { name: d.name, kind: d.kind, mac: formatMac(d.mac), mtu: d.mtu, up: d.up };
  }

  /** The MAC of a device (a copy). */
  macOf(device: DeviceId): MacAddr | null {
    const d = this.core.devices[device];
    return d === undefined ? null : (d.mac.slice() as MacAddr);
  }

  // ---- configuration: addresses ----

  /**
   * Assign `cidr` ("10.0.0.2/24", "2001:db8::2/64") to `device` and add the on-link route for its
   * subnet. IPv4: a gratuitous ARP announces it (RFC 5227 3). IPv6: the solicited-node group is
   * joined (RFC 4861 7.2.1) and the address stays tentative until DAD passes (RFC 4862 5.4).
   * Errors: ENODEV, EINVAL (bad text), EEXIST.
   */
  addAddress(device: DeviceId, cidr: string): ErrorCode | null {
    return this.addressConfig.add(device, cidr);
  }

  /** Remove an address (text, without prefix) from a device, with its on-link route. */
  removeAddress(device: DeviceId, addr: string): ErrorCode | null {
    return this.addressConfig.remove(device, addr);
  }

  /** The addresses of a device as "addr/len" text, IPv4 first. */
  addresses(device: DeviceId): string[] {
    return this.addressConfig.list(device);
  }

  /**
   * Advertise this stack as an IPv6 router on `device` (forwarding must be on): answer router
   * solicitations with an advertisement of `prefixes` (on-link, autonomous; RFC 4861 6.2), and send
   * one advertisement now. Errors: ENODEV, EINVAL (bad prefix text or forwarding off).
   */
  advertiseRouter(device: DeviceId, cfg: RouterAdvertConfig): ErrorCode | null {
    return this.ndp.advertiseRouter(device, cfg);
  }

  /** IPv6 groups a device listens to (RFC 5952 text), for tests and tools. */
  groups6(device: DeviceId): string[] {
    return this.listeners.groups6(device);
  }

  // ---- configuration: routes ----

  /**
   * Add a route: `addRoute("0.0.0.0/0", { gateway: "10.0.0.1" })`. Without `device`, the device
   * with an on-link route to the gateway is used. Errors: EINVAL (bad text), ENETUNREACH (no device
   * for the gateway), ENODEV, or the routing table's `RouteError`.
   */
  addRoute(prefix: string, opts: RouteOptions = {}): RouteError | ErrorCode | null {
    const s = parseSubnet(prefix);
    if (s instanceof ParseError) return "EINVAL";
    let gw: IpAddr | null = null;
    if (opts.gateway !== undefined) {
      gw = typeof opts.gateway === "string" ? parseIp(opts.gateway) : opts.gateway;
      if (gw === null || (typeof gw === "number") !== (s.ip.version === 4)) return "EINVAL";
    }
    const routes4 = this.state4.routes;
    const routes6 = this.state6.routes;
    let device = opts.device;
    if (device === undefined) {
      if (gw === null) return "EINVAL";
      const r = s.ip.version === 4 ? routes4.lookup(gw as Ipv4Addr) : routes6.lookup(gw as Ipv6Addr);
      if (r === null || r.gateway !== null) return "ENETUNREACH";
      device = r.device;
    }
    if (this.core.devices[device] === undefined) return "ENODEV";
    this.core.generation++;
    const r =
      s.ip.version === 4
        ? routes4.add({ subnet: s as never, device, gateway: gw as Ipv4Addr | null, metric: opts.metric })
        : routes6.add({ subnet: s as never, device, gateway: gw as Ipv6Addr | null, metric: opts.metric });
    return typeof r === "string" ? r : null;
  }

  /** Remove routes for exactly `prefix` (optionally only through `device`). Returns how many. */
  removeRoute(prefix: string, device?: DeviceId): number {
    const s = parseSubnet(prefix);
    if (s instanceof ParseError) return 0;
    this.core.generation++;
    return s.ip.version === 4
      ? this.state4.routes.remove(s as never, device)
      : this.state6.routes.remove(s as never, device);
  }

  /** The routing table of a version as text rows. */
  routes(version: 4 | 6): { subnet: string; gateway: string | null; device: DeviceId; metric: number }[] {
    const list = version === 4 ? this.state4.routes.list() : this.state6.routes.list();
    return list.map((r) => ({
      subnet: r.subnet.toString(),
      gateway: r.gateway === null ? null : (r.subnet.ip as IpVersion<IpAddr>).format(r.gateway as IpAddr),
      device: r.device,
      metric: r.metric,
    }));
  }

  // ---- reports ----

  /**
   * How full every bounded structure is, next to its bound (tests, monitoring, `netstack` tools):
   * neighbour entries and queued packets (the largest per device and version), reassembly datagrams
   * and bytes, path MTU entries, the loopback queue and the TCP connection table.
   */
  usage(): StackUsage {
    let neighborEntries = 0;
    let neighborPending = 0;
    for (const d of this.core.devices) {
      for (const t of [d.neighbors4, d.neighbors6]) {
        if (t === null) continue;
        neighborEntries = Math.max(neighborEntries, t.size);
        for (const e of t.values()) neighborPending = Math.max(neighborPending, e.pending.length);
      }
    }
    const r4 = this.state4.reassembler;
    const r6 = this.state6.reassembler;
    return {
      neighborEntries,
      neighborPending,
      reassemblyDatagrams: Math.max(r4.size, r6.size),
      reassemblyBytes: Math.max(r4.bytesBuffered, r6.bytesBuffered),
      pmtuEntries: Math.max(this.pmtu4.size, this.pmtu6.size),
      loopbackQueue: this.loopbackLink.length,
      tcpConnections: this.tcp.connectionCount,
    };
  }

  /** The neighbour cache of a device for one version. */
  neighbors(device: DeviceId, version: 4 | 6): NeighborInfo[] {
    const d = this.core.devices[device];
    const t = d === undefined ? null : version === 4 ? d.neighbors4 : d.neighbors6;
    if (t === null) return [];
    const out: NeighborInfo[] = [];
    for (const e of t.values()) {
      out.push({
        addr: version === 4 ? formatV4(e.addr as number) : formatV6(e.addr as Uint8Array),
        mac: e.resolved ? formatMac(e.mac) : null,
        state: NEIGHBOR_STATE_NAMES[e.state],
        pending: e.pending.length,
      });
    }
    return out;
  }

  // ---- the IP layer's queries (also `stack.ip`) ----

  /** True when `a` is one of our assigned addresses. */
  isLocal<A>(I: IpVersion<A>, a: A): boolean {
    return this.local.isLocal(I, a);
  }

  /** The source address the stack would use to reach `dst`, or null when there is no route. */
  selectSource<A>(I: IpVersion<A>, dst: A): A | null {
    return this.output.selectSource(I, dst);
  }

  /** The largest transport payload that reaches `dst` without fragmentation. */
  maxPayload<A>(I: IpVersion<A>, dst: A): number {
    return this.output.maxPayload(I, dst);
  }

  /** `IpSender.send`: route, wrap in IP, fragment when allowed, resolve the next hop, send. */
  sendIp<A>(I: IpVersion<A>, opts: IpSendOptions<A>, body: Serializer): IpSendError {
    return this.ip.send(I, opts, body);
  }
}
