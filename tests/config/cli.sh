#!/bin/bash
# SPDX-License-Identifier: MIT
# Issue 15 through the real binaries: the same value forms in both daemons (--check-config),
# refusals that name FILE:LINE, the option, the value and what is expected, --set through the
# same table, and --print-config output that loads back to the same configuration.
set -euo pipefail
: "${BL_BUILD:?BL_BUILD must name the build directory}"
: "${BL_SRC:?BL_SRC must name the source directory}"

# ---- setup (kept here so that it can move to tests/lib.sh) ----
MASTER=$BL_BUILD/master/blsync-master
MIRROR=$BL_BUILD/mirror/blsync-mirror
CTL=$BL_BUILD/master/blsyncctl
T=$(mktemp -d /tmp/blconf-test.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
ok() { echo "ok: $*"; }
# alive PID: the process runs (a zombie does not).
alive() {
    local st
    { read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
    st=${st##*) }
    [ "${st:0:1}" != Z ]
}
# logs LOG PATTERN PID: waits until LOG has PATTERN while PID runs; 60 s at most (a sanitizer
# build on a loaded machine starts slowly; a started daemon logs it in a moment).
logs() {
    local i
    for ((i = 0; i < 1200; i++)); do
        grep -q "$2" "$1" && return 0
        alive "$3" || return 1
        sleep 0.05
    done
    return 1
}
# master_conf INI-TEXT: $T/m.conf, a master with a real signing key, plus INI-TEXT.
master_conf() {
    [ -f "$T/m.key" ] || "$CTL" keygen --out "$T" --name m >/dev/null
    printf '[master]\ndb = %s/m.db\n[publisher]\nkey = %s/m.key\nspool = %s/spool\n%s\n' \
        "$T" "$T" "$T" "$1" >"$T/m.conf"
}
# mirror_conf INI-TEXT: $T/y.conf, a mirror serving an rbldnsd file on PORT, plus INI-TEXT
# (whose [zone bl.example.org] lines go to that zone).
mirror_conf() {
    echo "10.0.0.0/8" >"$T/data"
    printf '[server]\nlisten = 127.0.0.1:%s\n[zone bl.example.org]\nrbldnsd = ip4set:%s/data\n%s\n' \
        "${PORT:-53}" "$T" "$1" >"$T/y.conf"
}
# refused BINARY CONF MESSAGE [ARGS...]: --check-config fails and prints exactly MESSAGE.
refused() {
    local bin=$1 conf=$2 want=$3 out
    shift 3
    if out=$("$bin" -c "$conf" --check-config "$@" 2>&1); then
        fail "${bin##*/} accepted $(cat "$conf")"
    fi
    [ "$out" = "$want" ] || fail "${bin##*/}: got '$out', want '$want'"
}
# ---- end of setup ----

# Values blsync.conf(5) documents, refused by the master before the schema.
master_conf "[policy]
report_retention = 1w
[http]
max_body = 4MiB
[master]
verify_digest_on_start = Yes"
"$MASTER" -c "$T/m.conf" --check-config >"$T/out" 2>&1 || fail "master refused: $(cat "$T/out")"
grep -qx "$T/m.conf: ok" "$T/out" || fail "master --check-config: $(cat "$T/out")"
"$MASTER" -c "$T/m.conf" --print-config >"$T/p.conf" || fail "master --print-config"
grep -qx "report_retention = 1w" "$T/p.conf" || fail "report_retention not 1w: $(grep retention "$T/p.conf")"
grep -qx "#max_body = 4M" "$T/p.conf" || fail "4MiB is not the default 4M: $(grep max_body "$T/p.conf")"
grep -qx "#verify_digest_on_start = yes" "$T/p.conf" || fail "Yes is not yes: $(grep verify "$T/p.conf")"
master_conf "[http]
max_body = 64KiB
[master]
verify_digest_on_start = OFF"
"$MASTER" -c "$T/m.conf" --print-config >"$T/p.conf" || fail "master --print-config"
grep -qx "max_body = 64K" "$T/p.conf" || fail "max_body: $(grep max_body "$T/p.conf")"
grep -qx "verify_digest_on_start = no" "$T/p.conf" || fail "OFF: $(grep verify "$T/p.conf")"
ok "master: report_retention = 1w, max_body = 4MiB / 64KiB, verify_digest_on_start = Yes / OFF"

# Master refusals name FILE:LINE, the option, the value and what is expected.
master_conf "[kind.policy]
a = 2s"
refused "$MASTER" "$T/m.conf" "blsync-master: $T/m.conf:7: a = 2s: trailing characters after the number; expected a whole number from 2 to 255"
master_conf "[http]
lisen = 127.0.0.1:8053"
refused "$MASTER" "$T/m.conf" "blsync-master: $T/m.conf:7: unknown key 'lisen' in [http]"
master_conf "http = no
[public]
serve_spool = yes"
refused "$MASTER" "$T/m.conf" "blsync-master: $T/m.conf: [public] serve_spool needs [publisher] http = yes"
master_conf "[policy]
report_retention = 1 week"
refused "$MASTER" "$T/m.conf" "blsync-master: $T/m.conf:7: report_retention = 1 week: unknown unit; expected a duration such as 90s, 15m, 1h30m"
out=$("$MASTER" -c "$T/m.conf" --print-config 2>&1) && fail "--print-config of a bad file succeeded"
[ "$out" = "blsync-master: $T/m.conf:7: report_retention = 1 week: unknown unit; expected a duration such as 90s, 15m, 1h30m" ] ||
    fail "--print-config of a bad file: $out"
ok "master: a = 2s, an unknown key and a bad duration refused with FILE:LINE"

# The mirror: ttl = 1h30m like its [sync] durations; a = 2s refused; --set uses the same table.
mirror_conf "ttl = 1h30m"
"$MIRROR" -c "$T/y.conf" --check-config >"$T/out" 2>&1 || fail "mirror refused ttl = 1h30m: $(cat "$T/out")"
"$MIRROR" -c "$T/y.conf" --print-config | grep -qx "ttl = 1h30m" || fail "ttl not printed as 1h30m"
mirror_conf "ttl = 5400
[sync]
freeze_after = 1h30m"
"$MIRROR" -c "$T/y.conf" --print-config >"$T/out" 2>&1 && fail "[sync] without master accepted"
grep -q "\[sync\] needs master" "$T/out" || fail "[sync] freeze_after = 1h30m: $(cat "$T/out")"
mirror_conf "a = 2s"
refused "$MIRROR" "$T/y.conf" "blsync-mirror: $T/y.conf:5: a = 2s: trailing characters after the number; expected 127.0.0.N or N, with N from 1 to 255"
mirror_conf "tttl = 300"
refused "$MIRROR" "$T/y.conf" "blsync-mirror: $T/y.conf:5: unknown key 'tttl' in [zone bl.example.org]"
mirror_conf ""
refused "$MIRROR" "$T/y.conf" "blsync-mirror: --set zone:a=2s: a = 2s: trailing characters after the number; expected 127.0.0.N or N, with N from 1 to 255" --set zone:a=2s
"$MIRROR" -c "$T/y.conf" --set "zone bl.example.org:ttl=1h30m" --print-config | grep -qx "ttl = 1h30m" ||
    fail "--set ttl=1h30m not applied"
ok "mirror: ttl = 1h30m accepted, a = 2s and an unknown key refused with FILE:LINE, --set alike"

# --print-config loads back to the same configuration, and that file passes --check-config.
master_conf "[master]
feed = other
sync = full
log_level = debug
[http]
listen = [::1]:18053
threads = 4
[publisher]
delay = 250ms
max_delay = 1h30m
history_bytes = 100MB
[policy]
threshold = 2.5
weight_user = 0.25
[kind.manual]
duration = 1w1d
reason = 12
[metrics]
listen = 127.0.0.1:19153
window = 2h"
"$MASTER" -c "$T/m.conf" --print-config >"$T/p1.conf" || fail "master --print-config"
"$MASTER" -c "$T/p1.conf" --print-config >"$T/p2.conf" || fail "master: printed file refused"
diff -u "$T/p1.conf" "$T/p2.conf" || fail "master: --print-config does not round trip"
"$MASTER" -c "$T/p1.conf" --check-config >/dev/null 2>&1 || fail "master: printed file fails --check-config"
for l in "feed = other" "sync = full" "listen = [::1]:18053" "max_delay = 1h30m" \
    "history_bytes = 100000000" "threshold = 2.5" "weight_user = 0.25" "duration = 1w1d" \
    "reason = 12" "window = 2h" "#window = 24h" "#reason = 1"; do
    grep -qxF "$l" "$T/p1.conf" || fail "master --print-config lacks '$l'"
done
ok "master: --print-config round trip ($(grep -c '^[a-z]' "$T/p1.conf") settings, $(grep -c '^#[a-z]' "$T/p1.conf") defaults)"

"$CTL" keygen --out "$T/keys" >/dev/null
cat >"$T/y.conf" <<CONF
[server]
listen = 127.0.0.1:5300 [::1]:5300
threads = 1
tcp_idle_timeout_ms = 2500
udp_gso = no
metrics_listen = 127.0.0.1
log_level = warn
[zone Bl.Example.ORG.]
rbldnsd = ip4set:$T/data
ttl = 1h30m
neg_ttl = 1m
ns = ns1.example.org ns2.example.org
a = 127.0.0.4
txt = Listed; see https://example.org/?ip=\$
reason.3 = Spam from \$
[zone feed.example.org]
spool_dir = $T/spool
trusted_key = $T/keys/master.pub
feed = second
CONF
"$MIRROR" -c "$T/y.conf" --print-config >"$T/p1.conf" || fail "mirror --print-config"
"$MIRROR" -c "$T/p1.conf" --print-config >"$T/p2.conf" || fail "mirror: printed file refused"
diff -u "$T/p1.conf" "$T/p2.conf" || fail "mirror: --print-config does not round trip"
"$MIRROR" -c "$T/p1.conf" --check-config >/dev/null || fail "mirror: printed file fails --check-config"
for l in "[zone bl.example.org]" "listen = [::1]:5300" "tcp_idle_timeout = 2s500ms" "udp_gso = no" \
    "metrics_listen = 127.0.0.1" "ttl = 1h30m" "neg_ttl = 1m" "ns = ns2.example.org" "a = 127.0.0.4" \
    "txt = Listed; see https://example.org/?ip=\$" "reason.3 = Spam from \$" "#[sync]" "feed = second" \
    "#soa_ttl = 3600"; do
    grep -qxF "$l" "$T/p1.conf" || fail "mirror --print-config lacks '$l'"
done
ok "mirror: --print-config round trip (2 zones, lists, templates, aliases)"

# What a DNS client sees: the TTL written as 1h30m is 5400 seconds.
for try in 1 2 3 4 5; do
    PORT=$((20000 + ($$ * 13 + RANDOM) % 9000))
    mirror_conf "ttl = 1h30m"
    "$MIRROR" -c "$T/y.conf" >"$T/mirror.log" 2>&1 &
    PIDS+=($!)
    # A random port another process holds ends the mirror: try another.
    logs "$T/mirror.log" "event=listening" "${PIDS[-1]}" && break
    alive "${PIDS[-1]}" && break
done
grep -q "event=listening" "$T/mirror.log" || fail "mirror did not start: $(tail -3 "$T/mirror.log")"
ttl=$(dig @127.0.0.1 -p "$PORT" +time=2 +tries=2 +noall +answer 1.0.0.10.bl.example.org A | awk '{print $2}')
[ "$ttl" = 5400 ] || fail "TTL of a listed address: '$ttl', want 5400"
ok "mirror: ttl = 1h30m answers with TTL 5400"

# SIGHUP on the master: the options the table marks hot apply, a change to any other is named.
for try in 1 2 3 4 5; do
    HTTP=$((20000 + ($$ * 17 + RANDOM) % 9000))
    master_conf "[http]
listen = 127.0.0.1:$HTTP
[policy]
threshold = 2
[metrics]
window = 4h"
    "$MASTER" -c "$T/m.conf" >"$T/master.log" 2>&1 &
    MPID=$!
    PIDS+=($MPID)
    logs "$T/master.log" "event=started" $MPID && break
    alive $MPID && break
done
grep -q "event=started" "$T/master.log" || fail "master did not start: $(tail -3 "$T/master.log")"
sed -i 's/^threshold = 2$/threshold = 3/; s/^window = 4h$/window = 1h/' "$T/m.conf"
kill -HUP $MPID
logs "$T/master.log" "event=reloaded what=config" $MPID || true
grep -q "event=reloaded what=config window=1h " "$T/master.log" || fail "window not reloaded: $(tail -3 "$T/master.log")"
grep -q 'event=reload_partial restart_needed="\[policy\] threshold"$' "$T/master.log" ||
    fail "the threshold change was not named: $(grep reload "$T/master.log")"
ok "master SIGHUP: window applied, threshold named as needing a restart"
echo PASS
