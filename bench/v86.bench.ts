/**
 * `npm run bench:v86`: the v86 test guest (test/v86/harness.ts) on this machine.
 *
 * 1. Boot to the guest's READY line, in alternating rounds, each beside the same guest under QEMU
 *    (qemu-system-i386 -accel tcg, Debian's vmlinuz, same initramfs and command line) as the
 *    same-run reference:
 *    - v86 as the harness boots it: the build's flat kernel (decompressed at build time), no JIT;
 *    - v86 with Debian's vmlinuz as shipped and v86's JIT on (its defaults).
 *    Wall time, CPU time of the emulating process, and v86's guest instruction count.
 * 2. The NIC's receive losses on a bulk download (busybox wget of /bytes/N from a NodeStack's
 *    HTTP service): frames the stack side handed to the guest's NIC (unicast, i.e. past the card's
 *    address filter) against the guest kernel's rx_packets for the same download, and what the
 *    stack's TCP counted meanwhile (retransmissions, RTOs, SACK recoveries). ne2k over the
 *    WebSocket relay, ne2k in process (whole batches into the card at once), and virtio-net over
 *    the relay as the reference.
 *
 * Usage: npm run bench:v86 [-- MEGABYTES [ROUNDS]]   (default 4 MB downloads, 2 rounds)
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type MemoryLink, memoryLinkPair } from "../src/node/link.ts";
import { NodeStack } from "../src/node/node-stack.ts";
import { readyAlive, type Services, startServices } from "../src/node/services.ts";
import {
  defaultGuestDir,
  GUEST_CMDLINE,
  type GuestNic,
  guestSkipReason,
  readManifest,
  V86Guest,
} from "../test/v86/harness.ts";
import { type Relay, startRelay } from "../test/v86/relay.ts";

const MB = Number(process.argv[2] ?? 4);
const ROUNDS = Number(process.argv[3] ?? 2);
const TICK = 100; // clock ticks per second of /proc/PID/stat (sysconf(_SC_CLK_TCK) on Linux)

const skip = guestSkipReason();
if (skip) {
  console.log(`bench:v86 skipped: ${skip}`);
  process.exit(0);
}

interface Boot {
  wallMs: number;
  cpuMs: number;
  instructions?: number;
}

/** QEMU TCG boots the same guest; time to READY, and the QEMU process's CPU time then. */
function qemuBoot(): Promise<Boot> {
  const m = readManifest();
  const dir = defaultGuestDir;
  const args = [
    "-accel",
    "tcg",
    "-M",
    "pc",
    "-cpu",
    "pentium3",
    "-m",
    "128",
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-no-reboot",
    "-kernel",
    join(dir, m.files.bzimage),
    "-initrd",
    join(dir, m.files.initrd),
    "-append",
    GUEST_CMDLINE,
    "-serial",
    "stdio",
    // The ne2k card v86 has too (so init.sh loads the same driver), on a hub with nothing else.
    "-netdev",
    "hubport,id=n0,hubid=0",
    "-device",
    "ne2k_pci,netdev=n0",
  ];
  const t0 = performance.now();
  const q: ChildProcess = spawn("qemu-system-i386", args, { stdio: ["pipe", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => {
      q.kill("SIGKILL");
      reject(new Error("QEMU guest did not boot in 300 s"));
    }, 300_000);
    q.stdout?.on("data", (d: Buffer) => {
      text += d.toString("latin1");
      if (!text.includes("@@READY")) return;
      const wallMs = performance.now() - t0;
      const stat = readFileSync(`/proc/${q.pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cpuMs = ((Number(f[11]) + Number(f[12])) * 1000) / TICK; // utime, stime
      clearTimeout(timer);
      q.kill("SIGKILL");
      resolve({ wallMs, cpuMs });
    });
    q.on("error", reject);
  });
}

async function v86Boot(kernel: "flat" | "bzimage", jit: boolean): Promise<Boot> {
  const g = await V86Guest.boot({ kernel, jit });
  const r = { wallMs: g.bootMs, cpuMs: g.bootCpuMs, instructions: g.instructions() };
  await g.close();
  return r;
}

function best(xs: Boot[]): Boot {
  return xs.reduce((a, b) => (b.cpuMs < a.cpuMs ? b : a));
}

const fmt = (b: Boot) =>
  `${(b.wallMs / 1000).toFixed(1)} s wall, ${(b.cpuMs / 1000).toFixed(1)} s CPU` +
  (b.instructions ? `, ${(b.instructions / 1e6).toFixed(0)} M guest instructions` : "");

async function boots(): Promise<void> {
  const haveQemu = spawnSync("sh", ["-c", "command -v qemu-system-i386"]).status === 0;
  const q: Boot[] = [];
  const flat: Boot[] = [];
  const shipped: Boot[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (haveQemu) q.push(await qemuBoot());
    flat.push(await v86Boot("flat", false));
    shipped.push(await v86Boot("bzimage", true));
  }
  console.log(`\nBoot to READY (best of ${ROUNDS} by CPU time):`);
  const ref = haveQemu ? best(q) : null;
  const ratio = (b: Boot) =>
    ref ? ` (${(b.wallMs / ref.wallMs).toFixed(1)}x QEMU's wall, ${(b.cpuMs / ref.cpuMs).toFixed(1)}x its CPU)` : "";
  if (ref) console.log(`  QEMU TCG, Debian's vmlinuz:     ${fmt(ref)}`);
  else console.log("  (no qemu-system-i386: no reference)");
  console.log(`  v86, flat kernel, no JIT:       ${fmt(best(flat))}${ratio(best(flat))}`);
  console.log(`  v86, Debian's vmlinuz, JIT:     ${fmt(best(shipped))}${ratio(best(shipped))}`);
}

interface Loss {
  label: string;
  handed: number;
  received: number;
  ms: number;
  tcp: Record<string, number>;
  /** ne2k: frames the card stored / dropped with a full ring, and the lengths of the drop runs. */
  stored?: number;
  dropped?: number;
  runs?: number[];
}

/** A guest on a NIC, wired over the relay or in process, with a NodeStack serving /bytes/N. */
async function lossRun(nic: GuestNic, wiring: "relay" | "in-process"): Promise<Loss[]> {
  const [a, b] = memoryLinkPair({ names: ["stack", "guest"] });
  const stack = new NodeStack();
  stack.addLink(a, { addresses: ["10.0.2.2/24"] });
  await readyAlive(stack);
  const services: Services = await startServices(stack);
  let relay: Relay | null = null;
  // Unicast frames handed to the guest's NIC (in process: counted here; over the relay: by it).
  let handed = 0;
  let guest: V86Guest;
  // ne2k: the card's verdict on each frame for it, in order (true: stored, false: ring full).
  let verdicts: boolean[] = [];
  const onNe2kReceive = (_f: Uint8Array, stored: boolean) => verdicts.push(stored);
  if (wiring === "relay") {
    relay = await startRelay(b);
    guest = await V86Guest.boot({ nic, relayUrl: relay.url, onNe2kReceive });
  } else {
    const counting = countUnicast(b, () => handed++);
    guest = await V86Guest.boot({ nic, link: counting, onNe2kReceive });
  }
  const unicast = () => (relay ? relay.stats.toClientUnicast : handed);
  const out: Loss[] = [];
  try {
    await guest.check("ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up && ping -c 1 -W 5 10.0.2.2");
    const rx = async () => Number(await guest.check("cat /sys/class/net/eth0/statistics/rx_packets"));
    const n = MB * 1_000_000;
    for (let r = 0; r < ROUNDS; r++) {
      const rx0 = await rx();
      const h0 = unicast();
      const c0 = stack.core.counters.snapshot();
      verdicts = [];
      const t0 = performance.now();
      await guest.check(`wget -q -O /dev/null http://10.0.2.2/bytes/${n}`, { timeoutMs: 600_000 });
      const ms = performance.now() - t0;
      const received = (await rx()) - rx0;
      const c1 = stack.core.counters.snapshot();
      const tcp: Record<string, number> = {};
      for (const k of ["tcp.tx", "tcp.retransmit", "tcp.rto", "tcp.sack-recovery", "tcp.dupack"]) {
        tcp[k] = (c1[k] ?? 0) - (c0[k] ?? 0);
      }
      const row: Loss = { label: `${nic} ${wiring}`, handed: unicast() - h0, received, ms, tcp };
      if (nic === "ne2k") {
        row.stored = verdicts.filter(Boolean).length;
        row.dropped = verdicts.length - row.stored;
        row.runs = dropRuns(verdicts);
      }
      out.push(row);
    }
  } finally {
    await guest.close();
    await relay?.close();
    await services.close();
    await stack.close();
  }
  return out;
}

/** Lengths of the runs of consecutive drops (false) in the card's verdicts. */
function dropRuns(v: boolean[]): number[] {
  const runs: number[] = [];
  let n = 0;
  for (const stored of v) {
    if (!stored) n++;
    else if (n > 0) {
      runs.push(n);
      n = 0;
    }
  }
  if (n > 0) runs.push(n);
  return runs;
}

/** `link` with a callback for each unicast frame it delivers (what goes into the guest's NIC). */
function countUnicast(link: MemoryLink, onUnicast: () => void): MemoryLink {
  const onFrames = link.onFrames.bind(link);
  link.onFrames = (cb) =>
    onFrames(
      cb === null
        ? null
        : (frames) => {
            for (const f of frames) if ((f[0] & 1) === 0) onUnicast();
            cb(frames);
          },
    );
  return link;
}

async function losses(): Promise<void> {
  const rows: Loss[] = [];
  for (const [nic, wiring] of [
    ["ne2k", "relay"],
    ["ne2k", "in-process"],
    ["virtio", "relay"],
  ] as const) {
    rows.push(...(await lossRun(nic, wiring)));
  }
  const ref = rows.filter((r) => r.label === "virtio relay").reduce((a, b) => (b.ms < a.ms ? b : a));
  console.log(`\nBulk download of ${MB} MB into the guest (each round one wget; frames = unicast frames to the NIC):`);
  for (const r of rows) {
    const lost = r.handed - r.received;
    const rate = (MB * 1e6) / (r.ms / 1000) / 1e6;
    console.log(
      `  ${r.label.padEnd(18)} handed ${r.handed}, guest received ${r.received}, lost ${lost} ` +
        `(${((100 * lost) / r.handed).toFixed(1)}%); ${rate.toFixed(2)} MB/s (${(ref.ms / r.ms).toFixed(2)}x virtio's best); ` +
        `stack TCP: ${r.tcp["tcp.tx"]} segments, ${r.tcp["tcp.retransmit"]} retransmitted, ` +
        `${r.tcp["tcp.rto"]} RTOs, ${r.tcp["tcp.sack-recovery"]} SACK recoveries, ${r.tcp["tcp.dupack"]} dup ACKs`,
    );
    if (r.runs) {
      const hist = new Map<number, number>();
      for (const n of r.runs) hist.set(n, (hist.get(n) ?? 0) + 1);
      const h = [...hist].sort((x, y) => x[0] - y[0]).map(([len, count]) => `${count}x${len}`);
      console.log(
        `    ne2k ring: ${r.stored} stored, ${r.dropped} dropped full, in ${r.runs.length} runs of consecutive drops ` +
          `(count x length: ${h.join(", ")})`,
      );
    }
  }
}

const m = readManifest();
console.log(`v86 guest: ${m.kernel.package}, ${m.busybox.package}; ${MB} MB downloads, ${ROUNDS} rounds`);
await boots();
await losses();
process.exit(0);
