#!/bin/bash
# SPDX-License-Identifier: MIT
# SIGHUP under dnsperf load: a changed TTL and TXT template apply with no query lost; a bad file changes nothing.
. "$(dirname "$0")/lib.sh"
command -v dnsperf > /dev/null || fail "dnsperf is not installed (tests/deps.txt)"

keygen
"$MKFEED" --key "$T/keys/signing.key" --dir "$T/feed" --n 2000 --lifetime 86400 --queries 20000 \
    > /dev/null
echo "10.0.0.0/8 :3:Ten \$" > "$T/data.ip4set"
conf() { # TTL TXT-WORD RBL-TTL
    cat > "$T/tmpl.conf" <<CONF
[server]
listen = 127.0.0.1:@PORT@
threads = 2
log_level = info
[zone bl.example.org]
snapshot = @T@/feed/snapshot.obj
trusted_key = @T@/keys/signing.pub
ttl = $1
txt = $2 \$
[zone rbl.example.net]
rbldnsd = ip4set:@T@/data.ip4set
ttl = $3
CONF
}
conf 100 Before 50
start_mirror "$T/tmpl.conf"
listed=$(awk '$1 == "L" {print $2; exit}' "$T/feed/final.txt")
name=$(revname "$listed").bl.example.org
ttl_of() { dq +noall +answer "$1" "${2:-A}" | awk '{print $2; exit}'; }
[ "$(ttl_of "$name")" = 100 ] || fail "initial TTL $(ttl_of "$name"), want 100"

# dnsperf for 3 s at a bounded rate (2 cores in CI), SIGHUP in the middle.
dnsperf -s 127.0.0.1 -p "$PORT" -d "$T/feed/queries.txt" -c 2 -T 1 -Q 4000 -l 3 -t 2 \
    > "$T/perf.out" 2>&1 &
PERF=$!
PIDS+=("$PERF")
sleep 1
sed "s/@PORT@/$PORT/g; s#@T@#$T#g" "$T/tmpl.conf" > /dev/null # keep the port
conf 200 After 70
sed "s/@PORT@/$PORT/g; s/@MPORT@/$MPORT/g; s#@T@#$T#g" "$T/tmpl.conf" > "$T/mirror.conf"
echo "10.0.0.0/8 :4:Ten again \$" > "$T/data.ip4set"
kill -HUP "$MPID"
for _ in $(seq 100); do grep -q "event=reloaded" "$T/mirror.log" && break; sleep 0.02; done
grep -q "event=reloaded" "$T/mirror.log" || fail "no reload logged"
[ "$(ttl_of "$name")" = 200 ] || fail "TTL after SIGHUP $(ttl_of "$name"), want 200"
dq +short "$name" TXT | grep -q "After $listed" || fail "TXT template not reloaded: $(dq +short "$name" TXT)"
[ "$(dq +short 1.2.3.10.rbl.example.net A)" = 127.0.0.4 ] || fail "rbldnsd import not reloaded"
[ "$(ttl_of 1.2.3.10.rbl.example.net)" = 70 ] || fail "rbldnsd zone TTL not reloaded"
wait "$PERF" || true
sent=$(awk '/Queries sent/ {print $3}' "$T/perf.out")
lost=$(awk '/Queries lost/ {print $3}' "$T/perf.out")
[ -n "$sent" ] && [ "$sent" -ge 5000 ] || { cat "$T/perf.out" >&2; fail "dnsperf sent only '${sent}' queries"; }
[ "$lost" = 0 ] || { cat "$T/perf.out" >&2; fail "$lost queries lost across SIGHUP"; }
ok "SIGHUP under load: TTL 100 -> 200, TXT template, rbldnsd data reloaded; $sent queries, 0 lost"

# An invalid file: refused with its reason, the running settings stay.
cp "$T/mirror.conf" "$T/good.conf"
printf '[server]\nlisten = 127.0.0.1:%s\n[zone bl.example.org]\nttl = soon\n' "$PORT" > "$T/mirror.conf"
kill -HUP "$MPID"
for _ in $(seq 100); do grep -q "event=reload_failed" "$T/mirror.log" && break; sleep 0.02; done
grep -q "event=reload_failed msg=\".*mirror.conf:4: ttl = soon: not a number" "$T/mirror.log" ||
    fail "bad reload not refused with file:line"
[ "$(ttl_of "$name")" = 200 ] || fail "a refused reload changed the TTL"
ok "an invalid file on SIGHUP is refused (file:line logged), answers unchanged"

# log level: debug after a reload shows debug events, and no secret is logged.
sed 's/log_level = info/log_level = debug\nwindow = 10m\nexpected_propagation = 8m/' "$T/good.conf" > "$T/mirror.conf"
kill -HUP "$MPID"
for _ in $(seq 100); do [ "$(grep -c 'event=reloaded' "$T/mirror.log")" -ge 2 ] && break; sleep 0.02; done
[ "$(grep -c 'event=reloaded' "$T/mirror.log")" -ge 2 ] || fail "second reload not logged"
grep -q "event=reloaded .* log_level=debug" "$T/mirror.log" || fail "log level not reloaded"
grep -v '^ts=[^ ]* prog=blsync-mirror level=[a-z]* event=[a-z_]*\( [a-z_0-9]*=\("[^"]*"\|[^ "]*\)\)*$' \
    "$T/mirror.log" | head -3 | grep . && fail "log lines not one key=value event each"
grep -q 'event=window_budget zone=bl.example.org msg=".*more than the 10m' "$T/mirror.log" ||
    fail "no window budget warning for ttl 200 s + 8m in a 10m window"
grep -q 'event=window_budget zone=rbl.example.net' "$T/mirror.log" && fail "window warning for ttl 70 s + 8m < 10m"
ok "log level and window reloaded (budget warned); every log line is ts prog level event key=value"
# log_syslog = yes: events go to syslog, none to stderr; back to stderr with no.
cp "$T/mirror.conf" "$T/debug.conf"
sed 's/^log_level = debug/log_level = debug\nlog_syslog = yes/' "$T/debug.conf" > "$T/mirror.conf"
n0=$(grep -c 'event=reloaded' "$T/mirror.log")
kill -HUP "$MPID"
sleep 0.5
[ "$(dq +short "$name" A)" != "" ] || fail "no answer with log_syslog = yes"
[ "$(grep -c 'event=reloaded' "$T/mirror.log")" = "$n0" ] || fail "log_syslog = yes still logs to stderr"
cp "$T/debug.conf" "$T/mirror.conf"
kill -HUP "$MPID"
for _ in $(seq 100); do grep -q "event=reloaded .* log_syslog=no" <(tail -n 2 "$T/mirror.log") && break; sleep 0.02; done
grep -q "event=reloaded .* log_syslog=no" <(tail -n 2 "$T/mirror.log") || fail "not back on stderr after log_syslog = no"
ok "log_syslog = yes sends events to syslog (none on stderr), no brings them back"
kill -TERM "$MPID"
wait "$MPID" || fail "exit status after SIGTERM"
grep -q "event=stopped" "$T/mirror.log" || fail "no stop logged"
echo PASS
