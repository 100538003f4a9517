#!/bin/busybox sh
# /init of the v86 test guest (an i386 Linux booted by v86; scripts/guest/v86/build.mjs packs this
# file into its initramfs). It loads the NIC drivers and then runs a command protocol on the first
# serial port, which test/v86/harness.ts speaks:
#
#   host -> guest   "@@CMD <id> <base64 of a shell command>\n"
#   guest -> host   "@@BEGIN <id>\n" <the command's stdout and stderr> "\n@@END <id> <exit status>\n"
#
# The guest announces "@@READY <kernel release> <interfaces>" once it takes commands. Echo is off,
# so the host reads only what commands print. Kernel messages are kept off the console.
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin /run
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
dmesg -n 1
exec </dev/ttyS0 >/dev/ttyS0 2>&1
stty -echo -onlcr 2>/dev/null

# NIC drivers for the card v86 emulates (PCI vendor:device under /sys): ne2k-pci for its
# RTL8029 (10ec:8029), virtio-net for 1af4:1000/1041. Modules load in dependency order.
pci=$(cat /sys/bus/pci/devices/*/vendor /sys/bus/pci/devices/*/device 2>/dev/null | tr '\n' ' ')
mods=
case "$pci" in *0x10ec*) case "$pci" in *0x8029*) mods="8390 ne2k-pci" ;; esac ;; esac
case "$pci" in *0x1af4*) mods="$mods virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net" ;; esac
for m in $mods; do
  insmod "/lib/modules/$m.ko" || echo "init: insmod $m failed"
done
ip link set lo up

ifaces=$(ls /sys/class/net | tr '\n' ' ')
echo "@@READY $(uname -r) $ifaces"
while :; do
  IFS= read -r line || { sleep 1; continue; }
  case "$line" in
    "@@CMD "*) ;;
    *) continue ;;
  esac
  set -- $line
  id=$2
  cmd=$(echo "$3" | base64 -d)
  echo "@@BEGIN $id"
  sh -c "$cmd" </dev/null 2>&1
  rc=$?
  printf '\n@@END %s %s\n' "$id" "$rc"
done
