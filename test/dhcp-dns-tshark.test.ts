// Wireshark agreement for the DHCP and DNS fixtures (test/fixtures/dhcp-dns/, kept out of
// test/fixtures/*.pcap so the generic frame tests keep their seeds): tshark's DHCP and DNS fields
// against what `DhcpView` and `DnsView` read. Skipped, with the reason, without tshark.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { formatMac, formatV4 } from "../src/ip/addr.ts";
import { DhcpOption, DhcpView } from "../src/wire/dhcp.ts";
import { DnsType, DnsView, toRepr } from "../src/wire/dns.ts";
import { isError } from "../src/wire/errors.ts";
import { fixtureFrames } from "./fixtures/dhcp-dns/load.ts";

const DIR = fileURLToPath(new URL("./fixtures/dhcp-dns/", import.meta.url));

function tshark(file: string, filter: string, fields: string[]): string[][] {
  const out = execFileSync(
    "tshark",
    ["-r", join(DIR, file), "-Y", filter, "-T", "fields", "-E", "separator=|", ...fields.flatMap((f) => ["-e", f])],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
  );
  return out
    .trim()
    .split("\n")
    .map((l) => l.split("|"));
}

function hasTshark(): boolean {
  try {
    execFileSync("tshark", ["-v"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const SKIP = hasTshark() ? false : "tshark is not installed (apt-get install tshark); CI installs it";

test("tshark agrees with DhcpView on every DHCP message of the capture", { skip: SKIP }, () => {
  const frames = fixtureFrames("dhcp.pcap");
  const rows = tshark("dhcp.pcap", "dhcp && !icmp", [
    "frame.number",
    "dhcp.id",
    "dhcp.ip.your",
    "dhcp.ip.client",
    "dhcp.hw.mac_addr",
    "dhcp.option.type",
    "dhcp.option.dhcp",
    "dhcp.option.ip_address_lease_time",
  ]);
  assert.equal(rows.length, 18);
  for (const [n, xid, yiaddr, ciaddr, mac, types, msgType, lease] of rows) {
    const p = frames[Number(n) - 1].payload;
    const v = DhcpView.parse(p, 0, p.length);
    if (isError(v)) assert.fail(`frame ${n}: ${v}`);
    const codes: number[] = [];
    const c = v.options();
    while (c.next()) codes.push(c.code);
    // tshark lists End as a last "0".
    const theirs = types.split(",").map(Number);
    if (theirs.at(-1) === 0) theirs.pop();
    const ours = [
      `0x${v.xid.toString(16).padStart(8, "0")}`,
      formatV4(v.yiaddr),
      formatV4(v.ciaddr),
      formatMac(v.chaddr),
      codes.join(","),
      String(v.messageType),
      v.leaseTime < 0 ? "" : String(v.leaseTime),
    ];
    assert.deepEqual(ours, [xid, yiaddr, ciaddr, mac.split(",")[0], theirs.join(","), msgType, lease], `frame ${n}`);
    assert.equal(v.has(DhcpOption.End), false, "End is not an option");
  }
});

test("tshark agrees with DnsView on every DNS message of the capture (UDP and TCP)", { skip: SKIP }, () => {
  const frames = fixtureFrames("dns.pcap");
  const rows = tshark("dns.pcap", "dns", [
    "frame.number",
    "dns.id",
    "dns.flags",
    "dns.qry.name",
    "dns.qry.type",
    "dns.count.answers",
    "dns.a",
    "dns.aaaa",
    "dns.cname",
    "dns.resp.ttl",
    "dns.soa.minimum_ttl",
  ]);
  assert.equal(rows.length, 18);
  for (const [n, id, flags, qname, qtype, ancount, a, aaaa, cname, ttls, soaMin] of rows) {
    const f = frames[Number(n) - 1];
    const p = f.proto === 6 ? f.payload.subarray(2) : f.payload;
    const v = DnsView.parse(p, 0, p.length);
    if (isError(v)) assert.fail(`frame ${n}: ${v}`);
    const r = toRepr(v);
    const all = [...r.answers, ...r.authority, ...r.additional].filter((x) => x.type !== DnsType.OPT);
    const ours = [
      `0x${r.id.toString(16).padStart(4, "0")}`,
      `0x${r.flags.toString(16).padStart(4, "0")}`,
      r.questions[0].name,
      String(r.questions[0].type),
      String(r.answers.length),
      r.answers
        .filter((x) => x.type === DnsType.A)
        .map((x) => x.address)
        .join(","),
      r.answers
        .filter((x) => x.type === DnsType.AAAA)
        .map((x) => x.address)
        .join(","),
      r.answers
        .filter((x) => x.type === DnsType.CNAME)
        .map((x) => x.target)
        .join(","),
      all.map((x) => x.ttl).join(","),
      all
        .filter((x) => x.soa !== undefined)
        .map((x) => x.soa?.minimum)
        .join(","),
    ];
    assert.deepEqual(ours, [id, flags, qname, qtype, ancount, a, aaaa, cname, ttls, soaMin], `frame ${n}`);
  }
});
