#!/bin/bash
# SPDX-License-Identifier: MIT
# blsync-master's configuration checks: an unreadable [sync] file fails --check-config; a window
# budget (mirror TTL plus expected propagation) that cannot fit the window is warned about by
# --check-config, at start-up and on SIGHUP, a fitting one is not; a reload applies the new window
# to /metrics, and a broken file keeps the running configuration.
. "$(dirname "$0")/../lib.sh"
setclock $T0
pki
gauge() { metric master blsync_propagation_window_seconds; }
warnings() { grep -c 'event=window_budget' "$T/master.log" || true; }
warned() { [ "$(warnings)" = "$1" ]; }
reloads() { metric master "blsync_config_reloads_total{result=\"$1\"}"; }

# --check-config names a [sync] file it cannot read (here, as root too: a missing one).
write_master_conf "sync|cert = $T/pki/absent.pem"
"$MASTER" --check-config -c "$T/master.conf" >"$T/check.out" 2>&1 && fail "--check-config accepted a missing certificate"
grep -q "\[sync\] cert $T/pki/absent.pem: No such file or directory" "$T/check.out" || fail "--check-config: $(cat "$T/check.out")"
pass "--check-config: $(cat "$T/check.out")"

# 10 min window, TTL 5 min (the mirror's default), 6 min expected: 11 min do not fit.
write_master_conf "metrics|window = 10m" "metrics|expected_propagation = 6m"
"$MASTER" --check-config -c "$T/master.conf" >"$T/check.out" 2>&1 || fail "--check-config: $(cat "$T/check.out")"
grep -q 'warning: ttl 5m plus expected propagation 6m is 11m, more than the 10m propagation window' "$T/check.out" ||
    fail "--check-config printed: $(cat "$T/check.out")"
start_master
wait_until 5 grep -q 'event=window_budget' "$T/master.log" || fail "no window_budget warning at start-up"
grep -q 'level=warn event=window_budget' "$T/master.log" || fail "window_budget is not a warning"
[ "$(gauge)" = 600 ] || fail "window gauge $(gauge), want 600"
[ "$(reloads ok)" = 0 ] && [ "$(reloads error)" = 0 ] || fail "reload counters not at 0"
pass "start-up: $(grep -m 1 -o 'problem=.*' "$T/master.log")"

# A fitting budget on reload: no new warning, the window gauge follows.
write_master_conf "metrics|window = 20m" "metrics|expected_propagation = 6m" "metrics|mirror_ttl = 1m"
"$MASTER" --check-config -c "$T/master.conf" >"$T/check.out" 2>&1 || fail "--check-config"
grep -q warning "$T/check.out" && fail "--check-config warns about a fitting budget: $(cat "$T/check.out")"
kill -HUP "${PID[master]}"
wait_until 5 metric_is master 'blsync_config_reloads_total{result="ok"}' 1 || fail "reload not counted"
[ "$(gauge)" = 1200 ] || fail "window gauge $(gauge) after reload, want 1200"
[ "$(warnings)" = 1 ] || fail "a fitting budget was warned about"
pass "reload with a fitting budget: no warning, window 1200 s"

# Broken again on reload: warned again.
write_master_conf "metrics|window = 20m" "metrics|expected_propagation = 15m" "metrics|mirror_ttl = 10m"
kill -HUP "${PID[master]}"
wait_until 5 metric_is master 'blsync_config_reloads_total{result="ok"}' 2 || fail "second reload not counted"
wait_until 5 warned 2 || fail "no warning on reload"
grep 'event=window_budget' "$T/master.log" | tail -n 1 | grep -q 'ttl 10m plus expected propagation 15m is 25m, more than the 20m' ||
    fail "reload warning: $(grep 'event=window_budget' "$T/master.log" | tail -n 1)"
pass "reload with a budget past the window: warned"

# A file that does not load: counted as an error, the running window stays.
ini_set "$T/master.conf" "metrics|window = soon"
kill -HUP "${PID[master]}"
wait_until 5 metric_is master 'blsync_config_reloads_total{result="error"}' 1 || fail "failed reload not counted"
grep -q 'event=reload_failed' "$T/master.log" || fail "failed reload not logged"
[ "$(gauge)" = 1200 ] || fail "window gauge $(gauge) after a failed reload"
running master || fail "master died on a bad reload"
stop_master
echo PASS
