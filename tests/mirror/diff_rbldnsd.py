#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Differential test helper: generates rbldnsd data and queries, then compares two servers' answers.
"""
gen DIR SEED      writes DIR/set.ip4set, DIR/set.ip6tset, DIR/queries.txt
run DIR PORT_A PORT_B ZONE
                  sends every query to both servers over UDP (windowed, with
                  retries), compares rcode and the A and TXT data, prints a
                  summary and exits 1 on any difference or unanswered query.
"""
import ipaddress
import random
import socket
import sys
import time

import struct

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
QTYPES = {"A": 1, "TXT": 16}


def gen(d, seed):
    rnd = random.Random(seed)
    used16 = set()
    lines = [":127.0.0.2:Default $ listed"]
    queries = []  # (name-ish address, type)

    def fresh16():
        while True:
            a = rnd.randrange(11, 223)
            b = rnd.randrange(0, 256)
            if a in (10, 127) or (a, b) in used16:
                continue
            used16.add((a, b))
            return a, b

    def q(addr):
        for t in ("A", "TXT"):
            queries.append((addr, t))

    def val():
        k = rnd.randrange(6)
        n = rnd.randrange(2, 12)
        if k == 0:
            return ""
        if k == 1:
            return " :%d" % n
        if k == 2:
            return " :%d:" % n
        if k == 3:
            return " :127.0.0.%d:Entry $ code %d" % (n, n)
        if k == 4:
            return " Text only for $"
        return " :%d:Dollar $$ and $ twice $" % n

    # single addresses, one per /16 region share is fine: they never overlap ranges
    singles16 = [fresh16() for _ in range(300)]
    for (a, b) in singles16:
        for _ in range(60):
            ip = "%d.%d.%d.%d" % (a, b, rnd.randrange(256), rnd.randrange(256))
            lines.append(ip + val())
    seen = set()
    uniq = [lines[0]]
    for l in lines[1:]:
        ip = l.split()[0]
        if ip in seen:
            continue
        seen.add(ip)
        uniq.append(l)
        q(ip)
        o = list(map(int, ip.split(".")))
        o[3] ^= 1
        q(".".join(map(str, o)))
    lines = uniq
    # CIDR ranges of every length 8..31 in their own /16 (or /8), with edges and exclusions
    for _ in range(400):
        a, b = fresh16()
        ln = rnd.choice([16, 17, 19, 20, 21, 23, 24, 24, 24, 25, 26, 27, 28, 29, 30, 31])
        base = (a << 24) | (b << 16) | (rnd.randrange(1 << 16) & ~((1 << (32 - ln)) - 1) & 0xffff)
        net = ipaddress.ip_network((base, ln))
        lines.append("%s%s" % (net, val()))
        first, last = int(net.network_address), int(net.broadcast_address)
        for x in (first, last, first - 1, last + 1, rnd.randrange(first, last + 1)):
            q(str(ipaddress.ip_address(x & 0xffffffff)))
        if ln <= 28:
            ex = rnd.randrange(first, last + 1)
            lines.append("!%s" % ipaddress.ip_address(ex))
            for x in (ex, ex - 1, ex + 1):
                if first <= x <= last:
                    q(str(ipaddress.ip_address(x)))
        if ln <= 20:
            # an excluded /24 inside, and a listed /32 inside that exclusion
            sub = (rnd.randrange(first, last + 1)) & ~0xff
            lines.append("!%s/24" % ipaddress.ip_address(sub))
            inner = sub | rnd.randrange(256)
            lines.append("%s :9:Inner $" % ipaddress.ip_address(inner))
            for x in (sub, sub + 255, inner, inner ^ 1):
                q(str(ipaddress.ip_address(x)))
    # ranges in a-b syntax
    for _ in range(100):
        a, b = fresh16()
        lo = (a << 24) | (b << 16) | rnd.randrange(1 << 16)
        hi = min(lo + rnd.randrange(1, 3000), (a << 24) | (b << 16) | 0xffff)
        lines.append("%s-%s%s" % (ipaddress.ip_address(lo), ipaddress.ip_address(hi), val()))
        for x in (lo, hi, lo - 1, hi + 1, rnd.randrange(lo, hi + 1)):
            q(str(ipaddress.ip_address(x)))
    # random addresses anywhere
    for _ in range(12000):
        a = rnd.randrange(1, 224)
        if a in (10, 127):
            continue
        q("%d.%d.%d.%d" % (a, rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    with open(d + "/set.ip4set", "w") as f:
        f.write("\n".join(lines) + "\n")
    # IPv6: ip6tset /64 entries and /128 exclusions
    v6 = [":127.0.0.3:IPv6 $ listed"]
    for _ in range(2000):
        p = (0x20010db8 << 32) | rnd.randrange(1 << 32)
        net = ipaddress.IPv6Network((p << 64, 64))
        w = net.network_address.exploded.split(":")[:4]
        v6.append(":".join(w))
        inside = int(net.network_address) | rnd.randrange(1 << 64)
        q(str(ipaddress.ip_address(inside)))
        q(str(ipaddress.ip_address(inside ^ (1 << 64))))
        # runs of zero groups: the TXT '$' must print them as rbldnsd does (RFC 5952 "::")
        q(str(ipaddress.ip_address(int(net.network_address) | rnd.choice((0, 1, 1 << 32 | 1, 1 << 48)))))
        if rnd.randrange(4) == 0:
            ex = int(net.network_address) | rnd.randrange(1 << 64)
            v6.append("!" + ipaddress.ip_address(ex).exploded)
            q(str(ipaddress.ip_address(ex)))
    with open(d + "/set.ip6tset", "w") as f:
        f.write("\n".join(v6) + "\n")
    rnd.shuffle(queries)
    with open(d + "/queries.txt", "w") as f:
        for addr, t in queries:
            f.write("%s %s\n" % (addr, t))
    print("generated %d ip4 lines, %d ip6 lines, %d queries" % (len(lines), len(v6), len(queries)))


def rev(addr):
    r = ipaddress.ip_address(addr).reverse_pointer
    return r[: -len(".in-addr.arpa")] if r.endswith(".in-addr.arpa") else r[: -len(".ip6.arpa")]


def ask_all(port, wires, window=32, timeout=0.5):
    """Sends every query (ids are indices mod 65536 + a per-window tag), returns responses."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.settimeout(timeout)
    out = [None] * len(wires)
    todo = list(range(len(wires)))
    for attempt in range(4):
        missing = []
        for start in range(0, len(todo), window):
            chunk = todo[start:start + window]
            pending = {}
            for i in chunk:
                qid = i & 0xffff
                pending[qid] = i
                w = bytearray(wires[i])
                w[0], w[1] = qid >> 8, qid & 0xff
                s.sendto(bytes(w), ("127.0.0.1", port))
            deadline = time.time() + timeout
            while pending and time.time() < deadline:
                try:
                    data = s.recv(65535)
                except socket.timeout:
                    break
                qid = data[0] << 8 | data[1]
                i = pending.pop(qid, None)
                if i is not None:
                    out[i] = data
            missing.extend(pending.values())
        todo = missing
        if not todo:
            break
    return out


def make_query(name, qtype):
    """A plain query without EDNS (dnspython is too slow for 200k messages)."""
    q = struct.pack(">HHHHHH", 0, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", QTYPES[qtype], 1)


def skip_name(w, off):
    while True:
        n = w[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n


def summarize(w):
    """(rcode, set of A addresses, set of TXT strings) of a response."""
    flags, qd, an = struct.unpack(">HHH", w[2:8])
    off = 12
    for _ in range(qd):
        off = skip_name(w, off) + 4
    a, txt = set(), set()
    for _ in range(an):
        off = skip_name(w, off)
        t, c, ttl, rdlen = struct.unpack(">HHIH", w[off:off + 10])
        off += 10
        rd = w[off:off + rdlen]
        off += rdlen
        if t == 1:
            a.add(".".join(str(x) for x in rd))
        elif t == 16:
            i, parts = 0, []
            while i < len(rd):
                parts.append(rd[i + 1:i + 1 + rd[i]])
                i += 1 + rd[i]
            txt.add(b"".join(parts))
    return RCODES.get(flags & 15, str(flags & 15)), a, txt


def run(d, pa, pb, zone):
    qs = []
    with open(d + "/queries.txt") as f:
        for line in f:
            addr, t = line.split()
            qs.append((addr, t))
    wires = [make_query(rev(addr) + "." + zone, t)
             for addr, t in qs]
    t0 = time.time()
    ra = ask_all(pa, wires)
    rb = ask_all(pb, wires)
    diffs = 0
    unanswered = 0
    kinds = {}
    for i, (addr, t) in enumerate(qs):
        if ra[i] is None or rb[i] is None:
            unanswered += 1
            if unanswered <= 5:
                print("unanswered: %s %s (a=%s b=%s)" % (addr, t, ra[i] is not None, rb[i] is not None))
            continue
        sa, sb = summarize(ra[i]), summarize(rb[i])
        kinds[(sa[0], t, bool(sa[1] or sa[2]))] = kinds.get((sa[0], t, bool(sa[1] or sa[2])), 0) + 1
        if sa != sb:
            diffs += 1
            if diffs <= 20:
                print("DIFF %s %s: blsync=%s rbldnsd=%s" % (addr, t, sa, sb))
    print("queries=%d differences=%d unanswered=%d seconds=%.1f" % (len(qs), diffs, unanswered, time.time() - t0))
    for k in sorted(kinds):
        print("  rcode=%s type=%s data=%s: %d" % (k[0], k[1], k[2], kinds[k]))
    listed = sum(v for k, v in kinds.items() if k[2])
    if len(qs) < 100000 or listed < 10000:
        print("too few queries or listed answers to be meaningful")
        return 1
    return 1 if diffs or unanswered else 0


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(run(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]))
