/**
 * Which addresses are ours, and which one a packet is sent from: RFC 1122 3.3.4.3 (IPv4: an address
 * of the outgoing interface, the one on the destination's subnet first), RFC 6724 section 5 (IPv6
 * source address selection, here rules 2, 3 and 8: appropriate scope, avoid deprecated addresses,
 * longest matching prefix), RFC 4862 5.4 (tentative addresses are neither a source nor a
 * destination).
 */

import type { DeviceId } from "../context.ts";
import type { Core } from "../core.ts";
import type { Device, DeviceAddr } from "../device/device.ts";
import type { Ipv4Addr, Ipv6Addr } from "./addr.ts";
import { type IpVersion, Ipv6 } from "./version.ts";

function v6Eq(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  for (let i = 0; i < 16; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

export class LocalAddresses {
  /** Our IPv4 addresses -> the device holding each. */
  private readonly v4 = new Map<number, DeviceId>();

  constructor(private readonly core: Core) {}

  /** An IPv4 address was assigned to `device`. */
  add4(a: Ipv4Addr, device: DeviceId): void {
    this.v4.set(a, device);
  }

  /** An IPv4 address of `device` was removed. */
  remove4(a: Ipv4Addr, device: DeviceId): void {
    if (this.v4.get(a) === device) this.v4.delete(a);
  }

  /** True when `a` is one of our IPv4 addresses. */
  isLocal4(a: number): boolean {
    return this.v4.has(a);
  }

  /** The device holding our IPv4 address `a`, or null. */
  device4(a: Ipv4Addr): Device | null {
    const id = this.v4.get(a);
    return id === undefined ? null : (this.core.devices[id] ?? null);
  }

  /** The device holding our (not tentative) IPv6 address at `a[off]`, or null. */
  findLocal6(a: Uint8Array, off = 0): Device | null {
    const devs = this.core.devices;
    for (let d = 0; d < devs.length; d++) {
      const list = devs[d].v6;
      for (let i = 0; i < list.length; i++) {
        if (list[i].state !== "tentative" && v6Eq(list[i].addr, 0, a, off)) return devs[d];
      }
    }
    return null;
  }

  /** True when `a` is one of our assigned addresses. */
  isLocal<A>(I: IpVersion<A>, a: A): boolean {
    if (I.version === 4) return this.v4.has(a as unknown as number);
    return this.findLocal6(a as unknown as Uint8Array, 0) !== null;
  }

  /** The source address for `dst` on `dev`, or null when it has none (see the header). */
  sourceOn<A>(I: IpVersion<A>, dev: Device, dst: A): A | null {
    if (dev.isLoopback && this.isLocal(I, dst)) return dst;
    if (I.version === 4) return dev.source4(dst as unknown as Ipv4Addr) as unknown as A | null;
    const d = dst as unknown as Ipv6Addr;
    const wantLinkLocal = Ipv6.isLinkLocal(d) || Ipv6.isLinkLocalMulticast(d);
    let best: DeviceAddr<Ipv6Addr> | null = null;
    let bestScore = -1;
    for (const a of dev.v6) {
      if (a.state === "tentative") continue;
      // Rule 2 (appropriate scope) first, then rule 3 (avoid deprecated), then rule 8 (longest prefix).
      const scopeOk = Ipv6.isLinkLocal(a.addr) === wantLinkLocal ? 512 : 0;
      const fresh = a.state === "deprecated" ? 0 : 256;
      const score = scopeOk + fresh + Ipv6.commonPrefixLen(a.addr, d);
      if (score > bestScore) {
        best = a;
        bestScore = score;
      }
    }
    return best === null ? null : (best.addr as unknown as A);
  }

  /** A valid (not tentative) link-local address of `dev`, or null (RFC 3810 5.2.13, RFC 4861 6.3.7). */
  linkLocal6(dev: Device): Ipv6Addr | null {
    for (const a of dev.v6) if (a.state !== "tentative" && Ipv6.isLinkLocal(a.addr)) return a.addr;
    return null;
  }
}
