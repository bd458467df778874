#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""One refused sync connection of each kind, for the refusal counters of tests/attack.

  tls_probe.py PORT CA garbage               bytes that are not TLS
  tls_probe.py PORT CA tls12                 a TLS 1.2 client
  tls_probe.py PORT CA nocert                TLS 1.3 without a client certificate
  tls_probe.py PORT CA cert CERT KEY         TLS 1.3 with this client certificate
Prints "refused" when the master closed the connection without a session, "open" when it
kept the connection (it then waits for a HELLO) or did not answer within 3 s, and exits 0
either way.
"""
import socket
import ssl
import sys


def outcome(s):
    s.settimeout(3)
    try:
        data = s.recv(1)
    except socket.timeout:
        return "open"  # no answer and no close: the master waits for a HELLO
    except (ssl.SSLError, ConnectionError, OSError):
        return "refused"
    return "refused" if not data else "open"


def main():
    port, ca, kind = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    raw = socket.create_connection(("127.0.0.1", port), timeout=3)
    if kind == "garbage":
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        print(outcome(raw))
        return
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    if kind == "tls12":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    else:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if kind == "cert":
        ctx.load_cert_chain(sys.argv[4], sys.argv[5])
    try:
        s = ctx.wrap_socket(raw, server_hostname="master.test")
    except socket.timeout:
        print("open")
        return
    except (ssl.SSLError, ConnectionError, OSError):
        print("refused")
        return
    print(outcome(s))


if __name__ == "__main__":
    main()
