#!/bin/bash
# SPDX-License-Identifier: MIT
# export_rbldnsd: the mirror writes its state as rbldnsd data after each apply; rbldnsd serving those files answers like the mirror.
# The mirror runs under the unit's UMask=0077; rbldnsd runs as another user (nobody) that reads the
# files through export_rbldnsd_group, and answers the SOA and NXDOMAIN with authority ($SOA/$NS).
. "$(dirname "$0")/../lib.sh"
command -v rbldnsd >/dev/null || fail "rbldnsd is not installed (tests/deps.txt)"

keygen
"$MKFEED" --key "$T/sign.key" --dir "$T/feed" --n 30000 --v6 1000 --deltas 5 --changes 40 \
    --lifetime 86400 >/dev/null
mkdir -p "$T/spool" "$T/export"
chmod 755 "$T/export"
umask 077
write_mirror_conf m1 --files
cat >>"$T/m1/mirror.conf" <<CONF
[zone bl.example.org]
spool_dir = $T/spool
trusted_key = $T/sign.pub
txt = Listed \$ here
reason.1 = Reason one \$
reason.2 = Reason two \$
export_rbldnsd = $T/export/bl
ns = ns1.example.org ns2.example.org
export_rbldnsd_mode = 0640
export_rbldnsd_group = nogroup
CONF
start_mirror m1
# feed it through the spool (written under a dot name, then renamed)
put() { cp "$1" "$T/spool/.$2" && mv "$T/spool/.$2" "$T/spool/$2"; }
exported_serial() { sed -n '1s/.* serial \([0-9]*\) .*/\1/p' "$T/export/bl" 2>/dev/null; }
exported_at() { [ "$(exported_serial)" = "$1" ]; }
wait_serial() { wait_until 5 exported_at "$1" || fail "export did not reach serial $1 (has '$(exported_serial)')"; }
put "$T/feed/snapshot.obj" 00000001.snapshot
wait_serial 1
n1=$(grep -vc '^#' "$T/export/bl")
[ "$n1" -ge 25000 ] || fail "snapshot export has $n1 IPv4 lines"
for f in "$T"/feed/delta-*.obj; do put "$f" "$(basename "$f" .obj).delta"; done
wait_serial 6
# The IPv6 file is written right after the IPv4 one: wait for it too.
ip6_at_6() { head -1 "$T/export/bl.ip6" 2>/dev/null | grep -q "serial 6 (ip6trie)"; }
wait_until 5 ip6_at_6 || fail "IPv6 export not at serial 6"
ls "$T/export" | grep -q tmp && fail "temporary export files left behind"
ok "state exported at serials 1 and 6 (atomically, $n1 IPv4 lines at serial 1)"
for f in bl bl.ip6; do
    [ "$(stat -c '%a %G' "$T/export/$f")" = "640 nogroup" ] ||
        fail "export $f is $(stat -c '%a %G' "$T/export/$f"), want 640 nogroup under umask 077"
done
grep -q '^\$SOA 3600 ns1.example.org. hostmaster.bl.example.org. 6 ' "$T/export/bl" || fail "no \$SOA line: $(head -3 "$T/export/bl")"
grep -q '^\$NS 3600 ns1.example.org. ns2.example.org.$' "$T/export/bl.ip6" || fail "no \$NS line"
ok "export files 0640 group nogroup with \$SOA and \$NS"

alloc_port 'DNS_PORT[rbldnsd]'
spawn rbldnsd rbldnsd -n -u nobody -w "$T/export" -b "127.0.0.1/${DNS_PORT[rbldnsd]}" \
    bl.example.org:ip4trie:bl bl.example.org:ip6trie:bl.ip6
wait_up rbldnsd 10 dns_up rbldnsd
grep -q "error\|invalid\|denied" "$T/rbldnsd.log" && { cat "$T/rbldnsd.log" >&2; fail "rbldnsd complained about the export"; }
# the SOA as the mirror answers it, and negative answers rbldnsd can cache
[ "$(dq rbldnsd +short bl.example.org SOA)" = "$(dq m1 +short bl.example.org SOA)" ] ||
    fail "rbldnsd's SOA '$(dq rbldnsd +short bl.example.org SOA)' is not the mirror's"
[ "$(dq rbldnsd +short bl.example.org NS | sort | tr '\n' ' ')" = "ns1.example.org. ns2.example.org. " ] ||
    fail "rbldnsd's NS"
out=$(dq rbldnsd 4.3.2.203.bl.example.org A)
grep -q "status: NXDOMAIN" <<<"$out" && grep -q "AUTHORITY: 1" <<<"$out" || fail "rbldnsd NXDOMAIN without SOA: $out"
ok "rbldnsd answers the SOA, NS and NXDOMAIN with authority from the export"

# Queries: every exported prefix's first address, the last state's samples
# (listed and removed) and their neighbours; A and TXT each (IPv6 TXT '$' is
# written as RFC 5952 text by both: 2001:db8::1).
{
    grep -hv '^[#$]' "$T/export/bl" "$T/export/bl.ip6" | awk '{print $1}' | sed 's#/.*##'
    awk '{print $2}' "$T/feed/final.txt"
} | $PY -c '
import ipaddress, sys
seen = set()
for line in sys.stdin:
    a = ipaddress.ip_address(line.strip().lstrip("!"))
    for x in (a, a + 1 if int(a) < (1 << a.max_prefixlen) - 1 else a):
        if x not in seen:
            seen.add(x)
            print(x, "A")
            print(x, "TXT")' > "$T/queries.txt"
nq=$(wc -l < "$T/queries.txt")
timeout 120 $PY "$S/tests/mirror/diff_rbldnsd.py" run "$T" "${DNS_PORT[m1]}" "${DNS_PORT[rbldnsd]}" bl.example.org ||
    fail "rbldnsd on the exported files answers differently"
ok "rbldnsd on the exported ip4trie/ip6trie files answers like the mirror ($nq queries)"
echo PASS
