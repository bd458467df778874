#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The chaos checker's invariant (a) on made-up scrapes and answers, and the sampler's reading
of DNS answers (ctest chaos_checker): what they must count and what not. No daemons, no
namespaces."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos  # noqa: E402

KEY = 'blsync_mirror_stale{feed="%s"}' % chaos.FEED


def harness(scrapes, positives):
    """A checker over SCRAPES [(start, stale level or None for a failed scrape)] of m1 and
    POSITIVES [(sent, received)] of one listed address on m1."""
    h = chaos.Harness.__new__(chaos.Harness)
    h.W = 30
    h.faults = []
    h.scrapes = [(t, "m1", None if v is None else {KEY: float(v), "__end": t + 0.05})
                 for t, v in scrapes]
    h.addrs = {"198.19.0.1": {"episodes": []}}
    h.positives = {("m1", "198.19.0.1"): [p[0] for p in positives]}
    h.positives_rcv = {("m1", "198.19.0.1"): [p[1] for p in positives]}
    return h


def frozen_hits(h):
    return [v for v in h.check_a() if v["cause"] == "frozen"]


def main():
    fails = []

    def expect(what, got, want):
        print("%s: %s" % ("ok" if got == want else "FAIL", what))
        if got != want:
            fails.append(what)

    # Frozen on the scrapes one second before and after: a positive then is a violation.
    h = harness([(10, 2), (11, 2), (12, 2)], [(11.3, 11.31)])
    expect("a positive between two frozen scrapes is reported", len(frozen_hits(h)), 1)

    # Fresh on the scrape after: the mirror came back in between.
    h = harness([(10, 2), (11, 0), (12, 0)], [(10.6, 10.61)])
    expect("a positive as the mirror comes back is not reported", len(frozen_hits(h)), 0)

    # The mirror answered, then stopped answering anything (SIGSTOP: the scrapes fail) and
    # came back frozen: nothing says it was frozen when it answered.
    h = harness([(10, 2), (11, None), (12, None), (13, None), (14, 2)], [(10.9, 10.95)])
    expect("a failed scrape between the two hides the state: not reported", len(frozen_hits(h)), 0)

    # A failed scrape before the bracket does not matter.
    h = harness([(9, None), (10, 2), (11, 2)], [(10.4, 10.41)])
    expect("a failed scrape outside the bracket leaves the positive reported", len(frozen_hits(h)), 1)

    # No scrape after the answer: unknown.
    h = harness([(10, 2)], [(10.4, 10.41)])
    expect("no scrape after the answer: not reported", len(frozen_hits(h)), 0)

    # The sampler's answers: one to the query sent, and a late one to an older query that
    # reuses its id (the ids wrap), which must not count.
    def reply(query, rcode, an):
        return query[:2] + bytes([0x84, 0x80 | rcode]) + query[4:6] + bytes([0, an, 0, 0, 0, 0]) + query[12:]
    q = chaos.dns_query(7, "198.19.0.1")
    expect("an answer to the query sent counts", chaos.dns_answer(reply(q, 0, 1), q), (7, True))
    expect("NXDOMAIN to the query sent counts", chaos.dns_answer(reply(q, 3, 0), q), (7, False))
    old = chaos.dns_query(7, "198.19.0.2")
    expect("a late answer to an older query with the same id does not count",
           chaos.dns_answer(reply(old, 0, 1), q), None)

    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
