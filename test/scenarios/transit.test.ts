// Issue 12, item 1: a router examines only the Hop-by-Hop Options header of an IPv6 packet in
// transit (RFC 8200 4); destination options, routing headers with Segments Left and fragment
// headers are the destination's to process. Each packet goes from a through the router r to b:
// r forwards it changed only in its hop limit, and b (the destination) applies the rules.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Ipv6Addr, parseV6 } from "../../src/ip/addr.ts";
import { BytesBody, EMPTY_BODY, TooBig } from "../../src/packet/serialize.ts";
import type { Stack } from "../../src/stack.ts";
import { FakeNetwork, type TapRecord } from "../../src/testing/fake-network.ts";
import { IpProto } from "../../src/wire/ipproto.ts";
import { Ipv6Builder, type Ipv6ExtHeader, type Ipv6FragFields } from "../../src/wire/ipv6.ts";
import { UdpBuilder } from "../../src/wire/udp.ts";
import { pattern, routerTopology, toHex } from "./helpers.ts";

const A6 = parseV6("2001:db8:1::2") as Ipv6Addr;
const B6 = parseV6("2001:db8:2::2") as Ipv6Addr;
const ORIGINS = {
  r: [toHex(parseV6("2001:db8:1::1") as Ipv6Addr), toHex(parseV6("2001:db8:2::1") as Ipv6Addr)],
  b: [toHex(B6)],
};
const MAC_A = [2, 0, 0, 0, 1, 0x0a];
const MAC_R1 = [2, 0, 0, 0, 1, 1];

/** An Ethernet frame from a to r's first port holding an IPv6 packet a -> b. */
function frame(opts: {
  exts?: Ipv6ExtHeader[];
  frag?: Ipv6FragFields;
  hopLimit?: number;
  body?: Uint8Array;
  next?: number;
}) {
  const ip = new Ipv6Builder(A6, B6, opts.next ?? IpProto.Udp, {
    hopLimit: opts.hopLimit ?? 64,
    exts: opts.exts,
    frag: opts.frag,
  });
  const body =
    opts.body !== undefined
      ? new BytesBody(opts.body)
      : new BytesBody(pattern(24)).wrapIn(new UdpBuilder(A6, B6, 5000, 9));
  const pkt = body.wrapIn(ip).serialize({ prefix: 14 });
  if (pkt instanceof TooBig) throw new Error("too big");
  const f = new Uint8Array(14 + pkt.length);
  f.set(MAC_R1, 0);
  f.set(MAC_A, 6);
  f[12] = 0x86;
  f[13] = 0xdd;
  f.set(pkt.toBytes(), 14);
  return f;
}

function lab() {
  const net = new FakeNetwork<Stack>({ seed: 3 });
  const { a, r, b } = routerTopology(net);
  const frames: TapRecord[] = [];
  net.tap((rec) => {
    if (rec.dir === "tx") frames.push(rec);
  });
  const send = (f: Uint8Array) => {
    frames.length = 0;
    net.inject(["r", 1], f);
    net.runUntilIdle(net.now + 5000);
  };
  /** What r put on the link to b (IPv6 only) and what it sent back towards a. */
  const forwarded = () =>
    frames.filter(
      (x) => x.host === "r" && x.device === 2 && x.bytes[12] === 0x86 && toHex(x.bytes.subarray(22, 38)) === toHex(A6),
    );
  /** ICMPv6 errors `host` originated (types below 128, from one of its addresses). */
  const icmpFrom = (host: "r" | "b") =>
    frames.filter(
      (x) =>
        x.host === host &&
        x.bytes[12] === 0x86 &&
        x.bytes[14 + 6] === IpProto.Icmpv6 &&
        x.bytes[54] < 128 &&
        ORIGINS[host].includes(toHex(x.bytes.subarray(22, 38))),
    );
  return { net, a, r, b, frames, send, forwarded, icmpFrom };
}

/** The frame r forwarded is the input with hop limit one less (and the link header rewritten). */
function assertForwardedUnchanged(input: Uint8Array, out: TapRecord) {
  assert.equal(out.bytes.length, input.length);
  assert.equal(out.bytes[14 + 7], input[14 + 7] - 1, "hop limit decremented");
  assert.equal(toHex(out.bytes.subarray(14, 14 + 7)), toHex(input.subarray(14, 14 + 7)));
  assert.equal(toHex(out.bytes.subarray(14 + 8)), toHex(input.subarray(14 + 8)), "the rest unchanged");
}

/** The parameter problem `host` sent: [code, pointer]. */
function paramProblems(recs: TapRecord[]): [number, number][] {
  return recs
    .filter((x) => x.bytes[54] === 4)
    .map((x) => [x.bytes[55], ((x.bytes[58] << 24) | (x.bytes[59] << 16) | (x.bytes[60] << 8) | x.bytes[61]) >>> 0]);
}

test("a Destination Options header with an unknown option (type 0xDE) is forwarded unchanged; the destination answers", () => {
  const L = lab();
  // RFC 8200 4.2: option type 0xDE: action bits 11 (discard, parameter problem unless multicast).
  const f = frame({ exts: [{ type: IpProto.Ipv6Opts, data: new Uint8Array([0xde, 0]) }] });
  L.send(f);
  const out = L.forwarded();
  assert.equal(out.length, 1, "forwarded");
  assertForwardedUnchanged(f, out[0]);
  assert.equal(L.icmpFrom("r").length, 0, "no error from the router");
  assert.equal(L.r.stack.counters.get("ipv6.forward"), 2, "the packet, and the destination's error back to a");
  // The destination applies RFC 8200 4.2: parameter problem code 2 at the option (40 + 2).
  assert.deepEqual(paramProblems(L.icmpFrom("b")), [[2, 42]]);
  assert.equal(L.b.stack.counters.get("ipv6.rx.unrecognized-option"), 1);
});

test("a routing header with Segments Left is forwarded when the router is not the destination", () => {
  const L = lab();
  // RFC 8200 4.4 (type 0, RFC 5095 deprecated): one segment left, for the destination to process.
  const data = new Uint8Array(22);
  data[0] = 0; // routing type 0
  data[1] = 1; // segments left
  data.set(parseV6("2001:db8:2::99") as Ipv6Addr, 6);
  const f = frame({ exts: [{ type: IpProto.Ipv6Route, data }] });
  L.send(f);
  const out = L.forwarded();
  assert.equal(out.length, 1);
  assertForwardedUnchanged(f, out[0]);
  assert.equal(L.icmpFrom("r").length, 0);
  // The destination: no routing type supported, Segments Left > 0: code 0 at the Routing Type (40 + 2).
  assert.deepEqual(paramProblems(L.icmpFrom("b")), [[0, 42]]);
});

test("fragments in transit are not examined: a short first fragment and a bad-length fragment are forwarded", () => {
  const L = lab();
  // RFC 7112 5 / RFC 8200 4.5: a first fragment whose header chain runs past its end (a
  // Destination Options header of 16 bytes in 8 bytes of fragment data) is the destination's to reject.
  const short = frame({
    frag: { id: 7, offset: 0, more: true },
    next: IpProto.Ipv6Opts,
    body: new Uint8Array([IpProto.Udp, 1, 0, 0, 0, 0, 0, 0]),
  });
  L.send(short);
  assert.equal(L.forwarded().length, 1);
  assertForwardedUnchanged(short, L.forwarded()[0]);
  assert.equal(L.icmpFrom("r").length, 0);
  assert.deepEqual(paramProblems(L.icmpFrom("b")), [[3, 0]]);
  // RFC 8200 4.5: M set and a length not a multiple of 8: the destination's code 0 at Payload Length.
  const odd = frame({ frag: { id: 8, offset: 0, more: true }, body: pattern(13) });
  L.send(odd);
  assert.equal(L.forwarded().length, 1);
  assertForwardedUnchanged(odd, L.forwarded()[0]);
  assert.equal(L.icmpFrom("r").length, 0);
  assert.deepEqual(paramProblems(L.icmpFrom("b")), [[0, 4]]);
  // A chain longer than the destination's bound (16 headers) is still forwarded.
  const long = frame({ exts: Array.from({ length: 20 }, () => ({ type: IpProto.Ipv6Opts, data: new Uint8Array(6) })) });
  L.send(long);
  assert.equal(L.forwarded().length, 1);
  assertForwardedUnchanged(long, L.forwarded()[0]);
  assert.equal(L.icmpFrom("r").length, 0);
});

test("in transit, a non-first fragment whose hop limit runs out gets no time exceeded; a first fragment does", () => {
  const L = lab();
  L.send(frame({ frag: { id: 9, offset: 8, more: false }, body: pattern(16), hopLimit: 1 }));
  assert.equal(L.forwarded().length, 0);
  assert.equal(L.icmpFrom("r").length, 0);
  assert.equal(L.r.stack.counters.get("ipv6.forward.hop-limit-exceeded"), 1);
  L.send(frame({ frag: { id: 9, offset: 0, more: true }, body: pattern(16), hopLimit: 1 }));
  const te = L.icmpFrom("r");
  assert.equal(te.length, 1);
  assert.deepEqual([te[0].bytes[54], te[0].bytes[55]], [3, 0], "time exceeded, hop limit");
});

test("the Hop-by-Hop header is still examined on the way (RFC 8200 4.3): an unknown 0xDE option is answered by the router", () => {
  const L = lab();
  L.send(frame({ exts: [{ type: IpProto.HopByHop, data: new Uint8Array([0xde, 0]) }] }));
  assert.equal(L.forwarded().length, 0);
  assert.deepEqual(paramProblems(L.icmpFrom("r")), [[2, 42]]);
});

test("a packet for the router itself still has its whole chain checked", () => {
  const L = lab();
  const ip = new Ipv6Builder(A6, parseV6("2001:db8:1::1") as Ipv6Addr, IpProto.Udp, {
    exts: [{ type: IpProto.Ipv6Opts, data: new Uint8Array([0xde, 0]) }],
  });
  const pkt = EMPTY_BODY.wrapIn(ip).serialize({ prefix: 14 });
  if (pkt instanceof TooBig) throw new Error("too big");
  const f = frame({});
  const bytes = new Uint8Array(14 + pkt.length);
  bytes.set(f.subarray(0, 14));
  bytes.set(pkt.toBytes(), 14);
  L.send(bytes);
  assert.deepEqual(paramProblems(L.icmpFrom("r")), [[2, 42]]);
});
