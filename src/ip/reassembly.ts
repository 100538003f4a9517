/**
 * Fragment reassembly for either IP version.
 * RFC 791 section 3.2 and RFC 815 (IPv4 reassembly, hole tracking), RFC 1122 section 3.3.2,
 * RFC 8200 section 4.5 (IPv6), RFC 5722 (overlapping IPv6 fragments), RFC 6946 (atomic fragments),
 * RFC 792 / RFC 4443 3.3 (time exceeded, code 1, on reassembly timeout).
 *
 * Datagrams are keyed by (source, destination, identification, protocol) for IPv4 (RFC 791) and by
 * (source, destination, identification) for IPv6 (RFC 8200 4.5; the Next Header of the offset-zero
 * fragment is the one used).
 *
 * Storage: fragment data is copied into runs, each one buffer holding a contiguous range of the
 * datagram (as Linux keeps "fragment runs"): a fragment that continues a run is appended to it (the
 * buffer grows by doubling, or to the exact remaining length once the last fragment fixed it), any
 * other starts a run of its own, and runs that come to touch are merged. So the memory a datagram
 * holds follows the bytes received, not the offsets they arrived at: an 8-byte fragment near the
 * end of a 64 KiB datagram costs a few hundred bytes, not 64 KiB (and a peer's few such fragments
 * cannot fill the memory bound its other datagrams need). A complete datagram is one run: its
 * payload is returned as one contiguous range of that run's buffer.
 *
 * Hole tracking: each datagram keeps the byte ranges received so far, sorted and disjoint; the holes
 * of RFC 815 are the gaps between them. Because no two ranges may overlap, the datagram is complete
 * exactly when its length is known (the last fragment arrived) and the received byte count equals it.
 *
 * Overlaps: any overlap drops the whole datagram, for both versions. RFC 5722 requires it for IPv6;
 * for IPv4 it is our choice, the one Linux made in 2018 (FragmentSmack): overlapping fragments have
 * no legitimate use and are the stuff of evasion attacks. An exact duplicate (same offset, length and
 * bytes) is not an overlap (RFC 8200 4.5 allows keeping the datagram): only that fragment is dropped.
 *
 * Time comes in as an explicit `now` (milliseconds); nothing here schedules a timer. The caller arms
 * one at `nextDeadline()` and calls `expire(now)` when it fires.
 */

import type { IpVersion } from "./version.ts";

/** One received fragment, as the IP layer parsed it. Mutable so a hot path can reuse one object. */
export interface Fragment<A> {
  src: A;
  dst: A;
  /** Identification: 16 bits (IPv4) or 32 bits (IPv6 Fragment header). */
  id: number;
  /** IPv4 Protocol; IPv6 Next Header of the Fragment header (only the offset-zero one is kept). */
  proto: number;
  /** Fragment offset in bytes (the header field times 8). */
  offset: number;
  /** The More Fragments flag. */
  more: boolean;
  /** The fragment's data (after the IPv4 header / the IPv6 Fragment header): `bytes[off, off+len)`. */
  bytes: Uint8Array;
  off: number;
  len: number;
  /**
   * Bytes that count with the data against the 65535-byte limit: the IPv4 header length (the limit
   * is on Total Length) or the IPv6 extension headers before the Fragment header (the limit is on
   * Payload Length, which excludes the fixed header).
   */
  headerLen: number;
  /**
   * For the offset-zero fragment: its unfragmentable header bytes (copied and handed back with the
   * reassembled payload, and kept for a time exceeded message). Ignored for other fragments.
   */
  header: Uint8Array | null;
}

/** Why a fragment (and maybe its whole datagram) was dropped: one counter each. */
export type ReassemblyDropReason =
  /** RFC 8200 4.5 / RFC 791: a fragment with More Fragments set whose length is not a non-zero multiple of 8. */
  | "bad-length"
  /** RFC 8200 4.5 / RFC 791: the reassembled datagram would exceed 65535 bytes. */
  | "too-big"
  /** An exact duplicate of a fragment already held (only the duplicate is dropped). */
  | "duplicate"
  /** RFC 5722: the fragment overlaps data already held; the datagram is dropped. */
  | "overlap"
  /** The fragment ends past the known end, or a second last fragment disagrees; the datagram is dropped. */
  | "inconsistent"
  /** The datagram has too many fragments; it is dropped. */
  | "too-many-fragments"
  /** Buffering the fragment would exceed the memory bound. */
  | "memory"
  /** A new datagram would exceed the datagram count bound. */
  | "too-many-datagrams";

/** The fragment was stored; the datagram is not complete yet. */
export interface ReassemblyPending {
  readonly kind: "pending";
}

/** The fragment was dropped; `datagram` says whether the whole datagram was discarded with it. */
export interface ReassemblyDropped {
  readonly kind: "dropped";
  readonly reason: ReassemblyDropReason;
  readonly datagram: boolean;
}

/** The datagram is complete: its payload is `bytes[off, off+len)` (also as `payload`). */
export interface Reassembled<A> {
  readonly kind: "complete";
  readonly src: A;
  readonly dst: A;
  readonly id: number;
  /** The offset-zero fragment's protocol / Next Header. */
  readonly proto: number;
  /** The offset-zero fragment's header bytes, as given (a copy), or null. */
  readonly header: Uint8Array | null;
  /** The backing store: `off` bytes of headroom (see `ReassemblyOptions.headroom`) before the payload. */
  readonly bytes: Uint8Array;
  readonly off: number;
  readonly len: number;
  /** `bytes.subarray(off, off + len)`. */
  readonly payload: Uint8Array;
}

export type ReassemblyResult<A> = ReassemblyPending | ReassemblyDropped | Reassembled<A>;

/** A datagram whose reassembly timed out. */
export interface ReassemblyExpired<A> {
  readonly src: A;
  readonly dst: A;
  readonly id: number;
  readonly proto: number;
  /**
   * RFC 792 / RFC 1122 3.3.2 / RFC 8200 4.5: send a time exceeded (code 1, fragment reassembly time
   * exceeded) only when the offset-zero fragment arrived.
   */
  readonly timeExceeded: boolean;
  /** The offset-zero fragment's header bytes (null if it never arrived or none were given). */
  readonly header: Uint8Array | null;
  /** The offset-zero fragment's data (empty if it never arrived), for the ICMP error's quote. */
  readonly firstData: Uint8Array;
}

export interface ReassemblyOptions {
  /** Per-datagram timeout from its first fragment, in ms. Default 60 s (RFC 8200 4.5). */
  timeout?: number;
  /** Bound on bytes buffered across all datagrams. Default 4 MiB. */
  maxBytes?: number;
  /** Bound on datagrams under reassembly. Default 1024. */
  maxDatagrams?: number;
  /** Bound on fragments per datagram. Default 256 (a 64 KiB datagram over a 296-byte MTU). */
  maxFragments?: number;
  /** Bytes left free before the payload in the returned buffer, for headers. Default 0. */
  headroom?: number;
}

/** RFC 791 Total Length / RFC 8200 Payload Length are 16-bit fields. */
export const MAX_REASSEMBLED = 65535;

const PENDING: ReassemblyPending = Object.freeze({ kind: "pending" });

const DROPS = {} as Record<ReassemblyDropReason, ReassemblyDropped>;
for (const [reason, datagram] of [
  ["bad-length", false],
  ["too-big", false],
  ["duplicate", false],
  ["overlap", true],
  ["inconsistent", true],
  ["too-many-fragments", true],
  ["memory", false],
  ["too-many-datagrams", false],
] as const) {
  DROPS[reason] = Object.freeze({ kind: "dropped", reason, datagram });
}

const EMPTY = new Uint8Array(0);
const NONE_EXPIRED: readonly ReassemblyExpired<never>[] = Object.freeze([]);

/**
 * A contiguous range `[start, end)` of a datagram's payload: byte i of the payload lives at
 * `buf[base + i - start]`. `base` is the headroom for the run that starts at 0, else 0.
 */
class Run {
  constructor(
    public start: number,
    public end: number,
    public buf: Uint8Array,
    readonly base: number,
  ) {}
}

/** Bytes charged per run besides its buffer (the run and buffer objects). */
export const RUN_OVERHEAD = 128;

class Datagram<A> {
  /** Stored data, sorted by `start`, disjoint and never adjacent (touching runs are merged). */
  runs: Run[] = [];
  /** Payload length once the last fragment arrived; -1 before. */
  total = -1;
  /** Bytes received (ranges are disjoint, so this is their total length). */
  received = 0;
  /** Highest end offset received. */
  maxEnd = 0;
  /** Received fragments' ranges, sorted: [start0, end0, start1, end1, ...]. */
  ranges: number[] = [];
  /** Header bytes of the offset-zero fragment. */
  header: Uint8Array | null = null;
  /** Length of the offset-zero fragment's data; -1 until it arrives. */
  firstLen = -1;
  /** Bytes charged against the memory bound. */
  charged = 0;

  constructor(
    readonly key: string,
    readonly src: A,
    readonly dst: A,
    readonly id: number,
    public proto: number,
    readonly deadline: number,
  ) {}
}

/** Reassembly state for one IP version. */
export class Reassembler<A> {
  readonly timeout: number;
  readonly maxBytes: number;
  readonly maxDatagrams: number;
  readonly maxFragments: number;
  readonly headroom: number;
  /** Datagrams by key, in creation order: with a fixed timeout that is also deadline order. */
  private readonly datagrams = new Map<string, Datagram<A>>();
  private used = 0;

  constructor(
    readonly ip: IpVersion<A>,
    opts: ReassemblyOptions = {},
  ) {
    this.timeout = opts.timeout ?? 60_000;
    this.maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
    this.maxDatagrams = opts.maxDatagrams ?? 1024;
    this.maxFragments = opts.maxFragments ?? 256;
    this.headroom = opts.headroom ?? 0;
  }

  /** Datagrams under reassembly. */
  get size(): number {
    return this.datagrams.size;
  }

  /** Bytes buffered (counted against `maxBytes`). */
  get bytesBuffered(): number {
    return this.used;
  }

  /** Add a fragment received at time `now`. */
  insert(now: number, f: Fragment<A>): ReassemblyResult<A> {
    const { offset, len } = f;
    const end = offset + len;
    // RFC 8200 4.5 (and RFC 791: every fragment but the last carries a multiple of 8 octets): a
    // fragment with M = 1 whose length is not a multiple of 8 is discarded (Parameter Problem code 0).
    if (f.more && (len === 0 || (len & 7) !== 0)) return DROPS["bad-length"];
    // RFC 8200 4.5: a fragment that would make the reassembled Payload Length exceed 65535 is
    // discarded (Parameter Problem code 0 pointing at the Fragment Offset); RFC 791: Total Length.
    if (f.headerLen + end > MAX_REASSEMBLED) return DROPS["too-big"];
    // RFC 6946: an atomic fragment (offset 0, M = 0) is processed in isolation from any other.
    if (offset === 0 && !f.more) return this.atomic(f);

    const key = this.keyOf(f);
    let d = this.datagrams.get(key);
    const fresh = d === undefined;
    if (d === undefined) {
      if (this.datagrams.size >= this.maxDatagrams) return DROPS["too-many-datagrams"];
      d = new Datagram(key, this.ip.copy(f.src), this.ip.copy(f.dst), f.id, f.proto, now + this.timeout);
    }

    // The last fragment fixes the length; nothing may end past it, and a second last fragment must
    // agree (Linux drops the datagram in both cases, as we do).
    if (!f.more) {
      if ((d.total >= 0 && end !== d.total) || end < d.maxEnd) return this.kill(d, "inconsistent");
    } else if (d.total >= 0 && end > d.total) {
      return this.kill(d, "inconsistent");
    }

    // Find the first held range ending after `offset`; it is the only candidate for an overlap with
    // the new range's start, and the ranges after it start later.
    const r = d.ranges;
    const n = r.length >>> 1;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (r[2 * mid + 1] <= offset) lo = mid + 1;
      else hi = mid;
    }
    if (len > 0 && lo < n && r[2 * lo] < end) {
      if (r[2 * lo] === offset && r[2 * lo + 1] === end && this.sameBytes(d, f)) return DROPS.duplicate;
      // RFC 5722 section 4: any overlap discards the whole datagram (for IPv4 too, see above).
      return this.kill(d, "overlap");
    }
    if (len > 0 && n >= this.maxFragments) return this.kill(d, "too-many-fragments");

    const total = f.more ? d.total : end;
    const headerCost = offset === 0 && f.header !== null ? f.header.length : 0;
    // Over the bound the new fragment is dropped (Linux does the same past its high threshold):
    // what is held stays until it completes or times out.
    const plan = len > 0 ? this.plan(d, offset, end, total) : null;
    const cost = (plan === null ? 0 : plan.cost) + headerCost;
    if (this.used + cost > this.maxBytes) return DROPS.memory;
    if (fresh) this.datagrams.set(key, d);
    this.used += cost;
    d.charged += cost;

    if (plan !== null) {
      this.store(d, plan, f);
      r.splice(2 * lo, 0, offset, end);
      d.received += len;
      if (end > d.maxEnd) d.maxEnd = end;
    }
    if (!f.more) d.total = end;
    if (offset === 0) {
      d.firstLen = len;
      // RFC 8200 4.5: the Next Header of the offset-zero fragment is the one used.
      d.proto = f.proto;
      d.header = f.header === null ? null : f.header.slice();
    }

    if (d.total < 0 || d.received !== d.total) return PENDING;
    this.release(d);
    // Every byte of [0, total) arrived and touching runs are merged: one run, starting at 0.
    const h = this.headroom;
    const buf = d.total === 0 ? new Uint8Array(h) : d.runs[0].buf;
    return {
      kind: "complete",
      src: d.src,
      dst: d.dst,
      id: d.id,
      proto: d.proto,
      header: d.header,
      bytes: buf,
      off: h,
      len: d.total,
      payload: buf.subarray(h, h + d.total),
    };
  }

  /** When the earliest datagram times out (ms), or null when nothing is held. */
  nextDeadline(): number | null {
    for (const d of this.datagrams.values()) return d.deadline;
    return null;
  }

  /** Drop every datagram whose deadline is at or before `now`; returns them for counters and ICMP. */
  expire(now: number): readonly ReassemblyExpired<A>[] {
    let out: ReassemblyExpired<A>[] | null = null;
    for (const d of this.datagrams.values()) {
      if (d.deadline > now) break;
      this.release(d);
      out ??= [];
      out.push({
        src: d.src,
        dst: d.dst,
        id: d.id,
        proto: d.proto,
        timeExceeded: d.firstLen >= 0,
        header: d.header,
        firstData: d.firstLen > 0 ? d.runs[0].buf.subarray(this.headroom, this.headroom + d.firstLen) : EMPTY,
      });
    }
    return out ?? NONE_EXPIRED;
  }

  /** Forget everything (the interface went down). */
  clear(): void {
    this.datagrams.clear();
    this.used = 0;
  }

  private keyOf(f: Fragment<A>): string {
    const I = this.ip;
    // RFC 791: (source, destination, protocol, identification); RFC 8200 4.5: no protocol.
    return I.version === 4
      ? `${I.key(f.src)}/${I.key(f.dst)}/${f.id}/${f.proto}`
      : `${I.key(f.src)}${I.key(f.dst)}${f.id}`;
  }

  private atomic(f: Fragment<A>): Reassembled<A> {
    const h = this.headroom;
    const bytes = new Uint8Array(h + f.len);
    bytes.set(f.bytes.subarray(f.off, f.off + f.len), h);
    return {
      kind: "complete",
      src: this.ip.copy(f.src),
      dst: this.ip.copy(f.dst),
      id: f.id,
      proto: f.proto,
      header: f.header === null ? null : f.header.slice(),
      bytes,
      off: h,
      len: f.len,
      payload: bytes.subarray(h, h + f.len),
    };
  }

  private sameBytes(d: Datagram<A>, f: Fragment<A>): boolean {
    const run = d.runs[this.runAt(d, f.offset)];
    const b = run.buf;
    const at = run.base + f.offset - run.start;
    const src = f.bytes;
    for (let i = 0; i < f.len; i++) if (b[at + i] !== src[f.off + i]) return false;
    return true;
  }

  /** Index of the run that holds or comes after payload offset `x`. */
  private runAt(d: Datagram<A>, x: number): number {
    const runs = d.runs;
    let lo = 0;
    let hi = runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (runs[mid].end <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Where the data `[offset, end)` (overlapping nothing held) will go, and what it costs: the run
   * it continues (`left`, ending at `offset`) or a new one, merged with the run it touches on the
   * right (`right`, starting at `end`), in a buffer of `cap` bytes (the left run's own while it is
   * big enough). `total` is the payload length when known.
   */
  private plan(d: Datagram<A>, offset: number, end: number, total: number): StorePlan {
    const runs = d.runs;
    const i = this.runAt(d, offset);
    const left = i > 0 && runs[i - 1].end === offset ? i - 1 : -1;
    const right = i < runs.length && runs[i].start === end ? i : -1;
    const start = left >= 0 ? runs[left].start : offset;
    const last = right >= 0 ? runs[right].end : end;
    const base = start === 0 ? this.headroom : 0;
    const need = base + last - start;
    const have = left >= 0 ? runs[left].buf.length : 0;
    let cap = have;
    if (need > have) {
      // The exact length once the datagram's length is known; else double (amortized growth).
      cap = total >= 0 ? base + total - start : Math.min(base + MAX_REASSEMBLED - start, Math.max(need, 2 * have));
    }
    let cost = cap - have;
    if (left < 0) cost += RUN_OVERHEAD;
    if (right >= 0) cost -= runs[right].buf.length + RUN_OVERHEAD;
    return { index: i, left, right, start, end: last, base, cap, cost };
  }

  /** Copy the fragment's data as `plan` says. */
  private store(d: Datagram<A>, plan: StorePlan, f: Fragment<A>): void {
    const runs = d.runs;
    const { left, right, base, cap } = plan;
    let run: Run;
    if (left >= 0) {
      run = runs[left];
      if (cap > run.buf.length) {
        const buf = new Uint8Array(cap);
        buf.set(run.buf.subarray(0, base + run.end - run.start));
        run.buf = buf;
      }
    } else {
      run = new Run(f.offset, f.offset, new Uint8Array(cap), base);
      runs.splice(plan.index, 0, run);
    }
    run.buf.set(f.bytes.subarray(f.off, f.off + f.len), base + f.offset - run.start);
    run.end = f.offset + f.len;
    if (right >= 0) {
      const r = runs[left >= 0 ? right : right + 1];
      run.buf.set(r.buf.subarray(r.base, r.base + r.end - r.start), base + r.start - run.start);
      run.end = r.end;
      runs.splice(left >= 0 ? right : right + 1, 1);
    }
  }

  private kill(d: Datagram<A>, reason: ReassemblyDropReason): ReassemblyDropped {
    if (this.datagrams.get(d.key) === d) this.release(d);
    return DROPS[reason];
  }

  private release(d: Datagram<A>): void {
    this.datagrams.delete(d.key);
    this.used -= d.charged;
    d.charged = 0;
  }
}

/** What `Reassembler.plan` decided for one fragment. */
interface StorePlan {
  /** Index where a new run goes (the first run after the fragment). */
  index: number;
  /** Index of the run the fragment continues, or -1. */
  left: number;
  /** Index of the run the fragment touches on the right (merged into this one), or -1. */
  right: number;
  /** The resulting run's range. */
  start: number;
  end: number;
  /** Headroom of the resulting run (the configured headroom when it starts at 0). */
  base: number;
  /** Its buffer's capacity. */
  cap: number;
  /** Change of the bytes charged against the bound. */
  cost: number;
}
