#!/bin/bash
# SPDX-License-Identifier: MIT
# Long polls of the spool's head ([public] serve_spool, [sync] long_poll):
# mirrors that poll every 30 s see a listing and a delisting within a few
# seconds, straight from the master and through two nginx cache tiers (which
# coalesce the held requests for the same URL); a
# static server, which ignores the query, is polled instead; past
# spool_long_polls the master answers 503; the held requests are counted; a
# master stopping answers them and exits cleanly.
. "$(dirname "$0")/../lib.sh"

alloc_port PUB ORIGIN TIER1 TIER2
write_master_conf "public|listen = 127.0.0.1:$PUB" 'public|serve_spool = yes' \
    'public|spool_long_poll_wait = 20s' 'publisher|http_head_refresh = 20s' \
    'publisher|http_head_ttl = 120s'
start_master
SP=http://127.0.0.1:$PUB/spool
wait_until 10 test -s "$T/spool/main/head" || fail "the publisher wrote no head"

# The master holds a long poll at the current serial, answers one below it at once.
s=$(master_serial)
t=$(now_ms)
st=$(curl -s -o /dev/null -D "$T/lp.hdr" -w '%{http_code}' --max-time 30 "$SP/main/head?after=$((s - 1))")
[ "$st" = 200 ] && grep -qi '^Blsync-Long-Poll: 20' "$T/lp.hdr" || fail "after=$((s - 1)): HTTP $st $(cat "$T/lp.hdr")"
grep -qi '^Cache-Control: max-age=1' "$T/lp.hdr" || fail "a newer head is not max-age=1: $(cat "$T/lp.hdr")"
# A held poll would last spool_long_poll_wait (20 s); a curl on a busy machine may take seconds.
_bl_ms 5
(($(now_ms) - t < REPLY)) || fail "a long poll below the serial was held ($(($(now_ms) - t)) ms)"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$SP/main/head?after=x")" = 400 ] || fail "after=x was not 400"
pass "head?after=SERIAL-1 answered at once with Blsync-Long-Poll and max-age=1; after=x 400"

start_nginx origin "$ORIGIN" "
    server { listen 127.0.0.1:$ORIGIN; root $T/spool; etag on;
$(spool_locations)
    }"
start_nginx tier1 "$TIER1" "$(cache_tier tier1 "$TIER1" "$PUB")"
start_nginx tier2 "$TIER2" "$(cache_tier tier2 "$TIER2" "$TIER1")"
lp_mirror() { # WHO URL INTERVAL
    write_pull_conf "$1" "$2"
    ini_set "$T/$1/mirror.conf" "sync|poll_interval = $3" 'sync|poll_jitter = 0s' \
        'sync|long_poll = yes' 'sync|stale_after = 10m'
    start_mirror "$1"
}
lp_mirror direct "$SP" 30s
lp_mirror cached1 "http://127.0.0.1:$TIER2/spool" 30s
lp_mirror cached2 "http://127.0.0.1:$TIER2/spool" 30s
lp_mirror static "http://127.0.0.1:$ORIGIN" 1s
LP=(direct cached1 cached2)
ALL=("${LP[@]}" static)
wait_until 20 all_synced "${ALL[@]}" || fail "mirrors did not reach the master's serial $(master_serial)"
held() { [ "$(metric master blsync_master_spool_long_polls)" -ge 2 ]; }
wait_until 10 held || fail "the master holds fewer than 2 long polls: $(scrape master | grep spool_)"
pass "every mirror at serial $(master_serial); the master holds $(metric master blsync_master_spool_long_polls) long polls"

# Each change reaches the long-polling mirrors well within their 30 s interval.
for round in 1 2; do
    wait_until 10 held || fail "round $round: no long poll held"
    t=$(now_ms)
    if [ "$round" = 1 ]; then
        list 192.0.2.9
        wait_until 5 all_answer 192.0.2.9 127.0.0.2 "${LP[@]}" || fail "a listing took over 5 s with long polls"
    else
        delist 192.0.2.9
        wait_until 5 all_answer 192.0.2.9 nx "${LP[@]}" || fail "a delisting took over 5 s with long polls"
    fi
    pass "round $round: the change reached ${LP[*]} in $(($(now_ms) - t)) ms (poll_interval 30 s)"
done
wait_until 10 all_answer 192.0.2.9 nx static || fail "the static mirror did not follow"
wait_until 10 all_synced "${ALL[@]}" || fail "serials differ from the master's $(master_serial)"
# The static server ignored the query: the mirror noticed and polls it plainly.
polled_plainly() {
    plain=$(awk '$2 ~ /head$/ && $7 == "-"' "$T/origin/access.log" | wc -l)
    asked=$(awk '$2 ~ /head$/ && $7 ~ /^after=/' "$T/origin/access.log" | wc -l)
    [ "$plain" -gt "$asked" ] && [ "$asked" -ge 1 ]
}
wait_until 10 polled_plainly ||
    fail "the static server got $asked long polls and $plain plain polls"
pass "the static server: $asked long polls tried, $plain plain polls"
# Through the caches: the two cached mirrors ask tier 2 the same URLs, and
# while one request goes upstream the other waits for its answer (a HIT).
n=$(awk '$2 ~ /head$/ && $7 ~ /^after=/' "$T/tier2/access.log" | wc -l)
hits=$(awk '$2 ~ /head$/ && $7 ~ /^after=/ && $5 == "HIT"' "$T/tier2/access.log" | wc -l)
[ "$hits" -ge 1 ] || fail "tier 2 never answered a long poll from what another fetched: $(awk '$7 ~ /^after=/' "$T/tier2/access.log")"
pass "tier 2 answered $n long polls, $hits of them with the answer another one fetched"
for w in "${ALL[@]}"; do
    [ "$(scrape "$w" | grep -c '^blsync_mirror_pull_refused_total' || true)" = 0 ] ||
        fail "$w refused something: $(scrape "$w" | grep pull_refused)"
done
c=$(metric master 'blsync_master_spool_requests_total{kind="long_poll",status="200"}')
[ "${c:-0}" -ge 4 ] || fail "long polls answered: '${c:-}'"
pass "nothing refused; the master answered $c long polls"

# The bound: with one long poll allowed, a second is answered 503.
ini_set "$T/master.conf" 'public|spool_long_polls = 1'
stop direct
stop cached1
stop cached2
stop tier2
stop tier1
wait_until 30 metric_is master blsync_master_spool_long_polls 0 || fail "held long polls were not answered"
mark master
kill -HUP "${PID[master]}"
wait_up master 10 logged master 'event=reloaded what=config'
# SIGHUP also reloads the key, so the publisher re-signs the head just after: a new head answers
# every held poll (and the next refresh is http_head_refresh away), so the first poll waits for it.
wait_up master 10 logged master 'event=http_layout'
s=$(master_serial)
curl -s -o /dev/null --max-time 30 "$SP/main/head?after=$s" &
wait_until 10 metric_is master blsync_master_spool_long_polls 1 || fail "the first long poll was not held"
st=$(curl -s -o /dev/null -D "$T/lp.hdr" -w '%{http_code}' --max-time 10 "$SP/main/head?after=$s")
[ "$st" = 503 ] && grep -qi '^Retry-After: 1' "$T/lp.hdr" || fail "a second long poll: HTTP $st, want 503"
[ "$(metric master 'blsync_master_spool_requests_total{kind="long_poll",status="503"}')" = 1 ] ||
    fail "the 503 was not counted"
pass "spool_long_polls = 1 (SIGHUP): a second long poll is 503 with Retry-After, and counted"
# A master stopping with a long poll held answers it and exits cleanly.
metric_is master blsync_master_spool_long_polls 1 || fail "the long poll is no longer held"
stop_clean master
pass "the master stopped cleanly with a long poll held"
finish
