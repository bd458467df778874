/* SPDX-License-Identifier: MIT */
/* The master's SQLite store: reports, listings, pending changes, published objects, audit. */
#ifndef MASTER_STORE_H
#define MASTER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "entry.h"

/* One SQLite file in WAL mode, created on first open; the schema carries a
 * version (meta.schema_version). The listings table is the state the next
 * serial will publish; the pending table holds, per key, the net change
 * since the last published serial (add/replace, or remove of a key that the
 * last serial carried), each with the moment it was decided. Because
 * listings, pending and the state digest change in one transaction, a crash
 * can never lose a change between the store and the publisher.
 *
 * Every mutating call must run between master_store_begin and
 * master_store_commit (or _rollback). The store is not thread-safe: one
 * caller at a time (the daemon holds a mutex). */
typedef struct master_store master_store_t;

#define MASTER_STORE_SCHEMA 2              /* 2: delistings.noop, serials.dl_upto, meta.count4 */
#define MASTER_NEVER        253402300799LL /* 9999-12-31T23:59:59Z: "until removed" */

enum master_kind { MASTER_KIND_POLICY, MASTER_KIND_MANUAL, MASTER_KIND_IMPORT, MASTER_KIND_N };
enum master_source { MASTER_SRC_USER, MASTER_SRC_SPAMTRAP, MASTER_SRC_N };

const char *master_kind_name(int kind);
int master_kind_parse(const char *s); /* -1 if unknown */
const char *master_source_name(int src);
int master_source_parse(const char *s); /* -1 if unknown */

/* A listing as the store keeps it: the published entry plus policy data. */
typedef struct {
    bl_entry_t e;
    int kind;
    int64_t decided_ms;     /* when this version of the listing was decided */
    int64_t last_report_ms; /* 0 if none */
} master_listing_t;

/* Opens (creating if needed) the store at path for feed. sync_full selects
 * PRAGMA synchronous=FULL (survives power loss) over NORMAL (survives
 * process crashes). A store created for another feed is refused (BL_EFEED). */
int master_store_open(const char *path, const char *feed, int sync_full, master_store_t **out);
/* Makes SQLite put its temporary files (large sorts, statement journals) in
 * the directory of the store at path, not in /var/tmp, /tmp or the working
 * directory: the daemon then writes only where its configuration says, which
 * a read-only root (a container) needs. Call once, before any store is open. */
int master_store_temp_dir(const char *path);
/* SQLite's process-wide settings, before any other store function: no
 * memory statistics, which would take one process-wide mutex on every
 * allocation of every connection (the writer's and the readers' alike). */
void master_store_process_init(void);
/* Opens an existing store read-only (SQLITE_OPEN_READONLY): a reader for
 * lookups beside the daemon's writer. It never takes the write lock and
 * never waits for the writer (WAL readers see the last commit). BL_EFEED,
 * BL_EVERSION as above; BL_EIO if the store does not exist. The handle
 * has no mutex of its own (SQLITE_OPEN_NOMUTEX): one thread at a time
 * uses it, its caller serialises them. */
int master_store_open_reader(const char *path, const char *feed, master_store_t **out);
void master_store_close(master_store_t *s);
/* NULL while the store works; else why it cannot be written (any thread may ask). */
const char *master_store_fault(const master_store_t *s);
/* The last SQLite error message (static until the next call). */
const char *master_store_errmsg(const master_store_t *s);
const char *master_store_feed(const master_store_t *s);

/* Write transaction (BEGIN IMMEDIATE). The state digest and entry count are
 * loaded at begin and written back at commit. */
int master_store_begin(master_store_t *s);
int master_store_commit(master_store_t *s);
void master_store_rollback(master_store_t *s);

/* Read transaction on a second connection (snapshots): everything read
 * until _read_end sees the database as it was at _read_begin. */
int master_store_read_begin(master_store_t *s);
void master_store_read_end(master_store_t *s);
/* The same without loading the state digest and count: a short read
 * transaction for a few point reads (a lookup) that see one snapshot and
 * take the file locks once. Ends with master_store_read_end. */
int master_store_lookup_begin(master_store_t *s);

/* Current (unpublished) state digest and entry count; valid inside a
 * transaction, or after master_store_load_meta outside one. */
int master_store_load_meta(master_store_t *s);
const bl_digest_t *master_store_digest(const master_store_t *s);
uint64_t master_store_count(const master_store_t *s);

/* Listings. get returns 0 or BL_ENOTFOUND. put inserts or replaces (no-op if
 * identical) and records the pending change. del removes, records the
 * pending removal and a delisting record (cause: "expired",
 * "operator:technical-error", ...); old (may be NULL) receives the removed
 * listing. */
int master_store_listing_get(master_store_t *s, const bl_prefix_t *key, master_listing_t *out);
int master_store_listing_put(master_store_t *s, const master_listing_t *l);
int master_store_listing_del(master_store_t *s, const bl_prefix_t *key, int64_t decided_ms,
                             const char *cause, master_listing_t *old);
/* Finds the listing covering addr: the longest listed prefix that contains
 * it (addr itself first). A few index seeks whatever the prefix lengths. */
int master_store_listing_cover(master_store_t *s, const bl_prefix_t *addr, master_listing_t *out);
/* Delists every listing with expires_at <= now_ms/1000 (decided at now_ms).
 * *n receives how many. */
int master_store_expire(master_store_t *s, int64_t now_ms, size_t *n);
/* Iterates listings in key order starting after `after` (NULL: from the
 * start); fn returning non-zero stops and is returned. */
int master_store_listing_each(master_store_t *s, const bl_prefix_t *after,
                              int (*fn)(void *ctx, const master_listing_t *l), void *ctx);
/* Recomputes the digest over all listings (bl_digest_of semantics). */
int master_store_digest_full(master_store_t *s, bl_digest_t *d, uint64_t *count);
/* Recomputes the digest and compares it and the count with the stored ones
 * (verify_digest_on_start): BL_EDIGEST on a mismatch (logged), 0 when they
 * agree (logged with the time it took). */
int master_store_verify_digest(master_store_t *s);

/* Reports. */
typedef struct {
    bl_prefix_t key;
    int source;
    int64_t t_ms;         /* when the spam was seen */
    int64_t received_ms;  /* when the master accepted the report */
    const char *evidence; /* may be NULL */
    int64_t id;           /* set by master_store_report_add: the report id a review names */
} master_report_t;
int master_store_report_add(master_store_t *s, master_report_t *r);
/* Counts and times of reports leave out the ones a review discounted. */
/* Reports for key with from_ms < t_ms <= to_ms: count per source and the
 * latest t_ms (0 if none). */
int master_store_report_count(master_store_t *s, const bl_prefix_t *key, int64_t from_ms,
                              int64_t to_ms, uint64_t count[MASTER_SRC_N], int64_t *last_ms);
/* Latest report time of key over all time (0 if none), and the total count. */
int master_store_report_last(master_store_t *s, const bl_prefix_t *key, int64_t *last_ms,
                             uint64_t *total);
/* Deletes reports received before before_ms (retention). */
int master_store_report_prune(master_store_t *s, int64_t before_ms, size_t *n);

/* Operator removals (re-listing grace). get returns 0 or BL_ENOTFOUND. */
int master_store_removal_put(master_store_t *s, const bl_prefix_t *key, int64_t removed_ms,
                             const char *reason);
int master_store_removal_get(master_store_t *s, const bl_prefix_t *key, int64_t *removed_ms);
int master_store_removal_del(master_store_t *s, const bl_prefix_t *key);

/* Delisting records: the latest one for key (BL_ENOTFOUND if none). serial
 * is 0 while the delisting waits for the publisher. */
typedef struct {
    int64_t decided_ms;
    uint64_t serial;
    char cause[48];
    int noop; /* the prefix was never published: nothing to propagate */
} master_delisting_t;
int master_store_delisting_last(master_store_t *s, const bl_prefix_t *key, master_delisting_t *out);
/* The latest delisting (by decided_ms; on a tie the longer prefix) of any
 * prefix covering addr, addr itself included (BL_ENOTFOUND if none). */
int master_store_delisting_cover(master_store_t *s, const bl_prefix_t *addr,
                                 master_delisting_t *out);
/* Oldest decided_ms of delistings carried by serials above acked (0 if none). */
int master_store_delisting_oldest_after(master_store_t *s, uint64_t acked, int64_t *decided_ms);

/* The SQLite handle, for modules with their own tables (master/reviews.c);
 * the caller's statements must be reset or finalized before the store's
 * next transaction. */
void *master_store_db(master_store_t *s);

/* Audit log of operator actions. */
int master_store_audit(master_store_t *s, int64_t t_ms, const char *actor, const char *action,
                       const char *target, const char *reason, const char *detail);
/* One audit entry (strings NULL when not recorded; valid during the call). */
typedef struct {
    int64_t id, t_ms;
    const char *actor, *action, *target, *reason, *detail;
} master_audit_t;
/* Calls fn with at most max_rows entries at or after since_ms whose id is
 * below before_id (0: no bound), newest first, until fn returns non-zero
 * (returned then). */
int master_store_audit_each(master_store_t *s, int64_t since_ms, int64_t before_id,
                            int64_t max_rows, int (*fn)(void *ctx, const master_audit_t *e),
                            void *ctx);

/* Pending changes for the publisher, in key order: removals and additions,
 * each array allocated (caller frees). */
int master_store_pending(master_store_t *s, bl_change_t **rem, size_t *nrem, bl_change_t **add,
                         size_t *nadd);
uint64_t master_store_pending_count(master_store_t *s);

/* Published objects. */
typedef struct {
    uint64_t serial;
    int type; /* BL_OBJ_DELTA or BL_OBJ_SNAPSHOT */
    uint64_t base_serial;
    uint8_t digest[BL_DIGEST_SIZE];
    uint64_t n_entries;
    uint64_t bytes;
    int64_t created_ms;
    char path[512];
} master_object_t;
/* Last published serial and its digest (0 and zero digest before the first). */
int master_store_last_serial(master_store_t *s, uint64_t *serial, uint8_t digest[BL_DIGEST_SIZE]);
/* Records a published delta: clears pending, stamps delistings waiting for a
 * serial, advances the last serial. Run in the same transaction that read
 * the pending changes. */
int master_store_published(master_store_t *s, const master_object_t *o);
/* Records a snapshot object (no state change). */
int master_store_object_add(master_store_t *s, const master_object_t *o);
int master_store_object_del(master_store_t *s, uint64_t serial, int type);
/* All recorded objects in serial order (caller frees *out). */
int master_store_objects(master_store_t *s, master_object_t **out, size_t *n);

/* Digest and entry count of a published serial (BL_ENOTFOUND if unknown);
 * either output may be NULL. */
int master_store_serial_info(master_store_t *s, uint64_t serial, uint8_t digest[BL_DIGEST_SIZE],
                             uint64_t *n_entries);

/* Public signing keys this master has used (id: first 8 bytes of the key's
 * SHA-256, raw: the 32-byte public key). add ignores a known key. */
int master_store_key_add(master_store_t *s, const uint8_t id[8], const uint8_t raw[32],
                         int64_t now_ms);
/* Calls fn with every recorded key, oldest first; fn returning non-zero stops. */
int master_store_keys(master_store_t *s, int (*fn)(void *ctx, const uint8_t raw[32]), void *ctx);

/* Listings of one family (BL_AF4 or BL_AF6); valid like master_store_count. */
uint64_t master_store_count_af(const master_store_t *s, int af);

/* Delistings not covered by a serial that every active mirror acknowledged
 * (acked): how many, the oldest decision time (0 if none), and in
 * *oldest_serial (may be NULL) the first serial that carries the oldest: a
 * mirror whose acknowledged serial is below it holds that delisting back
 * (0 when none propagates or the oldest is not published yet). */
int master_store_delistings_after(master_store_t *s, uint64_t acked, uint64_t *n,
                                  int64_t *oldest_ms, uint64_t *oldest_serial);
/* Calls fn with the decision time of every delisting carried by serials
 * (from, to]. */
int master_store_delistings_between(master_store_t *s, uint64_t from, uint64_t to,
                                    void (*fn)(void *ctx, int64_t decided_ms), void *ctx);
/* Counts the delistings past acked decided at or before cutoff_ms whose id
 * is above *last_id, and raises *last_id past them (window-broken counter). */
int master_store_delistings_overdue(master_store_t *s, uint64_t acked, int64_t cutoff_ms,
                                    int64_t *last_id, uint64_t *n);
/* Creation time of serial (0 if unknown). */
int64_t master_store_serial_time(master_store_t *s, uint64_t serial);
/* Iterates the known mirrors. */
int master_store_mirrors(master_store_t *s,
                         void (*fn)(void *ctx, const char *name, uint64_t acked, int64_t last_ms),
                         void *ctx);

/* Mirrors (filled by master/acks): the serial the mirror holds now (set,
 * not raised: a mirror that lost its state holds less than before), and
 * the last contact. */
int master_store_mirror_ack(master_store_t *s, const char *name, uint64_t serial, int64_t now_ms);
/* Forgets a mirror (retired or revoked): its row is deleted; BL_ENOTFOUND
 * when the store does not know it. */
int master_store_mirror_forget(master_store_t *s, const char *name);
/* Mirrors seen since active_since_ms: how many, and how many acked >= serial. */
int master_store_mirror_count(master_store_t *s, int64_t active_since_ms, uint64_t serial,
                              uint64_t *total, uint64_t *acked);

/* The store's 6- (IPv4) or 18-byte (IPv6) key encoding, ordered like
 * bl_prefix_cmp under memcmp. Returns its length. */
size_t master_key_encode(const bl_prefix_t *p, uint8_t out[18]);
int master_key_decode(const void *b, size_t n, bl_prefix_t *out);

#endif
