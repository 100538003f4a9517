/** Small helpers the targets share. */
import type { PacketBuilder } from "../../src/packet/serialize.ts";
import { BytesBody, TooBig } from "../../src/packet/serialize.ts";
import type { Rng } from "../../src/testing/rng.ts";

/** Serialize `body` inside one layer; a `TooBig` (a builder refusing a repr it made) is thrown. */
export function serializeLayer(body: Uint8Array, builder: PacketBuilder): Uint8Array {
  const r = new BytesBody(body.slice()).wrapIn(builder).serialize();
  if (r instanceof TooBig) throw new Error(`builder refused a body of ${r.bodyLen} bytes (max ${r.maxBodyLen})`);
  return r.body().slice();
}

/** Random bytes. */
export function randomBytes(rng: Rng, n: number): Uint8Array {
  return rng.fill(new Uint8Array(n));
}

/** A random element. */
export function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

/** A length byte for an option of `want` bytes: usually right, sometimes a lie. */
export function optionLength(rng: Rng, want: number, room: number): number {
  const r = rng.int(10);
  if (r < 7) return want;
  if (r === 7) return rng.int(3);
  if (r === 8) return room + 1 + rng.int(4);
  return rng.int(256);
}

/** Big-endian 16-bit write. */
export function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}
