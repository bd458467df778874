#!/bin/bash
# SPDX-License-Identifier: MIT
# Differential test: blsync-mirror and rbldnsd serve hand-written rbldnsd data in every syntax
# rbldnsd(8) accepts (tests/mirror/diff_edge.py: short forms, ranges, exclusions, values, TXT
# templates, $-specials, CRLF, IPv6 notations), one zone per file; every answer is the same or
# one of the documented differences (docs/MIGRATING.md); rbldnsd serving the mirror's export of
# the zones with A values outside 127.0.0.0/24 answers the same; blsyncctl import-rbldnsd of the
# same files lists what rbldnsd answers, but for what docs/MIGRATING.md says an import does not keep.
. "$(dirname "$0")/../lib.sh"
command -v rbldnsd >/dev/null || fail "rbldnsd is not installed (tests/deps.txt)"

$PY "$S/tests/mirror/diff_edge.py" gen "$T"
chmod 755 "$T"
chmod 644 "$T"/*.ip*
write_mirror_conf m1 --files
# one section per zone, with every file of the zone; the zones whose A values lie outside
# 127.0.0.0/24 in files of one dataset each are also exported (export_rbldnsd)
EXPORTED="avaltrie avalsix"
mkdir -p "$T/export"
chmod 755 "$T/export"
specs=() xspecs=() last=
while read -r zone kind file; do
    if [ "$zone" != "$last" ]; then
        printf '[zone %s]\n' "$zone" >>"$T/m1/mirror.conf"
        label=${zone%%.*}
        if [[ " $EXPORTED " == *" $label "* ]]; then
            printf 'export_rbldnsd = %s/export/%s\n' "$T" "$label" >>"$T/m1/mirror.conf"
            xspecs+=("$zone:ip4trie:$label" "$zone:ip6trie:$label.ip6")
        fi
    fi
    printf 'rbldnsd = %s:%s\n' "$kind" "$T/$file" >>"$T/m1/mirror.conf"
    specs+=("$zone:$kind:$file")
    last=$zone
done <"$T/zones.txt"
start_mirror m1

alloc_port 'DNS_PORT[rbldnsd]'
spawn rbldnsd rbldnsd -n -u nobody -w "$T" -b "127.0.0.1/${DNS_PORT[rbldnsd]}" "${specs[@]}"
wait_up rbldnsd 10 dns_up rbldnsd

timeout 120 $PY "$S/tests/mirror/diff_edge.py" run "$T" "${DNS_PORT[m1]}" "${DNS_PORT[rbldnsd]}" ||
    fail "answers differ from rbldnsd"
# rbldnsd serving the mirror's export of those zones answers as rbldnsd serving their files
for z in $EXPORTED; do [ -s "$T/export/$z" ] || fail "no export of zone $z"; done
alloc_port 'DNS_PORT[rbldnsd_x]'
spawn rbldnsd_x rbldnsd -n -u nobody -w "$T/export" -b "127.0.0.1/${DNS_PORT[rbldnsd_x]}" "${xspecs[@]}"
wait_up rbldnsd_x 10 dns_up rbldnsd_x
timeout 120 $PY "$S/tests/mirror/diff_edge.py" same "$T" "${DNS_PORT[rbldnsd_x]}" \
    "${DNS_PORT[rbldnsd]}" $EXPORTED || fail "rbldnsd answers the export differently"
# blsyncctl import-rbldnsd of the same files lists what rbldnsd answers
timeout 120 $PY "$S/tests/mirror/diff_edge.py" import "$T" "${DNS_PORT[rbldnsd]}" "$CTL" ||
    fail "imported listings differ from rbldnsd"
echo PASS
