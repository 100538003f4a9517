import assert from "node:assert/strict";
import { test } from "node:test";
import type { StackEvent } from "../context.ts";
import { Buf } from "../packet/buf.ts";
import { NodeBindings } from "./bindings.ts";

/** A core that emits one `readable` event per frame (socket = first byte) and records its clock. */
function fakeCore(b: NodeBindings) {
  const seen: number[] = [];
  const times: number[] = [];
  const core = {
    receiveFrame(_device: number, frame: Buf): void {
      times.push(b.now());
      seen.push(frame.bytes[frame.start]);
      b.onEvent({ type: "readable", socket: frame.bytes[frame.start] });
    },
    handleTimers(now: number): void {
      times.push(now);
      b.onEvent({ type: "writable", socket: 99 });
    },
  };
  b.attach(core);
  return { seen, times };
}

const frame = (n: number) => new Buf(Uint8Array.of(n, 0, 0, 0));

test("bindings: a batch's events are delivered once, in order, before receive returns", () => {
  const b = new NodeBindings();
  fakeCore(b);
  const got: StackEvent[] = [];
  b.subscribe((ev) => got.push(ev));
  b.receive(0, [frame(1), frame(2), frame(3)]);
  assert.deepEqual(
    got.map((e) => ("socket" in e ? e.socket : -1)),
    [1, 2, 3],
  );
  assert.equal(b.flushes, 1);
  assert.equal(b.pendingEvents, 0);
  b.close();
});

test("bindings: the clock is read once per batch", () => {
  const b = new NodeBindings();
  const { times } = fakeCore(b);
  b.receive(0, [frame(1), frame(2), frame(3)]);
  assert.equal(times.length, 3);
  assert.ok(times[0] === times[1] && times[1] === times[2], `one reading: ${times.join(", ")}`);
  // Outside a batch the clock moves.
  const t = b.now();
  while (b.now() === t) {}
  b.close();
});

test("bindings: events of socket calls (outside a batch) arrive in a microtask, not synchronously", async () => {
  const b = new NodeBindings();
  fakeCore(b);
  const got: number[] = [];
  b.subscribe((ev) => got.push("socket" in ev ? ev.socket : -1));
  b.onEvent({ type: "writable", socket: 7 });
  b.onEvent({ type: "writable", socket: 8 });
  assert.deepEqual(got, []);
  await Promise.resolve();
  assert.deepEqual(got, [7, 8]);
  assert.equal(b.flushes, 1);
  b.close();
});

test("bindings: events caused by a listener's own core calls follow in the same delivery", () => {
  const b = new NodeBindings();
  fakeCore(b);
  const got: number[] = [];
  b.subscribe((ev) => {
    const s = "socket" in ev ? ev.socket : -1;
    got.push(s);
    // The application reacts with a socket call that makes the core emit another event.
    if (s === 1) b.onEvent({ type: "writable", socket: 10 });
  });
  b.receive(0, [frame(1), frame(2)]);
  assert.deepEqual(got, [1, 2, 10]);
  b.close();
});

test("bindings: a timer wake-up runs the core's timers and delivers their events", async () => {
  const b = new NodeBindings();
  const { times } = fakeCore(b);
  const got: number[] = [];
  b.subscribe((ev) => got.push("socket" in ev ? ev.socket : -1));
  const at = b.now() + 5;
  b.scheduleTimer(at);
  b.ref();
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(b.wakeups, 1);
  assert.ok(times[0] >= at, "never woken before the deadline");
  assert.deepEqual(got, [99]);
  b.unref();
  b.close();
});

test("bindings: after close nothing reaches the core", () => {
  const b = new NodeBindings();
  const { seen } = fakeCore(b);
  b.close();
  b.receive(0, [frame(1)]);
  assert.deepEqual(seen, []);
});
