/**
 * The gateway's DHCPv4 server: RFC 2131 (4.3 server behaviour: DISCOVER, REQUEST in its SELECTING,
 * INIT-REBOOT, RENEWING and REBINDING forms, DECLINE, RELEASE, INFORM; 4.1 where replies go;
 * table 3 fields), options of RFC 2132 (1, 3, 6, 15, 26, 28, 51, 54, 58, 59, 56 in NAKs).
 *
 * Sans-IO: a request arrives as `onMessage` (a UDP datagram to port 67) and replies leave through
 * `DhcpServerContext.sendDhcp`. Time is the context's clock; leases expire lazily (an expired
 * lease is free the next time an address is chosen, and `leaseOf` no longer reports it).
 *
 * Defaults are QEMU's user networking (libslirp): network 10.0.2.0/24, router 10.0.2.2, name
 * server 10.0.2.3, leases from 10.0.2.15 up, 16 of them. Leases are bound to the client
 * identifier (option 61) when the client sends one, else to the MAC in `chaddr` (RFC 2131 4.2),
 * and each records the MAC for the gateway's checks. The lease table holds at most one record per
 * pool address, so it is bounded by the pool; a full pool is counted and the client gets no offer.
 * Option order follows dnsmasq's, so replies can be compared byte for byte with its.
 */
import { type CounterId, Counters, counter } from "../counters.ts";
import { formatMac, formatV4, type Ipv4Addr, type MacAddr } from "../ip/addr.ts";
import type { PacketBuilder } from "../packet/serialize.ts";
import {
  DHCP_CLIENT_PORT,
  DHCP_SERVER_PORT,
  DhcpBuilder,
  DhcpMessageType,
  DhcpOp,
  DhcpOption,
  type DhcpOptionData,
  DhcpView,
  dhcpOpt,
} from "../wire/dhcp.ts";

/** What the DHCP server needs from the gateway's Stack. */
export interface DhcpServerContext {
  /** Monotonic time in ms. */
  now(): number;
  /**
   * Send `msg` (serialize it around an empty body) in a UDP datagram from the server's address,
   * port 67, to `dst`:`port`. With `mac` the frame goes to that Ethernet address without ARP
   * (RFC 2131 4.1: the client has no address yet); 255.255.255.255 goes to the Ethernet broadcast
   * address; any other `dst` is routed and resolved as usual.
   */
  sendDhcp(dst: Ipv4Addr, port: number, mac: MacAddr | null, msg: PacketBuilder): void;
}

export interface DhcpServerConfig {
  /** The server's address: option 54 and the source of replies. Default 10.0.2.2. */
  serverAddr: Ipv4Addr;
  /** The network's prefix length (option 1). Default 24. */
  prefixLen: number;
  /** First address of the pool. Default 10.0.2.15. */
  poolStart: Ipv4Addr;
  /** Addresses in the pool (the bound of the lease table). Default 16, as QEMU. */
  poolSize: number;
  /** Option 3; null: none. Default 10.0.2.2. */
  router: Ipv4Addr | null;
  /** Option 6. Default [10.0.2.3]. */
  dnsServers: Ipv4Addr[];
  /** Option 15; null: none. */
  domainName: string | null;
  /** Option 26, sent to clients that ask for it; null: none. Default 1500. */
  mtu: number | null;
  /** Option 51 in seconds; 0xffffffff: infinite. Default 86400. */
  leaseSeconds: number;
  /** Option 28 (the subnet broadcast address). Default true. */
  broadcastOption: boolean;
  /** How long an offered address is held for the client, ms. Default 60000. */
  offerHoldMs: number;
  /** How long a declined address is kept out of the pool, ms (RFC 2131 4.3.3). Default 600000. */
  declineHoldMs: number;
  /**
   * Answer INIT-REBOOT and RENEWING/REBINDING requests for addresses this server has no record
   * of (ACK when free, NAK otherwise) instead of keeping silent (RFC 2131 4.3.2 lets a server
   * that knows it is the only one do so). Default true: the gateway is its network's only server.
   */
  authoritative: boolean;
  /** `siaddr` of replies ("next server", RFC 2131 2). Default: `serverAddr`, as dnsmasq. */
  siaddr: Ipv4Addr | null;
}

const v4 = (a: number, b: number, c: number, d: number) => (((a << 24) | (b << 16) | (c << 8) | d) >>> 0) as Ipv4Addr;

export const DEFAULT_DHCP_SERVER_CONFIG: DhcpServerConfig = {
  serverAddr: v4(10, 0, 2, 2),
  prefixLen: 24,
  poolStart: v4(10, 0, 2, 15),
  poolSize: 16,
  router: v4(10, 0, 2, 2),
  dnsServers: [v4(10, 0, 2, 3)],
  domainName: null,
  mtu: 1500,
  leaseSeconds: 86400,
  broadcastOption: true,
  offerHoldMs: 60_000,
  declineHoldMs: 600_000,
  authoritative: true,
  siaddr: null,
};

/** Largest pool accepted (the lease table's hard bound). */
export const MAX_POOL_SIZE = 65536;

type LeaseState = "offered" | "bound" | "released" | "declined";

/** A record of the lease table. */
interface LeaseRecord {
  addr: Ipv4Addr;
  /** Client identifier key; "" for a declined address nobody owns. */
  client: string;
  mac: Uint8Array;
  hostName: string | null;
  state: LeaseState;
  /** ms; Infinity for an infinite lease. */
  expires: number;
}

/** A lease as the gateway sees it. */
export interface DhcpServerLease {
  addr: Ipv4Addr;
  mac: MacAddr;
  hostName: string | null;
  /** ms on the context's clock; Infinity for an infinite lease. */
  expires: number;
}

const C = {
  malformed: counter("dhcp.server.rx.malformed"),
  notRequest: counter("dhcp.server.rx.not-request"),
  hardware: counter("dhcp.server.rx.unsupported-hardware"),
  badType: counter("dhcp.server.rx.bad-type"),
  chaddr: counter("dhcp.server.rx.chaddr-mismatch"),
  otherServer: counter("dhcp.server.rx.other-server"),
  badRequest: counter("dhcp.server.rx.bad-request"),
  badDecline: counter("dhcp.server.rx.bad-decline"),
  badRelease: counter("dhcp.server.rx.bad-release"),
  badInform: counter("dhcp.server.rx.bad-inform"),
  unknownClient: counter("dhcp.server.rx.unknown-client"),
  exhausted: counter("dhcp.server.pool-exhausted"),
  offer: counter("dhcp.server.tx.offer"),
  ack: counter("dhcp.server.tx.ack"),
  nak: counter("dhcp.server.tx.nak"),
  declined: counter("dhcp.server.declined"),
  released: counter("dhcp.server.released"),
} as const satisfies Record<string, CounterId>;

const ANY = 0 as Ipv4Addr;
const BROADCAST = 0xffffffff as Ipv4Addr;
const INFINITE = 0xffffffff;

function hexKey(prefix: string, b: Uint8Array): string {
  let s = prefix;
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
  return s;
}

/** The DHCPv4 server of the gateway. */
export class DhcpServer {
  readonly config: DhcpServerConfig;
  readonly counters: Counters;
  private readonly byAddr = new Map<number, LeaseRecord>();
  private readonly byClient = new Map<string, LeaseRecord>();
  private readonly view = new DhcpView();
  private readonly mask: number;
  private readonly network: number;
  private readonly poolEnd: number;

  constructor(
    private readonly ctx: DhcpServerContext,
    config: Partial<DhcpServerConfig> = {},
    counters?: Counters,
  ) {
    const c = { ...DEFAULT_DHCP_SERVER_CONFIG, ...config };
    if (!Number.isInteger(c.prefixLen) || c.prefixLen < 1 || c.prefixLen > 30) {
      throw new RangeError(`DHCP server: prefix length ${c.prefixLen} is not 1..30`);
    }
    if (!Number.isInteger(c.poolSize) || c.poolSize < 1 || c.poolSize > MAX_POOL_SIZE) {
      throw new RangeError(`DHCP server: pool size ${c.poolSize} is not 1..${MAX_POOL_SIZE}`);
    }
    this.config = c;
    this.counters = counters ?? new Counters();
    this.mask = (0xffffffff << (32 - c.prefixLen)) >>> 0;
    this.network = (c.serverAddr & this.mask) >>> 0;
    this.poolEnd = c.poolStart + c.poolSize;
    if ((c.poolStart & this.mask) >>> 0 !== this.network || ((this.poolEnd - 1) & this.mask) >>> 0 !== this.network) {
      throw new RangeError("DHCP server: the pool is not inside the server's network");
    }
  }

  /** True when `a` is in our network. */
  private onNetwork(a: number): boolean {
    return (a & this.mask) >>> 0 === this.network;
  }

  /** True when `a` may be leased: in the pool, not one of ours, not the network or broadcast address. */
  private leasable(a: number): boolean {
    const c = this.config;
    if (a < c.poolStart || a >= this.poolEnd) return false;
    if (a === c.serverAddr || a === c.router || c.dnsServers.includes(a as Ipv4Addr)) return false;
    return a !== this.network && a !== (this.network | ~this.mask) >>> 0;
  }

  /** True when the record no longer holds its address (a declined one: once its hold is over). */
  private isFree(r: LeaseRecord, now: number): boolean {
    return r.state === "released" || r.expires <= now;
  }

  /** The bound, unexpired lease of `addr`, or null (for the gateway's source checks). */
  leaseOf(addr: Ipv4Addr): DhcpServerLease | null {
    const r = this.byAddr.get(addr);
    if (r === undefined || r.state !== "bound" || r.expires <= this.ctx.now()) return null;
    return { addr: r.addr, mac: r.mac as MacAddr, hostName: r.hostName, expires: r.expires };
  }

  /** Every bound, unexpired lease, by address. */
  leases(): DhcpServerLease[] {
    const now = this.ctx.now();
    const out: DhcpServerLease[] = [];
    for (const r of this.byAddr.values()) {
      if (r.state === "bound" && r.expires > now) {
        out.push({ addr: r.addr, mac: r.mac as MacAddr, hostName: r.hostName, expires: r.expires });
      }
    }
    return out.sort((x, y) => x.addr - y.addr);
  }

  /** Records in the lease table (offered, bound, released, declined): at most `poolSize`. */
  get tableSize(): number {
    return this.byAddr.size;
  }

  private clientKey(v: DhcpView): string {
    const id = v.option(DhcpOption.ClientId);
    return id !== null && id.length > 0 ? hexKey("id:", id) : hexKey("mac:", v.chaddr.subarray(0, 6));
  }

  /**
   * A UDP datagram to port 67 arrived from `src` (0.0.0.0 from clients without an address).
   * `srcMac`, when the Stack knows it, is the Ethernet source: a request whose `chaddr` differs
   * is dropped (no relays on the gateway's network, so the two must agree).
   */
  onMessage(_src: Ipv4Addr, bytes: Uint8Array, off: number, len: number, srcMac: Uint8Array | null = null): void {
    const v = this.view;
    if (v.parseFrom(bytes, off, len) !== null) {
      this.counters.inc(C.malformed);
      return;
    }
    if (v.op !== DhcpOp.Request) {
      this.counters.inc(C.notRequest);
      return;
    }
    // Ethernet clients only: leases are bound to 6-byte MACs.
    if (v.htype !== 1 || v.hlen !== 6) {
      this.counters.inc(C.hardware);
      return;
    }
    if (srcMac !== null && !v.chaddrIs(srcMac)) {
      this.counters.inc(C.chaddr);
      return;
    }
    switch (v.messageType) {
      case DhcpMessageType.Discover:
        this.onDiscover(v);
        return;
      case DhcpMessageType.Request:
        this.onRequest(v);
        return;
      case DhcpMessageType.Decline:
        this.onDecline(v);
        return;
      case DhcpMessageType.Release:
        this.onRelease(v);
        return;
      case DhcpMessageType.Inform:
        this.onInform(v);
        return;
      default:
        this.counters.inc(C.badType);
    }
  }

  /** Choose an address for `client` (RFC 2131 4.3.1): its own, the one it asks for, a new one, the oldest free one. */
  private choose(client: string, requested: Ipv4Addr | null, now: number): Ipv4Addr | null {
    const own = this.byClient.get(client);
    if (own !== undefined && own.state !== "declined") return own.addr;
    if (requested !== null && this.leasable(requested)) {
      const r = this.byAddr.get(requested);
      if (r === undefined || this.isFree(r, now)) return requested;
    }
    let oldest: LeaseRecord | null = null;
    for (let a = this.config.poolStart; a < this.poolEnd; a++) {
      if (!this.leasable(a)) continue;
      const r = this.byAddr.get(a);
      if (r === undefined) return a as Ipv4Addr;
      if (this.isFree(r, now) && (oldest === null || r.expires < oldest.expires)) oldest = r;
    }
    return oldest === null ? null : oldest.addr;
  }

  /** Give `addr` to `client` in `state` until `expires`, taking it from any previous holder. */
  private assign(addr: Ipv4Addr, client: string, v: DhcpView, state: LeaseState, expires: number): LeaseRecord {
    const prev = this.byAddr.get(addr);
    if (prev !== undefined && prev.client !== client && this.byClient.get(prev.client) === prev) {
      this.byClient.delete(prev.client);
    }
    const old = this.byClient.get(client);
    if (old !== undefined && old.addr !== addr) {
      this.byClient.delete(client);
      // The client moves to another address: its old one is free (kept for nobody).
      if (old.state !== "declined") this.byAddr.delete(old.addr);
    }
    const r: LeaseRecord = {
      addr,
      client,
      mac: v.chaddr.slice(0, 6),
      hostName: prev?.client === client ? (v.text(DhcpOption.HostName) ?? prev.hostName) : v.text(DhcpOption.HostName),
      state,
      expires,
    };
    this.byAddr.set(addr, r);
    this.byClient.set(client, r);
    return r;
  }

  private leaseEnd(now: number): number {
    const s = this.config.leaseSeconds;
    return s === INFINITE ? Infinity : now + s * 1000;
  }

  private onDiscover(v: DhcpView): void {
    const now = this.ctx.now();
    const client = this.clientKey(v);
    const addr = this.choose(client, v.requestedIp, now);
    if (addr === null) {
      this.counters.inc(C.exhausted);
      return;
    }
    const own = this.byClient.get(client);
    // A client with a bound lease keeps it; otherwise the address is held while it decides.
    if (own === undefined || own.addr !== addr || own.state !== "bound" || own.expires <= now) {
      this.assign(addr, client, v, "offered", now + this.config.offerHoldMs);
    }
    this.reply(v, DhcpMessageType.Offer, addr, true);
    this.counters.inc(C.offer);
  }

  private onRequest(v: DhcpView): void {
    const now = this.ctx.now();
    const client = this.clientKey(v);
    const serverId = v.serverId;
    const requested = v.requestedIp;
    const ciaddr = v.ciaddr;
    const own = this.byClient.get(client);
    if (serverId !== null) {
      // RFC 2131 4.3.2 SELECTING: the client chose a server.
      if (serverId !== this.config.serverAddr) {
        this.counters.inc(C.otherServer);
        // It chose another: our offer is free again.
        if (own !== undefined && own.state === "offered") {
          this.byClient.delete(client);
          this.byAddr.delete(own.addr);
        }
        return;
      }
      const want = requested ?? (ciaddr !== ANY ? ciaddr : null);
      if (want === null) {
        this.counters.inc(C.badRequest);
        return;
      }
      if (own === undefined || own.addr !== want || own.state === "declined") {
        this.nak(v, "address not available");
        return;
      }
      this.ack(v, own.addr, client);
      return;
    }
    if (ciaddr === ANY) {
      // RFC 2131 4.3.2 INIT-REBOOT: 'requested IP address' filled, ciaddr zero.
      if (requested === null) {
        this.counters.inc(C.badRequest);
        return;
      }
      if (!this.onNetwork(requested)) {
        this.nak(v, "wrong network");
        return;
      }
      this.verify(v, requested, client, own, now);
      return;
    }
    // RFC 2131 4.3.2 RENEWING (unicast) or REBINDING (broadcast): ciaddr filled, no option 50.
    if (!this.onNetwork(ciaddr)) {
      this.nak(v, "wrong network");
      return;
    }
    this.verify(v, ciaddr, client, own, now);
  }

  /** INIT-REBOOT, RENEWING, REBINDING: ACK the client's own address, NAK what is not its. */
  private verify(v: DhcpView, addr: Ipv4Addr, client: string, own: LeaseRecord | undefined, now: number): void {
    if (own !== undefined && own.addr === addr && own.state !== "declined") {
      this.ack(v, addr, client);
      return;
    }
    const holder = this.byAddr.get(addr);
    const free = this.leasable(addr) && (holder === undefined || this.isFree(holder, now));
    if (!this.config.authoritative && own === undefined) {
      // RFC 2131 4.3.2: a server with no record of the client remains silent.
      this.counters.inc(C.unknownClient);
      return;
    }
    if (free) this.ack(v, addr, client);
    else this.nak(v, "address in use");
  }

  private ack(v: DhcpView, addr: Ipv4Addr, client: string): void {
    this.assign(addr, client, v, "bound", this.leaseEnd(this.ctx.now()));
    this.reply(v, DhcpMessageType.Ack, addr, true);
    this.counters.inc(C.ack);
  }

  private nak(v: DhcpView, why: string): void {
    // RFC 2131 table 3: a NAK carries the server identifier and may carry a message (56).
    const msg = new DhcpBuilder(
      {
        op: DhcpOp.Reply,
        xid: v.xid,
        flags: v.flags,
        giaddr: v.giaddr,
        chaddr: v.chaddr,
      },
      [
        dhcpOpt.messageType(DhcpMessageType.Nak),
        dhcpOpt.addrs(DhcpOption.ServerId, [this.config.serverAddr]),
        dhcpOpt.text(DhcpOption.Message, why),
      ],
    );
    // RFC 2131 4.1: without a relay, NAKs are broadcast.
    if (v.giaddr !== ANY) this.ctx.sendDhcp(v.giaddr, DHCP_SERVER_PORT, null, msg);
    else this.ctx.sendDhcp(BROADCAST, DHCP_CLIENT_PORT, null, msg);
    this.counters.inc(C.nak);
  }

  private onDecline(v: DhcpView): void {
    const client = this.clientKey(v);
    const own = this.byClient.get(client);
    const addr = v.requestedIp;
    // RFC 2131 4.3.3: only the client that holds the address can decline it (a client cannot
    // take addresses away from the others by declining them).
    if (v.serverId !== this.config.serverAddr || addr === null || own === undefined || own.addr !== addr) {
      this.counters.inc(C.badDecline);
      return;
    }
    this.byClient.delete(client);
    own.client = "";
    own.state = "declined";
    own.expires = this.ctx.now() + this.config.declineHoldMs;
    this.counters.inc(C.declined);
  }

  private onRelease(v: DhcpView): void {
    const client = this.clientKey(v);
    const own = this.byClient.get(client);
    // RFC 2131 4.3.4: the address in ciaddr, released by the client that holds it.
    if (v.serverId !== this.config.serverAddr || own === undefined || own.addr !== v.ciaddr || own.state !== "bound") {
      this.counters.inc(C.badRelease);
      return;
    }
    // Kept, marked free, so the client gets the same address back if nobody took it meanwhile.
    own.state = "released";
    this.counters.inc(C.released);
  }

  private onInform(v: DhcpView): void {
    // RFC 2131 4.3.5: configuration only, to ciaddr; no lease, no yiaddr.
    if (v.ciaddr === ANY || !this.onNetwork(v.ciaddr)) {
      this.counters.inc(C.badInform);
      return;
    }
    this.reply(v, DhcpMessageType.Ack, ANY, false);
    this.counters.inc(C.ack);
  }

  /** An OFFER or ACK (RFC 2131 table 3), sent where RFC 2131 4.1 says. */
  private reply(v: DhcpView, type: number, yiaddr: Ipv4Addr, lease: boolean): void {
    const c = this.config;
    const prl = v.option(DhcpOption.ParameterRequestList);
    const asked = (code: number) => prl?.includes(code) === true;
    const o: DhcpOptionData[] = [dhcpOpt.messageType(type), dhcpOpt.addrs(DhcpOption.ServerId, [c.serverAddr])];
    if (lease) {
      const s = c.leaseSeconds;
      o.push(dhcpOpt.u32(DhcpOption.LeaseTime, s));
      if (s !== INFINITE) {
        // RFC 2131 4.4.5: T1 half the lease, T2 seven eighths.
        o.push(dhcpOpt.u32(DhcpOption.RenewalTime, Math.floor(s / 2)));
        o.push(dhcpOpt.u32(DhcpOption.RebindingTime, Math.floor((s * 7) / 8)));
      }
    }
    o.push(dhcpOpt.addrs(DhcpOption.SubnetMask, [this.mask as Ipv4Addr]));
    if (c.broadcastOption)
      o.push(dhcpOpt.addrs(DhcpOption.BroadcastAddress, [(this.network | ~this.mask) as Ipv4Addr]));
    // The name the client gave (RFC 2132 3.14), echoed in the ACK as dnsmasq does.
    const host = type === DhcpMessageType.Ack && lease ? v.option(DhcpOption.HostName) : null;
    if (host !== null && host.length > 0) o.push(dhcpOpt.bytes(DhcpOption.HostName, host.slice()));
    if (c.mtu !== null && asked(DhcpOption.InterfaceMtu)) o.push(dhcpOpt.u16(DhcpOption.InterfaceMtu, c.mtu));
    if (c.domainName !== null) o.push(dhcpOpt.text(DhcpOption.DomainName, c.domainName));
    if (c.dnsServers.length > 0) o.push(dhcpOpt.addrs(DhcpOption.DomainNameServer, c.dnsServers));
    if (c.router !== null) o.push(dhcpOpt.addrs(DhcpOption.Router, [c.router]));
    const msg = new DhcpBuilder(
      {
        op: DhcpOp.Reply,
        xid: v.xid,
        flags: v.flags,
        ciaddr: type === DhcpMessageType.Offer ? ANY : v.ciaddr,
        yiaddr,
        siaddr: c.siaddr ?? c.serverAddr,
        giaddr: v.giaddr,
        chaddr: v.chaddr,
      },
      o,
    );
    // RFC 2131 4.1: to the relay; else to ciaddr; else broadcast when the client asks; else to
    // yiaddr at the client's MAC.
    if (v.giaddr !== ANY) this.ctx.sendDhcp(v.giaddr, DHCP_SERVER_PORT, null, msg);
    else if (v.ciaddr !== ANY) this.ctx.sendDhcp(v.ciaddr, DHCP_CLIENT_PORT, null, msg);
    else if (v.broadcast || yiaddr === ANY) this.ctx.sendDhcp(BROADCAST, DHCP_CLIENT_PORT, null, msg);
    else this.ctx.sendDhcp(yiaddr, DHCP_CLIENT_PORT, v.chaddr.slice(0, 6) as MacAddr, msg);
  }

  /** A line per record of the lease table (for logs and tests). */
  describe(): string[] {
    const now = this.ctx.now();
    return [...this.byAddr.values()]
      .sort((x, y) => x.addr - y.addr)
      .map((r) => {
        const state = r.state !== "released" && r.expires <= now ? "expired" : r.state;
        return `${formatV4(r.addr)} ${state} ${formatMac(r.mac)}`;
      });
  }
}
