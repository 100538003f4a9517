/**
 * HostStack: a core `Stack` with real-time `HostBindings` and links, and the bookkeeping every host
 * API needs: links attached as Ethernet devices, addresses and routes from text, `ready()` once no
 * IPv6 address is tentative (RFC 4862 5.4: duplicate address detection finished), and dispatch of
 * the core's events to the object that owns each socket id. BrowserStack (src/browser/) extends it;
 * nothing in it depends on a browser or on Node.
 */
import type { DeviceId, SocketId, StackEvent } from "../context.ts";
import type { RouteError } from "../ip/route.ts";
import { parseIp } from "../ip/version.ts";
import { Buf } from "../packet/buf.ts";
import { Stack, type StackOptions } from "../stack.ts";
import type { TcpConfig } from "../transport/tcp/config.ts";
import type { TcpLayer } from "../transport/tcp/tcp-layer.ts";
import { HostBindings } from "./bindings.ts";
import { codedError } from "./errors.ts";
import type { Link } from "./link.ts";
import { type HostPlatform, randomMacFrom } from "./platform.ts";

export interface HostStackOptions {
  /** Default MTU of links added (capped by each link's frame size). Default 1500. */
  mtu?: number;
  /** TCP configuration (buffer sizes, timers, congestion control, ...). */
  tcp?: Partial<TcpConfig>;
  /** IPv6 duplicate address detection for added addresses (RFC 4862). Default true. */
  dad?: boolean;
  /** Anything else the core Stack takes (limits, ...). */
  stack?: StackOptions;
}

export interface AddLinkOptions {
  /** The device's MAC (text or bytes). Default: a random locally administered one. */
  mac?: string | Uint8Array;
  /** Addresses with prefix length: "10.0.0.2/24", "fd00::2/64". */
  addresses?: string[];
  /** The device MTU (largest IP packet). Default: the stack's, capped by the link's frame size. */
  mtu?: number;
  name?: string;
}

/** Something `close()` must shut down. */
export interface Closable {
  destroy(): void;
}

export class HostStack {
  readonly bindings: HostBindings;
  readonly stack: Stack;
  readonly tcp: TcpLayer;
  readonly mtu: number;
  private readonly handlers = new Map<SocketId, (ev: StackEvent) => void>();
  private readonly links = new Map<DeviceId, Link>();
  private readonly closables = new Set<Closable>();
  private readonly tentative = new Set<string>();
  private readonly readyWaiters: (() => void)[] = [];
  private readonly unsubscribe: () => void;
  private closedFlag = false;

  constructor(
    readonly platform: HostPlatform,
    options: HostStackOptions = {},
  ) {
    this.mtu = options.mtu ?? 1500;
    this.bindings = new HostBindings(platform);
    const so: StackOptions = { ...options.stack };
    if (options.dad === false) so.limits = { ...so.limits, dadTransmits: 0 };
    if (options.tcp !== undefined) so.tcp = { ...so.tcp, ...options.tcp };
    this.stack = new Stack(this.bindings, so);
    this.bindings.attach(this.stack);
    this.tcp = this.stack.tcp;
    this.unsubscribe = this.bindings.subscribe(this.dispatch);
  }

  /** Attach a link as a new Ethernet device with the given addresses. Returns the device id. */
  addLink(link: Link, options: AddLinkOptions = {}): DeviceId {
    if (this.closedFlag) throw codedError("ESHUTDOWN", "addLink");
    const mtu = options.mtu ?? Math.min(this.mtu, link.maxFrameLen - 14);
    const device = this.stack.addEthernetDevice({
      mac: options.mac ?? randomMacFrom(this.platform),
      mtu,
      name: options.name ?? link.name,
    });
    this.links.set(device, link);
    this.bindings.setSink(device, { send: (bytes, off, len) => link.send(bytes, off, len) });
    const bindings = this.bindings;
    // A link that lends its frames reuses their memory after the callback: the core copies what it keeps.
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

  /** Add an address ("10.0.0.2/24") to a device. Throws a coded error on a bad address. */
  addAddress(device: DeviceId, cidr: string): void {
    const e = this.stack.addAddress(device, cidr);
    if (e !== null) throw codedError(e, "addAddress", cidr);
  }

  /** Add a route: `addRoute("192.168.0.0/16", { gateway: "10.0.0.1" })`. */
  addRoute(prefix: string, opts: { gateway?: string; device?: DeviceId; metric?: number } = {}): void {
    const e: RouteError | string | null = this.stack.addRoute(prefix, opts);
    if (e !== null) throw codedError(String(e), "addRoute", prefix);
  }

  /** The default route of the gateway's IP version through `ip`. */
  gateway(ip: string, device?: DeviceId): void {
    const a = parseIp(ip);
    if (a === null) throw codedError("EINVAL", "gateway", ip);
    this.addRoute(typeof a === "number" ? "0.0.0.0/0" : "::/0", { gateway: ip, device });
  }

  /** Resolves once no added IPv6 address is tentative (duplicate address detection finished). */
  async ready(): Promise<void> {
    // Address events are delivered after the call that made them: let them arrive first.
    await new Promise<void>((resolve) => this.platform.defer(resolve));
    if (this.tentative.size === 0) return;
    this.bindings.ref();
    try {
      await new Promise<void>((resolve) => this.readyWaiters.push(resolve));
    } finally {
      this.bindings.unref();
    }
  }

  link(device: DeviceId): Link | undefined {
    return this.links.get(device);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Route the core's events for `socket` to `fn`. */
  onSocket(socket: SocketId, fn: (ev: StackEvent) => void): void {
    this.handlers.set(socket, fn);
  }

  offSocket(socket: SocketId): void {
    this.handlers.delete(socket);
  }

  track(c: Closable): void {
    this.closables.add(c);
  }

  untrack(c: Closable): void {
    this.closables.delete(c);
  }

  /** Destroy every socket of this stack, close its links, stop its timer. */
  async close(): Promise<void> {
    if (this.closedFlag) return;
    for (const c of [...this.closables]) c.destroy();
    this.closables.clear();
    this.closedFlag = true;
    this.unsubscribe();
    this.handlers.clear();
    this.bindings.close();
    for (const w of this.readyWaiters.splice(0)) w();
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
