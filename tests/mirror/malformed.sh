#!/bin/bash
# SPDX-License-Identifier: MIT
# Malformed packets (short, bad labels, compression pointers, QDCOUNT, huge TCP lengths,
# slow TCP clients, connection floods) never crash or hang blsync-mirror; a
# half-closed TCP connection still gets all its answers.
. "$(dirname "$0")/../lib.sh"
echo "10.0.0.0/8" >"$T/data"
write_mirror_conf m1 --files "server|threads = 2" "server|tcp_idle_timeout_ms = 1000" \
    "server|tcp_max_connections = 20" "server|tcp_max_connections_per_client = 30" \
    "zone bl.example.org|rbldnsd = ip4set:$T/data"
start_mirror m1
timeout 120 $PY "$S/tests/mirror/malformed.py" "${DNS_PORT[m1]}" bl.example.org 1000 20 30 || fail "malformed traffic"
running m1 || fail "daemon died"
stop_clean m1
echo PASS
