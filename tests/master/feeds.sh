#!/bin/bash
# SPDX-License-Identifier: MIT
# One master publishes two feeds ([master] feeds): each with its own policy,
# store, spool and serials, on the same API (?feed=NAME), sync server,
# spool layout and /metrics. Feed files that would change what the feeds
# share are refused. A mirror that follows one feed counts for that feed only.
. "$(dirname "$0")/../lib.sh"

pki m1 m2
alloc_port PUB
# The spamtrap list lists at the first user report; the main list needs two.
cat >"$T/spamtrap.conf" <<CONF
[master]
feed = spamtrap
db = $T/spamtrap.db
[policy]
threshold = 1
CONF
write_master_conf "master|feeds = $T/spamtrap.conf" "public|listen = 127.0.0.1:$PUB" \
    'public|serve_spool = yes'

# What a feed file may not set, each with the error that names it.
refused() { # WANT LINE...: --check-config fails and says WANT
    local want=$1 out
    shift
    printf '%s\n' "$@" >"$T/bad.conf"
    cp "$T/master.conf" "$T/bad-master.conf"
    ini_set "$T/bad-master.conf" "master|feeds = $T/bad.conf"
    if out=$("$MASTER" --check-config -c "$T/bad-master.conf" 2>&1); then
        fail "a feed file with '$*' was accepted"
    fi
    grep -qF -- "$want" <<<"$out" || fail "feed file '$*': '$out' does not say '$want'"
}
refused "[http] listen belong in the main configuration" '[master]' 'feed = x' "db = $T/x.db" \
    '[http]' 'listen = 127.0.0.1:1'
refused "[sync] heartbeat_interval belong" '[master]' 'feed = x' "db = $T/x.db" '[sync]' \
    'heartbeat_interval = 1s'
refused "[publisher] spool belongs in the main configuration" '[master]' 'feed = x' \
    "db = $T/x.db" '[publisher]' "spool = $T/other"
refused "[publisher] key belongs" '[master]' 'feed = x' "db = $T/x.db" '[publisher]' \
    "key = $T/other.key"
refused "[master] feed is also the main configuration's" '[master]' 'feed = main' "db = $T/x.db"
refused "[master] db is also the main configuration's" '[master]' 'feed = x' "db = $T/master.db"
"$MASTER" --check-config -c "$T/master.conf" >/dev/null || fail "the two-feed configuration fails its check"
pass "feed files: listeners, spool, key, a taken name or db refused with the option named"

start_master
PUB_URL=http://127.0.0.1:$PUB
wait_up master 10 logged master 'event=started.*feed="\?spamtrap'
api GET /v1/status
expect 200 .feed main '.feeds | join(",")' main,spamtrap
api GET '/v1/status?feed=spamtrap'
expect 200 .feed spamtrap
api GET '/v1/status?feed=nosuch'
expect_msg 404 "no feed named 'nosuch'"
api GET '/v1/status?feed=spamtrap' '' ''
[ "$STATUS" = 401 ] && ! grep -q spamtrap "$T/out" || fail "without a token: HTTP $STATUS $(cat "$T/out")"
pass "API: /v1/status lists both feeds; ?feed= picks one, an unknown one is 404, none without a token"

# Each feed its own policy: one user report lists in spamtrap only.
s_main=$(master_serial)
api POST '/v1/reports?feed=spamtrap' '{"ip":"192.0.2.7","source":"user"}'
expect 200
api POST /v1/reports '{"ip":"192.0.2.7","source":"user"}'
expect 200
api GET '/v1/lookup/192.0.2.7?feed=spamtrap'
expect 200 .listed true
api GET /v1/lookup/192.0.2.7
expect 200 .listed false
pass "policy per feed: one user report lists 192.0.2.7 in spamtrap (threshold 1), not in main (2)"

ctl() { in_ns master "$CTL" "$@" --url "$MASTER_URL" --token-file "$T/token"; }
ctl lookup 192.0.2.7 --feed spamtrap >/dev/null || fail "blsyncctl lookup --feed spamtrap: not listed"
rc=0
ctl lookup 192.0.2.7 >/dev/null || rc=$?
[ "$rc" = 1 ] || fail "blsyncctl lookup on main: exit $rc, want 1 (not listed)"
out=$(ctl status --feed spamtrap) || true
grep -q '^feed spamtrap: serial' <<<"$out" && grep -q '^feeds of this master (--feed NAME): main spamtrap$' <<<"$out" ||
    fail "blsyncctl status --feed spamtrap: $out"
rc=0
ctl status --feed 'bad&name' >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "blsyncctl --feed 'bad&name': exit $rc, want 2"
pass "blsyncctl --feed: lookup and status of spamtrap; the feeds listed; a bad name is a usage error"

# Operator listings and their serials, feed by feed.
api POST '/v1/listings?feed=spamtrap' '{"prefix":"198.51.100.0/24","comment":"trap"}'
expect 201
list 203.0.113.9
trap_serial() { master_status '.serial' 2>/dev/null; }
st_serial() {
    in_ns master curl -sf --max-time "$_BL_CURL_TIME" -H "Authorization: Bearer $TOK" \
        "$MASTER_URL/v1/status?feed=spamtrap" | jq -r "${1:-.serial}"
}
wait_until 10 gives 0 st_serial .pending || fail "spamtrap never published"
wait_until 10 published_all || fail "main never published"
api GET '/v1/listings?feed=spamtrap'
expect 200
jq -e '[.listings[].prefix] | sort == ["192.0.2.7","198.51.100.0/24"]' "$T/out" >/dev/null ||
    fail "spamtrap listings: $(cat "$T/out")"
api GET /v1/listings
jq -e '[.listings[].prefix] == ["203.0.113.9"]' "$T/out" >/dev/null ||
    fail "main listings: $(cat "$T/out")"
[ -s "$T/spool/spamtrap/head" ] && [ -s "$T/spool/main/head" ] || fail "a feed has no head in the spool"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$PUB_URL/spool/spamtrap/head")" = 200 ] ||
    fail "the public listener does not serve /spool/spamtrap/head"
pass "listings and spool apart: spamtrap holds its 2, main its 1; both heads served under /spool/"

# Mirrors: m1 follows both feeds (a zone each), m2 only main.
write_mirror_conf m1 "zone trap.test|feed = spamtrap" "zone trap.test|trusted_key = $T/sign.pub" \
    "zone trap.test|ttl = 1"
write_mirror_conf m2
start_mirror m1
start_mirror m2
trap_synced() { [ "$(metric m1 'blsync_mirror_serial{feed="spamtrap"}')" = "$(st_serial)" ]; }
wait_until 20 all_synced m1 m2 || fail "the mirrors never reached main's serial"
wait_until 20 trap_synced || fail "m1 never reached spamtrap's serial $(st_serial)"
answer() { dq "$1" +short "$2" A | sort | tr '\n' ' '; }
[ "$(answer m1 7.2.0.192.trap.test)" = "127.0.0.2 " ] || fail "m1 trap.test 192.0.2.7: $(answer m1 7.2.0.192.trap.test)"
[ "$(answer m1 1.100.51.198.trap.test)" = "127.0.0.2 " ] || fail "m1 trap.test 198.51.100.1 unlisted"
expect_status m1 NXDOMAIN 7.2.0.192.$ZONE A
[ "$(answer m2 9.113.0.203.$ZONE)" = "127.0.0.2 " ] || fail "m2 $ZONE 203.0.113.9 unlisted"
expect_status m1 NXDOMAIN 9.113.0.203.trap.test A
pass "mirrors: trap.test answers spamtrap's listings, $ZONE main's; each mirror at each feed's serial"

# The master's metrics: both feeds' series; m2 counts for main only.
feed_active() { metric master "blsync_master_mirrors_active{feed=\"$1\"}"; }
wait_until 10 eval 'gives 2 feed_active main && gives 1 feed_active spamtrap' ||
    fail "mirrors active: main $(feed_active main), spamtrap $(feed_active spamtrap); want 2 and 1"
# One scrape for the checks below (m() reads it); retried while the master is busy.
wait_until 10 eval 'scrape master >"$T/scrape"' || fail "master metrics: no scrape"
m() { awk -v k="$1" '$1 == k { print $2 }' "$T/scrape"; }
[ "$(m 'blsync_master_mirrors_connected{feed="main"}')" = 2 ] &&
    [ "$(m 'blsync_master_mirrors_connected{feed="spamtrap"}')" = 1 ] ||
    fail "mirrors connected per feed: $(grep '^blsync_master_mirrors_connected' "$T/scrape")"
[ "$(m 'blsync_master_serial{feed="spamtrap"}')" = "$(st_serial)" ] ||
    fail "blsync_master_serial{feed=spamtrap} is not spamtrap's serial"
grep -q '^blsync_master_mirror_acked_serial{feed="spamtrap",mirror="m1"}' "$T/scrape" ||
    fail "no acked serial of m1 for spamtrap: $(grep mirror_acked_serial "$T/scrape")"
! grep -q '^blsync_master_mirror_acked_serial{feed="spamtrap",mirror="m2"}' "$T/scrape" ||
    fail "m2, which does not follow spamtrap, has a spamtrap series"
# Heartbeats go to each follower of a feed: main's count grows twice as fast as spamtrap's.
hb_main=$(m 'blsync_master_heartbeats_sent_total{feed="main"}')
hb_trap=$(m 'blsync_master_heartbeats_sent_total{feed="spamtrap"}')
hb_grown() {
    scrape master >"$T/scrape" && [ "$(m 'blsync_master_heartbeats_sent_total{feed="spamtrap"}')" -ge $((hb_trap + 5)) ]
}
wait_until 20 hb_grown || fail "spamtrap's heartbeats did not grow from $hb_trap"
d_main=$(($(m 'blsync_master_heartbeats_sent_total{feed="main"}') - hb_main))
d_trap=$(($(m 'blsync_master_heartbeats_sent_total{feed="spamtrap"}') - hb_trap))
[ "$d_main" -gt "$d_trap" ] || fail "heartbeats: main +$d_main, spamtrap +$d_trap; main has two followers"
api GET '/v1/mirrors?feed=spamtrap'
jq -e '[.mirrors[].name] == ["m1"]' "$T/out" >/dev/null || fail "spamtrap's mirrors: $(cat "$T/out")"
pass "metrics per feed: serials, mirrors active and connected main 2 / spamtrap 1, heartbeats per feed; m2 has no spamtrap series"

# A delisting in one feed leaves the other alone.
s_main=$(master_serial)
api DELETE '/v1/listings/198.51.100.0%2F24?reason=technical-error&feed=spamtrap'
[[ $STATUS == 2* ]] || fail "spamtrap delisting: HTTP $STATUS $(cat "$T/out")"
wait_until 10 gives 0 st_serial .pending || fail "spamtrap never published the delisting"
wait_until 20 trap_synced || fail "m1 never applied spamtrap's delisting"
expect_status m1 NXDOMAIN 1.100.51.198.trap.test A
[ "$(master_serial)" = "$s_main" ] || fail "main's serial moved with a spamtrap delisting"
[ "$(answer m1 7.2.0.192.trap.test)" = "127.0.0.2 " ] || fail "192.0.2.7 lost from spamtrap"
pass "delisting in spamtrap reaches m1; main's serial stays $s_main"

# A mirror that pulls both feeds from the public listener with long polls
# and a zone combining them: each feed is held on its own, so a change in
# either reaches it in seconds though it polls every 30 s.
write_pull_conf m3 "$PUB_URL/spool"
ini_set "$T/m3/mirror.conf" 'sync|poll_interval = 30s' 'sync|poll_jitter = 0s' 'sync|long_poll = yes'
combined_zones m3
mark master
start_mirror m3
# The mirror starts pulling (and logs it) just after it listens.
wait_until 5 logged m3 'event=pull_started .*feeds=2 clients=2' ||
    fail "m3 does not run a pull client per feed: $(since m3 | grep pull_started)"
m3_synced() {
    [ "$(metric m3 'blsync_mirror_serial{feed="spamtrap"}')" = "$(st_serial)" ] &&
        [ "$(metric m3 'blsync_mirror_serial{feed="main"}')" = "$(master_serial)" ]
}
wait_until 20 m3_synced || fail "m3 never reached both feeds' serials"
held2() { [ "$(metric master blsync_master_spool_long_polls)" -ge 2 ]; }
wait_until 10 held2 || fail "the master holds fewer than 2 long polls: $(scrape master | grep spool_long)"
t=$(now_ms)
api POST '/v1/listings?feed=spamtrap' '{"prefix":"198.51.100.77","comment":"lp"}'
expect 201
wait_until 5 gives "127.0.0.4 " answer m3 77.100.51.198.all.test ||
    fail "a spamtrap listing took over 5 s to reach m3: $(answer m3 77.100.51.198.all.test)"
t1=$(($(now_ms) - t))
wait_until 10 held2 || fail "m3's long polls were not held again"
t=$(now_ms)
list 198.51.100.77
wait_until 5 gives "127.0.0.2 127.0.0.4 " answer m3 77.100.51.198.all.test ||
    fail "a main listing took over 5 s to reach m3: $(answer m3 77.100.51.198.all.test)"
pass "long polls per feed: spamtrap's listing in $t1 ms, main's in $(($(now_ms) - t)) ms (poll_interval 30 s); all.test answers 127.0.0.2 127.0.0.4"
stop m3

# SIGHUP reads the feed file again.
ini_set "$T/master.conf" 'policy|mirror_active = 2h'
ini_set "$T/spamtrap.conf" 'policy|mirror_active = 3h'
mark master
kill -HUP "${PID[master]}"
wait_up master 10 logged master 'event=reloaded what=config .*mirror_active=3h serve_spool=no feed="\?spamtrap'
logged master 'event=reloaded what=config .*mirror_active=2h .*feed="\?main' || fail "main not reloaded"
pass "SIGHUP: each feed reloads its own file (mirror_active 2h main, 3h spamtrap)"
finish
