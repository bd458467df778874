#!/bin/bash
# SPDX-License-Identifier: MIT
# The defences a client sees, with dig and kdig from many loopback source
# addresses: the server's and a zone's ACL (REFUSED or no answer, UDP and
# TCP), an rbldnsd acl dataset imported, both reloaded on SIGHUP (a bad
# acl_file changes nothing); NSID and id.server / hostname.bind in class CH;
# the sampled, bounded query log, and no query log by default.
. "$(dirname "$0")/../lib.sh"
command -v kdig >/dev/null || fail "kdig is not installed (tests/deps.txt)"

echo "10.0.0.0/8 :3:Ten \$" >"$T/data.ip4set"
# rbldnsd's acl syntax: the default action ignore, then :refuse for what follows
cat >"$T/rbl.acl" <<'ACL'
# clients of rbl.example.net
127.0.3.0/24
:refuse
127.0.0.100
127.0.2.0/24 :ignore
127.0.2.7 :pass
10.0.0.0/8 :empty
ACL
CONF=$T/m1/mirror.conf
conf() { # SERVER-ACL-LINES...
    write_mirror_conf m1 --files "server|threads = 2" "server|nsid = mirror-test" \
        "server|identity = mirror-test-id" "server|query_log_sample = 1" \
        "server|query_log_max_per_second = 5" "$@"
    cat >>"$CONF" <<CONF
[zone bl.example.org]
rbldnsd = ip4set:$T/data.ip4set
acl = deny any
acl = allow 127.0.0.0/25
[zone rbl.example.net]
rbldnsd = ip4set:$T/data.ip4set
acl_file = $T/rbl.acl
CONF
}
conf "server|+acl = deny 127.0.0.66" "server|+acl = drop 127.0.1.0/24" "server|acl_action = refuse"
start_mirror m1
DIG_TIME=1
from() { # SOURCE ZONE [DIG-ARGS...]: the status of 1.2.3.10.ZONE A asked from SOURCE ("" on no answer)
    local src=$1 zone=$2
    shift 2
    dig_status m1 -b "$src" "$@" 1.2.3.10."$zone" A || true
}
is() { # SOURCE ZONE WANT [DIG-ARGS...]
    local got
    got=$(from "$1" "$2" "${@:4}")
    [ "$got" = "$3" ] || fail "from $1, ${*:4} 1.2.3.10.$2: '$got', want '${3:-no answer}'"
}

# The server's ACL: 127.0.0.66 refused everywhere, 127.0.1.0/24 dropped; others answered.
is 127.0.0.1 bl.example.org NOERROR
[ "$(dq m1 -b 127.0.0.1 +short 1.2.3.10.bl.example.org A)" = 127.0.0.3 ] || fail "allowed client: wrong answer"
is 127.0.0.66 bl.example.org REFUSED
is 127.0.0.66 rbl.example.net REFUSED
is 127.0.0.66 bl.example.org REFUSED +tcp
is 127.0.1.9 bl.example.org ""
is 127.0.1.9 rbl.example.net "" +tcp
ok "server acl: 127.0.0.66 REFUSED (UDP, TCP), 127.0.1.0/24 no answer, 127.0.0.1 answered"

# The zone's ACL (deny any, allow 127.0.0.0/25) applies to its zone only.
is 127.0.0.130 bl.example.org REFUSED
is 127.0.0.130 rbl.example.net NOERROR
is 127.0.0.5 bl.example.org NOERROR
ok "zone acl: 127.0.0.130 refused for bl.example.org, answered for rbl.example.net"

# rbldnsd's acl dataset: ignore (the default) and :ignore drop, :refuse
# refuses, :pass carves a client out, :empty is skipped with file and line.
is 127.0.3.4 rbl.example.net ""
is 127.0.0.100 rbl.example.net REFUSED
is 127.0.2.9 rbl.example.net ""
is 127.0.2.7 rbl.example.net NOERROR
is 127.0.0.100 bl.example.org NOERROR
logged m1 "event=acl_line_skipped file=$T/rbl.acl line=7 " || fail "the :empty line was not reported"
logged m1 'event=acl_loaded scope="zone rbl.example.net" rules=4 skipped=1' || fail "acl_loaded not logged for the zone"
ok "rbldnsd acl imported: ignore, refuse, pass as rbldnsd; :empty skipped and named"

refused=$(metric m1 'blsync_mirror_acl_denied_total{action="refused"}')
dropped=$(metric m1 'blsync_mirror_acl_denied_total{action="dropped"}')
[ "${refused:-0}" -ge 5 ] && [ "${dropped:-0}" -ge 4 ] || fail "acl metrics: refused=$refused dropped=$dropped"
ok "blsync_mirror_acl_denied_total: refused $refused, dropped $dropped"

# SIGHUP: the new lists apply; a missing acl_file keeps the old ones.
reloads() { grep -c 'event=reloaded' "$T/m1.log" || true; }
reloaded() { [ "$(reloads)" -ge "$1" ]; }
conf "server|+acl = deny 127.0.0.77" "server|acl_action = drop"
sed -i '/^127.0.2.7 :pass$/d' "$T/rbl.acl"
kill -HUP "${PID[m1]}"
wait_until 10 reloaded 1 || fail "no reload logged"
is 127.0.0.66 bl.example.org NOERROR
is 127.0.1.9 rbl.example.net NOERROR
is 127.0.0.77 bl.example.org ""
is 127.0.2.7 rbl.example.net ""
ok "SIGHUP: 127.0.0.66 and 127.0.1.0/24 answered again, deny 127.0.0.77 drops (acl_action = drop), the removed :pass gone"
mv "$T/rbl.acl" "$T/rbl.acl.gone"
kill -HUP "${PID[m1]}"
wait_until 10 reloaded 2 || fail "no second reload logged"
logged m1 "event=reload_failed msg=\"$T/rbl.acl: No such file or directory\"" || fail "a missing acl_file was not reported"
is 127.0.0.77 bl.example.org ""
is 127.0.0.100 rbl.example.net REFUSED
ok "SIGHUP with a missing acl_file: reload_failed names it, the running ACLs stay"

# NSID (RFC 5001) and the CH TXT identity (RFC 4892), with kdig and dig.
kdig @127.0.0.1 -p "${DNS_PORT[m1]}" +nsid +time=2 +retry=0 1.2.3.10.bl.example.org A >"$T/kdig.out"
grep -q 'NSID: .*"mirror-test"' "$T/kdig.out" || {
    cat "$T/kdig.out" >&2
    fail "kdig +nsid: no NSID mirror-test"
}
dq m1 +nsid 1.2.3.10.bl.example.org A >"$T/dig.out"
grep -q 'NSID: .*("mirror-test")' "$T/dig.out" || fail "dig +nsid: no NSID: $(cat "$T/dig.out")"
dq m1 +noedns 1.2.3.10.bl.example.org A | grep -q NSID && fail "NSID without EDNS"
dq m1 +edns 1.2.3.10.bl.example.org A | grep -q NSID && fail "NSID sent without being asked for"
[ "$(dq m1 +short CH TXT id.server)" = '"mirror-test-id"' ] || fail "id.server: $(dq m1 CH TXT id.server)"
[ "$(dq m1 +short CH TXT HOSTNAME.BIND)" = '"mirror-test-id"' ] || fail "hostname.bind"
expect_status m1 REFUSED CH TXT version.bind
expect_status m1 NOERROR CH A id.server
[ "$(kdig @127.0.0.1 -p "${DNS_PORT[m1]}" +tcp +short -c CH -t TXT id.server)" = '"mirror-test-id"' ] ||
    fail "kdig +tcp CH TXT id.server"
ok "NSID mirror-test on request only (dig, kdig); CH TXT id.server and hostname.bind answer mirror-test-id, UDP and TCP"

# The query log: every query sampled, at most 5 lines a second, the rest counted.
mark m1
printf '1.2.3.10.bl.example.org A\n%.0s' $(seq 60) >"$T/batch"
dig @127.0.0.1 -p "${DNS_PORT[m1]}" +time=1 +tries=1 -f "$T/batch" >/dev/null
qlines() { since m1 | grep -c 'event=query client=' || true; }
suppressed() {
    dq m1 1.2.3.10.bl.example.org A >/dev/null
    logged m1 'event=query_log_suppressed lines='
}
wait_until 10 suppressed || fail "no query_log_suppressed line"
since m1 | grep -q 'event=query client=127.0.0.1 proto=udp qname=1.2.3.10.bl.example.org. qtype=1 rcode=NOERROR' ||
    fail "query log line missing or wrong: $(since m1 | grep 'event=query ' | head -2)"
# no second has more than 5 lines
max=$(since m1 | sed -n 's/^ts=\([^ ]*\)T\([0-9:]*\)\..* event=query client=.*/\1T\2/p' | sort | uniq -c | sort -rn | awk 'NR == 1 {print $1}')
[ "${max:-0}" -le 5 ] || fail "$max query log lines in one second (max 5)"
[ "$(qlines)" -lt 60 ] || fail "every one of 60 queries was logged"
ok "query log: sampled lines with client, qname, qtype, rcode; at most 5 a second ($(qlines) of 60+), query_log_suppressed counts the rest"
stop_clean m1

# Defaults: no query log, no NSID, CH queries refused.
write_mirror_conf m2 --files
printf '[zone bl.example.org]\nrbldnsd = ip4set:%s\n' "$T/data.ip4set" >>"$T/m2/mirror.conf"
start_mirror m2
for _ in 1 2 3; do dq m2 1.2.3.10.bl.example.org A >/dev/null; done
dq m2 +nsid 1.2.3.10.bl.example.org A | grep -q NSID && fail "NSID by default"
expect_status m2 REFUSED CH TXT id.server
grep -q 'event=query ' "$T/m2.log" && fail "a query log by default"
ok "by default: no query log, no NSID, CH TXT id.server REFUSED"
finish
