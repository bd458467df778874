/* SPDX-License-Identifier: MIT */
/* Adaptive UDP coalescing: when a loaded UDP thread pauses, and when it stops
 * pausing for clients that wait on it. Pure decisions (no clock, no sleep):
 * the server passes the time and sleeps, tests drive it with made-up time. */
#ifndef MIRROR_COALESCE_H
#define MIRROR_COALESCE_H

#include <stdint.h>

/*
 * Every wake-up costs a context switch, and on loopback every answer sent
 * also pays for waking its client; both are per batch, not per query. Under
 * load, a short pause lets the next queries queue up so that one wake-up and
 * two system calls serve many (and GSO messages carry more answers). The
 * arrival rate is estimated from the batches themselves (queries received /
 * time between two receives, smoothed); the thread pauses only when at least
 * MIRROR_COAL_MIN queries are expected within udp_coalesce_us, and only for
 * as long as it takes half a batch vector to arrive. A server at a low rate
 * therefore never pauses and adds no latency; a loaded one adds at most
 * udp_coalesce_us.
 *
 * A pause only saves CPU if the queries keep coming while the thread sleeps.
 * A client that waits for its answers before it sends more (a resolver with
 * a few queries in flight, dnsperf -q N) instead slows down by the pause. So
 * each half-second cycle starts with a 25 ms probe without pauses; when the
 * probe's rate beats the paused rest of the cycle by more than 20% in two
 * judged cycles back to back, the clients are waiting on us and pausing stays
 * off for 10 s, twice as long each time the next judgement agrees, up to
 * 40 s: such clients rarely change, and every re-test slows them for a second
 * or two. A judgement that finds no waiting clients resets the period. Two in
 * a row, because a rate-limited client that fell behind sends a burst to
 * catch up, which a single short probe can mistake for waiting; not more,
 * because pausing a waiting client slows it down, while not pausing an
 * open-loop one only costs CPU. A cycle is judged only when traffic lasted
 * all of it, took at least 10 pauses, and never stopped for
 * MIRROR_COAL_STALL_US; any other cycle breaks the row. (A stall is the
 * thread or its clients losing the CPU, on a busy host for tens of
 * milliseconds; the catch-up burst that follows made open-loop loads look
 * like waiting clients about once in ten 10 s runs when cycles that could
 * not be judged did not break the row.)
 */
#define MIRROR_COAL_MIN      4.0      /* queries expected within the pause */
#define MIRROR_COAL_CYCLE_US 500000   /* one judgement per cycle */
#define MIRROR_COAL_PROBE_US 25000    /* start of a cycle without pauses */
#define MIRROR_COAL_SLOWER   2        /* agreeing judgements before pausing stops */
#define MIRROR_COAL_OFF_US   10000000 /* the first off period */
#define MIRROR_COAL_OFF_MAX  40000000 /* the longest */
#define MIRROR_COAL_STALL_US 20000    /* a longer gap between batches: not judged */

/* The state of one UDP thread; all zero to start. */
typedef struct {
    double rate;              /* queries per microsecond, smoothed over batches */
    int64_t prev_us;          /* the previous batch */
    int64_t cycle_us;         /* start of the current cycle */
    int64_t last_us;          /* the last batch counted in mode_q */
    uint64_t probe_q, mode_q; /* queries received in its probe and in the rest */
    unsigned paused;          /* pauses taken in this cycle */
    int slower;               /* judgements in a row where pausing cut the rate */
    int64_t off_until_us;     /* pausing is off until then (clients wait on us) */
    int64_t off_len_us;       /* the next off period (0: MIRROR_COAL_OFF_US) */
    double over_us;           /* how much longer than asked a pause lasts, smoothed */
    int64_t max_gap_us;       /* the longest time between two batches in this cycle */
} mirror_coal_t;

/* What the last cycle's judgement found (for the debug log). */
typedef struct {
    int judged; /* 0: no judgement at this call */
    double probe_qps, paused_qps;
    unsigned pauses;
    int slower;   /* agreeing judgements so far */
    double off_s; /* > 0: pausing just turned off for this long */
} mirror_coal_judgement_t;

/* Called after every batch of n queries received at now_us (monotonic
 * microseconds) by a thread whose receive vector holds batch_max; co_us is
 * udp_coalesce_us (> 0). Returns how long to pause now, in microseconds
 * (0: do not). j may be NULL. */
double mirror_coal_step(mirror_coal_t *c, int64_t now_us, int n, int batch_max, double co_us,
                        mirror_coal_judgement_t *j);

/* Reports how long a pause asked for requested_us really lasted. Sleeps
 * overshoot (timer slack, the wake-up itself: ~80-130 us on the VM the
 * benchmarks ran on), so later pauses ask for that much less and the whole
 * pause stays within udp_coalesce_us. A pause never asks for less than a
 * quarter of its target, so the overshoot keeps being measured. */
void mirror_coal_slept(mirror_coal_t *c, double requested_us, double actual_us);

#endif
