#!/bin/bash
# SPDX-License-Identifier: MIT
# Malformed packets (short, bad labels, compression pointers, QDCOUNT, huge TCP lengths,
# slow TCP clients, connection floods) never crash or hang blsync-mirror.
. "$(dirname "$0")/lib.sh"
cat > "$T/data" <<'DATA'
10.0.0.0/8
DATA
cat > "$T/tmpl.conf" <<'CONF'
[server]
listen = 127.0.0.1:@PORT@
threads = 2
tcp_idle_timeout_ms = 1000
tcp_max_connections = 20
tcp_max_connections_per_client = 30
[zone bl.example.org]
rbldnsd = ip4set:@T@/data
CONF
start_mirror "$T/tmpl.conf"
timeout 120 $PY "$BL_SRC/tests/mirror/malformed.py" "$PORT" bl.example.org 1000 20 30 || fail "malformed traffic"
kill -0 "$MPID" || fail "daemon died"
kill -TERM "$MPID"
wait "$MPID" || fail "bad exit status after SIGTERM"
echo PASS
