#!/bin/bash
# SPDX-License-Identifier: MIT
# Every man page in deploy/man renders with no warning from groff -ww and man --warnings.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C.UTF-8 MANWIDTH=80
check() { # file -> prints warnings, returns 1 if any
    local f=$1 out
    out=$( { groff -ww -z -man "$f" 2>&1 >/dev/null; man --warnings -E UTF-8 -l "$f" 2>&1 >/dev/null; } )
    [ -z "$out" ] || { echo "$f:"; echo "$out"; return 1; }
}
fail=0
pages=("$BL_SRC"/deploy/man/*.[158])
[ ${#pages[@]} -eq 4 ] || { echo "expected 4 man pages, found ${#pages[@]}"; fail=1; }
for p in "${pages[@]}"; do
    check "$p" || fail=1
    head -1 "$p" | grep -q 'SPDX-License-Identifier' || { echo "$p: no SPDX line"; fail=1; }
    grep -q '^\.SH NAME' "$p" && grep -q '^\.SH SEE ALSO' "$p" || { echo "$p: NAME/SEE ALSO"; fail=1; }
done
# The check itself must catch a broken page.
printf '.TH X 1\n.SH NAME\nx \\- y\n.XX undefined macro\n.BR\n' >"$tmp/bad.1"
if check "$tmp/bad.1" >/dev/null; then
    echo "a page with an undefined macro passed"
    fail=1
fi
exit $fail
