#!/bin/bash
# SPDX-License-Identifier: MIT
# blsync-master with its [sync] server on: a mirror gets the listing and the delisting, and the
# master's lookup counts the mirror's acknowledgement ("propagated", mirrors 1/1).
. "$(dirname "$0")/lib.sh"
MIR=$B/mirror/blsync-mirror
command -v dig >/dev/null || { echo "SKIP: no dig"; exit 77; }
"$C" certs --dir "$W/pki" --master-name master.test --mirror m1 >/dev/null || fail certs
SP=$((PORT + 1))
DP=$((PORT + 2))
REALCLOCK=1
write_conf "sync|listen = 127.0.0.1:$SP" "sync|cert = $W/pki/master.pem" \
    "sync|tls_key = $W/pki/master.key" "sync|ca = $W/pki/ca.pem" "sync|heartbeat_interval = 500ms" \
    "metrics|listen = 127.0.0.1:$((PORT + 3))"
start_master
mkdir -p "$W/mir"
cat >"$W/mir/mirror.ini" <<EOM
[server]
listen = 127.0.0.1:$DP
threads = 1
[sync]
master = 127.0.0.1:$SP
server_name = master.test
cert = $W/pki/mirror-m1.pem
key = $W/pki/mirror-m1.key
ca = $W/pki/ca.pem
state_dir = $W/mir/state
backoff_min = 100ms
backoff_max = 1s
[zone bl.test]
feed = main
ttl = 1
trusted_key = $W/m.pub
EOM
"$MIR" -c "$W/mir/mirror.ini" 2>"$W/mir.log" &
PIDS+=($!)
answer() { dig +short +time=1 +tries=1 @127.0.0.1 -p "$DP" 77.2.0.192.bl.test A; }
api POST /v1/reports '{"ip":"192.0.2.77","source":"spamtrap"}'
expect 200 .listed 1
wait_for 10 bash -c "[ \"\$(dig +short +time=1 +tries=1 @127.0.0.1 -p $DP 77.2.0.192.bl.test A)\" = 127.0.0.2 ]" ||
    fail "the listing did not reach the mirror: $(answer)"
api DELETE "/v1/listings/192.0.2.77?reason=technical-error"
expect 200
wait_for 10 bash -c "[ -z \"\$(dig +short +time=1 +tries=1 @127.0.0.1 -p $DP 77.2.0.192.bl.test A)\" ]" ||
    fail "the delisting did not reach the mirror"
propagated() { curl -s "http://127.0.0.1:$PORT/v1/lookup/192.0.2.77" | jq -e '.delisting.propagated' >/dev/null; }
wait_for 10 propagated || fail "the master did not record the acknowledgement"
lookup 192.0.2.77
expect 200 .delisting.mirrors_acked 1 .delisting.mirrors_total 1 .seconds_to_delisting null
[ "$(sqlite3 "$W/m.db" "SELECT name FROM mirrors")" = m1 ] || fail "mirror not recorded by name"

echo "== /metrics: the delisting's propagation was observed, nothing is left propagating"
scrape() { curl -s "http://127.0.0.1:$((PORT + 3))/metrics"; }
metric() { scrape | awk -v k="$1" '$1 == k {print $2}'; }
observed() { [ "$(metric 'blsync_master_delisting_propagation_seconds_count{feed="main"}')" = 1 ]; }
wait_for 5 observed || fail "propagation not observed: $(scrape | grep propagation)"
serial=$(curl -s "http://127.0.0.1:$PORT/v1/status" | jq -r .serial)
[ "$(metric 'blsync_master_mirror_acked_serial{feed="main",mirror="m1"}')" = "$serial" ] ||
    fail "acked serial: $(scrape | grep acked)"
[ "$(metric 'blsync_master_oldest_delisting_propagating_seconds{feed="main"}')" = 0 ] ||
    fail "oldest propagating not 0"
[ "$(metric 'blsync_master_delistings_propagating{feed="main"}')" = 0 ] || fail "still propagating"
[ "$(metric 'blsync_master_reports_ingested_total{source="spamtrap"}')" = 1 ] || fail "reports"
[ "$(metric 'blsync_master_delistings_decided_total{feed="main",reason="operator"}')" = 1 ] ||
    fail "delistings decided"
[ "$(metric 'blsync_master_mirrors_active{feed="main"}')" = 1 ] || fail "mirrors active"
curl -s "http://127.0.0.1:$PORT/v1/status" | jq -e ".mirrors[0].name == \"m1\" and .mirrors[0].active and .delistings_propagating == 0" >/dev/null ||
    fail "status: $(curl -s http://127.0.0.1:$PORT/v1/status)"
if command -v promtool >/dev/null; then
    scrape | promtool check metrics >/dev/null 2>"$W/promtool.out" ||
        { grep -v "^$" "$W/promtool.out" | head; fail "promtool check metrics"; }
fi
stop_master
echo PASS
