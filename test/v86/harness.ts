/**
 * Boots the i386 test guest (scripts/guest/v86/build.mjs) in Node with v86 (npm `v86`, an x86
 * emulator in wasm) and drives it through the command protocol of scripts/guest/v86/init.sh on its
 * first serial port: `await guest.run("ping -c 1 10.0.2.2")` gives the output and the exit status.
 *
 * The guest's NIC (v86's ne2k or virtio-net) is wired either
 * - to a WebSocket URL (`relayUrl`): v86's own network adapter, its `network_relay_url` convention
 *   (each binary message one Ethernet frame, both ways, no prefix), or
 * - in process (`onFrame` + `guest.deliver(frame)`): frames straight off and onto v86's bus.
 *
 * v86's WebSocket adapter uses the global `WebSocket`; Node 20 has none, so `bootGuest` installs
 * the `ws` package's client as `globalThis.WebSocket` when it is missing (a process-wide change,
 * harmless to code that checks for it first).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { GUEST_CMDLINE, GuestConsole, type RunResult } from "../../scripts/guest/v86/console.ts";
import type { Link } from "../../src/node/link.ts";

export { GUEST_CMDLINE, type RunResult };

export const root = new URL("../..", import.meta.url).pathname;
export const buildScript = join(root, "scripts", "guest", "v86", "build.mjs");
export const defaultGuestDir = join(root, ".cache", "v86-guest");

/** What guest.json (written by the build script) says. */
export interface GuestManifest {
  kernel: { package: string; version: string; sha256: string };
  busybox: { package: string };
  initrd: { bytes: number; sha256: string };
  flatKernel: { bytes: number; loadAddress: string; entry: string; sha256: string };
  files: { bzimage: string; flatKernel: string; initrd: string; bios: string; vgaBios: string };
}

/** The NIC v86 emulates: ne2k (its default; drops all multicast) or virtio-net. */
export type GuestNic = "ne2k" | "virtio";

export interface GuestOptions {
  /** Directory the build script wrote (default .cache/v86-guest). */
  dir?: string;
  nic?: GuestNic;
  /**
   * "flat" (default): the kernel with its decompression done at build time (see build.mjs), about
   * five times faster to boot under emulation; "bzimage": Debian's vmlinuz as shipped.
   */
  kernel?: "flat" | "bzimage";
  /** ws:// URL of a relay (v86's `relay_url`). Exclusive with `onFrame` and `link`. */
  relayUrl?: string;
  /**
   * In-process NIC on a `Link` (e.g. one end of `memoryLinkPair()`): what the guest sends goes to
   * `link.send`, the link's received frames go into the NIC, each batch in one go, as they come.
   */
  link?: Link;
  /** In-process NIC: called with each frame the guest sends (a copy, the callee's to keep). */
  onFrame?: (frame: Uint8Array) => void;
  /** Guest memory in MiB (default 128: v86 loads the initrd at 64 MiB, so no less). */
  memoryMiB?: number;
  /** Extra kernel command line words. */
  cmdline?: string;
  /** Give up booting after this long (default 180 s: the machine may be shared and slow). */
  bootTimeoutMs?: number;
  /**
   * v86's x86-to-wasm JIT (default off here). Measured on this 2-core machine, the guest boots in
   * about half the CPU time without it and downloads no slower: a short-lived test guest runs most
   * of its code once, and compiling it to wasm costs more than interpreting it.
   */
  jit?: boolean;
  /**
   * ne2k only: called for each frame the card takes off the wire for itself (unicast to its MAC,
   * or broadcast) with whether its receive ring had room (false: v86 dropped it, telling no one).
   */
  onNe2kReceive?: (frame: Uint8Array, stored: boolean) => void;
  /** More options for v86's constructor (e.g. `{ disable_jit: true }`), applied last. */
  v86Options?: Record<string, unknown>;
  /** Every byte the guest writes on its serial port, for debugging. */
  onSerial?: (text: string) => void;
}

let built: string | false | undefined;

/**
 * Build the guest if needed (idempotent; a few seconds once the packages are downloaded). Returns
 * false when the guest is there, else why it cannot be built here (for `test(..., { skip })`).
 */
export function guestSkipReason(dir = defaultGuestDir): string | false {
  if (built !== undefined) return built;
  if (process.platform !== "linux") {
    built = `the v86 guest is built from Debian packages (this is ${process.platform})`;
    return built;
  }
  try {
    v86Paths();
  } catch (e) {
    built = `the v86 npm package is not installed (${(e as Error).message})`;
    return built;
  }
  const args = [buildScript, "--quiet"];
  if (dir !== defaultGuestDir) args.push("--out", dir);
  const r = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) {
    const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split("\n").pop();
    built = `cannot build the v86 guest: ${why}`;
  } else {
    built = false;
  }
  return built;
}

/** Where the v86 package's module and wasm are. */
export function v86Paths(): { module: string; wasm: string } {
  const main = createRequire(import.meta.url).resolve("v86");
  const wasm = join(dirname(main), "v86.wasm");
  if (!existsSync(wasm)) throw new Error(`${wasm} is missing`);
  return { module: main, wasm };
}

export function readManifest(dir = defaultGuestDir): GuestManifest {
  return JSON.parse(readFileSync(join(dir, "guest.json"), "utf8")) as GuestManifest;
}

function image(path: string): { buffer: ArrayBuffer } {
  const b = readFileSync(path);
  return { buffer: b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer };
}

/** The parts of v86's emulator object the harness uses (its typings leave out the bus). */
interface Emulator {
  get_instruction_counter(): number;
  add_listener(event: string, fn: (arg: never) => void): void;
  serial0_send(data: string): void;
  destroy(): Promise<void>;
  bus: { send(name: string, value: unknown): void };
}

/** The fields of v86's ne2k the drop count reads. */
interface Ne2kCard {
  receive(frame: Uint8Array): void;
  curpg: number;
  cr: number;
  mac: Uint8Array;
}

/** A booted guest. */
export class V86Guest {
  /** Wall-clock milliseconds from creating the emulator to the guest's READY line. */
  bootMs = 0;
  /** CPU milliseconds (user + system) this process spent in that time. */
  bootCpuMs = 0;
  /** `uname -r` of the guest, and its network interfaces, from the READY line. */
  release = "";
  interfaces: string[] = [];
  /** The NIC's MAC address as v86 reports it ("00:22:15:..."). */
  mac = "";
  /** Frames the guest's NIC sent, and frames handed to it (in-process wiring only). */
  framesFromGuest = 0;
  framesToGuest = 0;
  /** Frames the emulated NIC accepted off the wire (v86's eth-receive-end), before any ring drop. */
  nicReceived = 0;
  /** ne2k: frames for the card it stored in its receive ring, and those dropped as the ring was full. */
  ne2kStored = 0;
  ne2kRingDrops = 0;

  private readonly console: GuestConsole;
  private closed = false;
  private detach: (() => void) | null = null;

  private constructor(
    private readonly emulator: Emulator,
    private readonly onSerial?: (text: string) => void,
  ) {
    this.console = new GuestConsole((text) => emulator.serial0_send(text));
  }

  /** Boot the guest; resolves once init.sh takes commands. */
  static async boot(options: GuestOptions = {}): Promise<V86Guest> {
    const dir = options.dir ?? defaultGuestDir;
    const m = readManifest(dir);
    const paths = v86Paths();
    if ([options.relayUrl, options.onFrame, options.link].filter(Boolean).length > 1) {
      throw new Error("relayUrl, onFrame and link are exclusive");
    }
    if (options.relayUrl && typeof (globalThis as { WebSocket?: unknown }).WebSocket === "undefined") {
      const ws = await import("ws");
      (globalThis as { WebSocket?: unknown }).WebSocket = ws.WebSocket;
    }
    const { V86 } = (await import(paths.module)) as { V86: new (o: object) => Emulator };
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const net: Record<string, unknown> = { type: options.nic ?? "ne2k" };
    if (options.relayUrl) net.relay_url = options.relayUrl;
    const emulator = new V86({
      wasm_path: paths.wasm,
      memory_size: (options.memoryMiB ?? 128) << 20,
      vga_memory_size: 2 << 20,
      bios: image(join(dir, m.files.bios)),
      vga_bios: image(join(dir, m.files.vgaBios)),
      bzimage: image(join(dir, options.kernel === "bzimage" ? m.files.bzimage : m.files.flatKernel)),
      initrd: image(join(dir, m.files.initrd)),
      cmdline: options.cmdline ? `${GUEST_CMDLINE} ${options.cmdline}` : GUEST_CMDLINE,
      net_device: net,
      autostart: true,
      disable_keyboard: true,
      disable_mouse: true,
      disable_speaker: true,
      disable_jit: !options.jit,
      ...options.v86Options,
    });
    const guest = new V86Guest(emulator, options.onSerial);
    emulator.add_listener("serial0-output-byte", (b: number) => {
      guest.onSerial?.(String.fromCharCode(b));
      guest.console.byte(b);
    });
    emulator.add_listener("net0-mac", (mac: string) => {
      guest.mac = mac;
    });
    emulator.add_listener("eth-receive-end", () => {
      guest.nicReceived++;
    });
    let loadError: Error | null = null;
    if ((options.nic ?? "ne2k") === "ne2k") {
      // The devices exist once v86 has loaded its images (long before the guest's driver is up).
      emulator.add_listener("emulator-loaded", () => {
        try {
          guest.watchNe2k(options.onNe2kReceive);
        } catch (e) {
          loadError = e as Error;
        }
      });
    }
    const link = options.link;
    const onFrame = link ? (f: Uint8Array) => link.send(f) : options.onFrame;
    if (link) {
      guest.detach = () => link.onFrames(null);
      link.onFrames((frames) => {
        for (const f of frames) guest.deliver(f);
      });
    }
    if (onFrame) {
      emulator.add_listener("net0-send", (frame: Uint8Array) => {
        guest.framesFromGuest++;
        // v86 hands out a view into the NIC's memory: copy before it is reused.
        onFrame(link ? frame : frame.slice());
      });
    } else {
      emulator.add_listener("net0-send", () => {
        guest.framesFromGuest++;
      });
    }
    const timeoutMs = options.bootTimeoutMs ?? 180_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      const ready = await Promise.race([
        guest.console.ready,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the v86 guest did not boot in ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      if (loadError) throw loadError;
      guest.release = ready.release;
      guest.interfaces = ready.interfaces;
    } catch (e) {
      await guest.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    guest.bootMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    guest.bootCpuMs = (cpu.user + cpu.system) / 1000;
    return guest;
  }

  /**
   * Count the ne2k's ring drops: v86 (0.5.462, src/ne2k.js `receive`) advances the ring's current
   * page for every frame it stores and returns without a word when the ring is full. This wraps
   * that method of the emulated card (v86's internals, hence the pinned version).
   */
  private watchNe2k(report?: (frame: Uint8Array, stored: boolean) => void): void {
    const card = (this.emulator as unknown as { v86?: { cpu?: { devices?: { net?: Ne2kCard } } } }).v86?.cpu?.devices
      ?.net;
    if (!card || typeof card.receive !== "function") throw new Error("v86's ne2k card is not where it was");
    const receive = card.receive.bind(card);
    card.receive = (frame: Uint8Array) => {
      const before = card.curpg;
      const running = (card.cr & 1) === 0;
      receive(frame);
      if (!running || !card.mac) return;
      let forUs = true;
      let broadcast = true;
      for (let i = 0; i < 6; i++) {
        if (frame[i] !== card.mac[i]) forUs = false;
        if (frame[i] !== 0xff) broadcast = false;
      }
      if (!forUs && !broadcast) return;
      const stored = card.curpg !== before;
      if (stored) this.ne2kStored++;
      else this.ne2kRingDrops++;
      report?.(frame, stored);
    };
  }

  /** Guest instructions executed so far (v86's counter; a load-independent measure of work). */
  instructions(): number {
    return this.emulator.get_instruction_counter();
  }

  /** Hand a frame to the guest's NIC (in-process wiring). */
  deliver(frame: Uint8Array): void {
    if (this.closed) return;
    this.framesToGuest++;
    this.emulator.bus.send("net0-receive", frame);
  }

  /**
   * Run `cmd` with `sh -c` in the guest (stdin /dev/null, stderr into stdout). Commands run one at
   * a time, in call order. Rejects when the guest does not finish it in `timeoutMs`.
   */
  run(cmd: string, options: { timeoutMs?: number } = {}): Promise<RunResult> {
    return this.console.run(cmd, options.timeoutMs);
  }

  /** `run`, throwing with the output when the status is not 0. */
  async check(cmd: string, options: { timeoutMs?: number } = {}): Promise<string> {
    const r = await this.run(cmd, options);
    if (r.status !== 0) throw new Error(`guest: \`${cmd}\` exited ${r.status}:\n${r.output}`);
    return r.output;
  }

  /** Stop the emulator (pending commands are rejected). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.detach?.();
    this.console.close();
    await this.emulator.destroy();
  }
}
