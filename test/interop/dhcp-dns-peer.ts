/**
 * The DHCP and DNS state machines driven by real sockets, for test/interop/dhcp-dns.test.ts: run
 * inside a network namespace (`ip netns exec NS node --import tsx dhcp-dns-peer.ts MODE ...`).
 * Until the Stack carries them (phase 2 of issue 14), kernel sockets stand in for the Stack's:
 *
 * - `client IFACE MAC`: our `DhcpClient` over a UDP socket on port 68 (the address it gets is
 *   installed with `ip`), then our `Resolver` over UDP/TCP sockets asks the name server the lease
 *   named; prints JSON lines ("event", "lookup", "done"); SIGTERM releases the lease and exits.
 * - `server`: our `DhcpServer` on port 67 and our `DnsForwarder` on 10.0.2.3:53 (UDP and TCP)
 *   with the upstream at 127.0.0.1:5353; prints the lease table when it changes; SIGTERM prints
 *   the counters and exits.
 *
 * The kernel cannot send a frame to a MAC without ARP, so replies the server addresses to a
 * client's MAC go to the broadcast address (the client reads them either way).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import dgram from "node:dgram";
import net from "node:net";
import type { IpAddr, StackEvent, TimerId } from "../../src/context.ts";
import { Counters } from "../../src/counters.ts";
import { DhcpServer } from "../../src/gateway/dhcp-server.ts";
import { DnsForwarder } from "../../src/gateway/dns-forwarder.ts";
import { DhcpClient } from "../../src/hostconf/dhcp-client.ts";
import { serializeMessage } from "../../src/hostconf/fake-context.ts";
import { formatMac, formatV4, formatV6, type Ipv4Addr, parseMac, parseV4, v4 } from "../../src/ip/addr.ts";
import type { Timer } from "../../src/timers.ts";
import { DnsTcpFramer, frameDnsMessage } from "../../src/transport/dns/framing.ts";
import type { DnsTransport } from "../../src/transport/dns/query.ts";
import { Resolver } from "../../src/transport/dns/resolver.ts";

const counters = new Counters();
const t0 = performance.now();
const now = () => performance.now() - t0;
const random = () => randomBytes(4).readUInt32BE(0);
const print = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "ignore", "inherit"] });
const addrText = (a: IpAddr) => (typeof a === "number" ? formatV4(a) : formatV6(a));

/** Timers on the host's clock, each handed back to `fire`. */
function timers(fire: (id: TimerId) => void) {
  const live = new Map<Timer<TimerId>, NodeJS.Timeout>();
  return {
    schedule(t: Timer<TimerId>, at: number) {
      clearTimeout(live.get(t));
      live.set(
        t,
        setTimeout(
          () => {
            live.delete(t);
            fire(t.data);
          },
          Math.max(0, at - now()),
        ),
      );
    },
    cancel(t: Timer<TimerId>) {
      clearTimeout(live.get(t));
      live.delete(t);
    },
  };
}

/** The resolver's transport over kernel UDP sockets and TCP connections. */
function nodeTransport(get: () => Resolver): DnsTransport {
  const udp = new Map<number, dgram.Socket>();
  const tcp = new Map<number, net.Socket>();
  let next = 1;
  const t = timers((id) => id.kind === "dns" && get().handleTimer(id));
  return {
    now,
    random,
    ...t,
    udpOpen(port, family) {
      const h = next++;
      const s = dgram.createSocket(family === 4 ? "udp4" : "udp6");
      s.on("message", (m, r) => get().onUdp(h, parseV4(r.address) ?? (0 as Ipv4Addr), r.port, new Uint8Array(m)));
      s.on("error", () => {});
      s.bind(port);
      udp.set(h, s);
      return h;
    },
    udpSend(h, dst, port, data) {
      udp.get(h)?.send(data, port, addrText(dst));
    },
    udpClose(h) {
      udp.get(h)?.close();
      udp.delete(h);
    },
    tcpConnect(dst, port) {
      const h = next++;
      const s = net.connect(port, addrText(dst));
      s.on("connect", () => get().onTcpConnected(h));
      s.on("data", (d) => get().onTcpData(h, new Uint8Array(d)));
      s.on("close", () => tcp.has(h) && get().onTcpClosed(h));
      s.on("error", () => {});
      tcp.set(h, s);
      return h;
    },
    tcpSend(h, data) {
      tcp.get(h)?.write(data);
    },
    tcpClose(h) {
      const s = tcp.get(h);
      tcp.delete(h);
      s?.destroy();
    },
  };
}

function lookupAll(r: Resolver, name: string): Promise<unknown> {
  return new Promise((resolve) =>
    r.lookup(name, { all: true }, (err, a) => resolve(err === null ? a : { code: err.code, message: err.message })),
  );
}

function resolve4Ttl(r: Resolver, name: string): Promise<unknown> {
  return new Promise((resolve) =>
    r.resolve4(name, { ttl: true }, (err, a) => resolve(err === null ? a : { code: err.code })),
  );
}

function client(iface: string, macText: string): void {
  const mac = parseMac(macText) as Uint8Array;
  const sock = dgram.createSocket({ type: "udp4", reuseAddr: true });
  let resolver: Resolver | null = null;
  let dhcp: DhcpClient | null = null;
  const t = timers((id) => id.kind === "dhcp" && dhcp?.handleTimer(id));
  dhcp = new DhcpClient(
    {
      now,
      random,
      ...t,
      sendDhcp(_device, _src, dst, msg) {
        const bytes = serializeMessage(msg);
        sock.send(bytes, 67, formatV4(dst));
      },
      probeAddress(_device, addr) {
        // The RFC 5227 probe is the Stack's (phase 2); here the address is taken as free.
        setTimeout(() => dhcp?.probeResult(addr, false), 50);
      },
      cancelProbe() {},
      addAddress4(_d, addr, len) {
        ip("addr", "add", `${formatV4(addr)}/${len}`, "dev", iface);
      },
      removeAddress4(_d, addr, len) {
        // The Stack sends at once; a kernel socket sends later: let a RELEASE leave first.
        setTimeout(() => ip("addr", "del", `${formatV4(addr)}/${len}`, "dev", iface), 50);
      },
      addRoute4(_d, prefix, len, gw) {
        ip("route", "add", `${formatV4(prefix)}/${len}`, "via", formatV4(gw), "dev", iface);
      },
      removeRoute4(_d, prefix, len, gw) {
        ip("route", "del", `${formatV4(prefix)}/${len}`, "via", formatV4(gw), "dev", iface);
      },
      setMtu4(_d, mtu) {
        print({ mtu });
      },
      setDnsConfig(_d, servers, search) {
        print({ dns: servers.map(formatV4), search });
        resolver?.setServers(servers.map((a) => ({ addr: a, port: 53 })));
        resolver?.setSearch(search);
      },
      emit(e: StackEvent) {
        if (e.type === "dhcp") {
          print({
            event: e.state,
            addr: formatV4(e.addr),
            prefixLen: e.prefixLen,
            server: formatV4(e.server),
            lease: e.leaseSeconds,
          });
          if (e.state === "bound") void lookups();
        }
      },
    },
    0,
    mac,
    { startDelayMax: 0 },
    counters,
  );
  const r: Resolver = new Resolver(
    nodeTransport(() => r),
    { timeout: 2000, attempts: 2 },
    counters,
  );
  resolver = r;
  async function lookups() {
    print({ lookup: "www", result: await lookupAll(r, "www") });
    print({ lookup: "alias.test.example", result: await lookupAll(r, "alias.test.example") });
    print({ lookup: "nx.test.example", result: await lookupAll(r, "nx.test.example") });
    print({ lookup: "big.test.example", result: await lookupAll(r, "big.test.example") });
    print({ resolve4: "www.test.example", result: await resolve4Ttl(r, "www.test.example") });
    print({ done: true, counters: counters.snapshot({ prefix: "dns.resolver" }) });
  }
  sock.on("message", (m, rinfo) => dhcp?.onMessage(parseV4(rinfo.address) ?? v4(0), new Uint8Array(m), 0, m.length));
  sock.bind(68, "0.0.0.0", () => {
    sock.setBroadcast(true);
    dhcp?.start();
  });
  process.on("SIGTERM", () => {
    dhcp?.stop();
    r.close();
    print({ stopped: true, counters: counters.snapshot({ prefix: "dhcp.client" }) });
    setTimeout(() => process.exit(0), 200);
  });
}

function server(): void {
  const dhcpSock = dgram.createSocket({ type: "udp4", reuseAddr: true });
  const srv = new DhcpServer(
    {
      now,
      sendDhcp(dst, port, mac, msg) {
        const bytes = serializeMessage(msg);
        // Frames to a MAC need the Stack; the kernel broadcasts them instead.
        dhcpSock.send(bytes, port, mac !== null ? "255.255.255.255" : formatV4(dst));
      },
    },
    { domainName: "test.example", leaseSeconds: 120 },
    counters,
  );
  let last = "";
  const report = () => {
    const table = srv.leases().map((l) => `${formatV4(l.addr)} ${formatMac(l.mac)}`);
    const text = JSON.stringify(table);
    if (text !== last) print({ leases: table });
    last = text;
  };
  dhcpSock.on("message", (m, rinfo) => {
    srv.onMessage(parseV4(rinfo.address) ?? v4(0), new Uint8Array(m), 0, m.length);
    report();
  });
  dhcpSock.bind(67, "0.0.0.0", () => dhcpSock.setBroadcast(true));
  setInterval(report, 200).unref();

  // The DNS forwarder: guests on 10.0.2.3:53, the upstream (dnsmasq) on 127.0.0.1:5353.
  type Guest = { udp: dgram.RemoteInfo } | { tcp: net.Socket };
  const guestUdp = dgram.createSocket("udp4");
  const upUdp = dgram.createSocket("udp4");
  let fwd: DnsForwarder<Guest> | null = null;
  const t = timers((id) => id.kind === "dns-forwarder" && fwd?.handleTimer(id));
  fwd = new DnsForwarder<Guest>(
    {
      now,
      random,
      ...t,
      reply(g, bytes) {
        if ("udp" in g) guestUdp.send(bytes, g.udp.port, g.udp.address);
        else g.tcp.write(bytes);
      },
    },
    {
      servers: 1,
      send(_server, query, overTcp) {
        if (!overTcp) {
          upUdp.send(query, 5353, "127.0.0.1");
          return;
        }
        const c = net.connect(5353, "127.0.0.1");
        const framer = new DnsTcpFramer();
        c.on("data", (d) =>
          framer.push(new Uint8Array(d), (msg) => {
            fwd?.onUpstreamAnswer(0, msg.slice());
            c.end();
          }),
        );
        c.on("error", () => {});
        c.write(frameDnsMessage(query));
      },
    },
    {},
    counters,
  );
  upUdp.on("message", (m) => fwd?.onUpstreamAnswer(0, new Uint8Array(m)));
  upUdp.bind(0, "127.0.0.1");
  guestUdp.on("message", (m, rinfo) =>
    fwd?.onGuestQuery({ udp: rinfo }, `${rinfo.address}:${rinfo.port}`, new Uint8Array(m), false),
  );
  guestUdp.bind(53, "10.0.2.3");
  const tcpServer = net.createServer((s) => {
    const g: Guest = { tcp: s };
    const key = `${s.remoteAddress}:${s.remotePort}`;
    s.on("data", (d) => {
      if (fwd?.onGuestTcpData(g, key, new Uint8Array(d)) === false) s.destroy();
    });
    s.on("close", () => fwd?.onGuestTcpClosed(g));
    s.on("error", () => {});
  });
  tcpServer.listen(53, "10.0.2.3", () => print({ ready: true }));
  process.on("SIGTERM", () => {
    report();
    print({ stopped: true, counters: counters.snapshot() });
    setTimeout(() => process.exit(0), 100);
  });
}

const [mode, ...args] = process.argv.slice(2);
if (mode === "client") client(args[0], args[1]);
else if (mode === "server") server();
else {
  process.stderr.write("usage: dhcp-dns-peer.ts client IFACE MAC | server\n");
  process.exit(2);
}
