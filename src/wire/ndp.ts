/**
 * Neighbor Discovery for IPv6: RFC 4861 (router solicitation and advertisement, neighbor
 * solicitation and advertisement, redirect, options), RFC 4191 (router preference bits).
 *
 * NDP messages are ICMPv6 messages: parse the ICMPv6 message with `Icmpv6View` first (which checks
 * the checksum), then its range with the view for its type (`parseNdp` dispatches). Parsing checks
 * the pure wire rules of RFC 4861 (length, code 0, every option of non-zero length and inside the
 * message, targets not multicast, ...); the rules that need the IP header are helpers
 * (`ndpValid` for the hop limit, `validForSource`, `validForDestination`).
 *
 * Options are walked once at parse time. An option of a known type whose length is wrong for that
 * type (a prefix information option that is not 32 bytes, ...) is not `known`: it is skipped like an
 * unknown option (RFC 4861 4.6: receivers skip options they do not understand), so the typed
 * getters of the option cursor only ever read inside a correctly sized option.
 */
import {
  formatMac,
  formatV6,
  type Ipv6Addr,
  type MacAddr,
  macAt,
  parseMac,
  parseV6,
  v6At,
  v6Zero,
} from "../ip/addr.ts";
import type { PacketBuilder } from "../packet/serialize.ts";
import { type ParseError, parseError } from "./errors.ts";
import { Icmpv6Type, writeIcmpv6Checksum } from "./icmpv6.ts";

/** NDP option types (RFC 4861 4.6 and IANA "IPv6 Neighbor Discovery Option Formats"). */
export const NdpOptionType = {
  SourceLinkAddr: 1,
  TargetLinkAddr: 2,
  PrefixInformation: 3,
  RedirectedHeader: 4,
  Mtu: 5,
  Nonce: 14,
  RouteInformation: 24,
  Rdnss: 25,
  Dnssl: 31,
} as const;

/** Hop limit every NDP message must arrive with (RFC 4861 6.1.1, 6.1.2, 7.1.1, 7.1.2, 8.1). */
export const NDP_HOP_LIMIT = 255;

/**
 * RFC 4861 validity checks of the IP hop limit and the ICMP code: the hop limit is 255 (the
 * message was not forwarded) and the code is 0.
 */
export function ndpValid(hopLimit: number, code: number): boolean {
  return hopLimit === NDP_HOP_LIMIT && code === 0;
}

// Fixed part lengths (including the 4-byte ICMPv6 header).
const RS_LEN = 8;
const RA_LEN = 16;
const NS_LEN = 24;
const NA_LEN = 24;
const REDIRECT_LEN = 40;
// Field offsets from the start of the ICMPv6 message.
const OFF_CUR_HOP = 4;
const OFF_RA_FLAGS = 5;
const OFF_ROUTER_LIFETIME = 6;
const OFF_REACHABLE = 8;
const OFF_RETRANS = 12;
const OFF_NA_FLAGS = 4;
const OFF_TARGET = 8;
const OFF_DESTINATION = 24;
// Option field offsets from the start of the option.
const PI_PREFIX_LEN = 2;
const PI_FLAGS = 3;
const PI_VALID = 4;
const PI_PREFERRED = 8;
const PI_PREFIX = 16;
const MTU_VALUE = 4;
const RH_PACKET = 8;

const RA_MANAGED = 0x80;
const RA_OTHER = 0x40;
const NA_ROUTER = 0x80;
const NA_SOLICITED = 0x40;
const NA_OVERRIDE = 0x20;
const PI_ON_LINK = 0x80;
const PI_AUTONOMOUS = 0x40;

const E_SHORT = parseError("ndp", "too-short");
const E_TYPE = parseError("ndp", "bad-type");
const E_CODE = parseError("ndp", "bad-code");
const E_OPT_ZERO = parseError("ndp", "option-length-zero");
const E_OPT_LONG = parseError("ndp", "option-too-long");
const E_TARGET_MULTICAST = parseError("ndp", "multicast-target");
const E_DEST_MULTICAST = parseError("ndp", "multicast-destination");
const E_REDIRECT_TARGET = parseError("ndp", "redirect-target-not-link-local");

const EMPTY = new Uint8Array(0);

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** True when an option of `type` with `units` 8-byte units has the layout we read for that type. */
function knownLayout(type: number, units: number): boolean {
  switch (type) {
    case NdpOptionType.SourceLinkAddr:
    case NdpOptionType.TargetLinkAddr:
      // RFC 4861 4.6.1: on Ethernet the option is 8 bytes (RFC 2464 section 6).
      return units === 1;
    case NdpOptionType.PrefixInformation:
      return units === 4;
    case NdpOptionType.Mtu:
      return units === 1;
    case NdpOptionType.RedirectedHeader:
      return true;
    default:
      return false;
  }
}

/** Walks the options of a parsed NDP message; reuse one cursor to walk without allocating. */
export class NdpOptionCursor {
  bytes: Uint8Array = EMPTY;
  /** Offset of the current option. */
  off = 0;
  /** Length of the current option in bytes. */
  len = 0;
  /** Type of the current option. */
  type = 0;
  /** The type is one of those with typed getters below and the length is right for it. */
  known = false;
  private pos = 0;
  private end = 0;

  /** Start before the first option of `view`. */
  start(view: NdpView): this {
    this.bytes = view.bytes;
    this.pos = view.optionsOff;
    this.end = view.off + view.len;
    this.len = 0;
    return this;
  }

  /** Move to the next option; false when there are no more. */
  next(): boolean {
    if (this.pos >= this.end) return false;
    const b = this.bytes;
    this.off = this.pos;
    this.type = b[this.pos];
    const units = b[this.pos + 1];
    this.len = units * 8;
    this.known = knownLayout(this.type, units);
    this.pos += this.len;
    return true;
  }

  /** The option's bytes after its type and length bytes (a subarray). */
  data(): Uint8Array {
    return this.bytes.subarray(this.off + 2, this.off + this.len);
  }
  private is(type: number): boolean {
    return this.known && this.type === type;
  }
  /** Source/target link-layer address option: the MAC (borrowed); null for other options. */
  get linkAddr(): MacAddr | null {
    return this.is(NdpOptionType.SourceLinkAddr) || this.is(NdpOptionType.TargetLinkAddr)
      ? macAt(this.bytes, this.off + 2)
      : null;
  }
  /** MTU option: the MTU; -1 for other options. */
  get mtu(): number {
    return this.is(NdpOptionType.Mtu) ? u32(this.bytes, this.off + MTU_VALUE) : -1;
  }
  /** Prefix information (RFC 4861 4.6.2): prefix length in bits; -1 for other options. */
  get prefixLength(): number {
    return this.is(NdpOptionType.PrefixInformation) ? this.bytes[this.off + PI_PREFIX_LEN] : -1;
  }
  /** Prefix information flags byte (L 0x80, A 0x40); 0 for other options. */
  get prefixFlags(): number {
    return this.is(NdpOptionType.PrefixInformation) ? this.bytes[this.off + PI_FLAGS] : 0;
  }
  /** The L flag: the prefix is on-link. */
  get onLink(): boolean {
    return (this.prefixFlags & PI_ON_LINK) !== 0;
  }
  /** The A flag: the prefix may be used for SLAAC. */
  get autonomous(): boolean {
    return (this.prefixFlags & PI_AUTONOMOUS) !== 0;
  }
  /** Valid lifetime in seconds (0xffffffff: infinite); 0 for other options. */
  get validLifetime(): number {
    return this.is(NdpOptionType.PrefixInformation) ? u32(this.bytes, this.off + PI_VALID) : 0;
  }
  /** Preferred lifetime in seconds; 0 for other options. */
  get preferredLifetime(): number {
    return this.is(NdpOptionType.PrefixInformation) ? u32(this.bytes, this.off + PI_PREFERRED) : 0;
  }
  /** The prefix (borrowed); null for other options. */
  get prefix(): Ipv6Addr | null {
    return this.is(NdpOptionType.PrefixInformation) ? v6At(this.bytes, this.off + PI_PREFIX) : null;
  }
  /** Redirected header: the quoted packet (a subarray); null for other options. */
  redirected(): Uint8Array | null {
    return this.is(NdpOptionType.RedirectedHeader)
      ? this.bytes.subarray(this.off + RH_PACKET, this.off + this.len)
      : null;
  }
}

/** The fields every NDP view shares: the message range and a summary of its options. */
export abstract class NdpView {
  bytes: Uint8Array = EMPTY;
  /** Offset of the ICMPv6 message. */
  off = 0;
  len = 0;
  /** Offset of the first option. */
  optionsOff = 0;
  /** Offset of the first well-formed source link-layer address option, -1 when none. */
  srcLinkAddrOff = -1;
  /** Offset of the first well-formed target link-layer address option, -1 when none. */
  tgtLinkAddrOff = -1;
  /** Offset of the first well-formed MTU option, -1 when none. */
  mtuOptOff = -1;
  /** Offset of the first redirected header option, -1 when none. */
  redirectedOptOff = -1;
  /** Well-formed prefix information options. */
  prefixCount = 0;

  /** The ICMPv6 type this view parses. */
  abstract readonly expectedType: number;
  /** Length of the fixed part before the options. */
  abstract readonly fixedLen: number;

  /** Parse the ICMPv6 message at `bytes[off, off + len)` (checksum already verified). */
  parseFrom(bytes: Uint8Array, off: number, len: number): ParseError | null {
    if (off < 0 || len < this.fixedLen || off + len > bytes.length) return E_SHORT;
    if (bytes[off] !== this.expectedType) return E_TYPE;
    if (bytes[off + 1] !== 0) return E_CODE;
    this.srcLinkAddrOff = -1;
    this.tgtLinkAddrOff = -1;
    this.mtuOptOff = -1;
    this.redirectedOptOff = -1;
    this.prefixCount = 0;
    const end = off + len;
    let p = off + this.fixedLen;
    while (p < end) {
      // RFC 4861 4.6: every option has a length byte; the option must fit.
      if (p + 2 > end) return E_OPT_LONG;
      const units = bytes[p + 1];
      // RFC 4861 4.6: "Nodes MUST silently discard an ND packet that contains an option with length zero."
      if (units === 0) return E_OPT_ZERO;
      const olen = units * 8;
      if (p + olen > end) return E_OPT_LONG;
      const t = bytes[p];
      if (knownLayout(t, units)) {
        if (t === NdpOptionType.SourceLinkAddr && this.srcLinkAddrOff < 0) this.srcLinkAddrOff = p;
        else if (t === NdpOptionType.TargetLinkAddr && this.tgtLinkAddrOff < 0) this.tgtLinkAddrOff = p;
        else if (t === NdpOptionType.Mtu && this.mtuOptOff < 0) this.mtuOptOff = p;
        else if (t === NdpOptionType.RedirectedHeader && this.redirectedOptOff < 0) this.redirectedOptOff = p;
        else if (t === NdpOptionType.PrefixInformation) this.prefixCount++;
      }
      p += olen;
    }
    this.bytes = bytes;
    this.off = off;
    this.len = len;
    this.optionsOff = off + this.fixedLen;
    return this.check();
  }

  /** Message-specific checks after the common ones. */
  protected check(): ParseError | null {
    return null;
  }

  get type(): number {
    return this.bytes[this.off];
  }
  get code(): number {
    return this.bytes[this.off + 1];
  }
  /** The source link-layer address option's MAC (borrowed), or null. */
  get sourceLinkAddr(): MacAddr | null {
    return this.srcLinkAddrOff < 0 ? null : macAt(this.bytes, this.srcLinkAddrOff + 2);
  }
  /** The target link-layer address option's MAC (borrowed), or null. */
  get targetLinkAddr(): MacAddr | null {
    return this.tgtLinkAddrOff < 0 ? null : macAt(this.bytes, this.tgtLinkAddrOff + 2);
  }
  /** The MTU option's value, or -1. */
  get mtu(): number {
    return this.mtuOptOff < 0 ? -1 : u32(this.bytes, this.mtuOptOff + MTU_VALUE);
  }
  /** The redirected header option's quoted packet (a subarray), or null. */
  redirected(): Uint8Array | null {
    if (this.redirectedOptOff < 0) return null;
    const o = this.redirectedOptOff;
    return this.bytes.subarray(o + RH_PACKET, o + this.bytes[o + 1] * 8);
  }
  /** A cursor over every option (pass one to reuse it). */
  options(cursor: NdpOptionCursor = new NdpOptionCursor()): NdpOptionCursor {
    return cursor.start(this);
  }
}

function isMulticast(b: Uint8Array, o: number): boolean {
  return b[o] === 0xff;
}

function isLinkLocal(b: Uint8Array, o: number): boolean {
  // RFC 4291 2.5.6: fe80::/10.
  return b[o] === 0xfe && (b[o + 1] & 0xc0) === 0x80;
}

/** Router Solicitation (RFC 4861 4.1). */
export class RouterSolicitationView extends NdpView {
  readonly expectedType = Icmpv6Type.RouterSolicitation;
  readonly fixedLen = RS_LEN;
  static parse(bytes: Uint8Array, off: number, len: number): RouterSolicitationView | ParseError {
    const v = new RouterSolicitationView();
    return v.parseFrom(bytes, off, len) ?? v;
  }
  /** RFC 4861 6.1.1: from the unspecified address there is no source link-layer address option. */
  validForSource(srcUnspecified: boolean): boolean {
    return !srcUnspecified || this.srcLinkAddrOff < 0;
  }
}

/** Router Advertisement (RFC 4861 4.2). */
export class RouterAdvertisementView extends NdpView {
  readonly expectedType = Icmpv6Type.RouterAdvertisement;
  readonly fixedLen = RA_LEN;
  static parse(bytes: Uint8Array, off: number, len: number): RouterAdvertisementView | ParseError {
    const v = new RouterAdvertisementView();
    return v.parseFrom(bytes, off, len) ?? v;
  }
  /** Cur Hop Limit (0: unspecified by this router). */
  get curHopLimit(): number {
    return this.bytes[this.off + OFF_CUR_HOP];
  }
  /** The whole flags byte. */
  get flags(): number {
    return this.bytes[this.off + OFF_RA_FLAGS];
  }
  /** M: addresses are available via DHCPv6. */
  get managed(): boolean {
    return (this.flags & RA_MANAGED) !== 0;
  }
  /** O: other configuration is available via DHCPv6. */
  get other(): boolean {
    return (this.flags & RA_OTHER) !== 0;
  }
  /** RFC 4191 2.2: default router preference (bits 0x18; 0 medium, 1 high, 3 low, 2 reserved). */
  get routerPreference(): number {
    return (this.flags >> 3) & 3;
  }
  /** Router lifetime in seconds (0: not a default router). */
  get routerLifetime(): number {
    return (this.bytes[this.off + OFF_ROUTER_LIFETIME] << 8) | this.bytes[this.off + OFF_ROUTER_LIFETIME + 1];
  }
  /** Reachable time in ms (0: unspecified). */
  get reachableTime(): number {
    return u32(this.bytes, this.off + OFF_REACHABLE);
  }
  /** Retransmission timer in ms (0: unspecified). */
  get retransTimer(): number {
    return u32(this.bytes, this.off + OFF_RETRANS);
  }
}

/** Neighbor Solicitation (RFC 4861 4.3). */
export class NeighborSolicitationView extends NdpView {
  readonly expectedType = Icmpv6Type.NeighborSolicitation;
  readonly fixedLen = NS_LEN;
  static parse(bytes: Uint8Array, off: number, len: number): NeighborSolicitationView | ParseError {
    const v = new NeighborSolicitationView();
    return v.parseFrom(bytes, off, len) ?? v;
  }
  protected override check(): ParseError | null {
    // RFC 4861 7.1.1: the target address is not a multicast address.
    return isMulticast(this.bytes, this.off + OFF_TARGET) ? E_TARGET_MULTICAST : null;
  }
  /** Target address (borrowed). */
  get target(): Ipv6Addr {
    return v6At(this.bytes, this.off + OFF_TARGET);
  }
  /** RFC 4861 7.1.1: from the unspecified address (DAD) there is no source link-layer address option. */
  validForSource(srcUnspecified: boolean): boolean {
    return !srcUnspecified || this.srcLinkAddrOff < 0;
  }
}

/** Neighbor Advertisement (RFC 4861 4.4). */
export class NeighborAdvertisementView extends NdpView {
  readonly expectedType = Icmpv6Type.NeighborAdvertisement;
  readonly fixedLen = NA_LEN;
  static parse(bytes: Uint8Array, off: number, len: number): NeighborAdvertisementView | ParseError {
    const v = new NeighborAdvertisementView();
    return v.parseFrom(bytes, off, len) ?? v;
  }
  protected override check(): ParseError | null {
    // RFC 4861 7.1.2: the target address is not a multicast address.
    return isMulticast(this.bytes, this.off + OFF_TARGET) ? E_TARGET_MULTICAST : null;
  }
  get flags(): number {
    return this.bytes[this.off + OFF_NA_FLAGS];
  }
  /** R: the sender is a router. */
  get router(): boolean {
    return (this.flags & NA_ROUTER) !== 0;
  }
  /** S: sent in response to a solicitation. */
  get solicited(): boolean {
    return (this.flags & NA_SOLICITED) !== 0;
  }
  /** O: override an existing cache entry. */
  get override(): boolean {
    return (this.flags & NA_OVERRIDE) !== 0;
  }
  /** Target address (borrowed). */
  get target(): Ipv6Addr {
    return v6At(this.bytes, this.off + OFF_TARGET);
  }
  /** RFC 4861 7.1.2: sent to a multicast address, the S flag is zero. */
  validForDestination(dstMulticast: boolean): boolean {
    return !dstMulticast || !this.solicited;
  }
}

/** Redirect (RFC 4861 4.5). */
export class RedirectView extends NdpView {
  readonly expectedType = Icmpv6Type.Redirect;
  readonly fixedLen = REDIRECT_LEN;
  static parse(bytes: Uint8Array, off: number, len: number): RedirectView | ParseError {
    const v = new RedirectView();
    return v.parseFrom(bytes, off, len) ?? v;
  }
  protected override check(): ParseError | null {
    const b = this.bytes;
    const t = this.off + OFF_TARGET;
    const d = this.off + OFF_DESTINATION;
    // RFC 4861 8.1: the destination is not multicast; the target is link-local or the destination.
    if (isMulticast(b, d)) return E_DEST_MULTICAST;
    if (isLinkLocal(b, t)) return null;
    for (let i = 0; i < 16; i++) if (b[t + i] !== b[d + i]) return E_REDIRECT_TARGET;
    return null;
  }
  /** The better first hop (borrowed). */
  get target(): Ipv6Addr {
    return v6At(this.bytes, this.off + OFF_TARGET);
  }
  /** The destination being redirected (borrowed). */
  get destination(): Ipv6Addr {
    return v6At(this.bytes, this.off + OFF_DESTINATION);
  }
}

/** Any NDP message view. */
export type AnyNdpView =
  | RouterSolicitationView
  | RouterAdvertisementView
  | NeighborSolicitationView
  | NeighborAdvertisementView
  | RedirectView;

/** Parse an NDP message by its type; `bad-type` for ICMPv6 types that are not NDP. */
export function parseNdp(bytes: Uint8Array, off: number, len: number): AnyNdpView | ParseError {
  if (off < 0 || len < 1 || off + len > bytes.length) return E_SHORT;
  switch (bytes[off]) {
    case Icmpv6Type.RouterSolicitation:
      return RouterSolicitationView.parse(bytes, off, len);
    case Icmpv6Type.RouterAdvertisement:
      return RouterAdvertisementView.parse(bytes, off, len);
    case Icmpv6Type.NeighborSolicitation:
      return NeighborSolicitationView.parse(bytes, off, len);
    case Icmpv6Type.NeighborAdvertisement:
      return NeighborAdvertisementView.parse(bytes, off, len);
    case Icmpv6Type.Redirect:
      return RedirectView.parse(bytes, off, len);
    default:
      return E_TYPE;
  }
}

// ---- building ----

/** Largest option: the length byte counts 8-byte units. */
const MAX_OPTION_LEN = 255 * 8;

function optLen(contentLen: number): number {
  return Math.min((contentLen + 7) & ~7, MAX_OPTION_LEN);
}

/** An option to write: its length (a multiple of 8) and a writer for every one of its bytes. */
export interface NdpOptionWriter {
  readonly length: number;
  write(b: Uint8Array, off: number): void;
}

/** Write the type and length bytes and `content` after them, zero padding to `len`. */
function writeRawOption(b: Uint8Array, off: number, type: number, len: number, content: Uint8Array, at = 2): void {
  b[off] = type;
  b[off + 1] = len / 8;
  b.fill(0, off + 2, off + at);
  const n = Math.min(content.length, len - at);
  b.set(n === content.length ? content : content.subarray(0, n), off + at);
  b.fill(0, off + at + n, off + len);
}

/** Source (1) or target (2) link-layer address option (RFC 4861 4.6.1). */
export class LinkAddrOption implements NdpOptionWriter {
  constructor(
    public type: number,
    public addr: Uint8Array,
  ) {}
  get length(): number {
    return optLen(2 + this.addr.length);
  }
  write(b: Uint8Array, off: number): void {
    writeRawOption(b, off, this.type, this.length, this.addr);
  }
}

/** Prefix information option (RFC 4861 4.6.2). */
export class PrefixInfoOption implements NdpOptionWriter {
  readonly length = 32;
  constructor(
    public prefixLength: number,
    public onLink: boolean,
    public autonomous: boolean,
    public validLifetime: number,
    public preferredLifetime: number,
    public prefix: Uint8Array,
    /** Flag bits other than L and A (0x3f), normally zero. */
    public otherFlags = 0,
  ) {}
  write(b: Uint8Array, off: number): void {
    b[off] = NdpOptionType.PrefixInformation;
    b[off + 1] = 4;
    b[off + PI_PREFIX_LEN] = this.prefixLength;
    b[off + PI_FLAGS] =
      (this.onLink ? PI_ON_LINK : 0) | (this.autonomous ? PI_AUTONOMOUS : 0) | (this.otherFlags & 0x3f);
    put32(b, off + PI_VALID, this.validLifetime);
    put32(b, off + PI_PREFERRED, this.preferredLifetime);
    put32(b, off + 12, 0); // Reserved2
    b.set(this.prefix.subarray(0, 16), off + PI_PREFIX);
  }
}

/** MTU option (RFC 4861 4.6.4). */
export class MtuOption implements NdpOptionWriter {
  readonly length = 8;
  constructor(public mtu: number) {}
  write(b: Uint8Array, off: number): void {
    b[off] = NdpOptionType.Mtu;
    b[off + 1] = 1;
    b[off + 2] = 0;
    b[off + 3] = 0;
    put32(b, off + MTU_VALUE, this.mtu);
  }
}

/**
 * Redirected header option (RFC 4861 4.6.3): as much of the redirected packet as fits without the
 * redirect exceeding the minimum MTU (the caller cuts `packet`); zero-padded to 8 bytes.
 */
export class RedirectedHeaderOption implements NdpOptionWriter {
  constructor(public packet: Uint8Array) {}
  get length(): number {
    return optLen(RH_PACKET + this.packet.length);
  }
  write(b: Uint8Array, off: number): void {
    writeRawOption(b, off, NdpOptionType.RedirectedHeader, this.length, this.packet, RH_PACKET);
  }
}

/** Any option given as its type and the bytes after its type and length bytes (zero-padded). */
export class RawNdpOption implements NdpOptionWriter {
  constructor(
    public type: number,
    public data: Uint8Array,
  ) {}
  get length(): number {
    return optLen(2 + this.data.length);
  }
  write(b: Uint8Array, off: number): void {
    writeRawOption(b, off, this.type, this.length, this.data);
  }
}

/**
 * The part every NDP builder shares: the options, written after the fixed part, and the ICMPv6
 * checksum with `src` and `dst`. The message is all header: serialize it around an empty body.
 */
export abstract class NdpBuilder implements PacketBuilder {
  readonly footerLen = 0;
  readonly minBodyLen = 0;
  readonly maxBodyLen: number = 0;
  abstract readonly fixedLen: number;

  constructor(
    public src: Uint8Array,
    public dst: Uint8Array,
    public options: NdpOptionWriter[] = [],
  ) {}

  get headerLen(): number {
    let n = this.fixedLen;
    for (let i = 0; i < this.options.length; i++) n += this.options[i].length;
    return n;
  }

  /** Write bytes 0..fixedLen except the checksum (bytes 2, 3). */
  protected abstract writeFixed(b: Uint8Array, off: number): void;

  serialize(b: Uint8Array, off: number, bodyLen: number): void {
    this.writeFixed(b, off);
    let p = off + this.fixedLen;
    for (let i = 0; i < this.options.length; i++) {
      const o = this.options[i];
      o.write(b, p);
      p += o.length;
    }
    writeIcmpv6Checksum(b, off, p - off + bodyLen, this.src, this.dst);
  }
}

function writeTypeCode(b: Uint8Array, off: number, type: number, zeroTo: number): void {
  b[off] = type;
  b[off + 1] = 0;
  b.fill(0, off + 2, off + zeroTo);
}

/** Router Solicitation (RFC 4861 4.1). */
export class RouterSolicitationBuilder extends NdpBuilder {
  readonly fixedLen = RS_LEN;
  protected writeFixed(b: Uint8Array, off: number): void {
    writeTypeCode(b, off, Icmpv6Type.RouterSolicitation, RS_LEN);
  }
}

/** Router advertisement fields. */
export interface RouterAdvertisementFields {
  curHopLimit: number;
  managed: boolean;
  other: boolean;
  /** Flag bits other than M and O (RFC 4191 preference 0x18, ...), normally zero. */
  otherFlags: number;
  routerLifetime: number;
  reachableTime: number;
  retransTimer: number;
}

/** Router Advertisement (RFC 4861 4.2). */
export class RouterAdvertisementBuilder extends NdpBuilder implements RouterAdvertisementFields {
  readonly fixedLen = RA_LEN;
  curHopLimit = 0;
  managed = false;
  other = false;
  otherFlags = 0;
  routerLifetime = 0;
  reachableTime = 0;
  retransTimer = 0;
  constructor(
    src: Uint8Array,
    dst: Uint8Array,
    fields: Partial<RouterAdvertisementFields> = {},
    options: NdpOptionWriter[] = [],
  ) {
    super(src, dst, options);
    Object.assign(this, fields);
  }
  protected writeFixed(b: Uint8Array, off: number): void {
    writeTypeCode(b, off, Icmpv6Type.RouterAdvertisement, 4);
    b[off + OFF_CUR_HOP] = this.curHopLimit;
    b[off + OFF_RA_FLAGS] = (this.managed ? RA_MANAGED : 0) | (this.other ? RA_OTHER : 0) | (this.otherFlags & 0x3f);
    b[off + OFF_ROUTER_LIFETIME] = (this.routerLifetime >> 8) & 0xff;
    b[off + OFF_ROUTER_LIFETIME + 1] = this.routerLifetime & 0xff;
    put32(b, off + OFF_REACHABLE, this.reachableTime);
    put32(b, off + OFF_RETRANS, this.retransTimer);
  }
}

/** Neighbor Solicitation (RFC 4861 4.3). */
export class NeighborSolicitationBuilder extends NdpBuilder {
  readonly fixedLen = NS_LEN;
  constructor(
    src: Uint8Array,
    dst: Uint8Array,
    public target: Uint8Array,
    options: NdpOptionWriter[] = [],
  ) {
    super(src, dst, options);
  }
  protected writeFixed(b: Uint8Array, off: number): void {
    writeTypeCode(b, off, Icmpv6Type.NeighborSolicitation, OFF_TARGET);
    b.set(this.target.subarray(0, 16), off + OFF_TARGET);
  }
}

/** Neighbor advertisement flags. */
export interface NeighborAdvertisementFlags {
  router: boolean;
  solicited: boolean;
  override: boolean;
}

/** Neighbor Advertisement (RFC 4861 4.4). */
export class NeighborAdvertisementBuilder extends NdpBuilder implements NeighborAdvertisementFlags {
  readonly fixedLen = NA_LEN;
  router: boolean;
  solicited: boolean;
  override: boolean;
  constructor(
    src: Uint8Array,
    dst: Uint8Array,
    public target: Uint8Array,
    flags: Partial<NeighborAdvertisementFlags> = {},
    options: NdpOptionWriter[] = [],
  ) {
    super(src, dst, options);
    this.router = flags.router ?? false;
    this.solicited = flags.solicited ?? false;
    this.override = flags.override ?? false;
  }
  protected writeFixed(b: Uint8Array, off: number): void {
    writeTypeCode(b, off, Icmpv6Type.NeighborAdvertisement, OFF_TARGET);
    b[off + OFF_NA_FLAGS] =
      (this.router ? NA_ROUTER : 0) | (this.solicited ? NA_SOLICITED : 0) | (this.override ? NA_OVERRIDE : 0);
    b.set(this.target.subarray(0, 16), off + OFF_TARGET);
  }
}

/** Redirect (RFC 4861 4.5). */
export class RedirectBuilder extends NdpBuilder {
  readonly fixedLen = REDIRECT_LEN;
  constructor(
    src: Uint8Array,
    dst: Uint8Array,
    public target: Uint8Array,
    public destination: Uint8Array,
    options: NdpOptionWriter[] = [],
  ) {
    super(src, dst, options);
  }
  protected writeFixed(b: Uint8Array, off: number): void {
    writeTypeCode(b, off, Icmpv6Type.Redirect, OFF_TARGET);
    b.set(this.target.subarray(0, 16), off + OFF_TARGET);
    b.set(this.destination.subarray(0, 16), off + OFF_DESTINATION);
  }
}

// ---- reprs ----

/** The readable form of an option: typed fields for the known ones, `data` (hex) for the others. */
export interface NdpOptionRepr {
  type: number;
  /** Link-layer address options. */
  mac?: string;
  /** Prefix information. */
  prefixLength?: number;
  onLink?: boolean;
  autonomous?: boolean;
  otherFlags?: number;
  validLifetime?: number;
  preferredLifetime?: number;
  prefix?: string;
  /** MTU. */
  mtu?: number;
  /** Redirected header: the quoted packet (hex). */
  packet?: string;
  /** Other options: the bytes after type and length (hex). */
  data?: string;
}

/** The readable form of an NDP message. */
export interface NdpRepr {
  type: number;
  curHopLimit?: number;
  managed?: boolean;
  other?: boolean;
  otherFlags?: number;
  routerLifetime?: number;
  reachableTime?: number;
  retransTimer?: number;
  router?: boolean;
  solicited?: boolean;
  override?: boolean;
  target?: string;
  destination?: string;
  options: NdpOptionRepr[];
}

function hex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
  return s;
}

function unhex(s: string): Uint8Array {
  const out = new Uint8Array(s.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function optionRepr(c: NdpOptionCursor): NdpOptionRepr {
  const t = c.type;
  if (c.known) {
    if (t === NdpOptionType.SourceLinkAddr || t === NdpOptionType.TargetLinkAddr) {
      return { type: t, mac: formatMac(c.linkAddr as MacAddr) };
    }
    if (t === NdpOptionType.PrefixInformation) {
      return {
        type: t,
        prefixLength: c.prefixLength,
        onLink: c.onLink,
        autonomous: c.autonomous,
        otherFlags: c.prefixFlags & 0x3f,
        validLifetime: c.validLifetime,
        preferredLifetime: c.preferredLifetime,
        prefix: formatV6(c.prefix as Ipv6Addr),
      };
    }
    if (t === NdpOptionType.Mtu) return { type: t, mtu: c.mtu };
    if (t === NdpOptionType.RedirectedHeader) return { type: t, packet: hex(c.redirected() as Uint8Array) };
  }
  return { type: t, data: hex(c.data()) };
}

/** The repr of a parsed NDP message. */
export function toRepr(v: AnyNdpView): NdpRepr {
  const options: NdpOptionRepr[] = [];
  const c = v.options();
  while (c.next()) options.push(optionRepr(c));
  const r: NdpRepr = { type: v.type, options };
  if (v instanceof RouterAdvertisementView) {
    r.curHopLimit = v.curHopLimit;
    r.managed = v.managed;
    r.other = v.other;
    r.otherFlags = v.flags & 0x3f;
    r.routerLifetime = v.routerLifetime;
    r.reachableTime = v.reachableTime;
    r.retransTimer = v.retransTimer;
  } else if (v instanceof NeighborSolicitationView) {
    r.target = formatV6(v.target);
  } else if (v instanceof NeighborAdvertisementView) {
    r.router = v.router;
    r.solicited = v.solicited;
    r.override = v.override;
    r.target = formatV6(v.target);
  } else if (v instanceof RedirectView) {
    r.target = formatV6(v.target);
    r.destination = formatV6(v.destination);
  }
  return r;
}

function addr(text: string | undefined): Ipv6Addr {
  return (text !== undefined ? parseV6(text) : null) ?? v6Zero();
}

function optionFromRepr(o: NdpOptionRepr): NdpOptionWriter {
  if (o.data !== undefined) return new RawNdpOption(o.type, unhex(o.data));
  if (o.mac !== undefined) return new LinkAddrOption(o.type, parseMac(o.mac) ?? new Uint8Array(6));
  if (o.mtu !== undefined) return new MtuOption(o.mtu);
  if (o.packet !== undefined) return new RedirectedHeaderOption(unhex(o.packet));
  return new PrefixInfoOption(
    o.prefixLength ?? 0,
    o.onLink ?? false,
    o.autonomous ?? false,
    o.validLifetime ?? 0,
    o.preferredLifetime ?? 0,
    addr(o.prefix),
    o.otherFlags ?? 0,
  );
}

/** A builder that re-serializes `r` from `src` to `dst`; null for a type that is not NDP. */
export function builderFromRepr(r: NdpRepr, src: Uint8Array, dst: Uint8Array): NdpBuilder | null {
  const options = r.options.map(optionFromRepr);
  switch (r.type) {
    case Icmpv6Type.RouterSolicitation:
      return new RouterSolicitationBuilder(src, dst, options);
    case Icmpv6Type.RouterAdvertisement:
      return new RouterAdvertisementBuilder(
        src,
        dst,
        {
          curHopLimit: r.curHopLimit ?? 0,
          managed: r.managed ?? false,
          other: r.other ?? false,
          otherFlags: r.otherFlags ?? 0,
          routerLifetime: r.routerLifetime ?? 0,
          reachableTime: r.reachableTime ?? 0,
          retransTimer: r.retransTimer ?? 0,
        },
        options,
      );
    case Icmpv6Type.NeighborSolicitation:
      return new NeighborSolicitationBuilder(src, dst, addr(r.target), options);
    case Icmpv6Type.NeighborAdvertisement:
      return new NeighborAdvertisementBuilder(
        src,
        dst,
        addr(r.target),
        { router: r.router ?? false, solicited: r.solicited ?? false, override: r.override ?? false },
        options,
      );
    case Icmpv6Type.Redirect:
      return new RedirectBuilder(src, dst, addr(r.target), addr(r.destination), options);
    default:
      return null;
  }
}
