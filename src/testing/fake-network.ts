/**
 * FakeNetwork: several hosts joined by simulated links, run in virtual time (after netstack3's
 * `FakeNetwork` and smoltcp's `FaultInjector`).
 *
 * A host is anything with the core's entry points (`EntryPoints`, src/context.ts): the Stack, or a
 * toy host in a test. Each is built by the network with its own `FakeBindings` sharing the
 * network's clock, and talks to the world only through them; what it sends goes onto the link its
 * device is attached to, where latency, bandwidth, loss, duplication,
 * corruption and reordering are applied with draws from ONE seeded generator. Deliveries and host
 * wake-ups wait in one queue ordered by (time, sequence), and `step()` runs the earliest. Nothing
 * depends on the host's clock or iteration order of anything unordered, so the same seed and the same
 * scenario give the same frames, byte for byte.
 *
 * Links are point-to-point (`link`) or shared segments (`segment`): a learning switch (frames to a
 * known unicast MAC go to its port only, others are flooded) or, with `learning: false`, a hub.
 * Every frame on a link can be observed through taps (`tap`), e.g. to write a pcap.
 */
import type { DeviceId, EntryPoints } from "../context.ts";
import { macKey } from "../ip/addr.ts";
import { Buf } from "../packet/buf.ts";
import { Timer, TimerQueue } from "../timers.ts";
import { FakeBindings, FakeClock } from "./fake-bindings.ts";
import { Rng } from "./rng.ts";

/** Impairments and shape of a link. All fields may be changed while the network runs. */
export interface LinkOptions {
  /** Name used in taps and errors (default "link0", "link1", ...). */
  name?: string;
  /** One-way propagation delay in ms (default 0). */
  latency?: number;
  /** Extra uniform random delay in [0, jitter) ms per frame (default 0); reorders frames. */
  jitter?: number;
  /** Bits per second; frames queue behind each other at the sender (default unlimited). */
  bandwidth?: number;
  /** Probability that a delivery is lost (default 0). */
  loss?: number;
  /** Probability that a delivery arrives twice (default 0). */
  duplicate?: number;
  /** Probability that one random bit of a delivered copy is flipped (default 0). */
  corrupt?: number;
  /** Probability that a delivery is held back by up to `reorderDelay` ms (default 0). */
  reorder?: number;
  /** Longest hold-back of a reordered frame in ms (default max(1, 2 * latency)). */
  reorderDelay?: number;
  /** Frames longer than this are dropped (default unlimited). */
  maxFrame?: number;
  /**
   * A scripted impairment, decided per frame before the random ones: return `false` to drop the
   * frame (noted "lost"), a number to delay its delivery by that many more ms, anything else to
   * let it pass. `sender` is the sending host's name. For deterministic scenarios ("drop the
   * third data segment and its first retransmission").
   */
  filter?: (frame: Uint8Array, sender: string, time: number) => boolean | number | undefined;
}

export interface SegmentOptions extends LinkOptions {
  /** Learn source MACs and forward known unicast to one port (default true); false = a hub. */
  learning?: boolean;
}

/** A host's device: `[host or host name, device id]`. */
export type Endpoint = readonly [host: EntryPoints | string, device: DeviceId];

/** What taps see. `bytes` is shared: read it, copy it, never modify it. */
export interface TapRecord {
  /** Virtual time in ms. */
  time: number;
  link: string;
  /** "tx": the sender put it on the link; "rx": delivered to a receiver; "drop": not delivered. */
  dir: "tx" | "rx" | "drop";
  /** The sender (tx) or the receiver (rx, drop). */
  host: string;
  device: DeviceId;
  bytes: Uint8Array;
  /** Why a frame was dropped, or that a delivered copy was corrupted / duplicated. */
  note?: "lost" | "down" | "oversize" | "corrupted" | "duplicate";
}

export type Tap = (record: TapRecord) => void;

export interface SimLinkStats {
  /** Frames put on the link by senders. */
  sent: number;
  /** Copies handed to receivers. */
  delivered: number;
  lost: number;
  duplicated: number;
  corrupted: number;
  reordered: number;
  /** Dropped for exceeding `maxFrame`. */
  oversize: number;
  /** Dropped because the link was down. */
  down: number;
}

interface HostEntry {
  name: string;
  host: EntryPoints;
  bindings: FakeBindings;
  ports: Map<DeviceId, Port>;
  wake: Timer<NetEvent>;
}

interface Port {
  link: SimLink;
  entry: HostEntry;
  device: DeviceId;
  /** When the sender's queue on this port drains (bandwidth). */
  busyUntil: number;
}

type NetEvent =
  | { kind: "wake"; entry: HostEntry }
  | {
      kind: "frame";
      entry: HostEntry;
      device: DeviceId;
      bytes: Uint8Array;
      link: SimLink | null;
      note?: TapRecord["note"];
    };

/** A point-to-point link or a shared segment. */
export class SimLink {
  readonly name: string;
  readonly kind: "p2p" | "switch" | "hub";
  /** The impairments; change them at any time. */
  readonly options: LinkOptions;
  /** When false every frame is dropped (a cut cable, a partition). */
  up = true;
  readonly stats: SimLinkStats = {
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    corrupted: 0,
    reordered: 0,
    oversize: 0,
    down: 0,
  };
  /** @internal */
  readonly ports: Port[] = [];
  /** @internal Learned MAC (as `macKey`) to port. */
  readonly macs = new Map<number, Port>();
  /** @internal */
  readonly taps: Tap[] = [];

  /** @internal Use `FakeNetwork.link` / `segment`. */
  constructor(name: string, kind: SimLink["kind"], options: LinkOptions) {
    this.name = name;
    this.kind = kind;
    this.options = options;
  }

  /** Observe every frame on this link. Returns a function that removes the tap. */
  tap(fn: Tap): () => void {
    this.taps.push(fn);
    return () => {
      const i = this.taps.indexOf(fn);
      if (i >= 0) this.taps.splice(i, 1);
    };
  }

  /** The attached endpoints as `[host name, device]`. */
  get endpoints(): [string, DeviceId][] {
    return this.ports.map((p) => [p.entry.name, p.device]);
  }
}

export interface FakeNetworkOptions {
  /** Seed of every random draw: link impairments and each host's `random()` (default 0). */
  seed?: number;
  /** Virtual start time in ms (default 0). */
  start?: number;
  /** `runUntilIdle` / `runUntil` give up (throw) after this many steps (default 1,000,000). */
  maxSteps?: number;
  /** Keep each host's sent frames and events in its bindings (default true). */
  record?: boolean;
  /**
   * Lend received frames, as a Node link with `lendFrames(true)` does (src/node/link.ts) (default false): each frame is
   * given to `receiveFrame` as a `borrowed` Buf over one reused slab, and every byte of it is
   * overwritten with 0xEE (`POISON`) as soon as `receiveFrame` returns. A host that keeps a received
   * buffer, or a view of it, without `own(buf)` then sees garbage: the test of the core's copies.
   */
  lendFrames?: boolean;
}

/** What lent frame memory holds once the entry point it was lent to has returned. */
export const POISON = 0xee;

export class FakeNetwork<H extends EntryPoints = EntryPoints> {
  readonly clock: FakeClock;
  readonly rng: Rng;
  readonly maxSteps: number;
  /** Frames sent on a device that is attached to no link. */
  unattached = 0;
  /** Steps run so far. */
  steps = 0;
  private readonly record: boolean;
  /** `FakeNetworkOptions.lendFrames`; may be changed while the network runs. */
  lendFrames: boolean;
  /** Frames delivered as lent (borrowed) buffers so far. */
  lent = 0;
  /** The reused memory lent frames are delivered in. */
  private slab = new Uint8Array(2048);
  private readonly queue = new TimerQueue<NetEvent>();
  private readonly byName = new Map<string, HostEntry>();
  private readonly byHost = new Map<EntryPoints, HostEntry>();
  private readonly links: SimLink[] = [];
  private readonly globalTaps: Tap[] = [];

  constructor(options: FakeNetworkOptions = {}) {
    this.clock = new FakeClock(options.start ?? 0);
    this.rng = new Rng(options.seed ?? 0);
    this.maxSteps = options.maxSteps ?? 1_000_000;
    this.record = options.record ?? true;
    this.lendFrames = options.lendFrames ?? false;
  }

  /** Current virtual time in ms. */
  get now(): number {
    return this.clock.now;
  }

  /** Events (deliveries and wake-ups) waiting. */
  get pending(): number {
    return this.queue.size;
  }

  /**
   * Add a host called `name`, built by `make` from the bindings the network gives it. Its
   * `random()` is seeded from the network's generator, so hosts must be added in a fixed order.
   */
  addHost<T extends H>(name: string, make: (bindings: FakeBindings) => T): T {
    if (this.byName.has(name)) throw new Error(`FakeNetwork: host ${name} exists`);
    const entry = { name, ports: new Map() } as unknown as HostEntry;
    entry.wake = new Timer<NetEvent>({ kind: "wake", entry });
    entry.bindings = new FakeBindings({
      clock: this.clock,
      seed: this.rng.uint32(),
      record: this.record,
      onFrame: (device, bytes) => this.transmit(entry, device, bytes),
      onWake: (at) => {
        if (at === Infinity) this.queue.cancel(entry.wake);
        else this.queue.schedule(entry.wake, Math.max(at, this.clock.now));
      },
    });
    const host = make(entry.bindings);
    entry.host = host;
    this.byName.set(name, entry);
    this.byHost.set(host, entry);
    return host;
  }

  /** The host called `name`. */
  host(name: string): H {
    return this.entry(name).host as H;
  }

  /** A host's bindings (its recorded frames and events, its pending wake-up). */
  bindings(host: EntryPoints | string): FakeBindings {
    return this.entry(host).bindings;
  }

  /** Join two devices by a point-to-point link. */
  link(a: Endpoint, b: Endpoint, options: LinkOptions = {}): SimLink {
    const link = new SimLink(options.name ?? `link${this.links.length}`, "p2p", options);
    this.links.push(link);
    this.attach(link, a);
    this.attach(link, b);
    return link;
  }

  /** A shared segment (learning switch, or hub with `learning: false`); `attach` devices to it. */
  segment(options: SegmentOptions = {}, ...endpoints: Endpoint[]): SimLink {
    const kind = options.learning === false ? "hub" : "switch";
    const link = new SimLink(options.name ?? `link${this.links.length}`, kind, options);
    this.links.push(link);
    for (const ep of endpoints) this.attach(link, ep);
    return link;
  }

  /** Attach a device to a link. A device is on at most one link; a p2p link has two ends. */
  attach(link: SimLink, [host, device]: Endpoint): void {
    const entry = this.entry(host);
    if (entry.ports.has(device)) throw new Error(`FakeNetwork: ${entry.name} device ${device} is already attached`);
    if (link.kind === "p2p" && link.ports.length >= 2) throw new Error(`FakeNetwork: ${link.name} has two ends`);
    const port: Port = { link, entry, device, busyUntil: -Infinity };
    link.ports.push(port);
    entry.ports.set(device, port);
  }

  /** Observe every frame on every link, now and later. Returns a function that removes the tap. */
  tap(fn: Tap): () => void {
    this.globalTaps.push(fn);
    return () => {
      const i = this.globalTaps.indexOf(fn);
      if (i >= 0) this.globalTaps.splice(i, 1);
    };
  }

  /** Deliver `bytes` (copied) to a device `delay` ms from now, from outside any link. */
  inject([host, device]: Endpoint, bytes: Uint8Array, delay = 0): void {
    const entry = this.entry(host);
    this.enqueue({ kind: "frame", entry, device, bytes: bytes.slice(), link: null }, this.clock.now + delay);
  }

  /** Run the earliest pending event. Returns false when there was none. */
  step(): boolean {
    const t = this.queue.popExpired(Infinity);
    if (t === null) return false;
    this.steps++;
    if (t.at > this.clock.now) this.clock.now = t.at;
    const ev = t.data;
    const entry = ev.entry;
    if (ev.kind === "wake") {
      entry.bindings.wakeAt = Infinity;
      entry.host.handleTimers(this.clock.now);
      return true;
    }
    if (ev.link !== null) {
      ev.link.stats.delivered++;
      this.emit(ev.link, {
        time: this.clock.now,
        link: ev.link.name,
        dir: "rx",
        host: entry.name,
        device: ev.device,
        bytes: ev.bytes,
        ...(ev.note !== undefined && { note: ev.note }),
      });
    }
    if (this.lendFrames) this.receiveLent(entry.host, ev.device, ev.bytes);
    else entry.host.receiveFrame(ev.device, new Buf(ev.bytes.slice()));
    return true;
  }

  /** Lend `bytes` to `host` in the reused slab, then poison what was lent (`lendFrames`). */
  private receiveLent(host: EntryPoints, device: DeviceId, bytes: Uint8Array): void {
    if (this.slab.length < bytes.length) this.slab = new Uint8Array(bytes.length);
    const frame = this.slab.subarray(0, bytes.length);
    frame.set(bytes);
    const buf = new Buf(frame);
    buf.borrowed = true;
    this.lent++;
    try {
      host.receiveFrame(device, buf);
    } finally {
      frame.fill(POISON);
    }
  }

  /**
   * Step until nothing is pending, or until the next event is later than `maxTime`. Returns the
   * number of steps. Throws after `maxSteps` steps (a host that never goes idle).
   */
  runUntilIdle(maxTime = Infinity): number {
    let n = 0;
    while (this.queue.size > 0 && this.queue.nextDeadline() <= maxTime) {
      if (n >= this.maxSteps) throw new Error(`FakeNetwork: not idle after ${n} steps (t=${this.clock.now})`);
      this.step();
      n++;
    }
    return n;
  }

  /**
   * Run until virtual time `target` (every event due by then, then the clock moves to `target`;
   * returns true), or until `target()` holds (checked before each step; returns false when the
   * network went idle or the next event is later than `maxTime` first).
   */
  runUntil(target: number | (() => boolean), maxTime = Infinity): boolean {
    if (typeof target === "number") {
      this.runUntilIdle(target);
      if (target > this.clock.now) this.clock.now = target;
      return true;
    }
    let n = 0;
    while (!target()) {
      if (this.queue.size === 0 || this.queue.nextDeadline() > maxTime) return false;
      if (n++ >= this.maxSteps) throw new Error(`FakeNetwork: condition not met after ${this.maxSteps} steps`);
      this.step();
    }
    return true;
  }

  /** `runUntil(now + ms)`. */
  advance(ms: number): void {
    this.runUntil(this.clock.now + ms);
  }

  private entry(host: EntryPoints | string): HostEntry {
    const e = typeof host === "string" ? this.byName.get(host) : this.byHost.get(host);
    if (e === undefined) throw new Error(`FakeNetwork: unknown host ${typeof host === "string" ? host : "object"}`);
    return e;
  }

  private enqueue(ev: NetEvent, at: number): void {
    this.queue.schedule(new Timer(ev), at);
  }

  private emit(link: SimLink, rec: TapRecord): void {
    for (const fn of link.taps) fn(rec);
    for (const fn of this.globalTaps) fn(rec);
  }

  /** A host sent `bytes` (already a private copy) on `device`. */
  private transmit(from: HostEntry, device: DeviceId, bytes: Uint8Array): void {
    const port = from.ports.get(device);
    if (port === undefined) {
      this.unattached++;
      return;
    }
    const link = port.link;
    const o = link.options;
    const now = this.clock.now;
    link.stats.sent++;
    this.emit(link, { time: now, link: link.name, dir: "tx", host: from.name, device, bytes });
    // Where it goes: the other end, the learned port, or everyone else.
    let dests: Port[];
    if (link.kind === "p2p") {
      dests = link.ports.filter((p) => p !== port);
    } else {
      let known: Port | undefined;
      if (link.kind === "switch" && bytes.length >= 12) {
        link.macs.set(macKey(bytes, 6), port);
        // Group bit of the destination (IEEE 802.3 3.2.3): multicast and broadcast are flooded.
        if ((bytes[0] & 1) === 0) known = link.macs.get(macKey(bytes, 0));
      }
      if (known === port) return; // a switch never sends a frame back out of its ingress port
      dests = known !== undefined ? [known] : link.ports.filter((p) => p !== port);
    }
    const drop = (p: Port, note: "lost" | "down" | "oversize"): void => {
      this.emit(link, { time: now, link: link.name, dir: "drop", host: p.entry.name, device: p.device, bytes, note });
    };
    if (!link.up || (o.maxFrame !== undefined && bytes.length > o.maxFrame)) {
      const note = link.up ? "oversize" : "down";
      for (const p of dests) {
        link.stats[note]++;
        drop(p, note);
      }
      return;
    }
    // Serialization delay: the frame leaves after those queued before it on this port.
    let departure = now;
    if (o.bandwidth !== undefined && o.bandwidth > 0) {
      departure = Math.max(now, port.busyUntil) + (bytes.length * 8000) / o.bandwidth;
      port.busyUntil = departure;
    }
    const rng = this.rng;
    let latency = o.latency ?? 0;
    if (o.filter !== undefined) {
      const verdict = o.filter(bytes, from.name, now);
      if (verdict === false) {
        for (const p of dests) {
          link.stats.lost++;
          drop(p, "lost");
        }
        return;
      }
      if (typeof verdict === "number") latency += verdict;
    }
    for (const p of dests) {
      if (rng.chance(o.loss ?? 0)) {
        link.stats.lost++;
        drop(p, "lost");
        continue;
      }
      const copies = rng.chance(o.duplicate ?? 0) ? 2 : 1;
      if (copies === 2) link.stats.duplicated++;
      for (let c = 0; c < copies; c++) {
        let out = bytes;
        let note: TapRecord["note"] = c === 1 ? "duplicate" : undefined;
        if (bytes.length > 0 && rng.chance(o.corrupt ?? 0)) {
          out = bytes.slice();
          out[rng.int(out.length)] ^= 1 << rng.int(8);
          link.stats.corrupted++;
          note = "corrupted";
        }
        let at = departure + latency;
        if (o.jitter !== undefined && o.jitter > 0) at += rng.float() * o.jitter;
        if (rng.chance(o.reorder ?? 0)) {
          link.stats.reordered++;
          at += rng.float() * (o.reorderDelay ?? Math.max(1, 2 * latency));
        }
        this.enqueue({ kind: "frame", entry: p.entry, device: p.device, bytes: out, link, note }, at);
      }
    }
  }
}
