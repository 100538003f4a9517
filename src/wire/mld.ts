/**
 * Multicast Listener Discovery: RFC 2710 (MLDv1: query, report, done) and RFC 3810 (MLDv2: the
 * longer query, 5.1, and the version 2 report with multicast address records, 5.2).
 *
 * MLD messages are ICMPv6 messages: parse the ICMPv6 message with `Icmpv6View` first (which checks
 * the checksum with the pseudo-header), then its range with `parseMld`. An MLDv1 message is 24
 * bytes; a query of 24 bytes is MLDv1, one of 28 bytes or more MLDv2 (RFC 3810 8.1), anything in
 * between is invalid. A version 2 report's records are walked once at parse time, so the record
 * cursor's getters only ever read inside the message.
 *
 * The IPv6 rules (hop limit 1, link-local source, Router Alert, RFC 3810 5.1.14 / 5.2.13) need the
 * IP header and are the host's to apply (src/hostconf/mld.ts).
 */
import { formatV6, type Ipv6Addr, parseV6, v6At, v6Zero } from "../ip/addr.ts";
import type { PacketBuilder } from "../packet/serialize.ts";
import { type ParseError, parseError } from "./errors.ts";
import { Icmpv6Type, writeIcmpv6Checksum } from "./icmpv6.ts";

/** RFC 3810 5.2.12: multicast address record types. An open set. */
export const MldRecordType = {
  ModeIsInclude: 1,
  ModeIsExclude: 2,
  ChangeToInclude: 3,
  ChangeToExclude: 4,
  AllowNewSources: 5,
  BlockOldSources: 6,
} as const;

/** MLDv1 message length, and the fixed part of an MLDv2 query before its flags. */
export const MLDV1_LEN = 24;
/** Shortest MLDv2 query (RFC 3810 5.1: 28 bytes plus 16 per source). */
export const MLDV2_QUERY_MIN_LEN = 28;
/** Fixed part of a version 2 report (RFC 3810 5.2). */
export const MLDV2_REPORT_HEADER_LEN = 8;
/** Fixed part of one multicast address record (RFC 3810 5.2.4). */
export const MLDV2_RECORD_HEADER_LEN = 20;
/** The all-MLDv2-capable-routers group ff02::16 (RFC 3810 5.2.14). */
export const ALL_MLDV2_ROUTERS = parseV6("ff02::16") as Ipv6Addr;

const OFF_MAX_RESP = 4;
const OFF_GROUP = 8;
const OFF_QFLAGS = 24;
const OFF_QQIC = 25;
const OFF_QNSRC = 26;
const OFF_QSOURCES = 28;
const OFF_NRECORDS = 6;

const E_SHORT = parseError("mld", "too-short");
const E_TYPE = parseError("mld", "bad-type");
const E_LENGTH = parseError("mld", "bad-length");
const E_RECORD = parseError("mld", "record-too-long");

const EMPTY = new Uint8Array(0);

function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

/**
 * RFC 3810 5.1.3: the Maximum Response Code in ms: below 32768 the value itself, else
 * (mant | 0x1000) << (exp + 3).
 */
export function mldMaxRespDelay(code: number): number {
  if (code < 32768) return code;
  return ((code & 0x0fff) | 0x1000) * 2 ** (((code >> 12) & 7) + 3);
}

/** RFC 3810 5.1.9: the querier's query interval code in seconds. */
export function mldQqi(qqic: number): number {
  if (qqic < 128) return qqic;
  return ((qqic & 0x0f) | 0x10) << (((qqic >> 4) & 7) + 3);
}

/** An MLD query, report or done message (RFC 2710 3) or an MLDv2 query (RFC 3810 5.1). */
export class MldView {
  bytes: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  /** Parse the ICMPv6 message at `bytes[off, off + len)` (checksum already verified). */
  static parse(bytes: Uint8Array, off: number, len: number): MldView | ParseError {
    const v = new MldView();
    return v.parseFrom(bytes, off, len) ?? v;
  }

  parseFrom(bytes: Uint8Array, off: number, len: number): ParseError | null {
    if (off < 0 || len < MLDV1_LEN || off + len > bytes.length) return E_SHORT;
    const t = bytes[off];
    if (t !== Icmpv6Type.MldQuery && t !== Icmpv6Type.MldReport && t !== Icmpv6Type.MldDone) return E_TYPE;
    if (t === Icmpv6Type.MldQuery && len !== MLDV1_LEN) {
      // RFC 3810 8.1: a query of 25-27 bytes is neither version; MLDv2 needs its sources to fit.
      if (len < MLDV2_QUERY_MIN_LEN) return E_LENGTH;
      if (OFF_QSOURCES + 16 * u16(bytes, off + OFF_QNSRC) > len) return E_LENGTH;
    }
    this.bytes = bytes;
    this.off = off;
    this.len = len;
    return null;
  }

  get type(): number {
    return this.bytes[this.off];
  }
  get code(): number {
    return this.bytes[this.off + 1];
  }
  /** Maximum Response Delay (MLDv1, ms) or Maximum Response Code (MLDv2 query). */
  get maxRespCode(): number {
    return u16(this.bytes, this.off + OFF_MAX_RESP);
  }
  /** The maximum response delay in ms, decoding the MLDv2 exponential form. */
  get maxRespDelay(): number {
    return this.isV2Query ? mldMaxRespDelay(this.maxRespCode) : this.maxRespCode;
  }
  /** Multicast address (borrowed): unspecified in a general query. */
  get group(): Ipv6Addr {
    return v6At(this.bytes, this.off + OFF_GROUP);
  }
  /** RFC 3810 8.1: a query of 28 bytes or more is MLDv2. */
  get isV2Query(): boolean {
    return this.type === Icmpv6Type.MldQuery && this.len >= MLDV2_QUERY_MIN_LEN;
  }
  /** MLDv2 query: Suppress Router-Side Processing. */
  get sFlag(): boolean {
    return this.isV2Query && (this.bytes[this.off + OFF_QFLAGS] & 0x08) !== 0;
  }
  /** MLDv2 query: Querier's Robustness Variable. */
  get qrv(): number {
    return this.isV2Query ? this.bytes[this.off + OFF_QFLAGS] & 7 : 0;
  }
  /** MLDv2 query: Querier's Query Interval Code. */
  get qqic(): number {
    return this.isV2Query ? this.bytes[this.off + OFF_QQIC] : 0;
  }
  /** MLDv2 query: number of sources. */
  get numSources(): number {
    return this.isV2Query ? u16(this.bytes, this.off + OFF_QNSRC) : 0;
  }
  /** MLDv2 query: source `i` (borrowed), 0 <= i < numSources. */
  source(i: number): Ipv6Addr {
    return v6At(this.bytes, this.off + OFF_QSOURCES + 16 * i);
  }
}

/** A cursor over the multicast address records of a version 2 report. */
export class MldRecordCursor {
  bytes: Uint8Array = EMPTY;
  /** Offset of the current record. */
  off = 0;
  private pos = 0;
  private left = 0;

  start(v: Mldv2ReportView): this {
    this.bytes = v.bytes;
    this.pos = v.off + MLDV2_REPORT_HEADER_LEN;
    this.left = v.numRecords;
    return this;
  }
  next(): boolean {
    if (this.left === 0) return false;
    this.left--;
    this.off = this.pos;
    this.pos += recordLen(this.bytes, this.pos);
    return true;
  }
  get recordType(): number {
    return this.bytes[this.off];
  }
  /** Aux data length in bytes (the field counts 32-bit words). */
  get auxLen(): number {
    return this.bytes[this.off + 1] * 4;
  }
  get numSources(): number {
    return u16(this.bytes, this.off + 2);
  }
  /** The multicast address (borrowed). */
  get group(): Ipv6Addr {
    return v6At(this.bytes, this.off + 4);
  }
  /** Source `i` (borrowed). */
  source(i: number): Ipv6Addr {
    return v6At(this.bytes, this.off + MLDV2_RECORD_HEADER_LEN + 16 * i);
  }
  /** Auxiliary data (a subarray). */
  auxData(): Uint8Array {
    const o = this.off + MLDV2_RECORD_HEADER_LEN + 16 * this.numSources;
    return this.bytes.subarray(o, o + this.auxLen);
  }
}

function recordLen(b: Uint8Array, o: number): number {
  return MLDV2_RECORD_HEADER_LEN + 16 * u16(b, o + 2) + 4 * b[o + 1];
}

/** A Version 2 Multicast Listener Report (RFC 3810 5.2). */
export class Mldv2ReportView {
  bytes: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  static parse(bytes: Uint8Array, off: number, len: number): Mldv2ReportView | ParseError {
    const v = new Mldv2ReportView();
    return v.parseFrom(bytes, off, len) ?? v;
  }

  parseFrom(bytes: Uint8Array, off: number, len: number): ParseError | null {
    if (off < 0 || len < MLDV2_REPORT_HEADER_LEN || off + len > bytes.length) return E_SHORT;
    if (bytes[off] !== Icmpv6Type.Mldv2Report) return E_TYPE;
    const n = u16(bytes, off + OFF_NRECORDS);
    const end = off + len;
    let p = off + MLDV2_REPORT_HEADER_LEN;
    // RFC 3810 5.2: every record (header, sources, aux data) must fit in the message.
    for (let i = 0; i < n; i++) {
      if (p + MLDV2_RECORD_HEADER_LEN > end) return E_RECORD;
      p += recordLen(bytes, p);
      if (p > end) return E_RECORD;
    }
    this.bytes = bytes;
    this.off = off;
    this.len = len;
    return null;
  }

  get type(): number {
    return this.bytes[this.off];
  }
  get numRecords(): number {
    return u16(this.bytes, this.off + OFF_NRECORDS);
  }
  records(cursor: MldRecordCursor = new MldRecordCursor()): MldRecordCursor {
    return cursor.start(this);
  }
}

/** Parse an MLD message by its ICMPv6 type; `bad-type` for other types. */
export function parseMld(bytes: Uint8Array, off: number, len: number): MldView | Mldv2ReportView | ParseError {
  if (off < 0 || len < 1 || off + len > bytes.length) return E_SHORT;
  return bytes[off] === Icmpv6Type.Mldv2Report
    ? Mldv2ReportView.parse(bytes, off, len)
    : MldView.parse(bytes, off, len);
}

// ---- building ----

/** An MLDv1 query, report or done (RFC 2710 3): 24 bytes, all header; serialize around an empty body. */
export class MldBuilder implements PacketBuilder {
  readonly headerLen = MLDV1_LEN;
  readonly footerLen = 0;
  readonly minBodyLen = 0;
  readonly maxBodyLen = 0;
  constructor(
    public src: Uint8Array,
    public dst: Uint8Array,
    public type: number,
    /** Maximum Response Delay in ms (0 in reports and done). */
    public maxRespDelay: number,
    public group: Uint8Array,
  ) {}
  serialize(b: Uint8Array, off: number, bodyLen: number): void {
    b[off] = this.type;
    b[off + 1] = 0;
    b[off + OFF_MAX_RESP] = (this.maxRespDelay >> 8) & 0xff;
    b[off + OFF_MAX_RESP + 1] = this.maxRespDelay & 0xff;
    // RFC 2710 3.4: Reserved is zero.
    b[off + 6] = 0;
    b[off + 7] = 0;
    b.set(this.group.subarray(0, 16), off + OFF_GROUP);
    writeIcmpv6Checksum(b, off, MLDV1_LEN + bodyLen, this.src, this.dst);
  }
}

/** An MLDv2 query (RFC 3810 5.1). */
export class Mldv2QueryBuilder implements PacketBuilder {
  readonly footerLen = 0;
  readonly minBodyLen = 0;
  readonly maxBodyLen = 0;
  constructor(
    public src: Uint8Array,
    public dst: Uint8Array,
    public maxRespCode: number,
    public group: Uint8Array,
    public sFlag: boolean,
    public qrv: number,
    public qqic: number,
    public sources: Uint8Array[] = [],
  ) {}
  get headerLen(): number {
    return OFF_QSOURCES + 16 * this.sources.length;
  }
  serialize(b: Uint8Array, off: number, bodyLen: number): void {
    const n = this.sources.length;
    b[off] = Icmpv6Type.MldQuery;
    b[off + 1] = 0;
    b[off + OFF_MAX_RESP] = (this.maxRespCode >> 8) & 0xff;
    b[off + OFF_MAX_RESP + 1] = this.maxRespCode & 0xff;
    b[off + 6] = 0;
    b[off + 7] = 0;
    b.set(this.group.subarray(0, 16), off + OFF_GROUP);
    b[off + OFF_QFLAGS] = (this.sFlag ? 0x08 : 0) | (this.qrv & 7);
    b[off + OFF_QQIC] = this.qqic;
    b[off + OFF_QNSRC] = n >> 8;
    b[off + OFF_QNSRC + 1] = n & 0xff;
    for (let i = 0; i < n; i++) b.set(this.sources[i].subarray(0, 16), off + OFF_QSOURCES + 16 * i);
    writeIcmpv6Checksum(b, off, this.headerLen + bodyLen, this.src, this.dst);
  }
}

/** One multicast address record to write. */
export interface MldRecord {
  type: number;
  group: Uint8Array;
  sources?: Uint8Array[];
  /** Auxiliary data, a multiple of 4 bytes (RFC 3810 5.2.6: none is defined; receivers skip it). */
  auxData?: Uint8Array;
}

function recordBytes(r: MldRecord): number {
  return MLDV2_RECORD_HEADER_LEN + 16 * (r.sources?.length ?? 0) + ((r.auxData?.length ?? 0) & ~3);
}

/** A Version 2 Multicast Listener Report (RFC 3810 5.2); serialize around an empty body. */
export class Mldv2ReportBuilder implements PacketBuilder {
  readonly footerLen = 0;
  readonly minBodyLen = 0;
  readonly maxBodyLen = 0;
  constructor(
    public src: Uint8Array,
    public dst: Uint8Array,
    public records: MldRecord[],
  ) {}
  get headerLen(): number {
    let n = MLDV2_REPORT_HEADER_LEN;
    for (let i = 0; i < this.records.length; i++) n += recordBytes(this.records[i]);
    return n;
  }
  serialize(b: Uint8Array, off: number, bodyLen: number): void {
    const rs = this.records;
    b[off] = Icmpv6Type.Mldv2Report;
    // RFC 3810 5.2.1, 5.2.3: the reserved fields are zero.
    b.fill(0, off + 1, off + OFF_NRECORDS);
    b[off + OFF_NRECORDS] = rs.length >> 8;
    b[off + OFF_NRECORDS + 1] = rs.length & 0xff;
    let p = off + MLDV2_REPORT_HEADER_LEN;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i];
      const sources = r.sources ?? [];
      const aux = r.auxData ?? EMPTY;
      const auxWords = aux.length >> 2;
      b[p] = r.type;
      b[p + 1] = auxWords;
      b[p + 2] = sources.length >> 8;
      b[p + 3] = sources.length & 0xff;
      b.set(r.group.subarray(0, 16), p + 4);
      p += MLDV2_RECORD_HEADER_LEN;
      for (let s = 0; s < sources.length; s++, p += 16) b.set(sources[s].subarray(0, 16), p);
      b.set(aux.subarray(0, auxWords * 4), p);
      p += auxWords * 4;
    }
    writeIcmpv6Checksum(b, off, p - off + bodyLen, this.src, this.dst);
  }
}

// ---- reprs ----

/** The readable form of one multicast address record. */
export interface MldRecordRepr {
  type: number;
  group: string;
  sources: string[];
  /** Aux data (hex), when present. */
  auxData?: string;
}

/** The readable form of an MLD message. */
export interface MldRepr {
  type: number;
  /** Queries, MLDv1 reports and done. */
  maxRespCode?: number;
  group?: string;
  /** MLDv2 query. */
  sFlag?: boolean;
  qrv?: number;
  qqic?: number;
  sources?: string[];
  /** Version 2 report. */
  records?: MldRecordRepr[];
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

function addr(text: string | undefined): Ipv6Addr {
  return (text !== undefined ? parseV6(text) : null) ?? v6Zero();
}

/** The repr of a parsed message. */
export function toRepr(v: MldView | Mldv2ReportView): MldRepr {
  if (v instanceof Mldv2ReportView) {
    const records: MldRecordRepr[] = [];
    const c = v.records();
    while (c.next()) {
      const sources: string[] = [];
      for (let i = 0; i < c.numSources; i++) sources.push(formatV6(c.source(i)));
      const r: MldRecordRepr = { type: c.recordType, group: formatV6(c.group), sources };
      if (c.auxLen > 0) r.auxData = hex(c.auxData());
      records.push(r);
    }
    return { type: v.type, records };
  }
  const r: MldRepr = { type: v.type, maxRespCode: v.maxRespCode, group: formatV6(v.group) };
  if (v.isV2Query) {
    r.sFlag = v.sFlag;
    r.qrv = v.qrv;
    r.qqic = v.qqic;
    const s: string[] = [];
    for (let i = 0; i < v.numSources; i++) s.push(formatV6(v.source(i)));
    r.sources = s;
  }
  return r;
}

/** A builder that re-serializes `r` from `src` to `dst`. */
export function builderFromRepr(
  r: MldRepr,
  src: Uint8Array,
  dst: Uint8Array,
): MldBuilder | Mldv2QueryBuilder | Mldv2ReportBuilder {
  if (r.records !== undefined) {
    return new Mldv2ReportBuilder(
      src,
      dst,
      r.records.map((x) => ({
        type: x.type,
        group: addr(x.group),
        sources: x.sources.map(addr),
        auxData: x.auxData !== undefined ? unhex(x.auxData) : undefined,
      })),
    );
  }
  if (r.sources !== undefined) {
    return new Mldv2QueryBuilder(
      src,
      dst,
      r.maxRespCode ?? 0,
      addr(r.group),
      r.sFlag ?? false,
      r.qrv ?? 0,
      r.qqic ?? 0,
      r.sources.map(addr),
    );
  }
  return new MldBuilder(src, dst, r.type, r.maxRespCode ?? 0, addr(r.group));
}

/** One line for logs: `mld query ::`, `mldv2 report 2 records`, ... */
export function describe(v: MldView | Mldv2ReportView): string {
  if (v instanceof Mldv2ReportView) return `mldv2 report ${v.numRecords} record(s)`;
  const g = formatV6(v.group);
  switch (v.type) {
    case Icmpv6Type.MldQuery:
      return `mld${v.isV2Query ? "v2" : ""} query ${g} max-resp=${v.maxRespDelay}ms`;
    case Icmpv6Type.MldReport:
      return `mld report ${g}`;
    default:
      return `mld done ${g}`;
  }
}
