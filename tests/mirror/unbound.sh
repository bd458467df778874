#!/bin/bash
# SPDX-License-Identifier: MIT
# unbound as a real resolver (stub-zone to the mirror, strict QNAME minimisation):
# listed and unlisted IPv4 and IPv6 names resolve correctly through it.
. "$(dirname "$0")/../lib.sh"
command -v unbound >/dev/null || fail "unbound is not installed (tests/deps.txt)"

keygen
"$MKFEED" --key "$T/sign.key" --dir "$T/feed" --n 200 --v6 40 >/dev/null
write_mirror_conf m1 --files
cat >>"$T/m1/mirror.conf" <<CONF
[zone bl.example.org]
snapshot = $T/feed/snapshot.obj
trusted_key = $T/sign.pub
ns = ns1.example.org
txt = Listed \$
CONF
start_mirror m1

alloc_port 'DNS_PORT[unbound]'
cat >"$T/unbound.conf" <<CONF
server:
    interface: 127.0.0.1
    port: ${DNS_PORT[unbound]}
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$T"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 1
    do-ip6: no
    do-not-query-localhost: no
    module-config: "iterator"
    qname-minimisation: yes
    qname-minimisation-strict: yes
    harden-below-nxdomain: yes
    access-control: 127.0.0.0/8 allow
remote-control:
    control-enable: no
stub-zone:
    name: "bl.example.org"
    stub-addr: 127.0.0.1@${DNS_PORT[m1]}
CONF
spawn unbound unbound -d -c "$T/unbound.conf"
resolves_soa() { [ "$(dig_status unbound bl.example.org SOA)" = NOERROR ]; }
wait_up unbound 10 resolves_soa

uq() { DIG_TIME=3 dq unbound "$@"; }
n4=0 n6=0
while read -r kind rev addr a; do
    [ "$kind" = L ] || continue
    name=$rev.bl.example.org
    got=$(uq +short "$name" A)
    [ "$got" = "127.0.0.$a" ] || fail "via unbound: $name A '$got', want 127.0.0.$a"
    grep -q "Listed" <<<"$(uq +short "$name" TXT)" || fail "via unbound: $name TXT"
    case $addr in *:*) n6=$((n6 + 1)) ;; *) n4=$((n4 + 1)) ;; esac
    [ $((n4 + n6)) -ge 40 ] && break
done < <(revlines <"$T/feed/final.txt")
[ $n6 -ge 1 ] && [ $n4 -ge 1 ] || fail "need IPv4 and IPv6 samples ($n4/$n6)"
ok "listed names via unbound ($n4 IPv4, $n6 IPv6)"

for name in 4.3.2.203.bl.example.org "$(revname 2001:db8:ffff:ffff::1).bl.example.org" 1.0.0.127.bl.example.org; do
    out=$(uq "$name" A)
    grep -q "status: NXDOMAIN" <<<"$out" || fail "via unbound: $name not NXDOMAIN: $out"
done
[ "$(uq +short 2.0.0.127.bl.example.org A)" = 127.0.0.2 ] || fail "via unbound: test entry"
[ "$(uq +short "$(revname ::ffff:7f00:2).bl.example.org" A)" = 127.0.0.2 ] || fail "via unbound: IPv6 test entry"
ok "unlisted names and test entries via unbound"
# after an NXDOMAIN for one address, its neighbours under the same ENTs still resolve
addr=$(awk '$1=="L" && $2 !~ /:/ {print $2; exit}' "$T/feed/final.txt")
[ -n "$(uq +short "$(revname "$addr").bl.example.org" A)" ] || fail "listed name after NXDOMAINs"
# unbound did minimise: the mirror answered NODATA for empty non-terminals
M=$(scrape m1) || fail "no /metrics"
m() { awk -v k="$1" '$1 == k {s += $2} END {print s + 0}' <<<"$M"; }
noerr=$(($(m 'blsync_mirror_dns_queries_total{transport="udp",qtype="A",rcode="NOERROR"}') +
    $(m 'blsync_mirror_dns_queries_total{transport="udp",qtype="TXT",rcode="NOERROR"}') +
    $(m 'blsync_mirror_dns_queries_total{transport="udp",qtype="AAAA",rcode="NOERROR"}')))
listed=$(m 'blsync_mirror_dns_listed_hits_total{zone="bl.example.org"}')
[ "$noerr" -gt "$listed" ] || fail "no NODATA answers: unbound did not minimise ($noerr NOERROR, $listed listed)"
ok "unbound walked empty non-terminals ($((noerr - listed)) NODATA answers)"
echo PASS
