// Parse + verify of Ethernet+IPv4+TCP frames (64, 576, 1500 bytes) with reused views, and a TCP ACK
// serialized into the reused received buffer. Reference in the same run: Uint8Array.set of the frame
// (the cost of merely copying it once).
import { parseMac, v4 } from "../src/ip/addr.ts";
import { Buf } from "../src/packet/buf.ts";
import { BytesBody, EMPTY_BODY } from "../src/packet/serialize.ts";
import { pseudoV4At } from "../src/wire/checksum.ts";
import { EthernetBuilder, EthernetView, EtherType } from "../src/wire/ethernet.ts";
import { IpProto } from "../src/wire/ipproto.ts";
import { Ipv4Builder, Ipv4View } from "../src/wire/ipv4.ts";
import { TcpBuilder, TcpFlags, TcpView } from "../src/wire/tcp.ts";
import { allocationPerOp, allocText } from "./alloc.ts";
import { type BenchTask, fmt, row, runBench, table } from "./util.ts";

const OPS = 1000;

const MAC_A = parseMac("02:00:00:00:00:01")!;
const MAC_B = parseMac("02:00:00:00:00:02")!;
// Addresses above 128.0.0.0 on purpose: as 32-bit values they are not small integers to V8, which
// shows any path that would box them.
const IP_A = v4(0xc0a80001); // 192.168.0.1
const IP_B = v4(0xc0a80002); // 192.168.0.2

/** A well-formed Ethernet+IPv4+TCP frame of exactly `size` bytes (>= 54; 64 carries 10 payload bytes). */
export function makeFrame(size: number): Uint8Array {
  const payloadLen = Math.max(0, size - 14 - 20 - 20);
  const tcp = new TcpBuilder(IP_A, IP_B);
  tcp.srcPort = 40000;
  tcp.dstPort = 80;
  tcp.seq = 1000;
  tcp.ack = 2000;
  tcp.flags = TcpFlags.ACK | TcpFlags.PSH;
  tcp.window = 501;
  const payload = new Uint8Array(payloadLen).map((_, i) => i & 0xff);
  const out = new BytesBody(payload)
    .wrapIn(tcp)
    .wrapIn(new Ipv4Builder(IP_A, IP_B, IpProto.Tcp))
    .wrapIn(new EthernetBuilder(MAC_A, MAC_B, EtherType.Ipv4))
    .serialize();
  if (!(out instanceof Buf)) throw new Error("frame too big");
  return out.toBytes();
}

const eth = new EthernetView();
const ip = new Ipv4View();
const tcpView = new TcpView();

/** Parse and fully verify one frame with the reused views; returns the TCP payload length or -1. */
function parseVerify(f: Uint8Array): number {
  if (eth.parseFrom(f, 0, f.length) !== null) return -1;
  if (ip.parseFrom(f, eth.payloadOff, eth.payloadLen) !== null) return -1;
  const pseudo = pseudoV4At(f, ip.off, IpProto.Tcp, ip.payloadLen);
  if (tcpView.parseFrom(f, ip.payloadOff, ip.payloadLen, pseudo) !== null) return -1;
  return tcpView.payloadLen;
}

export async function benchWire(): Promise<void> {
  const sizes = [64, 576, 1500];
  const frames = sizes.map(makeFrame);
  for (const f of frames) {
    if (parseVerify(f) < 0) throw new Error("benchmark frame does not parse");
    // The checksums really are verified: one flipped payload bit must fail the parse.
    const bad = f.slice();
    bad[bad.length - 1] ^= 1;
    if (parseVerify(bad) >= 0) throw new Error("a corrupted frame passed verification");
  }
  const copyDst = new Uint8Array(1500);
  let sink = 0;
  const tasks: BenchTask[] = [];
  for (let i = 0; i < sizes.length; i++) {
    const f = frames[i];
    tasks.push({
      name: `parse+verify ${sizes[i]} B`,
      ops: OPS,
      fn: () => {
        let s = 0;
        for (let k = 0; k < OPS; k++) s += parseVerify(f);
        sink = (sink + s) & 0xffff;
      },
    });
    tasks.push({
      name: `copy ${sizes[i]} B (reference)`,
      ops: OPS,
      fn: () => {
        for (let k = 0; k < OPS; k++) copyDst.set(f);
      },
    });
  }
  // The ACK answer to a received 1500-byte segment, written into the same buffer (seed: buffer
  // reuse). One builder chain and one options object, kept, as a connection keeps them.
  const rx = new Buf(makeFrame(1500));
  const ackTcp = new TcpBuilder(IP_B, IP_A);
  ackTcp.srcPort = 80;
  ackTcp.dstPort = 40000;
  ackTcp.flags = TcpFlags.ACK;
  ackTcp.window = 1000;
  const ackIp = new Ipv4Builder(IP_B, IP_A, IpProto.Tcp);
  const ackEth = new EthernetBuilder(MAC_B, MAC_A, EtherType.Ipv4);
  const ackChain = EMPTY_BODY.wrapIn(ackTcp).wrapIn(ackIp).wrapIn(ackEth);
  const into = { target: rx };
  const store = rx.bytes;
  const ack = () => {
    ackTcp.seq = (ackTcp.seq + 1) >>> 0;
    ackChain.serialize(into);
  };
  tasks.push({
    name: "serialize ACK into the received buffer",
    ops: OPS,
    fn: () => {
      for (let k = 0; k < OPS; k++) ack();
    },
  });
  const r = await runBench(tasks);
  if (rx.bytes !== store) throw new Error("ACK serialization reallocated the buffer");
  // The ACK on the wire is the 60-byte minimum frame, and it parses and verifies.
  if (rx.length !== 60 || parseVerify(rx.body()) !== 0) throw new Error("the ACK does not parse back");

  const rows: string[][] = [];
  for (let i = 0; i < sizes.length; i++) {
    const p = row(r, `parse+verify ${sizes[i]} B`);
    const c = row(r, `copy ${sizes[i]} B (reference)`);
    const target = sizes[i] === 64 ? `>= 10 M/s: ${p.hz >= 10e6 ? "met" : "NOT met"}` : "";
    rows.push([p.name, fmt(p.hz, "frames/s"), fmt(c.hz, "copies/s"), `${(p.hz / c.hz).toFixed(2)}x`, target]);
  }
  const a = row(r, "serialize ACK into the received buffer");
  const c64 = row(r, "copy 64 B (reference)");
  rows.push([a.name, fmt(a.hz, "ops/s"), "(copy 64 B)", `${(a.hz / c64.hz).toFixed(2)}x`, "no allocation: below"]);
  table(rows, ["task", "rate", "reference: copy of the frame", "vs copy", "target"]);

  // Allocation per operation (heap growth over 1e4 calls after a GC, best of five). The control
  // allocates one small object per call, to show the check sees an allocation when there is one.
  let kept: unknown = null;
  const f64 = frames[0];
  const allocRows = [
    ["parse+verify 64 B (reused views)", allocText(allocationPerOp(() => (sink = (sink + parseVerify(f64)) & 0xffff)))],
    ["serialize ACK into the received buffer", allocText(allocationPerOp(ack))],
    ["control: one { seq } object per call", allocText(allocationPerOp(() => (kept = { seq: sink })))],
  ];
  if (rx.bytes !== store) throw new Error("ACK serialization reallocated the buffer");
  table(allocRows, ["allocation check", "per call"]);
  if (sink === 0.5 || kept === sink) console.log(sink);
}
