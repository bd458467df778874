/* SPDX-License-Identifier: MIT */
/* The mirror's metrics (docs/METRICS.md): DNS counters fed by the server threads, feed gauges. */
#include "mirror_metrics.h"
#include "version.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

static const char *const transports[2] = {"udp", "tcp"};
static const char *const qtypes[MIRROR_QT_N] = {"A", "AAAA", "TXT", "SOA", "NS", "ANY", "other"};
static const char *const rcodes[6] = {"NOERROR",  "FORMERR", "SERVFAIL",
                                      "NXDOMAIN", "NOTIMP",  "REFUSED"};

static const char *const tcp_refuse_reasons[MIRROR_TCP_REFUSE_N] = {"client_limit", "full",
                                                                    "fd_limit"};
static const char *const tcp_close_reasons[MIRROR_TCP_CLOSE_N] = {
    "evicted", "idle", "query_timeout", "slow_reader", "not_dns"};
static const char *const tcp_pause_reasons[MIRROR_TCP_PAUSE_N] = {"emfile", "enfile", "enomem"};

static double tcp_open_fn(void *arg)
{
    mirror_metrics_t *m = arg;
    return (double)atomic_load_explicit(&m->tcp_open_n, memory_order_relaxed);
}

mirror_metrics_t *mirror_metrics_new(mirror_zone_t *const *zones, size_t nzones)
{
    mirror_metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->reg = bl_metrics_new();
    if (!m->reg || bl_metrics_mirror_register(m->reg, &m->fam)) {
        mirror_metrics_free(m);
        return NULL;
    }
    for (int t = 0; t < 2; t++)
        for (int q = 0; q < MIRROR_QT_N; q++)
            for (int r = 0; r < 6; r++) {
                const char *v[] = {transports[t], qtypes[q], rcodes[r], NULL};
                m->dns[t][q][r] = bl_metrics_series(m->fam.dns_queries, v);
            }
    for (size_t i = 0; i < nzones && i < MIRROR_METRICS_ZONES; i++) {
        const char *v[] = {zones[i]->name, NULL};
        m->listed[i] = bl_metrics_series(m->fam.dns_listed, v);
        bl_metrics_set(bl_metrics_series(m->fam.dns_ttl, v), zones[i]->ttl);
    }
    const char *none[] = {NULL};
    m->tcp_open = bl_metrics_series(m->fam.tcp_open, none);
    bl_metrics_set_fn(m->tcp_open, tcp_open_fn, m);
    m->tcp_accepted = bl_metrics_series(m->fam.tcp_accepted, none);
    for (int i = 0; i < MIRROR_TCP_REFUSE_N; i++) {
        const char *v[] = {tcp_refuse_reasons[i], NULL};
        m->tcp_refused[i] = bl_metrics_series(m->fam.tcp_refused, v);
    }
    for (int i = 0; i < MIRROR_TCP_CLOSE_N; i++) {
        const char *v[] = {tcp_close_reasons[i], NULL};
        m->tcp_closed[i] = bl_metrics_series(m->fam.tcp_closed, v);
    }
    for (int i = 0; i < MIRROR_TCP_PAUSE_N; i++) {
        const char *v[] = {tcp_pause_reasons[i], NULL};
        m->tcp_accept_pauses[i] = bl_metrics_series(m->fam.tcp_accept_pauses, v);
    }
    m->udp_batches = bl_metrics_series(m->fam.udp_batches, none);
    m->udp_pauses = bl_metrics_series(m->fam.udp_pauses, none);
    const char *refused[] = {"refused", NULL}, *dropped[] = {"dropped", NULL},
               *slipped[] = {"slipped", NULL};
    m->acl_denied[0] = bl_metrics_series(m->fam.acl_denied, refused);
    m->acl_denied[1] = bl_metrics_series(m->fam.acl_denied, dropped);
    m->rrl_limited[0] = bl_metrics_series(m->fam.rrl_limited, dropped);
    m->rrl_limited[1] = bl_metrics_series(m->fam.rrl_limited, slipped);
    const char *ver[] = {BLSYNC_VERSION, NULL};
    bl_metrics_set(bl_metrics_series(m->fam.build_info, ver), 1);
    return m;
}

void mirror_metrics_free(mirror_metrics_t *m)
{
    if (!m)
        return;
    bl_metrics_free(m->reg);
    free(m);
}

void mirror_metrics_on_apply(void *arg, struct mirror_feed *f, int rc,
                             const mirror_apply_info_t *info)
{
    mirror_metrics_t *m = arg;
    if (!m)
        return;
    const char *feed[] = {f->name, NULL};
    int snap = info->type == BL_OBJ_SNAPSHOT;
    if (rc) {
        const char *v[] = {f->name, bl_errname(rc), NULL};
        bl_metrics_inc(
            bl_metrics_series(snap ? m->fam.snapshots_refused : m->fam.deltas_refused, v));
        return;
    }
    bl_metrics_inc(
        bl_metrics_series(snap ? m->fam.snapshots_applied : m->fam.deltas_applied, feed));
    const char *kind[] = {f->name, snap ? "snapshot" : "delta", NULL};
    bl_metrics_observe(bl_metrics_series(m->fam.apply_duration, kind),
                       (double)info->elapsed_us / 1e6);
    bl_metrics_set(bl_metrics_series(m->fam.serial, feed), (double)f->serial);
    const char *v4[] = {f->name, "ipv4", NULL}, *v6[] = {f->name, "ipv6", NULL};
    bl_metrics_set(bl_metrics_series(m->fam.entries, v4),
                   (double)mirror_index_count_af(f->ix, BL_AF4));
    bl_metrics_set(bl_metrics_series(m->fam.entries, v6),
                   (double)mirror_index_count_af(f->ix, BL_AF6));
}
