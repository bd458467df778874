/* SPDX-License-Identifier: MIT */
/* When the publisher runs: batched publishes, retries, snapshots off the lock, the periodic tick.
 */
#ifndef MASTER_SCHEDULE_H
#define MASTER_SCHEDULE_H

#include <pthread.h>
#include <stdint.h>

#include <uv.h>

#include "acks.h"
#include "master_metrics.h"
#include "publisher.h"
#include "store.h"
#include "sync_server.h"

/*
 * A change waits publish_delay_ms for others to join its serial, but the
 * first change of a batch never waits longer than publish_max_delay_ms. A
 * failed publish is retried on its own timer, the pause doubling from 500
 * ms up to retry_max_ms, while the pending changes stay in the store. A
 * snapshot that falls due runs on the thread pool once nothing is pending
 * (master_publisher_snap_*), so the API is not held up by it.
 *
 * Every tick_ms the tick expires listings, prunes reports older than
 * report_retention_ms (every 10 minutes), lets acks follow the store and
 * refreshes the metrics' gauges; a change it leaves pending is published.
 *
 * Everything runs on the loop thread with lock taken around each call into
 * the store and publisher, except master_sched_changed (any thread).
 */
typedef struct master_sched master_sched_t;

typedef struct {
    pthread_mutex_t *lock; /* guards store and publisher (shared with the API threads) */
    master_store_t *store;
    master_publisher_t *pub;
    master_metrics_t *metrics; /* may be NULL */
    master_acks_t *acks;       /* may be NULL */
    int64_t publish_delay_ms;
    int64_t publish_max_delay_ms;
    int64_t retry_max_ms;
    int64_t tick_ms;
    int64_t report_retention_ms;
} master_sched_conf_t;

/* Starts the tick (its first run at once). */
int master_sched_new(uv_loop_t *loop, const master_sched_conf_t *c, master_sched_t **out);
/* The sync server, told to rescan when publishing pruned the spool and shown
 * in the metrics; NULL detaches it (before it is freed). */
void master_sched_set_sync(master_sched_t *s, master_sync_t *sync);
/* A change is pending in the store (the API's changed hook): publishes it
 * on schedule. Thread-safe. */
void master_sched_changed(void *s);
/* Starts a due snapshot when nothing is pending (lock held, loop thread). */
void master_sched_snapshot_if_idle(master_sched_t *s);
/* Shutdown: publishes what is pending a last time and closes the timers.
 * Returns the publisher's error, if any (logged). */
int master_sched_stop(master_sched_t *s);
/* Releases s once the loop has run its close callbacks and the snapshot
 * job, if any, has finished (after the last uv_run). NULL is a no-op. */
void master_sched_free(master_sched_t *s);

#endif
