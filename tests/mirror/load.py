#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Steady UDP query load for a fixed time; reports answered, lost and bad-rcode counts.
# Usage: load.py PORT SECONDS NAME... ; exits 1 if any query is lost or answered with an error.
import os
import socket
import struct
import sys
import time

port, secs, names = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]


def q(n, qid):
    out = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in n.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0" + struct.pack(">HH", 1, 1)


s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# A query unanswered for a second (times BL_TIME_SCALE, see tests/lib.sh) is lost.
s.settimeout(float(os.environ.get("BL_TIME_SCALE", "1")))
s.connect(("127.0.0.1", port))
sent = answered = lost = bad = 0
worst = 0.0
end = time.time() + secs
qid = 0
while time.time() < end:
    batch = {}
    t0 = time.time()
    for i in range(16):
        qid = (qid + 1) & 0xFFFF
        batch[qid] = names[(sent + i) % len(names)]
        s.send(q(batch[qid], qid))
    sent += 16
    while batch:
        try:
            r = s.recv(4096)
        except socket.timeout:
            lost += len(batch)
            break
        i = r[0] << 8 | r[1]
        if batch.pop(i, None) is None:
            continue
        answered += 1
        if r[3] & 15 not in (0, 3):
            bad += 1
    worst = max(worst, time.time() - t0)
print("sent=%d answered=%d lost=%d bad_rcode=%d worst_batch_ms=%.1f" % (sent, answered, lost, bad, worst * 1000))
sys.exit(1 if lost or bad or answered < 1000 else 0)
