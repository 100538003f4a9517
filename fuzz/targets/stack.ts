/**
 * Target "stack": the whole Stack (src/stack.ts) on FakeBindings, fed a sequence of frames.
 *
 * The host: one Ethernet device 12:e0:69:8e:f3:3c with 10.77.0.2/24 and fd77::2/64 (the receiving
 * side of test/fixtures/*.pcap, so real frames arrive addressed to it) and UDP sockets bound to
 * port 9999 on 0.0.0.0 and ::. A fresh host per input, so a reproducer replays alone.
 *
 * Input: up to 16 records `[u16 h][frame]`: the frame is `h & 0x3fff` bytes (cut at the end of the
 * input), and `h >>> 14` advances the virtual clock before it (0, 10 ms, 1 s, 61 s), firing the
 * timers due (reassembly, neighbour, ...).
 *
 * Invariants after every frame: nothing escapes `receiveFrame` / `handleTimers`;
 * `stack.internal-error` stays 0 (the Stack catches exceptions and counts them there); every
 * counter is a non-negative integer; `ethernet.tx` equals the frames the bindings saw; every frame the stack sends decodes without error
 * (`decodeFrame`) and comes from our MAC; no frame makes it send more than 8 frames, and timers
 * send at most 8 frames per second of virtual time (no storms);
 * socket queues stay within their bound. After the sequence a well-formed UDP datagram to port
 * 9999 is still delivered intact.
 */
import type { SocketId } from "../../src/context.ts";
import { parseV4 } from "../../src/ip/addr.ts";
import { Ipv4, Ipv6 } from "../../src/ip/version.ts";
import { Buf } from "../../src/packet/buf.ts";
import { BytesBody, TooBig } from "../../src/packet/serialize.ts";
import { Stack } from "../../src/stack.ts";
import { FakeBindings } from "../../src/testing/fake-bindings.ts";
import type { Rng } from "../../src/testing/rng.ts";
import { decodeFrame } from "../../src/wire/decode.ts";
import { EthernetBuilder, EtherType } from "../../src/wire/ethernet.ts";
import { IpProto } from "../../src/wire/ipproto.ts";
import { Ipv4Builder } from "../../src/wire/ipv4.ts";
import { UdpBuilder } from "../../src/wire/udp.ts";
import { type FuzzTarget, hex, type LengthField, parseStats } from "../target.ts";
import { decodeTarget } from "./decode.ts";

export const STACK_MAC = "12:e0:69:8e:f3:3c";
const OUR_MAC = Uint8Array.of(0x12, 0xe0, 0x69, 0x8e, 0xf3, 0x3c);
const PEER_MAC = Uint8Array.of(0x62, 0x71, 0x28, 0xca, 0x55, 0x4a);
const PORT = 9999;
const FD77 = Uint8Array.of(0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
const MAX_FRAMES = 16;
const MAX_OUT_PER_FRAME = 8;
const ADVANCE = [0, 10, 1000, 61_000];

/** Split an input into (clock advance, frame) records. */
export function splitFrames(input: Uint8Array): { advance: number; frame: Uint8Array }[] {
  const out: { advance: number; frame: Uint8Array }[] = [];
  let o = 0;
  while (o + 2 <= input.length && out.length < MAX_FRAMES) {
    const h = (input[o] << 8) | input[o + 1];
    const n = Math.min(h & 0x3fff, input.length - o - 2);
    out.push({ advance: ADVANCE[h >>> 14], frame: input.subarray(o + 2, o + 2 + n) });
    o += 2 + n;
  }
  return out;
}

/** Records back into an input. */
export function joinFrames(frames: readonly { advance?: number; frame: Uint8Array }[]): Uint8Array {
  let n = 0;
  for (const f of frames) n += 2 + f.frame.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const f of frames) {
    const a = Math.max(0, ADVANCE.indexOf(f.advance ?? 0));
    const h = (a << 14) | (f.frame.length & 0x3fff);
    out[o] = h >>> 8;
    out[o + 1] = h & 0xff;
    out.set(f.frame.subarray(0, 0x3fff), o + 2);
    o += 2 + Math.min(f.frame.length, 0x3fff);
  }
  return out;
}

interface Host {
  b: FakeBindings;
  /** Frames sent before `b.frames` was last emptied. */
  taken: number;
  stack: Stack;
  dev: number;
  socks: SocketId[];
}

function newHost(): Host {
  const b = new FakeBindings({ seed: 1 });
  const stack = new Stack(b);
  const dev = stack.addEthernetDevice({ mac: STACK_MAC });
  for (const a of ["10.77.0.2/24", "fd77::2/64"]) {
    const e = stack.addAddress(dev, a);
    if (e !== null) throw new Error(`addAddress ${a}: ${e}`);
  }
  const socks: SocketId[] = [];
  for (const [I, any] of [
    [Ipv4, Ipv4.unspecified],
    [Ipv6, Ipv6.unspecified],
  ] as const) {
    const id = stack.udp.open(I as typeof Ipv4);
    if (typeof id !== "number") throw new Error(`udp open: ${id}`);
    const e = stack.udp.bind(id, any as never, PORT);
    if (e !== null) throw new Error(`udp bind: ${e}`);
    socks.push(id);
  }
  // Let address configuration (DAD, router solicitations) settle, then forget what it sent.
  b.advance(5000, stack);
  const taken = b.takeFrames().length;
  return { b, taken, stack, dev, socks };
}

const INTERNAL = "stack.internal-error";

function checkHost(h: Host, sentBefore: number, what: string, timers = false): string | null {
  const c = h.stack.counters;
  if (c.get(INTERNAL) !== 0) {
    const e = h.stack.lastInternalError as Error | null;
    const at = (e?.stack ?? "").split("\n").find((l) => l.includes("/src/")) ?? "";
    return `${what}: internal error caught by the stack: ${e?.name}: ${e?.message} ${at.trim()}`;
  }
  for (const v of c.values) {
    if (!(v >= 0) || !Number.isInteger(v)) return `${what}: a counter holds ${v}`;
  }
  const tx = c.get("ethernet.tx");
  if (tx !== h.taken + h.b.frames.length) {
    return `${what}: ethernet.tx counts ${tx} frames, the bindings saw ${h.taken + h.b.frames.length}`;
  }
  const sent = h.b.frames.length - sentBefore;
  if (!timers && sent > MAX_OUT_PER_FRAME) return `${what}: answered with ${sent} frames`;
  if (timers) {
    // Timers over a long advance legitimately send many frames (retransmitted solicitations,
    // reassembly time-outs): bound them per second of virtual time instead.
    const perSecond = new Map<number, number>();
    for (let i = sentBefore; i < h.b.frames.length; i++) {
      const sec = Math.floor(h.b.frames[i].time / 1000);
      const n = (perSecond.get(sec) ?? 0) + 1;
      if (n > MAX_OUT_PER_FRAME) return `${what}: sent ${n} frames within one second`;
      perSecond.set(sec, n);
    }
  }
  for (let i = sentBefore; i < h.b.frames.length; i++) {
    const f = h.b.frames[i].bytes;
    const d = decodeFrame(f);
    if (!d.record.ok) return `${what}: sent a malformed frame (${d.record.error}): ${hex(f.subarray(0, 80))}`;
    if (hex(f.subarray(6, 12)) !== hex(OUR_MAC)) return `${what}: sent a frame from ${hex(f.subarray(6, 12))}`;
  }
  for (const id of h.socks) {
    const q = h.stack.udp.queued(id);
    if (q === null) return `${what}: socket ${id} vanished`;
    if (q.datagrams > h.stack.udp.limits.recvQueueDatagrams) return `${what}: socket queue at ${q.datagrams}`;
    while (h.stack.udp.recv(id) !== null) {}
  }
  return null;
}

/** A well-formed UDP datagram from 10.77.0.1:5000 to us. */
function probe(payload: Uint8Array): Uint8Array {
  const src = parseV4("10.77.0.1")!;
  const dst = parseV4("10.77.0.2")!;
  const r = new BytesBody(payload)
    .wrapIn(new UdpBuilder(src, dst, 5000, PORT))
    .wrapIn(new Ipv4Builder(src, dst, IpProto.Udp))
    .wrapIn(new EthernetBuilder(PEER_MAC as never, OUR_MAC as never, EtherType.Ipv4))
    .serialize();
  if (r instanceof TooBig) throw new Error("probe too big");
  return r.toBytes();
}

const PROBE_PAYLOAD = new TextEncoder().encode("still alive after the fuzz frames");
const PROBE = probe(PROBE_PAYLOAD);

export function runStack(input: Uint8Array): string | null {
  const h = newHost();
  const frames = splitFrames(input);
  for (let i = 0; i < frames.length; i++) {
    const { advance, frame } = frames[i];
    let before = h.b.frames.length;
    if (advance > 0) {
      h.b.advance(advance, h.stack);
      const e = checkHost(h, before, `timers before frame ${i}`, true);
      if (e !== null) return e;
      before = h.b.frames.length;
    }
    // The stack owns the buffer it is given: hand it a copy with room around it.
    h.stack.receiveFrame(h.dev, Buf.from(frame, 64, 64));
    const e = checkHost(h, before, `frame ${i}`);
    if (e !== null) return e;
  }
  parseStats.ok++;
  // Liveness: a good datagram still arrives intact.
  h.stack.receiveFrame(h.dev, Buf.from(PROBE, 64, 0));
  const got = h.stack.udp.recv(h.socks[0]);
  if (got === null) return "after the frames, a well-formed UDP datagram to port 9999 was not delivered";
  if (hex(got.data) !== hex(PROBE_PAYLOAD)) return "after the frames, the probe datagram arrived changed";
  return null;
}

export const stackTarget: FuzzTarget = {
  name: "stack",
  description: "the whole Stack with UDP sockets, fed sequences of frames: no internal error, sane output, liveness",
  maxLen: 512,
  seedsFromFrames(frames) {
    // Each fixture frame alone, and runs of consecutive frames (fragment chains, handshakes).
    const out = frames.map((f) => joinFrames([{ frame: f }]));
    for (let i = 0; i + 1 < frames.length; i += 4)
      out.push(joinFrames(frames.slice(i, i + 6).map((frame) => ({ frame }))));
    return out;
  },
  builtSeeds: (rng: Rng) => [
    joinFrames([{ frame: PROBE }]),
    joinFrames(decodeTarget.builtSeeds(rng).map((frame) => ({ frame, advance: 10 }))),
  ],
  lengthFields(b) {
    const fields: LengthField[] = [];
    let o = 0;
    for (const r of splitFrames(b)) {
      fields.push({ off: o, size: 2 });
      const base = o + 2;
      for (const f of decodeTarget.lengthFields?.(r.frame) ?? []) fields.push({ ...f, off: base + f.off });
      o += 2 + r.frame.length;
    }
    return fields;
  },
  fixup(b) {
    // Fix the checksums of every frame in place (the records are subarrays of `b`).
    for (const r of splitFrames(b)) decodeTarget.fixup?.(r.frame);
  },
  soup(rng, base) {
    const frames: { frame: Uint8Array; advance: number }[] =
      base !== null ? splitFrames(base).map((r) => ({ frame: r.frame.slice(), advance: r.advance })) : [];
    const f = decodeTarget.soup?.(rng, null) ?? new Uint8Array(0);
    if (f.length >= 14) {
      f.set(OUR_MAC, 0);
      f.set(PEER_MAC, 6);
      // Address the packet to us, from the peer, so it gets past the IP layer's filter.
      const type = (f[12] << 8) | f[13];
      if (type === EtherType.Ipv4 && f.length >= 34) f.set(Uint8Array.of(10, 77, 0, 1, 10, 77, 0, 2), 26);
      if (type === EtherType.Ipv6 && f.length >= 54) {
        f.set(FD77, 22);
        f[37] = 1;
        f.set(FD77, 38);
        f[53] = 2;
      }
      decodeTarget.fixup?.(f);
    }
    frames.splice(rng.int(frames.length + 1), 0, { frame: f, advance: ADVANCE[rng.int(4)] });
    return joinFrames(frames.slice(0, MAX_FRAMES));
  },
  framesOf: (input) => splitFrames(input).length,
  run: runStack,
};
