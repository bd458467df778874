#!/bin/bash
# SPDX-License-Identifier: MIT
# Differential test: blsync-mirror and rbldnsd serve the same ip4set + ip6tset data;
# >100,000 generated queries (listed, unlisted, CIDR edges, exclusions, IPv6, TXT) must match.
. "$(dirname "$0")/../lib.sh"
command -v rbldnsd >/dev/null || fail "rbldnsd is not installed (tests/deps.txt)"

$PY "$S/tests/mirror/diff_rbldnsd.py" gen "$T" 7
chmod 644 "$T"/set.*
write_mirror_conf m1 --files "server|threads = 2"
cat >>"$T/m1/mirror.conf" <<CONF
[zone bl.example.org]
rbldnsd = ip4set:$T/set.ip4set
rbldnsd = ip6tset:$T/set.ip6tset
CONF
start_mirror m1

# rbldnsd on its own port (UDP only), files relative to its working directory
alloc_port 'DNS_PORT[rbldnsd]'
spawn rbldnsd rbldnsd -n -u nobody -w "$T" -b "127.0.0.1/${DNS_PORT[rbldnsd]}" \
    bl.example.org:ip4set:set.ip4set bl.example.org:ip6tset:set.ip6tset
wait_up rbldnsd 10 dns_up rbldnsd

timeout 240 $PY "$S/tests/mirror/diff_rbldnsd.py" run "$T" "${DNS_PORT[m1]}" "${DNS_PORT[rbldnsd]}" bl.example.org ||
    fail "answers differ from rbldnsd"
echo PASS
