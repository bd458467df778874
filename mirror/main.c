/* SPDX-License-Identifier: MIT */
/* blsync-mirror: parses arguments, loads the configuration, creates and joins the modules, runs
 * the loop. */
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "config.h"
#include "err.h"
#include "follow.h"
#include "log.h"
#include "metrics_http.h"
#include "mirror_metrics.h"
#include "qsbr.h"
#include "reload.h"
#include "runas.h"
#include "server.h"
#include "util.h"
#include "version.h"
#include "zones.h"

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
    mirror_cli_t cli; /* re-applied on every reload */
    mirror_config_t conf;
    mirror_qsbr_t qsbr;
    mirror_zones_t zs;
    mirror_follow_t *follow;
    mirror_server_t *server;
    mirror_metrics_t *metrics;
    bl_metrics_http_t *http;
    mirror_inherited_t inherited[MIRROR_INHERITED_MAX]; /* sockets systemd passed */
    int ninherited;
    uv_loop_t *loop;
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t tick;
} app_t;

static void on_signal(uv_signal_t *h, int signum)
{
    app_t *app = h->data;
    if (signum == SIGHUP) {
        if (mirror_reload(&app->cli, &app->zs) == 0)
            mirror_follow_reload_tls(app->follow);
        return;
    }
    BL_INFO("stopping", "signal=%d", signum);
    uv_stop(app->loop);
}

#define TICK_MS 100

/* How long until the next tick: TICK_MS while the mirror follows a feed,
 * scans a spool directory or checks its files more often than once a
 * second (their timings want it); otherwise just after the next second
 * begins, which is what the answers' clock needs (it counts seconds). A
 * mirror serving files then wakes once a second instead of ten times: on a
 * busy VM each wake-up costs ~0.1 ms of CPU, as much as several queries. */
static uint64_t next_tick_ms(const app_t *app, int64_t now_ms)
{
    const mirror_config_t *c = app->zs.conf;
    int fast = mirror_follow_active(app->follow);
    for (unsigned i = 0; !fast && i < c->nzones; i++) {
        const mirror_zone_conf_t *zc = &c->zones[i];
        fast =
            zc->spool_dir || (zc->nrbldnsd && zc->rbldnsd_check_ms && zc->rbldnsd_check_ms < 1000);
    }
    return fast ? TICK_MS : (uint64_t)(1000 - now_ms % 1000) + 1;
}

static void on_tick(uv_timer_t *t)
{
    app_t *app = t->data;
    int64_t now_ms = bl_now_ms();
    mirror_server_set_now(app->server, now_ms / 1000);
    mirror_zones_scan(&app->zs, now_ms);
    mirror_follow_tick(app->follow, now_ms);
    bl_log_flush_suppressed(); /* a flood's summary is written when its window ends */
    uv_timer_start(t, on_tick, next_tick_ms(app, now_ms), 0);
}

/* /healthz: healthy when every zone has data to serve, none is frozen and
 * every state directory takes writes. */
static int health(void *arg, char *msg, size_t n)
{
    app_t *app = arg;
    return mirror_zones_health(&app->zs, msg, n) || mirror_follow_health(app->follow, msg, n);
}

static void teardown(app_t *app)
{
    bl_metrics_http_stop(app->http);
    app->http = NULL;
    mirror_follow_free(app->follow);
    app->follow = NULL;
    mirror_defences_close(&app->zs.def, app->zs.zones, app->zs.nzones);
    mirror_zones_close(&app->zs);
    mirror_config_close(&app->conf);
    mirror_metrics_free(app->metrics);
    app->metrics = NULL;
}

int main(int argc, char **argv)
{
    static app_t app;
    mirror_cli_t *cli = &app.cli;
    const char *check_user = NULL;
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
            cli->path = argv[++i];
        } else if (!strcmp(a, "--check-config")) {
            check = 1;
        } else if (!strcmp(a, "--user") && more) {
            check_user = argv[++i];
        } else if (!strcmp(a, "--print-config")) {
            print = 1;
        } else if ((!strcmp(a, "-l") || !strcmp(a, "--listen")) && more &&
                   cli->nlisten < MIRROR_CONF_MAX_LIST) {
            cli->listens[cli->nlisten++] = argv[++i];
        } else if ((!strcmp(a, "-t") || !strcmp(a, "--threads")) && more) {
            cli->threads = argv[++i];
        } else if (!strcmp(a, "--set") && more && cli->nsets < MIRROR_CLI_MAX_SETS) {
            cli->sets[cli->nsets++] = argv[++i];
        } else if (!strcmp(a, "--log-level") && more) {
            cli->loglevel = argv[++i];
        } else {
            fprintf(stderr, "blsync-mirror: unknown or incomplete argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!cli->path) {
        usage(stderr);
        return 2;
    }
    char err[1024];
    int rc = mirror_cli_load(cli, &app.conf, err, sizeof err);
    if (rc) {
        fprintf(stderr, "blsync-mirror: %s\n", err);
        return 1;
    }
    if (print) {
        rc = mirror_config_print(&app.conf, stdout);
        mirror_config_close(&app.conf);
        return rc ? 1 : 0;
    }
    bl_log_init("blsync-mirror", app.conf.log_level, app.conf.log_syslog);
    app.ninherited = mirror_server_inherited(app.inherited, MIRROR_INHERITED_MAX, err, sizeof err);
    if (app.ninherited < 0) {
        fprintf(stderr, "blsync-mirror: %s\n", err);
        mirror_config_close(&app.conf);
        return 1;
    }
    mirror_qsbr_init(&app.qsbr);
    if (mirror_zones_init(&app.zs, &app.conf, &app.qsbr, err, sizeof err)) {
        fprintf(stderr, "blsync-mirror: %s\n", err);
        teardown(&app);
        return 1;
    }
    if (app.conf.metrics_listen &&
        !(app.metrics = app.zs.metrics = mirror_metrics_new(app.zs.zone_ptrs, app.zs.nzones))) {
        fprintf(stderr, "blsync-mirror: metrics: out of memory\n");
        teardown(&app);
        return 1;
    }
    int64_t now_ms = bl_now_ms();
    for (unsigned i = 0; i < app.zs.nzones; i++) {
        if (mirror_zones_load(&app.zs, i, now_ms)) {
            teardown(&app);
            return 1;
        }
    }
    if (mirror_defences_init(&app.zs.def, &app.conf, app.zs.zones, app.zs.nzones, err,
                             sizeof err)) {
        fprintf(stderr, "blsync-mirror: %s\n", err);
        teardown(&app);
        return 1;
    }
    if (check) {
        rc = mirror_follow_check(&app.conf, err, sizeof err);
        if (rc) {
            fprintf(stderr, "blsync-mirror: %s\n", err);
        } else {
            /* Run as root, the check is also the daemons' user's: the unit runs it as blsync. */
            bl_access_t acc[64] = {{"configuration", cli->path, 0}};
            char who[PATH_MAX + 32];
            snprintf(who, sizeof who, "blsync-mirror: %s", cli->path);
            size_t nacc = 1 + mirror_config_access(&app.conf, acc + 1, 63);
            rc = bl_access_check_as(bl_access_user(cli->path, check_user), acc, nacc, who);
        }
        if (!rc)
            printf("blsync-mirror: configuration ok (%u zone%s)\n", app.zs.nzones,
                   app.zs.nzones == 1 ? "" : "s");
        teardown(&app);
        return rc ? 1 : 0;
    }
    mirror_zones_window_check(&app.zs);
    /* The persisted state of every followed feed, before any query is answered. */
    if (mirror_follow_open(&app.zs, &app.follow, err, sizeof err)) {
        fprintf(stderr, "blsync-mirror: %s\n", err);
        teardown(&app);
        return 1;
    }
    for (unsigned i = 0; i < app.zs.nzones; i++)
        mirror_zones_export(&app.zs, i);
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
        .zones = app.zs.zone_ptrs,
        .nzones = app.zs.nzones,
        .qsbr = &app.qsbr,
        .metrics = app.metrics,
        .defences = &app.zs.def,
        .inherited = app.inherited,
        .ninherited = (unsigned)app.ninherited,
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
    uv_timer_start(&app.tick, on_tick, TICK_MS, 0);
    if (mirror_follow_start(app.follow, app.loop, err, sizeof err)) {
        BL_ERR("sync_failed", "msg=%s", bl_log_q(err));
        fprintf(stderr, "blsync-mirror: %s\n", err);
        rc = 1;
        uv_stop(app.loop);
    }
    if (!rc)
        uv_run(app.loop, UV_RUN_DEFAULT);
    mirror_follow_stop(app.follow);

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
