/**
 * Target "icmpv6": `Icmpv6View.parse` with the RFC 8200 8.1 pseudo-header (input = address
 * context with IPv6 addresses, see ctx.ts, then the message), toRepr and the builder round trip.
 */
import type { Ipv6Addr } from "../../src/ip/addr.ts";
import type { Rng } from "../../src/testing/rng.ts";
import { isError } from "../../src/wire/errors.ts";
import {
  builderFromRepr,
  Icmpv6EchoBuilder,
  Icmpv6ErrorBuilder,
  Icmpv6Type,
  Icmpv6View,
  toRepr,
  writeIcmpv6Checksum,
} from "../../src/wire/icmpv6.ts";
import { IpProto } from "../../src/wire/ipproto.ts";
import { randomCtx, readCtx, withCtx } from "../ctx.ts";
import { allLayers } from "../layers.ts";
import { checkParse, compareMasked, compareReprs, type FuzzTarget } from "../target.ts";
import { pick, randomBytes, serializeLayer } from "./util.ts";

const MASK = [
  [2, 0xff],
  [3, 0xff],
] as const;

export function runIcmpv6(input: Uint8Array): string | null {
  const c = readCtx(input, true);
  const src = c.src as Ipv6Addr;
  const dst = c.dst as Ipv6Addr;
  const parse = (b: Uint8Array, o: number, l: number) => Icmpv6View.parse(b, o, l, src, dst);
  const p = checkParse(input.subarray(c.msgOff), parse, toRepr, {
    key: "icmpv6",
    parseInto: (v, b, o, l) => v.parseFrom(b, o, l, src, dst),
  });
  if (typeof p === "string" || isError(p)) return typeof p === "string" ? p : null;
  const v = p.view;
  const r = toRepr(v);
  const out = serializeLayer(v.payload(), builderFromRepr(r, src, dst));
  const e = compareMasked(v.bytes.subarray(v.off, v.off + v.len), out, MASK);
  if (e !== null) return `icmpv6 re-serialized differently: ${e}`;
  const v2 = parse(out, 0, out.length);
  if (isError(v2)) return `icmpv6 re-serialized message does not parse: ${v2}`;
  return compareReprs("icmpv6", r, toRepr(v2));
}

/** Recompute the checksum of the message in `input`. */
export function fixIcmpv6(input: Uint8Array): void {
  const c = readCtx(input, true);
  const m = input.subarray(c.msgOff);
  if (m.length < 8) return;
  writeIcmpv6Checksum(m, 0, m.length, c.src as Uint8Array, c.dst as Uint8Array);
}

const TYPES = Object.values(Icmpv6Type);

export const icmpv6Target: FuzzTarget = {
  name: "icmpv6",
  description: "ICMPv6 with its pseudo-header checksum: parse, getters in bounds, round trip",
  maxLen: 128,
  seedsFromFrames: (frames) =>
    allLayers(frames).flatMap((l) =>
      l.v6 && l.proto === IpProto.Icmpv6 && l.upper !== null ? [withCtx(l.src, l.dst, l.upper)] : [],
    ),
  builtSeeds(rng: Rng) {
    const s = randomBytes(rng, 16);
    const d = randomBytes(rng, 16);
    const quote = randomBytes(rng, 48);
    quote[0] = 0x60;
    return [
      withCtx(s, d, serializeLayer(randomBytes(rng, 16), new Icmpv6EchoBuilder(s, d, Icmpv6Type.EchoRequest, 1, 2))),
      withCtx(s, d, serializeLayer(quote, new Icmpv6ErrorBuilder(s, d, Icmpv6Type.PacketTooBig, 0, 1280))),
      withCtx(s, d, serializeLayer(quote, new Icmpv6ErrorBuilder(s, d, Icmpv6Type.ParamProblem, 1, 6))),
    ];
  },
  fixup: fixIcmpv6,
  soup(rng, base) {
    const msg = randomBytes(rng, 8 + rng.int(48));
    msg[0] = pick(rng, TYPES);
    msg[1] = rng.int(5);
    const x =
      base !== null && base.length >= 33
        ? withCtx(base.slice(1, 17), base.slice(17, 33), msg)
        : randomCtx(rng, true, msg);
    fixIcmpv6(x);
    return x;
  },
  run: runIcmpv6,
};
