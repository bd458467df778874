# SPDX-License-Identifier: MIT
# tests/attack/attack.sh: what the attacks on the master share. A script sources
# it after the shared library:
#   . "$(dirname "$0")/../lib.sh"
#   . "$(dirname "$0")/attack.sh"
#
#   attack_master_conf [EDIT...]    pki for m1 and m2 (unless done), then
#                   write_master_conf with log_level info and a 64 KiB max_body
#                   (the attacks send bodies past it), then the EDITs
#   setup [NOFILE]  attack_master_conf (unless written), the master under
#                   `ulimit -n NOFILE` (1024, as in the issue's attacks), both
#                   mirrors connected to it
#   legit_report IP [SECONDS]   a spamtrap report of IP is listed by both
#                   mirrors within SECONDS (5); a problem otherwise
#   delist_within IP SECONDS    an operator removal of IP reaches both mirrors
#                   within SECONDS (scaled): DELIST_MS is the time from the
#                   request to the first DNS answers without it (answers.py,
#                   polling every 10 ms); a problem otherwise (returns 1)
#   flood MODE ARGS...  the attack client (flood.py) in the background, once it
#                   has opened every connection; flood_wait waits for it to end
#                   (fails if it failed) and prints its JSON summary, kept in
#                   $T/flood.json
#   health          one /v1/health answered within 2 s (scaled); HEALTH_MS is
#                   the time it took, HEALTH_RC curl's exit status
#   watch SECONDS   samples the master for SECONDS: /v1/health every 100 ms
#                   (FAILED counts the unanswered, FAIL_RUN the most in a row,
#                   FAIL_HOW says how each failed; SLOW is the slowest in ms),
#                   the most descriptors (MAX_FD, every 20 ms), sync handshakes
#                   in progress (MAX_HS) and API connections (MAX_API)
#   refused LISTENER REASON     blsync_http_refused_total of the listener;
#                   refused_at_least LISTENER REASON N: it is N or more
#   sync_refused REASON, sync_refused_at_least REASON N: the same for the sync
#                   listener's connections (blsync_master_sync_refused_total)
#   log_bytes, log_lines        the size of the master's log
#   idle_cpu SECONDS    the master's CPU use over SECONDS, in percent of one core
#   RSS_SLACK_KB    what RSS may grow by in a test: 64 MiB; sanitized 256 MiB more,
#                   the freed memory ASan holds in quarantine (quarantine_size_mb)
FLOOD=$S/tests/attack/flood.py
RSS_SLACK_KB=$(((64 + (BL_SANITIZED ? 256 : 0)) * 1024))

attack_master_conf() {
    [ -f "$T/pki/ca.pem" ] || pki m1 m2
    write_master_conf 'master|log_level = info' 'http|max_body = 64K' "$@"
}

_mirrors_connected() { metric_is master 'blsync_master_mirrors_connected{feed="main"}' 2; }
setup() {
    [ -f "$T/master.conf" ] || attack_master_conf
    WRAP[master]="prlimit --nofile=${1:-1024}:${1:-1024}"
    start_master
    start_mirror m1
    start_mirror m2
    wait_until 10 _mirrors_connected || fail "the mirrors did not connect"
}

legit_report() {
    api POST /v1/reports "{\"ip\":\"$1\",\"source\":\"spamtrap\"}"
    [ "$STATUS" = 200 ] || {
        problem "report of $1: HTTP $STATUS $(cat "$T/out")"
        return 1
    }
    wait_until "${2:-5}" all_answer "$1" 127.0.0.2 m1 m2 || {
        problem "$1 reported but not listed on every mirror"
        return 1
    }
}
delist_within() {
    local t0 t1
    rm -f "$T/answers.ready"
    "$PY" "$S/tests/attack/answers.py" --want nx --ready "$T/answers.ready" \
        --timeout "$(scaled $(($2 + 10)))" "$(revname "$1").$ZONE" \
        "$(hostport "$(addr_of m1)" "${DNS_PORT[m1]}")" \
        "$(hostport "$(addr_of m2)" "${DNS_PORT[m2]}")" >"$T/answers.out" 2>&1 &
    track answers $!
    wait_up answers 30 test -e "$T/answers.ready"
    t0=$(now_ms)
    api DELETE "/v1/listings/$1?reason=technical-error"
    await answers
    [ "$STATUS" = 200 ] || {
        problem "delisting $1: HTTP $STATUS $(cat "$T/out")"
        return 1
    }
    t1=$(cat "$T/answers.out")
    [ "$RC" = 0 ] || {
        problem "the delisting of $1 did not reach every mirror: $t1"
        return 1
    }
    DELIST_MS=$((t1 - t0))
    [ "$DELIST_MS" -le $(($(scaled_int "$2") * 1000)) ] || {
        problem "the delisting of $1 reached every mirror in $DELIST_MS ms, bound $(scaled "$2") s"
        return 1
    }
}

flood() {
    rm -f "$T/flood.ready"
    "$PY" "$FLOOD" "$@" --ready "$T/flood.ready" >"$T/flood.json" 2>"$T/flood.err" &
    track flood $!
    wait_up flood 10 test -e "$T/flood.ready"
}
flood_wait() {
    await flood 60
    [ "$RC" = 0 ] || fail "the attack client failed ($RC): $(cat "$T/flood.err")"
    echo "attack client: $(cat "$T/flood.json")"
}

_BL_HEALTH_TIME=$(scaled 2)
health() {
    local t0 rc=0
    t0=$(now_ms)
    curl -sf --max-time "$_BL_HEALTH_TIME" -o /dev/null "$MASTER_URL/v1/health" || rc=$?
    HEALTH_MS=$(($(now_ms) - t0))
    HEALTH_RC=$rc
    return $rc
}
_max() { # VAR VALUE: VAR becomes VALUE when it is larger
    [ "${2:-0}" -le "${!1}" ] || printf -v "$1" '%s' "$2"
}
watch() {
    local end sampler v run=0
    end=$(($(now_ms) + $1 * 1000))
    MAX_FD=0 MAX_HS=0 MAX_API=0 SLOW=0 FAILED=0 FAIL_RUN=0 FAIL_HOW=
    (while [ "$(now_ms)" -lt "$end" ]; do
        fds master
        sleep 0.02
    done) >"$T/fds" &
    sampler=$!
    while [ "$(now_ms)" -lt "$end" ]; do
        if health; then
            _max SLOW "$HEALTH_MS"
            run=0
        else
            FAILED=$((FAILED + 1)) run=$((run + 1))
            FAIL_HOW+=" curl exit $HEALTH_RC after $HEALTH_MS ms;"
            _max FAIL_RUN $run
        fi
        # At most 1 s: the metrics listener may be what is flooded.
        curl -s --max-time "$(scaled 1)" "http://127.0.0.1:$MMET_PORT/metrics" >"$T/scrape" || true
        v=$(awk '$1 == "blsync_master_sync_handshakes" { print $2 }' "$T/scrape")
        _max MAX_HS "$v"
        v=$(awk '$1 == "blsync_http_connections{listener=\"api\"}" { print $2 }' "$T/scrape")
        _max MAX_API "$v"
        sleep 0.1
    done
    wait "$sampler"
    MAX_FD=$(sort -n "$T/fds" | tail -n 1)
}

refused() { metric master "blsync_http_refused_total{listener=\"$1\",reason=\"$2\"}"; }
refused_at_least() { [ "$(refused "$1" "$2")" -ge "$3" ]; }
sync_refused() { metric master "blsync_master_sync_refused_total{stage=\"connection\",reason=\"$1\"}"; }
sync_refused_at_least() { [ "$(sync_refused "$1")" -ge "$2" ]; }

log_bytes() { stat -c %s "$T/master.log"; }
log_lines() { wc -l <"$T/master.log"; }
idle_cpu() {
    local t0 t1
    t0=$(awk '{ print $14 + $15 }' "/proc/${PID[master]}/stat")
    sleep "$1" # a measuring window, not a wait for an event
    t1=$(awk '{ print $14 + $15 }' "/proc/${PID[master]}/stat")
    echo $(((t1 - t0) * 100 / ($1 * $(getconf CLK_TCK))))
}
