/**
 * The state of one IP version, shared by the code written once for
 * both versions: the routing table and the host routes learned from redirects (RFC 1122 3.2.2.2,
 * RFC 4861 8), the reassembler and its timer (RFC 791 3.2, RFC 8200 4.5), the path MTU cache
 * (RFC 1191, RFC 8201), the ICMP error rate limit (RFC 1812 4.3.2.8, RFC 4443 2.4 (f)), the
 * forwarding switch (RFC 1812, RFC 8200), and the transports and echo handler packets of this
 * version are delivered to.
 */

import type { DeviceId, TimerId } from "../context.ts";
import type { Core } from "../core.ts";
import { type CounterId, counter } from "../counters.ts";
import type { Device } from "../device/device.ts";
import { Timer } from "../timers.ts";
import type { IcmpEchoHandler } from "./icmp.ts";
import { PathMtuCache } from "./pmtu.ts";
import { TokenBucket } from "./ratelimit.ts";
import { type Fragment, Reassembler } from "./reassembly.ts";
import { type Route, RoutingTable } from "./route.ts";
import type { TransportProtocol } from "./transport-api.ts";
import { type IpVersion, Subnet } from "./version.ts";

const REDIRECT_LEARNED = counter("redirect.learned");
const REDIRECT_IGNORED = counter("redirect.ignored");

/** The bounds and timers of one version's state (from `StackLimits`). */
export interface IpStateConfig {
  reassemblyTimeoutMs: number;
  reassemblyBytes: number;
  reassemblyDatagrams: number;
  reassemblyFragments: number;
  /** Bytes left before a reassembled datagram's header (the link header and the IP header). */
  reassemblyHeadroom: number;
  pmtuEntries: number;
  pmtuTimeoutMs: number;
  icmpErrorRate: number;
  icmpErrorBurst: number;
  redirectRoutes: number;
}

/** A reassembled datagram: its payload at `bytes[at + hl, at + hl + len)`, the first fragment's header before it. */
export interface ReassembledDatagram {
  bytes: Uint8Array;
  /** Offset of the header (the first fragment's unfragmentable part). */
  at: number;
  /** Length of that header. */
  hl: number;
  len: number;
  /** The protocol / Next Header of the offset-zero fragment. */
  proto: number;
}

export class IpState<A> {
  readonly routes: RoutingTable<A, DeviceId>;
  /** Host routes learned from redirects by destination, oldest first (bounded by `redirectRoutes`). */
  readonly redirects = new Map<number | string, Route<A, DeviceId>>();
  readonly reassembler: Reassembler<A>;
  readonly reassemblyTimer: Timer<TimerId>;
  readonly pmtu: PathMtuCache<A>;
  /** The ICMP error rate limit (token bucket). */
  readonly icmpErrors: TokenBucket;
  /** Forward packets that are not ours (RFC 1812 / RFC 8200 routers). */
  forwarding = false;
  /** Transport protocols by IP protocol number / Next Header. */
  readonly transports: (TransportProtocol | undefined)[] = new Array(256).fill(undefined);
  /** Where echo replies and errors quoting our echo requests go (the ICMP echo sockets). */
  echo: IcmpEchoHandler | null = null;
  /** Routes whose device is up (a route through a device that is down is not used). */
  readonly usable: (r: Route<A, DeviceId>) => boolean;
  /** "ipv4.reassembly" / "ipv6.reassembly": the prefix of the reassembler's drop counters. */
  private readonly reassemblyPrefix: string;
  private readonly reassembledCounter: CounterId;

  constructor(
    private readonly core: Core,
    readonly ip: IpVersion<A>,
    readonly config: IpStateConfig,
  ) {
    this.routes = new RoutingTable<A, DeviceId>(ip);
    this.reassembler = new Reassembler(ip, {
      timeout: config.reassemblyTimeoutMs,
      maxBytes: config.reassemblyBytes,
      maxDatagrams: config.reassemblyDatagrams,
      maxFragments: config.reassemblyFragments,
      headroom: config.reassemblyHeadroom,
    });
    this.reassemblyTimer = new Timer<TimerId>({ kind: "reassembly", version: ip.version });
    this.pmtu = new PathMtuCache(ip, { maxEntries: config.pmtuEntries, timeout: config.pmtuTimeoutMs });
    this.icmpErrors = new TokenBucket(config.icmpErrorRate, config.icmpErrorBurst, core.now());
    const devices = core.devices;
    this.usable = (r) => devices[r.device]?.up === true;
    this.reassemblyPrefix = `ipv${ip.version}.reassembly`;
    this.reassembledCounter = counter(`${this.reassemblyPrefix}.complete`);
  }

  /**
   * Add fragment `f`; once its datagram is complete, the first fragment's header is placed right
   * before the payload (in the reassembly buffer's headroom, or a new buffer with room for the
   * link header) for the caller to fix its length fields. Null while pending, when dropped
   * (counted), or when the first fragment's header never came.
   */
  reassemble(f: Fragment<A>, linkRoom: number): ReassembledDatagram | null {
    const r = this.reassembler.insert(this.core.now(), f);
    if (r.kind === "pending") {
      this.armReassembly();
      return null;
    }
    if (r.kind === "dropped") {
      this.core.counters.inc(counter(`${this.reassemblyPrefix}.${r.reason}`));
      return null;
    }
    this.core.counters.inc(this.reassembledCounter);
    const header = r.header;
    if (header === null) return null;
    const hl = header.length;
    let bytes = r.bytes;
    let at = r.off - hl;
    if (at < linkRoom) {
      const nb = new Uint8Array(linkRoom + hl + r.len);
      nb.set(r.payload, linkRoom + hl);
      bytes = nb;
      at = linkRoom;
    }
    bytes.set(header, at);
    return { bytes, at, hl, len: r.len, proto: r.proto };
  }

  /** Keep the reassembly timer at the earliest deadline (cancelled when nothing is held). */
  armReassembly(): void {
    const t = this.reassemblyTimer;
    const deadline = this.reassembler.nextDeadline();
    if (deadline === null) {
      if (t.scheduled) this.core.timers.cancel(t);
    } else if (!t.scheduled || t.at !== deadline) {
      this.core.timers.schedule(t, deadline);
    }
  }

  /**
   * RFC 1122 3.2.2.2 / RFC 4861 8.3: check that `from` is the current first hop for `dst` on `dev`
   * and install the host route to `next` (null: on-link), replacing an earlier redirect for `dst`
   * and dropping the oldest one beyond `redirectRoutes`. Returns whether the route was installed.
   * Routers ignore redirects.
   */
  learnRedirect(dev: Device, from: A, dst: A, next: A | null): boolean {
    const I = this.ip;
    const routes = this.routes;
    const cur = routes.lookup(dst);
    if (
      this.forwarding ||
      I.isMulticast(dst) ||
      cur === null ||
      cur.gateway === null ||
      cur.device !== dev.id ||
      !I.equals(cur.gateway, from) ||
      (next !== null && I.equals(next, from))
    ) {
      this.core.counters.inc(REDIRECT_IGNORED);
      return false;
    }
    const limit = this.config.redirectRoutes;
    if (limit <= 0) return false;
    const learned = this.redirects;
    const key = I.key(dst);
    const old = learned.get(key);
    if (old !== undefined) {
      routes.remove(old.subnet, old.device, old.gateway);
      learned.delete(key);
    }
    while (learned.size >= limit) {
      const [k, oldest] = learned.entries().next().value as [number | string, Route<A, DeviceId>];
      routes.remove(oldest.subnet, oldest.device, oldest.gateway);
      learned.delete(k);
    }
    const added = routes.add({
      subnet: Subnet.of(I, I.copy(dst), I.addrBits),
      device: dev.id,
      gateway: next,
      metric: 0,
    });
    if (typeof added === "string") {
      this.core.counters.inc(REDIRECT_IGNORED);
      return false;
    }
    learned.set(key, added);
    this.core.generation++;
    this.core.counters.inc(REDIRECT_LEARNED);
    return true;
  }
}
