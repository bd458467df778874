#!/bin/bash
# SPDX-License-Identifier: MIT
# Differential test: blsync-mirror and rbldnsd serve the same rbldnsd files, with $SOA, $NS,
# $TTL and $TIMESTAMP, 127.0.0.1 and 127.0.0.2, host bits, three IPv4 sources with their own A
# values, exclusions, ranges, IPv6 and an expired file; every answer is the same or one of the
# documented differences (docs/MIGRATING.md), which diff_files.py recognises one by one.
. "$(dirname "$0")/../lib.sh"
command -v rbldnsd >/dev/null || fail "rbldnsd is not installed (tests/deps.txt)"

$PY "$S/tests/mirror/diff_files.py" gen "$T" 11
chmod 755 "$T"
chmod 644 "$T"/*.ip*
Z=bl.example.org
write_mirror_conf m1 --files
cat >>"$T/m1/mirror.conf" <<CONF
[zone $Z]
rbldnsd = ip4set:$T/src1.ip4set
rbldnsd = ip4set:$T/src2.ip4set
rbldnsd = ip4trie:$T/src3.ip4trie
rbldnsd = ip6trie:$T/src4.ip6trie
rbldnsd = ip6tset:$T/src5.ip6tset
[zone expired.example.org]
rbldnsd = ip4set:$T/expired.ip4set
CONF
start_mirror m1
logged m1 'event=rbldnsd_bad_line .*src1.ip4set line=7 msg="invalid range (non-zero host part)"' ||
    fail "the host-bits line is not named"
logged m1 'event=rbldnsd_lists_loopback .*src1.ip4set line=6' || fail "127.0.0.1 in the data not warned"
logged m1 'event=rbldnsd_expired zone=expired.example.org' || fail "expired data not logged"

alloc_port 'DNS_PORT[rbldnsd]'
spawn rbldnsd rbldnsd -n -u nobody -w "$T" -b "127.0.0.1/${DNS_PORT[rbldnsd]}" \
    $Z:ip4set:src1.ip4set $Z:ip4set:src2.ip4set $Z:ip4trie:src3.ip4trie \
    $Z:ip6trie:src4.ip6trie $Z:ip6tset:src5.ip6tset expired.example.org:ip4set:expired.ip4set
wait_up rbldnsd 10 dns_up rbldnsd

timeout 240 $PY "$S/tests/mirror/diff_files.py" run "$T" "${DNS_PORT[m1]}" "${DNS_PORT[rbldnsd]}" \
    $Z expired.example.org || fail "answers differ from rbldnsd"
echo PASS
