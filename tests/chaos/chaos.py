#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The chaos harness: a real blsync-master and real blsync-mirror daemons in
their own network namespaces (set up by lib.sh), faults injected one after
another and combined, and a checker that asserts the delisting promise.

Run by run.sh (one pass of every fault class, the ctest) and soak.sh (random
faults for N minutes). Everything runs on the machine's wall clock.

Invariants (W = the propagation window of both daemons):
  (a) no mirror answers positively for an address more than W after the
      master decided its delisting; a frozen mirror (blsync_mirror_stale 2,
      seen on the scrapes before and after the answer, none failing between)
      answers no positives;
  (b) after each fault heals, every mirror serves the master's serial within
      the class's heal limit (10 s unless the table below says otherwise);
  (c) every report the master acknowledged (HTTP 200) is in its store at the
      end (reports acknowledged between a backup and its restore excepted and
      counted: the backup predates them);
  (d) for every fault that pushes a mirror past its budget, the matching alert
      of deploy/prometheus/rules.yml fires on the scraped series (promtool test
      rules): BlsyncMirrorFrozen for each mirror cut off from heartbeats longer
      than freeze_after, BlsyncDelistingWindowBroken for each delisting that
      some mirror had not applied when the window ran out.
"""
import argparse
import bisect
import concurrent.futures
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

MASTER_IP = "198.18.0.1"
HTTP_PORT, METRICS_PORT, SYNC_PORT, PROXY_BASE = 8053, 9153, 7353, 7400
FEED = "main"
ZONE = "bl.test"


def mirror_ip(i):
    return "198.18.1.%d" % i


def now():
    return time.time()


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def parse_dur(s):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", s)
    if not m:
        raise ValueError(s)
    v = float(m.group(1))
    return v / 1000 if m.group(2) == "ms" else v * 60 if m.group(2) == "m" else v


def fmt_dur(s):
    return "%dms" % round(s * 1000)


# ---------------------------------------------------------------- processes


class Proc:
    """One daemon in its namespace; every PID goes to DIR/pids for lib.sh's cleanup."""

    def __init__(self, h, name, ns, argv, logf):
        self.h, self.name, self.ns, self.argv, self.logf = h, name, ns, argv, logf
        self.p = None

    def start(self):
        out = open(self.logf, "ab")
        # Its own session: when the shell that started the run exits, the kernel sends SIGHUP
        # and SIGCONT to every process of an orphaned process group that holds a stopped one,
        # which would end a stop_master fault early (and reload every daemon).
        self.p = subprocess.Popen(["ip", "netns", "exec", self.ns] + self.argv, stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  start_new_session=True)
        out.close()
        with open(os.path.join(self.h.dir, "pids"), "a") as f:
            f.write("%d\n" % self.p.pid)
        return self

    def signal(self, sig):
        if self.p and self.p.poll() is None:
            os.kill(self.p.pid, sig)

    def kill(self):
        if self.p and self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGCONT)
            self.p.kill()
            self.p.wait()

    def alive(self):
        return self.p is not None and self.p.poll() is None


# ---------------------------------------------------------------- DNS


def dns_query(qid, addr):
    name = ".".join(reversed(addr.split("."))) + "." + ZONE
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", 1, 1)


def dns_answer(pkt, query=None):
    """(qid, positive) or None: positive means NOERROR with at least one answer record. With
    QUERY, None also when the answer's question is not QUERY's: the ids wrap after 65,536
    queries (a soak sends millions), and a late answer must not count for a newer query."""
    if len(pkt) < 12:
        return None
    if query is not None and (pkt[:2] != query[:2] or pkt[12:len(query)].lower() != query[12:].lower()):
        return None
    qid, flags, _, an = struct.unpack(">HHHH", pkt[:8])
    rcode = flags & 0xF
    if rcode == 0 and an > 0:
        return qid, True
    if rcode == 3:
        return qid, False
    return None


# ---------------------------------------------------------------- the harness


class Harness:
    def __init__(self, a):
        self.a = a
        self.dir = a.dir
        self.n = a.mirrors
        self.W = a.window
        self.freeze = a.freeze_after if a.freeze_after is not None else round(0.4 * self.W)
        self.stale = max(2, round(self.W / 6))
        self.mirrors = ["m%d" % i for i in range(1, self.n + 1)]
        self.ns_master = a.prefix + "-m"
        self.ns = {m: "%s-%d" % (a.prefix, i) for i, m in enumerate(self.mirrors, 1)}
        self.ns["master"] = self.ns_master
        self.token = open(os.path.join(self.dir, "token")).read().strip()
        self.t0 = now()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.rng = random.Random(a.seed)
        # state shared with the threads
        self.addrs = {}  # addr -> {kind, listed_t, remove_at, expect_expiry, episodes:[[D, until, cause]], serials:[...]}
        self.positives = {}  # (mirror, addr) -> [t_send...]
        self.samples = {m: [0, 0, 0] for m in self.mirrors}  # sent, positive, negative
        self.acked_reports = []  # (evidence, t)
        self.exempt = []  # (t_from, t_to) restore windows for (c)
        self.scrapes = []  # (t, who, {key: value} or None); "__end": when the answer arrived
        self.positives_rcv = {}  # (mirror, addr): receive times, in the order of positives
        self.faults = []  # records
        self.next_addr = 1
        self.next_ev = 1
        self.procs = {}
        self.mirror_extra = {}

    # ---- addresses and HTTP
    def fresh_addr(self, pool=0):
        k = self.next_addr
        self.next_addr += 1
        return "198.19.%d.%d" % (pool * 128 + (k >> 8) % 128, k & 255)

    def api(self, method, path, body=None, timeout=2.0):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("http://%s:%d%s" % (MASTER_IP, HTTP_PORT, path), data=data,
                                     method=method, headers={"Authorization": "Bearer " + self.token})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            try:
                return e.code, json.loads(e.read() or b"null")
            except ValueError:
                return e.code, None
        except (OSError, ValueError):
            return None, None

    def scrape(self, who):
        url = ("http://%s:%d/metrics" % (MASTER_IP, METRICS_PORT) if who == "master" else
               "http://%s:9154/metrics" % mirror_ip(int(who[1:])))
        try:
            with urllib.request.urlopen(url, timeout=0.7) as r:
                text = r.read().decode()
        except (OSError, ValueError):
            return None
        out = {}
        for line in text.splitlines():
            if not line or line[0] == "#":
                continue
            k, v = line.rsplit(None, 1)
            if k.startswith(KEEP_FAMILIES):
                out[k] = float(v)
        out["__end"] = now()  # the scrape shows the state at a moment between its start and this
        return out

    # ---- configuration and daemons
    def write_configs(self):
        d = self.dir
        with open(os.path.join(d, "master.conf"), "w") as f:
            f.write(f"""[master]
feed = {FEED}
db = {d}/master.db
[http]
listen = {MASTER_IP}:{HTTP_PORT}
token_file = {d}/token
[publisher]
spool = {d}/spool
key = {d}/sign.key
delay = 20ms
max_delay = 200ms
retry_max = 2s
[policy]
expire_interval = 200ms
duration = {self.a.listing_s}s
mirror_active = {10 * self.W}s
[metrics]
listen = {MASTER_IP}:{METRICS_PORT}
window = {self.W}s
mirror_ttl = 1s
expected_propagation = 5s
[sync]
listen = 127.0.0.1:{SYNC_PORT}
cert = {d}/pki/master.pem
tls_key = {d}/pki/master.key
ca = {d}/pki/ca.pem
revoked = {d}/revoked
heartbeat_interval = 1s
""")
        for i, m in enumerate(self.mirrors, 1):
            self.write_mirror_conf(m, i, self.freeze)

    def write_mirror_conf(self, m, i, freeze, window=None):
        d = self.dir
        fz = "" if freeze is None else "freeze_after = %s\n" % fmt_dur(freeze)
        window = self.W if window is None else window
        with open(os.path.join(d, m, "mirror.conf"), "w") as f:
            f.write(f"""[server]
listen = {mirror_ip(i)}:53
threads = 1
metrics_listen = {mirror_ip(i)}:9154
window = {window}s
expected_propagation = 5s
[sync]
master = {MASTER_IP}:{PROXY_BASE + i}
server_name = master.test
cert = {d}/pki/mirror-{m}.pem
key = {d}/pki/mirror-{m}.key
ca = {d}/pki/ca.pem
state_dir = {d}/{m}/state
backoff_min = 100ms
backoff_max = 2s
stale_after = {fmt_dur(self.stale)}
{fz}[zone {ZONE}]
feed = {FEED}
ttl = 1
neg_ttl = 1
trusted_key = {d}/sign.pub
""")

    def start_master(self):
        p = self.procs.get("master") or Proc(self, "master", self.ns_master,
                                            [self.a.build + "/master/blsync-master", "-c", self.dir + "/master.conf"],
                                            self.dir + "/master.log")
        self.procs["master"] = p.start()
        if not wait_until(10, lambda: self.api("GET", "/v1/health", timeout=0.5)[0] == 200):
            raise SystemExit("FAIL: blsync-master did not answer /v1/health within 10 s (master.log)")

    def start_mirror(self, m):
        i = int(m[1:])
        p = self.procs.get(m) or Proc(self, m, self.ns[m],
                                     [self.a.build + "/mirror/blsync-mirror", "-c", "%s/%s/mirror.conf" % (self.dir, m)],
                                     "%s/%s.log" % (self.dir, m))
        self.procs[m] = p.start()
        if not wait_until(10, lambda: self.scrape(m) is not None):
            raise SystemExit("FAIL: %s: no /metrics within 10 s (%s.log)" % (m, m))

    def start_all(self):
        os.makedirs(self.dir + "/proxy", exist_ok=True)
        args = ["%s=%s:%d" % (m, MASTER_IP, PROXY_BASE + i) for i, m in enumerate(self.mirrors, 1)]
        proxy = Proc(self, "proxy", self.ns_master,
                     [sys.executable, os.path.join(os.path.dirname(__file__), "proxy.py"),
                      self.dir + "/proxy", "127.0.0.1:%d" % SYNC_PORT] + args, self.dir + "/proxy.log")
        self.procs["proxy"] = proxy.start()
        if not wait_until(10, lambda: "ready" in open(self.dir + "/proxy.log").read()):
            raise SystemExit("FAIL: the fault proxy did not start (proxy.log)")
        self.start_master()
        for m in self.mirrors:
            self.start_mirror(m)

    # ---- serials
    def master_serial(self):
        st, js = self.api("GET", "/v1/status", timeout=1.0)
        return js.get("serial") if st == 200 and js else None

    def mirror_serial(self, m):
        s = self.scrape(m)
        return None if s is None else s.get('blsync_mirror_serial{feed="%s"}' % FEED)

    def converged(self):
        """Every mirror serves the master's serial (read before and after the mirrors)."""
        s1 = self.master_serial()
        if s1 is None:
            return False
        with concurrent.futures.ThreadPoolExecutor(len(self.mirrors)) as ex:
            got = list(ex.map(self.mirror_serial, self.mirrors))
        s2 = self.master_serial()
        if s2 is None:
            return False
        return all(g is not None and s1 <= g <= s2 for g in got)

    # ---- threads
    def workload(self):
        """Decisions: spamtrap reports that list fresh addresses (expiring after listing_s),
        operator listings removed after a while, and evidence-only user reports (never listed)
        for invariant (c). Every decision's time comes from the master's answers."""
        nxt = {"policy": 0, "op": 0, "ev": 0, "poll": 0}
        while not self.stop.is_set():
            t = now()
            if t >= nxt["policy"]:
                nxt["policy"] = t + self.a.policy_every
                a = self.fresh_addr()
                ev = "ev-%d" % self.next_ev
                self.next_ev += 1
                st, js = self.api("POST", "/v1/reports", [{"ip": a, "source": "spamtrap", "evidence": ev}])
                with self.lock:
                    if st == 200:
                        self.acked_reports.append((ev, now()))
                    self.addrs[a] = {"kind": "policy", "listed_t": now(), "state": "listed" if st == 200 else "unknown",
                                     "expect": now() + self.a.listing_s, "episodes": [], "next_poll": 0}
            if t >= nxt["ev"]:
                nxt["ev"] = t + 1.0
                a = self.fresh_addr(pool=1)
                ev = "ev-%d" % self.next_ev
                self.next_ev += 1
                st, _ = self.api("POST", "/v1/reports", {"ip": a, "source": "user", "evidence": ev})
                if st == 200:
                    with self.lock:
                        self.acked_reports.append((ev, now()))
            if t >= nxt["op"]:
                nxt["op"] = t + self.a.op_every
                a = self.fresh_addr()
                st, js = self.api("POST", "/v1/listings", {"prefix": a, "comment": "chaos"})
                with self.lock:
                    self.addrs[a] = {"kind": "op", "listed_t": now(), "state": "listed" if st == 201 else "unknown",
                                     "remove_at": now() + self.a.op_hold, "episodes": [], "next_poll": 0}
            for a, r in list(self.addrs.items()):
                if self.stop.is_set():
                    break
                self.advance(a, r)
            self.stop.wait(0.2)

    def advance(self, a, r):
        t = now()
        if r["state"] == "listed" and r["kind"] == "op" and t >= r["remove_at"]:
            st, js = self.api("DELETE", "/v1/listings/%s?reason=technical-error" % a)
            if st == 200 and js and "decided_at_ms" in js:
                self.delisted(a, r, js["decided_at_ms"] / 1000.0, "operator")
            elif st == 404:
                r["state"] = "unknown"
            return
        if r["state"] in ("unknown", "listed") and t >= r["next_poll"] and (
                r["state"] == "unknown" or (r["kind"] == "policy" and t >= r["expect"])):
            r["next_poll"] = t + 1.0
            st, js = self.api("GET", "/v1/lookup/%s" % a)
            if st != 200 or not js:
                return
            if js.get("listed"):
                if r["state"] == "unknown":
                    r["state"] = "listed"
                    r["kind"] = "op"
                    r["remove_at"] = t + self.a.op_hold
            elif js.get("delisting"):
                self.delisted(a, r, js["delisting"]["decided_at_ms"] / 1000.0, js["delisting"]["cause"])
            elif r["state"] == "unknown" and t - r["listed_t"] > 30:
                r["state"] = "never"
            return
        if r["state"] == "delisted" and r["episodes"] and r["episodes"][-1][3] is None and t >= r["next_poll"]:
            r["next_poll"] = t + 1.0
            st, js = self.api("GET", "/v1/lookup/%s" % a)
            if st == 200 and js and js.get("delisting") and js["delisting"].get("serial"):
                r["episodes"][-1][3] = js["delisting"]["serial"]

    def delisted(self, a, r, d, cause):
        with self.lock:
            r["state"] = "delisted"
            r["episodes"].append([d, float("inf"), cause, None])
            r["next_poll"] = 0

    def sampler(self):
        """Queries every mirror for every listed and recently delisted address once a second
        (older delistings every fifth round), over UDP from the client namespace."""
        socks = {}
        for m in self.mirrors:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.connect((mirror_ip(int(m[1:])), 53))
            s.setblocking(False)
            socks[m] = s
        qid, rnd = 0, 0
        while not self.stop.is_set():
            rnd += 1
            t = now()
            with self.lock:
                todo = []
                for a, r in self.addrs.items():
                    if r["state"] in ("listed", "unknown"):
                        todo.append(a)
                    elif r["state"] == "delisted":
                        age = t - r["episodes"][-1][0]
                        if age < self.W + 30 or (age < 600 and rnd % 5 == 0):
                            todo.append(a)
            pending = {}
            for m in self.mirrors:
                for a in todo:
                    qid = (qid + 1) & 0xFFFF
                    q = dns_query(qid, a)
                    pending[(m, qid)] = (a, now(), q)
                    try:
                        socks[m].send(q)
                        self.samples[m][0] += 1
                    except OSError:
                        pass
            deadline = now() + 0.5
            while pending and now() < deadline:
                rd, _, _ = select.select(list(socks.values()), [], [], max(0, deadline - now()))
                for m, s in socks.items():
                    if s not in rd:
                        continue
                    while True:
                        try:
                            pkt = s.recv(512)
                        except (BlockingIOError, OSError):
                            break
                        p = pending.get((m, int.from_bytes(pkt[:2], "big")))
                        ans = p and dns_answer(pkt, p[2])
                        if not ans:
                            continue
                        a, ts, _ = pending.pop((m, ans[0]))
                        if ans[1]:
                            self.samples[m][1] += 1
                            with self.lock:
                                self.positives.setdefault((m, a), []).append(ts)
                                self.positives_rcv.setdefault((m, a), []).append(now())
                        else:
                            self.samples[m][2] += 1
            self.stop.wait(max(0, t + 1.0 - now()))

    def scraper(self):
        who = ["master"] + self.mirrors
        with concurrent.futures.ThreadPoolExecutor(len(who)) as ex:
            while not self.stop.is_set():
                t = now()
                for w, s in zip(who, ex.map(self.scrape, who)):
                    self.scrapes.append((t, w, s))
                self.stop.wait(max(0, t + 1.0 - now()))

    # ---- faults: nftables, the proxy, signals, files
    def nft(self, ns, *rules):
        for r in rules:
            subprocess.run(["ip", "netns", "exec", ns, "nft", "add", "rule", "inet", "chaos"] + r.split(), check=True)

    def nft_flush(self, ns):
        subprocess.run(["ip", "netns", "exec", ns, "nft", "flush", "table", "inet", "chaos"], check=True)

    def proxy_set(self, m, **kw):
        path = os.path.join(self.dir, "proxy", m)
        try:
            cur = json.load(open(path))
        except (OSError, ValueError):
            cur = {}
        if kw.pop("bump_reset", False):
            kw["reset"] = cur.get("reset", 0) + 1
        cur.update(kw)
        with open(path + ".tmp", "w") as f:
            json.dump(cur, f)
        os.replace(path + ".tmp", path)

    def cut_mirror(self, m, spec="drop"):
        self.nft(self.ns[m], "input ip saddr %s %s" % (MASTER_IP, spec), "output ip daddr %s %s" % (MASTER_IP, spec))

    def spool_file(self, serial):
        return os.path.join(self.dir, "spool", FEED, "%020d.delta" % serial)

    def undo_all(self):
        """Every fault undone: nft tables flushed, proxy faults cleared, processes continued or
        started again, fillers removed."""
        for ns in [self.ns_master] + [self.ns[m] for m in self.mirrors]:
            self.nft_flush(ns)
        for m in self.mirrors:
            self.proxy_set(m, delay_ms=0, jitter_ms=0, bw_bps=0)
            try:
                os.unlink(os.path.join(self.dir, m, "state", "filler"))
            except FileNotFoundError:
                pass
        for name in ["master"] + self.mirrors:
            p = self.procs[name]
            p.signal(signal.SIGCONT)
            if not p.alive():
                self.start_master() if name == "master" else self.start_mirror(name)

    # ---- the pass
    def settle(self, limit=30):
        return wait_until(limit, self.converged, step=0.2)

    def run_fault(self, cls, fn, heal_limit=10.0, cutoff=(), target=None):
        """Injects one fault (fn does it and returns when healing starts), then measures the
        time until every mirror serves the master's serial."""
        rec = {"cls": cls, "target": target, "start": now(), "heal": None, "healed_in": None,
               "limit": heal_limit, "cutoff": list(cutoff), "notes": []}
        self.faults.append(rec)
        log("fault %s%s" % (cls, " on " + target if target else ""))
        try:
            fn(rec)
        except Exception as e:  # the harness's own failure: reported, the run goes on
            rec["harness_error"] = "%s: %s" % (type(e).__name__, e)
            log("  HARNESS ERROR: " + rec["harness_error"])
            self.undo_all()
        rec["heal"] = rec.get("heal_at") or now()
        ok = wait_until(heal_limit / 2, self.converged, step=0.2)
        if not ok:
            self.lag_report(rec)  # what the mirrors behind say, while they are still behind
            ok = wait_until(rec["heal"] + heal_limit + 5 - now(), self.converged, step=0.2)
        rec["healed_in"] = now() - rec["heal"] if ok else None
        state = ("healed in %.1f s" % rec["healed_in"]) if ok else "NOT healed in %.0f s" % (heal_limit + 5)
        log("  %s (limit %.0f s)%s" % (state, heal_limit, "; " + "; ".join(rec["notes"]) if rec["notes"] else ""))
        if not ok:
            # What an operator would do, so that the next fault starts from a healthy system
            # and its violations are its own.
            if rec.get("repair"):
                log("  repair: " + rec["repair"].__doc__)
                rec["repair"]()
            if not self.settle(20):
                log("  still not converged 20 s after the repair")
        rec["end"] = now()
        return rec

    def lag_report(self, rec):
        """Logs, for each mirror behind the master half a heal limit after a fault, what its
        metrics and the last lines of its log and of the master's log say about it."""
        ms = self.master_serial()
        for m in self.mirrors:
            s = self.scrape(m)
            serial = None if s is None else s.get('blsync_mirror_serial{feed="%s"}' % FEED)
            if serial is not None and ms is not None and serial >= ms:
                continue
            vals = "unreachable" if s is None else " ".join(
                "%s=%g" % (k[len("blsync_mirror_"):].split("{")[0], v) for k, v in sorted(s.items())
                if k.startswith(("blsync_mirror_serial", "blsync_mirror_connected", "blsync_mirror_stale",
                                 "blsync_mirror_heartbeat_age", "blsync_mirror_master_serial")))
            log("  behind: %s at %s, master at %s: %s" % (m, serial, ms, vals))
            for who in (m, "master"):
                path = self.procs[who].logf
                try:
                    with open(path, "rb") as f:
                        f.seek(0, os.SEEK_END)
                        f.seek(max(0, f.tell() - 6000))
                        lines = f.read().decode(errors="replace").splitlines()[1:]
                except OSError:
                    continue
                keep = [l for l in lines if who == m or m in l or "spool" in l or "snapshot" in l]
                for l in keep[-8:]:
                    log("    %s| %s" % (who, l[:300]))
        rec["notes"].append("slow: see the 'behind' lines above")

    def faults_table(self):
        W, F = self.W, self.freeze
        short, long_ = max(3, F * 0.5), F + max(4, 0.3 * F)
        hold = self.a.hold
        pick = lambda: self.rng.choice(self.mirrors)
        T = {}

        def loss(rec):
            p = self.rng.randint(5, 30)
            rec["notes"].append("loss %d%% on every mirror's sync traffic" % p)
            for m in self.mirrors:
                self.cut_mirror(m, "numgen random mod 100 < %d drop" % p)
            time.sleep(hold)
            for m in self.mirrors:
                self.nft_flush(self.ns[m])
        T["loss"] = lambda: self.run_fault("loss", loss)

        def delay(rec):
            for m in self.mirrors:
                self.proxy_set(m, delay_ms=200, jitter_ms=100)
            time.sleep(hold)
            for m in self.mirrors:
                self.proxy_set(m, delay_ms=0, jitter_ms=0)
        T["delay"] = lambda: self.run_fault("delay", delay)

        def reorder(rec):
            # TCP keeps order, so reordering is made where it happens, on packets: 15% of the
            # master's data segments to each mirror are dropped on arrival (no other loss), and
            # the receiver gets the later segments before the retransmitted earlier one.
            for m in self.mirrors:
                self.nft(self.ns[m], "input ip saddr %s tcp flags & (fin|syn|rst) == 0 numgen random mod 100 < 15 drop" % MASTER_IP)
            time.sleep(hold)
            for m in self.mirrors:
                self.nft_flush(self.ns[m])
        T["reorder"] = lambda: self.run_fault("reorder", reorder)

        def bandwidth(rec):
            for m in self.mirrors:
                self.proxy_set(m, bw_bps=500, bump_reset=True)
            time.sleep(hold)
            for m in self.mirrors:
                self.proxy_set(m, bw_bps=0)
        T["bandwidth"] = lambda: self.run_fault("bandwidth", bandwidth)

        def resets(rec):
            for _ in range(3):
                for m in self.mirrors:
                    self.proxy_set(m, bump_reset=True)
                time.sleep(hold / 3)
        T["reset"] = lambda: self.run_fault("reset", resets)

        def part_mirror(dur):
            def f(rec):
                self.cut_mirror(rec["target"])
                time.sleep(dur)
                self.nft_flush(self.ns[rec["target"]])
            return f

        def part_master(dur):
            def f(rec):
                self.nft(self.ns_master, "input ip saddr 198.18.1.0/24 drop", "output ip daddr 198.18.1.0/24 drop")
                time.sleep(dur)
                self.nft_flush(self.ns_master)
            return f

        def tgt(cls, fn, long_cut=False, **kw):
            def go():
                m = pick()
                return self.run_fault(cls, fn, target=m, cutoff=[m] if long_cut else (), **kw)
            return go
        T["partition_mirror_short"] = tgt("partition_mirror_short", part_mirror(short))
        T["partition_mirror_long"] = tgt("partition_mirror_long", part_mirror(long_), long_cut=True)
        # Soak only (it takes W + 5 s): cut off past the window, the mirror must be frozen by
        # then, and the master must count every delisting it missed as a broken window.
        T["partition_mirror_past_window"] = tgt("partition_mirror_past_window", part_mirror(W + 5), long_cut=True)
        T["partition_master_short"] = lambda: self.run_fault("partition_master_short", part_master(short))
        T["partition_master_long"] = lambda: self.run_fault("partition_master_long", part_master(long_),
                                                            cutoff=self.mirrors)

        def kill_master(rec):
            self.procs["master"].kill()
            time.sleep(1)
            self.start_master()
        T["kill_master"] = lambda: self.run_fault("kill_master", kill_master)

        def kill_mirror(rec):
            self.procs[rec["target"]].kill()
            time.sleep(1)
            self.start_mirror(rec["target"])
        T["kill_mirror"] = tgt("kill_mirror", kill_mirror)

        def stop_master(rec):
            self.procs["master"].signal(signal.SIGSTOP)
            time.sleep(long_)
            self.procs["master"].signal(signal.SIGCONT)
        T["stop_master"] = lambda: self.run_fault("stop_master", stop_master, cutoff=self.mirrors)

        def stop_mirror(rec):
            self.procs[rec["target"]].signal(signal.SIGSTOP)
            time.sleep(long_)
            self.procs[rec["target"]].signal(signal.SIGCONT)
        T["stop_mirror"] = tgt("stop_mirror", stop_mirror)

        def spool(kind):
            def f(rec):
                m = rec["target"]
                self.cut_mirror(m)
                base = self.mirror_serial(m) or 0
                if not wait_until(max(10, 4 * self.a.policy_every),
                                  lambda: (self.master_serial() or 0) >= base + 2):
                    rec["notes"].append("master did not publish 2 serials past %d" % base)
                path = self.spool_file(base + 1)
                try:
                    data = open(path, "rb").read()

                    def repair(path=path, orig=data):
                        """the damaged spool object written back as it was published"""
                        with open(path, "wb") as f:
                            f.write(orig)
                        self.proxy_set(m, bump_reset=True)
                    rec["repair"] = repair
                    if kind == "flip":
                        i = len(data) // 2 + self.rng.randrange(max(1, len(data) // 2))
                        data = data[:i] + bytes([data[i] ^ 0x40]) + data[i + 1:]
                        open(path, "r+b").write(data)
                    elif kind == "truncate":
                        os.truncate(path, len(data) // 2)
                    elif kind == "delete":
                        os.unlink(path)
                    else:
                        shutil.copyfile(self.spool_file(base), path)
                    rec["notes"].append("%s of %s" % (kind, os.path.basename(path)))
                except OSError as e:
                    rec["notes"].append("%s of serial %d impossible: %s" % (kind, base + 1, e))
                self.nft_flush(self.ns[m])
                self.proxy_set(m, bump_reset=True)  # a fresh session reads the spool
            return f
        for k in ("flip", "truncate", "delete", "replay"):
            T["spool_" + k] = tgt("spool_" + k, spool(k))

        def disk_full_for(dur):
            def f(rec):
                m = rec["target"]
                filler = os.path.join(self.dir, m, "state", "filler")
                fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                try:
                    while os.write(fd, b"\0" * 65536) > 0:
                        pass
                except OSError:
                    pass  # ENOSPC: full
                finally:
                    os.close(fd)
                try:
                    time.sleep(dur)
                finally:
                    os.unlink(filler)
            return f
        T["disk_full"] = tgt("disk_full", disk_full_for(hold))
        # Soak only: a disk that stays full past the window.
        T["disk_full_past_window"] = tgt("disk_full_past_window", disk_full_for(W + 5))


        def restore(rec):
            bk = os.path.join(self.dir, "backup")
            shutil.rmtree(bk, ignore_errors=True)
            os.makedirs(bk)
            tb = now()  # reports acknowledged from here on may be missing from the backup
            src = sqlite3.connect(self.dir + "/master.db")
            dst = sqlite3.connect(bk + "/master.db")
            src.backup(dst)
            src.close()
            dst.close()
            copy_spool(self.dir + "/spool", bk + "/spool")
            time.sleep(hold)
            self.procs["master"].kill()
            tk = now()
            for s in ("", "-wal", "-shm"):
                try:
                    os.unlink(self.dir + "/master.db" + s)
                except FileNotFoundError:
                    pass
            shutil.copyfile(bk + "/master.db", self.dir + "/master.db")
            shutil.rmtree(self.dir + "/spool")
            copy_spool(bk + "/spool", self.dir + "/spool")
            self.exempt.append((tb, tk))
            self.start_master()
            rec["heal_at"] = now()
            self.reconcile_after_restore(rec)
            rec["repair"] = self.restore_procedure
        T["restore"] = lambda: self.run_fault("restore", restore)

        def combined_a(rec):
            m = pick()
            rec["target"] = m
            for x in self.mirrors:
                self.cut_mirror(x, "numgen random mod 100 < 20 drop")
                self.proxy_set(x, delay_ms=200, jitter_ms=100)
            self.procs[m].kill()
            time.sleep(1)
            self.start_mirror(m)
            time.sleep(hold)
            for x in self.mirrors:
                self.nft_flush(self.ns[x])
                self.proxy_set(x, delay_ms=0, jitter_ms=0)
        T["combined_loss_delay_kill"] = lambda: self.run_fault("combined_loss_delay_kill", combined_a)

        def combined_b(rec):
            m = rec["target"]
            self.nft(self.ns_master, "input ip saddr 198.18.1.0/24 drop", "output ip daddr 198.18.1.0/24 drop")
            self.procs[m].signal(signal.SIGSTOP)
            time.sleep(long_)
            # Continued while still cut off: it must come back frozen, like the others.
            self.procs[m].signal(signal.SIGCONT)
            time.sleep(2.5)
            self.nft_flush(self.ns_master)
        T["combined_partition_master_stop_mirror"] = lambda: self.run_fault(
            "combined_partition_master_stop_mirror", combined_b, target=pick(), cutoff=self.mirrors)
        return T

    def restore_procedure(self):
        """docs/OPERATIONS.md's restore: the master's serial moved past every mirror's"""
        top = max([self.mirror_serial(m) or 0 for m in self.mirrors])
        self.procs["master"].kill()
        db = sqlite3.connect(self.dir + "/master.db")
        db.execute("UPDATE meta SET v=? WHERE k='last_serial'", (int(top) + 1,))
        db.commit()
        db.close()
        self.start_master()

    def reconcile_after_restore(self, rec):
        """The restored master forgot what it decided after the backup: a listing it no longer
        has is a delisting decided now; a delisting it does not know is a listing again."""
        t = now()
        forgot = revived = 0
        for a, r in list(self.addrs.items()):
            if r["state"] not in ("listed", "delisted"):
                continue
            st, js = self.api("GET", "/v1/lookup/%s" % a)
            if st != 200 or not js:
                continue
            with self.lock:
                if r["state"] == "listed" and not js.get("listed"):
                    r["state"] = "delisted"
                    r["episodes"].append([t, float("inf"), "restore", None])
                    forgot += 1
                elif r["state"] == "delisted" and js.get("listed") and r["episodes"][-1][1] == float("inf"):
                    r["episodes"][-1][1] = t
                    r.update(state="listed", kind="op", remove_at=t + self.a.op_hold)
                    revived += 1
        rec["notes"].append("restored master forgot %d listings, revived %d" % (forgot, revived))

    def selfcheck(self):
        """A deliberately misconfigured mirror: its own window ten times the master's, so its
        freeze budget (window - ttl - expected propagation) runs far past the real window (the
        daemon refuses a freeze_after longer than its own budget, so the window is what lies).
        Cut off, it keeps answering an address the master delisted; the checker must report it
        under (a), and the master's window-broken alert must fire (d)."""
        m = self.mirrors[-1]
        i = int(m[1:])
        self.procs[m].kill()
        self.write_mirror_conf(m, i, None, window=10 * self.W)
        self.start_mirror(m)
        rec = {"cls": "selfcheck", "target": m, "start": now(), "heal": None, "healed_in": None, "limit": 10.0,
               "cutoff": [], "notes": ["window %ds on the mirror" % (10 * self.W)]}
        self.faults.append(rec)
        log("selfcheck: %s with its window = %ds, cut off past the real window" % (m, 10 * self.W))
        a = self.fresh_addr()
        st, _ = self.api("POST", "/v1/listings", {"prefix": a, "comment": "selfcheck"})
        with self.lock:
            self.addrs[a] = {"kind": "selfcheck", "listed_t": now(), "state": "listed" if st == 201 else "unknown",
                             "episodes": [], "next_poll": 0}
        if not wait_until(10, lambda: (m, a) in self.positives):
            rec["notes"].append("never saw %s listed on %s" % (a, m))
        self.cut_mirror(m)
        st, js = self.api("DELETE", "/v1/listings/%s?reason=technical-error" % a)
        if st == 200:
            self.delisted(a, self.addrs[a], js["decided_at_ms"] / 1000.0, "operator")
        rec["selfcheck_addr"] = a
        time.sleep(self.W + 5)
        rec["cut_end"] = now()
        self.nft_flush(self.ns[m])
        self.procs[m].kill()
        self.write_mirror_conf(m, i, self.freeze)
        self.start_mirror(m)
        rec["heal"] = now()
        ok = wait_until(30, self.converged, step=0.2)
        rec["healed_in"] = now() - rec["heal"] if ok else None
        rec["end"] = now()

    # ---- the checker
    def fault_at(self, t):
        best = None
        for f in self.faults:
            if f["start"] <= t:
                best = f
        return best

    def timeline(self, m, key):
        """(times, values) of one mirror's series KEY over the scrapes that had it."""
        c = self._timelines = getattr(self, "_timelines", {})
        if (m, key) not in c:
            pts = [(ts, s[key]) for ts, w, s in self.scrapes if w == m and s is not None and key in s]
            c[(m, key)] = ([p[0] for p in pts], [p[1] for p in pts])
        return c[(m, key)]

    def value_at(self, m, key, t):
        """KEY's value on the last scrape of M at or before t (None if none)."""
        times, vals = self.timeline(m, key)
        i = bisect.bisect_right(times, t)
        return vals[i - 1] if i else None

    def stale_at(self, m, t):
        """blsync_mirror_stale from the scrapes just before and just after t."""
        times, vals = self.timeline(m, 'blsync_mirror_stale{feed="%s"}' % FEED)
        i = bisect.bisect_right(times, t)
        return (vals[i - 1] if i else None), (vals[i] if i < len(vals) else None)

    def frozen_around(self, m, t_send, t_recv):
        """blsync_mirror_stale on the last scrape of M that ended by t_send and on the first
        that started at or after t_recv (None where there is none). Both are None when a scrape
        of M failed between the two: a mirror that stops answering (SIGSTOP) right after a
        query may have left and re-entered the frozen state unseen."""
        key = 'blsync_mirror_stale{feed="%s"}' % FEED
        c = self._ends = getattr(self, "_ends", {})
        if m not in c:
            tries = [(ts, s) for ts, w, s in self.scrapes if w == m]
            ok = [(s.get("__end", ts), k) for k, (ts, s) in enumerate(tries) if s is not None and key in s]
            ok.sort()
            c[m] = (tries, [e for e, _ in ok], [k for _, k in ok], [ts for ts, _ in tries])
        tries, end_t, end_k, starts = c[m]
        i = bisect.bisect_right(end_t, t_send)
        j = bisect.bisect_left(starts, t_recv)
        if not i or j >= len(tries):
            return None, None
        k0 = end_k[i - 1]
        if any(s is None or key not in s for _, s in tries[k0 + 1:j + 1]):
            return None, None
        return tries[k0][1][key], tries[j][1][key]

    def check_a(self):
        out = []
        frozen_key = 'blsync_mirror_stale{feed="%s"}' % FEED
        for (m, a), ts in self.positives.items():
            r = self.addrs.get(a)
            if r is None:
                continue
            for d, until, cause, serial in r["episodes"]:
                bad = [t for t in ts if d + self.W < t < until]
                if bad:
                    out.append({"inv": "a", "mirror": m, "addr": a, "decided": d, "cause": cause,
                                "first_bad": bad[0], "last_positive": max(bad), "n": len(bad),
                                "stale": self.stale_at(m, bad[0]), "serial": serial,
                                "fault": self.fault_at(bad[0])})
        # A frozen mirror answers no positives: frozen on the last scrape that ended before the
        # query was sent and on the first that began after the answer arrived (a scrape started
        # before a query may read the mirror after it answered, on a loaded machine).
        for (m, a), ts in self.positives.items():
            for t, tr in zip(ts, self.positives_rcv.get((m, a), ts)):
                b, af = self.frozen_around(m, t, tr)
                if b == 2 and af == 2:
                    out.append({"inv": "a", "mirror": m, "addr": a, "decided": None, "cause": "frozen",
                                "first_bad": t, "last_positive": t, "n": 1, "stale": (b, af), "serial": None,
                                "fault": self.fault_at(t)})
                    break
        return out

    def check_c(self):
        try:
            db = sqlite3.connect("file:%s/master.db?mode=ro" % self.dir, uri=True, timeout=10)
            have = {r[0] for r in db.execute("SELECT evidence FROM reports WHERE evidence IS NOT NULL")}
            db.close()
        except sqlite3.Error as e:
            return [{"inv": "c", "error": str(e), "fault": None}], 0
        out, exempt = [], 0
        for ev, t in self.acked_reports:
            if ev in have:
                continue
            if any(a <= t <= b for a, b in self.exempt):
                exempt += 1
                continue
            out.append({"inv": "c", "evidence": ev, "acked": t, "fault": self.fault_at(t)})
        return out, exempt

    def promtool_expect(self, expectations):
        """One promtool rule-test run over the scraped series (1 s steps from the run's start):
        each expectation (key, ALERT, eval time, [(who, series key)]) says ALERT fires then with
        exactly those label sets. Returns the keys whose test failed, with promtool's words."""
        sys.path.insert(0, os.path.join(self.a.src, "tests", "metrics"))
        import gen_rule_tests as g
        rules_file = os.path.join(self.a.src, "deploy", "prometheus", "rules.yml")
        rules = g.rules(rules_file)
        n = int(max(e[2] for e in expectations) - self.t0) + 2
        families = ("blsync_mirror_stale", "blsync_master_delistings_window_broken_total")
        # Per target and 1 s step: its samples, or None where the scrape failed (a staleness
        # marker, as Prometheus writes when a target stops answering).
        grid, series = {}, set()
        for ts, who, s in self.scrapes:
            k = int(round(ts - self.t0))
            if 0 <= k < n:
                got = None if s is None else {key: v for key, v in s.items() if key.startswith(families)}
                grid[(who, k)] = got
                series.update((who, key) for key in (got or ()))
        inputs = []
        for who, key in sorted(series):
            vals = []
            for k in range(n):
                if (who, k) not in grid:
                    vals.append("_")
                elif grid[(who, k)] is None or key not in grid[(who, k)]:
                    vals.append("stale")
                else:
                    vals.append(repr(grid[(who, k)][key]))
            inputs.append({"series": g.with_target(key, who), "values": " ".join(vals)})
        tests, by_time = [], {}
        for key, alert, eval_t, expected in expectations:
            exp = []
            for who, skey in expected:
                labels = g.labels_of(skey, who)
                labels.update(severity=rules[alert]["severity"])
                exp.append({"exp_labels": labels,
                            "exp_annotations": {k: g.render(rules[alert][k], labels, 0)
                                                for k in ("summary", "description")}})
            at = "%ds" % int(eval_t - self.t0)
            by_time.setdefault((alert, at), []).append(key)
            tests.append({"eval_time": at, "alertname": alert, "exp_alerts": exp})
        doc = {"rule_files": [rules_file], "evaluation_interval": "1s",
               "tests": [{"interval": "1s", "input_series": inputs, "alert_rule_test": tests}]}
        path = os.path.join(self.dir, "promtool-tests.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        p = subprocess.run(["promtool", "test", "rules", path], capture_output=True, text=True)
        out = p.stdout + p.stderr
        failed = {}
        for m in re.finditer(r"alertname: (\w+), time: (\w+),(.*?)(?=alertname:|\Z)", out, re.S):
            t = sum(int(v) * {"h": 3600, "m": 60, "s": 1}[u] for v, u in re.findall(r"(\d+)([hms])", m.group(2)))
            for key in by_time.get((m.group(1), "%ds" % t), []):
                failed[key] = " ".join(m.group(3).split())
        if p.returncode != 0 and not failed:
            failed[None] = out.strip()[-1500:]
        return failed

    def check_d(self):
        exps = {}
        # Frozen: every mirror a fault cut off from heartbeats longer than freeze_after.
        for i, f in enumerate(self.faults):
            if f["cutoff"] and f["heal"] is not None:
                exps[("frozen", i)] = ("BlsyncMirrorFrozen", f["heal"] - 0.5,
                                       [(m, 'blsync_mirror_stale{feed="%s"}' % FEED) for m in f["cutoff"]], f, f["cutoff"])
        # Window broken: a delisting some mirror had not applied when the window ran out.
        key = 'blsync_mirror_serial{feed="%s"}' % FEED
        end = self.scrapes[-1][0] if self.scrapes else self.t0
        for a, r in self.addrs.items():
            for j, (d, until, cause, serial) in enumerate(r["episodes"]):
                te = d + self.W
                if serial is None or cause == "restore" or te + 5 > end or until < te:
                    continue
                # Late: neither the mirror's last scrape by te nor the master's record of its
                # acknowledgements shows the serial. A mirror stopped (SIGSTOP) or cut off just after
                # applying it is not scraped again before te, but its acknowledgement reached the
                # master, which rightly counts nothing broken.
                acked = 'blsync_master_mirror_acked_serial{feed="%s",mirror="%s"}'
                late = [m for m in self.mirrors if (self.value_at(m, key, te) or 0) < serial and
                        (self.value_at("master", acked % (FEED, m), te) or 0) < serial]
                if late:
                    exps[("broken", a, j)] = ("BlsyncDelistingWindowBroken", te + 4,
                                              [("master", 'blsync_master_delistings_window_broken_total{feed="%s"}' % FEED)],
                                              self.fault_at(te), late)
        # A claim the series contradict, so that (d) is seen to fail: the self-check's broken
        # mirror never freezes, so BlsyncMirrorFrozen must not fire for it.
        for f in self.faults:
            if f["cls"] == "selfcheck" and f.get("cut_end"):
                exps[("selfcheck_frozen",)] = ("BlsyncMirrorFrozen", f["cut_end"] - 1,
                                              [(f["target"], 'blsync_mirror_stale{feed="%s"}' % FEED)], f, [f["target"]])
        if not exps:
            return [], 0
        failed = self.promtool_expect([(k, e[0], e[1], e[2]) for k, e in exps.items()])
        self.d_selfcheck_failed = ("selfcheck_frozen",) in failed
        failed.pop(("selfcheck_frozen",), None)
        out = []
        for k, why in failed.items():
            e = exps.get(k)
            out.append({"inv": "d", "alert": e[0] if e else "promtool", "fault": e[3] if e else None,
                        "mirrors": e[4] if e else [], "at": e[1] if e else None,
                        "addr": k[1] if k and k[0] == "broken" else None, "detail": why})
        return out, len(exps)


KEEP_FAMILIES = ("blsync_mirror_serial", "blsync_mirror_stale", "blsync_mirror_connected",
                 "blsync_mirror_master_serial", "blsync_mirror_heartbeat_age", "blsync_master_serial",
                 "blsync_master_delistings_window_broken_total", "blsync_master_oldest_delisting",
                 "blsync_master_mirror_acked_serial", "blsync_master_mirror_connected",
                 "blsync_propagation_window_seconds", "blsync_mirror_deltas_refused_total",
                 "blsync_mirror_snapshots_refused_total")


def copy_spool(src, dst):
    """A file copy of a spool while the master runs (as tar would make it): an object the
    publisher prunes meanwhile is left out."""
    for root, _, files in os.walk(src):
        out = os.path.join(dst, os.path.relpath(root, src))
        os.makedirs(out, exist_ok=True)
        for f in files:
            try:
                shutil.copy2(os.path.join(root, f), os.path.join(out, f))
            except FileNotFoundError:
                pass


def wait_until(limit, cond, step=0.1):
    end = now() + limit
    while True:
        try:
            if cond():
                return True
        except Exception:
            pass
        if now() >= end:
            return False
        time.sleep(step)


def ts(h, t):
    return "t+%.1fs" % (t - h.t0) if t is not None else "-"


def pct(xs, p):
    if not xs:
        return "-"
    xs = sorted(xs)
    return "%.1f" % xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--mirrors", type=int, default=5)
    ap.add_argument("--window", type=int, default=30, help="W in seconds, both daemons")
    ap.add_argument("--freeze-after", type=float, default=None,
                    help="mirrors' freeze_after in s (default 0.4 W; 0: leave it to the daemon)")
    ap.add_argument("--minutes", type=float, default=0, help="soak: random faults for this long")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--only", default="", help="comma-separated fault classes (default: all)")
    ap.add_argument("--known", default=os.path.join(os.path.dirname(__file__), "known_failures.txt"))
    a = ap.parse_args()
    a.seed = a.seed if a.seed is not None else int(time.time())
    a.hold = max(4, a.window / 8)  # how long a non-partition fault stays
    a.listing_s = max(8, a.window // 3)  # policy listings expire this long after their report
    a.policy_every, a.op_every, a.op_hold = 2.0, 4.0, max(5, a.window / 5)
    h = Harness(a)
    if a.freeze_after == 0:
        h.freeze = None
    freeze = h.freeze if h.freeze is not None else 300.0
    log("chaos: %d mirrors, W=%ds, stale_after=%ds, freeze_after=%s, seed %d, dir %s" %
        (h.n, h.W, h.stale, fmt_dur(h.freeze) if h.freeze else "(daemon default)", a.seed, a.dir))
    h.freeze = freeze if h.freeze is None else h.freeze
    h.write_configs()
    h.start_all()
    threads = [threading.Thread(target=f, daemon=True) for f in (h.workload, h.sampler, h.scraper)]
    for t in threads:
        t.start()
    if not h.settle(30):
        raise SystemExit("FAIL: the mirrors never reached the master's serial at start-up")
    log("all %d mirrors at serial %s" % (h.n, h.master_serial()))
    table = h.faults_table()
    soak_only = {"partition_mirror_past_window", "disk_full_past_window"}
    if a.only:
        order = [k for k in table if k in a.only.split(",")]
    else:
        order = [k for k in table if a.minutes or k not in soak_only]
    if a.minutes:
        end = now() + a.minutes * 60
        while now() < end:
            table[h.rng.choice(order)]()
    else:
        for k in order:
            table[k]()
    h.selfcheck()
    time.sleep(2)
    h.stop.set()
    for t in threads:
        t.join(5)
    for p in h.procs.values():
        p.kill()
    report(h)


def report(h):
    viol_a = h.check_a()
    viol_c, exempt = h.check_c()
    viol_d, d_checked = h.check_d()
    known = set()
    try:
        for line in open(h.a.known):
            line = line.split("#", 1)[0].split()
            if len(line) == 2:
                known.add(tuple(line))
    except FileNotFoundError:
        pass
    sc = [f for f in h.faults if f["cls"] == "selfcheck"]
    caught = sc and any(v["addr"] == sc[0].get("selfcheck_addr") and v["mirror"] == sc[0]["target"]
                        for v in viol_a if v.get("addr"))
    viol_b = [{"inv": "b", "fault": f} for f in h.faults
              if f["cls"] != "selfcheck" and (f["healed_in"] is None or f["healed_in"] > f["limit"])]
    allv = viol_a + viol_b + viol_c + viol_d
    print()
    print("== evidence")
    for v in allv:
        f = v.get("fault")
        fc = f["cls"] if f else "none"
        if v["inv"] == "a":
            print("(a) %s: %s answered %s positively %d times, first %s, last %s; delisting decided %s (%s, serial %s); "
                  "stale before/after %s; during/after fault %s%s" %
                  (fc, v["mirror"], v["addr"], v["n"], ts(h, v["first_bad"]), ts(h, v["last_positive"]),
                   ts(h, v["decided"]), v["cause"], v["serial"], v["stale"], fc,
                   " on " + f["target"] if f and f["target"] else ""))
        elif v["inv"] == "b":
            print("(b) %s%s: injected %s, healing from %s, %s (limit %.0f s)%s" %
                  (fc, " on " + f["target"] if f["target"] else "", ts(h, f["start"]), ts(h, f["heal"]),
                   "healed in %.1f s" % f["healed_in"] if f["healed_in"] is not None else "never healed",
                   f["limit"], "; " + "; ".join(f["notes"]) if f["notes"] else ""))
        elif v["inv"] == "c":
            print("(c) %s: report %s acknowledged at %s is not in the store%s" %
                  (fc, v.get("evidence"), ts(h, v.get("acked")), v.get("error", "")))
        else:
            print("(d) %s: %s did not fire at %s as expected (%s%s): %s" %
                  (fc, v["alert"], ts(h, v["at"]), ", ".join(v.get("mirrors") or []),
                   "; delisting of " + v["addr"] if v.get("addr") else "",
                   v["detail"].replace("\n", " | ")[:600]))
    if not allv:
        print("none")
    # The table.
    classes = []
    for f in h.faults:
        if f["cls"] not in classes:
            classes.append(f["cls"])
    print()
    print("== %s: %d faults in %.0f s, %d delistings, %d reports acknowledged (%d exempt: after a backup), "
          "%d alert expectations checked" %
          ("soak" if h.a.minutes else "short run", len(h.faults), now() - h.t0,
           sum(len(r["episodes"]) for r in h.addrs.values()), len(h.acked_reports), exempt, d_checked))
    print("%-40s %5s %5s %5s %5s %5s %9s %9s" % ("fault class", "inj", "(a)", "(b)", "(c)", "(d)", "heal p50", "heal p99"))
    unexpected = []
    for c in classes:
        fs = [f for f in h.faults if f["cls"] == c]
        cnt = {}
        for v in allv:
            if v.get("fault") and v["fault"]["cls"] == c:
                cnt[v["inv"]] = cnt.get(v["inv"], 0) + 1
        heals = [f["healed_in"] for f in fs if f["healed_in"] is not None]
        never = sum(1 for f in fs if f["healed_in"] is None)
        p50, p99 = pct(heals, 50), pct(heals, 99)
        if never:
            p99 = "never(%d)" % never
        print("%-40s %5d %5d %5d %5d %5d %9s %9s" % (c, len(fs), cnt.get("a", 0), cnt.get("b", 0), cnt.get("c", 0),
                                                 cnt.get("d", 0), p50, p99))
        if c == "selfcheck":
            continue
        for inv, k in cnt.items():
            if (c, inv) not in known:
                unexpected.append("%s (%s): %d" % (c, inv, k))
    unattributed = [v for v in allv if not v.get("fault")]
    for v in unattributed:
        unexpected.append("before any fault (%s)" % v["inv"])
    print()
    for m in h.mirrors:
        s = h.samples[m]
        print("%s: %d queries, %d positive, %d NXDOMAIN" % (m, s[0], s[1], s[2]))
    ok = True
    for m in h.mirrors:
        if h.samples[m][1] == 0 or h.samples[m][2] == 0:
            print("FAIL: harness: %s never answered both positive and NXDOMAIN: the checker saw nothing" % m)
            ok = False
    if not getattr(h, "d_selfcheck_failed", False):
        print("FAIL: selfcheck: promtool accepted BlsyncMirrorFrozen for the mirror that never froze: (d) cannot fail")
        ok = False
    else:
        print("ok: selfcheck: promtool refused BlsyncMirrorFrozen for the mirror that never froze")
    for f in h.faults:
        if f.get("harness_error"):
            print("FAIL: harness error in %s: %s" % (f["cls"], f["harness_error"]))
            ok = False
    if not caught:
        print("FAIL: selfcheck: the deliberately broken mirror was NOT caught under (a)")
        ok = False
    else:
        print("ok: selfcheck: the misconfigured mirror (its window 10 W) was caught under (a)")
    for k in known:
        c, inv = k
        if not any(v.get("fault") and v["fault"]["cls"] == c and v["inv"] == inv for v in allv):
            if any(f["cls"] == c for f in h.faults):
                print("note: known failure %s (%s) did not occur in this run" % k)
    if unexpected:
        print("FAIL: violations not listed in %s: %s" % (os.path.basename(h.a.known), "; ".join(unexpected)))
        ok = False
    known_seen = sorted({(v["fault"]["cls"], v["inv"]) for v in allv if v.get("fault") and
                         (v["fault"]["cls"], v["inv"]) in known})
    if known_seen:
        print("known failures seen (expected with the current code): %s" %
              ", ".join("%s (%s)" % k for k in known_seen))
    with open(os.path.join(h.dir, "results.json"), "w") as f:
        json.dump({"t0": h.t0, "faults": [{k: v for k, v in f.items() if k != "repair"} for f in h.faults],
                   "decisions": h.addrs, "reports_acked": h.acked_reports}, f, default=str)
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
