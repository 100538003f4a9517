/**
 * NodeStack: a core `Stack` with real time and real links, and the Node-shaped APIs over it.
 *
 * It owns the `NodeBindings` (clock, the one host timer, event delivery) and the `Stack` (with its
 * `TcpLayer` and the ICMP echo sockets behind `ping`). Links are attached with `addLink`: their frame batches are fed to the core
 * as they arrive, and the core's outgoing frames go to the link's `send`.
 *
 * Events: the bindings deliver the core's events in a microtask after each entry point; NodeStack
 * dispatches each to the object that owns the socket id (a `net.Socket`, a `Server`, a dgram socket,
 * a ping), registered with `onSocket`.
 *
 * Process lifetime: like Node's own handles, a referenced socket or listening server keeps the event
 * loop alive (`ref` / `unref` count them); when none is left, neither the core's protocol timers
 * (TIME-WAIT, router solicitations) nor anything else of ours holds the process open.
 */
import { getRandomValues } from "node:crypto";
import type { DeviceId, IpAddr, SocketId, StackEvent } from "../context.ts";
import type { Ipv4Addr } from "../ip/addr.ts";
import type { RouteError } from "../ip/route.ts";
import { AddrSubnet, isV4BroadcastFor, parseCidr, type Subnet } from "../ip/subnet.ts";
import { Ipv4, Ipv6, parseIp } from "../ip/version.ts";
import { Buf } from "../packet/buf.ts";
import { Stack, type StackOptions } from "../stack.ts";
import type { IcmpEchoSockets } from "../transport/icmp-echo.ts";
import type { TcpConfig } from "../transport/tcp/config.ts";
import type { TcpLayer } from "../transport/tcp/tcp-layer.ts";
import type { UdpLayer } from "../transport/udp/udp.ts";
import { NodeBindings } from "./bindings.ts";
import { createDgram, type DgramApi } from "./dgram.ts";
import type { ApiHost, Closable } from "./host.ts";
import { createHttp, type HttpApi } from "./http.ts";
import type { Link } from "./link.ts";
import { createNet, type NetApi } from "./net.ts";
import { type LookupFunction, stackLookup } from "./net-lookup.ts";
import { type PingOptions, type PingResult, ping } from "./ping.ts";

export type { Closable } from "./host.ts";

/** Options of `new NodeStack()`. */
export interface NodeStackOptions {
  /** Default MTU of links added (capped by each link's frame size). Default 1500. */
  mtu?: number;
  /** TCP layer configuration (buffer sizes, timers, congestion control, ...). */
  tcp?: Partial<TcpConfig>;
  /** IPv6 duplicate address detection for added addresses (RFC 4862). Default true. */
  dad?: boolean;
  /** Forward packets between links (a router). Default false. */
  forwarding?: boolean;
  /** Anything else the core Stack takes. */
  stack?: StackOptions;
  /**
   * Resolves host names that are not IP literals or `localhost`, for `net.connect({ host })`,
   * `listen(port, host)` and node:http over the stack: a function of `dns.lookup`'s shape. Default:
   * none (such names fail with ENOTFOUND). `setLookup` changes it later.
   */
  lookup?: LookupFunction;
}

/** Options of `addLink`. */
export interface AddLinkOptions {
  /** The device's MAC (text or bytes). Default: a random locally administered one. */
  mac?: string | Uint8Array;
  /** Addresses with prefix length: "10.0.0.2/24", "fd00::2/64". */
  addresses?: string[];
  /** The device MTU (largest IP packet). Default: the stack's, capped by the link's frame size. */
  mtu?: number;
  /** The device name (default: the link's). */
  name?: string;
}

/** A Node error shaped like the ones the core's error codes become. */
function configError(what: string, code: string): Error {
  return Object.assign(new Error(`${what}: ${code}`), { code });
}

/** A random locally administered unicast MAC (IEEE 802: bit 1 of the first byte set, bit 0 clear). */
export function randomMac(): Uint8Array {
  const m = getRandomValues(new Uint8Array(6));
  m[0] = (m[0] & 0xfc) | 0x02;
  return m;
}

export class NodeStack implements ApiHost {
  readonly bindings: NodeBindings;
  /**
   * The core stack (the sans-IO `Stack`: devices, addresses, routes, counters, `usage()`) that this
   * NodeStack drives with real time and real links.
   */
  readonly core: Stack;
  readonly tcp: TcpLayer;
  readonly udp: UdpLayer;
  readonly echo: IcmpEchoSockets;
  /** node:net-compatible API over this stack. */
  readonly net: NetApi;
  /** node:dgram-compatible API over this stack. */
  readonly dgram: DgramApi;
  /** node:http over this stack: `agent()` for clients, `createServer()` for servers. */
  readonly http: HttpApi;
  /**
   * How host names are resolved (`dns.lookup`'s shape): IP literals and `localhost` here, other
   * names through the resolver installed with `setLookup` (or the `lookup` option).
   */
  readonly lookup: LookupFunction;
  readonly mtu: number;
  private resolver: LookupFunction | null;
  private readonly handlers = new Map<SocketId, (ev: StackEvent) => void>();
  private readonly links = new Map<DeviceId, Link>();
  private readonly closables = new Set<Closable>();
  private readonly tentative = new Set<string>();
  private readonly readyWaiters: (() => void)[] = [];
  private readonly unsubscribe: () => void;
  private refs = 0;
  private keepAlive: NodeJS.Timeout | null = null;
  private closedFlag = false;

  constructor(options: NodeStackOptions = {}) {
    this.mtu = options.mtu ?? 1500;
    this.bindings = new NodeBindings();
    const so: StackOptions = { ...options.stack };
    if (options.dad === false) so.limits = { ...so.limits, dadTransmits: 0 };
    if (options.forwarding) so.forwarding = { v4: true, v6: true };
    if (options.tcp !== undefined) so.tcp = { ...so.tcp, ...options.tcp };
    const stack = new Stack(this.bindings, so);
    this.core = stack;
    this.bindings.attach(stack);
    this.tcp = stack.tcp;
    this.udp = stack.udp;
    this.echo = stack.icmpEcho;
    this.resolver = options.lookup ?? null;
    this.lookup = stackLookup(() => this.resolver);
    this.unsubscribe = this.bindings.subscribe(this.dispatch);
    this.net = createNet(this);
    this.dgram = createDgram(this);
    this.http = createHttp(this.net);
  }

  /** @deprecated The core stack is `core` now. */
  get stack(): Stack {
    return this.core;
  }

  /**
   * Install the resolver for names that are not IP literals or `localhost` (a function of
   * `dns.lookup`'s shape: `(hostname, { family, hints, all }, callback)`), or remove it (null).
   * `net.connect({ host })`, `server.listen(port, host)` and node:http over the stack use it.
   */
  setLookup(fn: LookupFunction | null): void {
    this.resolver = fn;
  }

  /** True when `addr` is 255.255.255.255 or the subnet-directed broadcast of a device's subnet. */
  isBroadcast4(addr: number): boolean {
    const devices = [...this.links.keys()];
    if (this.core.loopback >= 0) devices.push(this.core.loopback);
    for (const d of devices) {
      for (const text of this.core.addresses(d)) {
        const a = parseCidr(text);
        if (!(a instanceof AddrSubnet) || typeof a.addr !== "number") continue;
        if (isV4BroadcastFor(a.subnet as Subnet<Ipv4Addr>, addr as Ipv4Addr)) return true;
      }
    }
    return addr === 0xffffffff;
  }

  /** True when `addr` is an address of one of this stack's devices. */
  isLocalAddress(addr: IpAddr): boolean {
    return this.core.ip.isLocal((typeof addr === "number" ? Ipv4 : Ipv6) as never, addr as never);
  }

  /**
   * Attach a link as a new Ethernet device with the given addresses. Returns the device id.
   * Throws on a malformed MAC or address (a configuration mistake).
   */
  addLink(link: Link, options: AddLinkOptions = {}): DeviceId {
    if (this.closedFlag) throw configError("addLink", "ESHUTDOWN");
    const mtu = options.mtu ?? Math.min(this.mtu, link.maxFrameLen - 14);
    const device = this.core.addEthernetDevice({
      mac: options.mac ?? randomMac(),
      mtu,
      name: options.name ?? link.name,
    });
    this.links.set(device, link);
    this.bindings.setSink(device, { send: (bytes, off, len) => link.send(bytes, off, len) });
    const bindings = this.bindings;
    // A link that can lend its frames (reusing their memory once the batch callback returned) does:
    // the core receives them marked `borrowed` and copies only what it keeps (`own`). The batch is
    // handed to the core synchronously, so the frames are only read while they are lent.
    const lent = link.lendFrames !== undefined;
    link.lendFrames?.(true);
    link.onFrames((frames) => {
      const bufs = new Array<Buf>(frames.length);
      for (let i = 0; i < frames.length; i++) {
        const b = new Buf(frames[i]);
        b.borrowed = lent;
        bufs[i] = b;
      }
      bindings.receive(device, bufs);
    });
    for (const a of options.addresses ?? []) this.addAddress(device, a);
    return device;
  }

  /** Add an address ("10.0.0.2/24") to a device. Throws on a bad address. */
  addAddress(device: DeviceId, cidr: string): void {
    const e = this.core.addAddress(device, cidr);
    if (e !== null) throw configError(`addAddress ${cidr}`, e);
  }

  /** Add a route: `addRoute("192.168.0.0/16", { gateway: "10.0.0.1" })`. Throws on failure. */
  addRoute(prefix: string, opts: { gateway?: string; device?: DeviceId; metric?: number } = {}): void {
    const e: RouteError | string | null = this.core.addRoute(prefix, opts);
    if (e !== null) throw configError(`addRoute ${prefix}`, String(e));
  }

  /** Set the default route of the gateway's IP version through `ip`. */
  gateway(ip: string, device?: DeviceId): void {
    const a = parseIp(ip);
    if (a === null) throw configError(`gateway ${ip}`, "EINVAL");
    this.addRoute(typeof a === "number" ? "0.0.0.0/0" : "::/0", { gateway: ip, device });
  }

  /** Resolves once no added IPv6 address is tentative (duplicate address detection finished). */
  async ready(): Promise<void> {
    // Address events are delivered after the call that made them: let them arrive first.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.tentative.size === 0) return;
    // Hold the event loop open while duplicate address detection runs (its timers are unref'd).
    this.ref();
    try {
      await new Promise<void>((resolve) => this.readyWaiters.push(resolve));
    } finally {
      this.unref();
    }
  }

  /** Send ICMP echo requests to `target` and collect the replies. */
  ping(target: string, options: PingOptions = {}): Promise<PingResult> {
    return ping(this, target, options);
  }

  /** The device's link. */
  link(device: DeviceId): Link | undefined {
    return this.links.get(device);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  // ---- for the API modules ----

  /** Route the core's events for `socket` to `fn` (replacing any earlier handler). */
  onSocket(socket: SocketId, fn: (ev: StackEvent) => void): void {
    this.handlers.set(socket, fn);
  }

  /** Stop routing events of `socket`. */
  offSocket(socket: SocketId): void {
    this.handlers.delete(socket);
  }

  /** Track an object `close()` must destroy (and stop tracking it with `untrack`). */
  track(c: Closable): void {
    this.closables.add(c);
  }

  untrack(c: Closable): void {
    this.closables.delete(c);
  }

  /** One more user keeping the process alive (a referenced socket, a listening server). */
  ref(): void {
    this.refs++;
    this.bindings.ref();
    if (this.refs === 1 && !this.closedFlag) {
      // The core's timer alone would not hold the loop open while a socket waits for data.
      this.keepAlive = setInterval(() => {}, 1 << 30);
    }
  }

  /** Drop one user. */
  unref(): void {
    if (this.refs === 0) return;
    this.refs--;
    this.bindings.unref();
    if (this.refs === 0 && this.keepAlive !== null) {
      clearInterval(this.keepAlive);
      this.keepAlive = null;
    }
  }

  /**
   * Destroy every socket and server of this stack, close its links, stop its timer. Resolves once
   * the links are closed.
   */
  async close(): Promise<void> {
    if (this.closedFlag) return;
    for (const c of [...this.closables]) c.destroy();
    this.closables.clear();
    this.closedFlag = true;
    this.unsubscribe();
    this.handlers.clear();
    if (this.keepAlive !== null) clearInterval(this.keepAlive);
    this.keepAlive = null;
    this.bindings.close();
    const links = [...this.links.values()];
    this.links.clear();
    for (const l of links) l.onFrames(null);
    await Promise.all(links.map((l) => l.close()));
  }

  private readonly dispatch = (ev: StackEvent): void => {
    if (ev.type === "address-changed") {
      const key = `${ev.device}/${String(ev.addr)}`;
      if (ev.state === "tentative") this.tentative.add(key);
      else this.tentative.delete(key);
      if (this.tentative.size === 0) for (const w of this.readyWaiters.splice(0)) w();
      return;
    }
    if ("socket" in ev) this.handlers.get(ev.socket)?.(ev);
  };
}
