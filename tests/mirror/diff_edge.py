#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Differential test helper: hand-written rbldnsd data in every syntax rbldnsd(8) accepts (short
# forms, ranges, exclusions, values, TXT templates, specials, CRLF, IPv6 notations), one zone
# per file; compares two servers answer by answer on every entry, edge and neighbour.
"""
import DIR PORT_RBLDNSD BLSYNCCTL
                  imports every file with blsyncctl import-rbldnsd and checks
                  the listings against rbldnsd's A answers to the probes
gen DIR           writes the data files into DIR, DIR/zones.txt (ZONE KIND FILE per line)
                  and DIR/queries.txt
same DIR PORT_A PORT_B LABEL...
                  asks both servers every address query (A, TXT) of the zones
                  LABEL... and exits 1 on any difference
run DIR PORT_MIRROR PORT_RBLDNSD
                  asks every query of both servers over UDP and compares rcode,
                  answer records (type, TTL, data) and the SOA of the authority
                  section; a difference is accepted only when it is one of the
                  documented ones (docs/MIGRATING.md); exits 1 on any other.
"""
import ipaddress
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from diff_rbldnsd import ask_all  # noqa: E402
from diff_files import classify, compare, make_query, rev, summarize  # noqa: E402

SUF = ".edge.test"
LONG = "L" * 120 + " $ " + "M" * 150  # over 255 bytes once expanded
T255 = "x" * 255
T300 = "y" * 300

# zone label -> (kind, file name, lines or bytes, probe addresses)
FILES = {}


def soa(label):
    return "$SOA 1h ns1.%s%s. hm.%s%s. 7 10m 5m 1w 5m" % (label, SUF, label, SUF)


def zone(label, kind, body, probes, zone_label=None):
    """A file, by default a zone of its own (else one more file of the zone
    zone_label); the first file of every zone but nosoa gets a $SOA line first."""
    first = zone_label is None
    if first and label != "nosoa" and \
            not any(l.startswith("$SOA") for l in body if isinstance(l, str)):
        if isinstance(body, list):
            body = [soa(label)] + body
        else:
            body = soa(label).encode() + b"\n" + body
    FILES[label] = (kind, "%s.%s" % (label, kind), body, probes, zone_label or label)


def around(*xs):
    """Each address and its two neighbours."""
    out = []
    for x in xs:
        a = ipaddress.ip_address(x)
        for d in (-1, 0, 1):
            out.append(str(a + d))
    return out


zone("forms", "ip4set", [
    "$SOA 1h ns1.forms.edge.test. hm.forms.edge.test. 0 10m 5m 1w 5m",
    "$NS 1h ns1.forms.edge.test.",
    ":127.0.0.2:Forms $",
    "10.1.2",
    "10.3",
    "11",
    "12/8",
    "10.4.5.6-10.4.5.20",
    "10.4.6.250-254",
    "10.4.7-9",
    "10.5-6",
    "10.7.0.0-10.7.1",
    "10.8-10.8.1.1",
    "10.9.0.0/15",
    "10.10.0.0/15",
    "10.12.0.0/14",
    "!10.12.5.5",
    "!10.13.0/24",
    "!10.14",
    "!10.15.1.1 :5:ignored value",
    "10.20.0.0/16",
    "!10.20.1.0-10.20.1.127",
    "10.21.1.1 :3:first",
    "10.21.1.1 :4:second",
    "10.21.1.2 :3:same",
    "10.21.1.2 :3:same",
    "10.22.0.0/24 :3",
    "10.22.0.5 :4",
    "10.23.0.0/16 :5",
    "10.23.0.0/24 :6",
    "   10.25.0.1",
    "10.25.0.2\t:7:tab separated",
    "10.25.0.3   # comment",
    "10.25.0.4 ; comment",
    "10.25.0.5;comment",
    "10.25.0.6#comment",
    "10.25.0.7:8:colon at once",
    "10.25.0.8   ",
    "10.25.0.9\t\t",
    "10.26.0.0/33",
    "10.26.1.256",
    "010.026.001.001",
    "10.26.2.1/32",
    "10.26.3.0/31",
    "10.28.0.0-10.28.255.255",
    "10.29.255.254-10.30.0.1",
    "10.31.0.0/0.0.255.255",
    "10.32.0.1 junk",
    "10.33.0.0 - 10.33.0.5",
    "10.34.0.1-10.34.0.0",
    "10.35.1.2.3",
    "10.36.0.0/16 :9",
    "!10.36.0.0/24",
    "10.36.0.0/25 :10",
    "# 10.37.0.1",
    "; 10.37.0.2",
    "",
    "\t",
    "10.38.0.0/17",
    "10.38.128.0/17",
    "10.39.0.0/22",
    "!10.39.1.0/24",
    "10.40.0.0/8",
], around("10.1.2.0", "10.1.2.255", "10.3.0.0", "10.3.255.255", "11.0.0.0", "11.255.255.255",
          "12.0.0.0", "12.255.255.255", "10.4.5.6", "10.4.5.20", "10.4.6.250", "10.4.6.254",
          "10.4.7.0", "10.4.9.255", "10.5.0.0", "10.6.255.255", "10.7.0.0", "10.7.1.255",
          "10.8.0.0", "10.8.1.1", "10.9.0.0", "10.9.255.255", "10.10.0.0", "10.11.255.255",
          "10.12.0.0", "10.12.5.5", "10.13.0.0", "10.13.0.255", "10.14.0.0", "10.14.255.255",
          "10.15.1.1", "10.15.255.255", "10.20.0.0", "10.20.1.0", "10.20.1.127", "10.20.255.255",
          "10.21.1.1", "10.21.1.2", "10.22.0.0", "10.22.0.5", "10.22.0.255", "10.23.0.0",
          "10.23.0.255", "10.23.1.0", "10.25.0.1", "10.25.0.5", "10.25.0.9", "10.26.0.0",
          "10.26.1.1", "10.26.2.1", "10.26.3.0", "10.26.3.1", "10.28.0.0", "10.28.255.255",
          "10.29.255.254", "10.30.0.1", "10.31.0.0", "10.31.255.255", "10.32.0.1", "10.33.0.0",
          "10.33.0.5", "10.34.0.0", "10.35.1.2", "10.36.0.0", "10.36.0.127", "10.36.0.128",
          "10.36.0.255", "10.36.1.0", "10.37.0.1", "10.37.0.2", "10.38.0.0", "10.38.127.255",
          "10.38.128.0", "10.38.255.255", "10.39.0.0", "10.39.0.255", "10.39.1.0", "10.39.1.255",
          "10.39.2.0", "10.39.3.255", "10.40.0.0", "8.1.2.3", "1.1.1.10", "10.26.3.2"))

zone("values", "ip4set", [
    "$1 See http://bl.example/$",
    ":127.0.0.3:Default text for $",
    "20.0.0.1",
    "20.0.0.2 :4",
    "20.0.0.3 :4:",
    "20.0.0.4 :127.0.0.5:Own text $",
    "20.0.0.5 Only text $",
    "20.0.0.6 :6:Dollar $$ sign and $ address",
    "20.0.0.7 :7:$$$$ four, $$$ three",
    "20.0.0.8 :8:ends with $",
    "20.0.0.9 :9:$1 and $2 vars",
    "20.0.0.10 :10:UTF-8 bytes: \u00fcn\u00efc\u00f6d\u00e9 \u2713",
    "20.0.0.11 :11:" + T255,
    "20.0.0.12 :12:" + T300,
    "20.0.0.13 :13:" + LONG,
    "20.0.0.14 :14:   leading spaces",
    "20.0.0.15 :127.0.0.15",
    "20.0.0.16 : 16 : spaced colons",
    "20.0.0.17 :0:zero A",
    "20.0.0.18 :256:bad A",
    "20.0.0.19 :127.0.0.300:bad A",
    "20.0.0.21 :127.1:short A",
    "20.0.0.22 :2x:garbage after A",
    "20.0.0.23 :3:text with \"quotes\" and \\backslash and\ttab",
    "20.0.0.24 :3:text # with hash ; and semicolon",
    "20.0.0.25 =text starting with =",
    "20.0.0.26 :3:$= without a base",
    "20.0.0.27 :3:$x dollar then a letter",
    "20.0.0.28 :3:$9 undefined var",
    "20.0.0.29 :3:   ",
    "20.0.0.30 :",
    "20.0.0.31 ::",
    "20.0.0.32 :5:a:b:c colons in text",
    "20.0.0.33 # only a comment",
    "20.0.0.34 :127.0.0.2:",
    "20.0.0.35 :255",
    "20.0.0.36 :3 trailing words",
    "$1 second assignment",
    "$2 defined after use",
    "20.0.0.40 :3:$1 / $2",
    ":127.0.0.6:Second default $",
    "20.0.0.41",
    "20.0.0.42 :7",
    ":8",
    "20.0.0.43",
    ":9:",
    "20.0.0.44",
    "20.0.0.45 Text again",
], ["20.0.0.%d" % i for i in range(0, 47)])

# A values outside 127.0.0.0/24 (rbldnsd(8)'s own example is :127.0.1.2:): both servers
# answer them as written, in every dataset type, with defaults, templates and exclusions
# (blsyncctl import-rbldnsd refuses them, naming each line: a listing's A value is 127.0.0.N)
zone("aval", "ip4set", [
    "$1 http://example.com/lookup",
    ":127.0.1.2:Listed, see $1?$",
    "21.0.0.1",
    "21.0.0.2 :1.2.3.4:not a loopback A",
    "21.0.0.3 :127.0.0.5:in 127.0.0.0/24",
    "21.0.0.4 :127.0.0.6",
    "21.0.0.5 :255.255.255.255:all ones $$ $",
    "21.0.0.6 :0.0.0.5:zero net",
    "21.0.0.7 :10.1.2:three parts",
    "21.0.0.8 :1.2.3.4",
    "21.0.0.8 :5.6.7.8:listed twice",
    "21.0.0.9 :1.2.3.4:same A twice",
    "21.0.0.9 :1.2.3.4:same A twice",
    "21.0.0.10 :127.0.1.2 own text wins? no: bad",
    "21.0.0.10 :127.0.1.3:second line",
    ":192.0.2.1:Second default $",
    "21.0.1.1",
    "21.0.1.2 Own text only $",
    "21.0.1.3 :3",
    "21.0.2.0/24 :198.51.100.7:range $",
    "!21.0.2.128/25",
    "21.0.1.4-21.0.1.5",
    "!21.0.1.6",
], around("21.0.0.1", "21.0.0.2", "21.0.0.3", "21.0.0.4", "21.0.0.5", "21.0.0.6", "21.0.0.7",
          "21.0.0.8", "21.0.0.9", "21.0.0.10", "21.0.1.1", "21.0.1.2", "21.0.1.3", "21.0.1.4",
          "21.0.1.5", "21.0.1.6", "21.0.2.0", "21.0.2.127", "21.0.2.128", "21.0.2.255"))

zone("avaltrie", "ip4trie", [
    ":127.0.1.2:Trie $",
    "22.0.0.0/16",
    "22.0.1.0/24 :10.0.0.1:inner $",
    "!22.0.2.0/24",
    "22.0.3.1 :127.0.0.3",
    "22.0.3.2 :203.0.113.9",
], around("22.0.0.0", "22.0.1.0", "22.0.1.255", "22.0.2.0", "22.0.3.1", "22.0.3.2"))

zone("avalsix", "ip6trie", [
    ":127.0.1.2:Six $",
    "2001:db8:40::/48",
    "2001:db8:41::/48 :10.9.8.7:own $",
    "!2001:db8:40:1::/64",
], ["2001:db8:40::1", "2001:db8:40:1::1", "2001:db8:41::1", "2001:db8:42::1"])

# one zone of four files (datasets): an address listed by several answers each file's A
# value (several outside 127.0.0.0/24, one shared by two files: once) and each text
zone("multi", "ip4set", [
    ":127.0.1.2:First $",
    "24.0.0.0/24",
    "24.0.1.1 :1.2.3.4",
    "24.0.2.1 :127.0.0.4:first four",
], around("24.0.0.1", "24.0.1.1", "24.0.2.1", "24.0.3.1"))
zone("multi2", "ip4trie", [
    ":10.0.0.2:Second $",
    "24.0.0.0/23",
    "24.0.2.1 :127.0.0.4:second four",
    "24.0.3.1",
], around("24.0.0.1", "24.0.1.1", "24.0.2.1", "24.0.3.1"), zone_label="multi")
zone("multi3", "ip4tset", [
    ":198.18.0.1:Third $",
    "24.0.0.1",
    "24.0.3.1",
], around("24.0.0.1", "24.0.3.1"), zone_label="multi")
zone("multi4", "ip6tset", [
    ":127.0.2.2:Tset6 $",
    "2001:db8:50:1",
    "!2001:db8:50:1::5",
], ["2001:db8:50:1::", "2001:db8:50:1::5", "2001:db8:50:2::"], zone_label="multi")

zone("base", "ip4set", [
    ":2:dflt $",
    "$= Base [$=] ($) end",
    "30.0.0.1 r123",
    "30.0.0.2",
    "30.0.0.3 =Override $",
    "30.0.0.4 :3:",
    "30.0.0.5 :4",
    "30.0.0.6 :5:with $$ and $1",
    "$= second base ignored",
    "$1 one",
], ["30.0.0.%d" % i for i in range(0, 8)])

zone("specials", "ip4set", [
    "$ttl 2h",
    "$SOA 0 ns1.specials.edge.test hostmaster.specials.edge.test 12345 1h 30m 2w 1d",
    "$NS 0 ns1.specials.edge.test -ns2.specials.edge.test ns3.specials.edge.test",
    "$NS 1d ns9.specials.edge.test",
    "$TTL 900",
    ":2:Spec $",
    "$MAXRANGE4 /24",
    "40.0.0.0/16",
    "40.1.0.0/24",
    "40.2.0.0-40.2.1.0",
    "40.2.2.0-40.2.2.255",
    "$MAXRANGE4 /16",
    "40.3.0.0/20",
    "$MAXRANGE4 16",
    "40.4.0.0/28",
    "40.5.0.0/27",
    "40.6.0.0-40.6.0.16",
    "$DATASET ip4set foo",
    "$UNKNOWN foo",
    "#$TTL 1800",
    "40.7.0.1",
], around("40.0.0.0", "40.0.255.255", "40.1.0.0", "40.1.0.255", "40.2.0.0", "40.2.1.0",
          "40.2.2.0", "40.2.2.255", "40.3.0.0", "40.4.0.0", "40.4.0.15", "40.5.0.0", "40.5.0.31",
          "40.6.0.0", "40.6.0.16", "40.7.0.1"))

zone("crlf", "ip4set", b"".join(l + b"\r\n" for l in [
    b"$TTL 600",
    b":2:CRLF $",
    b"50.0.0.1",
    b"50.0.0.2 :3:with text",
    b"50.0.1.0/24",
    b"50.0.2",
    b"!50.0.1.7",
]) + b"50.0.0.9 :4:last line without a newline", around("50.0.0.1", "50.0.0.2", "50.0.1.0",
                                                           "50.0.1.7", "50.0.1.255", "50.0.2.0",
                                                           "50.0.0.9"))

zone("nolf", "ip4set", b":2:No LF $\n51.0.0.1\n51.0.0.2", around("51.0.0.1", "51.0.0.2"))

zone("nosoa", "ip4set", [
    ":2:No SOA $",
    "52.0.0.1",
    "52.0.1.0/24",
], around("52.0.0.1", "52.0.1.0"))

zone("trie", "ip4trie", [
    ":2:Trie $",
    "60.1.2",
    "60.3",
    "61",
    "62/8",
    "60.4.0.0/22",
    "!60.4.1.0/24",
    "60.4.1.128/25 :5:inner",
    "60.5.0.0-60.5.0.10",
    "60.6.0.1 :3:first",
    "60.6.0.1 :4:second",
    "60.7.0.0/23",
    "60.7.0.0/24 :6",
    "60.8.0.0/31",
    "60.8.0.0/31",
    "60.9.0.0/16 :7:text",
    "!60.9.0.0/16",
    "60.10.0.1 Text only $",
    "60.10.0.2 :8:",
    "60.10.0.3 :9",
    "60.11.0.0/12",
    "60.16.0.0/12",
], around("60.1.2.0", "60.1.2.255", "60.3.0.0", "60.3.255.255", "61.0.0.0", "62.0.0.0",
          "62.255.255.255", "60.4.0.0", "60.4.1.0", "60.4.1.128", "60.4.1.255", "60.4.3.255",
          "60.5.0.0", "60.5.0.10", "60.6.0.1", "60.7.0.0", "60.7.1.0", "60.8.0.0", "60.8.0.1",
          "60.9.0.0", "60.10.0.1", "60.10.0.2", "60.10.0.3", "60.11.0.0", "60.16.0.0",
          "60.31.255.255"))

zone("tset", "ip4tset", [
    ":3:Tset $",
    "70.0.0.1",
    "70.0.0.2 :4:per-entry value",
    "70.0.1.0/24",
    "70.0.2",
    "70.0.3.1-70.0.3.5",
    "!70.0.0.1",
    "70.0.0.3",
    "70.0.0.3",
    ":5:second default",
    "70.0.0.4",
], around("70.0.0.1", "70.0.0.2", "70.0.1.0", "70.0.2.0", "70.0.3.1", "70.0.0.3", "70.0.0.4"))

zone("six", "ip6trie", [
    ":127.0.0.6:Six $",
    "2001:db8:1::/48",
    "2001:db8:2:3",
    "2001:DB8:4::1",
    "2001:0db8:0005:0000:0000:0000:0000:0001",
    "2001:db8:6::/33",
    "2001:db8:8000::/33",
    "2001:db8:9::/127",
    "2001:db8:a::/63",
    "!2001:db8:a:1::5",
    "2001:db8:b:c000/36",
    "::ffff:1.2.3.4",
    "::ffff:0102:0305",
    "2001:db8:c::/48 :7:own text $",
    "2001:db8:c:1::/64 :8",
    "2001:db8:d::1 :9:",
    "2001:db8:e::/47",
    "2001:db8:f::/128",
    "2001:db8:f::/128 :10:dup",
    "2001:db8:10::",
    "2001:db8:11::/0",
    "2001:db8:12::1/64",
    "2001:db8::13::1",
    "2001:db8:14:0:0:0:0:0:1",
    "::1",
    "2001:db8:15::/48 # comment",
    "2001:db8:16::/48;comment",
    "2001:db8:17::/48:11:tight",
], ["2001:db8:1::", "2001:db8:1:ffff:ffff:ffff:ffff:ffff", "2001:db8:0:ffff:ffff:ffff:ffff:ffff",
    "2001:db8:2::", "2001:db8:2:3::", "2001:db8:2:3:ffff::1", "2001:db8:2:4::",
    "2001:db8:4::1", "2001:db8:4::", "2001:db8:5::1", "2001:db8:6::", "2001:db8:0::1",
    "2001:db8:7fff::1", "2001:db8:8000::", "2001:db8:ffff::", "2001:db8:9::", "2001:db8:9::1",
    "2001:db8:9::2", "2001:db8:a::", "2001:db8:a:1::5", "2001:db8:a:1::4", "2001:db8:a:1::6",
    "2001:db8:a:1:ffff::", "2001:db8:a:2::", "2001:db8:b:c000::", "2001:db8:b:cfff::",
    "2001:db8:b:d000::", "::ffff:1.2.3.4", "::ffff:1.2.3.5", "::ffff:1.2.3.3",
    "2001:db8:c::", "2001:db8:c:1::", "2001:db8:c:2::", "2001:db8:d::1", "2001:db8:e::",
    "2001:db8:f::1", "2001:db8:f::", "2001:db8:10::", "2001:db8:10::1", "2001:db8:12::1",
    "2001:db8:13::1", "2001:db8:14::1", "::1", "::2", "2001:db8:15::", "2001:db8:16::",
    "2001:db8:17::", "2001:db9::1", "fe80::1"])

zone("sixall", "ip6trie", [
    ":127.0.0.6:Everything $",
    "::/0",
    "!2001:db8:30::/48",
], ["::", "::1", "2001:db8:30::1", "2001:db8:31::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"])

zone("sixset", "ip6tset", [
    ":127.0.0.7:Tset6 $",
    "2001:db8:20:1",
    "2001:db8:20:2 :8:value",
    "2001:db8:20:3::",
    "2001:db8:20:4::/64",
    "2001:db8:20:5:0:0:0:0",
    "2001:db8:20:6:1::",
    "!2001:db8:20:1:face:f:a:beef",
    "!2001:db8:20:1::2",
    "!2001:db8:20:7::1",
    "2001:db8:20:8::/48",
    "2001:DB8:20:9",
    ":127.0.0.8:Second default",
    "2001:db8:20:a",
], ["2001:db8:20:1::", "2001:db8:20:1::1", "2001:db8:20:1::2", "2001:db8:20:1:face:f:a:beef",
    "2001:db8:20:2::", "2001:db8:20:3::", "2001:db8:20:4::", "2001:db8:20:5::",
    "2001:db8:20:6::", "2001:db8:20:6:1::", "2001:db8:20:7::1", "2001:db8:20:8::",
    "2001:db8:20:9::", "2001:db8:20:a::", "2001:db8:20:b::"])


def gen(d):
    qs = []
    with open(d + "/zones.txt", "w") as z:
        for label, (kind, fname, body, probes, zl) in FILES.items():
            data = body if isinstance(body, bytes) else ("\n".join(body) + "\n").encode()
            with open("%s/%s" % (d, fname), "wb") as f:
                f.write(data)
            z.write("%s%s %s %s\n" % (zl, SUF, kind, fname))
            for p in probes:
                for t in ("A", "TXT", "ANY"):
                    qs.append((zl, p, t))
            for n in ("", "1", "2.0.0.127", "1.0.0.127") if zl == label else ():
                for t in ("SOA", "NS", "A", "TXT", "ANY"):
                    qs.append((zl, "@" + n, t))
    with open(d + "/queries.txt", "w") as f:
        for label, p, t in qs:
            f.write("%s %s %s\n" % (label, p, t))
    print("generated %d queries in %d zones" % (len(qs), len(FILES)))


def documented_diff(label, p, t, m, r):
    """The documented difference (docs/MIGRATING.md) this is, or None."""
    raw = p[1:] if p.startswith("@") else None
    if raw is not None and classify("raw", raw, t, m, r):
        return classify("raw", raw, t, m, r)
    if raw == "2.0.0.127" and r[0] == "NXDOMAIN" and m[0] == "NOERROR":
        return "127.0.0.2 not listed in the data: the mirror lists it (RFC 5782)"
    if raw == "" and t == "NS" and r[0] == "REFUSED" and m[0] == "NOERROR" and not m[1] and m[2]:
        return "NS query without $NS: rbldnsd REFUSED, the mirror NODATA"
    if raw == "" and t == "ANY" and r[0] == "REFUSED" and m[0] == "NOERROR" and \
            [x[0] for x in m[1]] == [6]:
        return "ANY at the apex without $NS: rbldnsd REFUSED, the mirror the SOA"
    if raw == "" and t == "SOA" and r[0] == "REFUSED" and label == "nosoa" and m[1]:
        return "SOA query without $SOA: rbldnsd REFUSED, the mirror its SOA"
    if label == "nosoa" and m[:2] == r[:2] and r[2] is None and m[2]:
        return "no $SOA: the mirror puts its SOA into negative answers"
    if m[:2] == r[:2] and m[2] and r[2] and m[2][1] == r[2][1] and m[2][0] < r[2][0]:
        return "negative answers: SOA TTL min(SOA TTL, minimum), rbldnsd the minimum"
    if t == "ANY" and m[0] == r[0] == "NOERROR" and any(x[0] == 16 for x in r[1]) and \
            m[1] == tuple(x for x in r[1] if x[0] == 1):
        return "ANY for a listed address: the mirror answers A only, rbldnsd A and TXT"
    return None


def excluded(kind, body, p):
    """Whether a '!' line of the file covers address p (for the import check;
    the forms this data uses: CIDR, whole addresses, prefixes, a.b.c.d-e.f.g.h)."""
    ip = ipaddress.ip_address(p)
    for line in body if isinstance(body, list) else []:
        if not line.startswith("!"):
            continue
        w = line[1:].split()[0]
        if "-" in w:
            lo, hi = (ipaddress.ip_address(x) for x in w.split("-"))
        else:
            if ip.version == 4 and w.split("/")[0].count(".") < 3:
                a, _, ln = w.partition("/")
                w = "%s/%s" % (".".join((a.split(".") + ["0"] * 3)[:4]), ln or 8 * (a.count(".") + 1))
            net = ipaddress.ip_network(w)
            lo, hi = net.network_address, net.broadcast_address
        if lo.version == ip.version and lo <= ip <= hi:
            return True
    return False


# imports that differ from rbldnsd as docs/MIGRATING.md says (besides exclusions)
IMPORT_DOCUMENTED = {
    ("forms", "10.21.1.1"): "an ip4set key listed twice: the first A value",
    ("values", "20.0.0.21"): "A value 127.0.0.1: the import's A value",
    ("six", "::1"): "::1 refused (loopback)",
    ("sixall", "::"): "::/0 refused (wider than min_prefix6)",
    ("sixall", "::1"): "::/0 refused (wider than min_prefix6)",
    ("sixall", "2001:db8:31::1"): "::/0 refused (wider than min_prefix6)",
    ("sixall", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"): "::/0 refused (wider than min_prefix6)",
}


def import_check(d, pr, ctl):
    """blsyncctl import-rbldnsd of every file, each into its own store: the
    listing that covers each probe most specifically must give the A value
    rbldnsd answers, but where an exclusion, an unsupported A value or a
    documented case (IMPORT_DOCUMENTED) explains it."""
    bad, checked, why = 0, 0, {}
    for label, (kind, fname, body, probes, zl) in FILES.items():
        if zl != label or any(f[4] == label and l != label for l, f in FILES.items()):
            continue  # a zone of several files: rbldnsd answers them together
        db = "%s/import-%s.db" % (d, label)
        out = subprocess.run([ctl, "import-rbldnsd", "%s/%s" % (d, fname), "--type", kind,
                              "--db", db], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, errors="replace").stderr
        want = {"aval": "aval.ip4set:4: 21.0.0.1: A value 127.0.1.2 is outside 127.0.0.0/24",
                "avalsix": "avalsix.ip6trie:3: 2001:db8:40::/48: A value 127.0.1.2 is outside"}
        if label in want and want[label] not in out:
            bad += 1
            print("IMPORT %s: no message '%s' in:\n%s" % (label, want[label], out))
        nets = []
        for key, a in sqlite3.connect(db).execute("SELECT key, a FROM listings"):
            nets.append((ipaddress.ip_network((bytes(key[1:-1]), key[-1])), a))
        probes = sorted(set(probes), key=lambda p: ipaddress.ip_address(p).packed)
        answers = ask_all(pr, [make_query(rev(p) + "." + label + SUF, "A") for p in probes])
        for p, w in zip(probes, answers):
            served = sorted({x[2] for x in summarize(w)[1] if x[0] == 1})
            ip = ipaddress.ip_address(p)
            if ip.version == 6 and ip.ipv4_mapped:
                ip = ip.ipv4_mapped  # the master keeps ::ffff:a.b.c.d as a.b.c.d
            m = sorted((n for n in nets if n[0].version == ip.version and ip in n[0]),
                       key=lambda n: -n[0].prefixlen)
            imp = ["127.0.0.%d" % m[0][1]] if m else []
            checked += 1
            if imp == served:
                continue
            w = IMPORT_DOCUMENTED.get((label, p))
            if not w and not served and imp and excluded(kind, body, p):
                w = "exclusions are skipped"
            if not w and not imp and all(not x.startswith("127.0.0.") for x in served):
                w = "A value outside 127.0.0.0/24: refused"
            if w:
                why[w] = why.get(w, 0) + 1
                continue
            bad += 1
            print("IMPORT DIFF %s %s: import %s rbldnsd %s" % (label, p, imp, served))
    print("import: probes=%d differences=%d documented=%d" % (checked, bad, sum(why.values())))
    for w in sorted(why):
        print("  documented: %s: %d" % (w, why[w]))
    return 0 if not bad and len(why) >= 4 else 1


def run(d, pm, pr):
    qs = []
    with open(d + "/queries.txt") as f:
        for line in f:
            qs.append(tuple(line.split()))

    def qname(label, p):
        z = label + SUF
        if p.startswith("@"):
            return p[1:] + "." + z if p[1:] else z
        return rev(p) + "." + z

    wires = [make_query(qname(l, p), t) for l, p, t in qs]
    t0 = time.time()
    rm, rr = ask_all(pm, wires), ask_all(pr, wires)
    diffs, unanswered, documented, _ = compare(qs, rm, rr, documented_diff, show=100)
    print("queries=%d differences=%d documented=%d unanswered=%d seconds=%.1f" % (
        len(qs), diffs, sum(documented.values()), unanswered, time.time() - t0))
    for why in sorted(documented):
        print("  documented: %s: %d" % (why, documented[why]))
    if len(documented) < 7:
        print("too few kinds of documented differences (%d) to be meaningful" % len(documented))
        return 1
    return 0 if not diffs and not unanswered else 1


def same(d, pa, pb, labels):
    """Two servers answer every address query of the zones labels exactly the same."""
    qs = []
    with open(d + "/queries.txt") as f:
        for line in f:
            label, p, t = line.split()
            if label in labels and not p.startswith("@") and t != "ANY":
                qs.append((label, p, t))
    wires = [make_query(rev(p) + "." + label + SUF, t) for label, p, t in qs]
    diffs, unanswered, _, _ = compare(qs, ask_all(pa, wires), ask_all(pb, wires),
                                      lambda *x: None, show=50)
    print("same: queries=%d differences=%d unanswered=%d" % (len(qs), diffs, unanswered))
    return 0 if qs and not diffs and not unanswered else 1


if __name__ == "__main__":
    a = sys.argv
    if a[1] == "same":
        sys.exit(same(a[2], int(a[3]), int(a[4]), a[5:]))
    if a[1] == "gen":
        sys.exit(gen(a[2]))
    if a[1] == "import":
        sys.exit(import_check(a[2], int(a[3]), a[4]))
    sys.exit(run(a[2], int(a[3]), int(a[4])))
