/**
 * The routing table: longest-prefix match over on-link and gateway routes, for either IP version.
 * RFC 1812 section 5.2.4.3 (next-hop selection: longest match first, then the route metric),
 * RFC 1122 section 3.3.1 (hosts: on-link destinations and gateways), RFC 4861 section 5.2 (IPv6
 * next-hop determination).
 *
 * Routes live in a path-compressed binary trie (a PATRICIA trie): each node is a prefix, and a node
 * exists only where a route is or where two prefixes part ways, so a lookup visits a handful of nodes
 * even for /128 routes. A lookup goes down from the root while the node's prefix matches the
 * destination, keeping the deepest node holding a usable route: no hashing, no allocation; it returns
 * the stored `Route` object itself. Routes on one node are kept sorted by metric (lower is better);
 * equal metrics keep insertion order.
 */

import type { IpVersion, Subnet } from "./version.ts";

/** One route: packets for `subnet` leave through `device`, to `gateway` or, when null, on-link. */
export interface Route<A, D> {
  readonly subnet: Subnet<A>;
  readonly device: D;
  /** The next-hop router; null for an on-link route (the destination is the next hop). */
  readonly gateway: A | null;
  /** Lower is preferred among routes with the same prefix length. */
  readonly metric: number;
}

/** What `add` takes: `gateway` and `metric` are optional. */
export interface RouteSpec<A, D> {
  subnet: Subnet<A>;
  device: D;
  gateway?: A | null;
  metric?: number;
}

/** Why `add` refused a route. */
export type RouteError =
  /** The same subnet, device and gateway is already present (whatever its metric). */
  | "exists"
  /** The gateway is unspecified, multicast, or (IPv4) the limited broadcast address. */
  | "bad-gateway"
  /** The subnet is of the other IP version. */
  | "wrong-version"
  /** The metric is not a non-negative integer. */
  | "bad-metric";

/** The default metric of a route added without one. */
export const DEFAULT_METRIC = 100;

class Node<A, D> {
  zero: Node<A, D> | null = null;
  one: Node<A, D> | null = null;
  /** Routes for exactly this prefix, best first; null when none (a branching node). */
  routes: Route<A, D>[] | null = null;
  /** IPv4 only: `addr` and the netmask of `len` as int32 (unboxed), for the inlined prefix test. */
  readonly key4: number;
  readonly mask4: number;

  constructor(
    /** The node's prefix (host bits zero) and its length. */
    readonly addr: A,
    readonly len: number,
    v4: boolean,
  ) {
    this.key4 = v4 ? (addr as unknown as number) | 0 : 0;
    this.mask4 = v4 && len > 0 ? 0xffffffff << (32 - len) : 0;
  }
}

/**
 * A routing table for one IP version. `D` is the device identifier type, compared with `===`.
 */
export class RoutingTable<A, D = number> {
  private readonly root: Node<A, D>;
  private readonly all: Route<A, D>[] = [];
  private readonly v4: boolean;

  constructor(readonly ip: IpVersion<A>) {
    this.v4 = ip.version === 4;
    this.root = new Node<A, D>(ip.unspecified, 0, this.v4);
  }

  /** Number of routes. */
  get size(): number {
    return this.all.length;
  }

  /** Add a route; returns the stored route or why it was refused. */
  add(spec: RouteSpec<A, D>): Route<A, D> | RouteError {
    const I = this.ip;
    if (spec.subnet.ip !== I) return "wrong-version";
    const metric = spec.metric ?? DEFAULT_METRIC;
    if (!Number.isInteger(metric) || metric < 0) return "bad-metric";
    let gateway: A | null = null;
    if (spec.gateway !== undefined && spec.gateway !== null) {
      const g = spec.gateway;
      // RFC 1812 5.2.4.3 / RFC 4861 8: a next hop is a unicast address of a neighbour.
      if (I.isUnspecified(g) || I.isMulticast(g) || (this.v4 && (g as unknown as number) === 0xffffffff)) {
        return "bad-gateway";
      }
      gateway = I.copy(g);
    }
    const node = this.insertNode(spec.subnet);
    const list = node.routes ?? [];
    for (const r of list) {
      if (r.device === spec.device && sameGateway(I, r.gateway, gateway)) return "exists";
    }
    const route: Route<A, D> = Object.freeze({ subnet: spec.subnet, device: spec.device, gateway, metric });
    // Keep the list sorted by metric; a new route goes after those with an equal metric.
    let i = list.length;
    while (i > 0 && list[i - 1].metric > metric) i--;
    list.splice(i, 0, route);
    node.routes = list;
    this.all.push(route);
    return route;
  }

  /**
   * Remove routes for exactly `subnet`, optionally only those through `device` and/or `gateway`
   * (`null` selects on-link routes). Returns how many were removed.
   */
  remove(subnet: Subnet<A>, device?: D, gateway?: A | null): number {
    if (subnet.ip !== this.ip) return 0;
    return this.removeWhere(
      (r) =>
        r.subnet.equals(subnet) &&
        (device === undefined || r.device === device) &&
        (gateway === undefined || sameGateway(this.ip, r.gateway, gateway)),
    );
  }

  /** Remove every route through `device` (the device went away). Returns how many were removed. */
  removeDevice(device: D): number {
    return this.removeWhere((r) => r.device === device);
  }

  /** Remove the routes `pred` selects. Returns how many were removed. */
  removeWhere(pred: (r: Route<A, D>) => boolean): number {
    const doomed = this.all.filter(pred);
    for (const r of doomed) this.removeOne(r);
    return doomed.length;
  }

  /** Every route: longest prefix first, then by metric, then in insertion order. A new array. */
  list(): Route<A, D>[] {
    const out = this.all.slice();
    // Array.prototype.sort is stable, so insertion order breaks the remaining ties.
    out.sort((a, b) => b.subnet.prefixLen - a.subnet.prefixLen || a.metric - b.metric);
    return out;
  }

  /**
   * The best route to `dst`: the longest matching prefix, then the lowest metric, then the earliest
   * added. Null when nothing matches (no default route). Allocates nothing.
   */
  lookup(dst: A): Route<A, D> | null {
    let node: Node<A, D> | null = this.root;
    let best: Route<A, D> | null = null;
    if (this.v4) {
      const a = (dst as unknown as number) | 0;
      while (node !== null) {
        if (((a ^ node.key4) & node.mask4) !== 0) break;
        if (node.routes !== null) best = node.routes[0];
        if (node.len === 32) break;
        node = (a >>> (31 - node.len)) & 1 ? node.one : node.zero;
      }
    } else {
      const I = this.ip;
      const b = dst as unknown as Uint8Array;
      while (node !== null) {
        if (!I.prefixMatch(node.addr, dst, node.len)) break;
        if (node.routes !== null) best = node.routes[0];
        const i: number = node.len;
        if (i === 128) break;
        node = (b[i >>> 3] >>> (7 - (i & 7))) & 1 ? node.one : node.zero;
      }
    }
    return best;
  }

  /** The best route to `dst` through `device` only (a socket bound to a device, a scoped address). */
  lookupOnDevice(dst: A, device: D): Route<A, D> | null {
    let node: Node<A, D> | null = this.root;
    let best: Route<A, D> | null = null;
    const I = this.ip;
    while (node !== null && I.prefixMatch(node.addr, dst, node.len)) {
      const rs: Route<A, D>[] | null = node.routes;
      if (rs !== null) {
        for (let k = 0; k < rs.length; k++) {
          if (rs[k].device === device) {
            best = rs[k];
            break;
          }
        }
      }
      if (node.len === I.addrBits) break;
      node = I.bitAt(dst, node.len) ? node.one : node.zero;
    }
    return best;
  }

  /**
   * The best route to `dst` among those `usable` accepts (e.g. skipping devices that are down).
   * Pass a function created once, not a fresh closure per packet.
   */
  lookupWhere(dst: A, usable: (r: Route<A, D>) => boolean): Route<A, D> | null {
    let node: Node<A, D> | null = this.root;
    let best: Route<A, D> | null = null;
    const I = this.ip;
    while (node !== null && I.prefixMatch(node.addr, dst, node.len)) {
      const rs: Route<A, D>[] | null = node.routes;
      if (rs !== null) {
        for (let k = 0; k < rs.length; k++) {
          if (usable(rs[k])) {
            best = rs[k];
            break;
          }
        }
      }
      if (node.len === I.addrBits) break;
      node = I.bitAt(dst, node.len) ? node.one : node.zero;
    }
    return best;
  }

  /** Remove every route. */
  clear(): void {
    this.root.zero = null;
    this.root.one = null;
    this.root.routes = null;
    this.all.length = 0;
  }

  /** The node for exactly `subnet`, created (splitting an edge if needed) when missing. */
  private insertNode(subnet: Subnet<A>): Node<A, D> {
    const I = this.ip;
    const key = subnet.addr;
    const len = subnet.prefixLen;
    let parent = this.root;
    while (parent.len < len) {
      const bit = I.bitAt(key, parent.len);
      const child = bit ? parent.one : parent.zero;
      if (child === null) return setChild(parent, bit, new Node<A, D>(key, len, this.v4));
      // `child` agrees with `key` up to at least parent.len + 1 bits (the bit chosen above).
      const common = Math.min(I.commonPrefixLen(key, child.addr), len, child.len);
      if (common === child.len) {
        // The child's prefix is a prefix of ours (or equal): go down.
        parent = child;
        continue;
      }
      if (common === len) {
        // Our prefix is a prefix of the child's: a new node between them.
        const n = new Node<A, D>(key, len, this.v4);
        setChild(n, I.bitAt(child.addr, len), child);
        return setChild(parent, bit, n);
      }
      // The prefixes part ways at bit `common`: a branching node there holds both.
      const branch = new Node<A, D>(I.maskBits(key, common), common, this.v4);
      setChild(branch, I.bitAt(child.addr, common), child);
      setChild(parent, bit, branch);
      return setChild(branch, I.bitAt(key, common), new Node<A, D>(key, len, this.v4));
    }
    return parent;
  }

  private removeOne(route: Route<A, D>): void {
    const I = this.ip;
    const { addr, prefixLen } = route.subnet;
    const path: Node<A, D>[] = [];
    let node: Node<A, D> | null = this.root;
    while (node !== null && node.len < prefixLen) {
      path.push(node);
      node = I.bitAt(addr, node.len) ? node.one : node.zero;
    }
    if (node === null || node.len !== prefixLen || !I.prefixMatch(node.addr, addr, prefixLen)) return;
    const list = node.routes;
    if (list === null) return;
    const at = list.indexOf(route);
    if (at < 0) return;
    list.splice(at, 1);
    const k = this.all.indexOf(route);
    if (k >= 0) this.all.splice(k, 1);
    if (list.length > 0) return;
    node.routes = null;
    // Keep the trie compressed: a node without routes stays only while it branches in two.
    let n: Node<A, D> = node;
    for (let d = path.length - 1; d >= 0 && n !== this.root && n.routes === null; d--) {
      const parent = path[d];
      if (n.zero !== null && n.one !== null) break;
      replaceChild(parent, n, n.zero ?? n.one);
      n = parent;
    }
  }
}

function setChild<A, D>(parent: Node<A, D>, bit: number, child: Node<A, D>): Node<A, D> {
  if (bit) parent.one = child;
  else parent.zero = child;
  return child;
}

function replaceChild<A, D>(parent: Node<A, D>, old: Node<A, D>, by: Node<A, D> | null): void {
  if (parent.zero === old) parent.zero = by;
  else if (parent.one === old) parent.one = by;
}

function sameGateway<A>(I: IpVersion<A>, a: A | null, b: A | null): boolean {
  return a === null || b === null ? a === b : I.equals(a, b);
}

/** The next hop for a packet to `dst` over `route`: its gateway, or `dst` itself when on-link. */
export function nextHop<A, D>(route: Route<A, D>, dst: A): A {
  return route.gateway ?? dst;
}
