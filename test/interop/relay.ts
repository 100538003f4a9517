/**
 * An impairing relay between two TAP devices (the kernel here has no sch_netem): every frame read
 * from one device is written to the other after the impairments of test/interop/impair.ts (loss,
 * delay and jitter, netem-style reordering, duplication, corruption), drawn from a seeded generator,
 * independently per direction.
 *
 *   node --import tsx test/interop/relay.ts --a rc0 --b rs0 --impair loss=0.05 [--seed 1]
 *
 * Creates (or opens) both devices in the current network namespace and prints `relay: ready` once
 * they are open; the caller may then move them to other namespaces (`ip link set rc0 netns X`: the
 * open file stays attached) and bring them up. On SIGTERM or SIGINT it prints one line of JSON with
 * the counters of each direction and exits 0.
 */
import { parseArgs } from "node:util";
import { TapLink } from "../../src/node/tap.ts";
import { Impairer, parseImpairment } from "./impair.ts";

interface Held {
  at: number;
  seq: number;
  to: TapLink;
  bytes: Uint8Array;
}

/** Frames waiting for their delay, by (due time, arrival order). */
class DelayQueue {
  private readonly h: Held[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Number.POSITIVE_INFINITY;

  add(at: number, to: TapLink, bytes: Uint8Array): void {
    const h = this.h;
    h.push({ at, seq: this.seq++, to, bytes });
    let i = h.length - 1;
    while (i > 0) {
      const j = (i - 1) >> 1;
      if (!before(h[i], h[j])) break;
      [h[i], h[j]] = [h[j], h[i]];
      i = j;
    }
    this.arm();
  }

  /** Send every frame that is due. */
  flush = (): void => {
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    const h = this.h;
    while (h.length > 0 && h[0].at <= now + 0.5) {
      const top = h[0];
      const last = h.pop() as Held;
      if (h.length > 0) {
        h[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= h.length) break;
          const r = l + 1;
          const c = r < h.length && before(h[r], h[l]) ? r : l;
          if (!before(h[c], h[i])) break;
          [h[i], h[c]] = [h[c], h[i]];
          i = c;
        }
      }
      top.to.send(top.bytes);
    }
    this.arm();
  };

  private arm(): void {
    const h = this.h;
    if (h.length === 0) return;
    const at = h[0].at;
    if (this.timer !== null && at >= this.timerAt) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.flush, Math.max(0, at - performance.now()));
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.h.length = 0;
  }
}

function before(a: Held, b: Held): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Forward frames from `from` to `to` through `imp`. */
function forward(from: TapLink, to: TapLink, imp: Impairer, queue: DelayQueue): void {
  from.onFrames((frames) => {
    const now = performance.now();
    for (const frame of frames) {
      const fate = imp.decide(frame);
      for (let k = 0; k < fate.copies; k++) {
        let bytes = frame;
        if (fate.flip[k] >= 0 || fate.copies === 2) bytes = frame.slice();
        if (fate.flip[k] >= 0) bytes[fate.flip[k] >>> 3] ^= 1 << (fate.flip[k] & 7);
        if (fate.delay[k] <= 0) to.send(bytes);
        else queue.add(now + fate.delay[k], to, bytes);
      }
    }
  });
}

const { values } = parseArgs({
  options: {
    a: { type: "string" },
    b: { type: "string" },
    impair: { type: "string", default: "" },
    seed: { type: "string", default: "1" },
  },
});
if (values.a === undefined || values.b === undefined) {
  console.error("usage: relay.ts --a DEV --b DEV [--impair loss=...,delay=...] [--seed N]");
  process.exit(2);
}
const impairment = parseImpairment(values.impair ?? "");
const seed = Number(values.seed);
const a = TapLink.open(values.a, { batch: 256 });
const b = TapLink.open(values.b, { batch: 256 });
const ab = new Impairer(impairment, seed);
const ba = new Impairer(impairment, seed + 0x9e3779b9);
const queue = new DelayQueue();
forward(a, b, ab, queue);
forward(b, a, ba, queue);
process.stdout.write(`relay: ready ${a.name} <-> ${b.name} ${JSON.stringify(impairment)}\n`);
const stop = (): void => {
  queue.close();
  process.stdout.write(`${JSON.stringify({ ab: ab.stats, ba: ba.stats, links: [a.stats, b.stats] })}\n`);
  void a.close();
  void b.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
