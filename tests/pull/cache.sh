#!/bin/bash
# SPDX-License-Identifier: MIT
# The spool's HTTP layout through nginx: a static server over the spool, a
# caching tier in front of it and a second tier in front of that; pulling
# mirrors behind each (and a push mirror for comparison) see every listing
# and delisting, at the master's serials, and the caches answer the objects.
. "$(dirname "$0")/../lib.sh"

pki push1
write_master_conf 'publisher|http_head_refresh = 300ms' 'publisher|http_head_ttl = 5s'
start_master
alloc_port ORIGIN TIER1 TIER2
start_nginx origin "$ORIGIN" "
    server {
        listen 127.0.0.1:$ORIGIN;
        root $T/spool;
        etag on;
$(spool_locations)
    }"
# Caching tiers (cache_tier): they keep what the origin's Cache-Control
# allows, one request upstream at a time per object, revalidated with
# If-None-Match.
start_nginx tier1 "$TIER1" "$(cache_tier tier1 "$TIER1" "$ORIGIN")"
start_nginx tier2 "$TIER2" "$(cache_tier tier2 "$TIER2" "$TIER1")"

pull_mirror() { # WHO URL
    write_pull_conf "$1" "$2"
    start_mirror "$1"
}
pull_mirror static "http://127.0.0.1:$ORIGIN"
pull_mirror t1 "http://127.0.0.1:$TIER1/"
pull_mirror t2 "http://127.0.0.1:$TIER2"
start_mirror push1
ALL=(static t1 t2 push1)

wait_until 20 all_synced "${ALL[@]}" || fail "mirrors did not reach the master's serial $(master_serial)"
pass "every mirror at the master's serial $(master_serial) (static, tier 1, tier 2, push)"
listing_round 192.0.2.7 "${ALL[@]}"

# Publishes in a row: a mirror catches up through the merged delta.
for i in 1 2 3 4; do
    s=$(master_serial)
    list "198.51.100.$i"
    wait_published "$s" >/dev/null
done
wait_until 20 all_answer 198.51.100.4 127.0.0.2 "${ALL[@]}" || fail "burst did not reach every mirror"
wait_until 10 all_synced "${ALL[@]}" || fail "serials differ from the master's after the burst"
pass "four publishes in a row reached every mirror"

# The caches answered objects themselves: each by-hash object went to the
# origin at most once per tier, and the tier-2 mirror's requests were hits.
origin_obj=$(awk '$2 ~ /by-hash/' "$T/tier1/access.log" | awk '$5 == "MISS"' | awk '{print $2}' | sort | uniq -d | wc -l)
[ "$origin_obj" = 0 ] || fail "tier 1 fetched an object from the origin twice"
t2_miss=$(awk '$2 ~ /by-hash/ && $5 == "MISS"' "$T/tier2/access.log" | wc -l)
t2_obj=$(awk '$2 ~ /by-hash/' "$T/tier2/access.log" | wc -l)
pass "tier 2: $t2_obj object requests, $t2_miss misses; no object fetched twice upstream"
# Heads came back conditional: 304s or cache hits at the tiers.
heads=$(awk '$2 ~ /head$/' "$T/tier2/access.log" | wc -l)
[ "$heads" -gt 3 ] || fail "tier 2 saw only $heads head requests"
refused=$(scrape t2 | grep -c '^blsync_mirror_pull_refused_total' || true)
[ "$refused" = 0 ] || fail "the tier-2 mirror refused something: $(scrape t2 | grep pull_refused)"
pass "$heads head requests at tier 2, nothing refused"

# Signing key rotation: the key certificate in the spool reaches pulling
# mirrors through the caches; heads and objects signed by the new key apply.
"$CTL" keygen --out "$T" --name sign2 >/dev/null
"$CTL" keycert --old-key "$T/sign.key" --new-key "$T/sign2.key" --feed main \
    --out "$T/spool/main/key-2.keycert" >/dev/null
cp "$T/sign2.key" "$T/sign.key.new" && mv "$T/sign.key.new" "$T/sign.key"
mark master
kill -HUP "${PID[master]}"
# The listing is published after the reload, so that the new key signs it.
wait_until 10 logged master 'event=reloaded what=key .*result=ok' || fail "the master did not reload its key"
list 203.0.113.9
wait_until 20 all_answer 203.0.113.9 127.0.0.2 "${ALL[@]}" || fail "a listing signed by the new key did not reach every mirror"
for w in static t1 t2; do
    logged "$w" event=pull_new_key || grep -q event=pull_new_key "$T/$w.log" || fail "$w did not learn the new key"
done
pass "signing key rotated: every pulling mirror learned the new key from the key certificate"
stop_clean t2 # the pull client closes its sockets and timers: a clean exit
finish
