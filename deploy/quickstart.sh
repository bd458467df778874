#!/bin/bash
# SPDX-License-Identifier: MIT
# The README's first command: on a fresh Debian 12 machine (as root), install
# what is missing, build, then run a whole blsync system on loopback in
# ./quickstart-run/: a signing key, a CA and TLS certificates, one master
# (SQLite store, HTTP API, sync server, metrics) and two mirrors (DNS,
# metrics). It feeds sample spam reports until one address is listed, shows
# the listing answered by both mirrors, removes it as an operator would after
# review, shows the delisting (NXDOMAIN) on both mirrors, lets a short
# operator listing expire (NXDOMAIN again), and prints the metrics URLs.
#
#   deploy/quickstart.sh         interactive: keeps everything running until Ctrl-C
#   deploy/quickstart.sh --ci    non-interactive (also when stdin is not a terminal
#                                or CI=true): runs every printed dig command, checks
#                                its answer, prints a summary, stops everything and
#                                exits 0, or 1 naming what failed
#
# Environment:
#   BLSYNC_QUICKSTART_BUILD=DIR  use this already-built tree; skip installing and building
#   BLSYNC_QUICKSTART_DIR=DIR    where keys, configs, the store and logs go (default ./quickstart-run)
#   BLSYNC_QUICKSTART_PORT=N     first of 8 consecutive loopback ports (default: a free block from 12530)
#   BLSYNC_QUICKSTART_TIMEOUT=S  seconds to wait for each propagation step (default 20)
#   BLSYNC_QUICKSTART_EXPIRE=S   lifetime of the listing that expires (default 4); its dig
#                                checks must run within it, so a slow machine needs more
#
# Every server binds 127.0.0.1 only. Every process started here is stopped by
# its PID on exit, Ctrl-C or failure; nothing is left running.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
# Where the operator runs it from: the printed commands are relative to it.
CALLER_PWD=$PWD
cd "$SRC"

CI_MODE=0
for a in "$@"; do
    case $a in
    --ci | -n | --non-interactive) CI_MODE=1 ;;
    -h | --help)
        sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "quickstart: unknown argument '$a' (try --help)" >&2
        exit 2
        ;;
    esac
done
[ "${CI:-}" = true ] && CI_MODE=1
[ -t 0 ] || CI_MODE=1

say() { printf '\n== %s\n' "$*"; }
note() { printf '   %s\n' "$*"; }

# ---- install and build ----------------------------------------------------
if [ -n "${BLSYNC_QUICKSTART_BUILD:-}" ]; then
    B=$(cd "$BLSYNC_QUICKSTART_BUILD" && pwd)
    say "using the build in $B (BLSYNC_QUICKSTART_BUILD)"
else
    say "installing what is missing (tests/install-deps.sh)"
    bash tests/install-deps.sh
    B=$SRC/build
    say "building ($B, RelWithDebInfo)"
    cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$B" -j"$(nproc)" >/dev/null
fi
CTL=$B/master/blsyncctl
MASTER=$B/master/blsync-master
MIRROR=$B/mirror/blsync-mirror
for x in "$CTL" "$MASTER" "$MIRROR"; do
    [ -x "$x" ] || { echo "quickstart: $x is missing: build first" >&2; exit 1; }
done
for t in dig curl jq ss; do
    command -v "$t" >/dev/null || { echo "quickstart: '$t' is missing (bash tests/install-deps.sh)" >&2; exit 1; }
done

RUN=${BLSYNC_QUICKSTART_DIR:-$SRC/quickstart-run}
TIMEOUT=${BLSYNC_QUICKSTART_TIMEOUT:-20}
ZONE=bl.quickstart.test
LISTED_IP=192.0.2.99      # gets a spamtrap hit (weight 2 = threshold): listed
LISTED_IP6=2001:db8::25   # two user reports (weight 1 each): listed
QUIET_IP=198.51.100.23    # one user report (score 1 < 2): not listed
EXPIRE_IP=203.0.113.7     # an operator listing that expires after EXPIRE_S seconds
EXPIRE_S=${BLSYNC_QUICKSTART_EXPIRE:-4}

# ---- ports: 8 consecutive free ones on 127.0.0.1 ---------------------------
port_busy() { ss -Htanu 2>/dev/null | awk '{print $5}' | grep -qE "[:.]$1\$"; }
block_free() {
    local p
    for p in $(seq "$1" $(($1 + 7))); do port_busy "$p" && return 1; done
    return 0
}
if [ -n "${BLSYNC_QUICKSTART_PORT:-}" ]; then
    BASE=$BLSYNC_QUICKSTART_PORT
    block_free "$BASE" || { echo "quickstart: ports $BASE-$((BASE + 7)) are not all free" >&2; exit 1; }
else
    # Below the kernel's ephemeral ports (no client socket takes one between
    # the check and the bind) and outside the ranges the other tests pick.
    BASE=12530
    until block_free "$BASE"; do
        BASE=$((BASE + 10))
        [ "$BASE" -lt 14990 ] || { echo "quickstart: no 8 free ports between 12530 and 14990" >&2; exit 1; }
    done
fi
HTTP_PORT=$BASE            # master API
SYNC_PORT=$((BASE + 1))    # master sync server (mutual TLS)
MMET_PORT=$((BASE + 2))    # master /metrics
DNS1=$((BASE + 3))         # mirror m1 DNS (UDP and TCP)
DNS2=$((BASE + 4))         # mirror m2 DNS
MET1=$((BASE + 5))         # mirror m1 /metrics
MET2=$((BASE + 6))         # mirror m2 /metrics
PUB_PORT=$((BASE + 7))     # master public lookup and review page

# ---- processes: started here, stopped here by PID ------------------------
declare -A PID=()
stop_all() {
    local n p rc=0
    for n in m1 m2 master; do
        p=${PID[$n]:-}
        [ -n "$p" ] || continue
        kill -TERM "$p" 2>/dev/null || true
    done
    for n in m1 m2 master; do
        p=${PID[$n]:-}
        [ -n "$p" ] || continue
        # A graceful stop takes well under a second; SIGKILL after 10 s.
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$p" 2>/dev/null; then
            echo "quickstart: $n (pid $p) ignored SIGTERM; killing it" >&2
            kill -KILL "$p" 2>/dev/null || true
            rc=1
        fi
        wait "$p" 2>/dev/null || true
        unset "PID[$n]"
    done
    return $rc
}
on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    stop_all || rc=1
    [ $rc = 0 ] || echo "quickstart: logs are in $RUN/*.log" >&2
    exit $rc
}
trap on_exit EXIT
trap 'echo; echo "quickstart: stopping (Ctrl-C)"; exit 0' INT
trap 'exit 143' TERM

FAILED=()
PASSED=0
fail() {
    echo "quickstart: FAILED: $*" >&2
    for f in "$RUN"/master.log "$RUN"/m1.log "$RUN"/m2.log; do
        [ -f "$f" ] && { echo "--- $f (last lines)" >&2; tail -n 15 "$f" >&2; }
    done
    exit 1
}
now_ms() { date +%s%3N; }
# wait_until SECONDS COMMAND...: polls every 50 ms.
wait_until() {
    local limit=$(($(now_ms) + $1 * 1000))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$(now_ms)" -lt "$limit" ] || return 1
        sleep 0.05
    done
}

# ---- keys, certificates, configuration -------------------------------------
rm -rf "$RUN"
mkdir -p "$RUN"
chmod 700 "$RUN"
say "signing key (Ed25519; signs every delta and snapshot): blsyncctl keygen"
"$CTL" keygen --out "$RUN/keys" --name master | sed 's/^/   /'
say "TLS: a CA, the master's server certificate and one client certificate per mirror: blsyncctl certs"
"$CTL" certs --dir "$RUN/pki" --master-name master.quickstart.test --mirror m1 --mirror m2 | sed 's/^/   /'
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$RUN/api.token"
chmod 600 "$RUN/api.token"
: >"$RUN/revoked"

cat >"$RUN/master.conf" <<EOF
# blsync-master for the quickstart: everything on 127.0.0.1, state in $RUN.
[master]
feed = main
db = $RUN/master.db
[http]
listen = 127.0.0.1:$HTTP_PORT
token_file = $RUN/api.token
[public]
listen = 127.0.0.1:$PUB_PORT
[publisher]
spool = $RUN/spool
key = $RUN/keys/master.key
delay = 50ms
max_delay = 200ms
[policy]
# One spamtrap hit (weight 2) or two user reports list an address.
threshold = 2
weight_user = 1
weight_spamtrap = 2
duration = 24h
[sync]
listen = 127.0.0.1:$SYNC_PORT
cert = $RUN/pki/master.pem
tls_key = $RUN/pki/master.key
ca = $RUN/pki/ca.pem
revoked = $RUN/revoked
heartbeat_interval = 1s
[metrics]
listen = 127.0.0.1:$MMET_PORT
window = 4h
EOF

write_mirror_conf() { # NAME DNS_PORT METRICS_PORT
    mkdir -p "$RUN/$1"
    cat >"$RUN/$1/mirror.conf" <<EOF
# blsync-mirror $1 for the quickstart: DNS and metrics on 127.0.0.1.
[server]
listen = 127.0.0.1:$2
threads = 1
metrics_listen = 127.0.0.1:$3
[sync]
master = 127.0.0.1:$SYNC_PORT
server_name = master.quickstart.test
cert = $RUN/pki/mirror-$1.pem
key = $RUN/pki/mirror-$1.key
ca = $RUN/pki/ca.pem
state_dir = $RUN/$1/state
backoff_min = 200ms
backoff_max = 2s
[zone $ZONE]
feed = main
trusted_key = $RUN/keys/master.pub
ttl = 60
neg_ttl = 60
soa_mname = ns1.$ZONE
soa_rname = hostmaster.$ZONE
ns = ns1.$ZONE
txt = Listed in the quickstart list; see http://127.0.0.1:$PUB_PORT/?ip=\$
EOF
}
write_mirror_conf m1 "$DNS1" "$MET1"
write_mirror_conf m2 "$DNS2" "$MET2"

say "configuration checks (--check-config)"
"$MASTER" --check-config -c "$RUN/master.conf" || fail "master configuration refused"
for m in m1 m2; do
    "$MIRROR" --check-config -c "$RUN/$m/mirror.conf" || fail "$m configuration refused"
done
note "ok: $RUN/master.conf, $RUN/m1/mirror.conf, $RUN/m2/mirror.conf"

# ---- start --------------------------------------------------------------
say "starting blsync-master and two blsync-mirror daemons (logs: $RUN/*.log)"
# Each daemon in its own session: Ctrl-C reaches this script only, which
# then stops them in order (mirrors, then the master) by PID.
setsid "$MASTER" -c "$RUN/master.conf" >>"$RUN/master.log" 2>&1 &
PID[master]=$!
wait_until 15 curl -sf "http://127.0.0.1:$HTTP_PORT/v1/health" || fail "blsync-master did not start (master.log)"
wait_until 5 grep -q "event=sync_listen" "$RUN/master.log" || fail "blsync-master runs no sync server"
note "master   pid ${PID[master]}: API http://127.0.0.1:$HTTP_PORT, sync 127.0.0.1:$SYNC_PORT (mutual TLS 1.3)"
for m in m1 m2; do
    setsid "$MIRROR" -c "$RUN/$m/mirror.conf" >>"$RUN/$m.log" 2>&1 &
    PID[$m]=$!
done
mirror_metric() { # PORT SERIES: its value
    curl -sf "http://127.0.0.1:$1/metrics" | awk -v k="$2" '$1 == k { print $2 }'
}
master_metric() { curl -sf "http://127.0.0.1:$MMET_PORT/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
connected() { [ "$(mirror_metric "$1" 'blsync_mirror_connected{feed="main"}')" = 1 ]; }
wait_until "$TIMEOUT" connected "$MET1" || fail "mirror m1 did not connect to the master (m1.log)"
wait_until "$TIMEOUT" connected "$MET2" || fail "mirror m2 did not connect to the master (m2.log)"
note "mirror m1 pid ${PID[m1]}: DNS 127.0.0.1:$DNS1 (UDP, TCP), connected to the master"
note "mirror m2 pid ${PID[m2]}: DNS 127.0.0.1:$DNS2 (UDP, TCP), connected to the master"

ctl() { "$CTL" "$@" -c "$RUN/master.conf"; }
# blsyncctl as the printed commands name it: relative to the current directory
# when inside it, else its absolute path (a copy-paste runs from where you are).
case $CTL in
"$CALLER_PWD"/*) SHOWCTL=${CTL#"$CALLER_PWD"/} ;;
*) SHOWCTL=$CTL ;;
esac

# ---- dig commands, printed and (non-interactive) checked -------------------
rev4() { echo "$1" | awk -F. '{print $4"."$3"."$2"."$1}'; }
rev6() { # the 32 nibbles of an IPv6 address, reversed, dot-separated (RFC 5782)
    local head=${1%%::*} tail="" g hex="" n out="" i
    [ "$head" != "$1" ] && tail=${1#*::}
    local -a hg tg
    IFS=: read -r -a hg <<<"$head"
    IFS=: read -r -a tg <<<"$tail"
    n=$((8 - ${#hg[@]} - ${#tg[@]}))
    for g in "${hg[@]}"; do hex+=$(printf '%04x' "0x$g"); done
    for ((i = 0; i < n; i++)); do hex+=0000; done
    for g in "${tg[@]}"; do hex+=$(printf '%04x' "0x$g"); done
    for ((i = 31; i >= 0; i--)); do out+=${hex:i:1}.; done
    echo "${out%.}"
}
qname() { case $1 in *:*) echo "$(rev6 "$1").$ZONE" ;; *) echo "$(rev4 "$1").$ZONE" ;; esac; }

# digcmd PORT NAME TYPE: the command line, as printed.
digcmd() { echo "dig @127.0.0.1 -p $1 $2 $3"; }
# dig_result COMMAND: "STATUS|answer rdata;..." of the printed command.
dig_result() {
    local out status ans
    out=$(eval "$1 +time=2 +tries=2" 2>&1) || true
    status=$(printf '%s\n' "$out" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p' | head -1)
    ans=$(printf '%s\n' "$out" | awk '/^;; ANSWER SECTION:/ {a = 1; next} /^$/ {a = 0} a && !/^;/ {
        $1 = $2 = $3 = ""; sub(/^ +/, ""); printf "%s // ", $0 }')
    echo "${status:-NOANSWER}|$ans"
}
# matches RESULT KIND [ARG]: whether a dig result says what KIND promises.
matches() {
    local st=${1%%|*} ans=${1#*|}
    case $2 in
    listedA) [ "$st" = NOERROR ] && [[ $ans =~ ^A\ 127\.0\.0\.[0-9]+\ //\ $ ]] ;;
    listedTXT) [ "$st" = NOERROR ] && [[ $ans == *TXT* ]] && [[ $ans == *"$3"* ]] ;;
    nx) [ "$st" = NXDOMAIN ] && [ -z "$ans" ] ;;
    *) return 1 ;;
    esac
}
want_text() {
    case $1 in
    listedA) echo "NOERROR, A 127.0.0.2" ;;
    listedTXT) echo "NOERROR, TXT naming $2" ;;
    nx) echo "NXDOMAIN (not listed)" ;;
    esac
}
# show KIND IP TYPE [MIRROR...]: prints the dig command for each mirror and
# what it answers; in --ci mode fails unless the answer is KIND.
show() {
    local kind=$1 ip=$2 type=$3 m port cmd res name
    name=$(qname "$ip")
    for m in m1 m2; do
        port=$DNS1
        [ $m = m2 ] && port=$DNS2
        cmd=$(digcmd "$port" "$name" "$type")
        res=$(dig_result "$cmd")
        printf '   $ %s\n' "$cmd"
        printf '     -> %s: %s (expected %s)\n' "$m" "$(echo "$res" | sed 's| *// *$||; s/|/, /; s/, *$//')" \
            "$(want_text "$kind" "$ip")"
        if matches "$res" "$kind" "$ip"; then
            PASSED=$((PASSED + 1))
        else
            FAILED+=("$m: $cmd gave '$res', expected $(want_text "$kind" "$ip")")
            [ $CI_MODE = 1 ] && fail "${FAILED[-1]}"
        fi
    done
}
# both KIND IP TYPE: whether both mirrors give that answer now (the condition wait_until polls).
both() {
    local m port
    for port in "$DNS1" "$DNS2"; do
        matches "$(dig_result "$(digcmd "$port" "$(qname "$2")" "$3")")" "$1" "$2" || return 1
    done
}

# ---- listing -----------------------------------------------------------------
say "spam reports through the API (blsyncctl report; token from $RUN/api.token)"
note "\$ $SHOWCTL report $LISTED_IP spamtrap -c $RUN/master.conf"
ctl report "$LISTED_IP" spamtrap | sed 's/^/     /' || fail "report refused"
note "\$ $SHOWCTL report $QUIET_IP user -c $RUN/master.conf"
ctl report "$QUIET_IP" user | sed 's/^/     /' || fail "report refused"
note "\$ $SHOWCTL report $LISTED_IP6 user -c ...   (twice)"
ctl report "$LISTED_IP6" user >/dev/null || fail "report refused"
ctl report "$LISTED_IP6" user | sed 's/^/     /' || fail "report refused"
note "a spamtrap hit weighs 2, a user report 1; the threshold is 2: $LISTED_IP and $LISTED_IP6 are listed, $QUIET_IP is not"

t0=$(now_ms)
wait_until "$TIMEOUT" both listedA "$LISTED_IP" A ||
    [ $CI_MODE = 0 ] || fail "the listing of $LISTED_IP did not reach both mirrors within ${TIMEOUT}s"
t_list=$(($(now_ms) - t0))
wait_until "$TIMEOUT" both listedA "$LISTED_IP6" A || true
say "the listing, answered by both mirrors (reached both ${t_list} ms after the report)"
show listedA "$LISTED_IP" A
show listedTXT "$LISTED_IP" TXT
show listedA "$LISTED_IP6" A
show nx "$QUIET_IP" A
note "\$ $SHOWCTL lookup $LISTED_IP -c $RUN/master.conf"
ctl lookup "$LISTED_IP" | sed 's/^/     /' || fail "lookup failed"

# ---- delisting -----------------------------------------------------------------
say "delisting: an operator removes $LISTED_IP after review (listings otherwise expire 24 h after the last report)"
note "\$ $SHOWCTL list remove $LISTED_IP --reason user-error --comment 'quickstart demo' -c $RUN/master.conf"
ctl list remove "$LISTED_IP" --reason user-error --comment 'quickstart demo' | sed 's/^/     /' ||
    fail "operator removal refused"
t0=$(now_ms)
wait_until "$TIMEOUT" both nx "$LISTED_IP" A ||
    [ $CI_MODE = 0 ] || fail "the delisting of $LISTED_IP did not reach both mirrors within ${TIMEOUT}s"
t_delist=$(($(now_ms) - t0))
say "the delisting, answered by both mirrors (NXDOMAIN on both ${t_delist} ms after the removal)"
show nx "$LISTED_IP" A
show nx "$LISTED_IP" TXT
show listedA "$LISTED_IP6" A
acked() { [ "$(master_metric 'blsync_master_delisting_propagation_seconds_count{feed="main"}')" -ge 1 ] 2>/dev/null; }
wait_until "$TIMEOUT" acked || FAILED+=("the master did not see the delisting acknowledged by both mirrors")
note "\$ $SHOWCTL lookup $LISTED_IP -c $RUN/master.conf   (time to delisting, mirrors that acknowledged it)"
{ ctl lookup "$LISTED_IP" || [ $? = 1 ]; } | sed 's/^/     /' || fail "lookup failed"  # 1: not listed
note "\$ $SHOWCTL status -c $RUN/master.conf   (every mirror's acknowledged serial and lag)"
ctl status | sed 's/^/     /' || FAILED+=("blsyncctl status failed")

# ---- expiry ------------------------------------------------------------------
say "expiry: listings end on their own (24 h after the last report; here an operator listing of ${EXPIRE_S} s)"
note "\$ $SHOWCTL list add $EXPIRE_IP --duration ${EXPIRE_S}s --comment 'expires soon' -c $RUN/master.conf"
ctl list add "$EXPIRE_IP" --duration "${EXPIRE_S}s" --comment 'expires soon' >/dev/null || fail "operator listing refused"
t0=$(now_ms)
wait_until "$TIMEOUT" both listedA "$EXPIRE_IP" A ||
    [ $CI_MODE = 0 ] || fail "the listing of $EXPIRE_IP did not reach both mirrors within ${TIMEOUT}s"
show listedA "$EXPIRE_IP" A
wait_until $((TIMEOUT + EXPIRE_S)) both nx "$EXPIRE_IP" A ||
    [ $CI_MODE = 0 ] || fail "the expiry of $EXPIRE_IP did not reach both mirrors"
t_exp=$(($(now_ms) - t0))
note "expired and NXDOMAIN on both mirrors ${t_exp} ms after it was listed:"
show nx "$EXPIRE_IP" A
note "(a mirror never answers an entry past its expiry time; the master's delisting delta follows)"
expired() {
    [ "$(master_metric 'blsync_master_delistings_decided_total{feed="main",reason="expired"}')" -ge 1 ] 2>/dev/null
}
mirrors_current() {
    local s
    s=$(master_metric 'blsync_master_serial{feed="main"}')
    [ -n "$s" ] && [ "$(mirror_metric "$MET1" 'blsync_mirror_serial{feed="main"}')" = "$s" ] &&
        [ "$(mirror_metric "$MET2" 'blsync_mirror_serial{feed="main"}')" = "$s" ]
}
if wait_until "$TIMEOUT" expired && wait_until "$TIMEOUT" mirrors_current; then
    PASSED=$((PASSED + 1))
    note "the master decided the expiry (blsync_master_delistings_decided_total{reason=\"expired\"}); both mirrors hold its serial $(master_metric 'blsync_master_serial{feed="main"}')"
else
    FAILED+=("the master's expiry delisting of $EXPIRE_IP was not decided or not applied by both mirrors")
fi

# ---- metrics -----------------------------------------------------------------
say "metrics (Prometheus text format; names in docs/METRICS.md)"
for u in "http://127.0.0.1:$MMET_PORT/metrics master" "http://127.0.0.1:$MET1/metrics m1" \
    "http://127.0.0.1:$MET2/metrics m2"; do
    set -- $u
    note "$(printf '%-7s' "$2") curl -s $1"
    body=$(curl -sf "$1" || true)
    if grep -q '^blsync_build_info' <<<"$body"; then
        PASSED=$((PASSED + 1))
    else
        FAILED+=("$2: $1 serves no blsync metrics")
    fi
done
for m in m1 m2; do
    port=$MET1
    [ $m = m2 ] && port=$MET2
    n=$(mirror_metric "$port" 'blsync_mirror_delisting_propagation_seconds_count{feed="main"}')
    if [ "${n:-0}" -ge 1 ] 2>/dev/null; then
        PASSED=$((PASSED + 1))
    else
        FAILED+=("$m: blsync_mirror_delisting_propagation_seconds_count is '${n:-absent}', expected >= 1")
    fi
done
note "delisting propagation as the master saw it (decided -> acknowledged by the last mirror):"
body=$(curl -sf "http://127.0.0.1:$MMET_PORT/metrics" || true)
grep -E '^blsync_master_(delisting_propagation_seconds_(sum|count)|mirror_acked_serial|serial)\{' <<<"$body" |
    sed 's/^/     /' || true
note "the API: curl -s -H \"Authorization: Bearer \$(cat $RUN/api.token)\" http://127.0.0.1:$HTTP_PORT/v1/status | jq ."
note "the public page: http://127.0.0.1:$PUB_PORT/ (lookups and review requests)"

# ---- summary -----------------------------------------------------------------
say "summary"
note "listing reached both mirrors in ${t_list} ms; delisting (NXDOMAIN on both) in ${t_delist} ms"
note "$PASSED checks passed, ${#FAILED[@]} failed"
if [ ${#FAILED[@]} -gt 0 ]; then
    for f in "${FAILED[@]}"; do echo "   FAILED: $f" >&2; done
    fail "${#FAILED[@]} check(s) failed"
fi
note "files: $RUN (keys/, pki/, master.conf, m1/, m2/, master.db, spool/, *.log)"

if [ $CI_MODE = 1 ]; then
    echo "quickstart: all checks passed"
    exit 0
fi
say "running: try the dig commands above; more reports: $SHOWCTL report IP user|spamtrap -c $RUN/master.conf; Ctrl-C stops everything"
while :; do
    for n in master m1 m2; do
        kill -0 "${PID[$n]}" 2>/dev/null || fail "$n exited unexpectedly (see $RUN/$n.log)"
    done
    sleep 1 &
    wait $! || true
done
