#!/bin/bash
# SPDX-License-Identifier: MIT
# Two restarts under dnsperf load lose no query when the mirror takes its sockets from a holder
# (sockholder.py, which does what the systemd socket unit does); plain restarts lose some. An
# inherited socket bound to no listen address stops the start with its name.
#   RATE (queries/s, default 20000; 5000 in sanitizer builds), SECS (default 8) and PERF_THREADS
#   (dnsperf's -T, default 1) set the load; tests/bench/mirror/restart.sh runs it at 50k.
. "$(dirname "$0")/../lib.sh"
command -v dnsperf >/dev/null || fail "dnsperf is not installed (tests/deps.txt)"
RATE=${RATE:-$([ -n "$BL_SANITIZED" ] && echo 5000 || echo 20000)}
SECS=${SECS:-8}
PERF_THREADS=${PERF_THREADS:-1}
HOLDER=$S/tests/mirror/sockholder.py

# A zone from an rbldnsd file: 10/8 listed, 11/8 not. The queries alternate
# between the two, so that the answers are half NOERROR and half NXDOMAIN.
echo "10.0.0.0/8 :2:Listed \$" >"$T/data.ip4set"
for ((i = 0; i < 1000; i++)); do
    echo "$((i % 250)).$((i / 250)).1.10.rbl.example.net A"
    echo "$((i % 250)).$((i / 250)).1.11.rbl.example.net A"
done >"$T/queries.txt"
alloc_port OWN_PORT
write_mirror_conf m1 --files "server|threads = 2" "server|+listen = $(hostport "$BL_ADDR" "$OWN_PORT")"
cat >>"$T/m1/mirror.conf" <<CONF
[zone rbl.example.net]
rbldnsd = ip4set:$T/data.ip4set
CONF
ADDR=$(hostport "$BL_ADDR" "${DNS_PORT[m1]}")
PORT=${DNS_PORT[m1]}

met_port() { since "$1" | sed -n 's/.*event=metrics addr=[^ ]* port=\([0-9]*\).*/\1/p' | tail -n 1; }
queries() {
    MET_PORT[$1]=$(met_port "$1")
    scrape "$1" | awk '/^blsync_mirror_dns_queries_total\{/ { s += $2 } END { print s + 0 }'
}
answered() { [ "$(queries "$1")" -ge "$2" ]; }
field() { awk -v k="$1" '$0 ~ k { sub(/.*: */, ""); print $1; exit }' "$2"; }
rcode() { sed -n "s/.*Response codes:.*$1 \([0-9]*\).*/\1/p" "$2"; }

# run WHO [HOLDER ARGS]: the mirror under its holder, dnsperf for SECS s,
# two restarts once the current process has answered a second's queries.
# Leaves dnsperf's report in $T/WHO.perf.
run() {
    local who=$1 r
    shift
    spawn "$who" "$PY" "$HOLDER" "$@" -- "$MIRROR" -c "$T/m1/mirror.conf"
    wait_up "$who" 20 logged "$who" event=listening
    # -q: room for the queries of a restart's gap outstanding at once, so that
    # dnsperf keeps sending at RATE through it instead of waiting on them, and
    # -c -b: receive buffers (4 sockets, 4 MB each) for the burst of answers to
    # what queued during the gap
    dnsperf -s "$BL_ADDR" -p "$PORT" -d "$T/queries.txt" -l "$SECS" -Q "$RATE" -q 20000 -c 4 -b 4096 -t 5 \
        -T "$PERF_THREADS" \
        >"$T/$who.perf" 2>&1 &
    track "$who-perf" $!
    for r in 1 2; do
        wait_until 10 answered "$who" "$RATE" || fail "$who: dnsperf's queries did not arrive"
        mark "$who"
        kill -HUP "${PID[$who]}"
        wait_up "$who" 20 logged "$who" event=listening
    done
    await "$who-perf" $((SECS + 30))
    SENT=$(field 'Queries sent' "$T/$who.perf")
    LOST=$(field 'Queries lost' "$T/$who.perf")
    [ -n "$SENT" ] && [ -n "$LOST" ] || { cat "$T/$who.perf" >&2; fail "$who: no dnsperf report"; }
}

# Handover: the holder's sockets are descriptors 3 and 4 of every process.
run held --listen "$ADDR"
grep -q "event=socket_inherited fd=3 name=dns-udp proto=udp addr=$ADDR" "$T/held.log" ||
    fail "the UDP socket was not logged as inherited"
grep -q "event=socket_inherited fd=4 name=dns-tcp proto=tcp addr=$ADDR" "$T/held.log" ||
    fail "the TCP socket was not logged as inherited"
[ "$(grep -c '^holder: started' "$T/held.log")" = 3 ] || fail "not three processes in turn"
[ "$SENT" -ge $((RATE * SECS * 9 / 10)) ] || problem "dnsperf sent only $SENT queries at $RATE/s for $SECS s"
# a loss is a problem, not the end: the plain restarts' figures are printed still
[ "$LOST" = 0 ] || { cat "$T/held.perf" >&2; problem "$LOST of $SENT queries lost across two restarts with the sockets handed over"; }
held_lost=$LOST
noerr=$(rcode NOERROR "$T/held.perf")
nx=$(rcode NXDOMAIN "$T/held.perf")
[ $((noerr + nx)) = $((SENT - LOST)) ] && [ $((noerr - nx)) -le 2 ] && [ $((nx - noerr)) -le 2 ] ||
    problem "answers not half NOERROR, half NXDOMAIN: $(grep 'Response codes' "$T/held.perf")"
max=$(sed -n 's/.*Average Latency.*max \([0-9.]*\)).*/\1/p' "$T/held.perf")
if [ "$LOST" = 0 ]; then
    ok "handover: $SENT queries at $RATE/s, 2 restarts, 0 lost, $noerr NOERROR + $nx NXDOMAIN (longest wait ${max}s)"
fi
held_sent=$SENT

# The address the mirror binds itself (no inherited socket) answers, on UDP and TCP.
DNS_PORT[own]=$OWN_PORT
[ "$(dq own +short 1.2.3.10.rbl.example.net A)" = 127.0.0.2 ] || fail "the mirror's own UDP socket does not answer"
[ "$(dq own +tcp +short 1.2.3.10.rbl.example.net A)" = 127.0.0.2 ] || fail "the mirror's own TCP socket does not answer"
DNS_PORT[held]=$PORT
[ "$(dq held +tcp +short 1.2.3.10.rbl.example.net A)" = 127.0.0.2 ] || fail "the inherited TCP listener does not answer"
ok "the inherited TCP listener and the address bound by the mirror itself answer"
stop_clean held

# Plain restarts: the port is closed between the old process and the new one.
run plain
stop_clean plain
echo "figures: rate=$RATE secs=$SECS restarts=2 handover_lost=$held_lost handover_sent=$held_sent handover_max_wait_s=$max plain_lost=$LOST plain_sent=$SENT"
if [ "$LOST" -gt 0 ]; then
    ok "plain restarts lose $LOST queries: the handover is what keeps them"
else
    problem "plain restarts lost no query: the load does not show a restart's gap"
fi

# A passed socket bound to no listen address: the start fails and names it.
alloc_port OTHER
spawn stray "$PY" "$HOLDER" --listen "$(hostport "$BL_ADDR" "$OTHER")" -- "$MIRROR" -c "$T/m1/mirror.conf"
await stray 20
[ "$RC" != 0 ] || fail "the mirror started with a socket bound to no listen address"
grep -q "inherited socket 3 (dns-udp, udp $(hostport "$BL_ADDR" "$OTHER")) matches no listen address" "$T/stray.log" ||
    fail "the stray socket is not named: $(tail -n 3 "$T/stray.log")"
ok "a passed socket bound to no listen address stops the start, named"

# systemd's own side of the protocol (systemd-socket-activate, package systemd):
# it binds the UDP socket and starts the mirror when the first query arrives;
# that query waits in the socket and is answered.
if command -v systemd-socket-activate >/dev/null; then
    alloc_port SA_PORT
    sa=$(hostport "$BL_ADDR" "$SA_PORT")
    sed -e "s/^listen = .*/listen = $sa/" "$T/m1/mirror.conf" | awk '!/^listen = / || !seen++' >"$T/sa.conf"
    spawn sa systemd-socket-activate --datagram -l "$sa" "$MIRROR" -c "$T/sa.conf"
    wait_until 10 logged sa "Listening on" || fail "systemd-socket-activate did not bind $sa"
    DNS_PORT[sa]=$SA_PORT
    [ "$(DIG_TIME=$(scaled 10) dq sa +short 1.2.3.10.rbl.example.net A)" = 127.0.0.2 ] ||
        fail "the query that started the mirror was not answered: $(tail -n 3 "$T/sa.log")"
    logged sa "event=socket_inherited fd=3 name=.* proto=udp addr=$sa" || fail "no socket_inherited from systemd-socket-activate"
    stop_clean sa
    ok "under systemd-socket-activate the query that starts the mirror is answered"
else
    echo "skipped: systemd-socket-activate (package systemd) is not installed"
fi
finish
