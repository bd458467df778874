/* SPDX-License-Identifier: MIT */
/* The master's Prometheus metrics: series handles, and the tick that refreshes the gauges. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acks.h"
#include "err.h"
#include "log.h"
#include "master_metrics.h"
#include "reviews.h"
#include "version.h"
#include "obj.h"

#define MAX_MIRRORS 4096

typedef struct {
    char name[BL_METRICS_LABEL_MAX];
    bl_metrics_series_t *active, *acked, *lag_serials, *lag, *contact_age, *connected, *sessions;
    bl_metrics_series_t *key_info; /* {key_id} of key, NULL while unknown */
    char key[17];
    int seen; /* the acknowledgements know it at this tick */
} mirror_t;

/* A connected mirror's client certificate: one series per mirror with a session. */
typedef struct {
    char name[BL_METRICS_LABEL_MAX];
    bl_metrics_series_t *expiry;
    int64_t not_after; /* the earliest of its sessions' certificates at this tick */
    int seen;          /* a session up at this tick */
} mirror_cert_t;

/* The results of a public lookup (label result of blsync_master_public_lookups_total). */
static const char *const lookup_results[] = {"listed", "not_listed", "delisting", "invalid",
                                             "error"};
#define LOOKUP_RESULTS (sizeof lookup_results / sizeof *lookup_results)

struct master_metrics {
    bl_metrics_t *r;
    bl_metrics_master_t f;
    /* A further feed's series in the first feed's registry (not owned): the
     * listeners' and the review queue's series are the first feed's (the
     * queue's summed over every feed). */
    struct master_metrics *main;
    /* The first feed's: the further feeds' objects, linked through next. */
    struct master_metrics *next;
    char feed[BL_FEED_MAX + 1];
    int64_t window_ms, gone_ms;
    bl_metrics_series_t *serial, *pending, *publish_age, *pub_ok, *pub_err, *pub_dur, *bytes_delta,
        *bytes_snap, *heartbeats, *connected, *active, *gone, *revoked, *prop, *oldest,
        *oldest_serial, *propagating, *broken, *fam4, *fam6, *dl_expired, *dl_operator;
    bl_metrics_series_t *ingested[MASTER_SRC_N];
    bl_metrics_series_t *reviews[MASTER_REVIEW_STATES], *review_oldest, *review_limit;
    bl_metrics_series_t *public_proxied, *spool_long_polls;
    /* The lookup counter of each result of lookup_results, once a lookup had it. */
    _Atomic(bl_metrics_series_t *) public_lookup[LOOKUP_RESULTS];
    _Atomic int64_t review_oldest_ms;
    /* This feed's review queue at its last tick: the gauges sum every feed's. */
    uint64_t rv[MASTER_REVIEW_STATES];
    int64_t rv_oldest_ms;
    bl_metrics_series_t *sync_refused[BL_TLS_REFUSED_N], *sync_handshakes;
    uint64_t sync_refused_seen[BL_TLS_REFUSED_N];
    _Atomic int64_t last_publish_ms;
    _Atomic int64_t oldest_ms;
    int64_t broken_id; /* last delisting id counted as window-broken */
    uint64_t heartbeats_seen, silent_seen, slow_seen;
    mirror_t *mirrors;
    size_t nmirrors;
    bl_metrics_series_t *cert_expiry; /* the first feed's: the sync server is shared */
    mirror_cert_t *certs;             /* MAX_MIRRORS, allocated at the first tick with sync */
    size_t ncerts;
    /* scratch for the tick */
    uint64_t tick_last;
    size_t tick_active, tick_gone, tick_revoked, tick_connected;
    master_sync_t *tick_sync;
    int64_t tick_now;
    master_store_t *tick_store;
};

/* The series of m's feed (the registry and families are set). */
static void feed_series(master_metrics_t *m, const char *feed)
{
    snprintf(m->feed, sizeof m->feed, "%s", feed);
    const char *f = m->feed;
    m->serial = bl_metrics_with(m->f.serial, f);
    m->pending = bl_metrics_with(m->f.pending_changes, f);
    m->publish_age = bl_metrics_with(m->f.last_publish_age, f);
    bl_metrics_set_age(m->publish_age, &m->last_publish_ms);
    m->pub_ok = bl_metrics_with(m->f.publishes, f, "ok");
    m->pub_err = bl_metrics_with(m->f.publishes, f, "error");
    m->pub_dur = bl_metrics_with(m->f.publish_duration, f);
    m->bytes_delta = bl_metrics_with(m->f.publish_bytes, f, "delta");
    m->bytes_snap = bl_metrics_with(m->f.publish_bytes, f, "snapshot");
    m->heartbeats = bl_metrics_with(m->f.heartbeats, f);
    m->connected = bl_metrics_with(m->f.mirrors_connected, f);
    m->active = bl_metrics_with(m->f.mirrors_active, f);
    m->gone = bl_metrics_with(m->f.mirrors_gone, f);
    m->revoked = bl_metrics_with(m->f.mirrors_revoked, f);
    m->prop = bl_metrics_with(m->f.delisting_prop, f);
    m->oldest = bl_metrics_with(m->f.oldest_delisting, f);
    bl_metrics_set_age(m->oldest, &m->oldest_ms);
    m->oldest_serial = bl_metrics_with(m->f.oldest_delisting_serial, f);
    m->propagating = bl_metrics_with(m->f.delistings_pending, f);
    m->broken = bl_metrics_with(m->f.window_broken, f);
    m->fam4 = bl_metrics_with(m->f.listings, f, "ipv4");
    m->fam6 = bl_metrics_with(m->f.listings, f, "ipv6");
    m->dl_expired = bl_metrics_with(m->f.delistings_decided, f, "expired");
    m->dl_operator = bl_metrics_with(m->f.delistings_decided, f, "operator");
    for (int s = 0; s < MASTER_SRC_N; s++)
        m->ingested[s] = bl_metrics_with(m->f.reports_ingested, master_source_name(s));
}

int master_metrics_new(const char *feed, int64_t window_ms, int64_t gone_ms, master_metrics_t **out)
{
    *out = NULL;
    master_metrics_t *m = calloc(1, sizeof *m);
    if (!m || !(m->r = bl_metrics_new())) {
        free(m);
        return BL_ENOMEM;
    }
    m->mirrors = calloc(MAX_MIRRORS, sizeof *m->mirrors);
    int rc = m->mirrors ? bl_metrics_master_register(m->r, &m->f) : BL_ENOMEM;
    if (rc) {
        master_metrics_free(m);
        return rc;
    }
    m->window_ms = window_ms;
    m->gone_ms = gone_ms;
    bl_metrics_set(bl_metrics_with(m->f.build_info, BLSYNC_VERSION), 1);
    bl_metrics_set(bl_metrics_series(m->f.window, NULL), window_ms / 1000.0);
    bl_metrics_set(bl_metrics_series(m->f.active_after, NULL), gone_ms / 1000.0);
    bl_metrics_with(m->f.config_reloads, "ok"); /* both results exist from the start, at 0 */
    bl_metrics_with(m->f.config_reloads, "error");
    feed_series(m, feed);
    for (int r = 0; r < BL_TLS_REFUSED_N; r++)
        m->sync_refused[r] =
            bl_metrics_with(m->f.sync_refused, "connection", bl_tls_refusal_name(r));
    m->sync_handshakes = bl_metrics_series(m->f.sync_handshakes, NULL);
    for (int i = 0; i < MASTER_REVIEW_STATES; i++)
        m->reviews[i] = bl_metrics_with(m->f.reviews, master_review_state_name(i));
    for (int i = 0; i < MASTER_REVIEW_CATEGORIES; i++)
        bl_metrics_with(m->f.reviews_filed, master_review_category_name(i));
    m->review_oldest = bl_metrics_series(m->f.review_oldest, NULL);
    bl_metrics_set_age(m->review_oldest, &m->review_oldest_ms);
    m->review_limit = bl_metrics_series(m->f.review_limit, NULL);
    bl_metrics_set(m->review_limit, 86400);
    m->public_proxied = bl_metrics_series(m->f.public_proxied, NULL);
    m->spool_long_polls = bl_metrics_series(m->f.spool_long_polls, NULL);
    *out = m;
    return 0;
}

int master_metrics_new_feed(master_metrics_t *main_m, const char *feed, master_metrics_t **out)
{
    *out = NULL;
    if (!main_m)
        return 0;
    master_metrics_t *m = calloc(1, sizeof *m);
    if (!m || !(m->mirrors = calloc(MAX_MIRRORS, sizeof *m->mirrors))) {
        free(m);
        return BL_ENOMEM;
    }
    m->main = main_m;
    m->next = main_m->next;
    main_m->next = m;
    m->r = main_m->r;
    m->f = main_m->f;
    m->window_ms = main_m->window_ms;
    m->gone_ms = main_m->gone_ms;
    feed_series(m, feed);
    *out = m;
    return 0;
}

void master_metrics_free(master_metrics_t *m)
{
    if (!m)
        return;
    if (!m->main)
        bl_metrics_free(m->r);
    for (master_metrics_t **q = m->main ? &m->main->next : &m->next; *q; q = &(*q)->next)
        if (*q == m) {
            *q = m->next;
            break;
        }
    free(m->mirrors);
    free(m->certs);
    free(m);
}

bl_metrics_t *master_metrics_registry(master_metrics_t *m)
{
    return m ? m->r : NULL;
}

void master_metrics_reports(master_metrics_t *m, int source, uint64_t n)
{
    if (m && n && source >= 0 && source < MASTER_SRC_N)
        bl_metrics_add(m->ingested[source], n); /* handles looked up once: no lock here */
}

const char *master_refusal_word(const char *why)
{
    static const struct {
        const char *needle, *word;
    } map[] = {
        {"domain", "domain"},
        {"e-mail", "email"},
        {"loopback", "loopback"},
        {"unspecified", "unspecified"},
        {"this network", "this_network"},
        {"broadcast", "broadcast"},
        {"multicast", "multicast"},
        {"reserved", "reserved"},
        {"IPv4-compatible", "ipv4_compatible"},
        {"IPv4-mapped", "ipv4_mapped"},
        {"whole", "too_wide"},
        {"host bits", "host_bits"},
        {"malformed", "malformed"},
        {"not a prefix", "prefix"},
        {"wider", "too_wide"},
        {"source", "source"},
        {"future", "time"},
        {"older", "time"},
        {"time must", "time"},
        {"larger than", "too_large"},
        {"bearer", "auth"},
        {"at byte", "json"},
        {"field", "field"},
    };
    for (size_t i = 0; why && i < sizeof map / sizeof *map; i++)
        if (strstr(why, map[i].needle))
            return map[i].word;
    return "invalid";
}

void master_metrics_refused(master_metrics_t *m, const char *why, uint64_t n)
{
    if (m && n)
        bl_metrics_add(bl_metrics_with(m->f.reports_refused, master_refusal_word(why)), n);
}

void master_metrics_delisted(master_metrics_t *m, const char *reason, uint64_t n)
{
    if (!m || !n)
        return;
    bl_metrics_add(strcmp(reason, "expired") ? m->dl_operator : m->dl_expired, n);
}

void master_metrics_published(master_metrics_t *m, int rc, const master_pub_stats_t *b,
                              const master_pub_stats_t *a)
{
    if (!m)
        return;
    if (rc || a->failures_total > b->failures_total)
        bl_metrics_add(m->pub_err, a->failures_total - b->failures_total);
    if (a->deltas_total > b->deltas_total) {
        bl_metrics_add(m->pub_ok, a->deltas_total - b->deltas_total);
        bl_metrics_observe(m->pub_dur, a->last_duration_ns / 1e9);
        bl_metrics_observe(m->bytes_delta, (double)a->last_bytes);
        atomic_store(&m->last_publish_ms, a->last_publish_ms);
    }
    if (a->snapshots_total > b->snapshots_total)
        bl_metrics_observe(m->bytes_snap, (double)a->last_snapshot_bytes);
    for (int i = 0; i < 64; i++)
        if (a->quarantined_by[i] > b->quarantined_by[i])
            bl_metrics_add(
                bl_metrics_with(m->f.spool_quarantined, m->feed, bl_errname(i ? -i : BL_EIO)),
                a->quarantined_by[i] - b->quarantined_by[i]);
}

static mirror_t *mirror_of(master_metrics_t *m, const char *name)
{
    for (size_t i = 0; i < m->nmirrors; i++)
        if (!strncmp(m->mirrors[i].name, name, sizeof m->mirrors[i].name - 1))
            return &m->mirrors[i];
    if (m->nmirrors == MAX_MIRRORS)
        return NULL;
    mirror_t *x = &m->mirrors[m->nmirrors++];
    snprintf(x->name, sizeof x->name, "%s", name);
    const char *f = m->feed;
    x->active = bl_metrics_with(m->f.mirror_active, f, x->name);
    x->acked = bl_metrics_with(m->f.mirror_acked, f, x->name);
    x->lag_serials = bl_metrics_with(m->f.mirror_lag_serials, f, x->name);
    x->lag = bl_metrics_with(m->f.mirror_lag, f, x->name);
    x->contact_age = bl_metrics_with(m->f.mirror_contact_age, f, x->name);
    x->connected = bl_metrics_with(m->f.mirror_connected, f, x->name);
    x->sessions = bl_metrics_with(m->f.mirror_sessions, f, x->name);
    return x;
}

static void one_mirror(void *ctx, const master_ack_view_t *v)
{
    master_metrics_t *m = ctx;
    mirror_t *x = mirror_of(m, v->name);
    m->tick_connected += v->sessions > 0;
    if (v->active)
        m->tick_active++;
    else
        m->tick_gone++;
    if (m->tick_sync && master_sync_revoked(m->tick_sync, v->name))
        m->tick_revoked++;
    if (!x)
        return;
    x->seen = 1;
    uint64_t last = m->tick_last;
    bl_metrics_set(x->active, v->active);
    bl_metrics_set(x->acked, (double)v->acked);
    bl_metrics_set(x->lag_serials, v->acked < last ? (double)(last - v->acked) : 0);
    int64_t t = v->acked < last ? master_store_serial_time(m->tick_store, v->acked + 1) : 0;
    bl_metrics_set(x->lag, t && m->tick_now > t ? (m->tick_now - t) / 1000.0 : 0);
    bl_metrics_set(x->contact_age,
                   m->tick_now > v->contact_ms ? (m->tick_now - v->contact_ms) / 1000.0 : 0);
    bl_metrics_set(x->connected, v->sessions > 0);
    bl_metrics_set(x->sessions, v->sessions);
    char hex[17];
    if (v->key_id && strcmp(bl_keyid_hex(v->key_id, hex), x->key)) {
        /* One series per mirror: the key it holds now. */
        bl_metrics_remove(x->key_info);
        snprintf(x->key, sizeof x->key, "%s", hex);
        x->key_info = bl_metrics_with(m->f.mirror_key, m->feed, x->name, x->key);
        bl_metrics_set(x->key_info, 1);
    }
}

/* A mirror the acknowledgements no longer know (forgotten by an operator)
 * stops being exported: its alerts end with its series. */
static void drop_forgotten(master_metrics_t *m)
{
    size_t w = 0;
    for (size_t i = 0; i < m->nmirrors; i++) {
        mirror_t *x = &m->mirrors[i];
        if (!x->seen) {
            bl_metrics_series_t *all[] = {x->active,   x->acked,       x->lag_serials,
                                          x->lag,      x->contact_age, x->connected,
                                          x->sessions, x->key_info};
            for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
                bl_metrics_remove(all[k]);
            BL_INFO("mirror_series_removed", "mirror=%s", bl_log_q(x->name));
            continue;
        }
        if (w != i)
            m->mirrors[w] = *x;
        w++;
    }
    m->nmirrors = w;
}

static void one_cert(void *ctx, const char *mirror, int64_t not_after)
{
    master_metrics_t *m = ctx;
    mirror_cert_t *x = NULL;
    for (size_t i = 0; i < m->ncerts && !x; i++)
        if (!strncmp(m->certs[i].name, mirror, sizeof m->certs[i].name - 1))
            x = &m->certs[i];
    if (!x) {
        if (m->ncerts == MAX_MIRRORS)
            return;
        x = &m->certs[m->ncerts++];
        snprintf(x->name, sizeof x->name, "%s", mirror);
        x->expiry = bl_metrics_with(m->f.mirror_cert_expiry, x->name);
    }
    if (!x->seen || not_after < x->not_after)
        x->not_after = not_after;
    x->seen = 1;
}

/* The sync server's certificate and every connected mirror's: a mirror
 * without a session has no series (its absence is alerted on as such). */
static void cert_gauges(master_metrics_t *m, master_sync_t *sync)
{
    if (!m->cert_expiry)
        m->cert_expiry = bl_metrics_series(m->f.cert_expiry, NULL);
    bl_metrics_set(m->cert_expiry, (double)master_sync_cert_not_after(sync));
    if (!m->certs && !(m->certs = calloc(MAX_MIRRORS, sizeof *m->certs)))
        return;
    for (size_t i = 0; i < m->ncerts; i++)
        m->certs[i].seen = 0;
    master_sync_each_mirror_cert(sync, one_cert, m);
    size_t w = 0;
    for (size_t i = 0; i < m->ncerts; i++) {
        mirror_cert_t *x = &m->certs[i];
        if (!x->seen) {
            bl_metrics_remove(x->expiry);
            continue;
        }
        bl_metrics_set(x->expiry, (double)x->not_after);
        if (w != i)
            m->certs[w] = *x;
        w++;
    }
    m->ncerts = w;
}

void master_metrics_propagated(master_metrics_t *m, int64_t age_ms)
{
    if (m)
        bl_metrics_observe(m->prop, age_ms > 0 ? age_ms / 1000.0 : 0.0);
}

void master_metrics_sync_refused(master_metrics_t *m, const char *stage, const char *reason)
{
    if (m)
        bl_metrics_inc(bl_metrics_with(m->f.sync_refused, stage, reason));
}

void master_metrics_quarantined(master_metrics_t *m, const char *reason)
{
    if (m)
        bl_metrics_inc(bl_metrics_with(m->f.spool_quarantined, m->feed, reason));
}

void master_metrics_set_limits(master_metrics_t *m, int64_t window_ms, int64_t gone_ms)
{
    if (!m)
        return;
    m->window_ms = window_ms;
    m->gone_ms = gone_ms;
    bl_metrics_set(bl_metrics_series(m->f.window, NULL), window_ms / 1000.0);
    bl_metrics_set(bl_metrics_series(m->f.active_after, NULL), gone_ms / 1000.0);
}

void master_metrics_reloaded(master_metrics_t *m, int ok)
{
    if (m)
        bl_metrics_inc(bl_metrics_with(m->f.config_reloads, ok ? "ok" : "error"));
}

/* The review gauges of every feed's queue: requests per state summed, the
 * oldest unanswered one of them all (ticks run on the loop thread alone). */
static void reviews_sum(master_metrics_t *main_m)
{
    uint64_t rv[MASTER_REVIEW_STATES] = {0};
    int64_t oldest = 0;
    for (const master_metrics_t *f = main_m; f; f = f->next) {
        for (int i = 0; i < MASTER_REVIEW_STATES; i++)
            rv[i] += f->rv[i];
        if (f->rv_oldest_ms && (!oldest || f->rv_oldest_ms < oldest))
            oldest = f->rv_oldest_ms;
    }
    for (int i = 0; i < MASTER_REVIEW_STATES; i++)
        bl_metrics_set(main_m->reviews[i], (double)rv[i]);
    atomic_store(&main_m->review_oldest_ms, oldest);
}

void master_metrics_tick(master_metrics_t *m, master_store_t *s, master_sync_t *sync,
                         const master_acks_t *acks, int64_t now_ms)
{
    if (!m)
        return;
    uint64_t last;
    uint8_t dg[BL_DIGEST_SIZE];
    if (master_store_load_meta(s) || master_store_last_serial(s, &last, dg))
        return;
    bl_metrics_set(m->serial, (double)last);
    bl_metrics_set(m->pending, (double)master_store_pending_count(s));
    bl_metrics_set(m->fam4, (double)master_store_count_af(s, BL_AF4));
    bl_metrics_set(m->fam6, (double)master_store_count_af(s, BL_AF6));
    m->tick_now = now_ms;
    m->tick_last = last;
    m->tick_active = m->tick_gone = m->tick_revoked = m->tick_connected = 0;
    m->tick_sync = sync;
    m->tick_store = s;
    uint64_t min = last;
    if (acks) {
        for (size_t i = 0; i < m->nmirrors; i++)
            m->mirrors[i].seen = 0;
        master_acks_each(acks, now_ms, one_mirror, m);
        min = master_acks_min(acks, last, now_ms);
        drop_forgotten(m);
    }
    bl_metrics_set(m->active, (double)m->tick_active);
    bl_metrics_set(m->gone, (double)m->tick_gone);
    bl_metrics_set(m->revoked, (double)m->tick_revoked);
    /* With several feeds (a further one, or the first with next), a mirror is
     * connected for the feeds it follows. */
    if (m->main || m->next)
        bl_metrics_set(m->connected, (double)m->tick_connected);
    if (sync) {
        uint64_t hb = master_sync_feed_heartbeats(sync, m->feed);
        if (hb > m->heartbeats_seen)
            bl_metrics_add(m->heartbeats, hb - m->heartbeats_seen);
        m->heartbeats_seen = hb;
    }
    if (sync && !m->main) {
        const master_sync_stats_t *st = master_sync_stats(sync);
        if (!m->next)
            bl_metrics_set(m->connected, (double)st->connected);
        if (st->disconnects_silent > m->silent_seen)
            bl_metrics_add(bl_metrics_with(m->f.sync_disconnects, "silent"),
                           st->disconnects_silent - m->silent_seen);
        m->silent_seen = st->disconnects_silent;
        if (st->disconnects_slow > m->slow_seen)
            bl_metrics_add(bl_metrics_with(m->f.sync_disconnects, "slow"),
                           st->disconnects_slow - m->slow_seen);
        m->slow_seen = st->disconnects_slow;
        const bl_tls_server_t *l = master_sync_listener(sync);
        if (l) {
            uint64_t counts[BL_TLS_REFUSED_N];
            bl_tls_server_refusals(l, counts);
            for (int r = 0; r < BL_TLS_REFUSED_N; r++) {
                if (counts[r] > m->sync_refused_seen[r])
                    bl_metrics_add(m->sync_refused[r], counts[r] - m->sync_refused_seen[r]);
                m->sync_refused_seen[r] = counts[r];
            }
            bl_metrics_set(m->sync_handshakes, (double)bl_tls_server_nhandshakes(l));
        }
        cert_gauges(m, sync);
    }
    if (!master_review_stats(s, m->rv, &m->rv_oldest_ms))
        reviews_sum(m->main ? m->main : m);
    uint64_t n = 0, broken = 0;
    int64_t oldest = 0;
    uint64_t oldest_serial = 0;
    if (!master_store_delistings_after(s, min, &n, &oldest, &oldest_serial)) {
        bl_metrics_set(m->propagating, (double)n);
        atomic_store(&m->oldest_ms, n ? oldest : 0);
        bl_metrics_set(m->oldest_serial, (double)oldest_serial);
    }
    if (!master_store_delistings_overdue(s, min, now_ms - m->window_ms, &m->broken_id, &broken) &&
        broken) {
        bl_metrics_add(m->broken, broken);
        BL_WARN("delisting_window_broken", "count=%" PRIu64 " window_s=%lld", broken,
                (long long)(m->window_ms / 1000));
    }
}

/* The public listener's events: label values are the fixed words of public.c.
 * A lookup's series is found once (under the registry's lock) and then
 * counted without it: every lookup is counted. */
void master_metrics_public_lookup(master_metrics_t *m, const char *result)
{
    if (!m)
        return;
    for (size_t i = 0; i < LOOKUP_RESULTS; i++) {
        if (strcmp(result, lookup_results[i]))
            continue;
        bl_metrics_series_t *s = atomic_load_explicit(&m->public_lookup[i], memory_order_acquire);
        if (!s) {
            s = bl_metrics_with(m->f.public_lookups, result);
            atomic_store_explicit(&m->public_lookup[i], s, memory_order_release);
        }
        bl_metrics_inc(s);
        return;
    }
    bl_metrics_inc(bl_metrics_with(m->f.public_lookups, result));
}

void master_metrics_public_refused(master_metrics_t *m, const char *reason)
{
    if (m)
        bl_metrics_inc(bl_metrics_with(m->f.public_refused, reason));
}

void master_metrics_public_proxied(master_metrics_t *m, int d)
{
    if (m)
        bl_metrics_gauge_add(m->public_proxied, d);
}

void master_metrics_spool_request(master_metrics_t *m, const char *kind, const char *status)
{
    if (m)
        bl_metrics_inc(bl_metrics_with(m->f.spool_requests, kind, status));
}

void master_metrics_spool_held(master_metrics_t *m, int d)
{
    if (m)
        bl_metrics_gauge_add(m->spool_long_polls, d);
}

void master_metrics_review_filed(master_metrics_t *m, const char *category)
{
    if (m)
        bl_metrics_inc(bl_metrics_with(m->f.reviews_filed, category));
}

void master_metrics_set_public_cert(master_metrics_t *m, int64_t not_after)
{
    if (m)
        bl_metrics_set(bl_metrics_series(m->f.public_cert_expiry, NULL), (double)not_after);
}

void master_metrics_set_review_limit(master_metrics_t *m, int64_t limit_ms)
{
    if (m && m->review_limit)
        bl_metrics_set(m->review_limit, limit_ms / 1000.0);
}
