import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Direction, writePcap } from "./pcap.ts";
import { BlockType, isPcapng, PcapngWriter, readCapture, readPcapng } from "./pcapng.ts";

// A little-endian file as `PcapngWriter` writes it: SHB (shb_userappl "netstack"), IDB (if_name
// "eth0", if_tsresol 9), EPB on interface 0 at 1 s + 5 ns, outbound, 3 data bytes.
// biome-ignore format: packet bytes
const WRITTEN = Uint8Array.of(
  // SHB: type, total 44, byte-order magic, 1.0, section length -1
  0x0a, 0x0d, 0x0d, 0x0a, 0x2c, 0x00, 0x00, 0x00, 0x4d, 0x3c, 0x2b, 0x1a, 0x01, 0x00, 0x00, 0x00,
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0x04, 0x00, 0x08, 0x00, 0x6e, 0x65, 0x74, 0x73, 0x74, 0x61, 0x63, 0x6b, // shb_userappl
  0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00,
  // IDB: type 1, total 40, link type 1, snaplen 0
  0x01, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x02, 0x00, 0x04, 0x00, 0x65, 0x74, 0x68, 0x30, // if_name "eth0"
  0x09, 0x00, 0x01, 0x00, 0x09, 0x00, 0x00, 0x00, // if_tsresol 9
  0x00, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00,
  // EPB: type 6, total 48, interface 0, ts 1000000005 (high 0, low 0x3b9aca05), caplen 3, orig 3
  0x06, 0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x05, 0xca, 0x9a, 0x3b, 0x03, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
  0xaa, 0xbb, 0xcc, 0x00,
  0x02, 0x00, 0x04, 0x00, 0x02, 0x00, 0x00, 0x00, // epb_flags: outbound
  0x00, 0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00,
);

test("pcapng writer: exact bytes of SHB, IDB and EPB", () => {
  const w = new PcapngWriter();
  const id = w.addInterface({ name: "eth0" });
  assert.equal(id, 0);
  const chunk = w.packet(id, 1_000_000_005n, Uint8Array.of(0xaa, 0xbb, 0xcc), Direction.Outbound);
  assert.deepEqual(chunk, WRITTEN);
  // Later packets are a bare EPB.
  const next = w.packet(id, 2n, Uint8Array.of(1), Direction.Inbound);
  assert.equal(next.length, 12 + 20 + 4 + 12);
  assert.equal(next[0], BlockType.EnhancedPacket);
  assert.equal(w.header().length, 0);
});

test("pcapng writer: header() alone is a valid empty capture; unknown interface is a RangeError", () => {
  const w = new PcapngWriter({ application: "test" });
  w.addInterface();
  const head = w.header();
  const r = readPcapng(head);
  assert.equal(r.error, null);
  assert.equal(r.records.length, 0);
  assert.throws(() => w.packet(1, 0n, new Uint8Array(1)), /interface 1 was not added/);
});

test("pcapng reader: reads the writer's bytes", () => {
  assert.ok(isPcapng(WRITTEN));
  const r = readPcapng(WRITTEN);
  assert.equal(r.error, null);
  assert.equal(r.format, "pcapng");
  assert.equal(r.records.length, 1);
  const rec = r.records[0];
  assert.equal(rec.linkType, 1);
  assert.equal(rec.timestampNs, 1_000_000_005n);
  assert.equal(rec.direction, Direction.Outbound);
  assert.equal(rec.origLen, 3);
  assert.deepEqual([...rec.data], [0xaa, 0xbb, 0xcc]);
  assert.equal(rec.data.buffer, WRITTEN.buffer);
});

test("pcapng writer/reader round trip: several interfaces, directions, timestamps", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          iface: fc.integer({ min: 0, max: 2 }),
          ts: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
          data: fc.uint8Array({ maxLength: 70 }),
          dir: fc.constantFrom(Direction.Unknown, Direction.Inbound, Direction.Outbound),
        }),
        { maxLength: 10 },
      ),
      (packets) => {
        const w = new PcapngWriter();
        for (let i = 0; i < 3; i++) w.addInterface({ name: `if${i}` });
        const chunks = packets.map((p) => w.packet(p.iface, p.ts, p.data, p.dir));
        const file = concat([w.header(), ...chunks]);
        const r = readPcapng(file);
        assert.equal(r.error, null);
        assert.equal(r.records.length, packets.length);
        r.records.forEach((rec, i) => {
          assert.equal(rec.interface, packets[i].iface);
          assert.equal(rec.timestampNs, packets[i].ts);
          assert.equal(rec.direction, packets[i].dir);
          assert.deepEqual(rec.data, packets[i].data);
        });
      },
    ),
  );
});

/** Blocks in either byte order, for crafting files the writer does not produce. */
function block(le: boolean, type: number, body: number[]): number[] {
  const total = 12 + body.length;
  return [...u32(le, type), ...u32(le, total), ...body, ...u32(le, total)];
}
function u32(le: boolean, v: number): number[] {
  const be = [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
  return le ? be.reverse() : be;
}
function u16(le: boolean, v: number): number[] {
  return le ? [v & 0xff, v >> 8] : [v >> 8, v & 0xff];
}
function shb(le: boolean): number[] {
  return block(le, BlockType.SectionHeader, [
    ...u32(le, 0x1a2b3c4d),
    ...u16(le, 1),
    ...u16(le, 0),
    ...u32(le, 0xffffffff),
    ...u32(le, 0xffffffff),
  ]);
}
function idb(le: boolean, linkType: number, snap: number, tsresol?: number, tsoffset?: number): number[] {
  const opts: number[] = [];
  if (tsresol !== undefined) opts.push(...u16(le, 9), ...u16(le, 1), tsresol, 0, 0, 0);
  if (tsoffset !== undefined)
    opts.push(
      ...u16(le, 14),
      ...u16(le, 8),
      ...(le ? [...u32(le, tsoffset), 0, 0, 0, 0] : [0, 0, 0, 0, ...u32(le, tsoffset)]),
    );
  if (opts.length > 0) opts.push(0, 0, 0, 0);
  return block(le, BlockType.InterfaceDescription, [...u16(le, linkType), 0, 0, ...u32(le, snap), ...opts]);
}
function epb(le: boolean, iface: number, ts: bigint, data: number[], orig = data.length): number[] {
  const pad = (4 - (data.length % 4)) % 4;
  return block(le, BlockType.EnhancedPacket, [
    ...u32(le, iface),
    ...u32(le, Number(ts >> 32n)),
    ...u32(le, Number(ts & 0xffffffffn)),
    ...u32(le, data.length),
    ...u32(le, orig),
    ...data,
    ...new Array<number>(pad).fill(0),
  ]);
}
function spb(le: boolean, orig: number, data: number[]): number[] {
  const pad = (4 - (data.length % 4)) % 4;
  return block(le, BlockType.SimplePacket, [...u32(le, orig), ...data, ...new Array<number>(pad).fill(0)]);
}

test("pcapng reader: two sections of different byte order, interfaces, resolutions, SPB, unknown blocks", () => {
  const file = Uint8Array.from([
    // Section 1, big-endian: default resolution (microseconds), an unknown block, an SPB.
    ...shb(false),
    ...idb(false, 1, 5),
    ...block(false, 0x0badcafe, [1, 2, 3, 4]),
    ...epb(false, 0, 1_500_000n, [1, 2, 3]),
    ...spb(false, 8, [9, 8, 7, 6, 5, 4, 3, 2]),
    // Section 2, little-endian: two interfaces; 2^-10 s units; 10^-3 s units with a 100 s offset.
    ...shb(true),
    ...idb(true, 1, 0, 0x80 | 10),
    ...idb(true, 113, 0, 3, 100),
    ...block(true, BlockType.NameResolution, [0, 0, 0, 0]),
    ...epb(true, 1, 2500n, [0xee], 60),
    ...epb(true, 0, 3072n, [0xdd, 0xcc]),
  ]);
  const r = readPcapng(file);
  assert.equal(r.error, null);
  const got = r.records.map((x) => [x.interface, x.linkType, x.timestampNs, [...x.data], x.origLen]);
  assert.deepEqual(got, [
    [0, 1, 1_500_000_000n, [1, 2, 3], 3],
    // SPB: interface 0 of its section, no timestamp, captured length cut to the snaplen (5).
    [0, 1, null, [9, 8, 7, 6, 5], 8],
    // Interfaces are numbered across the file: section 2's interface 1 is the third.
    [2, 113, 102_500_000_000n, [0xee], 60],
    [1, 1, 3_000_000_000n, [0xdd, 0xcc], 2],
  ]);
  // readCapture detects the format.
  assert.equal(readCapture(file).records.length, 4);
  assert.equal(readCapture(writePcap([{ data: Uint8Array.of(1) }])).format, "pcap");
});

test("pcapng reader: malformed files give an error value, keeping earlier records", () => {
  const good = [...shb(true), ...idb(true, 1, 0), ...epb(true, 0, 1n, [1, 2, 3, 4])];
  const err = (bytes: number[]) => String(readPcapng(Uint8Array.from(bytes)).error);
  assert.match(err([...idb(true, 1, 0)]), /does not start with a section header block/);
  const badBom = shb(true);
  badBom[8] = 0;
  assert.match(err(badBom), /bad byte-order magic/);
  const badTrailer = good.slice();
  badTrailer[badTrailer.length - 1] = 1;
  assert.match(err(badTrailer), /trailing length does not match/);
  const badLen = shb(true);
  badLen[4] = 13;
  assert.match(err(badLen), /bad length 13/);
  assert.match(err([...shb(true), ...epb(true, 0, 1n, [1])]), /names interface 0, not described/);
  assert.match(err([...shb(true), ...idb(true, 1, 0, 40)]), /if_tsresol 40 is out of range/);
  const v2 = shb(true);
  v2[12] = 2;
  assert.match(err(v2), /unsupported version 2/);
  // A captured length past the block.
  const over = [...shb(true), ...idb(true, 1, 0), ...epb(true, 0, 1n, [1, 2, 3, 4])];
  over[over.length - 4 - 4 - 4 - 4] = 200;
  assert.match(err(over), /captured length 200 exceeds the block/);
  // Every truncation: never throws; the records read so far are kept.
  const two = [...good, ...epb(true, 0, 2n, [5])];
  const boundaries = [0, 28, 28 + 20, good.length];
  for (let n = 0; n < two.length; n++) {
    const r = readPcapng(Uint8Array.from(two.slice(0, n)));
    if (boundaries.includes(n)) assert.equal(r.error, null);
    else assert.ok(r.error !== null, `truncated at ${n}`);
    assert.equal(r.records.length, n >= good.length ? 1 : 0);
  }
  assert.match(
    String(readCapture(Uint8Array.of(1, 2, 3, 4, 5)).error),
    /not a pcap or pcapng file \(starts 01 02 03 04\)/,
  );
  assert.match(String(readCapture(new Uint8Array(0)).error), /the file is empty/);
});

test("pcapng reader: random and mutated bytes never throw or read out of bounds", () => {
  const w = new PcapngWriter();
  w.addInterface({ name: "x" });
  const file = concat([
    w.packet(0, 7n, Uint8Array.of(1, 2, 3, 4, 5), Direction.Inbound),
    w.packet(0, 8n, Uint8Array.of(6)),
  ]);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      readPcapng(bytes);
      readCapture(bytes);
    }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: file.length - 1 }), fc.integer({ min: 0, max: 255 }), (i, v) => {
      const f = file.slice();
      f[i] = v;
      for (const rec of readPcapng(f).records) assert.ok(rec.data.byteOffset + rec.data.length <= f.length);
    }),
  );
});

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
