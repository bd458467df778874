#!/bin/bash
# SPDX-License-Identifier: MIT
# A zone that combines feeds, over push: one master publishes main and
# spamtrap ([master] feeds), one mirror follows both over its one TLS
# connection for bl.test (main), trap.test (spamtrap) and all.test (feed =
# main spamtrap:127.0.0.4). The mirror says HELLO once per feed (main serves
# two zones); an address in both feeds answers 127.0.0.2 and 127.0.0.4 and
# two TXT strings in all.test; delisting from one feed leaves the other's;
# each feed keeps its own serial here and on the master.
. "$(dirname "$0")/../lib.sh"

pki m1
cat >"$T/spamtrap.conf" <<CONF
[master]
feed = spamtrap
db = $T/spamtrap.db
[kind.manual]
reason = 4
CONF
write_master_conf "master|feeds = $T/spamtrap.conf"
start_master
wait_up master 10 logged master 'event=started.*feed="\?spamtrap'
trap_serial() {
    curl -sf --max-time 2 -H "Authorization: Bearer $TOK" "$MASTER_URL/v1/status?feed=spamtrap" | jq -r .serial
}
# in_trap list|delist IP: the operator's change in the spamtrap feed.
in_trap() {
    if [ "$1" = list ]; then
        api POST '/v1/listings?feed=spamtrap' "{\"prefix\":\"$2\",\"comment\":\"test\"}"
    else
        api DELETE "/v1/listings/$2?reason=technical-error&feed=spamtrap"
    fi
    [[ $STATUS == 2* ]] || fail "spamtrap: $1 $2: HTTP $STATUS $(cat "$T/out")"
}

write_mirror_conf m1
combined_zones m1
start_mirror m1
# The mirror starts following (and logs it) just after it listens.
wait_until 5 logged m1 'event=sync_started .*feeds=2' || fail "not one subscription per feed: $(since m1 | grep sync_started)"

both_synced() {
    synced m1 && [ "$(metric m1 'blsync_mirror_serial{feed="spamtrap"}')" = "$(trap_serial)" ]
}
# a_of IP ZONE: the A records of the answer (or its status), sorted, on one line.
a_of() { answer m1 "$1" "$2" | sort | paste -sd' '; }
is_a() { [ "$(a_of "$1" "$2")" = "$3" ]; }
txt() { dq m1 +short "$(revname "$1").all.test" TXT | sort | paste -sd'|'; }

list 192.0.2.10
in_trap list 192.0.2.10
in_trap list 192.0.2.12
wait_until 20 both_synced || fail "serials: main $(metric m1 'blsync_mirror_serial{feed="main"}')/$(master_serial), spamtrap $(metric m1 'blsync_mirror_serial{feed="spamtrap"}')/$(trap_serial)"
wait_until 10 is_a 192.0.2.10 all.test "127.0.0.2 127.0.0.4" || fail "both feeds: all.test answers '$(a_of 192.0.2.10 all.test)'"
[ "$(txt 192.0.2.10)" = '"Listed: 192.0.2.10"|"Spamtrap hit: 192.0.2.10"' ] || fail "both feeds: TXT '$(txt 192.0.2.10)'"
is_a 192.0.2.12 all.test 127.0.0.4 && is_a 192.0.2.12 trap.test 127.0.0.2 && is_a 192.0.2.12 "$ZONE" nx ||
    fail "spamtrap only: all.test $(a_of 192.0.2.12 all.test), trap.test $(a_of 192.0.2.12 trap.test), $ZONE $(a_of 192.0.2.12 "$ZONE")"
s=$(($(master_serial) + $(trap_serial)))
[ "$(soa_serial m1 all.test)" = "$s" ] || fail "all.test SOA serial $(soa_serial m1 all.test), want $s"
pass "over push: both feeds answer 127.0.0.2 and 127.0.0.4 and two TXT strings; one feed its own; SOA serial $s"

# The master saw one follower per feed, for all three zones.
wait_until 10 eval 'scrape master >"$T/scrape"' || fail "master metrics: no scrape"
for f in main spamtrap; do
    [ "$(awk -v k="blsync_master_mirrors_connected{feed=\"$f\"}" '$1 == k { print $2 }' "$T/scrape")" = 1 ] ||
        fail "mirrors connected to $f: $(grep '^blsync_master_mirrors_connected' "$T/scrape")"
done
[ "$(find "$T/m1/state" -mindepth 1 -maxdepth 1 -type d | wc -l)" = 2 ] || fail "state_dir holds $(ls "$T/m1/state")"
pass "one follower per feed at the master (mirrors_connected main 1, spamtrap 1), one state directory each"

s_trap=$(trap_serial)
delist 192.0.2.10
wait_until 10 is_a 192.0.2.10 all.test 127.0.0.4 || fail "delisted from main: all.test answers '$(a_of 192.0.2.10 all.test)'"
is_a 192.0.2.10 "$ZONE" nx && is_a 192.0.2.10 trap.test 127.0.0.2 || fail "delisted from main: the feeds' own zones"
[ "$(trap_serial)" = "$s_trap" ] || fail "spamtrap's serial moved with a main delisting"
in_trap delist 192.0.2.10
wait_until 10 is_a 192.0.2.10 all.test nx || fail "delisted from both: all.test answers '$(a_of 192.0.2.10 all.test)'"
wait_until 10 both_synced || fail "serials differ after the delistings"
pass "delisting from main leaves spamtrap's 127.0.0.4, then from spamtrap: NXDOMAIN"
stop_clean m1
finish
