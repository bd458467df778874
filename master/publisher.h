/* SPDX-License-Identifier: MIT */
/* The publisher: the only holder of the signing key; writes, verifies and repairs the spool. */
#ifndef MASTER_PUBLISHER_H
#define MASTER_PUBLISHER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "key.h"
#include "obj.h"
#include "store.h"

/*
 * The publisher turns pending changes into the next signed serial (a delta,
 * and a snapshot when due) written atomically into spool/FEED/. It is the
 * one owner of the Ed25519 private key: it loads it once (and again on
 * master_publisher_reload_key), signs deltas, snapshots, the heartbeats the
 * sync server sends and the merged catch-up deltas it serves. Every public
 * key it has signed with is recorded in the store, so that its keyring
 * verifies the whole spool after a rotation and a restart.
 *
 * It never lets a damaged object stand: at start every spool object is
 * verified (signature, payload hash, and header against the store's record
 * and chain); an object that fails, or that the sync server later finds
 * damaged, is moved to spool/FEED/quarantine/ and forgotten, and when that
 * leaves some serial unreachable a fresh snapshot of the head is written.
 * A new feed starts with an empty snapshot (serial 1), so mirrors answer
 * from their first contact.
 */

typedef struct {
    char spool[PATH_MAX];    /* objects go to spool/FEED/SERIAL.{delta,snap} */
    char key_path[PATH_MAX]; /* Ed25519 private key (PEM), read at start and on reload */
    unsigned snapshot_every; /* a snapshot with every Nth serial (0: only when none exists) */
    uint64_t history_count;  /* objects kept in the spool at most */
    uint64_t history_bytes;  /* bytes kept in the spool at most */
    int64_t object_ttl_ms;   /* signed expiry of objects (freeze protection) */
    uint64_t async_snapshot_entries; /* in async mode, states this large snapshot off the lock */
    int http;                        /* write the HTTP layout (head, by-hash/) */
    int64_t http_head_ttl_ms;        /* signed expiry of the head */
    int64_t http_head_refresh_ms;    /* the head is signed again this often */
    unsigned http_merge_points;      /* merged deltas from head - 2, - 4, ... - 2^N */
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
    uint64_t quarantined_total;  /* spool objects found damaged and moved aside */
    uint64_t quarantined_by[64]; /* the same by -error code (BL_E*; 0 for other codes) */
    uint64_t merged_total;       /* merged catch-up deltas written */
    uint64_t heads_total;        /* HTTP heads signed */
    uint64_t head_failures_total;
    int last_error;            /* 0 after a success */
    int last_quarantine_error; /* why the last object was quarantined */
    uint64_t last_duration_ns; /* of the last successful publish */
    uint64_t last_bytes;
    uint64_t last_snapshot_bytes;
    uint64_t last_changes;
    uint64_t last_serial;
    int64_t last_publish_ms;
} master_pub_stats_t;

typedef struct master_publisher master_publisher_t;

/* Creates the spool directory and loads the signing key (BL_EKEY if it is
 * not a private key; BL_EIO with errno if unreadable), recording its public
 * half in the store. The store stays owned by the caller. */
int master_publisher_new(const master_pub_conf_t *c, master_store_t *s, master_publisher_t **out);
void master_publisher_free(master_publisher_t *p);
void master_publisher_set_hook(master_publisher_t *p, master_pub_hook_t fn, void *ctx);
const master_pub_stats_t *master_publisher_stats(const master_publisher_t *p);
/* Spool directory of the feed (spool/FEED). */
const char *master_publisher_dir(const master_publisher_t *p);
/* Public halves of every key this master has signed with (owned by p). */
const bl_keyring_t *master_publisher_keys(const master_publisher_t *p);
/* Reads the key file again (SIGHUP): later objects and heartbeats are signed
 * with it. On error the current key stays. */
int master_publisher_reload_key(master_publisher_t *p);

/* Start-up repair: removes spool files that no committed serial owns (a
 * crash between writing and committing) and temporary files, forgets
 * objects whose files are gone, verifies every remaining object and
 * quarantines the damaged ones, then writes what is needed so that every
 * published serial is reachable again (a snapshot of the head), or the
 * initial empty snapshot of a new feed. */
int master_publisher_recover(master_publisher_t *p, int64_t now_ms);

/* Publishes every pending change as the next serial (and a snapshot when
 * due). Returns 0 with *serial = 0 when there was nothing to publish. On
 * failure nothing is committed, the spool keeps its previous objects, the
 * pending changes stay for the next attempt, and the error is logged and
 * counted. */
int master_publisher_run(master_publisher_t *p, int64_t now_ms, uint64_t *serial);
/* Writes a snapshot of the last published serial now (e.g. for a new
 * mirror). In async mode it only marks a snapshot as wanted. */
int master_publisher_snapshot(master_publisher_t *p, int64_t now_ms);

/* The object of serial/type at path failed verification (err says how):
 * moves the file to the quarantine, forgets it, and writes a snapshot of
 * the head when the loss leaves a serial unreachable (or marks one wanted
 * in async mode). A path that is no longer the recorded object's (already
 * replaced) is left alone. */
int master_publisher_quarantine(master_publisher_t *p, uint64_t serial, int type, const char *path,
                                int err, int64_t now_ms);

/* The last published serial and its digest (0 before the first). Loop thread. */
int master_publisher_head(const master_publisher_t *p, uint64_t *serial,
                          uint8_t digest[BL_DIGEST_SIZE]);

/* A mirror holds serial past - 1, later than anything this master
 * published (the master was restored from an older backup): publishes a
 * snapshot of the current state as serial past, so that every mirror,
 * ahead or behind, takes this master's state (a mirror accepts a snapshot
 * of a higher serial whatever it held). Pending changes are published
 * first. No-op when past is not ahead; BL_EINVAL past 2^32 serials ahead. */
int master_publisher_advance(master_publisher_t *p, uint64_t past, int64_t now_ms);

/* Signs a heartbeat of the feed announcing (serial, digest), valid ttl_ms. */
int master_publisher_heartbeat(master_publisher_t *p, uint64_t serial,
                               const uint8_t digest[BL_DIGEST_SIZE], int64_t now_ms, int64_t ttl_ms,
                               uint8_t out[BL_OBJ_PREFIX]);

/* A merged delta from (serial, digest) to the last published serial, as a
 * verified file under spool/FEED/merged/ (reused while the head stays):
 * path receives it. BL_ENOTFOUND when no merge is possible or worth it (a
 * chain shorter than min_deltas, a gap, or a key whose presence at the
 * mirror's serial cannot be told): the caller sends the chain instead. */
int master_publisher_merged(master_publisher_t *p, uint64_t serial,
                            const uint8_t digest[BL_DIGEST_SIZE], size_t min_deltas, int64_t now_ms,
                            char *path, size_t pathlen);

/* The HTTP layout of the feed (docs/ARCHITECTURE.md): spool/FEED/head, a
 * signed head (proto/head.h) listing every object under
 * spool/FEED/by-hash/SHA256.EXT (hard links of the spool's objects, key
 * certificates, and merged catch-up deltas to the head from head - 2^k,
 * k = 1..http_merge_points). Written again after every publish, snapshot,
 * quarantine or serial advance; master_publisher_http_tick re-signs the
 * head every http_head_refresh (so its expiry keeps moving) and rebuilds
 * what a failure left undone. Objects a head no longer lists stay for
 * max(10 minutes, 2 x http_head_ttl): caches and mirrors that read the
 * previous head still find them. Loop thread, lock held. */
int master_publisher_http_tick(master_publisher_t *p, int64_t now_ms);

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
