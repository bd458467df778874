/* SPDX-License-Identifier: MIT */
/* blsync-mirror: parses arguments, loads the configuration, wires zones, feeds and the DNS server.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config.h"
#include "err.h"
#include "feed.h"
#include "key.h"
#include "log.h"
#include "mirror_metrics.h"
#include "metrics_http.h"
#include "qsbr.h"
#include "server.h"
#include "util.h"

#define VERSION "0.1.0"

static void usage(FILE *f)
{
    fprintf(f, "usage: blsync-mirror -c FILE [options]\n"
               "  -c, --config FILE      configuration file (INI)\n"
               "      --check-config     check the configuration and data sources, then exit\n"
               "  -l, --listen ADDR:PORT listen address (repeatable; replaces the file's list)\n"
               "  -t, --threads N        UDP threads per listen address\n"
               "      --set SECTION:KEY=VALUE  override one setting (SECTION: server, zone,\n"
               "                         'zone NAME')\n"
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
} app_t;

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

static void on_signal(uv_signal_t *h, int signum)
{
    app_t *app = h->data;
    if (signum == SIGHUP) {
        /* re-read rbldnsd imports (feeds change only through signed objects) */
        for (unsigned i = 0; i < app->nzones; i++)
            if (app->conf.zones[i].nrbldnsd)
                load_zone_data(app, i, bl_now_ms());
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
}

/* /healthz: healthy when every zone has data to serve. */
static int health(void *arg, char *msg, size_t n)
{
    app_t *app = arg;
    for (unsigned i = 0; i < app->nzones; i++) {
        if (!atomic_load(&app->zones[i].data)) {
            snprintf(msg, n, "zone %s has no data", app->zones[i].name);
            return 1;
        }
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
        app->rings[i] = bl_keyring_new();
        if (!app->rings[i]) {
            snprintf(err, errlen, "out of memory");
            return BL_ENOMEM;
        }
        for (unsigned k = 0; k < zc->nkeys; k++) {
            int rc = bl_keyring_add_file(app->rings[i], zc->keys[k]);
            if (rc) {
                snprintf(err, errlen, "zone %s: trusted_key %s: %s", zc->name, zc->keys[k],
                         rc == BL_EIO ? strerror(errno) : bl_strerror(rc));
                return rc;
            }
        }
        mirror_feed_init(&app->feeds[i], &app->zones[i], &app->qsbr, zc->feed, app->rings[i]);
    }
    if (app->conf.metrics_listen) {
        app->metrics = mirror_metrics_new(app->zone_ptrs, app->nzones);
        if (!app->metrics) {
            snprintf(err, errlen, "metrics: out of memory");
            return BL_ENOMEM;
        }
        for (unsigned i = 0; i < app->nzones; i++) {
            app->feeds[i].on_apply = mirror_metrics_on_apply;
            app->feeds[i].on_apply_arg = app->metrics;
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
    mirror_config_close(&app->conf);
    mirror_metrics_free(app->metrics);
    app->metrics = NULL;
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

int main(int argc, char **argv)
{
    static app_t app;
    const char *cfg = NULL;
    int check = 0;
    const char *listens[MIRROR_CONF_MAX_LIST];
    unsigned nlisten = 0;
    const char *sets[64];
    unsigned nsets = 0;
    const char *threads = NULL, *loglevel = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--version")) {
            printf("blsync-mirror " VERSION "\n");
            return 0;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && more) {
            cfg = argv[++i];
        } else if (!strcmp(a, "--check-config")) {
            check = 1;
        } else if ((!strcmp(a, "-l") || !strcmp(a, "--listen")) && more &&
                   nlisten < MIRROR_CONF_MAX_LIST) {
            listens[nlisten++] = argv[++i];
        } else if ((!strcmp(a, "-t") || !strcmp(a, "--threads")) && more) {
            threads = argv[++i];
        } else if (!strcmp(a, "--set") && more && nsets < 64) {
            sets[nsets++] = argv[++i];
        } else if (!strcmp(a, "--log-level") && more) {
            loglevel = argv[++i];
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
    mirror_config_init(&app.conf);
    int rc = mirror_config_load(&app.conf, cfg, err, sizeof err);
    for (unsigned i = 0; !rc && i < nsets; i++)
        rc = apply_set(&app.conf, sets[i], err, sizeof err);
    if (!rc && nlisten) {
        for (unsigned i = 0; i < app.conf.nlisten; i++)
            free(app.conf.listen[i]);
        app.conf.nlisten = 0;
        for (unsigned i = 0; !rc && i < nlisten; i++)
            rc = mirror_config_set(&app.conf, "server", "listen", listens[i], err, sizeof err);
    }
    if (!rc && threads)
        rc = mirror_config_set(&app.conf, "server", "threads", threads, err, sizeof err);
    if (!rc && loglevel)
        rc = mirror_config_set(&app.conf, "server", "log_level", loglevel, err, sizeof err);
    if (!rc)
        rc = mirror_config_check(&app.conf, err, sizeof err);
    if (rc) {
        fprintf(stderr, "blsync-mirror: %s\n", err);
        mirror_config_close(&app.conf);
        return 1;
    }
    bl_log_init("blsync-mirror", app.conf.log_level, 0);
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
    if (check) {
        printf("blsync-mirror: configuration ok (%u zone%s)\n", app.nzones,
               app.nzones == 1 ? "" : "s");
        teardown(&app);
        return 0;
    }
    mirror_server_conf_t sc = {
        .listen = app.conf.listen,
        .nlisten = app.conf.nlisten,
        .threads = app.conf.threads,
        .tcp_idle_ms = app.conf.tcp_idle_ms,
        .tcp_max_conns = app.conf.tcp_max_conns,
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
    uv_run(app.loop, UV_RUN_DEFAULT);

    mirror_server_stats_t st;
    mirror_server_stats(app.server, &st);
    BL_INFO("stopped",
            "udp_queries=%" PRIu64 " udp_batches=%" PRIu64 " tcp_queries=%" PRIu64
            " dropped=%" PRIu64,
            st.udp_queries, st.udp_batches, st.tcp_queries, st.dropped);
    mirror_server_stop(app.server);
    uv_close((uv_handle_t *)&app.sigterm, NULL);
    uv_close((uv_handle_t *)&app.sigint, NULL);
    uv_close((uv_handle_t *)&app.sighup, NULL);
    uv_close((uv_handle_t *)&app.tick, NULL);
    uv_run(app.loop, UV_RUN_DEFAULT);
    uv_loop_close(app.loop);
    teardown(&app);
    return 0;
}
