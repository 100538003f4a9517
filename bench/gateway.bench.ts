/**
 * `npm run bench:gateway`: the same Linux guest (scripts/guest/build.mjs, booted by
 * test/guest/qemu.ts) networked by each peer in turn, measured in one run and printed as ratios:
 *
 * - libslirp: QEMU's own user networking (`-netdev user`): the reference.
 * - passt: Debian's passt, QEMU connected to its unix socket with `-netdev stream`.
 * - netstack: `netstack gateway --qemu unix:...` (issue 15). Its guests reach host sockets through
 *   NAT, which comes with phase 2: until then its column says why it has no figures.
 *
 * In every case the guest takes its address by DHCP and talks to nsperf (scripts/guest/nsperf.c)
 * serving on the host's loopback, reached through the peer's gateway address (each peer maps
 * connections to its gateway to the host's 127.0.0.1). Figures:
 * - download / upload: BYTES (default 64 MiB) over one TCP connection, the guest's clock.
 * - TCP_RR: one-byte request/response transactions over one connection for SECONDS.
 * - TCP_CRR: connect, one-byte request/response, close, one at a time, for SECONDS.
 *
 * The machine is shared: the peers are measured in alternating rounds (their order rotating), and
 * each figure keeps its best round (another process only ever slows a peer down). All guests stay
 * booted during the run (an idle guest costs little).
 * Usage: npm run bench:gateway [-- --rounds N] [--bytes N] [--seconds S] [--peers slirp,passt,netstack]
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { GatewayProcess } from "../test/guest/gateway-process.ts";
import { Guest, type GuestImage, guestImage, guestSkipReason } from "../test/guest/qemu.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    bytes: { type: "string", default: String(64 * 1024 * 1024) },
    seconds: { type: "string", default: "3" },
    peers: { type: "string", default: "slirp,passt,netstack" },
  },
});
const ROUNDS = Number(values.rounds);
const BYTES = Number(values.bytes);
const SECONDS = Number(values.seconds);

type PeerName = "slirp" | "passt" | "netstack";
const LABEL: Record<PeerName, string> = { slirp: "libslirp", passt: "passt", netstack: "netstack" };

interface Peer {
  name: PeerName;
  guest: Guest | null;
  /** The address the guest reaches the host's loopback by. */
  server: string;
  /** Why there are no figures (set when the peer cannot be measured). */
  unavailable: string | null;
  stop(): Promise<void>;
}

type Metric = "download" | "upload" | "rr" | "crr";
const METRICS: { key: Metric; label: string; unit: string }[] = [
  { key: "download", label: "download (guest receives)", unit: "Mbit/s" },
  { key: "upload", label: "upload (guest sends)", unit: "Mbit/s" },
  { key: "rr", label: "TCP_RR (1-byte round trips)", unit: "/s" },
  { key: "crr", label: "TCP_CRR (connections)", unit: "/s" },
];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** udhcpc in the guest; the default route's gateway, or null without a lease. */
async function lease(guest: Guest): Promise<string | null> {
  const r = await guest.run("ip link set eth0 up && udhcpc -i eth0 -n -q -t 4 -T 2 >/dev/null 2>&1 && ip route", {
    timeoutMs: 60_000,
  });
  if (r.status !== 0) return null;
  return /default via (\S+)/.exec(r.stdout)?.[1] ?? null;
}

async function slirpPeer(): Promise<Peer> {
  const guest = await Guest.boot({ net: { type: "user" }, name: "libslirp guest" });
  const gw = await lease(guest);
  return {
    name: "slirp",
    guest,
    server: gw ?? "10.0.2.2",
    unavailable: gw === null ? "no DHCP lease" : null,
    stop: () => guest.close(),
  };
}

async function passtPeer(dir: string): Promise<Peer> {
  if (spawnSync("passt", ["--version"], { stdio: "ignore" }).status === null) {
    return { name: "passt", guest: null, server: "", unavailable: "passt is not installed", stop: async () => {} };
  }
  const path = join(dir, "passt.sock");
  // passt drops to nobody before binding: the socket's directory must be writable for it.
  const child: ChildProcess = spawn("passt", ["-f", "-q", "-s", path], { stdio: ["ignore", "pipe", "pipe"] });
  process.on("exit", () => child.kill("SIGKILL"));
  let log = "";
  child.stderr?.on("data", (d: Buffer) => {
    log += d.toString();
  });
  const t0 = Date.now();
  while (!/bound at/.test(log) && child.exitCode === null && Date.now() - t0 < 10_000) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const stop = async () => {
    if (child.exitCode === null) child.kill("SIGTERM");
  };
  if (child.exitCode !== null || !/bound at/.test(log)) {
    await stop();
    return {
      name: "passt",
      guest: null,
      server: "",
      unavailable: `passt did not start: ${log.trim().slice(-200)}`,
      stop,
    };
  }
  const guest = await Guest.boot({ net: { type: "stream", path }, name: "passt guest" });
  const gw = await lease(guest);
  return {
    name: "passt",
    guest,
    server: gw ?? "",
    unavailable: gw === null ? "no DHCP lease from passt" : null,
    stop: async () => {
      await guest.close();
      await stop();
    },
  };
}

async function netstackPeer(dir: string): Promise<Peer> {
  const path = join(dir, "netstack.sock");
  const gw = new GatewayProcess(["--qemu", `unix:${path}`]);
  await gw.ready();
  const guest = await Guest.boot({ net: { type: "stream", path }, name: "netstack guest" });
  const router = await lease(guest);
  // Phase 2 (DHCP server, NAT to host sockets) makes this column: the code path is here already.
  return {
    name: "netstack",
    guest,
    server: router ?? "10.0.2.2",
    unavailable: router === null ? "no DHCP lease: the gateway's DHCP server and NAT come with phase 2" : null,
    stop: async () => {
      await guest.close();
      await gw.stop();
    },
  };
}

/** Run one nsperf test in the peer's guest; the figure (Mbit/s or per second). */
async function measure(peer: Peer, port: number, m: Metric): Promise<number> {
  const g = peer.guest as Guest;
  const cmd =
    m === "download" || m === "upload"
      ? `nsperf ${m} ${peer.server} ${port} ${BYTES}`
      : `nsperf ${m} ${peer.server} ${port} ${SECONDS}`;
  const out = await g.sh(cmd, { timeoutMs: 300_000 });
  const kv = Object.fromEntries(
    out
      .trim()
      .split(/\s+/)
      .map((p) => p.split("=")),
  );
  return m === "download" || m === "upload" ? Number(kv.mbit_per_s) : Number(kv.per_s);
}

function fmt(v: number | undefined, unit: string): string {
  if (v === undefined) return "-";
  return unit === "Mbit/s" ? `${v.toFixed(0)} ${unit}` : `${v.toFixed(0)}${unit}`;
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined || b === 0 ? "-" : `${(a / b).toFixed(2)}x`;
}

async function main(): Promise<number> {
  const skip = guestSkipReason("nsperf");
  if (skip !== false) {
    console.error(`bench:gateway: cannot run: ${skip}`);
    return 1;
  }
  const img = guestImage() as GuestImage;
  const port = await freePort();
  const server = spawn(img.nsperf as string, ["server", String(port)], { stdio: ["ignore", "pipe", "inherit"] });
  const listening = await new Promise<boolean>((resolve) => {
    server.stdout?.once("data", () => resolve(true));
    server.once("exit", () => resolve(false));
  });
  if (!listening) {
    console.error(`bench:gateway: the nsperf server did not start on port ${port}`);
    return 1;
  }
  const dir = mkdtempSync(join(tmpdir(), "nsgw-bench-"));
  chmodSync(dir, 0o777);
  const want = (values.peers as string).split(",") as PeerName[];
  const peers: Peer[] = [];
  try {
    for (const name of want) {
      const t0 = performance.now();
      const p =
        name === "slirp" ? await slirpPeer() : name === "passt" ? await passtPeer(dir) : await netstackPeer(dir);
      peers.push(p);
      const boot = p.guest ? `booted in ${(p.guest.bootMs / 1000).toFixed(1)} s (${p.guest.accel})` : "no guest";
      console.error(
        `bench:gateway: ${LABEL[name]}: ${boot}, set up in ${((performance.now() - t0) / 1000).toFixed(1)} s` +
          (p.unavailable ? `: ${p.unavailable}` : `, host reached at ${p.server}`),
      );
    }
    const ready = peers.filter((p) => p.unavailable === null);
    const best = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const m of METRICS) {
        // Rotate the order so no peer always goes first.
        for (let i = 0; i < ready.length; i++) {
          const p = ready[(i + round) % ready.length];
          try {
            const v = await measure(p, port, m.key);
            const k = `${p.name}/${m.key}`;
            if (!(best.get(k) !== undefined && (best.get(k) as number) >= v)) best.set(k, v);
            console.error(`  round ${round + 1} ${LABEL[p.name]} ${m.key}: ${fmt(v, m.unit)}`);
          } catch (e) {
            console.error(`  round ${round + 1} ${LABEL[p.name]} ${m.key}: failed: ${(e as Error).message}`);
          }
        }
      }
    }
    const get = (n: PeerName, m: Metric) => best.get(`${n}/${m}`);
    const head = ["", "libslirp", "passt", "netstack", "passt/libslirp", "netstack/libslirp", "netstack/passt"];
    const rows = METRICS.map((m) => [
      m.label,
      fmt(get("slirp", m.key), m.unit),
      fmt(get("passt", m.key), m.unit),
      fmt(get("netstack", m.key), m.unit),
      ratio(get("passt", m.key), get("slirp", m.key)),
      ratio(get("netstack", m.key), get("slirp", m.key)),
      ratio(get("netstack", m.key), get("passt", m.key)),
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
    const accel = peers.find((p) => p.guest)?.guest?.accel ?? "?";
    console.log(
      `bench:gateway: guest ${img.release} (${accel}), best of ${ROUNDS} rounds, ${BYTES} bytes per transfer, ` +
        `${SECONDS} s per TCP_RR/TCP_CRR; ratios > 1 mean faster (more per second)`,
    );
    console.log(line(head));
    for (const r of rows) console.log(line(r));
    for (const p of peers) if (p.unavailable) console.log(`${LABEL[p.name]}: ${p.unavailable}`);
    return 0;
  } finally {
    for (const p of peers) await p.stop().catch(() => {});
    server.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`bench:gateway: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
