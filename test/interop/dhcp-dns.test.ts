// Interop of the DHCP and DNS state machines with real peers, before the Stack carries them
// (issue 14 phase 1): kernel sockets stand in for the Stack's (test/interop/dhcp-dns-peer.ts runs
// the machines inside a namespace). Each test makes two namespaces joined by a veth pair:
//
// - our DhcpClient and Resolver against dnsmasq (DHCP and authoritative DNS for test.example): the
//   lease shows in dnsmasq's lease file and on the interface, names resolve (A, AAAA, CNAME, over
//   TCP after truncation), NXDOMAIN is ENOTFOUND, and stopping releases the lease;
// - busybox udhcpc and dig against our DhcpServer and DnsForwarder (upstream: dnsmasq on the
//   server side's loopback): lease, renewal, names over UDP and TCP, NXDOMAIN, release.
//
// Skipped with the reason without root, `ip netns`, dnsmasq, busybox or dig.
import assert from "node:assert/strict";
import { type ChildProcess, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Netns, root, sh, sleep } from "./helpers.ts";

const PEER = join(root, "test", "interop", "dhcp-dns-peer.ts");
const MAC = "52:54:00:12:34:56";

function skipReason(...tools: string[]): string | false {
  if (process.platform !== "linux") return `needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "needs root (network namespaces)";
  if (spawnSync("ip", ["-V"], { stdio: "ignore" }).status !== 0) return "`ip` (iproute2) is not installed";
  for (const t of tools) {
    if (spawnSync("sh", ["-c", `command -v ${t}`], { stdio: "ignore" }).status !== 0) {
      return `${t} is not installed (CI installs it from .ci/run)`;
    }
  }
  return false;
}

/** Two namespaces joined by vsrv (10.0.2.2 and 10.0.2.3) and vcli (MAC 52:54:00:12:34:56). */
function pair(): { srv: Netns; cli: Netns } {
  const srv = new Netns("dhsrv");
  let cli: Netns | null = null;
  try {
    cli = new Netns("dhcli");
    sh("ip", ["link", "add", "vsrv", "netns", srv.name, "type", "veth", "peer", "name", "vcli", "netns", cli.name]);
    srv.ip("addr", "add", "10.0.2.2/24", "dev", "vsrv");
    srv.ip("addr", "add", "10.0.2.3/24", "dev", "vsrv");
    srv.ip("link", "set", "vsrv", "up");
    cli.ip("link", "set", "vcli", "address", MAC);
    cli.ip("link", "set", "vcli", "up");
    // UDP sockets can send to 255.255.255.255 only with a route for it (raw sockets do not need one).
    srv.ip("route", "add", "255.255.255.255/32", "dev", "vsrv");
    cli.ip("route", "add", "255.255.255.255/32", "dev", "vcli");
    return { srv, cli };
  } catch (e) {
    cli?.destroy();
    srv.destroy();
    throw e;
  }
}

/** Lines a child prints, parsed as JSON when they are. */
class Output {
  lines: string[] = [];
  err = "";
  constructor(readonly child: ChildProcess) {
    let partial = "";
    child.stdout?.on("data", (d: Buffer) => {
      partial += d.toString();
      const parts = partial.split("\n");
      partial = parts.pop() as string;
      this.lines.push(...parts);
    });
    child.stderr?.on("data", (d: Buffer) => {
      this.err += d.toString();
    });
  }
  json(): Record<string, unknown>[] {
    return this.lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }
  /** The first line (from the `from`-th JSON line on) for which `pred` holds. */
  async waitFor(
    pred: (o: Record<string, unknown>) => boolean,
    ms: number,
    what: string,
    from = 0,
  ): Promise<Record<string, unknown>> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const hit = this.json().slice(from).find(pred);
      if (hit !== undefined) return hit;
      if (this.child.exitCode !== null) break;
      await sleep(50);
    }
    throw new Error(`no ${what} in ${ms} ms: ${this.lines.join("\n")}\n${this.err}`);
  }
  exit(): Promise<number | null> {
    if (this.child.exitCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((r) => this.child.on("exit", (c) => r(c)));
  }
}

async function waitFile(path: string, pred: (text: string) => boolean, ms: number, what: string): Promise<string> {
  const end = Date.now() + ms;
  let text = "";
  while (Date.now() < end) {
    try {
      text = readFileSync(path, "utf8");
    } catch {}
    if (pred(text)) return text;
    await sleep(50);
  }
  throw new Error(`no ${what} in ${path} after ${ms} ms: ${text}`);
}

const DNS_RECORDS = (dir: string) => {
  writeFileSync(
    join(dir, "bighosts"),
    Array.from({ length: 40 }, (_, i) => `10.0.3.${i + 1} big.test.example\n`).join(""),
  );
  return [
    "--no-resolv",
    "--no-hosts",
    "--local-ttl=300",
    "--host-record=www.test.example,10.0.2.80,fd00::80",
    "--cname=alias.test.example,www.test.example",
    `--addn-hosts=${join(dir, "bighosts")}`,
  ];
};

test("our DHCP client and resolver against dnsmasq: lease, names (UDP, TCP), NXDOMAIN, release", {
  skip: skipReason("dnsmasq"),
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "dhcpdns-"));
  const { srv, cli } = pair();
  const children: ChildProcess[] = [];
  try {
    const leases = join(dir, "leases");
    const dnsmasq = new Output(
      srv.spawn("dnsmasq", [
        "--no-daemon",
        "--interface=vsrv",
        "--bind-interfaces",
        "--no-ping",
        "--dhcp-range=10.0.2.15,10.0.2.100,255.255.255.0,2m",
        "--dhcp-option=option:router,10.0.2.2",
        "--dhcp-option=option:dns-server,10.0.2.3",
        "--dhcp-option=option:domain-search,test.example",
        "--dhcp-option=option:domain-name,test.example",
        `--dhcp-leasefile=${leases}`,
        "--dhcp-authoritative",
        "--auth-server=ns.test.example,vsrv",
        "--auth-zone=test.example",
        "--auth-soa=2024010101,hostmaster.test.example,1200,180,1209600,60",
        "--pid-file=",
        ...DNS_RECORDS(dir),
      ]),
    );
    children.push(dnsmasq.child);
    const peer = new Output(cli.spawn(process.execPath, ["--import", "tsx", PEER, "client", "vcli", MAC]));
    children.push(peer.child);
    const bound = await peer.waitFor((o) => o.event === "bound", 20_000, "lease");
    const addr = bound.addr as string;
    assert.match(addr, /^10\.0\.2\.(1[5-9]|[2-9]\d|100)$/);
    assert.deepEqual([bound.prefixLen, bound.server, bound.lease], [24, "10.0.2.2", 120]);
    assert.deepEqual(
      peer.json().find((o) => "dns" in o),
      { dns: ["10.0.2.3"], search: ["test.example"] },
    );
    assert.match(cli.ip("-4", "-o", "addr", "show", "vcli"), new RegExp(`inet ${addr.replace(/\./g, "\\.")}/24`));
    assert.match(cli.ip("route"), /default via 10\.0\.2\.2 dev vcli/);
    const file = await waitFile(leases, (t) => t.includes(MAC), 5000, "lease");
    assert.match(file, new RegExp(`${MAC} ${addr.replace(/\./g, "\\.")} `), "dnsmasq's lease file has the lease");

    await peer.waitFor((o) => o.done === true, 20_000, "lookups");
    const result = (key: string, name: string) => peer.json().find((o) => o[key] === name)?.result;
    // "www" through the search list from the lease.
    assert.deepEqual(result("lookup", "www"), [
      { address: "10.0.2.80", family: 4 },
      { address: "fd00::80", family: 6 },
    ]);
    assert.deepEqual(result("lookup", "alias.test.example"), [
      { address: "10.0.2.80", family: 4 },
      { address: "fd00::80", family: 6 },
    ]);
    assert.deepEqual(result("lookup", "nx.test.example"), {
      code: "ENOTFOUND",
      message: "getaddrinfo ENOTFOUND nx.test.example",
    });
    const big = result("lookup", "big.test.example") as { address: string }[];
    assert.equal(big.length, 40, "the whole answer, over TCP");
    assert.deepEqual(
      result("resolve4", "www.test.example"),
      [{ address: "10.0.2.80", ttl: 600 }],
      "the auth zone's TTL",
    );
    const done = peer.json().find((o) => o.done === true) as { counters: Record<string, number> };
    assert.ok(done.counters["dns.resolver.rx.truncated"] >= 1);
    assert.ok(done.counters["dns.resolver.tx.tcp"] >= 1);

    // An orderly stop releases the lease: dnsmasq forgets it.
    peer.child.kill("SIGTERM");
    await peer.exit();
    await waitFile(leases, (t) => !t.includes(MAC), 5000, "release");
    assert.doesNotMatch(cli.ip("-4", "-o", "addr", "show", "vcli"), /inet 10\.0\.2\./);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    cli.destroy();
    srv.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("udhcpc and dig against our DHCP server and DNS forwarder: lease, renewal, names, release", {
  skip: skipReason("dnsmasq", "busybox", "dig"),
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "dhcpdns-"));
  const { srv, cli } = pair();
  const children: ChildProcess[] = [];
  try {
    srv.ip("link", "set", "lo", "up");
    const dnsmasq = new Output(
      srv.spawn("dnsmasq", [
        "--no-daemon",
        "--port=5353",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--local=/test.example/",
        "--pid-file=",
        ...DNS_RECORDS(dir),
      ]),
    );
    children.push(dnsmasq.child);
    const server = new Output(srv.spawn(process.execPath, ["--import", "tsx", PEER, "server"]));
    children.push(server.child);
    await server.waitFor((o) => o.ready === true, 20_000, "server ready");
    const log = join(dir, "udhcpc.log");
    const script = join(dir, "udhcpc.sh");
    writeFileSync(
      script,
      `#!/bin/sh
echo "$1 ip=$ip mask=$mask router=$router dns=$dns domain=$domain mtu=$mtu lease=$lease serverid=$serverid" >> ${log}
case "$1" in
  bound|renew) ip addr flush dev $interface; ip addr add $ip/$mask dev $interface ;;
  deconfig) ip addr flush dev $interface ;;
esac
`,
      { mode: 0o755 },
    );
    const udhcpc = new Output(
      cli.spawn("busybox", [
        "udhcpc",
        "-i",
        "vcli",
        "-f",
        "-s",
        script,
        "-x",
        "hostname:guest1",
        "-O",
        "mtu",
        "-t",
        "5",
        "-T",
        "1",
      ]),
    );
    children.push(udhcpc.child);
    const bound = await waitFile(log, (t) => t.includes("bound "), 15_000, "bound");
    assert.match(
      bound,
      /bound ip=10\.0\.2\.15 mask=24 router=10\.0\.2\.2 dns=10\.0\.2\.3 domain=test\.example mtu=1500 lease=120 serverid=10\.0\.2\.2/,
    );
    await server.waitFor((o) => JSON.stringify(o.leases) === JSON.stringify([`10.0.2.15 ${MAC}`]), 5000, "lease table");
    // SIGUSR1: udhcpc renews by unicast to 10.0.2.2 from its address; our server ACKs.
    udhcpc.child.kill("SIGUSR1");
    await waitFile(log, (t) => t.includes("renew "), 10_000, "renew");

    const dig = (...args: string[]) => cli.run("dig", ["@10.0.2.3", "+time=3", "+tries=1", ...args]).stdout;
    assert.equal(dig("+short", "www.test.example", "A").trim(), "10.0.2.80");
    assert.equal(dig("+short", "www.test.example", "AAAA").trim(), "fd00::80");
    assert.equal(dig("+short", "+tcp", "big.test.example", "A").trim().split("\n").length, 40);
    assert.match(dig("nx.test.example", "A"), /status: NXDOMAIN/);

    // SIGUSR2: udhcpc releases; the server's table empties.
    const before = server.json().length;
    udhcpc.child.kill("SIGUSR2");
    await server.waitFor((o) => Array.isArray(o.leases) && o.leases.length === 0, 5000, "release", before);
    server.child.kill("SIGTERM");
    const stopped = (await server.waitFor((o) => o.stopped === true, 5000, "counters")) as {
      counters: Record<string, number>;
    };
    const c = stopped.counters;
    assert.equal(c["dhcp.server.released"], 1);
    assert.ok(c["dhcp.server.tx.ack"] >= 2, "the lease and the renewal");
    assert.ok(c["dns.forwarder.tx.answer"] >= 4);
    assert.equal(c["dns.forwarder.tx.servfail"] ?? 0, 0);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    cli.destroy();
    srv.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
