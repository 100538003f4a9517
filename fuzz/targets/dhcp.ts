/**
 * Target "dhcp": `DhcpView.parse` (options field, option overload into `file` and `sname`), every
 * option getter for every code in bounds, toRepr and the builder round trip (reprs equal; the
 * message length may grow by the End option a sender left out). Seeds: the DHCP messages of
 * test/fixtures/dhcp-dns/dhcp.pcap (udhcpc and dnsmasq) and built ones.
 */

import { type Ipv4Addr, v4 } from "../../src/ip/addr.ts";
import type { Rng } from "../../src/testing/rng.ts";
import {
  builderFromRepr,
  DhcpBuilder,
  DhcpMessageType,
  DhcpOption,
  DhcpView,
  dhcpOpt,
  toRepr,
} from "../../src/wire/dhcp.ts";
import { isError } from "../../src/wire/errors.ts";
import { fixtureFrames } from "../../test/fixtures/dhcp-dns/load.ts";
import { checkParse, compareReprs, type FuzzTarget } from "../target.ts";
import { randomBytes, serializeLayer } from "./util.ts";

/** Everything the typed accessors answer, for every option code. */
function inspect(v: DhcpView): unknown {
  const codes: unknown[] = [];
  for (let code = 0; code < 256; code++) {
    if (!v.has(code)) continue;
    const list: number[] = [];
    for (let i = 0; i < v.addrCount(code); i++) list.push(v.addrAt(code, i));
    codes.push([code, v.option(code), v.text(code), list]);
  }
  return { repr: toRepr(v), codes, overload: v.overload };
}

export function runDhcp(input: Uint8Array): string | null {
  const p = checkParse(input, DhcpView.parse, inspect, {
    key: "dhcp",
    parseInto: (v, b, o, l) => v.parseFrom(b, o, l),
  });
  if (typeof p === "string" || isError(p)) return typeof p === "string" ? p : null;
  const r = toRepr(p.view);
  const out = serializeLayer(new Uint8Array(0), builderFromRepr(r));
  const v2 = DhcpView.parse(out, 0, out.length);
  if (isError(v2)) return `dhcp re-serialized message does not parse: ${v2}`;
  const r2 = toRepr(v2);
  if (r2.length < r.length) return `dhcp re-serialized message is shorter: ${r2.length} < ${r.length}`;
  return compareReprs("dhcp", { ...r, length: 0 }, { ...r2, length: 0 });
}

export const dhcpTarget: FuzzTarget = {
  name: "dhcp",
  description: "DHCPv4 (options, overload into file/sname): parse, every option getter in bounds, repr round trip",
  maxLen: 600,
  seedsFromFrames: () => [],
  builtSeeds(rng: Rng) {
    const real = fixtureFrames("dhcp.pcap")
      .filter((f) => f.proto === 17)
      .map((f) => f.payload.slice());
    const a = (): Ipv4Addr => v4(rng.uint32());
    const overloaded = serializeLayer(
      new Uint8Array(0),
      new DhcpBuilder(
        {
          op: 2,
          xid: rng.uint32(),
          chaddr: randomBytes(rng, 6),
          file: Uint8Array.of(DhcpOption.LeaseTime, 4, 0, 0, 1, 0, DhcpOption.Router, 8, ...randomBytes(rng, 8), 255),
          sname: Uint8Array.of(DhcpOption.HostName, 3, 0x61, 0x62, 0x63, 255),
        },
        [
          dhcpOpt.messageType(DhcpMessageType.Ack),
          dhcpOpt.u8(DhcpOption.Overload, 3),
          dhcpOpt.addrs(DhcpOption.ServerId, [a()]),
        ],
      ),
    );
    const long = serializeLayer(
      new Uint8Array(0),
      new DhcpBuilder({ xid: rng.uint32() }, [dhcpOpt.bytes(DhcpOption.VendorClassId, randomBytes(rng, 300))]),
    );
    return [...real, overloaded, long];
  },
  lengthFields(b) {
    // The length byte of every option a loose walk of the options field finds.
    const fields: { off: number; size: 1 }[] = [];
    let p = 240;
    while (p + 1 < b.length && fields.length < 32) {
      const c = b[p];
      if (c === 0) {
        p++;
        continue;
      }
      if (c === 255) break;
      fields.push({ off: p + 1, size: 1 });
      p += 2 + b[p + 1];
    }
    return fields;
  },
  run: runDhcp,
};
