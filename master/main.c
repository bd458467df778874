/* SPDX-License-Identifier: MIT */
/* blsync-master: parses arguments, loads the config, wires store, policy, publisher and API, runs
 * the loop. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config.h"
#include "config_util.h"
#include "err.h"
#include "http.h"
#include "log.h"
#include "master_metrics.h"
#include "metrics_http.h"
#include "policy.h"
#include "publisher.h"
#include "store.h"
#include "sync_server.h"
#include "util.h"
#include "version.h"

typedef struct {
    master_config_t c;
    pthread_mutex_t lock;
    master_store_t *store;
    master_publisher_t *pub;
    master_http_ctx_t api;
    master_http_t *http;
    uv_loop_t *loop;
    uv_timer_t tick, pub_timer;
    uv_async_t wake;
    uv_signal_t sigterm, sigint, sighup;
    master_sync_t *sync;
    master_metrics_t *metrics;
    bl_metrics_http_t *metrics_http;
    master_store_t *reader; /* second connection: snapshots off the lock */
    uv_work_t snap_req;
    master_snap_job_t *snap_job;
    /* Mirror acknowledgements, kept here and written to the store once per
     * tick, so a thousand mirrors acking a serial cost one transaction. */
    struct ack {
        char name[256];
        uint64_t serial;
        int64_t at_ms;
        int dirty;
    } * acks;
    size_t nacks, capacks;
    /* Mirrors with a sync session up for our feed, as of the last tick
     * (under lock: the API's status reads it). */
    char (*up)[256];
    size_t nup, capup;
    master_sync_peer_t *peers;
    size_t cappeers;
    const char *conf_path;
    uint64_t batch_start; /* loop time of the first change of the batch, 0 if none */
    uint64_t backoff_ms;  /* after a failed publish */
    int64_t last_prune_ms;
    int stopping;
} master_t;

static void on_publish(uv_timer_t *t);

static void schedule_publish(master_t *m)
{
    if (m->stopping || m->backoff_ms)
        return; /* a failed publish retries on its own timer */
    uint64_t now = uv_now(m->loop);
    if (!m->batch_start)
        m->batch_start = now;
    uint64_t due = now + (uint64_t)m->c.publish_delay_ms;
    uint64_t cap = m->batch_start + (uint64_t)m->c.publish_max_delay_ms;
    if (due > cap)
        due = cap;
    uv_timer_start(&m->pub_timer, on_publish, due > now ? due - now : 0, 0);
}

static void snap_work(uv_work_t *req)
{
    master_t *m = req->data;
    master_publisher_snap_work(m->snap_job);
}

static void snap_done(uv_work_t *req, int status)
{
    master_t *m = req->data;
    (void)status;
    pthread_mutex_lock(&m->lock);
    master_pub_stats_t before = *master_publisher_stats(m->pub);
    int rc = master_publisher_snap_finish(m->pub, m->snap_job);
    master_metrics_published(m->metrics, rc, &before, master_publisher_stats(m->pub));
    pthread_mutex_unlock(&m->lock);
    m->snap_job = NULL;
}

/* Starts a due snapshot on the thread pool (lock held, just after a run). */
static void maybe_snapshot(master_t *m)
{
    if (m->stopping || m->snap_job || !master_publisher_snap_due(m->pub))
        return;
    master_snap_job_t *job = NULL;
    if (master_publisher_snap_begin(m->pub, bl_now_ms(), &job) || !job)
        return;
    m->snap_job = job;
    m->snap_req.data = m;
    uv_queue_work(m->loop, &m->snap_req, snap_work, snap_done);
}

static void on_publish(uv_timer_t *t)
{
    master_t *m = t->data;
    m->batch_start = 0;
    uint64_t serial = 0;
    pthread_mutex_lock(&m->lock);
    uint64_t pruned = master_publisher_stats(m->pub)->pruned_total;
    master_pub_stats_t before = *master_publisher_stats(m->pub);
    int rc = master_publisher_run(m->pub, bl_now_ms(), &serial);
    master_metrics_published(m->metrics, rc, &before, master_publisher_stats(m->pub));
    uint64_t pending = rc ? 0 : master_store_pending_count(m->store);
    pruned = master_publisher_stats(m->pub)->pruned_total - pruned;
    if (!rc && !pending)
        maybe_snapshot(m);
    pthread_mutex_unlock(&m->lock);
    if (pruned && m->sync)
        master_sync_rescan(m->sync); /* objects left the spool */
    if (rc) {
        m->backoff_ms = m->backoff_ms ? m->backoff_ms * 2 : 500;
        if (m->backoff_ms > (uint64_t)m->c.retry_max_ms)
            m->backoff_ms = (uint64_t)m->c.retry_max_ms;
        BL_WARN("publish_retry", "in_ms=%" PRIu64 " error=%s", m->backoff_ms, bl_errname(rc));
        if (!m->stopping)
            uv_timer_start(&m->pub_timer, on_publish, m->backoff_ms, 0);
        return;
    }
    if (m->backoff_ms)
        BL_INFO("publish_resumed", "serial=%" PRIu64, serial);
    m->backoff_ms = 0;
    if (pending)
        schedule_publish(m);
}

static void on_wake(uv_async_t *a)
{
    schedule_publish(a->data);
}

/* Called by the API with the lock held, from an HTTP thread. */
static void api_changed(void *arg)
{
    master_t *m = arg;
    uv_async_send(&m->wake);
}

/* The acknowledgement record of mirror, added if new (NULL without memory). */
static struct ack *ack_of(master_t *m, const char *mirror, int add)
{
    size_t i;
    for (i = 0; i < m->nacks; i++)
        if (!strcmp(m->acks[i].name, mirror))
            return &m->acks[i];
    if (!add)
        return NULL;
    if (m->nacks == m->capacks) {
        size_t nc = m->capacks ? m->capacks * 2 : 64;
        struct ack *a = realloc(m->acks, nc * sizeof *a);
        if (!a)
            return NULL;
        m->acks = a;
        m->capacks = nc;
    }
    memset(&m->acks[i], 0, sizeof m->acks[i]);
    snprintf(m->acks[i].name, sizeof m->acks[i].name, "%s", mirror);
    m->nacks++;
    return &m->acks[i];
}

static void on_ack(void *ctx, const char *mirror, const char *feed, uint64_t serial, int64_t now_ms)
{
    master_t *m = ctx;
    if (strcmp(feed, m->c.feed))
        return;
    struct ack *a = ack_of(m, mirror, 1);
    if (!a)
        return;
    if (serial > a->serial)
        a->serial = serial;
    a->at_ms = now_ms;
    a->dirty = 1;
}

static void on_mirror(void *ctx, const char *mirror, int up, const char *reason)
{
    master_t *m = ctx;
    BL_INFO("mirror", "name=%s state=%s reason=%s", bl_log_q(mirror), up ? "up" : "down",
            bl_log_q(reason ? reason : "-"));
    /* Gone is measured from the end of the session, not from the last ack. */
    struct ack *a = up ? NULL : ack_of(m, mirror, 0);
    if (a) {
        a->at_ms = bl_now_ms();
        a->dirty = 1;
    }
}

/* With the lock held, for the API: is mirror's sync session up? */
static int mirror_up(void *arg, const char *mirror)
{
    master_t *m = arg;
    for (size_t i = 0; i < m->nup; i++)
        if (!strcmp(m->up[i], mirror))
            return 1;
    return 0;
}

/* Loop thread, lock held: the mirrors with a session up now. A connected
 * mirror is in contact even when nothing new was published for hours (it
 * has nothing to acknowledge), so its stored last contact is refreshed, at
 * most every 10 s (or a tenth of the gone limit) to keep the writes few. */
static void refresh_up(master_t *m, int64_t now)
{
    m->nup = 0;
    if (!m->sync)
        return;
    size_t n = master_sync_peers(m->sync, m->peers, m->cappeers);
    if (n > m->cappeers) {
        master_sync_peer_t *p = realloc(m->peers, n * 2 * sizeof *p);
        if (!p)
            return;
        m->peers = p;
        m->cappeers = n * 2;
        n = master_sync_peers(m->sync, m->peers, m->cappeers);
        if (n > m->cappeers)
            n = m->cappeers;
    }
    if (n > m->capup) {
        char(*u)[256] = realloc(m->up, n * sizeof *u);
        if (!u)
            return;
        m->up = u;
        m->capup = n;
    }
    int64_t every = m->c.policy.mirror_active_ms / 10;
    if (every > 10000)
        every = 10000;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(m->peers[i].feed, m->c.feed))
            continue;
        snprintf(m->up[m->nup++], sizeof m->up[0], "%s", m->peers[i].mirror);
        struct ack *a = ack_of(m, m->peers[i].mirror, 1);
        if (a && now - a->at_ms >= every) {
            a->at_ms = now;
            a->dirty = 1;
        }
    }
}

/* The start-up and reload check of the window budget (docs/METRICS.md). */
static void window_check(const master_config_t *c)
{
    char msg[256];
    if (bl_cfg_window_check(c->window_ms, c->mirror_ttl_ms, c->expected_prop_ms, msg, sizeof msg))
        BL_WARN("window_budget", "problem=%s", bl_log_q(msg));
}

static void want_snapshot(void *ctx, const char *feed)
{
    master_t *m = ctx;
    if (strcmp(feed, m->c.feed))
        return;
    pthread_mutex_lock(&m->lock);
    int rc = master_publisher_snapshot(m->pub, bl_now_ms());
    if (!rc && !master_store_pending_count(m->store))
        maybe_snapshot(m);
    pthread_mutex_unlock(&m->lock);
    if (rc)
        BL_WARN("snapshot_on_demand_failed", "error=%s", bl_errname(rc));
}

/* Writes the acknowledgements gathered since the last tick (lock held). */
static void flush_acks(master_t *m)
{
    int any = 0, rc = 0;
    for (size_t i = 0; i < m->nacks && !rc; i++) {
        if (!m->acks[i].dirty)
            continue;
        if (!any && (rc = master_store_begin(m->store)))
            break;
        any = 1;
        rc =
            master_store_mirror_ack(m->store, m->acks[i].name, m->acks[i].serial, m->acks[i].at_ms);
    }
    if (any)
        rc = rc ? (master_store_rollback(m->store), rc) : master_store_commit(m->store);
    if (rc) {
        BL_WARN("mirror_acks_not_stored", "error=%s", bl_errname(rc));
        return;
    }
    for (size_t i = 0; i < m->nacks; i++)
        m->acks[i].dirty = 0;
}

static void on_tick(uv_timer_t *t)
{
    master_t *m = t->data;
    int64_t now = bl_now_ms();
    size_t n = 0, pruned = 0;
    uint64_t t0 = bl_mono_ns();
    pthread_mutex_lock(&m->lock);
    int rc = master_store_begin(m->store);
    if (!rc) {
        rc = master_policy_expire(m->store, now, &n);
        if (!rc && now - m->last_prune_ms > 600000) {
            rc = master_store_report_prune(m->store, now - m->c.report_retention_ms, &pruned);
            m->last_prune_ms = now;
        }
        rc = rc ? (master_store_rollback(m->store), rc) : master_store_commit(m->store);
    }
    uint64_t pending = rc ? 0 : master_store_pending_count(m->store);
    if (!rc && !pending)
        maybe_snapshot(m);
    refresh_up(m, now);
    flush_acks(m);
    master_metrics_delisted(m->metrics, "expired", n);
    master_metrics_tick(m->metrics, m->store, m->sync, (const char(*)[256])m->up, m->nup, now);
    pthread_mutex_unlock(&m->lock);
    if (rc)
        BL_ERR("expire_failed", "error=%s", bl_errname(rc));
    if (n)
        BL_INFO("expired", "delisted=%zu decided_ms=%" PRId64 " duration_ms=%.1f", n, now,
                (bl_mono_ns() - t0) / 1e6);
    if (pruned)
        BL_INFO("reports_pruned", "count=%zu", pruned);
    if (pending && !uv_is_active((uv_handle_t *)&m->pub_timer))
        schedule_publish(m);
}

static void on_signal(uv_signal_t *s, int signum)
{
    master_t *m = s->data;
    BL_INFO("stopping", "signal=%d", signum);
    m->stopping = 1;
    master_http_stop(m->http); /* waits for requests in flight */
    m->http = NULL;
    uint64_t serial;
    pthread_mutex_lock(&m->lock);
    int rc = master_publisher_run(m->pub, bl_now_ms(), &serial);
    pthread_mutex_unlock(&m->lock);
    if (rc)
        BL_WARN("final_publish_failed", "error=%s", bl_errname(rc));
    pthread_mutex_lock(&m->lock);
    flush_acks(m);
    pthread_mutex_unlock(&m->lock);
    master_publisher_set_hook(m->pub, NULL, NULL); /* a snapshot may still finish */
    master_sync_free(m->sync);
    m->sync = NULL;
    uv_timer_stop(&m->tick);
    uv_timer_stop(&m->pub_timer);
    uv_close((uv_handle_t *)&m->wake, NULL);
    uv_signal_stop(&m->sigterm);
    uv_signal_stop(&m->sigint);
    uv_signal_stop(&m->sighup);
    uv_stop(m->loop);
}

/* SIGHUP: the [metrics] window budget and the gone limit take effect at
 * once; everything else in the file needs a restart. A file that does not
 * load keeps the running configuration. */
static void reload_config(master_t *m)
{
    static master_config_t nc; /* large (paths): not on the stack */
    char err[512];
    master_config_defaults(&nc);
    if (master_config_load(m->conf_path, &nc, err, sizeof err)) {
        BL_ERR("reload_failed", "error=%s", bl_log_q(err));
        master_metrics_reloaded(m->metrics, 0);
        return;
    }
    pthread_mutex_lock(&m->lock);
    m->c.window_ms = nc.window_ms;
    m->c.mirror_ttl_ms = nc.mirror_ttl_ms;
    m->c.expected_prop_ms = nc.expected_prop_ms;
    m->c.policy.mirror_active_ms = nc.policy.mirror_active_ms;
    m->api.window_ms = nc.window_ms;
    master_metrics_set_limits(m->metrics, m->c.window_ms, m->c.policy.mirror_active_ms);
    pthread_mutex_unlock(&m->lock);
    master_metrics_reloaded(m->metrics, 1);
    char w[BL_CFG_DURSTRLEN], g[BL_CFG_DURSTRLEN];
    BL_INFO("reloaded", "what=config window=%s mirror_active=%s",
            bl_cfg_duration_format(m->c.window_ms, w, sizeof w),
            bl_cfg_duration_format(m->c.policy.mirror_active_ms, g, sizeof g));
    window_check(&m->c);
}

static void on_hup(uv_signal_t *s, int signum)
{
    master_t *m = s->data;
    (void)signum;
    reload_config(m);
    if (m->sync) {
        int rc = master_sync_reload(m->sync);
        BL_INFO("reloaded", "what=sync result=%s", rc ? bl_errname(rc) : "ok");
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: blsync-master [-c FILE] [--check-config] [--version]\n"
               "  -c FILE          configuration (default /etc/blsync/master.conf)\n"
               "  --check-config   load and check the configuration, then exit\n"
               "  --version        print the version\n");
}

static int verify_digest(master_t *m)
{
    bl_digest_t full;
    uint64_t n;
    uint64_t t0 = bl_mono_ns();
    int rc = master_store_digest_full(m->store, &full, &n);
    if (rc)
        return rc;
    char a[65], b[65];
    if (!bl_digest_eq(&full, master_store_digest(m->store)) || n != master_store_count(m->store)) {
        BL_ERR("digest_mismatch",
               "stored=%s computed=%s stored_count=%" PRIu64 " computed_count=%" PRIu64,
               bl_digest_hex(master_store_digest(m->store), a), bl_digest_hex(&full, b),
               master_store_count(m->store), n);
        return BL_EDIGEST;
    }
    BL_INFO("digest_verified", "entries=%" PRIu64 " digest=%s duration_ms=%.1f", n,
            bl_digest_hex(&full, a), (bl_mono_ns() - t0) / 1e6);
    return 0;
}

int main(int argc, char **argv)
{
    const char *conf = "/etc/blsync/master.conf";
    int check = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--version")) {
            printf("blsync-master " BLSYNC_VERSION "\n");
            return 0;
        } else if (!strcmp(argv[i], "--check-config")) {
            check = 1;
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
    char host[100];
    uint16_t port;
    master_parse_listen(m.c.listen, host, sizeof host, &port);
    if (check) {
        bl_key_t *k = NULL;
        errno = 0;
        int rc = bl_key_load(m.c.pub.key_path, &k);
        if (rc || !bl_key_is_private(k)) {
            fprintf(stderr, "blsync-master: %s: key %s: %s\n", conf, m.c.pub.key_path,
                    rc == BL_EIO && errno ? strerror(errno)
                    : rc                  ? bl_strerror(rc)
                                          : "not a private key (the public half?)");
            bl_key_free(k);
            return 1;
        }
        bl_key_free(k);
        /* The sync server's files must be readable (their content is checked at start). */
        const char *files[][2] = {{"cert", m.c.sync.cert_file},
                                  {"tls_key", m.c.sync.tls_key_file},
                                  {"ca", m.c.sync.ca_file},
                                  {"pinned", m.c.sync.pinned_file},
                                  {"revoked", m.c.sync.revoked_file}};
        for (size_t i = 0; m.c.sync_enabled && i < sizeof files / sizeof files[0]; i++) {
            if (!files[i][1][0])
                continue;
            FILE *f = fopen(files[i][1], "r");
            if (!f) {
                fprintf(stderr, "blsync-master: %s: [sync] %s %s: %s\n", conf, files[i][0],
                        files[i][1], strerror(errno));
                return 1;
            }
            fclose(f);
        }
        if (!m.c.token[0])
            fprintf(stderr,
                    "blsync-master: %s: warning: no API token: state changes through "
                    "the API are disabled\n",
                    conf);
        char msg[256];
        if (bl_cfg_window_check(m.c.window_ms, m.c.mirror_ttl_ms, m.c.expected_prop_ms, msg,
                                sizeof msg))
            fprintf(stderr, "blsync-master: %s: warning: %s\n", conf, msg);
        printf("%s: ok\n", conf);
        return 0;
    }
    bl_log_init("blsync-master", m.c.log_level, 0);
    m.conf_path = conf;
    window_check(&m.c);
    int rc;
    pthread_mutex_init(&m.lock, NULL);
    if ((rc = master_store_open(m.c.db, m.c.feed, m.c.sync_full, &m.store))) {
        fprintf(stderr, "blsync-master: store %s: %s\n", m.c.db, bl_strerror(rc));
        return 1;
    }
    if (m.c.verify_digest && (rc = verify_digest(&m))) {
        fprintf(stderr, "blsync-master: store %s: %s\n", m.c.db, bl_strerror(rc));
        return 1;
    }
    if ((rc = master_publisher_new(&m.c.pub, m.store, &m.pub)) ||
        (rc = master_publisher_recover(m.pub))) {
        fprintf(stderr, "blsync-master: spool %s: %s\n", m.c.pub.spool, bl_strerror(rc));
        return 1;
    }
    if ((rc = master_store_open(m.c.db, m.c.feed, m.c.sync_full, &m.reader))) {
        fprintf(stderr, "blsync-master: store %s: %s\n", m.c.db, bl_strerror(rc));
        return 1;
    }
    master_publisher_set_async(m.pub, m.reader);
    m.loop = uv_default_loop();
    m.api = (master_http_ctx_t){.lock = &m.lock,
                                .store = m.store,
                                .policy = &m.c.policy,
                                .pub = m.pub,
                                .token = m.c.token,
                                .max_body = m.c.max_body,
                                .changed = api_changed,
                                .changed_arg = &m,
                                .mirror_up = mirror_up,
                                .mirror_up_arg = &m,
                                .window_ms = m.c.window_ms,
                                .max_conns = m.c.http_max_conns,
                                .max_conns_per_addr = m.c.http_max_conns_per_addr,
                                .idle_timeout_s = (unsigned)(m.c.http_idle_timeout_ms / 1000),
                                .request_timeout_ms = m.c.http_request_timeout_ms};
    uv_async_init(m.loop, &m.wake, on_wake);
    m.wake.data = &m;
    uv_timer_init(m.loop, &m.tick);
    m.tick.data = &m;
    uv_timer_init(m.loop, &m.pub_timer);
    m.pub_timer.data = &m;
    uv_signal_init(m.loop, &m.sigterm);
    m.sigterm.data = &m;
    uv_signal_init(m.loop, &m.sigint);
    m.sigint.data = &m;
    uv_signal_start(&m.sigterm, on_signal, SIGTERM);
    uv_signal_start(&m.sigint, on_signal, SIGINT);
    uv_signal_init(m.loop, &m.sighup);
    m.sighup.data = &m;
    uv_signal_start(&m.sighup, on_hup, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
    if (m.c.sync_enabled) {
        master_sync_hooks_t hooks = {
            .ctx = &m, .on_ack = on_ack, .on_mirror = on_mirror, .want_snapshot = want_snapshot};
        if ((rc = master_sync_new(m.loop, &m.c.sync, &hooks, &m.sync))) {
            fprintf(stderr, "blsync-master: sync server on %s:%d: %s\n", m.c.sync.host,
                    m.c.sync.port, bl_strerror(rc));
            return 1;
        }
        master_publisher_set_hook(m.pub, master_sync_pub_hook, m.sync);
    }
    if (m.c.metrics_listen[0]) {
        if ((rc = master_metrics_new(m.c.feed, m.c.window_ms, m.c.policy.mirror_active_ms,
                                     &m.metrics)) ||
            (rc = bl_metrics_http_start(master_metrics_registry(m.metrics), m.c.metrics_listen,
                                        NULL, NULL, &m.metrics_http))) {
            fprintf(stderr, "blsync-master: metrics on %s: %s\n", m.c.metrics_listen,
                    bl_strerror(rc));
            return 1;
        }
        m.api.metrics = m.metrics;
    }
    if ((rc = master_http_start(&m.api, host, port, m.c.http_threads, &m.http))) {
        fprintf(stderr, "blsync-master: cannot listen on %s\n", m.c.listen);
        return 1;
    }
    m.last_prune_ms = bl_now_ms();
    uv_timer_start(&m.tick, on_tick, 0, (uint64_t)m.c.tick_ms);
    BL_INFO("started", "version=%s feed=%s db=%s spool=%s listen=%s", BLSYNC_VERSION,
            bl_log_q(m.c.feed), bl_log_q(m.c.db), bl_log_q(master_publisher_dir(m.pub)),
            bl_log_q(m.c.listen));
    uv_run(m.loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&m.tick, NULL);
    uv_close((uv_handle_t *)&m.pub_timer, NULL);
    uv_close((uv_handle_t *)&m.sigterm, NULL);
    uv_close((uv_handle_t *)&m.sigint, NULL);
    uv_close((uv_handle_t *)&m.sighup, NULL);
    uv_run(m.loop, UV_RUN_DEFAULT);
    free(m.acks);
    free(m.up);
    free(m.peers);
    uv_loop_close(m.loop);
    bl_metrics_http_stop(m.metrics_http);
    master_metrics_free(m.metrics);
    master_publisher_free(m.pub);
    master_store_close(m.reader);
    master_store_close(m.store);
    BL_INFO("stopped", "feed=%s", bl_log_q(m.c.feed));
    return 0;
}
