/**
 * The IP layer's way out, shared by both versions: the route to a destination (RFC 1122 3.3.1, our
 * own addresses through the loopback device, RFC 1122 3.2.1.3), the link output to the next hop
 * (the loopback queue, a multicast or broadcast MAC: RFC 1112 6.4, RFC 2464 7, RFC 894; or the
 * neighbour machine, which resolves and queues: RFC 826, RFC 4861 7.2), the reused send buffer and
 * serializer chains, and the `IpSender` queries transports make (source address, largest payload).
 */

import type { DeviceId } from "../context.ts";
import type { Core } from "../core.ts";
import type { Device } from "../device/device.ts";
import { type Ethernet, LINK_HEADER_ROOM } from "../device/ethernet.ts";
import type { Loopback } from "../device/loopback.ts";
import type { Nud } from "../device/nud.ts";
import { Buf } from "../packet/buf.ts";
import type { Nested, SerializeOptions, Serializer } from "../packet/serialize.ts";
import { EtherType } from "../wire/ethernet.ts";
import type { Ipv4Builder } from "../wire/ipv4.ts";
import type { Ipv6Builder } from "../wire/ipv6.ts";
import { type Ipv4Addr, type Ipv6Addr, MAC_BROADCAST } from "./addr.ts";
import type { Route, RoutingTable } from "./route.ts";
import type { LocalAddresses } from "./sas.ts";
import type { IpState } from "./state.ts";
import { type IpVersion, Ipv4, V4_BROADCAST } from "./version.ts";

/** Where a packet goes: the outgoing device and the next hop's address. Filled by `IpOutput.route`. */
export class NextHop<A> {
  dev: Device | null = null;
  hop: A | null = null;
}

export class IpOutput {
  /**
   * The buffer locally generated packets are serialized into, reused from one packet to the next
   * once `sendFrame` has returned (the bindings copy before returning); a queue that keeps the
   * packet (loopback, neighbour resolution) takes it over (`keep`).
   */
  txBuf = new Buf(new Uint8Array(2048), 0, 0);
  /** The serialize options of every packet built here (its target is `txBuf` while in use). */
  readonly txOpts: SerializeOptions = { target: undefined, prefix: LINK_HEADER_ROOM, suffix: 0 };
  /** The last few `body.wrapIn(ip builder)` chains, by body (transports reuse their bodies). */
  private readonly wrapBody: (Serializer | null)[] = [null, null, null, null];
  private readonly wrapChain: (Nested | null)[] = [null, null, null, null];
  private wrapNext = 0;
  /** `route`'s result for the queries below (filled and read within one call). */
  private readonly query4 = new NextHop<Ipv4Addr>();
  private readonly query6 = new NextHop<Ipv6Addr>();

  constructor(
    private readonly core: Core,
    private readonly ethernet: Ethernet,
    private readonly loopback: Loopback,
    private readonly nud4: Nud<Ipv4Addr>,
    private readonly nud6: Nud<Ipv6Addr>,
    private readonly addrs: LocalAddresses,
    private readonly state4: IpState<Ipv4Addr>,
    private readonly state6: IpState<Ipv6Addr>,
    /** True while an entry point of the Stack runs (the loopback queue is drained before it returns). */
    private readonly insideEntryPoint: () => boolean,
  ) {}

  state<A>(I: IpVersion<A>): IpState<A> {
    return (I.version === 4 ? this.state4 : this.state6) as unknown as IpState<A>;
  }

  /**
   * Find the outgoing device and next hop for `dst` into `out` (through `device` when given). Our
   * own addresses go through loopback. Returns false when there is no usable route.
   */
  route<A>(I: IpVersion<A>, dst: A, device: DeviceId | undefined, out: NextHop<A>): boolean {
    const devices = this.core.devices;
    if (I.isLoopback(dst) || this.addrs.isLocal(I, dst)) {
      const lo = devices[this.core.loopback];
      if (lo === undefined || !lo.up) return false;
      out.dev = lo;
      out.hop = dst;
      return true;
    }
    const st = this.state(I);
    const table: RoutingTable<A, DeviceId> = st.routes;
    if (device !== undefined) {
      const dev = devices[device];
      if (dev === undefined || !dev.up) return false;
      const r = table.lookupOnDevice(dst, device);
      out.dev = dev;
      out.hop = r?.gateway ?? dst;
      return true;
    }
    const r = table.lookupWhere(dst, st.usable as (r: Route<A, DeviceId>) => boolean);
    if (r !== null) {
      out.dev = devices[r.device];
      out.hop = r.gateway ?? dst;
      return true;
    }
    if (I.isMulticast(dst) || (I.version === 4 && (dst as unknown as number) === V4_BROADCAST)) {
      // No route for a group: the first Ethernet device that is up (as Linux without a multicast route).
      for (const d of devices) {
        if (d.up && !d.isLoopback) {
          out.dev = d;
          out.hop = dst;
          return true;
        }
      }
    }
    return false;
  }

  /** `IpSender.selectSource`: the source address for `dst`, null without a route or address. */
  selectSource<A>(I: IpVersion<A>, dst: A): A | null {
    const q = (I.version === 4 ? this.query4 : this.query6) as unknown as NextHop<A>;
    if (!this.route(I, dst, undefined, q)) return null;
    return this.addrs.sourceOn(I, q.dev as Device, dst);
  }

  /** `IpSender.maxPayload`: the route's MTU or the learned path MTU, less the IP header. */
  maxPayload<A>(I: IpVersion<A>, dst: A): number {
    const q = (I.version === 4 ? this.query4 : this.query6) as unknown as NextHop<A>;
    if (!this.route(I, dst, undefined, q)) return I.minMtu - I.headerLen;
    const dev = q.dev as Device;
    const mtu = this.state(I).pmtu.get(dst, dev.mtu, this.core.now());
    return Math.min(mtu, 0xffff) - I.headerLen;
  }

  /** `body.wrapIn(b)`, reusing the chain built the last time this body was sent with this builder. */
  wrapped(body: Serializer, b: Ipv4Builder | Ipv6Builder): Nested {
    const bodies = this.wrapBody;
    const chains = this.wrapChain;
    for (let i = 0; i < 4; i++) {
      const c = chains[i];
      if (bodies[i] === body && c !== null && c.outer === b) return c;
    }
    const c = body.wrapIn(b);
    const i = this.wrapNext;
    this.wrapNext = (i + 1) & 3;
    bodies[i] = body;
    chains[i] = c;
    return c;
  }

  /** A queue keeps `pkt`: if it is the reused send buffer, later packets get a new one. */
  keep(pkt: Buf): void {
    if (pkt === this.txBuf) this.txBuf = new Buf(new Uint8Array(pkt.bytes.length), 0, 0);
  }

  /** Send the IP packet in `pkt` (its body) to next hop `hop` on `dev`. */
  linkOutput<A>(I: IpVersion<A>, dev: Device, hop: A, pkt: Buf): void {
    if (I.version === 4) this.linkOutput4(dev, hop as unknown as Ipv4Addr, pkt);
    else this.linkOutput6(dev, hop as unknown as Ipv6Addr, pkt);
  }

  /** `linkOutput` for an IPv4 packet: loopback, a group's or the broadcast MAC, or ARP's. */
  linkOutput4(dev: Device, hop: Ipv4Addr, pkt: Buf): void {
    if (dev.isLoopback) {
      if (this.loopback.enqueue(dev, pkt, this.insideEntryPoint())) this.keep(pkt);
      return;
    }
    if (Ipv4.isMulticast(hop)) {
      this.ethernet.sendToGroup4(dev, hop, pkt);
      return;
    }
    if (dev.isBroadcast4(hop)) {
      this.ethernet.send(dev, MAC_BROADCAST, EtherType.Ipv4, pkt);
      return;
    }
    if (this.nud4.send(dev, hop, pkt)) this.keep(pkt);
  }

  /** `linkOutput` for an IPv6 packet: loopback, a group's MAC, or NDP's. */
  linkOutput6(dev: Device, hop: Ipv6Addr, pkt: Buf): void {
    if (dev.isLoopback) {
      if (this.loopback.enqueue(dev, pkt, this.insideEntryPoint())) this.keep(pkt);
      return;
    }
    if (hop[0] === 0xff) {
      this.ethernet.sendToGroup6(dev, hop, pkt);
      return;
    }
    if (this.nud6.send(dev, hop, pkt)) this.keep(pkt);
  }
}
