/**
 * Target "ipv6": `Ipv6View.parse` with the extension-header chain (hop-by-hop, routing, fragment,
 * destination options; option TLVs and their action bits), toRepr and the builder round trip.
 */
import { v6Zero } from "../../src/ip/addr.ts";
import type { Rng } from "../../src/testing/rng.ts";
import { isError } from "../../src/wire/errors.ts";
import { IpProto } from "../../src/wire/ipproto.ts";
import { builderFromRepr, Ipv6Builder, Ipv6View, toRepr } from "../../src/wire/ipv6.ts";
import { fragExt, Ipv6OptionType } from "../../src/wire/ipv6-ext.ts";
import { allLayers } from "../layers.ts";
import { checkParse, compareMasked, compareReprs, type FuzzTarget, type LengthField } from "../target.ts";
import { optionLength, pick, put16, randomBytes, serializeLayer } from "./util.ts";

export function runIpv6(input: Uint8Array): string | null {
  const p = checkParse(input, (b, o, l) => Ipv6View.parse(b, o, l), toRepr, {
    key: "ipv6",
    parseInto: (v, b, o, l) => v.parseFrom(b, o, l),
  });
  if (typeof p === "string" || isError(p)) return typeof p === "string" ? p : null;
  const v = p.view;
  if (v.upperOff < v.payloadOff || v.upperOff > v.off + v.len) {
    return `ipv6 upperOff ${v.upperOff - v.off} outside the packet of ${v.len} bytes`;
  }
  const r = toRepr(v);
  const out = serializeLayer(v.upper(), builderFromRepr(r));
  // The fragment header's reserved byte is written zero by the builder.
  const mask: [number, number][] = v.hasFrag ? [[v.fragHeaderOff - v.off + 1, 0xff]] : [];
  const e = compareMasked(v.bytes.subarray(v.off, v.off + v.len), out, mask);
  if (e !== null) return `ipv6 re-serialized differently: ${e}`;
  const v2 = Ipv6View.parse(out, 0, out.length);
  if (isError(v2)) return `ipv6 re-serialized packet does not parse: ${v2}`;
  return compareReprs("ipv6", r, toRepr(v2));
}

const EXT_TYPES: number[] = [IpProto.HopByHop, IpProto.Ipv6Route, IpProto.Ipv6Frag, IpProto.Ipv6Opts];

/** The payload length field and the length byte of every extension header a loose walk finds. */
export function ipv6LengthFields(b: Uint8Array, off = 0): LengthField[] {
  const fields: LengthField[] = [{ off: off + 4, size: 2 }];
  let next = b[off + 6];
  let pos = off + 40;
  for (let n = 0; n < 20 && pos + 2 <= b.length && EXT_TYPES.includes(next); n++) {
    if (next === IpProto.Ipv6Frag) {
      fields.push({ off: pos + 2, size: 2 });
      next = b[pos];
      pos += 8;
    } else {
      fields.push({ off: pos + 1, size: 1 });
      next = b[pos];
      pos += (b[pos + 1] + 1) * 8;
    }
  }
  return fields;
}

const OPTION_TYPES = [
  Ipv6OptionType.Pad1,
  Ipv6OptionType.PadN,
  Ipv6OptionType.RouterAlert,
  Ipv6OptionType.Jumbo,
  0x1e,
  0x5e,
  0x9e,
  0xde,
];

/** One extension header of `type` (its Next Header byte left for the caller). */
function extSoup(rng: Rng, type: number): Uint8Array {
  if (type === IpProto.Ipv6Frag) {
    const h = randomBytes(rng, 8);
    h[1] = rng.chance(0.8) ? 0 : h[1];
    return h;
  }
  const len = (rng.chance(0.9) ? rng.int(3) : rng.int(256)) * 8 + 8;
  const h = new Uint8Array(len);
  h[1] = len / 8 - 1;
  if (type === IpProto.Ipv6Route) {
    h[2] = rng.int(5);
    h[3] = rng.chance(0.5) ? 0 : rng.int(256);
    h.set(randomBytes(rng, len - 4), 4);
    return h;
  }
  let i = 2;
  while (i < len) {
    const t = rng.chance(0.8) ? pick(rng, OPTION_TYPES) : rng.int(256);
    h[i++] = t;
    if (t === 0 || i >= len) continue;
    const want = t === Ipv6OptionType.RouterAlert ? 2 : t === Ipv6OptionType.Jumbo ? 4 : rng.int(len - i);
    const l = optionLength(rng, want, len - i - 1);
    h[i++] = l;
    const data = Math.min(l, len - i);
    h.set(randomBytes(rng, data), i);
    i += data;
  }
  return h;
}

/** An IPv6 packet with a random chain of extension headers ("option soup"). */
export function ipv6Soup(rng: Rng, base: Uint8Array | null, uppers: readonly number[]): Uint8Array {
  const n = rng.int(6);
  const exts: Uint8Array[] = [];
  const types: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = rng.chance(0.9) ? pick(rng, EXT_TYPES) : rng.int(256);
    types.push(t);
    exts.push(extSoup(rng, t));
  }
  const upper = pick(rng, uppers);
  const payload = randomBytes(rng, rng.int(40));
  let total = 40 + payload.length;
  for (const e of exts) total += e.length;
  const out = new Uint8Array(total);
  if (base !== null) out.set(base.subarray(0, Math.min(40, base.length)));
  else out.set(randomBytes(rng, 40));
  out[0] = 0x60 | (out[0] & 0x0f);
  put16(out, 4, total - 40);
  out[6] = n > 0 ? types[0] : upper;
  let o = 40;
  for (let i = 0; i < n; i++) {
    out.set(exts[i], o);
    out[o] = i + 1 < n ? types[i + 1] : upper;
    o += exts[i].length;
  }
  out.set(payload, o);
  return out;
}

const UPPERS = [IpProto.Tcp, IpProto.Udp, IpProto.Icmpv6, IpProto.Ipv6NoNext, 0xfd];

export const ipv6Target: FuzzTarget = {
  name: "ipv6",
  description: "IPv6 and its extension-header chain: parse, getters in bounds, toRepr/builder round trip",
  maxLen: 160,
  seedsFromFrames: (frames) => allLayers(frames).flatMap((l) => (l.ip !== null && l.v6 ? [l.ip] : [])),
  builtSeeds(rng: Rng) {
    const src = randomBytes(rng, 16) as ReturnType<typeof v6Zero>;
    const dst = v6Zero();
    dst[0] = 0xff;
    dst[1] = 0x02;
    dst[15] = 1;
    const hbh = Uint8Array.of(Ipv6OptionType.RouterAlert, 2, 0, 0, Ipv6OptionType.PadN, 0);
    const a = new Ipv6Builder(src, dst, IpProto.Icmpv6, { exts: [{ type: IpProto.HopByHop, data: hbh }] });
    const b = new Ipv6Builder(src, dst, IpProto.Udp, {
      exts: [{ type: IpProto.Ipv6Opts, data: new Uint8Array(6) }],
      frag: { id: 0xdeadbeef, offset: 0, more: true },
    });
    const c = new Ipv6Builder(src, dst, IpProto.Tcp, {
      exts: [
        { type: IpProto.Ipv6Route, data: Uint8Array.of(0, 0, 0, 0, 0, 0) },
        fragExt({ id: 1, offset: 1232, more: false }),
      ],
    });
    return [
      serializeLayer(randomBytes(rng, 24), a),
      serializeLayer(randomBytes(rng, 16), b),
      serializeLayer(randomBytes(rng, 11), c),
    ];
  },
  lengthFields: (b) => ipv6LengthFields(b),
  soup: (rng, base) => ipv6Soup(rng, base, UPPERS),
  run: runIpv6,
};
