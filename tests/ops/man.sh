#!/bin/bash
# SPDX-License-Identifier: MIT
# Every man page in deploy/man renders with no warning from groff -ww and man --warnings.
. "$(dirname "$0")/../lib.sh"
export LC_ALL=C.UTF-8 MANWIDTH=80
check() { # file -> prints warnings, returns 1 if any
    local f=$1 out
    out=$( { groff -ww -z -man "$f" 2>&1 >/dev/null; man --warnings -E UTF-8 -l "$f" 2>&1 >/dev/null; } )
    [ -z "$out" ] || { echo "$f:"; echo "$out"; return 1; }
}
pages=("$S"/deploy/man/*.[158])
[ ${#pages[@]} -eq 5 ] || problem "expected 5 man pages, found ${#pages[@]}"
for p in "${pages[@]}"; do
    check "$p" || problem "$p renders with warnings"
    grep -q 'SPDX-License-Identifier' <<<"$(head -n 1 "$p")" || problem "$p: no SPDX line"
    grep -q '^\.SH NAME' "$p" && grep -q '^\.SH SEE ALSO' "$p" || problem "$p: NAME/SEE ALSO"
done
# The check itself must catch a broken page.
printf '.TH X 1\n.SH NAME\nx \\- y\n.XX undefined macro\n.BR\n' >"$T/bad.1"
if check "$T/bad.1" >/dev/null; then
    problem "a page with an undefined macro passed"
fi
finish
