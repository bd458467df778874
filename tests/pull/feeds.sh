#!/bin/bash
# SPDX-License-Identifier: MIT
# A mirror zone that combines feeds ([zone] feed = main spamtrap:127.0.0.4):
# two masters publish the feeds main and spamtrap into one spool root, a
# static nginx serves it, and one mirror pulls both feeds once for three
# zones: bl.test (main), trap.test (spamtrap) and all.test (both). An
# address in both feeds answers 127.0.0.2 and 127.0.0.4 and two TXT
# strings in all.test, one in a single feed answers that feed's value;
# delisting from one feed leaves the other's. Each feed is followed on its
# own: its serial, its state directory, and its freshness: with the
# spamtrap master stopped only the spamtrap listings stop answering, and
# they come back when it returns.
. "$(dirname "$0")/../lib.sh"

alloc_port ORIGIN HTTP2 MMET2
# The heads are signed again every 500 ms: the mirror's heartbeat.
write_master_conf 'publisher|http_head_refresh = 500ms'
cp "$T/master.conf" "$T/trap.conf"
ini_set "$T/trap.conf" 'master|feed = spamtrap' "master|db = $T/trap.db" \
    "http|listen = 127.0.0.1:$HTTP2" "metrics|listen = 127.0.0.1:$MMET2" 'kind.manual|reason = 4'
start_master
MAIN_URL=$MASTER_URL
TRAP_URL=http://127.0.0.1:$HTTP2
# in_trap CMD...: a lib.sh master command (list, delist, master_serial) against the spamtrap master.
in_trap() {
    local MASTER_URL=$TRAP_URL
    "$@"
}
trap_healthy() { curl -sf --max-time 2 "$TRAP_URL/v1/health" >/dev/null; }
start_trap() {
    spawn trap "$MASTER" -c "$T/trap.conf"
    wait_up trap 20 trap_healthy
}
start_trap
wait_until 10 test -s "$T/spool/main/head" || fail "the main master wrote no head"
wait_until 10 test -s "$T/spool/spamtrap/head" || fail "the spamtrap master wrote no head"
start_nginx origin "$ORIGIN" "
    server { listen 127.0.0.1:$ORIGIN; root $T/spool; etag on;
$(spool_locations)
    }"

write_pull_conf m "http://127.0.0.1:$ORIGIN"
ini_set "$T/m/mirror.conf" 'sync|stale_after = 2s' 'sync|freeze_after = 4s'
combined_zones m
start_mirror m
# The mirror starts pulling (and logs it) just after it listens.
wait_until 5 logged m 'event=pull_started .*feeds=2' || fail "the mirror does not pull two feeds: $(since m | grep pull_started)"

# feeds_synced: each feed's serial metric is its master's serial.
feeds_synced() {
    [ "$(metric m 'blsync_mirror_serial{feed="main"}')" = "$(master_serial)" ] &&
        [ "$(metric m 'blsync_mirror_serial{feed="spamtrap"}')" = "$(in_trap master_serial)" ]
}
# a_set IP ZONE: the A answer, sorted, on one line.
a_set() { answer m "$1" "$2" | sort | paste -sd' '; }
# answers IP ZONE WANT: whether the answer is WANT.
answers() { [ "$(a_set "$1" "$2")" = "$3" ]; }
txt_of() { dq m +short "$(revname "$1").$2" TXT | sort | paste -sd'|'; }

BOTH=192.0.2.10 MAIN=192.0.2.11 TRAP=192.0.2.12
list "$BOTH"
list "$MAIN"
in_trap list "$BOTH"
in_trap list "$TRAP"
wait_until 20 feeds_synced || fail "feeds not synced: main $(metric m 'blsync_mirror_serial{feed="main"}')/$(master_serial), spamtrap $(metric m 'blsync_mirror_serial{feed="spamtrap"}')/$(in_trap master_serial)"
wait_until 10 answers "$BOTH" all.test "127.0.0.2 127.0.0.4" ||
    fail "both feeds: all.test answers '$(a_set "$BOTH" all.test)'"
[ "$(txt_of "$BOTH" all.test)" = "\"Listed: $BOTH\"|\"Spamtrap hit: $BOTH\"" ] ||
    fail "both feeds: all.test TXT '$(txt_of "$BOTH" all.test)'"
pass "listed in both feeds: all.test answers 127.0.0.2 and 127.0.0.4 and two TXT strings"
answers "$MAIN" all.test 127.0.0.2 || fail "main only: all.test answers '$(a_set "$MAIN" all.test)'"
answers "$TRAP" all.test 127.0.0.4 || fail "spamtrap only: all.test answers '$(a_set "$TRAP" all.test)'"
[ "$(txt_of "$TRAP" all.test)" = "\"Spamtrap hit: $TRAP\"" ] ||
    fail "spamtrap only: all.test TXT '$(txt_of "$TRAP" all.test)'"
answers 192.0.2.13 all.test nx || fail "listed nowhere: all.test answers '$(a_set 192.0.2.13 all.test)'"
pass "listed in one feed: that feed's A value and TXT string only"
answers "$BOTH" bl.test 127.0.0.2 && answers "$MAIN" bl.test 127.0.0.2 && answers "$TRAP" bl.test nx ||
    fail "bl.test (main) answers $(a_set "$BOTH" bl.test), $(a_set "$MAIN" bl.test), $(a_set "$TRAP" bl.test)"
answers "$BOTH" trap.test 127.0.0.2 && answers "$TRAP" trap.test 127.0.0.2 && answers "$MAIN" trap.test nx ||
    fail "trap.test (spamtrap) answers $(a_set "$BOTH" trap.test), $(a_set "$TRAP" trap.test), $(a_set "$MAIN" trap.test)"
pass "each feed's own zone answers its own listings"
sum=$(($(master_serial) + $(in_trap master_serial)))
[ "$(soa_serial m all.test)" = "$sum" ] || fail "all.test SOA serial $(soa_serial m all.test), want $sum"
[ "$(soa_serial m bl.test)" = "$(master_serial)" ] || fail "bl.test SOA serial $(soa_serial m bl.test)"
pass "SOA serials: bl.test $(master_serial), all.test the sum $sum"

# Delisting from one feed leaves the other's value.
delist "$BOTH"
wait_until 10 answers "$BOTH" all.test 127.0.0.4 || fail "delisted from main: all.test answers '$(a_set "$BOTH" all.test)'"
answers "$BOTH" bl.test nx || fail "delisted from main: bl.test answers '$(a_set "$BOTH" bl.test)'"
answers "$BOTH" trap.test 127.0.0.2 || fail "delisted from main: trap.test answers '$(a_set "$BOTH" trap.test)'"
in_trap delist "$TRAP"
wait_until 10 answers "$TRAP" all.test nx || fail "delisted from spamtrap: all.test answers '$(a_set "$TRAP" all.test)'"
answers "$TRAP" trap.test nx || fail "delisted from spamtrap: trap.test answers '$(a_set "$TRAP" trap.test)'"
list "$BOTH"
wait_until 10 answers "$BOTH" all.test "127.0.0.2 127.0.0.4" || fail "listed again in main: '$(a_set "$BOTH" all.test)'"
wait_until 10 feeds_synced || fail "feeds not synced after the delistings"
pass "delisting from one feed leaves the other feed's value"

# The metrics count each feed's entries on its own (set just after the serial, at each apply).
entries_are() {
    metric_is m 'blsync_mirror_entries{feed="main",family="ipv4"}' 2 &&
        metric_is m 'blsync_mirror_entries{feed="spamtrap",family="ipv4"}' 1
}
wait_until 5 entries_are ||
    fail "entries: $(scrape m | grep '^blsync_mirror_entries')"
pass "blsync_mirror_entries: main 2, spamtrap 1"

# SIGHUP applies the combined zone's templates; a change of its feeds needs a restart.
ini_set "$T/m/mirror.conf" 'zone all.test|reason.4 = Trap: $'
mark m
kill -HUP "${PID[m]}"
wait_up m 10 logged m 'event=reloaded'
wait_until 5 gives "\"Listed: $BOTH\"|\"Trap: $BOTH\"" txt_of "$BOTH" all.test ||
    fail "reloaded template: all.test TXT '$(txt_of "$BOTH" all.test)'"
ini_set "$T/m/mirror.conf" 'zone all.test|feed = main spamtrap:127.0.0.5'
mark m
kill -HUP "${PID[m]}"
wait_up m 10 logged m 'event=reload_failed .*zone all.test: zones, feeds and sources need a restart'
answers "$BOTH" all.test "127.0.0.2 127.0.0.4" || fail "after a refused reload all.test answers '$(a_set "$BOTH" all.test)'"
ini_set "$T/m/mirror.conf" 'zone all.test|feed = main spamtrap:127.0.0.4' 'zone all.test|reason.4 = Spamtrap hit: $'
pass "SIGHUP: a combined zone's TXT template reloads; a change of its feeds is refused (restart)"

# One store per feed: state_dir/main and state_dir/spamtrap, restored at start.
[ "$(find "$T/m/state" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort | paste -sd' ')" = "main spamtrap" ] ||
    fail "state_dir holds $(ls "$T/m/state")"
stop m
start_mirror m
s1=$(master_serial) s2=$(in_trap master_serial)
[ "$(since m | grep -c 'event=sync_state_restored feed=main ')" = 1 ] &&
    [ "$(since m | grep -c 'event=sync_state_restored feed=spamtrap ')" = 1 ] ||
    fail "restores: $(since m | grep sync_state_restored)"
logged m "event=sync_state_restored feed=main serial=$s1 " && logged m "event=sync_state_restored feed=spamtrap serial=$s2 " ||
    fail "restored serials, want main $s1 spamtrap $s2: $(since m | grep sync_state_restored)"
answers "$BOTH" all.test "127.0.0.2 127.0.0.4" || fail "after a restart all.test answers '$(a_set "$BOTH" all.test)'"
pass "one state directory per feed, each restored once at start (main $s1, spamtrap $s2)"

# The spamtrap master stops: its head is no longer signed again, the feed
# goes stale and then frozen, and only its listings stop answering.
stop_clean trap
frozen() { [ "$(metric m 'blsync_mirror_stale{feed="spamtrap"}')" = 2 ]; }
wait_until 15 frozen || fail "the spamtrap feed did not freeze: $(scrape m | grep -E '^blsync_mirror_stale')"
metric_is m 'blsync_mirror_stale{feed="main"}' 0 || fail "main is not fresh: $(scrape m | grep -E '^blsync_mirror_stale')"
answers "$BOTH" all.test 127.0.0.2 || fail "spamtrap frozen: all.test answers '$(a_set "$BOTH" all.test)'"
[ "$(txt_of "$BOTH" all.test)" = "\"Listed: $BOTH\"" ] || fail "spamtrap frozen: all.test TXT '$(txt_of "$BOTH" all.test)'"
answers "$BOTH" trap.test nx || fail "spamtrap frozen: trap.test answers '$(a_set "$BOTH" trap.test)'"
answers "$BOTH" bl.test 127.0.0.2 && answers "$MAIN" all.test 127.0.0.2 || fail "spamtrap frozen: main's listings stopped"
answers 127.0.0.2 trap.test 127.0.0.2 || fail "spamtrap frozen: the test entry stopped"
health=$(curl -s --max-time 2 "http://127.0.0.1:${MET_PORT[m]}/healthz")
grep -q "zone all.test: feed spamtrap is frozen" <<<"$health" || fail "/healthz says '$health'"
pass "spamtrap frozen: only its listings stop (all.test 127.0.0.2 only, trap.test NXDOMAIN); /healthz: $health"
start_trap
wait_until 15 answers "$BOTH" all.test "127.0.0.2 127.0.0.4" || fail "spamtrap back: all.test answers '$(a_set "$BOTH" all.test)'"
answers "$BOTH" trap.test 127.0.0.2 || fail "spamtrap back: trap.test answers '$(a_set "$BOTH" trap.test)'"
# The metric follows the answers' switch: it may take a moment.
wait_until 5 metric_is m 'blsync_mirror_stale{feed="spamtrap"}' 0 || fail "spamtrap not fresh again"
pass "the spamtrap master back: its listings answer again"
[ "$(scrape m | grep -c '^blsync_mirror_pull_refused_total' || true)" = 0 ] ||
    fail "the mirror refused something: $(scrape m | grep pull_refused)"
stop_clean m
finish
