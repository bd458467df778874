#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Sends malformed DNS traffic (UDP and TCP) to blsync-mirror and checks it answers or drops
# correctly, never hangs, and keeps serving. Usage: malformed.py PORT ZONE IDLE_MS MAX_CONNS
import os
import random
import socket
import struct
import sys
import time

PORT, ZONE, IDLE_MS, MAXC = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
# connections one client may hold (tcp_max_connections_per_client)
PER_CLIENT = int(sys.argv[5]) if len(sys.argv) > 5 else 10
ADDR = ("127.0.0.1", PORT)
# How much longer than usual the waits for the daemon may take (tests/lib.sh).
SCALE = float(os.environ.get("BL_TIME_SCALE", "1"))


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def name(n):
    out = b""
    for label in n.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(n, qtype=1, qid=0x1234, flags=0x0100, qd=1, extra=b"", ar=0):
    return struct.pack(">HHHHHH", qid, flags, qd, 0, 0, ar) + name(n) + struct.pack(">HH", qtype, 1) + extra


def udp(pkt, timeout=0.5):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.sendto(pkt, ADDR)
    try:
        return s.recv(65535)
    except socket.timeout:
        return None
    finally:
        s.close()


def rcode(resp):
    return resp[3] & 15


def alive():
    r = udp(query("2.0.0.127." + ZONE), 2 * SCALE)
    if not r or rcode(r) != 0 or r[7] != 1:
        fail("daemon no longer answers correctly")


good = query("2.0.0.127." + ZONE)
# --- UDP: too short to answer: dropped
for n in range(0, 12):
    if udp(good[:n], 0.2) is not None:
        fail("answered a %d-byte packet" % n)
# a response (QR set) is never answered (no reflection loops)
if udp(struct.pack(">H", 0x1234) + bytes([0x81, 0]) + good[4:], 0.2) is not None:
    fail("answered a response")
print("ok: short packets and responses dropped")

cases = {
    "truncated question": good[:-3],
    "label past the end": good[:12] + b"\x3f" + b"a" * 5,
    "compression pointer in qname": good[:12] + b"\x01" + b"2" + b"\xc0\x0c" + struct.pack(">HH", 1, 1),
    "extended label type": good[:12] + b"\x41abc\x00" + struct.pack(">HH", 1, 1),
    "QDCOUNT 0": struct.pack(">HHHHHH", 1, 0x100, 0, 0, 0, 0),
    "QDCOUNT 2": query("2.0.0.127." + ZONE, qd=2) + name("x." + ZONE) + struct.pack(">HH", 1, 1),
    "ANCOUNT 1": struct.pack(">HHHHHH", 1, 0x100, 1, 1, 0, 0) + name("2.0.0.127." + ZONE) + struct.pack(">HH", 1, 1),
    "name over 255 bytes": struct.pack(">HHHHHH", 1, 0x100, 1, 0, 0, 0) + (b"\x3f" + b"a" * 63) * 5 + b"\0" + struct.pack(">HH", 1, 1),
    "two OPT records": query("2.0.0.127." + ZONE, ar=2, extra=(b"\0" + struct.pack(">HHIH", 41, 1232, 0, 0)) * 2),
    "OPT with a bad option length": query("2.0.0.127." + ZONE, ar=1, extra=b"\0" + struct.pack(">HHIH", 41, 1232, 0, 4) + struct.pack(">HH", 10, 9)),
    "additional record past the end": query("2.0.0.127." + ZONE, ar=3),
    "qtype OPT": query("2.0.0.127." + ZONE, qtype=41),
}
for what, pkt in cases.items():
    r = udp(pkt)
    if r is None:
        fail("%s: no answer" % what)
    if rcode(r) != 1:
        fail("%s: rcode %d, want FORMERR" % (what, rcode(r)))
    if r[:2] != pkt[:2]:
        fail("%s: id not echoed" % what)
print("ok: FORMERR for %d malformed queries" % len(cases))
r = udp(query("2.0.0.127." + ZONE, flags=0x2900))  # opcode 5 (UPDATE)
if r is None or rcode(r) != 4:
    fail("opcode UPDATE: want NOTIMP")
print("ok: NOTIMP")

# random mutations of valid queries never kill the daemon
rnd = random.Random(1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
base = [good, query("4.3.2.1." + ZONE, 16), query(ZONE, 6), query("2.0.0.127." + ZONE, ar=1, extra=b"\0" + struct.pack(">HHIH", 41, 4096, 0, 0))]
for i in range(20000):
    p = bytearray(rnd.choice(base))
    for _ in range(rnd.randrange(1, 6)):
        k = rnd.randrange(4)
        if k == 0 and p:
            p[rnd.randrange(len(p))] = rnd.randrange(256)
        elif k == 1:
            p = p[: rnd.randrange(len(p) + 1)]
        elif k == 2:
            p += bytes(rnd.randrange(256) for _ in range(rnd.randrange(8)))
        else:
            i0 = rnd.randrange(len(p) + 1)
            p[i0:i0] = bytes([0xC0, rnd.randrange(256)])
    s.sendto(bytes(p), ADDR)
    if i % 500 == 0:
        time.sleep(0.01)
s.close()
alive()
print("ok: 20000 mutated packets, daemon alive")


# --- TCP
def tcp_connect():
    c = socket.create_connection(ADDR, timeout=3)
    return c


def recv_exact(c, n):
    buf = b""
    while len(buf) < n:
        d = c.recv(n - len(buf))
        if not d:
            return None
        buf += d
    return buf


def closed_within(c, seconds):
    c.settimeout(seconds)
    t = time.time()
    try:
        while True:
            d = c.recv(4096)
            if not d:
                return time.time() - t
    except (socket.timeout, ConnectionResetError):
        if time.time() - t >= seconds:
            return None
        return time.time() - t


# pipelined queries in one write: answered in order
c = tcp_connect()
qs = [query("2.0.0.127." + ZONE, qid=i + 1) for i in range(5)] + [query("4.3.2.203." + ZONE, qid=99)]
c.sendall(b"".join(struct.pack(">H", len(q)) + q for q in qs))
for q in qs:
    ln = recv_exact(c, 2)
    body = recv_exact(c, struct.unpack(">H", ln)[0])
    if body[:2] != q[:2]:
        fail("pipelined answers out of order")
    want = 3 if body[:2] == b"\0\x63" else 0
    if rcode(body) != want:
        fail("pipelined answer rcode %d want %d" % (rcode(body), want))
c.close()
print("ok: pipelined TCP queries")


def half_closed(n):
    """Sends n pipelined queries and shuts down its side (a client may, once it
    has sent what it asks) while reading the answers through a small window
    (a slow link): the answers queue at the daemon when it reads the end of
    the client's stream. Returns the number of answers read."""
    import threading
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
    c.settimeout(10 * SCALE)
    c.connect(ADDR)
    qs = b"".join(struct.pack(">H", len(q)) + q for q in (query("2.0.0.127." + ZONE, 16, qid=i & 0xffff) for i in range(n)))

    def send():
        try:
            c.sendall(qs)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    th = threading.Thread(target=send)
    th.start()
    buf = b""
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            buf += d
    except OSError:
        pass
    th.join()
    c.close()
    got, o = 0, 0
    while o + 2 <= len(buf):
        o += 2 + struct.unpack(">H", buf[o:o + 2])[0]
        got += o <= len(buf)
    return got


# half-closed after the queries: every answer still comes, then the daemon closes
N_HALF = 3000
got = half_closed(N_HALF)
if got != N_HALF:
    fail("half-closed after %d pipelined queries: %d answers" % (N_HALF, got))
print("ok: half-closed connection answered in full")

# a length under 12 bytes: closed at once
c = tcp_connect()
c.sendall(b"\x00\x05hello")
if closed_within(c, 2) is None:
    fail("a 5-byte DNS message did not close the connection")
# a huge declared length that never arrives: closed by the idle timeout
c = tcp_connect()
c.sendall(b"\xff\xff" + b"x" * 100)
if closed_within(c, IDLE_MS / 1000 + 3) is None:
    fail("a 65535-byte length prefix with no data kept the connection open")
# a slow client trickling one byte at a time: closed by the idle timeout even though it sends
c = tcp_connect()
msg = struct.pack(">H", len(good)) + good
t0 = time.time()
closed = False
try:
    for i in range(len(msg)):
        c.sendall(msg[i:i + 1] if i < len(msg) - 1 else b"")
        time.sleep(IDLE_MS / 1000 / 8)
        if time.time() - t0 > IDLE_MS / 1000 + 3:
            break
        c.settimeout(0.001)
        try:
            if c.recv(1) == b"":
                closed = True
                break
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed = True
            break
except (BrokenPipeError, ConnectionResetError):
    closed = True
if not closed and closed_within(c, 3) is None:
    fail("a slow client was never disconnected")
alive()
print("ok: short lengths, huge lengths and slow clients are disconnected")

# connection limit: the daemon closes what is over the limit (the lower of
# this client's own and the global one; over the global one, a client under
# its own limit evicts the longest idle) and keeps serving
LIMIT = min(MAXC, PER_CLIENT)
conns = []
for i in range(MAXC + 5):
    try:
        conns.append(tcp_connect())
    except OSError:
        break
for c in conns:
    c.setblocking(False)
closed = set()
# Polled until the connections over the limit are closed (5 s at most).
deadline = time.time() + 5 * SCALE
while True:
    for k, c in enumerate(conns):
        if k in closed:
            continue
        try:
            if c.recv(1) == b"":
                closed.add(k)
        except BlockingIOError:
            pass
        except ConnectionResetError:
            closed.add(k)
    if len(closed) >= len(conns) - LIMIT or time.time() > deadline:
        break
    time.sleep(0.02)
refused = len(closed)
if refused < len(conns) - LIMIT or refused > len(conns) - LIMIT + 1:
    fail("connection limit not enforced (%d closed of %d)" % (refused, len(conns)))
for c in conns:
    c.close()


def tcp_answer():
    """A TCP query answered (None: the connection closed, e.g. still over the limit)."""
    try:
        c = tcp_connect()
        q = query("2.0.0.127." + ZONE)
        c.sendall(struct.pack(">H", len(q)) + q)
        ln = recv_exact(c, 2)
        c.close()
        return ln
    except OSError:
        return None


# The daemon serves again once it has seen the flood's connections close (5 s at most).
deadline = time.time() + 5 * SCALE
while not tcp_answer():
    if time.time() > deadline:
        fail("no TCP answer after the connection flood")
    time.sleep(0.02)
alive()
print("ok: connection limit (%d over-limit connections closed)" % refused)
print("PASS")
