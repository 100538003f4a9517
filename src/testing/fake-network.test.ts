import assert from "node:assert/strict";
import { test } from "node:test";
import type { DeviceId, EntryPoints } from "../context.ts";
import { Buf } from "../packet/buf.ts";
import { CoreTimers, Timer } from "../timers.ts";
import type { FakeBindings } from "./fake-bindings.ts";
import { FakeNetwork, POISON, type TapRecord } from "./fake-network.ts";

const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
const mac = (n: number) => [2, 0, 0, 0, 0, n];

/** An Ethernet-shaped frame: dst, src, ethertype 0x88b5 (local experimental), then `payload`. */
function frame(dst: number[], src: number[], payload: number[]): Uint8Array {
  return new Uint8Array([...dst, ...src, 0x88, 0xb5, ...payload]);
}

/** A frame's sequence number (payload bytes 0-1). */
const seqOf = (b: Uint8Array) => (b[14] << 8) | b[15];

/** Receives frames; answers each one to its sender (MACs swapped) when `echo` is set. */
class ToyHost implements EntryPoints {
  received: { device: DeviceId; bytes: Uint8Array; time: number; buf: Buf }[] = [];
  constructor(
    readonly b: FakeBindings,
    readonly mac: number[],
    readonly echo = false,
  ) {}
  receiveFrame(device: DeviceId, buf: Buf): void {
    this.received.push({ device, bytes: buf.body(), time: this.b.now(), buf });
    if (this.echo && buf.length >= 14) {
      const body = buf.body();
      const reply = new Uint8Array(body);
      reply.set(body.subarray(6, 12), 0);
      reply.set(this.mac, 6);
      this.b.sendFrame(device, Buf.from(reply));
    }
  }
  handleTimers(): void {}
  send(device: DeviceId, dst: number[], payload: number[]): void {
    this.b.sendFrame(device, Buf.from(frame(dst, this.mac, payload)));
  }
  seqs(): number[] {
    return this.received.map((r) => seqOf(r.bytes));
  }
}

/** Sends `count` frames to `dst`, one every `period` ms from a timer, each with random bytes. */
class Pinger implements EntryPoints {
  readonly timers: CoreTimers<string>;
  readonly timer = new Timer("send");
  sent = 0;
  replies: number[] = [];
  constructor(
    readonly b: FakeBindings,
    readonly mac: number[],
    readonly dst: number[],
    readonly period: number,
    readonly count: number,
  ) {
    this.timers = new CoreTimers(b);
    this.timers.schedule(this.timer, b.now());
  }
  receiveFrame(_device: DeviceId, buf: Buf): void {
    this.replies.push(seqOf(buf.body()));
  }
  handleTimers(now: number): void {
    for (let t = this.timers.popExpired(now); t !== null; t = this.timers.popExpired(now)) {
      const r = this.b.random();
      const n = this.sent++;
      this.b.sendFrame(0, Buf.from(frame(this.dst, this.mac, [n >> 8, n & 255, r & 255, (r >>> 8) & 255, 0, 0])));
      if (this.sent < this.count) this.timers.schedule(this.timer, now + this.period);
    }
  }
}

function twoHosts(seed = 1, opts = {}) {
  const net = new FakeNetwork({ seed });
  const a = net.addHost("a", (b) => new ToyHost(b, mac(1)));
  const b = net.addHost("b", (bb) => new ToyHost(bb, mac(2)));
  const link = net.link([a, 0], [b, 0], opts);
  return { net, a, b, link };
}

/** Send `n` numbered frames from a to b at t = now, now + gap, ... */
function burst(net: FakeNetwork, a: ToyHost, n: number, gap = 0): void {
  for (let i = 0; i < n; i++) {
    if (gap > 0) net.runUntil(net.now + (i === 0 ? 0 : gap));
    a.send(0, mac(2), [i >> 8, i & 255]);
  }
}

test("a frame crosses a link after its latency and the echo comes back after twice that", () => {
  const net = new FakeNetwork({ seed: 1 });
  const a = net.addHost("a", (b) => new ToyHost(b, mac(1)));
  const b = net.addHost("b", (bb) => new ToyHost(bb, mac(2), true));
  net.link([a, 0], ["b", 0], { latency: 10 });
  a.send(0, mac(2), [0, 7]);
  assert.equal(net.pending, 1);
  net.runUntilIdle();
  assert.equal(b.received[0].time, 10);
  assert.equal(a.received[0].time, 20);
  assert.deepEqual([...a.received[0].bytes.subarray(0, 12)], [...mac(1), ...mac(2)], "MACs swapped by the echo");
  assert.equal(seqOf(a.received[0].bytes), 7);
  assert.equal(net.now, 20);
});

test("deliveries happen in time order across links of different latency", () => {
  const net = new FakeNetwork({ seed: 1 });
  const a = net.addHost("a", (b) => new ToyHost(b, mac(1)));
  const far = net.addHost("far", (b) => new ToyHost(b, mac(2), true));
  const near = net.addHost("near", (b) => new ToyHost(b, mac(3), true));
  net.link([a, 0], [far, 0], { latency: 30 });
  net.link([a, 1], [near, 0], { latency: 5 });
  a.send(0, mac(2), [0, 1]);
  a.send(1, mac(3), [0, 2]);
  net.runUntilIdle();
  assert.deepEqual(
    a.received.map((r) => [r.device, seqOf(r.bytes), r.time]),
    [
      [1, 2, 10],
      [0, 1, 60],
    ],
  );
});

test("frames sent at the same time on one link arrive in sending order (ties are FIFO)", () => {
  const { net, a, b } = twoHosts(1, { latency: 3 });
  burst(net, a, 50);
  net.runUntilIdle();
  assert.deepEqual(
    b.seqs(),
    Array.from({ length: 50 }, (_, i) => i),
  );
  assert.ok(b.received.every((r) => r.time === 3));
});

test("loss: about the configured fraction of 2000 frames is dropped, and the stats agree", () => {
  const { net, a, b, link } = twoHosts(7, { loss: 0.2 });
  const drops: TapRecord[] = [];
  net.tap((r) => {
    if (r.dir === "drop") drops.push(r);
  });
  burst(net, a, 2000);
  net.runUntilIdle();
  const lost = 2000 - b.received.length;
  assert.ok(lost > 330 && lost < 470, `lost ${lost}`);
  assert.equal(link.stats.lost, lost);
  assert.equal(link.stats.sent, 2000);
  assert.equal(link.stats.delivered, b.received.length);
  assert.equal(drops.length, lost);
  assert.ok(drops.every((d) => d.note === "lost" && d.host === "b"));
});

test("duplication: every frame twice at rate 1, about half of them at rate 0.5", () => {
  const one = twoHosts(2, { duplicate: 1 });
  burst(one.net, one.a, 10);
  one.net.runUntilIdle();
  assert.deepEqual(one.b.seqs(), Array.from({ length: 10 }, (_, i) => [i, i]).flat());
  const half = twoHosts(2, { duplicate: 0.5 });
  burst(half.net, half.a, 1000);
  half.net.runUntilIdle();
  const extra = half.b.received.length - 1000;
  assert.ok(extra > 430 && extra < 570, `duplicated ${extra}`);
  assert.equal(half.link.stats.duplicated, extra);
});

test("corruption flips exactly one bit of a delivered copy; the sender's record is untouched", () => {
  const { net, a, b, link } = twoHosts(3, { corrupt: 1 });
  burst(net, a, 200);
  net.runUntilIdle();
  const sent = net.bindings(a).frames;
  assert.equal(b.received.length, 200);
  for (let i = 0; i < 200; i++) {
    const x = sent[i].bytes;
    const y = b.received[i].bytes;
    assert.equal(y.length, x.length);
    let bits = 0;
    for (let j = 0; j < x.length; j++) {
      let d = x[j] ^ y[j];
      while (d) {
        bits += d & 1;
        d >>= 1;
      }
    }
    assert.equal(bits, 1, `frame ${i}`);
    assert.equal(x[14], i >> 8, "sent copy intact");
  }
  assert.equal(link.stats.corrupted, 200);

  const some = twoHosts(3, { corrupt: 0.1 });
  burst(some.net, some.a, 1000);
  some.net.runUntilIdle();
  const sentBytes = some.net.bindings(some.a).frames.map((f) => f.bytes.join());
  const changed = some.b.received.filter((r, i) => r.bytes.join() !== sentBytes[i]).length;
  assert.ok(changed > 70 && changed < 130, `corrupted ${changed}`);
  assert.equal(changed, some.link.stats.corrupted);
});

test("reordering: some frames overtake others, none is lost or changed", () => {
  const { net, a, b, link } = twoHosts(4, { latency: 5, reorder: 0.3, reorderDelay: 10 });
  burst(net, a, 200, 1);
  net.runUntilIdle();
  const got = b.seqs();
  assert.equal(got.length, 200);
  assert.deepEqual(
    [...got].sort((x, y) => x - y),
    Array.from({ length: 200 }, (_, i) => i),
  );
  let inversions = 0;
  for (let i = 1; i < got.length; i++) if (got[i] < got[i - 1]) inversions++;
  assert.ok(inversions > 10, `inversions ${inversions}`);
  assert.ok(link.stats.reordered > 40 && link.stats.reordered < 80, `reordered ${link.stats.reordered}`);
  for (let i = 1; i < b.received.length; i++) assert.ok(b.received[i].time >= b.received[i - 1].time);

  const calm = twoHosts(4, { latency: 5 });
  burst(calm.net, calm.a, 200, 1);
  calm.net.runUntilIdle();
  assert.deepEqual(
    calm.b.seqs(),
    Array.from({ length: 200 }, (_, i) => i),
  );
});

test("bandwidth: frames queue behind each other at the sender", () => {
  // 1000-byte frames at 8 Mbit/s take 1 ms each on the wire.
  const { net, a, b } = twoHosts(1, { bandwidth: 8_000_000, latency: 2 });
  for (let i = 0; i < 4; i++) a.send(0, mac(2), [0, i, ...new Array(1000 - 16).fill(0)]);
  net.runUntilIdle();
  assert.deepEqual(
    b.received.map((r) => r.time),
    [3, 4, 5, 6],
  );
  net.runUntil(100);
  a.send(0, mac(2), [0, 9, ...new Array(1000 - 16).fill(0)]);
  net.runUntilIdle();
  assert.equal(b.received[4].time, 103, "an idle link starts sending at once");
});

test("a learning switch floods unknown and broadcast destinations and then forwards to one port", () => {
  const net = new FakeNetwork({ seed: 1 });
  const [a, b, c] = [1, 2, 3].map((n) => net.addHost(`h${n}`, (bb) => new ToyHost(bb, mac(n))));
  const sw = net.segment({ name: "sw", latency: 1 }, [a, 0], [b, 0], [c, 0]);
  a.send(0, mac(2), [0, 1]); // b unknown: flooded
  net.runUntilIdle();
  assert.deepEqual([b.received.length, c.received.length], [1, 1]);
  b.send(0, mac(1), [0, 2]); // a learned: only a
  net.runUntilIdle();
  assert.deepEqual([a.received.length, c.received.length], [1, 1]);
  a.send(0, mac(2), [0, 3]); // b learned now: only b
  net.runUntilIdle();
  assert.deepEqual([b.received.length, c.received.length], [2, 1]);
  c.send(0, BCAST, [0, 4]); // broadcast: everyone but the sender
  net.runUntilIdle();
  assert.deepEqual([a.received.length, b.received.length, c.received.length], [2, 3, 1], "not back to c");
  assert.deepEqual(sw.endpoints, [
    ["h1", 0],
    ["h2", 0],
    ["h3", 0],
  ]);
});

test("a hub floods everything, and every receiver gets its own copy", () => {
  const net = new FakeNetwork({ seed: 1 });
  const [a, b, c] = [1, 2, 3].map((n) => net.addHost(`h${n}`, (bb) => new ToyHost(bb, mac(n))));
  const taps: TapRecord[] = [];
  const hub = net.segment({ learning: false }, [a, 0], [b, 0], [c, 0]);
  hub.tap((r) => taps.push(r));
  b.send(0, mac(1), [0, 1]);
  a.send(0, mac(2), [0, 2]);
  net.runUntilIdle();
  assert.deepEqual(c.seqs(), [1, 2], "a hub does not learn");
  const [fromB] = a.received;
  const [atC] = c.received;
  assert.notEqual(fromB.buf.bytes.buffer, atC.buf.bytes.buffer);
  fromB.buf.bytes.fill(0xee);
  assert.equal(seqOf(atC.bytes), 1, "one receiver's changes do not reach another");
  assert.ok(
    taps.every((t) => t.bytes[0] !== 0xee),
    "nor the tap records",
  );
  assert.deepEqual(
    taps.map((t) => `${t.dir} ${t.host}`),
    ["tx h2", "tx h1", "rx h1", "rx h3", "rx h2", "rx h3"],
  );
});

test("a link that is down, an oversize frame and an unattached device drop frames", () => {
  const { net, a, b, link } = twoHosts(1, { maxFrame: 100 });
  a.send(0, mac(2), new Array(200).fill(1));
  link.up = false;
  a.send(0, mac(2), [0, 1]);
  a.send(5, mac(2), [0, 2]);
  link.up = true;
  a.send(0, mac(2), [0, 3]);
  net.runUntilIdle();
  assert.deepEqual(b.seqs(), [3]);
  assert.equal(link.stats.oversize, 1);
  assert.equal(link.stats.down, 1);
  assert.equal(net.unattached, 1);
});

test("inject delivers a hand-made frame to a device, outside any link", () => {
  const { net, b } = twoHosts(1);
  const bytes = frame(mac(2), mac(9), [0, 42]);
  net.inject(["b", 0], bytes, 4);
  bytes[14] = 0xff;
  net.runUntilIdle();
  assert.equal(b.received[0].time, 4);
  assert.equal(seqOf(b.received[0].bytes), 42);
});

/** A lossy, duplicating, corrupting, reordering, jittery scenario; returns its trace. */
function chaos(seed: number): { trace: string[]; replies: number[] } {
  const net = new FakeNetwork({ seed });
  const p = net.addHost("p", (b) => new Pinger(b, mac(1), mac(2), 3, 100));
  net.addHost("e", (b) => new ToyHost(b, mac(2), true));
  net.link([p, 0], ["e", 0], {
    latency: 4,
    jitter: 2,
    loss: 0.1,
    duplicate: 0.05,
    corrupt: 0.05,
    reorder: 0.1,
    bandwidth: 1_000_000,
  });
  const trace: string[] = [];
  net.tap((r) => trace.push(`${r.time} ${r.link} ${r.dir} ${r.host}:${r.device} ${r.note ?? ""} ${r.bytes.join(",")}`));
  net.runUntilIdle();
  return { trace, replies: p.replies };
}

test("the same seed gives the same trace byte for byte; another seed does not", () => {
  const one = chaos(2024);
  const two = chaos(2024);
  assert.ok(one.trace.length > 150);
  assert.deepEqual(one.trace, two.trace);
  assert.deepEqual(one.replies, two.replies);
  const other = chaos(2025);
  assert.notDeepEqual(other.trace, one.trace);
});

test("timer-driven hosts: wake-ups interleave with deliveries in virtual time", () => {
  const net = new FakeNetwork({ seed: 5 });
  const p = net.addHost("p", (b) => new Pinger(b, mac(1), mac(2), 10, 5));
  net.addHost("e", (b) => new ToyHost(b, mac(2), true));
  net.link([p, 0], ["e", 0], { latency: 1 });
  net.runUntilIdle();
  assert.deepEqual(p.replies, [0, 1, 2, 3, 4]);
  assert.equal(net.now, 42, "last send at 40, echo back 2 ms later");
  assert.equal(net.bindings(p).wakeAt, Infinity);
  assert.notEqual(net.bindings("p").random(), net.bindings("e").random(), "hosts get distinct seeds");
});

test("runUntilIdle terminates: two echo hosts bounce a frame until the link loses it", () => {
  const net = new FakeNetwork({ seed: 11 });
  const a = net.addHost("a", (b) => new ToyHost(b, mac(1), true));
  const b = net.addHost("b", (bb) => new ToyHost(bb, mac(2), true));
  const link = net.link([a, 0], [b, 0], { latency: 1, loss: 0.05 });
  a.send(0, mac(2), [0, 1]);
  const steps = net.runUntilIdle();
  assert.equal(net.pending, 0);
  assert.equal(link.stats.lost, 1);
  assert.equal(steps, a.received.length + b.received.length);
  assert.ok(steps > 1);
});

test("a host that never goes idle: runUntilIdle(maxTime) stops, runUntilIdle() gives up loudly", () => {
  const net = new FakeNetwork({ seed: 1, maxSteps: 500 });
  const p = net.addHost("p", (b) => new Pinger(b, mac(1), mac(2), 1, Infinity));
  net.addHost("e", (b) => new ToyHost(b, mac(2)));
  net.link([p, 0], ["e", 0], { latency: 0.5 });
  net.runUntilIdle(20);
  assert.equal(p.sent, 21, "sent at 0..20");
  assert.ok(net.now <= 20);
  assert.throws(() => net.runUntilIdle(), /not idle after 500 steps/);
});

test("runUntil(time) moves the clock; runUntil(predicate) stops as soon as it holds", () => {
  const net = new FakeNetwork({ seed: 1 });
  const p = net.addHost("p", (b) => new Pinger(b, mac(1), mac(2), 10, 10));
  net.addHost("e", (b) => new ToyHost(b, mac(2), true));
  net.link([p, 0], ["e", 0], { latency: 2 });
  assert.equal(
    net.runUntil(() => p.replies.length === 3),
    true,
  );
  assert.equal(net.now, 24);
  net.runUntil(55);
  assert.equal(net.now, 55);
  assert.equal(p.replies.length, 6);
  assert.equal(
    net.runUntil(() => p.replies.length === 8, 70),
    false,
    "not by t=70",
  );
  assert.equal(
    net.runUntil(() => false),
    false,
    "idle first",
  );
  assert.equal(p.replies.length, 10);
});

test("hosts are named once and devices attached once", () => {
  const { net, a } = twoHosts();
  assert.throws(() => net.addHost("a", (b) => new ToyHost(b, mac(1))), /exists/);
  assert.throws(() => net.link([a, 0], ["b", 1]), /already attached/);
  assert.throws(() => net.bindings("nobody"), /unknown host/);
  assert.equal(net.host("a"), a);
});

test("lendFrames: frames arrive borrowed, in reused memory poisoned when receiveFrame returns", () => {
  for (const lend of [false, true]) {
    const net = new FakeNetwork({ seed: 4, lendFrames: lend });
    const a = net.addHost("a", (b) => new ToyHost(b, mac(1)));
    const b = net.addHost("b", (bb) => new ToyHost(bb, mac(2)));
    net.link(["a", 1], ["b", 1], { latency: 1 });
    const seen: { borrowed: boolean; copy: number[] }[] = [];
    const recv = b.receiveFrame.bind(b);
    b.receiveFrame = (device, buf) => {
      seen.push({ borrowed: buf.borrowed, copy: [...buf.body()] });
      recv(device, buf);
    };
    a.send(1, mac(2), [0, 1, 9, 9]);
    a.send(1, mac(2), [0, 2, 8]);
    net.runUntilIdle();
    assert.equal(net.lent, lend ? 2 : 0);
    assert.deepEqual(
      seen.map((s) => s.borrowed),
      [lend, lend],
    );
    // What the host saw during the call is the frame either way.
    assert.deepEqual(seen[0].copy, [...frame(mac(2), mac(1), [0, 1, 9, 9])]);
    assert.deepEqual(seen[1].copy, [...frame(mac(2), mac(1), [0, 2, 8])]);
    // What it kept without copying: its own when owned, the poison when lent.
    const kept = b.received.map((r) => [...r.bytes]);
    if (lend) {
      assert.deepEqual(kept[0], new Array(18).fill(POISON));
      assert.deepEqual(kept[1], new Array(17).fill(POISON));
      assert.equal(b.received[0].buf.bytes.buffer, b.received[1].buf.bytes.buffer, "one reused slab");
    } else {
      assert.deepEqual(kept, [seen[0].copy, seen[1].copy]);
    }
  }
});

test("a link's filter drops or delays chosen frames before the random impairments", () => {
  const { net, a, b, link } = twoHosts(1, { latency: 5 });
  link.options.filter = (frame, sender) => {
    const seq = seqOf(frame);
    if (sender === "a" && seq === 1) return false;
    if (seq === 2) return 20;
    return undefined;
  };
  const notes: string[] = [];
  link.tap((r) => {
    if (r.dir === "drop") notes.push(`${seqOf(r.bytes)} ${r.note}`);
  });
  burst(net, a, 4);
  net.runUntilIdle();
  assert.deepEqual(notes, ["1 lost"]);
  assert.deepEqual(
    b.received.map((r) => [seqOf(r.bytes), r.time]),
    [
      [0, 5],
      [3, 5],
      [2, 25],
    ],
  );
  assert.equal(link.stats.lost, 1);
});
