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

/* One feed this master publishes: its store, publisher, schedule and acknowledgements. */
typedef struct {
    master_config_t *c;    /* the main configuration, or the feed file's */
    const char *conf_path; /* where c comes from */
    pthread_mutex_t lock;  /* guards store and publisher across loop and API threads */
    master_store_t *store;
    master_store_t *reader; /* second connection: snapshots off the lock */
    master_publisher_t *pub;
    master_http_ctx_t api;
    master_sched_t *sched;
    master_hooks_t hooks;
    master_metrics_t *metrics; /* the first feed's holds the registry */
    master_acks_t *acks;
} feed_t;

typedef struct {
    master_config_t c;
    const char *conf_path;
    master_config_t fc[MASTER_FEEDS_MAX - 1]; /* the feed files of [master] feeds */
    char fpath[MASTER_FEEDS_MAX - 1][PATH_MAX];
    feed_t feeds[MASTER_FEEDS_MAX];
    size_t nfeeds;
    master_hooks_router_t router; /* the sync server's hooks with several feeds */
    master_http_t *http;
    master_public_conf_t pubc;
    master_public_t *public_;
    uv_loop_t *loop;
    uv_signal_t sigterm, sigint, sighup;
    master_sync_t *sync;
    bl_metrics_http_t *metrics_http;
} master_t;

/* SIGTERM, SIGINT: no new requests, a last publish, then every module stops. */
/* SIGTERM, SIGINT: no new requests, a last publish of every feed, then every module stops. */
static void on_signal(uv_signal_t *s, int signum)
{
    master_t *m = s->data;
    BL_INFO("stopping", "signal=%d", signum);
    master_http_stop(m->http); /* waits for requests in flight */
    m->http = NULL;
    master_public_stop(m->public_);
    m->public_ = NULL;
    for (size_t i = 0; i < m->nfeeds; i++) {
        feed_t *f = &m->feeds[i];
        master_sched_stop(f->sched);
        master_publisher_set_hook(f->pub, NULL, NULL); /* a snapshot may still finish */
        master_sched_set_sync(f->sched, NULL);
        f->hooks.sync = NULL;
    }
    master_sync_free(m->sync);
    m->sync = NULL;
    for (size_t i = 0; i < m->nfeeds; i++) {
        feed_t *f = &m->feeds[i];
        master_acks_free(f->acks); /* writes what is pending */
        f->acks = f->hooks.acks = NULL;
    }
    uv_signal_stop(&m->sigterm);
    uv_signal_stop(&m->sigint);
    uv_signal_stop(&m->sighup);
    uv_stop(m->loop);
}

static void on_hup(uv_signal_t *s, int signum)
{
    master_t *m = s->data;
    (void)signum;
    master_reload_t r[MASTER_FEEDS_MAX];
    for (size_t i = 0; i < m->nfeeds; i++) {
        feed_t *f = &m->feeds[i];
        r[i] = (master_reload_t){.conf_path = f->conf_path,
                                 .c = f->c,
                                 .api = &f->api,
                                 .public_window_ms = i ? NULL : &m->pubc.window_ms,
                                 .lock = &f->lock,
                                 .metrics = f->metrics,
                                 .acks = f->acks,
                                 .pub = f->pub,
                                 .sync = i ? NULL : m->sync,
                                 .public_ = i ? NULL : m->public_};
    }
    master_reload(r, m->nfeeds);
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

/* /healthz: unhealthy while a feed's store cannot be written (reports and listings would be
 * lost). */
static int store_health(void *arg, char *msg, size_t n)
{
    const master_t *m = arg;
    for (size_t i = 0; i < m->nfeeds; i++) {
        const char *why = master_store_fault(m->feeds[i].store);
        if (why) {
            if (m->nfeeds > 1)
                snprintf(msg, n, "feed %s: %s", m->feeds[i].c->feed, why);
            else
                snprintf(msg, n, "%s", why);
            return 1;
        }
    }
    return 0;
}

/* Opens one feed's store, metrics and publisher, repairs its spool and makes
 * its acknowledgements, schedule and hooks. 0, or 1 with the reason on stderr. */
static int feed_open(master_t *m, feed_t *f, size_t i)
{
    master_config_t *c = f->c;
    int rc;
    pthread_mutex_init(&f->lock, NULL);
    /* SQLite's temporary files (one directory per process): beside the first feed's store. */
    if ((i == 0 && (rc = master_store_temp_dir(c->db))) ||
        (rc = master_store_open(c->db, c->feed, c->sync_full, &f->store))) {
        fprintf(stderr, "blsync-master: store %s: %s\n", c->db, bl_strerror(rc));
        return 1;
    }
    if (c->verify_digest && (rc = master_store_verify_digest(f->store))) {
        fprintf(stderr, "blsync-master: store %s: %s\n", c->db, bl_strerror(rc));
        return 1;
    }
    if (i == 0 && c->metrics_listen[0])
        rc = master_metrics_new(c->feed, c->window_ms, c->policy.mirror_active_ms, &f->metrics);
    else if (i)
        rc = master_metrics_new_feed(m->feeds[0].metrics, c->feed, &f->metrics);
    if (rc) {
        fprintf(stderr, "blsync-master: metrics: %s\n", bl_strerror(rc));
        return 1;
    }
    if ((rc = master_publisher_new(&c->pub, f->store, &f->pub))) {
        fprintf(stderr, "blsync-master: %s: %s\n",
                rc == BL_EKEY || rc == BL_EIO ? c->pub.key_path : c->pub.spool,
                rc == BL_EKEY ? "not a private signing key" : bl_strerror(rc));
        return 1;
    }
    /* Verifies the spool, quarantines and repairs; a new feed gets its first snapshot. */
    master_pub_stats_t zero = {0};
    rc = master_publisher_recover(f->pub, bl_now_ms());
    master_metrics_published(f->metrics, rc, &zero, master_publisher_stats(f->pub));
    if (rc) {
        fprintf(stderr, "blsync-master: spool %s: %s\n", c->pub.spool, bl_strerror(rc));
        return 1;
    }
    if ((rc = master_store_open(c->db, c->feed, c->sync_full, &f->reader))) {
        fprintf(stderr, "blsync-master: store %s: %s\n", c->db, bl_strerror(rc));
        return 1;
    }
    master_publisher_set_async(f->pub, f->reader);
    master_acks_conf_t ac = {.feed = c->feed,
                             .store = f->store,
                             .lock = &f->lock,
                             .metrics = f->metrics,
                             .gone_ms = c->policy.mirror_active_ms};
    if ((rc = master_acks_new(m->loop, &ac, &f->acks))) {
        fprintf(stderr, "blsync-master: store %s: %s\n", c->db, bl_strerror(rc));
        return 1;
    }
    master_sched_conf_t sc = {.lock = &f->lock,
                              .store = f->store,
                              .pub = f->pub,
                              .metrics = f->metrics,
                              .acks = f->acks,
                              .publish_delay_ms = c->publish_delay_ms,
                              .publish_max_delay_ms = c->publish_max_delay_ms,
                              .retry_max_ms = c->retry_max_ms,
                              .tick_ms = c->tick_ms,
                              .report_retention_ms = c->report_retention_ms};
    if ((rc = master_sched_new(m->loop, &sc, &f->sched))) {
        fprintf(stderr, "blsync-master: %s\n", bl_strerror(rc));
        return 1;
    }
    f->hooks = (master_hooks_t){.feed = c->feed,
                                .lock = &f->lock,
                                .store = f->store,
                                .pub = f->pub,
                                .metrics = f->metrics,
                                .acks = f->acks,
                                .sched = f->sched};
    /* The token, max_body and limits of the API are the main configuration's. */
    f->api = (master_http_ctx_t){
        .lock = &f->lock,
        .store = f->store,
        .policy = &c->policy,
        .pub = f->pub,
        .token = m->c.token,
        .read_token = m->c.read_token,
        .max_body = m->c.max_body,
        .metrics = f->metrics,
        .window_ms = c->window_ms,
        .limits = {.max_conns = m->c.http_max_conns,
                   .max_conns_per_addr = m->c.http_max_conns_per_addr,
                   .idle_timeout_s = (unsigned)(m->c.http_idle_timeout_ms / 1000),
                   .request_timeout_ms = m->c.http_request_timeout_ms}};
    master_hooks_http(&f->hooks, &f->api);
    if (i)
        m->feeds[i - 1].api.next_feed = &f->api;
    return 0;
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
    int nextra = master_config_load_feeds(&m.c, m.fc, m.fpath, err, sizeof err);
    if (nextra < 0) {
        fprintf(stderr, "blsync-master: %s\n", err);
        return 1;
    }
    char host[100];
    uint16_t port;
    master_parse_listen(m.c.listen, host, sizeof host, &port);
    if (check) {
        if (master_config_check(&m.c, conf, stderr))
            return 1;
        for (int i = 0; i < nextra; i++)
            if (master_config_check(&m.fc[i], m.fpath[i], stderr))
                return 1;
        /* Run as root, the check is also the daemons' user's: the unit runs it as blsync. */
        bl_access_t acc[16 + 4 * MASTER_FEEDS_MAX] = {{"configuration", conf, 0}};
        char who[PATH_MAX + 32];
        snprintf(who, sizeof who, "blsync-master: %s", conf);
        size_t cap = sizeof acc / sizeof *acc;
        size_t nacc = 1 + master_config_access(&m.c, acc + 1, 15);
        for (int i = 0; i < nextra && nacc < cap; i++) {
            acc[nacc++] = (bl_access_t){"feed file", m.fpath[i], 0};
            nacc += master_config_access(&m.fc[i], acc + nacc, cap - nacc);
        }
        if (bl_access_check_as(bl_access_user(conf, check_user), acc, nacc, who))
            return 1;
        printf("%s: ok\n", conf);
        return 0;
    }
    bl_log_init("blsync-master", m.c.log_level, 0);
    m.conf_path = conf;
    master_config_window_warn(&m.c);
    master_store_process_init();
    m.loop = uv_default_loop();
    m.nfeeds = 1 + (size_t)nextra;
    for (size_t i = 0; i < m.nfeeds; i++) {
        m.feeds[i].c = i ? &m.fc[i - 1] : &m.c;
        m.feeds[i].conf_path = i ? m.fpath[i - 1] : conf;
        if (feed_open(&m, &m.feeds[i], i))
            return 1;
    }
    feed_t *f0 = &m.feeds[0];
    uv_signal_init(m.loop, &m.sigterm);
    uv_signal_init(m.loop, &m.sigint);
    uv_signal_init(m.loop, &m.sighup);
    m.sigterm.data = m.sigint.data = m.sighup.data = &m;
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    uv_signal_start(&m.sighup, on_hup, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
    if (m.c.sync_enabled) {
        /* One feed: its hooks as they are; several: routed by the feed each call names. */
        master_sync_hooks_t hooks = master_hooks_sync(&f0->hooks);
        if (m.nfeeds > 1) {
            for (size_t i = 0; i < m.nfeeds; i++)
                m.router.feeds[i] = &m.feeds[i].hooks;
            m.router.nfeeds = m.nfeeds;
            hooks = master_hooks_router(&m.router);
        }
        m.c.sync.keys = master_publisher_keys(f0->pub);
        int src = master_sync_new(m.loop, &m.c.sync, &hooks, &m.sync);
        if (src) {
            fprintf(stderr, "blsync-master: sync server on %s:%d: %s\n", m.c.sync.host,
                    m.c.sync.port, bl_strerror(src));
            return 1;
        }
        for (size_t i = 0; i < m.nfeeds; i++) {
            feed_t *f = &m.feeds[i];
            f->hooks.sync = m.sync;
            master_publisher_set_hook(f->pub, master_sync_pub_hook, m.sync);
            master_sched_set_sync(f->sched, m.sync);
        }
    }
    int rc;
    if (f0->metrics &&
        (rc = bl_metrics_http_start(master_metrics_registry(f0->metrics), m.c.metrics_listen,
                                    store_health, &m, &m.metrics_http))) {
        fprintf(stderr, "blsync-master: metrics on %s: %s\n", m.c.metrics_listen, bl_strerror(rc));
        return 1;
    }
    if (master_http_start(&f0->api, host, port, m.c.http_threads, &m.http)) {
        fprintf(stderr, "blsync-master: cannot listen on %s\n", m.c.listen);
        return 1;
    }
    master_metrics_set_review_limit(f0->metrics, m.c.review_response_ms);
    if (m.c.public_listen[0]) {
        master_public_conf(&m.c, &m.pubc, &f0->lock, f0->store, f0->metrics);
        for (size_t i = 1; i < m.nfeeds; i++)
            master_public_add_feed(&m.pubc, m.feeds[i].c, &m.feeds[i].lock, m.feeds[i].store);
        if (master_public_start(&m.pubc, m.c.public_listen, &m.public_)) {
            fprintf(stderr, "blsync-master: cannot serve the public page on %s\n",
                    m.c.public_listen);
            return 1;
        }
    }
    for (size_t i = 0; i < m.nfeeds; i++)
        BL_INFO("started", "version=%s feed=%s db=%s spool=%s listen=%s", BLSYNC_VERSION,
                bl_log_q(m.feeds[i].c->feed), bl_log_q(m.feeds[i].c->db),
                bl_log_q(master_publisher_dir(m.feeds[i].pub)), bl_log_q(m.c.listen));
    uv_run(m.loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&m.sigterm, NULL);
    uv_close((uv_handle_t *)&m.sigint, NULL);
    uv_close((uv_handle_t *)&m.sighup, NULL);
    uv_run(m.loop, UV_RUN_DEFAULT);
    uv_loop_close(m.loop);
    bl_metrics_http_stop(m.metrics_http);
    /* Further feeds' metrics live in the first feed's registry: freed first. */
    for (size_t i = m.nfeeds; i-- > 0;) {
        feed_t *f = &m.feeds[i];
        master_sched_free(f->sched);
        master_metrics_free(f->metrics);
        master_publisher_free(f->pub);
        master_store_close(f->reader);
        master_store_close(f->store);
        BL_INFO("stopped", "feed=%s", bl_log_q(f->c->feed));
    }
    master_hooks_router_free(&m.router);
    return 0;
}
