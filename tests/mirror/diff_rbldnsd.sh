#!/bin/bash
# SPDX-License-Identifier: MIT
# Differential test: blsync-mirror and rbldnsd serve the same ip4set + ip6tset data;
# >100,000 generated queries (listed, unlisted, CIDR edges, exclusions, IPv6, TXT) must match.
. "$(dirname "$0")/lib.sh"
command -v rbldnsd > /dev/null || fail "rbldnsd is not installed (tests/deps.txt)"

$PY "$BL_SRC/tests/mirror/diff_rbldnsd.py" gen "$T" 7
chmod 644 "$T"/set.*
cat > "$T/tmpl.conf" <<'CONF'
[server]
listen = 127.0.0.1:@PORT@
threads = 2
[zone bl.example.org]
rbldnsd = ip4set:@T@/set.ip4set
rbldnsd = ip6tset:@T@/set.ip6tset
CONF
start_mirror "$T/tmpl.conf"

# rbldnsd on its own port (UDP only), files relative to its working directory
for try in 1 2 3 4 5; do
    RPORT=$(pick_port)
    [ "$RPORT" = "$PORT" ] && continue
    rbldnsd -n -u nobody -w "$T" -b 127.0.0.1/"$RPORT" \
        bl.example.org:ip4set:set.ip4set bl.example.org:ip6tset:set.ip6tset > "$T/rbldnsd.log" 2>&1 &
    RPID=$!
    PIDS+=("$RPID")
    up=0
    for _ in $(seq 100); do
        kill -0 "$RPID" 2>/dev/null || break
        if [ "$(dig @127.0.0.1 -p "$RPORT" +short +time=1 +tries=1 2.0.0.127.bl.example.org A 2>/dev/null)" != "" ] ||
            dig @127.0.0.1 -p "$RPORT" +time=1 +tries=1 2.0.0.127.bl.example.org A 2>/dev/null | grep -q status; then
            up=1
            break
        fi
        sleep 0.1
    done
    [ $up = 1 ] && break
done
[ "${up:-0}" = 1 ] || { cat "$T/rbldnsd.log" >&2; fail "rbldnsd did not start"; }

timeout 240 $PY "$BL_SRC/tests/mirror/diff_rbldnsd.py" run "$T" "$PORT" "$RPORT" bl.example.org ||
    fail "answers differ from rbldnsd"
echo PASS
