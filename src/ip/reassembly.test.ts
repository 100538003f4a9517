import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type Ipv4Addr, type Ipv6Addr, parseV4, parseV6 } from "./addr.ts";
import { type Fragment, type Reassembled, Reassembler, type ReassemblyResult } from "./reassembly.ts";
import { Ipv4, Ipv6 } from "./version.ts";

const SRC4 = parseV4("192.0.2.1")!;
const DST4 = parseV4("198.51.100.2")!;
const SRC6 = parseV6("2001:db8::1")!;
const DST6 = parseV6("2001:db8::2")!;
const HDR = new Uint8Array([0x45, 0, 0, 0, 0xbe, 0xef, 0x20, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2]);

function pattern(n: number, seed = 1): Uint8Array {
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return p;
}

/** A fragment of `payload[offset, offset+len)`, carried inside a larger packet buffer at offset 7. */
function frag4(
  payload: Uint8Array,
  offset: number,
  len: number,
  more: boolean,
  id = 0xbeef,
  proto = 17,
): Fragment<Ipv4Addr> {
  const pkt = new Uint8Array(len + 14);
  pkt.set(payload.subarray(offset, offset + len), 7);
  return {
    src: SRC4,
    dst: DST4,
    id,
    proto,
    offset,
    more,
    bytes: pkt,
    off: 7,
    len,
    headerLen: 20,
    header: offset === 0 ? HDR : null,
  };
}

function frag6(
  payload: Uint8Array,
  offset: number,
  len: number,
  more: boolean,
  id = 0x12345678,
  proto = 58,
): Fragment<Ipv6Addr> {
  const pkt = new Uint8Array(len + 3);
  pkt.set(payload.subarray(offset, offset + len), 3);
  const src = new Uint8Array(40); // addresses are borrowed views into a packet buffer
  src.set(SRC6, 8);
  src.set(DST6, 24);
  return {
    src: src.subarray(8, 24) as Ipv6Addr,
    dst: src.subarray(24, 40) as Ipv6Addr,
    id,
    proto,
    offset,
    more,
    bytes: pkt,
    off: 3,
    len,
    headerLen: 0,
    header: offset === 0 ? new Uint8Array(40).fill(0x60, 0, 1) : null,
  };
}

function complete<A>(r: ReassemblyResult<A>): Reassembled<A> {
  assert.equal(r.kind, "complete", JSON.stringify(r));
  return r as Reassembled<A>;
}

function dropped<A>(r: ReassemblyResult<A>, reason: string, datagram: boolean): void {
  assert.deepEqual(r, { kind: "dropped", reason, datagram });
}

const pending = { kind: "pending" };

test("IPv4 fragments in order reassemble into the payload", () => {
  const R = new Reassembler(Ipv4);
  const p = pattern(3000);
  assert.deepEqual(R.insert(0, frag4(p, 0, 1480, true)), pending);
  assert.equal(R.size, 1);
  assert.ok(R.bytesBuffered >= 1480);
  assert.deepEqual(R.insert(1, frag4(p, 1480, 1480, true)), pending);
  const r = complete(R.insert(2, frag4(p, 2960, 40, false)));
  assert.deepEqual(r.payload, p);
  assert.equal(r.len, 3000);
  assert.deepEqual(r.bytes.subarray(r.off, r.off + r.len), p);
  assert.equal(r.src, SRC4);
  assert.equal(r.dst, DST4);
  assert.equal(r.id, 0xbeef);
  assert.equal(r.proto, 17);
  assert.deepEqual(r.header, HDR);
  assert.notEqual(r.header, HDR); // a copy
  assert.equal(R.size, 0);
  assert.equal(R.bytesBuffered, 0);
  assert.equal(R.nextDeadline(), null);
});

test("IPv6 fragments out of order reassemble; the offset-zero Next Header is used", () => {
  const R = new Reassembler(Ipv6, { headroom: 54 });
  const p = pattern(4000, 3);
  assert.deepEqual(R.insert(0, frag6(p, 2464, 1536, false, 7, 99)), pending);
  assert.deepEqual(R.insert(0, frag6(p, 1232, 1232, true, 7, 99)), pending);
  const r = complete(R.insert(0, frag6(p, 0, 1232, true, 7, 17)));
  assert.deepEqual(r.payload, p);
  assert.equal(r.off, 54);
  assert.equal(r.bytes.length, 54 + 4000);
  assert.equal(r.proto, 17);
  assert.equal(Ipv6.format(r.src), "2001:db8::1");
  assert.equal(Ipv6.format(r.dst), "2001:db8::2");
  assert.equal(r.header!.length, 40);
  assert.equal(R.bytesBuffered, 0);
});

test("datagrams are keyed by (src, dst, id, proto) for IPv4 and (src, dst, id) for IPv6", () => {
  const R4 = new Reassembler(Ipv4);
  const p = pattern(16);
  assert.deepEqual(R4.insert(0, frag4(p, 0, 8, true, 1, 17)), pending);
  assert.deepEqual(R4.insert(0, frag4(p, 8, 8, false, 1, 6)), pending); // another protocol: another datagram
  assert.deepEqual(R4.insert(0, frag4(p, 8, 8, false, 2, 17)), pending); // another id
  assert.equal(R4.size, 3);
  assert.deepEqual(complete(R4.insert(0, frag4(p, 8, 8, false, 1, 17))).payload, p);
  const R6 = new Reassembler(Ipv6);
  assert.deepEqual(R6.insert(0, frag6(p, 0, 8, true, 1, 17)), pending);
  assert.deepEqual(complete(R6.insert(0, frag6(p, 8, 8, false, 1, 6))).payload, p);
});

test("an exact duplicate is dropped alone; a duplicate with other bytes is an overlap", () => {
  const R = new Reassembler(Ipv4);
  const p = pattern(24);
  assert.deepEqual(R.insert(0, frag4(p, 0, 8, true)), pending);
  assert.deepEqual(R.insert(0, frag4(p, 8, 8, true)), pending);
  dropped(R.insert(0, frag4(p, 8, 8, true)), "duplicate", false);
  assert.equal(R.size, 1);
  assert.deepEqual(complete(R.insert(0, frag4(p, 16, 8, false))).payload, p);

  assert.deepEqual(R.insert(0, frag4(p, 0, 8, true)), pending);
  const evil = frag4(p, 0, 8, true);
  evil.bytes[evil.off + 3] ^= 0xff;
  dropped(R.insert(0, evil), "overlap", true);
  assert.equal(R.size, 0);
  assert.equal(R.bytesBuffered, 0);
});

test("RFC 5722: an overlapping IPv6 fragment drops the whole datagram", () => {
  const R = new Reassembler(Ipv6);
  const p = pattern(64);
  assert.deepEqual(R.insert(0, frag6(p, 0, 24, true)), pending);
  assert.deepEqual(R.insert(0, frag6(p, 40, 24, false)), pending);
  // [16, 48) overlaps both held fragments.
  dropped(R.insert(0, frag6(p, 16, 32, true)), "overlap", true);
  assert.equal(R.size, 0);
  // The datagram is gone: the missing middle now starts a new, incomplete datagram.
  assert.deepEqual(R.insert(0, frag6(p, 24, 16, true)), pending);
  assert.equal(R.size, 1);
  // Overlap on one side only, and a fragment inside another.
  const R2 = new Reassembler(Ipv6);
  assert.deepEqual(R2.insert(0, frag6(p, 8, 16, true)), pending);
  dropped(R2.insert(0, frag6(p, 0, 16, true)), "overlap", true);
  assert.deepEqual(R2.insert(0, frag6(p, 0, 32, true)), pending);
  dropped(R2.insert(0, frag6(p, 8, 8, true)), "overlap", true);
  // Adjacent (touching) fragments are not overlaps.
  const R3 = new Reassembler(Ipv6);
  assert.deepEqual(R3.insert(0, frag6(p, 16, 16, true)), pending);
  assert.deepEqual(R3.insert(0, frag6(p, 32, 32, false)), pending);
  assert.deepEqual(complete(R3.insert(0, frag6(p, 0, 16, true))).payload, p);
});

test("IPv4 overlaps drop the datagram too (Linux-like)", () => {
  const R = new Reassembler(Ipv4);
  const p = pattern(48);
  assert.deepEqual(R.insert(0, frag4(p, 0, 24, true)), pending);
  dropped(R.insert(0, frag4(p, 16, 32, false)), "overlap", true);
  assert.equal(R.size, 0);
});

test("RFC 8200 4.5: non-last fragments must be a non-zero multiple of 8 bytes", () => {
  const R = new Reassembler(Ipv6);
  const p = pattern(64);
  dropped(R.insert(0, frag6(p, 0, 12, true)), "bad-length", false);
  dropped(R.insert(0, frag6(p, 8, 0, true)), "bad-length", false);
  assert.equal(R.size, 0);
  // The last fragment may have any length.
  assert.deepEqual(R.insert(0, frag6(p, 8, 13, false)), pending);
  assert.deepEqual(complete(R.insert(0, frag6(p, 0, 8, true))).payload, p.subarray(0, 21));
});

test("a datagram longer than 65535 bytes is rejected", () => {
  const R4 = new Reassembler(Ipv4);
  const big = pattern(65535);
  // IPv4: the 20-byte header counts towards Total Length.
  dropped(R4.insert(0, frag4(big, 65512, 8, true)), "too-big", false);
  dropped(R4.insert(0, frag4(big, 65512, 4, false)), "too-big", false);
  assert.deepEqual(R4.insert(0, frag4(big, 65512, 3, false)), pending); // 20 + 65515 = 65535
  assert.equal(R4.size, 1);
  // IPv6: Payload Length excludes the fixed header; the unfragmentable extension headers count.
  const R6 = new Reassembler(Ipv6);
  assert.deepEqual(R6.insert(0, frag6(big, 65528, 7, false)), pending);
  const withExt = frag6(big, 65528, 7, false, 9);
  withExt.headerLen = 8;
  dropped(R6.insert(0, withExt), "too-big", false);
  dropped(R6.insert(0, frag6(big, 65528, 8, false, 10)), "too-big", false);
});

test("fragments past the known end, or disagreeing last fragments, drop the datagram", () => {
  const R = new Reassembler(Ipv4);
  const p = pattern(64);
  assert.deepEqual(R.insert(0, frag4(p, 16, 16, false)), pending);
  dropped(R.insert(0, frag4(p, 32, 8, true)), "inconsistent", true);
  assert.equal(R.size, 0);
  assert.deepEqual(R.insert(0, frag4(p, 16, 16, false)), pending);
  dropped(R.insert(0, frag4(p, 40, 8, false)), "inconsistent", true);
  assert.deepEqual(R.insert(0, frag4(p, 40, 8, true)), pending);
  dropped(R.insert(0, frag4(p, 16, 8, false)), "inconsistent", true); // ends before data already held
  assert.equal(R.size, 0);
  assert.equal(R.bytesBuffered, 0);
});

test("an empty last fragment fixes the length", () => {
  const R = new Reassembler(Ipv4);
  const p = pattern(16);
  assert.deepEqual(R.insert(0, frag4(p, 0, 16, true)), pending);
  assert.deepEqual(complete(R.insert(0, frag4(p, 16, 0, false))).payload, p);
});

test("RFC 6946: an atomic fragment is delivered alone, leaving other state untouched", () => {
  const R = new Reassembler(Ipv6, { headroom: 8 });
  const p = pattern(32);
  assert.deepEqual(R.insert(0, frag6(p, 8, 8, true, 5)), pending);
  const r = complete(R.insert(0, frag6(p, 0, 32, false, 5)));
  assert.deepEqual(r.payload, p);
  assert.equal(r.off, 8);
  assert.equal(R.size, 1);
});

test("timeout: expire at the deadline, time exceeded only if the first fragment arrived", () => {
  const R = new Reassembler(Ipv4);
  const p = pattern(64);
  assert.equal(R.nextDeadline(), null);
  assert.deepEqual(R.insert(1000, frag4(p, 0, 16, true, 1)), pending);
  assert.deepEqual(R.insert(5000, frag4(p, 16, 16, true, 2)), pending);
  assert.deepEqual(R.insert(6000, frag4(p, 32, 8, true, 1)), pending); // does not extend the deadline
  assert.equal(R.nextDeadline(), 61_000);
  assert.deepEqual(R.expire(60_999), []);
  const e1 = R.expire(61_000);
  assert.equal(e1.length, 1);
  assert.equal(e1[0].id, 1);
  assert.equal(e1[0].timeExceeded, true);
  assert.deepEqual(e1[0].header, HDR);
  assert.deepEqual(e1[0].firstData, p.subarray(0, 16));
  assert.equal(e1[0].src, SRC4);
  assert.equal(R.nextDeadline(), 65_000);
  const e2 = R.expire(100_000);
  assert.equal(e2.length, 1);
  assert.equal(e2[0].id, 2);
  assert.equal(e2[0].timeExceeded, false);
  assert.equal(e2[0].header, null);
  assert.equal(e2[0].firstData.length, 0);
  assert.equal(R.size, 0);
  assert.equal(R.bytesBuffered, 0);
  // Custom timeout.
  const R6 = new Reassembler(Ipv6, { timeout: 30_000 });
  R6.insert(10, frag6(p, 0, 8, true));
  assert.equal(R6.nextDeadline(), 30_010);
});

test("bounds: bytes buffered, datagram count, fragments per datagram", () => {
  const p = pattern(4096);
  const R = new Reassembler(Ipv4, { maxBytes: 3000 });
  assert.deepEqual(R.insert(0, frag4(p, 0, 1024, true, 1)), pending); // buffer of 1024 + header
  dropped(R.insert(0, frag4(p, 0, 2048, true, 2)), "memory", false);
  assert.equal(R.size, 1);
  assert.ok(R.bytesBuffered <= 3000);
  // Growing the held datagram past the bound is refused too; it stays (and can time out).
  dropped(R.insert(0, frag4(p, 1024, 2048, true, 1)), "memory", false);
  assert.equal(R.size, 1);
  // A small new datagram still fits.
  assert.deepEqual(R.insert(0, frag4(p, 0, 8, true, 3)), pending);
  assert.equal(R.expire(60_000).length, 2);
  assert.equal(R.bytesBuffered, 0);

  const C = new Reassembler(Ipv4, { maxDatagrams: 2 });
  assert.deepEqual(C.insert(0, frag4(p, 0, 8, true, 1)), pending);
  assert.deepEqual(C.insert(0, frag4(p, 0, 8, true, 2)), pending);
  dropped(C.insert(0, frag4(p, 0, 8, true, 3)), "too-many-datagrams", false);
  assert.deepEqual(C.insert(0, frag4(p, 8, 8, true, 2)), pending); // existing datagrams still accept
  assert.equal(C.size, 2);

  const F = new Reassembler(Ipv6, { maxFragments: 3 });
  for (let i = 0; i < 3; i++) assert.deepEqual(F.insert(0, frag6(p, i * 8, 8, true)), pending);
  dropped(F.insert(0, frag6(p, 24, 8, false)), "too-many-fragments", true);
  assert.equal(F.size, 0);
  assert.equal(F.bytesBuffered, 0);
});

test("memory accounting returns to zero after completion, drop and clear", () => {
  const R = new Reassembler(Ipv6);
  const p = pattern(3000);
  R.insert(0, frag6(p, 0, 1000, true, 1));
  R.insert(0, frag6(p, 1000, 1000, true, 2));
  assert.ok(R.bytesBuffered > 0);
  complete(R.insert(0, frag6(p, 1000, 2000, false, 1)));
  R.insert(0, frag6(p, 0, 1000, true, 2));
  dropped(R.insert(0, frag6(p, 0, 1000, true, 2)), "duplicate", false);
  dropped(R.insert(0, frag6(p, 500, 1000, true, 2)), "overlap", true);
  assert.equal(R.bytesBuffered, 0);
  R.insert(0, frag6(p, 0, 1000, true, 3));
  R.clear();
  assert.equal(R.bytesBuffered, 0);
  assert.equal(R.size, 0);
});

test("memory follows the bytes held, not their offsets: a fragment near the end costs its length", () => {
  const p = pattern(65000 + 8);
  const R = new Reassembler(Ipv4, { maxBytes: 4096 });
  for (let id = 1; id <= 16; id++) assert.deepEqual(R.insert(0, frag4(p, 65000, 8, true, id)), pending);
  assert.equal(R.size, 16);
  assert.ok(R.bytesBuffered <= 16 * (8 + 128), `${R.bytesBuffered}`);
  // Runs merge as the holes fill: from the end backwards, every fragment touching the run after it.
  const q = pattern(4000);
  const S = new Reassembler(Ipv6, { headroom: 54 });
  for (let off = 3000; off > 0; off -= 1000) assert.deepEqual(S.insert(0, frag6(q, off, 1000, off < 3000)), pending);
  const done = complete(S.insert(0, frag6(q, 0, 1000, true)));
  assert.deepEqual(done.payload, q);
  assert.equal(done.off, 54, "the headroom before the payload");
  assert.equal(S.bytesBuffered, 0);
});

test("random fragmentations of random payloads reassemble to the payload (property)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 3000 }),
      fc.array(fc.integer({ min: 1, max: 374 }), { maxLength: 20 }),
      fc.array(fc.nat(), { minLength: 64, maxLength: 64 }),
      fc.array(fc.nat({ max: 63 }), { maxLength: 5 }),
      fc.boolean(),
      (len, cutUnits, order, dups, v6) => {
        const p = pattern(len, len);
        // Cut points at multiples of 8 strictly inside the payload.
        const cuts = [...new Set(cutUnits.map((u) => u * 8).filter((c) => c < len))].sort((a, b) => a - b);
        const bounds = [0, ...cuts, len];
        const frags: [number, number, boolean][] = [];
        for (let i = 0; i + 1 < bounds.length; i++) {
          frags.push([bounds[i], bounds[i + 1] - bounds[i], i + 2 < bounds.length]);
        }
        const seq = frags.map((f, i) => ({ f, k: order[i % 64] + i / 100 })).sort((a, b) => a.k - b.k);
        // Exact duplicates inserted before the last distinct fragment.
        const withDups = seq.map((s) => s.f);
        for (const d of dups) withDups.splice(Math.min(d, withDups.length - 1), 0, frags[d % frags.length]);
        // The first completion comes with the fragment that fills the last hole.
        const seen = new Set<number>();
        let fillsLast = -1;
        withDups.forEach(([off], i) => {
          seen.add(off);
          if (fillsLast < 0 && seen.size === frags.length) fillsLast = i;
        });
        let done: Uint8Array | null = null;
        let firstAt = -1;
        const R4 = new Reassembler(Ipv4);
        const R6 = new Reassembler(Ipv6);
        withDups.forEach(([off, n, more], i) => {
          const r = v6 ? R6.insert(0, frag6(p, off, n, more)) : R4.insert(0, frag4(p, off, n, more));
          if (r.kind === "complete") {
            if (firstAt < 0) {
              firstAt = i;
              done = r.payload;
            }
          } else if (r.kind === "dropped") {
            assert.equal(r.reason, "duplicate");
          }
        });
        assert.equal(firstAt, fillsLast);
        assert.deepEqual(done, p);
      },
    ),
  );
});
