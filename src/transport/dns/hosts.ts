/**
 * A hosts table for the resolver: names mapped to addresses before any query is sent, in the
 * format of hosts(5) when given as text (an address, then its names; `#` starts a comment).
 * RFC 6761 6.3: `localhost` and names under it always mean the loopback addresses, whatever the
 * table says. Bounded: at most `maxEntries` names.
 */
import { formatV4, formatV6, parseV4, parseV6 } from "../../ip/addr.ts";

export interface HostsAddress {
  address: string;
  family: 4 | 6;
}

/** Names and their addresses; look-ups ignore ASCII case and a final dot. */
export class HostsTable {
  private readonly names = new Map<string, HostsAddress[]>();

  constructor(readonly maxEntries = 10_000) {}

  /** Number of names. */
  get size(): number {
    return this.names.size;
  }

  /**
   * Add `address` for `name` (kept in the order added). False when the address is not an IP
   * literal or the table is full.
   */
  add(name: string, address: string): boolean {
    const key = hostKey(name);
    const v4 = parseV4(address);
    const v6 = v4 === null ? parseV6(address.replace(/%.*$/, "")) : null;
    if (key === "" || (v4 === null && v6 === null)) return false;
    let list = this.names.get(key);
    if (list === undefined) {
      if (this.names.size >= this.maxEntries) return false;
      list = [];
      this.names.set(key, list);
    }
    const entry: HostsAddress =
      v4 !== null ? { address: formatV4(v4), family: 4 } : { address: formatV6(v6 as Uint8Array), family: 6 };
    if (!list.some((e) => e.address === entry.address)) list.push(entry);
    return true;
  }

  /** The addresses of `name`, or null when it is not in the table. */
  get(name: string): readonly HostsAddress[] | null {
    const key = hostKey(name);
    if (key === "localhost" || key.endsWith(".localhost")) {
      return [
        { address: "127.0.0.1", family: 4 },
        { address: "::1", family: 6 },
      ];
    }
    return this.names.get(key) ?? null;
  }

  /** A table from hosts(5) text. Lines that do not parse are skipped; adds stop at the bound. */
  static parse(text: string, maxEntries = 10_000): HostsTable {
    const t = new HostsTable(maxEntries);
    for (const raw of text.split("\n")) {
      const line = raw.replace(/#.*/, "").trim();
      if (line === "") continue;
      const [addr, ...names] = line.split(/\s+/);
      for (const n of names) t.add(n, addr);
    }
    return t;
  }
}

/** The table key of a name: lower case, without a final dot. */
export function hostKey(name: string): string {
  const n = name.endsWith(".") ? name.slice(0, -1) : name;
  return n.toLowerCase();
}
