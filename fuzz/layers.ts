/**
 * Cut real Ethernet frames into the layers the per-parser targets take, for seeds: the network
 * packet (ARP, IPv4, IPv6) and the transport message with its addresses. Frames that do not parse
 * contribute what they can.
 */
import { ArpView } from "../src/wire/arp.ts";
import { isError } from "../src/wire/errors.ts";
import { EthernetView, EtherType } from "../src/wire/ethernet.ts";
import { Ipv4View } from "../src/wire/ipv4.ts";
import { Ipv6View } from "../src/wire/ipv6.ts";

export interface FrameLayers {
  /** The Ethernet payload when the frame carries ARP. */
  arp: Uint8Array | null;
  /** The IPv4 or IPv6 packet (link padding removed). */
  ip: Uint8Array | null;
  v6: boolean;
  src: number | Uint8Array;
  dst: number | Uint8Array;
  /** Upper-layer protocol after the IPv6 extension chain / the IPv4 protocol field. */
  proto: number;
  /** The upper-layer message; null for fragments (they are not whole messages). */
  upper: Uint8Array | null;
}

/** Split one Ethernet frame; null when it is not Ethernet with ARP, IPv4 or IPv6. */
export function layersOf(frame: Uint8Array): FrameLayers | null {
  const eth = EthernetView.parse(frame, 0, frame.length);
  if (isError(eth)) return null;
  const t = eth.etherType;
  if (t === EtherType.Arp) {
    const a = ArpView.parse(frame, eth.payloadOff, eth.payloadLen);
    return {
      arp: isError(a) ? eth.payload().slice() : frame.slice(a.off, a.off + a.len),
      ip: null,
      v6: false,
      src: 0,
      dst: 0,
      proto: -1,
      upper: null,
    };
  }
  if (t === EtherType.Ipv4) {
    const ip = Ipv4View.parse(frame, eth.payloadOff, eth.payloadLen);
    if (isError(ip)) return null;
    return {
      arp: null,
      ip: frame.slice(ip.off, ip.off + ip.len),
      v6: false,
      src: ip.src as number,
      dst: ip.dst as number,
      proto: ip.proto,
      upper: ip.isFragment ? null : ip.payload().slice(),
    };
  }
  if (t === EtherType.Ipv6) {
    const ip = Ipv6View.parse(frame, eth.payloadOff, eth.payloadLen);
    if (isError(ip)) return null;
    return {
      arp: null,
      ip: frame.slice(ip.off, ip.off + ip.len),
      v6: true,
      src: ip.src.slice(),
      dst: ip.dst.slice(),
      proto: ip.proto,
      upper: ip.hasFrag ? null : ip.upper().slice(),
    };
  }
  return null;
}

/** The layers of every frame that splits. */
export function allLayers(frames: readonly Uint8Array[]): FrameLayers[] {
  const out: FrameLayers[] = [];
  for (const f of frames) {
    const l = layersOf(f);
    if (l !== null) out.push(l);
  }
  return out;
}
