# SPDX-License-Identifier: MIT
# tests/lib.sh: the one library of the shell tests and benchmarks. A script
# sources it first:   . "$(dirname "$0")/../lib.sh"
# It turns on `set -eEuo pipefail`, makes a work dir and cleans up on exit.
#
# Environment
#   BL_BUILD        the build directory (required; ctest sets it)
#   BL_SRC          the source directory (default: the one holding this file)
#   BL_TIME_SCALE   multiplies every timeout here (default 1; 3 in sanitizer
#                   builds: tests/run.sh --sanitize sets it, and a BL_BUILD
#                   configured with BLSYNC_SANITIZE=ON defaults to it)
#   KEEP=1          keep the work dir (its path is printed)
#   BL_TRACE=1      trace every command on stderr, with the time, file and line
#   BL_NETNS        a network namespace that daemons run in and are probed in
#                   (`ip netns exec NAME ...`); NETNS[who]=NAME sets one daemon's
#   BL_ADDR         the address daemons listen on (default 127.0.0.1);
#                   LISTEN_ADDR[who]=ADDR sets one daemon's
#   WRAP[who]="CMD ARGS"  a command that spawn puts before WHO's program
#                   (nice -n -10, taskset -c 1, strace -f -o FILE, ...)
#
# Variables it sets
#   T               the work dir (mktemp under /tmp); daemon logs are $T/WHO.log
#   B S             build and source directories
#   MASTER MIRROR CTL MKFEED CHK PY   the daemons, blsyncctl, mirror_mkfeed,
#                   master_chaincheck, the Debian python3 (python3-dnspython)
#   T0              a fixed test-clock origin (Unix ms, 2027-01-15)
#   BL_SANITIZED    1 when BL_BUILD is an ASan+UBSan build, else empty (memory
#                   bounds of a test may allow for the sanitizer's shadow)
#   TOK             the master's API token (also in $T/token, and exported as
#                   BLSYNC_TOKEN: blsyncctl --url sends it)
#   ZONE            the DNS zone of the sync tests (bl.test)
#   PID[who]        the PID of every process started by spawn or track
#   HTTP_PORT SYNC_PORT MMET_PORT     the master's API, sync and metrics ports
#   MASTER_URL      http://ADDR:HTTP_PORT
#   DNS_PORT[who]   a mirror's DNS port; MET_PORT[who] its metrics port (the
#                   mirror binds port 0 and logs the port it got)
#   STATUS          the HTTP status of the last `api` call (body in $T/out)
#   RC              the exit status of the process last stopped by `stop`
#
# Failing and passing
#   fail MSG        prints FAIL: MSG and the tail (FAIL_TAIL lines, 25) of every
#                   *.log and *.out in $T, exits 1.
#                   A command that fails outside a condition calls it too (ERR
#                   trap), naming the file, line and command.
#   pass MSG, ok MSG          print "ok: MSG"
#   problem MSG     prints FAIL: MSG and goes on; the script then exits 1
#   finish          fails if there was a problem, else prints PASS
#   on_exit CMD...  runs CMD at exit, after every process has been stopped
#
# Time (every TIMEOUT is in seconds, decimals allowed, and scaled)
#   wait_until TIMEOUT CMD...   polls CMD (quietly, every 10-100 ms) until it
#                   succeeds; returns 1 at the timeout. Tests wait on events
#                   with it, never with a fixed sleep.
#   scaled SECONDS  prints SECONDS times BL_TIME_SCALE (an integer when whole);
#                   scaled_int rounds it up to whole seconds
#   now_ms          the wall clock in Unix ms
#   setclock MS     sets the controllable clock ($T/clock) and exports
#                   BLSYNC_TEST_CLOCK, so that every process started afterwards
#                   reads its time from it; clock_ms prints its time
#
# Ports
#   alloc_port VAR...   sets each VAR to a free TCP/UDP port, reserved for this
#                   test until it exits: from 30000 up to the kernel's ephemeral
#                   range (no client socket takes it), unused now (ss), and not
#                   held by a parallel test (reservations in /tmp/blsync-test-ports,
#                   taken under flock, dropped at exit or when the owner died)
#   alloc_ports N VAR...    the same for blocks of N consecutive ports: VAR is
#                   the first
#   port_from FILE [TIMEOUT]    waits for a "listening PORT" line in FILE (the
#                   test servers that bind port 0 print it) and prints PORT
#
# Processes (each is stopped by PID at exit: SIGCONT, SIGTERM, a bounded wait,
# then SIGKILL; every background job of the script too)
#   spawn WHO CMD...    starts CMD in the background (in WHO's namespace),
#                   output appended to $T/WHO.log, PID[WHO] set, log marked
#   track WHO PID   stops PID at exit (for a process started by hand)
#   in_ns WHO CMD...    runs CMD in WHO's network namespace (if any)
#   addr_of WHO     WHO's listen address; hostport ADDR PORT: ADDR:PORT, or
#                   [ADDR]:PORT for IPv6
#   running WHO     whether WHO runs (a zombie does not)
#   fds WHO         the number of WHO's open file descriptors; rss_kb WHO its
#                   resident memory in kB (empty when it does not run)
#   stop WHO [SIG]  sends SIGCONT, then SIG (TERM), waits (bounded), RC = status
#   stop_clean WHO  stop with SIGTERM; fails unless the exit status is 0
#   await WHO [TIMEOUT]     waits (60 s) for WHO to end by itself, RC = status
#   wait_up WHO TIMEOUT CMD...  waits for CMD to succeed while WHO runs; fails
#                   when WHO exits (naming its status) or at the timeout
#   mark WHO        remembers the length of $T/WHO.log; since WHO prints the
#                   lines written after it (spawn marks at every start);
#                   logged WHO PATTERN: whether one of those lines matches (grep)
#
# Keys and configuration
#   keygen          the signing key $T/sign.key, $T/sign.pub (once)
#   pki [MIRROR...] keygen, a CA with the master's certificate (name
#                   master.test) and one per mirror in $T/pki, $T/token,
#                   an empty $T/revoked; again later adds mirrors
#   ini_set FILE EDIT...  edits an INI file. EDIT is 'SECTION|KEY = VALUE'
#                   (replaces KEY in SECTION, or adds it; a missing section is
#                   appended), 'SECTION|+KEY = VALUE' (adds one more KEY line),
#                   'SECTION|-KEY' (removes KEY)
#   write_master_conf [EDIT...]   $T/master.conf: feed main, store, API with
#                   $T/token, publisher (short delays), policy, metrics, and
#                   [sync] with mutual TLS once pki has run; then the edits
#   start_master [ARGS...]  starts blsync-master (writing the default config
#                   if there is none), waits for /v1/health, the sync server and
#                   the public listener (when configured);
#                   master_healthy: /v1/health answers
#   stop_master     stop_clean master
#   write_mirror_conf WHO [--files] [EDIT...]   $T/WHO/mirror.conf: [server] on
#                   DNS_PORT[WHO] with metrics on port 0; without --files also
#                   [sync] to the master (generous stale_after, freeze_after)
#                   and [zone bl.test] fed by it; then the edits. A test that
#                   serves files appends its [zone ...] sections itself.
#   write_pull_conf WHO UPSTREAM...   like write_mirror_conf, with [sync]
#                   upstream = UPSTREAM... (push and URLs), polls every 300 ms
#                   (jitter 100 ms, timeout 2 s); the push settings only when
#                   push is listed
#   combined_zones WHO  appends [zone all.test] (feed = main spamtrap:127.0.0.4,
#                   txt "Listed: $", reason.4 "Spamtrap hit: $") and [zone
#                   trap.test] (feed = spamtrap) to $T/WHO/mirror.conf
#   start_mirror WHO [ARGS...]  starts blsync-mirror with $T/WHO/mirror.conf
#                   (the default sync one if missing), waits until it listens
#   start_nginx WHO PORT HTTP-BLOCK   nginx (Debian package) as WHO, in the
#                   foreground with its own prefix $T/WHO (temp and cache
#                   directories, access log $T/WHO/access.log: method, path,
#                   status, bytes, cache status, time (Unix s.ms), query),
#                   HTTP-BLOCK inside http { }; waits until PORT answers.
#                   NGINX_CONNECTIONS sets worker_connections (1024).
#                   Stopped by PID like every process.
#   spool_locations     the nginx locations that serve a master's spool with
#                   the Cache-Control guidance of docs/ARCHITECTURE.md
#   cache_tier NAME PORT UPSTREAM-PORT [MAX-SIZE] [LISTEN-PARAMS] [headpass]   an HTTP
#                   block for start_nginx: a caching proxy on PORT in front of
#                   UPSTREAM-PORT (cache $T/NAME/cache of MAX-SIZE, 100m), one
#                   request upstream at a time per object (a long poll held
#                   upstream too), revalidated with If-None-Match, stale while
#                   updating; X-Cache names the
#                   cache status; LISTEN-PARAMS go on the listen line;
#                   headpass: heads pass through uncached (an inner tier)
#
# Master API and state
#   api METHOD PATH [BODY [AUTH]]   curl with the token (AUTH "" sends none,
#                   else the whole Authorization value); body in $T/out,
#                   status in STATUS
#   expect STATUS [JQ-FILTER VALUE]...   the last answer's status and fields
#   expect_msg STATUS SUBSTRING     the last answer's status and text
#   lookup IP       api GET /v1/lookup/IP
#   lookup_is IP JQ-FILTER VALUE    whether the lookup of IP has FILTER = VALUE
#   list IP, delist IP              operator listing and removal (must succeed)
#   ctl_says ERE CTL-ARGS...        blsyncctl CTL-ARGS --url MASTER_URL prints a
#                   line matching ERE
#   master_status [JQ-ARGS]         /v1/status (through jq -r JQ-ARGS, default .)
#
# The public page (set PUB_URL to http://ADDR:PORT of [public] listen)
#   pub METHOD PATH [CURL-ARGS...]  curl with the cookie jar $T/jar: body in
#                   $T/pub.out, headers in $T/pub.hdr, status in STATUS
#   pub_csrf PATH   the CSRF field of the form on the page at PATH
#   pub_form PATH FIELD=VALUE...    fills and sends that form (its action)
#   master_serial, pending          /v1/status .serial and .pending
#   published_all   nothing pending
#   wait_published SERIAL           waits for a serial past SERIAL, prints it
#
# Metrics
#   scrape WHO [PATH]       the /metrics text (or PATH) of master or a mirror
#   metric WHO 'name{labels}'       one sample's value (empty if absent)
#   metric_is WHO 'name{labels}' VALUE
#   synced WHO      nothing is pending at the master and the mirror's serial
#                   metric is the master's serial;
#                   all_synced WHO...: every WHO's is
#
# DNS (dig against a mirror, timeouts scaled)
#   dq WHO DIG-ARGS...      dig @ADDR -p DNS_PORT[WHO], one try of DIG_TIME
#                   seconds (2); any DNS server WHO: alloc_port 'DNS_PORT[WHO]'
#                   gives it a port
#   dns_up WHO      WHO answers DNS at all (any status)
#   dig_status WHO DIG-ARGS...      the status (NOERROR, NXDOMAIN, ...)
#   expect_status WHO STATUS DIG-ARGS...
#   revname ADDR    the reversed name of an IPv4 (octets) or IPv6 (nibbles)
#                   address, without a zone; revlines reads "KIND ADDR REST"
#                   lines and prints "KIND REVNAME ADDR REST"
#   dig_batch       reads "WHO NAME TYPE" lines, asks each (one dig process,
#                   in the first WHO's namespace), prints "WHO NAME TYPE STATUS
#                   RDATA..." lines in the same order (STATUS timeout: no answer)
#   answer WHO IP [ZONE]    the A answer for IP in ZONE ($ZONE): the address,
#                   "nx" for NXDOMAIN, "nodata", else the status or "timeout"
#   is_answer WHO IP VALUE
#   all_answer IP VALUE WHO...      every WHO's answer for IP is VALUE
#   listing_round IP WHO...  lists IP and waits until every WHO answers
#                   127.0.0.2, delists it and waits until every WHO answers
#                   NXDOMAIN at the master's serial (fails otherwise)
#   soa_serial WHO [ZONE]   the serial of the zone's SOA
#   in_sync WHO     nothing is pending at the master and the mirror's SOA
#                   serial is the master's serial

set -eEuo pipefail
B=${BL_BUILD:?BL_BUILD must name the build directory}
S=${BL_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
MASTER=$B/master/blsync-master
MIRROR=$B/mirror/blsync-mirror
CTL=$B/master/blsyncctl
MKFEED=$B/tests/mirror/mirror_mkfeed
CHK=$B/tests/master/master_chaincheck
PY=/usr/bin/python3
T0=1800000000000
ZONE=bl.test
BL_SANITIZED=
! grep -q '^BLSYNC_SANITIZE:BOOL=ON' "$B/CMakeCache.txt" 2>/dev/null || BL_SANITIZED=1
BL_TIME_SCALE=${BL_TIME_SCALE:-${BL_SANITIZED:+3}}
BL_TIME_SCALE=${BL_TIME_SCALE:-1}
BL_ADDR=${BL_ADDR:-127.0.0.1}
BL_NETNS=${BL_NETNS:-}
BL_PORT_DIR=${BL_PORT_DIR:-/tmp/blsync-test-ports}
[[ $BL_TIME_SCALE =~ ^[0-9]+([.][0-9]+)?$ ]] || {
    echo "BL_TIME_SCALE must be a number, not '$BL_TIME_SCALE'" >&2
    exit 2
}
# The scale in thousandths, for integer arithmetic.
_BL_SCALE_M=$(awk -v k="$BL_TIME_SCALE" 'BEGIN { printf "%d", k * 1000 }')

BL_PID=$BASHPID
exec {_BL_STDERR}>&2 # stderr, also where a caller has silenced it
BL_PROBLEMS=0
declare -A PID=() NETNS=() LISTEN_ADDR=() WRAP=() DNS_PORT=() MET_PORT=() _BL_MARK=()
declare -a _BL_ON_EXIT=() _BL_PORTS=()
T=$(mktemp -d "/tmp/bl-$(basename "$0" .sh).XXXXXX")
chmod 755 "$T" # daemons that drop privileges (rbldnsd as nobody) read their files here
TOK=tok$$
export BLSYNC_TOKEN=$TOK # what blsyncctl sends without -c or --token-file
STATUS=
RC=

# ---- failing ----------------------------------------------------------------
fail() {
    trap - ERR
    echo "FAIL: $*" >&2
    # In a subshell (a command substitution, a pipeline, a background job) the
    # test's own shell reports the failure and the logs.
    [ "$BASHPID" = "$BL_PID" ] || exit 1
    local f
    for f in "$T"/*.log "$T"/*.out; do
        [ -f "$f" ] || continue
        echo "--- $f (tail)" >&2
        tail -n "${FAIL_TAIL:-25}" "$f" >&2
    done
    exit 1
}
_bl_err() { # STATUS LINE COMMAND, from the ERR trap
    local rc=$1 i
    [ "$BASHPID" = "$BL_PID" ] || exit "$rc"
    local where="${BASH_SOURCE[1]#"$S"/}:$2"
    for ((i = 1; i < ${#FUNCNAME[@]} - 1; i++)); do
        where+=" (in ${FUNCNAME[i]}, called at ${BASH_SOURCE[i + 1]#"$S"/}:${BASH_LINENO[i]})"
    done
    fail "$where: '$3' exited with status $rc"
}
trap '_bl_err $? "$LINENO" "$BASH_COMMAND"' ERR
if [ -n "${BL_TRACE:-}" ]; then
    PS4='+ ${EPOCHREALTIME} ${BASH_SOURCE[0]##*/}:${LINENO} '
    set -x
fi
pass() { echo "ok: $*"; }
ok() { echo "ok: $*"; }
problem() {
    echo "FAIL: $*" >&2
    BL_PROBLEMS=$((BL_PROBLEMS + 1))
}
finish() {
    [ "$BL_PROBLEMS" = 0 ] || fail "$BL_PROBLEMS problems (above)"
    echo PASS
}
on_exit() { _BL_ON_EXIT+=("$(printf '%q ' "$@")"); }

# ---- time -------------------------------------------------------------------
now_ms() {
    local t=${EPOCHREALTIME//[.,]/}
    echo $((t / 1000))
}
# _bl_ms SECONDS: sets REPLY to SECONDS (decimals allowed) scaled, in ms.
_bl_ms() {
    local s=$1 i f=000
    i=${s%%.*}
    [[ $s == *.* ]] && f=${s#*.}000
    REPLY=$(((10#${i:-0} * 1000 + 10#${f:0:3}) * _BL_SCALE_M / 1000))
}
scaled() {
    local f
    _bl_ms "$1"
    printf -v f '%03d' $((REPLY % 1000))
    f=${f%%0}
    f=${f%%0}
    [ "$f" = 0 ] && f= # whole seconds print as an integer
    echo "$((REPLY / 1000))${f:+.$f}"
}
# Whole seconds, at least 1: for tools that take no fraction (dig +time, curl).
_bl_secs() {
    _bl_ms "$1"
    REPLY=$(((REPLY + 999) / 1000))
}
scaled_int() {
    _bl_secs "$1"
    echo "$REPLY"
}
_bl_secs 10
_BL_CURL_TIME=$REPLY
# _bl_poll DEADLINE-MS CMD...: polls CMD (quietly) until it succeeds (0) or the
# wall clock passes DEADLINE-MS (1). The pauses start at 10 ms and double up to
# 100 ms: an event that comes fast is seen fast, and a long wait does not
# spend the CPU that the daemons waited on need. A check in _BL_ABORT (a
# command) that succeeds ends the wait early (2).
_bl_poll() {
    local deadline=$1 pause=10 now
    shift
    until "$@" >/dev/null 2>&1; do
        if [ -n "${_BL_ABORT:-}" ] && $_BL_ABORT; then return 2; fi
        now=${EPOCHREALTIME//[.,]/}
        [ $((now / 1000)) -lt "$deadline" ] || return 1
        sleep "0.$(printf '%03d' "$pause")"
        pause=$((pause * 2 > 100 ? 100 : pause * 2))
    done
}
# _bl_deadline TIMEOUT: sets REPLY to the wall clock in ms TIMEOUT (scaled) from now.
_bl_deadline() {
    local now=${EPOCHREALTIME//[.,]/}
    _bl_ms "$1"
    REPLY=$((now / 1000 + REPLY))
}
wait_until() {
    _bl_deadline "$1"
    shift
    _bl_poll "$REPLY" "$@"
}
# gives WANT COMMAND...: COMMAND prints WANT. For wait_until, which runs it
# afresh on every try (a "$(...)" argument would be expanded only once).
gives() {
    local want=$1
    shift
    [ "$("$@")" = "$want" ]
}
setclock() {
    echo "$1" >"$T/clock.tmp" && mv "$T/clock.tmp" "$T/clock"
    export BLSYNC_TEST_CLOCK=$T/clock
}
clock_ms() { cat "$T/clock"; }

# ---- ports ------------------------------------------------------------------
# _bl_reserve COUNT VAR: sets VAR to the first of COUNT consecutive free ports
# and reserves them (the caller holds the lock; USED lists the busy ports).
_bl_reserve() {
    local n=$1 v=$2 k p q tries owner
    k=$(((RANDOM * 32768 + RANDOM) % _BL_SPAN))
    for ((tries = 0; tries < _BL_SPAN; tries++)); do
        p=$((_BL_LO + (k + tries) % _BL_SPAN))
        [ $((p + n)) -le $((_BL_LO + _BL_SPAN)) ] || continue
        for ((q = p; q < p + n; q++)); do
            [[ $USED == *" $q "* ]] && continue 2
            if [ -f "$BL_PORT_DIR/$q" ]; then
                read -r owner _ <"$BL_PORT_DIR/$q" || owner=
                [ -n "$owner" ] && [ -d "/proc/$owner" ] && continue 2
            fi
        done
        for ((q = p; q < p + n; q++)); do
            echo "$BL_PID $(date +%s) $0" >"$BL_PORT_DIR/$q"
            _BL_PORTS+=("$q")
            USED+="$q "
        done
        printf -v "$v" '%s' "$p"
        return 0
    done
    return 1
}
# _bl_alloc COUNT VAR...: under the lock, _bl_reserve for each VAR.
_bl_alloc() {
    local n=$1 fd v hi USED
    shift
    # 30000 up to the ephemeral ports: no client socket takes one, and the
    # other schemes of picking ports (the quickstart's 12530 block) are below.
    # The attack clients of tests/attack (tens of thousands of connections,
    # up to ~2,000 at once) bind port 0 or connect unbound, so the kernel
    # gives them ephemeral ports too; the TIME-WAIT sockets their floods
    # leave on a listener's port (tens of thousands) show in ss: a port is
    # not reused while they last.
    hi=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    _BL_LO=30000
    [ "$hi" -gt $((_BL_LO + 1000)) ] || _BL_LO=15000
    _BL_SPAN=$((hi - _BL_LO))
    mkdir -p "$BL_PORT_DIR"
    exec {fd}>>"$BL_PORT_DIR/lock"
    flock -w "$(scaled 30)" "$fd" || fail "alloc_port: $BL_PORT_DIR/lock stays locked"
    # Every local port of every socket now, whatever its state.
    USED=" $(ss -Htanu 2>/dev/null | awk '{ n = split($5, a, ":"); print a[n] }' | sort -u | tr '\n' ' ') "
    for v in "$@"; do
        _bl_reserve "$n" "$v" || {
            exec {fd}>&-
            fail "alloc_port: no $n free ports in $_BL_LO-$((hi - 1))"
        }
    done
    exec {fd}>&-
}
alloc_port() { _bl_alloc 1 "$@"; }
alloc_ports() { _bl_alloc "$@"; }

# The test servers (tls_echo, sync_master, sync_evil) bind port 0 and print "listening PORT".
_bl_listening() { grep -q '^listening [0-9]' "$1" 2>/dev/null; }
port_from() {
    wait_until "${2:-10}" _bl_listening "$1" || fail "no 'listening PORT' line in $1"
    awk '/^listening [0-9]/ { print $2; exit }' "$1"
}

# ---- processes --------------------------------------------------------------
addr_of() { echo "${LISTEN_ADDR[$1]:-$BL_ADDR}"; }
# hostport ADDR PORT: ADDR:PORT, an IPv6 address in brackets.
hostport() { case $1 in *:*) echo "[$1]:$2" ;; *) echo "$1:$2" ;; esac; }
# _bl_pre WHO: sets _BL_PRE to the command prefix of WHO's network namespace.
_bl_pre() {
    local ns=${NETNS[$1]:-$BL_NETNS}
    _BL_PRE=()
    [ -z "$ns" ] || _BL_PRE=(ip netns exec "$ns")
}
in_ns() {
    local who=$1
    shift
    _bl_pre "$who"
    "${_BL_PRE[@]}" "$@"
}
mark() { _BL_MARK[$1]=$(wc -l <"$T/$1.log" 2>/dev/null || echo 0); }
since() { tail -n +$((${_BL_MARK[$1]:-0} + 1)) "$T/$1.log" 2>/dev/null; }
# A pipe into grep -q could end the writer with SIGPIPE (a failure under pipefail).
logged() { grep -q -- "$2" < <(since "$1"); }
spawn() {
    local who=$1 wrap=()
    shift
    touch "$T/$who.log"
    mark "$who"
    _bl_pre "$who"
    [ -z "${WRAP[$who]:-}" ] || read -ra wrap <<<"${WRAP[$who]}"
    # A simple command, so that $! is the program itself, not a subshell
    # (ip netns exec and the usual wrappers exec what they run).
    "${_BL_PRE[@]}" "${wrap[@]}" "$@" >>"$T/$who.log" 2>&1 &
    PID[$who]=$!
}
track() { PID[$1]=$2; }
_bl_running() { # PID: running or stopped, not a zombie (read, not cat: no fork)
    local st
    { read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
    st=${st##*) }
    [ "${st:0:1}" != Z ]
}
running() { [ -n "${PID[$1]:-}" ] && _bl_running "${PID[$1]}"; }
fds() {
    local f n=0
    for f in /proc/"${PID[$1]:?fds $1: not started here}"/fd/*; do
        [ -L "$f" ] && n=$((n + 1)) # no match (it ended) leaves the pattern
    done
    echo "$n"
}
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/${PID[$1]:?rss_kb $1: not started here}/status" 2>/dev/null; }
_bl_ended() { ! _bl_running "$1"; }
# _bl_stacks PID: what each thread of a process that does not end is doing: its state,
# kernel wait channel and tracer (a sanitizer's leak check at exit traces its own threads),
# then the user stacks from gdb where it can attach.
_bl_stacks() {
    local t
    grep -E '^(State|TracerPid)' "/proc/$1/status" 2>/dev/null | tr '\n' ' '
    echo
    for t in /proc/"$1"/task/*; do
        [ -d "$t" ] || continue
        echo "task ${t##*/} $(cat "$t/comm" 2>/dev/null) state=$(awk '{ print $3 }' "$t/stat" 2>/dev/null) wchan=$(cat "$t/wchan" 2>/dev/null)"
    done
    if command -v gdb >/dev/null; then
        timeout 60 gdb -p "$1" -batch -nx -ex 'thread apply all bt 25' 2>&1 |
            grep -E '^(Thread|#|ptrace|warning: process)' || true
    fi
}
# _bl_reap PID...: waits (10 s, scaled) for the processes to end, then SIGKILL.
_bl_reap() {
    local p
    _bl_deadline 10
    for p in "$@"; do
        _bl_poll "$REPLY" _bl_ended "$p" && continue
        echo "pid $p ignored SIGTERM for $(scaled 10) s: its threads' stacks, then SIGKILL" >&"$_BL_STDERR"
        _bl_stacks "$p" >&"$_BL_STDERR"
        kill -KILL "$p" 2>/dev/null || true
    done
}
stop() {
    local who=$1 sig=${2:-TERM} p=${PID[$1]:-}
    [ -n "$p" ] || fail "stop $who: not started here"
    RC=0
    # Quiet: bash reports a job killed by a signal on stderr when it reaps it.
    # SIGCONT goes first (a stopped process must run to act on SIG), never after SIG:
    # a sanitizer build's leak check at exit stops the process's threads with
    # ptrace, and a SIGCONT arriving then discards the stop it waits for, so the
    # check waits for ever.
    {
        kill -CONT "$p" || true
        kill -"$sig" "$p" || true
        _bl_reap "$p"
        wait "$p" || RC=$?
    } 2>/dev/null
    unset "PID[$who]"
}
await() {
    local who=$1 p=${PID[$1]:-}
    [ -n "$p" ] || fail "await $who: not started here"
    wait_until "${2:-60}" _bl_ended "$p" || fail "$who did not end within $(scaled "${2:-60}") s"
    RC=0
    wait "$p" 2>/dev/null || RC=$?
    unset "PID[$who]"
}
stop_clean() {
    stop "$1" TERM
    # A graceful stop exits 0; sanitizer builds report leaks and errors here.
    [ "$RC" = 0 ] || fail "$1 exited with status $RC on SIGTERM"
}
wait_up() {
    local who=$1 rc=0
    _bl_deadline "$2"
    shift 2
    _BL_ABORT="_bl_ended ${PID[$who]:-0}" _bl_poll "$REPLY" "$@" || rc=$?
    case $rc in
    0) ;;
    2)
        RC=0
        wait "${PID[$who]}" 2>/dev/null || RC=$?
        unset "PID[$who]"
        fail "$who exited with status $RC while starting"
        ;;
    *) fail "$who did not start in time ($*)" ;;
    esac
}
_bl_cleanup() {
    local rc=$? p c
    trap - ERR
    set +eE
    [ "$BASHPID" = "$BL_PID" ] || return "$rc"
    local -a pids=("${PID[@]}")
    for p in $(jobs -p); do [[ " ${pids[*]} " == *" $p "* ]] || pids+=("$p"); done
    {
        for p in "${pids[@]}"; do
            kill -CONT "$p"
            kill -TERM "$p"
        done
        [ ${#pids[@]} = 0 ] || _bl_reap "${pids[@]}"
        wait
    } 2>/dev/null
    for c in "${_BL_ON_EXIT[@]}"; do eval "$c"; done
    for p in "${_BL_PORTS[@]}"; do rm -f "$BL_PORT_DIR/$p"; done
    if [ -n "${KEEP:-}" ] && [ "${KEEP:-}" != 0 ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
    [ "$rc" != 0 ] || [ "$BL_PROBLEMS" = 0 ] || rc=1
    exit "$rc"
}
trap _bl_cleanup EXIT

# ---- keys and configuration -------------------------------------------------
keygen() {
    [ -f "$T/sign.key" ] || "$CTL" keygen --out "$T" --name sign >/dev/null
}
pki() {
    local m args=()
    keygen
    for m in "$@"; do args+=(--mirror "$m"); done
    if [ -f "$T/pki/ca.pem" ]; then
        [ $# = 0 ] || "$CTL" certs --dir "$T/pki" "${args[@]}" >/dev/null
    else
        "$CTL" certs --dir "$T/pki" --master-name master.test "${args[@]}" >/dev/null
    fi
    echo "$TOK" >"$T/token"
    [ -f "$T/revoked" ] || : >"$T/revoked"
}
ini_set() {
    local f=$1 e sec kv op
    shift
    for e in "$@"; do
        sec=${e%%|*}
        kv=${e#*|}
        case $kv in
        +*) op=add kv=${kv#+} ;;
        -*) op=del kv=${kv#-} ;;
        *) op=set ;;
        esac
        # ENVIRON, not -v: values keep their backslashes.
        SEC="[$sec]" KEY="${kv%%[ =]*}" LINE="$kv" OP=$op awk '
            function put() { if (!done && ENVIRON["OP"] != "del") print ENVIRON["LINE"]; done = 1 }
            # Blank lines wait, so that an added line ends its section, not the gap after it.
            /^[ \t]*$/ { gap = gap $0 "\n"; next }
            /^\[/ { if (in_s) put(); printf "%s", gap; gap = ""
                    in_s = ($0 == ENVIRON["SEC"]); seen += in_s; print; next }
            { printf "%s", gap; gap = "" }
            in_s && ENVIRON["OP"] != "add" && $1 == ENVIRON["KEY"] { if (ENVIRON["OP"] == "set") put(); next }
            { print }
            END { if (in_s) put(); else if (!seen && ENVIRON["OP"] != "del") { print ENVIRON["SEC"]; print ENVIRON["LINE"] }
                  printf "%s", gap }
        ' "$f" >"$f.new"
        mv "$f.new" "$f"
    done
}
write_master_conf() {
    local a
    keygen
    [ -f "$T/token" ] || echo "$TOK" >"$T/token"
    [ -n "${HTTP_PORT:-}" ] || alloc_port HTTP_PORT SYNC_PORT MMET_PORT
    a=$(addr_of master)
    MASTER_URL="http://$(hostport "$a" "$HTTP_PORT")"
    cat >"$T/master.conf" <<CONF
[master]
feed = main
db = $T/master.db
[http]
listen = $(hostport "$a" "$HTTP_PORT")
token_file = $T/token
[publisher]
spool = $T/spool
key = $T/sign.key
delay = 10ms
max_delay = 50ms
retry_max = 500ms
[policy]
expire_interval = 50ms
[metrics]
listen = $(hostport "$a" "$MMET_PORT")
CONF
    [ ! -f "$T/pki/master.pem" ] || cat >>"$T/master.conf" <<CONF
[sync]
listen = $(hostport "$a" "$SYNC_PORT")
cert = $T/pki/master.pem
tls_key = $T/pki/master.key
ca = $T/pki/ca.pem
revoked = $T/revoked
heartbeat_interval = 300ms
CONF
    ini_set "$T/master.conf" "$@"
}
master_healthy() { in_ns master curl -sf --max-time "$_BL_CURL_TIME" "$MASTER_URL/v1/health" >/dev/null; }
start_master() {
    [ -f "$T/master.conf" ] || write_master_conf
    spawn master "$MASTER" -c "$T/master.conf" "$@"
    wait_up master 20 master_healthy
    if grep -q '^\[sync\]' "$T/master.conf"; then
        wait_up master 10 logged master "event=sync_listen"
    fi
    # The API can answer /v1/health before the public listener is up (its TLS set-up too).
    if awk '/^\[/ { s = $0 } s == "[public]" && /^listen *=/ { f = 1 } END { exit !f }' "$T/master.conf"; then
        wait_up master 10 logged master "event=public_listening"
    fi
}
stop_master() { stop_clean master; }
# The end of a mirror's [sync] (state, freshness) and its synced zone.
_bl_sync_rest() {
    cat <<CONF
state_dir = $T/$1/state
stale_after = 10m
freeze_after = 20m
[zone $ZONE]
feed = main
ttl = 1
trusted_key = $T/sign.pub
CONF
}
write_mirror_conf() {
    local who=$1 files= a f
    shift
    if [ "${1:-}" = --files ]; then
        files=1
        shift
    fi
    [ -n "${DNS_PORT[$who]:-}" ] || {
        alloc_port _BL_P
        DNS_PORT[$who]=$_BL_P
    }
    a=$(addr_of "$who")
    f=$T/$who/mirror.conf
    mkdir -p "$T/$who"
    cat >"$f" <<CONF
[server]
listen = $(hostport "$a" "${DNS_PORT[$who]}")
threads = 1
metrics_listen = $(hostport "$a" 0)
CONF
    [ -n "$files" ] || cat >>"$f" <<CONF
[sync]
master = $(hostport "$(addr_of master)" "${SYNC_PORT:?write_master_conf first}")
server_name = master.test
cert = $T/pki/mirror-$who.pem
key = $T/pki/mirror-$who.key
ca = $T/pki/ca.pem
backoff_min = 50ms
backoff_max = 300ms
CONF
    [ -n "$files" ] || _bl_sync_rest "$who" >>"$f"
    ini_set "$f" "$@"
}
write_pull_conf() {
    local who=$1 f=$T/$1/mirror.conf
    shift
    write_mirror_conf "$who" --files
    {
        echo "[sync]"
        if [[ " $* " == *" push "* ]]; then
            echo "master = $(hostport "$(addr_of master)" "${SYNC_PORT:?write_master_conf first}")"
            echo "server_name = master.test"
            echo "cert = $T/pki/mirror-$who.pem"
            echo "key = $T/pki/mirror-$who.key"
            echo "ca = $T/pki/ca.pem"
            echo "backoff_min = 50ms"
            echo "backoff_max = 300ms"
        fi
        cat <<CONF
upstream = $*
poll_interval = 300ms
poll_jitter = 100ms
pull_timeout = 2s
CONF
        _bl_sync_rest "$who"
    } >>"$f"
}
combined_zones() {
    cat >>"$T/$1/mirror.conf" <<CONF
[zone all.test]
feed = main spamtrap:127.0.0.4
ttl = 1
trusted_key = $T/sign.pub
txt = Listed: \$
reason.4 = Spamtrap hit: \$
[zone trap.test]
feed = spamtrap
ttl = 1
trusted_key = $T/sign.pub
CONF
}
start_mirror() {
    local who=$1
    shift
    [ -f "$T/$who/mirror.conf" ] || write_mirror_conf "$who"
    spawn "$who" "$MIRROR" -c "$T/$who/mirror.conf" "$@"
    wait_up "$who" 20 logged "$who" event=listening
    MET_PORT[$who]=$(since "$who" | sed -n 's/.*event=metrics addr=[^ ]* port=\([0-9]*\).*/\1/p' | tail -n 1)
}

start_nginx() {
    local who=$1 port=$2 d=$T/$1
    mkdir -p "$d/tmp" "$d/cache"
    cat >"$d/nginx.conf" <<CONF
worker_processes 1;
user root root;
pid $d/nginx.pid;
error_log $d/error.log info;
events { worker_connections ${NGINX_CONNECTIONS:-1024}; }
http {
    log_format bl '\$request_method \$uri \$status \$body_bytes_sent \$upstream_cache_status \$msec \$args';
    access_log $d/access.log bl;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    default_type application/octet-stream;
    keepalive_requests 100000;
$3
}
CONF
    spawn "$who" nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" -g 'daemon off;'
    wait_up "$who" 10 curl -s -o /dev/null --max-time 2 "http://$(hostport "$(addr_of "$who")" "$port")/"
}
spool_locations() {
    cat <<'CONF'
        location ~ /head$ { add_header Cache-Control "max-age=1"; }
        location ~ /by-hash/ { add_header Cache-Control "public, max-age=31536000, immutable"; }
        location / { return 404; }
CONF
}
cache_tier() {
    cat <<CONF
    proxy_cache_path $T/$1/cache levels=1:2 keys_zone=$1:10m max_size=${4:-100m} inactive=1h;
    server {
        listen 127.0.0.1:$2${5:+ $5};
CONF
    [ "${6:-}" != headpass ] || cat <<CONF
        location ~ /head\$ {
            proxy_pass http://127.0.0.1:$3;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_read_timeout 90s;
            add_header X-Cache PASS;
        }
CONF
    cat <<CONF
        location / {
            proxy_pass http://127.0.0.1:$3;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache $1;
            proxy_cache_lock on;
            proxy_cache_revalidate on;
            proxy_cache_use_stale updating;
            # Long polls (head?after=): held up to spool_long_poll_wait (60 s
            # at most) upstream, while the other askers of the URL wait for
            # the one answer.
            proxy_read_timeout 90s;
            proxy_cache_lock_age 90s;
            proxy_cache_lock_timeout 90s;
            add_header X-Cache \$upstream_cache_status;
        }
    }
CONF
}

# ---- master API and state ---------------------------------------------------
api() {
    local auth=${4-Bearer $TOK}
    STATUS=$(in_ns master curl -s --max-time "$_BL_CURL_TIME" -o "$T/out" -w '%{http_code}' -X "$1" \
        ${auth:+-H "Authorization: $auth"} -H 'Content-Type: application/json' \
        ${3:+--data-binary "$3"} "$MASTER_URL$2") || true
}
expect() {
    local st=$1 got
    shift
    [ "$STATUS" = "$st" ] || fail "HTTP $STATUS, want $st: $(cat "$T/out")"
    while [ $# -ge 2 ]; do
        got=$(jq -r "$1" <"$T/out")
        [ "$got" = "$2" ] || fail "$1 = '$got', want '$2' in $(cat "$T/out")"
        shift 2
    done
}
expect_msg() {
    [ "$STATUS" = "$1" ] || fail "HTTP $STATUS, want $1: $(cat "$T/out")"
    grep -q -- "$2" "$T/out" || fail "response lacks '$2': $(cat "$T/out")"
}
lookup() { api GET "/v1/lookup/$1"; }
lookup_is() { lookup "$1" && [ "$STATUS" = 200 ] && [ "$(jq -r "$2" <"$T/out")" = "$3" ]; }
list() {
    api POST /v1/listings "{\"prefix\":\"$1\",\"comment\":\"test\"}"
    [[ $STATUS == 2* ]] || fail "listing $1: HTTP $STATUS $(cat "$T/out")"
}
delist() {
    api DELETE "/v1/listings/$1?reason=technical-error"
    [[ $STATUS == 2* ]] || fail "delisting $1: HTTP $STATUS $(cat "$T/out")"
}
ctl_says() {
    local pat=$1
    shift
    grep -qE -- "$pat" <<<"$(in_ns master "$CTL" "$@" --url "$MASTER_URL")"
}
master_status() {
    in_ns master curl -sf --max-time "$_BL_CURL_TIME" -H "Authorization: Bearer $TOK" \
        "$MASTER_URL/v1/status" | jq -r "${@:-.}"
}
master_serial() { master_status .serial; }
pending() { master_status .pending; }
published_all() { [ "$(pending)" = 0 ]; }
_bl_published_past() { [ "$(master_serial)" -gt "$1" ]; }
wait_published() {
    wait_until 10 _bl_published_past "$1" || fail "master did not publish past $1"
    master_serial
}

# ---- the public page ([public] listen = PUB_URL's address) -------------------
# pub METHOD PATH [CURL-ARGS...]   a request to the public listener with the
#                 cookie jar $T/jar; body in $T/pub.out, headers in $T/pub.hdr,
#                 status in STATUS
# pub_csrf PATH   fetches the form at PATH and prints its CSRF field
# pub_form PATH FIELD=VALUE...   sends the form on the page at PATH (with its
#                 CSRF token) as x-www-form-urlencoded to the form's action
pub() {
    local m=$1 p=$2
    shift 2
    STATUS=$(in_ns master curl -s --max-time "$_BL_CURL_TIME" -b "$T/jar" -c "$T/jar" \
        -o "$T/pub.out" -D "$T/pub.hdr" -w '%{http_code}' -X "$m" "$@" "$PUB_URL$p") || true
}
pub_csrf() {
    pub GET "$1"
    sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' "$T/pub.out" | head -n 1
}
pub_form() {
    local csrf action a=()
    csrf=$(pub_csrf "$1")
    action=$(sed -n 's/.*<form class="review" method="post" action="\([^"]*\)".*/\1/p' "$T/pub.out")
    shift
    for f in "$@"; do a+=(--data-urlencode "$f"); done
    pub POST "${action:-/review}" --data-urlencode "csrf=$csrf" "${a[@]}"
}

# ---- metrics ----------------------------------------------------------------
scrape() {
    local port
    if [ "$1" = master ]; then port=$MMET_PORT; else port=${MET_PORT[$1]:-}; fi
    [ -n "$port" ] || return 1
    in_ns "$1" curl -sf --max-time "$_BL_CURL_TIME" "http://$(hostport "$(addr_of "$1")" "$port")${2:-/metrics}"
}
metric() { scrape "$1" | awk -v k="$2" '$1 == k { print $2 }'; }
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }
# Nothing pending first: right after an API write the master's serial is the old one, which the
# mirror already has.
synced() { published_all && [ "$(metric "$1" 'blsync_mirror_serial{feed="main"}')" = "$(master_serial)" ]; }
all_synced() {
    local w
    for w in "$@"; do synced "$w" || return 1; done
}

# ---- DNS --------------------------------------------------------------------
dq() {
    local who=$1
    shift
    _bl_secs "${DIG_TIME:-2}"
    in_ns "$who" dig @"$(addr_of "$who")" -p "${DNS_PORT[$who]}" +time="$REPLY" +tries=1 "$@"
}
dig_status() { dq "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
expect_status() {
    local who=$1 want=$2 got
    shift 2
    got=$(dig_status "$who" "$@") || true
    [ "$got" = "$want" ] || fail "dig $*: status '$got', want '$want'"
}
revlines() {
    $PY -c '
import ipaddress, sys
for line in sys.stdin:
    f = line.split()
    if len(f) < 2:
        continue
    r = ipaddress.ip_address(f[1]).reverse_pointer
    r = r[: -len(".in-addr.arpa")] if r.endswith(".in-addr.arpa") else r[: -len(".ip6.arpa")]
    print(" ".join([f[0], r, f[1]] + f[2:]))'
}
revname() {
    local a b c d
    case $1 in
    *:*) echo "x $1" | revlines | cut -d' ' -f2 ;;
    *)
        IFS=. read -r a b c d <<<"$1"
        echo "$d.$c.$b.$a"
        ;;
    esac
}
dig_batch() {
    local q=$T/.dig_batch.$BASHPID first
    cat >"$q"
    read -r first _ <"$q" || return 0
    _bl_secs "${DIG_TIME:-2}"
    while read -r w n t; do
        echo "@$(addr_of "$w") -p ${DNS_PORT[$w]} +time=$REPLY +tries=1 +noall +comments +answer $n $t"
    done <"$q" >"$q.args"
    # One response (a header) or one "no servers" line per query, in order.
    { in_ns "$first" dig -f "$q.args" || true; } | awk '
        NR == FNR { q[++n] = $1 " " $2 " " $3; next }
        function flush() { if (i) print q[i], st ans; ans = "" }
        /->>HEADER<<-/ { flush(); i++; st = $0; sub(/.*status: /, "", st); sub(/,.*/, "", st); next }
        /no servers could be reached/ { flush(); i++; st = "timeout"; next }
        /^;/ || NF < 5 { next }
        { r = $0; for (k = 0; k < 4; k++) sub(/^[^ \t]+[ \t]+/, "", r); ans = ans " " r }
        END { flush() }' "$q" -
    rm -f "$q" "$q.args"
}
# _bl_answer_of STATUS [A-RDATA...]: what answer prints for a response.
_bl_answer_of() {
    case $1 in
    NXDOMAIN) echo nx ;;
    NOERROR)
        shift
        if [ $# = 0 ]; then echo nodata; else printf '%s\n' "$@"; fi
        ;;
    *) echo "${1:-timeout}" ;;
    esac
}
answer() {
    local st rest
    read -r _ _ _ st rest < <(echo "$1 $(revname "$2").${3:-$ZONE} A" | dig_batch)
    _bl_answer_of "${st:-timeout}" $rest # the A records, one word each
}
all_answer() {
    local ip=$1 want=$2 w st rest n=0
    shift 2
    while read -r w _ _ st rest; do
        [ "$(_bl_answer_of "$st" $rest)" = "$want" ] || return 1
        n=$((n + 1))
    done < <(for w in "$@"; do echo "$w $(revname "$ip").$ZONE A"; done | dig_batch)
    [ "$n" = $# ]
}
listing_round() {
    local ip=$1
    shift
    list "$ip"
    wait_until 20 all_answer "$ip" 127.0.0.2 "$@" || fail "a listing of $ip did not reach $*"
    pass "a listing of $ip reached $*"
    delist "$ip"
    wait_until 20 all_answer "$ip" nx "$@" || fail "a delisting of $ip did not reach $*"
    wait_until 10 all_synced "$@" || fail "serials of $* differ from the master's $(master_serial)"
    pass "a delisting of $ip reached $*, all at serial $(master_serial)"
}
is_answer() { [ "$(answer "$1" "$2")" = "$3" ]; }
dns_up() { [ -n "$(dig_status "$1" . SOA)" ]; }
soa_serial() { dq "$1" +short "${2:-$ZONE}" SOA | awk '{ print $3 }'; }
in_sync() { published_all && [ "$(soa_serial "$1")" = "$(master_serial)" ]; }
