import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Direction, isPcap, LINKTYPE_ETHERNET, readPcap, writePcap } from "./pcap.ts";

// A big-endian, microsecond pcap file (as written on a big-endian host): file header, then one
// 4-byte record at 1700000000.123456 captured from a 60-byte packet.
// biome-ignore format: packet bytes
const BE_MICRO = Uint8Array.of(
  0xa1, 0xb2, 0xc3, 0xd4, 0x00, 0x02, 0x00, 0x04, // magic, version 2.4
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // thiszone, sigfigs
  0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, // snaplen 65535, linktype 1
  0x65, 0x53, 0xf1, 0x00, 0x00, 0x01, 0xe2, 0x40, // ts 1700000000 s, 123456 us
  0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x3c, // incl 4, orig 60
  0xde, 0xad, 0xbe, 0xef,
);

// The same record little-endian with the nanosecond magic: 1700000000.000000042.
// biome-ignore format: packet bytes
const LE_NANO = Uint8Array.of(
  0x4d, 0x3c, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0xff, 0xff, 0x00, 0x00, 0x71, 0x00, 0x00, 0x00, // linktype 113 (Linux SLL)
  0x00, 0xf1, 0x53, 0x65, 0x2a, 0x00, 0x00, 0x00,
  0x04, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
  0x01, 0x02, 0x03, 0x04,
);

test("pcap: big-endian microsecond file", () => {
  assert.ok(isPcap(BE_MICRO));
  const r = readPcap(BE_MICRO);
  assert.equal(r.error, null);
  assert.equal(r.format, "pcap");
  assert.equal(r.records.length, 1);
  const rec = r.records[0];
  assert.equal(rec.linkType, LINKTYPE_ETHERNET);
  assert.equal(rec.timestampNs, 1_700_000_000_123_456_000n);
  assert.equal(rec.origLen, 60);
  assert.equal(rec.interface, 0);
  assert.equal(rec.direction, Direction.Unknown);
  assert.deepEqual([...rec.data], [0xde, 0xad, 0xbe, 0xef]);
  // Borrowed, not copied.
  assert.equal(rec.data.buffer, BE_MICRO.buffer);
  assert.equal(rec.data.byteOffset, 40);
});

test("pcap: little-endian nanosecond file", () => {
  const r = readPcap(LE_NANO);
  assert.equal(r.error, null);
  assert.equal(r.records.length, 1);
  assert.equal(r.records[0].linkType, 113);
  assert.equal(r.records[0].timestampNs, 1_700_000_000_000_000_042n);
  assert.deepEqual([...r.records[0].data], [1, 2, 3, 4]);
});

test("pcap: an empty capture (header only) has no records and no error", () => {
  const r = readPcap(BE_MICRO.subarray(0, 24));
  assert.equal(r.error, null);
  assert.equal(r.records.length, 0);
});

test("pcap: malformed files give an error value, keeping earlier records", () => {
  assert.match(String(readPcap(new Uint8Array(0)).error), /file header is truncated \(0 of 24/);
  assert.match(String(readPcap(BE_MICRO.subarray(0, 10)).error), /file header is truncated/);
  const badMagic = BE_MICRO.slice();
  badMagic[0] = 0x12;
  assert.match(String(readPcap(badMagic).error), /bad magic number 0x12b2c3d4/);
  const badVersion = BE_MICRO.slice();
  badVersion[5] = 3;
  assert.match(String(readPcap(badVersion).error), /unsupported version 3\.4/);
  // Every truncation inside the record is reported at the record's offset.
  for (let n = 25; n < BE_MICRO.length; n++) {
    const r = readPcap(BE_MICRO.subarray(0, n));
    assert.equal(r.records.length, 0);
    assert.ok(r.error !== null);
    assert.equal(r.error.offset, 24);
    assert.match(r.error.message, /^pcap: record 1 at byte 24/);
  }
  // Two records, the second cut short: the first is kept.
  const two = writePcap([{ data: Uint8Array.of(1, 2, 3) }, { data: Uint8Array.of(4, 5, 6, 7) }]);
  const cut = readPcap(two.subarray(0, two.length - 1));
  assert.equal(cut.records.length, 1);
  assert.deepEqual([...cut.records[0].data], [1, 2, 3]);
  assert.match(String(cut.error), /record 2 at byte 43 is truncated \(3 of 4 bytes\)/);
});

test("pcap: a huge incl_len is an error, not an allocation", () => {
  const f = BE_MICRO.slice();
  f.set([0xff, 0xff, 0xff, 0xf0], 32);
  assert.match(String(readPcap(f).error), /truncated \(4 of 4294967280 bytes\)/);
});

test("pcap: writePcap / readPcap round trip (micro and nano)", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          data: fc.uint8Array({ maxLength: 100 }),
          timestampNs: fc.bigInt({ min: 0n, max: 0xffffffffn * 1_000_000_000n }),
        }),
        { maxLength: 8 },
      ),
      fc.boolean(),
      (packets, nanos) => {
        const r = readPcap(writePcap(packets, { nanos }));
        assert.equal(r.error, null);
        assert.equal(r.records.length, packets.length);
        r.records.forEach((rec, i) => {
          assert.deepEqual(rec.data, packets[i].data);
          const ts = packets[i].timestampNs;
          assert.equal(rec.timestampNs, nanos ? ts : ts - (ts % 1000n));
          assert.equal(rec.origLen, packets[i].data.length);
        });
      },
    ),
  );
});

test("pcap: random bytes and mutated files never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      readPcap(bytes);
    }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: BE_MICRO.length - 1 }), fc.integer({ min: 0, max: 255 }), (i, v) => {
      const f = BE_MICRO.slice();
      f[i] = v;
      const r = readPcap(f);
      for (const rec of r.records) assert.ok(rec.data.byteOffset + rec.data.length <= f.length);
    }),
  );
});
