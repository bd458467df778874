#!/bin/bash
# SPDX-License-Identifier: MIT
# Every answer kind of blsync-mirror, asserted with dig and kdig against the running daemon.
. "$(dirname "$0")/../lib.sh"

keygen
"$MKFEED" --key "$T/sign.key" --dir "$T/feed" --n 300 --v6 40 --lifetime 86400 >/dev/null
setclock "$(date +%s)000"
cat >"$T/data.ip4set" <<'DATA'
:127.0.0.2:Listed $ see http://rbl.example.net/?$
10.0.0.0/8 :3:Ten $
!10.9.9.9
10.1.2.3 :4:
DATA
write_mirror_conf m1 --files "server|threads = 2" "server|tcp_idle_timeout_ms = 1500"
ini_set "$T/m1/mirror.conf" "server|+listen = [::1]:${DNS_PORT[m1]}"
cat >>"$T/m1/mirror.conf" <<CONF

[zone bl.example.org]
snapshot = $T/feed/snapshot.obj
trusted_key = $T/sign.pub
ns = ns1.example.org ns2.example.org
soa_rname = hostmaster.example.org
ttl = 120
neg_ttl = 60
txt = Listed \$ default
reason.1 = Reason one \$
reason.2 = Reason two \$

[zone rbl.example.net]
rbldnsd = ip4set:$T/data.ip4set
ns = a-very-long-name-server-name-number-one.example.net a-very-long-name-server-name-number-two.example.net
ns = a-very-long-name-server-name-number-three.example.net a-very-long-name-server-name-number-four.example.net
ns = a-very-long-name-server-name-number-five.example.net a-very-long-name-server-name-number-six.example.net
ns = a-very-long-name-server-name-number-seven.example.net a-very-long-name-server-name-number-eight.example.net
CONF
start_mirror m1
PORT=${DNS_PORT[m1]}
Z=bl.example.org

# listed IPv4 and IPv6 entries: A value and TXT with the address substituted
n=0
while read -r kind rev addr a; do
    [ "$kind" = L ] || continue
    name=$rev.$Z
    got=$(dq m1 +short "$name" A)
    [ "$got" = "127.0.0.$a" ] || fail "$name A: '$got', want 127.0.0.$a"
    txt=$(dq m1 +short "$name" TXT)
    case "$addr" in
    *:*) want=$($PY -c 'import ipaddress,sys; print(ipaddress.ip_address(sys.argv[1]))' "$addr") ;; # RFC 5952, as rbldnsd
    *) want=$addr ;;
    esac
    case "$txt" in
    "\"Listed $want default\"" | "\"Reason one $want\"" | "\"Reason two $want\"") ;;
    *) fail "$name TXT: '$txt' does not carry $want" ;;
    esac
    n=$((n + 1))
    [ $n -ge 30 ] && break
done < <(revlines < "$T/feed/final.txt")
grep -q "^L .*:" "$T/feed/final.txt" || fail "no IPv6 sample in the generated feed"
ok "listed A and TXT ($n names, IPv4 and IPv6)"

# TTLs: answers use ttl, negative answers the SOA minimum
addr=$(awk '$1=="L" && $2 !~ /:/ {print $2; exit}' "$T/feed/final.txt")
dq m1 +noall +answer "$(revname "$addr").$Z" A | awk '{print $2}' | grep -qx 120 || fail "answer TTL is not 120"
ok "answer TTL"

# unlisted: NXDOMAIN with the SOA in authority
out=$(dq m1 4.3.2.203.$Z A)
grep -q "status: NXDOMAIN" <<<"$out" || fail "unlisted: not NXDOMAIN"
grep -q "AUTHORITY: 1" <<<"$out" || fail "unlisted: no authority record"
grep -A1 "AUTHORITY SECTION" <<<"$out" | grep -q "SOA.*ns1.example.org. hostmaster.example.org. 1 " || fail "unlisted: SOA missing or wrong serial"
grep -A1 "AUTHORITY SECTION" <<<"$out" | grep -qE "^$Z\.\s+60\s" || fail "negative SOA TTL is not min(soa_ttl, neg_ttl)"
ok "NXDOMAIN + SOA"

# RFC 5782 test entries
[ "$(dq m1 +short 2.0.0.127.$Z A)" = 127.0.0.2 ] || fail "127.0.0.2 test entry not listed"
[ "$(dq m1 +short 2.0.0.127.$Z TXT)" = '"Listed 127.0.0.2 default"' ] || fail "127.0.0.2 TXT"
expect_status m1 NXDOMAIN 1.0.0.127.$Z A
v6t=$(revname ::ffff:7f00:2)
[ "$(dq m1 +short "$v6t.$Z" A)" = 127.0.0.2 ] || fail "::FFFF:7F00:2 not listed"
expect_status m1 NXDOMAIN "$(revname ::ffff:7f00:1).$Z" A
ok "RFC 5782 test entries"

# empty non-terminals answer NOERROR/NODATA (qname minimisation)
for ent in 0.0.127 0.127 127 0 0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 "$(echo "$v6t" | cut -d. -f5-)"; do
    out=$(dq m1 "$ent.$Z" A)
    grep -q "status: NOERROR" <<<"$out" || fail "ENT $ent: not NOERROR"
    grep -q "ANSWER: 0, AUTHORITY: 1" <<<"$out" || fail "ENT $ent: not NODATA with SOA"
done
expect_status m1 NXDOMAIN foo.$Z A
expect_status m1 NXDOMAIN 11.2.3.4.5.$Z A
# only names with data below them are empty non-terminals: five nibbles
# with nothing below, and unlisted IPv4 addresses of one-digit labels, are
# NXDOMAIN; the way to ::ffff:127.0.0.2 is an empty non-terminal
expect_status m1 NXDOMAIN 1.2.3.4.5.$Z A
for a in 9.9.9.9 1.1.1.1 4.3.2.1; do expect_status m1 NXDOMAIN $a.$Z A; done
expect_status m1 NOERROR 0.0.0.0.0.$Z A
expect_status m1 NXDOMAIN 256.0.0.127.$Z A
ok "empty non-terminals NODATA, junk NXDOMAIN"

# listed name, other types: NODATA; ANY: minimal (the A record only)
name=2.0.0.127.$Z
out=$(dq m1 "$name" AAAA)
grep -q "status: NOERROR" <<<"$out" && grep -q "ANSWER: 0, AUTHORITY: 1" <<<"$out" || fail "AAAA at listed name not NODATA"
out=$(dq m1 +noall +answer "$name" ANY)
[ "$(echo "$out" | grep -c .)" = 1 ] && grep -q "IN A 127.0.0.2\|IN	A	127.0.0.2" <<<"$out" || fail "ANY not minimal: $out"
ok "NODATA for other types, ANY minimal"

# apex SOA and NS
dq m1 +short $Z SOA | grep -q "^ns1.example.org. hostmaster.example.org. 1 3600 600 604800 60$" || fail "apex SOA: $(dq m1 +short $Z SOA)"
[ "$(dq m1 +short $Z NS | sort | tr '\n' ' ')" = "ns1.example.org. ns2.example.org. " ] || fail "apex NS"
out=$(dq m1 $Z A)
grep -q "status: NOERROR" <<<"$out" && grep -q "ANSWER: 0, AUTHORITY: 1" <<<"$out" || fail "apex A not NODATA"
ok "apex SOA and NS"

# other zones refused, zone transfers refused
expect_status m1 REFUSED 2.0.0.127.example.com A
expect_status m1 REFUSED example.org SOA
dq m1 +tcp $Z AXFR | grep -q "Transfer failed\|REFUSED" || fail "AXFR not refused"
# an IXFR query carries the client's SOA in its authority section (RFC 1995)
out=$(kdig @127.0.0.1 -p "$PORT" +tcp IXFR=1 $Z 2>&1) || true
grep -q "REFUSED" <<<"$out" || fail "IXFR not refused: $out"
ok "REFUSED for other zones, AXFR and IXFR"

# opcode and format errors
expect_status m1 NOTIMP +opcode=2 2.0.0.127.$Z A
expect_status m1 NOTIMP +opcode=4 2.0.0.127.$Z A
expect_status m1 FORMERR +header-only 2.0.0.127.$Z A
# RD and CD are defined for QUERY only: a NOTIMP for opcode 15 or NOTIFY does
# not copy them (genreport's opcodeflg); a QUERY keeps them
for op in 15 4; do
    flags=$(dq m1 +opcode=$op +rec +cdflag 2.0.0.127.$Z A | sed -n 's/^;; flags: \([a-z ]*\);.*/\1/p')
    [ "$flags" = qr ] || fail "opcode $op: NOTIMP flags '$flags', want 'qr'"
done
dq m1 +rec +cdflag 2.0.0.127.$Z A | grep -q "^;; flags: qr aa rd cd;" || fail "QUERY lost RD or CD"
# an OPT in the query, an OPT in the NOTIMP (RFC 6891 7): without it a
# resolver takes the server for one that does not speak EDNS
out=$(dq m1 +opcode=15 +edns=0 2.0.0.127.$Z A)
grep -q "status: NOTIMP" <<<"$out" && grep -q "EDNS: version: 0" <<<"$out" || fail "NOTIMP to an EDNS query without OPT: $out"
dq m1 +opcode=15 +noedns 2.0.0.127.$Z A | grep -q "OPT PSEUDOSECTION" && fail "OPT in a NOTIMP to a query without EDNS"
ok "NOTIMP and FORMERR"

# case-insensitive match, case preserved in the answer
out=$(dq m1 +noall +answer 2.0.0.127.Bl.EXAMPLE.org A)
grep -q "^2.0.0.127.Bl.EXAMPLE.org." <<<"$out" || fail "case not preserved: $out"
out=$(dq m1 +noall +authority 9.9.9.203.BL.example.ORG A)
grep -q "^BL.example.ORG." <<<"$out" || fail "case not preserved in SOA owner: $out"
ok "case-insensitive, case preserved"

# EDNS: OPT echoed with our payload size, BADVERS for version 1
out=$(dq m1 +bufsize=4096 2.0.0.127.$Z A)
grep -q "EDNS: version: 0, flags:; udp: 1232" <<<"$out" || fail "OPT not echoed: $out"
out=$(dq m1 +edns=1 +noednsnegotiation 2.0.0.127.$Z A)
grep -q "status: BADVERS" <<<"$out" || fail "no BADVERS for EDNS version 1"
out=$(dq m1 +noedns 2.0.0.127.$Z A)
grep -q "OPT PSEUDOSECTION" <<<"$out" && fail "OPT in answer to a query without EDNS"
out=$(kdig @127.0.0.1 -p "$PORT" +edns +bufsize=1400 2.0.0.127.$Z A)
grep -q "EDNS PSEUDOSECTION" <<<"$out" || fail "kdig: no OPT in answer"
grep -q "NOERROR" <<<"$out" || fail "kdig: not NOERROR"
ok "EDNS OPT, BADVERS"

# truncation: 8 long NS names do not fit 512 bytes; EDNS 1232 fits; TCP fits
R=rbl.example.net
out=$(dq m1 +noedns +ignore $R NS)
grep -q "flags: qr aa tc" <<<"$out" || fail "no TC on a 512-byte answer that does not fit"
grep -q "ANSWER: 0" <<<"$out" || fail "TC answer should carry no partial RRset"
[ "$(dq m1 +bufsize=1232 +short $R NS | grep -c .)" = 8 ] || fail "8 NS with EDNS 1232"
[ "$(dq m1 +noedns +short $R NS | grep -c .)" = 8 ] || fail "dig should retry over TCP and get 8 NS"
[ "$(kdig @127.0.0.1 -p "$PORT" +tcp +short $R NS | grep -c .)" = 8 ] || fail "kdig TCP NS"
ok "TC and TCP fallback"

# rbldnsd import: exclusions, per-entry A and TXT, '$'
[ "$(dq m1 +short 8.9.9.10.$R A)" = 127.0.0.3 ] || fail "10/8 listed"
[ "$(dq m1 +short 8.9.9.10.$R TXT)" = '"Ten 10.9.9.8"' ] || fail "10/8 TXT"
expect_status m1 NXDOMAIN 9.9.9.10.$R A
[ "$(dq m1 +short 3.2.1.10.$R A)" = 127.0.0.4 ] || fail "10.1.2.3 :4:"
out=$(dq m1 3.2.1.10.$R TXT)
grep -q "ANSWER: 0" <<<"$out" || fail "':4:' means no TXT"
ok "rbldnsd zone: exclusions, values"

# IPv6 listener and TCP
[ "$(dig @::1 -p "$PORT" +short +time=2 +tries=1 2.0.0.127.$Z A)" = 127.0.0.2 ] || fail "IPv6 UDP listener"
[ "$(dig @::1 -p "$PORT" +short +tcp +time=2 +tries=1 2.0.0.127.$Z A)" = 127.0.0.2 ] || fail "IPv6 TCP listener"
[ "$(kdig @127.0.0.1 -p "$PORT" +tcp +short 2.0.0.127.$Z A)" = 127.0.0.2 ] || fail "kdig TCP"
ok "IPv6 listener, TCP"

# expiry: move the clock past every listing; the test entry stays listed
setclock "$(($(date +%s) + 2 * 86400))000"
expired() { [ "$(dig_status m1 "$(revname "$addr").$Z" A)" = NXDOMAIN ]; }
wait_until 5 expired || fail "$addr still listed after its expiry: $(dig_status m1 "$(revname "$addr").$Z" A)"
[ "$(dq m1 +short 2.0.0.127.$Z A)" = 127.0.0.2 ] || fail "test entry after expiry"
ok "expired entries are never listed"

# Prometheus metrics (docs/METRICS.md) and /healthz
M=$(scrape m1) || fail "no /metrics"
mval() { awk -v k="$1" '$1 == k {print $2}' <<<"$M"; }
positive() { local v; v=$(mval "$1"); [ -n "$v" ] && awk -v v="$v" 'BEGIN {exit !(v > 0)}' || fail "metric $1 = '$v', want > 0"; }
positive 'blsync_mirror_dns_queries_total{transport="udp",qtype="A",rcode="NOERROR"}'
positive 'blsync_mirror_dns_queries_total{transport="udp",qtype="A",rcode="NXDOMAIN"}'
positive 'blsync_mirror_dns_queries_total{transport="udp",qtype="TXT",rcode="NOERROR"}'
positive 'blsync_mirror_dns_queries_total{transport="tcp",qtype="NS",rcode="NOERROR"}'
positive 'blsync_mirror_dns_queries_total{transport="udp",qtype="A",rcode="REFUSED"}'
positive 'blsync_mirror_dns_listed_hits_total{zone="bl.example.org"}'
positive 'blsync_mirror_tcp_connections_accepted_total'
[ "$(mval 'blsync_mirror_snapshots_applied_total{feed="main"}')" = 1 ] || fail "snapshots_applied_total"
[ "$(mval 'blsync_mirror_serial{feed="main"}')" = 1 ] || fail "serial gauge"
[ "$(mval 'blsync_mirror_entries{feed="main",family="ipv4"}')" = 300 ] || fail "entries ipv4: $(mval 'blsync_mirror_entries{feed="main",family="ipv4"}')"
[ "$(mval 'blsync_mirror_entries{feed="main",family="ipv6"}')" = 40 ] || fail "entries ipv6"
[ "$(mval 'blsync_mirror_dns_positive_ttl_seconds{zone="bl.example.org"}')" = 120 ] || fail "ttl gauge"
[ "$(scrape m1 /healthz)" = ok ] || fail "/healthz"
ok "metrics and healthz"

# SIGTERM: clean exit
stop_clean m1
grep -q "event=stopped" "$T/m1.log" || fail "no stopped event"
ok "SIGTERM clean exit"
echo PASS
