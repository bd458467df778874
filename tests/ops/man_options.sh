#!/bin/bash
# SPDX-License-Identifier: MIT
# Every long option and blsyncctl command that the binaries' --help prints is in their man page.
set -euo pipefail
man_text() { LC_ALL=C.UTF-8 MANWIDTH=200 man -E UTF-8 -l "$1" 2>/dev/null | sed 's/‐/-/g'; }
fail=0
for pair in master/blsync-master:blsync-master.8 mirror/blsync-mirror:blsync-mirror.8 \
            master/blsyncctl:blsyncctl.1; do
    bin="$BL_BUILD/${pair%%:*}"
    page="$BL_SRC/deploy/man/${pair##*:}"
    help=$("$bin" --help 2>&1 || true)
    text=$(man_text "$page")
    opts=$(echo "$help" | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u)
    [ -n "$opts" ] || { echo "$bin --help lists no options"; fail=1; }
    for o in $opts; do
        grep -qF -- "$o" <<<"$text" || { echo "${page##*/}: option $o (from --help) not documented"; fail=1; }
    done
    if [ "${bin##*/}" = blsyncctl ]; then
        cmds=$(echo "$help" | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' | sort -u)
        [ -n "$cmds" ] || { echo "blsyncctl --help lists no commands"; fail=1; }
        for c in $cmds; do
            grep -qE "^ +$c( |$)" <<<"$text" || { echo "blsyncctl.1: command $c not documented"; fail=1; }
        done
    fi
done
exit $fail
