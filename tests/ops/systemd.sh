#!/bin/bash
# SPDX-License-Identifier: MIT
# systemd-analyze verify on the units, with ExecStart pointed at this build's binaries.
set -euo pipefail
command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing (package systemd)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
declare -A bin=([blsync-master]="$BL_BUILD/master/blsync-master"
                [blsync-mirror]="$BL_BUILD/mirror/blsync-mirror")
for unit in blsync-master blsync-mirror; do
    src="$BL_SRC/deploy/systemd/$unit.service"
    [ -x "${bin[$unit]}" ] || { echo "${bin[$unit]} not built"; exit 1; }
    grep -qx "ExecStart=/usr/sbin/$unit -c /etc/blsync/${unit#blsync-}.conf" "$src" \
        || { echo "$unit: ExecStart is not /usr/sbin/$unit -c /etc/blsync/${unit#blsync-}.conf"; fail=1; }
    sed "s|=/usr/sbin/$unit |=${bin[$unit]} |" "$src" >"$tmp/$unit.service"
    # The hardening the operators were promised (issue 7) stays in the units.
    state=$unit
    [ $unit = blsync-master ] && state=blsync # master's default db and spool: /var/lib/blsync
    for want in NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes User=blsync \
                StateDirectory=$state RuntimeDirectory=$unit ConfigurationDirectory=blsync \
                Restart=on-failure 'ExecReload=/bin/kill -HUP $MAINPID'; do
        grep -qxF "$want" "$src" || { echo "$unit: missing $want"; fail=1; }
    done
done
grep -qx 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE' "$BL_SRC/deploy/systemd/blsync-mirror.service" \
    && grep -qx 'AmbientCapabilities=CAP_NET_BIND_SERVICE' "$BL_SRC/deploy/systemd/blsync-mirror.service" \
    || { echo "blsync-mirror: port 53 needs CAP_NET_BIND_SERVICE bounded and ambient"; fail=1; }
grep -qx 'CapabilityBoundingSet=' "$BL_SRC/deploy/systemd/blsync-master.service" \
    || { echo "blsync-master: should hold no capability"; fail=1; }

# Documentation=man:... is checked against this tree's man pages.
mkdir -p "$tmp/man/man1" "$tmp/man/man5" "$tmp/man/man8"
for p in "$BL_SRC"/deploy/man/*.[158]; do cp "$p" "$tmp/man/man${p##*.}/"; done
export MANPATH="$tmp/man"
if ! (cd "$tmp" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=yes \
        ./blsync-master.service ./blsync-mirror.service) >"$tmp/out" 2>&1; then
    fail=1
fi
if [ -s "$tmp/out" ]; then
    cat "$tmp/out"
    fail=1
fi
exit $fail
