#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A fault-injecting TCP proxy between the mirrors and the master's sync listener.

usage: proxy.py CONTROL_DIR UPSTREAM_HOST:PORT NAME=LISTEN_HOST:PORT...

Each NAME (a mirror) gets its own listening address; every connection to it
is forwarded to UPSTREAM. The faults for NAME are read from CONTROL_DIR/NAME
(JSON, re-read when its mtime changes, checked every 50 ms):
  delay_ms, jitter_ms   every chunk is delivered delay +- jitter (uniform)
                        after it was read, never before the chunk ahead of it
                        (TCP keeps order: reordering is done with nftables)
  bw_bps                bytes per second in each direction (0: unlimited)
  reset                 a counter: when it changes, every open connection of
                        NAME is closed with a TCP RST (SO_LINGER 0)
The kernel lacks tc netem, so this is where delay, jitter and bandwidth come
from. It prints "ready" once every listener is up.
"""
import asyncio
import json
import os
import random
import socket
import struct
import sys
import time

CHUNK = 16384


class Faults:
    def __init__(self, path):
        self.path = path
        self.mtime = None
        self.delay = self.jitter = 0.0
        self.bw = 0
        self.reset = 0
        self.conns = set()

    def poll(self):
        try:
            m = os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            m = 0
        if m == self.mtime:
            return
        self.mtime = m
        try:
            with open(self.path) as f:
                c = json.load(f)
        except (OSError, ValueError):
            c = {}
        self.delay = c.get("delay_ms", 0) / 1000.0
        self.jitter = c.get("jitter_ms", 0) / 1000.0
        self.bw = int(c.get("bw_bps", 0))
        r = int(c.get("reset", 0))
        if r != self.reset:
            self.reset = r
            for w in list(self.conns):
                rst(w)


def rst(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


async def pump(reader, writer, faults, peer):
    """Copies one direction with the faults of the moment; closes both sides at the end."""
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
            if faults.bw:
                await asyncio.sleep(len(data) / faults.bw)

    task = asyncio.ensure_future(deliver())
    last_due = 0.0
    try:
        while True:
            data = await reader.read(CHUNK if not faults.bw else max(512, min(CHUNK, faults.bw // 10)))
            if not data:
                break
            d = faults.delay + (random.uniform(-faults.jitter, faults.jitter) if faults.jitter else 0)
            last_due = max(last_due, time.monotonic() + max(0.0, d))
            queue.put_nowait((last_due, data))
        queue.put_nowait((0, None))
        await task
    except (ConnectionError, OSError, asyncio.CancelledError):
        pass
    finally:
        task.cancel()
        for w in (writer, peer):
            try:
                w.close()
            except Exception:
                pass


async def serve(faults, upstream, reader, writer):
    try:
        ur, uw = await asyncio.wait_for(asyncio.open_connection(*upstream), 5)
    except (OSError, asyncio.TimeoutError):
        rst(writer)
        return
    faults.conns.add(writer)
    faults.conns.add(uw)
    try:
        await asyncio.gather(pump(reader, uw, faults, writer), pump(ur, writer, faults, uw))
    finally:
        faults.conns.discard(writer)
        faults.conns.discard(uw)


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


async def main():
    ctl, upstream = sys.argv[1], hostport(sys.argv[2])
    all_faults = []
    for arg in sys.argv[3:]:
        name, addr = arg.split("=", 1)
        f = Faults(os.path.join(ctl, name))
        f.poll()
        all_faults.append(f)
        h, p = hostport(addr)
        await asyncio.start_server(lambda r, w, f=f: serve(f, upstream, r, w), h, p, reuse_address=True)
    print("ready", flush=True)
    while True:
        await asyncio.sleep(0.05)
        for f in all_faults:
            f.poll()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
