/**
 * Target "udp": `UdpView.parse` with the IPv4 or IPv6 pseudo-header (input = address context, see
 * ctx.ts, then the datagram), toRepr and the builder round trip (the builder's checksum must verify).
 */
import type { Rng } from "../../src/testing/rng.ts";
import { finish, sumBytes } from "../../src/wire/checksum.ts";
import { isError } from "../../src/wire/errors.ts";
import { IpProto } from "../../src/wire/ipproto.ts";
import { builderFromRepr, SKIP_CHECKSUM, toRepr, UdpBuilder, UdpView } from "../../src/wire/udp.ts";
import { type AddrCtx, ctxPseudo, randomCtx, readCtx, withCtx } from "../ctx.ts";
import { allLayers } from "../layers.ts";
import { checkParse, compareMasked, compareReprs, type FuzzTarget } from "../target.ts";
import { put16, randomBytes, serializeLayer } from "./util.ts";

const MASK = [
  [6, 0xff],
  [7, 0xff],
] as const;

function pseudo(c: AddrCtx, l: number): number {
  return c.skipChecksum ? SKIP_CHECKSUM : ctxPseudo(c, IpProto.Udp, l);
}

function parser(c: AddrCtx) {
  return (b: Uint8Array, o: number, l: number) => UdpView.parse(b, o, l, pseudo(c, l), c.v6 ? 6 : 4);
}

export function runUdp(input: Uint8Array): string | null {
  const c = readCtx(input);
  const parse = parser(c);
  const p = checkParse(input.subarray(c.msgOff), parse, toRepr, {
    key: "udp",
    parseInto: (v, b, o, l) => v.parseFrom(b, o, l, pseudo(c, l), c.v6 ? 6 : 4),
  });
  if (typeof p === "string" || isError(p)) return typeof p === "string" ? p : null;
  const v = p.view;
  const r = toRepr(v);
  const out = serializeLayer(v.payload(), builderFromRepr(r, c.src, c.dst));
  const e = compareMasked(v.bytes.subarray(v.off, v.off + v.len), out, MASK);
  if (e !== null) return `udp re-serialized differently: ${e}`;
  const v2 = parse(out, 0, out.length);
  if (isError(v2)) return `udp re-serialized datagram does not parse: ${v2}`;
  return compareReprs("udp", r, toRepr(v2));
}

/** Recompute the checksum of the datagram in `input` when its length field fits. */
function fix(input: Uint8Array): void {
  const c = readCtx(input);
  const m = input.subarray(c.msgOff);
  if (m.length < 8) return;
  const ulen = (m[4] << 8) | m[5];
  if (ulen < 8 || ulen > m.length) return;
  m[6] = 0;
  m[7] = 0;
  let s = finish(sumBytes(m, 0, ulen, ctxPseudo(c, IpProto.Udp, ulen)));
  if (s === 0) s = 0xffff;
  put16(m, 6, s);
}

export const udpTarget: FuzzTarget = {
  name: "udp",
  description: "UDP over IPv4/IPv6 pseudo-headers: parse, getters in bounds, round trip with checksum",
  maxLen: 96,
  seedsFromFrames: (frames) =>
    allLayers(frames).flatMap((l) =>
      l.proto === IpProto.Udp && l.upper !== null ? [withCtx(l.src, l.dst, l.upper)] : [],
    ),
  builtSeeds(rng: Rng) {
    const out: Uint8Array[] = [];
    for (const v6 of [false, true]) {
      const msg = serializeLayer(randomBytes(rng, 12), new UdpBuilder(0, 0, 5353, 53));
      const x = randomCtx(rng, v6, msg);
      fix(x);
      out.push(x);
    }
    return out;
  },
  lengthFields: (b) => [{ off: readCtx(b).msgOff + 4, size: 2 }],
  fixup: fix,
  run: runUdp,
};
