// NodeStack over links that lend their frames (`Link.lendFrames`): the stack turns lending on and
// marks the frames `borrowed`, so the core copies what it keeps past the batch callback. The
// lending link here reuses one buffer for every batch and overwrites it with 0xEE after the
// callback, as a TAP link reusing its pools would.
import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import type { RemoteInfo } from "./dgram.ts";
import { type FramesCallback, type Link, memoryLinkPair } from "./link.ts";
import { NodeStack } from "./node-stack.ts";

/** Wraps a link; with lending on, frames are delivered in one reused, poisoned-after-use buffer. */
class LendingLink implements Link {
  lending = false;
  lentFrames = 0;
  private store = new Uint8Array(64 * 1024);

  constructor(readonly inner: Link) {}

  get name(): string {
    return this.inner.name;
  }
  get maxFrameLen(): number {
    return this.inner.maxFrameLen;
  }
  get stats() {
    return this.inner.stats;
  }
  get closed(): boolean {
    return this.inner.closed;
  }
  send(frame: Uint8Array): void;
  send(bytes: Uint8Array, off: number, len: number): void;
  send(bytes: Uint8Array, off?: number, len?: number): void {
    this.inner.send(bytes, off ?? 0, len ?? bytes.length - (off ?? 0));
  }
  lendFrames(on: boolean): void {
    this.lending = on;
  }
  onFrames(callback: FramesCallback | null): void {
    if (callback === null) {
      this.inner.onFrames(null);
      return;
    }
    this.inner.onFrames((frames) => {
      if (!this.lending) {
        callback(frames);
        return;
      }
      let need = 0;
      for (const f of frames) need += f.length;
      if (this.store.length < need) this.store = new Uint8Array(need);
      const lent: Uint8Array[] = [];
      let o = 0;
      for (const f of frames) {
        const v = this.store.subarray(o, o + f.length);
        v.set(f);
        lent.push(v);
        o += f.length;
      }
      this.lentFrames += lent.length;
      try {
        callback(lent);
      } finally {
        this.store.fill(0xee, 0, o);
      }
    });
  }
  pause(): void {
    this.inner.pause();
  }
  resume(): void {
    this.inner.resume();
  }
  onClose(callback: (error: Error | null) => void): void {
    this.inner.onClose(callback);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

test("NodeStack lends frames from links that can: forwarding to an unresolved next hop and UDP stay intact", async () => {
  // a -- r -- b, r forwarding; both of r's links lend. a's echo request waits in r for ARP
  // resolution of b: written into the lent frame, it must have been copied (`borrowed` + `own`).
  const [a1, r1] = memoryLinkPair({ names: ["a", "r1"] });
  const [r2, b2] = memoryLinkPair({ names: ["r2", "b"] });
  const l1 = new LendingLink(r1);
  const l2 = new LendingLink(r2);
  const a = new NodeStack({ dad: false });
  const r = new NodeStack({ dad: false, forwarding: true });
  const b = new NodeStack({ dad: false });
  try {
    a.addLink(a1, { addresses: ["10.0.1.2/24"] });
    r.addLink(l1, { addresses: ["10.0.1.1/24"] });
    r.addLink(l2, { addresses: ["10.0.2.1/24"] });
    b.addLink(b2, { addresses: ["10.0.2.2/24"] });
    assert.ok(l1.lending && l2.lending, "addLink turned lending on");
    a.gateway("10.0.1.1");
    b.gateway("10.0.2.1");
    const p = await a.ping("10.0.2.2", { count: 2, interval: 20, timeout: 2000, size: 200 });
    assert.equal(p.received, 2, JSON.stringify(p));
    assert.ok(r.core.counters.get("neighbor.queued") >= 1, "the forwarded request waited for ARP");
    assert.ok(l1.lentFrames > 0 && l2.lentFrames > 0);

    // UDP to r itself: the datagram is read after the batch callback returned.
    const srv = r.dgram.createSocket("udp4");
    srv.bind(5353);
    await once(srv, "listening");
    const got = once(srv, "message") as Promise<[Buffer, RemoteInfo]>;
    const payload = Buffer.alloc(1000, 0x5a);
    a.dgram.createSocket("udp4").send(payload, 5353, "10.0.1.1");
    const [msg, rinfo] = await got;
    assert.equal(rinfo.address, "10.0.1.2");
    assert.ok(msg.equals(payload), "the datagram is intact");
    srv.close();
  } finally {
    await Promise.all([a.close(), r.close(), b.close()]);
  }
});
