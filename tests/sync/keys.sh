#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Which signing key each mirror holds, through a key rotation done as docs/OPERATIONS.md
# says (keygen, keycert into the spool, reload, switch the publisher's key, reload): a real
# master and three real mirrors over the push path. Before the rotation every mirror shows
# key A: in its own metrics (blsync_mirror_signing_key_info, blsync_mirror_trusted_key), in
# blsyncctl status --json and blsyncctl mirrors, and in the master's
# blsync_master_mirror_key_info. The key certificate makes every mirror trust B as well.
# After the switch, each connected mirror shows B once it applied the next object; m3, stopped
# during the switch, keeps showing A at the master until it comes back and applies an object
# signed by B.
. "$(dirname "$0")/../lib.sh"

pki m1 m2 m3
write_master_conf
start_master
list 192.0.2.1
S=$(wait_published 0)
for m in m1 m2 m3; do start_mirror $m; done
wait_until 20 all_synced m1 m2 m3 || fail "mirrors did not reach serial $S"

# The new key and its certificate (outside the spool for now): both key ids.
"$CTL" keygen --out "$T" --name sign2 >/dev/null
"$CTL" keycert --old-key "$T/sign.key" --new-key "$T/sign2.pub" --feed main \
    --out "$T/sign2.keycert" --json >"$T/keycert.json"
KA=$(jq -r .signed_by_key_id "$T/keycert.json")
KB=$(jq -r .new_key_id "$T/keycert.json")
[[ $KA =~ ^[0-9a-f]{16}$ && $KB =~ ^[0-9a-f]{16}$ && $KA != "$KB" ]] || fail "key ids '$KA' '$KB'"

ctl_any() { "$CTL" "$@" --url "$MASTER_URL" || true; } # status and mirrors exit 1 while one is down
# Where WHO's key KEY shows.
mirror_signs() { # the mirror's own metrics: KEY signed the last object or heartbeat, and only KEY
    metric_is "$1" "blsync_mirror_signing_key_info{feed=\"main\",key_id=\"$2\"}" 1 &&
        [ "$(scrape "$1" | grep -c '^blsync_mirror_signing_key_info{')" = 1 ]
}
mirror_trusts() { metric_is "$1" "blsync_mirror_trusted_key{feed=\"main\",key_id=\"$2\"}" 1; }
master_metric_says() { # the master's one series for WHO
    metric_is master "blsync_master_mirror_key_info{feed=\"main\",mirror=\"$1\",key_id=\"$2\"}" 1 &&
        [ "$(scrape master | grep -c "^blsync_master_mirror_key_info{feed=\"main\",mirror=\"$1\",")" = 1 ]
}
status_says() {
    [ "$(ctl_any status --json | jq -r --arg n "$1" '.mirrors[] | select(.name == $n) | .key_id')" = "$2" ]
}
mirrors_says() { ctl_any mirrors | grep -qE "^$1 +[a-z]+ +[0-9]+ .* $2 "; }
status_text_says() { ctl_any status | grep -qE "^$1 +[a-z]+ +[0-9]+ .* $2 "; }
master_shows() { # WHO KEY: status --json, status, mirrors and the master's metric
    status_says "$1" "$2" && status_text_says "$1" "$2" && mirrors_says "$1" "$2" &&
        master_metric_says "$1" "$2"
}
shows() { mirror_signs "$1" "$2" && master_shows "$1" "$2"; }

# ---- before the rotation: key A everywhere, B unknown -----------------------
for m in m1 m2 m3; do
    wait_until 10 shows $m "$KA" || fail "$m does not show key A ($KA) before the rotation:
$(ctl_any mirrors)
$(scrape $m | grep key)
$(scrape master | grep key_info)"
    mirror_trusts $m "$KA" || fail "$m does not list key A as trusted"
    [ -z "$(metric $m "blsync_mirror_trusted_key{feed=\"main\",key_id=\"$KB\"}")" ] ||
        fail "$m trusts key B before its certificate"
done
ctl_any status --json | jq -e '.mirrors | all(.[]; (.key_id | type) == "string")' >/dev/null ||
    fail "status --json: key_id is not a string for every mirror"
pass "before the rotation: every mirror shows key $KA (its metrics, status, mirrors, master metric)"

# ---- the key certificate: every mirror trusts both keys ---------------------
cp "$T/sign2.keycert" "$T/spool/main/sign2.keycert"
kill -HUP "${PID[master]}"
for m in m1 m2 m3; do
    wait_until 10 mirror_trusts $m "$KB" || fail "$m does not trust key B after the certificate"
    mirror_trusts $m "$KA" || fail "$m no longer lists key A"
    mirror_signs $m "$KA" || fail "$m shows another key than A before the switch"
done
pass "key certificate: every mirror trusts $KA and $KB, still verifies $KA"

# ---- the switch, with m3 stopped ---------------------------------------------
stop m3
cp "$T/sign2.key" "$T/sign.key.new" && mv "$T/sign.key.new" "$T/sign.key"
mark master
kill -HUP "${PID[master]}"
# The publisher signs with key B from the reload on: the listing waits for it.
wait_until 10 logged master 'event=reloaded what=key .*result=ok' || fail "the master did not reload its key"
list 192.0.2.2
S=$(wait_published "$S")
"$CTL" verify "$T/spool/main/$(printf %020d "$S").delta" --key "$T/sign2.pub" --json |
    jq -e --arg k "$KB" '.objects[0].key_id == $k' >/dev/null || fail "delta $S is not signed by key B"
for m in m1 m2; do
    wait_until 10 synced $m || fail "$m did not apply serial $S (signed by key B)"
    wait_until 10 shows $m "$KB" || fail "$m does not show key B after applying $S:
$(ctl_any mirrors)
$(scrape $m | grep key)
$(scrape master | grep key_info)"
done
# m3 was down: the master keeps the key of what it holds.
master_shows m3 "$KA" || fail "m3 (stopped) does not show key A at the master:
$(ctl_any mirrors)
$(scrape master | grep key_info)"
mirrors_says m3 "$KA" && ctl_any mirrors | grep -qE "^m3 +stale " || fail "mirrors: $(ctl_any mirrors)"
pass "after the switch: m1 and m2 show $KB; m3, stopped, still shows $KA"

# ---- m3 comes back ------------------------------------------------------------
start_mirror m3
wait_until 10 synced m3 || fail "m3 did not catch up with serial $S"
wait_until 10 shows m3 "$KB" || fail "m3 does not show key B after it came back:
$(ctl_any mirrors)
$(scrape m3 | grep key)
$(scrape master | grep key_info)"
for k in "$KA" "$KB"; do mirror_trusts m3 "$k" || fail "m3 does not trust $k after its restart"; done
[ -z "$(ctl_any status --json | jq -r --arg k "$KB" '.mirrors[] | select(.key_id != $k) | .name')" ] ||
    fail "a mirror still shows another key: $(ctl_any status)"
pass "m3 back: every mirror shows $KB, the old key $KA can be retired"
finish
