/**
 * The impairments of the lossy-link relay (test/interop/relay.ts), drawn from a seeded generator so
 * a run can be repeated: loss, a delay with jitter, netem-style reordering (a reordered frame skips
 * the delay and so overtakes the frames held before it), duplication and corruption (one bit of the
 * frame after the Ethernet header flipped: the IP or TCP checksum then rejects it). Only IPv4 and
 * IPv6 frames are impaired; ARP and anything else passes at once, so neighbour resolution does not
 * add one-second retries to the figures.
 */
import { Rng } from "../../src/testing/rng.ts";

export interface Impairment {
  /** Probability that a frame is dropped. */
  loss?: number;
  /** Delay of every frame (ms). */
  delay?: number;
  /** The delay varies uniformly by +-jitter ms (never below 0). */
  jitter?: number;
  /** Probability that a frame skips the delay (sent at once, ahead of the delayed ones). */
  reorder?: number;
  /** Probability that a frame is sent twice (the copy drawn independently). */
  duplicate?: number;
  /** Probability that one bit of a frame is flipped. */
  corrupt?: number;
}

/** What happens to one frame. */
export interface Fate {
  /** Copies to send (0: dropped, 2: duplicated). */
  copies: number;
  /** Delay of each copy (ms). */
  delay: [number, number];
  /** Flip this bit of each copy (-1: none). */
  flip: [number, number];
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_HDR = 14;

export class Impairer {
  readonly rng: Rng;
  readonly o: Required<Impairment>;
  /** Frames seen, dropped, duplicated, corrupted, reordered, passed unimpaired. */
  readonly stats = { frames: 0, lost: 0, duplicated: 0, corrupted: 0, reordered: 0, passed: 0 };
  private readonly fate: Fate = { copies: 1, delay: [0, 0], flip: [-1, -1] };

  constructor(options: Impairment, seed: number) {
    this.rng = new Rng(seed);
    this.o = { loss: 0, delay: 0, jitter: 0, reorder: 0, duplicate: 0, corrupt: 0, ...options };
  }

  /** Decide the fate of `frame` (the returned object is reused by the next call). */
  decide(frame: Uint8Array): Fate {
    const f = this.fate;
    this.stats.frames++;
    const type = frame.length >= ETH_HDR ? (frame[12] << 8) | frame[13] : 0;
    if (type !== ETH_IPV4 && type !== ETH_IPV6) {
      this.stats.passed++;
      f.copies = 1;
      f.delay[0] = 0;
      f.flip[0] = -1;
      return f;
    }
    const o = this.o;
    if (o.loss > 0 && this.rng.chance(o.loss)) {
      this.stats.lost++;
      f.copies = 0;
      return f;
    }
    f.copies = o.duplicate > 0 && this.rng.chance(o.duplicate) ? 2 : 1;
    if (f.copies === 2) this.stats.duplicated++;
    for (let k = 0; k < f.copies; k++) {
      let d = o.delay;
      if (o.jitter > 0) d += (this.rng.float() * 2 - 1) * o.jitter;
      if (o.reorder > 0 && this.rng.chance(o.reorder)) {
        d = 0;
        this.stats.reordered++;
      }
      f.delay[k] = Math.max(0, d);
      f.flip[k] = -1;
      if (o.corrupt > 0 && this.rng.chance(o.corrupt) && frame.length > ETH_HDR) {
        f.flip[k] = ETH_HDR * 8 + this.rng.int((frame.length - ETH_HDR) * 8);
        this.stats.corrupted++;
      }
    }
    return f;
  }
}

/** Parse "loss=0.05,delay=20,jitter=10,reorder=0.25,duplicate=0.02,corrupt=0.01" (any subset). */
export function parseImpairment(text: string): Impairment {
  const out: Impairment = {};
  if (text.trim() === "" || text === "none") return out;
  for (const part of text.split(",")) {
    const [k, v] = part.split("=");
    const n = Number(v);
    if (!["loss", "delay", "jitter", "reorder", "duplicate", "corrupt"].includes(k) || !(n >= 0)) {
      throw new Error(`bad impairment '${part}' (loss|delay|jitter|reorder|duplicate|corrupt=number)`);
    }
    out[k as keyof Impairment] = n;
  }
  return out;
}
