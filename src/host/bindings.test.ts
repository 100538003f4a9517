import assert from "node:assert/strict";
import { test } from "node:test";
import { Buf } from "../packet/buf.ts";
import { HostBindings } from "./bindings.ts";
import type { HostPlatform } from "./platform.ts";

/** A platform with a hand-moved clock and recorded timers. */
function fakePlatform() {
  let clock = 0;
  const timers: { fn: () => void; at: number; live: boolean }[] = [];
  const reads = { n: 0 };
  const p: HostPlatform = {
    now: () => {
      reads.n++;
      return clock;
    },
    setTimer: (fn, ms) => {
      const t = { fn, at: clock + ms, live: true };
      timers.push(t);
      return t;
    },
    clearTimer: (h) => {
      (h as { live: boolean }).live = false;
    },
    fillRandom: (out) => out.fill(7),
    defer: (fn) => timers.push({ fn, at: clock, live: true }),
    reportError: (e) => {
      throw e;
    },
  };
  return {
    p,
    reads,
    live: () => timers.filter((t) => t.live),
    advance(to: number) {
      clock = to;
      for (const t of timers.splice(0)) {
        if (!t.live) continue;
        if (t.at > to) timers.push(t);
        else {
          t.live = false;
          t.fn();
        }
      }
    },
    set(to: number) {
      clock = to;
    },
  };
}

test("HostBindings: a batch's events are delivered in order before receive returns; one clock read", () => {
  const f = fakePlatform();
  const b = new HostBindings(f.p);
  const times: number[] = [];
  b.attach({
    receiveFrame(_d, frame) {
      times.push(b.now());
      b.onEvent({ type: "readable", socket: frame.bytes[0] });
    },
    handleTimers() {},
  });
  const got: number[] = [];
  b.subscribe((ev) => got.push("socket" in ev ? ev.socket : -1));
  f.reads.n = 0;
  b.receive(0, [new Buf(Uint8Array.of(1)), new Buf(Uint8Array.of(2)), new Buf(Uint8Array.of(3))]);
  assert.deepEqual(got, [1, 2, 3]);
  assert.equal(f.reads.n, 1, "the clock is read once per batch");
  assert.equal(b.flushes, 1);
});

test("HostBindings: one host timer; a wake-up before the deadline re-arms instead of running the core", () => {
  const f = fakePlatform();
  const b = new HostBindings(f.p);
  const fired: number[] = [];
  b.attach({ receiveFrame() {}, handleTimers: (now) => fired.push(now) });
  b.scheduleTimer(100);
  b.scheduleTimer(50);
  assert.equal(f.live().length, 1, "the earlier request replaced the first");
  // The host fires it early (its clock is coarser): nothing runs, a new timer is armed.
  f.set(49);
  for (const t of f.live()) {
    t.live = false;
    t.fn();
  }
  assert.deepEqual(fired, []);
  f.advance(50);
  assert.deepEqual(fired, [50]);
  assert.equal(b.wakeups, 1);
  b.scheduleTimer(80);
  b.cancelTimer();
  f.advance(100);
  assert.deepEqual(fired, [50]);
});

test("HostBindings: random() draws from fillRandom in blocks", () => {
  const f = fakePlatform();
  const b = new HostBindings(f.p);
  assert.equal(b.random(), 7);
});
