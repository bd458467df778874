#!/bin/bash
# SPDX-License-Identifier: MIT
# Every long option and blsyncctl command that the binaries' --help prints is in their man page.
. "$(dirname "$0")/../lib.sh"
man_text() { LC_ALL=C.UTF-8 MANWIDTH=200 man -E UTF-8 -l "$1" 2>/dev/null | sed 's/‐/-/g'; }
for pair in master/blsync-master:blsync-master.8 mirror/blsync-mirror:blsync-mirror.8 \
            master/blsyncctl:blsyncctl.1; do
    bin="$B/${pair%%:*}"
    page="$S/deploy/man/${pair##*:}"
    help=$("$bin" --help 2>&1 || true)
    text=$(man_text "$page")
    opts=$(echo "$help" | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u)
    [ -n "$opts" ] || problem "$bin --help lists no options"
    for o in $opts; do
        grep -qF -- "$o" <<<"$text" || problem "${page##*/}: option $o (from --help) not documented"
    done
    if [ "${bin##*/}" = blsyncctl ]; then
        cmds=$(echo "$help" | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' | sort -u)
        [ -n "$cmds" ] || problem "blsyncctl --help lists no commands"
        for c in $cmds; do
            grep -qE "^ +$c( |$)" <<<"$text" || problem "blsyncctl.1: command $c not documented"
        done
    fi
done
finish
