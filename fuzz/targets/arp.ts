/** Target "arp": `ArpView.parse`, toRepr and the 28-byte builder round trip. */
import { type MacAddr, v4 } from "../../src/ip/addr.ts";
import type { Rng } from "../../src/testing/rng.ts";
import { ArpBuilder, ArpView, builderFromRepr, toRepr } from "../../src/wire/arp.ts";
import { isError } from "../../src/wire/errors.ts";
import { allLayers } from "../layers.ts";
import { checkParse, compareMasked, compareReprs, type FuzzTarget } from "../target.ts";
import { randomBytes, serializeLayer } from "./util.ts";

export function runArp(input: Uint8Array): string | null {
  const p = checkParse(input, ArpView.parse, toRepr, { key: "arp", parseInto: (v, b, o, l) => v.parseFrom(b, o, l) });
  if (typeof p === "string" || isError(p)) return typeof p === "string" ? p : null;
  const v = p.view;
  const r = toRepr(v);
  const out = serializeLayer(new Uint8Array(0), builderFromRepr(r));
  const e = compareMasked(v.bytes.subarray(v.off, v.off + v.len), out);
  if (e !== null) return `arp re-serialized differently: ${e}`;
  const v2 = ArpView.parse(out, 0, out.length);
  if (isError(v2)) return `arp re-serialized packet does not parse: ${v2}`;
  return compareReprs("arp", r, toRepr(v2));
}

export const arpTarget: FuzzTarget = {
  name: "arp",
  description: "ARP (Ethernet/IPv4): parse, getters in bounds, toRepr/builder round trip",
  maxLen: 64,
  seedsFromFrames: (frames) => allLayers(frames).flatMap((l) => (l.arp !== null ? [l.arp] : [])),
  builtSeeds(rng: Rng) {
    const mac = (): MacAddr => randomBytes(rng, 6) as MacAddr;
    return [1, 2, 3, 0xffff].map((op) =>
      serializeLayer(new Uint8Array(0), new ArpBuilder(op, mac(), v4(rng.uint32()), mac(), v4(rng.uint32()))),
    );
  },
  lengthFields: () => [
    { off: 4, size: 1 },
    { off: 5, size: 1 },
  ],
  run: runArp,
};
