/**
 * IPv6 extension headers: RFC 8200 section 4 (hop-by-hop and destination options, routing,
 * fragment), RFC 5095 (routing type 0 deprecated), RFC 2711 (router alert option), RFC 7112
 * (the first fragment carries the whole header chain), RFC 4443 section 3.4 (parameter problem
 * codes and pointers).
 *
 * `walkExtChain` walks the chain after the fixed header with bounds: every header must fit in the
 * payload, at most `IPV6_MAX_EXT_HEADERS` headers are followed, and the RFC 8200 processing rules
 * are applied. It allocates nothing on success; its results land in an `Ipv6ExtChainOut` (the
 * `Ipv6View` itself). Errors are `Ipv6ParseError`s carrying the ICMPv6 parameter problem to send,
 * if any; those with a per-packet pointer are allocated, the others are module constants.
 */
import { ParseError } from "./errors.ts";
import { IpProto } from "./ipproto.ts";

/** Most extension headers followed before the packet is dropped (a bound on hostile chains). */
export const IPV6_MAX_EXT_HEADERS = 16;
/** Length of the fragment header (RFC 8200 4.5). */
export const IPV6_FRAG_HEADER_LEN = 8;

const FIXED_LEN = 40;
const NEXT_HEADER_FIELD = 6;
const PAYLOAD_LEN_FIELD = 4;

/** Option types of hop-by-hop and destination options headers (IANA "Destination Options and Hop-by-Hop Options"). */
export const Ipv6OptionType = {
  Pad1: 0,
  PadN: 1,
  RouterAlert: 5,
  Jumbo: 0xc2,
} as const;

/** RFC 8200 4.2: what the two high bits of an unrecognized option's type ask for. */
export const Ipv6OptionAction = {
  Skip: 0,
  Discard: 1,
  DiscardIcmp: 2,
  DiscardIcmpNotMulticast: 3,
} as const;

/** The ICMPv6 error a rejected packet asks for (RFC 4443 3.4 parameter problem). */
export interface Ipv6IcmpError {
  /** ICMPv6 type: 4 (parameter problem). */
  readonly type: number;
  /** 0 erroneous header field, 1 unrecognized next header, 2 unrecognized option, 3 incomplete chain. */
  readonly code: number;
  /** Offset from the start of the IPv6 header of the byte in error. */
  readonly pointer: number;
  /**
   * True when the error is sent even if the packet's destination was multicast: only an
   * unrecognized option whose type's high bits are 10 (RFC 8200 4.2, RFC 4443 2.4 (e.3)).
   */
  readonly multicastOk: boolean;
}

/** An IPv6 parse error; `icmp` says which parameter problem to answer with (null: drop silently). */
export class Ipv6ParseError extends ParseError {
  constructor(
    reason: string,
    readonly icmp: Ipv6IcmpError | null,
  ) {
    super("ipv6", reason);
  }
}

/** Parameter problem codes (RFC 4443 3.4, RFC 7112). */
const PP_FIELD = 0;
const PP_NEXT_HEADER = 1;
const PP_OPTION = 2;
const PP_INCOMPLETE_CHAIN = 3;
const PARAM_PROBLEM = 4;

function paramProblem(reason: string, code: number, pointer: number, multicastOk = false): Ipv6ParseError {
  return new Ipv6ParseError(reason, { type: PARAM_PROBLEM, code, pointer, multicastOk });
}

const E_EXT_SHORT = new Ipv6ParseError("ext-too-short", null);
const E_TOO_MANY = new Ipv6ParseError("too-many-ext-headers", null);
const E_BAD_OPTION = new Ipv6ParseError("bad-option-length", null);
const E_OPT_DISCARD = new Ipv6ParseError("unrecognized-option", null);
const E_FRAG_DUP = new Ipv6ParseError("duplicate-fragment-header", null);
// RFC 7112 / RFC 8200 4.5: a first fragment without the whole chain: code 3, pointer zero.
const E_FIRST_FRAG_INCOMPLETE = paramProblem("first-fragment-incomplete-chain", PP_INCOMPLETE_CHAIN, 0);
// RFC 8200 4.5: M set but the fragment is not a multiple of 8 bytes: code 0 at Payload Length.
const E_FRAG_LEN = paramProblem("fragment-length-not-multiple-of-8", PP_FIELD, PAYLOAD_LEN_FIELD);

/** Where `walkExtChain` writes its results (offsets are absolute indexes into the bytes). */
export interface Ipv6ExtChainOut {
  /** Upper-layer protocol after the chain (59: no next header; unknown values pass through). */
  proto: number;
  /** Offset of the upper-layer header (for a non-first fragment: of the fragment data). */
  upperOff: number;
  /** Offset, from the IPv6 header, of the Next Header field that named `proto` (for parameter problem code 1). */
  protoPointer: number;
  /** Extension headers walked. */
  extCount: number;
  /** A fragment header was found. */
  hasFrag: boolean;
  /** Fragment identification (0 when none). */
  fragId: number;
  /** Fragment offset in bytes (0 when none). */
  fragOffset: number;
  /** The M flag (false when none). */
  moreFragments: boolean;
  /** Offset of the fragment header, -1 when none. The unfragmentable part is everything before it. */
  fragHeaderOff: number;
  /** Offset of the Next Header field that holds 44 (rewritten after reassembly), -1 when none. */
  fragNextFieldOff: number;
  /** Offset of the fragmentable part (just after the fragment header), -1 when none. */
  fragmentableOff: number;
  /** Value of the hop-by-hop router alert option (RFC 2711), -1 when absent. */
  routerAlert: number;
}

/** Reset every field of a chain result to "no extension headers". */
export function resetExtChain(out: Ipv6ExtChainOut): void {
  out.proto = IpProto.Ipv6NoNext;
  out.upperOff = 0;
  out.protoPointer = NEXT_HEADER_FIELD;
  out.extCount = 0;
  out.hasFrag = false;
  out.fragId = 0;
  out.fragOffset = 0;
  out.moreFragments = false;
  out.fragHeaderOff = -1;
  out.fragNextFieldOff = -1;
  out.fragmentableOff = -1;
  out.routerAlert = -1;
}

/**
 * Walk the TLV options of a hop-by-hop or destination options header, `b[start, end)`. `ipOff` is
 * the IPv6 header's offset (pointers are relative to it). Returns null when the packet may go on.
 * With `hostRules` false (a decoder looking at a packet in transit) the action bits of unrecognized
 * options are not applied; the TLV structure is still checked.
 */
export function walkOptions(
  b: Uint8Array,
  start: number,
  end: number,
  ipOff: number,
  hopByHop: boolean,
  out: Ipv6ExtChainOut,
  hostRules = true,
): Ipv6ParseError | null {
  let i = start;
  while (i < end) {
    const t = b[i];
    // RFC 8200 4.2: Pad1 is a single byte with no length field.
    if (t === Ipv6OptionType.Pad1) {
      i++;
      continue;
    }
    if (i + 2 > end) return E_BAD_OPTION;
    const l = b[i + 1];
    if (i + 2 + l > end) return E_BAD_OPTION;
    if (t === Ipv6OptionType.PadN) {
      // Known: skip.
    } else if (t === Ipv6OptionType.RouterAlert && l === 2) {
      // RFC 2711: meaningful in the hop-by-hop header only; elsewhere its action bits (00) say skip.
      if (hopByHop) out.routerAlert = (b[i + 2] << 8) | b[i + 3];
    } else if (hostRules) {
      // RFC 8200 4.2: the two high bits of an unrecognized option type say what to do.
      switch (t >> 6) {
        case Ipv6OptionAction.Skip:
          break;
        case Ipv6OptionAction.Discard:
          return E_OPT_DISCARD;
        case Ipv6OptionAction.DiscardIcmp:
          return paramProblem("unrecognized-option", PP_OPTION, i - ipOff, true);
        default:
          return paramProblem("unrecognized-option", PP_OPTION, i - ipOff, false);
      }
    }
    i += 2 + l;
  }
  return null;
}

/**
 * What every node does before it knows whether a packet is its own (RFC 8200 4: extension headers
 * other than Hop-by-Hop are examined only by the node the destination address names): when the
 * fixed header's Next Header is 0, check that the Hop-by-Hop header fits and walk its options
 * (RFC 8200 4.3, with the action bits of unrecognized options applied, as Linux's ip6_rcv_core
 * does on the way). `out` is reset; only `routerAlert` is learned here. `walkExtChain` walks the
 * whole chain (the Hop-by-Hop header again) once the packet is known to be ours.
 */
export function walkHopByHop(b: Uint8Array, ipOff: number, end: number, out: Ipv6ExtChainOut): Ipv6ParseError | null {
  resetExtChain(out);
  if (b[ipOff + NEXT_HEADER_FIELD] !== IpProto.HopByHop) return null;
  const pos = ipOff + FIXED_LEN;
  if (pos + 2 > end) return E_EXT_SHORT;
  const hlen = (b[pos + 1] + 1) * 8;
  if (pos + hlen > end) return E_EXT_SHORT;
  return walkOptions(b, pos + 2, pos + hlen, ipOff, true, out);
}

/**
 * Walk the extension header chain of the IPv6 packet at `b[ipOff]` whose payload ends at `end`.
 * Hop-by-hop, routing, fragment and destination options headers are followed; anything else ends
 * the chain and becomes `proto` (an unknown value is the upper layer's to reject with parameter
 * problem code 1, using `protoPointer`). A non-first fragment ends the chain at its fragment header.
 * `hostRules` false skips the two rules only a destination applies (routing header with Segments
 * Left, unrecognized option actions), for decoding packets in transit; all bounds still hold.
 */
export function walkExtChain(
  b: Uint8Array,
  ipOff: number,
  end: number,
  out: Ipv6ExtChainOut,
  maxExt = IPV6_MAX_EXT_HEADERS,
  hostRules = true,
): Ipv6ParseError | null {
  resetExtChain(out);
  let pos = ipOff + FIXED_LEN;
  let nextField = ipOff + NEXT_HEADER_FIELD;
  let next = b[nextField];
  let count = 0;
  for (;;) {
    if (
      next !== IpProto.HopByHop &&
      next !== IpProto.Ipv6Opts &&
      next !== IpProto.Ipv6Route &&
      next !== IpProto.Ipv6Frag
    ) {
      break;
    }
    if (count >= maxExt) return E_TOO_MANY;
    // RFC 8200 4.1: hop-by-hop options may only follow the fixed header; elsewhere it is an
    // unrecognized next header (parameter problem code 1 pointing at the Next Header field).
    if (next === IpProto.HopByHop && count > 0) {
      return paramProblem("hop-by-hop-not-first", PP_NEXT_HEADER, nextField - ipOff);
    }
    let hlen: number;
    if (next === IpProto.Ipv6Frag) {
      hlen = IPV6_FRAG_HEADER_LEN;
      if (pos + hlen > end) return chainShort(out);
      if (out.hasFrag) return E_FRAG_DUP;
      out.hasFrag = true;
      out.fragOffset = ((b[pos + 2] << 8) | b[pos + 3]) & 0xfff8;
      out.moreFragments = (b[pos + 3] & 1) === 1;
      out.fragId = ((b[pos + 4] << 24) | (b[pos + 5] << 16) | (b[pos + 6] << 8) | b[pos + 7]) >>> 0;
      out.fragHeaderOff = pos;
      out.fragNextFieldOff = nextField;
      out.fragmentableOff = pos + hlen;
    } else {
      if (pos + 2 > end) return chainShort(out);
      hlen = (b[pos + 1] + 1) * 8;
      if (pos + hlen > end) return chainShort(out);
      if (next === IpProto.Ipv6Route) {
        // RFC 8200 4.4 and RFC 5095: no routing type is supported (type 0 is deprecated); with
        // Segments Left non-zero the packet is dropped with code 0 pointing at the Routing Type.
        // With Segments Left zero the header is ignored.
        if (hostRules && b[pos + 3] !== 0) {
          return paramProblem("routing-header-segments-left", PP_FIELD, pos + 2 - ipOff);
        }
      } else {
        const e = walkOptions(b, pos + 2, pos + hlen, ipOff, next === IpProto.HopByHop, out, hostRules);
        if (e !== null) return e;
      }
    }
    count++;
    nextField = pos;
    next = b[pos];
    pos += hlen;
    // A non-first fragment: what follows the fragment header is fragment data, not headers.
    if (out.fragHeaderOff === nextField && out.fragOffset !== 0) break;
  }
  out.proto = next;
  out.upperOff = pos;
  out.protoPointer = nextField - ipOff;
  out.extCount = count;
  if (out.hasFrag) {
    const dataLen = end - out.fragmentableOff;
    // RFC 8200 4.5: a fragment with M set must carry a multiple of 8 bytes.
    if (out.moreFragments && (dataLen & 7) !== 0) return E_FRAG_LEN;
    // RFC 8200 4.5: offset plus length beyond 65535: code 0 pointing at the Fragment Offset.
    if (out.fragOffset + dataLen > 0xffff) {
      return paramProblem("fragment-beyond-65535", PP_FIELD, out.fragHeaderOff + 2 - ipOff);
    }
  }
  return null;
}

/** A chain that runs past the payload: a plain drop, or code 3 for a first fragment (RFC 7112). */
function chainShort(out: Ipv6ExtChainOut): Ipv6ParseError {
  return out.hasFrag && out.fragOffset === 0 ? E_FIRST_FRAG_INCOMPLETE : E_EXT_SHORT;
}

// ---- building ----

/**
 * An extension header to write: its type (the Next Header value naming it) and the bytes after
 * its first two (Next Header and Hdr Ext Len). For hop-by-hop and destination options the data is
 * zero-padded to the 8-byte boundary (zero bytes are Pad1 options); for a fragment header (44) the
 * data is its last 6 bytes (offset, flags, identification) and the reserved byte is written zero.
 */
export interface Ipv6ExtHeader {
  type: number;
  data: Uint8Array;
}

/** Fragment header fields for a builder. */
export interface Ipv6FragFields {
  /** Identification. */
  id: number;
  /** Fragment offset in bytes (a multiple of 8). */
  offset: number;
  /** The M flag: more fragments follow. */
  more: boolean;
}

/** Bytes an extension header occupies on the wire. */
export function extHeaderLen(h: Ipv6ExtHeader): number {
  if (h.type === IpProto.Ipv6Frag) return IPV6_FRAG_HEADER_LEN;
  return (2 + h.data.length + 7) & ~7;
}

/** Write `h` at `b[off]` with `next` as its Next Header; every byte of it is written. Returns its length. */
export function writeExtHeader(b: Uint8Array, off: number, h: Ipv6ExtHeader, next: number): number {
  const len = extHeaderLen(h);
  b[off] = next;
  // RFC 8200 4.5: the fragment header's second byte is reserved; elsewhere it is Hdr Ext Len.
  b[off + 1] = h.type === IpProto.Ipv6Frag ? 0 : len / 8 - 1;
  const n = Math.min(h.data.length, len - 2);
  b.set(n === h.data.length ? h.data : h.data.subarray(0, n), off + 2);
  b.fill(0, off + 2 + n, off + len);
  return len;
}

/** Write a fragment header at `b[off]` (RFC 8200 4.5; reserved bits zero). */
export function writeFragHeader(b: Uint8Array, off: number, next: number, f: Ipv6FragFields): void {
  b[off] = next;
  b[off + 1] = 0;
  const w = (f.offset & 0xfff8) | (f.more ? 1 : 0);
  b[off + 2] = w >>> 8;
  b[off + 3] = w & 0xff;
  b[off + 4] = f.id >>> 24;
  b[off + 5] = (f.id >>> 16) & 0xff;
  b[off + 6] = (f.id >>> 8) & 0xff;
  b[off + 7] = f.id & 0xff;
}

/** A fragment header as an `Ipv6ExtHeader` (to place it anywhere in a builder's `exts`). */
export function fragExt(f: Ipv6FragFields): Ipv6ExtHeader {
  const b = new Uint8Array(8);
  writeFragHeader(b, 0, 0, f);
  return { type: IpProto.Ipv6Frag, data: b.subarray(2) };
}
