#!/usr/bin/env bash
# Regenerates the real-kernel capture fixtures in test/fixtures/ (classic pcap, written by tcpdump).
#
# Run as root on Linux: `sudo scripts/capture-fixtures.sh`. It makes two network namespaces joined
# by a veth pair (10.77.0.1/24 + fd77::1/64 and 10.77.0.2/24 + fd77::2/64, addresses that exist only
# inside those namespaces), turns off checksum/segmentation offloads so every checksum on the wire is
# real, runs tcpdump in namespace A for each scenario, and deletes the namespaces on exit.
# Traffic never leaves the two namespaces.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=test/fixtures
NS_A=nsfx-a
NS_B=nsfx-b
IF_A=vfx-a
IF_B=vfx-b
WORK=$(mktemp -d)
TCPDUMP_PID=""
SERVER_PID=""

if [ "$(id -u)" -ne 0 ]; then
  echo "capture-fixtures.sh: must run as root (it creates network namespaces)" >&2
  exit 2
fi

need() {
  local missing=()
  for tool in tcpdump ping socat ethtool curl python3 ip; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: tcpdump iputils-ping socat ethtool curl python3 iproute2 (missing: ${missing[*]})" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcpdump iputils-ping socat ethtool curl python3 iproute2 >/dev/null
  fi
}

cleanup() {
  set +e
  [ -n "$TCPDUMP_PID" ] && kill "$TCPDUMP_PID" 2>/dev/null
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  ip netns del "$NS_A" 2>/dev/null
  ip netns del "$NS_B" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

a() { ip netns exec "$NS_A" "$@"; }
b() { ip netns exec "$NS_B" "$@"; }

# start_capture FILE [tcpdump args...] FILTER: tcpdump on A's veth end, writing FILE.
start_capture() {
  local file=$1
  shift
  rm -f "$OUT/$file" "$WORK/tcpdump.err"
  # Not through a() : a backgrounded shell function would be a subshell that inherits the traps.
  ip netns exec "$NS_A" tcpdump -i "$IF_A" -n -s 0 -U --immediate-mode -Z root -w "$OUT/$file" "$@" 2>"$WORK/tcpdump.err" &
  TCPDUMP_PID=$!
  for _ in $(seq 50); do
    # (The file is removed first: otherwise the previous run's text could be read before the redirect.)
    grep -q "listening on" "$WORK/tcpdump.err" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "tcpdump did not start:" >&2
  cat "$WORK/tcpdump.err" >&2
  exit 1
}

stop_capture() {
  sleep 0.5
  kill -INT "$TCPDUMP_PID"
  wait "$TCPDUMP_PID" || true
  TCPDUMP_PID=""
  grep -E "packets captured" "$WORK/tcpdump.err" | sed "s/^/  /" >&2 || true
}

flush_neigh() {
  a ip neigh flush dev "$IF_A"
  b ip neigh flush dev "$IF_B"
}

need
mkdir -p "$OUT"
ip netns del "$NS_A" 2>/dev/null || true
ip netns del "$NS_B" 2>/dev/null || true
ip netns add "$NS_A"
ip netns add "$NS_B"
ip link add "$IF_A" netns "$NS_A" type veth peer name "$IF_B" netns "$NS_B"
for side in A B; do
  if [ $side = A ]; then ns=$NS_A; dev=$IF_A; n=1; else ns=$NS_B; dev=$IF_B; n=2; fi
  ip netns exec "$ns" ip link set lo up
  # No DAD delay: addresses are usable at once (DAD's own NS still goes out for the link-local).
  ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$dev.accept_dad=0"
  ip netns exec "$ns" ip addr add "10.77.0.$n/24" dev "$dev"
  ip netns exec "$ns" ip -6 addr add "fd77::$n/64" dev "$dev" nodad
  # Real checksums and real segment sizes on the wire.
  ip netns exec "$ns" ethtool -K "$dev" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
done

echo "ndp.pcap (router solicitations when the link comes up, then NS/NA)" >&2
a ip link set "$IF_A" up
# NDP only (ICMPv6 types 133-137 right after the fixed header; MLD has a hop-by-hop header).
start_capture ndp.pcap "ip6[6] == 58 and ip6[40] >= 133 and ip6[40] <= 137"
b ip link set "$IF_B" up
sleep 3
flush_neigh
a ping -6 -c 1 -W 2 fd77::2 >/dev/null
stop_capture

echo "arp.pcap" >&2
flush_neigh
start_capture arp.pcap arp
a ping -4 -c 1 -W 2 10.77.0.2 >/dev/null
stop_capture

echo "ping4.pcap / ping6.pcap" >&2
start_capture ping4.pcap icmp
a ping -4 -c 2 -i 0.2 -W 2 10.77.0.2 >/dev/null
stop_capture
start_capture ping6.pcap "icmp6 and (ip6[40] == 128 or ip6[40] == 129)"
a ping -6 -c 2 -i 0.2 -W 2 fd77::2 >/dev/null
stop_capture

echo "ping4-frag.pcap / ping6-frag.pcap (4000-byte echo, fragmented at MTU 1500)" >&2
start_capture ping4-frag.pcap icmp
a ping -4 -c 1 -s 4000 -W 2 10.77.0.2 >/dev/null
stop_capture
# Fragments (next header 44) and whole echo messages.
start_capture ping6-frag.pcap "ip6[6] == 44 or (icmp6 and (ip6[40] == 128 or ip6[40] == 129))"
a ping -6 -c 1 -s 4000 -W 2 fd77::2 >/dev/null
stop_capture

echo "udp.pcap (datagrams both ways, IPv4 and IPv6)" >&2
cat >"$WORK/udp_echo.py" <<'EOF'
import select, socket, sys
s4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s4.bind(("10.77.0.2", 9999))
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s6.bind(("fd77::2", 9999))
print("ready", flush=True)
n = 0
while n < 4:
    r, _, _ = select.select([s4, s6], [], [], 5)
    if not r:
        break
    for s in r:
        data, peer = s.recvfrom(2048)
        s.sendto(data.upper(), peer)
        n += 1
EOF
cat >"$WORK/udp_client.py" <<'EOF'
import socket
for fam, addr in ((socket.AF_INET, "10.77.0.2"), (socket.AF_INET6, "fd77::2")):
    s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(2)
    for msg in (b"hello netstack", b"x" * 300):
        s.sendto(msg, (addr, 9999)); s.recvfrom(2048)
EOF
ip netns exec "$NS_B" python3 "$WORK/udp_echo.py" >"$WORK/udp.out" &
SERVER_PID=$!
for _ in $(seq 50); do grep -q ready "$WORK/udp.out" 2>/dev/null && break; sleep 0.1; done
start_capture udp.pcap udp
a python3 "$WORK/udp_client.py"
stop_capture
wait "$SERVER_PID" || true
SERVER_PID=""

echo "tcp.pcap / tcp6.pcap (HTTP GET over a full connection: SYN with options, data, FIN)" >&2
mkdir -p "$WORK/www"
python3 -c "print('netstack fixture ' * 200)" >"$WORK/www/page.txt"
for v in 4 6; do
  if [ $v = 4 ]; then addr=10.77.0.2; url=http://10.77.0.2:8080/page.txt; file=tcp.pcap; extra=();
  else addr=fd77::2; url="http://[fd77::2]:8080/page.txt"; file=tcp6.pcap; extra=(--time-stamp-precision=nano); fi
  ip netns exec "$NS_B" python3 -m http.server --bind "$addr" --directory "$WORK/www" 8080 >/dev/null 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 50); do
    a curl -s -o /dev/null "$url" 2>/dev/null && break
    sleep 0.1
  done
  start_capture "$file" "${extra[@]}" "tcp port 8080"
  a curl -s -o /dev/null "$url"
  stop_capture
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
done

ls -l "$OUT"/*.pcap >&2
