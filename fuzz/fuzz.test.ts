// The short seeded fuzz run that is part of `npm test`, the replay of every reproducer in
// fuzz/regressions, and tests that the harness's checks catch what they claim to.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { readPcap, writePcap } from "../src/capture/pcap.ts";
import { Ipv4 } from "../src/ip/version.ts";
import { Rng } from "../src/testing/rng.ts";
import { type ParseError, parseError } from "../src/wire/errors.ts";
import { EthernetView } from "../src/wire/ethernet.ts";
import { fixtureFrames, openFindings, reproducers } from "./corpus.ts";
import { buildCorpus, fnv1a, fuzzTarget, reproducerName, runOne } from "./engine.ts";
import { mutate, mutateOnce, nextInput } from "./mutate.ts";
import { checkParse, compareMasked, compareReprs, type FuzzTarget, hex } from "./target.ts";
import { checkCaptureResult } from "./targets/capture.ts";
import { FragKind, fragmentFrame } from "./targets/frag.ts";
import { TARGETS, targetByName } from "./targets/index.ts";
import { ipv4Target } from "./targets/ipv4.ts";
import { LivePair, PUMP_LIMIT, payload } from "./targets/live.ts";
import {
  joinFrames,
  LIVE_FIX,
  LiveOp,
  lastHost,
  liveConversation,
  liveRecord,
  newHost,
  runStack,
  splitFrames,
  stackOptions,
} from "./targets/stack.ts";

const frames = fixtureFrames();
/** Executions per target in the seeded run (about 2 s for all targets together). */
const COUNT = 1000;
/**
 * The live whole-stack target builds two stacks and three connections per execution and joins
 * `BATCH` inputs into each: its seeds, then a few batches (about 2 s).
 */
const STACK_BATCHES = 6;

test("the fixtures give frames to cut seeds from", () => {
  assert.ok(frames.length >= 20, `${frames.length} frames`);
});

for (const t of TARGETS) {
  const what =
    t.batch !== undefined
      ? `its seeds and ${STACK_BATCHES} batches of ${t.batch} inputs`
      : `${COUNT} seeded executions`;
  test(`fuzz ${t.name}: ${what} find nothing`, () => {
    const corpus = buildCorpus(t, frames, 7);
    assert.ok(corpus.length >= 2, `${t.name} has ${corpus.length} seeds`);
    const count = t.batch !== undefined ? corpus.length + STACK_BATCHES : COUNT;
    const stats = fuzzTarget(t, { seed: 0x6e657473, count, frames });
    assert.equal(stats.executions, count);
    const report = stats.findings.map((f) => `${f.kind}: ${f.message}\n  input ${hex(f.input)}`).join("\n");
    assert.equal(stats.findings.length, 0, `findings (write them with npm run fuzz):\n${report}`);
    // The mutants are not all rejected at the first length check: the run reaches accepted inputs.
    assert.ok(stats.parsedOk > count / 20, `${t.name}: only ${stats.parsedOk} inputs parsed ok`);
  });
}

const open = openFindings();
for (const r of reproducers()) {
  const note = open.get(r.file);
  test(`regression ${r.file}`, { todo: note }, () => {
    const t = targetByName(r.target);
    assert.ok(t !== undefined, `no target named ${r.target}`);
    // Known findings are not tolerated here: an open reproducer must still show its finding.
    stackOptions.tolerateKnown = false;
    try {
      assert.equal(runOne(t, r.input), null);
    } finally {
      stackOptions.tolerateKnown = true;
    }
  });
}

// ---- the harness itself ----

const E_FAKE = parseError("fake", "too-short");

/** A view whose `peek` getter reads one byte past its range when `leak` is set. */
class FakeView {
  bytes: Uint8Array = new Uint8Array(0);
  off = 0;
  len = 0;
  static leak = false;
  static parse(bytes: Uint8Array, off: number, len: number): FakeView | ParseError {
    if (len < 2) return E_FAKE;
    const v = new FakeView();
    v.bytes = bytes;
    v.off = off;
    v.len = len;
    return v;
  }
  get first(): number {
    return this.bytes[this.off];
  }
  get peek(): number {
    return this.bytes[this.off + this.len - (FakeView.leak ? 0 : 1)];
  }
  payload(): Uint8Array {
    return this.bytes.subarray(this.off + 1, this.off + this.len + (FakeView.leak ? 1 : 0));
  }
}

test("checkParse accepts a well-behaved view and passes parse errors through", () => {
  FakeView.leak = false;
  const ok = checkParse(Uint8Array.of(1, 2, 3), FakeView.parse);
  assert.ok(typeof ok === "object" && "view" in ok);
  assert.equal(ok.view.first, 1);
  assert.equal(ok.view.peek, 3);
  assert.equal(checkParse(Uint8Array.of(1), FakeView.parse), E_FAKE);
});

test("checkParse catches getters and payloads reaching past the view", () => {
  FakeView.leak = true;
  try {
    const r = checkParse(Uint8Array.of(1, 2, 3), FakeView.parse);
    assert.equal(typeof r, "string");
    assert.match(r as string, /outside the view/);
  } finally {
    FakeView.leak = false;
  }
});

test("checkParse catches a getter reading a byte past the range but inside the buffer", () => {
  class Sneaky extends FakeView {
    static override parse(bytes: Uint8Array, off: number, len: number): Sneaky | ParseError {
      const v = new Sneaky();
      v.bytes = bytes;
      v.off = off;
      v.len = len;
      return v;
    }
    override payload(): Uint8Array {
      return this.bytes.subarray(this.off, this.off + 1);
    }
    get after(): number {
      return this.bytes[this.off + this.len + 2];
    }
  }
  const r = checkParse(Uint8Array.of(9, 9, 9), Sneaky.parse);
  assert.equal(typeof r, "string");
  assert.match(r as string, /guard bytes|outside the view's range/);
});

test("checkParse catches a parser reading past its input", () => {
  const parse = (b: Uint8Array, off: number, len: number): FakeView | ParseError =>
    b[off + len] === 0 ? FakeView.parse(b, off, len) : E_FAKE;
  const r = checkParse(Uint8Array.of(1, 2, 3), parse);
  assert.equal(typeof r, "string");
  assert.match(r as string, /parse read outside its input/);
});

test("checkParse catches a getter returning NaN", () => {
  class NaNView extends FakeView {
    static override parse(bytes: Uint8Array, off: number, len: number): NaNView | ParseError {
      const v = new NaNView();
      v.bytes = bytes;
      v.off = off;
      v.len = len;
      return v;
    }
    get broken(): number {
      return this.bytes[this.off + 1000] * 2;
    }
  }
  assert.match(checkParse(Uint8Array.of(1, 2), NaNView.parse) as string, /broken returned NaN/);
});

test("checkParse runs on a real view: an Ethernet frame", () => {
  const frame = frames[0];
  const r = checkParse(frame, EthernetView.parse);
  assert.ok(typeof r === "object" && "view" in r);
  assert.equal(r.view.len, frame.length);
  assert.deepEqual(r.view.payload(), frame.subarray(r.view.headerLen));
});

test("runOne reports an exception escaping a target, and an invariant it reports", () => {
  const boom: FuzzTarget = {
    name: "boom",
    description: "",
    maxLen: 8,
    seedsFromFrames: () => [],
    builtSeeds: () => [],
    run(input) {
      if (input.length > 2) throw new RangeError("offset out of bounds");
      return input.length === 2 ? "two bytes" : null;
    },
  };
  assert.deepEqual(runOne(boom, Uint8Array.of(1)), null);
  assert.deepEqual(runOne(boom, Uint8Array.of(1, 2)), { kind: "invariant", message: "two bytes" });
  const e = runOne(boom, Uint8Array.of(1, 2, 3));
  assert.equal(e?.kind, "exception");
  assert.match(e?.message ?? "", /^RangeError: offset out of bounds/);
  // The engine keeps one finding per distinct message, with the first input and a count.
  const stats = fuzzTarget(boom, { seed: 1, count: 300, frames: [] });
  assert.ok(stats.findings.length >= 1 && stats.findings.length <= 2);
  const ex = stats.findings.find((f) => f.kind === "exception");
  assert.ok(ex !== undefined && ex.input.length > 2 && ex.count >= 1);
  assert.match(reproducerName(ex), /^boom-[0-9a-f]{8}\.bin$/);
});

test("compareMasked ignores only the masked bits; compareReprs names both sides", () => {
  assert.equal(compareMasked(Uint8Array.of(1, 0x80), Uint8Array.of(1, 0x00), [[1, 0x80]]), null);
  assert.equal(compareMasked(Uint8Array.of(1, 0x81), Uint8Array.of(1, 0x80), [[1, 0x80]]), "byte 1 is 0x80, want 0x81");
  assert.equal(compareMasked(Uint8Array.of(1), Uint8Array.of(1, 2)), "length 2, want 1");
  assert.equal(compareReprs("x", { a: 1 }, { a: 1 }), null);
  assert.match(compareReprs("x", { a: Uint8Array.of(1) }, { a: Uint8Array.of(2) }) ?? "", /hex:01.*hex:02/);
});

test("checkCaptureResult flags records outside the file and errors pointing past it", () => {
  const file = writePcap([{ data: Uint8Array.of(1, 2, 3, 4) }]);
  const good = readPcap(file);
  assert.equal(checkCaptureResult(file, good), null);
  const outside = { ...good, records: [{ ...good.records[0], data: new Uint8Array(4) }] };
  assert.match(checkCaptureResult(file, outside) ?? "", /outside the file/);
  const badErr = { ...good, error: { message: "x", offset: file.length + 1 } as never };
  assert.match(checkCaptureResult(file, badErr) ?? "", /error offset/);
});

test("inputs are deterministic from the seed", () => {
  const corpus = buildCorpus(ipv4Target, frames, 1);
  const run = (seed: number): string[] => {
    const rng = new Rng(seed);
    return Array.from({ length: 50 }, () => hex(nextInput(rng, ipv4Target, corpus)));
  };
  assert.deepEqual(run(42), run(42));
  assert.notDeepEqual(run(42), run(43));
});

test("mutate leaves its seed alone; a length lie writes only at the target's length fields", () => {
  const rng = new Rng(5);
  const seed = ipv4Target.builtSeeds(new Rng(1))[0];
  const copy = seed.slice();
  for (let i = 0; i < 20; i++) mutate(rng, seed, ipv4Target, [seed]);
  assert.deepEqual(seed, copy);
  const allowed = new Set([0, 2, 3, 6, 7]);
  let changed = 0;
  for (let i = 0; i < 50; i++) {
    const x = mutateOnce(rng, seed.slice(), "lengthlie", ipv4Target, []);
    assert.equal(x.length, seed.length);
    for (let k = 0; k < x.length; k++) {
      if (x[k] !== seed[k]) {
        assert.ok(allowed.has(k), `byte ${k} changed`);
        changed++;
      }
    }
  }
  assert.ok(changed > 0);
});

test("the reproducer hash is FNV-1a", () => {
  assert.equal(fnv1a(new Uint8Array(0)), "811c9dc5");
  assert.equal(fnv1a(new TextEncoder().encode("a")), "e40c292c");
  assert.equal(fnv1a(new TextEncoder().encode("foobar")), "bf9cf968");
});

test("random bytes never break a target (fast-check)", () => {
  for (const t of TARGETS) {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: t.maxLen }), (b) => {
        const r = runOne(t, b);
        assert.equal(r, null, `${t.name}: ${r?.message}`);
      }),
      { numRuns: 60 },
    );
  }
});

test("stack target inputs: records split and join back, lengths cut at the end of the input", () => {
  const a = Uint8Array.of(1, 2, 3);
  const b = new Uint8Array(70).fill(9);
  const x = joinFrames([{ frame: a }, { frame: b, advance: 61_000 }]);
  assert.equal(x.length, 2 + 3 + 2 + 70);
  assert.deepEqual(Array.from(x.subarray(0, 2)), [0, 3]);
  assert.deepEqual(Array.from(x.subarray(5, 7)), [0xc0, 70]);
  const r = splitFrames(x);
  assert.equal(r.length, 2);
  assert.deepEqual(r[0], { advance: 0, frame: a });
  assert.deepEqual(r[1], { advance: 61_000, frame: b });
  // A length past the end of the input takes what is there.
  assert.deepEqual(
    splitFrames(Uint8Array.of(0x00, 0x10, 7, 8)).map((f) => Array.from(f.frame)),
    [[7, 8]],
  );
});

test("checkParse catches a reused view that keeps state from the packet it held before", () => {
  /** Counts option bytes but forgets to reset the count in parseFrom. */
  class Stale {
    bytes: Uint8Array = new Uint8Array(0);
    off = 0;
    len = 0;
    marks = 0;
    static parse(b: Uint8Array, off: number, len: number): Stale | ParseError {
      const v = new Stale();
      return v.parseFrom(b, off, len) ?? v;
    }
    parseFrom(b: Uint8Array, off: number, len: number): ParseError | null {
      if (len < 1) return E_FAKE;
      for (let i = off; i < off + len; i++) if (b[i] === 0xee) this.marks++;
      this.bytes = b;
      this.off = off;
      this.len = len;
      return null;
    }
    get markCount(): number {
      return this.marks;
    }
  }
  const reuse = {
    key: "stale-test",
    parseInto: (v: Stale, b: Uint8Array, o: number, l: number) => v.parseFrom(b, o, l),
  };
  assert.equal(typeof checkParse(Uint8Array.of(0xee), Stale.parse, undefined, reuse), "object");
  const r = checkParse(Uint8Array.of(0xee, 1), Stale.parse, undefined, reuse);
  assert.match(r as string, /reused view reads differently/);
});

// ---- the live whole-stack target ----

test("live host: three ESTABLISHED connections that carry bytes intact both ways", () => {
  assert.equal(runStack(new Uint8Array(0)), null);
  const { pair } = lastHost!;
  assert.deepEqual(
    pair.conns.map((c) => [c.name, pair.v.tcp.state(c.v), pair.p.tcp.state(c.p)]),
    [
      ["v4-in", "ESTABLISHED", "ESTABLISHED"],
      ["v6-in", "ESTABLISHED", "ESTABLISHED"],
      ["v4-out", "ESTABLISHED", "ESTABLISHED"],
    ],
  );
  assert.equal(pair.exchange(pair.conns[1], payload(5000, 1), payload(7000, 2)), null);
  // Two hosts built alike are the same: the conversation's sequence numbers hold in every run.
  const a = liveConversation().next[0][0];
  const h = newHost();
  const b = h.pair.capturePeer(() => h.pair.p.tcp.send(h.pair.conns[0].p, payload(100, 0)));
  assert.deepEqual(b[0], a);
});

test("live host: the pump stops a ping-pong at PUMP_LIMIT and reports a storm", () => {
  const pair = new LivePair();
  // What the hosts sent while being set up (MLD reports, DAD solicitations) is delivered first.
  pair.pump();
  assert.equal(pair.storm, false);
  // Two hosts that echo every frame back: one frame in never ends.
  pair.v.receiveFrame = (d, buf) => pair.vb.sendFrame(d, buf);
  pair.p.receiveFrame = (d, buf) => pair.pb.sendFrame(d, buf);
  pair.inject(frames[0]);
  assert.equal(pair.storm, true);
  assert.ok(pair.moved >= PUMP_LIMIT && pair.moved <= PUMP_LIMIT + 2, `${pair.moved}`);
});

test("live records: a genuine peer segment is delivered untainted, a forged one taints its connection", () => {
  const len = 100;
  assert.equal(runStack(joinFrames([{ frame: liveRecord(LiveOp.PeerData, 0, len - 1) }])), null);
  let h = lastHost!;
  assert.deepEqual(h.tainted, [false, false, false]);
  assert.ok(h.pair.v.counters.get("tcp.rx") > 0);
  // The same segment with a payload byte changed and the checksum fixed: accepted (a blind
  // attacker with the right numbers can), so the connection no longer proves anything.
  const forged = liveRecord(LiveOp.PeerData | LIVE_FIX, 0, len - 1, [[14 + 20 + 32 + 5, 0x40]]);
  assert.equal(runStack(joinFrames([{ frame: forged }])), null);
  h = lastHost!;
  assert.deepEqual(h.tainted, [true, false, false]);
  // Without the checksum fix it is dropped before any state changes.
  const bad = liveRecord(LiveOp.PeerData, 0, len - 1, [[14 + 20 + 32 + 5, 0x40]]);
  assert.equal(runStack(joinFrames([{ frame: bad }])), null);
  assert.deepEqual(lastHost!.tainted, [false, false, false]);
  assert.equal(lastHost!.pair.v.counters.get("tcp.rx.bad-checksum"), 1);
});

test("fragment chains of a live segment: plain and tiny reassemble to the original, overlap and beyond do not", () => {
  const seg = liveConversation().next[1][0]; // IPv6 data segment
  const seg4 = liveConversation().next[0][0];
  for (const f of [seg, seg4]) {
    const plain = fragmentFrame(f, FragKind.Plain, 48)!;
    assert.ok(plain.length > 2);
    const tiny = fragmentFrame(f, FragKind.Tiny)!;
    assert.ok(tiny.length > plain.length);
    const overlap = fragmentFrame(f, FragKind.Overlap, 48)!;
    assert.equal(overlap.length, plain.length + 1);
    const beyond = fragmentFrame(f, FragKind.Beyond, 48)!;
    const last = beyond[beyond.length - 1];
    const v6 = last[12] === 0x86;
    const fo = v6 ? (last[56] << 8) | (last[57] & 0xf8) : ((last[20] & 0x1f) << 11) | (last[21] << 3);
    assert.equal(fo, 65528);
  }
  // The victim reassembles the plain chain of the peer's next segment and takes its data.
  assert.equal(runStack(joinFrames(fragmentFrame(seg4, FragKind.Plain, 48)!.map((frame) => ({ frame })))), null);
  assert.equal(lastHost!.pair.v.counters.get("ipv4.reassembly.complete"), 1);
  assert.equal(lastHost!.pair.v.tcp.readable(lastHost!.pair.conns[0].v), 100);
  // Overlapping IPv6 fragments: the datagram is dropped (RFC 5722), nothing is delivered.
  assert.equal(runStack(joinFrames(fragmentFrame(seg, FragKind.Overlap, 48)!.map((frame) => ({ frame })))), null);
  assert.equal(lastHost!.pair.v.tcp.readable(lastHost!.pair.conns[1].v), 0);
});

test("a SYN flood from spoofed sources keeps every queue within its bound and the listener serving", () => {
  const syn = frames.find((f) => f.length > 54 && f[23] === 6 && f[47] === 0x02)!;
  const flood: { frame: Uint8Array }[] = [];
  for (let i = 0; i < 40; i++) {
    const f = syn.slice();
    f[29] = 100 + (i % 20); // 10.77.0.100-119: nobody answers the SYN-ACKs
    f[34] = 0x90;
    f[35] = i; // source port
    flood.push({ frame: f });
  }
  const input = joinFrames(flood);
  targetByName("stack")!.fixup!(input);
  assert.equal(runStack(input), null);
  const { pair } = lastHost!;
  const { v } = pair;
  assert.ok(v.usage().tcpConnections <= v.tcp.config.maxConnections);
  assert.ok(v.usage().neighborEntries <= v.limits.neighborEntries);
  assert.ok(v.counters.get("tcp.syncookie.sent") + v.counters.get("tcp.syn-drop.syn-queue") > 0);
  const c = pair.connectToVictim("after the flood", Ipv4 as never, 42000);
  assert.equal(typeof c, "object", String(c));
  assert.equal(pair.exchange(c as never, payload(4000, 1), payload(4000, 2)), null);
});
