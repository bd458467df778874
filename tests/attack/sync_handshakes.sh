#!/bin/bash
# SPDX-License-Identifier: MIT
# 2,000 idle TLS handshakes on the sync port from 200 addresses, reopened as soon as the master
# closes them, for 6 s: the handshakes in progress stay at the bound, the API answers, a report
# lists, a restarting mirror gets back in. Then 100 from one address (8 at most in progress), and
# every kind of refused connection (garbage, TLS 1.2, no certificate, unknown CA, revoked, a
# certificate past the handshake's 64 KiB) is counted by reason (issue 14, points 1 and 5).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/attack.sh"
MAXHS=64
pki m1 m2 m3
echo m3 >"$T/revoked"
attack_master_conf 'sync|handshake_timeout = 2s' "sync|max_handshakes = $MAXHS" \
    'sync|max_handshakes_per_address = 8'
setup
"$CTL" certs --dir "$T/other" --master-name other.test --mirror m1 >/dev/null
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
fd0=$(fds master) rss0=$(rss_kb master) log0=$(log_bytes) lines0=$(log_lines)
handshakes_at_least() { [ "$(metric master blsync_master_sync_handshakes)" -ge "$1" ]; }

flood hold --port "$SYNC_PORT" --conns 2000 --sources 127.0.0.2-127.0.0.201 --seconds 6 --reopen
wait_until 3 handshakes_at_least $((MAXHS / 2)) ||
    problem "the flood held only $(metric master blsync_master_sync_handshakes) handshakes: no attack"
watch 1
[ "$MAX_HS" -le "$MAXHS" ] || problem "$MAX_HS handshakes in progress, bound $MAXHS"
[ "$FAILED" = 0 ] || problem "/v1/health unanswered $FAILED times under the handshake flood"
legit_report 192.0.2.10 && pass "a report listed on both mirrors during the flood"
stop_clean m2
start_mirror m2
wait_until 5 _mirrors_connected || problem "a restarting mirror did not get back in during the flood"
pass "under the flood: handshakes <= $MAX_HS (bound $MAXHS), fds <= $MAX_FD (from $fd0), /v1/health in <= $SLOW ms, m2 restarted and reconnected"
flood_wait
t_end=$(now_ms)
delist_within 192.0.2.10 2 && pass "operator delisting on both mirrors $DELIST_MS ms after the flood ended"
fds_back() { [ "$(fds master)" -le $((fd0 + 4)) ]; }
wait_until 5 fds_back || problem "descriptors did not come back: $(fds master) (from $fd0)"
pass "descriptors back to $(fds master) (from $fd0) $(($(now_ms) - t_end)) ms after the flood"
# One address alone: 100 connections, at most 8 of them in their handshake.
p0=$(sync_refused per_address_limit)
flood hold --port "$SYNC_PORT" --conns 100 --sources 127.0.0.250 --seconds 1
h=$(metric master blsync_master_sync_handshakes)
[ "${h:-99}" -le 8 ] || problem "$h handshakes in progress from one address, bound 8"
wait_until 10 sync_refused_at_least per_address_limit $((p0 + 1)) ||
    problem "no refusal counted as per_address_limit"
flood_wait
for r in too_many_handshakes handshake_timeout; do
    wait_until 10 sync_refused_at_least $r 1 || problem "no refusal counted as $r"
done

echo "== one refused connection of each kind, counted by reason"
probe() { "$PY" "$S/tests/attack/tls_probe.py" "$SYNC_PORT" "$T/pki/ca.pem" "$@"; }
declare -A before
for r in not_tls no_certificate bad_certificate revoked handshake_too_large; do
    before[$r]=$(sync_refused $r)
    before[$r]=${before[$r]:-0}
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
moved() { [ "$(sync_refused not_tls)" -ge $((${before[not_tls]} + 2)) ] &&
    for r in no_certificate bad_certificate revoked handshake_too_large; do
        [ "$(sync_refused $r)" -gt "${before[$r]}" ] || return 1
    done; }
wait_until 10 moved || problem "refusals not counted by reason: $(scrape master | grep sync_refused)"
pass "$(scrape master | grep -c '^blsync_master_sync_refused_total{stage="connection"') connection refusal reasons exported; garbage and TLS 1.2 as not_tls, no_certificate, bad_certificate, revoked, handshake_too_large (a 90 KB certificate) each counted"

echo "refusals: $(scrape master | sed -n 's/^blsync_master_sync_refused_total{stage="connection",reason="\(.*\)"} \(.*\)/\1=\2/p' | tr '\n' ' ')"
rss1=$(rss_kb master) log1=$(log_bytes)
[ $((rss1 - rss0)) -le "$RSS_SLACK_KB" ] || problem "RSS grew by $((rss1 - rss0)) kB"
[ $((log1 - log0)) -le 200000 ] || problem "the log grew by $((log1 - log0)) bytes"
# The summary is written when the flood's 10 s window ends, on the master's next tick.
wait_until 15 grep -q "event=log_suppressed kind=" "$T/master.log" || problem "no log_suppressed summary"
pass "RSS $rss0 -> $rss1 kB, log +$((log1 - log0)) bytes, $(($(log_lines) - lines0)) lines; CPU $(idle_cpu 1)% over 1 s after"
stop_master
finish
