#!/bin/busybox sh
# PID 1 of the netstack test guest (built by scripts/guest/build.mjs; the harness is test/guest/qemu.ts).
#
# Mounts the kernel file systems, loads the NIC modules listed in /etc/modules.order (virtio_net and
# what it depends on), brings lo up, and serves the command protocol on the second serial port
# (/dev/ttyS1; the kernel's console stays on ttyS0, so its messages never mix with command output):
#
#   host -> guest:  ID BASE64\n        (the command text, base64: any bytes, newlines included)
#   guest -> host:  @@READY RELEASE\n  (once, when the loop starts)
#                   @@OUT ID NOUT NERR\n, then NOUT bytes of stdout and NERR bytes of stderr,
#                   then @@END ID STATUS\n
#
# Each command runs as `sh -c` with stdin from /dev/null, to completion (background jobs it starts
# keep running). The line is read in raw mode without echo, so nothing is altered on the way.
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /root /etc /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
# Only emergencies on the console from now on (the harness logs ttyS0 anyway).
echo 1 > /proc/sys/kernel/printk
for m in $(cat /etc/modules.order); do
  insmod "/lib/modules/$m.ko" || echo "init: insmod $m failed" > /dev/console
done
ip link set lo up
hostname guest
export PATH=/usr/bin:/usr/sbin:/bin:/sbin HOME=/root
cd /root

tty=/dev/ttyS1
[ -c "$tty" ] || tty=/dev/ttyS0
stty -F "$tty" raw -echo 115200
exec 0<"$tty" 1>"$tty" 2>/dev/console
echo "@@READY $(uname -r)"
while read -r id b64; do
  [ -n "$id" ] || continue
  echo "$b64" | base64 -d > /tmp/.cmd
  sh /tmp/.cmd </dev/null >/tmp/.out 2>/tmp/.err
  rc=$?
  echo "@@OUT $id $(wc -c </tmp/.out) $(wc -c </tmp/.err)"
  cat /tmp/.out /tmp/.err
  echo "@@END $id $rc"
done
poweroff -f
