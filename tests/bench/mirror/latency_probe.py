#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What a client sees while a server is loaded: sends one query (the RFC 5782
test entry 127.0.0.2, A) every 3 ms, one at a time, and prints the round-trip
percentiles. Usage: latency_probe.py PORT [COUNT] (run beside dnsperf)."""
import socket
import struct
import sys
import time


def main():
    port = int(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    name = b"".join(bytes([len(l)]) + l for l in b"2.0.0.127.bl.example.org".split(b"."))
    query = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + name + b"\0" + struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    rtt, lost = [], 0
    for _ in range(count):
        t = time.perf_counter()
        s.sendto(query, ("127.0.0.1", port))
        try:
            s.recv(512)
            rtt.append((time.perf_counter() - t) * 1e6)
        except socket.timeout:
            lost += 1
        time.sleep(0.003)
    rtt.sort()
    n = len(rtt)
    if not n:
        print("no answers")
        return 1
    pct = lambda p: rtt[min(n - 1, int(n * p))]
    print("p50 %.0f us, p90 %.0f us, p99 %.0f us (%d answered, %d lost)" % (pct(0.5), pct(0.9), pct(0.99), n, lost))
    return 0


if __name__ == "__main__":
    sys.exit(main())
