/* SPDX-License-Identifier: MIT */
/* The publisher: turns pending changes into signed deltas and snapshots in a spool directory. */
#ifndef MASTER_PUBLISHER_H
#define MASTER_PUBLISHER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct {
    char spool[PATH_MAX];    /* objects go to spool/FEED/SERIAL.{delta,snap} */
    char key_path[PATH_MAX]; /* Ed25519 private key (PEM), re-read at every publish */
    unsigned snapshot_every; /* a snapshot with every Nth serial (0: only when none exists) */
    uint64_t history_count;  /* objects kept in the spool at most */
    uint64_t history_bytes;  /* bytes kept in the spool at most */
    int64_t object_ttl_ms;   /* signed expiry of objects (freeze protection) */
    uint64_t async_snapshot_entries; /* in async mode, states this large snapshot off the lock */
} master_pub_conf_t;

void master_pub_conf_defaults(master_pub_conf_t *c);

/* Called after an object is durably in the spool and recorded in the store
 * (type BL_OBJ_DELTA or BL_OBJ_SNAPSHOT). Runs on the publishing thread
 * with the caller's lock held: it must not block. */
typedef void (*master_pub_hook_t)(void *ctx, int type, uint64_t serial, const char *path,
                                  uint64_t bytes);

/* Counters for logs and /metrics. */
typedef struct {
    uint64_t deltas_total, snapshots_total, failures_total, pruned_total;
    int last_error;            /* 0 after a success */
    uint64_t last_duration_ns; /* of the last successful publish */
    uint64_t last_bytes;
    uint64_t last_snapshot_bytes;
    uint64_t last_changes;
    uint64_t last_serial;
    int64_t last_publish_ms;
} master_pub_stats_t;

typedef struct master_publisher master_publisher_t;

/* Creates the spool directory. The store stays owned by the caller. */
int master_publisher_new(const master_pub_conf_t *c, master_store_t *s, master_publisher_t **out);
void master_publisher_free(master_publisher_t *p);
void master_publisher_set_hook(master_publisher_t *p, master_pub_hook_t fn, void *ctx);
const master_pub_stats_t *master_publisher_stats(const master_publisher_t *p);
/* Spool directory of the feed (spool/FEED). */
const char *master_publisher_dir(const master_publisher_t *p);

/* Start-up repair: removes spool files that no committed serial owns (a
 * crash between writing and committing) and temporary files, and forgets
 * objects whose files are gone. */
int master_publisher_recover(master_publisher_t *p);

/* Publishes every pending change as the next serial (and a snapshot when
 * due). Returns 0 with *serial = 0 when there was nothing to publish. On
 * failure nothing is committed, the spool keeps its previous objects, the
 * pending changes stay for the next attempt, and the error is logged and
 * counted. */
int master_publisher_run(master_publisher_t *p, int64_t now_ms, uint64_t *serial);
/* Writes a snapshot of the last published serial now (e.g. for a new
 * mirror). In async mode it only marks a snapshot as wanted. */
int master_publisher_snapshot(master_publisher_t *p, int64_t now_ms);

/* Async snapshots keep a large snapshot off the caller's lock. run() then
 * only marks a snapshot due; the caller calls _snap_begin with the lock held
 * right after a run (nothing pending: it pins the published state in a read
 * transaction on reader, a second connection to the same store file),
 * _snap_work without the lock on any thread, and _snap_finish with the lock
 * held (records the object, prunes, calls the hook; frees the job). */
typedef struct master_snap_job master_snap_job_t;
void master_publisher_set_async(master_publisher_t *p, master_store_t *reader);
int master_publisher_snap_due(const master_publisher_t *p);
/* *job is NULL when no snapshot is due or changes are pending. */
int master_publisher_snap_begin(master_publisher_t *p, int64_t now_ms, master_snap_job_t **job);
void master_publisher_snap_work(master_snap_job_t *job);
int master_publisher_snap_finish(master_publisher_t *p, master_snap_job_t *job);

#endif
