// Parse + verify of Ethernet+IPv4+TCP frames (64, 576, 1500 bytes) with reused views, and a TCP ACK
// serialized into the reused received buffer. Reference in the same run: Uint8Array.set of the frame
// (the cost of merely copying it once).
import { parseMac, v4 } from "../src/ip/addr.ts";
import { Buf } from "../src/packet/buf.ts";
import { BytesBody, EMPTY_BODY } from "../src/packet/serialize.ts";
import { pseudoV4 } from "../src/wire/checksum.ts";
import { EthernetBuilder, EthernetView, EtherType } from "../src/wire/ethernet.ts";
import { IpProto } from "../src/wire/ipproto.ts";
import { Ipv4Builder, Ipv4View } from "../src/wire/ipv4.ts";
import { TcpBuilder, TcpFlags, TcpView } from "../src/wire/tcp.ts";
import { fmt, runBench, table } from "./util.ts";

const MAC_A = parseMac("02:00:00:00:00:01")!;
const MAC_B = parseMac("02:00:00:00:00:02")!;
const IP_A = v4(0x0a000001);
const IP_B = v4(0x0a000002);

/** A well-formed Ethernet+IPv4+TCP frame of exactly `size` bytes (64 includes Ethernet padding). */
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
  const pseudo = pseudoV4(ip.src, ip.dst, IpProto.Tcp, ip.payloadLen);
  if (tcpView.parseFrom(f, ip.payloadOff, ip.payloadLen, pseudo) !== null) return -1;
  return tcpView.payloadLen;
}

export async function benchWire(): Promise<void> {
  const sizes = [64, 576, 1500];
  const frames = sizes.map(makeFrame);
  for (const f of frames) if (parseVerify(f) < 0) throw new Error("benchmark frame does not parse");
  const copyDst = new Uint8Array(1500);
  let sink = 0;
  const tasks: [string, () => void][] = [];
  for (let i = 0; i < sizes.length; i++) {
    const f = frames[i];
    tasks.push([
      `parse+verify ${sizes[i]} B`,
      () => {
        sink += parseVerify(f);
      },
    ]);
    tasks.push([
      `copy ${sizes[i]} B (reference)`,
      () => {
        copyDst.set(f);
      },
    ]);
  }
  // The ACK answer to a received 1500-byte segment, written into the same buffer (seed: buffer reuse).
  const rx = new Buf(makeFrame(1500));
  const ackTcp = new TcpBuilder(IP_B, IP_A);
  ackTcp.srcPort = 80;
  ackTcp.dstPort = 40000;
  ackTcp.flags = TcpFlags.ACK;
  ackTcp.window = 1000;
  const ackIp = new Ipv4Builder(IP_B, IP_A, IpProto.Tcp);
  const ackEth = new EthernetBuilder(MAC_B, MAC_A, EtherType.Ipv4);
  const ackChain = EMPTY_BODY.wrapIn(ackTcp).wrapIn(ackIp).wrapIn(ackEth);
  const store = rx.bytes;
  tasks.push([
    "serialize ACK into the received buffer",
    () => {
      ackTcp.seq = (ackTcp.seq + 1) >>> 0;
      ackChain.serialize({ target: rx });
    },
  ]);
  const r = await runBench(tasks);
  if (rx.bytes !== store) throw new Error("ACK serialization reallocated the buffer");
  const rows: (string | number)[][] = [];
  for (let i = 0; i < sizes.length; i++) {
    const p = r.get(`parse+verify ${sizes[i]} B`)!;
    const c = r.get(`copy ${sizes[i]} B (reference)`)!;
    rows.push([p.name, fmt(p.hz, "frames/s"), `${(p.hz / c.hz).toFixed(2)}x of copy`]);
  }
  const a = r.get("serialize ACK into the received buffer")!;
  rows.push([a.name, fmt(a.hz, "ops/s"), "same store, no reallocation"]);
  table(rows, ["task", "rate", "note"]);
  if (sink === 0.5) console.log(sink);
}
