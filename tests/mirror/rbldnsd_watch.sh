#!/bin/bash
# SPDX-License-Identifier: MIT
# A zone served from rbldnsd files notices changed files by itself, as rbldnsd -c does: a file
# renamed over (rsync) or written in place is loaded whole; a file that cannot be loaded (gone,
# stamped in the future) leaves the zone serving its data, logged once; "reloaded" is logged only
# when something was loaded, and the zone's export_rbldnsd is written again; an expired $TIMESTAMP
# stops positive answers and fails /healthz.
. "$(dirname "$0")/../lib.sh"

Z=bl.example.org
printf ':127.0.0.2:One $\n192.0.2.1\n' >"$T/list"
write_mirror_conf m1 --files "server|log_level = info"
cat >>"$T/m1/mirror.conf" <<CONF
[zone $Z]
rbldnsd = ip4set:$T/list
rbldnsd_check = 100ms
export_rbldnsd = $T/export
CONF
start_mirror m1
answers() { [ "$(dq m1 +short "$1.$Z" A | tr '\n' ' ')" = "$2" ]; }
reloads() { grep -c 'event=rbldnsd_reloaded' "$T/m1.log" || true; }
answers 1.2.0.192 "127.0.0.2 " || fail "initial data not served"
expect_status m1 NXDOMAIN 2.2.0.192.$Z A
serial0=$(soa_serial m1 $Z)

# rsync's way: a new file under a temporary name, renamed over the old one
printf ':127.0.0.2:One $\n192.0.2.1\n192.0.2.2 :3:Two\n' >"$T/.list.tmp"
mv "$T/.list.tmp" "$T/list"
wait_until 10 answers 2.2.0.192 "127.0.0.3 " || fail "renamed file not loaded"
# The mirror logs the reload just after it serves the new data.
wait_until 5 gives 1 reloads || fail "$(reloads) reloads logged for one change"
[ "$(soa_serial m1 $Z)" -gt "$serial0" ] || fail "the serial did not grow with the data"
exported() { grep -qx "$1" "$T/export" 2>/dev/null; }
wait_until 5 exported '192.0.2.2 :127.0.0.3:Two' || fail "export not written again: $(cat "$T/export")"
ok "a file renamed over is loaded, the serial grows, the export is written again"

# written in place
echo "192.0.2.3 :4:" >>"$T/list"
wait_until 10 answers 3.2.0.192 "127.0.0.4 " || fail "file written in place not loaded"
echo "192.0.2.4 :1.2.3.4:Outside \$" >>"$T/list"
wait_until 10 answers 4.2.0.192 "1.2.3.4 " || fail "A value outside 127.0.0.0/24 not served"
wait_until 5 exported '192.0.2.4 :1.2.3.4:Outside \$' || fail "export not written again: $(cat "$T/export")"
ok "a file written in place is loaded (an A value outside 127.0.0.0/24 served and exported)"

# nothing changes: nothing is loaded or logged. An absence has no event to
# wait for: ten check intervals pass (a slow machine can only make this pass
# more easily, never fail wrongly).
n=$(reloads)
sleep 1
[ "$(reloads)" = "$n" ] || fail "reloaded logged without a change"
ok "no change, no reload"

# a file that cannot be loaded: the old data stays, the failure is logged once
printf '$TIMESTAMP 2099:01:01\n192.0.2.9\n' >"$T/.list.tmp"
mv "$T/.list.tmp" "$T/list"
wait_until 10 logged m1 'event=rbldnsd_reload_failed .*TIMESTAMP is in the future' || fail "bad file not logged"
answers 3.2.0.192 "127.0.0.4 " || fail "the old data is gone after a bad file"
expect_status m1 NXDOMAIN 9.2.0.192.$Z A
rm "$T/list"
wait_until 10 logged m1 'event=rbldnsd_reload_failed .*No such file' || fail "missing file not logged"
answers 1.2.0.192 "127.0.0.2 " || fail "the old data is gone after the file went"
[ "$(grep -c 'event=rbldnsd_reload_failed' "$T/m1.log")" = 2 ] || fail "a failure is logged more than once"
ok "a bad or missing file keeps the old data, logged once each"

# expired data: no positive answer, /healthz says so
printf '$TIMESTAMP 2020:01:01 2021:01:01\n192.0.2.1\n' >"$T/list"
wait_until 10 logged m1 'event=rbldnsd_expired zone=bl.example.org' || fail "expiry not logged"
# A file loaded already expired is logged just before its data is served.
wait_until 5 gives NXDOMAIN dig_status m1 1.2.0.192.$Z A ||
    fail "expired data still answers: $(dig_status m1 1.2.0.192.$Z A)"
answers 2.0.0.127 "127.0.0.2 " || fail "the test entry went with the expiry"
health=$(curl -s --max-time 5 "http://$(hostport "$(addr_of m1)" "${MET_PORT[m1]}")/healthz" || true)
[[ "$health" == *"expired"* ]] || fail "/healthz does not report the expired data: $health"
ok "expired \$TIMESTAMP: no positive answers, /healthz unhealthy"
stop_clean m1
echo PASS
