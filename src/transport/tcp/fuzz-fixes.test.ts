// Deterministic tests for the TCP bugs the whole-stack fuzzer found (fuzz/regressions/stack-*.bin):
// each fails without its fix.
import assert from "node:assert/strict";
import { test } from "node:test";
import { v4 } from "../../ip/addr.ts";
import type { IpSendOptions } from "../../ip/transport-api.ts";
import type { IpVersion } from "../../ip/version.ts";
import type { Buf } from "../../packet/buf.ts";
import { BytesBody } from "../../packet/serialize.ts";
import { TcpBuilder, TcpFlags, TcpView } from "../../wire/tcp.ts";
import type { TcpConfig } from "./config.ts";
import type { TcpAddrAny } from "./connection.ts";
import { seqLe } from "./seqnum.ts";
import { pattern, type TcpTestHost, TcpTestNet } from "./test-net.ts";

const A = v4(0x0a000001);
const B = v4(0x0a000002);

interface Seg {
  from: string;
  seq: number;
  ack: number;
  flags: number;
  len: number;
}

/** Two hosts; `drop(from, seg)` returning true loses that segment on the wire. */
function setup(aOpts: Partial<TcpConfig> = {}, bOpts: Partial<TcpConfig> = {}) {
  const net = new TcpTestNet({ seed: 1 });
  const a = net.addHost("a", A, aOpts);
  const b = net.addHost("b", B, bOpts);
  const seen: Seg[] = [];
  const ctl = { drop: null as ((from: string, s: Seg) => boolean) | null };
  const orig = net.transmit.bind(net);
  const v = new TcpView();
  net.transmit = (
    from: TcpTestHost,
    I: IpVersion<TcpAddrAny>,
    opts: IpSendOptions<TcpAddrAny>,
    bytes: Uint8Array,
    off: number,
    len: number,
  ) => {
    v.parseFrom(bytes, off, len, -1);
    const s = { from: from.name, seq: v.seq, ack: v.ack, flags: v.flags, len: v.payloadLen };
    seen.push(s);
    if (ctl.drop?.(from.name, s)) return;
    orig(from, I, opts, bytes, off, len);
  };
  const lid = b.tcp.listen(b.I, b.I.unspecified, 80) as number;
  const cid = a.tcp.connect(a.I, null, B, 80) as number;
  net.runUntil(() => b.tcp.pending(lid) > 0 && a.tcp.state(cid) === "ESTABLISHED", net.now + 5000);
  const sid = b.tcp.accept(lid) as number;
  assert.equal(typeof sid, "number");
  return { net, a, b, seen, ctl, cid, sid };
}

test("rto-sndmax (stack-8db7233a): a timeout never sends unsent data past SND.MAX without moving it", () => {
  const { net, a, b, ctl, cid, sid } = setup();
  // Lose the first (small) data segment; Nagle then holds the next write while it is unacknowledged.
  let dataSegs = 0;
  ctl.drop = (from, s) => from === "a" && s.len > 0 && dataSegs++ === 0;
  a.tcp.send(cid, pattern(100, 1));
  a.tcp.send(cid, pattern(1000, 2));
  const c = a.tcp.connection(cid)!;
  assert.equal(c.flight, 100, "Nagle holds the second write");
  net.run(net.now + 5000);
  assert.ok(dataSegs >= 2, "the lost segment was retransmitted");
  assert.ok(seqLe(c.sndNxt, c.sndMax), "SND.NXT <= SND.MAX");
  assert.equal(a.counters.get("tcp.ack-unsent"), 0, "the peer's ACKs are all acceptable");
  assert.equal(c.sendBuf.length, 0, "everything acknowledged");
  assert.equal(b.tcp.readable(sid), 1100);
});

/** Hand `to` a forged segment from `from` (no options). */
function inject(
  net: TcpTestNet,
  to: TcpTestHost,
  from: number,
  f: { sport: number; dport: number; seq: number; ack: number; flags: number; data?: Uint8Array },
) {
  const t = new TcpBuilder(from, to.addr as number);
  t.srcPort = f.sport;
  t.dstPort = f.dport;
  t.seq = f.seq >>> 0;
  t.ack = f.ack >>> 0;
  t.flags = f.flags;
  t.window = 65535;
  const out = new BytesBody(f.data ?? new Uint8Array(0)).wrapIn(t).serialize({ prefix: 64 }) as Buf;
  to.tcp.receive({ I: to.I, src: from, dst: to.addr, device: 0, ttl: 64, multicast: false, ipOff: 44 }, out);
  net.dispatchAll();
}

test("ack-loop (stack-1fe4b338): a forged in-window FIN does not start an endless ACK exchange", () => {
  const { net, a, b, seen, cid, sid } = setup();
  const ca = a.tcp.connection(cid)!;
  const cb = b.tcp.connection(sid)!;
  // A blind attacker with the right numbers: a FIN from a at b's RCV.NXT. b takes it (RCV.NXT + 1)
  // and ACKs a byte a never sent; a answers "ACK of unsent data" with an ACK b finds out of window...
  const n = seen.length;
  inject(net, b, A, {
    sport: ca.localPort,
    dport: ca.remotePort,
    seq: cb.rcvNxt,
    ack: cb.sndNxt,
    flags: TcpFlags.ACK | TcpFlags.FIN,
  });
  assert.equal(b.tcp.state(sid), "CLOSE-WAIT");
  net.run(net.now + 2000);
  const exchanged = seen.length - n;
  // ... each end answers once, then the per-connection limit stops it (before: one ACK each way
  // per millisecond of the 1 ms link, for as long as the challenge budget refilled).
  assert.ok(exchanged <= 4, `${exchanged} segments exchanged`);
  assert.ok(a.counters.get("tcp.ack-unsent") >= 1);
  assert.ok(b.counters.get("tcp.out-of-window") >= 1);
  assert.ok(a.counters.get("tcp.challenge-ack-limited") + b.counters.get("tcp.challenge-ack-limited") >= 1);
});

test("unacceptable segments that carry nothing get one ACK per 500 ms per connection; data is always answered", () => {
  const { net, a, seen, cid } = setup();
  const c = a.tcp.connection(cid)!;
  const fromA = () => seen.filter((s) => s.from === "a").length;
  const oow = () =>
    inject(net, a, B, {
      sport: c.remotePort,
      dport: c.localPort,
      seq: c.rcvNxt + 1_000_000,
      ack: c.sndNxt,
      flags: TcpFlags.ACK,
    });
  let before = fromA();
  oow();
  assert.equal(fromA(), before + 1, "RFC 9293 3.10.7.4: an unacceptable segment gets an ACK");
  oow();
  oow();
  assert.equal(fromA(), before + 1, "the next two within 500 ms are not answered");
  net.run(net.now + 501);
  before = fromA();
  oow();
  assert.equal(fromA(), before + 1, "answered again after 500 ms");
  // A data segment out of window is answered (not part of an ACK loop), within the layer budget.
  inject(net, a, B, {
    sport: c.remotePort,
    dport: c.localPort,
    seq: c.rcvNxt - 100,
    ack: c.sndNxt,
    flags: TcpFlags.ACK,
    data: new Uint8Array(10),
  });
  assert.equal(fromA(), before + 2);
  // ACKs of unsent data that carry nothing are limited the same way.
  before = fromA();
  const unsent = () =>
    inject(net, a, B, {
      sport: c.remotePort,
      dport: c.localPort,
      seq: c.rcvNxt,
      ack: c.sndNxt + 5000,
      flags: TcpFlags.ACK,
    });
  net.run(net.now + 501);
  unsent();
  unsent();
  assert.equal(fromA(), before + 1);
  assert.equal(a.counters.get("tcp.ack-unsent"), 2);
});

test("persist, not RTO: an unanswered segment into a peer window below one segment is a window probe", () => {
  const { net, a, b, ctl, cid, sid } = setup({}, { recvBufferSize: 1000 });
  const c = a.tcp.connection(cid)!;
  a.tcp.send(cid, pattern(5000, 3));
  net.run(net.now + 3000);
  assert.equal(b.tcp.readable(sid), 1000, "the reader stopped: the window is full");
  assert.equal(c.sndWnd, 0);
  // The reader takes it all: the window opens to 1000 bytes (below one segment) and a sends that
  // much; the ACK of it is lost.
  const una = c.sndUna;
  let dropped = 0;
  ctl.drop = (from, s) => {
    if (dropped > 0 || from !== "b" || s.ack !== (una + 1000) >>> 0) return false;
    dropped++;
    return true;
  };
  const cwnd = c.cc.cwnd;
  const rto = a.counters.get("tcp.rto");
  const probes = a.counters.get("tcp.persist-probe");
  assert.equal(b.tcp.recv(sid)!.length, 1000);
  net.run(net.now + 3000);
  assert.equal(dropped, 1);
  assert.ok(c.sndWnd < c.smss);
  assert.ok(a.counters.get("tcp.persist-probe") > probes, "the timer fired as a persist probe");
  assert.equal(a.counters.get("tcp.rto"), rto, "not as a retransmission timeout");
  assert.equal(c.cc.cwnd, cwnd, "no congestion signal: cwnd kept");
  assert.equal(a.tcp.state(cid), "ESTABLISHED");
  // Reading on delivers everything.
  let got = 1000;
  for (let i = 0; i < 20 && got < 5000; i++) {
    got += b.tcp.recv(sid)?.length ?? 0;
    net.run(net.now + 1000);
  }
  assert.equal(got, 5000);
});
