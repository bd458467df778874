#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ctest ops_container: the container mode of docs/OPERATIONS.md. Each daemon
# runs in its own private mount namespace, chrooted into a root that is the
# host's / mounted read-only, with /proc, /dev, a read-only /tmp, its
# configuration and keys read-only under /srv/blsync, and only its state
# directory writable (/var/lib/blsync for the master, /var/lib/blsync-mirror
# for the mirror: bind mounts of directories under $T). Both run in the
# foreground from the build tree (read-only), logging to stderr. The mirror
# follows the master over mutual TLS and answers a listing and a delisting;
# nothing writes outside the state directories (the kernel refuses it with
# EROFS, and an error in a log fails the test); SIGTERM stops both with 0.
. "$(dirname "$0")/../lib.sh"

skip() {
    echo "SKIP: $*"
    exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root (mount namespaces, bind mounts, chroot)"
command -v unshare >/dev/null && command -v chroot >/dev/null || skip "needs unshare and chroot"
mkdir -p "$T/mnt"
unshare -m --propagation private mount -t tmpfs -o size=64k tmpfs "$T/mnt" 2>/dev/null ||
    skip "mounts are not allowed here (unshare -m; mount -t tmpfs failed)"
chroot / true 2>/dev/null || skip "chroot is not allowed here"

# $T/enter ROOT WHO RW-BIND... -- CMD...: in the private mount namespace that
# unshare made, builds the read-only root ROOT and execs CMD chrooted in it,
# with standard output in $T/WHO.stdout (standard error stays the log).
# RW-BIND is HOST-DIR:DIR-IN-ROOT (under /var/lib); a failed mount fails it.
cat >"$T/enter" <<'EOF'
#!/bin/bash
set -eu
R=$1 who=$2
shift 2
binds=()
while [ "$1" != -- ]; do
    binds+=("$1")
    shift
done
shift
ro_bind() { mount --bind "$1" "$2" && mount -o remount,bind,ro "$2"; }
ro_bind / "$R"
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
# An empty /tmp (read-only below), mounted first: the build tree may lie under /tmp.
mount -t tmpfs -o size=64k,mode=1777 tmpfs "$R/tmp"
# The build tree (read-only), at its own path: the daemons run from it.
mkdir -p "$R$BL_BUILD"
ro_bind "$BL_BUILD" "$R$BL_BUILD"
# Configuration and keys, read-only.
mount -t tmpfs -o size=64k,mode=755 tmpfs "$R/srv"
mkdir "$R/srv/blsync"
ro_bind "$BL_CONF" "$R/srv/blsync"
# The state directories: the only writable places.
mount -t tmpfs -o size=64k,mode=755 tmpfs "$R/var/lib"
for b in "${binds[@]}"; do
    mkdir -p "$R${b#*:}"
    mount --bind "${b%%:*}" "$R${b#*:}"
done
mount -o remount,ro "$R/var/lib"
mount -o remount,ro "$R/srv"
mount -o remount,ro "$R/tmp"
exec >>"$BL_OUT/$who.stdout"
cd "$R"
exec chroot "$R" "$@"
EOF
chmod +x "$T/enter"
export BL_BUILD=$B BL_CONF=$T/conf BL_OUT=$T

# in_root WHO RW-BIND... -- CMD...: CMD in such a root, in the foreground.
in_root() {
    local who=$1
    shift
    mkdir -p "$T/root-$who"
    unshare -m --propagation private "$T/enter" "$T/root-$who" "$who" "$@"
}
# start_root WHO RW-BIND... -- CMD...: spawns it as WHO (PID[WHO] is the
# daemon itself: unshare, the script and chroot exec).
start_root() {
    local who=$1
    shift
    mkdir -p "$T/root-$who"
    spawn "$who" unshare -m --propagation private "$T/enter" "$T/root-$who" "$who" "$@"
}

# ---- configuration: written on the host under $T/conf, read in the root ------
pki m1
write_master_conf 'master|db = /var/lib/blsync/master.db' 'publisher|spool = /var/lib/blsync/spool'
write_mirror_conf m1 'sync|state_dir = /var/lib/blsync-mirror'
mkdir -p "$T/conf" "$T/state/master" "$T/state/m1"
cp -r "$T/pki" "$T/sign.key" "$T/sign.pub" "$T/token" "$T/revoked" "$T/conf/"
sed "s|$T/|/srv/blsync/|g" "$T/master.conf" >"$T/conf/master.conf"
sed "s|$T/|/srv/blsync/|g" "$T/m1/mirror.conf" >"$T/conf/mirror.conf"
if grep -q "$T" "$T/conf/master.conf" "$T/conf/mirror.conf"; then
    fail "a configured path still names the host's work dir"
fi
MB="$T/state/master:/var/lib/blsync"
RB="$T/state/m1:/var/lib/blsync-mirror"

# ---- the root is what it claims: read-only but for the state directory ------
probe='for p in / /tmp /srv/blsync /var/lib '"$B"'; do
    if touch "$p/.w" 2>/dev/null; then echo "writable $p"; else echo "refused $p"; fi
done
touch /var/lib/blsync/.w && rm /var/lib/blsync/.w && echo "writable state"'
in_root probe "$MB" -- /bin/sh -c "$probe" 2>"$T/probe.log" || fail "the probe in the root failed"
got=$(cat "$T/probe.stdout")
[ "$got" = "$(printf 'refused %s\n' / /tmp /srv/blsync /var/lib "$B")
writable state" ] || fail "the root is not read-only but for the state directory: $got"
ok "the root refuses writes everywhere but in the state directory"

# ---- a daemon told to write outside its state directory is refused, loudly ---
# (what the checks of the logs below rely on)
sed 's|^spool = .*|spool = /srv/blsync/spool|' "$T/conf/master.conf" >"$T/conf/bad-master.conf"
sed 's|^state_dir = .*|state_dir = /tmp/mirror|' "$T/conf/mirror.conf" >"$T/conf/bad-mirror.conf"
mkdir -p "$T/root-bad"
# refused WHO RW-BIND PROGRAM CONF ERE...: PROGRAM -c CONF in a root exits 1
# and its standard error ($T/bad-WHO.log) matches every ERE.
refused() {
    local who=$1 bind=$2 prog=$3 conf=$4 rc=0 ere
    shift 4
    timeout "$(scaled 20)" unshare -m --propagation private "$T/enter" "$T/root-bad" "bad-$who" "$bind" -- \
        "$prog" -c "$conf" 2>"$T/bad-$who.log" || rc=$?
    [ "$rc" = 1 ] || fail "$who configured to write on the read-only root exited $rc, want 1"
    for ere in "$@"; do
        grep -Eq -- "$ere" "$T/bad-$who.log" || fail "$who did not log /$ere/: $(cat "$T/bad-$who.log")"
    done
}
refused master "$MB" "$MASTER" /srv/blsync/bad-master.conf \
    'event=spool_mkdir .*Read-only file system' 'blsync-master: /srv/blsync/spool: read-only'
refused mirror "$RB" "$MIRROR" /srv/blsync/bad-mirror.conf 'state_dir /tmp/mirror: .*Read-only file system'
rm -f "$T/state/master/master.db"*
ok "a spool or state directory outside the writable ones: the daemon exits 1 naming EROFS"

# ---- both daemons in the foreground, in their roots --------------------------
t0=$(now_ms)
start_root master "$MB" -- "$MASTER" -c /srv/blsync/master.conf
wait_up master 20 master_healthy
wait_up master 10 logged master "event=sync_listen"
start_root m1 "$RB" -- "$MIRROR" -c /srv/blsync/mirror.conf
wait_up m1 20 logged m1 event=listening
MET_PORT[m1]=$(since m1 | sed -n 's/.*event=metrics addr=[^ ]* port=\([0-9]*\).*/\1/p' | tail -n 1)
wait_until 20 synced m1 || fail "the mirror did not reach the master's serial"
ok "master and mirror run in read-only roots; the mirror follows over mutual TLS"

IP=192.0.2.77
list $IP
wait_until 20 is_answer m1 $IP 127.0.0.2 || fail "the mirror does not answer the listing of $IP: $(answer m1 $IP)"
ok "listing $IP: the mirror answers 127.0.0.2"
delist $IP
wait_until 20 is_answer m1 $IP nx || fail "the mirror still answers $IP after the delisting: $(answer m1 $IP)"
ok "delisting $IP: the mirror answers NXDOMAIN"

stop_clean m1
stop_clean master
ok "SIGTERM stops both with status 0 ($(($(now_ms) - t0)) ms from start to stop)"

# ---- what they wrote, and where they logged ----------------------------------
for w in master m1; do
    grep -q ' event=' "$T/$w.log" || problem "$w logged nothing on standard error"
    [ ! -s "$T/$w.stdout" ] || problem "$w wrote on standard output: $(head -n 3 "$T/$w.stdout")"
    if grep -Eq 'level=err|Read-only file system|EROFS' "$T/$w.log"; then
        problem "$w logged an error: $(grep -Em 3 'level=err|Read-only file system|EROFS' "$T/$w.log")"
    fi
done
[ -f "$T/state/master/master.db" ] || problem "no store in the master's state directory"
[ -f "$T/state/master/spool/main/head" ] || [ -n "$(ls -A "$T/state/master/spool" 2>/dev/null)" ] ||
    problem "no spool in the master's state directory"
[ -n "$(ls -A "$T/state/m1" 2>/dev/null)" ] || problem "the mirror kept no state in its state directory"
ok "logs on standard error, no errors, state only in the state directories"
finish
