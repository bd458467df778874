#!/bin/bash
# SPDX-License-Identifier: MIT
# deploy/blsync-compare (MIGRATING step 3): asks rbldnsd and a mirror about every entry,
# exclusion, range and CIDR end (and one past each) and a random sample, in one process, and
# names each difference: none when both serve the same file, exactly the changed ones otherwise.
. "$(dirname "$0")/../lib.sh"
command -v rbldnsd >/dev/null || fail "rbldnsd is not installed (tests/deps.txt)"

Z=bl.example.org
chmod 755 "$T"
cat >"$T/list" <<'DATA'
:127.0.0.2:Listed $
192.0.2.1
198.51.100.0/24 :3:Net $
!198.51.100.77
203.0.113.10-203.0.113.20
10.1
2001:db8:1::/48
DATA
chmod 644 "$T/list"
cp "$T/list" "$T/new"
write_mirror_conf m1 --files
printf '[zone %s]\nrbldnsd = ip4set:%s\nrbldnsd_check = 100ms\n' $Z "$T/new" >>"$T/m1/mirror.conf"
sed -i '/^2001/d' "$T/new" # the mirror's zone is IPv4; IPv6 goes to a second file
printf '2001:db8:1::/48\n' >"$T/new6"
printf 'rbldnsd = ip6trie:%s\n' "$T/new6" >>"$T/m1/mirror.conf"
start_mirror m1
alloc_port 'DNS_PORT[rbldnsd]'
grep -v '^2001' "$T/list" >"$T/old4"
printf '2001:db8:1::/48\n' >"$T/old6"
chmod 644 "$T/old4" "$T/old6"
spawn rbldnsd rbldnsd -n -u nobody -w "$T" -b "127.0.0.1/${DNS_PORT[rbldnsd]}" $Z:ip4set:old4 $Z:ip6trie:old6
wait_up rbldnsd 10 dns_up rbldnsd
compare() {
    $PY "$S/deploy/blsync-compare" --old "127.0.0.1:${DNS_PORT[rbldnsd]}" --new "127.0.0.1:${DNS_PORT[m1]}" \
        --zone $Z --random 500 "$T/list" >"$T/cmp.out" 2>&1
}
compare || fail "the same data differs: $(cat "$T/cmp.out")"
grep -q "^queries=[0-9]* .*differ=0 unanswered=0 unread_lines=0" "$T/cmp.out" || fail "summary: $(cat "$T/cmp.out")"
n=$(sed -n 's/^queries=\([0-9]*\).*/\1/p' "$T/cmp.out")
[ "$n" -ge 1000 ] || fail "only $n queries"
ok "same data: no difference ($n queries)"

# the mirror drops the exclusion and one range address, lists 10.1 with another A value
sed -i -e '/^!198.51.100.77/d' -e 's/^10.1$/10.1 :5:/' -e 's/^203.0.113.10-203.0.113.20/203.0.113.10-203.0.113.19/' "$T/new"
wait_until 10 logged m1 event=rbldnsd_reloaded || fail "the mirror did not load the change"
compare && fail "differences not reported"
for d in "DIFF 198.51.100.77 A old=NXDOMAIN - new=NOERROR 127.0.0.3" \
    "DIFF 203.0.113.20 A old=NOERROR 127.0.0.2 new=NXDOMAIN -" \
    "DIFF 10.1.0.0 A old=NOERROR 127.0.0.2 new=NOERROR 127.0.0.5" \
    "DIFF 10.1.255.255 A old=NOERROR 127.0.0.2 new=NOERROR 127.0.0.5"; do
    grep -qxF "$d" "$T/cmp.out" || fail "'$d' not reported: $(cat "$T/cmp.out")"
done
grep -q "differ=8 " "$T/cmp.out" || fail "more or fewer differences than made: $(cat "$T/cmp.out")"
ok "each changed answer named (exclusion, range end, CIDR ends)"
echo PASS
