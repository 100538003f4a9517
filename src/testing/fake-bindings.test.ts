import assert from "node:assert/strict";
import { test } from "node:test";
import { Buf } from "../packet/buf.ts";
import { CoreTimers, Timer } from "../timers.ts";
import { FakeBindings, FakeClock } from "./fake-bindings.ts";
import { Rng } from "./rng.ts";

/** A toy core: a periodic "beacon" timer that sends a 2-byte frame with its count. */
class Beacon {
  readonly timers: CoreTimers<string>;
  readonly timer = new Timer("beacon");
  fired: number[] = [];
  constructor(
    readonly b: FakeBindings,
    readonly period: number,
    readonly count: number,
  ) {
    this.timers = new CoreTimers(b);
    this.timers.schedule(this.timer, b.now() + period);
  }
  handleTimers(now: number): void {
    for (let t = this.timers.popExpired(now); t !== null; t = this.timers.popExpired(now)) {
      this.fired.push(now);
      this.b.sendFrame(0, Buf.from(new Uint8Array([0xbe, this.fired.length])));
      if (this.fired.length < this.count) this.timers.schedule(this.timer, now + this.period);
    }
  }
}

test("the clock moves only when told, never backwards", () => {
  const b = new FakeBindings({ start: 100 });
  assert.equal(b.now(), 100);
  b.advance(2.5);
  assert.equal(b.now(), 102.5);
  b.advanceTo(50);
  assert.equal(b.now(), 102.5);
  const shared = new FakeClock(7);
  const x = new FakeBindings({ clock: shared });
  const y = new FakeBindings({ clock: shared });
  shared.now = 9;
  assert.equal(x.now(), 9);
  assert.equal(y.now(), 9);
});

test("advanceTo fires each wake-up at its own time, in order, through the host", () => {
  const b = new FakeBindings();
  const host = new Beacon(b, 10, 3);
  assert.equal(b.wakeAt, 10);
  assert.equal(b.advanceTo(25, host), 2);
  assert.deepEqual(host.fired, [10, 20]);
  assert.equal(b.now(), 25);
  assert.equal(b.wakeAt, 30);
  b.advance(100, host);
  assert.deepEqual(host.fired, [10, 20, 30]);
  assert.equal(b.wakeAt, Infinity, "no timer left");
  assert.deepEqual(
    b.frames.map((f) => [f.device, [...f.bytes], f.time]),
    [
      [0, [0xbe, 1], 10],
      [0, [0xbe, 2], 20],
      [0, [0xbe, 3], 30],
    ],
  );
});

test("sendFrame records a copy of the body, not the buffer", () => {
  const b = new FakeBindings();
  const buf = new Buf(new Uint8Array([9, 1, 2, 3, 9]), 1, 4);
  b.sendFrame(3, buf);
  buf.bytes.fill(0);
  assert.deepEqual([...b.frames[0].bytes], [1, 2, 3]);
  assert.equal(b.frames[0].device, 3);
  assert.equal(b.takeFrames().length, 1);
  assert.equal(b.frames.length, 0);
});

test("events are recorded; onFrame/onWake hooks see what the core does; record:false keeps nothing", () => {
  const seen: string[] = [];
  const b = new FakeBindings({
    record: false,
    onFrame: (d, bytes, t) => seen.push(`frame ${d} ${bytes.length} @${t}`),
    onWake: (at) => seen.push(`wake ${at}`),
  });
  b.scheduleTimer(5);
  b.cancelTimer();
  b.sendFrame(1, Buf.from(new Uint8Array(4)));
  b.onEvent({ type: "readable", socket: 1 });
  assert.deepEqual(seen, ["wake 5", "wake Infinity", "frame 1 4 @0"]);
  assert.equal(b.frames.length + b.events.length, 0);
  assert.equal(b.scheduleCalls, 1);
  assert.equal(b.cancelCalls, 1);

  const r = new FakeBindings();
  r.onEvent({ type: "error", socket: 4, code: "ECONNRESET" });
  r.onEvent({ type: "closed", socket: 4 });
  assert.deepEqual(r.takeEvents(), [
    { type: "error", socket: 4, code: "ECONNRESET" },
    { type: "closed", socket: 4 },
  ]);
});

test("random() is the seeded generator's stream", () => {
  const b = new FakeBindings({ seed: 99 });
  const r = new Rng(99);
  for (let i = 0; i < 5; i++) assert.equal(b.random(), r.uint32());
  assert.notEqual(new FakeBindings({ seed: 1 }).random(), new FakeBindings({ seed: 2 }).random());
});

test("a host that never stops is cut off by maxWakeups", () => {
  const b = new FakeBindings();
  const host = new Beacon(b, 1, Infinity);
  assert.throws(() => b.advanceTo(1e9, host, 100), /more than 100 wake-ups/);
});
