/**
 * DNS messages: RFC 1035 (header, questions, resource records, name compression, 4.1 and 4.1.4),
 * RFC 3596 (AAAA), RFC 2308 (the SOA of negative answers is an ordinary record here), RFC 6891
 * (the EDNS0 OPT pseudo-record, kept opaque: its class and TTL fields as numbers, its data as
 * bytes), RFC 2181 11 (label and name lengths).
 *
 * `DnsView.parse` checks the whole message once: the header, every question and every record of
 * the counts given, every name (compression pointers must point strictly before the name that
 * uses them, so following them always terminates; at most `MAX_POINTERS` of them per name; labels
 * of at most 63 bytes; names of at most 255 bytes; the 0x40/0x80 label types are refused) and the
 * data of the record types we read (A is 4 bytes, AAAA 16, CNAME/NS/PTR one name filling the data,
 * SOA two names and 20 bytes, MX 2 bytes and a name). Other types pass through as bytes. Bytes
 * after the last record are ignored. After a successful parse no cursor getter reads outside the
 * message. Parsing allocates nothing but the view; names become strings only when asked for.
 *
 * `DnsBuilder` writes a whole message (header, questions, records) with optional name compression
 * (RFC 1035 4.1.4), including names inside CNAME, NS, PTR, SOA and MX data.
 */
import { formatV4, formatV6, type Ipv4Addr, type Ipv6Addr, parseV4, parseV6, v4At, v6At } from "../ip/addr.ts";
import type { PacketBuilder } from "../packet/serialize.ts";
import { type ParseError, parseError } from "./errors.ts";

/** DNS over UDP and TCP (RFC 1035 4.2). */
export const DNS_PORT = 53;
/** The header length (RFC 1035 4.1.1). */
export const DNS_HEADER_LEN = 12;
/** The largest UDP message without EDNS0 (RFC 1035 2.3.4). */
export const DNS_UDP_MAX = 512;
/** Longest name in wire form (RFC 1035 2.3.4). */
export const DNS_MAX_NAME = 255;
/** Longest label (RFC 1035 2.3.4). */
export const DNS_MAX_LABEL = 63;
/** Compression pointers followed per name, at most (a bound on work per name; real names use one or two). */
export const MAX_POINTERS = 32;

/** Resource record types (RFC 1035 3.2.2, RFC 3596, RFC 6891). An open set. */
export const DnsType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  ANY: 255,
} as const;

/** Classes (RFC 1035 3.2.4). */
export const DnsClass = { IN: 1, CH: 3, ANY: 255 } as const;

/** Response codes (RFC 1035 4.1.1). */
export const DnsRcode = { NoError: 0, FormErr: 1, ServFail: 2, NXDomain: 3, NotImp: 4, Refused: 5 } as const;

/** Header flag bits (RFC 1035 4.1.1; AD and CD from RFC 4035 3.2). */
export const DnsFlag = {
  QR: 0x8000,
  AA: 0x0400,
  TC: 0x0200,
  RD: 0x0100,
  RA: 0x0080,
  AD: 0x0020,
  CD: 0x0010,
} as const;

/** Message sections, in wire order. */
export const DnsSection = { Question: 0, Answer: 1, Authority: 2, Additional: 3 } as const;

const ID = 0;
const FLAGS = 2;
const QDCOUNT = 4;
const ANCOUNT = 6;
const NSCOUNT = 8;
const ARCOUNT = 10;

const E_SHORT = parseError("dns", "too-short");
const E_NAME = parseError("dns", "bad-name");
const E_POINTER = parseError("dns", "bad-pointer");
const E_RDATA = parseError("dns", "bad-rdata");
const E_TRUNCATED = parseError("dns", "truncated-record");

const EMPTY = new Uint8Array(0);

function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}
function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}
function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}
function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/**
 * Validate the name at `p` of the message `b[start, end)` and return the offset just after it
 * where it is written (after its first pointer, if any), or -1 (malformed) / -2 (bad pointer).
 */
export function skipName(b: Uint8Array, start: number, end: number, p: number): number {
  let after = -1;
  let total = 0;
  let pointers = 0;
  // Pointers must go strictly before the start of the label run they end (RFC 1035 4.1.4 points
  // at "a prior occurrence"), which makes every chain finite.
  let runStart = p;
  for (;;) {
    if (p >= end) return -1;
    const l = b[p];
    if (l === 0) {
      total += 1;
      if (total > DNS_MAX_NAME) return -1;
      return after >= 0 ? after : p + 1;
    }
    const kind = l & 0xc0;
    if (kind === 0xc0) {
      if (p + 2 > end) return -1;
      const target = start + (((l & 0x3f) << 8) | b[p + 1]);
      if (after < 0) after = p + 2;
      if (++pointers > MAX_POINTERS || target >= runStart) return -2;
      p = target;
      runStart = target;
      continue;
    }
    // RFC 6891 5 retired the extended label type 0x40; 0x80 is reserved.
    if (kind !== 0) return -1;
    total += l + 1;
    if (total > DNS_MAX_NAME || p + 1 + l > end) return -1;
    p += 1 + l;
  }
}

const LOWER = (c: number): number => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c);

/**
 * Compare the (already validated) name at `p` of the message `b[start, ...)` with `wire`, an
 * uncompressed name in wire form, ignoring ASCII case (RFC 4343). Allocates nothing.
 */
export function nameEquals(b: Uint8Array, start: number, p: number, wire: Uint8Array): boolean {
  let w = 0;
  for (let guard = 0; guard <= MAX_POINTERS + DNS_MAX_NAME; guard++) {
    const l = b[p];
    if ((l & 0xc0) === 0xc0) {
      p = start + (((l & 0x3f) << 8) | b[p + 1]);
      continue;
    }
    if (w >= wire.length || wire[w] !== l) return false;
    if (l === 0) return w === wire.length - 1;
    for (let i = 1; i <= l; i++) if (LOWER(b[p + i]) !== LOWER(wire[w + i])) return false;
    p += l + 1;
    w += l + 1;
  }
  return false;
}

/** Presentation form of one label byte (RFC 1035 5.1: `\.`, `\\`, `\DDD` for others). */
function labelChar(c: number): string {
  if (c === 0x2e || c === 0x5c) return `\\${String.fromCharCode(c)}`;
  if (c > 0x20 && c < 0x7f) return String.fromCharCode(c);
  return `\\${c.toString().padStart(3, "0")}`;
}

/** The (already validated) name at `p` as text, without the final dot; the root is ".". */
export function readName(b: Uint8Array, start: number, p: number): string {
  let s = "";
  for (let guard = 0; guard <= MAX_POINTERS + DNS_MAX_NAME; guard++) {
    const l = b[p];
    if ((l & 0xc0) === 0xc0) {
      p = start + (((l & 0x3f) << 8) | b[p + 1]);
      continue;
    }
    if (l === 0) break;
    if (s !== "") s += ".";
    for (let i = 1; i <= l; i++) s += labelChar(b[p + i]);
    p += l + 1;
  }
  return s === "" ? "." : s;
}

/**
 * A name in text (dots between labels, an optional final dot, `\.` `\\` and `\DDD` escapes) in
 * uncompressed wire form; null when it is not a valid name (empty label, label over 63 bytes,
 * name over 255). "" and "." are the root. Characters above 0x7f are written as UTF-8.
 */
export function encodeName(name: string): Uint8Array | null {
  if (name === "." || name === "") return Uint8Array.of(0);
  const src = new TextEncoder().encode(name);
  const out = new Uint8Array(DNS_MAX_NAME);
  // `o`: where the current label's length byte goes; `len`: its length so far.
  let o = 0;
  let len = 0;
  let i = 0;
  while (i < src.length) {
    let c = src[i++];
    if (c === 0x2e) {
      // An empty label (leading dot, "..") is not a name; a final dot ends it.
      if (len === 0) return null;
      out[o] = len;
      o += len + 1;
      len = 0;
      continue;
    }
    if (c === 0x5c) {
      if (i >= src.length) return null;
      const d = src[i];
      if (d >= 0x30 && d <= 0x39) {
        if (i + 3 > src.length) return null;
        let v = 0;
        for (let k = 0; k < 3; k++) {
          const x = src[i + k];
          if (x < 0x30 || x > 0x39) return null;
          v = v * 10 + (x - 0x30);
        }
        if (v > 255) return null;
        c = v;
        i += 3;
      } else {
        c = d;
        i++;
      }
    }
    // RFC 1035 2.3.4: labels of 63 bytes, names of 255 with the length bytes and the root.
    if (len === DNS_MAX_LABEL || o + len + 3 > DNS_MAX_NAME) return null;
    out[o + 1 + len] = c;
    len++;
  }
  if (len > 0) {
    out[o] = len;
    o += len + 1;
  }
  out[o] = 0;
  return out.slice(0, o + 1);
}

/** Lower-case ASCII copy of a wire name (for keys). */
export function lowerWire(wire: Uint8Array): Uint8Array {
  return wire.map(LOWER);
}

/** A parsed DNS message. */
export class DnsView {
  bytes: Uint8Array = EMPTY;
  off = 0;
  /** The length given to the parser (bytes after the last record included). */
  len = 0;
  /** Offset just after the question section. */
  questionsEnd = 0;
  /** Offset just after the last record. */
  end = 0;

  /** Parse the message at `bytes[off, off + len)`. Allocates the view. */
  static parse(bytes: Uint8Array, off: number, len: number): DnsView | ParseError {
    const v = new DnsView();
    const e = v.parseFrom(bytes, off, len);
    return e === null ? v : e;
  }

  /** Re-point this view at a message and validate all of it. Returns null or the error; never throws. */
  parseFrom(bytes: Uint8Array, off: number, len: number): ParseError | null {
    if (off < 0 || len < DNS_HEADER_LEN || off + len > bytes.length) return E_SHORT;
    const end = off + len;
    let p = off + DNS_HEADER_LEN;
    const qd = u16(bytes, off + QDCOUNT);
    for (let i = 0; i < qd; i++) {
      const n = skipName(bytes, off, end, p);
      if (n < 0) return n === -2 ? E_POINTER : E_NAME;
      if (n + 4 > end) return E_TRUNCATED;
      p = n + 4;
    }
    const questionsEnd = p;
    const rrs = u16(bytes, off + ANCOUNT) + u16(bytes, off + NSCOUNT) + u16(bytes, off + ARCOUNT);
    for (let i = 0; i < rrs; i++) {
      const n = skipName(bytes, off, end, p);
      if (n < 0) return n === -2 ? E_POINTER : E_NAME;
      if (n + 10 > end) return E_TRUNCATED;
      const rdLen = u16(bytes, n + 8);
      const rd = n + 10;
      if (rd + rdLen > end) return E_TRUNCATED;
      const e = checkRdata(bytes, off, u16(bytes, n), rd, rdLen);
      if (e !== null) return e;
      p = rd + rdLen;
    }
    this.bytes = bytes;
    this.off = off;
    this.len = len;
    this.questionsEnd = questionsEnd;
    this.end = p;
    return null;
  }

  get id(): number {
    return u16(this.bytes, this.off + ID);
  }
  /** The 16 flag bits (QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE). */
  get flags(): number {
    return u16(this.bytes, this.off + FLAGS);
  }
  get qr(): boolean {
    return (this.flags & DnsFlag.QR) !== 0;
  }
  get opcode(): number {
    return (this.flags >>> 11) & 0xf;
  }
  get aa(): boolean {
    return (this.flags & DnsFlag.AA) !== 0;
  }
  get tc(): boolean {
    return (this.flags & DnsFlag.TC) !== 0;
  }
  get rd(): boolean {
    return (this.flags & DnsFlag.RD) !== 0;
  }
  get ra(): boolean {
    return (this.flags & DnsFlag.RA) !== 0;
  }
  get rcode(): number {
    return this.flags & 0xf;
  }
  get qdcount(): number {
    return u16(this.bytes, this.off + QDCOUNT);
  }
  get ancount(): number {
    return u16(this.bytes, this.off + ANCOUNT);
  }
  get nscount(): number {
    return u16(this.bytes, this.off + NSCOUNT);
  }
  get arcount(): number {
    return u16(this.bytes, this.off + ARCOUNT);
  }

  /** A cursor over the questions and then the records of every section. */
  records(cursor: DnsRecordCursor = new DnsRecordCursor()): DnsRecordCursor {
    return cursor.start(this);
  }
}

function checkRdata(b: Uint8Array, start: number, type: number, rd: number, len: number): ParseError | null {
  const rdEnd = rd + len;
  switch (type) {
    case DnsType.A:
      return len === 4 ? null : E_RDATA;
    case DnsType.AAAA:
      return len === 16 ? null : E_RDATA;
    case DnsType.CNAME:
    case DnsType.NS:
    case DnsType.PTR: {
      const n = skipName(b, start, rdEnd, rd);
      return n === rdEnd ? null : n === -2 ? E_POINTER : E_RDATA;
    }
    case DnsType.MX: {
      if (len < 3) return E_RDATA;
      const n = skipName(b, start, rdEnd, rd + 2);
      return n === rdEnd ? null : n === -2 ? E_POINTER : E_RDATA;
    }
    case DnsType.SOA: {
      const m = skipName(b, start, rdEnd, rd);
      if (m < 0) return m === -2 ? E_POINTER : E_RDATA;
      const r = skipName(b, start, rdEnd, m);
      if (r < 0) return r === -2 ? E_POINTER : E_RDATA;
      return r + 20 === rdEnd ? null : E_RDATA;
    }
    default:
      return null;
  }
}

/**
 * Walks the questions, then the answer, authority and additional records of a parsed message.
 * For questions `ttl`, `rdOff` and `rdLen` are 0.
 */
export class DnsRecordCursor {
  bytes: Uint8Array = EMPTY;
  /** Start of the message (compression pointers count from here). */
  msgOff = 0;
  /** `DnsSection` of the current entry. */
  section = 0;
  /** Index of the current entry in its section. */
  index = 0;
  nameOff = 0;
  type = 0;
  class = 0;
  ttl = 0;
  rdOff = 0;
  rdLen = 0;
  private pos = 0;
  private end = 0;
  private left = [0, 0, 0, 0];

  start(v: DnsView): this {
    this.bytes = v.bytes;
    this.msgOff = v.off;
    this.pos = v.off + DNS_HEADER_LEN;
    this.end = v.off + v.len;
    this.left[0] = v.qdcount;
    this.left[1] = v.ancount;
    this.left[2] = v.nscount;
    this.left[3] = v.arcount;
    this.section = 0;
    this.index = -1;
    return this;
  }

  /** Move to the next question or record; false at the end. */
  next(): boolean {
    while (this.section < 4 && this.left[this.section] === 0) {
      this.section++;
      this.index = -1;
    }
    if (this.section >= 4) return false;
    this.left[this.section]--;
    this.index++;
    const b = this.bytes;
    this.nameOff = this.pos;
    const n = skipName(b, this.msgOff, this.end, this.pos);
    this.type = u16(b, n);
    this.class = u16(b, n + 2);
    if (this.section === DnsSection.Question) {
      this.ttl = 0;
      this.rdOff = 0;
      this.rdLen = 0;
      this.pos = n + 4;
    } else {
      this.ttl = u32(b, n + 4);
      this.rdLen = u16(b, n + 8);
      this.rdOff = n + 10;
      this.pos = this.rdOff + this.rdLen;
    }
    return true;
  }

  /** The owner name as text. */
  name(): string {
    return readName(this.bytes, this.msgOff, this.nameOff);
  }
  /** True when the owner name equals the wire name `wire` (ASCII case ignored). */
  nameIs(wire: Uint8Array): boolean {
    return nameEquals(this.bytes, this.msgOff, this.nameOff, wire);
  }
  /** The record data (a subarray). */
  rdata(): Uint8Array {
    return this.bytes.subarray(this.rdOff, this.rdOff + this.rdLen);
  }
  /** An A record's address. */
  get a(): Ipv4Addr {
    return v4At(this.bytes, this.rdOff);
  }
  /** An AAAA record's address, borrowed. */
  get aaaa(): Ipv6Addr {
    return v6At(this.bytes, this.rdOff);
  }
  /** Offset of the name in CNAME, NS and PTR data (MX: the exchange). */
  get targetOff(): number {
    return this.type === DnsType.MX ? this.rdOff + 2 : this.rdOff;
  }
  /** The name in CNAME, NS, PTR or MX data, as text. */
  target(): string {
    return readName(this.bytes, this.msgOff, this.targetOff);
  }
  /** True when the name in CNAME/NS/PTR/MX data equals `wire`. */
  targetIs(wire: Uint8Array): boolean {
    return nameEquals(this.bytes, this.msgOff, this.targetOff, wire);
  }
  /** Offset of the five 32-bit numbers of SOA data (serial, refresh, retry, expire, minimum). */
  private get soaNumbers(): number {
    return this.rdOff + this.rdLen - 20;
  }
  /** SOA MINIMUM (RFC 2308 4: the negative-caching TTL bound). */
  get soaMinimum(): number {
    return u32(this.bytes, this.soaNumbers + 16);
  }
  /** SOA fields as text and numbers. */
  soa(): DnsSoa {
    const b = this.bytes;
    const r = skipName(b, this.msgOff, this.rdOff + this.rdLen, this.rdOff);
    const n = this.soaNumbers;
    return {
      mname: readName(b, this.msgOff, this.rdOff),
      rname: readName(b, this.msgOff, r),
      serial: u32(b, n),
      refresh: u32(b, n + 4),
      retry: u32(b, n + 8),
      expire: u32(b, n + 12),
      minimum: u32(b, n + 16),
    };
  }
}

/** SOA data (RFC 1035 3.3.13). */
export interface DnsSoa {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

// ---- building ----

/** A question to write. */
export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

/** Record data: raw bytes, a name (CNAME, NS, PTR), MX or SOA fields. */
export type DnsRdata = Uint8Array | { name: string } | { preference: number; exchange: string } | DnsSoa;

/** A resource record to write. */
export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: DnsRdata;
}

/** Record constructors. */
export const dnsRecord = {
  a(name: string, ttl: number, addr: Ipv4Addr): DnsRecord {
    const d = new Uint8Array(4);
    put32(d, 0, addr);
    return { name, type: DnsType.A, class: DnsClass.IN, ttl, data: d };
  },
  aaaa(name: string, ttl: number, addr: Uint8Array): DnsRecord {
    return { name, type: DnsType.AAAA, class: DnsClass.IN, ttl, data: addr.slice(0, 16) };
  },
  cname(name: string, ttl: number, target: string): DnsRecord {
    return { name, type: DnsType.CNAME, class: DnsClass.IN, ttl, data: { name: target } };
  },
  soa(name: string, ttl: number, soa: DnsSoa): DnsRecord {
    return { name, type: DnsType.SOA, class: DnsClass.IN, ttl, data: soa };
  },
  /** An EDNS0 OPT pseudo-record (RFC 6891 6.1.2): UDP payload size in the class field. */
  opt(udpPayload: number, extFlags = 0, options: Uint8Array = EMPTY): DnsRecord {
    return { name: ".", type: DnsType.OPT, class: udpPayload, ttl: extFlags, data: options };
  },
};

/** A name in text that is not a valid DNS name. */
export class DnsNameError extends RangeError {
  readonly code = "EBADNAME";
  constructor(name: string) {
    super(`invalid DNS name ${JSON.stringify(name)}`);
  }
}

/** Writes names, with or without compression; `out` null only measures. */
class NameWriter {
  private readonly dict = new Map<string, number>();
  constructor(
    private readonly compress: boolean,
    private readonly base: number,
  ) {}

  /** Write `name` at `out[p]` (or measure it); returns the offset after it. */
  write(out: Uint8Array | null, p: number, name: string): number {
    const wire = encodeName(name);
    if (wire === null) throw new DnsNameError(name);
    let i = 0;
    while (wire[i] !== 0) {
      if (this.compress) {
        const key = suffixKey(wire, i);
        const at = this.dict.get(key);
        if (at !== undefined) {
          if (out !== null) put16(out, p, 0xc000 | at);
          return p + 2;
        }
        // RFC 1035 4.1.4: pointers hold 14-bit offsets from the start of the message.
        const rel = p - this.base;
        if (rel < 0x4000) this.dict.set(key, rel);
      }
      const l = wire[i];
      if (out !== null) for (let k = 0; k <= l; k++) out[p + k] = wire[i + k];
      p += l + 1;
      i += l + 1;
    }
    if (out !== null) out[p] = 0;
    return p + 1;
  }
}

/**
 * The dictionary key of the name suffix at `wire[i]`: its exact bytes. Compression matches case
 * exactly, so every name keeps its own spelling (RFC 4343 4.1: case is preserved where possible).
 */
function suffixKey(wire: Uint8Array, i: number): string {
  let s = "";
  for (let k = i; k < wire.length; k++) s += String.fromCharCode(wire[k]);
  return s;
}

/** Writes a whole DNS message; serialize it around an empty body (it is all header). */
export class DnsBuilder implements PacketBuilder {
  readonly footerLen = 0;
  readonly minBodyLen = 0;
  readonly maxBodyLen = 0;

  constructor(
    public id: number,
    /** The 16 flag bits (`DnsFlag`, opcode << 11, rcode). */
    public flags: number,
    public questions: DnsQuestion[] = [],
    public answers: DnsRecord[] = [],
    public authority: DnsRecord[] = [],
    public additional: DnsRecord[] = [],
    /** Compress names (RFC 1035 4.1.4). */
    public compress = true,
  ) {}

  get headerLen(): number {
    return this.emit(null, 0);
  }

  serialize(b: Uint8Array, off: number, _bodyLen: number): void {
    this.emit(b, off);
  }

  /** The message as new bytes. Throws `DnsNameError` for an invalid name (not network input). */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.headerLen);
    this.emit(out, 0);
    return out;
  }

  private emit(out: Uint8Array | null, off: number): number {
    const names = new NameWriter(this.compress, off);
    if (out !== null) {
      put16(out, off + ID, this.id);
      put16(out, off + FLAGS, this.flags);
      put16(out, off + QDCOUNT, this.questions.length);
      put16(out, off + ANCOUNT, this.answers.length);
      put16(out, off + NSCOUNT, this.authority.length);
      put16(out, off + ARCOUNT, this.additional.length);
    }
    let p = off + DNS_HEADER_LEN;
    for (const q of this.questions) {
      p = names.write(out, p, q.name);
      if (out !== null) {
        put16(out, p, q.type);
        put16(out, p + 2, q.class);
      }
      p += 4;
    }
    for (const section of [this.answers, this.authority, this.additional]) {
      for (const r of section) p = writeRecord(out, p, r, names);
    }
    return p - off;
  }
}

function writeRecord(out: Uint8Array | null, p: number, r: DnsRecord, names: NameWriter): number {
  p = names.write(out, p, r.name);
  const hdr = p;
  p += 10;
  const rd = p;
  const d = r.data;
  if (d instanceof Uint8Array) {
    if (out !== null) out.set(d, p);
    p += d.length;
  } else if ("mname" in d) {
    p = names.write(out, p, d.mname);
    p = names.write(out, p, d.rname);
    if (out !== null) {
      put32(out, p, d.serial);
      put32(out, p + 4, d.refresh);
      put32(out, p + 8, d.retry);
      put32(out, p + 12, d.expire);
      put32(out, p + 16, d.minimum);
    }
    p += 20;
  } else if ("exchange" in d) {
    if (out !== null) put16(out, p, d.preference);
    p = names.write(out, p + 2, d.exchange);
  } else {
    p = names.write(out, p, d.name);
  }
  if (out !== null) {
    put16(out, hdr, r.type);
    put16(out, hdr + 2, r.class);
    put32(out, hdr + 4, r.ttl >>> 0);
    put16(out, hdr + 8, p - rd);
  }
  return p;
}

// ---- reprs ----

/** Readable form of a record. Exactly one of the data fields is present. */
export interface DnsRecordRepr {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** A and AAAA. */
  address?: string;
  /** CNAME, NS, PTR. */
  target?: string;
  /** MX. */
  preference?: number;
  exchange?: string;
  /** SOA. */
  soa?: DnsSoa;
  /** Other types, OPT included: the data as hex. */
  data?: string;
}

/** Readable form of a DNS message. */
export interface DnsRepr {
  id: number;
  flags: number;
  questions: DnsQuestion[];
  answers: DnsRecordRepr[];
  authority: DnsRecordRepr[];
  additional: DnsRecordRepr[];
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

function recordRepr(c: DnsRecordCursor): DnsRecordRepr {
  const r: DnsRecordRepr = { name: c.name(), type: c.type, class: c.class, ttl: c.ttl };
  switch (c.type) {
    case DnsType.A:
      r.address = formatV4(c.a);
      break;
    case DnsType.AAAA:
      r.address = formatV6(c.aaaa);
      break;
    case DnsType.CNAME:
    case DnsType.NS:
    case DnsType.PTR:
      r.target = c.target();
      break;
    case DnsType.MX:
      r.preference = u16(c.bytes, c.rdOff);
      r.exchange = c.target();
      break;
    case DnsType.SOA:
      r.soa = c.soa();
      break;
    default:
      r.data = hex(c.rdata());
  }
  return r;
}

/** The repr of a parsed message. */
export function toRepr(v: DnsView): DnsRepr {
  const r: DnsRepr = { id: v.id, flags: v.flags, questions: [], answers: [], authority: [], additional: [] };
  const sections = [r.answers, r.authority, r.additional];
  const c = v.records();
  while (c.next()) {
    if (c.section === DnsSection.Question) r.questions.push({ name: c.name(), type: c.type, class: c.class });
    else sections[c.section - 1].push(recordRepr(c));
  }
  return r;
}

function recordFromRepr(r: DnsRecordRepr): DnsRecord {
  let data: DnsRdata;
  if (r.address !== undefined) {
    const v4 = parseV4(r.address);
    const v6 = v4 === null ? parseV6(r.address) : null;
    if (v4 !== null) {
      data = new Uint8Array(4);
      put32(data, 0, v4);
    } else if (v6 !== null) data = v6.slice();
    else throw new RangeError(`bad address ${r.address}`);
  } else if (r.target !== undefined) data = { name: r.target };
  else if (r.exchange !== undefined) data = { preference: r.preference ?? 0, exchange: r.exchange };
  else if (r.soa !== undefined) data = { ...r.soa };
  else data = unhex(r.data ?? "");
  return { name: r.name, type: r.type, class: r.class, ttl: r.ttl, data };
}

/** A builder that re-serializes `r` (with compression unless `compress` is false). */
export function builderFromRepr(r: DnsRepr, compress = true): DnsBuilder {
  return new DnsBuilder(
    r.id,
    r.flags,
    r.questions.map((q) => ({ ...q })),
    r.answers.map(recordFromRepr),
    r.authority.map(recordFromRepr),
    r.additional.map(recordFromRepr),
    compress,
  );
}
