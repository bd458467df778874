#!/bin/bash
# SPDX-License-Identifier: MIT
# 2,000 idle TLS handshakes on the sync port from 200 addresses, reopened as soon as the master
# closes them, for 6 s: the handshakes in progress stay at the bound, the API answers, a report
# lists, a restarting mirror gets back in. Then 100 from one address (8 at most in progress), and
# every kind of refused connection (garbage, TLS 1.2, no certificate, unknown CA, revoked, a
# certificate past the handshake's 64 KiB) is counted by reason.
. "$(dirname "$0")/common.sh"
MAXHS=64
write_master_conf "[sync] handshake_timeout = 2s" "[sync] max_handshakes = $MAXHS" \
    "[sync] max_handshakes_per_address = 8" "[sync] revoked = $T/revoked"
echo m3 >"$T/revoked"
setup
"$CTL" certs --dir "$T/pki" --mirror m3 >/dev/null || fail "certs m3"
"$CTL" certs --dir "$T/other" --master-name other.test --mirror m1 >/dev/null || fail "other CA"
# A client certificate of the right CA, padded past the 64 KiB a handshake may take.
{
    printf '[req]\ndistinguished_name=dn\n[dn]\n[ext]\nsubjectAltName=@alt\n'
    printf 'extendedKeyUsage=clientAuth\n[alt]\n'
    for i in $(seq 1 3000); do echo "DNS.$i = padding-$i.bulk.example.net"; done
} >"$T/big.cnf"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/big.key" \
    -subj /CN=big -config "$T/big.cnf" -out "$T/big.csr" 2>/dev/null &&
    openssl x509 -req -in "$T/big.csr" -CA "$T/pki/ca.pem" -CAkey "$T/pki/ca.key" \
        -CAcreateserial -days 1 -extfile "$T/big.cnf" -extensions ext -out "$T/big.pem" \
        2>/dev/null || fail "big certificate"
fd0=$(fds) rss0=$(rss_kb) log0=$(log_bytes)
refused() { metric "blsync_master_sync_refused_total{stage=\"connection\",reason=\"$1\"}"; }

flood hold --port "$SYNC_PORT" --conns 2000 --sources 127.0.0.2-127.0.0.201 --seconds 6 --reopen
max_hs=0 max_fd=0 slow=0
for _ in 1 2 3 4 5; do
    h=$(metric blsync_master_sync_handshakes)
    [ "${h:-0}" -gt "$max_hs" ] && max_hs=$h
    f=$(fds)
    [ "$f" -gt "$max_fd" ] && max_fd=$f
    t0=$(now_ms)
    health || problem "/v1/health unanswered under the handshake flood"
    [ $(($(now_ms) - t0)) -gt "$slow" ] && slow=$(($(now_ms) - t0))
    sleep 0.2
done
[ "$max_hs" -le "$MAXHS" ] || problem "$max_hs handshakes in progress, bound $MAXHS"
[ "$max_hs" -ge $((MAXHS / 2)) ] || problem "the flood held only $max_hs handshakes: no attack"
legit_report 192.0.2.10 && pass "a report listed on both mirrors during the flood"
stop_clean m2
start_mirror m2
wait_until 5 bash -c "[ \"\$(curl -s http://127.0.0.1:$MMET_PORT/metrics |
    awk '\$1 == \"blsync_master_mirrors_connected{feed=\\\"main\\\"}\" {print \$2}')\" = 2 ]" ||
    problem "a restarting mirror did not get back in during the flood"
pass "under the flood: handshakes <= $max_hs (bound $MAXHS), fds <= $max_fd (from $fd0), /v1/health in <= $slow ms, m2 restarted and reconnected"
flood_wait
t_end=$(now_ms)
ms=$(delist_within 192.0.2.10 2) && pass "operator delisting on both mirrors $ms ms after the flood ended"
wait_until 5 bash -c "[ \$(ls /proc/${PID[master]}/fd | wc -l) -le $((fd0 + 4)) ]" ||
    problem "descriptors did not come back: $(fds) (from $fd0)"
pass "descriptors back to $(fds) (from $fd0) $(($(now_ms) - t_end)) ms after the flood"
# One address alone: 100 connections, at most 8 of them in their handshake.
flood hold --port "$SYNC_PORT" --conns 100 --sources 127.0.0.250 --seconds 1
h=$(metric blsync_master_sync_handshakes)
[ "${h:-99}" -le 8 ] || problem "$h handshakes in progress from one address, bound 8"
flood_wait
for r in too_many_handshakes per_address_limit; do
    [ "$(refused $r)" -ge 1 ] 2>/dev/null || problem "no refusal counted as $r"
done
wait_until 4 bash -c "[ \"\$(curl -s http://127.0.0.1:$MMET_PORT/metrics | awk '\$1 ~ /reason=\"handshake_timeout\"/ {print \$2}')\" -ge 1 ]" ||
    problem "no handshake_timeout counted"

echo "== one refused connection of each kind, counted by reason"
probe() { "$PY" "$S/tests/attack/tls_probe.py" "$SYNC_PORT" "$T/pki/ca.pem" "$@"; }
declare -A before
for r in not_tls no_certificate bad_certificate revoked handshake_too_large; do
    before[$r]=$(refused $r)
done
[ "$(probe garbage)" = refused ] || problem "garbage was not refused"
[ "$(probe tls12)" = refused ] || problem "TLS 1.2 was not refused"
[ "$(probe nocert)" = refused ] || problem "a client without certificate was not refused"
[ "$(probe cert "$T/other/mirror-m1.pem" "$T/other/mirror-m1.key")" = refused ] ||
    problem "a certificate of another CA was not refused"
[ "$(probe cert "$T/pki/mirror-m3.pem" "$T/pki/mirror-m3.key")" = refused ] ||
    problem "a revoked certificate was not refused"
[ "$(probe cert "$T/big.pem" "$T/big.key")" = refused ] ||
    problem "a 90 KB client certificate was not refused"
moved() { [ "$(refused not_tls)" -ge $((${before[not_tls]} + 2)) ] &&
    for r in no_certificate bad_certificate revoked handshake_too_large; do
        [ "$(refused $r)" -gt "${before[$r]}" ] || return 1
    done; }
wait_until 3 moved || problem "refusals not counted by reason: $(scrape | grep sync_connections_refused)"
pass "$(scrape | grep -c '^blsync_master_sync_refused_total{stage="connection"') connection refusal reasons exported; garbage and TLS 1.2 as not_tls, no_certificate, bad_certificate, revoked, handshake_too_large (a 90 KB certificate) each counted"

echo "refusals: $(scrape | sed -n 's/^blsync_master_sync_refused_total{stage="connection",reason="\(.*\)"} \(.*\)/\1=\2/p' | tr '\n' ' ')"
rss1=$(rss_kb) log1=$(log_bytes)
[ $((rss1 - rss0)) -le $((64 * 1024 * SCALE)) ] || problem "RSS grew by $((rss1 - rss0)) kB"
[ $((log1 - log0)) -le 200000 ] || problem "the log grew by $((log1 - log0)) bytes"
grep -q "event=log_suppressed kind=" "$T/master.log" || problem "no log_suppressed summary"
pass "RSS $rss0 -> $rss1 kB, log +$((log1 - log0)) bytes"
stop_clean master
finish
