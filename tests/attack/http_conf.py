#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Requests that break HTTP/1.1's framing rules (RFC 9112), sent raw to one listener.

  http_conf.py [--timeout S] [--header H]... PORT METHOD PATH CASE...

A CASE is a name below or the name of a group of them (host, te, fields, target, query, no-body). Each case is one request to METHOD PATH (with the extra --header lines) on its own
connection, bent as the case says, with a small chunked or sized body when the case
has one. It passes when the first answer has the status the case wants within the
timeout and, when the case says so, the server then closes the connection (nothing
sent after the request is read as another one). Prints one line per case; exits 1
when one failed.
"""
import argparse
import socket
import sys
import time

CHUNKED = b"3\r\nabc\r\n0\r\n\r\n"

# name: (start line version, header lines, body, wanted status, closed after[, target]), by
# group; target (a format of the path) replaces the path in the start line. The wanted status
# "!400" means any answer but 400 (a request that is valid).
GROUPS = {}
GROUPS["host"] = {
    # RFC 9112 3.2: Host is required in HTTP/1.1, once, and valid.
    "no-host": ("HTTP/1.1", [], b"", "400", True),
    "two-hosts": ("HTTP/1.1", ["Host: a", "host: b"], b"", "400", True),
    "bad-host": ("HTTP/1.1", ["Host: a b"], b"", "400", True),
    "bad-host-10": ("HTTP/1.0", ["Host: a/b"], b"", "400", True),
    "empty-host": ("HTTP/1.1", ["Host:"], b"", "!400", False),
    "ipv6-host": ("HTTP/1.1", ["Host: [::1]:80"], b"", "!400", False),
    "no-host-10": ("HTTP/1.0", [], b"", "!400", False),
}
GROUPS["te"] = {
    # RFC 9112 6.1, 6.3: chunked must be the last coding, once (else 400); a coding the
    # server does not know is 501 (as is chunked in a list libmicrohttpd does not read); Transfer-Encoding in HTTP/1.0 or next to a
    # Content-Length is faulty framing (400). Either way the connection closes.
    "te-gzip": ("HTTP/1.1", ["Host: a", "Transfer-Encoding: gzip"], b"abc", "400", True),
    "te-gzip-chunked": ("HTTP/1.1", ["Host: a", "Transfer-Encoding: gzip, chunked"], CHUNKED,
                        "501", True),
    "te-chunked-gzip": ("HTTP/1.1", ["Host: a", "Transfer-Encoding: chunked",
                                     "Transfer-Encoding: gzip"], CHUNKED, "400", True),
    "te-chunked-twice": ("HTTP/1.1", ["Host: a", "Transfer-Encoding: chunked, chunked"],
                         CHUNKED, "400", True),
    "te-identity": ("HTTP/1.1", ["Host: a", "Transfer-Encoding: identity"], b"abc", "400",
                    True),
    "te-and-length": ("HTTP/1.1", ["Host: a", "Content-Length: 3",
                                   "Transfer-Encoding: chunked"], CHUNKED, "400", True),
    "te-10": ("HTTP/1.0", ["Host: a", "Transfer-Encoding: chunked"], CHUNKED, "400", True),
    "te-list": ("HTTP/1.1", ["Host: a", "Transfer-Encoding: , chunked"], CHUNKED, "501", True),
}

GROUPS["fields"] = {
    # RFC 9112 5.1: no whitespace between a field name and its colon; 5.2: a folded line
    # (obs-fold) is refused (libmicrohttpd 0.9.75 joins it to the name: "X-Test2: 1");
    # RFC 9110 5.5, RFC 9112 2.2: a bare CR or another control character in a value.
    "space-colon": ("HTTP/1.1", ["Host : a"], b"", "400", True),
    "space-colon-other": ("HTTP/1.1", ["Host: a", "X-Test : 1"], b"", "400", True),
    "tab-colon": ("HTTP/1.1", ["Host: a", "X-Test\t: 1"], b"", "400", True),
    "space-first": ("HTTP/1.1", [" Host: a"], b"", "400", True),
    "obs-fold": ("HTTP/1.1", ["Host: a", "X-Test: 1", " 2"], b"", "400", True),
    "obs-fold-tab": ("HTTP/1.1", ["Host: a", "X-Test: 1", "\t2", "X-Other: 3"], b"", "400", True),
    "obs-fold-colon": ("HTTP/1.1", ["Host: a", "X-Test: 1", " 2: 3"], b"", "400", True),
    "bare-cr": ("HTTP/1.1", ["Host: a", "X-Test: 1\rX-Other: 2"], b"", "400", True),
    "ctl-value": ("HTTP/1.1", ["Host: a", "X-Test: 1\x012"], b"", "400", True),
    "spaced-value": ("HTTP/1.1", ["Host: a", "X-Test:  \t1 \t2\t "], b"", "!400", False),
    "obs-text": ("HTTP/1.1", ["Host: a", "X-Test: caf\xe9"], b"", "!400", False),
}

GROUPS["target"] = {
    # RFC 9112 3.2.2: the absolute-form of the target is accepted: the answer is the
    # one to the origin-form (the wanted status "same"), whatever the Host field says.
    "absolute": ("HTTP/1.1", ["Host: b"], b"", "same", False, "http://a:80%s"),
    "absolute-upper": ("HTTP/1.1", ["Host: a"], b"", "same", False, "HTTP://a%s"),
    "absolute-https": ("HTTP/1.1", ["Host: a"], b"", "same", False, "https://[::1]%s"),
    # A NUL byte is no URI's (RFC 3986): refused, not read as the end of the path (as
    # libmicrohttpd 0.9.75 does: "/v1/listings/192.0.2.50<NUL>x" would name 192.0.2.50).
    "nul-target": ("HTTP/1.1", ["Host: a"], b"", "400", True, "%s\x00x"),
    "nul-query": ("HTTP/1.1", ["Host: a"], b"", "400", True, "%s?a=\x00b"),
}

GROUPS["query"] = {
    # Query arguments past what libmicrohttpd's memory for the request holds (600 in
    # 5 kB here): 414 at once, not a connection held without an answer; 100 are fine.
    # A header past that memory, in one long field or in many: 431 at once.
    "long-field": ("HTTP/1.1", ["Host: a", "X-Test: " + "a" * 40000], b"", "431", True),
    "many-fields": ("HTTP/1.1", ["Host: a"] + ["X-Test-%d: 1" % i for i in range(1000)], b"",
                    "431", True),
    "many-args": ("HTTP/1.1", ["Host: a"], b"", "414", True,
                  "%s?" + "&".join("a%d=1" % i for i in range(600))),
    "some-args": ("HTTP/1.1", ["Host: a"], b"", "!414", False,
                  "%s?" + "&".join("a%d=1" % i for i in range(100))),
}

GROUPS["no-body"] = {
    # A listener that takes no body (the metrics servers): 413 at once for a chunked one
    # as for a declared one, not a connection closed without an answer.
    "chunked-body": ("HTTP/1.1", ["Host: a", "Transfer-Encoding: chunked"], CHUNKED, "413",
                     True),
    "sized-body": ("HTTP/1.1", ["Host: a"], b"abc", "413", True),
}


def ask(port, method, path, version, lines, body, timeout, close):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    head = "%s %s %s\r\n" % (method, path, version) + "".join(l + "\r\n" for l in lines)
    # What follows the request: read as a second request unless the server closes.
    s.sendall(head.encode("latin1") + b"\r\n" + body + b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    t0, got, closed = time.monotonic(), b"", False
    try:
        while True:
            d = s.recv(65536)
            if not d:
                closed = True
                break
            got += d
            if not close and b"\r\n\r\n" in got:
                break
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    s.close()
    status = got[9:12].decode("latin1") if got.startswith(b"HTTP/1.") else "none"
    return status, closed, got.count(b"HTTP/1.1 "), time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=2)
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("port", type=int)
    ap.add_argument("method")
    ap.add_argument("path")
    ap.add_argument("cases", nargs="+")
    a = ap.parse_args()
    cases = {n: c for g in GROUPS.values() for n, c in g.items()}
    names = [n for x in a.cases for n in (GROUPS[x] if x in GROUPS else [x])]
    failed = 0
    for name in names:
        version, lines, body, want, close, *target = cases[name]
        path = target[0] % a.path if target else a.path
        if want == "same":
            want = ask(a.port, a.method, a.path, version, ["Host: a"] + a.header, body,
                       a.timeout, close)[0]
        if body and not any(l.startswith("Transfer-Encoding") for l in lines):
            lines = lines + ["Content-Length: %d" % len(body)]
        status, closed, answers, secs = ask(a.port, a.method, path, version,
                                            lines + a.header, body, a.timeout, close)
        good = status != "none" and (status != want[1:] if want[0] == "!" else status == want)
        if close:
            good = good and closed and answers == 1
        print("  %s %s %s: %s%s (%.2f s)%s" % (
            "ok" if good else "FAIL", a.method, name, status, " closed" if closed else "",
            secs, "" if good else " want %s%s" % (want, " and closed" if close else "")))
        failed += not good
    sys.exit(1 if failed else 0)


main()
