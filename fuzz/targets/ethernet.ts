/** Target "ethernet": `EthernetView.parse` (802.1Q tags included), toRepr and the builder round trip. */
import { type MacAddr, v4 } from "../../src/ip/addr.ts";
import type { Rng } from "../../src/testing/rng.ts";
import { ArpBuilder, ArpOp } from "../../src/wire/arp.ts";
import { isError } from "../../src/wire/errors.ts";
import { builderFromRepr, EthernetBuilder, EthernetView, EtherType, toRepr } from "../../src/wire/ethernet.ts";
import { checkParse, compareMasked, compareReprs, type FuzzTarget } from "../target.ts";
import { pick, put16, randomBytes, serializeLayer } from "./util.ts";

export function runEthernet(input: Uint8Array): string | null {
  const p = checkParse(input, EthernetView.parse, toRepr, {
    key: "ethernet",
    parseInto: (v, b, o, l) => v.parseFrom(b, o, l),
  });
  if (typeof p === "string" || isError(p)) return typeof p === "string" ? p : null;
  const v = p.view;
  const r = toRepr(v);
  // A received frame may be longer than our MTU: the round trip is about the header.
  const out = serializeLayer(v.payload(), builderFromRepr(r, Math.max(1500, v.payloadLen)));
  const hl = v.headerLen;
  const e = compareMasked(v.bytes.subarray(v.off, v.off + hl), out.subarray(0, hl));
  if (e !== null) return `ethernet header re-serialized differently: ${e}`;
  if (out.length !== Math.max(60, v.len))
    return `ethernet frame re-serialized to ${out.length} bytes, want ${Math.max(60, v.len)}`;
  const v2 = EthernetView.parse(out, 0, out.length);
  if (isError(v2)) return `ethernet re-serialized frame does not parse: ${v2}`;
  return compareReprs("ethernet", r, toRepr(v2));
}

const TYPES = [EtherType.Ipv4, EtherType.Arp, EtherType.Ipv6, EtherType.Vlan, EtherType.QinQ, 0x05dc, 0x0600, 0xffff];

export const ethernetTarget: FuzzTarget = {
  name: "ethernet",
  description: "Ethernet II and 802.1Q: parse, every getter in bounds, toRepr/builder round trip",
  maxLen: 128,
  seedsFromFrames: (frames) => frames.map((f) => f.slice()),
  builtSeeds(rng: Rng) {
    const mac = (): MacAddr => randomBytes(rng, 6) as MacAddr;
    const arp = new ArpBuilder(ArpOp.Request, mac(), v4(0x0a000001), mac(), v4(0x0a000002));
    const body = serializeLayer(new Uint8Array(0), arp);
    return [
      serializeLayer(body, new EthernetBuilder(mac(), mac(), EtherType.Arp)),
      serializeLayer(body, new EthernetBuilder(mac(), mac(), EtherType.Arp, 42, 1500, 5, true)),
      serializeLayer(randomBytes(rng, 100), new EthernetBuilder(mac(), mac(), EtherType.Ipv6, 4095)),
    ];
  },
  lengthFields: () => [{ off: 12, size: 2 }],
  /** A frame with a stack of 0x8100 / 0x88a8 tags and a random type. */
  soup(rng, base) {
    const tags = rng.int(5);
    const out = new Uint8Array(12 + tags * 4 + 2 + rng.int(64));
    if (base !== null) out.set(base.subarray(0, Math.min(12, base.length)));
    else out.set(randomBytes(rng, 12));
    let o = 12;
    for (let i = 0; i < tags; i++, o += 4) {
      put16(out, o, rng.chance(0.7) ? EtherType.Vlan : EtherType.QinQ);
      put16(out, o + 2, rng.int(0x10000));
    }
    put16(out, o, pick(rng, TYPES));
    out.set(randomBytes(rng, out.length - o - 2), o + 2);
    return out;
  },
  run: runEthernet,
};
