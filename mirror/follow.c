/* SPDX-License-Identifier: MIT */
/* Following the master: a persisted store per followed feed, the sync client, their metrics. */
#include "follow.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "config_util.h"
#include "err.h"
#include "log.h"
#include "persist.h"
#include "pull.h"
#include "tls.h"
#include "util.h"

struct mirror_follow {
    mirror_zones_t *zs;
    const mirror_config_t *conf;
    mirror_metrics_t *metrics;                      /* may be NULL */
    mirror_persist_t stores[MIRROR_SYNC_MAX_FEEDS]; /* one per followed feed */
    unsigned nstores;
    mirror_sync_t *sync;
    bl_metrics_series_t *cert_expiry; /* the [sync] client certificate's notAfter */
    /* [sync] upstream URLs: one pull client for every feed, or with long
     * polls one per feed (pulls[i] follows stores[i]: a held long poll of
     * one feed never delays the others). */
    mirror_pull_t *pulls[MIRROR_SYNC_MAX_FEEDS];
    unsigned npulls;
    int in_apply; /* refusals of our own apply are counted by the feed's on_apply */
    struct {
        _Atomic int64_t hb_ms;
        uint64_t master_serial;
        int64_t behind_since_ms;
        uint64_t connects;
        bl_metrics_series_t *stale, *connected, *reconnects, *master_serial_g, *behind,
            *heartbeat_age, *delist_prop, *list_prop, *current_age, *freeze_after, *writable;
        bl_metrics_series_t *signing_key; /* {key_id} of key, NULL before the first */
        char key[17];
        uint64_t write_errors_seen;
        int level[2];            /* freshness by the push client and by the pull client */
    } fm[MIRROR_SYNC_MAX_FEEDS]; /* per store */
};

static int store_of(mirror_follow_t *f, const char *feed)
{
    for (unsigned i = 0; i < f->nstores; i++)
        if (!strcmp(f->stores[i].feed->name, feed))
            return (int)i;
    return -1;
}

/* The pull client that follows store st (NULL: none). */
static mirror_pull_t *pull_of(const mirror_follow_t *f, int st)
{
    if (!f->npulls || st < 0)
        return NULL;
    return f->npulls == 1 ? f->pulls[0] : f->pulls[st];
}

typedef struct {
    mirror_follow_t *f;
    int st;
    int64_t now_ms;
} prop_t;

static void observe(bl_metrics_series_t *h, int64_t now_ms, const bl_change_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (c[i].decided_ms > 0)
            bl_metrics_observe(
                h, now_ms > c[i].decided_ms ? (double)(now_ms - c[i].decided_ms) / 1000.0 : 0.0);
}

static int prop_block(void *ctx, const bl_change_t *rem, size_t nrem, const bl_change_t *add,
                      size_t nadd)
{
    prop_t *p = ctx;
    observe(p->f->fm[p->st].delist_prop, p->now_ms, rem, nrem);
    observe(p->f->fm[p->st].list_prop, p->now_ms, add, nadd);
    return 0;
}

/* The state directory's health: a failed write is not a refusal of the
 * object, it is this mirror's disk (logged by the store, counted here). */
static void state_write_gauges(mirror_follow_t *f, unsigned st)
{
    mirror_persist_t *p = &f->stores[st];
    if (!f->metrics)
        return;
    bl_metrics_set(f->fm[st].writable, p->write_error == 0);
    if (p->write_errors > f->fm[st].write_errors_seen) {
        const char *v[] = {p->feed->name, bl_errname(p->write_error ? p->write_error : BL_EIO),
                           NULL};
        bl_metrics_add(bl_metrics_series(f->metrics->fam.state_write_errors, v),
                       p->write_errors - f->fm[st].write_errors_seen);
        f->fm[st].write_errors_seen = p->write_errors;
    }
}

/* The key that signed the last object or heartbeat of store st verified:
 * one series per feed, which moves to the new key when a rotation reaches
 * this mirror. */
static void note_signing_key(mirror_follow_t *f, int st, const uint8_t id[BL_KEYID_SIZE])
{
    char hex[17];
    if (!f->metrics || !strcmp(bl_keyid_hex(id, hex), f->fm[st].key))
        return;
    bl_metrics_remove(f->fm[st].signing_key);
    snprintf(f->fm[st].key, sizeof f->fm[st].key, "%s", hex);
    const char *v[] = {f->stores[st].feed->name, hex, NULL};
    f->fm[st].signing_key = bl_metrics_series(f->metrics->fam.signing_key, v);
    bl_metrics_set(f->fm[st].signing_key, 1);
}

/* Every key the feeds' keyring trusts, per followed feed (keys are only
 * ever added: trusted_key is read at start, key certificates add). */
static void trusted_keys(mirror_follow_t *f)
{
    for (unsigned st = 0; f->metrics && st < f->nstores; st++) {
        const bl_keyring_t *r = f->stores[st].feed->keys;
        for (size_t i = 0; i < bl_keyring_count(r); i++) {
            char hex[17];
            const char *v[] = {f->stores[st].feed->name, bl_key_id_hex(bl_keyring_at(r, i), hex),
                               NULL};
            bl_metrics_set(bl_metrics_series(f->metrics->fam.trusted_key, v), 1);
        }
    }
}

static int sync_apply(void *ctx, const bl_obj_t *obj, const uint8_t *buf, size_t len)
{
    mirror_follow_t *f = ctx;
    int st = store_of(f, obj->hdr.feed);
    if (st < 0)
        return BL_EFEED;
    f->in_apply = 1;
    int rc = mirror_persist_apply(&f->stores[st], obj, buf, len);
    state_write_gauges(f, (unsigned)st);
    if (f->stores[st].want_snapshot) {
        f->stores[st].want_snapshot = 0;
        if (f->sync)
            mirror_sync_want_snapshot(f->sync, obj->hdr.feed);
        mirror_pull_want_snapshot(pull_of(f, st), obj->hdr.feed);
    }
    if (!rc && obj->hdr.type == BL_OBJ_DELTA && f->metrics) {
        /* Served and persisted now: each change's decision at the master to here. */
        prop_t p = {f, st, bl_now_ms()};
        bl_sink_t sink = {&p, prop_block};
        bl_obj_decode(obj, &f->stores[st].feed->lim, &sink, NULL);
    }
    if (!rc) {
        f->in_apply = 0;
        note_signing_key(f, st, obj->hdr.key_id);
        if (f->fm[st].master_serial <= obj->hdr.serial)
            f->fm[st].behind_since_ms = 0;
    }
    return rc;
}

static int sync_get_state(void *ctx, const char *feed, uint64_t *serial,
                          uint8_t digest[BL_DIGEST_SIZE])
{
    mirror_follow_t *f = ctx;
    int st = store_of(f, feed);
    if (st < 0)
        return BL_EFEED;
    const mirror_feed_t *fd = f->stores[st].feed;
    *serial = fd->loaded ? fd->serial : 0;
    if (fd->loaded)
        bl_digest_to_bytes(&fd->digest, digest);
    else
        memset(digest, 0, BL_DIGEST_SIZE);
    return 0;
}

static void sync_new_key(void *ctx, const char *feed, const bl_key_t *k, const uint8_t *buf,
                         size_t len)
{
    mirror_follow_t *f = ctx;
    int st = store_of(f, feed);
    if (st >= 0)
        mirror_persist_keycert(&f->stores[st], k, buf, len);
    trusted_keys(f);
}

/* The freshest of the clients that follow the feed decides. */
static void set_freshness(mirror_follow_t *f, const char *feed, int src, int level)
{
    int st = store_of(f, feed);
    if (st < 0)
        return;
    f->fm[st].level[src] = level;
    if (f->sync && f->npulls) {
        int other = f->fm[st].level[!src];
        level = other < level ? other : level;
    }
    /* Frozen: the master has been silent too long to vouch for any listing
     * of the feed (in a combined zone, the other feeds still answer). */
    mirror_feed_set_frozen(f->stores[st].feed, level == MIRROR_FROZEN);
    if (f->fm[st].stale)
        bl_metrics_set(f->fm[st].stale, level);
}

static void sync_freshness(void *ctx, const char *feed, int level)
{
    set_freshness(ctx, feed, 0, level);
}

static void pull_freshness(void *ctx, const char *feed, int level)
{
    set_freshness(ctx, feed, 1, level);
}

/* The master's push connection holds feed current: URL upstreams wait. */
static int push_current(void *ctx, const char *feed)
{
    mirror_follow_t *f = ctx;
    return f->sync && mirror_sync_stats(f->sync)->connected &&
           mirror_sync_freshness(f->sync, feed) == MIRROR_FRESH;
}

static void sync_refused(void *ctx, const char *feed, const char *what, int err)
{
    mirror_follow_t *f = ctx;
    int counted = f->in_apply;
    f->in_apply = 0;
    if (counted || !f->metrics || err == BL_ENOSPC || err == BL_EIO)
        return; /* the object was fine: a write to state_dir failed (state_write_errors) */
    const char *fname = *feed ? feed : (f->nstores == 1 ? f->stores[0].feed->name : "unknown");
    if (!strcmp(what, "heartbeat"))
        return; /* logged by the client; heartbeats_refused has no family of its own */
    const char *v[] = {fname, bl_errname(err), NULL};
    bl_metrics_inc(bl_metrics_series(!strcmp(what, "snapshot") ? f->metrics->fam.snapshots_refused
                                                               : f->metrics->fam.deltas_refused,
                                     v));
}

static void sync_heartbeat(void *ctx, const char *feed, uint64_t master_serial, int64_t created_ms,
                           const uint8_t key_id[BL_KEYID_SIZE])
{
    mirror_follow_t *f = ctx;
    (void)created_ms;
    int st = store_of(f, feed);
    if (st < 0)
        return;
    note_signing_key(f, st, key_id);
    int64_t now = bl_now_ms();
    atomic_store(&f->fm[st].hb_ms, now);
    f->fm[st].master_serial = master_serial;
    if (f->fm[st].master_serial_g)
        bl_metrics_set(f->fm[st].master_serial_g, (double)master_serial);
    uint64_t mine = f->stores[st].feed->serial;
    if (master_serial > mine && !f->fm[st].behind_since_ms)
        f->fm[st].behind_since_ms = now;
    else if (master_serial <= mine)
        f->fm[st].behind_since_ms = 0;
}

/* Every tick: the sync gauges that are not events. */
static void sync_gauges(mirror_follow_t *f, int64_t now_ms)
{
    if (!f->sync || !f->metrics)
        return;
    const mirror_sync_stats_t *ss = mirror_sync_stats(f->sync);
    if (!f->cert_expiry)
        f->cert_expiry = bl_metrics_series(f->metrics->fam.cert_expiry, NULL);
    bl_metrics_set(f->cert_expiry, (double)mirror_sync_cert_not_after(f->sync));
    for (unsigned i = 0; i < f->nstores; i++) {
        bl_metrics_set(f->fm[i].connected, ss->connected);
        if (ss->connects > f->fm[i].connects) {
            if (ss->connects > 1)
                bl_metrics_add(f->fm[i].reconnects,
                               ss->connects - (f->fm[i].connects ? f->fm[i].connects : 1));
            f->fm[i].connects = ss->connects;
        }
        int64_t since = f->fm[i].behind_since_ms;
        bl_metrics_set(f->fm[i].behind, since ? (double)(now_ms - since) / 1000.0 : 0.0);
    }
}

/* Every tick: how current each feed is, kept in its state
 * directory so that a restart without the master does not look fresh. */
static void sync_current(mirror_follow_t *f, int64_t now_ms)
{
    for (unsigned i = 0; (f->sync || f->npulls) && i < f->nstores; i++) {
        const char *feed = f->stores[i].feed->name;
        int64_t age = f->sync ? mirror_sync_current_age_ms(f->sync, feed) : -1;
        mirror_pull_t *pl = pull_of(f, (int)i);
        int64_t pulled = pl ? mirror_pull_current_age_ms(pl, feed) : -1;
        if (pulled >= 0 && (age < 0 || pulled < age))
            age = pulled;
        if (age < 0)
            continue;
        if (f->metrics)
            bl_metrics_set(f->fm[i].current_age, age / 1000.0);
        /* Often enough that a restart loses a tenth of the budget at most. */
        int64_t every = mirror_config_freeze_after(f->conf) / 10;
        if (f->stores[i].feed->loaded && !f->stores[i].write_error)
            mirror_persist_save_current(&f->stores[i], now_ms - age, every < 30000 ? every : 30000);
    }
}

int mirror_follow_open(mirror_zones_t *zs, mirror_follow_t **out, char *err, size_t errlen)
{
    mirror_follow_t *f = *out = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return BL_ENOMEM;
    }
    f->zs = zs;
    f->conf = zs->conf;
    f->metrics = zs->metrics;
    const mirror_sync_file_conf_t *y = &f->conf->sync;
    if (f->metrics) {
        /* Dashboards name a mirror as the master does: its certificate's name. */
        char name[256] = "";
        if (!y->enabled || !mirror_config_push(f->conf) || !y->cert ||
            bl_tls_cert_file_name(y->cert, name, sizeof name))
            gethostname(name, sizeof name - 1);
        const char *v[] = {name, NULL};
        bl_metrics_set(bl_metrics_series(f->metrics->fam.mirror_info, v), 1);
    }
    if (!y->enabled)
        return 0;
    for (unsigned i = 0; i < f->zs->nfeeds; i++) {
        if (!f->zs->feeds[i].synced || f->nstores == MIRROR_SYNC_MAX_FEEDS)
            continue;
        unsigned k = (unsigned)f->nstores++;
        uint64_t serial = 0;
        if (mirror_persist_open(&f->stores[k], &f->zs->feeds[i], y->state_dir, &serial)) {
            snprintf(err, errlen, "%s:%u: state_dir %s: unusable (%s)", f->conf->path,
                     y->state_line ? y->state_line : y->line, y->state_dir, strerror(errno));
            return BL_EIO;
        }
        if (f->metrics) {
            const char *v[] = {f->zs->feeds[i].name, NULL};
            f->fm[k].stale = bl_metrics_series(f->metrics->fam.stale, v);
            f->fm[k].connected = bl_metrics_series(f->metrics->fam.connected, v);
            f->fm[k].reconnects = bl_metrics_series(f->metrics->fam.reconnects, v);
            f->fm[k].master_serial_g = bl_metrics_series(f->metrics->fam.master_serial, v);
            f->fm[k].behind = bl_metrics_series(f->metrics->fam.behind, v);
            f->fm[k].heartbeat_age = bl_metrics_series(f->metrics->fam.heartbeat_age, v);
            f->fm[k].delist_prop = bl_metrics_series(f->metrics->fam.delisting_prop, v);
            f->fm[k].list_prop = bl_metrics_series(f->metrics->fam.listing_prop, v);
            f->fm[k].current_age = bl_metrics_series(f->metrics->fam.current_age, v);
            f->fm[k].freeze_after = bl_metrics_series(f->metrics->fam.freeze_after, v);
            f->fm[k].writable = bl_metrics_series(f->metrics->fam.state_writable, v);
            bl_metrics_set(f->fm[k].writable, 1);
            for (int e = 0; e < 64; e++)
                if (f->stores[k].refused_by[e]) {
                    const char *r[] = {f->zs->feeds[i].name, bl_errname(e ? -e : BL_EIO), NULL};
                    bl_metrics_add(bl_metrics_series(f->metrics->fam.state_refused, r),
                                   f->stores[k].refused_by[e]);
                }
            bl_metrics_set(f->fm[k].freeze_after,
                           (double)mirror_config_freeze_after(f->conf) / 1000.0);
            atomic_store(&f->fm[k].hb_ms, bl_now_ms());
            bl_metrics_set_age(f->fm[k].heartbeat_age, &f->fm[k].hb_ms);
            bl_metrics_set(f->fm[k].stale, 0);
            bl_metrics_set(bl_metrics_series(f->metrics->fam.serial, v),
                           (double)f->zs->feeds[i].serial);
        }
    }
    trusted_keys(f);
    return 0;
}

static void pull_event(void *ctx, const char *upstream, const char *feed, const char *what,
                       int result, int err, uint64_t bytes)
{
    mirror_follow_t *f = ctx;
    if (!f->metrics)
        return;
    bl_metrics_mirror_t *m = &f->metrics->fam;
    const char *u[] = {upstream, NULL};
    bl_metrics_add(bl_metrics_series(m->pull_bytes, u), bytes);
    if (result == MIRROR_PULL_REFUSED) {
        const char *v[] = {feed, upstream, what, bl_errname(err), NULL};
        bl_metrics_inc(bl_metrics_series(m->pull_refused, v));
        return;
    }
    const char *v[] = {upstream, what, mirror_pull_result_name(result), NULL};
    bl_metrics_inc(bl_metrics_series(m->pull_requests, v));
}

/* The URL upstreams of [sync], if any: the pull clients, with the push client's hooks. */
static int start_pull(mirror_follow_t *f, uv_loop_t *loop, char *err, size_t errlen)
{
    const mirror_sync_file_conf_t *y = &f->conf->sync;
    mirror_pull_conf_t pc = {0};
    int push_first = 0;
    for (unsigned i = 0; i < y->nupstream && pc.nurls < MIRROR_PULL_MAX_URLS; i++) {
        if (strcmp(y->upstream[i], "push"))
            pc.urls[pc.nurls++] = y->upstream[i];
        else if (!pc.nurls)
            push_first = 1;
    }
    if (!pc.nurls)
        return 0;
    pc.interval_ms = y->poll_interval_ms;
    pc.jitter_ms = y->poll_jitter_ms;
    pc.timeout_ms = y->pull_timeout_ms;
    pc.long_poll = y->long_poll;
    pc.stale_after_ms = y->stale_after_ms;
    pc.freeze_after_ms = mirror_config_freeze_after(f->conf);
    pc.ca_file = y->pull_ca;
    pc.preferred_current = push_first ? push_current : NULL;
    pc.on_event = pull_event;
    mirror_sync_hooks_t h = {.ctx = f,
                             .get_state = sync_get_state,
                             .apply = sync_apply,
                             .on_new_key = sync_new_key,
                             .on_freshness = pull_freshness,
                             .on_refused = sync_refused,
                             .on_heartbeat = sync_heartbeat};
    /* A long poll holds its transfer up to a minute: each feed gets its own client. */
    unsigned lanes = y->long_poll && f->nstores > 1 ? f->nstores : 1;
    for (unsigned l = 0; l < lanes; l++) {
        pc.nfeeds = 0;
        for (unsigned i = 0; i < f->nstores; i++) {
            if (lanes > 1 && i != l)
                continue;
            pc.current_as_of_ms[pc.nfeeds] = f->stores[i].current_ms;
            pc.feeds[pc.nfeeds++] = f->stores[i].feed->name;
        }
        int rc = mirror_pull_new(loop, &pc, &h, f->zs->sync_ring, NULL, &f->pulls[l]);
        if (rc) {
            snprintf(err, errlen, "%s:%u: [sync] upstream: %s", f->conf->path, y->line,
                     bl_strerror(rc));
            return rc;
        }
        f->npulls = l + 1;
    }
    for (size_t i = 0; i < pc.nurls; i++)
        BL_INFO("pull_started", "upstream=%s preference=%zu feeds=%u clients=%u",
                bl_log_q(pc.urls[i]), i + (size_t)push_first, f->nstores, lanes);
    return 0;
}

int mirror_follow_start(mirror_follow_t *f, uv_loop_t *loop, char *err, size_t errlen)
{
    const mirror_sync_file_conf_t *y = &f->conf->sync;
    if (!f->nstores)
        return 0;
    if (!mirror_config_push(f->conf))
        return start_pull(f, loop, err, errlen);
    mirror_sync_conf_t sc;
    mirror_sync_conf_defaults(&sc);
    const char *m = y->master, *colon = strrchr(m, ':');
    const char *rb = strchr(m, ']');
    if (*m == '[') {
        snprintf(sc.host, sizeof sc.host, "%.*s", rb ? (int)(rb - m - 1) : 0, m + 1);
        colon = rb && rb[1] == ':' ? rb + 1 : NULL;
    } else if (colon && strchr(m, ':') != colon) {
        colon = NULL; /* a bare IPv6 address */
        snprintf(sc.host, sizeof sc.host, "%s", m);
    } else {
        snprintf(sc.host, sizeof sc.host, "%.*s", colon ? (int)(colon - m) : (int)strlen(m), m);
    }
    if (colon)
        sc.port = atoi(colon + 1);
    snprintf(sc.server_name, sizeof sc.server_name, "%s", y->server_name);
    snprintf(sc.cert_file, sizeof sc.cert_file, "%s", y->cert);
    snprintf(sc.key_file, sizeof sc.key_file, "%s", y->key);
    snprintf(sc.ca_file, sizeof sc.ca_file, "%s", y->ca);
    sc.stale_after_ms = y->stale_after_ms;
    sc.freeze_after_ms = mirror_config_freeze_after(f->conf);
    sc.backoff_min_ms = y->backoff_min_ms;
    sc.backoff_max_ms = y->backoff_max_ms;
    for (unsigned i = 0; i < f->nstores; i++) {
        sc.current_as_of_ms[sc.nfeeds] = f->stores[i].current_ms;
        sc.feeds[sc.nfeeds++] = f->stores[i].feed->name;
    }
    char st[BL_CFG_DURSTRLEN], fz[BL_CFG_DURSTRLEN], w[BL_CFG_DURSTRLEN];
    BL_INFO("freshness", "stale_after=%s freeze_after=%s window=%s",
            bl_cfg_duration_format(sc.stale_after_ms, st, sizeof st),
            bl_cfg_duration_format(sc.freeze_after_ms, fz, sizeof fz),
            bl_cfg_duration_format(f->conf->window_ms, w, sizeof w));
    mirror_sync_hooks_t h = {.ctx = f};
    h.get_state = sync_get_state;
    h.apply = sync_apply;
    h.on_new_key = sync_new_key;
    h.on_freshness = sync_freshness;
    h.on_refused = sync_refused;
    h.on_heartbeat = sync_heartbeat;
    int rc = mirror_sync_new(loop, &sc, &h, f->zs->sync_ring, NULL, &f->sync);
    if (rc) {
        snprintf(err, errlen, "%s:%u: [sync]: %s (cert %s, key %s, ca %s)", f->conf->path, y->line,
                 bl_strerror(rc), y->cert, y->key, y->ca);
        return rc;
    }
    BL_INFO("sync_started", "master=%s server_name=%s feeds=%zu", bl_log_q(y->master),
            bl_log_q(y->server_name), sc.nfeeds);
    return start_pull(f, loop, err, errlen);
}

void mirror_follow_tick(mirror_follow_t *f, int64_t now_ms)
{
    sync_gauges(f, now_ms);
    sync_current(f, now_ms);
}

int mirror_follow_reload_tls(mirror_follow_t *f)
{
    return f && f->sync ? mirror_sync_reload_tls(f->sync) : 0;
}

int mirror_follow_active(const mirror_follow_t *f)
{
    return f && f->nstores && (f->sync || f->npulls);
}

int mirror_follow_health(const mirror_follow_t *f, char *msg, size_t n)
{
    for (unsigned i = 0; i < f->nstores; i++)
        if (f->stores[i].write_error) {
            snprintf(msg, n, "feed %s: state_dir %s not writable: %s", f->stores[i].feed->name,
                     f->stores[i].dir, bl_strerror(f->stores[i].write_error));
            return 1;
        }
    return 0;
}

void mirror_follow_stop(mirror_follow_t *f)
{
    if (!f)
        return;
    mirror_sync_free(f->sync);
    f->sync = NULL;
    for (unsigned i = 0; i < f->npulls; i++)
        mirror_pull_free(f->pulls[i]);
    f->npulls = 0;
}

void mirror_follow_free(mirror_follow_t *f)
{
    mirror_follow_stop(f);
    free(f);
}

int mirror_follow_check(const mirror_config_t *c, char *err, size_t errlen)
{
    if (!c->sync.enabled || !mirror_config_push(c))
        return 0;
    bl_tls_config_t tc = {
        .cert_file = c->sync.cert, .key_file = c->sync.key, .ca_file = c->sync.ca};
    bl_tls_ctx_t *ctx = NULL;
    if (bl_tls_ctx_new_client(&tc, &ctx)) {
        snprintf(err, errlen, "%s:%u: [sync]: cert %s, key %s or ca %s unusable", c->path,
                 c->sync.line, c->sync.cert, c->sync.key, c->sync.ca);
        return BL_ECONFIG;
    }
    bl_tls_ctx_free(ctx);
    return 0;
}
