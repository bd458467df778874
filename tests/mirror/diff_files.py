#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Differential test helper: rbldnsd data with directives, several sources, test entries, host
# bits, exclusions, ranges, IPv6 and an expired file; compares two servers answer by answer.
"""
gen DIR SEED      writes DIR/src1.ip4set, src2.ip4set, src3.ip4trie, src4.ip6trie,
                  src5.ip6tset, expired.ip4set and DIR/queries.txt
run DIR PORT_MIRROR PORT_RBLDNSD ZONE EXPIRED_ZONE
                  asks every query of both servers over UDP and compares rcode,
                  answer records (type, TTL, data) and the SOA of the authority
                  section. A difference is accepted only when it is one of the
                  documented ones (docs/MIGRATING.md, "Where the mirror answers
                  differently"), each recognised by its exact shape; prints the
                  counts per kind and exits 1 on any other difference.
"""
import ipaddress
import os
import random
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from diff_rbldnsd import ask_all  # noqa: E402  windowed UDP with retries

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
QTYPES = {"A": 1, "NS": 2, "SOA": 6, "TXT": 16, "AAAA": 28, "ANY": 255}

HEAD = [
    "$SOA 1h ns1.example.org. hostmaster.example.org. 0 10m 5m 1w 5m",
    "$NS 1h ns1.example.org. ns2.example.org.",
    "$TTL 1200",
]


def gen(d, seed):
    rnd = random.Random(seed)
    used16 = set()
    qs = []  # (kind, name-part, type); kind: "a4" (address), "a6", "raw" (labels below the zone)

    def fresh16():
        while True:
            a, b = rnd.randrange(11, 223), rnd.randrange(256)
            if a in (10, 127) or (a, b) in used16:
                continue
            used16.add((a, b))
            return a, b

    def q4(x, types=("A", "TXT")):
        s = str(ipaddress.IPv4Address(x & 0xFFFFFFFF))
        for t in types:
            qs.append(("a4", s, t))

    def val(n):
        k = rnd.randrange(5)
        return ["", " :%d" % n, " :%d:" % n, " :127.0.0.%d:Own text $ (%d)" % (n, n), " Text only $"][k]

    # file 1: directives, test entries, host bits, singles, CIDRs, ranges, exclusions
    f1 = HEAD + [":127.0.0.2:Source one: $ listed", "127.0.0.2", "127.0.0.1 :2:loopback listed",
                 "203.0.113.129/25", "198.51.100.7/24 :3:host bits"]
    singles = []
    for _ in range(60):
        a, b = fresh16()
        for _ in range(20):
            x = a << 24 | b << 16 | rnd.randrange(1 << 16)
            singles.append(x)
            f1.append(str(ipaddress.IPv4Address(x)) + val(rnd.randrange(2, 12)))
            q4(x)
            q4(x ^ 1)
    cidrs = []
    for _ in range(120):
        a, b = fresh16()
        ln = rnd.choice([16, 20, 23, 24, 24, 25, 27, 28, 30])
        base = a << 24 | b << 16 | (rnd.randrange(1 << 16) & ~((1 << (32 - ln)) - 1) & 0xFFFF)
        net = ipaddress.IPv4Network((base, ln))
        cidrs.append(net)
        f1.append("%s%s" % (net, val(rnd.randrange(2, 12))))
        lo, hi = int(net.network_address), int(net.broadcast_address)
        for x in (lo, hi, lo - 1, hi + 1, rnd.randrange(lo, hi + 1)):
            q4(x)
        if ln <= 28:
            ex = rnd.randrange(lo, hi + 1)
            f1.append("!%s" % ipaddress.IPv4Address(ex))
            for x in (ex, ex - 1, ex + 1):
                q4(x)
        # the empty non-terminals on the way to the network
        o = str(net.network_address).split(".")
        for k in (1, 2, 3):
            qs.append(("raw", ".".join(reversed(o[:k])), "A"))
    for _ in range(40):
        a, b = fresh16()
        lo = a << 24 | b << 16 | rnd.randrange(1 << 16)
        hi = min(lo + rnd.randrange(1, 2000), a << 24 | b << 16 | 0xFFFF)
        f1.append("%s-%s%s" % (ipaddress.IPv4Address(lo), ipaddress.IPv4Address(hi), val(rnd.randrange(2, 12))))
        for x in (lo, hi, lo - 1, hi + 1):
            q4(x)
    # keys listed twice or three times in one ip4set file: rbldnsd answers every listing
    for x in rnd.sample(singles, 100):
        for n in range(rnd.randrange(1, 3)):
            f1.append("%s :%d:Again %d $" % (ipaddress.IPv4Address(x), 20 + n, n))
    for net in rnd.sample(cidrs, 20):
        f1.append("%s :30:CIDR again" % net)
        q4(int(net.broadcast_address) - 1)
    # file 2: another A value, overlapping file 1 (every source answers)
    f2 = ["$TTL 1200", ":127.0.0.3:Source two says $"]
    for x in rnd.sample(singles, 300):
        f2.append(str(ipaddress.IPv4Address(x)))
    for net in rnd.sample(cidrs, 40):
        f2.append(str(net))
        q4(int(net.network_address) + 1)
    for _ in range(200):
        a, b = fresh16()
        x = a << 24 | b << 16 | rnd.randrange(1 << 16)
        f2.append(str(ipaddress.IPv4Address(x)))
        q4(x)
    # an exclusion in file 2 hides nothing of file 1
    for x in rnd.sample(singles, 50):
        f2.append("!" + str(ipaddress.IPv4Address(x)))
    # file 3 (ip4trie): a third A value, lengths off the octet boundaries
    f3 = ["$TTL 1200", ":127.0.0.4:Three"]
    for x in rnd.sample(singles, 200):
        ln = rnd.choice([22, 26, 29, 32])
        net = ipaddress.IPv4Network((x & ~((1 << (32 - ln)) - 1), ln))
        f3.append(str(net))
        q4(int(net.network_address))
        q4(int(net.broadcast_address) + 1)
    # unlisted addresses, among them ones of one-digit labels
    for _ in range(3000):
        q4(rnd.randrange(1 << 24, 224 << 24))
    for _ in range(200):
        q4(int.from_bytes(bytes(rnd.randrange(1, 10) for _ in range(4)), "big"))
    for t in ("A", "TXT"):
        for n in ("2.0.0.127", "1.0.0.127"):
            qs.append(("raw", n, t))
    # partial names with nothing below them: NXDOMAIN from both
    for _ in range(300):
        k = rnd.randrange(1, 4)
        qs.append(("raw", ".".join(str(rnd.randrange(256)) for _ in range(k)), "A"))
    # IPv6: ip6trie with several lengths, host bits, exclusions; ip6tset /64
    f4 = ["$TTL 1200", ":127.0.0.6:Six $", "2001:db8:dead::1/48"]
    for _ in range(300):
        ln = rnd.choice([48, 56, 64, 128])
        net = ipaddress.IPv6Network(((0x20010DB8 << 96 | rnd.randrange(1 << 96)) >> (128 - ln) << (128 - ln), ln))
        f4.append("%s%s" % (net.compressed if ln != 64 else ":".join(net.network_address.exploded.split(":")[:4]),
                            val(rnd.randrange(2, 12))))
        lo = int(net.network_address)
        for x in (lo, lo + rnd.randrange(net.num_addresses), lo + net.num_addresses, lo - 1):
            for t in ("A", "TXT"):
                qs.append(("a6", str(ipaddress.IPv6Address(x % (1 << 128))), t))
        if ln < 128:
            ex = lo + rnd.randrange(net.num_addresses)
            f4.append("!" + str(ipaddress.IPv6Address(ex)))
            qs.append(("a6", str(ipaddress.IPv6Address(ex)), "A"))
    f5 = ["$TTL 1200", ":127.0.0.7:Tset $"]
    for _ in range(100):
        p = 0x20010DB9 << 32 | rnd.randrange(1 << 32)
        f5.append(":".join(ipaddress.IPv6Address(p << 64).exploded.split(":")[:4]))
        qs.append(("a6", str(ipaddress.IPv6Address(p << 64 | rnd.randrange(1 << 64))), "A"))
    # the apex, junk and other types
    for t in ("SOA", "NS", "A", "TXT", "ANY"):
        qs.append(("raw", "", t))
    for n in ("foo", "256.0.0.1", "1.2.3.4.5.6"):
        qs.append(("raw", n, "A"))
    ex = [":127.0.0.2:Expired $", "$TIMESTAMP 2020:01:01:00:00 2021:01:01:00:00"]
    for _ in range(100):
        x = rnd.randrange(1 << 24, 224 << 24)
        ex.append(str(ipaddress.IPv4Address(x)))
        qs.append(("exp", str(ipaddress.IPv4Address(x)), "A"))
    for name, lines in (("src1.ip4set", f1), ("src2.ip4set", f2), ("src3.ip4trie", f3),
                        ("src4.ip6trie", f4), ("src5.ip6tset", f5), ("expired.ip4set", ex)):
        with open("%s/%s" % (d, name), "w") as f:
            f.write("\n".join(lines) + "\n")
    seen, uniq = set(), []
    for q in qs:
        if q not in seen:
            seen.add(q)
            uniq.append(q)
    rnd.shuffle(uniq)
    with open(d + "/queries.txt", "w") as f:
        for k, n, t in uniq:
            f.write("%s %s %s\n" % (k, n or "@", t))
    print("generated %d queries" % len(uniq))


def rev(addr):
    r = ipaddress.ip_address(addr).reverse_pointer
    return r[: r.rindex(".", 0, r.rindex("."))]  # without in-addr.arpa / ip6.arpa


def make_query(name, qtype):
    q = struct.pack(">HHHHHH", 0, 0, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", QTYPES[qtype], 1)


def name_at(w, off):
    labels, jumped, end = [], False, None
    while True:
        n = w[off]
        if n == 0:
            return ".".join(labels).lower(), (end if jumped else off + 1)
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = off + 2
            jumped = True
            off = (n & 0x3F) << 8 | w[off + 1]
            continue
        labels.append(w[off + 1:off + 1 + n].decode("latin-1"))
        off += 1 + n


def summarize(w):
    """(rcode, answer records as a sorted tuple, SOA of the authority section or None)."""
    flags, qd, an, ns = struct.unpack(">HHHH", w[2:10])
    off = 12
    for _ in range(qd):
        off = name_at(w, off)[1] + 4
    recs, soa = [], None
    for i in range(an + ns):
        _, off = name_at(w, off)
        t, c, ttl, rdlen = struct.unpack(">HHIH", w[off:off + 10])
        off += 10
        rd, rdo = w[off:off + rdlen], off
        off += rdlen
        if t == 1:
            data = ".".join(str(x) for x in rd)
        elif t == 16:
            j, parts = 0, []
            while j < len(rd):
                parts.append(rd[j + 1:j + 1 + rd[j]].decode("latin-1"))
                j += 1 + rd[j]
            data = "".join(parts)
        elif t == 2:
            data = name_at(w, rdo)[0]
        elif t == 6:
            m, o2 = name_at(w, rdo)
            r, o2 = name_at(w, o2)
            data = "%s %s %s" % (m, r, " ".join(str(v) for v in struct.unpack(">IIIII", w[o2:o2 + 20])))
        else:
            data = rd.hex()
        if i < an:
            recs.append((t, ttl, data))
        elif t == 6:
            soa = (ttl, data)
    return RCODES.get(flags & 15, str(flags & 15)), tuple(sorted(recs)), soa


def classify(kind, name, qtype, m, r):
    """The documented difference this is, or None."""
    if kind == "raw" and name == "1.0.0.127" and m[0] == "NXDOMAIN" and r[0] == "NOERROR" and r[1]:
        return "127.0.0.1 listed in the data: the mirror answers NXDOMAIN (RFC 5782)"
    if kind == "exp" and r[0] == "SERVFAIL" and m[0] == "NXDOMAIN":
        return "expired $TIMESTAMP: rbldnsd SERVFAIL, the mirror no positive answer (NXDOMAIN)"
    if kind == "raw" and r[0] == "NXDOMAIN" and m[0] == "NOERROR" and not m[1] and m[2] and \
            all(l.isdigit() for l in name.split(".")) and len(name.split(".")) < 4:
        return "empty non-terminal: rbldnsd NXDOMAIN, the mirror NODATA"
    if kind == "raw" and name == "" and r[0] == "NOERROR" and m[0] == "NOERROR" and qtype == "ANY":
        return "ANY at the apex: the mirror answers the SOA, rbldnsd SOA and NS"
    return None


def compare(qs, rm, rr, why_fn, show=25):
    """Compares the mirror's answers rm with rbldnsd's rr to the questions qs
    ((kind, name, type) each); why_fn(kind, name, type, mirror, rbldnsd) names
    a documented difference or returns None. Prints the first `show`
    differences; returns (differences, unanswered, {why: count}, {(rcode,
    type, listed): count})."""
    diffs, unanswered, documented, kinds = 0, 0, {}, {}
    for i, (k, n, t) in enumerate(qs):
        if rm[i] is None or rr[i] is None:
            unanswered += 1
            print("unanswered: %s %s %s" % (k, n, t))
            continue
        sm, sr = summarize(rm[i]), summarize(rr[i])
        key = (sm[0], t, bool(sm[1]))
        kinds[key] = kinds.get(key, 0) + 1
        if sm == sr:
            continue
        why = why_fn(k, n, t, sm, sr)
        if why:
            documented[why] = documented.get(why, 0) + 1
            continue
        diffs += 1
        if diffs <= show:
            print("DIFF %s %s %s:\n  mirror  %s\n  rbldnsd %s" % (k, n or "@", t, sm, sr))
    return diffs, unanswered, documented, kinds


def run(d, pm, pr, zone, ezone):
    qs = []
    with open(d + "/queries.txt") as f:
        for line in f:
            k, n, t = line.split()
            qs.append((k, "" if n == "@" else n, t))

    def qname(k, n):
        if k in ("a4", "a6", "exp"):
            n = rev(n)
        z = ezone if k == "exp" else zone
        return n + "." + z if n else z

    wires = [make_query(qname(k, n), t) for k, n, t in qs]
    t0 = time.time()
    rm, rr = ask_all(pm, wires), ask_all(pr, wires)
    diffs, unanswered, documented, kinds = compare(qs, rm, rr, classify)
    print("queries=%d same=%d documented=%d differences=%d unanswered=%d seconds=%.1f" % (
        len(qs), len(qs) - diffs - unanswered - sum(documented.values()), sum(documented.values()),
        diffs, unanswered, time.time() - t0))
    for why in sorted(documented):
        print("  documented: %s: %d" % (why, documented[why]))
    print("\n".join("  %s %s %s: %d" % (key + (n,)) for key, n in sorted(kinds.items())))
    meaningful = len(qs) >= 10000 and sum(n for key, n in kinds.items() if key[2]) >= 2000 and \
        len(documented) >= 3
    if not meaningful:
        print("too few queries, listed answers or documented cases to be meaningful")
    return 0 if meaningful and not diffs and not unanswered else 1


if __name__ == "__main__":
    a = sys.argv
    sys.exit(gen(a[2], int(a[3])) if a[1] == "gen" else run(a[2], int(a[3]), int(a[4]), a[5], a[6]))
