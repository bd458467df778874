#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Simulated pulling mirrors for the pull benchmark (tests/bench/pull/run.sh).

usage: pull_sim.py N INTERVAL JITTER OUT URL...
LONGPOLL=1 in the environment: mirrors long-poll as the real one does with
[sync] long_poll (head?after=SERIAL&round=N, asked again at once while the
answers carry Blsync-Long-Poll; polling as above when they do not).

N mirrors, each on its own keep-alive HTTP/1.1 connection to one of the
URLs (round robin), poll URL/main/head with If-None-Match, each poll
starting INTERVAL - random(0..JITTER) seconds after the previous one started
(the real mirror's rule: a change of the head is seen within INTERVAL), and when the head's serial is newer than theirs
fetch the objects a real mirror would (bl_head_route: the delta from their
serial that goes furthest, step by step; else the newest snapshot and the
deltas after it), each checked against the size and SHA-256 the head names.
Objects are not verified cryptographically (the real mirror does that; the
benchmark measures the HTTP path). On SIGTERM it writes OUT: one line per
(mirror, serial) "serial unix_ms" of when the mirror held that serial;
OUT.heads: one line per head answer (200 or 304) "unix_ms serial" with the
serial the answer names (how long caches served an old head); and prints
request counts.
"""
import asyncio
import hashlib
import os
import random
import signal
import struct
import sys
import time

N, INTERVAL, JITTER, OUT = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
URLS = sys.argv[5:]
LONGPOLL = os.environ.get("LONGPOLL") == "1"
EXT = {1: "delta", 2: "snap", 4: "keycert"}
arrivals = []
heads = []
stats = {"head": 0, "head304": 0, "object": 0, "errors": 0, "bad": 0}


class Conn:
    def __init__(self, url):
        rest = url.split("://", 1)[1].rstrip("/")
        hostport, _, path = rest.partition("/")
        self.host, _, port = hostport.partition(":")
        self.port = int(port or 80)
        self.base = "/" + path if path else ""
        self.r = self.w = None

    async def get(self, path, etag=None):
        for attempt in (0, 1):
            try:
                if self.w is None:
                    self.r, self.w = await asyncio.open_connection(self.host, self.port)
                h = f"GET {self.base}{path} HTTP/1.1\r\nHost: {self.host}\r\n"
                if etag:
                    h += f"If-None-Match: {etag}\r\n"
                self.w.write((h + "\r\n").encode())
                status_line = await self.r.readline()
                status = int(status_line.split()[1])
                length, tag, self.lp = 0, None, False
                while True:
                    line = await self.r.readline()
                    if line in (b"\r\n", b""):
                        break
                    k, _, v = line.decode().partition(":")
                    k = k.lower()
                    if k == "content-length":
                        length = int(v)
                    elif k == "etag":
                        tag = v.strip()
                    elif k == "blsync-long-poll":
                        self.lp = True
                body = await self.r.readexactly(length) if length else b""
                return status, tag, body
            except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
                if self.w:
                    self.w.close()
                self.r = self.w = None
                if attempt:
                    raise


def parse_head(b):
    serial, = struct.unpack_from("<Q", b, 72)
    snap, = struct.unpack_from("<Q", b, 64)
    n, = struct.unpack_from("<Q", b, 168)
    recs = []
    for i in range(n):
        o = 320 + 96 * i
        t = b[o]
        base, ser, size = struct.unpack_from("<QQQ", b, o + 8)
        recs.append((t, base, ser, size, b[o + 64:o + 96].hex()))
    return serial, snap, recs


def route(serial, snap, recs, mine):
    def chain(at, out):
        while at < serial:
            ds = [r for r in recs if r[0] == 1 and r[1] == at]
            if not ds:
                return None
            d = max(ds, key=lambda r: r[2])
            out.append(d)
            at = d[2]
        return out
    if mine:
        c = chain(mine, [])
        if c is not None:
            return c
    s = [r for r in recs if r[0] == 2 and r[2] == snap]
    return chain(snap, [s[0]]) if s else None


async def mirror(i):
    c = Conn(URLS[i % len(URLS)])
    mine, etag, named = 0, None, 0
    rnd, after, quick = 0, 0, 0
    await asyncio.sleep(random.random() * INTERVAL)
    while True:
        started = time.monotonic()
        again = False
        try:
            if LONGPOLL:
                if after != mine:
                    after, rnd = mine, 0
                st, tag, body = await c.get(f"/main/head?after={mine}&round={rnd}", etag)
            else:
                st, tag, body = await c.get("/main/head", etag)
            stats["head"] += 1
            if st == 304:
                stats["head304"] += 1
                heads.append((int(time.time() * 1000), named))
            elif st == 200:
                etag = tag
                serial, snap, recs = parse_head(body)
                named = serial
                heads.append((int(time.time() * 1000), serial))
                if serial > mine:
                    for r in route(serial, snap, recs, mine) or []:
                        ost, _, ob = await c.get(f"/main/by-hash/{r[4]}.{EXT[r[0]]}")
                        stats["object"] += 1
                        if ost != 200 or len(ob) != r[3] or hashlib.sha256(ob).hexdigest() != r[4]:
                            stats["bad"] += 1
                            break
                        mine = r[2]
                    if mine == serial:
                        arrivals.append((serial, int(time.time() * 1000)))
            else:
                stats["errors"] += 1
            if LONGPOLL and st in (200, 304) and c.lp:
                if named > after:
                    again, quick = True, 0
                else:
                    rnd += 1
                    quick = quick + 1 if time.monotonic() - started < 1 else 0
                    again = quick <= 8
                    quick = quick if again else 0
        except Exception:
            stats["errors"] += 1
        if again:
            continue
        gap = INTERVAL - random.random() * min(JITTER, INTERVAL)
        await asyncio.sleep(max(0.0, started + gap - time.monotonic()))


async def main():
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    tasks = [asyncio.create_task(mirror(i)) for i in range(N)]
    print("ready", flush=True)
    await stop.wait()
    for t in tasks:
        t.cancel()
    with open(OUT, "w") as f:
        for s, ms in arrivals:
            f.write(f"{s} {ms}\n")
    with open(OUT + ".heads", "w") as f:
        for ms, s in heads:
            f.write(f"{ms} {s}\n")
    print(" ".join(f"{k}={v}" for k, v in stats.items()), flush=True)


asyncio.run(main())
