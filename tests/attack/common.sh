# SPDX-License-Identifier: MIT
# Setup of the attack tests: a master with its sync server, API and metrics, two mirrors, the
# attack client, and the measurements every attack reports. The function names follow the
# shared test library (tests/lib.sh: spawn, stop_clean, start_master, api, metric, wait_until),
# so a script moves to it by sourcing it instead and keeping the attack-specific part below.
set -u
B=${BL_BUILD:?BL_BUILD must name the build directory}
S=${BL_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MASTER=$B/master/blsync-master
MIRROR=$B/mirror/blsync-mirror
CTL=$B/master/blsyncctl
PY=/usr/bin/python3
FLOOD=$S/tests/attack/flood.py
T=$(mktemp -d "/tmp/bl-attack-$(basename "$0" .sh).XXXXXX")
chmod 755 "$T"
TOK=tok$$
# Five free ports in 15000-19999: below the kernel's ephemeral range (the attack client opens
# tens of thousands of client sockets) and clear of the mirror (20000-24999) and sync and master
# (25000-32767) tests' ports.
pick_base() {
    local used k n
    used=$(ss -Htanu 2>/dev/null | awk '{print $5}' | sed 's/.*://' | sort -u)
    for ((k = ($$ * 13 + RANDOM) % 1000, n = 0; n < 1000; k = (k + 1) % 1000, n++)); do
        BASE=$((15000 + k * 5))
        echo "$used" | awk -v a="$BASE" -v b=$((BASE + 4)) '$1 >= a && $1 <= b {f=1} END {exit !f}' ||
            return 0
    done
    return 1
}
pick_base || { echo "no free ports" >&2; exit 1; }
HTTP_PORT=$BASE SYNC_PORT=$((BASE + 1)) MMET_PORT=$((BASE + 2))
declare -A PID=() DNS_PORT=([m1]=$((BASE + 3)) [m2]=$((BASE + 4)))
# Sanitizer builds run several times slower: every timeout here is scaled.
SCALE=1
grep -q '^BLSYNC_SANITIZE:BOOL=ON' "$B/CMakeCache.txt" 2>/dev/null && SCALE=3
PROBLEMS=0

cleanup() {
    local p i alive
    for p in "${PID[@]}"; do kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
    for ((i = 0; i < 100; i++)); do
        alive=0
        for p in "${PID[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.05
    done
    for p in "${PID[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    local f
    for f in "$T"/*.log; do
        [ -f "$f" ] && { echo "--- $f (tail)" >&2; tail -n 15 "$f" | cut -c1-300 >&2; }
    done
    exit 1
}
problem() { echo "FAIL: $*" >&2; PROBLEMS=$((PROBLEMS + 1)); }
pass() { echo "ok: $*"; }
finish() { [ "$PROBLEMS" = 0 ] || fail "$PROBLEMS problems (above)"; echo PASS; }
scaled() { awk -v s="$1" -v k="$SCALE" 'BEGIN { print s * k }'; }
now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((t / 1000)); }
# wait_until SECONDS CMD...: polls CMD every 50 ms until it succeeds (1 at the scaled timeout).
wait_until() {
    local end=$(($(now_ms) + $(scaled "$1" | awk '{printf "%d", $1 * 1000}')))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$(now_ms)" -lt "$end" ] || return 1
        sleep 0.05
    done
}

# ---- processes -------------------------------------------------------------
# spawn WHO CMD...: CMD in the background, output to $T/WHO.log.
spawn() {
    local who=$1
    shift
    "$@" >>"$T/$who.log" 2>&1 &
    PID[$who]=$!
}
running() { [ -n "${PID[$1]:-}" ] && kill -0 "${PID[$1]}" 2>/dev/null; }
# stop_clean WHO [SECONDS]: SIGTERM, and the exit status must be 0 within SECONDS (default 10).
stop_clean() {
    local p=${PID[$1]} i rc
    kill -TERM "$p" 2>/dev/null
    for ((i = 0; i < $(scaled "${2:-10}" | awk '{printf "%d", $1 * 20}'); i++)); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$p" 2>/dev/null; then
        kill -KILL "$p"
        fail "$1 ignored SIGTERM for ${2:-10} s"
    fi
    wait "$p"
    rc=$?
    unset "PID[$1]"
    [ "$rc" = 0 ] || fail "$1 exited with status $rc on SIGTERM"
}

# ---- the master and its mirrors --------------------------------------------
pki() {
    "$CTL" keygen --out "$T" --name sign >/dev/null || fail keygen
    "$CTL" certs --dir "$T/pki" --master-name master.test --mirror m1 --mirror m2 \
        >/dev/null || fail certs
}

# write_master_conf [LINE...]: extra lines go at the end of the file, each "[section] key = value".
write_master_conf() {
    cat >"$T/master.conf" <<EOF
[master]
db = $T/master.db
log_level = info
[http]
listen = 127.0.0.1:$HTTP_PORT
token = $TOK
max_body = 64K
[publisher]
spool = $T/spool
key = $T/sign.key
delay = 20ms
max_delay = 100ms
retry_max = 500ms
[policy]
expire_interval = 100ms
[sync]
listen = 127.0.0.1:$SYNC_PORT
cert = $T/pki/master.pem
tls_key = $T/pki/master.key
ca = $T/pki/ca.pem
heartbeat_interval = 500ms
[metrics]
listen = 127.0.0.1:$MMET_PORT
EOF
    local l
    for l in "$@"; do
        sed -i "/^\\${l%% *}\$/a ${l#* }" "$T/master.conf"
    done
}

# start_master [NOFILE]: starts the master (with that many file descriptors), waits for its API.
start_master() {
    [ -f "$T/master.conf" ] || write_master_conf
    spawn master bash -c "ulimit -n ${1:-1024} && exec \"\$0\" -c \"\$1\"" "$MASTER" \
        "$T/master.conf"
    wait_until 10 curl -sf -o /dev/null "http://127.0.0.1:$HTTP_PORT/v1/health" ||
        fail "master did not start"
}

start_mirror() {
    local who=$1
    mkdir -p "$T/$who"
    cat >"$T/$who/mirror.conf" <<EOF
[server]
listen = 127.0.0.1:${DNS_PORT[$who]}
threads = 1
[sync]
master = 127.0.0.1:$SYNC_PORT
server_name = master.test
cert = $T/pki/mirror-$who.pem
key = $T/pki/mirror-$who.key
ca = $T/pki/ca.pem
state_dir = $T/$who/state
backoff_min = 100ms
backoff_max = 500ms
[zone bl.test]
feed = main
ttl = 1
trusted_key = $T/sign.pub
EOF
    spawn "$who" "$MIRROR" -c "$T/$who/mirror.conf"
}

# ---- the API, the mirrors' answers, the metrics -----------------------------
# api METHOD PATH [BODY]: status in STATUS, body in $T/out.
api() {
    STATUS=$(curl -s --max-time "$(scaled 5)" -o "$T/out" -w '%{http_code}' -X "$1" \
        -H "Authorization: Bearer $TOK" ${3:+--data-binary "$3"} "http://127.0.0.1:$HTTP_PORT$2")
}
revname() { local IFS=.; set -- $1; echo "$4.$3.$2.$1"; }
# answer MIRROR IP: the mirror's A answer for IP, "nx" when not listed.
answer() {
    local out
    out=$(dig +time=1 +tries=1 +short @127.0.0.1 -p "${DNS_PORT[$1]}" "$(revname "$2").bl.test" A)
    echo "${out:-nx}"
}
all_answer() { # IP WANT
    local m
    for m in m1 m2; do [ "$(answer "$m" "$1")" = "$2" ] || return 1; done
}
scrape() { curl -s --max-time "$(scaled 5)" "http://127.0.0.1:$MMET_PORT/metrics"; }
metric() { scrape | awk -v k="$1" '$1 == k { print $2 }'; }
health() { curl -sf --max-time "$(scaled 2)" -o /dev/null "http://127.0.0.1:$HTTP_PORT/v1/health"; }

# ---- measurements ----------------------------------------------------------
fds() { ls "/proc/${PID[master]}/fd" 2>/dev/null | wc -l; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/${PID[master]}/status"; }
log_bytes() { stat -c %s "$T/master.log"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/${PID[master]}/stat"; }
# idle_cpu SECONDS: the master's CPU use over SECONDS, in percent (a busy loop shows as ~100).
idle_cpu() {
    local t0 t1
    t0=$(cpu_ticks)
    sleep "$1"
    t1=$(cpu_ticks)
    echo $(((t1 - t0) * 100 / ($1 * $(getconf CLK_TCK))))
}

# setup: keys, certificates, the master (ulimit $1) and both mirrors in sync.
setup() {
    pki
    start_master "${1:-1024}"
    start_mirror m1
    start_mirror m2
    wait_until 10 bash -c "[ \"\$(curl -s http://127.0.0.1:$MMET_PORT/metrics |
        awk '\$1 == \"blsync_master_mirrors_connected{feed=\\\"main\\\"}\" {print \$2}')\" = 2 ]" ||
        fail "mirrors did not connect"
}

# legit_report IP: a spamtrap report lists IP on every mirror (within SECONDS, default 5).
legit_report() {
    api POST /v1/reports "{\"ip\":\"$1\",\"source\":\"spamtrap\"}"
    [ "$STATUS" = 200 ] || { problem "report of $1: HTTP $STATUS $(cat "$T/out")"; return 1; }
    wait_until "${2:-5}" all_answer "$1" 127.0.0.2 ||
        { problem "$1 reported but not listed on every mirror"; return 1; }
}

# delist_within IP SECONDS: an operator delisting of IP reaches both mirrors within SECONDS
# (scaled); prints the time it took in ms.
delist_within() {
    local t0 t1
    t0=$(now_ms)
    api DELETE "/v1/listings/$1?reason=technical-error"
    [ "$STATUS" = 200 ] || { problem "delisting $1: HTTP $STATUS $(cat "$T/out")"; return 1; }
    wait_until "$2" all_answer "$1" nx || { problem "delisting of $1 not on every mirror"; return 1; }
    t1=$(now_ms)
    echo $((t1 - t0))
}

# flood MODE ARGS...: the attack client in the background (its JSON summary in $T/flood.json).
flood() {
    rm -f "$T/flood.ready"
    "$PY" "$FLOOD" "$@" --ready "$T/flood.ready" >"$T/flood.json" 2>"$T/flood.err" &
    PID[flood]=$!
    wait_until 10 test -e "$T/flood.ready" || fail "attack client did not start: $(cat "$T/flood.err")"
}
# flood_wait: waits for the attack client, prints its summary.
flood_wait() {
    wait "${PID[flood]}" || fail "attack client failed: $(cat "$T/flood.err")"
    unset "PID[flood]"
    echo "attack client: $(cat "$T/flood.json")"
}
