import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, test } from "node:test";
import { command } from "./gateway.ts";
import {
  type GatewayNetwork,
  gatewayMac,
  parseForward,
  parseGatewayArgs,
  parseGatewayMtu,
  parseNet,
  parseQemuSpec,
} from "./gateway-args.ts";

const root = new URL("../../..", import.meta.url).pathname;
const net = parseNet("10.0.2.0/24", true) as GatewayNetwork;

describe("netstack gateway options", () => {
  test("--qemu unix:PATH and tcp:HOST:PORT", () => {
    assert.deepEqual(parseQemuSpec("unix:/tmp/gw.sock"), { path: "/tmp/gw.sock" });
    assert.deepEqual(parseQemuSpec("tcp:127.0.0.1:5555"), { host: "127.0.0.1", port: 5555 });
    assert.deepEqual(parseQemuSpec("tcp:[::1]:0"), { host: "::1", port: 0 });
    assert.deepEqual(parseQemuSpec("tcp:localhost:1"), { host: "localhost", port: 1 });
    assert.match(parseQemuSpec("unix:") as string, /no path/);
    assert.match(parseQemuSpec(`unix:/${"x".repeat(107)}`) as string, /longer than a unix socket allows/);
    assert.match(parseQemuSpec("tcp:127.0.0.1:65536") as string, /not a port/);
    assert.match(parseQemuSpec("tcp:::1:80") as string, /in brackets/);
    assert.match(parseQemuSpec("tcp:5555") as string, /expected tcp:HOST:PORT/);
    assert.match(parseQemuSpec("socket:/x") as string, /expected unix:PATH or tcp:HOST:PORT/);
  });

  test("--net: QEMU user networking's addresses in any network of /27 or larger", () => {
    assert.deepEqual(net, {
      cidr: "10.0.2.0/24",
      prefixLen: 24,
      gateway: "10.0.2.2",
      dns: "10.0.2.3",
      dhcpStart: "10.0.2.15",
      dhcpEnd: "10.0.2.254",
      v6: { prefix: "fec0::/64", gateway: "fec0::2", dns: "fec0::3" },
    });
    const small = parseNet("192.168.7.32/27", false) as GatewayNetwork;
    assert.deepEqual(
      [small.gateway, small.dns, small.dhcpStart, small.dhcpEnd, small.v6],
      ["192.168.7.34", "192.168.7.35", "192.168.7.47", "192.168.7.62", null],
    );
    assert.match(parseNet("10.0.2.0/28", true) as string, /too small/);
    assert.match(parseNet("10.0.2.1/24", true) as string, /host bits are set \(the network is 10\.0\.2\.0\/24\)/);
    assert.match(parseNet("10.0.2.0", true) as string, /prefix length/);
    assert.match(parseNet("fd00::/64", true) as string, /IPv4/);
    assert.match(parseNet("10.0.0.0/4", true) as string, /too large/);
  });

  test("--forward tcp|udp:HOSTPORT:GUESTIP:GUESTPORT", () => {
    assert.deepEqual(parseForward("tcp:8080:10.0.2.15:80", net), {
      proto: "tcp",
      hostPort: 8080,
      guestIp: "10.0.2.15",
      guestPort: 80,
    });
    assert.deepEqual(parseForward("udp:5353:[fec0::15]:53", net), {
      proto: "udp",
      hostPort: 5353,
      guestIp: "fec0::15",
      guestPort: 53,
    });
    assert.match(parseForward("sctp:1:10.0.2.15:1", net) as string, /expected tcp\|udp/);
    assert.match(parseForward("tcp:0:10.0.2.15:80", net) as string, /host port '0'/);
    assert.match(parseForward("tcp:80:10.0.2.15:99999", net) as string, /guest port '99999'/);
    assert.match(parseForward("tcp:80:10.0.3.15:80", net) as string, /not in the guest network/);
    assert.match(parseForward("tcp:80:10.0.2.2:80", net) as string, /the gateway's own address/);
    assert.match(parseForward("tcp:80:10.0.2.255:80", net) as string, /broadcast/);
    assert.match(parseForward("tcp:80:[fd00::1]:80", net) as string, /not in the guest prefix/);
    assert.match(
      parseForward("tcp:80:[fec0::15]:80", parseNet("10.0.2.0/24", false) as GatewayNetwork) as string,
      /--no-ipv6/,
    );
    assert.match(parseForward("tcp:80:host:80", net) as string, /not an IP address/);
  });

  test("--mtu: 1280 with IPv6, 68 without, at most 65535", () => {
    assert.equal(parseGatewayMtu(undefined, true), 1500);
    assert.equal(parseGatewayMtu("9000", true), 9000);
    assert.match(parseGatewayMtu("1000", true) as string, /1280 to 65535/);
    assert.equal(parseGatewayMtu("1000", false), 1000);
    assert.match(parseGatewayMtu("-5", false) as string, /whole number from 68/);
  });

  test("all options together; mistakes across options", () => {
    const cfg = parseGatewayArgs({
      qemu: ["unix:/tmp/a.sock", "tcp:127.0.0.1:0"],
      ws: "8000",
      tap: ["tap0"],
      forward: ["tcp:8080:10.0.2.15:80", "udp:8080:10.0.2.15:80"],
      "no-map-host-loopback": true,
      mtu: "1400",
      pcap: "x.pcapng",
    });
    assert.ok(typeof cfg === "object");
    assert.deepEqual(
      cfg.qemu.map((q) => q.address),
      [{ path: "/tmp/a.sock" }, { host: "127.0.0.1", port: 0 }],
    );
    assert.deepEqual(
      [cfg.ws, cfg.taps, cfg.forwards.length, cfg.mapHostLoopback, cfg.mtu, cfg.pcap],
      [8000, ["tap0"], 2, false, 1400, "x.pcapng"],
    );
    assert.match(parseGatewayArgs({}) as string, /no ports/);
    assert.match(parseGatewayArgs({ ws: "http" }) as string, /--ws http: expected a TCP port/);
    assert.match(parseGatewayArgs({ tap: ["tap0", "tap0"] }) as string, /given twice/);
    assert.match(parseGatewayArgs({ tap: ["a/b"] }) as string, /not a valid interface name/);
    assert.match(parseGatewayArgs({ qemu: ["unix:/a", "unix:/a"] }) as string, /given twice/);
    assert.match(
      parseGatewayArgs({ ws: "0", forward: ["tcp:80:10.0.2.15:80", "tcp:80:10.0.2.16:80"] }) as string,
      /already forwarded/,
    );
    assert.match(
      parseGatewayArgs({ ws: "0", net: "172.16.0.0/16", forward: ["tcp:80:10.0.2.15:80"] }) as string,
      /172\.16\.0\.0\/16/,
    );
    assert.match(parseGatewayArgs({ ws: "0", pcap: "" }) as string, /--pcap needs a file name/);
    assert.match(parseGatewayArgs({ ws: "0", mtu: "1000", "no-ipv6": false }) as string, /IPv6 needs 1280/);
  });

  test("the gateway's MAC is slirp's: 52:55 and the gateway's address", () => {
    assert.equal(gatewayMac(net), "52:55:0a:00:02:02");
    assert.equal(gatewayMac(parseNet("192.168.76.0/24", true) as GatewayNetwork), "52:55:c0:a8:4c:02");
  });

  test("the CLI: a mistake is one line and exit 2; --help lists every option of the contract", async () => {
    const r = spawnSync(
      process.execPath,
      [join(root, "bin", "netstack.js"), "gateway", "--qemu", "unix:/tmp/x.sock", "--forward", "tcp:80:10.0.9.9:80"],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 2);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      "netstack gateway: --forward tcp:80:10.0.9.9:80: 10.0.9.9 is not in the guest network 10.0.2.0/24\n",
    );
    // The rest in-process: the command with a context that records what the CLI would print.
    let out = "";
    const ctx = {
      out: (t: string) => {
        out += t;
      },
      err: () => {},
      usage: (m: string): never => {
        throw new Error(`usage: ${m}`);
      },
    };
    await assert.rejects(async () => command.run(["extra"], ctx), /usage: unexpected argument 'extra'/);
    await assert.rejects(async () => command.run(["--bogus"], ctx), { code: "ERR_PARSE_ARGS_UNKNOWN_OPTION" });
    await assert.rejects(async () => command.run(["--ws", "1", "--mtu", "9"], ctx), /usage: --mtu 9:/);
    assert.equal(await command.run(["--help"], ctx), 0);
    for (const o of ["--qemu unix:PATH", "--qemu tcp:HOST:PORT", "--ws PORT", "--tap NAME", "--net", "--no-ipv6"]) {
      assert.ok(out.includes(o), o);
    }
    for (const o of [
      "--forward tcp|udp:HOSTPORT:GUESTIP:GUESTPORT",
      "--no-map-host-loopback",
      "--mtu N",
      "--pcap FILE",
    ]) {
      assert.ok(out.includes(o), o);
    }
  });
});
