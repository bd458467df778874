#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""UDP DNS clients on loopback, each from its own source address (every
127.x.y.z is local, so a test can speak from thousands of them).

flood.py PORT NAME flood SECONDS PREFIXES PER_PREFIX QPS
    sends NAME/A at QPS in all for SECONDS from PER_PREFIX addresses in
    each of PREFIXES /24s (127.50.0.0 upwards), never waiting; prints
    "sent N answers N truncated N prefixes_answered N".
flood.py PORT NAME steady SOURCE COUNT INTERVAL_MS
    one query at a time from SOURCE, one every INTERVAL_MS, each waiting up
    to 1 s for its answer; prints "sent N answered N truncated N lost N".
"""
import random
import select
import socket
import struct
import sys
import time


def query(name, qid):
    wire = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split("."))
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + wire + b"\0" + struct.pack(">HH", 1, 1)


def flags(pkt):
    return struct.unpack(">H", pkt[2:4])[0] if len(pkt) >= 12 else 0


def flood(port, name, seconds, prefixes, per, qps):
    socks = []
    for p in range(prefixes):
        for h in range(per):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.50.%d.%d" % (p, h + 1), 0))
            s.setblocking(False)
            socks.append((p, s))
    sent = answers = truncated = 0
    answered = set()
    start = time.monotonic()
    end = start + seconds
    qid = random.randrange(65536)

    def drain(timeout):
        nonlocal answers, truncated
        r, _, _ = select.select([s for _, s in socks], [], [], timeout)
        for s in r:
            while True:
                try:
                    pkt = s.recv(4096)
                except BlockingIOError:
                    break
                if flags(pkt) & 0x0200:
                    truncated += 1
                else:
                    answers += 1
                    answered.add(s.getsockname()[0].rsplit(".", 1)[0])

    i = 0
    while time.monotonic() < end:
        # small bursts: the server's socket queue (rmem_default) holds a
        # few hundred queries, and the test is about the limiter, not it
        behind = int((time.monotonic() - start) * qps) - sent
        if behind <= 0:
            drain(0.002)
            continue
        for _ in range(min(behind, 16)):
            s = socks[i % len(socks)][1]
            i += 1
            qid = (qid + 1) & 0xFFFF
            try:
                s.sendto(query(name, qid), ("127.0.0.1", port))
            except (BlockingIOError, ConnectionRefusedError):
                pass
            sent += 1
        drain(0)
    drain(0.5)
    print("sent %d answers %d truncated %d prefixes_answered %d" % (sent, answers, truncated, len(answered)))


def steady(port, name, source, count, interval_ms):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))
    s.settimeout(1.0)
    sent = answered = truncated = lost = 0
    nxt = time.monotonic()
    for i in range(count):
        qid = (i * 7919) & 0xFFFF
        s.sendto(query(name, qid), ("127.0.0.1", port))
        sent += 1
        try:
            while True:
                pkt = s.recv(4096)
                if len(pkt) >= 2 and struct.unpack(">H", pkt[:2])[0] == qid:
                    break
            if flags(pkt) & 0x0200:
                truncated += 1
            else:
                answered += 1
        except socket.timeout:
            lost += 1
        nxt += interval_ms / 1000.0
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print("sent %d answered %d truncated %d lost %d" % (sent, answered, truncated, lost))


def main():
    port, name, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    if mode == "flood":
        flood(port, name, float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]))
    else:
        steady(port, name, sys.argv[4], int(sys.argv[5]), float(sys.argv[6]))


if __name__ == "__main__":
    main()
