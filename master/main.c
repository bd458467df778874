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
#include "acks.h"
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
    master_acks_t *acks;
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

/* The start-up and reload check of the window budget (docs/METRICS.md). */
static void window_check(const master_config_t *c)
{
    char msg[256];
    if (bl_cfg_window_check(c->window_ms, c->mirror_ttl_ms, c->expected_prop_ms, msg, sizeof msg))
        BL_WARN("window_budget", "problem=%s", bl_log_q(msg));
}

/* With the lock held, for the API: sync sessions of mirror up now. */
static int mirror_up(void *arg, const char *mirror)
{
    master_t *m = arg;
    return m->acks ? master_acks_sessions(m->acks, mirror) : 0;
}

/* With the lock held, for the API: the live sessions of mirror. */
static int mirror_sessions(void *arg, const char *mirror, master_http_session_t *out, int max)
{
    master_t *m = arg;
    master_ack_session_t s[8];
    int n = m->acks ? master_acks_session_list(m->acks, mirror, s, 8) : 0;
    for (int i = 0; i < n && i < max && i < 8; i++) {
        out[i].sid = s[i].sid;
        snprintf(out[i].addr, sizeof out[i].addr, "%s", s[i].addr);
        out[i].acked = s[i].acked;
    }
    return n;
}

/* ---- the sync server's hooks (loop thread) ---- */

/* Publisher calls that count: quarantines and snapshots show in the metrics. */
#define PUB_CALL(m, expr)                                                                          \
    do {                                                                                           \
        master_pub_stats_t before_ = *master_publisher_stats((m)->pub);                            \
        int rc_ = (expr);                                                                          \
        master_metrics_published((m)->metrics, rc_, &before_, master_publisher_stats((m)->pub));   \
        if (rc_)                                                                                   \
            BL_WARN("publisher_call_failed", "call=%s error=%s", #expr, bl_errname(rc_));          \
    } while (0)

static void want_snapshot(void *ctx, const char *feed)
{
    master_t *m = ctx;
    if (strcmp(feed, m->c.feed))
        return;
    pthread_mutex_lock(&m->lock);
    PUB_CALL(m, master_publisher_snapshot(m->pub, bl_now_ms()));
    if (!master_store_pending_count(m->store))
        maybe_snapshot(m);
    pthread_mutex_unlock(&m->lock);
}

static int sync_heartbeat(void *ctx, const char *feed, uint64_t serial,
                          const uint8_t digest[BL_DIGEST_SIZE], int64_t now_ms, int64_t ttl_ms,
                          uint8_t out[BL_OBJ_PREFIX])
{
    master_t *m = ctx;
    if (strcmp(feed, m->c.feed))
        return BL_EFEED;
    return master_publisher_heartbeat(m->pub, serial, digest, now_ms, ttl_ms, out);
}

static int sync_head(void *ctx, const char *feed, uint64_t *serial, uint8_t digest[BL_DIGEST_SIZE])
{
    master_t *m = ctx;
    if (strcmp(feed, m->c.feed))
        return BL_EFEED;
    return master_publisher_head(m->pub, serial, digest);
}

static int sync_merged(void *ctx, const char *feed, uint64_t serial,
                       const uint8_t digest[BL_DIGEST_SIZE], size_t min_deltas, char *path,
                       size_t pathlen)
{
    master_t *m = ctx;
    if (strcmp(feed, m->c.feed))
        return BL_EFEED;
    pthread_mutex_lock(&m->lock);
    int rc =
        master_publisher_merged(m->pub, serial, digest, min_deltas, bl_now_ms(), path, pathlen);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static void sync_damaged(void *ctx, const char *feed, uint64_t serial, int type, const char *path,
                         int err)
{
    master_t *m = ctx;
    if (strcmp(feed, m->c.feed))
        return;
    pthread_mutex_lock(&m->lock);
    PUB_CALL(m, master_publisher_quarantine(m->pub, serial, type, path, err, bl_now_ms()));
    if (!master_store_pending_count(m->store))
        maybe_snapshot(m);
    pthread_mutex_unlock(&m->lock);
}

static void sync_session(void *ctx, uint64_t sid, const char *mirror, const char *addr, int up,
                         const char *reason)
{
    master_t *m = ctx;
    master_acks_on_session(m->acks, sid, mirror, addr, up, reason);
}

static void sync_ack(void *ctx, uint64_t sid, const char *feed, uint64_t serial, int64_t now_ms)
{
    master_t *m = ctx;
    master_acks_on_ack(m->acks, sid, feed, serial, now_ms);
}

static void sync_contact(void *ctx, uint64_t sid, int64_t now_ms)
{
    master_t *m = ctx;
    master_acks_on_contact(m->acks, sid, now_ms);
}

static void sync_ahead(void *ctx, const char *feed, uint64_t serial)
{
    master_t *m = ctx;
    if (strcmp(feed, m->c.feed) || serial == UINT64_MAX)
        return;
    pthread_mutex_lock(&m->lock);
    PUB_CALL(m, master_publisher_advance(m->pub, serial + 1, bl_now_ms()));
    pthread_mutex_unlock(&m->lock);
}

static void sync_refused(void *ctx, const char *what, const char *reason)
{
    master_t *m = ctx;
    master_metrics_sync_refused(m->metrics, what, reason);
}

static void on_tick(uv_timer_t *t)
{
    master_t *m = t->data;
    int64_t now = bl_now_ms();
    size_t n = 0, pruned = 0;
    uint64_t t0 = bl_mono_ns();
    if (m->acks)
        master_acks_tick(m->acks, now); /* mirrors that went gone stop holding delistings back */
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
    master_metrics_delisted(m->metrics, "expired", n);
    master_metrics_tick(m->metrics, m->store, m->sync, m->acks, now);
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
    master_publisher_set_hook(m->pub, NULL, NULL); /* a snapshot may still finish */
    master_sync_free(m->sync);
    m->sync = NULL;
    master_acks_free(m->acks); /* writes what is pending */
    m->acks = NULL;
    uv_timer_stop(&m->tick);
    uv_timer_stop(&m->pub_timer);
    uv_close((uv_handle_t *)&m->wake, NULL);
    uv_signal_stop(&m->sigterm);
    uv_signal_stop(&m->sigint);
    uv_signal_stop(&m->sighup);
    uv_stop(m->loop);
}

/* SIGHUP: the [metrics] window budget and the gone limit take effect at
 * once (the options marked BL_CONF_HOT in config.c); everything else in the
 * file needs a restart, and a change to it is logged (reload_partial). A
 * file that does not load keeps the running configuration. */
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
    char changed[512];
    if (bl_conf_restart_changes(&master_conf_schema, &m->c, &nc, changed, sizeof changed))
        BL_WARN("reload_partial", "restart_needed=%s", bl_log_q(changed));
    pthread_mutex_lock(&m->lock);
    m->c.window_ms = nc.window_ms;
    m->c.mirror_ttl_ms = nc.mirror_ttl_ms;
    m->c.expected_prop_ms = nc.expected_prop_ms;
    m->c.policy.mirror_active_ms = nc.policy.mirror_active_ms;
    m->api.window_ms = nc.window_ms;
    master_metrics_set_limits(m->metrics, m->c.window_ms, m->c.policy.mirror_active_ms);
    if (m->acks)
        master_acks_set_gone(m->acks, m->c.policy.mirror_active_ms);
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
    pthread_mutex_lock(&m->lock);
    int rk = master_publisher_reload_key(m->pub);
    pthread_mutex_unlock(&m->lock);
    BL_INFO("reloaded", "what=key result=%s", rk ? bl_errname(rk) : "ok");
    if (m->sync) {
        int rc = master_sync_reload(m->sync);
        BL_INFO("reloaded", "what=sync result=%s", rc ? bl_errname(rc) : "ok");
    }
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
        /* Run as root, the check is also the daemons' user's: the unit runs it as blsync. */
        bl_access_t acc[16] = {{"configuration", conf, 0}};
        char who[PATH_MAX + 32];
        snprintf(who, sizeof who, "blsync-master: %s", conf);
        size_t nacc = 1 + master_config_access(&m.c, acc + 1, 15);
        if (bl_access_check_as(bl_access_user(conf, check_user), acc, nacc, who))
            return 1;
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
    m.api = (master_http_ctx_t){.lock = &m.lock,
                                .store = m.store,
                                .policy = &m.c.policy,
                                .pub = m.pub,
                                .token = m.c.token,
                                .max_body = m.c.max_body,
                                .changed = api_changed,
                                .changed_arg = &m,
                                .mirror_up = mirror_up,
                                .mirror_sessions = mirror_sessions,
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
    master_acks_conf_t ac = {.feed = m.c.feed,
                             .store = m.store,
                             .lock = &m.lock,
                             .metrics = m.metrics,
                             .gone_ms = m.c.policy.mirror_active_ms};
    if ((rc = master_acks_new(m.loop, &ac, &m.acks))) {
        fprintf(stderr, "blsync-master: store %s: %s\n", m.c.db, bl_strerror(rc));
        return 1;
    }
    if (m.c.sync_enabled) {
        master_sync_hooks_t hooks = {.ctx = &m,
                                     .on_session = sync_session,
                                     .on_ack = sync_ack,
                                     .on_contact = sync_contact,
                                     .want_snapshot = want_snapshot,
                                     .heartbeat = sync_heartbeat,
                                     .merged = sync_merged,
                                     .damaged = sync_damaged,
                                     .head = sync_head,
                                     .ahead = sync_ahead,
                                     .on_refused = sync_refused};
        m.c.sync.keys = master_publisher_keys(m.pub);
        if ((rc = master_sync_new(m.loop, &m.c.sync, &hooks, &m.sync))) {
            fprintf(stderr, "blsync-master: sync server on %s:%d: %s\n", m.c.sync.host,
                    m.c.sync.port, bl_strerror(rc));
            return 1;
        }
        master_publisher_set_hook(m.pub, master_sync_pub_hook, m.sync);
    }
    if (m.metrics) {
        if ((rc = bl_metrics_http_start(master_metrics_registry(m.metrics), m.c.metrics_listen,
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
    uv_loop_close(m.loop);
    bl_metrics_http_stop(m.metrics_http);
    master_metrics_free(m.metrics);
    master_publisher_free(m.pub);
    master_store_close(m.reader);
    master_store_close(m.store);
    BL_INFO("stopped", "feed=%s", bl_log_q(m.c.feed));
    return 0;
}
