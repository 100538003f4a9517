/**
 * pcapng capture files (draft-ietf-opsawg-pcapng, "PCAP Next Generation Dump File Format"):
 * a reader and a writer over `Uint8Array`.
 *
 * Reader: Section Header Blocks in either byte order (each section has its own byte order and its
 * own interfaces), Interface Description Blocks with `if_tsresol` and `if_tsoffset`, Enhanced
 * Packet Blocks (with `epb_flags` direction), Simple Packet Blocks; every other block is skipped by
 * its length. Records borrow their bytes from the file. Malformed files never throw.
 *
 * Writer: one SHB, one IDB per interface (link type Ethernet, `if_tsresol` = 9: nanoseconds), and
 * EPBs with `epb_flags` inbound/outbound. Each call returns the bytes to append to the file.
 */
import {
  CaptureError,
  type CaptureRecord,
  type CaptureResult,
  Direction,
  isPcap,
  LINKTYPE_ETHERNET,
  readPcap,
  u16,
  u32,
} from "./pcap.ts";

// Block types (section 11.1).
export const BlockType = {
  SectionHeader: 0x0a0d0d0a,
  InterfaceDescription: 0x00000001,
  SimplePacket: 0x00000003,
  NameResolution: 0x00000004,
  InterfaceStatistics: 0x00000005,
  EnhancedPacket: 0x00000006,
} as const;

const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
// Option codes (sections 3.5, 4.2, 4.3).
const OPT_ENDOFOPT = 0;
const OPT_SHB_USERAPPL = 4;
const OPT_IF_NAME = 2;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;
const OPT_EPB_FLAGS = 2;

// Block layout: type (4), total length (4), body, total length (4).
const BLOCK_HDR = 8;
const BLOCK_MIN = 12;
// SHB body: byte-order magic (4), major (2), minor (2), section length (8), options.
const SHB_FIXED = 16;
// IDB body: link type (2), reserved (2), snaplen (4), options.
const IDB_FIXED = 8;
// EPB body: interface id (4), timestamp high (4), low (4), captured len (4), original len (4), data.
const EPB_FIXED = 20;
// SPB body: original len (4), data.
const SPB_FIXED = 4;

interface Iface {
  linkType: number;
  snapLen: number;
  /** Timestamp units: `units` per second, as a power of 10 (`pow10`) or of 2. */
  tsresol: number;
  tsoffsetSec: bigint;
  /** Index across the whole file. */
  index: number;
}

/** True when the bytes start with a pcapng Section Header Block. */
export function isPcapng(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && u32(bytes, 0, false) === BlockType.SectionHeader;
}

/** Convert a timestamp in an interface's units to nanoseconds since the epoch. */
function toNs(ts: bigint, tsresol: number, offsetSec: bigint): bigint {
  const off = offsetSec * 1_000_000_000n;
  // Section 4.2, if_tsresol: most significant bit clear = negative power of 10, set = of 2.
  if ((tsresol & 0x80) === 0) {
    const p = tsresol;
    if (p <= 9) return ts * 10n ** BigInt(9 - p) + off;
    return ts / 10n ** BigInt(p - 9) + off;
  }
  const p = BigInt(tsresol & 0x7f);
  return (ts * 1_000_000_000n) / (1n << p) + off;
}

/** Read a pcapng file. Never throws. */
export function readPcapng(bytes: Uint8Array): CaptureResult {
  const records: CaptureRecord[] = [];
  const fail = (message: string, offset: number): CaptureResult => ({
    format: "pcapng",
    records,
    error: new CaptureError(`pcapng: ${message}`, offset),
  });
  let le = true;
  let inSection = false;
  let ifaces: Iface[] = [];
  let ifaceCount = 0;
  let off = 0;
  while (off < bytes.length) {
    if (bytes.length - off < BLOCK_MIN) {
      return fail(`block at byte ${off} is truncated (${bytes.length - off} bytes left)`, off);
    }
    const typeBE = u32(bytes, off, false);
    if (typeBE === BlockType.SectionHeader) {
      // The SHB's byte-order magic decides how this block's own length is read.
      const bom = u32(bytes, off + BLOCK_HDR, false);
      if (bom === BYTE_ORDER_MAGIC) le = false;
      else if (u32(bytes, off + BLOCK_HDR, true) === BYTE_ORDER_MAGIC) le = true;
      else return fail(`section header at byte ${off} has a bad byte-order magic`, off + BLOCK_HDR);
    } else if (!inSection) {
      return fail("file does not start with a section header block", off);
    }
    const type = u32(bytes, off, le);
    const total = u32(bytes, off + 4, le);
    if (total < BLOCK_MIN || total % 4 !== 0) {
      return fail(`block at byte ${off} has a bad length ${total}`, off + 4);
    }
    if (total > bytes.length - off) {
      return fail(`block at byte ${off} is truncated (${bytes.length - off} of ${total} bytes)`, off);
    }
    if (u32(bytes, off + total - 4, le) !== total) {
      return fail(`block at byte ${off}: trailing length does not match ${total}`, off + total - 4);
    }
    const body = off + BLOCK_HDR;
    const bodyLen = total - BLOCK_MIN;
    switch (type) {
      case BlockType.SectionHeader: {
        if (bodyLen < SHB_FIXED) return fail(`section header at byte ${off} is too short`, off);
        const major = u16(bytes, body + 4, le);
        if (major !== 1) return fail(`unsupported version ${major} in section at byte ${off}`, body + 4);
        // Section 4.1: interface ids are per section.
        inSection = true;
        ifaces = [];
        break;
      }
      case BlockType.InterfaceDescription: {
        if (bodyLen < IDB_FIXED) return fail(`interface description at byte ${off} is too short`, off);
        const iface: Iface = {
          linkType: u16(bytes, body, le),
          snapLen: u32(bytes, body + 4, le),
          tsresol: 6,
          tsoffsetSec: 0n,
          index: ifaceCount++,
        };
        const err = readOptions(bytes, body + IDB_FIXED, body + bodyLen, le, (code, o, len) => {
          if (code === OPT_IF_TSRESOL) {
            if (len < 1) return "if_tsresol is empty";
            const r = bytes[o];
            if ((r & 0x80) === 0 ? r > 18 : (r & 0x7f) > 63) return `if_tsresol ${r} is out of range`;
            iface.tsresol = r;
          } else if (code === OPT_IF_TSOFFSET) {
            if (len < 8) return "if_tsoffset is shorter than 8 bytes";
            const hi = u32(bytes, le ? o + 4 : o, le);
            const lo = u32(bytes, le ? o : o + 4, le);
            iface.tsoffsetSec = BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
          }
          return null;
        });
        if (err !== null) return fail(`interface description at byte ${off}: ${err}`, off);
        ifaces.push(iface);
        break;
      }
      case BlockType.EnhancedPacket: {
        if (bodyLen < EPB_FIXED) return fail(`enhanced packet at byte ${off} is too short`, off);
        const id = u32(bytes, body, le);
        const iface = ifaces[id];
        if (iface === undefined) {
          return fail(`enhanced packet at byte ${off} names interface ${id}, not described`, body);
        }
        const ts = (BigInt(u32(bytes, body + 4, le)) << 32n) | BigInt(u32(bytes, body + 8, le));
        const capLen = u32(bytes, body + 12, le);
        const origLen = u32(bytes, body + 16, le);
        const dataOff = body + EPB_FIXED;
        const padded = (capLen + 3) & ~3;
        if (capLen > bodyLen - EPB_FIXED || padded > bodyLen - EPB_FIXED) {
          return fail(`enhanced packet at byte ${off}: captured length ${capLen} exceeds the block`, body + 12);
        }
        let direction: Direction = Direction.Unknown;
        const err = readOptions(bytes, dataOff + padded, body + bodyLen, le, (code, o, len) => {
          if (code === OPT_EPB_FLAGS && len >= 4) {
            // Section 4.3.1, epb_flags bits 0-1: 01 inbound, 10 outbound.
            const d = u32(bytes, o, le) & 3;
            direction = d === 1 ? Direction.Inbound : d === 2 ? Direction.Outbound : Direction.Unknown;
          }
          return null;
        });
        if (err !== null) return fail(`enhanced packet at byte ${off}: ${err}`, off);
        records.push({
          linkType: iface.linkType,
          timestampNs: toNs(ts, iface.tsresol, iface.tsoffsetSec),
          data: bytes.subarray(dataOff, dataOff + capLen),
          origLen,
          interface: iface.index,
          direction,
        });
        break;
      }
      case BlockType.SimplePacket: {
        if (bodyLen < SPB_FIXED) return fail(`simple packet at byte ${off} is too short`, off);
        const iface = ifaces[0];
        if (iface === undefined) return fail(`simple packet at byte ${off} before any interface`, off);
        const origLen = u32(bytes, body, le);
        // Section 4.4: captured length = min(original length, snaplen, room in the block).
        let capLen = Math.min(origLen, bodyLen - SPB_FIXED);
        if (iface.snapLen > 0) capLen = Math.min(capLen, iface.snapLen);
        const dataOff = body + SPB_FIXED;
        records.push({
          linkType: iface.linkType,
          timestampNs: null,
          data: bytes.subarray(dataOff, dataOff + capLen),
          origLen,
          interface: iface.index,
          direction: Direction.Unknown,
        });
        break;
      }
      default:
        // Section 3.1: unknown blocks are skipped by their length.
        break;
    }
    off += total;
  }
  return { format: "pcapng", records, error: null };
}

/**
 * Walk an option list `[off, end)`; `visit` returns an error message or null. Returns an error
 * message for a malformed list, else null. Section 3.5: code (2), length (2), value padded to 4.
 */
function readOptions(
  b: Uint8Array,
  off: number,
  end: number,
  le: boolean,
  visit: (code: number, valueOff: number, len: number) => string | null,
): string | null {
  let o = off;
  while (end - o >= 4) {
    const code = u16(b, o, le);
    const len = u16(b, o + 2, le);
    if (code === OPT_ENDOFOPT) return null;
    const padded = (len + 3) & ~3;
    if (padded > end - o - 4) return `option ${code} overruns the block`;
    const err = visit(code, o + 4, len);
    if (err !== null) return err;
    o += 4 + padded;
  }
  return null;
}

/** Read a pcap or pcapng file, by its magic number. Never throws. */
export function readCapture(bytes: Uint8Array): CaptureResult {
  if (isPcapng(bytes)) return readPcapng(bytes);
  if (isPcap(bytes)) return readPcap(bytes);
  const head = Array.from(bytes.subarray(0, 4), (x) => x.toString(16).padStart(2, "0")).join(" ");
  return {
    format: "pcap",
    records: [],
    error: new CaptureError(
      bytes.length === 0 ? "capture: the file is empty" : `capture: not a pcap or pcapng file (starts ${head})`,
      0,
    ),
  };
}

// ---- writer ----

/** An interface to declare in the capture. */
export interface PcapngInterface {
  /** `if_name`, e.g. "tap0". */
  name?: string;
  /** Link type (default Ethernet). */
  linkType?: number;
  /** Snapshot length (default 0: no limit). */
  snapLen?: number;
}

const encoder = new TextEncoder();

/** Little-endian block assembly. */
class BlockWriter {
  readonly out: Uint8Array;
  o = 0;
  constructor(len: number) {
    this.out = new Uint8Array(len);
  }
  u16(v: number): void {
    this.out[this.o++] = v & 0xff;
    this.out[this.o++] = (v >>> 8) & 0xff;
  }
  u32(v: number): void {
    this.u16(v & 0xffff);
    this.u16(v >>> 16);
  }
  bytes(b: Uint8Array): void {
    this.out.set(b, this.o);
    // Padding to 4 stays zero (fresh buffer).
    this.o += (b.length + 3) & ~3;
  }
  option(code: number, value: Uint8Array): void {
    this.u16(code);
    this.u16(value.length);
    this.bytes(value);
  }
}

function optLen(valueLen: number): number {
  return 4 + ((valueLen + 3) & ~3);
}

/**
 * A pcapng writer. Declare interfaces with `addInterface`; each `packet()` returns the bytes to
 * append to the file, preceded (the first time) by the section header and by the descriptions of
 * interfaces not yet written. `header()` returns those pending blocks alone (for a capture that
 * may stay empty). Blocks are little-endian.
 */
export class PcapngWriter {
  private readonly interfaces: PcapngInterface[] = [];
  private written = 0;
  private started = false;
  private readonly application: Uint8Array;

  constructor(options: { application?: string } = {}) {
    this.application = encoder.encode(options.application ?? "netstack");
  }

  /** Declare an interface; returns its id for `packet()`. */
  addInterface(iface: PcapngInterface = {}): number {
    this.interfaces.push(iface);
    return this.interfaces.length - 1;
  }

  /** The section header and interface descriptions not yet returned (possibly empty). */
  header(): Uint8Array {
    const parts: Uint8Array[] = [];
    if (!this.started) {
      parts.push(this.sectionHeader());
      this.started = true;
    }
    while (this.written < this.interfaces.length) {
      parts.push(this.interfaceBlock(this.interfaces[this.written++]));
    }
    return concat(parts);
  }

  /**
   * An Enhanced Packet Block for `data` captured on interface `iface` at `timestampNs` (ns since
   * the epoch), with `epb_flags` set from `direction`; preceded by any pending header blocks.
   */
  packet(
    iface: number,
    timestampNs: bigint,
    data: Uint8Array,
    direction: Direction = Direction.Unknown,
    origLen = data.length,
  ): Uint8Array {
    if (!Number.isInteger(iface) || iface < 0 || iface >= this.interfaces.length) {
      throw new RangeError(`pcapng: interface ${iface} was not added`);
    }
    const head = this.written < this.interfaces.length || !this.started ? this.header() : null;
    const opts = direction !== Direction.Unknown ? optLen(4) + 4 : 0;
    const total = BLOCK_MIN + EPB_FIXED + ((data.length + 3) & ~3) + opts;
    const w = new BlockWriter(total);
    w.u32(BlockType.EnhancedPacket);
    w.u32(total);
    w.u32(iface);
    const ts = BigInt.asUintN(64, timestampNs);
    w.u32(Number(ts >> 32n));
    w.u32(Number(ts & 0xffffffffn));
    w.u32(data.length);
    w.u32(origLen);
    w.bytes(data);
    if (direction !== Direction.Unknown) {
      // Section 4.3.1, epb_flags bits 0-1: 01 inbound, 10 outbound.
      w.u16(OPT_EPB_FLAGS);
      w.u16(4);
      w.u32(direction);
      w.u32(OPT_ENDOFOPT);
    }
    w.u32(total);
    return head === null || head.length === 0 ? w.out : concat([head, w.out]);
  }

  private sectionHeader(): Uint8Array {
    const opts = optLen(this.application.length) + 4;
    const total = BLOCK_MIN + SHB_FIXED + opts;
    const w = new BlockWriter(total);
    w.u32(BlockType.SectionHeader);
    w.u32(total);
    w.u32(BYTE_ORDER_MAGIC);
    w.u16(1);
    w.u16(0);
    // Section length unknown: -1 (section 4.1).
    w.u32(0xffffffff);
    w.u32(0xffffffff);
    w.option(OPT_SHB_USERAPPL, this.application);
    w.u32(OPT_ENDOFOPT);
    w.u32(total);
    return w.out;
  }

  private interfaceBlock(iface: PcapngInterface): Uint8Array {
    const name = iface.name === undefined ? null : encoder.encode(iface.name);
    const opts = (name === null ? 0 : optLen(name.length)) + optLen(1) + 4;
    const total = BLOCK_MIN + IDB_FIXED + opts;
    const w = new BlockWriter(total);
    w.u32(BlockType.InterfaceDescription);
    w.u32(total);
    w.u16(iface.linkType ?? LINKTYPE_ETHERNET);
    w.u16(0);
    w.u32(iface.snapLen ?? 0);
    if (name !== null) w.option(OPT_IF_NAME, name);
    // if_tsresol = 9: timestamps in nanoseconds.
    w.option(OPT_IF_TSRESOL, Uint8Array.of(9));
    w.u32(OPT_ENDOFOPT);
    w.u32(total);
    return w.out;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
