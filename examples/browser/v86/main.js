// The page script of examples/browser/v86/ (plain JavaScript, bundled by serve.ts with esbuild):
// boots the v86 test guest in the tab with its NIC on the WebSocket relay given in the query
// (`?relay=ws://...`), shows its serial console, and speaks the guest's command protocol
// (scripts/guest/v86/console.ts). `window.v86guest` is what the Chromium test drives: `ready`
// (resolves with the READY line and the boot time) and `run(cmd, timeoutMs)`.
//
// Query: relay=URL (default: the serving host's /relay), nic=ne2k|virtio, kernel=flat|bzimage,
// jit=1 (v86's JIT on; off by default, as in the Node harness), setup=0 (no address at boot).
import { V86 } from "v86";
import { GuestConsole } from "../../../scripts/guest/v86/console.ts";

const q = new URLSearchParams(location.search);
const relay = q.get("relay") ?? `ws://${location.host}/relay`;
const nic = q.get("nic") === "virtio" ? "virtio" : "ne2k";
const kernel = q.get("kernel") === "bzimage" ? "vmlinuz" : "kernel-flat";
const statusEl = document.getElementById("status");
const serialEl = document.getElementById("serial");

const cmdline = await (await fetch("./guest/cmdline")).text();
const t0 = performance.now();
const emulator = new V86({
  wasm_path: "./v86.wasm",
  memory_size: 128 << 20,
  vga_memory_size: 2 << 20,
  bios: { url: "./guest/bios.bin" },
  vga_bios: { url: "./guest/vgabios.bin" },
  bzimage: { url: `./guest/${kernel}` },
  initrd: { url: "./guest/initrd.cpio" },
  cmdline,
  net_device: { type: nic, relay_url: relay },
  autostart: true,
  disable_keyboard: true,
  disable_mouse: true,
  disable_speaker: true,
  disable_jit: q.get("jit") !== "1",
});
const guest = new GuestConsole((text) => emulator.serial0_send(text));
let pendingText = "";
let flushScheduled = false;
emulator.add_listener("serial0-output-byte", (b) => {
  guest.byte(b);
  if (b === 13) return;
  pendingText += String.fromCharCode(b);
  if (!flushScheduled) {
    flushScheduled = true;
    requestAnimationFrame(() => {
      flushScheduled = false;
      serialEl.textContent += pendingText;
      pendingText = "";
      serialEl.scrollTop = serialEl.scrollHeight;
    });
  }
});
statusEl.textContent = `booting (${nic}, ${kernel})…`;

async function run(cmd, timeoutMs) {
  serialEl.textContent += `\n# ${cmd}\n`;
  return guest.run(cmd, timeoutMs);
}

const ready = guest.ready.then(async (r) => {
  const bootMs = performance.now() - t0;
  statusEl.textContent = `guest ${r.release} ready after ${(bootMs / 1000).toFixed(1)} s; interfaces: ${r.interfaces.join(" ")}`;
  if (q.get("setup") !== "0") {
    const up = await run("ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up && ping -c 1 -W 5 10.0.2.2");
    statusEl.textContent += up.status === 0 ? "; 10.0.2.15 reaches the stack" : "; ping failed";
  }
  return { ...r, bootMs };
});

document.getElementById("form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = e.target.elements.namedItem("cmd");
  await ready;
  const r = await run(input.value, 600_000);
  serialEl.textContent += `[exit ${r.status}]\n`;
});

window.v86guest = { ready, run };
