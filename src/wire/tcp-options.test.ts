import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  forEachTcpOption,
  readTcpOptions,
  TCP_MAX_OPTIONS_LEN,
  TcpOptions,
  tcpOptionsFromRepr,
  tcpOptionsLen,
  tcpOptionsToRepr,
  writeTcpOptions,
} from "./tcp-options.ts";

function read(opts: number[]): TcpOptions | string {
  const out = new TcpOptions();
  const e = readTcpOptions(new Uint8Array(opts), 0, opts.length, out);
  return e === null ? out : e.reason;
}

function write(o: TcpOptions): number[] {
  const b = new Uint8Array(TCP_MAX_OPTIONS_LEN).fill(0xaa);
  const n = writeTcpOptions(b, 0, o);
  assert.equal(n, tcpOptionsLen(o));
  assert.equal(n % 4, 0, "options end on a 32-bit boundary");
  return Array.from(b.subarray(0, n));
}

test("reads a Linux SYN's options (MSS, SACK-permitted, TS, NOP, WS)", () => {
  // biome-ignore format: packet bytes
  const o = read([0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0xdc, 0x71, 0x5e, 0x5e, 0, 0, 0, 0, 0x01, 0x03, 0x03, 0x0a]);
  assert.ok(o instanceof TcpOptions);
  assert.deepEqual(tcpOptionsToRepr(o), { mss: 1460, wscale: 10, sackPermitted: true, ts: [0xdc715e5e, 0] });
});

test("NOP and EOL: bytes after End of Option List are ignored, even malformed ones", () => {
  const o = read([1, 1, 2, 4, 0x02, 0x18, 0, 3, 0, 0xff, 0xff]);
  assert.ok(o instanceof TcpOptions);
  assert.equal(o.mss, 536);
  assert.equal(o.wscale, -1);
  assert.deepEqual(tcpOptionsToRepr(read([0, 2, 4, 5, 0xb4]) as TcpOptions), {});
  assert.deepEqual(tcpOptionsToRepr(read([]) as TcpOptions), {});
});

test("unknown options are skipped by their length; a repeated option overwrites", () => {
  // Kind 30 (MPTCP, 6 bytes), kind 34 (TFO cookie, 2 bytes), then MSS twice.
  const o = read([30, 6, 1, 2, 3, 4, 34, 2, 2, 4, 0x05, 0xb4, 2, 4, 0x05, 0xa0]);
  assert.ok(o instanceof TcpOptions);
  assert.deepEqual(tcpOptionsToRepr(o), { mss: 1440 });
  const seen: [number, number][] = [];
  forEachTcpOption(new Uint8Array([30, 6, 1, 2, 3, 4, 1, 34, 2, 0, 8, 10]), 0, 12, (k, _off, len) =>
    seen.push([k, len]),
  );
  assert.deepEqual(seen, [
    [30, 4],
    [34, 0],
  ]);
});

test("malformed: length 0 or 1, past the end, a kind without its length byte", () => {
  assert.equal(read([0xfe, 0]), "bad-option-length");
  assert.equal(read([1, 0xfe, 1, 0]), "bad-option-length");
  assert.equal(read([8, 10, 0, 0, 0, 0, 0, 0, 0]), "option-truncated");
  assert.equal(read([1, 1, 1, 2]), "option-truncated");
  assert.ok(read([0xfe, 3, 0]) instanceof TcpOptions, "an unknown 3-byte option exactly at the end is fine");
});

test("malformed: known options with the wrong length", () => {
  assert.equal(read([2, 3, 0x05, 1]), "bad-option-length"); // MSS is 4
  assert.equal(read([3, 4, 7, 0]), "bad-option-length"); // WS is 3
  assert.equal(read([4, 3, 0, 1]), "bad-option-length"); // SACK-permitted is 2
  assert.equal(read([5, 2, 1, 1]), "bad-option-length"); // SACK needs a block
  assert.equal(read([5, 9, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1]), "bad-option-length"); // 2 + 8n
  assert.equal(read([8, 8, 0, 0, 0, 1, 0, 0]), "bad-option-length"); // TS is 10
});

test("validation only: out = null reads nothing and reports the same errors", () => {
  assert.equal(readTcpOptions(new Uint8Array([2, 4, 5, 0xb4]), 0, 4, null), null);
  assert.equal(readTcpOptions(new Uint8Array([2, 5, 5, 0xb4, 0]), 0, 5, null)?.reason, "bad-option-length");
  // The range is honoured: the same bytes cut short are truncated.
  assert.equal(readTcpOptions(new Uint8Array([1, 2, 4, 5, 0xb4]), 1, 3, null)?.reason, "option-truncated");
});

test("writes the Linux layouts", () => {
  const o = new TcpOptions();
  assert.deepEqual(write(o), []);
  // SYN with timestamps (tcp_options_write: SACK-permitted shares the TS word).
  o.mss = 1460;
  o.sackPermitted = true;
  o.setTs(0x01020304, 0);
  o.wscale = 7;
  // biome-ignore format: option bytes
  assert.deepEqual(write(o), [2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7]);
  // SYN without timestamps: MSS, NOP NOP SACK-permitted, NOP WS.
  o.hasTs = false;
  assert.deepEqual(write(o), [2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7]);
  // Data: NOP NOP TS; with SACK: NOP NOP SACK blocks after.
  o.clear().setTs(5, 6);
  o.addSack(0x10000065, 0x100000c9);
  // biome-ignore format: option bytes
  assert.deepEqual(write(o), [1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6, 1, 1, 5, 10, 0x10, 0, 0, 0x65, 0x10, 0, 0, 0xc9]);
});

test("clear and copyFrom", () => {
  const a = new TcpOptions();
  a.mss = 9000;
  a.addSack(1, 2);
  a.setTs(3, 4);
  const b = new TcpOptions().copyFrom(a);
  assert.deepEqual(tcpOptionsToRepr(b), { mss: 9000, sack: [[1, 2]], ts: [3, 4] });
  assert.ok(!b.empty);
  b.clear();
  assert.ok(b.empty);
  assert.deepEqual(tcpOptionsToRepr(b), {});
  assert.deepEqual(tcpOptionsToRepr(a), { mss: 9000, sack: [[1, 2]], ts: [3, 4] });
});

test("property: written options read back equal; repr round trip", () => {
  const arb = fc.record({
    mss: fc.option(fc.nat({ max: 0xffff }), { nil: undefined }),
    wscale: fc.option(fc.nat({ max: 14 }), { nil: undefined }),
    sackPermitted: fc.option(fc.constant(true), { nil: undefined }),
    sack: fc.option(
      fc.array(fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })), { minLength: 1, maxLength: 2 }),
      {
        nil: undefined,
      },
    ),
    ts: fc.option(fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })), { nil: undefined }),
  });
  fc.assert(
    fc.property(arb, (gen) => {
      const repr = JSON.parse(JSON.stringify(gen));
      const o = tcpOptionsFromRepr(repr);
      assert.deepEqual(tcpOptionsToRepr(o), repr);
      const bytes = new Uint8Array(write(o));
      assert.ok(bytes.length <= TCP_MAX_OPTIONS_LEN);
      const back = new TcpOptions();
      assert.equal(readTcpOptions(bytes, 0, bytes.length, back), null);
      assert.deepEqual(tcpOptionsToRepr(back), repr);
    }),
  );
});

test("property: random option bytes never throw", () => {
  const out = new TcpOptions();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 48 }), (bytes) => {
      const e = readTcpOptions(bytes, 0, bytes.length, out);
      assert.equal(readTcpOptions(bytes, 0, bytes.length, null), e, "validation agrees with reading");
      assert.ok(out.sackCount <= 4);
    }),
  );
});
