#!/bin/bash
# SPDX-License-Identifier: MIT
# Caches that misbehave are refused or skipped, and the mirror falls back to
# its next upstream: one nginx serves five bad caches (502, a stale head, an
# old object, a truncated object, another feed's object), each the first
# upstream of one mirror whose second upstream is the good static server.
. "$(dirname "$0")/../lib.sh"

write_master_conf 'publisher|http_head_refresh = 300ms' 'publisher|http_head_ttl = 3s'
start_master
alloc_port GOOD B502 BSTALE BOLD BTRUNC BFOREIGN
start_nginx good "$GOOD" "
    server {
        listen 127.0.0.1:$GOOD;
        root $T/spool;
$(spool_locations)
    }"
s=$(master_serial)
list 192.0.2.1
wait_published "$s" >/dev/null
# What the bad caches hold: the head of now (it expires in 3 s), an old
# delta, a truncated snapshot, and a delta of feed "other" signed with the
# master's own key.
mkdir -p "$T/bad"
cp "$T/spool/main/head" "$T/bad/stale.head"
cp "$T/spool/main/00000000000000000002.delta" "$T/bad/old.obj"
head -c 300 "$T/spool/main/00000000000000000001.snap" >"$T/bad/trunc.obj"
"$MKFEED" --key "$T/sign.key" --dir "$T/foreign" --n 4 --deltas 1 --feed other >/dev/null
cp "$T/foreign/delta-000001.obj" "$T/bad/foreign.obj"
bad_objects() { # PORT FILE: heads from the good server, every object is FILE
    echo "
    server {
        listen 127.0.0.1:$1;
        root $T/bad;
        location ~ /head\$ { proxy_pass http://127.0.0.1:$GOOD; }
        location / { rewrite ^ /$2 break; }
    }"
}
start_nginx bad "$B502" "
    server { listen 127.0.0.1:$B502; location / { return 502; } }
    server {
        listen 127.0.0.1:$BSTALE;
        root $T/bad;
        location ~ /head\$ { rewrite ^ /stale.head break; }
        location / { proxy_pass http://127.0.0.1:$GOOD; }
    }
$(bad_objects "$BOLD" old.obj)
$(bad_objects "$BTRUNC" trunc.obj)
$(bad_objects "$BFOREIGN" foreign.obj)"

declare -A FIRST=([m502]=$B502 [mstale]=$BSTALE [mold]=$BOLD [mtrunc]=$BTRUNC [mforeign]=$BFOREIGN)
ALL=(m502 mstale mold mtrunc mforeign)
for m in "${ALL[@]}"; do
    write_pull_conf "$m" "http://127.0.0.1:${FIRST[$m]}" "http://127.0.0.1:$GOOD"
    start_mirror "$m"
done
wait_until 20 all_answer 192.0.2.1 127.0.0.2 "${ALL[@]}" || fail "the first listing did not reach every mirror"
# Past the stale head's expiry, with listings the bad caches cannot bring.
list 192.0.2.2
delist 192.0.2.1
wait_until 20 all_answer 192.0.2.2 127.0.0.2 "${ALL[@]}" || fail "a listing did not reach every mirror"
wait_until 20 all_answer 192.0.2.1 nx "${ALL[@]}" || fail "a delisting did not reach every mirror"
wait_until 10 all_synced "${ALL[@]}" || fail "serials differ from the master's $(master_serial)"
pass "every mirror at the master's serial $(master_serial) through its second upstream"

# Each mirror says why it left its first upstream, labelled by that upstream.
refused_is() { # WHO WHAT REASON
    local v
    v=$(metric "$1" "blsync_mirror_pull_refused_total{feed=\"main\",upstream=\"http://127.0.0.1:${FIRST[$1]}\",what=\"$2\",reason=\"$3\"}")
    [ -n "$v" ] && [ "$v" -ge 1 ]
}
v=$(metric m502 "blsync_mirror_pull_requests_total{upstream=\"http://127.0.0.1:$B502\",kind=\"head\",result=\"http_error\"}")
[ -n "$v" ] && [ "$v" -ge 1 ] || fail "m502: no http_error counted for the 502 cache"
pass "502: skipped, counted as http_error ($v heads)"
wait_until 10 refused_is mstale head expired || fail "mstale: the expired head was not refused: $(scrape mstale | grep pull_)"
pass "stale head: refused as expired"
refused_is mold delta rollback || fail "mold: the old object was not refused as a rollback: $(scrape mold | grep pull_)"
pass "old object: refused as a rollback"
refused_is mtrunc delta truncated || refused_is mtrunc snapshot truncated ||
    fail "mtrunc: the truncated object was not refused: $(scrape mtrunc | grep pull_)"
pass "truncated object: refused as truncated"
refused_is mforeign delta wrong_feed || refused_is mforeign snapshot wrong_feed ||
    fail "mforeign: the other feed's object was not refused: $(scrape mforeign | grep pull_)"
pass "another feed's object: refused as foreign"
# The refusals count with the push path's families too.
v=$(metric mforeign 'blsync_mirror_deltas_refused_total{feed="main",reason="wrong_feed"}')
[ -n "$v" ] || v=$(metric mforeign 'blsync_mirror_snapshots_refused_total{feed="main",reason="wrong_feed"}')
[ -n "$v" ] || fail "mforeign: the refusal is missing from the deltas/snapshots refused families"
# Good upstreams' objects were never refused.
for m in "${ALL[@]}"; do
    if scrape "$m" | grep '^blsync_mirror_pull_refused_total' | grep -q "upstream=\"http://127.0.0.1:$GOOD\""; then
        fail "$m refused something from the good upstream"
    fi
done
finish
