// Loss recovery scenarios (issue 18) between two whole Stacks on FakeNetwork, one mechanism each,
// with frames dropped, delayed or duplicated by a script (the link's `filter`) rather than at
// random, and assertions on the segments on the wire: RACK's detection of a lost retransmission
// (RFC 8985 6.2), a tail loss repaired through a probe (RFC 8985 7), a spurious timeout undone (RFC
// 5682 F-RTO, RFC 3522 / 4015 Eifel), reordering that does not cut the window (RACK's reordering
// window, D-SACK undo), PRR's pacing during recovery (RFC 6937), D-SACK blocks for duplicates (RFC
// 2883), immediate ACKs with SACK for out-of-order data and quick ACKs at the start (RFC 5681 4.2).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { SocketId } from "../../src/context.ts";
import { Ipv4 } from "../../src/ip/version.ts";
import type { Stack } from "../../src/stack.ts";
import { FakeNetwork, type SimLink } from "../../src/testing/fake-network.ts";
import type { TcpConfig } from "../../src/transport/tcp/config.ts";
import { EthernetView } from "../../src/wire/ethernet.ts";
import { Ipv4View } from "../../src/wire/ipv4.ts";
import { TcpFlags, TcpView } from "../../src/wire/tcp.ts";
import { TcpOptions } from "../../src/wire/tcp-options.ts";
import { addHost, pattern, settle } from "../scenarios/helpers.ts";

const MSS = 1448; // 1500 - 20 (IPv4) - 20 (TCP) - 12 (timestamps)
const B = Ipv4.parse("10.0.0.2") as NonNullable<ReturnType<typeof Ipv4.parse>>;

/** One TCP segment seen on the link, sequence numbers relative to the ISNs. */
interface Seg {
  t: number;
  from: "a" | "b";
  /** Data offset in the sender's stream (seq - ISN - 1). */
  seq: number;
  /** Acknowledged offset of the peer's stream. */
  ack: number;
  len: number;
  flags: number;
  /** SACK blocks as offsets of the peer's stream. */
  sack: [number, number][];
  tsVal: number;
  tsEcr: number;
  /** The sender was in recovery (fast or timeout) when it sent this segment. */
  recovering: boolean;
}

const eth = new EthernetView();
const ip = new Ipv4View();
const tcpv = new TcpView();
const opts = new TcpOptions();

/** The TCP header of an Ethernet/IPv4 frame, or null. */
function tcpOf(frame: Uint8Array): TcpView | null {
  if (eth.parseFrom(frame, 0, frame.length) !== null || eth.etherType !== 0x0800) return null;
  if (ip.parseFrom(frame, eth.payloadOff, eth.payloadLen) !== null || ip.proto !== 6) return null;
  if (tcpv.parseFrom(frame, ip.payloadOff, ip.payloadLen, -1) !== null) return null;
  tcpv.readOptions(opts);
  return tcpv;
}

class Scenario {
  readonly net = new FakeNetwork<Stack>({ seed: 5 });
  readonly a: Stack;
  readonly b: Stack;
  readonly link: SimLink;
  readonly segs: Seg[] = [];
  isnA = 0;
  isnB = 0;
  cid: SocketId = -1;
  sid: SocketId | null = null;
  received = 0;
  private readonly chunks: Uint8Array[] = [];

  constructor(tcp: Partial<TcpConfig> = {}, latency = 10) {
    this.a = addHost(this.net, "a", { macs: ["02:00:00:00:00:0a"], addrs: [["10.0.0.1/24"]], options: { tcp } }).stack;
    this.b = addHost(this.net, "b", { macs: ["02:00:00:00:00:0b"], addrs: [["10.0.0.2/24"]], options: { tcp } }).stack;
    this.link = this.net.link(["a", 1], ["b", 1], { latency });
    settle(this.net);
    this.link.tap((r) => {
      if (r.dir !== "tx") return;
      const v = tcpOf(r.bytes);
      if (v === null) return;
      const fromA = r.host === "a";
      if (v.flags & TcpFlags.SYN) {
        if (fromA) this.isnA = v.seq;
        else this.isnB = v.seq;
      }
      const own = fromA ? this.isnA : this.isnB;
      const peer = fromA ? this.isnB : this.isnA;
      const sack: [number, number][] = [];
      for (let i = 0; i < opts.sackCount; i++) {
        sack.push([(opts.sack[2 * i] - peer - 1) >>> 0, (opts.sack[2 * i + 1] - peer - 1) >>> 0]);
      }
      const info = this.cid >= 0 && fromA ? this.a.tcp.info(this.cid) : null;
      this.segs.push({
        t: r.time,
        from: fromA ? "a" : "b",
        seq: (v.seq - own - 1) >>> 0,
        ack: (v.ack - peer - 1) >>> 0,
        len: v.payloadLen,
        flags: v.flags,
        sack,
        tsVal: opts.tsVal,
        tsEcr: opts.tsEcr,
        recovering: info?.inRecovery ?? false,
      });
    });
  }

  /** Drop or delay frames: `fn` sees each TCP segment a or b sends (decoded as in `segs`). */
  script(fn: (from: "a" | "b", seq: number, len: number, flags: number, t: number) => boolean | number | undefined) {
    this.link.options.filter = (frame, sender, time) => {
      const v = tcpOf(frame);
      if (v === null) return undefined;
      const own = sender === "a" ? this.isnA : this.isnB;
      return fn(sender as "a" | "b", (v.seq - own - 1) >>> 0, v.payloadLen, v.flags, time);
    };
  }

  /** Connect a to b, write `n` bytes from a, read them at b; run until all arrived (and `extra` ms more). */
  transfer(n: number, extra = 0): Uint8Array {
    const lst = this.b.tcp.listen(Ipv4, Ipv4.unspecified, 5000);
    assert.equal(typeof lst, "number");
    const c = this.a.tcp.connect(Ipv4, null, B, 5000);
    assert.equal(typeof c, "number");
    this.cid = c as SocketId;
    const data = pattern(n);
    let sent = 0;
    const done = this.net.runUntil(() => {
      if (sent < n) {
        const k = this.a.tcp.send(this.cid, data, sent, n - sent);
        if (typeof k === "number") sent += k;
      }
      if (this.sid === null) this.sid = this.b.tcp.accept(lst as number);
      if (this.sid !== null) {
        for (;;) {
          const chunk = this.b.tcp.recv(this.sid);
          if (chunk === null || chunk.length === 0) break;
          this.chunks.push(chunk);
          this.received += chunk.length;
        }
      }
      return this.received === n;
    }, this.net.now + 60_000);
    assert.ok(done, `transfer finished (${this.received} of ${n})`);
    if (extra > 0) this.net.advance(extra);
    const all = new Uint8Array(this.received);
    let o = 0;
    for (const ch of this.chunks) {
      all.set(ch, o);
      o += ch.length;
    }
    assert.deepEqual(all, data, "every byte intact");
    return all;
  }

  /** a's data segments (first transmissions and retransmissions) covering offset `seq`. */
  sends(seq: number): Seg[] {
    return this.segs.filter((s) => s.from === "a" && s.len > 0 && s.seq <= seq && seq < s.seq + s.len);
  }

  counter(host: Stack, name: string): number {
    return host.counters.get(`tcp.${name}`);
  }
}

/** The segment at `victim`: its first `n` transmissions are lost. */
function loseTimes(s: Scenario, victim: number, n: number): void {
  let copies = 0;
  s.script((from, seq, len) => (from === "a" && seq === victim && len > 0 && copies++ < n ? false : undefined));
}

test("RACK: a lost retransmission is detected and sent again without a retransmission timeout", () => {
  const s = new Scenario();
  const victim = 20 * MSS;
  loseTimes(s, victim, 2);
  s.transfer(80 * MSS);
  const sends = s.sends(victim);
  assert.equal(sends.length, 3, "sent three times");
  // The third transmission follows the second within RACK's time (about an RTT plus the reordering
  // window: 20 ms here), long before the 200 ms minimum RTO.
  const gap = sends[2].t - sends[1].t;
  assert.ok(gap > 15 && gap < 100, `second retransmission ${gap} ms after the first`);
  assert.ok(sends[1].recovering && sends[2].recovering, "both retransmissions during fast recovery");
  assert.equal(s.counter(s.a, "rto"), 0);
  assert.equal(s.counter(s.a, "lost-retransmit"), 1);
  // What told a: data first sent after the first retransmission, SACKed before the second.
  const at = s.segs.indexOf(sends[1]);
  const later = s.segs.find((x, i) => i > at && x.from === "a" && x.len > 0 && x.seq > victim) as Seg;
  const sacked = s.segs.find(
    (x) => x.from === "b" && x.t + 10 <= sends[2].t && x.sack.some(([, r]) => r >= later.seq + later.len),
  );
  assert.ok(sacked !== undefined, "b SACKed data sent after the first retransmission");
  // Without RACK (RFC 6675's rules) the lost retransmission waits for the timeout.
  const old = new Scenario({ rack: false });
  loseTimes(old, victim, 2);
  old.transfer(80 * MSS);
  assert.equal(old.counter(old.a, "rto"), 1);
  const late = old.sends(victim);
  assert.ok(late[2].t - late[1].t >= 200, `RFC 6675: ${late[2].t - late[1].t} ms`);
});

/** The last two segments of a 20-segment transfer are lost once each. */
function loseTail(s: Scenario): void {
  const lost = new Set<number>();
  s.script((from, seq, len) => {
    if (from !== "a" || len === 0 || (seq !== 19 * MSS && seq !== 18 * MSS) || lost.has(seq)) return undefined;
    lost.add(seq);
    return false;
  });
}

test("TLP: a loss at the tail is repaired through a probe, not a retransmission timeout", () => {
  const s = new Scenario();
  const last = 19 * MSS;
  const before = 18 * MSS;
  loseTail(s);
  s.transfer(20 * MSS);
  const probe = s.sends(last)[1];
  const repair = s.sends(before)[1];
  assert.ok(probe !== undefined && repair !== undefined, "both sent again");
  // The probe: the last segment again, two SRTTs (about 40 ms) after the last ACK that came.
  const lastAck = s.segs.filter((x) => x.from === "b" && x.t < probe.t).at(-1) as Seg;
  const wait = probe.t - (lastAck.t + 10);
  assert.ok(wait > 20 && wait < 100, `probe ${wait} ms after the last ACK arrived`);
  // Its SACK shows the one before it lost (RACK), which goes next, an RTT later.
  assert.ok(repair.t > probe.t && repair.t - probe.t < 40, `repair ${repair.t - probe.t} ms after the probe`);
  assert.equal(s.counter(s.a, "tlp"), 1);
  assert.equal(s.counter(s.a, "rto"), 0);
  assert.equal(s.counter(s.a, "retransmit"), 2);
  // Without RACK-TLP the tail waits for the retransmission timeout.
  const old = new Scenario({ rack: false });
  loseTail(old);
  old.transfer(20 * MSS);
  assert.equal(old.counter(old.a, "tlp"), 0);
  assert.equal(old.counter(old.a, "rto"), 1);
});

for (const timestamps of [true, false]) {
  test(`a spurious retransmission timeout is undone (${timestamps ? "Eifel, timestamps" : "F-RTO: no timestamps, no SACK"})`, () => {
    // Without timestamps, SACK is off too: no D-SACK either, F-RTO alone finds it.
    const s = new Scenario(timestamps ? {} : { timestamps, sack: false });
    let start = -1;
    // Once 30 segments went out, everything b sends for 350 ms is held until 450 ms later: the
    // ACKs come after the RTO (200 ms), but nothing was lost.
    s.script((from, seq, len, _flags, t) => {
      if (from === "a" && len > 0 && seq >= 30 * (timestamps ? MSS : MSS + 12) && start < 0) start = t + 10;
      if (from === "b" && start >= 0 && t >= start && t < start + 350) return start + 450 - t;
      return undefined;
    });
    let cwndBefore = 0;
    let cwndAfterRto = Number.POSITIVE_INFINITY;
    s.link.tap((r) => {
      const info = s.cid >= 0 ? s.a.tcp.info(s.cid) : null;
      if (info === null || r.host !== "a" || r.dir !== "tx") return;
      if (s.counter(s.a, "rto") === 0) cwndBefore = info.cwnd;
      else if (s.counter(s.a, "undo") === 0) cwndAfterRto = Math.min(cwndAfterRto, info.cwnd);
    });
    s.transfer(120 * (timestamps ? MSS : MSS + 12), 1000);
    assert.equal(s.counter(s.a, "rto"), 1, "one timeout");
    assert.equal(s.counter(s.a, "spurious-rto"), 1, "found spurious");
    assert.equal(s.counter(s.a, "undo"), 1);
    // RFC 5681 3.1: the timeout collapsed cwnd to one segment; the undo restored it.
    assert.equal(cwndAfterRto, timestamps ? MSS : MSS + 12);
    const info = s.a.tcp.info(s.cid);
    assert.ok(info !== null && info.ssthresh === Number.POSITIVE_INFINITY, "ssthresh restored (still slow start)");
    assert.ok(cwndBefore > 10 * MSS);
    // Only the first outstanding segment went again (RFC 6298 5.4); no go-back-N.
    assert.equal(s.counter(s.a, "retransmit"), 1);
  });
}

test("without F-RTO, timestamps and D-SACK the same late ACKs leave the timeout's reduction in place", () => {
  const s = new Scenario({ timestamps: false, frto: false, sack: false });
  let start = -1;
  s.script((from, seq, len, _flags, t) => {
    if (from === "a" && len > 0 && seq >= 30 * (MSS + 12) && start < 0) start = t + 10;
    if (from === "b" && start >= 0 && t >= start && t < start + 350) return start + 450 - t;
    return undefined;
  });
  s.transfer(120 * (MSS + 12), 1000);
  assert.equal(s.counter(s.a, "rto"), 1);
  assert.equal(s.counter(s.a, "undo"), 0);
  assert.ok((s.a.tcp.info(s.cid)?.ssthresh ?? 0) < Number.POSITIVE_INFINITY, "ssthresh reduced");
});

test("reordering: RACK waits for it, and after the first spurious retransmission it is not mistaken for loss", () => {
  // 20 Mbit/s: data segments arrive 0.6 ms apart; a segment held 3 ms is overtaken by five.
  const s = new Scenario({ congestion: "newreno" });
  s.link.options.bandwidth = 20e6;
  const late = new Set([40 * MSS, 140 * MSS]);
  s.script((from, seq, len) => {
    if (from !== "a" || len === 0 || !late.has(seq)) return undefined;
    late.delete(seq);
    return 3;
  });
  s.transfer(200 * MSS, 500);
  // First time: no reordering seen yet, so RACK is as quick as three duplicate ACKs: one spurious
  // retransmission, whose D-SACK (and timestamp echo) undoes the reduction.
  assert.equal(s.sends(40 * MSS).length, 2, "the first late segment was retransmitted");
  assert.equal(s.counter(s.a, "undo"), 1, "and that reduction undone");
  assert.ok(s.counter(s.a, "dsack-received") >= 1);
  // Second time: reordering was seen, RACK waits a quarter of the minimum RTT: no retransmission.
  assert.equal(s.sends(140 * MSS).length, 1, "the second late segment was not retransmitted");
  assert.equal(s.counter(s.a, "retransmit"), 1);
  assert.equal(s.counter(s.a, "sack-recovery"), 1, "one recovery: the first time only");
  // No reduction survived: NewReno is still in slow start, its window never cut.
  assert.equal(s.a.tcp.info(s.cid)?.ssthresh, Number.POSITIVE_INFINITY);
});

test("PRR: during recovery NewReno sends one segment for every two delivered, not a burst", () => {
  const s = new Scenario({ congestion: "newreno", hystart: false });
  s.link.options.bandwidth = 50e6;
  let lost = false;
  s.script((from, seq, len) => {
    if (from === "a" && len > 0 && seq === 150 * MSS && !lost) {
      lost = true;
      return false;
    }
    return undefined;
  });
  s.transfer(400 * MSS);
  const rtx = s.sends(150 * MSS)[1];
  assert.ok(rtx.recovering);
  // From the fast retransmit to the end of recovery: a's sends against b's ACKs arriving at a.
  const during = s.segs.filter((x) => x.t >= rtx.t && x.from === "a" && x.recovering);
  const end = during.at(-1) as Seg;
  const acks = s.segs.filter((x) => x.from === "b" && x.t + 10 > rtx.t && x.t + 10 <= end.t);
  const sent = during.filter((x) => x.len > 0);
  const ratio = sent.length / acks.length;
  // RFC 6937: sndcnt = ssthresh / RecoverFS per delivered segment: 1/2 for NewReno (beta 0.5).
  assert.ok(ratio > 0.4 && ratio < 0.6, `${sent.length} segments sent for ${acks.length} ACKs (${ratio.toFixed(2)})`);
  // Spread out: never more than two segments in a row at one instant.
  const perInstant = new Map<number, number>();
  for (const x of sent) perInstant.set(x.t, (perInstant.get(x.t) ?? 0) + 1);
  assert.ok(Math.max(...perInstant.values()) <= 2, "no burst");
  assert.equal(s.counter(s.a, "rto"), 0);
});

test("D-SACK: a duplicate of delivered data, and of out-of-order data, is reported first in the next ACK", () => {
  const s = new Scenario();
  const frames = new Map<number, Uint8Array>();
  s.link.tap((r) => {
    if (r.dir === "tx" && r.host === "a" && tcpOf(r.bytes) !== null && tcpv.payloadLen > 0) {
      frames.set((tcpv.seq - s.isnA - 1) >>> 0, r.bytes.slice());
    }
  });
  let dropped = false;
  s.script((from, seq, len) => {
    if (from === "a" && len > 0 && seq === 30 * MSS && !dropped) {
      dropped = true;
      return false;
    }
    return undefined;
  });
  s.transfer(60 * MSS);
  const before = s.segs.length;
  // A copy of segment 5 (long delivered) arrives again.
  s.net.inject(["b", 1], frames.get(5 * MSS) as Uint8Array);
  s.net.advance(50);
  const ack = s.segs.slice(before).find((x) => x.from === "b") as Seg;
  assert.ok(ack !== undefined, "answered at once");
  assert.deepEqual(ack.sack[0], [5 * MSS, 6 * MSS], "D-SACK block: the duplicate, below the ACK");
  assert.equal(ack.ack, 60 * MSS);
  assert.equal(s.counter(s.b, "dsack-sent"), 1);
  // Out of order: hold back a hole, then repeat a segment above it.
  const s2 = new Scenario();
  const kept = new Map<number, Uint8Array>();
  s2.link.tap((r) => {
    if (r.dir === "tx" && r.host === "a" && tcpOf(r.bytes) !== null && tcpv.payloadLen > 0) {
      kept.set((tcpv.seq - s2.isnA - 1) >>> 0, r.bytes.slice());
    }
  });
  let holes = 0;
  s2.script((from, seq, len) => (from === "a" && len > 0 && seq === 12 * MSS && holes++ < 1 ? false : undefined));
  // When b has 13..15 out of order (behind the hole at 12), a copy of 14 arrives.
  let injected = false;
  s2.link.tap((r) => {
    if (!injected && r.dir === "rx" && r.host === "b" && tcpOf(r.bytes) !== null && tcpv.payloadLen > 0) {
      if ((tcpv.seq - s2.isnA - 1) >>> 0 === 15 * MSS) {
        injected = true;
        s2.net.inject(["b", 1], kept.get(14 * MSS) as Uint8Array, 1);
      }
    }
  });
  const mark = s2.segs.length;
  s2.transfer(20 * MSS);
  const dup = s2.segs.slice(mark).find((x) => x.from === "b" && x.sack.length >= 2 && x.sack[0][0] === 14 * MSS);
  assert.ok(dup !== undefined, "an ACK with the duplicate first");
  assert.deepEqual(dup.sack[0], [14 * MSS, 15 * MSS]);
  assert.equal(dup.ack, 12 * MSS, "the hole is still there");
  // RFC 2883 4: the second block is the out-of-order block that contains the duplicate.
  assert.ok(dup.sack[1][0] <= 14 * MSS && dup.sack[1][1] >= 15 * MSS, `second block ${dup.sack[1]}`);
});

test("out-of-order data is ACKed at once with a SACK block (RFC 5681 4.2); the first segments get quick ACKs", () => {
  const s = new Scenario();
  let dropped = false;
  s.script((from, seq, len) => {
    if (from === "a" && len > 0 && seq === 40 * MSS && !dropped) {
      dropped = true;
      return false;
    }
    return undefined;
  });
  s.transfer(60 * MSS);
  const next = s.sends(41 * MSS)[0];
  // b received 41 at next.t + 10 and answered in the same instant: ACK of 40 with 41 SACKed.
  const ack = s.segs.find((x) => x.from === "b" && x.t === next.t + 10 && x.sack.length > 0) as Seg;
  assert.equal(ack.ack, 40 * MSS);
  assert.ok(ack !== undefined, "an immediate duplicate ACK");
  assert.deepEqual(ack.sack[0], [40 * MSS + MSS, 42 * MSS]);
  // Quick ACKs: the initial window's ten segments arrive together; each gets its ACK at once.
  const first = s.segs.find((x) => x.from === "a" && x.len > 0) as Seg;
  const quick = s.segs.filter((x) => x.from === "b" && x.t === first.t + 10 && x.len === 0);
  assert.equal(quick.length, 10, "ten ACKs for the ten segments of the initial window");
  assert.deepEqual(
    quick.map((x) => x.ack),
    Array.from({ length: 10 }, (_, i) => (i + 1) * MSS),
  );
});
