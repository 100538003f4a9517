/**
 * Linux TUN devices (IFF_TUN: IP packets, no link header) as a `Link`, through the same addon and
 * machinery as `TapLink` (src/node/tap.ts): batches, reader/writer threads, and the same offloads
 * (IFF_VNET_HDR: virtio_net_hdr_v1 per packet, TSO/USO super-packets, partial checksums; csum_start
 * is then counted from the IP header). The "frames" of this link are IPv4 or IPv6 packets (RFC 791,
 * RFC 8200), told apart by their version nibble; the device has no ARP or neighbour discovery.
 *
 * This is how userspace tunnels (VPNs) attach a stack. The stack's IP-only device kind is issue 17's
 * phase 2; until then a `TunLink` is used directly with the wire builders.
 */
import { TapLink, type TapOptions } from "./tap.ts";

/** Options of `TunLink.open` (those of `TapOptions`; `maxFrameLen` is the largest IP packet). */
export type TunOptions = TapOptions;

/** A Linux TUN device: packets are IP packets. */
export class TunLink extends TapLink {
  /**
   * Open (creating if needed) the TUN device `name` in the current network namespace, with offloads
   * unless `offload: false`. Throws a `TapError` as `TapLink.open` does.
   */
  static override open(name: string, options: TunOptions = {}): TunLink {
    return TapLink.openDevice(name, options, true, (a, opened) => new TunLink(a, opened, options, 0));
  }
}
