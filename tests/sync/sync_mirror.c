/* SPDX-License-Identifier: MIT */
/* A mirror built from the real mirror modules plus mirror/sync_client, for the sync tests. */

/*
 * blsync-mirror itself now runs the sync client ([sync] section) and the
 * sync tests here drive it; this command-line twin stays only for
 * tests/master/sync.sh and tests/bench/sync/, which pass sync options as
 * arguments. The same wiring as blsync-mirror's [sync]: zones and DNS from the
 * mirror's INI configuration, each feed restored from its state directory
 * and then followed over mutual TLS; freezing a feed stops positive answers
 * of its zone. Sync options come from the command line.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "config.h"
#include "err.h"
#include "feed.h"
#include "log.h"
#include "qsbr.h"
#include "server.h"
#include "sync_client.h"
#include "util.h"

static struct {
    mirror_config_t conf;
    mirror_qsbr_t qsbr;
    mirror_zone_t zones[MIRROR_CONF_MAX_ZONES];
    mirror_zone_t *zone_ptrs[MIRROR_CONF_MAX_ZONES];
    mirror_feed_t feeds[MIRROR_CONF_MAX_ZONES];
    bl_keyring_t *ring; /* one keyring for every feed: key certificates reach all */
    mirror_sync_store_t stores[MIRROR_CONF_MAX_ZONES];
    mirror_sync_store_set_t set;
    unsigned nzones;
    mirror_server_t *server;
    mirror_sync_t *sync;
} app;

static void on_freshness(void *ctx, const char *feed, int level)
{
    (void)ctx;
    for (unsigned i = 0; i < app.nzones; i++)
        if (!strcmp(app.feeds[i].name, feed))
            atomic_store(&app.zones[i].no_positive, level == MIRROR_FROZEN);
}

static void on_refused(void *ctx, const char *feed, const char *what, int err)
{
    (void)ctx;
    (void)feed;
    (void)what;
    (void)err; /* logged by the client; metrics would count here */
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
    mirror_server_set_now(app.server, bl_now_ms() / 1000);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    uv_stop(h->loop);
}

static int opt_copy(char *dst, size_t n, const char *v)
{
    return snprintf(dst, n, "%s", v) >= (int)n ? -1 : 0;
}

int main(int argc, char **argv)
{
    const char *cfg = NULL, *state_dir = NULL, *level = "info";
    mirror_sync_conf_t sc;
    mirror_sync_conf_defaults(&sc);
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        int bad = 0;
        if (!strcmp(a, "-c"))
            cfg = v;
        else if (!strcmp(a, "--state-dir"))
            state_dir = v;
        else if (!strcmp(a, "--master")) {
            const char *colon = strrchr(v, ':');
            if (!colon || (size_t)(colon - v) >= sizeof sc.host)
                bad = 1;
            else {
                snprintf(sc.host, sizeof sc.host, "%.*s", (int)(colon - v), v);
                sc.port = atoi(colon + 1);
            }
        } else if (!strcmp(a, "--server-name"))
            bad = opt_copy(sc.server_name, sizeof sc.server_name, v);
        else if (!strcmp(a, "--cert"))
            bad = opt_copy(sc.cert_file, sizeof sc.cert_file, v);
        else if (!strcmp(a, "--key"))
            bad = opt_copy(sc.key_file, sizeof sc.key_file, v);
        else if (!strcmp(a, "--ca"))
            bad = opt_copy(sc.ca_file, sizeof sc.ca_file, v);
        else if (!strcmp(a, "--stale-after"))
            sc.stale_after_ms = atoll(v);
        else if (!strcmp(a, "--freeze-after"))
            sc.freeze_after_ms = atoll(v);
        else if (!strcmp(a, "--backoff-min"))
            sc.backoff_min_ms = atoll(v);
        else if (!strcmp(a, "--backoff-max"))
            sc.backoff_max_ms = atoll(v);
        else if (!strcmp(a, "--log-level"))
            level = v;
        else
            bad = 1;
        if (bad) {
            fprintf(stderr, "sync_mirror: bad argument %s\n", a);
            return 2;
        }
    }
    if (!cfg || !state_dir || !sc.host[0]) {
        fprintf(stderr, "usage: sync_mirror -c INI --state-dir DIR --master HOST:PORT "
                        "--server-name NAME --cert F --key F --ca F\n");
        return 2;
    }
    char err[1024];
    mirror_config_init(&app.conf);
    if (mirror_config_load(&app.conf, cfg, err, sizeof err) ||
        mirror_config_check(&app.conf, err, sizeof err)) {
        fprintf(stderr, "sync_mirror: %s\n", err);
        return 1;
    }
    bl_log_init("sync_mirror", bl_log_level_parse(level), 0);
    mirror_qsbr_init(&app.qsbr);
    app.ring = bl_keyring_new();
    for (unsigned i = 0; i < app.conf.nzones; i++) {
        mirror_zone_conf_t *zc = &app.conf.zones[i];
        if (mirror_zone_init(&app.zones[i], zc, err, sizeof err)) {
            fprintf(stderr, "sync_mirror: %s\n", err);
            return 1;
        }
        app.zone_ptrs[i] = &app.zones[i];
        app.nzones = i + 1;
        for (unsigned k = 0; k < zc->nkeys; k++)
            if (bl_keyring_add_file(app.ring, zc->keys[k])) {
                fprintf(stderr, "sync_mirror: trusted key %s unusable\n", zc->keys[k]);
                return 1;
            }
        mirror_feed_init(&app.feeds[i], &app.zones[i], &app.qsbr, zc->feed, app.ring);
        if (mirror_sync_store_open(&app.stores[i], &app.feeds[i], state_dir, NULL)) {
            fprintf(stderr, "sync_mirror: state directory %s unusable\n", state_dir);
            return 1;
        }
        sc.feeds[sc.nfeeds++] = app.feeds[i].name;
    }
    app.set.v = app.stores;
    app.set.n = app.nzones;
    mirror_server_conf_t svc = {
        .listen = app.conf.listen,
        .nlisten = app.conf.nlisten,
        .threads = app.conf.threads,
        .tcp_idle_ms = app.conf.tcp_idle_ms,
        .tcp_max_conns = app.conf.tcp_max_conns,
        .udp_max = app.conf.udp_max,
        .zones = app.zone_ptrs,
        .nzones = app.nzones,
        .qsbr = &app.qsbr,
    };
    signal(SIGPIPE, SIG_IGN);
    if (mirror_server_start(&svc, &app.server, err, sizeof err)) {
        fprintf(stderr, "sync_mirror: %s\n", err);
        return 1;
    }
    mirror_server_set_now(app.server, bl_now_ms() / 1000);
    uv_loop_t *loop = uv_default_loop();
    mirror_sync_hooks_t h = {0};
    mirror_sync_store_hooks(&h, &app.set);
    h.on_freshness = on_freshness;
    h.on_refused = on_refused;
    int rc = mirror_sync_new(loop, &sc, &h, app.ring, NULL, &app.sync);
    if (rc) {
        fprintf(stderr, "sync_mirror: sync: %s\n", bl_strerror(rc));
        return 1;
    }
    for (unsigned i = 0; i < app.nzones; i++)
        app.stores[i].sync = app.sync;
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 100, 100);
    uv_signal_t st, si;
    uv_signal_init(loop, &st);
    uv_signal_init(loop, &si);
    uv_signal_start(&st, on_signal, SIGTERM);
    uv_signal_start(&si, on_signal, SIGINT);
    BL_INFO("started", "zones=%u", app.nzones);
    uv_run(loop, UV_RUN_DEFAULT);
    mirror_sync_free(app.sync);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_close((uv_handle_t *)&st, NULL);
    uv_close((uv_handle_t *)&si, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    mirror_server_stop(app.server);
    for (unsigned i = 0; i < app.nzones; i++)
        mirror_zone_close(&app.zones[i]);
    bl_keyring_free(app.ring);
    mirror_config_close(&app.conf);
    return 0;
}
