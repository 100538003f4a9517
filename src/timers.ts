/**
 * The core's timer queue: any number of protocol timers, one host wake-up.
 *
 * Each protocol timer is a `Timer<T>` handle owned by the protocol state that uses it (an ARP
 * entry, a reassembly slot, a TCP connection) and created once with its `data` (a `TimerId`, see
 * context.ts). `TimerQueue<T>` is a binary min-heap of those handles keyed by deadline; every handle
 * stores its own heap index, so `schedule` (which also reschedules) and `cancel` are O(log n) and
 * allocate nothing. Equal deadlines fire in the order they were (re)scheduled, so runs are
 * deterministic.
 *
 * `CoreTimers<T>` couples a queue to the bindings' single host wake-up (`scheduleTimer(at)` /
 * `cancelTimer()`): it asks the host only when the earliest deadline moves earlier, and re-arms after
 * expired timers have been taken. A wake-up that comes early (the earliest timer was cancelled or
 * moved later) just finds nothing expired and re-arms: that is cheaper than talking to the host on
 * every reschedule of, say, a TCP retransmission timer.
 */
import type { Bindings } from "./context.ts";

/** A timer handle. Create one per protocol timer and keep it; schedule it as often as needed. */
export class Timer<T> {
  /** What the timer means; the core interprets it when the timer fires. */
  data: T;
  /**
   * Deadline (ms, the bindings' clock) while scheduled; after `popExpired` returned it, the deadline
   * it fired for; `Infinity` after `cancel` or before the first `schedule`.
   */
  at = Infinity;
  /** Position in the owning queue's heap, -1 when not scheduled. Owned by the queue. */
  index = -1;
  /** Scheduling sequence number, the tie-breaker for equal deadlines. Owned by the queue. */
  seq = 0;

  constructor(data: T) {
    this.data = data;
  }

  /** True while the timer is in a queue. */
  get scheduled(): boolean {
    return this.index >= 0;
  }
}

/** Heap order: earlier deadline first, then earlier (re)schedule. */
function before<T>(a: Timer<T>, b: Timer<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** A binary min-heap of `Timer` handles. A handle belongs to at most one queue at a time. */
export class TimerQueue<T> {
  private readonly heap: Timer<T>[] = [];
  private nextSeq = 0;

  /** Number of scheduled timers. */
  get size(): number {
    return this.heap.length;
  }

  /**
   * Schedule `t` to fire at `at`, or move it there if it is already scheduled. A rescheduled
   * timer goes behind timers already scheduled for the same deadline.
   */
  schedule(t: Timer<T>, at: number): void {
    if (Number.isNaN(at)) throw new RangeError("timer deadline is NaN");
    t.seq = this.nextSeq++;
    const old = t.at;
    t.at = at;
    if (t.index >= 0 && this.heap[t.index] === t) {
      if (at < old) this.up(t.index);
      else this.down(t.index);
      return;
    }
    t.index = this.heap.length;
    this.heap.push(t);
    this.up(t.index);
  }

  /** An alias of `schedule` for readability at call sites that move a running timer. */
  reschedule(t: Timer<T>, at: number): void {
    this.schedule(t, at);
  }

  /** Remove `t` if it is scheduled here. Returns true when it was. */
  cancel(t: Timer<T>): boolean {
    const i = t.index;
    const heap = this.heap;
    if (i < 0 || heap[i] !== t) return false;
    const last = heap.pop()!;
    if (last !== t) {
      heap[i] = last;
      last.index = i;
      if (before(last, t)) this.up(i);
      else this.down(i);
    }
    t.index = -1;
    t.at = Infinity;
    return true;
  }

  /** The earliest deadline, or `Infinity` when nothing is scheduled. */
  nextDeadline(): number {
    return this.heap.length === 0 ? Infinity : this.heap[0].at;
  }

  /** The timer that fires next, without removing it. */
  peek(): Timer<T> | null {
    return this.heap.length === 0 ? null : this.heap[0];
  }

  /**
   * Remove and return the earliest timer whose deadline is at or before `now`, or null. Call it in
   * a loop; timers scheduled for `now` or earlier while handling one are returned too.
   */
  popExpired(now: number): Timer<T> | null {
    const heap = this.heap;
    if (heap.length === 0 || heap[0].at > now) return null;
    const t = heap[0];
    const last = heap.pop()!;
    if (last !== t) {
      heap[0] = last;
      last.index = 0;
      this.down(0);
    }
    t.index = -1;
    return t;
  }

  /** Remove every timer. */
  clear(): void {
    for (const t of this.heap) {
      t.index = -1;
      t.at = Infinity;
    }
    this.heap.length = 0;
  }

  private up(i: number): void {
    const heap = this.heap;
    const t = heap[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p];
      if (!before(t, parent)) break;
      heap[i] = parent;
      parent.index = i;
      i = p;
    }
    heap[i] = t;
    t.index = i;
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const t = heap[i];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(heap[r], heap[l]) ? r : l;
      const child = heap[c];
      if (!before(child, t)) break;
      heap[i] = child;
      child.index = i;
      i = c;
    }
    heap[i] = t;
    t.index = i;
  }
}

/** The two bindings methods that drive the host wake-up. */
export type WakeUp = Pick<Bindings, "scheduleTimer" | "cancelTimer">;

/**
 * A `TimerQueue` kept in step with the bindings' single host wake-up. The Stack owns one and, in
 * its `handleTimers(now)` entry point, loops `while ((t = timers.popExpired(now)) !== null)`.
 */
export class CoreTimers<T> {
  readonly queue = new TimerQueue<T>();
  /** The deadline the host was last asked to wake us at; `Infinity` when none is pending. */
  private armed = Infinity;

  constructor(private readonly host: WakeUp) {}

  get size(): number {
    return this.queue.size;
  }

  /** Schedule or move `t`. Asks the host for an earlier wake-up only when one is needed. */
  schedule(t: Timer<T>, at: number): void {
    this.queue.schedule(t, at);
    if (at < this.armed) {
      this.armed = at;
      this.host.scheduleTimer(at);
    }
  }

  /** Cancel `t`; when no timer is left, the host wake-up is cancelled too. */
  cancel(t: Timer<T>): boolean {
    const was = this.queue.cancel(t);
    if (this.queue.size === 0 && this.armed !== Infinity) {
      this.armed = Infinity;
      this.host.cancelTimer();
    }
    return was;
  }

  nextDeadline(): number {
    return this.queue.nextDeadline();
  }

  /**
   * The next expired timer, or null when none is left; on null the host wake-up is re-armed for
   * the next deadline. Call it only from the host's wake-up (`handleTimers`): that wake-up counts as
   * consumed even when it came early (a host timer may fire before the clock reaches its deadline),
   * so the host is always asked again while timers remain.
   */
  popExpired(now: number): Timer<T> | null {
    const t = this.queue.popExpired(now);
    if (t !== null) return t;
    this.armed = Infinity;
    const next = this.queue.nextDeadline();
    if (next < this.armed) {
      this.armed = next;
      this.host.scheduleTimer(next);
    }
    return null;
  }
}
