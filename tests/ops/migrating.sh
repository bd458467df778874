#!/bin/bash
# SPDX-License-Identifier: MIT
# docs/MIGRATING.md followed as written on the Debian package's layout: the
# .deb installed on a master host and on a name server that runs rbldnsd
# (Debian's package) from an rsynced file (tests/ops/debhost.sh: overlays of
# this system's root in one network namespace, the master at 192.0.2.53);
# the daemons run as the units' users under their UMask. The blocks of the
# page marked "<!-- ops_migrating: HOST [> FILE | >> FILE] -->" run in order
# (an ini block replaces or extends FILE): the import as root before the
# master ever ran, the mirror next to rbldnsd, blsync-compare finding no
# difference, the export for an rbldnsd kept in front, then rbldnsd (user
# rbldns) serving the export: the SOA, listed entries, and NXDOMAIN with the
# SOA in the authority section; last the cut-over: the mirror on port 53.
. "$(dirname "$0")/../lib.sh"
command -v rbldnsd >/dev/null || { echo "needs rbldnsd"; exit 77; }
. "$(dirname "$0")/debhost.sh"
ip -n "$NS" addr add 192.0.2.53/32 dev lo
make_host master
make_host ns
grep -q '^rbldns:' "${ROOT[ns]}/etc/passwd" || { echo "needs the rbldns user (package rbldnsd)"; exit 77; }

# The operator's rbldnsd data, as the generator writes it and rsync copies it
# to every name server; the name server's rbldnsd answers it on port 53.
data() {
    printf '%s\n' ':127.0.0.2:Listed; see http://bl.example.net/lookup?ip=$' \
        '$SOA 3600 ns1.example.net. hostmaster.example.net. 0 3600 600 604800 300' \
        '$NS 3600 ns1.example.net. ns2.example.net.' \
        127.0.0.2 10.1.0.0/16 192.0.2.10 198.51.100.0/24 '203.0.113.7 :127.0.0.3:Listed; see http://bl.example.net/lookup?ip=$' "$@"
}
for h in master ns; do
    mkdir -p "${ROOT[$h]}/var/lib/rbldnsd"
    data >"${ROOT[$h]}/var/lib/rbldnsd/bl.example.net"
done
udp_listening() { ip netns exec "$NS" ss -Hlun "sport = :$1" | grep -q .; }
rbldnsd_ns() { # ARGS...: rbldnsd on the name server, in the foreground
    spawn rbldnsd ip netns exec "$NS" chroot "${ROOT[ns]}" rbldnsd -n "$@"
}
rbldnsd_ns -u rbldns -w /var/lib/rbldnsd -b 127.0.0.1/53 bl.example.net:ip4set:bl.example.net
NETNS[rbldnsd]=$NS
wait_up rbldnsd 20 udp_listening 53

# The master set up from the package as docs/OPERATIONS.md does (its first
# block), enabled but not started: the import comes first.
doc_blocks "$S/docs/OPERATIONS.md" ops_deb | head -1 >"$T/setup"
IFS=$'\t' read -r _ block _ <"$T/setup"
in_host master "set -ex; $(sed 's/systemctl enable --now/systemctl enable/' "$block")" >"$T/setup.out" 2>&1 ||
    { cat "$T/setup.out"; fail "docs/OPERATIONS.md's master set-up"; }
# Step 2's parenthesis: the mirror's certificate, ca.pem and master.pub
# copied to the name server where the mirror's config names them.
in_host master "blsyncctl certs --dir /etc/blsync/tls --mirror ns1" >/dev/null
cp "${ROOT[master]}"/etc/blsync/{master.pub,tls/ca.pem,tls/mirror-ns1.pem,tls/mirror-ns1.key} "${ROOT[ns]}/root/"
in_host ns "set -e; dpkg -i ./blsync_*.deb >/dev/null
    install -d -o root -g blsync -m 0750 /etc/blsync/tls
    install -m 0644 master.pub /etc/blsync/master.pub
    install -m 0644 ca.pem /etc/blsync/tls/ca.pem
    install -m 0644 mirror-ns1.pem /etc/blsync/tls/mirror.pem
    install -o root -g blsync -m 0640 mirror-ns1.key /etc/blsync/tls/mirror.key"

# Starts UNIT (systemctl enable --now / start) or restarts it (restart,
# reload: a restart reads the whole configuration too), as systemd would.
unit_cmd() { # HOST VERB UNIT: the unit's process is HOST's (PID[HOST], $T/HOST.log)
    local h=$1 verb=$2 unit=$3
    case $verb in
    enable | start)
        start_unit "$h" "$unit"
        if [ "$unit" = blsync-master ]; then
            wait_up "$h" 30 listening 7353
        else
            wait_up "$h" 30 logged "$h" event=listening
        fi ;;
    restart | reload)
        if [ "${unit%.socket}" != "$unit" ]; then
            # The socket unit rebinds: the service stops, the sockets change.
            stop "$h"
            start_unit "$h" "${unit%.socket}"
            wait_up "$h" 30 logged "$h" event=listening
            return
        fi
        mark "$h"
        kill -HUP "${PID[$h]}"
        wait_up "$h" 30 logged "$h" event=listening ;;
    esac
}

# Step 4's end: the export as the package's mirror wrote it under
# UMask=0077, and rbldnsd (user rbldns) serving it.
rbldnsd_serves_export() {
    # The export as the package's mirror wrote it under UMask=0077.
    local x out
    x=${ROOT[ns]}/var/lib/blsync-mirror/bl.example.net.rbldnsd
    [ "$(stat -c %a "$x")" = 644 ] || problem "the export is mode $(stat -c %a "$x"), not 0644"
    grep -q '^\$SOA .*ns1\.example\.net\. hostmaster\.example\.net\.' "$x" || problem "the export has no \$SOA"
    grep -q '^\$NS .*ns1\.example\.net\. ns2\.example\.net\.' "$x" || problem "the export has no \$NS"
    grep -q '^192\.0\.2\.77 ' "$x" || problem "the export lacks the imported 192.0.2.77"

    # rbldnsd (user rbldns) serves the export: SOA, listed, NXDOMAIN with the SOA.
    rdig() { in_host ns "dig +norec +time=2 +tries=1 @127.0.0.1 $*"; }
    out=$(rdig bl.example.net SOA)
    grep -q 'status: NOERROR' <<<"$out" && grep -Eq '^bl\.example\.net\..*SOA.*ns1\.example\.net\. hostmaster\.example\.net\.' <<<"$out" ||
        problem "rbldnsd on the export: SOA answered $out"
    for q in 77.2.0.192 7.113.0.203; do
        [ "$(rdig +short $q.bl.example.net A)" != "" ] || problem "rbldnsd on the export: $q not listed"
    done
    [ "$(rdig +short 7.113.0.203.bl.example.net A)" = 127.0.0.3 ] || problem "rbldnsd on the export: 203.0.113.7's A value"
    out=$(rdig 9.9.9.9.bl.example.net A)
    grep -q 'status: NXDOMAIN' <<<"$out" || problem "rbldnsd on the export: an unlisted name answered $out"
    grep -A2 'AUTHORITY SECTION' <<<"$out" | grep -Eq '^bl\.example\.net\..*SOA' ||
        problem "rbldnsd on the export: NXDOMAIN without the SOA in the authority section: $out"
    ok "rbldnsd (user rbldns) serves the mirror's export: SOA, listings, NXDOMAIN with the SOA"
}

mirror_lists() { [ "$(in_host ns "dig +short @127.0.0.1 -p 5353 $(revname "$1").bl.example.net A")" = 127.0.0.2 ]; }

doc_blocks "$S/docs/MIGRATING.md" ops_migrating >"$T/blocks"
[ "$(wc -l <"$T/blocks")" -ge 8 ] || fail "docs/MIGRATING.md: expected the blocks marked ops_migrating"
n=0
while IFS=$'\t' read -r host block dest; do
    n=$((n + 1))
    echo "== $n $host ${dest:-}: $(head -c 300 "$block" | tr '\n' ';')"
    case $dest in
    '> '*) cp "$block" "${ROOT[$host]}${dest#> }"; continue ;;
    '>> '*) cat "$block" >>"${ROOT[$host]}${dest#>> }"; continue ;;
    esac
    if grep -q 'import-rbldnsd .*--replace' "$block"; then
        # The generator's next run: one more entry.
        data 192.0.2.77 >"${ROOT[master]}/var/lib/rbldnsd/bl.example.net"
    fi
    if grep -q '^rbldnsd ' "$block"; then
        # rbldnsd moves to the export (written when the mirror loaded the
        # export_rbldnsd setting): the rsynced file's rbldnsd stops.
        wait_until 30 test -s "${ROOT[ns]}/var/lib/blsync-mirror/bl.example.net.rbldnsd" ||
            fail "the mirror wrote no export"
        stop rbldnsd
    fi
    # The block as it runs here: servers bind the namespace's loopback
    # (127.0.0.1, not 0.0.0.0), dig asks it (ns1.example.net has no address
    # here), and "A && systemctl B" is A, then B (the same under set -e).
    sed -e 's/0\.0\.0\.0\([:/]\)53/127.0.0.1\153/g' -e 's/@ns1\.example\.net/@127.0.0.1/' \
        -e 's/ && systemctl /\nsystemctl /g' "$block" >"$T/run$n"
    # Lines up to a systemctl command run in the host (set -e); the unit is
    # started as systemd would; rbldnsd runs in the foreground (-n); the lines
    # after a unit start are asked until they succeed (the mirror syncs).
    part=$T/part
    : >"$part"
    started=
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in
        systemctl\ daemon-reload*) continue ;;
        systemctl\ disable\ rbldnsd*) continue ;;
        systemctl\ stop\ rbldnsd*) ! running rbldnsd || stop rbldnsd ;;
        systemctl\ *)
            in_host "$host" "set -ex; $(cat "$part")" >"$T/block$n.out" 2>&1 ||
                { cat "$T/block$n.out"; fail "docs/MIGRATING.md block $n failed"; }
            : >"$part"
            read -r _ verb rest <<<"$line"
            [ "$verb" = enable ] && rest=${rest#--now }
            in_host "$host" "systemctl enable $rest" >/dev/null 2>&1 || true
            unit_cmd "$host" "$verb" "$rest"
            started=1 ;;
        rbldnsd\ *)
            in_host "$host" "set -ex; $(cat "$part")" >"$T/block$n.out" 2>&1 ||
                { cat "$T/block$n.out"; fail "docs/MIGRATING.md block $n failed"; }
            : >"$part"
            cmd=$(sed -n "/^rbldnsd /,/[^\\\\]\$/p" "$T/run$n" | sed 's/\\$//' | tr '\n' ' ')
            read -ra argv <<<"${cmd#rbldnsd }"
            rbldnsd_ns "${argv[@]}"
            wait_up rbldnsd 20 udp_listening 53
            break ;;
        *) printf '%s\n' "$line" >>"$part" ;;
        esac
    done <"$T/run$n"
    if grep -q '^rbldnsd ' "$block"; then
        rbldnsd_serves_export
    fi
    [ -s "$part" ] || continue
    if [ -n "$started" ]; then
        wait_until 30 in_host "$host" "set -e; $(cat "$part") | grep -q ." ||
            fail "block $n never answered: $(in_host "$host" "$(cat "$part")" 2>&1)"
    else
        in_host "$host" "set -ex; $(cat "$part")" >"$T/block$n.out" 2>&1 ||
            { cat "$T/block$n.out"; fail "docs/MIGRATING.md block $n failed"; }
    fi
    cat "$T/block$n.out" 2>/dev/null || true
    # The output the page shows ("#   LINE"), numbers aside.
    num() { sed -E 's/[0-9]+(\.[0-9]+)?/N/g'; }
    sed -n 's/^#   //p' "$block" | num | while IFS= read -r want; do
        grep -Fxq "$want" < <(num <"$T/block$n.out") || problem "block $n printed no line like '$want'"
    done
    # After the import as root, the master (user blsync) starts and publishes it.
    if grep -q 'import-rbldnsd' "$block" && ! running master; then
        grep -q 'owner\|blsync' "$T/block$n.out" || problem "the import as root did not say it gave the store to blsync"
        unit_cmd master start blsync-master
    fi
    # The mirror synced before the comparison: the newest import answers.
    if grep -q 'systemctl enable --now blsync-mirror' "$block"; then
        wait_until 30 mirror_lists 192.0.2.77 ||
            fail "the mirror never answered the second import"
    fi
done <"$T/blocks"
running master || fail "the master stopped"
running ns || fail "the mirror stopped"
ok "docs/MIGRATING.md steps 1-5 ran as written"
# After the cut-over the mirror answers on port 53.
[ "$(in_host ns "dig +short @127.0.0.1 77.2.0.192.bl.example.net A")" = 127.0.0.2 ] ||
    problem "after the cut-over the mirror on port 53 does not list 192.0.2.77"
[ "$(in_host ns "dig +short @127.0.0.1 bl.example.net NS" | sort | tr '\n' ' ')" = "ns1.example.net. ns2.example.net. " ] ||
    problem "after the cut-over: NS $(in_host ns "dig +short @127.0.0.1 bl.example.net NS")"
ok "after the cut-over the mirror answers on port 53"


stop ns
stop master
finish
