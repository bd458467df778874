#!/bin/bash
# SPDX-License-Identifier: MIT
# Response-rate limiting under a flood from many source addresses (512 of
# them in 64 /24s, 127.50.x.y: every 127/8 address is local, as spoofed
# sources would be): the flooding prefixes get about rrl_rate full answers a
# second each, the rest dropped or slipped (truncated, TC); meanwhile a
# client in its own prefix loses nothing, a whitelisted one far over the rate
# is never limited, and dig from inside a flooded prefix still gets its
# answer (a slipped TC sends it to TCP, which is never limited). Counters in
# blsync_mirror_rrl_limited_total.
. "$(dirname "$0")/../lib.sh"
RATE=20
FLOOD_S=4
echo "10.0.0.0/8 :3:Ten \$" >"$T/data.ip4set"
write_mirror_conf m1 --files "server|threads = 2" "server|rrl_rate = $RATE" "server|rrl_slip = 2" \
    "server|rrl_whitelist = 127.0.9.0/24"
printf '[zone bl.example.org]\nrbldnsd = ip4set:%s\n' "$T/data.ip4set" >>"$T/m1/mirror.conf"
start_mirror m1
logged m1 "event=rrl rate=$RATE slip=2 ipv4_prefix=24 ipv6_prefix=56" || fail "rrl not logged at start"
PORT=${DNS_PORT[m1]}
NAME=1.2.3.10.bl.example.org
FLOOD=("$PY" "$S/tests/mirror/flood.py" "$PORT" "$NAME")

# 8,000 queries a second in all: 125 per /24, six times the rate, and a
# load the machine absorbs (the test is about the limiter, not the kernel's
# socket queues).
"${FLOOD[@]}" flood "$FLOOD_S" 64 8 8000 >"$T/flood.out" 2>&1 &
track flood $!
# A legitimate client (its own /24) at 10 queries a second, and a
# whitelisted one at 200 a second (10x the rate), during the flood.
"${FLOOD[@]}" steady 127.0.0.1 30 100 >"$T/legit.out" 2>&1 &
track legit $!
"${FLOOD[@]}" steady 127.0.9.9 500 5 >"$T/white.out" 2>&1 &
track white $!
limited() { [ "$(metric m1 'blsync_mirror_rrl_limited_total{action="dropped"}')" -gt 1000 ]; }
wait_until 20 limited || fail "the flood was not limited: $(scrape m1 | grep rrl_limited)"
# dig from inside a flooded /24: answered, over UDP when it finds a token,
# else after a slip (TC) over TCP, or on a retry after a drop.
# (After a slip dig prints ";; Truncated, retrying in TCP mode." before the answer.)
out=$(dq m1 -b 127.50.7.200 +tries=10 +time=1 +short "$NAME" A)
grep -qx 127.0.0.3 <<<"$out" || fail "a client in a flooded prefix got no answer: $out"
await flood 60
await legit 60
await white 60
read -r _ sent _ full _ tc _ pfx <"$T/flood.out" || fail "flood: $(cat "$T/flood.out")"
read -r _ lsent _ lans _ ltc _ llost <"$T/legit.out" || fail "legit: $(cat "$T/legit.out")"
read -r _ wsent _ wans _ wtc _ wlost <"$T/white.out" || fail "white: $(cat "$T/white.out")"
echo "flood: $(cat "$T/flood.out"); legit: $(cat "$T/legit.out"); whitelisted: $(cat "$T/white.out")"
# Each flooding /24 may get its first second's worth plus RATE a second.
max_full=$((64 * RATE * (FLOOD_S + 2)))
[ "$sent" -gt $((2 * max_full)) ] || fail "the flood sent only $sent queries (want > $((2 * max_full)))"
[ "$full" -le "$max_full" ] || fail "the flood got $full full answers, more than $max_full"
[ "$tc" -gt 0 ] || fail "no truncated (slipped) answer reached the flood"
[ "$lans" = 30 ] && [ "$llost" = 0 ] || fail "the legitimate client: $(cat "$T/legit.out")"
[ "$wans" = 500 ] || fail "the whitelisted client was limited: $(cat "$T/white.out")"
dropped=$(metric m1 'blsync_mirror_rrl_limited_total{action="dropped"}')
slipped=$(metric m1 'blsync_mirror_rrl_limited_total{action="slipped"}')
[ "${slipped:-0}" -gt 0 ] || fail "no slipped answer counted"
ok "flood of $sent queries from 512 sources: $full full answers (limit $max_full), $tc truncated; metrics dropped $dropped, slipped $slipped"
ok "legitimate client 30/30 answered, whitelisted 500/500 at 10x the rate, a dig from a flooded prefix answered"
finish
