# SPDX-License-Identifier: MIT
# Shared helpers of the master integration tests: a work dir, a master on loopback, cleanup on exit.
set -u
B=${BL_BUILD:?BL_BUILD must name the build directory}
M=$B/master/blsync-master
C=$B/master/blsyncctl
CHK=$B/tests/master/master_chaincheck
W=$(mktemp -d /tmp/blm-test-XXXXXX)
PORT=$((25000 + ($$ * 7) % 4900))
TOK=test-token-$$
PIDS=()
MPID=
T0=1800000000000
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    [ -f "$W/log" ] && tail -25 "$W/log" >&2
    exit 1
}
setclock() { echo "$1" >"$W/clock.tmp" && mv "$W/clock.tmp" "$W/clock"; }
now() { cat "$W/clock"; }

# write_conf [extra INI lines...]: the master's config in $W/m.conf.
write_conf() {
    [ -f "$W/m.key" ] || "$C" keygen --out "$W" --name m >/dev/null || fail keygen
    cat >"$W/m.conf" <<CONF
[master]
db = $W/m.db
log_level = info
[http]
listen = 127.0.0.1:$PORT
token = $TOK
max_body = 64K
[publisher]
spool = ${SPOOL:-$W/spool}
key = $W/m.key
delay = 20ms
max_delay = 200ms
retry_max = 500ms
[policy]
expire_interval = 100ms
CONF
    for l in "$@"; do
        # "section.key = value" lines are appended to their section with sed.
        sec=${l%%|*}
        kv=${l#*|}
        # A value given here replaces the default of the same key in its section.
        awk -v s="[$sec]" -v k="${kv%% *}" '/^\[/ {in_s = ($0 == s)} !(in_s && $1 == k) {print}' \
            "$W/m.conf" >"$W/m.conf.new" && mv "$W/m.conf.new" "$W/m.conf"
        if grep -q "^\[$sec\]" "$W/m.conf"; then
            sed -i "/^\[$sec\]/a $kv" "$W/m.conf"
        else
            printf '[%s]\n%s\n' "$sec" "$kv" >>"$W/m.conf"
        fi
    done
}

start_master() {
    # REALCLOCK=1: the wall clock (when other daemons check the master's times).
    local clk=$W/clock
    [ -n "${REALCLOCK:-}" ] && clk=/nonexistent
    BLSYNC_TEST_CLOCK=$clk "$M" -c "$W/m.conf" 2>>"$W/log" &
    MPID=$!
    PIDS+=("$MPID")
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/v1/health" && return 0
        kill -0 "$MPID" 2>/dev/null || fail "master exited at start"
        sleep 0.05
    done
    fail "master did not start"
}

stop_master() {
    kill -TERM "$MPID" 2>/dev/null
    wait "$MPID"
    local rc=$?
    MPID=
    # A graceful stop exits 0; sanitizer builds report leaks and errors here.
    [ $rc = 0 ] || fail "master exited with status $rc on SIGTERM"
}

# api METHOD PATH [BODY] [AUTH]: body in $W/out, status in $STATUS.
api() {
    local auth=${4-Bearer $TOK}
    STATUS=$(curl -s -o "$W/out" -w '%{http_code}' -X "$1" ${auth:+-H "Authorization: $auth"} \
        -H 'Content-Type: application/json' ${3:+--data-binary "$3"} "http://127.0.0.1:$PORT$2")
}
expect() { # expect STATUS [jq-filter expected]...
    local st=$1
    shift
    [ "$STATUS" = "$st" ] || fail "HTTP $STATUS, want $st: $(cat "$W/out")"
    while [ $# -ge 2 ]; do
        got=$(jq -r "$1" <"$W/out")
        [ "$got" = "$2" ] || fail "$1 = '$got', want '$2' in $(cat "$W/out")"
        shift 2
    done
}
expect_msg() { # expect_msg STATUS SUBSTRING
    [ "$STATUS" = "$1" ] || fail "HTTP $STATUS, want $1: $(cat "$W/out")"
    grep -q -- "$2" "$W/out" || fail "response lacks '$2': $(cat "$W/out")"
}
lookup() { api GET "/v1/lookup/$1"; }
wait_for() { # wait_for SECONDS COMMAND...
    local t=$1
    shift
    for _ in $(seq $((t * 20))); do
        "$@" && return 0
        sleep 0.05
    done
    return 1
}
serial() { curl -s "http://127.0.0.1:$PORT/v1/status" | jq -r .serial; }
pending() { curl -s "http://127.0.0.1:$PORT/v1/status" | jq -r .pending; }
published_all() { [ "$(pending)" = 0 ]; }
