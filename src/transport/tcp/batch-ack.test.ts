// Per-batch cumulative ACKs (Stack.beginBatch / endBatch / receiveFrames): the frames a link hands
// over together get one cumulative ACK per connection at the end of the batch instead of one for
// every second full-sized segment; out-of-order data and FINs are still answered at once. Checked
// on the bytes two whole Stacks put on the wire.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { SocketId } from "../../context.ts";
import { v4 } from "../../ip/addr.ts";
import { Ipv4 } from "../../ip/version.ts";
import { Buf } from "../../packet/buf.ts";
import { Stack } from "../../stack.ts";
import { FakeBindings, FakeClock, type SentFrame } from "../../testing/fake-bindings.ts";
import { pseudoV4 } from "../../wire/checksum.ts";
import { EthernetView, EtherType } from "../../wire/ethernet.ts";
import { IpProto } from "../../wire/ipproto.ts";
import { Ipv4View } from "../../wire/ipv4.ts";
import { TcpFlags, TcpView } from "../../wire/tcp.ts";
import { TcpOptions } from "../../wire/tcp-options.ts";
import type { TcpConfig } from "./config.ts";

const A = v4(0x0a000001);
const B = v4(0x0a000002);
/** Payload of a full-sized segment: MTU 1500 less IPv4, TCP and the timestamps option. */
const MSS = 1448;

interface Host {
  s: Stack;
  fb: FakeBindings;
  dev: number;
}

function host(clock: FakeClock, seed: number, mac: string, cidr: string, tcp: Partial<TcpConfig>): Host {
  const fb = new FakeBindings({ seed, clock });
  const s = new Stack(fb, { tcp, loopback: false });
  const dev = s.addEthernetDevice({ mac, mtu: 1500, ipv6LinkLocal: false });
  assert.equal(s.addAddress(dev, cidr), null);
  return { s, fb, dev };
}

/** A decoded TCP segment (checksums verified). */
interface Seg {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  len: number;
  sack: number[];
}

function decode(f: SentFrame): Seg | null {
  const b = f.bytes;
  const eth = new EthernetView();
  if (eth.parseFrom(b, 0, b.length) !== null || eth.etherType !== EtherType.Ipv4) return null;
  const ip = new Ipv4View();
  assert.equal(ip.parseFrom(b, eth.payloadOff, eth.payloadLen), null);
  if (ip.proto !== IpProto.Tcp) return null;
  const t = new TcpView();
  assert.equal(
    t.parseFrom(b, ip.payloadOff, ip.payloadLen, pseudoV4(ip.src, ip.dst, IpProto.Tcp, ip.payloadLen)),
    null,
  );
  const o = t.readOptions(new TcpOptions());
  return {
    srcPort: t.srcPort,
    dstPort: t.dstPort,
    seq: t.seq,
    ack: t.ack,
    flags: t.flags,
    len: t.payloadLen,
    sack: Array.from(o.sack.subarray(0, 2 * o.sackCount)),
  };
}

function tcpSegs(frames: SentFrame[]): Seg[] {
  const out: Seg[] = [];
  for (const f of frames) {
    const s = decode(f);
    if (s !== null) out.push(s);
  }
  return out;
}

function deliver(to: Host, f: SentFrame): void {
  to.s.receiveFrame(to.dev, new Buf(f.bytes.slice()));
}

/** Exchange frames one at a time (no batches) until both hosts are quiet. */
function settle(a: Host, b: Host): void {
  for (let guard = 0; guard < 1000; guard++) {
    const fa = a.fb.takeFrames();
    const fb = b.fb.takeFrames();
    if (fa.length === 0 && fb.length === 0) return;
    for (const f of fa) deliver(b, f);
    for (const f of fb) deliver(a, f);
  }
  throw new Error("no quiet");
}

/** A connection from a to b, established, with b's side accepted; no frame pending. */
function connected(options: Partial<TcpConfig> = {}) {
  // Quick ACKs (the first segments ACKed one by one) off: these tests are about the ACKs after them.
  const tcp = { quickAcks: 0, ...options };
  const clock = new FakeClock(1000);
  const a = host(clock, 1, "02:00:00:00:00:01", "10.0.0.1/24", tcp);
  const b = host(clock, 2, "02:00:00:00:00:02", "10.0.0.2/24", tcp);
  const lid = b.s.tcp.listen(Ipv4, B, 80) as SocketId;
  const cid = a.s.tcp.connect(Ipv4, A, B, 80) as SocketId;
  assert.equal(typeof cid, "number");
  settle(a, b);
  const sid = b.s.tcp.accept(lid) as SocketId;
  assert.equal(typeof sid, "number");
  assert.equal(a.s.tcp.state(cid), "ESTABLISHED");
  assert.equal(b.s.tcp.state(sid), "ESTABLISHED");
  return { a, b, cid, sid, clock };
}

/** `n` full-sized data segments sent by a (taken off its link). */
function sendSegments(a: Host, cid: SocketId, n: number): SentFrame[] {
  const data = new Uint8Array(n * MSS).map((_, i) => (i * 13) & 0xff);
  assert.equal(a.s.tcp.send(cid, data), data.length);
  const frames = a.fb.takeFrames();
  const segs = tcpSegs(frames);
  assert.equal(segs.length, n);
  for (const s of segs) assert.equal(s.len, MSS);
  return frames;
}

test("without batches: one ACK for every second full-sized segment", () => {
  const { a, b, cid } = connected();
  const frames = sendSegments(a, cid, 8);
  const first = decode(frames[0])!;
  for (const f of frames) deliver(b, f);
  const acks = tcpSegs(b.fb.takeFrames());
  assert.deepEqual(
    acks.map((s) => (s.ack - first.seq) >>> 0),
    [2, 4, 6, 8].map((k) => k * MSS),
  );
});

test("a batch of 8 segments gets one cumulative ACK, sent at endBatch", () => {
  const { a, b, cid, sid } = connected();
  const frames = sendSegments(a, cid, 8);
  const first = decode(frames[0])!;
  b.s.beginBatch();
  for (const f of frames) deliver(b, f);
  assert.equal(b.fb.frames.length, 0, "no ACK inside the batch");
  b.s.endBatch();
  const sent = b.fb.takeFrames();
  const acks = tcpSegs(sent);
  assert.equal(acks.length, 1);
  assert.equal(acks[0].flags, TcpFlags.ACK);
  assert.equal(acks[0].len, 0);
  assert.equal((acks[0].ack - first.seq) >>> 0, 8 * MSS);
  // The data is all there, in order.
  const got = new Uint8Array(8 * MSS);
  assert.equal(b.s.tcp.recvInto(sid, got), got.length);
  for (let i = 0; i < got.length; i++) assert.equal(got[i], (i * 13) & 0xff);
  // The sender takes the stretch ACK: everything acknowledged.
  deliver(a, sent[0]);
  const info = a.s.tcp.info(cid)!;
  assert.equal(info.sndUna, info.sndNxt);
  assert.equal(info.sndUna, (first.seq + 8 * MSS) >>> 0);
});

test("receiveFrames is beginBatch + receiveFrame for each frame + endBatch", () => {
  const { a, b, cid } = connected();
  const frames = sendSegments(a, cid, 6);
  const first = decode(frames[0])!;
  b.s.receiveFrames(
    b.dev,
    frames.map((f) => new Buf(f.bytes.slice())),
  );
  const sent = b.fb.takeFrames();
  const acks = tcpSegs(sent);
  assert.equal(acks.length, 1);
  assert.equal((acks[0].ack - first.seq) >>> 0, 6 * MSS);
});

test("out-of-order data inside a batch is ACKed at once (duplicate ACK with SACK), nothing left for endBatch", () => {
  const { a, b, cid } = connected();
  const frames = sendSegments(a, cid, 4);
  const first = decode(frames[0])!;
  b.s.beginBatch();
  deliver(b, frames[0]);
  assert.equal(b.fb.frames.length, 0, "one in-order segment: ACK delayed");
  deliver(b, frames[2]); // segment 1 is missing
  let acks = tcpSegs(b.fb.takeFrames());
  assert.equal(acks.length, 1, "immediate ACK for the out-of-order segment");
  assert.equal((acks[0].ack - first.seq) >>> 0, MSS);
  assert.deepEqual(
    acks[0].sack.map((x) => (x - first.seq) >>> 0),
    [2 * MSS, 3 * MSS],
  );
  deliver(b, frames[3]);
  acks = tcpSegs(b.fb.takeFrames());
  assert.equal(acks.length, 1, "and for the next one");
  assert.deepEqual(
    acks[0].sack.map((x) => (x - first.seq) >>> 0),
    [2 * MSS, 4 * MSS],
  );
  // The segment filling the hole is ACKed at once too (RFC 5681 4.2), cumulatively.
  deliver(b, frames[1]);
  acks = tcpSegs(b.fb.takeFrames());
  assert.equal(acks.length, 1);
  assert.equal((acks[0].ack - first.seq) >>> 0, 4 * MSS);
  assert.deepEqual(acks[0].sack, []);
  b.s.endBatch();
  assert.equal(b.fb.frames.length, 0, "no ACK owed at the end of the batch");
});

test("a FIN inside a batch is ACKed at once", () => {
  const { a, b, cid } = connected();
  const frames = sendSegments(a, cid, 3);
  assert.equal(a.s.tcp.shutdown(cid), null);
  const fin = a.fb.takeFrames();
  assert.equal(fin.length, 1);
  assert.equal(decode(fin[0])!.flags & TcpFlags.FIN, TcpFlags.FIN);
  const first = decode(frames[0])!;
  b.s.beginBatch();
  for (const f of frames) deliver(b, f);
  assert.equal(b.fb.frames.length, 0);
  deliver(b, fin[0]);
  const acks = tcpSegs(b.fb.takeFrames());
  assert.equal(acks.length, 1);
  // Data and FIN acknowledged together, at the FIN.
  assert.equal((acks[0].ack - first.seq) >>> 0, 3 * MSS + 1);
  b.s.endBatch();
  assert.equal(b.fb.frames.length, 0);
});

test("the deferral is capped at batchAckBytes", () => {
  const { a, b, cid } = connected({ batchAckBytes: 3000 });
  const frames = sendSegments(a, cid, 8);
  const first = decode(frames[0])!;
  b.s.beginBatch();
  const ackAfter: number[] = [];
  for (let i = 0; i < frames.length; i++) {
    deliver(b, frames[i]);
    for (const s of tcpSegs(b.fb.takeFrames())) {
      assert.equal((s.ack - first.seq) >>> 0, (i + 1) * MSS);
      ackAfter.push(i + 1);
    }
  }
  b.s.endBatch();
  const end = tcpSegs(b.fb.takeFrames());
  // Three segments (4344 bytes) reach the 3000-byte cap; two (2896) wait for the batch's end.
  assert.deepEqual(ackAfter, [3, 6]);
  assert.equal(end.length, 1);
  assert.equal((end[0].ack - first.seq) >>> 0, 8 * MSS);
});

test("batchAckBytes 0 turns the deferral off", () => {
  const { a, b, cid } = connected({ batchAckBytes: 0 });
  const frames = sendSegments(a, cid, 4);
  b.s.beginBatch();
  for (const f of frames) deliver(b, f);
  assert.equal(tcpSegs(b.fb.takeFrames()).length, 2);
  b.s.endBatch();
  assert.equal(b.fb.frames.length, 0);
});

test("a batch never ended still ACKs when the delayed-ACK timer fires", () => {
  const { a, b, cid, clock } = connected();
  const frames = sendSegments(a, cid, 4);
  const first = decode(frames[0])!;
  b.s.beginBatch();
  for (const f of frames) deliver(b, f);
  assert.equal(b.fb.frames.length, 0);
  b.fb.advanceTo(clock.now + 40, b.s);
  const acks = tcpSegs(b.fb.takeFrames());
  assert.equal(acks.length, 1);
  assert.equal((acks[0].ack - first.seq) >>> 0, 4 * MSS);
  b.s.endBatch();
  assert.equal(b.fb.frames.length, 0, "the ACK is not sent twice");
});

test("one cumulative ACK per connection when a batch carries segments of two connections", () => {
  const { a, b, cid } = connected();
  const lid2 = b.s.tcp.listen(Ipv4, B, 81) as SocketId;
  const cid2 = a.s.tcp.connect(Ipv4, A, B, 81) as SocketId;
  settle(a, b);
  assert.equal(typeof b.s.tcp.accept(lid2), "number");
  const f1 = sendSegments(a, cid, 4);
  const f2 = sendSegments(a, cid2, 4);
  const s1 = decode(f1[0])!;
  const s2 = decode(f2[0])!;
  b.s.beginBatch();
  for (let i = 0; i < 4; i++) {
    deliver(b, f1[i]);
    deliver(b, f2[i]);
  }
  assert.equal(b.fb.frames.length, 0);
  b.s.endBatch();
  const acks = tcpSegs(b.fb.takeFrames());
  assert.equal(acks.length, 2);
  const ack80 = acks.find((s) => s.dstPort === s1.srcPort)!;
  const ack81 = acks.find((s) => s.dstPort === s2.srcPort)!;
  assert.equal((ack80.ack - s1.seq) >>> 0, 4 * MSS);
  assert.equal((ack81.ack - s2.seq) >>> 0, 4 * MSS);
});
