/**
 * Classic pcap capture files (the libpcap format: draft-ietf-opsawg-pcap, "PCAP Capture File
 * Format"), read from a `Uint8Array`. Both byte orders and both timestamp resolutions (the
 * microsecond magic 0xa1b2c3d4 and the nanosecond magic 0xa1b23c4d) are read.
 *
 * Also the types shared with the pcapng reader (`CaptureRecord`, `CaptureError`, `CaptureResult`).
 * Records borrow their bytes: `data` is a `subarray` of the file, never a copy. Malformed files
 * never throw: the result carries the records read before the damage and a `CaptureError` saying
 * what is wrong and where.
 */

/** LINKTYPE_ETHERNET (tcpdump.org link-layer header types). */
export const LINKTYPE_ETHERNET = 1;

/** Which way a packet went, when the capture says (pcapng `epb_flags` bits 0-1). */
export const Direction = { Unknown: 0, Inbound: 1, Outbound: 2 } as const;
export type Direction = (typeof Direction)[keyof typeof Direction];

/** One captured packet. */
export interface CaptureRecord {
  /** LINKTYPE_* of the interface it was captured on (1 = Ethernet). */
  linkType: number;
  /** Capture time in nanoseconds since the Unix epoch; null when the block has none (pcapng SPB). */
  timestampNs: bigint | null;
  /** The captured bytes: a view into the file (no copy). May be shorter than `origLen`. */
  data: Uint8Array;
  /** The packet's length on the wire. */
  origLen: number;
  /** Interface index within the file (pcapng: counted across sections; pcap: always 0). */
  interface: number;
  /** Direction from pcapng `epb_flags`; `Direction.Unknown` otherwise. */
  direction: Direction;
}

/** Why a capture file could not be read (to its end). */
export class CaptureError {
  constructor(
    /** One-line reason, e.g. "pcap: record 3 at byte 1024 is truncated (60 of 98 bytes)". */
    readonly message: string,
    /** Byte offset in the file where the problem was found. */
    readonly offset: number,
  ) {}

  toString(): string {
    return this.message;
  }
}

/** Records read from a capture and, when the file is malformed, the error that stopped reading. */
export interface CaptureResult {
  format: "pcap" | "pcapng";
  records: CaptureRecord[];
  /** Null when the whole file was read. Records before the damage are still in `records`. */
  error: CaptureError | null;
}

// File header offsets (draft-ietf-opsawg-pcap section 4).
const FH_MAGIC = 0;
const FH_VERSION_MAJOR = 4;
const FH_VERSION_MINOR = 6;
const FH_SNAPLEN = 16;
const FH_LINKTYPE = 20;
const FH_LEN = 24;
// Record header offsets (section 5).
const RH_TS_SEC = 0;
const RH_TS_FRAC = 4;
const RH_INCL_LEN = 8;
const RH_ORIG_LEN = 12;
const RH_LEN = 16;

const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const MAGIC_US_SWAPPED = 0xd4c3b2a1;
const MAGIC_NS_SWAPPED = 0x4d3cb2a1;

/** Read a 32-bit unsigned integer in the given byte order. */
export function u32(b: Uint8Array, o: number, le: boolean): number {
  return le
    ? (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0
    : ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Read a 16-bit unsigned integer in the given byte order. */
export function u16(b: Uint8Array, o: number, le: boolean): number {
  return le ? b[o] | (b[o + 1] << 8) : (b[o] << 8) | b[o + 1];
}

/** True when the bytes start with a classic pcap magic number (either order, either resolution). */
export function isPcap(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const m = u32(bytes, 0, false);
  return m === MAGIC_US || m === MAGIC_NS || m === MAGIC_US_SWAPPED || m === MAGIC_NS_SWAPPED;
}

/** Read a classic pcap file. Never throws. */
export function readPcap(bytes: Uint8Array): CaptureResult {
  const records: CaptureRecord[] = [];
  const fail = (message: string, offset: number): CaptureResult => ({
    format: "pcap",
    records,
    error: new CaptureError(`pcap: ${message}`, offset),
  });
  if (bytes.length < FH_LEN) return fail(`file header is truncated (${bytes.length} of ${FH_LEN} bytes)`, 0);
  const magic = u32(bytes, FH_MAGIC, false);
  let le: boolean;
  let nanos: boolean;
  if (magic === MAGIC_US || magic === MAGIC_NS) {
    le = false;
    nanos = magic === MAGIC_NS;
  } else if (magic === MAGIC_US_SWAPPED || magic === MAGIC_NS_SWAPPED) {
    le = true;
    nanos = magic === MAGIC_NS_SWAPPED;
  } else {
    return fail(`bad magic number 0x${magic.toString(16).padStart(8, "0")}`, 0);
  }
  const major = u16(bytes, FH_VERSION_MAJOR, le);
  const minor = u16(bytes, FH_VERSION_MINOR, le);
  if (major !== 2) return fail(`unsupported version ${major}.${minor}`, FH_VERSION_MAJOR);
  // The link type is the low 16 bits; the upper bits carry FCS information (section 4, LinkType).
  const linkType = u32(bytes, FH_LINKTYPE, le) & 0xffff;
  const fracNs = nanos ? 1n : 1000n;
  let off = FH_LEN;
  let n = 0;
  while (off < bytes.length) {
    n++;
    if (bytes.length - off < RH_LEN) {
      return fail(`record ${n} at byte ${off}: header is truncated (${bytes.length - off} of ${RH_LEN} bytes)`, off);
    }
    const sec = u32(bytes, off + RH_TS_SEC, le);
    const frac = u32(bytes, off + RH_TS_FRAC, le);
    const incl = u32(bytes, off + RH_INCL_LEN, le);
    const orig = u32(bytes, off + RH_ORIG_LEN, le);
    const dataOff = off + RH_LEN;
    if (incl > bytes.length - dataOff) {
      return fail(`record ${n} at byte ${off} is truncated (${bytes.length - dataOff} of ${incl} bytes)`, off);
    }
    records.push({
      linkType,
      timestampNs: BigInt(sec) * 1_000_000_000n + BigInt(frac) * fracNs,
      data: bytes.subarray(dataOff, dataOff + incl),
      origLen: orig,
      interface: 0,
      direction: Direction.Unknown,
    });
    off = dataOff + incl;
  }
  return { format: "pcap", records, error: null };
}

/** Options for `writePcap`. */
export interface PcapWriteOptions {
  /** Link type of every record (default Ethernet). */
  linkType?: number;
  /** Snapshot length written in the header (default 262144). */
  snapLen?: number;
  /** Write the nanosecond magic (default true). */
  nanos?: boolean;
}

/**
 * A classic pcap file (little-endian) from packets: mainly for crafting test inputs. Returns one
 * buffer.
 */
export function writePcap(
  packets: readonly { data: Uint8Array; timestampNs?: bigint; origLen?: number }[],
  options: PcapWriteOptions = {},
): Uint8Array {
  const nanos = options.nanos ?? true;
  let total = FH_LEN;
  for (const p of packets) total += RH_LEN + p.data.length;
  const out = new Uint8Array(total);
  const put32 = (o: number, v: number) => {
    out[o] = v & 0xff;
    out[o + 1] = (v >>> 8) & 0xff;
    out[o + 2] = (v >>> 16) & 0xff;
    out[o + 3] = (v >>> 24) & 0xff;
  };
  put32(FH_MAGIC, nanos ? MAGIC_NS : MAGIC_US);
  out[FH_VERSION_MAJOR] = 2;
  out[FH_VERSION_MINOR] = 4;
  put32(FH_SNAPLEN, options.snapLen ?? 262144);
  put32(FH_LINKTYPE, options.linkType ?? LINKTYPE_ETHERNET);
  let off = FH_LEN;
  for (const p of packets) {
    const ts = p.timestampNs ?? 0n;
    const sec = ts / 1_000_000_000n;
    const rem = ts % 1_000_000_000n;
    put32(off + RH_TS_SEC, Number(sec & 0xffffffffn));
    put32(off + RH_TS_FRAC, Number(nanos ? rem : rem / 1000n));
    put32(off + RH_INCL_LEN, p.data.length);
    put32(off + RH_ORIG_LEN, p.origLen ?? p.data.length);
    out.set(p.data, off + RH_LEN);
    off += RH_LEN + p.data.length;
  }
  return out;
}
