/* SPDX-License-Identifier: MIT */
/* blsync-master: parses arguments, loads the configuration, creates and joins the modules, runs
 * the loop. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "acks.h"
#include "config.h"
#include "err.h"
#include "hooks.h"
#include "http.h"
#include "log.h"
#include "master_metrics.h"
#include "metrics_http.h"
#include "public.h"
#include "publisher.h"
#include "reload.h"
#include "runas.h"
#include "schedule.h"
#include "store.h"
#include "sync_server.h"
#include "util.h"
#include "version.h"

typedef struct {
    master_config_t c;
    const char *conf_path;
    pthread_mutex_t lock; /* guards store and publisher across loop and API threads */
    master_store_t *store;
    master_store_t *reader; /* second connection: snapshots off the lock */
    master_publisher_t *pub;
    master_http_ctx_t api;
    master_http_t *http;
    master_public_conf_t pubc;
    master_public_t *public_;
    uv_loop_t *loop;
    uv_signal_t sigterm, sigint, sighup;
    master_sched_t *sched;
    master_hooks_t hooks;
    master_sync_t *sync;
    master_metrics_t *metrics;
    bl_metrics_http_t *metrics_http;
    master_acks_t *acks;
} master_t;

/* SIGTERM, SIGINT: no new requests, a last publish, then every module stops. */
static void on_signal(uv_signal_t *s, int signum)
{
    master_t *m = s->data;
    BL_INFO("stopping", "signal=%d", signum);
    master_http_stop(m->http); /* waits for requests in flight */
    m->http = NULL;
    master_public_stop(m->public_);
    m->public_ = NULL;
    master_sched_stop(m->sched);
    master_publisher_set_hook(m->pub, NULL, NULL); /* a snapshot may still finish */
    master_sched_set_sync(m->sched, NULL);
    master_sync_free(m->sync);
    m->sync = m->hooks.sync = NULL;
    master_acks_free(m->acks); /* writes what is pending */
    m->acks = m->hooks.acks = NULL;
    uv_signal_stop(&m->sigterm);
    uv_signal_stop(&m->sigint);
    uv_signal_stop(&m->sighup);
    uv_stop(m->loop);
}

static void on_hup(uv_signal_t *s, int signum)
{
    master_t *m = s->data;
    (void)signum;
    master_reload(&(master_reload_t){.conf_path = m->conf_path,
                                     .c = &m->c,
                                     .api = &m->api,
                                     .public_window_ms = &m->pubc.window_ms,
                                     .lock = &m->lock,
                                     .metrics = m->metrics,
                                     .acks = m->acks,
                                     .pub = m->pub,
                                     .sync = m->sync,
                                     .public_ = m->public_});
}

static void usage(FILE *f)
{
    fprintf(f, "usage: blsync-master [-c FILE] [--check-config [--user NAME]] [--print-config]\n"
               "                     [--version]\n"
               "  -c FILE          configuration (default /etc/blsync/master.conf)\n"
               "  --check-config   load and check the configuration, then exit; run as root on\n"
               "                   a file in a directory of group blsync, also as user blsync\n"
               "  --user NAME      with --check-config as root: check as NAME too\n"
               "  --print-config   print the effective configuration (defaults commented out)\n"
               "  --version        print the version\n");
}

/* /healthz: unhealthy while the store cannot be written (reports and listings would be lost). */
static int store_health(void *arg, char *msg, size_t n)
{
    const char *why = master_store_fault(arg);
    if (!why)
        return 0;
    snprintf(msg, n, "%s", why);
    return 1;
}

int main(int argc, char **argv)
{
    const char *conf = "/etc/blsync/master.conf";
    const char *check_user = NULL;
    int check = 0, print = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--version")) {
            printf("blsync-master " BLSYNC_VERSION "\n");
            return 0;
        } else if (!strcmp(argv[i], "--check-config")) {
            check = 1;
        } else if (!strcmp(argv[i], "--user") && i + 1 < argc) {
            check_user = argv[++i];
        } else if (!strcmp(argv[i], "--print-config")) {
            print = 1;
        } else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
            conf = argv[++i];
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "blsync-master: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    static master_t m;
    char err[512];
    master_config_defaults(&m.c);
    if (master_config_load(conf, &m.c, err, sizeof err)) {
        fprintf(stderr, "blsync-master: %s\n", err);
        return 1;
    }
    if (print)
        return master_config_print(&m.c, stdout) ? 1 : 0;
    char host[100];
    uint16_t port;
    master_parse_listen(m.c.listen, host, sizeof host, &port);
    if (check) {
        if (master_config_check(&m.c, conf, stderr))
            return 1;
        /* Run as root, the check is also the daemons' user's: the unit runs it as blsync. */
        bl_access_t acc[16] = {{"configuration", conf, 0}};
        char who[PATH_MAX + 32];
        snprintf(who, sizeof who, "blsync-master: %s", conf);
        size_t nacc = 1 + master_config_access(&m.c, acc + 1, 15);
        if (bl_access_check_as(bl_access_user(conf, check_user), acc, nacc, who))
            return 1;
        printf("%s: ok\n", conf);
        return 0;
    }
    bl_log_init("blsync-master", m.c.log_level, 0);
    m.conf_path = conf;
    master_config_window_warn(&m.c);
    int rc;
    pthread_mutex_init(&m.lock, NULL);
    master_store_process_init();
    if ((rc = master_store_temp_dir(m.c.db)) ||
        (rc = master_store_open(m.c.db, m.c.feed, m.c.sync_full, &m.store))) {
        fprintf(stderr, "blsync-master: store %s: %s\n", m.c.db, bl_strerror(rc));
        return 1;
    }
    if (m.c.verify_digest && (rc = master_store_verify_digest(m.store))) {
        fprintf(stderr, "blsync-master: store %s: %s\n", m.c.db, bl_strerror(rc));
        return 1;
    }
    if (m.c.metrics_listen[0] &&
        (rc = master_metrics_new(m.c.feed, m.c.window_ms, m.c.policy.mirror_active_ms,
                                 &m.metrics))) {
        fprintf(stderr, "blsync-master: metrics: %s\n", bl_strerror(rc));
        return 1;
    }
    if ((rc = master_publisher_new(&m.c.pub, m.store, &m.pub))) {
        fprintf(stderr, "blsync-master: %s: %s\n",
                rc == BL_EKEY || rc == BL_EIO ? m.c.pub.key_path : m.c.pub.spool,
                rc == BL_EKEY ? "not a private signing key" : bl_strerror(rc));
        return 1;
    }
    /* Verifies the spool, quarantines and repairs; a new feed gets its first snapshot. */
    master_pub_stats_t zero = {0};
    rc = master_publisher_recover(m.pub, bl_now_ms());
    master_metrics_published(m.metrics, rc, &zero, master_publisher_stats(m.pub));
    if (rc) {
        fprintf(stderr, "blsync-master: spool %s: %s\n", m.c.pub.spool, bl_strerror(rc));
        return 1;
    }
    if ((rc = master_store_open(m.c.db, m.c.feed, m.c.sync_full, &m.reader))) {
        fprintf(stderr, "blsync-master: store %s: %s\n", m.c.db, bl_strerror(rc));
        return 1;
    }
    master_publisher_set_async(m.pub, m.reader);
    m.loop = uv_default_loop();
    uv_signal_init(m.loop, &m.sigterm);
    uv_signal_init(m.loop, &m.sigint);
    uv_signal_init(m.loop, &m.sighup);
    m.sigterm.data = m.sigint.data = m.sighup.data = &m;
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    uv_signal_start(&m.sighup, on_hup, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
    master_acks_conf_t ac = {.feed = m.c.feed,
                             .store = m.store,
                             .lock = &m.lock,
                             .metrics = m.metrics,
                             .gone_ms = m.c.policy.mirror_active_ms};
    if ((rc = master_acks_new(m.loop, &ac, &m.acks))) {
        fprintf(stderr, "blsync-master: store %s: %s\n", m.c.db, bl_strerror(rc));
        return 1;
    }
    master_sched_conf_t sc = {.lock = &m.lock,
                              .store = m.store,
                              .pub = m.pub,
                              .metrics = m.metrics,
                              .acks = m.acks,
                              .publish_delay_ms = m.c.publish_delay_ms,
                              .publish_max_delay_ms = m.c.publish_max_delay_ms,
                              .retry_max_ms = m.c.retry_max_ms,
                              .tick_ms = m.c.tick_ms,
                              .report_retention_ms = m.c.report_retention_ms};
    if ((rc = master_sched_new(m.loop, &sc, &m.sched))) {
        fprintf(stderr, "blsync-master: %s\n", bl_strerror(rc));
        return 1;
    }
    m.hooks = (master_hooks_t){.feed = m.c.feed,
                               .lock = &m.lock,
                               .store = m.store,
                               .pub = m.pub,
                               .metrics = m.metrics,
                               .acks = m.acks,
                               .sched = m.sched};
    if (m.c.sync_enabled) {
        master_sync_hooks_t hooks = master_hooks_sync(&m.hooks);
        m.c.sync.keys = master_publisher_keys(m.pub);
        if ((rc = master_sync_new(m.loop, &m.c.sync, &hooks, &m.sync))) {
            fprintf(stderr, "blsync-master: sync server on %s:%d: %s\n", m.c.sync.host,
                    m.c.sync.port, bl_strerror(rc));
            return 1;
        }
        m.hooks.sync = m.sync;
        master_publisher_set_hook(m.pub, master_sync_pub_hook, m.sync);
        master_sched_set_sync(m.sched, m.sync);
    }
    if (m.metrics &&
        (rc = bl_metrics_http_start(master_metrics_registry(m.metrics), m.c.metrics_listen,
                                    store_health, m.store, &m.metrics_http))) {
        fprintf(stderr, "blsync-master: metrics on %s: %s\n", m.c.metrics_listen, bl_strerror(rc));
        return 1;
    }
    m.api = (master_http_ctx_t){
        .lock = &m.lock,
        .store = m.store,
        .policy = &m.c.policy,
        .pub = m.pub,
        .token = m.c.token,
        .read_token = m.c.read_token,
        .max_body = m.c.max_body,
        .metrics = m.metrics,
        .window_ms = m.c.window_ms,
        .limits = {.max_conns = m.c.http_max_conns,
                   .max_conns_per_addr = m.c.http_max_conns_per_addr,
                   .idle_timeout_s = (unsigned)(m.c.http_idle_timeout_ms / 1000),
                   .request_timeout_ms = m.c.http_request_timeout_ms}};
    master_hooks_http(&m.hooks, &m.api);
    if ((rc = master_http_start(&m.api, host, port, m.c.http_threads, &m.http))) {
        fprintf(stderr, "blsync-master: cannot listen on %s\n", m.c.listen);
        return 1;
    }
    master_metrics_set_review_limit(m.metrics, m.c.review_response_ms);
    if (m.c.public_listen[0] &&
        master_public_start(master_public_conf(&m.c, &m.pubc, &m.lock, m.store, m.metrics),
                            m.c.public_listen, &m.public_)) {
        fprintf(stderr, "blsync-master: cannot serve the public page on %s\n", m.c.public_listen);
        return 1;
    }
    BL_INFO("started", "version=%s feed=%s db=%s spool=%s listen=%s", BLSYNC_VERSION,
            bl_log_q(m.c.feed), bl_log_q(m.c.db), bl_log_q(master_publisher_dir(m.pub)),
            bl_log_q(m.c.listen));
    uv_run(m.loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&m.sigterm, NULL);
    uv_close((uv_handle_t *)&m.sigint, NULL);
    uv_close((uv_handle_t *)&m.sighup, NULL);
    uv_run(m.loop, UV_RUN_DEFAULT);
    uv_loop_close(m.loop);
    master_sched_free(m.sched);
    bl_metrics_http_stop(m.metrics_http);
    master_metrics_free(m.metrics);
    master_publisher_free(m.pub);
    master_store_close(m.reader);
    master_store_close(m.store);
    BL_INFO("stopped", "feed=%s", bl_log_q(m.c.feed));
    return 0;
}
