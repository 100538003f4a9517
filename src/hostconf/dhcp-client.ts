/**
 * The DHCPv4 client of one device: RFC 2131 (the state machine of 4.4 and figure 5: INIT,
 * SELECTING, REQUESTING, BOUND, RENEWING, REBINDING, INIT-REBOOT, REBOOTING; retransmission of
 * 4.1; T1/T2 of 4.4.5; DECLINE of 3.1.5 and RELEASE of 4.4.6), options of RFC 2132 (1, 3, 6, 15,
 * 26, 51, 54, 58, 59 used; 12, 50, 55, 57, 61 sent), the address conflict check of RFC 5227 2.1
 * (asked of the context) and the client identifier of RFC 2132 9.14 (type 1 and the MAC).
 *
 * Sans-IO like the rest of hostconf: messages leave through `DhcpClientContext.sendDhcp`, the
 * configuration a lease brings (address, subnet route, default route, MTU, name servers, search
 * domain) is applied and withdrawn through the context, and everything arrives as a method call:
 * `onMessage` (a UDP datagram to port 68), `probeResult`, `onConflict`, `handleTimer`.
 *
 * Every reply is checked (BOOTREPLY, our xid, our chaddr, a message type the state expects, the
 * server we chose, a usable address, the options RFC 2131 table 3 requires) and counted by reason
 * when dropped; nothing is kept per offer, so a flood of offers costs nothing but the counter.
 * Lists taken from a lease (routers, name servers) are bounded by the config.
 */
import type { DeviceId, TimerId, TimerIdOf } from "../context.ts";
import { type CounterId, Counters, counter } from "../counters.ts";
import { formatV4, type Ipv4Addr } from "../ip/addr.ts";
import { Timer } from "../timers.ts";
import {
  DHCP_FLAG_BROADCAST,
  DhcpBuilder,
  DhcpMessageType,
  DhcpOp,
  DhcpOption,
  type DhcpOptionData,
  DhcpView,
  dhcpOpt,
} from "../wire/dhcp.ts";
import { randomBelow } from "./context.ts";
import {
  classfulPrefix,
  cleanDomain,
  DEFAULT_DHCP_CLIENT_CONFIG,
  type DhcpClientConfig,
  type DhcpClientContext,
  type DhcpClientState,
  type DhcpLease,
  type DhcpLeaseEvent,
  maskToPrefix,
  RENEW_MIN_RETRANSMIT_MS,
  sameList,
  usableUnicast,
} from "./dhcp-client-context.ts";

export {
  DEFAULT_DHCP_CLIENT_CONFIG,
  type DhcpClientConfig,
  type DhcpClientContext,
  type DhcpClientState,
  type DhcpLease,
  type DhcpLeaseEvent,
  maskToPrefix,
  RENEW_MIN_RETRANSMIT_MS,
  usableUnicast,
};

const C = {
  malformed: counter("dhcp.client.rx.malformed"),
  notReply: counter("dhcp.client.rx.not-reply"),
  notExpected: counter("dhcp.client.rx.not-expected"),
  badXid: counter("dhcp.client.rx.bad-xid"),
  badChaddr: counter("dhcp.client.rx.bad-chaddr"),
  badType: counter("dhcp.client.rx.unexpected-type"),
  badOffer: counter("dhcp.client.rx.bad-offer"),
  badAck: counter("dhcp.client.rx.bad-ack"),
  wrongServer: counter("dhcp.client.rx.wrong-server"),
  offers: counter("dhcp.client.rx.offer"),
  acks: counter("dhcp.client.rx.ack"),
  naks: counter("dhcp.client.rx.nak"),
  txDiscover: counter("dhcp.client.tx.discover"),
  txRequest: counter("dhcp.client.tx.request"),
  txDecline: counter("dhcp.client.tx.decline"),
  txRelease: counter("dhcp.client.tx.release"),
  conflict: counter("dhcp.client.conflict"),
  expired: counter("dhcp.client.expired"),
} as const satisfies Record<string, CounterId>;

const BROADCAST = 0xffffffff as Ipv4Addr;
const ANY = 0 as Ipv4Addr;
const INFINITE = 0xffffffff;

/** The DHCPv4 client of one device. */
export class DhcpClient {
  readonly config: DhcpClientConfig;
  readonly counters: Counters;
  private stateValue: DhcpClientState = "stopped";
  private readonly retransmitTimer: Timer<TimerId>;
  private readonly leaseTimer: Timer<TimerId>;
  private readonly clientId: Uint8Array;
  private readonly view = new DhcpView();
  private xid = 0;
  /** Start of the current exchange (the `secs` field counts from here). */
  private exchangeStart = 0;
  /** When the first REQUEST of the current exchange was sent (the lease starts then). */
  private requestSentAt = 0;
  /** Messages sent in the current state (drives the backoff and the attempt limits). */
  private attempts = 0;
  private offered: Ipv4Addr = ANY;
  private offerServer: Ipv4Addr = ANY;
  /** An address to ask for again (option 50 in DISCOVER, INIT-REBOOT). */
  private hint: Ipv4Addr = ANY;
  /** NAKs in a row (each one delays the next DISCOVER a little more). */
  private naksInRow = 0;
  /** The ACKed lease waiting for its probe (state "checking"). */
  private pending: DhcpLease | null = null;
  private leaseValue: DhcpLease | null = null;

  constructor(
    private readonly ctx: DhcpClientContext,
    readonly device: DeviceId,
    readonly mac: Uint8Array,
    config: Partial<DhcpClientConfig> = {},
    counters?: Counters,
  ) {
    this.config = { ...DEFAULT_DHCP_CLIENT_CONFIG, ...config };
    this.counters = counters ?? new Counters();
    this.retransmitTimer = new Timer<TimerId>({ kind: "dhcp", device, which: "retransmit" });
    this.leaseTimer = new Timer<TimerId>({ kind: "dhcp", device, which: "lease" });
    // RFC 2132 9.14: type 1 (Ethernet, RFC 1700 hardware types) followed by the MAC.
    this.clientId = this.config.clientId ?? Uint8Array.of(1, ...mac.subarray(0, 6));
  }

  get state(): DhcpClientState {
    return this.stateValue;
  }

  /** The lease in force (bound, renewing, rebinding), or null. */
  get lease(): DhcpLease | null {
    return this.leaseValue;
  }

  /**
   * Start: from INIT-REBOOT when `previous` (an address leased before) is given (RFC 2131 3.2),
   * else from INIT after a random delay (RFC 2131 4.4.1).
   */
  start(previous: Ipv4Addr | null = null): void {
    if (this.stateValue !== "stopped") return;
    if (previous !== null && usableUnicast(previous)) {
      this.hint = previous;
      this.stateValue = "init-reboot";
      this.sendRebootRequest(true);
      return;
    }
    this.toInit(randomBelow(() => this.ctx.random(), this.config.startDelayMax + 1));
  }

  /**
   * Stop. An orderly shutdown releases the lease first (RFC 2131 4.4.6: DHCPRELEASE unicast to
   * the server) unless `release` is false; the configuration is withdrawn either way.
   */
  stop(release = true): void {
    const lease = this.leaseValue;
    if (lease !== null) {
      if (release) {
        this.sendRelease(lease);
        this.emitLease("released", lease);
      }
      this.unbind(lease);
    }
    this.endProbe();
    this.ctx.cancel(this.retransmitTimer);
    this.ctx.cancel(this.leaseTimer);
    this.stateValue = "stopped";
  }

  // ---- sending ----

  private newExchange(): void {
    this.xid = this.ctx.random() >>> 0;
    this.exchangeStart = this.ctx.now();
    this.attempts = 0;
  }

  private secs(): number {
    return Math.min(0xffff, Math.floor((this.ctx.now() - this.exchangeStart) / 1000));
  }

  private message(type: number, ciaddr: Ipv4Addr, broadcast: boolean, extra: DhcpOptionData[]): DhcpBuilder {
    const opts: DhcpOptionData[] = [dhcpOpt.messageType(type), ...extra];
    if (this.clientId.length > 0) opts.push(dhcpOpt.bytes(DhcpOption.ClientId, this.clientId));
    if (type === DhcpMessageType.Discover || type === DhcpMessageType.Request) {
      if (this.config.hostName !== null) opts.push(dhcpOpt.text(DhcpOption.HostName, this.config.hostName));
      opts.push(dhcpOpt.u16(DhcpOption.MaxMessageSize, Math.max(576, this.config.maxMessageSize)));
      opts.push(dhcpOpt.bytes(DhcpOption.ParameterRequestList, Uint8Array.from(this.config.requestOptions)));
    }
    return new DhcpBuilder(
      {
        op: DhcpOp.Request,
        xid: this.xid,
        // RFC 2131 table 5: DECLINE and RELEASE carry secs 0.
        secs: type === DhcpMessageType.Decline || type === DhcpMessageType.Release ? 0 : this.secs(),
        flags: broadcast && this.config.broadcastFlag ? DHCP_FLAG_BROADCAST : 0,
        ciaddr,
        chaddr: this.mac.subarray(0, 6),
      },
      opts,
    );
  }

  /** RFC 2131 4.1: 4 s, 8 s, ... up to 64 s, each randomized by -1 to +1 s. */
  private backoff(attempt: number): number {
    const base = Math.min(64_000, 4000 * 2 ** Math.min(attempt, 4));
    return base - 1000 + randomBelow(() => this.ctx.random(), 2001);
  }

  private sendDiscover(): void {
    const extra: DhcpOptionData[] = [];
    // RFC 2131 4.4.1: the client may suggest the address it had (option 50).
    if (this.hint !== ANY) extra.push(dhcpOpt.addrs(DhcpOption.RequestedIp, [this.hint]));
    this.ctx.sendDhcp(this.device, ANY, BROADCAST, this.message(DhcpMessageType.Discover, ANY, true, extra));
    this.counters.inc(C.txDiscover);
    this.ctx.schedule(this.retransmitTimer, this.ctx.now() + this.backoff(this.attempts));
    this.attempts++;
  }

  private sendSelectingRequest(): void {
    // RFC 2131 4.3.2 / table 5: SELECTING: ciaddr 0, 'requested IP address' and 'server identifier'.
    const extra = [
      dhcpOpt.addrs(DhcpOption.RequestedIp, [this.offered]),
      dhcpOpt.addrs(DhcpOption.ServerId, [this.offerServer]),
    ];
    if (this.attempts === 0) this.requestSentAt = this.ctx.now();
    this.ctx.sendDhcp(this.device, ANY, BROADCAST, this.message(DhcpMessageType.Request, ANY, true, extra));
    this.counters.inc(C.txRequest);
    this.ctx.schedule(this.retransmitTimer, this.ctx.now() + this.backoff(this.attempts));
    this.attempts++;
  }

  private sendRebootRequest(first: boolean): void {
    if (first) {
      this.newExchange();
      this.requestSentAt = this.ctx.now();
      this.stateValue = "rebooting";
    }
    // RFC 2131 4.3.2 INIT-REBOOT: ciaddr 0, 'requested IP address' filled, no server identifier.
    const extra = [dhcpOpt.addrs(DhcpOption.RequestedIp, [this.hint])];
    this.ctx.sendDhcp(this.device, ANY, BROADCAST, this.message(DhcpMessageType.Request, ANY, true, extra));
    this.counters.inc(C.txRequest);
    this.ctx.schedule(this.retransmitTimer, this.ctx.now() + this.backoff(this.attempts));
    this.attempts++;
  }

  /** RENEWING (unicast to the server) and REBINDING (broadcast): ciaddr is our address (RFC 2131 4.3.2). */
  private sendRenewRequest(lease: DhcpLease): void {
    const rebinding = this.stateValue === "rebinding";
    if (this.attempts === 0) this.requestSentAt = this.ctx.now();
    const dst = rebinding ? BROADCAST : lease.server;
    this.ctx.sendDhcp(this.device, lease.addr, dst, this.message(DhcpMessageType.Request, lease.addr, false, []));
    this.counters.inc(C.txRequest);
    this.attempts++;
    // RFC 2131 4.4.5: wait half the time left until T2 (RENEWING) or the end of the lease
    // (REBINDING), at least 60 s; the lease timer takes over at T2 or expiry.
    const limit = rebinding ? lease.expires : lease.t2;
    const now = this.ctx.now();
    const next = now + Math.max(RENEW_MIN_RETRANSMIT_MS, (limit - now) / 2);
    if (next < limit) this.ctx.schedule(this.retransmitTimer, next);
    else this.ctx.cancel(this.retransmitTimer);
  }

  private sendDecline(addr: Ipv4Addr, server: Ipv4Addr): void {
    // RFC 2131 table 5: DECLINE: ciaddr 0, 'requested IP address' and 'server identifier'.
    const extra = [dhcpOpt.addrs(DhcpOption.RequestedIp, [addr]), dhcpOpt.addrs(DhcpOption.ServerId, [server])];
    this.ctx.sendDhcp(this.device, ANY, BROADCAST, this.message(DhcpMessageType.Decline, ANY, false, extra));
    this.counters.inc(C.txDecline);
  }

  private sendRelease(lease: DhcpLease): void {
    // RFC 2131 4.4.6: unicast to the server, ciaddr the address released, a new xid.
    this.xid = this.ctx.random() >>> 0;
    const extra = [dhcpOpt.addrs(DhcpOption.ServerId, [lease.server])];
    this.ctx.sendDhcp(
      this.device,
      lease.addr,
      lease.server,
      this.message(DhcpMessageType.Release, lease.addr, false, extra),
    );
    this.counters.inc(C.txRelease);
  }

  // ---- state changes ----

  /** Go to INIT and send a DISCOVER after `delay` ms (RFC 2131 figure 5). */
  private toInit(delay: number): void {
    this.stateValue = "init";
    this.offered = ANY;
    this.offerServer = ANY;
    this.ctx.schedule(this.retransmitTimer, this.ctx.now() + delay);
  }

  private toSelecting(): void {
    this.stateValue = "selecting";
    this.newExchange();
    this.sendDiscover();
  }

  /** A timer of this client fired. */
  handleTimer(id: TimerIdOf<"dhcp">): void {
    if (id.which === "lease") {
      this.leaseTimeout();
      return;
    }
    switch (this.stateValue) {
      case "init":
        this.toSelecting();
        return;
      case "selecting":
        this.sendDiscover();
        return;
      case "requesting":
        // RFC 2131 4.4.1: neither ACK nor NAK after the retransmissions: back to INIT.
        if (this.attempts >= this.config.requestAttempts) this.toSelecting();
        else this.sendSelectingRequest();
        return;
      case "rebooting":
        // RFC 2131 3.2 / 4.4.2: no answer to INIT-REBOOT: start over from INIT (asking for the same address).
        if (this.attempts >= this.config.rebootAttempts) this.toSelecting();
        else this.sendRebootRequest(false);
        return;
      case "renewing":
      case "rebinding":
        if (this.leaseValue !== null) this.sendRenewRequest(this.leaseValue);
        return;
      default:
        return;
    }
  }

  private leaseTimeout(): void {
    const lease = this.leaseValue;
    if (lease === null) return;
    const now = this.ctx.now();
    if (now >= lease.expires) {
      // RFC 2131 4.4.5: the lease expired: stop using the address, back to INIT.
      this.counters.inc(C.expired);
      this.emitLease("expired", lease);
      this.unbind(lease);
      this.hint = lease.addr;
      this.ctx.cancel(this.retransmitTimer);
      this.toSelecting();
      return;
    }
    if (now >= lease.t2 && this.stateValue !== "rebinding") {
      // RFC 2131 4.4.5: T2: broadcast REQUESTs to any server.
      this.stateValue = "rebinding";
      this.newExchange();
      this.sendRenewRequest(lease);
      this.ctx.schedule(this.leaseTimer, lease.expires);
      return;
    }
    if (now >= lease.t1 && this.stateValue === "bound") {
      // RFC 2131 4.4.5: T1: unicast a REQUEST to the server that gave the lease.
      this.stateValue = "renewing";
      this.newExchange();
      this.sendRenewRequest(lease);
      this.ctx.schedule(this.leaseTimer, lease.t2);
      return;
    }
    this.scheduleLeaseTimer(lease);
  }

  private scheduleLeaseTimer(lease: DhcpLease): void {
    const next = this.stateValue === "bound" ? lease.t1 : this.stateValue === "renewing" ? lease.t2 : lease.expires;
    if (Number.isFinite(next)) this.ctx.schedule(this.leaseTimer, next);
    else this.ctx.cancel(this.leaseTimer);
  }

  // ---- receiving ----

  /**
   * A UDP datagram to port 68 arrived on the device (from `src`, normally port 67). The Stack
   * delivers it here whatever its destination address (broadcast, or the offered address before
   * it is installed). Invalid or unexpected messages are counted and dropped.
   */
  onMessage(_src: Ipv4Addr, bytes: Uint8Array, off: number, len: number): void {
    const v = this.view;
    if (v.parseFrom(bytes, off, len) !== null) {
      this.counters.inc(C.malformed);
      return;
    }
    if (v.op !== DhcpOp.Reply) {
      this.counters.inc(C.notReply);
      return;
    }
    const s = this.stateValue;
    if (s !== "selecting" && s !== "requesting" && s !== "rebooting" && s !== "renewing" && s !== "rebinding") {
      this.counters.inc(C.notExpected);
      return;
    }
    // RFC 2131 4.4.1: replies are matched by xid (and the hardware address).
    if (v.xid !== this.xid) {
      this.counters.inc(C.badXid);
      return;
    }
    if (v.htype !== 1 || !v.chaddrIs(this.mac)) {
      this.counters.inc(C.badChaddr);
      return;
    }
    const type = v.messageType;
    if (s === "selecting") {
      if (type !== DhcpMessageType.Offer) this.counters.inc(C.badType);
      else this.onOffer(v);
      return;
    }
    if (type === DhcpMessageType.Ack) this.onAck(v);
    else if (type === DhcpMessageType.Nak) this.onNak(v);
    else this.counters.inc(C.badType);
  }

  private onOffer(v: DhcpView): void {
    const server = v.serverId;
    // RFC 2131 table 3: an OFFER carries the address, the lease time and the server identifier.
    if (!usableUnicast(v.yiaddr) || server === null || !usableUnicast(server) || v.leaseTime < 0) {
      this.counters.inc(C.badOffer);
      return;
    }
    this.counters.inc(C.offers);
    // The first acceptable offer is taken (RFC 2131 4.4.1 lets the client choose); later ones
    // arrive in REQUESTING and are dropped as unexpected.
    this.offered = v.yiaddr;
    this.offerServer = server;
    this.stateValue = "requesting";
    this.attempts = 0;
    this.sendSelectingRequest();
  }

  /** The lease an ACK describes, or null when it lacks what RFC 2131 table 3 requires. */
  private leaseFrom(v: DhcpView): DhcpLease | null {
    const addr = v.yiaddr;
    const server = v.serverId;
    let seconds = v.leaseTime;
    if (!usableUnicast(addr) || server === null || seconds < 0) return null;
    const cfg = this.config;
    if (seconds !== INFINITE) seconds = Math.max(seconds, cfg.minLeaseSeconds);
    const mask = v.subnetMask;
    let prefixLen = mask === null ? -1 : maskToPrefix(mask);
    if (prefixLen < 0 || prefixLen > 30) prefixLen = classfulPrefix(addr);
    const routers: Ipv4Addr[] = [];
    const nr = v.addrCount(DhcpOption.Router);
    for (let i = 0; i < nr && routers.length < cfg.maxRouters; i++) {
      const r = v.addrAt(DhcpOption.Router, i);
      if (usableUnicast(r) && r !== addr) routers.push(r);
    }
    const dnsServers: Ipv4Addr[] = [];
    const nd = v.addrCount(DhcpOption.DomainNameServer);
    for (let i = 0; i < nd && dnsServers.length < cfg.maxDnsServers; i++) {
      const d = v.addrAt(DhcpOption.DomainNameServer, i);
      if (usableUnicast(d)) dnsServers.push(d);
    }
    const mtu = v.interfaceMtu;
    const domain = cleanDomain(v.text(DhcpOption.DomainName));
    const start = this.requestSentAt;
    let t1 = Infinity;
    let t2 = Infinity;
    let expires = Infinity;
    if (seconds !== INFINITE) {
      // RFC 2131 4.4.5: T1 defaults to half the lease, T2 to 7/8; the server's values are used
      // when they are in order (T1 < T2 < lease).
      let r1 = v.renewalTime;
      let r2 = v.rebindingTime;
      if (r2 < 0 || r2 >= seconds) r2 = seconds * 0.875;
      if (r1 < 0 || r1 >= r2) r1 = Math.min(seconds * 0.5, r2);
      t1 = start + r1 * 1000;
      t2 = start + r2 * 1000;
      expires = start + seconds * 1000;
    }
    return {
      addr,
      prefixLen,
      server,
      routers,
      dnsServers,
      domain,
      mtu: mtu >= 68 ? mtu : -1,
      leaseSeconds: seconds,
      start,
      t1,
      t2,
      expires,
    };
  }

  private onAck(v: DhcpView): void {
    const s = this.stateValue;
    // RFC 2131 4.4.1: in REQUESTING only the server chosen answers for the client.
    if (s === "requesting" && v.serverId !== this.offerServer) {
      this.counters.inc(C.wrongServer);
      return;
    }
    const lease = this.leaseFrom(v);
    if (lease === null || (s === "requesting" && lease.addr !== this.offered)) {
      this.counters.inc(C.badAck);
      return;
    }
    if (s === "rebooting" && lease.addr !== this.hint) {
      this.counters.inc(C.badAck);
      return;
    }
    this.counters.inc(C.acks);
    this.ctx.cancel(this.retransmitTimer);
    if (s === "renewing" || s === "rebinding") {
      this.renewed(lease, s === "renewing" ? "renewed" : "rebound");
      return;
    }
    if (this.config.probe) {
      // RFC 2131 4.4.1 / RFC 5227 2.1: check the address before using it.
      this.pending = lease;
      this.stateValue = "checking";
      this.ctx.probeAddress(this.device, lease.addr);
      return;
    }
    this.bind(lease);
  }

  private onNak(v: DhcpView): void {
    const s = this.stateValue;
    // The NAK for a REQUEST in REQUESTING comes from the server chosen.
    if (s === "requesting" && v.serverId !== null && v.serverId !== this.offerServer) {
      this.counters.inc(C.wrongServer);
      return;
    }
    this.counters.inc(C.naks);
    this.ctx.cancel(this.retransmitTimer);
    const lease = this.leaseValue;
    if (lease !== null) {
      // RFC 2131 4.4.5: a NAK in RENEWING or REBINDING ends the lease at once.
      this.emitLease("nak", lease);
      this.unbind(lease);
    }
    this.hint = ANY;
    this.naksInRow++;
    // RFC 2131 4.4.1: restart from INIT; NAKs in a row are spaced out (1 s, 2 s, ... 64 s) so a
    // server that refuses everything cannot make the client loop at wire speed.
    this.toInit(this.naksInRow <= 1 ? 0 : Math.min(64_000, 1000 * 2 ** (this.naksInRow - 2)));
  }

  /** The RFC 5227 probe the context ran for `addr` is over. */
  probeResult(addr: Ipv4Addr, inUse: boolean): void {
    const lease = this.pending;
    if (this.stateValue !== "checking" || lease === null || lease.addr !== addr) return;
    this.pending = null;
    if (!inUse) {
      this.bind(lease);
      return;
    }
    this.declined(lease);
  }

  /**
   * Another host uses our address (RFC 5227 2.4: an ARP packet with it as sender from another
   * MAC). The client gives the address up, DECLINEs it and starts over after `declineWait`.
   */
  onConflict(addr: Ipv4Addr): void {
    const lease = this.leaseValue;
    if (lease === null || lease.addr !== addr) return;
    this.ctx.cancel(this.retransmitTimer);
    this.unbind(lease);
    this.declined(lease);
  }

  private declined(lease: DhcpLease): void {
    this.counters.inc(C.conflict);
    // RFC 2131 3.1.5: DECLINE the address and wait at least ten seconds before starting again.
    this.sendDecline(lease.addr, lease.server);
    this.emitLease("declined", lease);
    this.hint = ANY;
    this.toInit(this.config.declineWait);
  }

  private endProbe(): void {
    if (this.stateValue === "checking" && this.pending !== null) {
      this.ctx.cancelProbe(this.device, this.pending.addr);
      this.pending = null;
    }
  }

  // ---- configuration ----

  private bind(lease: DhcpLease): void {
    this.stateValue = "bound";
    this.leaseValue = lease;
    this.hint = lease.addr;
    this.naksInRow = 0;
    const d = this.device;
    this.ctx.addAddress4(d, lease.addr, lease.prefixLen);
    this.ctx.emit({
      type: "address-changed",
      device: d,
      addr: lease.addr,
      prefixLen: lease.prefixLen,
      state: "assigned",
    });
    this.applyOptions(null, lease);
    this.emitLease("bound", lease);
    this.scheduleLeaseTimer(lease);
  }

  private renewed(lease: DhcpLease, how: "renewed" | "rebound"): void {
    const old = this.leaseValue;
    if (old === null) return;
    if (old.addr !== lease.addr || old.prefixLen !== lease.prefixLen) {
      // A different address on renewal: drop the old configuration and take the new one.
      this.unbind(old);
      this.bind(lease);
      return;
    }
    this.stateValue = "bound";
    this.leaseValue = lease;
    this.applyOptions(old, lease);
    this.emitLease(how, lease);
    this.scheduleLeaseTimer(lease);
  }

  /** Apply what changed between `old` (null: nothing applied yet) and `lease`. */
  private applyOptions(old: DhcpLease | null, lease: DhcpLease): void {
    const d = this.device;
    const oldRouter = old === null || old.routers.length === 0 ? ANY : old.routers[0];
    const router = lease.routers.length === 0 ? ANY : lease.routers[0];
    if (oldRouter !== router) {
      if (oldRouter !== ANY) this.ctx.removeRoute4(d, ANY, 0, oldRouter);
      if (router !== ANY) this.ctx.addRoute4(d, ANY, 0, router);
    }
    if (old === null ? lease.mtu > 0 : old.mtu !== lease.mtu) this.ctx.setMtu4(d, lease.mtu > 0 ? lease.mtu : null);
    const search = lease.domain === null ? [] : [lease.domain];
    if (old === null || !sameList(old.dnsServers, lease.dnsServers) || old.domain !== lease.domain) {
      this.ctx.setDnsConfig(d, lease.dnsServers, search);
    }
  }

  private unbind(lease: DhcpLease): void {
    const d = this.device;
    this.ctx.cancel(this.leaseTimer);
    if (lease.routers.length > 0) this.ctx.removeRoute4(d, ANY, 0, lease.routers[0]);
    if (lease.mtu > 0) this.ctx.setMtu4(d, null);
    this.ctx.setDnsConfig(d, [], []);
    this.ctx.removeAddress4(d, lease.addr, lease.prefixLen);
    this.ctx.emit({
      type: "address-changed",
      device: d,
      addr: lease.addr,
      prefixLen: lease.prefixLen,
      state: "removed",
    });
    this.leaseValue = null;
  }

  private emitLease(state: DhcpLeaseEvent, lease: DhcpLease): void {
    const gone = state !== "bound" && state !== "renewed" && state !== "rebound";
    this.ctx.emit({
      type: "dhcp",
      device: this.device,
      state,
      addr: lease.addr,
      prefixLen: lease.prefixLen,
      server: lease.server,
      leaseSeconds: gone ? 0 : lease.leaseSeconds,
    });
  }

  /** A short description of the client (for `ready()` timeout errors: what was tried). */
  describe(): string {
    const s = this.stateValue;
    const l = this.leaseValue;
    if (l !== null) return `${s}: ${formatV4(l.addr)}/${l.prefixLen} from ${formatV4(l.server)}`;
    const sent = this.counters.get(C.txDiscover);
    const offers = this.counters.get(C.offers);
    return `${s}: ${sent} DISCOVER sent, ${offers} offers, ${this.counters.get(C.naks)} NAKs`;
  }
}
