import assert from "node:assert/strict";
import { test } from "node:test";
import type { SocketId } from "../../context.ts";
import { v4 } from "../../ip/addr.ts";
import type { Buf } from "../../packet/buf.ts";
import { BytesBody } from "../../packet/serialize.ts";
import { TcpBuilder, TcpFlags, TcpView } from "../../wire/tcp.ts";
import { TcpOptions } from "../../wire/tcp-options.ts";
import type { TcpConfig } from "./config.ts";
import { bulkTransfer, pattern, type TcpTestHost, TcpTestNet } from "./test-net.ts";

const A = v4(0x0a000001);
const B = v4(0x0a000002);

interface Seen {
  from: string;
  at: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  len: number;
  opts: TcpOptions;
}

function setup(aOpts: Partial<TcpConfig> = {}, bOpts: Partial<TcpConfig> = {}, seed = 1) {
  const net = new TcpTestNet({ seed });
  const a = net.addHost("a", A, aOpts);
  const b = net.addHost("b", B, bOpts);
  const seen: Seen[] = [];
  net.tap = (from, bytes, off, len) => {
    const v = new TcpView();
    v.parseFrom(bytes, off, len, -1);
    seen.push({
      from: from.name,
      at: net.now,
      seq: v.seq,
      ack: v.ack,
      flags: v.flags,
      window: v.window,
      len: v.payloadLen,
      opts: v.readOptions(new TcpOptions()),
    });
  };
  return { net, a, b, seen };
}

/** Establish a -> b:80; returns client and server socket ids. */
function establish(net: TcpTestNet, a: TcpTestHost, b: TcpTestHost, port = 80) {
  const lid = b.tcp.listen(b.I, b.I.unspecified, port) as number;
  const cid = a.tcp.connect(a.I, null, B, port) as number;
  net.runUntil(() => b.tcp.pending(lid) > 0 && a.tcp.state(cid) === "ESTABLISHED", net.now + 5000);
  const sid = b.tcp.accept(lid)!;
  assert.equal(typeof sid, "number");
  return { lid, cid, sid };
}

/** Hand `to` a forged segment from `from`. */
function inject(
  net: TcpTestNet,
  to: TcpTestHost,
  from: number,
  f: {
    sport: number;
    dport: number;
    seq: number;
    ack: number;
    flags: number;
    window?: number;
    data?: Uint8Array;
    ts?: [number, number];
  },
  corrupt = false,
) {
  const t = new TcpBuilder(from, to.addr as number);
  t.srcPort = f.sport;
  t.dstPort = f.dport;
  t.seq = f.seq >>> 0;
  t.ack = f.ack >>> 0;
  t.flags = f.flags;
  t.window = f.window ?? 65535;
  if (f.ts) t.options.setTs(f.ts[0], f.ts[1]);
  const out = new BytesBody(f.data ?? new Uint8Array(0)).wrapIn(t).serialize({ prefix: 64 }) as Buf;
  if (corrupt) out.bytes[out.start + 4] ^= 0x40;
  to.tcp.receive({ I: to.I, src: from, dst: to.addr, device: 0, ttl: 64, multicast: false, ipOff: 44 }, out);
  net.dispatchAll();
}

test("simultaneous open (RFC 9293 3.5 figure 7) and simultaneous close (figure 13)", () => {
  const { net, a, b, seen } = setup();
  const ca = a.tcp.connect(a.I, null, B, 7000, { localPort: 7001 }) as number;
  const cb = b.tcp.connect(b.I, null, A, 7001, { localPort: 7000 }) as number;
  net.run(net.now + 100);
  assert.equal(a.tcp.state(ca), "ESTABLISHED");
  assert.equal(b.tcp.state(cb), "ESTABLISHED");
  // Both sent a bare SYN, then a SYN-ACK.
  assert.equal(seen.filter((s) => s.flags === TcpFlags.SYN).length, 2);
  assert.equal(seen.filter((s) => s.flags === (TcpFlags.SYN | TcpFlags.ACK)).length, 2);
  a.tcp.send(ca, new Uint8Array([1, 2, 3]));
  net.run(net.now + 100);
  assert.deepEqual([...b.tcp.recv(cb)!], [1, 2, 3]);
  // Simultaneous close: both FINs cross; both go through CLOSING to TIME-WAIT.
  a.tcp.shutdown(ca);
  b.tcp.shutdown(cb);
  assert.equal(a.tcp.state(ca), "FIN-WAIT-1");
  net.run(net.now + 100);
  assert.equal(a.tcp.state(ca), "TIME-WAIT");
  assert.equal(b.tcp.state(cb), "TIME-WAIT");
});

test("half-close: the side that shut down keeps receiving", () => {
  const { net, a, b } = setup();
  const { cid, sid } = establish(net, a, b);
  a.tcp.shutdown(cid);
  net.run(net.now + 100);
  assert.equal(a.tcp.state(cid), "FIN-WAIT-2");
  assert.equal(b.tcp.state(sid), "CLOSE-WAIT");
  assert.equal(a.tcp.send(cid, new Uint8Array(1)), "EPIPE");
  const data = pattern(100_000, 1);
  let off = 0;
  while (off < data.length) {
    off += b.tcp.send(sid, data, off) as number;
    net.run(net.now + 50);
  }
  b.tcp.close(sid);
  net.run(net.now + 1000);
  const got = a.tcp.recv(cid)!;
  assert.deepEqual(got, data);
  assert.equal(a.tcp.recv(cid), null);
  assert.equal(a.tcp.state(cid), "TIME-WAIT");
});

test("abort sends RST: the peer reports ECONNRESET", () => {
  const { net, a, b } = setup();
  const { cid, sid } = establish(net, a, b);
  a.tcp.abort(cid);
  net.run(net.now + 100);
  assert.deepEqual(b.eventsOf("error"), [{ type: "error", socket: sid, code: "ECONNRESET" }]);
  assert.equal(b.tcp.state(sid), "CLOSED");
  assert.equal(b.tcp.send(sid, new Uint8Array(1)), "ECONNRESET");
});

test("close with unread data resets the connection (RFC 2525 2.17)", () => {
  const { net, a, b, seen } = setup();
  const { cid, sid } = establish(net, a, b);
  a.tcp.send(cid, new Uint8Array(10));
  net.run(net.now + 100);
  b.tcp.close(sid);
  assert.ok(seen.some((s) => s.from === "b" && s.flags & TcpFlags.RST));
  net.run(net.now + 100);
  assert.equal(a.eventsOf("error")[0]?.code, "ECONNRESET");
});

test("RFC 5961: in-window RST not at RCV.NXT gets a challenge ACK; exact RST resets", () => {
  const { net, a, b, seen } = setup();
  const { cid, sid } = establish(net, a, b);
  const c = a.tcp.connection(cid)!;
  const peer = { sport: c.remotePort, dport: c.localPort };
  const n = seen.length;
  inject(net, a, B, { ...peer, seq: c.rcvNxt + 100, ack: 0, flags: TcpFlags.RST });
  assert.equal(a.tcp.state(cid), "ESTABLISHED");
  const reply = seen.slice(n);
  assert.equal(reply.length, 1);
  assert.equal(reply[0].flags, TcpFlags.ACK);
  assert.equal(reply[0].ack, c.rcvNxt);
  assert.equal(a.counters.get("tcp.challenge-ack"), 1);
  // Out of the window entirely: silently dropped.
  inject(net, a, B, { ...peer, seq: c.rcvNxt + 10_000_000, ack: 0, flags: TcpFlags.RST });
  assert.equal(seen.length, n + 1);
  assert.equal(a.tcp.state(cid), "ESTABLISHED");
  inject(net, a, B, { ...peer, seq: c.rcvNxt, ack: 0, flags: TcpFlags.RST });
  assert.equal(a.eventsOf("error")[0]?.code, "ECONNRESET");
  void sid;
});

test("RFC 5961 4.2: a SYN on an established connection gets a challenge ACK", () => {
  const { net, a, b, seen } = setup();
  const { cid } = establish(net, a, b);
  const c = a.tcp.connection(cid)!;
  const n = seen.length;
  inject(net, a, B, { sport: c.remotePort, dport: c.localPort, seq: c.rcvNxt + 5, ack: 0, flags: TcpFlags.SYN });
  assert.equal(a.tcp.state(cid), "ESTABLISHED");
  assert.equal(seen.length, n + 1);
  assert.equal(seen[n].flags, TcpFlags.ACK);
  assert.equal(a.counters.get("tcp.syn-on-synchronized"), 1);
});

test("RFC 5961 7: challenge ACKs are rate limited", () => {
  const { net, a, b } = setup({ challengeAckRate: 10, challengeAckBurst: 5 });
  const { cid } = establish(net, a, b);
  const c = a.tcp.connection(cid)!;
  for (let i = 0; i < 50; i++) {
    inject(net, a, B, { sport: c.remotePort, dport: c.localPort, seq: c.rcvNxt + 1 + i, ack: 0, flags: TcpFlags.RST });
  }
  assert.equal(a.counters.get("tcp.challenge-ack"), 5);
  assert.equal(a.counters.get("tcp.challenge-ack-limited"), 45);
  assert.equal(a.tcp.state(cid), "ESTABLISHED");
});

test("data whose ACK acknowledges unsent data is not accepted (RFC 5961 5.2)", () => {
  const { net, a, b, seen } = setup();
  const { cid } = establish(net, a, b);
  const c = a.tcp.connection(cid)!;
  const n = seen.length;
  inject(net, a, B, {
    sport: c.remotePort,
    dport: c.localPort,
    seq: c.rcvNxt,
    ack: c.sndNxt + 1000,
    flags: TcpFlags.ACK | TcpFlags.PSH,
    data: new Uint8Array([9, 9, 9]),
  });
  assert.equal(a.tcp.readable(cid), 0);
  assert.equal(a.counters.get("tcp.ack-unsent"), 1);
  assert.equal(seen.length, n + 1, "answered with an ACK");
  // The same data with a valid ACK is accepted.
  inject(net, a, B, {
    sport: c.remotePort,
    dport: c.localPort,
    seq: c.rcvNxt,
    ack: c.sndNxt,
    flags: TcpFlags.ACK,
    data: new Uint8Array([9, 9, 9]),
  });
  assert.equal(a.tcp.readable(cid), 3);
});

test("SYN+FIN and bad checksums are dropped before any state change", () => {
  const { net, a, seen } = setup();
  const lid = a.tcp.listen(a.I, a.I.unspecified, 80) as number;
  inject(net, a, B, { sport: 1234, dport: 80, seq: 1, ack: 0, flags: TcpFlags.SYN | TcpFlags.FIN });
  inject(net, a, B, { sport: 1234, dport: 80, seq: 1, ack: 0, flags: TcpFlags.SYN }, true);
  assert.equal(seen.length, 0);
  assert.equal(a.tcp.connectionCount, 0);
  assert.equal(a.counters.get("tcp.rx.bad-flags"), 1);
  assert.equal(a.counters.get("tcp.rx.bad-checksum"), 1);
  inject(net, a, B, { sport: 1234, dport: 80, seq: 1, ack: 0, flags: TcpFlags.SYN });
  assert.equal(seen.length, 1);
  assert.equal(seen[0].flags, TcpFlags.SYN | TcpFlags.ACK);
  assert.equal(seen[0].ack, 2);
  void lid;
});

test("a vanished peer: retransmissions back off, then ETIMEDOUT", () => {
  const { net, a, b, seen } = setup({ maxRetries: 4 });
  const { cid } = establish(net, a, b);
  b.down = true;
  a.tcp.send(cid, new Uint8Array(100));
  const t0 = net.now;
  net.run(net.now + 600_000);
  assert.deepEqual(a.eventsOf("error"), [{ type: "error", socket: cid, code: "ETIMEDOUT" }]);
  const tx = seen.filter((s) => s.from === "a" && s.len === 100).map((s) => s.at - t0);
  assert.equal(tx.length, 5, "original + 4 retransmissions");
  for (let i = 2; i < tx.length; i++) {
    const gap = tx[i] - tx[i - 1];
    const prev = tx[i - 1] - tx[i - 2];
    assert.ok(Math.abs(gap - 2 * prev) < 1, `RFC 6298 5.5 backoff doubles: ${prev} -> ${gap}`);
  }
});

test("SYN retries, then ETIMEDOUT", () => {
  const { net, a, b, seen } = setup({ synRetries: 3 });
  b.down = true;
  const cid = a.tcp.connect(a.I, null, B, 80) as number;
  net.run(net.now + 600_000);
  assert.equal(seen.filter((s) => s.flags === TcpFlags.SYN).length, 4);
  assert.deepEqual(a.eventsOf("error"), [{ type: "error", socket: cid, code: "ETIMEDOUT" }]);
});

test("ICMP unreachable during the handshake fails the connect with its code", () => {
  const { net, a, b } = setup();
  b.down = true;
  const cid = a.tcp.connect(a.I, null, B, 80) as number;
  const c = a.tcp.connection(cid)!;
  a.tcp.receiveIcmpError({
    I: a.I,
    src: A,
    dst: B,
    srcPort: c.localPort,
    dstPort: 80,
    code: "EHOSTUNREACH",
    mtu: 0,
    seq: c.iss + 7,
  });
  assert.equal(a.tcp.state(cid), "SYN-SENT", "a sequence number outside SND.UNA..SND.NXT is ignored (RFC 5927)");
  a.tcp.receiveIcmpError({
    I: a.I,
    src: A,
    dst: B,
    srcPort: c.localPort,
    dstPort: 80,
    code: "EHOSTUNREACH",
    mtu: 0,
    seq: c.iss,
  });
  net.dispatchAll();
  assert.deepEqual(a.eventsOf("error"), [{ type: "error", socket: cid, code: "EHOSTUNREACH" }]);
});

test("path MTU: packet-too-big shrinks the MSS and the transfer completes", () => {
  const net = new TcpTestNet({ seed: 3, pathMtu: 1280 });
  const a = net.addHost("a", A);
  const b = net.addHost("b", B);
  const data = pattern(200_000, 5);
  const r = bulkTransfer(net, a, b, data);
  assert.deepEqual(r.received, data);
  assert.ok(net.drops.mtu > 0);
  assert.ok(a.counters.get("tcp.icmp-error") > 0);
  // RFC 1191: MSS = 1280 - 20 (IP) - 20 (TCP), less the 12 bytes of timestamps in each segment.
  assert.equal(a.tcp.info(r.client)!.smss, 1280 - 40 - 12);
});

test("window scaling (RFC 7323): a 1 MB buffer advertises beyond 64 KiB; off on one side: no scaling", () => {
  {
    const { net, a, b } = setup({}, { recvBufferSize: 1 << 20 });
    const { cid, sid } = establish(net, a, b);
    assert.deepEqual(b.tcp.info(sid)!.wscale, [3, 5]);
    a.tcp.send(cid, new Uint8Array(100));
    net.run(net.now + 100);
    assert.ok(a.tcp.info(cid)!.sndWnd > 65535, `send window ${a.tcp.info(cid)!.sndWnd}`);
  }
  {
    const { net, a, b } = setup({ windowScaling: false }, { recvBufferSize: 1 << 20 });
    const { cid, sid } = establish(net, a, b);
    assert.deepEqual(b.tcp.info(sid)!.wscale, [0, 0]);
    assert.ok(a.tcp.info(cid)!.sndWnd <= 65535);
  }
});

test("timestamps and PAWS (RFC 7323 5): an old TSval is dropped", () => {
  const { net, a, b } = setup();
  const { cid } = establish(net, a, b);
  const c = a.tcp.connection(cid)!;
  assert.ok(c.tsOk);
  const peer = { sport: c.remotePort, dport: c.localPort };
  inject(net, a, B, {
    ...peer,
    seq: c.rcvNxt,
    ack: c.sndNxt,
    flags: TcpFlags.ACK,
    data: new Uint8Array([1]),
    ts: [c.tsRecent - 10, 0],
  });
  assert.equal(a.tcp.readable(cid), 0);
  assert.equal(a.counters.get("tcp.paws-drop"), 1);
  inject(net, a, B, {
    ...peer,
    seq: c.rcvNxt,
    ack: c.sndNxt,
    flags: TcpFlags.ACK,
    data: new Uint8Array([1]),
    ts: [c.tsRecent + 10, 0],
  });
  assert.equal(a.tcp.readable(cid), 1);
});

test("SACK (RFC 2018): out-of-order data is reported in SACK blocks and used for recovery", () => {
  const net = new TcpTestNet({ seed: 9, latency: 5, loss: 0.03 });
  const a = net.addHost("a", A);
  const b = net.addHost("b", B);
  let sackSeen = 0;
  net.tap = (from, bytes, off, len) => {
    const v = new TcpView();
    v.parseFrom(bytes, off, len, -1);
    if (from === b && v.readOptions(new TcpOptions()).sackCount > 0) sackSeen++;
  };
  const data = pattern(1 << 20, 2);
  const r = bulkTransfer(net, a, b, data);
  assert.deepEqual(r.received, data);
  assert.ok(sackSeen > 0);
  assert.ok(a.counters.get("tcp.sack-recovery") > 0);
});

test("listener backlog: the accept queue is bounded; waiting clients complete after accept", () => {
  const { net, a, b } = setup({ synRetries: 10 });
  const lid = b.tcp.listen(b.I, b.I.unspecified, 80, 2) as number;
  const ids: SocketId[] = [];
  for (let i = 0; i < 5; i++) ids.push(a.tcp.connect(a.I, null, B, 80) as number);
  net.run(net.now + 500);
  assert.equal(b.tcp.pending(lid), 2);
  assert.ok(b.counters.get("tcp.syn-drop.backlog") + b.counters.get("tcp.accept-overflow") > 0);
  const accepted: SocketId[] = [];
  b.onEvent = (ev) => {
    if (ev.type === "accepted") accepted.push(b.tcp.accept(lid)!);
  };
  while (b.tcp.pending(lid) > 0) accepted.push(b.tcp.accept(lid)!);
  net.run(net.now + 60_000);
  assert.equal(accepted.length, 5);
  for (const id of ids) assert.equal(a.tcp.state(id), "ESTABLISHED");
});

test("SYN cookies (RFC 4987) when the SYN queue is full keep wscale, SACK and timestamps", () => {
  const { net, a, b } = setup({}, { synQueueSize: 0 });
  const lid = b.tcp.listen(b.I, b.I.unspecified, 80) as number;
  const cid = a.tcp.connect(a.I, null, B, 80) as number;
  net.run(net.now + 100);
  assert.equal(b.counters.get("tcp.syncookie.sent"), 1);
  assert.equal(b.counters.get("tcp.syncookie.ok"), 1);
  const sid = b.tcp.accept(lid)!;
  const info = b.tcp.info(sid)!;
  assert.equal(info.state, "ESTABLISHED");
  assert.ok(info.sack && info.timestamps);
  assert.deepEqual(info.wscale, a.tcp.info(cid)!.wscale.slice().reverse());
  a.tcp.send(cid, pattern(200_000, 1));
  net.run(net.now + 2000);
  assert.deepEqual(b.tcp.recv(sid), pattern(200_000, 1));
  // A forged cookie ACK is answered with a RST and creates nothing.
  inject(net, b, A, { sport: 4444, dport: 80, seq: 1000, ack: 123456, flags: TcpFlags.ACK });
  assert.equal(b.counters.get("tcp.syncookie.bad"), 1);
  assert.equal(b.tcp.pending(lid), 0);
});

test("TIME-WAIT lasts 2 MSL and a new SYN with a larger timestamp may reuse it (RFC 6191)", () => {
  const { net, a, b } = setup({}, { timeWaitMs: 10_000 });
  const { cid, sid } = establish(net, a, b);
  const lport = a.tcp.address(cid)!.port;
  // The server closes first: it holds TIME-WAIT.
  b.tcp.close(sid);
  net.run(net.now + 100);
  a.tcp.close(cid);
  net.run(net.now + 100);
  assert.equal(b.tcp.connectionCount, 1);
  net.run(net.now + 1000);
  const again = a.tcp.connect(a.I, null, B, 80, { localPort: lport }) as number;
  net.run(net.now + 100);
  assert.equal(a.tcp.state(again), "ESTABLISHED");
  assert.equal(b.counters.get("tcp.time-wait-reuse"), 1);
  // TIME-WAIT connections without reuse expire after 2 MSL.
  const { cid: c2, sid: s2 } = establish(net, a, b, 81);
  b.tcp.close(s2);
  a.tcp.close(c2);
  net.run(net.now + 9000);
  assert.equal(b.tcp.connectionCount, 2);
  net.run(net.now + 2000);
  assert.equal(b.tcp.connectionCount, 1);
});

test("zero window: a reader that stops shrinks the window to zero, probes keep it alive, reading recovers", () => {
  const { net, a, b, seen } = setup({}, { recvBufferSize: 32768 });
  const { cid, sid } = establish(net, a, b);
  const data = pattern(200_000, 4);
  let off = 0;
  a.onEvent = (ev) => {
    if (ev.type === "writable") off += a.tcp.send(cid, data, off) as number;
  };
  off += a.tcp.send(cid, data, off) as number;
  net.run(net.now + 30_000);
  assert.equal(b.tcp.readable(sid), 32768);
  assert.ok(seen.some((s) => s.from === "b" && s.window === 0));
  assert.ok(a.counters.get("tcp.persist-probe") > 0);
  assert.equal(a.tcp.state(cid), "ESTABLISHED");
  const got: Uint8Array[] = [];
  b.onEvent = (ev) => {
    if (ev.type === "readable") got.push(b.tcp.recv(sid)!);
  };
  got.push(b.tcp.recv(sid)!);
  net.run(net.now + 60_000);
  const all = new Uint8Array(got.reduce((n, g) => n + g.length, 0));
  let at = 0;
  for (const g of got) {
    all.set(g, at);
    at += g.length;
  }
  assert.equal(all.length, data.length);
  assert.ok(sameBytes(all, data));
});

test("delayed ACK: one small segment is ACKed after the delay, two full segments at once", () => {
  const { net, a, b, seen } = setup({}, { delayedAckMs: 40, quickAcks: 0 });
  const { cid } = establish(net, a, b);
  net.run(net.now + 1000);
  let n = seen.length;
  const t0 = net.now;
  a.tcp.send(cid, new Uint8Array(10));
  net.run(net.now + 1000);
  const ack1 = seen.slice(n).find((s) => s.from === "b")!;
  assert.ok(Math.abs(ack1.at - t0 - 41) < 0.5, `ACK after ${ack1.at - t0} ms`);
  assert.equal(b.counters.get("tcp.delayed-ack"), 1);
  n = seen.length;
  const mss = a.tcp.info(cid)!.smss;
  a.tcp.send(cid, new Uint8Array(2 * mss));
  const t1 = net.now;
  net.run(net.now + 1000);
  const ack2 = seen.slice(n).find((s) => s.from === "b")!;
  assert.ok(ack2.at - t1 < 2.5, "every second full segment is ACKed at once");
});

test("Nagle holds a small segment while data is unacknowledged; setNoDelay sends at once", () => {
  for (const noDelay of [false, true]) {
    const { net, a, b, seen } = setup({ noDelay });
    const { cid } = establish(net, a, b);
    net.run(net.now + 1000);
    const n = seen.length;
    a.tcp.send(cid, new Uint8Array(10));
    a.tcp.send(cid, new Uint8Array(10));
    const sent = seen.slice(n).filter((s) => s.from === "a" && s.len > 0);
    assert.equal(sent.length, noDelay ? 2 : 1);
    net.run(net.now + 1000);
    const bytes = seen
      .slice(n)
      .filter((s) => s.from === "a")
      .reduce((t, s) => t + s.len, 0);
    assert.equal(bytes, 20, "the held bytes follow the ACK");
  }
});

test("keepalive: probes an idle connection and times out a dead peer", () => {
  const { net, a, b, seen } = setup();
  const { cid } = establish(net, a, b);
  a.tcp.setKeepAlive(cid, true, 10_000);
  a.tcp.connection(cid)!.keepAliveInterval = 1000;
  a.tcp.connection(cid)!.keepAliveCount = 3;
  net.run(net.now + 25_000);
  assert.ok(a.counters.get("tcp.keepalive-probe") >= 2);
  assert.equal(a.tcp.state(cid), "ESTABLISHED", "answered probes keep it alive");
  b.down = true;
  net.run(net.now + 20_000);
  assert.equal(a.eventsOf("error")[0]?.code, "ETIMEDOUT");
  void seen;
});

test("EADDRINUSE for a second listener on the same port", () => {
  const { a } = setup();
  assert.equal(typeof a.tcp.listen(a.I, a.I.unspecified, 80), "number");
  assert.equal(a.tcp.listen(a.I, A, 80), "EADDRINUSE");
  assert.equal(typeof a.tcp.listen(a.I, A, 81), "number");
});

function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
