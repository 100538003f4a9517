/** Target "icmpv4": `Icmpv4View.parse` (checksum over the message), toRepr and the builder round trip. */
import { v4 } from "../../src/ip/addr.ts";
import type { Rng } from "../../src/testing/rng.ts";
import { checksum } from "../../src/wire/checksum.ts";
import { isError } from "../../src/wire/errors.ts";
import {
  builderFromRepr,
  Icmpv4EchoBuilder,
  Icmpv4ErrorBuilder,
  Icmpv4Type,
  Icmpv4View,
  toRepr,
} from "../../src/wire/icmpv4.ts";
import { IpProto } from "../../src/wire/ipproto.ts";
import { allLayers } from "../layers.ts";
import { checkParse, compareMasked, compareReprs, type FuzzTarget } from "../target.ts";
import { pick, put16, randomBytes, serializeLayer } from "./util.ts";

/** The checksum has two encodings of a zero sum. */
const MASK = [
  [2, 0xff],
  [3, 0xff],
] as const;

export function runIcmpv4(input: Uint8Array): string | null {
  const p = checkParse(input, Icmpv4View.parse, toRepr, {
    key: "icmpv4",
    parseInto: (v, b, o, l) => v.parseFrom(b, o, l),
  });
  if (typeof p === "string" || isError(p)) return typeof p === "string" ? p : null;
  const v = p.view;
  const r = toRepr(v);
  const out = serializeLayer(v.data(), builderFromRepr(r));
  const e = compareMasked(v.bytes.subarray(v.off, v.off + v.len), out, MASK);
  if (e !== null) return `icmpv4 re-serialized differently: ${e}`;
  const v2 = Icmpv4View.parse(out, 0, out.length);
  if (isError(v2)) return `icmpv4 re-serialized message does not parse: ${v2}`;
  return compareReprs("icmpv4", r, toRepr(v2));
}

function fix(b: Uint8Array): void {
  if (b.length < 8) return;
  b[2] = 0;
  b[3] = 0;
  put16(b, 2, checksum(b, 0, b.length));
}

const TYPES = Object.values(Icmpv4Type);

export const icmpv4Target: FuzzTarget = {
  name: "icmpv4",
  description: "ICMPv4 (echo, errors with RFC 4884 lengths): parse, getters in bounds, round trip",
  maxLen: 128,
  seedsFromFrames: (frames) =>
    allLayers(frames).flatMap((l) => (!l.v6 && l.proto === IpProto.Icmp && l.upper !== null ? [l.upper] : [])),
  builtSeeds(rng: Rng) {
    const quote = randomBytes(rng, 28);
    quote[0] = 0x45;
    return [
      serializeLayer(randomBytes(rng, 32), new Icmpv4EchoBuilder(Icmpv4Type.EchoRequest, 7, 1)),
      serializeLayer(quote, Icmpv4ErrorBuilder.destUnreachable(4, 1400)),
      serializeLayer(quote, Icmpv4ErrorBuilder.paramProblem(9)),
      serializeLayer(quote, Icmpv4ErrorBuilder.redirect(1, v4(0x0a000001))),
      serializeLayer(quote, new Icmpv4ErrorBuilder(Icmpv4Type.TimeExceeded, 0, 7 << 16)),
    ];
  },
  // Byte 5: the RFC 4884 length attribute (in 32-bit words) of types 3, 11, 12.
  lengthFields: () => [{ off: 5, size: 1 }],
  fixup: fix,
  soup(rng, base) {
    const out = base !== null && base.length >= 8 ? base.slice() : randomBytes(rng, 8 + rng.int(64));
    out[0] = pick(rng, TYPES);
    out[1] = rng.int(16);
    return out;
  },
  run: runIcmpv4,
};
