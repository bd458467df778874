/* SPDX-License-Identifier: MIT */
/* A zone's data sources: signed snapshots and deltas of a feed, rbldnsd imports, the spool dir. */
#ifndef MIRROR_FEED_H
#define MIRROR_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "dns.h"
#include "key.h"
#include "obj.h"
#include "qsbr.h"

/* Information about one apply, for logs, metrics and the sync client. */
typedef struct {
    int type; /* BL_OBJ_SNAPSHOT or BL_OBJ_DELTA */
    uint64_t from_serial, serial;
    size_t n_removed, n_added, n_entries;
    uint64_t elapsed_us;
} mirror_apply_info_t;

#define MIRROR_FEED_ZONES_MAX 16

/* The state of one feed as this mirror holds it: its entries (an index the
 * feed owns) and the zones they are served in. A zone that combines feeds
 * holds one index of each; every apply publishes a new data version of
 * every zone the feed serves. */
typedef struct mirror_feed {
    mirror_qsbr_t *qsbr;
    mirror_index_t *ix; /* current entries; empty before the first snapshot */
    struct {
        mirror_zone_t *zone;
        unsigned slot; /* the feed's place in zone->src[] */
    } zones[MIRROR_FEED_ZONES_MAX];
    unsigned nzones;
    int synced; /* followed over [sync] */
    char name[BL_FEED_MAX + 1];
    bl_keyring_t *keys; /* trusted keys (not owned) */
    bl_limits_t lim;
    int loaded; /* a snapshot has been applied */
    uint64_t serial;
    bl_digest_t digest;
    uint64_t n_applied, n_refused;
    int64_t last_apply_ms;
    int last_err;
    /* Called after every apply attempt (metrics, logs); may be NULL. */
    void (*on_apply)(void *arg, struct mirror_feed *f, int rc, const mirror_apply_info_t *info);
    void *on_apply_arg;
} mirror_feed_t;

/* Sets up a feed with no state and no zone yet: 0 or BL_ENOMEM. */
int mirror_feed_init(mirror_feed_t *f, mirror_qsbr_t *q, const char *name, bl_keyring_t *keys);
/* Frees the feed's index; its zones must be closed first. */
void mirror_feed_close(mirror_feed_t *f);
/* Makes f the next source of zone z (zone->src[], a: the A value of its
 * listings there, 0: their own); from then on every apply republishes z.
 * BL_ECONFIG when z has MIRROR_SOURCES_MAX sources or f as many zones. */
int mirror_feed_attach(mirror_feed_t *f, mirror_zone_t *z, unsigned a);
/* Frozen or not: a frozen feed's listings answer nothing in any of its zones
 * (the other feeds of a combined zone still answer). */
void mirror_feed_set_frozen(mirror_feed_t *f, int frozen);

/* Verifies and applies one signed object (snapshot or delta) held in buf,
 * enforcing every mirror rule: signature and trusted key, freshness
 * (now_ms), feed, rollback (BL_EROLLBACK), fork (BL_EFORK), exact base
 * serial and digest, absent removals, digest and count after apply. On
 * success the new index is published; on any error the zone keeps serving
 * its last good state. info may be NULL. Writer thread only. */
int mirror_apply_object(mirror_feed_t *f, const uint8_t *buf, size_t len, int64_t now_ms,
                        mirror_apply_info_t *info);
/* Installs an index restored from this mirror's own state (an image of a
 * snapshot it verified and applied before) as the feed's state at serial
 * with digest: published like an applied snapshot, reported to on_apply.
 * Only into a feed with no state yet (BL_ESTATE). Takes ix in every case.
 * Writer thread only. */
struct mirror_index;
int mirror_feed_restore(mirror_feed_t *f, struct mirror_index *ix, uint64_t serial,
                        const uint8_t digest[BL_DIGEST_SIZE]);
/* Reads a file and applies it with mirror_apply_object. */
int mirror_apply_file(mirror_feed_t *f, const char *path, int64_t now_ms,
                      mirror_apply_info_t *info);

/* Applies every ready object in dir in serial order: applied and outdated
 * files are removed, refused ones renamed to NAME.rejected, deltas whose
 * base has not arrived yet are kept. Names starting with '.' are ignored
 * (write them under a dot name, then rename). Returns how many applied. */
int mirror_spool_scan(mirror_feed_t *f, const char *dir, int64_t now_ms);

struct mirror_zone_conf;
/* Loads the zone's rbldnsd data files (zc->rbldnsd, "KIND:FILE"), one
 * index per file as rbldnsd has one dataset per file, into a new data
 * version of z and publishes it. Bad lines are skipped and logged with file
 * and line, as rbldnsd skips them. The zone's section wins over the files'
 * $TTL, $SOA and $NS; the serial is the first $SOA's, else the newest
 * file's time, and grows on every load; a $TIMESTAMP expiry stops positive
 * answers. A file that cannot be read or is stamped in the future changes
 * nothing: err receives "file: problem". */
int mirror_import_rbldnsd(mirror_zone_t *z, mirror_qsbr_t *q, const struct mirror_zone_conf *zc,
                          char *err, size_t errlen);
/* Watches a zone's rbldnsd files (every zc->rbldnsd_check_ms): when what
 * stat() says of them changed and then stayed the same for one interval
 * (a file written in place is read once it is whole), loads them again with
 * mirror_import_rbldnsd and logs rbldnsd_reloaded; a load that fails keeps
 * the old data, is logged once (rbldnsd_reload_failed) and is tried again
 * when the files change again. Also logs once when the data's $TIMESTAMP
 * expiry passes. Returns the load's error, else 0. Writer thread only. */
int mirror_rbldnsd_poll(mirror_zone_t *z, mirror_qsbr_t *q, const struct mirror_zone_conf *zc,
                        int64_t now_ms);

#endif
