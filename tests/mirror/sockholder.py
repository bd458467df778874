#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Holds a mirror's listening sockets across restarts, as a systemd .socket unit does.

sockholder.py [--listen ADDR:PORT]... [--rcvbuf BYTES] -- PROGRAM ARGS...

Binds a UDP socket and a listening TCP socket on every ADDR:PORT (non-blocking,
the UDP receive buffer forced to BYTES with SO_RCVBUFFORCE as root, else as
large as SO_RCVBUF allows), then runs PROGRAM with them as descriptors 3, 4, ...
and LISTEN_PID (the program's own pid), LISTEN_FDS and LISTEN_FDNAMES in its
environment: systemd's socket-activation protocol. With no --listen it passes
nothing (a plain restart, for comparison).

SIGHUP restarts the program as `systemctl restart` does: SIGTERM to the running
one, wait for its exit, start a new one with the same sockets. SIGTERM or
SIGINT stops it and the holder. If the program exits by itself, the holder
exits with its status. Lines on stdout: "holder: started pid=N",
"holder: exited pid=N status=S".
"""
import os
import signal
import socket
import sys

SO_RCVBUFFORCE = 33


def parse_hostport(s):
    if s.startswith("["):
        host, _, port = s[1:].partition("]:")
        return socket.AF_INET6, host, int(port)
    host, _, port = s.rpartition(":")
    return socket.AF_INET, host, int(port)


def bind_all(listens, rcvbuf):
    socks = []
    for spec in listens:
        fam, host, port = parse_hostport(spec)
        u = socket.socket(fam, socket.SOCK_DGRAM)
        try:
            u.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
        except PermissionError:
            u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        t = socket.socket(fam, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        for s in (u, t):
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((host, port))
            s.setblocking(False)  # systemd's sockets are non-blocking
        t.listen(128)
        socks += [(u, "dns-udp"), (t, "dns-tcp")]
    return socks


def spawn(argv, socks):
    fds = [s.fileno() for s, _ in socks]
    names = ":".join(n for _, n in socks)
    pid = os.fork()
    if pid:
        print(f"holder: started pid={pid}", flush=True)
        return pid
    try:
        # out of the way of 3, 4, ... first, then into place (dup2 clears
        # close-on-exec: the program inherits them)
        high = [os.dup(fd) for fd in fds]
        for i, fd in enumerate(high):
            os.dup2(fd, 3 + i)
        env = dict(os.environ)
        if fds:
            env.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS=str(len(fds)),
                       LISTEN_FDNAMES=names)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        os.execve(argv[0], argv, env)
    finally:
        os._exit(127)


def main():
    args = sys.argv[1:]
    listens, rcvbuf = [], 32 << 20
    while args and args[0] != "--":
        if args[0] == "--listen":
            listens.append(args[1])
        elif args[0] == "--rcvbuf":
            rcvbuf = int(args[1])
        else:
            sys.exit(f"sockholder: unknown argument {args[0]}")
        args = args[2:]
    argv = args[1:]
    if not argv:
        sys.exit(__doc__)
    socks = bind_all(listens, rcvbuf)
    sigs = {signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    pid = spawn(argv, socks)
    while True:
        sig = signal.sigwait(sigs)
        if sig == signal.SIGCHLD:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                print(f"holder: exited pid={pid} status={code}", flush=True)
                sys.exit(code if code >= 0 else 128 - code)
            continue
        os.kill(pid, signal.SIGTERM)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        print(f"holder: exited pid={pid} status={code}", flush=True)
        if sig != signal.SIGHUP:
            sys.exit(code if code >= 0 else 128 - code)
        pid = spawn(argv, socks)


if __name__ == "__main__":
    main()
