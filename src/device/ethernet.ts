/**
 * Ethernet framing for the Stack's devices: RFC 894 (IPv4 over Ethernet), RFC 2464 (IPv6 over
 * Ethernet, 33:33 multicast MACs, section 7), RFC 1112 6.4 (01:00:5e IPv4 multicast MACs), RFC 826
 * (ARP's EtherType), IEEE 802.3 (destination filtering, the 60-byte minimum frame).
 *
 * Receive: `receive(dev, buf)` checks the frame (our unicast MAC or a group address, untagged) and
 * hands the payload to the receiver registered for its EtherType (the IP layer of each version,
 * ARP): the Stack wires them, so nothing here knows the layers above. An untagged IPv4 frame to our
 * unicast MAC takes a fast path that skips the Ethernet view.
 *
 * Send: `send(dev, dstMac, etherType, buf)` writes the header into the prefix of `buf` (every IP
 * packet the Stack builds leaves `LINK_HEADER_ROOM` bytes for it), zero-pads to the minimum frame,
 * and hands the frame to the bindings.
 */

import type { Bindings } from "../context.ts";
import type { Core } from "../core.ts";
import { type Counters, counter } from "../counters.ts";
import type { Ipv4Addr, MacAddr } from "../ip/addr.ts";
import type { Buf } from "../packet/buf.ts";
import { ETHERNET_HEADER_LEN, ETHERNET_MIN_FRAME_LEN, EthernetView, EtherType } from "../wire/ethernet.ts";
import { IPV4_HEADER_LEN } from "../wire/ipv4.ts";
import type { Device } from "./device.ts";

const RX_SHORT = counter("ethernet.rx.too-short");
const RX_VLAN = counter("ethernet.rx.vlan-tagged");
const RX_OTHER_HOST = counter("ethernet.rx.other-host");
const RX_UNKNOWN_TYPE = counter("ethernet.rx.unknown-ethertype");
/** Frames sent (also counted by the IPv4 fast path, which writes its Ethernet header itself). */
export const ETHERNET_TX = counter("ethernet.tx");

/** Room for the link header left before every IP packet the Stack builds (Ethernet II, untagged). */
export const LINK_HEADER_ROOM = ETHERNET_HEADER_LEN;
/** The smallest IP packet that needs no Ethernet padding. */
export const MIN_IP_IN_FRAME = ETHERNET_MIN_FRAME_LEN - ETHERNET_HEADER_LEN;

/** What takes the payload of a frame (the IP layer of one version, ARP). */
export interface FrameReceiver {
  /** `buf`'s body is the payload (the link header lies before it, in the prefix). */
  receive(dev: Device, buf: Buf): void;
}

/** The receiver of EtherTypes nobody registered: counts and drops. */
class Unhandled implements FrameReceiver {
  constructor(private readonly core: Core) {}
  receive(): void {
    this.core.counters.inc(RX_UNKNOWN_TYPE);
  }
}

export class Ethernet {
  /** EtherType 0x0800, 0x86dd and 0x0806 receivers; set by the Stack. */
  ipv4: FrameReceiver;
  ipv6: FrameReceiver;
  arp: FrameReceiver;
  private readonly view = new EthernetView();
  /** Scratch for a group's MAC (`sendToGroup4/6`): written and used within one call. */
  private readonly groupMac = new Uint8Array(6) as MacAddr;
  private readonly counters: Counters;
  private readonly bindings: Bindings;

  constructor(core: Core) {
    this.counters = core.counters;
    this.bindings = core.bindings;
    const none = new Unhandled(core);
    this.ipv4 = none;
    this.ipv6 = none;
    this.arp = none;
  }

  /** A frame arrived on Ethernet device `dev` (up). */
  receive(dev: Device, buf: Buf): void {
    const b0 = buf.bytes;
    const o0 = buf.start;
    // Fast path: an untagged IPv4 frame (type 0x0800, so no 802.1Q tag) to our unicast MAC skips
    // the Ethernet view; the Buf invariants already hold the length checks `parseFrom` makes.
    if (buf.end - o0 >= ETHERNET_HEADER_LEN + IPV4_HEADER_LEN && b0[o0 + 12] === 0x08 && b0[o0 + 13] === 0x00) {
      const mac = dev.mac;
      if (
        b0[o0] === mac[0] &&
        b0[o0 + 1] === mac[1] &&
        b0[o0 + 2] === mac[2] &&
        b0[o0 + 3] === mac[3] &&
        b0[o0 + 4] === mac[4] &&
        b0[o0 + 5] === mac[5]
      ) {
        buf.start = o0 + ETHERNET_HEADER_LEN;
        this.ipv4.receive(dev, buf);
        return;
      }
    }
    const eth = this.view;
    const counters = this.counters;
    if (eth.parseFrom(buf.bytes, buf.start, buf.length) !== null) {
      counters.inc(RX_SHORT);
      return;
    }
    if (eth.tagged) {
      counters.inc(RX_VLAN);
      return;
    }
    const b = buf.bytes;
    const o = eth.off;
    // IEEE 802.3: accept our unicast MAC and group addresses; the IP layer filters groups.
    if ((b[o] & 1) === 0) {
      for (let i = 0; i < 6; i++) {
        if (b[o + i] !== dev.mac[i]) {
          counters.inc(RX_OTHER_HOST);
          return;
        }
      }
    }
    const type = eth.etherType;
    buf.setRange(eth.payloadOff, eth.off + eth.len);
    if (type === EtherType.Ipv4) this.ipv4.receive(dev, buf);
    else if (type === EtherType.Ipv6) this.ipv6.receive(dev, buf);
    else if (type === EtherType.Arp) this.arp.receive(dev, buf);
    else counters.inc(RX_UNKNOWN_TYPE);
  }

  /** Write the Ethernet header (and zero padding) around `buf`'s body and send it on `dev` (if up). */
  send(dev: Device, dst: Uint8Array, etherType: number, buf: Buf): void {
    if (!dev.up) return;
    const pad = MIN_IP_IN_FRAME - buf.length;
    buf.ensure(ETHERNET_HEADER_LEN, Math.max(pad, 0));
    // The layer that adds padding zeroes it (a reused buffer never leaks an old packet's bytes).
    if (pad > 0) buf.growBackZero(pad);
    const o = buf.growFront(ETHERNET_HEADER_LEN);
    const b = buf.bytes;
    const mac = dev.mac;
    for (let i = 0; i < 6; i++) {
      b[o + i] = dst[i];
      b[o + 6 + i] = mac[i];
    }
    b[o + 12] = etherType >>> 8;
    b[o + 13] = etherType & 0xff;
    this.counters.inc(ETHERNET_TX);
    this.bindings.sendFrame(dev.id, buf);
  }

  /** Send the IPv4 packet in `buf` to IPv4 group `group`'s MAC (RFC 1112 6.4). */
  sendToGroup4(dev: Device, group: Ipv4Addr, buf: Buf): void {
    mac4Multicast(group, this.groupMac, 0);
    this.send(dev, this.groupMac, EtherType.Ipv4, buf);
  }

  /** Send the IPv6 packet in `buf` to the MAC of IPv6 group `group` (RFC 2464 7). */
  sendToGroup6(dev: Device, group: Uint8Array, buf: Buf): void {
    mac6Multicast(group, 0, this.groupMac, 0);
    this.send(dev, this.groupMac, EtherType.Ipv6, buf);
  }
}

/** RFC 2464 section 7: IPv6 multicast `g` maps to 33:33 and its last 32 bits. */
export function mac6Multicast(g: Uint8Array, goff: number, out: Uint8Array, off: number): void {
  out[off] = 0x33;
  out[off + 1] = 0x33;
  out[off + 2] = g[goff + 12];
  out[off + 3] = g[goff + 13];
  out[off + 4] = g[goff + 14];
  out[off + 5] = g[goff + 15];
}

/** RFC 1112 6.4: IPv4 multicast `g` maps to 01:00:5e and its low 23 bits. */
export function mac4Multicast(g: Ipv4Addr, out: Uint8Array, off: number): void {
  out[off] = 0x01;
  out[off + 1] = 0x00;
  out[off + 2] = 0x5e;
  out[off + 3] = (g >>> 16) & 0x7f;
  out[off + 4] = (g >>> 8) & 0xff;
  out[off + 5] = g & 0xff;
}
