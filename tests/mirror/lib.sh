# SPDX-License-Identifier: MIT
# Shared helpers for the mirror integration tests: temp dir, ports, daemons, dig wrappers.
# Every daemon started here is killed on exit (trap), and every wait is bounded.
set -euo pipefail
: "${BL_BUILD:?BL_BUILD must name the build directory}"
: "${BL_SRC:?BL_SRC must name the source directory}"
MIRROR=$BL_BUILD/mirror/blsync-mirror
MKFEED=$BL_BUILD/tests/mirror/mirror_mkfeed
CTL=$BL_BUILD/master/blsyncctl
PY=/usr/bin/python3
T=$(mktemp -d /tmp/blmirror-test.XXXXXX)
chmod 755 "$T"
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    rm -rf "$T"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    if [ -f "$T/mirror.log" ]; then
        echo "--- mirror log (tail)" >&2
        tail -20 "$T/mirror.log" >&2
    fi
    exit 1
}
ok() { echo "ok: $*"; }

# A port in 20000-24999 offset by our pid; start_mirror retries on a clash.
pick_port() { echo $((20000 + ($$ * 7 + RANDOM) % 5000)); }

# start_mirror TEMPLATE: substitutes @PORT@ and @T@, starts the daemon, waits
# until it listens. Sets PORT and MPID.
start_mirror() {
    local tmpl=$1 try
    for try in 1 2 3 4 5; do
        PORT=$(pick_port)
        MPORT=$((PORT + 1))
        sed "s/@PORT@/$PORT/g; s/@MPORT@/$MPORT/g; s#@T@#$T#g" "$tmpl" > "$T/mirror.conf"
        "$MIRROR" -c "$T/mirror.conf" "${MIRROR_ARGS[@]+"${MIRROR_ARGS[@]}"}" > "$T/mirror.log" 2>&1 &
        MPID=$!
        PIDS+=("$MPID")
        for _ in $(seq 100); do
            if grep -q "event=listening" "$T/mirror.log"; then
                return 0
            fi
            kill -0 "$MPID" 2>/dev/null || break
            sleep 0.05
        done
        if grep -q "event=listen_failed\|event=metrics_listen_failed" "$T/mirror.log"; then
            continue # port clash: try another
        fi
        fail "blsync-mirror did not start"
    done
    fail "no free port found"
}

dq() { dig @127.0.0.1 -p "$PORT" +time=2 +tries=1 "$@"; }
status_of() { dq "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
expect_status() {
    local want=$1
    shift
    local got
    got=$(status_of "$@")
    [ "$got" = "$want" ] || fail "dig $*: status '$got', want '$want'"
}
# revname ADDR: the reversed name of an address (octets or 32 nibbles), without a suffix
revname() {
    echo "x $1" | revlines | cut -d' ' -f2
}

keygen() {
    "$CTL" keygen --out "$T/keys" > /dev/null || fail "blsyncctl keygen"
}
# revlines: reads "KIND ADDR REST" lines, prints "KIND REVNAME REST" (one python start)
revlines() {
    $PY -c '
import ipaddress, sys
for line in sys.stdin:
    f = line.split()
    if len(f) < 2:
        continue
    r = ipaddress.ip_address(f[1]).reverse_pointer
    r = r[: -len(".in-addr.arpa")] if r.endswith(".in-addr.arpa") else r[: -len(".ip6.arpa")]
    print(" ".join([f[0], r, f[1]] + f[2:]))'
}
