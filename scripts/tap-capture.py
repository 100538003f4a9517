#!/usr/bin/env python3
# Regenerates the TCP/UDP segment fixtures in src/wire/tcp.test.ts and udp.test.ts: run as root inside a
# network namespace made for it (e.g. `unshare -n python3 scripts/tap-capture.py`); Linux talks over a TAP
# to this script playing the peer, and the frames it captured are printed as hex.
# Run inside a netns: Linux talks over a TAP to this script playing the peer.
import os, fcntl, struct, socket, select, subprocess, time, sys
TUNSETIFF = 0x400454ca
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"tap0", 0x0002 | 0x1000))
PEER_MAC = bytes.fromhex("020000000002")
def sh(c): subprocess.run(c, shell=True, check=True)
sh("sysctl -qw net.ipv6.conf.tap0.accept_ra=0 net.ipv6.conf.tap0.router_solicitations=0 net.ipv6.conf.tap0.dad_transmits=0 || true")
sh("ip link set tap0 address 02:00:00:00:00:01 up")
sh("ip addr add 10.9.0.1/24 dev tap0")
sh("ip -6 addr add 2001:db8::1/64 dev tap0 nodad")
sh("ip neigh add 10.9.0.2 lladdr 02:00:00:00:00:02 dev tap0 nud permanent")
sh("ip -6 neigh add 2001:db8::2 lladdr 02:00:00:00:00:02 dev tap0 nud permanent")
time.sleep(0.3)
LOCAL_MAC = bytes.fromhex("020000000001")
out = []
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b)//2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def rd(timeout=1.0):
    """next TCP/UDP frame from Linux, or None"""
    end = time.time() + timeout
    while True:
        r, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if not r: return None
        f = os.read(fd, 65535)
        et = f[12:14]
        if et == b"\x08\x00" and f[23] in (6, 17): return f
        if et == b"\x86\xdd" and f[20] in (6, 17): return f
def rec(name, f):
    out.append((name, f)); print(name, len(f), f.hex(), flush=True)
def tcp_frame(v6, src, dst, sport, dport, seq, ack, flags, win, opts=b"", payload=b""):
    hl = 20 + len(opts)
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (hl // 4) << 4, flags, win, 0, 0) + opts
    seg = h + payload
    if v6:
        ph = src + dst + struct.pack("!I3xB", len(seg), 6)
    else:
        ph = src + dst + struct.pack("!BBH", 0, 6, len(seg))
    c = csum(ph + seg)
    seg = seg[:16] + struct.pack("!H", c) + seg[18:]
    if v6:
        ip = struct.pack("!IHBB", 0x60000000, len(seg), 6, 64) + src + dst
        return LOCAL_MAC + PEER_MAC + b"\x86\xdd" + ip + seg
    ip = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(seg), 0x1234, 0x4000, 64, 6, 0) + src + dst
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return LOCAL_MAC + PEER_MAC + b"\x08\x00" + ip + seg
def tcp_of(f):
    if f[12:14] == b"\x86\xdd": return f[54:]
    ihl = (f[14] & 15) * 4
    return f[14 + ihl:]

def scenario(v6):
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    tag = "v6" if v6 else "v4"
    me = socket.inet_pton(fam, "2001:db8::1" if v6 else "10.9.0.1")
    peer = socket.inet_pton(fam, "2001:db8::2" if v6 else "10.9.0.2")
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.setblocking(False)
    try: c.connect(("2001:db8::2" if v6 else "10.9.0.2", 80))
    except BlockingIOError: pass
    syn = rd(); rec(tag + "_syn", syn)
    t = tcp_of(syn); sport = struct.unpack("!H", t[0:2])[0]; iss = struct.unpack("!I", t[4:8])[0]
    # find TS in syn options
    o = t[20:(t[12] >> 4) * 4]; i = 0; lts = 0
    while i < len(o):
        if o[i] == 0: break
        if o[i] == 1: i += 1; continue
        if o[i] == 8: lts = struct.unpack("!I", o[i+2:i+6])[0]
        i += o[i+1]
    mss = 1440 if v6 else 1460
    ps = 0x10000000; pts = 5000
    opts = struct.pack("!BBH", 2, 4, mss) + b"\x04\x02" + struct.pack("!BBII", 8, 10, pts, lts) + b"\x01\x03\x03\x07"
    os.write(fd, tcp_frame(v6, peer, me, 80, sport, ps, iss + 1, 0x12, 65160, opts))
    ack = rd(); rec(tag + "_ack", ack)
    c.send(b"GET / HTTP/1.0\r\n\r\n")
    data = rd(); rec(tag + "_data", data)
    t = tcp_of(data); lts = struct.unpack("!I", t[24:28])[0]
    dl = len(t) - (t[12] >> 4) * 4
    # out-of-order segments from the peer: Linux answers with SACK blocks
    ts = b"\x01\x01" + struct.pack("!BBII", 8, 10, pts + 1, lts)
    os.write(fd, tcp_frame(v6, peer, me, 80, sport, ps + 1 + 100, iss + 1 + dl, 0x18, 509, ts, b"B" * 100))
    s1 = rd(); rec(tag + "_sack1", s1)
    os.write(fd, tcp_frame(v6, peer, me, 80, sport, ps + 1 + 300, iss + 1 + dl, 0x18, 509, ts, b"D" * 100))
    s2 = rd(); rec(tag + "_sack2", s2)
    c.close()
    while True:
        f = rd(0.3)
        if f is None: break
        rec(tag + "_after", f)

def synack(v6):
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    tag = "v6" if v6 else "v4"
    me = socket.inet_pton(fam, "2001:db8::1" if v6 else "10.9.0.1")
    peer = socket.inet_pton(fam, "2001:db8::2" if v6 else "10.9.0.2")
    l = socket.socket(fam, socket.SOCK_STREAM); l.bind(("", 8080)); l.listen()
    opts = struct.pack("!BBH", 2, 4, 1460) + b"\x04\x02" + struct.pack("!BBII", 8, 10, 777, 0) + b"\x01\x03\x03\x07"
    os.write(fd, tcp_frame(v6, peer, me, 43000, 8080, 1000, 0, 0x02, 64240, opts))
    rec(tag + "_synack", rd())
    l.close()
    while rd(0.2) is not None: pass

def udp(v6):
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    tag = "v6" if v6 else "v4"
    u = socket.socket(fam, socket.SOCK_DGRAM); u.bind(("", 5353 if v6 else 5300))
    u.sendto(b"netstack udp\n", ("2001:db8::2" if v6 else "10.9.0.2", 9999))
    rec(tag + "_udp", rd())

scenario(False); scenario(True); synack(False); synack(True); udp(False); udp(True)
with open(sys.argv[1], "w") as fo:
    for n, f in out: fo.write(n + " " + f.hex() + "\n")
