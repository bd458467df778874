#!/bin/bash
# SPDX-License-Identifier: MIT
# An idle mirror serving files does not wake up for nothing: its UDP threads block without a
# receive timeout and its main loop ticks once a second (each wake-up of a sleeping thread costs
# ~0.1 ms of CPU on a busy VM, as much as several queries). Over a few idle seconds the whole
# process switches in about once a second (it was ~20 times: a 100 ms tick and two threads'
# 200 ms receive timeouts), the 1 s file check still runs every second, and a stop still ends
# the blocked UDP threads at once (mirror_server_stop signals them).
. "$(dirname "$0")/../lib.sh"

Z=bl.example.org
printf ':127.0.0.2:Listed $\n192.0.2.1\n' >"$T/list"
write_mirror_conf m1 --files "server|-metrics_listen" "server|threads = 2" "server|log_level = info"
printf '[zone %s]\nrbldnsd = ip4set:%s\n' $Z "$T/list" >>"$T/m1/mirror.conf"
start_mirror m1
[ "$(dq m1 +short 1.2.0.192.$Z A)" = 127.0.0.2 ] || fail "the zone is not served"

# context switches of every thread of the mirror
switches() {
    cat /proc/"${PID[m1]}"/task/*/status | awk '/^(non)?voluntary_ctxt_switches/ { n += $2 } END { print n }'
}
# An absence has no event to wait for: the mirror is watched for a fixed
# window. A slow machine can only add switches by preempting the mirror,
# so the bound allows twice the expected count.
secs=5
s0=$(switches)
sleep $secs
s1=$(switches)
n=$((s1 - s0))
[ "$n" -le $((2 * secs + 2)) ] || fail "$n context switches in $secs idle seconds (want about $secs)"
ok "idle for $secs s: $n context switches"

# the file check still runs every second: a changed file is loaded
printf ':127.0.0.2:Listed $\n192.0.2.1\n192.0.2.2\n' >"$T/.list.tmp"
mv "$T/.list.tmp" "$T/list"
answers() { [ "$(dq m1 +short 2.2.0.192.$Z A)" = 127.0.0.2 ]; }
wait_until 10 answers || fail "changed file not loaded"
ok "a changed file is loaded with the tick at once a second"

# the stop ends the UDP threads blocked in their receive
t0=$(now_ms)
stop_clean m1
t=$(($(now_ms) - t0))
[ "$t" -lt "$(scaled_int 2)000" ] || fail "the stop took $t ms"
ok "stopped in $t ms"
