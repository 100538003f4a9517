// Header prediction (connection.ts `predicted`): the fast path for in-order data and pure ACKs in
// ESTABLISHED must put exactly the same segments on the wire as the general RFC 9293 3.10.7.4 path.
import assert from "node:assert/strict";
import { test } from "node:test";
import { v4 } from "../../ip/addr.ts";
import { TcpView } from "../../wire/tcp.ts";
import { TcpOptions } from "../../wire/tcp-options.ts";
import type { TcpConfig } from "./config.ts";
import { tcpTuning } from "./connection.ts";
import { bulkTransfer, type ChannelOptions, pattern, TcpTestNet } from "./test-net.ts";

/** A transfer's segments as text (both directions, virtual time, every header field we set). */
function trace(predict: boolean, ch: ChannelOptions, cfg: Partial<TcpConfig>, n: number) {
  tcpTuning.headerPrediction = predict;
  try {
    const net = new TcpTestNet({ seed: 7, ...ch });
    const a = net.addHost("a", v4(0x0a000001), cfg);
    const b = net.addHost("b", v4(0x0a000002), cfg);
    const out: string[] = [];
    const v = new TcpView();
    const o = new TcpOptions();
    net.tap = (from, bytes, off, len) => {
      v.parseFrom(bytes, off, len, -1);
      v.readOptions(o);
      out.push(
        `${net.now} ${from.name} ${v.seq} ${v.ack} ${v.flags} ${v.window} ${v.payloadLen} ${o.tsVal} ${o.tsEcr} ${o.sackCount}`,
      );
    };
    const data = pattern(n, 5);
    const before = tcpTuning.predicted;
    const r = bulkTransfer(net, a, b, data, { readChunk: 20_000 });
    assert.equal(r.total, n);
    assert.ok(r.eof);
    assert.deepEqual(r.received, data);
    return { out, predicted: tcpTuning.predicted - before };
  } finally {
    tcpTuning.headerPrediction = true;
  }
}

const CASES: [string, ChannelOptions, Partial<TcpConfig>][] = [
  ["clean link", {}, {}],
  ["loss, reordering, duplication", { loss: 0.02, reorder: 0.05, duplicate: 0.02 }, {}],
  ["no timestamps, no SACK, NewReno", { loss: 0.01 }, { timestamps: false, sack: false, congestion: "newreno" }],
  ["small receive buffer (window-limited)", { loss: 0.005 }, { recvBufferSize: 16384 }],
];

for (const [name, ch, cfg] of CASES) {
  test(`header prediction sends the same segments as the general path: ${name}`, () => {
    const slow = trace(false, ch, cfg, 400_000);
    const fast = trace(true, ch, cfg, 400_000);
    assert.equal(slow.predicted, 0);
    // Many segments of a bulk transfer take the fast path (on the lossy link most ACKs come
    // during a recovery, which takes the general path)...
    assert.ok(fast.predicted > fast.out.length / 6, `${fast.predicted} of ${fast.out.length} predicted`);
    // ...and change nothing on the wire.
    assert.equal(fast.out.length, slow.out.length);
    assert.deepEqual(fast.out, slow.out);
  });
}
