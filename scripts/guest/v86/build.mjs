#!/usr/bin/env node
// Builds the i386 test guest that v86 boots (test/v86/harness.ts, examples/browser/v86/):
//
//   .cache/v86-guest/vmlinuz       Debian's non-PAE 686 kernel (linux-image-*-686, i386)
//   .cache/v86-guest/initrd.cpio   busybox-static (i386) + the NIC driver modules + init.sh as /init
//   .cache/v86-guest/bios.bin, vgabios.bin   SeaBIOS images from Debian's seabios package
//   .cache/v86-guest/guest.json    what was built from what (the harness reads this)
//
// The two i386 packages come from Debian's archive through apt with a private state directory
// (.cache/v86-guest/apt): i386 package lists without `dpkg --add-architecture`, so the machine's
// own apt configuration is left as it is. Needs apt-get and dpkg-deb (any Debian), the network
// to Debian's archive on the first run, and /usr/share/seabios (apt-get install seabios).
//
// Idempotent: when guest.json says the guest was built by this recipe (this file and init.sh),
// it does nothing. `--force` rebuilds from the downloaded packages; `--update` downloads again.
// Exit 0 on success (prints the directory), 1 with one line on stderr when something is missing.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const args = process.argv.slice(2);
const outArg = args.indexOf("--out");
const out = outArg >= 0 ? args[outArg + 1] : join(root, ".cache", "v86-guest");
const force = args.includes("--force");
const update = args.includes("--update");
const quiet = args.includes("--quiet");

/** The kernel modules the guest loads, in dependency order (init.sh loads them by these names). */
const MODULES = [
  "drivers/net/ethernet/8390/8390.ko",
  "drivers/net/ethernet/8390/ne2k-pci.ko",
  "drivers/virtio/virtio_ring.ko",
  "drivers/virtio/virtio.ko",
  "drivers/virtio/virtio_pci_legacy_dev.ko",
  "drivers/virtio/virtio_pci_modern_dev.ko",
  "drivers/virtio/virtio_pci.ko",
  "net/core/failover.ko",
  "drivers/net/net_failover.ko",
  "drivers/net/virtio_net.ko",
];
const SEABIOS = "/usr/share/seabios";

function fail(msg) {
  console.error(`v86 guest: ${msg}`);
  process.exit(1);
}

function log(msg) {
  if (!quiet) console.error(`v86 guest: ${msg}`);
}

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
  if (r.error) fail(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${argv.join(" ")} failed (${r.status}): ${(r.stderr || "").trim().slice(-800)}`);
  return r.stdout;
}

function sha256(bytes) {
  return createHash("sha256").update(bytes).digest("hex");
}

// One build at a time per directory (test files may start builds in parallel): mkdir is atomic.
const lock = `${out}.lock`;
mkdirSync(dirname(lock), { recursive: true });
for (let waited = 0; ; waited += 500) {
  try {
    mkdirSync(lock);
    break;
  } catch (e) {
    if (e.code !== "EEXIST") throw e;
    // A lock older than 15 minutes is a build that died: take it over.
    if (Date.now() - statSync(lock).mtimeMs > 15 * 60_000) {
      rmSync(lock, { recursive: true, force: true });
      continue;
    }
    if (waited > 15 * 60_000) fail(`${lock} has been held for 15 minutes`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
  }
}
process.on("exit", () => rmSync(lock, { recursive: true, force: true }));

const initScript = readFileSync(join(here, "init.sh"));
const recipe = sha256(Buffer.concat([readFileSync(fileURLToPath(import.meta.url)), initScript]));
const manifestPath = join(out, "guest.json");

if (!force && !update && existsSync(manifestPath)) {
  try {
    const m = JSON.parse(readFileSync(manifestPath, "utf8"));
    if (
      m.recipe === recipe &&
      ["vmlinuz", "kernel-flat", "initrd.cpio", "bios.bin", "vgabios.bin"].every((f) => existsSync(join(out, f)))
    ) {
      log(`up to date in ${out} (${m.kernel.package} ${m.kernel.version})`);
      console.log(out);
      process.exit(0);
    }
  } catch {}
}

for (const tool of ["apt-get", "apt-cache", "dpkg-deb", "xz"]) {
  if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0)
    fail(`${tool} is not installed (a Debian machine is needed)`);
}
for (const f of ["bios.bin", "vgabios-stdvga.bin"]) {
  if (!existsSync(join(SEABIOS, f))) fail(`${SEABIOS}/${f} is missing (apt-get install seabios)`);
}

// --- i386 packages through a private apt state -------------------------------------------------
const apt = join(out, "apt");
const debs = join(out, "debs");
for (const d of [join(apt, "lists", "partial"), join(apt, "cache", "archives", "partial"), debs]) {
  mkdirSync(d, { recursive: true });
}
if (!existsSync(join(apt, "status"))) writeFileSync(join(apt, "status"), "");
const aptOpts = [
  "-q",
  "-o",
  `Dir::State=${apt}`,
  "-o",
  `Dir::State::Lists=${join(apt, "lists")}`,
  "-o",
  `Dir::State::status=${join(apt, "status")}`,
  "-o",
  `Dir::Cache=${join(apt, "cache")}`,
  "-o",
  "APT::Architecture=i386",
  "-o",
  "APT::Architectures::=i386",
];
// As root apt drops to the _apt user, which cannot write into this directory.
if (process.getuid?.() === 0) aptOpts.push("-o", "APT::Sandbox::User=root");

function haveDebs() {
  const names = readdirSync(debs);
  const kernel = names.find((n) => /^linux-image-[0-9].*-686_.*_i386\.deb$/.test(n));
  const busybox = names.find((n) => /^busybox-static_.*_i386\.deb$/.test(n));
  return kernel && busybox ? { kernel: join(debs, kernel), busybox: join(debs, busybox) } : null;
}

let pkgs = update ? null : haveDebs();
if (!pkgs) {
  log("fetching i386 package lists from Debian's archive (private apt state)");
  run("apt-get", [...aptOpts, "update"]);
  // linux-image-686 is the metapackage: it depends on the current linux-image-<abi>-686.
  const deps = run("apt-cache", [...aptOpts, "depends", "linux-image-686"]);
  const m = /Depends:\s*(linux-image-[0-9][^\s]*-686)\b/.exec(deps);
  if (!m) fail(`cannot tell the kernel package from \`apt-cache depends linux-image-686\`: ${deps.trim()}`);
  for (const f of readdirSync(debs)) rmSync(join(debs, f));
  log(`downloading ${m[1]} and busybox-static (i386)`);
  run("apt-get", [...aptOpts, "download", `${m[1]}:i386`, "busybox-static:i386"], { cwd: debs });
  pkgs = haveDebs();
  if (!pkgs) fail(`apt-get download left no kernel or busybox package in ${debs}`);
}

// --- unpack ---------------------------------------------------------------------------------------
const tree = join(out, "tree");
rmSync(tree, { recursive: true, force: true });
mkdirSync(tree, { recursive: true });
run("dpkg-deb", ["-x", pkgs.kernel, tree]);
run("dpkg-deb", ["-x", pkgs.busybox, tree]);
const boot = readdirSync(join(tree, "boot"));
const vmlinuz = boot.find((n) => n.startsWith("vmlinuz-"));
if (!vmlinuz) fail(`no vmlinuz in ${pkgs.kernel}`);
const release = vmlinuz.slice("vmlinuz-".length);
const modDir = join(tree, "lib", "modules", release, "kernel");

// --- the same kernel without its self-decompression ------------------------------------------
// A bzImage is the real-mode setup code followed by a protected-mode part: a decompressor that
// unpacks the XZ-compressed vmlinux (an ELF file) to its load address and jumps to it. Under
// emulation that unpacking is most of the boot (about 2.3 of 2.8 billion guest instructions), so
// the build does it once here: `kernel-flat` is the same setup code followed by a 32-byte stub
// and the vmlinux's loadable segments as one image. The stub copies the image to the segments'
// physical address (where the decompressor would have put it; the kernel is linked for it, so
// there is nothing to relocate) and jumps to the ELF entry with %esi still pointing at
// boot_params: Linux's 32-bit boot protocol entry (Documentation/x86/boot.rst), skipped
// decompressor and all. KASLR is what is lost (the decompressor chose the random offset).
function flatKernel(bz) {
  if (bz.readUInt32LE(0x202) !== 0x53726448) fail("vmlinuz is not a bzImage (no HdrS)");
  const setupBytes = ((bz[0x1f1] || 4) + 1) * 512;
  const code32 = bz.readUInt32LE(0x214);
  const payloadOff = bz.readUInt32LE(0x248);
  const payloadLen = bz.readUInt32LE(0x24c);
  const payload = bz.subarray(setupBytes + payloadOff, setupBytes + payloadOff + payloadLen);
  if (payload.subarray(0, 6).toString("latin1") !== "\xfd7zXZ\0") fail("the bzImage payload is not XZ");
  const x = spawnSync("xz", ["-dc", "--single-stream"], { input: payload, maxBuffer: 256 << 20 });
  if (x.error || x.status !== 0)
    fail(`xz cannot unpack the kernel (apt-get install xz-utils): ${x.error?.message ?? x.stderr}`);
  const elf = x.stdout;
  // ELF32, little-endian, i386 executable: the PT_LOAD segments by physical address.
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 1 || elf[5] !== 1 || elf.readUInt16LE(18) !== 3) {
    fail("the unpacked kernel is not an i386 ELF file");
  }
  const entry = elf.readUInt32LE(24);
  const phoff = elf.readUInt32LE(28);
  const phentsize = elf.readUInt16LE(42);
  const phnum = elf.readUInt16LE(44);
  const loads = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (elf.readUInt32LE(o) !== 1) continue; // PT_LOAD
    loads.push({ off: elf.readUInt32LE(o + 4), paddr: elf.readUInt32LE(o + 12), filesz: elf.readUInt32LE(o + 16) });
  }
  if (loads.length === 0) fail("the unpacked kernel has no loadable segment");
  const base = Math.min(...loads.map((l) => l.paddr));
  const end = Math.max(...loads.map((l) => l.paddr + l.filesz));
  const len = (end - base + 3) & ~3;
  const image = Buffer.alloc(len);
  for (const l of loads) elf.copy(image, l.paddr - base, l.off, l.off + l.filesz);
  const STUB = 32;
  const src = code32 + STUB;
  // The copy runs backwards (std; rep movsd), which is right for any overlap as the image moves up.
  if (base <= src) fail(`the kernel loads at ${base.toString(16)}, below its copy at ${src.toString(16)}`);
  const stub = Buffer.alloc(STUB);
  let o = 0;
  const op = (...bytes) => {
    for (const b of bytes) stub[o++] = b;
  };
  const imm = (v) => {
    stub.writeUInt32LE(v >>> 0, o);
    o += 4;
  };
  op(0x90, 0x90); // nop; nop   (so that the image after the stub is 4-byte aligned)
  op(0x89, 0xf3); // mov ebx, esi   (boot_params)
  op(0xbe);
  imm(src + len - 4); // mov esi, last dword of the copy
  op(0xbf);
  imm(base + len - 4); // mov edi, last dword of the destination
  op(0xb9);
  imm(len / 4); // mov ecx, dwords
  op(0xfd, 0xf3, 0xa5, 0xfc); // std; rep movsd; cld
  op(0x89, 0xde); // mov esi, ebx
  op(0xb8);
  imm(entry); // mov eax, entry
  op(0xff, 0xe0); // jmp eax
  if (o !== STUB) fail("stub length");
  const out = Buffer.concat([bz.subarray(0, setupBytes), stub, image]);
  // syssize: the protected-mode part in 16-byte units.
  out.writeUInt32LE(Math.ceil((out.length - setupBytes) / 16), 0x1f4);
  return { bytes: out, base, entry, imageBytes: len };
}

// --- initramfs (cpio "newc", written here so that /dev/console needs no root) ------------------
/** Entries of a newc archive: directories, files, device nodes; owned by root, mtime 0. */
class Cpio {
  constructor() {
    this.parts = [];
    this.ino = 1;
  }
  #entry(name, mode, data, rdev = [0, 0]) {
    const fields = [this.ino++, mode, 0, 0, 1, 0, data.length, 0, 0, rdev[0], rdev[1], name.length + 1, 0];
    const header = `070701${fields.map((f) => f.toString(16).padStart(8, "0")).join("")}`;
    this.#push(Buffer.from(`${header}${name}\0`, "latin1"));
    this.#push(data);
  }
  #push(b) {
    this.parts.push(b);
    const pad = (4 - (b.length % 4)) % 4;
    if (pad) this.parts.push(Buffer.alloc(pad));
  }
  dir(name) {
    this.#entry(name, 0o040755, Buffer.alloc(0));
  }
  file(name, data, perm = 0o644) {
    this.#entry(name, 0o100000 | perm, data);
  }
  chardev(name, major, minor) {
    this.#entry(name, 0o020600, Buffer.alloc(0), [major, minor]);
  }
  bytes() {
    this.#entry("TRAILER!!!", 0, Buffer.alloc(0));
    return Buffer.concat(this.parts);
  }
}
/**
 * A module without its appended signature (module_signature + PKCS#7 + magic, scripts/sign-file.c):
 * checking the signature is most of what loading a module costs under emulation. Debian's kernel
 * does not enforce signatures (no lockdown here), so it loads the module and marks itself tainted.
 */
function unsigned(ko) {
  const magic = Buffer.from("~Module signature appended~\n", "latin1");
  if (ko.length < magic.length + 12 || !ko.subarray(ko.length - magic.length).equals(magic)) return ko;
  const info = ko.length - magic.length - 12; // struct module_signature: 8 bytes, then sig_len (BE)
  const sigLen = ko.readUInt32BE(info + 8);
  return ko.subarray(0, info - sigLen);
}
const cpio = new Cpio();
for (const d of ["bin", "dev", "lib", "lib/modules", "proc", "sys", "tmp", "sbin", "usr", "usr/bin", "usr/sbin"]) {
  cpio.dir(d);
}
cpio.chardev("dev/console", 5, 1);
cpio.file("init", initScript, 0o755);
cpio.file("bin/busybox", readFileSync(join(tree, "bin", "busybox")), 0o755);
for (const m of MODULES) {
  const p = join(modDir, m);
  if (!existsSync(p)) fail(`${m} is not in ${pkgs.kernel}`);
  cpio.file(`lib/modules/${m.slice(m.lastIndexOf("/") + 1)}`, unsigned(readFileSync(p)));
}
const initrd = cpio.bytes();

// --- write the guest ------------------------------------------------------------------------------
const kernel = readFileSync(join(tree, "boot", vmlinuz));
const flat = flatKernel(kernel);
writeFileSync(join(out, "vmlinuz"), kernel);
writeFileSync(join(out, "kernel-flat"), flat.bytes);
writeFileSync(join(out, "initrd.cpio"), initrd);
copyFileSync(join(SEABIOS, "bios.bin"), join(out, "bios.bin"));
copyFileSync(join(SEABIOS, "vgabios-stdvga.bin"), join(out, "vgabios.bin"));
rmSync(tree, { recursive: true, force: true });
const debVersion = (deb) =>
  `${run("dpkg-deb", ["-f", deb, "Package"]).trim()} ${run("dpkg-deb", ["-f", deb, "Version"]).trim()}`;
const manifest = {
  recipe,
  kernel: { package: debVersion(pkgs.kernel), version: release, sha256: sha256(kernel) },
  flatKernel: {
    bytes: flat.bytes.length,
    loadAddress: `0x${flat.base.toString(16)}`,
    entry: `0x${flat.entry.toString(16)}`,
    sha256: sha256(flat.bytes),
  },
  busybox: { package: debVersion(pkgs.busybox) },
  initrd: { bytes: initrd.length, sha256: sha256(initrd) },
  files: {
    bzimage: "vmlinuz",
    flatKernel: "kernel-flat",
    initrd: "initrd.cpio",
    bios: "bios.bin",
    vgaBios: "vgabios.bin",
  },
};
writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
log(`built in ${out}: kernel ${release} (${kernel.length} B), initrd ${initrd.length} B`);
console.log(out);
