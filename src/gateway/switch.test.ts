import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { LearningSwitch, type SwitchOptions, type SwitchPort } from "./switch.ts";

/** A fake clock the switch reads. */
class Clock {
  t = 0;
  now = (): number => this.t;
}

/** A port that records the frames the switch sends it (copies, as a real link would). */
interface FakePort {
  port: SwitchPort;
  got: Uint8Array[];
}

function mac(n: number): Uint8Array {
  return Uint8Array.of(0x02, 0, 0, 0, 0, n);
}

const BROADCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
const MULTICAST = Uint8Array.of(0x33, 0x33, 0, 0, 0, 1);

/** An Ethernet frame dst, src, EtherType 0x88b5 (local experimental), then a tag byte. */
function frame(dst: Uint8Array, src: Uint8Array, tag: number, extra = 0): Uint8Array {
  const f = new Uint8Array(15 + extra);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  f[14] = tag;
  return f;
}

function setup(n: number, opts: Partial<SwitchOptions> = {}) {
  const clock = new Clock();
  const sw = new LearningSwitch({ now: clock.now, ...opts });
  const ports: FakePort[] = [];
  for (let i = 0; i < n; i++) {
    const got: Uint8Array[] = [];
    const port = sw.addPort(`p${i}`, (b, o, l) => got.push(b.slice(o, o + l)));
    ports.push({ port, got });
  }
  /** Tags each port received since the last call, and clear them. */
  const take = () =>
    ports.map((p) => {
      const tags = p.got.map((f) => f[14]);
      p.got.length = 0;
      return tags;
    });
  return { sw, clock, ports, take };
}

describe("LearningSwitch", () => {
  test("floods unknown unicast to every other port, then forwards to the learned port only", () => {
    const { sw, ports, take } = setup(4);
    const [a, b] = ports;
    a.port.input(frame(mac(2), mac(1), 1));
    assert.deepEqual(take(), [[], [1], [1], [1]]);
    // mac(1) is now known on port 0: the reply goes there alone.
    b.port.input(frame(mac(1), mac(2), 2));
    assert.deepEqual(take(), [[2], [], [], []]);
    // And mac(2) was learned from that reply.
    a.port.input(frame(mac(2), mac(1), 3));
    assert.deepEqual(take(), [[], [3], [], []]);
    assert.equal(sw.counters.get("switch.flood.unknown"), 1);
    assert.equal(sw.counters.get("switch.forwarded"), 2);
    assert.deepEqual(
      sw
        .macTable()
        .map((e) => [e.mac, e.portName])
        .sort(),
      [
        ["02:00:00:00:00:01", "p0"],
        ["02:00:00:00:00:02", "p1"],
      ],
    );
  });

  test("floods broadcast and multicast even to known stations, never back to the sender", () => {
    const { sw, ports, take } = setup(3);
    ports[1].port.input(frame(mac(1), mac(2), 0)); // learn mac(2) on port 1
    take();
    ports[0].port.input(frame(BROADCAST, mac(1), 1));
    ports[0].port.input(frame(MULTICAST, mac(1), 2));
    assert.deepEqual(take(), [[], [1, 2], [1, 2]]);
    assert.equal(sw.counters.get("switch.flood.group"), 2);
    assert.equal(ports[0].port.stats.flooded, 2);
  });

  test("a frame whose destination is on its own port is filtered", () => {
    const { sw, ports, take } = setup(3);
    ports[0].port.input(frame(BROADCAST, mac(1), 0));
    take();
    ports[0].port.input(frame(mac(1), mac(5), 1));
    assert.deepEqual(take(), [[], [], []]);
    assert.equal(sw.counters.get("switch.filtered"), 1);
  });

  test("a station that appears on another port moves there", () => {
    const { sw, ports, take } = setup(3);
    ports[0].port.input(frame(BROADCAST, mac(1), 0));
    ports[1].port.input(frame(BROADCAST, mac(1), 0));
    take();
    ports[2].port.input(frame(mac(1), mac(3), 1));
    assert.deepEqual(take(), [[], [1], []]);
    assert.equal(sw.counters.get("switch.mac.moved"), 1);
    assert.equal(ports[0].port.macs, 0);
    assert.equal(ports[1].port.macs, 1);
  });

  test("entries age out after agingMs of silence (the injected clock)", () => {
    const { sw, clock, ports, take } = setup(3, { agingMs: 1000 });
    ports[0].port.input(frame(BROADCAST, mac(1), 0));
    take();
    clock.t = 1000;
    ports[1].port.input(frame(mac(1), mac(2), 1));
    assert.deepEqual(take(), [[1], [], []], "still known at exactly agingMs");
    clock.t = 2001;
    ports[1].port.input(frame(mac(1), mac(2), 2));
    assert.deepEqual(take(), [[2], [], [2]], "forgotten: flooded");
    assert.equal(sw.counters.get("switch.mac.aged"), 1);
    // Hearing from a station refreshes it.
    clock.t = 2500;
    ports[0].port.input(frame(mac(2), mac(1), 3));
    clock.t = 3400;
    ports[1].port.input(frame(mac(1), mac(2), 4));
    assert.deepEqual(take(), [[4], [3], []]);
  });

  test("the MAC table is bounded: a station beyond it is not learned (counted) and still reached by flooding", () => {
    const { sw, clock, ports, take } = setup(3, { macTableSize: 3, agingMs: 10_000 });
    for (let i = 1; i <= 3; i++) ports[0].port.input(frame(BROADCAST, mac(i), 0));
    ports[1].port.input(frame(BROADCAST, mac(9), 0));
    take();
    assert.equal(sw.usage().macEntries, 3);
    assert.equal(sw.counters.get("switch.mac.table-full"), 1);
    assert.equal(ports[1].port.stats.learnRefused, 1);
    ports[0].port.input(frame(mac(9), mac(1), 1));
    assert.deepEqual(take(), [[], [1], [1]]);
    // Once the old entries expire, the sweep makes room.
    clock.t = 20_000;
    ports[1].port.input(frame(BROADCAST, mac(9), 0));
    take();
    ports[0].port.input(frame(mac(9), mac(1), 2));
    assert.deepEqual(take(), [[], [2], []]);
    assert.equal(sw.counters.get("switch.mac.aged"), 3);
    assert.ok(sw.usage().macEntries <= 3);
  });

  test("one port cannot take the whole table (macsPerPort)", () => {
    const { sw, ports } = setup(2, { macsPerPort: 2 });
    for (let i = 1; i <= 5; i++) ports[0].port.input(frame(BROADCAST, mac(i), 0));
    ports[1].port.input(frame(BROADCAST, mac(7), 0));
    assert.equal(ports[0].port.macs, 2);
    assert.equal(ports[0].port.stats.learnRefused, 3);
    assert.equal(sw.counters.get("switch.mac.port-limit"), 3);
    assert.equal(ports[1].port.macs, 1);
  });

  test("a station moving to a port at its bound is forgotten, not left on its old port", () => {
    const { sw, ports, take } = setup(3, { macsPerPort: 1 });
    ports[0].port.input(frame(BROADCAST, mac(1), 0));
    ports[1].port.input(frame(BROADCAST, mac(2), 0));
    ports[1].port.input(frame(BROADCAST, mac(1), 0));
    take();
    ports[2].port.input(frame(mac(1), mac(3), 1));
    assert.deepEqual(take(), [[1], [1], []], "flooded: the table no longer claims port 0");
    assert.deepEqual([ports[0].port.macs, ports[1].port.macs, ports[2].port.macs], [0, 1, 1]);
    assert.equal(sw.usage().macEntries, 2);
  });

  test("a removed port gets nothing more and its stations are forgotten", () => {
    const { sw, ports, take } = setup(3);
    ports[2].port.input(frame(BROADCAST, mac(3), 0));
    take();
    ports[2].port.remove();
    ports[2].port.remove(); // idempotent
    assert.equal(sw.ports.length, 2);
    ports[0].port.input(frame(mac(3), mac(1), 1));
    assert.deepEqual(take(), [[], [1], []], "mac(3) unknown again: flooded to the remaining ports");
    ports[2].port.input(frame(BROADCAST, mac(3), 2));
    assert.deepEqual(take(), [[], [], []]);
    assert.equal(sw.counters.get("switch.rx.port-removed"), 1);
    assert.deepEqual(
      sw.macTable().map((e) => e.mac),
      ["02:00:00:00:00:01"],
    );
  });

  test("runts and frames with a group or zero source are dropped and counted", () => {
    const { sw, ports, take } = setup(2);
    ports[0].port.input(new Uint8Array(13));
    ports[0].port.input(frame(BROADCAST, BROADCAST, 1));
    ports[0].port.input(frame(BROADCAST, new Uint8Array(6), 2));
    assert.deepEqual(take(), [[], []]);
    assert.equal(sw.counters.get("switch.rx.runt"), 1);
    assert.equal(sw.counters.get("switch.rx.bad-source"), 2);
    assert.equal(ports[0].port.stats.rxDropped, 3);
    assert.equal(ports[0].port.stats.rxFrames, 0);
    assert.equal(sw.usage().macEntries, 0);
  });

  test("per-port counters count frames and bytes both ways; a sub-range of a buffer is forwarded exactly", () => {
    const { ports } = setup(2);
    const buf = new Uint8Array(100);
    buf.set(frame(mac(2), mac(1), 7, 20), 10);
    ports[0].port.input(buf, 10, 35);
    assert.deepEqual(ports[1].got, [buf.slice(10, 45)]);
    assert.deepEqual(ports[0].port.stats, {
      rxFrames: 1,
      rxBytes: 35,
      rxDropped: 0,
      txFrames: 0,
      txBytes: 0,
      flooded: 1,
      learnRefused: 0,
    });
    assert.equal(ports[1].port.stats.txFrames, 1);
    assert.equal(ports[1].port.stats.txBytes, 35);
  });

  test("maxPorts bounds the ports: addPort throws EMFILE", () => {
    const { sw } = setup(2, { maxPorts: 2 });
    assert.throws(
      () => sw.addPort("p2", () => {}),
      (e: Error & { code?: string }) => e.code === "EMFILE",
    );
    assert.equal(sw.counters.get("switch.port.refused"), 1);
  });

  test("a port removed while a flood is under way does not break it", () => {
    const clock = new Clock();
    const sw = new LearningSwitch({ now: clock.now });
    const got: string[] = [];
    const p1 = sw.addPort("a", () => {});
    let p3: SwitchPort | null = null;
    sw.addPort("b", () => {
      got.push("b");
      p3?.remove();
    });
    p3 = sw.addPort("c", () => got.push("c"));
    sw.addPort("d", () => got.push("d"));
    p1.input(frame(BROADCAST, mac(1), 0));
    assert.deepEqual(got, ["b", "d"]);
  });

  test("random frames from random ports: never back to the sender, bounds hold, nothing throws", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(4), fc.uint8Array({ minLength: 0, maxLength: 40 }), fc.nat(5000)), {
          maxLength: 200,
        }),
        (events) => {
          const clock = new Clock();
          const sw = new LearningSwitch({ now: clock.now, macTableSize: 8, macsPerPort: 4, agingMs: 2000 });
          let last = -1;
          let back = false;
          const ports: SwitchPort[] = [];
          for (let i = 0; i < 5; i++) {
            ports.push(
              sw.addPort(`p${i}`, () => {
                if (last === i) back = true;
              }),
            );
          }
          for (const [p, bytes, dt] of events) {
            clock.t += dt;
            last = p;
            ports[p].input(bytes);
          }
          const held = ports.reduce((n, p) => n + p.macs, 0);
          return (
            !back &&
            sw.usage().macEntries <= 8 &&
            held === sw.usage().macEntries &&
            ports.every((p) => p.macs <= 4 && p.macs >= 0)
          );
        },
      ),
    );
  });
});
