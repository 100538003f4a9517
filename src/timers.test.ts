import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { CoreTimers, Timer, TimerQueue } from "./timers.ts";

function drain<T>(q: TimerQueue<T>, now = Infinity): T[] {
  const out: T[] = [];
  for (let t = q.popExpired(now); t !== null; t = q.popExpired(now)) out.push(t.data);
  return out;
}

test("timers fire in deadline order; ties fire in scheduling order", () => {
  const q = new TimerQueue<string>();
  const specs: [string, number][] = [
    ["c", 30],
    ["a1", 10],
    ["b", 20],
    ["a2", 10],
    ["z", 5],
    ["a3", 10],
  ];
  for (const [name, at] of specs) q.schedule(new Timer(name), at);
  assert.equal(q.size, 6);
  assert.equal(q.nextDeadline(), 5);
  assert.deepEqual(drain(q, 10), ["z", "a1", "a2", "a3"]);
  assert.equal(q.nextDeadline(), 20);
  assert.equal(q.popExpired(19), null, "nothing due before 20");
  assert.deepEqual(drain(q), ["b", "c"]);
  assert.equal(q.nextDeadline(), Infinity);
  assert.equal(q.peek(), null);
});

test("cancel removes a timer wherever it is in the heap", () => {
  const q = new TimerQueue<number>();
  const ts = Array.from({ length: 20 }, (_, i) => new Timer(i));
  ts.forEach((t, i) => {
    q.schedule(t, (i * 7) % 20);
  });
  assert.equal(q.cancel(ts[0]), true, "the root");
  assert.equal(q.cancel(ts[13]), true);
  assert.equal(q.cancel(ts[19]), true);
  assert.equal(q.cancel(ts[13]), false, "twice is a no-op");
  assert.equal(ts[13].scheduled, false);
  assert.equal(ts[13].at, Infinity);
  assert.equal(q.size, 17);
  const got = drain(q);
  const want = ts
    .filter((_, i) => i !== 0 && i !== 13 && i !== 19)
    .sort((a, b) => ((a.data * 7) % 20) - ((b.data * 7) % 20))
    .map((t) => t.data);
  assert.deepEqual(got, want);
});

test("reschedule moves a timer earlier or later and puts it behind equal deadlines", () => {
  const q = new TimerQueue<string>();
  const a = new Timer("a");
  const b = new Timer("b");
  const c = new Timer("c");
  q.schedule(a, 10);
  q.schedule(b, 20);
  q.schedule(c, 30);
  q.reschedule(c, 5);
  assert.equal(q.peek(), c);
  q.reschedule(c, 40);
  assert.equal(q.size, 3, "rescheduling does not duplicate");
  q.schedule(a, 20); // same deadline as b, but later: goes behind b
  assert.deepEqual(drain(q), ["b", "a", "c"]);
  // A popped timer can be scheduled again.
  q.schedule(a, 1);
  assert.deepEqual(drain(q), ["a"]);
});

test("a timer scheduled while draining at `now` fires in the same drain", () => {
  const q = new TimerQueue<string>();
  const later = new Timer("later");
  q.schedule(new Timer("first"), 10);
  const out: string[] = [];
  for (let t = q.popExpired(10); t !== null; t = q.popExpired(10)) {
    out.push(t.data);
    if (t.data === "first") q.schedule(later, 10);
  }
  assert.deepEqual(out, ["first", "later"]);
});

test("NaN deadlines are refused", () => {
  assert.throws(() => new TimerQueue<number>().schedule(new Timer(1), Number.NaN), RangeError);
});

test("100k timers: schedule, reschedule half, cancel a quarter, drain in (deadline, sequence) order", () => {
  const q = new TimerQueue<number>();
  const n = 100_000;
  const ts: Timer<number>[] = [];
  const want = new Float64Array(n);
  let x = 12345;
  const next = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % 10_000;
  };
  for (let i = 0; i < n; i++) {
    const t = new Timer(i);
    ts.push(t);
    want[i] = next();
    q.schedule(t, want[i]);
  }
  for (let i = 0; i < n; i += 2) {
    want[i] = next();
    q.reschedule(ts[i], want[i]);
  }
  for (let i = 0; i < n; i += 4) q.cancel(ts[i]);
  assert.equal(q.size, n - n / 4);
  let prevAt = -1;
  let prevSeq = -1;
  let count = 0;
  for (let t = q.peek(); t !== null; t = q.peek()) {
    const { at, seq, data } = t;
    assert.ok(at > prevAt || (at === prevAt && seq > prevSeq), "ordered by (deadline, sequence)");
    assert.equal(at, want[data], "fires at its last deadline");
    assert.notEqual(data % 4, 0, "cancelled timers never fire");
    assert.equal(q.popExpired(at), t);
    prevAt = at;
    prevSeq = seq;
    count++;
  }
  assert.equal(count, n - n / 4);
});

test("property: the queue pops exactly what a sorted list of live timers says", () => {
  type Op = { op: "schedule"; t: number; at: number } | { op: "cancel"; t: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant("schedule" as const), t: fc.nat(15), at: fc.nat(50) }),
    fc.record({ op: fc.constant("cancel" as const), t: fc.nat(15) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
      const q = new TimerQueue<number>();
      const ts = Array.from({ length: 16 }, (_, i) => new Timer(i));
      // Model: timer -> [deadline, sequence].
      const model = new Map<number, [number, number]>();
      let seq = 0;
      for (const o of ops) {
        if (o.op === "schedule") {
          q.schedule(ts[o.t], o.at);
          model.set(o.t, [o.at, seq++]);
        } else {
          assert.equal(q.cancel(ts[o.t]), model.delete(o.t));
        }
      }
      const want = [...model.entries()].sort((a, b) => a[1][0] - b[1][0] || a[1][1] - b[1][1]).map((e) => e[0]);
      assert.deepEqual(drain(q), want);
    }),
  );
});

class FakeWake {
  at = Infinity;
  calls: string[] = [];
  scheduleTimer(at: number): void {
    this.at = at;
    this.calls.push(`schedule ${at}`);
  }
  cancelTimer(): void {
    this.at = Infinity;
    this.calls.push("cancel");
  }
}

test("CoreTimers asks the host for one wake-up, only when the earliest deadline moves earlier", () => {
  const host = new FakeWake();
  const ct = new CoreTimers<string>(host);
  const rto = new Timer("rto");
  const ack = new Timer("ack");
  ct.schedule(rto, 100);
  ct.schedule(rto, 200); // later: the pending wake-up at 100 is kept (it will come early)
  ct.schedule(rto, 300);
  ct.schedule(ack, 40); // earlier: re-arm
  assert.deepEqual(host.calls, ["schedule 100", "schedule 40"]);
  // The wake-up at 40 fires: ack is due, then the host is re-armed for rto.
  assert.equal(ct.popExpired(40), ack);
  assert.equal(ct.popExpired(40), null);
  assert.equal(host.at, 300);
  // Cancel the last timer: the host wake-up is cancelled.
  ct.cancel(rto);
  assert.equal(host.at, Infinity);
  assert.deepEqual(host.calls, ["schedule 100", "schedule 40", "schedule 300", "cancel"]);
});

test("CoreTimers: an early (spurious) wake-up finds nothing and re-arms for the real deadline", () => {
  const host = new FakeWake();
  const ct = new CoreTimers<string>(host);
  const t = new Timer("t");
  ct.schedule(t, 10);
  ct.schedule(t, 50);
  assert.equal(host.at, 10);
  assert.equal(ct.popExpired(10), null);
  assert.equal(host.at, 50);
  assert.equal(ct.popExpired(50), t);
  assert.equal(ct.popExpired(50), null);
  assert.equal(ct.size, 0);
  assert.equal(host.calls.length, 2, "no wake-up requested when none is needed");
});
