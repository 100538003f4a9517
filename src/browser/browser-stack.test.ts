// BrowserStack under Node (which has the same globals a tab has: performance, setTimeout, crypto,
// MessageChannel, WHATWG streams, Response): the scenarios the Chromium test runs in a tab, and the
// API's errors, backpressure and bounds, checked as a user would.
import assert from "node:assert/strict";
import { test } from "node:test";
import { echoScenario, fetchScenario, udpScenario } from "../../test/browser/scenarios.ts";
import * as ns from "./index.ts";

function pair() {
  const [la, lb] = ns.inPageLinkPair();
  const a = new ns.BrowserStack({ dad: false });
  const b = new ns.BrowserStack({ dad: false });
  a.addLink(la, { addresses: ["10.9.0.1/24", "fd09::1/64"] });
  b.addLink(lb, { addresses: ["10.9.0.2/24", "fd09::2/64"] });
  return { a, b, close: async () => Promise.all([a.close(), b.close()]) };
}

test("BrowserStack: 1 MB TCP echo over an in-page link arrives intact, IPv4 and IPv6", {
  timeout: 30_000,
}, async () => {
  for (const host of ["10.9.0.2", "fd09::2"]) {
    const r = await echoScenario(ns, 1_000_000, host);
    assert.equal(r.received, 1_000_000);
    assert.equal(r.receivedHash, r.sentHash);
  }
});

test("BrowserStack: fetch against a server written with stack.listen", { timeout: 30_000 }, async () => {
  const r = await fetchScenario(ns);
  assert.equal(r.bytesLength, 300000);
  assert.equal(r.bytesBad, 0);
  assert.equal(r.chunkedLength, 25500);
  assert.equal(r.redirectUrl, "http://10.9.0.2/echo");
  assert.equal(r.streamBody, "PUT streamed request body");
  assert.equal(r.serverConnections, 1);
  assert.equal(r.refused, "ECONNREFUSED");
  assert.equal(r.aborted, "AbortError");
});

test("BrowserStack: UDP echo, IPv4 and IPv6", { timeout: 30_000 }, async () => {
  const r = await udpScenario(ns);
  assert.equal(r.received, 4);
  assert.equal(r.payloads[3], "datagram 0 from fd09::2:7");
});

test("connect: errors carry Node-style codes", { timeout: 30_000 }, async () => {
  const { a, b, close } = pair();
  b.listen(80, () => {});
  assert.throws(() => b.listen(80, () => {}), { code: "EADDRINUSE" });
  assert.throws(() => b.listen({ port: 81, host: "10.9.0.99" }, () => {}), { code: "EADDRNOTAVAIL" });
  await assert.rejects(a.connect({ host: "10.9.0.2", port: 81 }).opened, { code: "ECONNREFUSED" });
  await assert.rejects(a.connect({ host: "no.such.name", port: 80 }).opened, { code: "ENOTFOUND" });
  await assert.rejects(a.connect({ host: "10.9.0.2", port: 0 }).opened, { code: "EINVAL" });
  await assert.rejects(a.connect({ host: "192.0.2.1", port: 80 }).opened, { code: "ENETUNREACH" });
  const ac = new AbortController();
  const s = a.connect({ host: "10.9.0.2", port: 80, signal: ac.signal });
  ac.abort();
  await assert.rejects(s.opened, { name: "AbortError" });
  // "host:port" strings; the endpoints once open.
  const ok = a.connect("10.9.0.2:80");
  const info = await ok.opened;
  assert.equal(info.remoteAddress, "10.9.0.2");
  assert.equal(info.remotePort, 80);
  assert.equal(info.localAddress, "10.9.0.1");
  await ok.close();
  await close();
});

test("connect: a reader that stops reading closes the TCP window; the writer waits", { timeout: 30_000 }, async () => {
  const { a, b, close } = pair();
  let server: ns.TcpSocket | null = null;
  b.listen(7, (c) => {
    server = c;
  });
  const s = a.connect({ host: "10.9.0.2", port: 7 });
  await s.opened;
  const w = s.writable.getWriter();
  let written = 0;
  const chunk = new Uint8Array(16384);
  const writing = (async () => {
    for (let i = 0; i < 256; i++) {
      await w.write(chunk);
      written += chunk.length;
    }
    await w.close();
  })();
  await new Promise((r) => setTimeout(r, 300));
  // Nobody reads on B: its receive window is zero, A's send buffer is full, the writer waits.
  const srv = server as unknown as ns.TcpSocket;
  const info = srv.tcpInfo();
  assert.ok(info !== null && info.rcvWnd < info.smss, `B's window ${info?.rcvWnd}: less than one segment`);
  assert.ok(info.recvBuffered >= 128 * 1024, `B's receive buffer holds ${info.recvBuffered}`);
  assert.ok(written < 4 * 1024 * 1024, `wrote ${written} of 4 MiB with nobody reading`);
  assert.ok(written >= 256 * 1024, `wrote ${written}: at least the buffers' worth went`);
  // Reading resumes the transfer to the end.
  let got = 0;
  const reader = srv.readable.getReader();
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    got += r.value.length;
  }
  await writing;
  assert.equal(got, 256 * chunk.length);
  await close();
});

test("connect: writable.close() half-closes; the peer still answers; close() releases", {
  timeout: 30_000,
}, async () => {
  const { a, b, close } = pair();
  b.listen(7, async (c) => {
    const text = await new Response(c.readable).text();
    const w = c.writable.getWriter();
    await w.write(new TextEncoder().encode(`got ${text.length} bytes`));
    await w.close();
  });
  const s = a.connect({ host: "10.9.0.2", port: 7 });
  const w = s.writable.getWriter();
  await w.write(new TextEncoder().encode("hello"));
  await w.close();
  assert.equal(await new Response(s.readable).text(), "got 5 bytes");
  await s.closed;
  assert.equal(s.socketId, null);
  await close();
});

test("openDatagram: a reader that does not read leaves datagrams in the bounded core queue", {
  timeout: 30_000,
}, async () => {
  const { a, b, close } = pair();
  const rx = b.openDatagram({ port: 5000, readableHighWaterMark: 4 });
  const tx = a.openDatagram({});
  // Resolve the neighbour first (its queue of packets awaiting ARP is bounded too).
  await tx.send(Uint8Array.of(0), "10.9.0.2", 5001);
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 400; i++) await tx.send(Uint8Array.of(i & 0xff), "10.9.0.2", 5000);
  await new Promise((r) => setTimeout(r, 100));
  // The core keeps 256 (UdpLimits.recvQueueDatagrams), the stream 4 more: the rest were dropped and counted.
  const dropped = b.stack.counters.snapshot()["udp.rx.queue-full"];
  assert.ok(dropped !== undefined && dropped >= 400 - 256 - 8, `dropped ${dropped}`);
  const reader = rx.readable.getReader();
  const first = await reader.read();
  assert.equal(first.value?.data[0], 0);
  assert.equal(first.value?.remoteAddress, "10.9.0.1");
  assert.equal(first.value?.remotePort, tx.localPort);
  await assert.rejects(tx.send(new Uint8Array(70000), "10.9.0.2", 5000), { code: "EMSGSIZE" });
  await assert.rejects(tx.send(new Uint8Array(1), "not an address", 5000), { code: "EINVAL" });
  assert.throws(() => b.openDatagram({ port: 5000, address: "10.9.0.2" }), { code: "EADDRINUSE" });
  await close();
});

test("ready() resolves once IPv6 duplicate address detection is done", { timeout: 30_000 }, async () => {
  const [la] = ns.inPageLinkPair();
  const s = new ns.BrowserStack();
  const dev = s.addLink(la, { addresses: ["fd0a::1/64"] });
  const t0 = performance.now();
  await s.ready();
  // RFC 4862: one probe, RetransTimer (1 s) later the address is assigned.
  assert.ok(performance.now() - t0 >= 900, "waited for DAD");
  assert.deepEqual(
    s.stack.addresses(dev).filter((x) => x.startsWith("fd0a")),
    ["fd0a::1/64"],
  );
  await s.close();
});

test("connect: after readable.cancel() incoming data is dropped, so the peer is not stalled", {
  timeout: 30_000,
}, async () => {
  const { a, b, close } = pair();
  let serverWrote = 0;
  const done = new Promise<void>((resolve) => {
    b.listen(7, async (c) => {
      const w = c.writable.getWriter();
      const chunk = new Uint8Array(65536);
      for (let i = 0; i < 32; i++) {
        await w.write(chunk);
        serverWrote += chunk.length;
      }
      await w.close();
      resolve();
    });
  });
  const s = a.connect({ host: "10.9.0.2", port: 7 });
  await s.opened;
  await s.readable.cancel();
  // 2 MiB: far more than TCP's buffers and window hold, so the writer only finishes if A keeps reading.
  await done;
  assert.equal(serverWrote, 2 * 1024 * 1024);
  // A's writing direction still works after its reading side was cancelled.
  const w = s.writable.getWriter();
  await w.write(Uint8Array.of(1, 2, 3));
  await w.close();
  await s.closed;
  await close();
});
