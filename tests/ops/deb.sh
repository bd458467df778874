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
[ "$(id -u)" = 0 ] || { echo "needs root (overlay mounts, chroot)"; exit 77; }
for c in cpack dpkg-deb chroot setpriv ip dig; do
    command -v "$c" >/dev/null || { echo "needs $c"; exit 77; }
done

(cd "$B" && cpack -G DEB -B "$T/pkg") >"$T/cpack.log" 2>&1 || fail "cpack"
deb=$(ls "$T"/pkg/blsync_*.deb)
dpkg-deb -f "$deb" Package Version Depends

NS=bl-deb-$$
MOUNTS=()
undo() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[i]}" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
}
on_exit undo
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 192.0.2.10/32 dev lo
NETNS[master]=$NS
NETNS[mirror]=$NS

# A host: this system's root under an overlay (writes stay in $T), its own
# /proc, this /dev, and no trace of an earlier blsync (user, files, package).
declare -A ROOT
make_host() {
    local h=$1 r="$T/$1/root"
    mkdir -p "$T/$h/upper" "$T/$h/work" "$r"
    mount -t overlay overlay -o "lowerdir=/,upperdir=$T/$h/upper,workdir=$T/$h/work" "$r"
    MOUNTS+=("$r")
    mount -t proc proc "$r/proc" && MOUNTS+=("$r/proc")
    mount --bind /dev "$r/dev" && MOUNTS+=("$r/dev")
    mount -t tmpfs tmpfs "$r/run" && MOUNTS+=("$r/run")
    mount -t tmpfs tmpfs "$r/tmp" && MOUNTS+=("$r/tmp")
    sed -i '/^blsync:/d' "$r"/etc/{passwd,group,shadow,gshadow}
    rm -rf "$r"/etc/blsync "$r"/var/lib/blsync "$r"/var/lib/blsync-mirror
    ! grep -q 'ok installed' <<<"$(chroot "$r" dpkg-query -W -f '${Status}' blsync 2>/dev/null)" ||
        chroot "$r" dpkg --purge blsync >/dev/null
    cp "$deb" "$r/root/"
    ROOT[$h]=$r
}
make_host master
make_host mirror

# Runs a shell block in HOST as root, in /root, with a clean environment.
in_host() {
    local h=$1
    shift
    ip netns exec "$NS" chroot "${ROOT[$h]}" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
        PATH=/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -c "cd /root && $1"
}

# What `systemctl enable --now UNIT` starts, as systemd would: the unit's
# ExecStart as its User and Group in its WorkingDirectory, its StateDirectory
# and RuntimeDirectory made for that user, its ambient capabilities; where
# the package has UNIT.socket, under tests/mirror/sockholder.py, which binds
# the socket unit's addresses as root and passes them (LISTEN_FDS).
start_unit() {
    local h=$1 unit=$2 r=${ROOT[$1]} f key val
    f="$r/usr/lib/systemd/system/$unit.service"
    declare -A u=()
    while IFS='=' read -r key val; do
        [ -n "${u[$key]:-}" ] || u[$key]=$val
    done < <(grep -E '^(ExecStart|User|Group|StateDirectory|StateDirectoryMode|RuntimeDirectory|WorkingDirectory|AmbientCapabilities)=' "$f")
    in_host "$h" "install -d -o ${u[User]} -g ${u[Group]} -m ${u[StateDirectoryMode]} /var/lib/${u[StateDirectory]} &&
                  install -d -o ${u[User]} -g ${u[Group]} -m 0755 /run/${u[RuntimeDirectory]}"
    local caps=()
    if [ -n "${u[AmbientCapabilities]:-}" ]; then
        val=$(tr 'A-Z' 'a-z' <<<"${u[AmbientCapabilities]#CAP_}")
        caps=(--inh-caps "+$val" --ambient-caps "+$val")
    fi
    local holder=
    if [ -f "$r/usr/lib/systemd/system/$unit.socket" ]; then
        cp "$S/tests/mirror/sockholder.py" "$r/root/"
        holder="/usr/bin/python3 /root/sockholder.py"
        for val in $(sed -n 's/^ListenDatagram=//p' "$r/usr/lib/systemd/system/$unit.socket"); do
            grep -qx "ListenStream=$val" "$r/usr/lib/systemd/system/$unit.socket" ||
                fail "$unit.socket: ListenDatagram=$val without its ListenStream="
            holder+=" --listen $val"
        done
        holder+=" --"
    fi
    spawn "$h" chroot "$r" /bin/sh -c "cd ${u[WorkingDirectory]} && exec $holder $(command -v setpriv) \
        --reuid=${u[User]} --regid=${u[Group]} --init-groups ${caps[*]} ${u[ExecStart]}"
}

listening() { ip netns exec "$NS" ss -Hltn "sport = :$1" | grep -q .; }

# The blocks of docs/OPERATIONS.md marked for this test, in order: HOST<TAB>file.
awk -v dir="$T" '
    /^<!-- ops_deb: [a-z]+ -->$/ { host = $3; next }
    host && /^```sh$/ { n++; file = sprintf("%s/block%02d-%s.sh", dir, n, host); inb = 1; next }
    inb && /^```$/ { print host "\t" file; inb = 0; host = ""; next }
    inb { print > file }
' "$S/docs/OPERATIONS.md" >"$T/blocks"
[ "$(wc -l <"$T/blocks")" -ge 5 ] || fail "docs/OPERATIONS.md: expected the set-up blocks marked ops_deb"

copied=
while IFS=$'\t' read -r host block; do
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
        wait_until 30 grep -q "$want" < <(in_host "$host" "$(cat "$block")" 2>&1) ||
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
