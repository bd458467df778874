# SPDX-License-Identifier: MIT
# Sourced by the tests that install the .deb (deb.sh, migrating.sh) after
# tests/lib.sh: builds the package with CPack ($deb), makes a network
# namespace ($NS, the hosts' shared network, 192.0.2.10 on its loopback) and
# hosts in it (make_host: overlays of this system's root in which blsync was
# never installed), runs commands in them as root (in_host), and starts the
# package's units as systemd would (start_unit).
# Needs root (mounts, chroot, namespaces); the system itself is not changed.
[ "$(id -u)" = 0 ] || { echo "needs root (overlay mounts, chroot)"; exit 77; }
for c in cpack dpkg-deb chroot setpriv ip dig; do
    command -v "$c" >/dev/null || { echo "needs $c"; exit 77; }
done

(cd "$B" && cpack -G DEB -B "$T/pkg") >"$T/cpack.log" 2>&1 || fail "cpack"
deb=$(ls "$T"/pkg/blsync_*.deb)
dpkg-deb -f "$deb" Package Version Depends

NS=bl-deb-$$
MOUNTS=()
undo() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[i]}" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
}
on_exit undo
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 192.0.2.10/32 dev lo

# A host: this system's root under an overlay (writes stay in $T), its own
# /proc, this /dev, and no trace of an earlier blsync (user, files, package).
# Its daemons run in $NS (NETNS[HOST]).
declare -A ROOT
make_host() {
    local h=$1 r="$T/$1/root"
    mkdir -p "$T/$h/upper" "$T/$h/work" "$r"
    mount -t overlay overlay -o "lowerdir=/,upperdir=$T/$h/upper,workdir=$T/$h/work" "$r"
    MOUNTS+=("$r")
    mount -t proc proc "$r/proc" && MOUNTS+=("$r/proc")
    mount --bind /dev "$r/dev" && MOUNTS+=("$r/dev")
    mount -t tmpfs tmpfs "$r/run" && MOUNTS+=("$r/run")
    mount -t tmpfs tmpfs "$r/tmp" && MOUNTS+=("$r/tmp")
    sed -i '/^blsync:/d' "$r"/etc/{passwd,group,shadow,gshadow}
    rm -rf "$r"/etc/blsync "$r"/var/lib/blsync "$r"/var/lib/blsync-mirror
    ! grep -q 'ok installed' <<<"$(chroot "$r" dpkg-query -W -f '${Status}' blsync 2>/dev/null)" ||
        chroot "$r" dpkg --purge blsync >/dev/null
    cp "$deb" "$r/root/"
    ROOT[$h]=$r
    NETNS[$h]=$NS
}

# Runs a shell block in HOST as root, in /root, with a clean environment.
in_host() {
    local h=$1
    shift
    ip netns exec "$NS" chroot "${ROOT[$h]}" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
        PATH=/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -c "cd /root && $1"
}

# The values of KEY in HOST's UNIT file and its drop-ins (/etc/systemd/system/
# UNIT.d/*.conf, in order), one a line; an empty assignment drops the values
# before it, as systemd does for list settings.
unit_values() {
    local r=${ROOT[$1]} unit=$2 key=$3 f files=()
    for f in "$r/usr/lib/systemd/system/$unit" "$r/etc/systemd/system/$unit.d/"*.conf; do
        [ ! -f "$f" ] || files+=("$f")
    done
    cat "${files[@]}" |
        awk -v k="$key=" 'index($0, k) == 1 { v = substr($0, length(k) + 1); if (v == "") n = 0; else l[++n] = v }
                          END { for (i = 1; i <= n; i++) print l[i] }'
}

# What `systemctl enable --now UNIT` starts, as systemd would: the unit's
# ExecStart as its User and Group in its WorkingDirectory under its UMask,
# its StateDirectory and RuntimeDirectory made for that user, its ambient
# capabilities; where the package has UNIT.socket, under
# tests/mirror/sockholder.py, which binds the socket unit's addresses (drop-ins
# included) as root and passes them (LISTEN_FDS). SIGHUP to PID[HOST] restarts
# the unit's program.
start_unit() {
    local h=$1 unit=$2 r=${ROOT[$1]} f key val
    f="$r/usr/lib/systemd/system/$unit.service"
    declare -A u=()
    while IFS='=' read -r key val; do
        [ -n "${u[$key]:-}" ] || u[$key]=$val
    done < <(grep -E '^(ExecStart|User|Group|StateDirectory|StateDirectoryMode|RuntimeDirectory|WorkingDirectory|AmbientCapabilities|UMask)=' "$f")
    in_host "$h" "install -d -o ${u[User]} -g ${u[Group]} -m ${u[StateDirectoryMode]} /var/lib/${u[StateDirectory]} &&
                  install -d -o ${u[User]} -g ${u[Group]} -m 0755 /run/${u[RuntimeDirectory]}"
    local caps=()
    if [ -n "${u[AmbientCapabilities]:-}" ]; then
        val=$(tr 'A-Z' 'a-z' <<<"${u[AmbientCapabilities]#CAP_}")
        caps=(--inh-caps "+$val" --ambient-caps "+$val")
    fi
    local holder=
    if [ -f "$r/usr/lib/systemd/system/$unit.socket" ]; then
        cp "$S/tests/mirror/sockholder.py" "$r/root/"
        holder="/usr/bin/python3 /root/sockholder.py"
        for val in $(unit_values "$h" "$unit.socket" ListenDatagram); do
            unit_values "$h" "$unit.socket" ListenStream | grep -qx "$val" ||
                fail "$unit.socket: ListenDatagram=$val without its ListenStream="
            holder+=" --listen $val"
        done
        holder+=" --"
    fi
    spawn "$h" chroot "$r" /bin/sh -c "umask ${u[UMask]:-0022} && cd ${u[WorkingDirectory]} && exec $holder \
        $(command -v setpriv) --reuid=${u[User]} --regid=${u[Group]} --init-groups ${caps[*]} ${u[ExecStart]}"
}

listening() { ip netns exec "$NS" ss -Hltn "sport = :$1" | grep -q .; }

# The blocks of DOC (a fenced block of any language) that follow a line
# "<!-- TAG: HOST [WORDS] -->", in order, written to $T/TAG-NN-HOST: prints
# "HOST<TAB>FILE<TAB>WORDS" lines.
doc_blocks() {
    awk -v dir="$T" -v tag="$2" '
        $0 ~ "^<!-- " tag ": [a-z]+.* -->$" { host = $3; words = $0; sub("^<!-- " tag ": [a-z]+ ?", "", words); sub(" ?-->$", "", words); next }
        !inb && host && /^```[a-z]*$/ { n++; file = sprintf("%s/%s-%02d-%s", dir, tag, n, host); inb = 1; next }
        inb && /^```$/ { print host "\t" file "\t" words; inb = 0; host = ""; next }
        inb { print > file }
    ' "$1"
}
