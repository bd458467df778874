/* SPDX-License-Identifier: MIT */
/* A mirror feed's persisted state: the newest snapshot and the deltas after it, on disk. */
#ifndef MIRROR_PERSIST_H
#define MIRROR_PERSIST_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "key.h"
#include "obj.h"

/*
 * The newest snapshot and the deltas after it, under state_dir/FEED/. An
 * object is written atomically (write, fsync, rename) before it is applied
 * and removed if the apply refuses it, so what is on disk after a crash at
 * any point is a state the mirror has applied or was about to apply, and the
 * restore at start-up re-checks every rule while replaying it. A snapshot
 * makes the older files obsolete; past MIRROR_PERSIST_MAX_DELTAS deltas (or
 * four times the snapshot's bytes plus 1 MiB of deltas) the store sets
 * want_snapshot so that the caller asks the master for a fresh one.
 */
struct mirror_feed;
typedef struct {
    struct mirror_feed *feed; /* not owned */
    char dir[PATH_MAX];
    uint64_t ndeltas, delta_bytes, snap_bytes;
    int snapshot_asked; /* want_snapshot was set since the last snapshot */
    int want_snapshot;  /* set by mirror_persist_apply; the caller clears it */
    int write_error;    /* BL_E* of the last write that failed, 0 once one succeeds */
    uint64_t write_errors;
    int64_t current_ms;       /* wall time the restored state was known current as of */
    int64_t saved_current_ms; /* what state_dir/FEED/current holds */
    uint64_t refused_by[64];  /* persisted files refused at restore, by -error (BL_E*) */
} mirror_persist_t;

#define MIRROR_PERSIST_MAX_DELTAS 512

/* Creates state_dir/FEED and restores the feed from it (snapshot, then the
 * deltas that follow, every rule checked; files that no longer apply are
 * removed). *restored (may be NULL) receives the serial reached. */
int mirror_persist_open(mirror_persist_t *st, struct mirror_feed *f, const char *state_dir,
                        uint64_t *restored);
/* Persists a key certificate of the store's feed; mirror_persist_open loads
 * persisted ones (verified against the keyring) before any object. */
int mirror_persist_keycert(mirror_persist_t *st, const bl_key_t *k, const uint8_t *buf, size_t len);
/* Records (in state_dir/FEED/current, when as_of_ms moved by every_ms or
 * more) the wall time as of which the served state was known current, so
 * that a restart without a master does not count as fresh contact. */
int mirror_persist_save_current(mirror_persist_t *st, int64_t as_of_ms, int64_t every_ms);
/* Persists and applies one verified object (mirror_apply_object with every
 * rule); on any error the feed keeps its last good state and nothing new
 * stays on disk. */
int mirror_persist_apply(mirror_persist_t *st, const bl_obj_t *obj, const uint8_t *buf, size_t len);

#endif
