/**
 * Named counters for everything the stack drops or answers (issue 3: "counters for everything
 * dropped or answered, per reason").
 *
 * Names are declared once, at module load, the way parse errors are:
 *
 *     const RX_BAD_CHECKSUM = counter("ipv4.rx.bad-checksum");
 *     ...
 *     ctx.counters.inc(RX_BAD_CHECKSUM);   // hot path: one typed-array increment
 *
 * `counter(name)` returns a slot number in a registry shared by every Stack; each Stack's `Counters`
 * holds one `Float64Array` of values indexed by slot, so the hot path does no string work and no
 * lookup. `snapshot()` turns the values into a plain `{ name: value }` object.
 */

/** A counter's slot in every `Counters` (a small integer). */
export type CounterId = number & { readonly __counter: true };

const names: string[] = [];
const slots = new Map<string, CounterId>();

/** Declare (or look up) the counter called `name`. Call at module load, not per packet. */
export function counter(name: string): CounterId {
  let id = slots.get(name);
  if (id === undefined) {
    id = names.length as CounterId;
    names.push(name);
    slots.set(name, id);
  }
  return id;
}

/** Every declared counter name, in slot order. */
export function counterNames(): readonly string[] {
  return names;
}

/** One Stack's counter values. */
export class Counters {
  /** Values by slot. Read directly when a number is needed on a hot path. */
  values: Float64Array;

  constructor() {
    this.values = new Float64Array(Math.max(16, names.length));
  }

  /** Add `n` (default 1) to counter `id`. */
  inc(id: CounterId, n = 1): void {
    if (id >= this.values.length) this.grow();
    this.values[id] += n;
  }

  /** The value of a counter, by id or by name (0 for a name never declared). */
  get(id: CounterId | string): number {
    const slot = typeof id === "string" ? slots.get(id) : id;
    if (slot === undefined || slot >= this.values.length) return 0;
    return this.values[slot];
  }

  /** Set every counter to zero. */
  reset(): void {
    this.values.fill(0);
  }

  /**
   * The counters as a plain object sorted by name. Only non-zero ones unless `all` is set; only
   * names starting with `prefix` when one is given (e.g. "ipv4.").
   */
  snapshot(options: { all?: boolean; prefix?: string } = {}): Record<string, number> {
    const { all = false, prefix = "" } = options;
    const out: Record<string, number> = {};
    const order = names.map((_, i) => i).sort((a, b) => (names[a] < names[b] ? -1 : names[a] > names[b] ? 1 : 0));
    for (const i of order) {
      const v = i < this.values.length ? this.values[i] : 0;
      if ((all || v !== 0) && names[i].startsWith(prefix)) out[names[i]] = v;
    }
    return out;
  }

  /** Make room for counters declared after this object was created. */
  private grow(): void {
    const next = new Float64Array(Math.max(names.length, this.values.length * 2));
    next.set(this.values);
    this.values = next;
  }
}
