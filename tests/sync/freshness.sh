#!/bin/bash
# SPDX-License-Identifier: MIT
# Freshness follows from the window, with a real master and mirror:
# - --check-config refuses a freeze_after longer than window - ttl - expected_propagation, and a
#   window that leaves no budget; unset, freeze_after is that budget (logged, exported);
# - a master outage shorter than the budget costs nothing (positive answers continue); past it
#   the mirror freezes (no positive answers) and says so in its metrics, /healthz and log;
# - a mirror restarted while the master is away is not fresh because it restarted: it freezes
#   when its persisted state's budget runs out, not a budget after its start;
# - a mirror that is connected but stuck behind (it cannot persist) ages like a cut-off one.
. "$(dirname "$0")/../metrics/lib.sh"
setup_pki m1
write_master_conf
ms() { date +%s%3N; }
conf_with() { # WINDOW FREEZE_AFTER: m1's configuration with these [server]/[sync] settings
    sed -e "s/^threads = 1$/threads = 1\nwindow = $1\nexpected_propagation = 4s/" \
        -e "s/^freeze_after = .*/${2:+freeze_after = $2}/" -e 's/^stale_after = .*/stale_after = 3s/' \
        "$T/m1/mirror.conf.orig" >"$T/m1/mirror.conf"
}
start_master
start_mirror m1
cp "$T/m1/mirror.conf" "$T/m1/mirror.conf.orig"
kill -TERM "${PID[m1]}" && wait "${PID[m1]}"

# ---- the checks -------------------------------------------------------------------------------
conf_with 20s 30s
out=$("$MIR" -c "$T/m1/mirror.conf" --check-config 2>&1) && fail "freeze_after 30s in a 20s window accepted"
grep -q 'freeze_after 30s cannot keep the 20s window.*at most 15s' <<<"$out" || fail "message: $out"
conf_with 6s ""
out=$("$MIR" -c "$T/m1/mirror.conf" --check-config 2>&1) && fail "a 6s window with ttl 1s + 4s + stale 3s accepted"
grep -q 'window 6s leaves no time to stay current' <<<"$out" || fail "message: $out"
conf_with 20s ""
"$MIR" -c "$T/m1/mirror.conf" --check-config >/dev/null || fail "the derived budget refused"
pass "--check-config refuses a freeze_after past the budget and a window with no budget"

# ---- an outage shorter than the budget costs nothing; past it, frozen ---------------------------
"$MIR" -c "$T/m1/mirror.conf" >>"$T/m1.log" 2>&1 &
PID[m1]=$!
wait_until 10 grep -q "event=freshness stale_after=3s freeze_after=15s window=20s" "$T/m1.log" ||
    fail "derived freeze_after not logged: $(grep freshness "$T/m1.log")"
list 192.0.2.1
wait_until 5 synced m1 || fail "m1 did not follow"
is m1 'blsync_mirror_freeze_after_seconds{feed="main"}' 15 || fail "freeze_after not exported"
healthz() { curl -s -o "$T/healthz" -w '%{http_code}' "http://127.0.0.1:$(mport m1)/healthz"; }
kill -STOP "${PID[master]}"
t=$(ms)
wait_until 10 is m1 'blsync_mirror_stale{feed="main"}' 1 || fail "m1 not stale after 3 s"
[ "$(answer m1 192.0.2.1)" = 127.0.0.2 ] || fail "m1 stopped positive answers inside the budget"
wait_until 20 is m1 'blsync_mirror_stale{feed="main"}' 2 || fail "m1 not frozen"
frozen_after=$(($(ms) - t))
[ "$frozen_after" -ge 11000 ] || fail "m1 froze after $frozen_after ms, inside its 15 s budget"
[ "$(answer m1 192.0.2.1)" = nx ] || fail "a frozen mirror answers positively"
[ "$(healthz)" = 503 ] && grep -q 'frozen' "$T/healthz" || fail "/healthz: $(cat "$T/healthz")"
grep -q 'event=sync_freshness feed=main level=frozen' "$T/m1.log" || fail "frozen not logged"
pass "master away: positive answers for the budget, frozen after $frozen_after ms (budget 15 s)"
kill -CONT "${PID[master]}"
wait_until 10 is m1 'blsync_mirror_stale{feed="main"}' 0 || fail "m1 not fresh again"
[ "$(answer m1 192.0.2.1)" = 127.0.0.2 ] || fail "m1 did not resume positive answers"

# ---- a restart does not make a mirror fresh ------------------------------------------------------
wait_until 10 grep -q . "$T/m1/state/main/current" || fail "no persisted currency"
kill -STOP "${PID[master]}"
t=$(ms)
sleep_until() { [ "$(($(ms) - t))" -ge "$1" ]; }
wait_until 10 sleep_until 6000
kill -TERM "${PID[m1]}" && wait "${PID[m1]}"
"$MIR" -c "$T/m1/mirror.conf" >>"$T/m1.log" 2>&1 &
PID[m1]=$!
wait_until 20 is m1 'blsync_mirror_stale{feed="main"}' 2 || fail "restarted m1 never froze"
frozen_after=$(($(ms) - t))
# Counted from its start it would freeze 6 + 15 = 21 s after the master left.
[ "$frozen_after" -ge 11000 ] && [ "$frozen_after" -lt 19000 ] ||
    fail "restarted m1 froze $frozen_after ms after the master left, want ~15 s: its restart counted as contact"
pass "a mirror restarted without its master froze $frozen_after ms after the master left (budget 15 s)"
kill -CONT "${PID[master]}"
wait_until 10 is m1 'blsync_mirror_stale{feed="main"}' 0 || fail "m1 not fresh after the master returned"
