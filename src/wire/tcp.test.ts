import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parseV4, parseV6 } from "../ip/addr.ts";
import { Buf } from "../packet/buf.ts";
import { BytesBody } from "../packet/serialize.ts";
import { pseudoSum } from "./checksum.ts";
import { isError, type ParseError } from "./errors.ts";
import {
  builderFromRepr,
  SKIP_CHECKSUM,
  TcpBuilder,
  TcpFlags,
  type TcpRepr,
  TcpView,
  tcpFlagsString,
  tcpSegLen,
  toRepr,
} from "./tcp.ts";
import { TcpOptions, tcpOptionsLen, tcpOptionsToRepr, tcpSackBlocksWritten, writeTcpOptions } from "./tcp-options.ts";

// Segments sent by Linux 6.x over a TAP in a network namespace (the peer was a script): the host is
// 10.9.0.1 / 2001:db8::1, the peer 10.9.0.2 / 2001:db8::2. Checksums are the kernel's.
const SRC4 = parseV4("10.9.0.1")!;
const DST4 = parseV4("10.9.0.2")!;
const SRC6 = parseV6("2001:db8::1")!;
const DST6 = parseV6("2001:db8::2")!;

// SYN: MSS 1460, SACK-permitted, TS, NOP, WS 10.
// biome-ignore format: packet bytes
const SYN_V4 = new Uint8Array([
  0xaf, 0xfe, 0x00, 0x50, 0x2c, 0x57, 0x65, 0x57, 0x00, 0x00, 0x00, 0x00,
  0xa0, 0x02, 0xfa, 0xf0, 0xbc, 0x2a, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
  0x04, 0x02, 0x08, 0x0a, 0xdc, 0x71, 0x5e, 0x5e, 0x00, 0x00, 0x00, 0x00,
  0x01, 0x03, 0x03, 0x0a,
]);
// SYN-ACK from a listening socket.
// biome-ignore format: packet bytes
const SYNACK_V4 = new Uint8Array([
  0x1f, 0x90, 0xa7, 0xf8, 0xb5, 0xde, 0x85, 0xe2, 0x00, 0x00, 0x03, 0xe9,
  0xa0, 0x12, 0xfe, 0x88, 0x47, 0x60, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
  0x04, 0x02, 0x08, 0x0a, 0xb7, 0x48, 0x2c, 0x6b, 0x00, 0x00, 0x03, 0x09,
  0x01, 0x03, 0x03, 0x0a,
]);
// Pure ACK: NOP NOP TS.
// biome-ignore format: packet bytes
const ACK_V4 = new Uint8Array([
  0xaf, 0xfe, 0x00, 0x50, 0x2c, 0x57, 0x65, 0x58, 0x10, 0x00, 0x00, 0x01,
  0x80, 0x10, 0x00, 0x3f, 0xc2, 0x11, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a,
  0xdc, 0x71, 0x5e, 0x5f, 0x00, 0x00, 0x13, 0x88,
]);
// Data with timestamps: PSH+ACK "GET / HTTP/1.0\r\n\r\n".
// biome-ignore format: packet bytes
const DATA_V4 = new Uint8Array([
  0xaf, 0xfe, 0x00, 0x50, 0x2c, 0x57, 0x65, 0x58, 0x10, 0x00, 0x00, 0x01,
  0x80, 0x18, 0x00, 0x3f, 0xe3, 0x57, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a,
  0xdc, 0x71, 0x5e, 0x5f, 0x00, 0x00, 0x13, 0x88, 0x47, 0x45, 0x54, 0x20,
  0x2f, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e, 0x30, 0x0d, 0x0a,
  0x0d, 0x0a,
]);
// Duplicate ACK with one SACK block: NOP NOP TS NOP NOP SACK.
// biome-ignore format: packet bytes
const SACK1_V4 = new Uint8Array([
  0xaf, 0xfe, 0x00, 0x50, 0x2c, 0x57, 0x65, 0x6a, 0x10, 0x00, 0x00, 0x01,
  0xb0, 0x10, 0x00, 0x3f, 0x6a, 0xba, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a,
  0xdc, 0x71, 0x5e, 0x5f, 0x00, 0x00, 0x13, 0x88, 0x01, 0x01, 0x05, 0x0a,
  0x10, 0x00, 0x00, 0x65, 0x10, 0x00, 0x00, 0xc9,
]);
// Two SACK blocks, the most recent first (RFC 2018 section 4).
// biome-ignore format: packet bytes
const SACK2_V4 = new Uint8Array([
  0xaf, 0xfe, 0x00, 0x50, 0x2c, 0x57, 0x65, 0x6a, 0x10, 0x00, 0x00, 0x01,
  0xd0, 0x10, 0x00, 0x3f, 0x27, 0xec, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a,
  0xdc, 0x71, 0x5e, 0x5f, 0x00, 0x00, 0x13, 0x88, 0x01, 0x01, 0x05, 0x12,
  0x10, 0x00, 0x01, 0x2d, 0x10, 0x00, 0x01, 0x91, 0x10, 0x00, 0x00, 0x65,
  0x10, 0x00, 0x00, 0xc9,
]);
// FIN+ACK carrying the same SACK blocks.
// biome-ignore format: packet bytes
const FIN_V4 = new Uint8Array([
  0xaf, 0xfe, 0x00, 0x50, 0x2c, 0x57, 0x65, 0x6a, 0x10, 0x00, 0x00, 0x01,
  0xd0, 0x11, 0x00, 0x3f, 0x27, 0xeb, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a,
  0xdc, 0x71, 0x5e, 0x5f, 0x00, 0x00, 0x13, 0x88, 0x01, 0x01, 0x05, 0x12,
  0x10, 0x00, 0x01, 0x2d, 0x10, 0x00, 0x01, 0x91, 0x10, 0x00, 0x00, 0x65,
  0x10, 0x00, 0x00, 0xc9,
]);
// The same exchange over IPv6 (MSS 1440).
// biome-ignore format: packet bytes
const SYN_V6 = new Uint8Array([
  0xc5, 0x7e, 0x00, 0x50, 0x7b, 0x9a, 0xe8, 0x69, 0x00, 0x00, 0x00, 0x00,
  0xa0, 0x02, 0xfd, 0x20, 0x96, 0xdb, 0x00, 0x00, 0x02, 0x04, 0x05, 0xa0,
  0x04, 0x02, 0x08, 0x0a, 0x35, 0x46, 0xf9, 0x86, 0x00, 0x00, 0x00, 0x00,
  0x01, 0x03, 0x03, 0x0a,
]);
// biome-ignore format: packet bytes
const SYNACK_V6 = new Uint8Array([
  0x1f, 0x90, 0xa7, 0xf8, 0xd4, 0x7a, 0xce, 0x9a, 0x00, 0x00, 0x03, 0xe9,
  0xa0, 0x12, 0xfb, 0x04, 0xdb, 0x36, 0x00, 0x00, 0x02, 0x04, 0x05, 0xa0,
  0x04, 0x02, 0x08, 0x0a, 0xa6, 0xba, 0xfe, 0x05, 0x00, 0x00, 0x03, 0x09,
  0x01, 0x03, 0x03, 0x0a,
]);
// biome-ignore format: packet bytes
const DATA_V6 = new Uint8Array([
  0xc5, 0x7e, 0x00, 0x50, 0x7b, 0x9a, 0xe8, 0x6a, 0x10, 0x00, 0x00, 0x01,
  0x80, 0x18, 0x00, 0x40, 0xc0, 0x24, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a,
  0x35, 0x46, 0xf9, 0x86, 0x00, 0x00, 0x13, 0x88, 0x47, 0x45, 0x54, 0x20,
  0x2f, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e, 0x30, 0x0d, 0x0a,
  0x0d, 0x0a,
]);
// biome-ignore format: packet bytes
const SACK2_V6 = new Uint8Array([
  0xc5, 0x7e, 0x00, 0x50, 0x7b, 0x9a, 0xe8, 0x7c, 0x10, 0x00, 0x00, 0x01,
  0xd0, 0x10, 0x00, 0x40, 0x04, 0xb9, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a,
  0x35, 0x46, 0xf9, 0x86, 0x00, 0x00, 0x13, 0x88, 0x01, 0x01, 0x05, 0x12,
  0x10, 0x00, 0x01, 0x2d, 0x10, 0x00, 0x01, 0x91, 0x10, 0x00, 0x00, 0x65,
  0x10, 0x00, 0x00, 0xc9,
]);

const V4_FIXTURES = { SYN_V4, SYNACK_V4, ACK_V4, DATA_V4, SACK1_V4, SACK2_V4, FIN_V4 };
const V6_FIXTURES = { SYN_V6, SYNACK_V6, DATA_V6, SACK2_V6 };

function p4(len: number): number {
  return pseudoSum(SRC4, DST4, 6, len);
}
function p6(len: number): number {
  return pseudoSum(SRC6, DST6, 6, len);
}

function parseOk(bytes: Uint8Array, pseudo: number): TcpView {
  const v = TcpView.parse(bytes, 0, bytes.length, pseudo);
  if (isError(v)) assert.fail(`parse failed: ${v}`);
  return v;
}

function parseErr(bytes: Uint8Array, pseudo = SKIP_CHECKSUM): string {
  const v = TcpView.parse(bytes, 0, bytes.length, pseudo);
  assert.ok(isError(v), "expected a parse error");
  return (v as ParseError).reason;
}

/** Serialize `t` with `payload` as the body into a fresh buffer prefilled with `fill`. */
function emit(t: TcpBuilder, payload: Uint8Array = new Uint8Array(0), fill = 0): Uint8Array {
  const hl = t.headerLen;
  const out = new Uint8Array(hl + payload.length).fill(fill);
  out.set(payload, hl);
  t.serialize(out, 0, payload.length);
  return out;
}

test("deconstruct a Linux SYN with MSS, SACK-permitted, timestamps and window scale", () => {
  const v = parseOk(SYN_V4, p4(SYN_V4.length));
  assert.equal(v.srcPort, 45054);
  assert.equal(v.dstPort, 80);
  assert.equal(v.seq, 0x2c576557);
  assert.equal(v.ack, 0);
  assert.equal(v.dataOffset, 10);
  assert.equal(v.headerLen, 40);
  assert.equal(v.flags, TcpFlags.SYN);
  assert.equal(v.reserved, 0);
  assert.equal(v.window, 64240);
  assert.equal(v.checksum, 0xbc2a);
  assert.equal(v.urgent, 0);
  assert.equal(v.optionsOff, 20);
  assert.equal(v.optionsLen, 20);
  assert.equal(v.payloadOff, 40);
  assert.equal(v.payloadLen, 0);
  assert.equal(tcpSegLen(v), 1);
  const o = v.readOptions(new TcpOptions());
  assert.equal(o.mss, 1460);
  assert.equal(o.wscale, 10);
  assert.equal(o.sackPermitted, true);
  assert.equal(o.sackCount, 0);
  assert.equal(o.hasTs, true);
  assert.equal(o.tsVal, 0xdc715e5e);
  assert.equal(o.tsEcr, 0);
});

test("deconstruct a SYN-ACK, a data segment and SACK acknowledgments", () => {
  const sa = parseOk(SYNACK_V4, p4(40));
  assert.equal(sa.flags, TcpFlags.SYN | TcpFlags.ACK);
  assert.equal(sa.seq, 0xb5de85e2);
  assert.equal(sa.ack, 1001);
  assert.equal(tcpFlagsString(sa.flags), "SA");
  const so = sa.readOptions(new TcpOptions());
  assert.deepEqual([so.mss, so.wscale, so.sackPermitted, so.tsVal, so.tsEcr], [1460, 10, true, 0xb7482c6b, 777]);

  const d = parseOk(DATA_V4, p4(DATA_V4.length));
  assert.equal(d.flags, TcpFlags.PSH | TcpFlags.ACK);
  assert.equal(tcpFlagsString(d.flags), "PA");
  assert.equal(d.ack, 0x10000001);
  assert.equal(d.window, 63);
  assert.equal(d.headerLen, 32);
  assert.equal(new TextDecoder().decode(d.payload()), "GET / HTTP/1.0\r\n\r\n");
  assert.equal(tcpSegLen(d), 18);
  const dop = d.readOptions(new TcpOptions());
  assert.deepEqual([dop.mss, dop.wscale, dop.sackPermitted, dop.sackCount], [-1, -1, false, 0]);
  assert.deepEqual([dop.hasTs, dop.tsVal, dop.tsEcr], [true, 0xdc715e5f, 5000]);

  const s = parseOk(SACK2_V4, p4(SACK2_V4.length));
  const o = s.readOptions(new TcpOptions());
  assert.equal(o.sackCount, 2);
  assert.deepEqual(Array.from(o.sack.subarray(0, 4)), [0x1000012d, 0x10000191, 0x10000065, 0x100000c9]);

  const f = parseOk(FIN_V4, p4(FIN_V4.length));
  assert.equal(tcpFlagsString(f.flags), "FA");
  assert.equal(tcpSegLen(f), 1);
});

test("construct: the builder writes each Linux segment byte for byte", () => {
  const t = new TcpBuilder(SRC4, DST4);
  t.srcPort = 45054;
  t.dstPort = 80;
  t.seq = 0x2c576557;
  t.flags = TcpFlags.SYN;
  t.window = 64240;
  t.options.mss = 1460;
  t.options.sackPermitted = true;
  t.options.setTs(0xdc715e5e, 0);
  t.options.wscale = 10;
  assert.equal(t.headerLen, 40);
  assert.deepEqual(emit(t), SYN_V4);

  // The same builder, reused for the data segment.
  t.seq = 0x2c576558;
  t.ack = 0x10000001;
  t.flags = TcpFlags.PSH | TcpFlags.ACK;
  t.window = 63;
  t.options.clear().setTs(0xdc715e5f, 5000);
  assert.equal(t.headerLen, 32);
  assert.deepEqual(emit(t, new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n")), DATA_V4);

  t.seq = 0x2c57656a;
  t.flags = TcpFlags.ACK;
  t.options.addSack(0x1000012d, 0x10000191);
  t.options.addSack(0x10000065, 0x100000c9);
  assert.deepEqual(emit(t), SACK2_V4);

  // IPv6: only the addresses change.
  const t6 = new TcpBuilder(SRC6, DST6);
  t6.srcPort = 0xc57e;
  t6.dstPort = 80;
  t6.seq = 0x7b9ae869;
  t6.flags = TcpFlags.SYN;
  t6.window = 0xfd20;
  t6.options.mss = 1440;
  t6.options.sackPermitted = true;
  t6.options.setTs(0x3546f986, 0);
  t6.options.wscale = 10;
  assert.deepEqual(emit(t6), SYN_V6);
});

test("construct through the nested serializer: header written in front of the body", () => {
  const t = new TcpBuilder(SRC4, DST4);
  Object.assign(t, { srcPort: 45054, dstPort: 80, seq: 0x2c576558, ack: 0x10000001, flags: 0x18, window: 63 });
  t.options.setTs(0xdc715e5f, 5000);
  const buf = new BytesBody(DATA_V4.subarray(32)).wrapIn(t).serialize({ prefix: 34 });
  assert.ok(buf instanceof Buf);
  assert.equal(buf.start, 34);
  assert.deepEqual(buf.body(), DATA_V4);
});

test("repr round trip: every Linux segment re-serializes byte-identically, v4 and v6", () => {
  for (const [name, seg] of Object.entries(V4_FIXTURES)) {
    const v = parseOk(seg, p4(seg.length));
    const r = toRepr(v);
    assert.equal(r.rawOptions, undefined, `${name}: Linux layout needs no raw options`);
    assert.deepEqual(emit(builderFromRepr(r, SRC4, DST4), v.payload()), seg, name);
  }
  for (const [name, seg] of Object.entries(V6_FIXTURES)) {
    const v = parseOk(seg, p6(seg.length));
    const r = toRepr(v);
    assert.equal(r.rawOptions, undefined, name);
    assert.deepEqual(emit(builderFromRepr(r, SRC6, DST6), v.payload()), seg, name);
  }
});

test("repr has the decode --json options shape", () => {
  const syn = toRepr(parseOk(SYN_V4, p4(40)));
  assert.deepEqual(syn, {
    srcPort: 45054,
    dstPort: 80,
    seq: 0x2c576557,
    ack: 0,
    flags: TcpFlags.SYN,
    window: 64240,
    urgent: 0,
    options: { mss: 1460, wscale: 10, sackPermitted: true, ts: [0xdc715e5e, 0] },
    payloadLen: 0,
  });
  assert.equal(JSON.stringify(syn.options), '{"mss":1460,"wscale":10,"sackPermitted":true,"ts":[3698417246,0]}');
  const sack = toRepr(parseOk(SACK2_V4, p4(52)));
  assert.deepEqual(sack.options, {
    sack: [
      [0x1000012d, 0x10000191],
      [0x10000065, 0x100000c9],
    ],
    ts: [0xdc715e5f, 5000],
  });
});

test("another stack's option layout is kept as raw bytes and re-serialized verbatim", () => {
  // A Windows-style SYN: MSS, NOP, WS 8, NOP, NOP, SACK-permitted; then an unknown option and EOL padding.
  const t = new TcpBuilder(SRC4, DST4);
  Object.assign(t, { srcPort: 50000, dstPort: 443, seq: 123456789, flags: TcpFlags.SYN, window: 65535 });
  t.rawOptions = new Uint8Array([2, 4, 5, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2, 0xfe, 4, 0xab, 0xcd, 0]);
  assert.equal(t.headerLen, 40);
  const seg = emit(t, new Uint8Array(0), 0xaa);
  assert.deepEqual(Array.from(seg.subarray(36)), [0, 0, 0, 0], "padding is zeroed");
  const v = parseOk(seg, p4(seg.length));
  const r = toRepr(v);
  assert.deepEqual(r.options, { mss: 1460, wscale: 8, sackPermitted: true });
  assert.ok(r.rawOptions !== undefined);
  assert.deepEqual(emit(builderFromRepr(r, SRC4, DST4)), seg);
  // Without the raw bytes the Linux layout is used (and is shorter).
  const canonical = emit(builderFromRepr({ ...r, rawOptions: undefined }, SRC4, DST4));
  assert.equal(canonical.length, 32);
  assert.deepEqual(Array.from(canonical.subarray(20)), [2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 8]);
});

test("reserved bits and urgent pointer survive the round trip", () => {
  const t = new TcpBuilder(SRC4, DST4);
  Object.assign(t, { srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: 0xff, window: 5, urgent: 0x1234, reserved: 1 });
  const seg = emit(t, new Uint8Array([9, 9, 9]));
  const v = parseOk(seg, p4(seg.length));
  assert.equal(v.reserved, 1);
  assert.equal(v.urgent, 0x1234);
  assert.equal(tcpFlagsString(v.flags), "FSRPAUEC");
  assert.equal(tcpSegLen(v), 5);
  const r = toRepr(v);
  assert.equal(r.reserved, 1);
  assert.deepEqual(emit(builderFromRepr(r, SRC4, DST4), v.payload()), seg);
});

test("checksums: IPv4 and IPv6 pseudo-headers are both verified", () => {
  for (const seg of Object.values(V6_FIXTURES)) {
    parseOk(seg, p6(seg.length));
    assert.equal(parseErr(seg, p4(seg.length)), "bad-checksum", "a v6 segment fails with a v4 pseudo-header");
    const otherDst = DST6.slice();
    otherDst[15] = 3;
    assert.equal(parseErr(seg, pseudoSum(SRC6, otherDst, 6, seg.length)), "bad-checksum");
  }
  for (const seg of Object.values(V4_FIXTURES)) {
    assert.equal(parseErr(seg, pseudoSum(SRC4, (DST4 + 1) >>> 0, 6, seg.length)), "bad-checksum");
    assert.equal(parseErr(seg, pseudoSum(SRC4, DST4, 17, seg.length)), "bad-checksum");
  }
  // Any flipped bit of header or payload is caught.
  for (let i = 0; i < DATA_V4.length; i++) {
    const bad = DATA_V4.slice();
    bad[i] ^= i === 12 ? 0x01 : 0x10; // in byte 12 a reserved bit, not the data offset
    // In the options a flip may break their structure first; elsewhere only the checksum can tell.
    const reason = parseErr(bad, p4(bad.length));
    if (i < 20 || i >= 32) assert.equal(reason, "bad-checksum", `byte ${i}`);
  }
  // SKIP_CHECKSUM accepts it.
  const bad = DATA_V4.slice();
  bad[40] ^= 1;
  assert.ok(!isError(TcpView.parse(bad, 0, bad.length, SKIP_CHECKSUM)));
});

test("malformed: every truncation is an error, never a throw", () => {
  for (const seg of [...Object.values(V4_FIXTURES), ...Object.values(V6_FIXTURES)]) {
    for (let n = 0; n < 20; n++) assert.equal(parseErr(seg.subarray(0, n)), "too-short");
    // Cut inside the header: the data offset points past the end.
    const hl = (seg[12] >> 4) * 4;
    for (let n = 20; n < hl; n++) assert.equal(parseErr(seg.subarray(0, n)), "bad-data-offset");
    // Cut inside the payload: the checksum no longer matches.
    for (let n = hl; n < seg.length; n++) assert.equal(parseErr(seg.subarray(0, n), p4(n)), "bad-checksum");
  }
  // A range outside the array.
  assert.ok(isError(TcpView.parse(SYN_V4, 30, 20, SKIP_CHECKSUM)));
  assert.ok(isError(TcpView.parse(SYN_V4, -1, 20, SKIP_CHECKSUM)));
});

test("malformed: data offset below 5 or past the segment", () => {
  for (let doff = 0; doff < 5; doff++) {
    const bad = ACK_V4.slice();
    bad[12] = doff << 4;
    assert.equal(parseErr(bad), "bad-data-offset");
  }
  const past = ACK_V4.slice();
  past[12] = 9 << 4; // 36 bytes of header in a 32-byte segment
  assert.equal(parseErr(past), "bad-data-offset");
  const exact = ACK_V4.slice();
  exact[12] = 8 << 4;
  assert.ok(!isError(TcpView.parse(exact, 0, exact.length, SKIP_CHECKSUM)));
});

test("malformed options: length 0, 1, past the end, wrong length for a known kind", () => {
  const withOptions = (opts: number[]): Uint8Array => {
    const seg = new Uint8Array(20 + opts.length);
    seg.set(ACK_V4.subarray(0, 20));
    seg[12] = ((20 + opts.length) / 4) << 4;
    seg.set(opts, 20);
    return seg;
  };
  assert.equal(parseErr(withOptions([0xfe, 0, 1, 1])), "bad-option-length");
  assert.equal(parseErr(withOptions([0xfe, 1, 1, 1])), "bad-option-length");
  assert.equal(parseErr(withOptions([1, 1, 0xfe, 3])), "option-truncated");
  assert.equal(parseErr(withOptions([1, 1, 1, 8])), "option-truncated");
  assert.equal(parseErr(withOptions([2, 3, 5, 1])), "bad-option-length");
  assert.equal(parseErr(withOptions([1, 1, 5, 2])), "bad-option-length");
  // Well-formed: unknown kind skipped; EOL then garbage ignored.
  assert.ok(!isError(TcpView.parse(withOptions([0xfe, 4, 1, 2]), 0, 24, SKIP_CHECKSUM)));
  assert.ok(!isError(TcpView.parse(withOptions([0, 0xfe, 0, 9]), 0, 24, SKIP_CHECKSUM)));
});

test("a failed parseFrom leaves a reused view as it was", () => {
  const v = parseOk(DATA_V4, p4(DATA_V4.length));
  assert.ok(isError(v.parseFrom(SYN_V4, 0, 10, SKIP_CHECKSUM)));
  assert.equal(v.bytes, DATA_V4);
  assert.equal(v.payloadLen, 18);
  assert.equal(v.parseFrom(SYN_V4, 0, 40, p4(40)), null);
  assert.equal(v.bytes, SYN_V4);
  assert.equal(v.payloadLen, 0);
});

test("SACK blocks are limited to what fits in 40 option bytes", () => {
  const t = new TcpBuilder(SRC4, DST4);
  t.flags = TcpFlags.ACK;
  for (let i = 0; i < 4; i++) t.options.addSack(i * 100, i * 100 + 50);
  assert.equal(t.options.addSack(1, 2), false, "a fifth block is refused");
  assert.equal(t.headerLen, 20 + 4 + 32); // four blocks alone: 36 bytes
  t.options.setTs(1, 2);
  assert.equal(tcpSackBlocksWritten(t.options), 3);
  assert.equal(t.headerLen, 20 + 12 + 4 + 24); // Linux: timestamps leave room for three
  const seg = emit(t);
  const o = parseOk(seg, p4(seg.length)).readOptions(new TcpOptions());
  assert.equal(o.sackCount, 3);
  assert.deepEqual(Array.from(o.sack.subarray(0, 6)), [0, 50, 100, 150, 200, 250]);
});

test("no leak: every header byte is written, whatever the buffer held", () => {
  const t = new TcpBuilder(SRC6, DST6);
  Object.assign(t, { srcPort: 0x1234, dstPort: 0x5678, seq: 0x01020304, ack: 0x05060708, flags: 0x10, window: 100 });
  const cases: ((o: TcpOptions) => void)[] = [
    () => {},
    (o) => {
      o.mss = 1460;
      o.sackPermitted = true;
      o.wscale = 7;
    },
    (o) => {
      o.mss = 536;
      o.sackPermitted = true;
      o.setTs(0x11223344, 0x55667788);
      o.wscale = 14;
    },
    (o) => {
      o.setTs(7, 8);
      o.addSack(0x10, 0x20);
      o.addSack(0x30, 0x40);
    },
  ];
  const payload = new Uint8Array([1, 2, 3]);
  for (const set of cases) {
    t.options.clear();
    set(t.options);
    const a = emit(t, payload, 0xaa);
    const b = emit(t, payload, 0x55);
    assert.deepEqual(a, b, "the prior contents made a difference");
    assert.ok(!a.subarray(0, t.headerLen).includes(0xaa));
  }
  t.rawOptions = new Uint8Array([1, 1, 1, 1, 1]);
  assert.deepEqual(emit(t, payload, 0xaa), emit(t, payload, 0x55));
});

const arbOptions = fc.record({
  mss: fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: undefined }),
  wscale: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
  sackPermitted: fc.option(fc.constant(true), { nil: undefined }),
  sack: fc.option(
    fc.array(fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })), { minLength: 1, maxLength: 4 }),
    {
      nil: undefined,
    },
  ),
  ts: fc.option(fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })), { nil: undefined }),
});

const arbRepr = fc.record({
  srcPort: fc.nat({ max: 0xffff }),
  dstPort: fc.nat({ max: 0xffff }),
  seq: fc.nat({ max: 0xffffffff }),
  ack: fc.nat({ max: 0xffffffff }),
  flags: fc.nat({ max: 0xff }),
  window: fc.nat({ max: 0xffff }),
  urgent: fc.nat({ max: 0xffff }),
  options: arbOptions,
});

test("property: headerLen's fast path and the inline NOP NOP TS agree with the general option code", () => {
  fc.assert(
    fc.property(arbRepr, (gen) => {
      const options = JSON.parse(JSON.stringify(gen.options));
      const t = builderFromRepr({ ...gen, options, payloadLen: 0 }, SRC4, DST4);
      const ol = tcpOptionsLen(t.options);
      assert.equal(t.headerLen, 20 + ol);
      const seg = new Uint8Array(t.headerLen);
      // The length the serializer passes, and none (the builder computes it): same bytes.
      t.serialize(seg, 0, 0, t.headerLen);
      const again = new Uint8Array(t.headerLen);
      t.serialize(again, 0, 0);
      assert.deepEqual(again, seg);
      const want = new Uint8Array(ol);
      writeTcpOptions(want, 0, t.options);
      assert.deepEqual(seg.subarray(20), want);
    }),
  );
});

test("property: random reprs serialize, parse (v4 and v6) and come back equal", () => {
  fc.assert(
    fc.property(arbRepr, fc.uint8Array({ maxLength: 64 }), fc.boolean(), (gen, payload, v6) => {
      // Drop undefined keys (the repr only has the options present).
      const options = JSON.parse(JSON.stringify(gen.options));
      const repr: TcpRepr = { ...gen, options, payloadLen: payload.length };
      const [src, dst] = v6 ? [SRC6, DST6] : [SRC4, DST4];
      const t = builderFromRepr(repr, src, dst);
      const seg = emit(t, payload);
      const v = TcpView.parse(seg, 0, seg.length, pseudoSum(src, dst, 6, seg.length));
      if (isError(v)) throw new Error(`parse failed: ${v}`);
      const back = toRepr(v);
      // SACK blocks that did not fit were dropped by the builder.
      const expected = tcpOptionsToRepr(t.options);
      if (expected.sack !== undefined) {
        expected.sack = expected.sack.slice(0, tcpSackBlocksWritten(t.options));
        if (expected.sack.length === 0) delete expected.sack;
      }
      assert.deepEqual(back, { ...repr, options: expected });
      assert.deepEqual(v.payload(), payload);
      assert.deepEqual(emit(builderFromRepr(back, src, dst), payload), seg);
    }),
  );
});

test("property: random bytes and mutated real segments never throw; a parsed view stays in bounds", () => {
  const view = new TcpView();
  const opts = new TcpOptions();
  const check = (bytes: Uint8Array, off: number, len: number, pseudo: number): void => {
    const e = view.parseFrom(bytes, off, len, pseudo);
    if (e !== null) return;
    assert.ok(view.headerLen >= 20 && view.headerLen <= view.len);
    assert.ok(view.payloadOff + view.payloadLen <= bytes.length);
    view.readOptions(opts);
    toRepr(view);
  };
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(8), fc.nat(100), (bytes, off, len) => {
      check(bytes, off, len, SKIP_CHECKSUM);
      check(bytes, off, len, p4(len));
    }),
  );
  const all = [...Object.values(V4_FIXTURES), ...Object.values(V6_FIXTURES)];
  fc.assert(
    fc.property(fc.constantFrom(...all), fc.array(fc.tuple(fc.nat(), fc.nat(255))), (seg, edits) => {
      const m = seg.slice();
      for (const [i, x] of edits) m[i % m.length] = x;
      check(m, 0, m.length, SKIP_CHECKSUM);
    }),
  );
});
