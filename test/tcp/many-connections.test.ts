// 10 000 concurrent connections between two TCP layers: every one connects, exchanges a request and
// its echo, and closes; the demux table and timers stay correct at that scale.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { SocketId } from "../../src/context.ts";
import { v4 } from "../../src/ip/addr.ts";
import { TcpTestNet } from "../../src/transport/tcp/test-net.ts";

const N = 10_000;

test(`${N} concurrent connections all complete`, () => {
  const net = new TcpTestNet({ seed: 5, latency: 1, record: false });
  const cfg = { sendBufferSize: 4096, recvBufferSize: 4096, timeWaitMs: 1000 };
  const client = net.addHost("client", v4(0x0a000001), cfg);
  const server = net.addHost("server", v4(0x0a000002), cfg);
  const lid = server.tcp.listen(server.I, server.I.unspecified, 80, N) as number;
  let echoed = 0;
  server.onEvent = (ev) => {
    if (ev.type === "accepted") server.tcp.accept(lid);
    else if (ev.type === "readable") {
      const b = server.tcp.recv(ev.socket);
      if (b === null) server.tcp.close(ev.socket);
      else if (b.length > 0) {
        server.tcp.send(ev.socket, b);
        echoed++;
      }
    }
  };
  const ids: SocketId[] = [];
  const index = new Map<SocketId, number>();
  const got = new Map<SocketId, number>();
  const errors: string[] = [];
  client.onEvent = (ev) => {
    if (ev.type === "connected") {
      const i = index.get(ev.socket)!;
      client.tcp.send(ev.socket, new Uint8Array([i >>> 8, i & 0xff, 0xab]));
    } else if (ev.type === "readable") {
      const b = client.tcp.recv(ev.socket);
      if (b !== null && b.length === 3) {
        got.set(ev.socket, (b[0] << 8) | b[1]);
        client.tcp.close(ev.socket);
      }
    } else if (ev.type === "error") errors.push(ev.code);
  };
  for (let i = 0; i < N; i++) {
    const id = client.tcp.connect(client.I, null, server.addr, 80);
    assert.equal(typeof id, "number");
    ids.push(id as number);
    index.set(id as number, i);
  }
  assert.equal(client.tcp.connectionCount, N);
  net.run(net.now + 120_000);
  assert.deepEqual(errors, []);
  assert.equal(echoed, N);
  assert.equal(got.size, N);
  for (const id of ids) assert.equal(got.get(id), index.get(id));
  // Everything closed, TIME-WAIT expired: both tables are empty again.
  assert.equal(client.tcp.connectionCount, 0);
  assert.equal(server.tcp.connectionCount, 0);
  assert.equal(client.tcp.socketCount, 0);
  assert.equal(server.tcp.socketCount, 1);
});
