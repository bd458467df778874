#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Times a change of DNS answers: when does every mirror answer as wanted?

  answers.py --want nx|ADDR --ready FILE --timeout SECONDS NAME HOST:PORT...

Asks every server for NAME's A records over UDP (dnspython's messages), one round every 10 ms, and writes
FILE after the first round (the caller then makes the change). WANT nx is an NXDOMAIN or an
answer without an A record; else the A record ADDR. Prints the wall clock (Unix ms) of the
round in which every server first answered as wanted and exits 0; at the timeout it prints
each server's last answer and exits 1 (2 when they answered as wanted before the change). One process polling over one socket sees a change
within milliseconds even on a loaded machine, where a dig process per poll costs hundreds.
"""
import argparse
import socket
import sys
import time

# dns.message alone: dns.query pulls in modules that take seconds to import on a loaded machine.
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype


def ask(name, server):
    host, port = server.rsplit(":", 1)
    host = host.strip("[]")
    q = dns.message.make_query(name, dns.rdatatype.A)
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        try:
            s.sendto(q.to_wire(), (host, int(port)))
            while True:
                wire, _ = s.recvfrom(65535)
                r = dns.message.from_wire(wire)
                if r.id == q.id:
                    break
        except (OSError, dns.exception.DNSException):
            return "timeout"
    if r.rcode() == dns.rcode.NXDOMAIN:
        return "nx"
    if r.rcode() != dns.rcode.NOERROR:
        return dns.rcode.to_text(r.rcode())
    addrs = sorted(rd.address for rr in r.answer if rr.rdtype == dns.rdatatype.A for rd in rr)
    return " ".join(addrs) if addrs else "nx"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--want", required=True)
    p.add_argument("--ready", required=True)
    p.add_argument("--timeout", type=float, required=True)
    p.add_argument("name")
    p.add_argument("servers", nargs="+")
    a = p.parse_args()
    end = time.monotonic() + a.timeout
    ready = False
    while True:
        last = {s: ask(a.name, s) for s in a.servers}
        now_ms = time.time_ns() // 1_000_000
        if ready and all(v == a.want for v in last.values()):
            print(now_ms)
            return 0
        if not ready:
            if all(v == a.want for v in last.values()):
                print("already answered as wanted before the change", file=sys.stderr)
                return 2
            open(a.ready, "w").close()
            ready = True
        if time.monotonic() > end:
            print(" ".join(f"{s}={v}" for s, v in last.items()))
            return 1
        time.sleep(0.01)


if __name__ == "__main__":
    sys.exit(main())
