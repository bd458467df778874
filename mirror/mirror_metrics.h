/* SPDX-License-Identifier: MIT */
/* The mirror's metrics (docs/METRICS.md): DNS counters fed by the server threads, feed gauges. */
#ifndef MIRROR_METRICS_H
#define MIRROR_METRICS_H

#include <stdatomic.h>

#include "dns.h"
#include "feed.h"
#include "metrics.h" /* runtime/metrics.h: the registry */

#define MIRROR_METRICS_ZONES 16

/* Why a DNS TCP connection was refused at accept, closed by the server, or
 * why accepting paused (the reason label of the three tcp families). */
enum {
    MIRROR_TCP_REFUSE_CLIENT,
    MIRROR_TCP_REFUSE_FULL,
    MIRROR_TCP_REFUSE_FD,
    MIRROR_TCP_REFUSE_N
};
enum {
    MIRROR_TCP_CLOSE_EVICTED,
    MIRROR_TCP_CLOSE_IDLE,
    MIRROR_TCP_CLOSE_QUERY_TIMEOUT,
    MIRROR_TCP_CLOSE_SLOW_READER,
    MIRROR_TCP_CLOSE_NOT_DNS,
    MIRROR_TCP_CLOSE_N
};
enum {
    MIRROR_TCP_PAUSE_EMFILE,
    MIRROR_TCP_PAUSE_ENFILE,
    MIRROR_TCP_PAUSE_ENOMEM,
    MIRROR_TCP_PAUSE_N
};

/* Every series the hot path touches is created up front, so counting a
 * query is one lock-free increment of a per-thread shard. */
typedef struct mirror_metrics {
    bl_metrics_t *reg;
    bl_metrics_mirror_t fam;
    bl_metrics_series_t *dns[2][MIRROR_QT_N][6]; /* transport, qtype, rcode */
    bl_metrics_series_t *listed[MIRROR_METRICS_ZONES];
    bl_metrics_series_t *tcp_open, *tcp_accepted;
    bl_metrics_series_t *tcp_refused[MIRROR_TCP_REFUSE_N];
    bl_metrics_series_t *tcp_closed[MIRROR_TCP_CLOSE_N];
    bl_metrics_series_t *tcp_accept_pauses[MIRROR_TCP_PAUSE_N];
    bl_metrics_series_t *udp_batches, *udp_pauses;
    bl_metrics_series_t *acl_denied[2];  /* refused, dropped */
    bl_metrics_series_t *rrl_limited[2]; /* dropped, slipped */
    atomic_long tcp_open_n;
} mirror_metrics_t;

/* Creates the registry and the mirror's families; zones label the per-zone
 * series (NULL on allocation failure). */
mirror_metrics_t *mirror_metrics_new(mirror_zone_t *const *zones, size_t nzones);
void mirror_metrics_free(mirror_metrics_t *m);

/* Counts one answer (transport 0 = UDP, 1 = TCP). m may be NULL. */
static inline void mirror_metrics_query(mirror_metrics_t *m, int tcp, const mirror_dns_info_t *i)
{
    if (!m)
        return;
    int rc = i->rcode == MIRROR_RC_BADVERS ? MIRROR_RC_FORMERR : i->rcode;
    if (rc >= 0 && rc < 6)
        bl_metrics_inc(m->dns[tcp][i->qtype][rc]);
    if (i->listed && i->zone >= 0 && i->zone < MIRROR_METRICS_ZONES)
        bl_metrics_inc(m->listed[i->zone]);
}

/* Records one apply result of a feed: a mirror_feed_t on_apply hook with
 * arg = the mirror_metrics_t (series per feed and reason are created on
 * first use: writer thread only). */
void mirror_metrics_on_apply(void *arg, struct mirror_feed *f, int rc,
                             const mirror_apply_info_t *info);

#endif
