#!/usr/bin/env node
// Builds the tiny Linux guest of the QEMU tests and benchmarks (test/guest/qemu.ts boots it):
// Debian's kernel (the linux-image-amd64 that apt resolves; its ELF image is extracted from the
// bzImage for QEMU's PVH boot) and busybox-static, fetched with `apt-get download`, and an
// initramfs (cpio newc, uncompressed) holding:
//   /init                       scripts/guest/init.sh: mounts, NIC modules, the serial command protocol
//   /bin/busybox                udhcpc, ip, wget, nc, ping, ... (links made by the init)
//   /lib/modules/*.ko           virtio_pci, virtio_net and what they depend on (their .modinfo "depends=")
//   /etc/udhcpc/default.script  scripts/guest/udhcpc.sh (and a link from /usr/share/udhcpc/)
//   /usr/bin/{curl,socat,iperf3}     the host's binaries with the shared libraries ldd lists
//   /usr/bin/nsperf             scripts/guest/nsperf.c, built static with the host's C compiler
//
// The result lives in .cache/guest/<key>/ (gitignored), where the key hashes these sources: a second
// run finds it and returns at once. Concurrent runs wait for each other (a lock directory).
//
// Usage: node scripts/guest/build.mjs [--force] [--json] [--quiet]
//   --json   print the manifest (kernel, initrd, nsperf paths, kernel release, tools) on stdout
// Environment: NETSTACK_GUEST_DIR (cache directory), NETSTACK_GUEST_TOOLS (host binaries to copy,
// comma-separated; default curl,socat,iperf3; missing ones are left out with a warning),
// NETSTACK_GUEST_KERNEL (a linux-image-* package name instead of linux-image-amd64's dependency).
// Needs: apt-get and dpkg-deb (Debian), ldd; xz (the kernel's compression; without it the bzImage is
// booted, slower); a C compiler (cc/gcc) with static libc for nsperf.
// Exit status 0 built or cached, 1 cannot build (the reason on stderr, and in the JSON as "error").
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

const here = new URL(".", import.meta.url).pathname;
const root = join(here, "..", "..");
const args = new Set(process.argv.slice(2));
const json = args.has("--json");
const quiet = args.has("--quiet") || json;
const cacheRoot = process.env.NETSTACK_GUEST_DIR || join(root, ".cache", "guest");
const tools = (process.env.NETSTACK_GUEST_TOOLS ?? "curl,socat,iperf3").split(",").filter(Boolean);
/** The modules the guest loads (with their dependencies, first). */
const WANTED_MODULES = ["virtio_pci", "virtio_net"];
const SOURCES = ["build.mjs", "init.sh", "udhcpc.sh", "nsperf.c"];

const t0 = performance.now();
function log(msg) {
  if (!quiet) console.error(`guest: ${msg}`);
}

class BuildError extends Error {}

function fail(message) {
  if (json) console.log(JSON.stringify({ error: message }));
  console.error(`guest: cannot build the test guest: ${message}`);
  process.exit(1);
}

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: opts.encoding ?? "utf8", maxBuffer: 1 << 28, ...opts });
  if (r.error) throw new BuildError(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    const err = String(r.stderr ?? "")
      .trim()
      .split("\n")
      .filter((l) => !l.startsWith("W: "))
      .slice(-3)
      .join(" | ");
    throw new BuildError(`${cmd} ${argv.join(" ")} failed (${r.status ?? r.signal}): ${err}`);
  }
  return r.stdout;
}

function have(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).stdout.trim() || null;
}

function cacheKey() {
  const h = createHash("sha256");
  for (const f of SOURCES) h.update(readFileSync(join(here, f)));
  h.update(`${tools.join(",")}|${process.env.NETSTACK_GUEST_KERNEL ?? ""}|${process.arch}`);
  return h.digest("hex").slice(0, 16);
}

// ---- the lock: one builder at a time; others wait for its result ----

const lockDir = join(cacheRoot, ".lock");

async function withLock(fn) {
  mkdirSync(cacheRoot, { recursive: true });
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
      // A lock older than ten minutes belongs to a builder that died.
      try {
        if (Date.now() - statSync(lockDir).mtimeMs > 10 * 60_000) rmSync(lockDir, { recursive: true, force: true });
      } catch {}
      if (Date.now() > deadline) throw new BuildError(`${lockDir} is held by another build`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

// ---- Debian packages ----

function aptDownload(pkg, dir) {
  mkdirSync(dir, { recursive: true });
  run("apt-get", ["download", "-q", pkg], { cwd: dir });
  const name = pkg.split("=")[0];
  const debs = readdirSync(dir)
    .filter((f) => f.startsWith(`${name}_`) && f.endsWith(".deb"))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (debs.length === 0) throw new BuildError(`apt-get download ${pkg} produced no .deb`);
  // Older versions of the package are of no use any more.
  for (const old of debs.slice(1)) rmSync(old, { force: true });
  return debs[0];
}

function debField(deb, field) {
  return run("dpkg-deb", ["-f", deb, field]).trim();
}

/** The kernel image package: NETSTACK_GUEST_KERNEL, or what linux-image-amd64 depends on. */
function kernelPackage(dir) {
  if (process.env.NETSTACK_GUEST_KERNEL) return process.env.NETSTACK_GUEST_KERNEL;
  const meta = aptDownload("linux-image-amd64", dir);
  const dep = /(linux-image-[^\s,|(]+)(?:\s*\(=\s*([^)]+)\))?/.exec(debField(meta, "Depends"));
  if (dep === null) throw new BuildError(`linux-image-amd64 depends on no linux-image package`);
  return dep[2] ? `${dep[1]}=${dep[2]}` : dep[1];
}

// ---- kernel modules ----

/** Every module file under lib/modules/<release>/kernel, by module name ('-' as '_'). */
function moduleIndex(modRoot) {
  const index = new Map();
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ko")) index.set(e.name.slice(0, -3).replaceAll("-", "_"), p);
    }
  };
  walk(join(modRoot, "kernel"));
  return index;
}

/** The "depends=" field of a module's .modinfo section. */
function moduleDepends(file) {
  const bytes = readFileSync(file);
  const at = bytes.indexOf("\0depends=");
  if (at < 0) return [];
  const end = bytes.indexOf(0, at + 1);
  return bytes
    .subarray(at + 9, end)
    .toString("latin1")
    .split(",")
    .filter(Boolean)
    .map((m) => m.replaceAll("-", "_"));
}

/** The wanted modules and their dependencies, each after what it needs. Built-ins are skipped. */
function moduleOrder(modRoot) {
  const index = moduleIndex(modRoot);
  const builtin = new Set(
    existsSync(join(modRoot, "modules.builtin"))
      ? readFileSync(join(modRoot, "modules.builtin"), "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => basename(l, ".ko").replaceAll("-", "_"))
      : [],
  );
  const order = [];
  const seen = new Set();
  const visit = (name, chain) => {
    if (seen.has(name) || builtin.has(name)) return;
    const file = index.get(name);
    if (file === undefined)
      throw new BuildError(`module ${name} (needed by ${chain.join(" <- ")}) is not in the kernel package`);
    seen.add(name);
    for (const d of moduleDepends(file)) visit(d, [d, ...chain]);
    order.push({ name, file });
  };
  for (const m of WANTED_MODULES) visit(m, [m]);
  return order;
}

// ---- host binaries and their libraries ----

/** A host binary and the shared libraries `ldd` lists for it (absolute paths, as the loader looks them up). */
function hostBinary(name) {
  const path = have(name);
  if (path === null) return null;
  const libs = [];
  const out = spawnSync("ldd", [path], { encoding: "utf8" });
  if (out.status === 0) {
    for (const line of out.stdout.split("\n")) {
      const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
      if (m !== null) libs.push(m[1]);
    }
  }
  return { path, libs };
}

// ---- the kernel image ----

/** Compressed payloads a bzImage may carry, with how to inflate each. */
const PAYLOADS = [
  { name: "xz", magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], cmd: "xz", args: ["-dc", "--single-stream"] },
  { name: "zstd", magic: [0x28, 0xb5, 0x2f, 0xfd], cmd: "zstd", args: ["-dcq"] },
  { name: "gzip", magic: [0x1f, 0x8b, 0x08], cmd: "gzip", args: ["-dc"] },
];

/**
 * The uncompressed ELF kernel inside a bzImage (what the kernel's scripts/extract-vmlinux does), or
 * null with a warning. QEMU boots an ELF kernel with a PVH note directly (x86 PVH boot), skipping
 * the firmware's load and the in-guest decompression: about 9 s less per boot under TCG here.
 */
function extractVmlinux(bzImage) {
  for (const p of PAYLOADS) {
    const at = bzImage.indexOf(Buffer.from(p.magic));
    if (at < 0) continue;
    if (have(p.cmd) === null) {
      console.error(
        `guest: warning: the kernel is ${p.name}-compressed and ${p.cmd} is missing: booting the bzImage (slower)`,
      );
      return null;
    }
    const r = spawnSync(p.cmd, p.args, { input: bzImage.subarray(at), maxBuffer: 1 << 30 });
    const elf = r.stdout;
    if (elf && elf.length > 4 && elf[0] === 0x7f && elf.toString("latin1", 1, 4) === "ELF") return elf;
  }
  console.error("guest: warning: no ELF kernel found in the bzImage: booting the bzImage (slower)");
  return null;
}

// ---- cpio newc ----

/** A cpio "newc" archive (what the kernel unpacks as initramfs), written without root. */
class Cpio {
  parts = [];
  ino = 1;
  names = new Set();

  entry(name, mode, data = new Uint8Array(0), rdev = [0, 0]) {
    if (this.names.has(name)) return;
    this.names.add(name);
    const nameBytes = Buffer.from(`${name}\0`);
    const hex = (n) => n.toString(16).padStart(8, "0");
    const fields = [this.ino++, mode, 0, 0, 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0];
    const head = Buffer.from(`070701${fields.map(hex).join("")}`);
    this.parts.push(head, nameBytes, pad(head.length + nameBytes.length));
    this.parts.push(data, pad(data.length));
  }

  dir(name) {
    const segs = name.split("/");
    for (let i = 1; i <= segs.length; i++) this.entry(segs.slice(0, i).join("/"), 0o040755);
  }

  file(name, data, mode = 0o100644) {
    this.dir(dirname(name));
    this.entry(name, mode, data);
  }

  finish() {
    this.entry("TRAILER!!!", 0);
    return Buffer.concat(this.parts);
  }
}

function pad(n) {
  return new Uint8Array((4 - (n % 4)) % 4);
}

// ---- the build ----

function build(outDir) {
  for (const t of ["apt-get", "dpkg-deb"]) {
    if (have(t) === null) throw new BuildError(`${t} is not installed (the guest is built from Debian packages)`);
  }
  const work = `${outDir}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const debs = join(cacheRoot, "debs");
    const kpkg = kernelPackage(debs);
    log(`downloading ${kpkg} and busybox-static`);
    const kdeb = aptDownload(kpkg, debs);
    const bdeb = aptDownload("busybox-static", debs);
    const kdir = join(work, "pkg-kernel");
    const bdir = join(work, "pkg-busybox");
    run("dpkg-deb", ["-x", kdeb, kdir]);
    run("dpkg-deb", ["-x", bdeb, bdir]);
    const vmlinuz = readdirSync(join(kdir, "boot")).find((f) => f.startsWith("vmlinuz-"));
    if (vmlinuz === undefined) throw new BuildError(`${basename(kdeb)} holds no boot/vmlinuz-*`);
    const release = vmlinuz.slice("vmlinuz-".length);
    const modRoot = join(kdir, "lib", "modules", release);
    const modules = moduleOrder(modRoot);

    const cpio = new Cpio();
    for (const d of ["dev", "proc", "sys", "tmp", "run", "root", "etc", "bin", "sbin", "usr/bin", "usr/sbin"]) {
      cpio.dir(d);
    }
    // The kernel opens /dev/console for init before anything is mounted.
    cpio.entry("dev/console", 0o020600, new Uint8Array(0), [5, 1]);
    cpio.file("init", readFileSync(join(here, "init.sh")), 0o100755);
    cpio.file("bin/busybox", readFileSync(join(bdir, "bin", "busybox")), 0o100755);
    cpio.entry("bin/sh", 0o120777, Buffer.from("busybox"));
    // Debian's busybox looks for /etc/udhcpc/default.script; upstream's default is under /usr/share.
    cpio.file("etc/udhcpc/default.script", readFileSync(join(here, "udhcpc.sh")), 0o100755);
    cpio.dir("usr/share/udhcpc");
    cpio.entry("usr/share/udhcpc/default.script", 0o120777, Buffer.from("/etc/udhcpc/default.script"));
    cpio.file("etc/hosts", Buffer.from("127.0.0.1 localhost\n::1 localhost\n"));
    cpio.file("etc/passwd", Buffer.from("root:x:0:0:root:/root:/bin/sh\n"));
    cpio.file("etc/group", Buffer.from("root:x:0:\n"));
    cpio.file("etc/nsswitch.conf", Buffer.from("hosts: files dns\n"));
    cpio.file("etc/resolv.conf", Buffer.from(""));
    for (const m of modules) cpio.file(`lib/modules/${m.name}.ko`, readFileSync(m.file));
    cpio.file("etc/modules.order", Buffer.from(`${modules.map((m) => m.name).join("\n")}\n`));

    const present = {};
    for (const t of tools) {
      const b = hostBinary(t);
      if (b === null) {
        console.error(`guest: warning: ${t} is not installed on the host: the guest will not have it`);
        present[t] = false;
        continue;
      }
      cpio.file(`usr/bin/${t}`, readFileSync(b.path), 0o100755);
      for (const lib of b.libs) cpio.file(lib.slice(1), readFileSync(realpathSync(lib)), 0o100755);
      present[t] = true;
    }

    let nsperf = null;
    const cc = have("cc") ?? have("gcc");
    if (cc === null) {
      console.error("guest: warning: no C compiler: nsperf (the benchmark's traffic tool) is not built");
    } else {
      const exe = join(work, "nsperf");
      const r = spawnSync(cc, ["-static", "-O2", "-o", exe, join(here, "nsperf.c"), "-lpthread"], { encoding: "utf8" });
      if (r.status !== 0) {
        console.error(`guest: warning: nsperf does not build (${r.stderr.trim().split("\n").slice(-1)[0]}): left out`);
      } else {
        cpio.file("usr/bin/nsperf", readFileSync(exe), 0o100755);
        nsperf = "nsperf";
      }
    }
    present.nsperf = nsperf !== null;

    // Uncompressed: under TCG the kernel inflating a gzip initramfs costs more than QEMU copying
    // the larger file into guest memory (about 4 s per boot here).
    const initrd = cpio.finish();
    const bz = readFileSync(join(kdir, "boot", vmlinuz));
    const elf = extractVmlinux(bz);
    writeFileSync(join(work, "kernel"), elf ?? bz);
    writeFileSync(join(work, "initrd.cpio"), initrd);
    const manifest = {
      kernelPackage: `${debField(kdeb, "Package")}=${debField(kdeb, "Version")}`,
      busybox: debField(bdeb, "Version"),
      release,
      modules: modules.map((m) => m.name),
      tools: present,
      kernelFormat: elf !== null ? "elf (PVH boot)" : "bzImage",
      initrdBytes: initrd.length,
    };
    writeFileSync(join(work, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    rmSync(kdir, { recursive: true, force: true });
    rmSync(bdir, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
    renameSync(work, outDir);
    log(
      `built ${release}, ${(initrd.length / 1e6).toFixed(1)} MB initramfs (${modules.map((m) => m.name).join(" ")}) ` +
        `in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
}

function describe(outDir) {
  const m = JSON.parse(readFileSync(join(outDir, "manifest.json"), "utf8"));
  return {
    ...m,
    kernel: join(outDir, "kernel"),
    initrd: join(outDir, "initrd.cpio"),
    nsperf: m.tools.nsperf ? join(outDir, "nsperf") : null,
  };
}

async function main() {
  if (process.platform !== "linux" || process.arch !== "x64") {
    fail(`the guest is x86-64 Linux (this is ${process.platform}/${process.arch})`);
  }
  const key = cacheKey();
  const outDir = join(cacheRoot, key);
  const done = () => existsSync(join(outDir, "manifest.json"));
  if (!done() || args.has("--force")) {
    await withLock(() => {
      if (done() && !args.has("--force")) return;
      build(outDir);
      // Older builds (other keys) are stale.
      for (const d of readdirSync(cacheRoot)) {
        if (/^[0-9a-f]{16}$/.test(d) && d !== key) rmSync(join(cacheRoot, d), { recursive: true, force: true });
      }
    });
  } else {
    log(`cached in ${outDir}`);
  }
  const info = describe(outDir);
  if (json) console.log(JSON.stringify(info));
  else log(`kernel ${info.kernel}, initrd ${info.initrd}`);
}

main().catch((e) => fail(e instanceof BuildError ? e.message : String(e?.stack ?? e)));
