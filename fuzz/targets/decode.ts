/**
 * Target "decode": whole-frame decoding (`decodeFrame`, `summarize`, `verifyFrame`,
 * `rebuildFrame` of src/wire/decode.ts, what `netstack decode` runs) on whole Ethernet frames.
 * Invariants: nothing throws; the record is JSON without NaN; the summary names no `undefined` or
 * `NaN`; decoding the frame as a subarray of a larger buffer gives the same record (no
 * `bytes.buffer` without `byteOffset`); and a well-formed frame's rebuilt bytes decode to the same
 * record (byte differences alone are allowed: reserved bits and checksum encodings are not in
 * the reprs).
 */
import type { Rng } from "../../src/testing/rng.ts";
import { checksum, finish, pseudoSum, sumBytes } from "../../src/wire/checksum.ts";
import { decodeFrame, rebuildFrame, summarize, verifyFrame } from "../../src/wire/decode.ts";
import { IpProto } from "../../src/wire/ipproto.ts";
import { type FuzzTarget, type LengthField, parseStats, stableJson } from "../target.ts";
import { ethernetTarget } from "./ethernet.ts";
import { icmpv6Target } from "./icmpv6.ts";
import { fixIpv4Checksum, ipv4OptionSoup, ipv4Target } from "./ipv4.ts";
import { ipv6LengthFields, ipv6Soup } from "./ipv6.ts";
import { tcpTarget } from "./tcp.ts";
import { udpTarget } from "./udp.ts";
import { pick, put16, randomBytes } from "./util.ts";

const GUARD = 32;

export function runDecode(input: Uint8Array): string | null {
  const d = decodeFrame(input, 1);
  const json = stableJson(d.record);
  // The record has no nullable field: a null is a NaN that JSON turned into null.
  if (json.includes(":null")) return `decode record has a null (NaN?) field: ${json.slice(0, 200)}`;
  const line = summarize(d);
  if (typeof line !== "string" || line.length === 0) return "summarize returned nothing";
  if (/undefined|NaN/.test(line)) return `summary has undefined/NaN: ${line.slice(0, 200)}`;
  const big = new Uint8Array(GUARD + input.length + GUARD).fill(0xa5);
  big.set(input, GUARD);
  const d2 = decodeFrame(big.subarray(GUARD, GUARD + input.length), 1);
  if (stableJson(d2.record) !== json) return "decoding a subarray gives another record: a read outside the frame";
  if (summarize(d2) !== line) return "summarizing a subarray gives another line";
  const v = verifyFrame(input, d);
  if (!d.record.ok) {
    if (v.kind !== "malformed") return `verifyFrame said ${v.kind} for a malformed frame`;
    return null;
  }
  parseStats.ok++;
  if (v.kind === "malformed") return "verifyFrame said malformed for a well-formed frame";
  const rebuilt = rebuildFrame(d);
  if (rebuilt === null) return `a well-formed frame was not rebuilt (${v.kind === "differs" ? v.message : ""})`;
  const d3 = decodeFrame(rebuilt, 1);
  const j3 = stableJson(d3.record);
  if (j3 !== json) return `the rebuilt frame decodes differently: ${json.slice(0, 200)} then ${j3.slice(0, 200)}`;
  return null;
}

/** Recompute the IPv4 header checksum and the transport checksum of a frame, where they fit. */
function fixFrame(f: Uint8Array): void {
  if (f.length < 14) return;
  let o = 12;
  let type = (f[o] << 8) | f[o + 1];
  if (type === 0x8100 && f.length >= 18) {
    o = 16;
    type = (f[o] << 8) | f[o + 1];
  }
  const ip = o + 2;
  if (type === 0x0800 && f.length >= ip + 20) {
    fixIpv4Checksum(f, ip);
    const hl = (f[ip] & 0x0f) * 4;
    const total = (f[ip + 2] << 8) | f[ip + 3];
    if (hl < 20 || total < hl || ip + total > f.length) return;
    const src = ((f[ip + 12] << 24) | (f[ip + 13] << 16) | (f[ip + 14] << 8) | f[ip + 15]) >>> 0;
    const dst = ((f[ip + 16] << 24) | (f[ip + 17] << 16) | (f[ip + 18] << 8) | f[ip + 19]) >>> 0;
    fixTransport(f.subarray(ip + hl, ip + total), f[ip + 9], src, dst);
  } else if (type === 0x86dd && f.length >= ip + 40) {
    const plen = (f[ip + 4] << 8) | f[ip + 5];
    if (ip + 40 + plen > f.length) return;
    // The upper layer after a loose walk of the extension headers.
    const fields = ipv6LengthFields(f, ip);
    let next = f[ip + 6];
    let pos = ip + 40;
    for (let i = 1; i < fields.length && pos < f.length; i++) {
      const isFrag = next === IpProto.Ipv6Frag;
      next = f[pos];
      pos += isFrag ? 8 : (f[pos + 1] + 1) * 8;
    }
    if (pos > ip + 40 + plen) return;
    fixTransport(f.subarray(pos, ip + 40 + plen), next, f.slice(ip + 8, ip + 24), f.slice(ip + 24, ip + 40));
  }
}

function fixTransport(m: Uint8Array, proto: number, src: number | Uint8Array, dst: number | Uint8Array): void {
  let at = -1;
  let len = m.length;
  if (proto === IpProto.Tcp && m.length >= 20) at = 16;
  else if (proto === IpProto.Udp && m.length >= 8) {
    at = 6;
    len = (m[4] << 8) | m[5];
    if (len < 8 || len > m.length) return;
  } else if (proto === IpProto.Icmp && m.length >= 8) {
    m[2] = 0;
    m[3] = 0;
    put16(m, 2, checksum(m, 0, m.length));
    return;
  } else if (proto === IpProto.Icmpv6 && m.length >= 8) at = 2;
  if (at < 0) return;
  m[at] = 0;
  m[at + 1] = 0;
  let c = finish(sumBytes(m, 0, len, pseudoSum(src, dst, proto, len)));
  if (c === 0 && proto === IpProto.Udp) c = 0xffff;
  put16(m, at, c);
}

/** Wrap an IP packet in an Ethernet header. */
function frameOf(rng: Rng, type: number, packet: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + packet.length);
  f.set(randomBytes(rng, 12));
  put16(f, 12, type);
  f.set(packet, 14);
  return f;
}

export const decodeTarget: FuzzTarget = {
  name: "decode",
  description: "whole-frame decode (netstack decode): record, summary, subarray-safety, rebuild round trip",
  maxLen: 256,
  seedsFromFrames: (frames) => frames.map((f) => f.slice()),
  builtSeeds: (rng) => ethernetTarget.builtSeeds(rng),
  lengthFields(b) {
    const fields: LengthField[] = [{ off: 12, size: 2 }];
    const t = b.length >= 14 ? (b[12] << 8) | b[13] : 0;
    if (t === 0x0800) fields.push({ off: 14, size: 1 }, { off: 16, size: 2 }, { off: 14 + 20 + 4, size: 2 });
    if (t === 0x86dd) fields.push(...ipv6LengthFields(b, 14));
    return fields;
  },
  fixup: fixFrame,
  /** An Ethernet frame around IPv4 with option soup or IPv6 with an extension-header soup, over TCP/UDP/ICMP soup. */
  soup(rng, base) {
    const r = rng.int(4);
    let inner: Uint8Array;
    if (r === 0) {
      const t = tcpTarget.soup?.(rng, null) ?? new Uint8Array(0);
      inner = t.subarray(t[0] & 1 ? 33 : 9);
    } else if (r === 1) inner = udpTarget.builtSeeds(rng)[0].subarray(9);
    else if (r === 2) inner = (icmpv6Target.soup?.(rng, null) ?? new Uint8Array(41)).subarray(33);
    else inner = randomBytes(rng, rng.int(32));
    let f: Uint8Array;
    if (rng.chance(0.5)) {
      const opts = ipv4OptionSoup(rng);
      const hl = 20 + opts.length;
      const p = new Uint8Array(hl + inner.length);
      p.set((ipv4Target.builtSeeds(rng)[0] ?? new Uint8Array(20)).subarray(0, 20));
      p[0] = 0x40 | (hl >>> 2);
      put16(p, 2, p.length);
      p[6] &= rng.chance(0.7) ? 0x40 : 0xff;
      p[7] = rng.chance(0.7) ? 0 : p[7];
      p[9] = pick(rng, [IpProto.Tcp, IpProto.Udp, IpProto.Icmp, IpProto.Icmpv6]);
      p.set(opts, 20);
      p.set(inner, hl);
      f = frameOf(rng, 0x0800, p);
    } else {
      const p = ipv6Soup(rng, null, [IpProto.Tcp, IpProto.Udp, IpProto.Icmpv6]);
      f = frameOf(rng, 0x86dd, p);
    }
    if (base !== null && base.length >= 12) f.set(base.subarray(0, 12));
    fixFrame(f);
    return f;
  },
  run: runDecode,
};
