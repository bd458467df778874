#!/bin/bash
# SPDX-License-Identifier: MIT
# SIGHUP under dnsperf load: a changed TTL and TXT template apply with no query lost; a bad file changes nothing.
. "$(dirname "$0")/../lib.sh"
command -v dnsperf >/dev/null || fail "dnsperf is not installed (tests/deps.txt)"

keygen
"$MKFEED" --key "$T/sign.key" --dir "$T/feed" --n 2000 --lifetime 86400 --queries 20000 >/dev/null
echo "10.0.0.0/8 :3:Ten \$" >"$T/data.ip4set"
CONF=$T/m1/mirror.conf
conf() { # TTL TXT-WORD RBL-TTL
    write_mirror_conf m1 --files "server|threads = 2" "server|log_level = info"
    cat >>"$CONF" <<CONF
[zone bl.example.org]
snapshot = $T/feed/snapshot.obj
trusted_key = $T/sign.pub
ttl = $1
txt = $2 \$
[zone rbl.example.net]
rbldnsd = ip4set:$T/data.ip4set
ttl = $3
CONF
}
conf 100 Before 50
start_mirror m1
listed=$(awk '$1 == "L" {print $2; exit}' "$T/feed/final.txt")
name=$(revname "$listed").bl.example.org
ttl_of() { dq m1 +noall +answer "$1" "${2:-A}" | awk '{print $2; exit}'; }
[ "$(ttl_of "$name")" = 100 ] || fail "initial TTL $(ttl_of "$name"), want 100"
queries() { scrape m1 | awk '/^blsync_mirror_dns_queries_total\{/ {s += $2} END {print s + 0}'; }
queried() { [ "$(queries)" -ge "$1" ]; }
reloads() { grep -c 'event=reloaded' "$T/m1.log" || true; }
reloaded() { [ "$(reloads)" -ge "$1" ]; }

# dnsperf for 3 s at a bounded rate (2 cores in CI), SIGHUP in the middle: once
# its queries arrive.
q0=$(queries)
dnsperf -s "$(addr_of m1)" -p "${DNS_PORT[m1]}" -d "$T/feed/queries.txt" -c 2 -T 1 -Q 4000 -l 3 -t 2 \
    >"$T/perf.out" 2>&1 &
track perf $!
wait_until 5 queried $((q0 + 2000)) || fail "dnsperf's queries did not arrive"
conf 200 After 70
echo "10.0.0.0/8 :4:Ten again \$" >"$T/data.ip4set"
kill -HUP "${PID[m1]}"
wait_until 5 reloaded 1 || fail "no reload logged"
[ "$(ttl_of "$name")" = 200 ] || fail "TTL after SIGHUP $(ttl_of "$name"), want 200"
grep -q "After $listed" <<<"$(dq m1 +short "$name" TXT)" || fail "TXT template not reloaded: $(dq m1 +short "$name" TXT)"
[ "$(dq m1 +short 1.2.3.10.rbl.example.net A)" = 127.0.0.4 ] || fail "rbldnsd import not reloaded"
[ "$(ttl_of 1.2.3.10.rbl.example.net)" = 70 ] || fail "rbldnsd zone TTL not reloaded"
await perf
sent=$(awk '/Queries sent/ {print $3}' "$T/perf.out")
lost=$(awk '/Queries lost/ {print $3}' "$T/perf.out")
[ -n "$sent" ] && [ "$sent" -ge 5000 ] || { cat "$T/perf.out" >&2; fail "dnsperf sent only '${sent}' queries"; }
[ "$lost" = 0 ] || { cat "$T/perf.out" >&2; fail "$lost queries lost across SIGHUP"; }
ok "SIGHUP under load: TTL 100 -> 200, TXT template, rbldnsd data reloaded; $sent queries, 0 lost"

# An invalid file: refused with its reason, the running settings stay.
cp "$CONF" "$T/good.conf"
printf '[server]\nlisten = 127.0.0.1:%s\n[zone bl.example.org]\nttl = soon\n' "${DNS_PORT[m1]}" >"$CONF"
kill -HUP "${PID[m1]}"
wait_until 5 logged m1 "event=reload_failed" || fail "no failed reload logged"
logged m1 "event=reload_failed msg=\".*mirror.conf:4: ttl = soon: not a number" ||
    fail "bad reload not refused with file:line"
[ "$(ttl_of "$name")" = 200 ] || fail "a refused reload changed the TTL"
ok "an invalid file on SIGHUP is refused (file:line logged), answers unchanged"

# log level: debug after a reload shows debug events, and no secret is logged.
sed 's/log_level = info/log_level = debug\nwindow = 10m\nexpected_propagation = 8m/' "$T/good.conf" >"$CONF"
kill -HUP "${PID[m1]}"
wait_until 5 reloaded 2 || fail "second reload not logged"
grep -q "event=reloaded .* log_level=debug" "$T/m1.log" || fail "log level not reloaded"
grep -v '^ts=[^ ]* prog=blsync-mirror level=[a-z]* event=[a-z_]*\( [a-z_0-9]*=\("[^"]*"\|[^ "]*\)\)*$' \
    "$T/m1.log" | head -3 | grep . && fail "log lines not one key=value event each"
grep -q 'event=window_budget zone=bl.example.org msg=".*more than the 10m' "$T/m1.log" ||
    fail "no window budget warning for ttl 200 s + 8m in a 10m window"
grep -q 'event=window_budget zone=rbl.example.net' "$T/m1.log" && fail "window warning for ttl 70 s + 8m < 10m"
ok "log level and window reloaded (budget warned); every log line is ts prog level event key=value"
# log_syslog = yes: events go to syslog, none to stderr; back to stderr with no. The syslog
# reload also sets TTL 201, so that its answers show when it has been applied; the reload
# back to stderr then logs the only new line.
cp "$CONF" "$T/debug.conf"
sed 's/^log_level = debug/log_level = debug\nlog_syslog = yes/; s/^ttl = 200$/ttl = 201/' "$T/debug.conf" >"$CONF"
n0=$(reloads)
kill -HUP "${PID[m1]}"
ttl_is() { [ "$(ttl_of "$name")" = "$1" ]; }
wait_until 5 ttl_is 201 || fail "the reload with log_syslog = yes did not apply: TTL $(ttl_of "$name")"
[ "$(dq m1 +short "$name" A)" != "" ] || fail "no answer with log_syslog = yes"
cp "$T/debug.conf" "$CONF"
kill -HUP "${PID[m1]}"
back_on_stderr() { grep -q "event=reloaded .* log_syslog=no" <(tail -n 2 "$T/m1.log"); }
wait_until 5 back_on_stderr || fail "not back on stderr after log_syslog = no"
[ "$(reloads)" = $((n0 + 1)) ] || fail "log_syslog = yes still logs to stderr"
ok "log_syslog = yes sends events to syslog (none on stderr), no brings them back"
stop_clean m1
grep -q "event=stopped" "$T/m1.log" || fail "no stop logged"
echo PASS
