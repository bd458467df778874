/* SPDX-License-Identifier: MIT */
/* blsync-mirror: parses arguments, loads the configuration, wires zones, feeds and the DNS server.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "codec.h"
#include "config.h"
#include "config_util.h"
#include "err.h"
#include "export.h"
#include "feed.h"
#include "key.h"
#include "log.h"
#include "mirror_metrics.h"
#include "metrics_http.h"
#include "qsbr.h"
#include "server.h"
#include "persist.h"
#include "sync_client.h"
#include "tls.h"
#include "util.h"
#include "version.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: blsync-mirror -c FILE [options]\n"
               "  -c, --config FILE      configuration file (INI)\n"
               "      --check-config     check the configuration and data sources, then exit;\n"
               "                         run as root on a file in a directory of group blsync,\n"
               "                         also as user blsync\n"
               "      --user NAME        with --check-config as root: check as NAME too\n"
               "      --print-config     print the effective configuration (defaults commented\n"
               "                         out), then exit\n"
               "  -l, --listen ADDR:PORT listen address (repeatable; replaces the file's list)\n"
               "  -t, --threads N        UDP threads per listen address\n"
               "      --set SECTION:KEY=VALUE  override one setting (SECTION: server, sync,\n"
               "                         zone, 'zone NAME')\n"
               "      --log-level LEVEL  err, warn, info, debug\n"
               "      --version          print the version and exit\n");
}

typedef struct {
    mirror_config_t conf;
    mirror_qsbr_t qsbr;
    mirror_zone_t zones[MIRROR_CONF_MAX_ZONES];
    mirror_zone_t *zone_ptrs[MIRROR_CONF_MAX_ZONES];
    mirror_feed_t feeds[MIRROR_CONF_MAX_ZONES];
    bl_keyring_t *rings[MIRROR_CONF_MAX_ZONES];
    unsigned nzones;
    mirror_server_t *server;
    mirror_metrics_t *metrics;
    bl_metrics_http_t *http;
    uv_loop_t *loop;
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t tick;
    /* [sync]: one keyring for every followed feed (key certificates reach
     * all), a store per followed feed, the client. */
    bl_keyring_t *sync_ring;
    mirror_persist_t stores[MIRROR_CONF_MAX_ZONES];
    unsigned store_zone[MIRROR_CONF_MAX_ZONES];
    unsigned nstores;
    mirror_sync_t *sync;
    int in_apply; /* refusals of our own apply are counted by the feed's on_apply */
    struct {
        _Atomic int64_t hb_ms;
        uint64_t master_serial;
        int64_t behind_since_ms;
        uint64_t connects;
        bl_metrics_series_t *stale, *connected, *reconnects, *master_serial_g, *behind,
            *heartbeat_age, *delist_prop, *list_prop, *current_age, *freeze_after, *writable;
        uint64_t write_errors_seen;
    } fm[MIRROR_CONF_MAX_ZONES]; /* per store */
    /* The command line, re-applied on every reload. */
    const char *cfg_path;
    const char *listens[MIRROR_CONF_MAX_LIST];
    unsigned nlisten;
    const char *sets[64];
    unsigned nsets;
    const char *threads, *loglevel;
} app_t;

static int store_of(app_t *app, const char *feed)
{
    for (unsigned i = 0; i < app->nstores; i++)
        if (!strcmp(app->feeds[app->store_zone[i]].name, feed))
            return (int)i;
    return -1;
}

static int load_zone_data(app_t *app, unsigned i, int64_t now_ms)
{
    mirror_zone_conf_t *zc = &app->conf.zones[i];
    mirror_zone_t *z = &app->zones[i];
    char err[600];
    if (zc->nrbldnsd) {
        int rc = mirror_import_rbldnsd(z, &app->qsbr, zc->rbldnsd, zc->nrbldnsd, err, sizeof err);
        if (rc) {
            BL_ERR("import_failed", "zone=%s msg=%s", z->name, bl_log_q(err));
            return rc;
        }
        return 0;
    }
    mirror_feed_t *f = &app->feeds[i];
    if (zc->snapshot) {
        mirror_apply_info_t info;
        int rc = mirror_apply_file(f, zc->snapshot, now_ms, &info);
        if (rc) {
            BL_ERR("snapshot_failed", "zone=%s file=%s err=%s msg=%s", z->name,
                   bl_log_q(zc->snapshot), bl_errname(rc),
                   bl_log_q(rc == BL_EIO ? strerror(errno) : bl_strerror(rc)));
            return rc;
        }
        BL_INFO("snapshot_loaded", "zone=%s feed=%s serial=%" PRIu64 " entries=%zu us=%" PRIu64,
                z->name, f->name, info.serial, info.n_entries, info.elapsed_us);
    }
    if (zc->spool_dir)
        mirror_spool_scan(f, zc->spool_dir, now_ms);
    return 0;
}

static int export_rbldnsd(app_t *app, unsigned i)
{
    return mirror_export_rbldnsd(&app->zones[i], app->conf.zones[i].export_rbldnsd);
}

static void on_apply(void *arg, mirror_feed_t *f, int rc, const mirror_apply_info_t *info)
{
    app_t *app = arg;
    mirror_metrics_on_apply(app->metrics, f, rc, info);
    if (!rc)
        export_rbldnsd(app, (unsigned)(f - app->feeds));
}

/* ---- sync hooks ---- */

typedef struct {
    app_t *app;
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
    observe(p->app->fm[p->st].delist_prop, p->now_ms, rem, nrem);
    observe(p->app->fm[p->st].list_prop, p->now_ms, add, nadd);
    return 0;
}

/* The state directory's health: a failed write is not a refusal of the
 * object, it is this mirror's disk (logged by the store, counted here). */
static void state_write_gauges(app_t *app, unsigned st)
{
    mirror_persist_t *p = &app->stores[st];
    if (!app->metrics)
        return;
    bl_metrics_set(app->fm[st].writable, p->write_error == 0);
    if (p->write_errors > app->fm[st].write_errors_seen) {
        const char *v[] = {p->feed->name, bl_errname(p->write_error ? p->write_error : BL_EIO),
                           NULL};
        bl_metrics_add(bl_metrics_series(app->metrics->fam.state_write_errors, v),
                       p->write_errors - app->fm[st].write_errors_seen);
        app->fm[st].write_errors_seen = p->write_errors;
    }
}

static int sync_apply(void *ctx, const bl_obj_t *obj, const uint8_t *buf, size_t len)
{
    app_t *app = ctx;
    int st = store_of(app, obj->hdr.feed);
    if (st < 0)
        return BL_EFEED;
    app->in_apply = 1;
    int rc = mirror_persist_apply(&app->stores[st], obj, buf, len);
    state_write_gauges(app, (unsigned)st);
    if (app->stores[st].want_snapshot) {
        app->stores[st].want_snapshot = 0;
        mirror_sync_want_snapshot(app->sync, obj->hdr.feed);
    }
    if (!rc && obj->hdr.type == BL_OBJ_DELTA && app->metrics) {
        /* Served and persisted now: each change's decision at the master to here. */
        prop_t p = {app, st, bl_now_ms()};
        bl_sink_t sink = {&p, prop_block};
        bl_obj_decode(obj, &app->feeds[app->store_zone[st]].lim, &sink, NULL);
    }
    if (!rc) {
        app->in_apply = 0;
        if (app->fm[st].master_serial <= obj->hdr.serial)
            app->fm[st].behind_since_ms = 0;
    }
    return rc;
}

static int sync_get_state(void *ctx, const char *feed, uint64_t *serial,
                          uint8_t digest[BL_DIGEST_SIZE])
{
    app_t *app = ctx;
    int st = store_of(app, feed);
    if (st < 0)
        return BL_EFEED;
    mirror_feed_t *f = app->stores[st].feed;
    *serial = f->loaded ? f->serial : 0;
    if (f->loaded)
        bl_digest_to_bytes(&f->digest, digest);
    else
        memset(digest, 0, BL_DIGEST_SIZE);
    return 0;
}

static void sync_new_key(void *ctx, const char *feed, const bl_key_t *k, const uint8_t *buf,
                         size_t len)
{
    app_t *app = ctx;
    int st = store_of(app, feed);
    if (st >= 0)
        mirror_persist_keycert(&app->stores[st], k, buf, len);
}

static void sync_freshness(void *ctx, const char *feed, int level)
{
    app_t *app = ctx;
    int st = store_of(app, feed);
    if (st < 0)
        return;
    mirror_zone_t *z = &app->zones[app->store_zone[st]];
    /* Frozen: the master has been silent too long to vouch for any listing. */
    atomic_store(&z->no_positive, level == MIRROR_FROZEN);
    if (app->fm[st].stale)
        bl_metrics_set(app->fm[st].stale, level);
}

static void sync_refused(void *ctx, const char *feed, const char *what, int err)
{
    app_t *app = ctx;
    int counted = app->in_apply;
    app->in_apply = 0;
    if (counted || !app->metrics || err == BL_ENOSPC || err == BL_EIO)
        return; /* the object was fine: a write to state_dir failed (state_write_errors) */
    const char *fname =
        *feed ? feed : (app->nstores == 1 ? app->feeds[app->store_zone[0]].name : "unknown");
    if (!strcmp(what, "heartbeat"))
        return; /* logged by the client; heartbeats_refused has no family of its own */
    const char *v[] = {fname, bl_errname(err), NULL};
    bl_metrics_inc(bl_metrics_series(!strcmp(what, "snapshot") ? app->metrics->fam.snapshots_refused
                                                               : app->metrics->fam.deltas_refused,
                                     v));
}

static void sync_heartbeat(void *ctx, const char *feed, uint64_t master_serial, int64_t created_ms)
{
    app_t *app = ctx;
    (void)created_ms;
    int st = store_of(app, feed);
    if (st < 0)
        return;
    int64_t now = bl_now_ms();
    atomic_store(&app->fm[st].hb_ms, now);
    app->fm[st].master_serial = master_serial;
    if (app->fm[st].master_serial_g)
        bl_metrics_set(app->fm[st].master_serial_g, (double)master_serial);
    uint64_t mine = app->stores[st].feed->serial;
    if (master_serial > mine && !app->fm[st].behind_since_ms)
        app->fm[st].behind_since_ms = now;
    else if (master_serial <= mine)
        app->fm[st].behind_since_ms = 0;
}

/* Loop thread, every tick: the sync gauges that are not events. */
static void sync_gauges(app_t *app, int64_t now_ms)
{
    if (!app->sync || !app->metrics)
        return;
    const mirror_sync_stats_t *ss = mirror_sync_stats(app->sync);
    for (unsigned i = 0; i < app->nstores; i++) {
        bl_metrics_set(app->fm[i].connected, ss->connected);
        if (ss->connects > app->fm[i].connects) {
            if (ss->connects > 1)
                bl_metrics_add(app->fm[i].reconnects,
                               ss->connects - (app->fm[i].connects ? app->fm[i].connects : 1));
            app->fm[i].connects = ss->connects;
        }
        int64_t since = app->fm[i].behind_since_ms;
        bl_metrics_set(app->fm[i].behind, since ? (double)(now_ms - since) / 1000.0 : 0.0);
    }
}

/* Loop thread, every tick: how current each feed is, kept in its state
 * directory so that a restart without the master does not look fresh. */
static void sync_current(app_t *app, int64_t now_ms)
{
    for (unsigned i = 0; app->sync && i < app->nstores; i++) {
        const char *feed = app->feeds[app->store_zone[i]].name;
        int64_t age = mirror_sync_current_age_ms(app->sync, feed);
        if (age < 0)
            continue;
        if (app->metrics)
            bl_metrics_set(app->fm[i].current_age, age / 1000.0);
        /* Often enough that a restart loses a tenth of the budget at most. */
        int64_t every = mirror_config_freeze_after(&app->conf) / 10;
        if (app->stores[i].feed->loaded && !app->stores[i].write_error)
            mirror_persist_save_current(&app->stores[i], now_ms - age,
                                        every < 30000 ? every : 30000);
    }
}

static int setup_sync(app_t *app, char *err, size_t errlen)
{
    mirror_sync_file_conf_t *y = &app->conf.sync;
    if (!y->enabled)
        return 0;
    for (unsigned i = 0; i < app->nzones; i++) {
        if (!mirror_zone_conf_synced(&app->conf, &app->conf.zones[i]))
            continue;
        unsigned k = (unsigned)app->nstores++;
        app->store_zone[k] = i;
        uint64_t serial = 0;
        if (mirror_persist_open(&app->stores[k], &app->feeds[i], y->state_dir, &serial)) {
            snprintf(err, errlen, "%s:%u: state_dir %s: unusable (%s)", app->conf.path,
                     y->state_line ? y->state_line : y->line, y->state_dir, strerror(errno));
            return BL_EIO;
        }
        if (app->metrics) {
            const char *v[] = {app->feeds[i].name, NULL};
            app->fm[k].stale = bl_metrics_series(app->metrics->fam.stale, v);
            app->fm[k].connected = bl_metrics_series(app->metrics->fam.connected, v);
            app->fm[k].reconnects = bl_metrics_series(app->metrics->fam.reconnects, v);
            app->fm[k].master_serial_g = bl_metrics_series(app->metrics->fam.master_serial, v);
            app->fm[k].behind = bl_metrics_series(app->metrics->fam.behind, v);
            app->fm[k].heartbeat_age = bl_metrics_series(app->metrics->fam.heartbeat_age, v);
            app->fm[k].delist_prop = bl_metrics_series(app->metrics->fam.delisting_prop, v);
            app->fm[k].list_prop = bl_metrics_series(app->metrics->fam.listing_prop, v);
            app->fm[k].current_age = bl_metrics_series(app->metrics->fam.current_age, v);
            app->fm[k].freeze_after = bl_metrics_series(app->metrics->fam.freeze_after, v);
            app->fm[k].writable = bl_metrics_series(app->metrics->fam.state_writable, v);
            bl_metrics_set(app->fm[k].writable, 1);
            for (int e = 0; e < 64; e++)
                if (app->stores[k].refused_by[e]) {
                    const char *r[] = {app->feeds[i].name, bl_errname(e ? -e : BL_EIO), NULL};
                    bl_metrics_add(bl_metrics_series(app->metrics->fam.state_refused, r),
                                   app->stores[k].refused_by[e]);
                }
            bl_metrics_set(app->fm[k].freeze_after,
                           (double)mirror_config_freeze_after(&app->conf) / 1000.0);
            atomic_store(&app->fm[k].hb_ms, bl_now_ms());
            bl_metrics_set_age(app->fm[k].heartbeat_age, &app->fm[k].hb_ms);
            bl_metrics_set(app->fm[k].stale, 0);
            bl_metrics_set(bl_metrics_series(app->metrics->fam.serial, v),
                           (double)app->feeds[i].serial);
        }
    }
    return 0;
}

static int start_sync(app_t *app, uv_loop_t *loop, char *err, size_t errlen)
{
    mirror_sync_file_conf_t *y = &app->conf.sync;
    if (!app->nstores)
        return 0;
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
    sc.freeze_after_ms = mirror_config_freeze_after(&app->conf);
    sc.backoff_min_ms = y->backoff_min_ms;
    sc.backoff_max_ms = y->backoff_max_ms;
    for (unsigned i = 0; i < app->nstores; i++) {
        sc.current_as_of_ms[sc.nfeeds] = app->stores[i].current_ms;
        sc.feeds[sc.nfeeds++] = app->feeds[app->store_zone[i]].name;
    }
    char st[BL_CFG_DURSTRLEN], fz[BL_CFG_DURSTRLEN], w[BL_CFG_DURSTRLEN];
    BL_INFO("freshness", "stale_after=%s freeze_after=%s window=%s",
            bl_cfg_duration_format(sc.stale_after_ms, st, sizeof st),
            bl_cfg_duration_format(sc.freeze_after_ms, fz, sizeof fz),
            bl_cfg_duration_format(app->conf.window_ms, w, sizeof w));
    mirror_sync_hooks_t h = {.ctx = app};
    h.get_state = sync_get_state;
    h.apply = sync_apply;
    h.on_new_key = sync_new_key;
    h.on_freshness = sync_freshness;
    h.on_refused = sync_refused;
    h.on_heartbeat = sync_heartbeat;
    int rc = mirror_sync_new(loop, &sc, &h, app->sync_ring, NULL, &app->sync);
    if (rc) {
        snprintf(err, errlen, "%s:%u: [sync]: %s (cert %s, key %s, ca %s)", app->conf.path, y->line,
                 bl_strerror(rc), y->cert, y->key, y->ca);
        return rc;
    }
    BL_INFO("sync_started", "master=%s server_name=%s feeds=%zu", bl_log_q(y->master),
            bl_log_q(y->server_name), sc.nfeeds);
    return 0;
}

static int apply_set(mirror_config_t *c, const char *arg, char *err, size_t errlen)
{
    const char *eq = strchr(arg, '=');
    if (!eq) {
        snprintf(err, errlen, "--set %s: expected SECTION:KEY=VALUE", arg);
        return BL_ECONFIG;
    }
    char lhs[512];
    snprintf(lhs, sizeof lhs, "%.*s", (int)(eq - arg), arg);
    char *colon = strrchr(lhs, ':');
    if (!colon) {
        snprintf(err, errlen, "--set %s: expected SECTION:KEY=VALUE", arg);
        return BL_ECONFIG;
    }
    *colon = 0;
    char msg[512];
    int rc = mirror_config_set(c, lhs, colon + 1, eq + 1, msg, sizeof msg);
    if (rc)
        snprintf(err, errlen, "--set %s: %s", arg, msg);
    return rc;
}

/* Warns (event=window_budget) for each zone whose TTL of positive answers
 * plus the expected propagation does not fit the propagation window. */
static void window_check(const app_t *app)
{
    char msg[256];
    for (unsigned i = 0; i < app->nzones; i++)
        if (bl_cfg_window_check(app->conf.window_ms,
                                (int64_t)atomic_load(&app->zones[i].ttl) * 1000,
                                app->conf.expected_prop_ms, msg, sizeof msg))
            BL_WARN("window_budget", "zone=%s msg=%s", app->zones[i].name, bl_log_q(msg));
    if (app->metrics)
        bl_metrics_set(bl_metrics_with(app->metrics->fam.window, NULL),
                       (double)app->conf.window_ms / 1000.0);
}

/* Reads the configuration file and applies the command line over it. */
static int load_config(app_t *app, mirror_config_t *c, char *err, size_t errlen)
{
    mirror_config_init(c);
    int rc = mirror_config_load(c, app->cfg_path, err, errlen);
    for (unsigned i = 0; !rc && i < app->nsets; i++)
        rc = apply_set(c, app->sets[i], err, errlen);
    if (!rc && app->nlisten) {
        for (unsigned i = 0; i < c->nlisten; i++)
            free(c->listen[i]);
        c->nlisten = 0;
        for (unsigned i = 0; !rc && i < app->nlisten; i++)
            rc = mirror_config_set(c, "server", "listen", app->listens[i], err, errlen);
    }
    if (!rc && app->threads)
        rc = mirror_config_set(c, "server", "threads", app->threads, err, errlen);
    if (!rc && app->loglevel)
        rc = mirror_config_set(c, "server", "log_level", app->loglevel, err, errlen);
    if (!rc)
        rc = mirror_config_check(c, err, errlen);
    if (rc)
        mirror_config_close(c);
    return rc;
}

/* Swaps the string lists of two zone configurations (rbldnsd imports). */
static void swap_rbldnsd(mirror_zone_conf_t *a, mirror_zone_conf_t *b)
{
    char *tmp[MIRROR_CONF_MAX_LIST];
    unsigned n = a->nrbldnsd;
    memcpy(tmp, a->rbldnsd, sizeof tmp);
    memcpy(a->rbldnsd, b->rbldnsd, sizeof tmp);
    memcpy(b->rbldnsd, tmp, sizeof tmp);
    a->nrbldnsd = b->nrbldnsd;
    b->nrbldnsd = n;
    char *e = a->export_rbldnsd;
    a->export_rbldnsd = b->export_rbldnsd;
    b->export_rbldnsd = e;
}

/*
 * SIGHUP: reads the file again (with the same command-line overrides) and
 * applies what can change under load: log level and syslog, each zone's
 * TTLs and TXT templates, rbldnsd imports and the export file. Listen
 * addresses, threads, [sync], zones and feeds need a restart (logged). An
 * invalid file changes nothing. DNS threads keep answering throughout:
 * numbers are stored atomically, templates swapped and the old ones freed
 * after a grace period.
 */
static void reload(app_t *app)
{
    static mirror_config_t nc;
    char err[1024];
    int rc = load_config(app, &nc, err, sizeof err);
    for (unsigned i = 0; !rc && i < nc.nzones; i++)
        if (i >= app->nzones || strcmp(nc.zones[i].name, app->zones[i].name) ||
            strcmp(nc.zones[i].feed, app->conf.zones[i].feed) ||
            !nc.zones[i].nrbldnsd != !app->conf.zones[i].nrbldnsd) {
            snprintf(err, sizeof err, "zone %s: zones, feeds and sources need a restart",
                     nc.zones[i].name);
            rc = BL_ECONFIG;
        }
    if (!rc && nc.nzones != app->nzones) {
        snprintf(err, sizeof err, "the set of zones changed: restart needed");
        rc = BL_ECONFIG;
    }
    if (rc) {
        BL_ERR("reload_failed", "msg=%s", bl_log_q(err));
        mirror_config_close(&nc);
        return;
    }
    int restart = nc.nlisten != app->conf.nlisten || nc.threads != app->conf.threads ||
                  nc.sync.enabled != app->conf.sync.enabled ||
                  (nc.sync.master && strcmp(nc.sync.master, app->conf.sync.master));
    for (unsigned i = 0; !restart && i < nc.nlisten; i++)
        restart = strcmp(nc.listen[i], app->conf.listen[i]) != 0;
    bl_log_init("blsync-mirror", nc.log_level, nc.log_syslog);
    app->conf.log_level = nc.log_level;
    app->conf.log_syslog = nc.log_syslog;
    char *old_txt[MIRROR_CONF_MAX_ZONES] = {0};
    char **old_reason[MIRROR_CONF_MAX_ZONES] = {0};
    size_t old_n[MIRROR_CONF_MAX_ZONES] = {0};
    for (unsigned i = 0; i < app->nzones; i++) {
        mirror_zone_t *z = &app->zones[i];
        if (mirror_zone_reload(z, &nc.zones[i], &old_txt[i], &old_reason[i], &old_n[i]))
            BL_ERR("reload_failed", "zone=%s msg=\"out of memory\"", z->name);
        if (app->metrics)
            bl_metrics_set(bl_metrics_with(app->metrics->fam.dns_ttl, z->name),
                           atomic_load(&z->ttl));
        swap_rbldnsd(&app->conf.zones[i], &nc.zones[i]);
    }
    mirror_qsbr_synchronize(&app->qsbr); /* no DNS thread holds an old template now */
    for (unsigned i = 0; i < app->nzones; i++) {
        free(old_txt[i]);
        for (size_t k = 0; k < old_n[i]; k++)
            free(old_reason[i][k]);
        free(old_reason[i]);
    }
    int64_t now_ms = bl_now_ms();
    for (unsigned i = 0; i < app->nzones; i++) {
        if (app->conf.zones[i].nrbldnsd)
            load_zone_data(app, i, now_ms); /* keeps the old data if the files are bad */
        export_rbldnsd(app, i);
        BL_INFO("zone_reloaded", "zone=%s ttl=%u neg_ttl=%u soa_ttl=%u", app->zones[i].name,
                atomic_load(&app->zones[i].ttl), atomic_load(&app->zones[i].neg_ttl),
                atomic_load(&app->zones[i].soa_ttl));
    }
    app->conf.window_ms = nc.window_ms;
    app->conf.expected_prop_ms = nc.expected_prop_ms;
    window_check(app);
    mirror_config_close(&nc);
    if (restart)
        BL_WARN("reload_partial", "msg=%s",
                bl_log_q("listen addresses, threads and [sync] change only on restart"));
    int lv = app->conf.log_level;
    BL_INFO("reloaded", "file=%s log_level=%s log_syslog=%s", bl_log_q(app->cfg_path),
            lv == BL_LOG_ERR    ? "err"
            : lv == BL_LOG_WARN ? "warn"
            : lv == BL_LOG_INFO ? "info"
                                : "debug",
            app->conf.log_syslog ? "yes" : "no");
}

static void on_signal(uv_signal_t *h, int signum)
{
    app_t *app = h->data;
    if (signum == SIGHUP) {
        reload(app);
        return;
    }
    BL_INFO("stopping", "signal=%d", signum);
    uv_stop(app->loop);
}

static void on_tick(uv_timer_t *t)
{
    app_t *app = t->data;
    int64_t now_ms = bl_now_ms();
    mirror_server_set_now(app->server, now_ms / 1000);
    for (unsigned i = 0; i < app->nzones; i++)
        if (app->conf.zones[i].spool_dir)
            mirror_spool_scan(&app->feeds[i], app->conf.zones[i].spool_dir, now_ms);
    sync_gauges(app, now_ms);
    sync_current(app, now_ms);
}

/* /healthz: healthy when every zone has data to serve and none is frozen. */
static int health(void *arg, char *msg, size_t n)
{
    app_t *app = arg;
    for (unsigned i = 0; i < app->nzones; i++) {
        if (!atomic_load(&app->zones[i].data)) {
            snprintf(msg, n, "zone %s has no data", app->zones[i].name);
            return 1;
        }
        if (atomic_load(&app->zones[i].no_positive)) {
            snprintf(msg, n,
                     "zone %s is frozen: not current with the master for longer than "
                     "freeze_after, no positive answers",
                     app->zones[i].name);
            return 1;
        }
    }
    for (unsigned i = 0; i < app->nstores; i++)
        if (app->stores[i].write_error) {
            snprintf(msg, n, "feed %s: state_dir %s not writable: %s", app->stores[i].feed->name,
                     app->stores[i].dir, bl_strerror(app->stores[i].write_error));
            return 1;
        }
    return 0;
}

static int setup_zones(app_t *app, char *err, size_t errlen)
{
    for (unsigned i = 0; i < app->conf.nzones; i++) {
        mirror_zone_conf_t *zc = &app->conf.zones[i];
        if (mirror_zone_init(&app->zones[i], zc, err, errlen))
            return BL_ECONFIG;
        app->zone_ptrs[i] = &app->zones[i];
        app->nzones = i + 1;
        int synced = mirror_zone_conf_synced(&app->conf, zc);
        if (synced && !app->sync_ring)
            app->sync_ring = bl_keyring_new();
        bl_keyring_t *ring = synced ? app->sync_ring : (app->rings[i] = bl_keyring_new());
        if (!ring) {
            snprintf(err, errlen, "out of memory");
            return BL_ENOMEM;
        }
        for (unsigned k = 0; k < zc->nkeys; k++) {
            int rc = bl_keyring_add_file(ring, zc->keys[k]);
            if (rc) {
                snprintf(err, errlen, "zone %s: trusted_key %s: %s", zc->name, zc->keys[k],
                         rc == BL_EIO ? strerror(errno) : bl_strerror(rc));
                return rc;
            }
        }
        mirror_feed_init(&app->feeds[i], &app->zones[i], &app->qsbr, zc->feed, ring);
        app->feeds[i].on_apply = on_apply;
        app->feeds[i].on_apply_arg = app;
    }
    if (app->conf.metrics_listen) {
        app->metrics = mirror_metrics_new(app->zone_ptrs, app->nzones);
        if (!app->metrics) {
            snprintf(err, errlen, "metrics: out of memory");
            return BL_ENOMEM;
        }
    }
    return 0;
}

static void teardown(app_t *app)
{
    bl_metrics_http_stop(app->http);
    app->http = NULL;
    for (unsigned i = 0; i < app->nzones; i++) {
        mirror_zone_close(&app->zones[i]);
        bl_keyring_free(app->rings[i]);
    }
    bl_keyring_free(app->sync_ring);
    app->sync_ring = NULL;
    mirror_config_close(&app->conf);
    mirror_metrics_free(app->metrics);
    app->metrics = NULL;
}

int main(int argc, char **argv)
{
    static app_t app;
    const char *cfg = NULL, *check_user = NULL;
    int check = 0, print = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--version")) {
            printf("blsync-mirror " BLSYNC_VERSION "\n");
            return 0;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && more) {
            cfg = argv[++i];
        } else if (!strcmp(a, "--check-config")) {
            check = 1;
        } else if (!strcmp(a, "--user") && more) {
            check_user = argv[++i];
        } else if (!strcmp(a, "--print-config")) {
            print = 1;
        } else if ((!strcmp(a, "-l") || !strcmp(a, "--listen")) && more &&
                   app.nlisten < MIRROR_CONF_MAX_LIST) {
            app.listens[app.nlisten++] = argv[++i];
        } else if ((!strcmp(a, "-t") || !strcmp(a, "--threads")) && more) {
            app.threads = argv[++i];
        } else if (!strcmp(a, "--set") && more && app.nsets < 64) {
            app.sets[app.nsets++] = argv[++i];
        } else if (!strcmp(a, "--log-level") && more) {
            app.loglevel = argv[++i];
        } else {
            fprintf(stderr, "blsync-mirror: unknown or incomplete argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!cfg) {
        usage(stderr);
        return 2;
    }
    char err[1024];
    app.cfg_path = cfg;
    int rc = load_config(&app, &app.conf, err, sizeof err);
    if (rc) {
        fprintf(stderr, "blsync-mirror: %s\n", err);
        mirror_config_close(&app.conf);
        return 1;
    }
    if (print) {
        rc = mirror_config_print(&app.conf, stdout);
        mirror_config_close(&app.conf);
        return rc ? 1 : 0;
    }
    bl_log_init("blsync-mirror", app.conf.log_level, app.conf.log_syslog);
    mirror_qsbr_init(&app.qsbr);
    if (setup_zones(&app, err, sizeof err)) {
        fprintf(stderr, "blsync-mirror: %s\n", err);
        teardown(&app);
        return 1;
    }
    int64_t now_ms = bl_now_ms();
    for (unsigned i = 0; i < app.nzones; i++) {
        if (load_zone_data(&app, i, now_ms)) {
            teardown(&app);
            return 1;
        }
    }
    if (check && app.conf.sync.enabled) {
        /* The TLS files must load as a client context (key matches certificate). */
        bl_tls_config_t tc = {.cert_file = app.conf.sync.cert,
                              .key_file = app.conf.sync.key,
                              .ca_file = app.conf.sync.ca};
        bl_tls_ctx_t *ctx = NULL;
        if (bl_tls_ctx_new_client(&tc, &ctx)) {
            fprintf(stderr, "blsync-mirror: %s:%u: [sync]: cert %s, key %s or ca %s unusable\n",
                    app.conf.path, app.conf.sync.line, app.conf.sync.cert, app.conf.sync.key,
                    app.conf.sync.ca);
            teardown(&app);
            return 1;
        }
        bl_tls_ctx_free(ctx);
    }
    if (check) {
        /* Run as root, the check is also the daemons' user's: the unit runs it as blsync. */
        bl_access_t acc[64] = {{"configuration", cfg, 0}};
        char who[PATH_MAX + 32];
        snprintf(who, sizeof who, "blsync-mirror: %s", cfg);
        size_t nacc = 1 + mirror_config_access(&app.conf, acc + 1, 63);
        if (bl_access_check_as(bl_access_user(cfg, check_user), acc, nacc, who)) {
            teardown(&app);
            return 1;
        }
        printf("blsync-mirror: configuration ok (%u zone%s)\n", app.nzones,
               app.nzones == 1 ? "" : "s");
        teardown(&app);
        return 0;
    }
    window_check(&app);
    /* The persisted state of every followed feed, before any query is answered. */
    if (setup_sync(&app, err, sizeof err)) {
        fprintf(stderr, "blsync-mirror: %s\n", err);
        teardown(&app);
        return 1;
    }
    for (unsigned i = 0; i < app.nzones; i++)
        export_rbldnsd(&app, i);
    mirror_server_conf_t sc = {
        .listen = app.conf.listen,
        .nlisten = app.conf.nlisten,
        .threads = app.conf.threads,
        .tcp_idle_ms = app.conf.tcp_idle_ms,
        .tcp_max_conns = app.conf.tcp_max_conns,
        .tcp_max_per_client = app.conf.tcp_max_per_client,
        .tcp_query_ms = app.conf.tcp_query_ms,
        .tcp_pipeline = app.conf.tcp_pipeline,
        .udp_max = app.conf.udp_max,
        .udp_coalesce_us = app.conf.udp_coalesce_us,
        .udp_gso = app.conf.udp_gso,
        .zones = app.zone_ptrs,
        .nzones = app.nzones,
        .qsbr = &app.qsbr,
        .metrics = app.metrics,
    };
    signal(SIGPIPE, SIG_IGN);
    if (mirror_server_start(&sc, &app.server, err, sizeof err)) {
        BL_ERR("listen_failed", "msg=%s", bl_log_q(err));
        teardown(&app);
        return 1;
    }
    mirror_server_set_now(app.server, now_ms / 1000);
    if (app.metrics) {
        rc = bl_metrics_http_start(app.metrics->reg, app.conf.metrics_listen, health, &app,
                                   &app.http);
        if (rc) {
            BL_ERR("metrics_listen_failed", "addr=%s err=%s", bl_log_q(app.conf.metrics_listen),
                   bl_errname(rc));
            mirror_server_stop(app.server);
            teardown(&app);
            return 1;
        }
        BL_INFO("metrics", "addr=%s port=%d", app.conf.metrics_listen,
                bl_metrics_http_port(app.http));
    }
    for (unsigned i = 0; i < app.conf.nlisten; i++)
        BL_INFO("listening", "addr=%s threads=%u", app.conf.listen[i], app.conf.threads);
    app.loop = uv_default_loop();
    uv_signal_init(app.loop, &app.sigterm);
    uv_signal_init(app.loop, &app.sigint);
    uv_signal_init(app.loop, &app.sighup);
    app.sigterm.data = app.sigint.data = app.sighup.data = &app;
    uv_signal_start(&app.sigterm, on_signal, SIGTERM);
    uv_signal_start(&app.sigint, on_signal, SIGINT);
    uv_signal_start(&app.sighup, on_signal, SIGHUP);
    uv_timer_init(app.loop, &app.tick);
    app.tick.data = &app;
    uv_timer_start(&app.tick, on_tick, 100, 100);
    if (start_sync(&app, app.loop, err, sizeof err)) {
        BL_ERR("sync_failed", "msg=%s", bl_log_q(err));
        fprintf(stderr, "blsync-mirror: %s\n", err);
        rc = 1;
        uv_stop(app.loop);
    }
    if (!rc)
        uv_run(app.loop, UV_RUN_DEFAULT);
    mirror_sync_free(app.sync);
    app.sync = NULL;

    mirror_server_stats_t st;
    mirror_server_stats(app.server, &st);
    BL_INFO("stopped",
            "udp_queries=%" PRIu64 " udp_batches=%" PRIu64 " udp_pauses=%" PRIu64
            " tcp_queries=%" PRIu64 " dropped=%" PRIu64,
            st.udp_queries, st.udp_batches, st.udp_pauses, st.tcp_queries, st.dropped);
    mirror_server_stop(app.server);
    uv_close((uv_handle_t *)&app.sigterm, NULL);
    uv_close((uv_handle_t *)&app.sigint, NULL);
    uv_close((uv_handle_t *)&app.sighup, NULL);
    uv_close((uv_handle_t *)&app.tick, NULL);
    uv_run(app.loop, UV_RUN_DEFAULT);
    uv_loop_close(app.loop);
    teardown(&app);
    return rc;
}
