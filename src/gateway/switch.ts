/**
 * A learning Ethernet switch: the medium of the gateway (issue 15) and of `serve --ws` (issue 16).
 * Transparent bridging as IEEE 802.1D (now 802.1Q) section 8 describes it, without spanning tree:
 *
 * - Learning: the source MAC of every frame a port receives is bound to that port in the MAC table
 *   (the "filtering database"), with the time it was last seen. A station that appears on another
 *   port moves there. Frames with a group (multicast/broadcast) or all-zero source are not valid
 *   station addresses and are dropped (as Linux's bridge does, br_handle_frame).
 * - Forwarding: a unicast destination in the table goes to its port only; one on the port the frame
 *   came from is filtered (dropped). Broadcast, multicast and unknown unicast destinations are
 *   flooded to every other port. A frame is never sent back to the port it came from.
 * - Aging: an entry not refreshed for `agingMs` (802.1D's default ageing time: 300 s) is forgotten;
 *   time comes from the injected clock, checked when an entry is used or the table is full.
 * - Bounds: `macTableSize` entries in all, `macsPerPort` per port (so one port cannot take the
 *   table), `maxPorts` ports; what does not fit is counted and the frame still forwarded (flooded).
 *
 * Ports are objects with a `send(bytes, off, len)` that copies or writes the frame before returning
 * (the Link contract of src/node/link.ts): the switch hands the same bytes to every port a frame is
 * flooded to. The port's owner feeds received frames in with `port.input(...)`. Nothing here touches
 * a platform API: the Node ports (QEMU streams, WebSocket clients, TAP, the gateway's own stack) are
 * in src/node/switch-ports.ts.
 */
import { Counters, counter } from "../counters.ts";

/** Transmit one frame on a port's medium (copy or write it before returning; never throw). */
export type PortSend = (bytes: Uint8Array, off: number, len: number) => void;

/** Options of `new LearningSwitch()`. */
export interface SwitchOptions {
  /** Monotonic time in milliseconds (the Stack's bindings' clock, or a fake one). */
  now(): number;
  /** MAC table entries in all (default 4096). */
  macTableSize?: number;
  /** MAC table entries one port may hold (default 256). */
  macsPerPort?: number;
  /** Forget a station not heard from for this long (default 300000 ms, IEEE 802.1D's default). */
  agingMs?: number;
  /** Ports at most (default 1024); `addPort` beyond it throws an error with code EMFILE. */
  maxPorts?: number;
}

/** What a port saw and did. */
export interface SwitchPortStats {
  /** Frames / bytes received from the port's medium (`input`). */
  rxFrames: number;
  rxBytes: number;
  /** Frames received and dropped: shorter than an Ethernet header, bad source, port removed. */
  rxDropped: number;
  /** Frames / bytes handed to the port's `send`. */
  txFrames: number;
  txBytes: number;
  /** Frames received from this port that went to several ports (broadcast, multicast, unknown). */
  flooded: number;
  /** Source MACs of this port the table refused (table or per-port bound reached). */
  learnRefused: number;
}

/** One MAC table entry (`LearningSwitch.macTable()`). */
export interface MacEntry {
  mac: string;
  port: number;
  portName: string;
  /** Milliseconds since the station was last heard. */
  ageMs: number;
}

const C_RUNT = counter("switch.rx.runt");
const C_BAD_SOURCE = counter("switch.rx.bad-source");
const C_PORT_GONE = counter("switch.rx.port-removed");
const C_LEARNED = counter("switch.mac.learned");
const C_MOVED = counter("switch.mac.moved");
const C_AGED = counter("switch.mac.aged");
const C_TABLE_FULL = counter("switch.mac.table-full");
const C_PORT_LIMIT = counter("switch.mac.port-limit");
const C_FLOOD_GROUP = counter("switch.flood.group");
const C_FLOOD_UNKNOWN = counter("switch.flood.unknown");
const C_FILTERED = counter("switch.filtered");
const C_FORWARDED = counter("switch.forwarded");
const C_PORT_REFUSED = counter("switch.port.refused");

/** A MAC address as a number (48 bits fit a double exactly), read without allocating. */
function macKey(b: Uint8Array, o: number): number {
  return (
    ((b[o] << 8) | b[o + 1]) * 0x100000000 + (((b[o + 2] << 24) | (b[o + 3] << 16) | (b[o + 4] << 8) | b[o + 5]) >>> 0)
  );
}

function macText(key: number): string {
  const hi = Math.floor(key / 0x100000000);
  const lo = key >>> 0;
  const bytes = [hi >>> 8, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff];
  return bytes.map((x) => x.toString(16).padStart(2, "0")).join(":");
}

interface Entry {
  port: SwitchPort;
  seen: number;
}

/** A port of a `LearningSwitch`. */
export class SwitchPort {
  readonly stats: SwitchPortStats = {
    rxFrames: 0,
    rxBytes: 0,
    rxDropped: 0,
    txFrames: 0,
    txBytes: 0,
    flooded: 0,
    learnRefused: 0,
  };
  /** MAC table entries bound to this port. */
  macs = 0;
  /** False once removed from its switch. */
  attached = true;

  constructor(
    private readonly sw: LearningSwitch,
    /** A small integer, unique among the switch's ports while attached. */
    readonly id: number,
    readonly name: string,
    /** Where frames for this port go. */
    readonly send: PortSend,
  ) {}

  /** A frame received from this port's medium: learn its source and forward it. */
  input(bytes: Uint8Array, off = 0, len = bytes.length - off): void {
    this.sw.input(this, bytes, off, len);
  }

  /** Detach from the switch (its MAC table entries are forgotten). Idempotent. */
  remove(): void {
    this.sw.removePort(this);
  }
}

/** Thrown by `addPort` when the switch has `maxPorts` ports. */
export class SwitchError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = "SwitchError";
  }
}

export class LearningSwitch {
  /** `switch.*` counters: drops by reason, learning, flooding. */
  readonly counters = new Counters();
  readonly macTableSize: number;
  readonly macsPerPort: number;
  readonly agingMs: number;
  readonly maxPorts: number;
  private readonly now: () => number;
  private readonly table = new Map<number, Entry>();
  /** Attached ports, in the order they were added (flooding order). */
  private portList: SwitchPort[] = [];
  private nextId = 1;
  private lastSweep = Number.NEGATIVE_INFINITY;

  constructor(options: SwitchOptions) {
    this.now = options.now;
    this.macTableSize = options.macTableSize ?? 4096;
    this.macsPerPort = options.macsPerPort ?? 256;
    this.agingMs = options.agingMs ?? 300_000;
    this.maxPorts = options.maxPorts ?? 1024;
  }

  /** Attach a port. Throws a `SwitchError` with code EMFILE when `maxPorts` are attached. */
  addPort(name: string, send: PortSend): SwitchPort {
    if (this.portList.length >= this.maxPorts) {
      this.counters.inc(C_PORT_REFUSED);
      throw new SwitchError(`switch: ${this.maxPorts} ports attached: ${name} refused`, "EMFILE");
    }
    const port = new SwitchPort(this, this.nextId++, name, send);
    this.portList = [...this.portList, port];
    return port;
  }

  /** Detach a port and forget the stations learned on it. Idempotent. */
  removePort(port: SwitchPort): void {
    if (!port.attached || !this.portList.includes(port)) return;
    port.attached = false;
    // A new array: a flood in progress keeps iterating the old one.
    this.portList = this.portList.filter((p) => p !== port);
    if (port.macs > 0) {
      for (const [k, e] of this.table) if (e.port === port) this.table.delete(k);
      port.macs = 0;
    }
  }

  /** The attached ports. */
  get ports(): readonly SwitchPort[] {
    return this.portList;
  }

  /** The MAC table now (expired entries left out). */
  macTable(): MacEntry[] {
    const now = this.now();
    const out: MacEntry[] = [];
    for (const [k, e] of this.table) {
      if (now - e.seen > this.agingMs) continue;
      out.push({ mac: macText(k), port: e.port.id, portName: e.port.name, ageMs: now - e.seen });
    }
    return out;
  }

  /** How full the bounded structures are. */
  usage(): { macEntries: number; ports: number } {
    return { macEntries: this.table.size, ports: this.portList.length };
  }

  /** A frame received on `from` (normally called as `port.input(...)`). */
  input(from: SwitchPort, bytes: Uint8Array, off: number, len: number): void {
    if (!from.attached) {
      from.stats.rxDropped++;
      this.counters.inc(C_PORT_GONE);
      return;
    }
    if (len < 14) {
      from.stats.rxDropped++;
      this.counters.inc(C_RUNT);
      return;
    }
    const src = off + 6;
    // A group address (I/G bit) or all zeros is no station's address.
    if ((bytes[src] & 1) !== 0 || macKey(bytes, src) === 0) {
      from.stats.rxDropped++;
      this.counters.inc(C_BAD_SOURCE);
      return;
    }
    from.stats.rxFrames++;
    from.stats.rxBytes += len;
    const now = this.now();
    this.learn(from, macKey(bytes, src), now);
    if ((bytes[off] & 1) !== 0) {
      this.counters.inc(C_FLOOD_GROUP);
      this.flood(from, bytes, off, len);
      return;
    }
    const dst = macKey(bytes, off);
    const e = this.table.get(dst);
    if (e === undefined || now - e.seen > this.agingMs) {
      if (e !== undefined) this.forget(dst, e);
      this.counters.inc(C_FLOOD_UNKNOWN);
      this.flood(from, bytes, off, len);
      return;
    }
    if (e.port === from) {
      // The destination is on the segment the frame came from: it has it already.
      this.counters.inc(C_FILTERED);
      return;
    }
    this.counters.inc(C_FORWARDED);
    const to = e.port;
    to.stats.txFrames++;
    to.stats.txBytes += len;
    to.send(bytes, off, len);
  }

  private learn(port: SwitchPort, key: number, now: number): void {
    const e = this.table.get(key);
    if (e !== undefined) {
      if (e.port !== port) {
        this.counters.inc(C_MOVED);
        e.port.macs--;
        if (port.macs >= this.macsPerPort) {
          // The station moved to a port that is full: it is no longer where the table says.
          this.table.delete(key);
          port.stats.learnRefused++;
          this.counters.inc(C_PORT_LIMIT);
          return;
        }
        e.port = port;
        port.macs++;
      }
      e.seen = now;
      return;
    }
    if (port.macs >= this.macsPerPort) {
      port.stats.learnRefused++;
      this.counters.inc(C_PORT_LIMIT);
      return;
    }
    if (this.table.size >= this.macTableSize && !this.sweep(now)) {
      port.stats.learnRefused++;
      this.counters.inc(C_TABLE_FULL);
      return;
    }
    this.table.set(key, { port, seen: now });
    port.macs++;
    this.counters.inc(C_LEARNED);
  }

  /** Drop expired entries (at most once a second); true when there is room afterwards. */
  private sweep(now: number): boolean {
    if (now - this.lastSweep < 1000) return false;
    this.lastSweep = now;
    for (const [k, e] of this.table) if (now - e.seen > this.agingMs) this.forget(k, e);
    return this.table.size < this.macTableSize;
  }

  private forget(key: number, e: Entry): void {
    this.table.delete(key);
    e.port.macs--;
    this.counters.inc(C_AGED);
  }

  private flood(from: SwitchPort, bytes: Uint8Array, off: number, len: number): void {
    from.stats.flooded++;
    const ports = this.portList;
    for (let i = 0; i < ports.length; i++) {
      const p = ports[i];
      if (p === from || !p.attached) continue;
      p.stats.txFrames++;
      p.stats.txBytes += len;
      p.send(bytes, off, len);
    }
  }
}
