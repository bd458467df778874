# SPDX-License-Identifier: MIT
# Shared helpers of the metrics tests: a real blsync-master and real blsync-mirror daemons over mutual TLS on loopback, one controllable clock.
set -euo pipefail
B=${BL_BUILD:?BL_BUILD must name the build directory}
S=${BL_SRC:?BL_SRC must name the source directory}
CTL=$B/master/blsyncctl
MASTER=$B/master/blsync-master
MIR=$B/mirror/blsync-mirror
T=$(mktemp -d /tmp/bl_metrics.XXXXXX)
# 20 ports from 15000-19999 (below the ephemeral range, apart from the other tests) offset by
# our pid; skip blocks that others hold now.
BASE=$((15000 + ($$ % 250) * 20))
for _ in $(seq 250); do
    ss -Htanu 2>/dev/null | awk '{print $5}' | grep -qE ":($(seq -s '|' "$BASE" $((BASE + 19))))\$" ||
        break
    BASE=$((15000 + ((BASE - 15000) / 20 + 1) % 250 * 20))
done
HTTP=$BASE
SYNC=$((BASE + 1))
MMET=$((BASE + 2))
TOK=tok$$
T0=1800000000000 # Unix ms on the controllable clock (2027-01-15)
declare -A PID=()

cleanup() {
    for p in "${PID[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "${KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
# A command that fails outside a condition stops the test with its line, not silently.
set -E
trap 'fail "line $LINENO: \"$BASH_COMMAND\" exited with status $?"' ERR
fail() {
    trap - ERR
    echo "FAIL: $*" >&2
    for f in "$T"/*.log; do
        [ -f "$f" ] || continue
        echo "--- $f (tail)" >&2
        tail -n 20 "$f" >&2
    done
    exit 1
}
pass() { echo "ok: $*"; }
now_ms() { date +%s%3N; }
setclock() { echo "$1" >"$T/clock.tmp" && mv "$T/clock.tmp" "$T/clock"; }
export BLSYNC_TEST_CLOCK=$T/clock

# wait_until TIMEOUT_S COMMAND...: polls every 20 ms.
wait_until() {
    local limit=$(($(now_ms) + $1 * 1000))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$(now_ms)" -lt "$limit" ] || return 1
        sleep 0.02
    done
}

# setup_pki MIRROR...: signing key, CA, master and mirror certificates, token.
setup_pki() {
    "$CTL" keygen --out "$T" --name sign >/dev/null
    local args=()
    for m in "$@"; do args+=(--mirror "$m"); done
    "$CTL" certs --dir "$T/pki" --master-name master.test "${args[@]}" >/dev/null
    echo "$TOK" >"$T/token"
    : >"$T/revoked"
}

# write_master_conf [EXTRA INI TEXT]: the master's configuration.
write_master_conf() {
    cat >"$T/master.conf" <<CONF
[master]
feed = main
db = $T/master.db
[http]
listen = 127.0.0.1:$HTTP
token_file = $T/token
[publisher]
spool = $T/spool
key = $T/sign.key
delay = 10ms
max_delay = 50ms
[policy]
expire_interval = 50ms
${POLICY_EXTRA:-}
[metrics]
listen = 127.0.0.1:$MMET
${METRICS_EXTRA:-}
[sync]
listen = 127.0.0.1:$SYNC
cert = $T/pki/master.pem
tls_key = $T/pki/master.key
ca = $T/pki/ca.pem
revoked = $T/revoked
heartbeat_interval = 300ms
CONF
}

start_master() {
    "$MASTER" -c "$T/master.conf" >>"$T/master.log" 2>&1 &
    PID[master]=$!
    wait_until 10 curl -sf "http://127.0.0.1:$HTTP/v1/health" || fail "blsync-master did not start"
    wait_until 5 grep -q "event=sync_listen" "$T/master.log" || fail "blsync-master runs no sync server"
}

# start_mirror NAME [STALE_AFTER FREEZE_AFTER]: the real blsync-mirror with a [sync] section.
start_mirror() {
    local n=$1 i
    i=${n#m}
    mkdir -p "$T/$n"
    cat >"$T/$n/mirror.conf" <<CONF
[server]
listen = 127.0.0.1:$((BASE + 10 + i))
threads = 1
metrics_listen = 127.0.0.1:0
[sync]
master = 127.0.0.1:$SYNC
server_name = master.test
cert = $T/pki/mirror-$n.pem
key = $T/pki/mirror-$n.key
ca = $T/pki/ca.pem
state_dir = $T/$n/state
backoff_min = 50ms
backoff_max = 300ms
stale_after = ${2:-20s}
freeze_after = ${3:-40s}
[zone bl.test]
feed = main
ttl = 1
trusted_key = $T/sign.pub
CONF
    "$MIR" -c "$T/$n/mirror.conf" >>"$T/$n.log" 2>&1 &
    PID[$n]=$!
    wait_until 10 grep -q "event=metrics addr=" "$T/$n.log" || fail "$n: no metrics listener"
}

mport() { grep -o "event=metrics addr=[^ ]* port=[0-9]*" "$T/$1.log" | tail -1 | sed 's/.*port=//'; }
# scrape master|mN: the exposition.
scrape() {
    if [ "$1" = master ]; then
        curl -sf "http://127.0.0.1:$MMET/metrics"
    else
        curl -sf "http://127.0.0.1:$(mport "$1")/metrics"
    fi
}
# metric WHO 'name{labels}': one sample's value (empty if absent).
metric() { scrape "$1" | awk -v k="$2" '$1 == k { print $2 }'; }
is() { [ "$(metric "$1" "$2")" = "$3" ]; }

api() { # METHOD PATH [BODY]
    curl -sf -X "$1" -H "Authorization: Bearer $TOK" ${3:+-d "$3"} "http://127.0.0.1:$HTTP$2"
}
list() { api POST /v1/listings "{\"prefix\":\"$1\",\"comment\":\"test\"}" >/dev/null; }
delist() { api DELETE "/v1/listings/$1?reason=technical-error" >/dev/null; }
master_serial() { curl -sf "http://127.0.0.1:$HTTP/v1/status" | jq -r .serial; }
rev() { echo "$1" | awk -F. '{print $4"."$3"."$2"."$1}'; }
answer() { # MIRROR IP: the A answer or "nx"
    local out i=${1#m}
    out=$(dig +time=1 +tries=1 +short @127.0.0.1 -p $((BASE + 10 + i)) "$(rev "$2").bl.test" A)
    echo "${out:-nx}"
}
# synced MIRROR: the mirror serves the master's serial.
synced() { [ "$(metric "$1" 'blsync_mirror_serial{feed="main"}')" = "$(master_serial)" ]; }
