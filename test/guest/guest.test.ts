/**
 * The test guest and its harness against the reference peer, QEMU's own user networking
 * (libslirp): one boot, then the checks. The guest's virtio NIC comes up, udhcpc gets slirp's lease
 * (10.0.2.15/24, router 10.0.2.2, DNS 10.0.2.3), and the command channel returns each command's
 * status, stdout and stderr exactly. Skips with the reason when QEMU or the guest is unavailable.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Guest, guestSkipReason } from "./qemu.ts";

const skip = guestSkipReason();

describe("test guest on QEMU user networking (libslirp)", { skip }, () => {
  let guest: Guest;
  before(async () => {
    guest = await Guest.boot({ net: { type: "user" } });
  });
  after(async () => {
    await guest?.close();
  });

  test("boots and reports its boot time", (t) => {
    t.diagnostic(`boot to command loop: ${(guest.bootMs / 1000).toFixed(1)} s (${guest.accel})`);
    assert.ok(guest.bootMs > 0);
  });

  test("the command channel returns status, stdout and stderr byte-exact", async () => {
    const r = await guest.run("printf 'a\\n\\tb'; printf 'err\\n' >&2; exit 3");
    assert.deepEqual(r, { status: 3, stdout: "a\n\tb", stderr: "err\n" });
    // Commands are queued and answered in order; a multi-line script with quotes survives.
    const [a, b] = await Promise.all([guest.run("echo \"$((6 * 7))\"\necho 'x y'"), guest.run("uname -m")]);
    assert.deepEqual([a.stdout, b.stdout], ["42\nx y\n", "x86_64\n"]);
    const big = await guest.sh("seq 1 20000");
    assert.equal(big.split("\n").length, 20001);
    assert.equal(big.split("\n")[19999], "20000");
  });

  test("the virtio NIC comes up", async () => {
    const driver = await guest.sh("basename $(readlink /sys/class/net/eth0/device/driver)");
    assert.equal(driver.trim(), "virtio_net");
    await guest.sh("ip link set eth0 up");
    assert.equal((await guest.sh("cat /sys/class/net/eth0/address")).trim(), "52:54:00:12:34:56");
  });

  test("udhcpc gets slirp's lease: 10.0.2.15/24, router 10.0.2.2, DNS 10.0.2.3", async () => {
    const out = await guest.sh("udhcpc -i eth0 -n -q -t 5 -T 2", { timeoutMs: 60_000 });
    assert.match(out, /udhcpc: bound ip=10\.0\.2\.15 mask=24 router=10\.0\.2\.2 dns=10\.0\.2\.3/);
    assert.match(await guest.sh("ip -4 addr show dev eth0"), /inet 10\.0\.2\.15\/24/);
    assert.match(await guest.sh("ip route"), /default via 10\.0\.2\.2 dev eth0/);
    assert.equal(await guest.sh("cat /etc/resolv.conf"), "nameserver 10.0.2.3\n");
  });
});
