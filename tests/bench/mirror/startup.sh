#!/bin/bash
# SPDX-License-Identifier: MIT
# Benchmark: how soon a mirror with a large persisted state answers after its start, against
# rbldnsd loading the same addresses from its file, in the same run.
#   tests/bench/mirror/startup.sh [BUILD_DIR]     N=10000000 REPS=5 by default
# The mirror's state_dir holds the snapshot as a following mirror persists it. Its first start
# replays (verifies, decodes, indexes) the snapshot and writes the image of the index
# (state_dir/FEED/index.img); every later start maps that image. Times are from the process's
# start to its first positive answer for a listed address (dig, polled every 10 ms).
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
BL_BUILD=${1:-${BL_BUILD:-$SRC/build}}
. "$SRC/tests/lib.sh"
N=${N:-10000000}
REPS=${REPS:-5}
for t in "$MIRROR" "$MKFEED" "$CTL"; do [ -x "$t" ] || fail "missing $t (build first)"; done
command -v rbldnsd >/dev/null || fail "missing rbldnsd"
alloc_port 'DNS_PORT[srv]'
PORT=${DNS_PORT[srv]}
log() { echo "$*" | tee -a "$T/summary"; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

echo "generating $N IPv4 /32 entries in $T ..."
keygen
"$MKFEED" --key "$T/sign.key" --dir "$T/gen" --n "$N" --queries 1000 >/dev/null
{ echo ":127.0.0.2:Listed: \$"; tail -n +2 "$T/gen/set.ip4set" | cut -d' ' -f1; } >"$T/set"
rm -f "$T/gen/set.ip4set"
chmod 755 "$T"
chmod 644 "$T/set"
LISTED=$(sed -n 2p "$T/set")
mkdir -p "$T/state/main"
cp "$T/gen/snapshot.obj" "$T/state/main/00000000000000000001.snap"
pki srv
SYNC_PORT=1 # nothing listens there: the mirror answers from its state alone
write_mirror_conf srv "server|-metrics_listen" "sync|stale_after = 1h" \
    "sync|freeze_after = 2h" "sync|state_dir = $T/state"
sed -i "s/^listen = .*/listen = 127.0.0.1:$PORT/" "$T/srv/mirror.conf"

# timed CMD...: starts the server, prints seconds to its first answer for LISTED ($T/rss: its RSS).
timed() {
    local t0 t1
    t0=$(date +%s.%N)
    spawn srv "$@"
    until [[ "$(dig +short +time=1 +tries=1 -p "$PORT" @127.0.0.1 "$(revname "$LISTED").$ZONE" A 2>/dev/null)" == 127.0.0.* ]]; do
        kill -0 "${PID[srv]}" 2>/dev/null || fail "the server died: $(tail -3 "$T/srv.log")"
        sleep 0.01
    done
    t1=$(date +%s.%N)
    awk '/VmRSS/ {print $2}' /proc/"${PID[srv]}"/status >"$T/rss"
    stop srv
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}'
}
log "== $N entries; $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
first=$(timed "$MIRROR" -c "$T/srv/mirror.conf")
grep -q "event=state_image_written" "$T/srv.log" || fail "the first start wrote no image"
log "mirror, first start (snapshot replayed, image written): ${first} s, RSS $(cat "$T/rss") kB; $(grep -o 'event=state_image_written.*' "$T/srv.log" | tail -1)"
m= r=
for i in $(seq "$REPS"); do
    m+=" $(timed "$MIRROR" -c "$T/srv/mirror.conf")"
    mrss=$(cat "$T/rss")
    grep -q "event=state_image_loaded" <(since srv) || fail "a restart did not load the image"
    r+=" $(timed rbldnsd -n -u nobody -w "$T" -b "127.0.0.1/$PORT" "$ZONE:ip4set:$T/set")"
    rrss=$(cat "$T/rss")
done
mm=$(echo "$m" | median)
rm_=$(echo "$r" | median)
log "mirror, restart from its image: median ${mm} s of$m; RSS $mrss kB; $(grep -o 'event=state_image_loaded.*' "$T/srv.log" | tail -1)"
log "rbldnsd, same addresses from its file: median ${rm_} s of$r; RSS $rrss kB"
log "ratio mirror / rbldnsd: $(awk -v a="$mm" -v b="$rm_" 'BEGIN {printf "%.2f", a / b}') (goal: mirror within 0.5 s)"
