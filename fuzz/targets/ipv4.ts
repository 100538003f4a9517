/** Target "ipv4": `Ipv4View.parse` (IHL, lengths, checksum, options), toRepr and the builder round trip. */
import { v4 } from "../../src/ip/addr.ts";
import type { Rng } from "../../src/testing/rng.ts";
import { checksum } from "../../src/wire/checksum.ts";
import { isError } from "../../src/wire/errors.ts";
import { builderFromRepr, Ipv4Builder, Ipv4Option, Ipv4View, toRepr } from "../../src/wire/ipv4.ts";
import { allLayers } from "../layers.ts";
import { checkParse, compareMasked, compareReprs, type FuzzTarget } from "../target.ts";
import { optionLength, pick, put16, randomBytes, serializeLayer } from "./util.ts";

/** The reserved flag bit (a builder writes it zero) and the checksum (two encodings of zero sum). */
const MASK = [
  [6, 0x80],
  [10, 0xff],
  [11, 0xff],
] as const;

export function runIpv4(input: Uint8Array): string | null {
  const p = checkParse(input, Ipv4View.parse, toRepr, { key: "ipv4", parseInto: (v, b, o, l) => v.parseFrom(b, o, l) });
  if (typeof p === "string" || isError(p)) return typeof p === "string" ? p : null;
  const v = p.view;
  const r = toRepr(v);
  const out = serializeLayer(v.payload(), builderFromRepr(r));
  const e = compareMasked(v.bytes.subarray(v.off, v.off + v.len), out, MASK);
  if (e !== null) return `ipv4 re-serialized differently: ${e}`;
  const v2 = Ipv4View.parse(out, 0, out.length);
  if (isError(v2)) return `ipv4 re-serialized packet does not parse: ${v2}`;
  return compareReprs("ipv4", r, toRepr(v2));
}

/** Recompute the header checksum when the IHL fits the input. */
export function fixIpv4Checksum(b: Uint8Array, off = 0): void {
  if (b.length - off < 20) return;
  const hl = (b[off] & 0x0f) * 4;
  if (hl < 20 || off + hl > b.length) return;
  b[off + 10] = 0;
  b[off + 11] = 0;
  put16(b, off + 10, checksum(b, off, hl));
}

const OPTION_KINDS = [
  Ipv4Option.EndOfList,
  Ipv4Option.Nop,
  Ipv4Option.RecordRoute,
  Ipv4Option.Timestamp,
  Ipv4Option.Security,
  Ipv4Option.LooseSourceRoute,
  Ipv4Option.StreamId,
  Ipv4Option.StrictSourceRoute,
  Ipv4Option.RouterAlert,
];

/** Up to 40 bytes of IPv4 options, mostly well-formed. */
export function ipv4OptionSoup(rng: Rng): Uint8Array {
  const room = 4 * rng.int(11);
  const o = new Uint8Array(room);
  let i = 0;
  while (i < room) {
    const k = rng.chance(0.8) ? pick(rng, OPTION_KINDS) : rng.int(256);
    o[i++] = k;
    if (k === 0 || k === 1 || i >= room) continue;
    const want = 2 + rng.int(Math.min(12, room - i + 1));
    const l = optionLength(rng, want, room - i + 1);
    o[i] = l;
    i += Math.max(1, l - 1);
  }
  return o;
}

export const ipv4Target: FuzzTarget = {
  name: "ipv4",
  description: "IPv4 header and options: parse, getters in bounds, toRepr/builder round trip",
  maxLen: 128,
  seedsFromFrames: (frames) => allLayers(frames).flatMap((l) => (l.ip !== null && !l.v6 ? [l.ip] : [])),
  builtSeeds(rng: Rng) {
    const b = new Ipv4Builder(v4(0xc0a80001), v4(0xc0a80002), 17, 1);
    b.id = 0x1234;
    b.mf = true;
    b.fragOffset = 1480;
    b.dscp = 46;
    b.ecn = 3;
    const withOpts = new Ipv4Builder(v4(rng.uint32()), v4(rng.uint32()), 6);
    withOpts.options = Uint8Array.of(Ipv4Option.RouterAlert, 4, 0, 0, Ipv4Option.Nop, Ipv4Option.RecordRoute, 7, 4);
    return [serializeLayer(randomBytes(rng, 16), b), serializeLayer(randomBytes(rng, 8), withOpts)];
  },
  lengthFields: () => [
    { off: 0, size: 1 },
    { off: 2, size: 2 },
    { off: 6, size: 2 },
  ],
  fixup: (b) => fixIpv4Checksum(b),
  soup(rng, base) {
    const opts = ipv4OptionSoup(rng);
    const hl = 20 + opts.length;
    const payload = base !== null && base.length > 20 ? base.subarray(20) : randomBytes(rng, rng.int(48));
    const out = new Uint8Array(hl + payload.length);
    if (base !== null) out.set(base.subarray(0, Math.min(20, base.length)));
    else out.set(randomBytes(rng, 20));
    out[0] = 0x40 | (hl >>> 2);
    put16(out, 2, out.length);
    out.set(opts, 20);
    out.set(payload, hl);
    fixIpv4Checksum(out);
    return out;
  },
  run: runIpv4,
};
