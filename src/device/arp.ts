/**
 * ARP for IPv4 over Ethernet: RFC 826 (packet reception: merge the sender into an existing entry,
 * add it when we are the target, answer requests for our addresses), RFC 1122 2.3.2 (the cache,
 * queueing and retransmission, here the shared machine of nud.ts), RFC 5227 (announcements when an
 * address is assigned or its link comes up; a sender claiming our own address is never learned).
 *
 * ARP is an adapter onto the neighbour machine `Nud<Ipv4Addr>` (nud.ts): a reply confirms a
 * neighbour (REACHABLE), any other news of a sender's MAC marks it STALE, and `solicit` is how the
 * machine sends an ARP request (broadcast, or unicast to probe).
 */

import type { Core } from "../core.ts";
import { counter } from "../counters.ts";
import { type Ipv4Addr, MAC_BROADCAST, MAC_ZERO, macAt, v4Put } from "../ip/addr.ts";
import { Ipv4, V4_BROADCAST } from "../ip/version.ts";
import { Buf } from "../packet/buf.ts";
import { ARP_LEN, ArpBuilder, ArpOp, ArpView } from "../wire/arp.ts";
import { ETHERNET_MIN_FRAME_LEN, EtherType } from "../wire/ethernet.ts";
import type { Device } from "./device.ts";
import { type Ethernet, type FrameReceiver, LINK_HEADER_ROOM } from "./ethernet.ts";
import type { NeighborEntry } from "./neighbor.ts";
import { NeighborState } from "./neighbor.ts";
import type { NeighborProtocol, Nud } from "./nud.ts";

const RX = counter("arp.rx");
const RX_BAD = counter("arp.rx.malformed");
const RX_OWN_MAC = counter("arp.rx.own-mac");
const RX_CONFLICT = counter("arp.rx.address-conflict");
const RX_BAD_SENDER = counter("arp.rx.bad-sender");
const RX_REQUEST = counter("arp.rx.request");
const RX_REPLY = counter("arp.rx.reply");
const TX_REPLY = counter("arp.tx.reply");
const TX_REQUEST = counter("arp.tx.request");
const TX_GRATUITOUS = counter("arp.tx.gratuitous");

export class Arp implements FrameReceiver, NeighborProtocol<Ipv4Addr> {
  private readonly view = new ArpView();
  /**
   * What happens to packets whose neighbour never answered (RFC 1122 2.3.2.2: ICMP host
   * unreachable); set by the Stack to the IP layer's.
   */
  onUnreachable: (dev: Device, pkt: Buf) => void = () => {};

  constructor(
    private readonly core: Core,
    private readonly ethernet: Ethernet,
    private readonly nud: Nud<Ipv4Addr>,
  ) {}

  /** An ARP packet arrived on `dev`. */
  receive(dev: Device, buf: Buf): void {
    const a = this.view;
    const counters = this.core.counters;
    counters.inc(RX);
    if (a.parseFrom(buf.bytes, buf.start, buf.length) !== null) {
      counters.inc(RX_BAD);
      return;
    }
    const b = a.bytes;
    const o = a.off;
    const sha = a.senderMac;
    let own = true;
    for (let i = 0; i < 6; i++) if (sha[i] !== dev.mac[i]) own = false;
    if (own) {
      counters.inc(RX_OWN_MAC);
      return;
    }
    const op = a.op;
    if (op === ArpOp.Request) counters.inc(RX_REQUEST);
    else if (op === ArpOp.Reply) counters.inc(RX_REPLY);
    const spa = a.senderIp;
    // RFC 1812 3.3.2: a broadcast or multicast link address is never believed; nor is a broadcast,
    // multicast or loopback sender address (RFC 1122 3.2.1.3), which no neighbour can own.
    if ((sha[0] & 1) !== 0 || Ipv4.isMulticast(spa) || spa === V4_BROADCAST || Ipv4.isLoopback(spa)) {
      counters.inc(RX_BAD_SENDER);
      return;
    }
    const tpa = a.targetIp;
    const mine = dev.find4(tpa) !== undefined;
    if (spa !== 0) {
      if (dev.find4(spa) !== undefined) {
        // RFC 5227 2.4: someone else claims our address; never learn it.
        counters.inc(RX_CONFLICT);
        return;
      }
      // RFC 826 "Packet Reception": update an existing entry (merge), add one if we are the target.
      const e = dev.neighbors4?.get(spa);
      if (e !== undefined) {
        if (op === ArpOp.Reply && (e.state === NeighborState.Incomplete || e.sameMac(sha))) {
          this.nud.confirm(dev, e, sha);
        } else if (e.state === NeighborState.Incomplete || !e.sameMac(sha)) {
          this.nud.markStale(dev, e, sha);
        }
      } else if (mine) {
        this.nud.learnStale(dev, spa, sha);
      }
    }
    if (!mine || op !== ArpOp.Request) return;
    // RFC 826: answer in the received buffer: swap sender and target, our MAC as the sender.
    b[o + 6] = 0;
    b[o + 7] = ArpOp.Reply;
    b.copyWithin(o + 18, o + 8, o + 14);
    v4Put(b, o + 24, spa);
    for (let i = 0; i < 6; i++) b[o + 8 + i] = dev.mac[i];
    v4Put(b, o + 14, tpa);
    buf.setRange(o, o + ARP_LEN);
    counters.inc(TX_REPLY);
    this.ethernet.send(dev, macAt(b, o + 18), EtherType.Arp, buf);
  }

  /** Send an ARP request for `e` (broadcast; unicast to its MAC when probing). */
  solicit(dev: Device, e: NeighborEntry<Ipv4Addr>, unicast: boolean): void {
    const target = e.addr;
    const src = dev.source4(target) ?? Ipv4.unspecified;
    const buf = Buf.alloc(LINK_HEADER_ROOM, 0, ETHERNET_MIN_FRAME_LEN);
    const at = buf.growBack(ARP_LEN);
    new ArpBuilder(ArpOp.Request, dev.mac, src, MAC_ZERO, target).serialize(buf.bytes, at, 0);
    this.core.counters.inc(TX_REQUEST);
    this.ethernet.send(dev, unicast ? e.mac : MAC_BROADCAST, EtherType.Arp, buf);
  }

  unreachable(dev: Device, pkt: Buf): void {
    this.onUnreachable(dev, pkt);
  }

  /** RFC 5227 3 (announcement): an ARP request with sender and target both `addr`. */
  announce(dev: Device, addr: Ipv4Addr): void {
    const buf = Buf.alloc(LINK_HEADER_ROOM, 0, ETHERNET_MIN_FRAME_LEN);
    const at = buf.growBack(ARP_LEN);
    new ArpBuilder(ArpOp.Request, dev.mac, addr, MAC_ZERO, addr).serialize(buf.bytes, at, 0);
    this.core.counters.inc(TX_GRATUITOUS);
    this.ethernet.send(dev, MAC_BROADCAST, EtherType.Arp, buf);
  }
}
