/**
 * Target "tcp": `TcpView.parse` with options (MSS, window scale, SACK-permitted, SACK, timestamps,
 * unknown kinds) and the pseudo-header checksum (input = address context, see ctx.ts, then the
 * segment), toRepr (with raw options when the layout is not Linux's) and the builder round trip.
 */
import type { Rng } from "../../src/testing/rng.ts";
import { finish, sumBytes } from "../../src/wire/checksum.ts";
import { isError } from "../../src/wire/errors.ts";
import { IpProto } from "../../src/wire/ipproto.ts";
import { builderFromRepr, SKIP_CHECKSUM, TcpBuilder, TcpFlags, TcpView, toRepr } from "../../src/wire/tcp.ts";
import { type AddrCtx, ctxPseudo, randomCtx, readCtx, withCtx } from "../ctx.ts";
import { allLayers } from "../layers.ts";
import { checkParse, compareMasked, compareReprs, type FuzzTarget } from "../target.ts";
import { optionLength, pick, put16, randomBytes, serializeLayer } from "./util.ts";

const MASK = [
  [16, 0xff],
  [17, 0xff],
] as const;

function pseudo(c: AddrCtx, l: number): number {
  return c.skipChecksum ? SKIP_CHECKSUM : ctxPseudo(c, IpProto.Tcp, l);
}

function parser(c: AddrCtx) {
  return (b: Uint8Array, o: number, l: number) => TcpView.parse(b, o, l, pseudo(c, l));
}

export function runTcp(input: Uint8Array): string | null {
  const c = readCtx(input);
  const parse = parser(c);
  const p = checkParse(input.subarray(c.msgOff), parse, toRepr, {
    key: "tcp",
    parseInto: (v, b, o, l) => v.parseFrom(b, o, l, pseudo(c, l)),
  });
  if (typeof p === "string" || isError(p)) return typeof p === "string" ? p : null;
  const v = p.view;
  const r = toRepr(v);
  const out = serializeLayer(v.payload(), builderFromRepr(r, c.src, c.dst));
  const e = compareMasked(v.bytes.subarray(v.off, v.off + v.len), out, MASK);
  if (e !== null) return `tcp re-serialized differently: ${e}`;
  const v2 = parse(out, 0, out.length);
  if (isError(v2)) return `tcp re-serialized segment does not parse: ${v2}`;
  return compareReprs("tcp", r, toRepr(v2));
}

/** Recompute the checksum of the segment in `input`. */
export function fixTcp(input: Uint8Array): void {
  const c = readCtx(input);
  const m = input.subarray(c.msgOff);
  if (m.length < 20) return;
  m[16] = 0;
  m[17] = 0;
  put16(m, 16, finish(sumBytes(m, 0, m.length, ctxPseudo(c, IpProto.Tcp, m.length))));
}

const KINDS = [0, 1, 2, 3, 4, 5, 8, 30, 34, 254];
const WANT: Record<number, number> = { 2: 4, 3: 3, 4: 2, 8: 10, 30: 4, 34: 6, 254: 4 };
const FLAGS = [
  TcpFlags.SYN,
  TcpFlags.SYN | TcpFlags.ACK,
  TcpFlags.ACK,
  TcpFlags.ACK | TcpFlags.PSH,
  TcpFlags.RST,
  TcpFlags.FIN | TcpFlags.ACK,
  TcpFlags.SYN | TcpFlags.FIN,
  0,
  TcpFlags.FIN | TcpFlags.PSH | TcpFlags.URG,
  0xff,
];

/** Up to 40 bytes of TCP options, mostly with right lengths. */
export function tcpOptionSoup(rng: Rng): Uint8Array {
  const room = 4 * rng.int(11);
  const o = new Uint8Array(room);
  let i = 0;
  while (i < room) {
    const k = rng.chance(0.85) ? pick(rng, KINDS) : rng.int(256);
    o[i++] = k;
    if (k === 0 || k === 1 || i >= room) continue;
    const want = k === 5 ? 2 + 8 * (1 + rng.int(4)) : (WANT[k] ?? 2 + rng.int(8));
    const l = optionLength(rng, want, room - i + 1);
    o[i] = l;
    o.set(randomBytes(rng, Math.max(0, Math.min(l - 2, room - i - 1))), i + 1);
    i += Math.max(1, l - 1);
  }
  return o;
}

export const tcpTarget: FuzzTarget = {
  name: "tcp",
  description: "TCP header and options over IPv4/IPv6 pseudo-headers: parse, getters in bounds, round trip",
  maxLen: 128,
  seedsFromFrames: (frames) =>
    allLayers(frames).flatMap((l) =>
      l.proto === IpProto.Tcp && l.upper !== null ? [withCtx(l.src, l.dst, l.upper)] : [],
    ),
  builtSeeds(rng: Rng) {
    const out: Uint8Array[] = [];
    for (const v6 of [false, true]) {
      const b = new TcpBuilder(0, 0);
      b.srcPort = 443;
      b.dstPort = 40000;
      b.seq = rng.uint32();
      b.ack = rng.uint32();
      b.flags = TcpFlags.SYN | TcpFlags.ACK;
      b.window = 65535;
      b.options.mss = 1460;
      b.options.wscale = 7;
      b.options.sackPermitted = true;
      b.options.setTs(rng.uint32(), rng.uint32());
      const x = randomCtx(rng, v6, serializeLayer(new Uint8Array(0), b));
      fixTcp(x);
      out.push(x);
    }
    return out;
  },
  lengthFields: (b) => [{ off: readCtx(b).msgOff + 12, size: 1 }],
  fixup: fixTcp,
  soup(rng, base) {
    const opts = tcpOptionSoup(rng);
    const payload = randomBytes(rng, rng.chance(0.5) ? 0 : rng.int(32));
    const seg = new Uint8Array(20 + opts.length + payload.length);
    seg.set(randomBytes(rng, 20));
    seg[12] = ((5 + opts.length / 4) << 4) | (rng.chance(0.8) ? 0 : rng.int(16));
    seg[13] = pick(rng, FLAGS);
    seg.set(opts, 20);
    seg.set(payload, 20 + opts.length);
    const x =
      base !== null && base.length > 0
        ? withCtx(readCtx(base).src, readCtx(base).dst, seg)
        : randomCtx(rng, rng.chance(0.5), seg);
    fixTcp(x);
    return x;
  },
  run: runTcp,
};
