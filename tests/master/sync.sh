#!/bin/bash
# SPDX-License-Identifier: MIT
# blsync-master with its [sync] server on: a mirror gets the listing and the delisting, and the
# master's lookup counts the mirror's acknowledgement ("propagated", mirrors 1/1).
. "$(dirname "$0")/../lib.sh"
command -v dig >/dev/null || { echo "SKIP: no dig"; exit 77; }
pki m1
write_master_conf "sync|heartbeat_interval = 500ms"
start_master
write_mirror_conf m1 "sync|backoff_min = 100ms" "sync|backoff_max = 1s"
start_mirror m1
api POST /v1/reports '{"ip":"192.0.2.77","source":"spamtrap"}'
expect 200 .listed 1
wait_until 10 is_answer m1 192.0.2.77 127.0.0.2 ||
    fail "the listing did not reach the mirror: $(answer m1 192.0.2.77)"
api DELETE "/v1/listings/192.0.2.77?reason=technical-error"
expect 200
wait_until 10 is_answer m1 192.0.2.77 nx || fail "the delisting did not reach the mirror: $(answer m1 192.0.2.77)"
wait_until 10 lookup_is 192.0.2.77 .delisting.propagated true || fail "the master did not record the acknowledgement"
lookup 192.0.2.77
expect 200 .delisting.mirrors_acked 1 .delisting.mirrors_total 1 .seconds_to_delisting null
[ "$(sqlite3 "$T/master.db" "SELECT name FROM mirrors")" = m1 ] || fail "mirror not recorded by name"

echo "== /metrics: the delisting's propagation was observed, nothing is left propagating"
wait_until 5 metric_is master 'blsync_master_delisting_propagation_seconds_count{feed="main"}' 1 ||
    fail "propagation not observed: $(scrape master | grep propagation)"
# The acknowledgement is observed when it arrives; the gauges below follow at the master's tick.
wait_until 5 metric_is master 'blsync_master_mirror_acked_serial{feed="main",mirror="m1"}' "$(master_serial)" ||
    fail "acked serial: $(scrape master | grep acked)"
wait_until 5 metric_is master 'blsync_master_oldest_delisting_propagating_seconds{feed="main"}' 0 ||
    fail "oldest propagating not 0"
wait_until 5 metric_is master 'blsync_master_delistings_propagating{feed="main"}' 0 || fail "still propagating"
metric_is master 'blsync_master_reports_ingested_total{source="spamtrap"}' 1 || fail "reports"
metric_is master 'blsync_master_delistings_decided_total{feed="main",reason="operator"}' 1 ||
    fail "delistings decided"
metric_is master 'blsync_master_mirrors_active{feed="main"}' 1 || fail "mirrors active"
[ "$(master_status '.mirrors[0].name == "m1" and .mirrors[0].active and .delistings_propagating == 0')" = true ] ||
    fail "status: $(master_status)"
if command -v promtool >/dev/null; then
    scrape master >"$T/metrics.prom"
    promtool check metrics <"$T/metrics.prom" >/dev/null 2>"$T/promtool.out" ||
        { grep -v "^$" "$T/promtool.out" | head; fail "promtool check metrics"; }
fi
stop_master
echo PASS
