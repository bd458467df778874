/* SPDX-License-Identifier: MIT */
/* Unit tests of the UDP coalescing decisions, driven by simulated clients on
 * a simulated clock: when a thread pauses, how big its batches get, and when
 * it stops pausing for clients that wait on it (and for how long). */
#include "test.h"

#include "coalesce.h"

#define BATCH 64
#define QMAX  4096

/* One UDP thread and its clients. Open loop: queries arrive at a fixed rate
 * whatever the thread does. Closed loop: the client keeps `window` queries in
 * flight; each answer sent at t brings a new query at t + rtt, no faster than
 * the client's own limit. */
typedef struct {
    mirror_coal_t c;
    int64_t now;             /* microseconds */
    double proc_us;          /* the thread's work per query */
    double co;               /* udp_coalesce_us */
    double over;             /* how much longer than asked every sleep lasts */
    double slept, slept_max; /* total and longest real pause */
    /* open loop */
    double rate, queued;
    /* closed loop */
    int closed;
    double rtt, client_gap, client_free;
    double pace, sched; /* paced closed loop: the client's own schedule (0: none) */
    double stall_every, stall_us, next_stall; /* the thread loses the CPU now and then */
    double arrive[QMAX];                      /* arrival times of queued queries, ring */
    size_t head, tail;
    /* what happened */
    uint64_t batches, queries, pauses;
    int64_t last_pause;
    double offs[16];
    int noffs;
    int64_t off_at[16];
} sim_t;

static void sim_init(sim_t *s, double co)
{
    memset(s, 0, sizeof *s);
    s->now = 1000000;
    s->proc_us = 2;
    s->co = co;
    s->last_pause = -1;
}

static void open_loop(sim_t *s, double qps)
{
    s->closed = 0;
    s->rate = qps / 1e6;
    s->queued = 0;
}

static void closed_loop(sim_t *s, int window, double rtt, double client_qps)
{
    s->closed = 1;
    s->rtt = rtt;
    s->client_gap = 1e6 / client_qps;
    s->head = s->tail = 0;
    s->client_free = (double)s->now;
    s->pace = 0;
    for (int i = 0; i < window; i++) {
        s->client_free += s->client_gap;
        s->arrive[s->tail++ % QMAX] = s->client_free;
    }
}

/* dnsperf -Q qps -q window: queries go out on the client's schedule, but
 * never more than window in flight; a client that fell behind its schedule
 * catches up as fast as its answers let it. */
static void paced_loop(sim_t *s, int window, double rtt, double client_qps, double qps)
{
    closed_loop(s, window, rtt, client_qps);
    s->pace = 1e6 / qps;
    s->head = s->tail = 0;
    s->sched = (double)s->now;
    for (int i = 0; i < window; i++) {
        s->sched += s->pace;
        s->arrive[s->tail++ % QMAX] = s->sched;
    }
    s->client_free = s->sched;
}

/* Runs the thread for us microseconds of simulated time. */
static void sim_run(sim_t *s, double us)
{
    int64_t end = s->now + (int64_t)us;
    while (s->now < end) {
        int n;
        if (s->stall_every > 0 && (double)s->now >= s->next_stall) {
            s->now += (int64_t)s->stall_us; /* nothing runs on the thread meanwhile */
            s->next_stall = (double)s->now + s->stall_every;
        }
        if (!s->closed) {
            if (s->queued < 1) { /* blocked in recvmmsg until the next query */
                s->now += (int64_t)((1 - s->queued) / s->rate) + 1;
                s->queued = 1;
            }
            n = s->queued >= BATCH ? BATCH : (int)s->queued;
            s->queued -= n;
        } else {
            if (s->head == s->tail)
                break;
            if (s->arrive[s->head % QMAX] > (double)s->now)
                s->now = (int64_t)s->arrive[s->head % QMAX] + 1;
            n = 0;
            while (n < BATCH && s->head != s->tail && s->arrive[s->head % QMAX] <= (double)s->now) {
                s->head++;
                n++;
            }
        }
        mirror_coal_judgement_t j;
        double p = mirror_coal_step(&s->c, s->now, n, BATCH, s->co, &j);
        if (j.off_s > 0 && s->noffs < 16) {
            s->off_at[s->noffs] = s->now;
            s->offs[s->noffs++] = j.off_s;
        }
        s->batches++;
        s->queries += (uint64_t)n;
        double work = n * s->proc_us;
        if (s->closed) { /* the answers go out after the work: new queries follow */
            double sent = (double)s->now + work;
            for (int i = 0; i < n; i++) {
                double t = sent + s->rtt;
                if (s->pace > 0) {
                    s->sched += s->pace;
                    if (t < s->sched)
                        t = s->sched;
                }
                if (t < s->client_free + s->client_gap)
                    t = s->client_free + s->client_gap;
                s->client_free = t;
                s->arrive[s->tail++ % QMAX] = t;
            }
        }
        if (p > 0) {
            s->pauses++;
            s->last_pause = s->now;
            mirror_coal_slept(&s->c, p, p + s->over);
            p += s->over;
            s->slept += p;
            s->slept_max = p > s->slept_max ? p : s->slept_max;
        }
        double step = work + p;
        if (!s->closed)
            s->queued += step * s->rate;
        s->now += (int64_t)step + 1;
    }
    if (s->now < end) /* a closed loop with nothing in flight: idle */
        s->now = end;
}

/* A lightly loaded thread never pauses: no latency added. */
static void test_low_rate(void)
{
    sim_t s;
    sim_init(&s, 300);
    open_loop(&s, 5000);
    sim_run(&s, 5e6);
    ASSERT(s.queries > 20000);
    ASSERT_EQ(s.pauses, 0);
}

/* Under an open-loop load it pauses, batches grow, and it never mistakes
 * the load for waiting clients; pauses never exceed udp_coalesce_us. */
static void test_open_loop(void)
{
    sim_t s, plain;
    sim_init(&s, 300);
    open_loop(&s, 50000);
    sim_run(&s, 30e6);
    ASSERT(s.pauses > 1000);
    ASSERT_EQ(s.noffs, 0);
    double batch = (double)s.queries / (double)s.batches;
    /* without pauses the same load comes one or two at a time */
    sim_init(&plain, 300);
    plain.c.off_until_us = INT64_MAX; /* never pause */
    open_loop(&plain, 50000);
    sim_run(&plain, 5e6);
    double batch0 = (double)plain.queries / (double)plain.batches;
    if (!(batch >= 8 && batch >= 5 * batch0)) /* the probes keep batches of one */
        BL_FAIL("mean batch %.1f with pauses, %.1f without", batch, batch0);
    /* each pause bounded by udp_coalesce_us, and by half a batch vector */
    mirror_coal_t c;
    memset(&c, 0, sizeof c);
    int64_t t = 1000000;
    double maxp = 0;
    for (int i = 0; i < 20000; i++, t += 100) {
        double p = mirror_coal_step(&c, t, 10, BATCH, 300, NULL); /* 100k qps */
        maxp = p > maxp ? p : maxp;
    }
    if (!(maxp > 300 * 0.9 && maxp <= 300))
        BL_FAIL("longest pause %.0f us at 100k qps with udp_coalesce_us = 300", maxp);
    memset(&c, 0, sizeof c);
    maxp = 0;
    for (int i = 0; i < 20000; i++, t += 100) {
        double p = mirror_coal_step(&c, t, 10, BATCH, 5000, NULL);
        maxp = p > maxp ? p : maxp;
    }
    if (!(maxp >= 300 && maxp <= 340)) /* 32 queries at 100k qps: 320 us */
        BL_FAIL("longest pause %.0f us at 100k qps with udp_coalesce_us = 5000", maxp);
}

/* A rate-limited client with a cap on queries in flight (dnsperf -Q 50000
 * -q 100) on a busy host: the thread loses the CPU for 30 ms now and then,
 * the client hits its cap, then catches up at full speed. A probe that sees
 * such a burst must not turn pausing off for this open-loop load, however
 * the stalls fall on the half-second cycles. */
static void test_paced_with_stalls(void)
{
    static const double every[] = {0.5e6, 0.52e6, 0.75e6, 1.3e6};
    for (size_t i = 0; i < sizeof every / sizeof every[0]; i++)
        for (int phase = 0; phase < 5; phase++) {
            sim_t s;
            sim_init(&s, 500);
            s.stall_every = every[i];
            s.stall_us = 30000;
            s.next_stall = (double)s.now + 0.5e6 + phase * 0.1e6;
            paced_loop(&s, 100, 30, 150000, 50000);
            sim_run(&s, 30e6);
            double qps = (double)s.queries / 30.0;
            if (qps < 49500 || qps > 50500)
                BL_FAIL("the paced client ran at %.0f qps", qps);
            if (s.noffs)
                BL_FAIL("stalls every %.2f s (phase %d): pausing turned off %d times for an "
                        "open-loop client",
                        every[i] / 1e6, phase, s.noffs);
            if (s.pauses < 40000) /* ~3,300 a second without stalls */
                BL_FAIL("stalls every %.2f s (phase %d): %llu pauses in 30 s", every[i] / 1e6,
                        phase, (unsigned long long)s.pauses);
        }
}

/* Feeds one half-second cycle of batches every 100 us straight to the
 * decisions: the probe's share at probe_qps, the rest at paused_qps, with
 * no batch at all for gap_us in its middle. Returns the number of off
 * periods that started. */
static int feed_cycle(mirror_coal_t *c, int64_t *t, double probe_qps, double paused_qps,
                      int64_t gap_us)
{
    int offs = 0;
    int64_t start = *t, mid = start + MIRROR_COAL_CYCLE_US / 2;
    double owed = 0;
    for (; *t < start + MIRROR_COAL_CYCLE_US; *t += 100) {
        if (gap_us && *t >= mid && *t < mid + gap_us)
            continue;
        owed += (*t - start < MIRROR_COAL_PROBE_US ? probe_qps : paused_qps) * 100e-6;
        int n = (int)owed;
        owed -= n;
        mirror_coal_judgement_t j;
        mirror_coal_step(c, *t, n, BATCH, 500, &j);
        offs += j.off_s > 0;
    }
    return offs;
}

/* The rules of a judgement: two judged cycles back to back that found the
 * probe faster turn pausing off; a cycle that cannot be judged (traffic
 * stopped for a while: a stall) is not judged and breaks the row. */
static void test_judgement_rules(void)
{
    mirror_coal_t c;
    memset(&c, 0, sizeof c);
    int64_t t = 1000000;
    int offs = feed_cycle(&c, &t, 50000, 50000, 0);
    offs += feed_cycle(&c, &t, 90000, 50000, 0); /* judged slower at the next batch */
    offs += feed_cycle(&c, &t, 50000, 50000, 0);
    ASSERT_EQ(offs, 0);
    /* probe faster in three cycles in a row, but each with a 30 ms stall */
    for (int i = 0; i < 3; i++)
        offs += feed_cycle(&c, &t, 90000, 50000, 30000);
    offs += feed_cycle(&c, &t, 50000, 50000, 0);
    if (offs)
        BL_FAIL("cycles with a stall were judged: pausing turned off");
    /* slower, a cycle with a stall, slower: not in a row */
    offs += feed_cycle(&c, &t, 50000, 50000, 0);
    offs += feed_cycle(&c, &t, 90000, 50000, 0);
    offs += feed_cycle(&c, &t, 90000, 50000, 30000);
    offs += feed_cycle(&c, &t, 90000, 50000, 0);
    offs += feed_cycle(&c, &t, 50000, 50000, 0);
    if (offs)
        BL_FAIL("a cycle that was not judged did not break the row");
    /* two judged cycles back to back */
    offs += feed_cycle(&c, &t, 90000, 50000, 0);
    offs += feed_cycle(&c, &t, 90000, 50000, 0);
    offs += feed_cycle(&c, &t, 50000, 50000, 0);
    ASSERT_EQ(offs, 1);
}

/* A full receive vector means the thread is behind: never pause then. */
static void test_overload(void)
{
    sim_t s;
    sim_init(&s, 300);
    open_loop(&s, 2e6);
    sim_run(&s, 3e6);
    ASSERT_EQ(s.pauses, 0);
    if (s.queries + 4 * BATCH < s.batches * BATCH) /* all full but the first few */
        BL_FAIL("%llu queries in %llu batches", (unsigned long long)s.queries,
                (unsigned long long)s.batches);
}

/* Clients that wait for their answers: pausing stops within about a second,
 * stays off 10 s, then re-tests; while they keep waiting the off period
 * doubles up to 40 s. */
static void test_closed_loop_backoff(void)
{
    sim_t s;
    sim_init(&s, 300);
    int64_t t0 = s.now;
    closed_loop(&s, 20, 30, 150000);
    sim_run(&s, 130e6);
    if (s.noffs < 4)
        BL_FAIL("pausing turned off %d times in 130 s of a closed loop", s.noffs);
    if (s.off_at[0] - t0 > 1600000)
        BL_FAIL("first turned off after %.2f s", (double)(s.off_at[0] - t0) / 1e6);
    ASSERT_EQ((int)s.offs[0], 10);
    ASSERT_EQ((int)s.offs[1], 20);
    ASSERT_EQ((int)s.offs[2], 40);
    ASSERT_EQ((int)s.offs[3], 40);
    /* each re-test comes after the off period and takes about a second */
    for (int i = 1; i < 4; i++) {
        double gap = (double)(s.off_at[i] - s.off_at[i - 1]) / 1e6;
        if (gap < s.offs[i - 1] || gap > s.offs[i - 1] + 1.6)
            BL_FAIL("off #%d came %.2f s after the previous %.0f s period", i + 1, gap,
                    s.offs[i - 1]);
    }
    /* the closed loop ran at the client's speed most of the time */
    double qps = (double)s.queries / 130.0;
    if (qps < 0.9 * 150000)
        BL_FAIL("closed loop at %.0f qps, its own limit 150000", qps);
}

/* A judgement that finds no waiting clients resets the period; time off
 * counts even with no traffic. */
static void test_reset_and_idle(void)
{
    sim_t s;
    sim_init(&s, 300);
    closed_loop(&s, 20, 30, 150000);
    sim_run(&s, 14e6); /* off 10 s, re-test, off 20 s */
    ASSERT_EQ(s.noffs, 2);
    ASSERT_EQ((int)s.offs[1], 20);
    /* the clients change: an open-loop load once the 20 s are over */
    s.now = s.off_at[1] + 20500000;
    open_loop(&s, 50000);
    uint64_t p0 = s.pauses;
    sim_run(&s, 5e6);
    ASSERT(s.pauses > p0); /* pausing again, judged not waiting: period reset */
    int n0 = s.noffs;
    closed_loop(&s, 20, 30, 150000);
    sim_run(&s, 3e6);
    ASSERT_EQ(s.noffs, n0 + 1);
    ASSERT_EQ((int)s.offs[n0], 10);
    /* idle for 15 s: the 10 s are over, the next load is paused again */
    s.now += 15000000;
    open_loop(&s, 50000);
    p0 = s.pauses;
    sim_run(&s, 1e6);
    ASSERT(s.pauses > p0);
}

/* Sleeps that overshoot (timer slack, a slow wake-up): pauses ask for less,
 * and what they really last stays within udp_coalesce_us. */
static void test_overshoot(void)
{
    sim_t s;
    sim_init(&s, 300);
    s.over = 130;
    open_loop(&s, 50000);
    sim_run(&s, 1e6); /* learn */
    s.slept = s.slept_max = 0;
    uint64_t p0 = s.pauses;
    sim_run(&s, 10e6);
    double mean = s.slept / (double)(s.pauses - p0);
    if (!(mean > 250 && mean <= 305 && s.slept_max <= 320))
        BL_FAIL("pauses of %.0f us on average, %.0f at most, with udp_coalesce_us = 300 and "
                "sleeps 130 us long",
                mean, s.slept_max);
    ASSERT_EQ(s.noffs, 0);
    /* an overshoot bigger than the budget: pauses of a quarter plus it */
    sim_init(&s, 100);
    s.over = 130;
    open_loop(&s, 100000);
    sim_run(&s, 1e6); /* learn */
    s.slept_max = 0;
    p0 = s.pauses;
    sim_run(&s, 3e6);
    ASSERT(s.pauses > p0);
    ASSERT(s.slept_max <= 100 / 4 + 130 + 1);
}

int main(void)
{
    RUN(test_low_rate);
    RUN(test_open_loop);
    RUN(test_overload);
    RUN(test_judgement_rules);
    RUN(test_paced_with_stalls);
    RUN(test_overshoot);
    RUN(test_closed_loop_backoff);
    RUN(test_reset_and_idle);
    return 0;
}
