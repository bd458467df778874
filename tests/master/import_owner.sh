#!/bin/bash
# SPDX-License-Identifier: MIT
# MIGRATING step 1 run as root before the master ever ran: the store blsyncctl creates belongs to
# the owner of its directory (the user the master runs as), who can then write it.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || fail "needs root (to import as root for another user)"
chmod 755 "$T"
mkdir "$T/state"
chown nobody:nogroup "$T/state"
chmod 750 "$T/state"
printf '192.0.2.1\n198.51.100.0/24 :3:\n' >"$T/list"
chmod 644 "$T/list"
out=$("$CTL" import-rbldnsd "$T/list" --db "$T/state/master.db" 2>&1) || fail "import as root: $out"
[[ "$out" == *"master.db: owner set to uid $(id -u nobody)"* ]] || fail "the owner change is not said: $out"
for f in "$T"/state/master.db*; do
    [ "$(stat -c %U "$f")" = nobody ] || fail "$f belongs to $(stat -c %U "$f") after an import as root"
done
# the master's user writes the store (runuser: as it would, from its unit)
printf '203.0.113.9\n' >"$T/list2"
chmod 644 "$T/list2"
out=$(runuser -u nobody -- "$CTL" import-rbldnsd "$T/list2" --db "$T/state/master.db" 2>&1) ||
    fail "the directory's owner cannot write the store: $out"
[[ "$out" == *"imported 1 entries (1 new"* ]] || fail "import as nobody: $out"
ok "a store created by root belongs to its directory's owner, who writes it"
echo PASS
