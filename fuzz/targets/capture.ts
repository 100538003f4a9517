/**
 * Targets "pcap" and "pcapng": the capture readers (`readPcap`, `readPcapng`, `readCapture`). They
 * must never throw; every record's bytes must be a subarray of the file inside its bounds; the
 * error, when there is one, must point inside the file; and a file read without error must read
 * back the same after `writePcap` / `PcapngWriter` re-write its records.
 */
import { type CaptureResult, Direction, readPcap, writePcap } from "../../src/capture/pcap.ts";
import { BlockType, PcapngWriter, readCapture, readPcapng } from "../../src/capture/pcapng.ts";
import type { Rng } from "../../src/testing/rng.ts";
import { type FuzzTarget, hex, type LengthField, parseStats } from "../target.ts";
import { pick, randomBytes } from "./util.ts";

/** Invariants every capture result must hold. */
export function checkCaptureResult(input: Uint8Array, r: CaptureResult): string | null {
  const lo = input.byteOffset;
  const hi = lo + input.length;
  for (let i = 0; i < r.records.length; i++) {
    const rec = r.records[i];
    const d = rec.data;
    if (!(d instanceof Uint8Array)) return `record ${i} has no bytes`;
    if (d.length > 0 && (d.buffer !== input.buffer || d.byteOffset < lo || d.byteOffset + d.length > hi)) {
      return `record ${i} bytes [${d.byteOffset - lo}, ${d.byteOffset - lo + d.length}) outside the file of ${input.length}`;
    }
    if (!Number.isInteger(rec.origLen) || rec.origLen < 0 || rec.origLen > 0xffffffff) {
      return `record ${i} origLen ${rec.origLen}`;
    }
    if (!Number.isInteger(rec.linkType) || rec.linkType < 0) return `record ${i} linkType ${rec.linkType}`;
    if (!Number.isInteger(rec.interface) || rec.interface < 0) return `record ${i} interface ${rec.interface}`;
    if (rec.timestampNs !== null && typeof rec.timestampNs !== "bigint") return `record ${i} timestamp not a bigint`;
  }
  if (r.error !== null) {
    if (typeof r.error.message !== "string" || r.error.message.length === 0) return "an error without a message";
    if (!Number.isInteger(r.error.offset) || r.error.offset < 0 || r.error.offset > input.length) {
      return `error offset ${r.error.offset} outside the file of ${input.length} bytes: ${r.error.message}`;
    }
  }
  return null;
}

function sameRecords(a: CaptureResult, b: CaptureResult, what: string, withTs: boolean): string | null {
  if (b.error !== null) return `${what} re-written file does not read: ${b.error.message}`;
  if (a.records.length !== b.records.length)
    return `${what} re-written file has ${b.records.length} records, want ${a.records.length}`;
  for (let i = 0; i < a.records.length; i++) {
    const x = a.records[i];
    const y = b.records[i];
    if (hex(x.data) !== hex(y.data)) return `${what} record ${i} bytes changed by the re-write`;
    if (x.origLen !== y.origLen) return `${what} record ${i} origLen ${y.origLen}, want ${x.origLen}`;
    if (x.linkType !== y.linkType) return `${what} record ${i} linkType ${y.linkType}, want ${x.linkType}`;
    if (x.direction !== y.direction) return `${what} record ${i} direction ${y.direction}, want ${x.direction}`;
    if (withTs && x.timestampNs !== null && x.timestampNs !== y.timestampNs) {
      return `${what} record ${i} timestamp ${y.timestampNs}, want ${x.timestampNs}`;
    }
  }
  return null;
}

export function runPcap(input: Uint8Array): string | null {
  const r = readPcap(input);
  const e = checkCaptureResult(input, r);
  if (e !== null) return e;
  if (r.format !== "pcap") return `readPcap said format ${r.format}`;
  if (r.error !== null) return null;
  parseStats.ok++;
  if (r.records.length === 0) return null;
  const linkType = r.records[0].linkType;
  const out = writePcap(
    r.records.map((x) => ({ data: x.data, timestampNs: x.timestampNs ?? 0n, origLen: x.origLen })),
    { linkType },
  );
  const limit = 0x100000000n * 1_000_000_000n;
  const tsFits = r.records.every((x) => x.timestampNs === null || x.timestampNs < limit);
  return sameRecords(r, readPcap(out), "pcap", tsFits);
}

export function runPcapng(input: Uint8Array): string | null {
  const r = readPcapng(input);
  const e = checkCaptureResult(input, r);
  if (e !== null) return e;
  if (r.format !== "pcapng") return `readPcapng said format ${r.format}`;
  const any = readCapture(input);
  const e2 = checkCaptureResult(input, any);
  if (e2 !== null) return `readCapture: ${e2}`;
  if (r.error !== null) return null;
  parseStats.ok++;
  if (r.records.length === 0) return null;
  const w = new PcapngWriter();
  const ids = new Map<number, number>();
  const parts: Uint8Array[] = [];
  const limit = 1n << 64n;
  let tsFits = true;
  for (const x of r.records) {
    let id = ids.get(x.interface);
    if (id === undefined) {
      id = w.addInterface({ linkType: x.linkType });
      ids.set(x.interface, id);
    }
    const ts = x.timestampNs ?? 0n;
    if (ts < 0n || ts >= limit) tsFits = false;
    parts.push(w.packet(id, ts, x.data, x.direction, x.origLen));
  }
  return sameRecords(r, readPcapng(concat(parts)), "pcapng", tsFits);
}

function concat(parts: Uint8Array[]): Uint8Array {
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

/** Groups of 1 to 3 frames. */
function groups(frames: readonly Uint8Array[]): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  for (let i = 0; i < frames.length; i += 3) out.push(frames.slice(i, i + 3).map((f) => f.subarray(0, 200)));
  return out;
}

function put32(b: Uint8Array, o: number, v: number, le: boolean): void {
  for (let i = 0; i < 4; i++) b[o + i] = (v >>> (8 * (le ? i : 3 - i))) & 0xff;
}

const MAGICS = [0xa1b2c3d4, 0xa1b23c4d];

export const pcapTarget: FuzzTarget = {
  name: "pcap",
  description: "classic pcap reader: never throws, records inside the file, write/read round trip",
  maxLen: 256,
  seedsFromFrames: (frames) =>
    groups(frames).flatMap((g, i) => [
      writePcap(
        g.map((data) => ({ data, timestampNs: BigInt(i) * 1_000_123_456n })),
        { nanos: i % 2 === 0 },
      ),
    ]),
  builtSeeds: () => [writePcap([]), writePcap([{ data: Uint8Array.of(1, 2, 3), origLen: 1500 }], { linkType: 228 })],
  lengthFields(b) {
    // incl_len and orig_len of every record a loose walk finds (little-endian files).
    const le = b.length >= 4 && b[0] !== 0xa1;
    const fields: LengthField[] = [{ off: 4, size: 2, le }];
    let o = 24;
    for (let n = 0; n < 16 && o + 16 <= b.length; n++) {
      fields.push({ off: o + 8, size: 4, le }, { off: o + 12, size: 4, le });
      const incl = le
        ? (b[o + 8] | (b[o + 9] << 8) | (b[o + 10] << 16) | (b[o + 11] << 24)) >>> 0
        : ((b[o + 8] << 24) | (b[o + 9] << 16) | (b[o + 10] << 8) | b[o + 11]) >>> 0;
      o += 16 + incl;
    }
    return fields;
  },
  /** A header in either byte order and records whose lengths are mostly right. */
  soup(rng) {
    const le = rng.chance(0.5);
    const n = rng.int(4);
    const recs = Array.from({ length: n }, () => randomBytes(rng, rng.int(40)));
    let total = 24;
    for (const r of recs) total += 16 + r.length;
    const out = new Uint8Array(total);
    put32(out, 0, pick(rng, MAGICS), le);
    out[le ? 4 : 5] = rng.chance(0.9) ? 2 : rng.int(4);
    out[le ? 6 : 7] = 4;
    put32(out, 16, 65535, le);
    put32(out, 20, rng.chance(0.8) ? 1 : rng.uint32(), le);
    let o = 24;
    for (const r of recs) {
      put32(out, o, rng.uint32(), le);
      put32(out, o + 4, rng.chance(0.8) ? rng.int(1_000_000) : rng.uint32(), le);
      put32(out, o + 8, rng.chance(0.85) ? r.length : rng.uint32() >>> rng.int(32), le);
      put32(out, o + 12, rng.uint32() >>> rng.int(32), le);
      out.set(r, o + 16);
      o += 16 + r.length;
    }
    return out;
  },
  run: runPcap,
};

const BLOCKS = [
  BlockType.SectionHeader,
  BlockType.InterfaceDescription,
  BlockType.EnhancedPacket,
  BlockType.SimplePacket,
  BlockType.NameResolution,
  BlockType.InterfaceStatistics,
  2,
  0x0bad,
];

/** A pcapng option list: codes 0..15 with values of 0..12 bytes, mostly ended by opt_endofopt. */
function optionSoup(rng: Rng, le: boolean): Uint8Array {
  const n = rng.int(4);
  const parts: number[] = [];
  const push16 = (v: number): void => {
    if (le) parts.push(v & 0xff, v >>> 8);
    else parts.push(v >>> 8, v & 0xff);
  };
  for (let i = 0; i < n; i++) {
    const code = rng.int(16);
    const len = rng.int(13);
    push16(code);
    push16(rng.chance(0.85) ? len : rng.int(0x10000));
    const val = code === 9 ? [rng.chance(0.5) ? rng.int(20) : rng.int(256)] : [];
    while (val.length < len) val.push(rng.int(256));
    while (val.length % 4 !== 0) val.push(0);
    parts.push(...val);
  }
  if (rng.chance(0.8)) parts.push(0, 0, 0, 0);
  return Uint8Array.from(parts);
}

export const pcapngTarget: FuzzTarget = {
  name: "pcapng",
  description: "pcapng reader (SHB, IDB options, EPB, SPB, unknown blocks): never throws, records inside, round trip",
  maxLen: 256,
  seedsFromFrames(frames) {
    return groups(frames).map((g, i) => {
      const w = new PcapngWriter({ application: "fuzz" });
      const id = w.addInterface({ name: `if${i}` });
      const parts = g.map((f, k) => w.packet(id, BigInt(i * 1000 + k), f, (k % 3) as Direction));
      return concat(parts);
    });
  },
  builtSeeds() {
    const w = new PcapngWriter();
    w.addInterface({ name: "a" });
    w.addInterface({ name: "b", linkType: 101, snapLen: 64 });
    return [w.header(), concat([w.packet(1, 5n, Uint8Array.of(0x45, 0, 0, 20), Direction.Outbound, 99)])];
  },
  lengthFields(b) {
    // The leading and trailing total length of every block a loose walk finds.
    const le = !(b.length >= 12 && b[8] === 0x1a);
    const fields: LengthField[] = [];
    let o = 0;
    for (let n = 0; n < 16 && o + 12 <= b.length; n++) {
      const total = le
        ? (b[o + 4] | (b[o + 5] << 8) | (b[o + 6] << 16) | (b[o + 7] << 24)) >>> 0
        : ((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0;
      fields.push({ off: o + 4, size: 4, le });
      if (o + total - 4 >= 0 && o + total <= b.length) fields.push({ off: o + total - 4, size: 4, le });
      if (o + 24 <= b.length) fields.push({ off: o + 20, size: 4, le });
      if (total < 12) break;
      o += total;
    }
    return fields;
  },
  /** A section header and random blocks with consistent lengths and option soup. */
  soup(rng) {
    const le = rng.chance(0.7);
    const blocks: Uint8Array[] = [];
    const n = 1 + rng.int(5);
    for (let i = 0; i < n; i++) {
      const type = i === 0 && rng.chance(0.9) ? BlockType.SectionHeader : pick(rng, BLOCKS);
      let fixed: Uint8Array;
      if (type === BlockType.SectionHeader) {
        fixed = new Uint8Array(16);
        put32(fixed, 0, 0x1a2b3c4d, le);
        fixed[le ? 4 : 5] = rng.chance(0.9) ? 1 : rng.int(3);
        fixed.fill(0xff, 8);
      } else if (type === BlockType.InterfaceDescription) {
        fixed = randomBytes(rng, 8);
      } else if (type === BlockType.EnhancedPacket) {
        const data = rng.int(24);
        fixed = new Uint8Array(20 + ((data + 3) & ~3));
        put32(fixed, 0, rng.chance(0.8) ? rng.int(2) : rng.uint32(), le);
        put32(fixed, 4, rng.uint32(), le);
        put32(fixed, 8, rng.uint32(), le);
        put32(fixed, 12, rng.chance(0.8) ? data : rng.uint32() >>> rng.int(32), le);
        put32(fixed, 16, rng.uint32() >>> rng.int(32), le);
      } else {
        fixed = randomBytes(rng, 4 * rng.int(6));
      }
      const opts = type === BlockType.SimplePacket ? new Uint8Array(0) : optionSoup(rng, le);
      const total = 12 + fixed.length + opts.length;
      const blk = new Uint8Array(total);
      put32(blk, 0, type, le);
      put32(blk, 4, total, le);
      blk.set(fixed, 8);
      blk.set(opts, 8 + fixed.length);
      put32(blk, total - 4, total, le);
      blocks.push(blk);
    }
    return concat(blocks);
  },
  run: runPcapng,
};
