/* SPDX-License-Identifier: MIT */
/* Adaptive UDP coalescing decisions (see coalesce.h). */
#include "coalesce.h"

#include <string.h>

/* Ends a cycle: judges it if it was paused enough and lasted, starts the next. */
static void end_cycle(mirror_coal_t *c, int64_t now_us, mirror_coal_judgement_t *j)
{
    int64_t span = c->last_us - c->cycle_us;
    if (now_us >= c->off_until_us && c->paused >= 10 && span >= MIRROR_COAL_CYCLE_US * 9 / 10 &&
        c->max_gap_us <= MIRROR_COAL_STALL_US) {
        double r_probe = (double)c->probe_q / MIRROR_COAL_PROBE_US;
        double r_paused = (double)c->mode_q / (double)(span - MIRROR_COAL_PROBE_US);
        c->slower = r_probe > 1.2 * r_paused ? c->slower + 1 : 0;
        double off_s = 0;
        if (!c->slower)
            c->off_len_us = MIRROR_COAL_OFF_US;
        if (c->slower >= MIRROR_COAL_SLOWER) {
            int64_t len = c->off_len_us ? c->off_len_us : MIRROR_COAL_OFF_US;
            c->off_until_us = now_us + len;
            c->off_len_us = len * 2 > MIRROR_COAL_OFF_MAX ? MIRROR_COAL_OFF_MAX : len * 2;
            c->slower = 0;
            off_s = (double)len / 1e6;
        }
        if (j) {
            j->judged = 1;
            j->probe_qps = r_probe * 1e6;
            j->paused_qps = r_paused * 1e6;
            j->pauses = c->paused;
            j->slower = c->slower;
            j->off_s = off_s;
        }
    } else {
        c->slower = 0; /* "in a row" means judged cycles back to back */
    }
    c->cycle_us = now_us;
    c->max_gap_us = 0;
    c->probe_q = c->mode_q = 0;
    c->paused = 0;
}

double mirror_coal_step(mirror_coal_t *c, int64_t now_us, int n, int batch_max, double co_us,
                        mirror_coal_judgement_t *j)
{
    if (j)
        memset(j, 0, sizeof *j);
    int64_t gap_us = now_us - c->prev_us;
    c->prev_us = now_us;
    if (gap_us > c->max_gap_us)
        c->max_gap_us = gap_us;
    double inst = gap_us > 0 ? (double)n / (double)gap_us : 0;
    c->rate = gap_us > 100000 ? inst : c->rate * 0.75 + inst * 0.25;
    int64_t into = now_us - c->cycle_us;
    if (into >= MIRROR_COAL_CYCLE_US || into < 0) {
        end_cycle(c, now_us, j);
        into = 0;
    }
    if (into < MIRROR_COAL_PROBE_US) {
        c->probe_q += (uint64_t)n;
        return 0;
    }
    c->mode_q += (uint64_t)n;
    c->last_us = now_us;
    if (now_us < c->off_until_us || n >= batch_max || c->rate * co_us < MIRROR_COAL_MIN)
        return 0;
    double target = (batch_max / 2) / c->rate;
    if (target > co_us)
        target = co_us;
    double us = target - c->over_us;
    if (us < target / 4)
        us = target / 4;
    c->paused++;
    return us;
}

void mirror_coal_slept(mirror_coal_t *c, double requested_us, double actual_us)
{
    double over = actual_us - requested_us;
    if (over < 0)
        over = 0;
    if (over > 2000) /* the thread was preempted, not a sleep's overshoot */
        return;
    c->over_us = c->over_us * 0.9 + over * 0.1;
}
