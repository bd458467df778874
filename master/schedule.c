/* SPDX-License-Identifier: MIT */
/* When the publisher runs: batched publishes, retries, snapshots off the lock, the periodic tick.
 */
#include "schedule.h"

#include <inttypes.h>
#include <stdlib.h>

#include "err.h"
#include "log.h"
#include "policy.h"
#include "util.h"

#define PUBLISH_RETRY_MIN_MS 500
#define PRUNE_EVERY_MS       600000 /* reports past their retention go this often */

struct master_sched {
    master_sched_conf_t c;
    uv_loop_t *loop;
    uv_timer_t tick, pub_timer;
    uv_async_t wake;
    master_sync_t *sync;
    uv_work_t snap_req;
    master_snap_job_t *snap_job;
    uint64_t batch_start; /* loop time of the first change of the batch, 0 if none */
    uint64_t backoff_ms;  /* after a failed publish */
    int64_t last_prune_ms;
    int stopping;
};

static void on_publish(uv_timer_t *t);

static void schedule_publish(master_sched_t *s)
{
    if (s->stopping || s->backoff_ms)
        return; /* a failed publish retries on its own timer */
    uint64_t now = uv_now(s->loop);
    if (!s->batch_start)
        s->batch_start = now;
    uint64_t due = now + (uint64_t)s->c.publish_delay_ms;
    uint64_t cap = s->batch_start + (uint64_t)s->c.publish_max_delay_ms;
    if (due > cap)
        due = cap;
    uv_timer_start(&s->pub_timer, on_publish, due > now ? due - now : 0, 0);
}

static void snap_work(uv_work_t *req)
{
    master_sched_t *s = req->data;
    master_publisher_snap_work(s->snap_job);
}

static void snap_done(uv_work_t *req, int status)
{
    master_sched_t *s = req->data;
    (void)status;
    pthread_mutex_lock(s->c.lock);
    master_pub_stats_t before = *master_publisher_stats(s->c.pub);
    int rc = master_publisher_snap_finish(s->c.pub, s->snap_job);
    master_metrics_published(s->c.metrics, rc, &before, master_publisher_stats(s->c.pub));
    pthread_mutex_unlock(s->c.lock);
    s->snap_job = NULL;
}

/* Starts a due snapshot on the thread pool (lock held, just after a run). */
static void maybe_snapshot(master_sched_t *s)
{
    if (s->stopping || s->snap_job || !master_publisher_snap_due(s->c.pub))
        return;
    master_snap_job_t *job = NULL;
    if (master_publisher_snap_begin(s->c.pub, bl_now_ms(), &job) || !job)
        return;
    s->snap_job = job;
    s->snap_req.data = s;
    uv_queue_work(s->loop, &s->snap_req, snap_work, snap_done);
}

void master_sched_snapshot_if_idle(master_sched_t *s)
{
    if (!master_store_pending_count(s->c.store))
        maybe_snapshot(s);
}

static void on_publish(uv_timer_t *t)
{
    master_sched_t *s = t->data;
    s->batch_start = 0;
    uint64_t serial = 0;
    pthread_mutex_lock(s->c.lock);
    master_pub_stats_t before = *master_publisher_stats(s->c.pub);
    int rc = master_publisher_run(s->c.pub, bl_now_ms(), &serial);
    master_metrics_published(s->c.metrics, rc, &before, master_publisher_stats(s->c.pub));
    uint64_t pending = rc ? 0 : master_store_pending_count(s->c.store);
    uint64_t pruned = master_publisher_stats(s->c.pub)->pruned_total - before.pruned_total;
    if (!rc && !pending)
        maybe_snapshot(s);
    pthread_mutex_unlock(s->c.lock);
    if (pruned && s->sync)
        master_sync_rescan(s->sync); /* objects left the spool */
    if (rc) {
        s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : PUBLISH_RETRY_MIN_MS;
        if (s->backoff_ms > (uint64_t)s->c.retry_max_ms)
            s->backoff_ms = (uint64_t)s->c.retry_max_ms;
        BL_WARN("publish_retry", "in_ms=%" PRIu64 " error=%s", s->backoff_ms, bl_errname(rc));
        if (!s->stopping)
            uv_timer_start(&s->pub_timer, on_publish, s->backoff_ms, 0);
        return;
    }
    if (s->backoff_ms)
        BL_INFO("publish_resumed", "serial=%" PRIu64, serial);
    s->backoff_ms = 0;
    if (pending)
        schedule_publish(s);
}

static void on_wake(uv_async_t *a)
{
    schedule_publish(a->data);
}

void master_sched_changed(void *s)
{
    uv_async_send(&((master_sched_t *)s)->wake);
}

static void on_tick(uv_timer_t *t)
{
    master_sched_t *s = t->data;
    int64_t now = bl_now_ms();
    size_t n = 0, pruned = 0;
    uint64_t t0 = bl_mono_ns();
    if (s->c.acks)
        master_acks_tick(s->c.acks, now); /* mirrors that went gone stop holding delistings back */
    pthread_mutex_lock(s->c.lock);
    int rc = master_store_begin(s->c.store);
    if (!rc) {
        rc = master_policy_expire(s->c.store, now, &n);
        if (!rc && now - s->last_prune_ms > PRUNE_EVERY_MS) {
            rc = master_store_report_prune(s->c.store, now - s->c.report_retention_ms, &pruned);
            s->last_prune_ms = now;
        }
        rc = rc ? (master_store_rollback(s->c.store), rc) : master_store_commit(s->c.store);
    }
    uint64_t pending = rc ? 0 : master_store_pending_count(s->c.store);
    if (!rc && !pending)
        maybe_snapshot(s);
    master_metrics_delisted(s->c.metrics, "expired", n);
    master_metrics_tick(s->c.metrics, s->c.store, s->sync, s->c.acks, now);
    master_publisher_http_tick(s->c.pub, now); /* the head's heartbeat, and retries */
    bl_log_flush_suppressed(); /* a flood's summary is written when its window ends */
    pthread_mutex_unlock(s->c.lock);
    if (rc)
        BL_ERR("expire_failed", "error=%s", bl_errname(rc));
    if (n)
        BL_INFO("expired", "delisted=%zu decided_ms=%" PRId64 " duration_ms=%.1f", n, now,
                (bl_mono_ns() - t0) / 1e6);
    if (pruned)
        BL_INFO("reports_pruned", "count=%zu", pruned);
    if (pending && !uv_is_active((uv_handle_t *)&s->pub_timer))
        schedule_publish(s);
}

int master_sched_new(uv_loop_t *loop, const master_sched_conf_t *c, master_sched_t **out)
{
    master_sched_t *s = calloc(1, sizeof *s);
    if (!s)
        return BL_ENOMEM;
    s->c = *c;
    s->loop = loop;
    s->last_prune_ms = bl_now_ms();
    uv_async_init(loop, &s->wake, on_wake);
    s->wake.data = s;
    uv_timer_init(loop, &s->tick);
    s->tick.data = s;
    uv_timer_init(loop, &s->pub_timer);
    s->pub_timer.data = s;
    uv_timer_start(&s->tick, on_tick, 0, (uint64_t)c->tick_ms);
    *out = s;
    return 0;
}

void master_sched_set_sync(master_sched_t *s, master_sync_t *sync)
{
    s->sync = sync;
}

int master_sched_stop(master_sched_t *s)
{
    s->stopping = 1;
    uint64_t serial;
    pthread_mutex_lock(s->c.lock);
    int rc = master_publisher_run(s->c.pub, bl_now_ms(), &serial);
    pthread_mutex_unlock(s->c.lock);
    if (rc)
        BL_WARN("final_publish_failed", "error=%s", bl_errname(rc));
    uv_close((uv_handle_t *)&s->tick, NULL);
    uv_close((uv_handle_t *)&s->pub_timer, NULL);
    uv_close((uv_handle_t *)&s->wake, NULL);
    return rc;
}

void master_sched_free(master_sched_t *s)
{
    free(s);
}
