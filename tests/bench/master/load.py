#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Keep-alive load client for POST /v1/reports: CONC threads, one persistent connection each.
# usage: load.py PORT TOKEN REQS BATCH CONC LISTINGS TIME_S  -> prints "N reports in MS ms"
import http.client, json, random, sys, threading, time

port, token, reqs, batch, conc, listings, t = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:8])
random.seed(2)
bodies = []
for r in range(reqs):
    items = []
    for i in range(batch):
        n = (20 << 24) + random.randrange(listings) if random.random() < 0.5 else (30 << 24) + random.randrange(1 << 22)
        items.append({"ip": "%d.%d.%d.%d" % (n >> 24, n >> 16 & 255, n >> 8 & 255, n & 255),
                      "source": random.choice(["user", "user", "spamtrap"]), "time": t})
    bodies.append(json.dumps(items).encode())
errors = []
def worker(k):
    c = http.client.HTTPConnection("127.0.0.1", int(port))
    for j in range(k, reqs, conc):
        c.request("POST", "/v1/reports", bodies[j], {"Authorization": "Bearer " + token,
                                                     "Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        if r.status != 200:
            errors.append(r.status)
t0 = time.time()
th = [threading.Thread(target=worker, args=(k,)) for k in range(conc)]
for x in th: x.start()
for x in th: x.join()
dt = time.time() - t0
if errors:
    print("errors:", len(errors), errors[:5]); sys.exit(1)
print("%d reports in %d ms: %d reports/s (%d keep-alive clients, %d per request)" %
      (reqs * batch, dt * 1000, reqs * batch / dt, conc, batch))
