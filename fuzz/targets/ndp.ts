/**
 * Target "ndp": `parseNdp` (router/neighbor solicitation and advertisement, redirect, and their
 * options), toRepr and the builder round trip (input = the ICMPv6 message; NDP views do not verify
 * the checksum, Icmpv6View does). Reserved fields are not in the repr, so the round trip compares
 * reprs and lengths, not bytes.
 */
import { v6Zero } from "../../src/ip/addr.ts";
import type { Rng } from "../../src/testing/rng.ts";
import { isError } from "../../src/wire/errors.ts";
import { Icmpv6Type } from "../../src/wire/icmpv6.ts";
import { IpProto } from "../../src/wire/ipproto.ts";
import {
  builderFromRepr,
  LinkAddrOption,
  MtuOption,
  NdpOptionType,
  NeighborAdvertisementBuilder,
  NeighborSolicitationBuilder,
  PrefixInfoOption,
  parseNdp,
  RawNdpOption,
  RedirectBuilder,
  RedirectedHeaderOption,
  RouterAdvertisementBuilder,
  RouterSolicitationBuilder,
  toRepr,
} from "../../src/wire/ndp.ts";
import { allLayers } from "../layers.ts";
import { checkParse, compareReprs, type FuzzTarget } from "../target.ts";
import { pick, randomBytes, serializeLayer } from "./util.ts";

export function runNdp(input: Uint8Array): string | null {
  const p = checkParse(input, parseNdp, toRepr, {
    key: `ndp-${input[0]}`,
    parseInto: (v, b, o, l) => v.parseFrom(b, o, l),
  });
  if (typeof p === "string" || isError(p)) return typeof p === "string" ? p : null;
  const v = p.view;
  const r = toRepr(v);
  const z = v6Zero();
  const b = builderFromRepr(r, z, z);
  if (b === null) return `ndp builderFromRepr refused type ${r.type}, which parsed`;
  const out = serializeLayer(new Uint8Array(0), b);
  if (out.length !== v.len) return `ndp re-serialized to ${out.length} bytes, want ${v.len}`;
  const v2 = parseNdp(out, 0, out.length);
  if (isError(v2)) return `ndp re-serialized message does not parse: ${v2}`;
  return compareReprs("ndp", r, toRepr(v2));
}

const NDP_TYPES: number[] = [
  Icmpv6Type.RouterSolicitation,
  Icmpv6Type.RouterAdvertisement,
  Icmpv6Type.NeighborSolicitation,
  Icmpv6Type.NeighborAdvertisement,
  Icmpv6Type.Redirect,
];
const FIXED: Record<number, number> = { 133: 8, 134: 16, 135: 24, 136: 24, 137: 40 };
const OPTION_TYPES = Object.values(NdpOptionType);
const UNITS: Record<number, number> = { 1: 1, 2: 1, 3: 4, 5: 1, 14: 1, 25: 3, 24: 2 };

export const ndpTarget: FuzzTarget = {
  name: "ndp",
  description: "NDP messages and options: parse, getters in bounds, toRepr/builder round trip",
  maxLen: 160,
  seedsFromFrames: (frames) =>
    allLayers(frames).flatMap((l) =>
      l.v6 && l.proto === IpProto.Icmpv6 && l.upper !== null && NDP_TYPES.includes(l.upper[0]) ? [l.upper] : [],
    ),
  builtSeeds(rng: Rng) {
    const s = randomBytes(rng, 16);
    const d = randomBytes(rng, 16);
    const mac = randomBytes(rng, 6);
    const prefix = randomBytes(rng, 16);
    const empty = new Uint8Array(0);
    return [
      serializeLayer(
        empty,
        new RouterSolicitationBuilder(s, d, [new LinkAddrOption(NdpOptionType.SourceLinkAddr, mac)]),
      ),
      serializeLayer(
        empty,
        new RouterAdvertisementBuilder(s, d, { curHopLimit: 64, managed: true, routerLifetime: 1800 }, [
          new PrefixInfoOption(64, true, true, 86400, 14400, prefix),
          new MtuOption(1500),
          new RawNdpOption(NdpOptionType.Rdnss, randomBytes(rng, 22)),
        ]),
      ),
      serializeLayer(empty, new NeighborSolicitationBuilder(s, d, d, [new LinkAddrOption(1, mac)])),
      serializeLayer(
        empty,
        new NeighborAdvertisementBuilder(s, d, d, { solicited: true }, [new LinkAddrOption(2, mac)]),
      ),
      serializeLayer(empty, new RedirectBuilder(s, d, s, d, [new RedirectedHeaderOption(randomBytes(rng, 48))])),
    ];
  },
  lengthFields(b) {
    // The length byte of every option a loose walk finds.
    const fields = [];
    let p = FIXED[b[0]] ?? 8;
    for (let n = 0; n < 32 && p + 2 <= b.length; n++) {
      fields.push({ off: p + 1, size: 1 as const });
      p += Math.max(1, b[p + 1]) * 8;
    }
    return fields;
  },
  soup(rng, base) {
    const type = base !== null && base.length > 0 && FIXED[base[0]] !== undefined ? base[0] : pick(rng, NDP_TYPES);
    const fixed = randomBytes(rng, FIXED[type]);
    fixed[0] = type;
    fixed[1] = rng.chance(0.9) ? 0 : rng.int(256);
    if (FIXED[type] >= 24 && rng.chance(0.7)) fixed[8] = rng.chance(0.5) ? 0xfe : 0x20;
    const opts: Uint8Array[] = [];
    const n = rng.int(6);
    for (let i = 0; i < n; i++) {
      const t = rng.chance(0.85) ? pick(rng, OPTION_TYPES) : rng.int(256);
      let units = UNITS[t] ?? 1 + rng.int(3);
      if (rng.chance(0.1)) units = rng.int(4);
      const o = randomBytes(rng, Math.max(1, units) * 8);
      o[0] = t;
      o[1] = units;
      opts.push(o);
    }
    let len = fixed.length;
    for (const o of opts) len += o.length;
    const out = new Uint8Array(len);
    out.set(fixed);
    let p = fixed.length;
    for (const o of opts) {
      out.set(o, p);
      p += o.length;
    }
    return out;
  },
  run: runNdp,
};
