#!/bin/sh
# udhcpc's event script in the test guest (busybox udhcpc -s): configures the interface, the
# default route and /etc/resolv.conf from the lease, and prints what it set.
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast "$broadcast"} dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    if [ -n "$router" ]; then
      ip route del default 2>/dev/null
      for r in $router; do ip route add default via "$r" dev "$interface"; break; done
    fi
    : > /etc/resolv.conf
    [ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    echo "udhcpc: $1 ip=$ip mask=$mask router=$router dns=$dns domain=$domain mtu=$mtu lease=$lease serverid=$serverid"
    ;;
  leasefail|nak)
    echo "udhcpc: $1 $message"
    ;;
esac
exit 0
