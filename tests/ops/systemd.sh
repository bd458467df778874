#!/bin/bash
# SPDX-License-Identifier: MIT
# systemd-analyze verify on the units, with ExecStart pointed at this build's binaries.
. "$(dirname "$0")/../lib.sh"
command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing (package systemd)"; exit 77; }
declare -A bin=([blsync-master]="$MASTER" [blsync-mirror]="$MIRROR")
for unit in blsync-master blsync-mirror; do
    src="$S/deploy/systemd/$unit.service"
    [ -x "${bin[$unit]}" ] || fail "${bin[$unit]} not built"
    grep -qx "ExecStart=/usr/sbin/$unit -c /etc/blsync/${unit#blsync-}.conf" "$src" ||
        problem "$unit: ExecStart is not /usr/sbin/$unit -c /etc/blsync/${unit#blsync-}.conf"
    sed "s|=/usr/sbin/$unit |=${bin[$unit]} |" "$src" >"$T/$unit.service"
    # The units keep their hardening, the state and runtime directories, restart and reload.
    state=$unit
    if [ $unit = blsync-master ]; then state=blsync; fi # master's default db and spool: /var/lib/blsync
    for want in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes User=blsync \
                StateDirectory=$state RuntimeDirectory=$unit ConfigurationDirectory=blsync \
                Restart=on-failure 'ExecReload=/bin/kill -HUP $MAINPID'; do
        grep -qxF "$want" "$src" || problem "$unit: missing $want"
    done
done
grep -qx 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE' "$S/deploy/systemd/blsync-mirror.service" &&
    grep -qx 'AmbientCapabilities=CAP_NET_BIND_SERVICE' "$S/deploy/systemd/blsync-mirror.service" ||
    problem "blsync-mirror: port 53 needs CAP_NET_BIND_SERVICE bounded and ambient"
grep -qx 'CapabilityBoundingSet=' "$S/deploy/systemd/blsync-master.service" ||
    problem "blsync-master: should hold no capability"

# The socket unit holds the sample configuration's listen addresses, UDP and
# TCP (the mirror refuses a passed socket bound elsewhere), and the service
# takes its sockets from it.
cp "$S/deploy/systemd/blsync-mirror.socket" "$T/"
listen=$(sed -n 's/^listen = //p' "$S/deploy/blsync-mirror.conf" | sort)
for kind in Datagram Stream; do
    [ "$(sed -n "s/^Listen$kind=//p" "$T/blsync-mirror.socket" | sort)" = "$listen" ] ||
        problem "blsync-mirror.socket: Listen$kind= is not the sample's listen ($listen)"
done
for want in Requires=blsync-mirror.socket Sockets=blsync-mirror.socket Also=blsync-mirror.socket; do
    grep -qxF "$want" "$S/deploy/systemd/blsync-mirror.service" || problem "blsync-mirror: missing $want"
done

# Documentation=man:... is checked against this tree's man pages.
mkdir -p "$T/man/man1" "$T/man/man5" "$T/man/man8"
for p in "$S"/deploy/man/*.[158]; do cp "$p" "$T/man/man${p##*.}/"; done
export MANPATH="$T/man"
if ! (cd "$T" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=yes \
        ./blsync-master.service ./blsync-mirror.service ./blsync-mirror.socket) >"$T/verify.out" 2>&1; then
    problem "systemd-analyze verify failed"
fi
if [ -s "$T/verify.out" ]; then
    cat "$T/verify.out"
    problem "systemd-analyze verify printed the above"
fi
finish
