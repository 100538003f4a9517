/**
 * The host's resolver configuration, for the gateway's DNS upstream and the stub resolver:
 * `parseResolvConf` reads /etc/resolv.conf text as glibc does (resolv.conf(5)): `nameserver` (at
 * most three, IPv4 or IPv6, a `%scope` suffix dropped), `search` and `domain` (the last of them
 * wins; at most six domains), `options ndots:N timeout:N attempts:N rotate edns0` (values capped as
 * glibc caps them: ndots 15, timeout 30 s, attempts 5). Lines starting with `#` or `;` are
 * comments; unknown keywords and options are ignored. A pure function: reading the file (and
 * `ip netns exec`'s bind mount of /etc/netns/NAME/resolv.conf over it) is the caller's.
 */
import { type Ipv4Addr, type Ipv6Addr, parseV4, parseV6 } from "../ip/addr.ts";
import type { DnsServerAddr } from "../transport/dns/query.ts";

/** resolv.conf's MAXNS. */
export const RESOLV_MAX_NAMESERVERS = 3;
/** resolv.conf's MAXDNSRCH. */
export const RESOLV_MAX_SEARCH = 6;

export interface ResolvConf {
  /** The servers, port 53. Empty when the file names none (glibc then asks 127.0.0.1). */
  servers: DnsServerAddr[];
  search: string[];
  ndots: number;
  /** Per try, ms. */
  timeout: number;
  attempts: number;
  rotate: boolean;
  /** EDNS0 UDP payload size to advertise: 1232 with `options edns0`, else 0. */
  ednsUdpSize: number;
}

/** glibc's defaults: ndots 1, timeout 5 s, attempts 2. */
export const RESOLV_DEFAULTS: ResolvConf = {
  servers: [],
  search: [],
  ndots: 1,
  timeout: 5000,
  attempts: 2,
  rotate: false,
  ednsUdpSize: 0,
};

/** Parse resolv.conf text; `options` (the RES_OPTIONS environment variable) is applied after the file's. */
export function parseResolvConf(text: string, options = ""): ResolvConf {
  const r: ResolvConf = { ...RESOLV_DEFAULTS, servers: [], search: [] };
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const [key, ...words] = line.split(/\s+/);
    switch (key) {
      case "nameserver": {
        if (words.length === 0 || r.servers.length >= RESOLV_MAX_NAMESERVERS) break;
        const text = words[0].replace(/%.*$/, "");
        const addr: Ipv4Addr | Ipv6Addr | null = parseV4(text) ?? (text.includes(":") ? parseV6(text) : null);
        if (addr !== null) r.servers.push({ addr, port: 53 });
        break;
      }
      case "domain":
        if (words.length > 0) r.search = [words[0]];
        break;
      case "search":
        r.search = words.filter((w) => !w.startsWith("#") && !w.startsWith(";")).slice(0, RESOLV_MAX_SEARCH);
        break;
      case "options":
        applyOptions(r, words);
        break;
      default:
        break;
    }
  }
  applyOptions(r, options.split(/\s+/).filter(Boolean));
  r.search = r.search
    .map((d) => (d.endsWith(".") && d.length > 1 ? d.slice(0, -1) : d))
    .filter((d) => d !== "" && d !== ".");
  return r;
}

function applyOptions(r: ResolvConf, words: string[]): void {
  for (const w of words) {
    const [name, value] = w.split(":", 2);
    const n = value === undefined ? Number.NaN : Number(value);
    const ok = Number.isInteger(n) && n >= 0;
    switch (name) {
      case "ndots":
        if (ok) r.ndots = Math.min(n, 15);
        break;
      case "timeout":
        if (ok) r.timeout = Math.min(Math.max(n, 1), 30) * 1000;
        break;
      case "attempts":
        if (ok) r.attempts = Math.min(Math.max(n, 1), 5);
        break;
      case "rotate":
        r.rotate = true;
        break;
      case "edns0":
        r.ednsUdpSize = 1232;
        break;
      default:
        break;
    }
  }
}
