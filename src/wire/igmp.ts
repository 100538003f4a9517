/**
 * IGMP: RFC 2236 (IGMPv2: membership query, version 2 report, leave group), RFC 1112 appendix I
 * (the version 1 report), RFC 3376 4.1 (the longer IGMPv3 query, which an IGMPv2 host answers as a
 * version 2 query, RFC 3376 7.2.1) and 4.2 (the IGMPv3 membership report of group records).
 *
 * An IGMP message is the whole IPv4 payload; the checksum covers the whole message (RFC 2236 2.3)
 * with no pseudo-header. Every message is at least 8 bytes (type, max response time, checksum,
 * group address), so those getters are always in bounds. A query longer than 8 bytes must be an
 * IGMPv3 query (at least 12 bytes, RFC 3376 7.1) whose source list fits.
 */
import { formatV4, type Ipv4Addr, parseV4, v4At, v4Put } from "../ip/addr.ts";
import type { PacketBuilder } from "../packet/serialize.ts";
import { checksum, verify } from "./checksum.ts";
import { type ParseError, parseError } from "./errors.ts";

/** IGMP message types (IANA "IGMP Type Numbers"). An open set: unknown types pass through. */
export const IgmpType = {
  MembershipQuery: 0x11,
  V1MembershipReport: 0x12,
  V2MembershipReport: 0x16,
  LeaveGroup: 0x17,
  V3MembershipReport: 0x22,
} as const;

/** Length of an IGMPv1/v2 message. */
export const IGMP_LEN = 8;
/** Shortest IGMPv3 query (RFC 3376 4.1: 12 bytes plus 4 per source). */
export const IGMPV3_QUERY_MIN_LEN = 12;

const OFF_TYPE = 0;
const OFF_MAX_RESP = 1;
const OFF_CHECKSUM = 2;
const OFF_GROUP = 4;
const OFF_V3_FLAGS = 8;
const OFF_V3_QQIC = 9;
const OFF_V3_NSRC = 10;
const OFF_V3_SOURCES = 12;

const E_SHORT: ParseError = parseError("igmp", "too-short");
const E_TYPE: ParseError = parseError("igmp", "bad-type");
const E_RECORD: ParseError = parseError("igmp", "bad-record");
const E_CHECKSUM: ParseError = parseError("igmp", "bad-checksum");
const E_LENGTH: ParseError = parseError("igmp", "bad-length");

const EMPTY = new Uint8Array(0);

/**
 * RFC 3376 4.1.1: a Max Resp Code of 128 or more is a floating-point value
 * (mant | 0x10) << (exp + 3); below 128 it is the value itself. Units of 1/10 s.
 */
export function igmpv3Code(code: number): number {
  if (code < 128) return code;
  return ((code & 0x0f) | 0x10) << (((code >> 4) & 7) + 3);
}

/** A checksum-verified IGMP message. */
export class IgmpView {
  bytes: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  /** Parse and verify the IGMP message at `bytes[off, off + len)` (the IPv4 payload). */
  static parse(bytes: Uint8Array, off: number, len: number): IgmpView | ParseError {
    const v = new IgmpView();
    return v.parseFrom(bytes, off, len) ?? v;
  }

  /** Re-point this view (no allocation). */
  parseFrom(bytes: Uint8Array, off: number, len: number): ParseError | null {
    if (off < 0 || len < IGMP_LEN || off + len > bytes.length) return E_SHORT;
    // RFC 2236 2.3: the checksum covers the whole IGMP message.
    if (!verify(bytes, off, len)) return E_CHECKSUM;
    if (bytes[off] === IgmpType.MembershipQuery && len > IGMP_LEN) {
      // RFC 3376 7.1: a query of 9-11 bytes is invalid; 12 or more is IGMPv3 with its sources.
      if (len < IGMPV3_QUERY_MIN_LEN) return E_LENGTH;
      const n = (bytes[off + OFF_V3_NSRC] << 8) | bytes[off + OFF_V3_NSRC + 1];
      if (OFF_V3_SOURCES + 4 * n > len) return E_LENGTH;
    }
    this.bytes = bytes;
    this.off = off;
    this.len = len;
    return null;
  }

  get type(): number {
    return this.bytes[this.off + OFF_TYPE];
  }
  /** Max Resp Time (RFC 2236 2.2) in units of 1/10 s; in an IGMPv3 query, the Max Resp Code. */
  get maxRespTime(): number {
    return this.bytes[this.off + OFF_MAX_RESP];
  }
  get checksum(): number {
    return (this.bytes[this.off + OFF_CHECKSUM] << 8) | this.bytes[this.off + OFF_CHECKSUM + 1];
  }
  /** Group address (0 in a general query). */
  get group(): Ipv4Addr {
    return v4At(this.bytes, this.off + OFF_GROUP);
  }
  /** True for an IGMPv3 query (RFC 3376 7.1: a query of 12 bytes or more). */
  get isV3Query(): boolean {
    return this.type === IgmpType.MembershipQuery && this.len >= IGMPV3_QUERY_MIN_LEN;
  }
  /**
   * The maximum response delay in ms: RFC 2236 2.2 (tenths of a second), RFC 3376 4.1.1 for an
   * IGMPv3 query; an IGMPv1 query (code 0) means 10 s (RFC 2236 4, "the default").
   */
  get maxRespDelayMs(): number {
    const c = this.maxRespTime;
    if (this.isV3Query) return igmpv3Code(c) * 100;
    return c === 0 ? 10_000 : c * 100;
  }
  /** IGMPv3 query: the S flag (suppress router-side processing); false otherwise. */
  get sFlag(): boolean {
    return this.isV3Query && (this.bytes[this.off + OFF_V3_FLAGS] & 0x08) !== 0;
  }
  /** IGMPv3 query: the querier's robustness variable; 0 otherwise. */
  get qrv(): number {
    return this.isV3Query ? this.bytes[this.off + OFF_V3_FLAGS] & 7 : 0;
  }
  /** IGMPv3 query: querier's query interval code; 0 otherwise. */
  get qqic(): number {
    return this.isV3Query ? this.bytes[this.off + OFF_V3_QQIC] : 0;
  }
  /** IGMPv3 query: number of sources; 0 otherwise. */
  get numSources(): number {
    return this.isV3Query ? (this.bytes[this.off + OFF_V3_NSRC] << 8) | this.bytes[this.off + OFF_V3_NSRC + 1] : 0;
  }
  /** IGMPv3 query: source `i` (0 <= i < numSources). */
  source(i: number): Ipv4Addr {
    return v4At(this.bytes, this.off + OFF_V3_SOURCES + 4 * i);
  }
}

/** An IGMPv1/v2 message (8 bytes, all header). Serialize it around an empty body. */
export class IgmpBuilder implements PacketBuilder {
  readonly headerLen = IGMP_LEN;
  readonly footerLen = 0;
  readonly minBodyLen = 0;
  readonly maxBodyLen = 0;

  constructor(
    public type: number,
    /** Tenths of a second; 0 in reports and leaves (RFC 2236 2.2). */
    public maxRespTime: number,
    public group: Ipv4Addr,
  ) {}

  serialize(b: Uint8Array, off: number, bodyLen: number): void {
    b[off + OFF_TYPE] = this.type;
    b[off + OFF_MAX_RESP] = this.maxRespTime;
    b[off + OFF_CHECKSUM] = 0;
    b[off + OFF_CHECKSUM + 1] = 0;
    v4Put(b, off + OFF_GROUP, this.group);
    const c = checksum(b, off, IGMP_LEN + bodyLen);
    b[off + OFF_CHECKSUM] = c >> 8;
    b[off + OFF_CHECKSUM + 1] = c & 0xff;
  }
}

/** The readable form of an IGMP message (the IGMPv3 query fields only for such a query). */
export interface IgmpRepr {
  type: number;
  maxRespTime: number;
  /** Dotted quad. */
  group: string;
  /** IGMPv3 query. */
  sFlag?: boolean;
  qrv?: number;
  qqic?: number;
  sources?: string[];
}

/** The repr of a parsed message. */
export function toRepr(v: IgmpView): IgmpRepr {
  const r: IgmpRepr = { type: v.type, maxRespTime: v.maxRespTime, group: formatV4(v.group) };
  if (v.isV3Query) {
    r.sFlag = v.sFlag;
    r.qrv = v.qrv;
    r.qqic = v.qqic;
    const s: string[] = [];
    for (let i = 0; i < v.numSources; i++) s.push(formatV4(v.source(i)));
    r.sources = s;
  }
  return r;
}

/** An IGMPv3 query (RFC 3376 4.1), for tests and `decode --verify`. */
export class Igmpv3QueryBuilder implements PacketBuilder {
  readonly footerLen = 0;
  readonly minBodyLen = 0;
  readonly maxBodyLen = 0;
  constructor(
    public maxRespCode: number,
    public group: Ipv4Addr,
    public sFlag: boolean,
    public qrv: number,
    public qqic: number,
    public sources: Ipv4Addr[] = [],
  ) {}
  get headerLen(): number {
    return OFF_V3_SOURCES + 4 * this.sources.length;
  }
  serialize(b: Uint8Array, off: number, bodyLen: number): void {
    const n = this.sources.length;
    b[off + OFF_TYPE] = IgmpType.MembershipQuery;
    b[off + OFF_MAX_RESP] = this.maxRespCode;
    b[off + OFF_CHECKSUM] = 0;
    b[off + OFF_CHECKSUM + 1] = 0;
    v4Put(b, off + OFF_GROUP, this.group);
    // RFC 3376 4.1.5: Resv bits are zero.
    b[off + OFF_V3_FLAGS] = (this.sFlag ? 0x08 : 0) | (this.qrv & 7);
    b[off + OFF_V3_QQIC] = this.qqic;
    b[off + OFF_V3_NSRC] = n >> 8;
    b[off + OFF_V3_NSRC + 1] = n & 0xff;
    for (let i = 0; i < n; i++) v4Put(b, off + OFF_V3_SOURCES + 4 * i, this.sources[i]);
    const len = this.headerLen + bodyLen;
    const c = checksum(b, off, len);
    b[off + OFF_CHECKSUM] = c >> 8;
    b[off + OFF_CHECKSUM + 1] = c & 0xff;
  }
}

/** A builder that re-serializes `r`. Throws `RangeError` on bad address text. */
export function builderFromRepr(r: IgmpRepr): IgmpBuilder | Igmpv3QueryBuilder {
  const g = parseV4(r.group);
  if (g === null) throw new RangeError(`bad group in ${JSON.stringify(r)}`);
  if (r.sources !== undefined) {
    const sources = r.sources.map((s) => {
      const a = parseV4(s);
      if (a === null) throw new RangeError(`bad source in ${JSON.stringify(r)}`);
      return a;
    });
    return new Igmpv3QueryBuilder(r.maxRespTime, g, r.sFlag ?? false, r.qrv ?? 0, r.qqic ?? 0, sources);
  }
  return new IgmpBuilder(r.type, r.maxRespTime, g);
}

/** One line for logs: `igmp v2 report 224.1.2.3`, `igmp query max-resp=10.0s`, ... */
export function describe(v: IgmpView): string {
  const g = formatV4(v.group);
  switch (v.type) {
    case IgmpType.MembershipQuery:
      return `igmp${v.isV3Query ? " v3" : ""} query ${g} max-resp=${v.maxRespDelayMs / 1000}s`;
    case IgmpType.V1MembershipReport:
      return `igmp v1 report ${g}`;
    case IgmpType.V2MembershipReport:
      return `igmp v2 report ${g}`;
    case IgmpType.LeaveGroup:
      return `igmp leave ${g}`;
    case IgmpType.V3MembershipReport:
      return `igmp v3 report records=${(v.bytes[v.off + 6] << 8) | v.bytes[v.off + 7]}`;
    default:
      return `igmp type=0x${v.type.toString(16)} ${g}`;
  }
}

/** RFC 2236 2: IGMP messages are sent with TTL 1 and (RFC 2236 2, RFC 2113) the Router Alert option. */
export const IGMP_TTL = 1;
/** The 4-byte IPv4 Router Alert option (RFC 2113 2.1: type 148, length 4, value 0). */
export const ROUTER_ALERT_V4 = new Uint8Array([0x94, 0x04, 0x00, 0x00]);

/** RFC 3376 4.2: the report header (type, reserved, checksum, reserved, number of records). */
export const IGMPV3_REPORT_HEADER_LEN = 8;
/** RFC 3376 4.2.4: a group record's header (type, aux data len, number of sources, group). */
export const IGMPV3_RECORD_HEADER_LEN = 8;
/** RFC 3376 4.2.14: IGMPv3 reports go to 224.0.0.22 (all IGMPv3-capable multicast routers). */
export const ALL_IGMPV3_ROUTERS = 0xe0000016 as Ipv4Addr;

const OFF_V3_NRECORDS = 6;

/**
 * RFC 3376 4.2.12: group record types; the same values as MLDv2's (RFC 3810 5.2.12), so a
 * version-generic listener writes both with one set.
 */
export const Igmpv3RecordType = {
  ModeIsInclude: 1,
  ModeIsExclude: 2,
  ChangeToInclude: 3,
  ChangeToExclude: 4,
  AllowNewSources: 5,
  BlockOldSources: 6,
} as const;

/** One group record to write. */
export interface Igmpv3Record {
  type: number;
  group: Ipv4Addr;
  sources?: Ipv4Addr[];
  /** Auxiliary data, a multiple of 4 bytes (RFC 3376 4.2.10: none is defined; receivers skip it). */
  auxData?: Uint8Array;
}

function v3RecordBytes(r: Igmpv3Record): number {
  return IGMPV3_RECORD_HEADER_LEN + 4 * (r.sources?.length ?? 0) + ((r.auxData?.length ?? 0) & ~3);
}

/** An IGMPv3 Membership Report (RFC 3376 4.2); serialize around an empty body. */
export class Igmpv3ReportBuilder implements PacketBuilder {
  readonly footerLen = 0;
  readonly minBodyLen = 0;
  readonly maxBodyLen = 0;
  constructor(public records: Igmpv3Record[]) {}
  get headerLen(): number {
    let n = IGMPV3_REPORT_HEADER_LEN;
    for (let i = 0; i < this.records.length; i++) n += v3RecordBytes(this.records[i]);
    return n;
  }
  serialize(b: Uint8Array, off: number, bodyLen: number): void {
    const rs = this.records;
    b[off + OFF_TYPE] = IgmpType.V3MembershipReport;
    // RFC 3376 4.2.1 / 4.2.3: the reserved fields are zero.
    b[off + 1] = 0;
    b[off + OFF_CHECKSUM] = 0;
    b[off + OFF_CHECKSUM + 1] = 0;
    b[off + 4] = 0;
    b[off + 5] = 0;
    b[off + OFF_V3_NRECORDS] = rs.length >> 8;
    b[off + OFF_V3_NRECORDS + 1] = rs.length & 0xff;
    let p = off + IGMPV3_REPORT_HEADER_LEN;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i];
      const sources = r.sources ?? [];
      const aux = r.auxData ?? EMPTY;
      const auxWords = aux.length >> 2;
      b[p] = r.type;
      b[p + 1] = auxWords;
      b[p + 2] = sources.length >> 8;
      b[p + 3] = sources.length & 0xff;
      v4Put(b, p + 4, r.group);
      p += IGMPV3_RECORD_HEADER_LEN;
      for (let k = 0; k < sources.length; k++, p += 4) v4Put(b, p, sources[k]);
      b.set(aux.subarray(0, auxWords * 4), p);
      p += auxWords * 4;
    }
    const c = checksum(b, off, p - off + bodyLen);
    b[off + OFF_CHECKSUM] = c >> 8;
    b[off + OFF_CHECKSUM + 1] = c & 0xff;
  }
}

function v3RecordLen(b: Uint8Array, o: number): number {
  return IGMPV3_RECORD_HEADER_LEN + 4 * ((b[o + 2] << 8) | b[o + 3]) + 4 * b[o + 1];
}

/** A checksum-verified IGMPv3 Membership Report (RFC 3376 4.2) whose records all fit. */
export class Igmpv3ReportView {
  bytes: Uint8Array = EMPTY;
  off = 0;
  len = 0;

  static parse(bytes: Uint8Array, off: number, len: number): Igmpv3ReportView | ParseError {
    const v = new Igmpv3ReportView();
    return v.parseFrom(bytes, off, len) ?? v;
  }

  parseFrom(bytes: Uint8Array, off: number, len: number): ParseError | null {
    if (off < 0 || len < IGMPV3_REPORT_HEADER_LEN || off + len > bytes.length) return E_SHORT;
    if (bytes[off] !== IgmpType.V3MembershipReport) return E_TYPE;
    if (!verify(bytes, off, len)) return E_CHECKSUM;
    const n = (bytes[off + OFF_V3_NRECORDS] << 8) | bytes[off + OFF_V3_NRECORDS + 1];
    const end = off + len;
    let p = off + IGMPV3_REPORT_HEADER_LEN;
    for (let i = 0; i < n; i++) {
      if (p + IGMPV3_RECORD_HEADER_LEN > end) return E_RECORD;
      p += v3RecordLen(bytes, p);
      if (p > end) return E_RECORD;
    }
    this.bytes = bytes;
    this.off = off;
    this.len = len;
    return null;
  }

  get numRecords(): number {
    return (this.bytes[this.off + OFF_V3_NRECORDS] << 8) | this.bytes[this.off + OFF_V3_NRECORDS + 1];
  }

  /** The records, decoded (for tests, logs and tools; not a hot path). */
  records(): Igmpv3Record[] {
    const out: Igmpv3Record[] = [];
    const b = this.bytes;
    let p = this.off + IGMPV3_REPORT_HEADER_LEN;
    for (let i = 0; i < this.numRecords; i++) {
      const n = (b[p + 2] << 8) | b[p + 3];
      const sources: Ipv4Addr[] = [];
      for (let k = 0; k < n; k++) sources.push(v4At(b, p + IGMPV3_RECORD_HEADER_LEN + 4 * k));
      const auxLen = 4 * b[p + 1];
      const auxOff = p + IGMPV3_RECORD_HEADER_LEN + 4 * n;
      const r: Igmpv3Record = { type: b[p], group: v4At(b, p + 4), sources };
      if (auxLen > 0) r.auxData = b.slice(auxOff, auxOff + auxLen);
      out.push(r);
      p += v3RecordLen(b, p);
    }
    return out;
  }
}
