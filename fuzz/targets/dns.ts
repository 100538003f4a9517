/**
 * Target "dns": `DnsView.parse` (names with compression pointers, records, data of A, AAAA,
 * CNAME, NS, PTR, MX, SOA), every record read through the cursor in bounds, toRepr and the
 * builder round trip with and without compression (reprs equal). Seeds: the DNS messages of
 * test/fixtures/dhcp-dns/dns.pcap (dig and dnsmasq, UDP and TCP) and built ones.
 */

import { v4 } from "../../src/ip/addr.ts";
import type { Rng } from "../../src/testing/rng.ts";
import { builderFromRepr, DnsBuilder, DnsType, DnsView, dnsRecord, toRepr } from "../../src/wire/dns.ts";
import { isError } from "../../src/wire/errors.ts";
import { fixtureFrames } from "../../test/fixtures/dhcp-dns/load.ts";
import { checkParse, compareReprs, type FuzzTarget } from "../target.ts";

/** Every record through the cursor: names, targets, SOA fields, comparisons. */
function inspect(v: DnsView): unknown {
  const out: unknown[] = [];
  const c = v.records();
  const root = Uint8Array.of(0);
  while (c.next()) {
    const r: unknown[] = [c.section, c.name(), c.type, c.class, c.ttl, c.rdata(), c.nameIs(root)];
    if (c.section > 0) {
      if (c.type === DnsType.A) r.push(c.a);
      if (c.type === DnsType.AAAA) r.push(c.aaaa.slice());
      if (c.type === DnsType.CNAME || c.type === DnsType.NS || c.type === DnsType.PTR || c.type === DnsType.MX) {
        r.push(c.target(), c.targetIs(root));
      }
      if (c.type === DnsType.SOA) r.push(c.soa(), c.soaMinimum);
    }
    out.push(r);
  }
  return { records: out, questionsEnd: v.questionsEnd - v.off, end: v.end - v.off };
}

export function runDns(input: Uint8Array): string | null {
  const p = checkParse(input, DnsView.parse, inspect, { key: "dns", parseInto: (v, b, o, l) => v.parseFrom(b, o, l) });
  if (typeof p === "string" || isError(p)) return typeof p === "string" ? p : null;
  const r = toRepr(p.view);
  for (const compress of [false, true]) {
    const out = builderFromRepr(r, compress).toBytes();
    const v2 = DnsView.parse(out, 0, out.length);
    if (isError(v2)) return `dns re-serialized message (compress ${compress}) does not parse: ${v2}`;
    const e = compareReprs(`dns (compress ${compress})`, r, toRepr(v2));
    if (e !== null) return e;
  }
  return null;
}

export const dnsTarget: FuzzTarget = {
  name: "dns",
  description: "DNS (names, compression, A/AAAA/CNAME/SOA/MX/OPT records): parse, cursor in bounds, repr round trip",
  maxLen: 700,
  seedsFromFrames: () => [],
  builtSeeds(rng: Rng) {
    const real = fixtureFrames("dns.pcap")
      .filter((f) => f.payload.length > 0)
      .map((f) => (f.proto === 6 ? f.payload.subarray(2) : f.payload).slice());
    const built = new DnsBuilder(
      rng.uint32() & 0xffff,
      0x8180,
      [{ name: "a.example", type: DnsType.MX, class: 1 }],
      [
        { name: "a.example", type: DnsType.MX, class: 1, ttl: 60, data: { preference: 10, exchange: "mx.a.example" } },
        dnsRecord.cname("b.a.example", 60, "a.example"),
        dnsRecord.a("mx.a.example", 60, v4(rng.uint32())),
      ],
      [],
      [dnsRecord.opt(1232)],
    ).toBytes();
    return [...real, built];
  },
  run: runDns,
};
