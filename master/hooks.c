/* SPDX-License-Identifier: MIT */
/* The callbacks that join modules which do not know each other: sync server and API to the rest. */
#include "hooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "util.h"

/* Publisher calls that count: quarantines and snapshots show in the metrics. */
#define PUB_CALL(h, expr)                                                                          \
    do {                                                                                           \
        master_pub_stats_t before_ = *master_publisher_stats((h)->pub);                            \
        int rc_ = (expr);                                                                          \
        master_metrics_published((h)->metrics, rc_, &before_, master_publisher_stats((h)->pub));   \
        if (rc_)                                                                                   \
            BL_WARN("publisher_call_failed", "call=%s error=%s", #expr, bl_errname(rc_));          \
    } while (0)

static void want_snapshot(void *ctx, const char *feed)
{
    master_hooks_t *h = ctx;
    if (strcmp(feed, h->feed))
        return;
    pthread_mutex_lock(h->lock);
    PUB_CALL(h, master_publisher_snapshot(h->pub, bl_now_ms()));
    master_sched_snapshot_if_idle(h->sched);
    pthread_mutex_unlock(h->lock);
}

static int heartbeat(void *ctx, const char *feed, uint64_t serial,
                     const uint8_t digest[BL_DIGEST_SIZE], int64_t now_ms, int64_t ttl_ms,
                     uint8_t out[BL_OBJ_PREFIX])
{
    master_hooks_t *h = ctx;
    if (strcmp(feed, h->feed))
        return BL_EFEED;
    return master_publisher_heartbeat(h->pub, serial, digest, now_ms, ttl_ms, out);
}

static int head(void *ctx, const char *feed, uint64_t *serial, uint8_t digest[BL_DIGEST_SIZE])
{
    master_hooks_t *h = ctx;
    if (strcmp(feed, h->feed))
        return BL_EFEED;
    return master_publisher_head(h->pub, serial, digest);
}

static int merged(void *ctx, const char *feed, uint64_t serial,
                  const uint8_t digest[BL_DIGEST_SIZE], size_t min_deltas, char *path,
                  size_t pathlen)
{
    master_hooks_t *h = ctx;
    if (strcmp(feed, h->feed))
        return BL_EFEED;
    pthread_mutex_lock(h->lock);
    int rc =
        master_publisher_merged(h->pub, serial, digest, min_deltas, bl_now_ms(), path, pathlen);
    pthread_mutex_unlock(h->lock);
    return rc;
}

static void damaged(void *ctx, const char *feed, uint64_t serial, int type, const char *path,
                    int err)
{
    master_hooks_t *h = ctx;
    if (strcmp(feed, h->feed))
        return;
    pthread_mutex_lock(h->lock);
    PUB_CALL(h, master_publisher_quarantine(h->pub, serial, type, path, err, bl_now_ms()));
    master_sched_snapshot_if_idle(h->sched);
    pthread_mutex_unlock(h->lock);
}

static void ahead(void *ctx, const char *feed, uint64_t serial)
{
    master_hooks_t *h = ctx;
    if (strcmp(feed, h->feed) || serial == UINT64_MAX)
        return;
    pthread_mutex_lock(h->lock);
    PUB_CALL(h, master_publisher_advance(h->pub, serial + 1, bl_now_ms()));
    pthread_mutex_unlock(h->lock);
}

static void on_session(void *ctx, uint64_t sid, const char *mirror, const char *addr, int up,
                       const char *reason)
{
    master_acks_on_session(((master_hooks_t *)ctx)->acks, sid, mirror, addr, up, reason);
}

static void on_ack(void *ctx, uint64_t sid, const char *feed, uint64_t serial,
                   const uint8_t *key_id, int64_t now_ms)
{
    master_acks_on_ack(((master_hooks_t *)ctx)->acks, sid, feed, serial, key_id, now_ms);
}

static void on_contact(void *ctx, uint64_t sid, int64_t now_ms)
{
    master_acks_on_contact(((master_hooks_t *)ctx)->acks, sid, now_ms);
}

static void on_refused(void *ctx, const char *what, const char *reason)
{
    master_metrics_sync_refused(((master_hooks_t *)ctx)->metrics, what, reason);
}

master_sync_hooks_t master_hooks_sync(master_hooks_t *h)
{
    return (master_sync_hooks_t){.ctx = h,
                                 .on_session = on_session,
                                 .on_ack = on_ack,
                                 .on_contact = on_contact,
                                 .want_snapshot = want_snapshot,
                                 .heartbeat = heartbeat,
                                 .merged = merged,
                                 .damaged = damaged,
                                 .head = head,
                                 .ahead = ahead,
                                 .on_refused = on_refused};
}

static void api_changed(void *ctx)
{
    master_sched_changed(((master_hooks_t *)ctx)->sched);
}

/* With the lock held, for the API: sync sessions of mirror up now. */
static int mirror_up(void *ctx, const char *mirror)
{
    master_hooks_t *h = ctx;
    return h->acks ? master_acks_sessions(h->acks, mirror) : 0;
}

/* With the lock held, for the API: the live sessions of mirror. */
static int mirror_sessions(void *ctx, const char *mirror, master_http_session_t *out, int max)
{
    master_hooks_t *h = ctx;
    master_ack_session_t s[8];
    int n = h->acks ? master_acks_session_list(h->acks, mirror, s, 8) : 0;
    for (int i = 0; i < n && i < max && i < 8; i++) {
        out[i].sid = s[i].sid;
        snprintf(out[i].addr, sizeof out[i].addr, "%s", s[i].addr);
        out[i].acked = s[i].acked;
    }
    return n;
}

/* With the lock held, for the API: the key that signed what mirror last acknowledged. */
static int mirror_key(void *ctx, const char *mirror, char hex[17])
{
    master_hooks_t *h = ctx;
    return h->acks ? master_acks_key(h->acks, mirror, hex) : 0;
}

/* Any thread, for the API: whether mirror is on the revoked list in effect. */
static int mirror_revoked(void *ctx, const char *mirror)
{
    master_hooks_t *h = ctx;
    return h->sync ? master_sync_revoked(h->sync, mirror) : 0;
}

/* With the lock held, for the API: the acknowledgements forget mirror. */
static int mirror_forget(void *ctx, const char *mirror)
{
    master_hooks_t *h = ctx;
    return h->acks ? master_acks_forget_locked(h->acks, mirror) : 0;
}

void master_hooks_http(master_hooks_t *h, master_http_ctx_t *api)
{
    api->mirror_revoked = mirror_revoked;
    api->mirror_forget = mirror_forget;
    api->changed = api_changed;
    api->changed_arg = h;
    api->mirror_up = mirror_up;
    api->mirror_sessions = mirror_sessions;
    api->mirror_key = mirror_key;
    api->mirror_up_arg = h;
}

/* One live session as the router knows it: which feeds' acknowledgements have it. */
struct master_route {
    uint64_t sid;
    char mirror[128], addr[64];
    uint32_t feeds; /* bit i: feeds[i] was told the session is up */
};

static struct master_route *route_of(master_hooks_router_t *r, uint64_t sid)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->s[mid].sid < sid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->n && r->s[lo].sid == sid ? &r->s[lo] : NULL;
}

/* The index of feed in r, or -1. */
static int feed_index(const master_hooks_router_t *r, const char *feed)
{
    for (size_t i = 0; i < r->nfeeds; i++)
        if (!strcmp(r->feeds[i]->feed, feed))
            return (int)i;
    return -1;
}

/* The hooks of feed in the router ctx, or NULL. */
static master_hooks_t *hooks_of(void *ctx, const char *feed)
{
    master_hooks_router_t *r = ctx;
    int i = feed_index(r, feed);
    return i < 0 ? NULL : r->feeds[i];
}

static void r_on_session(void *ctx, uint64_t sid, const char *mirror, const char *addr, int up,
                         const char *reason)
{
    master_hooks_router_t *r = ctx;
    struct master_route *x = route_of(r, sid);
    if (up && !x) {
        /* Session ids only grow: appending keeps the array sorted. */
        if (r->n == r->cap) {
            size_t cap = r->cap ? 2 * r->cap : 64;
            struct master_route *s = realloc(r->s, cap * sizeof *s);
            if (!s) {
                BL_ERR("sync_session_untracked", "mirror=%s error=ENOMEM", bl_log_q(mirror));
                return;
            }
            r->s = s;
            r->cap = cap;
        }
        x = &r->s[r->n++];
        *x = (struct master_route){.sid = sid};
        snprintf(x->mirror, sizeof x->mirror, "%s", mirror);
        snprintf(x->addr, sizeof x->addr, "%s", addr ? addr : "");
        return;
    }
    if (up || !x)
        return;
    for (size_t i = 0; i < r->nfeeds; i++)
        if (x->feeds & (1u << i))
            master_acks_on_session(r->feeds[i]->acks, sid, mirror, addr, 0, reason);
    memmove(x, x + 1, (size_t)(r->s + r->n - (x + 1)) * sizeof *x);
    r->n--;
}

static void r_on_ack(void *ctx, uint64_t sid, const char *feed, uint64_t serial,
                     const uint8_t *key_id, int64_t now_ms)
{
    master_hooks_router_t *r = ctx;
    int i = feed_index(r, feed);
    struct master_route *x = route_of(r, sid);
    if (i < 0 || !x)
        return;
    master_hooks_t *h = r->feeds[i];
    if (!(x->feeds & (1u << i))) {
        x->feeds |= 1u << i;
        master_acks_on_session(h->acks, sid, x->mirror, x->addr, 1, NULL);
    }
    master_acks_on_ack(h->acks, sid, feed, serial, key_id, now_ms);
}

static void r_on_contact(void *ctx, uint64_t sid, int64_t now_ms)
{
    master_hooks_router_t *r = ctx;
    struct master_route *x = route_of(r, sid);
    for (size_t i = 0; x && i < r->nfeeds; i++)
        if (x->feeds & (1u << i))
            master_acks_on_contact(r->feeds[i]->acks, sid, now_ms);
}

static void r_want_snapshot(void *ctx, const char *feed)
{
    master_hooks_t *h = hooks_of(ctx, feed);
    if (h)
        want_snapshot(h, feed);
}

static int r_heartbeat(void *ctx, const char *feed, uint64_t serial,
                       const uint8_t digest[BL_DIGEST_SIZE], int64_t now_ms, int64_t ttl_ms,
                       uint8_t out[BL_OBJ_PREFIX])
{
    master_hooks_t *h = hooks_of(ctx, feed);
    return h ? heartbeat(h, feed, serial, digest, now_ms, ttl_ms, out) : BL_EFEED;
}

static int r_head(void *ctx, const char *feed, uint64_t *serial, uint8_t digest[BL_DIGEST_SIZE])
{
    master_hooks_t *h = hooks_of(ctx, feed);
    return h ? head(h, feed, serial, digest) : BL_EFEED;
}

static int r_merged(void *ctx, const char *feed, uint64_t serial,
                    const uint8_t digest[BL_DIGEST_SIZE], size_t min_deltas, char *path,
                    size_t pathlen)
{
    master_hooks_t *h = hooks_of(ctx, feed);
    return h ? merged(h, feed, serial, digest, min_deltas, path, pathlen) : BL_EFEED;
}

static void r_damaged(void *ctx, const char *feed, uint64_t serial, int type, const char *path,
                      int err)
{
    master_hooks_t *h = hooks_of(ctx, feed);
    if (h)
        damaged(h, feed, serial, type, path, err);
}

static void r_ahead(void *ctx, const char *feed, uint64_t serial)
{
    master_hooks_t *h = hooks_of(ctx, feed);
    if (h)
        ahead(h, feed, serial);
}

static void r_on_refused(void *ctx, const char *what, const char *reason)
{
    master_hooks_router_t *r = ctx;
    master_metrics_sync_refused(r->feeds[0]->metrics, what, reason);
}

master_sync_hooks_t master_hooks_router(master_hooks_router_t *r)
{
    return (master_sync_hooks_t){.ctx = r,
                                 .on_session = r_on_session,
                                 .on_ack = r_on_ack,
                                 .on_contact = r_on_contact,
                                 .want_snapshot = r_want_snapshot,
                                 .heartbeat = r_heartbeat,
                                 .merged = r_merged,
                                 .damaged = r_damaged,
                                 .head = r_head,
                                 .ahead = r_ahead,
                                 .on_refused = r_on_refused};
}

void master_hooks_router_free(master_hooks_router_t *r)
{
    free(r->s);
    r->s = NULL;
    r->n = r->cap = 0;
}
