#!/bin/bash
# SPDX-License-Identifier: MIT
# The .deb as a new operator uses it: CPack builds it; it is installed on two
# hosts made here (a master and a mirror: overlays of this system's root in
# which blsync was never installed, chroots sharing one network namespace with
# the master's address 192.0.2.10 on its loopback); the set-up blocks of
# docs/OPERATIONS.md (marked "<!-- ops_deb: HOST -->") run in them as written,
# and the mirror answers the master's listing. Then the installed files, the
# modes of the keys, man pages, units and the purge are checked.
# Needs root (mounts, chroot, namespaces); the system itself is not changed.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/debhost.sh"
make_host master
make_host mirror

# The blocks of docs/OPERATIONS.md marked for this test, in order: HOST<TAB>file.
doc_blocks "$S/docs/OPERATIONS.md" ops_deb >"$T/blocks"
[ "$(wc -l <"$T/blocks")" -ge 5 ] || fail "docs/OPERATIONS.md: expected the set-up blocks marked ops_deb"

# block_answers HOST BLOCK WANT: the block's output, run afresh, has WANT.
block_answers() { grep -q "$3" < <(in_host "$1" "$(cat "$2")" </dev/null 2>&1); }
copied=
while IFS=$'\t' read -r host block _; do
    echo "== $host: $(head -c 200 "$block" | tr '\n' ';')"
    if [ "$host" = mirror ] && [ -z "$copied" ]; then
        # "Copy master.pub, ca.pem, mirror-m1.pem and mirror-m1.key to the mirror."
        for f in master.pub tls/ca.pem tls/mirror-m1.pem tls/mirror-m1.key; do
            cp "${ROOT[master]}/etc/blsync/$f" "${ROOT[mirror]}/root/"
        done
        copied=1
    fi
    # A block whose comment says "# -> ANSWER" is asked until the answer comes
    # (the listing propagates); any other runs once and must succeed.
    want=$(sed -n 's/.*# -> //p' "$block")
    if [ -n "$want" ]; then
        wait_until 30 block_answers "$host" "$block" "$want" ||
            fail "$host: $(cat "$block") never answered $want: $(in_host "$host" "$(cat "$block")" 2>&1)"
        continue
    fi
    # No systemd runs in a chroot: `systemctl enable` runs, and the test starts
    # the unit as systemd would (start_unit) where the block says --now.
    in_host "$host" "set -ex; $(sed 's/systemctl enable --now/systemctl enable/' "$block")" \
        >"$T/$host-block.out" 2>&1 ||
        { cat "$T/$host-block.out"; fail "$host: a set-up block of docs/OPERATIONS.md failed"; }
    cat "$T/$host-block.out"
    if grep -q 'systemctl enable --now blsync-master' "$block"; then
        start_unit master blsync-master
        wait_up master 30 listening 8053
        wait_up master 30 listening 7353
    fi
    if grep -q 'systemctl enable --now blsync-mirror' "$block"; then
        start_unit mirror blsync-mirror
        wait_up mirror 30 logged mirror event=listening
    fi
done <"$T/blocks"
running master || fail "the master stopped"
running mirror || fail "the mirror stopped"
ok "docs/OPERATIONS.md's set-up: the mirror answered the master's listing"

# The installed mirror took blsync-mirror.socket's sockets, and answers
# after a restart (the holder's SIGHUP: stop, start on the same sockets).
for p in udp tcp; do
    logged mirror "event=socket_inherited fd=[34] name=dns-$p proto=$p addr=127.0.0.1:53" ||
        problem "the installed mirror did not take the socket unit's $p socket"
done
mark mirror
kill -HUP "${PID[mirror]}"
wait_up mirror 30 logged mirror event=listening
t1=$(in_host mirror "dig +short +tcp @127.0.0.1 2.0.0.127.bl.example.net A")
t2=$(in_host mirror "dig +short @127.0.0.1 2.0.0.127.bl.example.net A")
[ "$t1 $t2" = "127.0.0.2 127.0.0.2" ] || problem "after a restart on the socket unit's sockets: tcp '$t1' udp '$t2'"
logged mirror "event=socket_inherited" || problem "the restarted mirror did not take the sockets"
ok "the mirror takes blsync-mirror.socket's sockets, again after a restart"

# The files the set-up made, with the owners and modes the daemons need; the
# names as the master host has them (its blsync group is not this system's).
m=${ROOT[master]}
hstat() { chroot "$m" stat -c "$1" "$2"; }
for f in etc/blsync/master.key etc/blsync/api.token etc/blsync/tls/master.key; do
    [ "$(hstat '%U:%G %a' "/$f")" = "$(hstat '%U' /etc/passwd):blsync 640" ] ||
        problem "/$f is $(hstat '%U:%G %a' "/$f"), not root:blsync 640"
done
[ "$(hstat '%G %a' /etc/blsync/tls)" = "blsync 750" ] || problem "/etc/blsync/tls: $(hstat '%G %a' /etc/blsync/tls)"
[ "$(stat -c '%a' "$m/etc/blsync/tls/ca.key")" = 600 ] || problem "ca.key is not 0600"
# --check-config as root checks as the daemons' user: a key it cannot read is named.
in_host master "chmod 0600 /etc/blsync/master.key"
out=$(in_host master "blsync-master --check-config -c /etc/blsync/master.conf" 2>&1) &&
    problem "--check-config passed a key blsync cannot read"
grep -q "blsync cannot read it.*chgrp blsync /etc/blsync/master.key" <<<"$out" ||
    problem "--check-config said: $out"
in_host master "chmod 0640 /etc/blsync/master.key"

for b in /usr/sbin/blsync-master /usr/sbin/blsync-mirror /usr/bin/blsyncctl; do
    out=$(in_host master "$b --version") || problem "$b --version failed"
    grep -q "^$(basename "$b") [0-9]" <<<"$out" || problem "$b --version printed '$out'"
    ! grep -q 'libblsync\|not found' <<<"$(in_host master "ldd $b")" || problem "$b: libraries"
done
for f in /usr/lib/systemd/system/blsync-master.service /usr/lib/systemd/system/blsync-mirror.service \
         /usr/lib/systemd/system/blsync-mirror.socket \
         /usr/share/doc/blsync/prometheus/rules.yml /usr/share/doc/blsync/grafana/blsync.json \
         /usr/share/bash-completion/completions/blsyncctl; do
    [ -f "$m$f" ] || problem "$f missing"
done
grep -q /etc/blsync/master.conf <<<"$(in_host master "dpkg-query -W -f '\${Conffiles}' blsync")" ||
    problem "conffiles"
for p in blsync-master blsync-mirror blsyncctl blsync.conf; do
    in_host master "man -w $p" >/dev/null || problem "man $p not found"
done

stop mirror
stop master
in_host master "dpkg --purge blsync" >"$T/purge.out" 2>&1 || { cat "$T/purge.out"; fail "dpkg --purge"; }
for f in /usr/sbin/blsync-master /etc/blsync/master.conf; do
    [ ! -e "$m$f" ] || problem "$f left after purge"
done
finish
