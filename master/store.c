/* SPDX-License-Identifier: MIT */
/* The master's SQLite store: schema, prepared statements and the change bookkeeping. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "grow.h"
#include "log.h"
#include "obj.h"
#include "store.h"
#include "util.h"

enum {
    Q_META_GET,
    Q_META_SET,
    Q_L_GET,
    Q_L_PUT,
    Q_L_DEL,
    Q_P_GET,
    Q_P_PUT,
    Q_P_DEL,
    Q_DL_ADD,
    Q_R_ADD,
    Q_R_COUNT,
    Q_R_LAST,
    Q_RM_PUT,
    Q_RM_GET,
    Q_RM_DEL,
    Q_DL_LAST,
    Q_AUDIT,
    Q_P_ALL,
    Q_P_COUNT,
    Q_EXP_SEL,
    Q_EXP_DEL,
    Q_MIRROR_ACK,
    Q_MIRROR_COUNT,
    Q_L_FLOOR,
    Q_DL_FLOOR,
    Q_READ_BEGIN,
    Q_READ_END,
    Q_N
};

static const char *const sql[Q_N] = {
    [Q_META_GET] = "SELECT v FROM meta WHERE k=?1",
    [Q_META_SET] = "INSERT INTO meta(k,v) VALUES(?1,?2) ON CONFLICT(k) DO UPDATE SET v=?2",
    [Q_L_GET] = "SELECT a,reason,listed_at,expires_at,kind,decided_ms,last_report_ms FROM listings "
                "WHERE key=?1",
    [Q_L_PUT] = "INSERT OR REPLACE INTO listings(key,a,reason,listed_at,expires_at,kind,decided_ms,"
                "last_report_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
    [Q_L_DEL] = "DELETE FROM listings WHERE key=?1",
    [Q_P_GET] = "SELECT was_pub FROM pending WHERE key=?1",
    [Q_P_PUT] = "INSERT OR REPLACE INTO pending(key,op,a,reason,listed_at,expires_at,decided_ms,"
                "was_pub) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
    [Q_P_DEL] = "DELETE FROM pending WHERE key=?1",
    [Q_DL_ADD] = "INSERT INTO delistings(key,decided_ms,cause,noop) VALUES(?1,?2,?3,?4)",
    [Q_R_ADD] = "INSERT INTO reports(key,source,t_ms,received_ms,evidence) VALUES(?1,?2,?3,?4,?5)",
    [Q_R_COUNT] = "SELECT source,count(*),max(t_ms) FROM reports WHERE key=?1 AND t_ms>?2 AND "
                  "t_ms<=?3 AND id NOT IN (SELECT report_id FROM discounted) GROUP BY source",
    [Q_R_LAST] = "SELECT max(t_ms),count(*) FROM reports WHERE key=?1 AND id NOT IN (SELECT "
                 "report_id FROM discounted)",
    [Q_RM_PUT] = "INSERT OR REPLACE INTO removals(key,removed_ms,reason) VALUES(?1,?2,?3)",
    [Q_RM_GET] = "SELECT removed_ms FROM removals WHERE key=?1",
    [Q_RM_DEL] = "DELETE FROM removals WHERE key=?1",
    [Q_DL_LAST] =
        "SELECT d.decided_ms,coalesce((SELECT min(serial) FROM serials WHERE "
        "dl_upto>=d.id),0),d.cause,d.noop FROM delistings d WHERE d.key=?1 ORDER BY d.id DESC "
        "LIMIT 1",
    [Q_AUDIT] = "INSERT INTO audit(t_ms,actor,action,target,reason,detail) "
                "VALUES(?1,?2,?3,?4,?5,?6)",
    [Q_P_ALL] = "SELECT key,op,a,reason,listed_at,expires_at,decided_ms FROM pending ORDER BY key",
    [Q_P_COUNT] = "SELECT count(*) FROM pending",
    [Q_EXP_SEL] = "SELECT key,a,reason,listed_at,expires_at FROM listings WHERE expires_at<=?1",
    [Q_EXP_DEL] = "DELETE FROM listings WHERE expires_at<=?1",
    [Q_MIRROR_ACK] = "INSERT INTO mirrors(name,acked_serial,last_contact_ms,first_seen_ms) "
                     "VALUES(?1,?2,?3,?3) ON CONFLICT(name) DO UPDATE SET "
                     "acked_serial=?2,last_contact_ms=?3",
    [Q_MIRROR_COUNT] = "SELECT count(*),coalesce(sum(acked_serial>=?2),0) FROM mirrors "
                       "WHERE last_contact_ms>=?1",
    /* The greatest key at or below ?1 of the family whose keys start with
     * the byte ?2 (a seek backwards in the key order: see cover_walk). */
    [Q_L_FLOOR] = "SELECT key,a,reason,listed_at,expires_at,kind,decided_ms,last_report_ms FROM "
                  "listings WHERE key<=?1 AND key>=?2 ORDER BY key DESC LIMIT 1",
    [Q_DL_FLOOR] = "SELECT key FROM delistings WHERE key<=?1 AND key>=?2 ORDER BY key DESC LIMIT 1",
    [Q_READ_BEGIN] = "BEGIN",
    [Q_READ_END] = "ROLLBACK",
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v);"
    "CREATE TABLE IF NOT EXISTS listings(key BLOB PRIMARY KEY, a INT NOT NULL, reason INT NOT "
    "NULL, listed_at INT NOT NULL, expires_at INT NOT NULL, kind INT NOT NULL, decided_ms INT NOT "
    "NULL, last_report_ms INT NOT NULL) WITHOUT ROWID;"
    /* Covering for expiry (the key is part of every index of a WITHOUT ROWID
     * table): a mass expiry never visits the table rows one by one. */
    "CREATE INDEX IF NOT EXISTS listings_exp ON listings(expires_at, a, reason, listed_at);"
    "CREATE TABLE IF NOT EXISTS pending(key BLOB PRIMARY KEY, op INT NOT NULL, a INT, reason INT, "
    "listed_at INT, expires_at INT, decided_ms INT NOT NULL, was_pub INT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS reports(id INTEGER PRIMARY KEY, key BLOB NOT NULL, source INT NOT "
    "NULL, t_ms INT NOT NULL, received_ms INT NOT NULL, evidence TEXT);"
    "CREATE INDEX IF NOT EXISTS reports_key ON reports(key, t_ms);"
    "CREATE TABLE IF NOT EXISTS removals(key BLOB PRIMARY KEY, removed_ms INT NOT NULL, reason "
    "TEXT) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS delistings(id INTEGER PRIMARY KEY, key BLOB NOT NULL, decided_ms "
    "INT NOT NULL, cause TEXT NOT NULL, noop INT NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS delistings_key ON delistings(key);"
    /* One row per published delta; dl_upto is the last delisting id it
     * carries, so a delisting's serial is the first serial with dl_upto >= id
     * (publishing stamps nothing per delisting). */
    "CREATE TABLE IF NOT EXISTS serials(serial INTEGER PRIMARY KEY, dl_upto INT NOT NULL, "
    "created_ms INT NOT NULL, digest BLOB NOT NULL, n_entries INT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS objects(serial INT NOT NULL, type INT NOT NULL, base_serial INT "
    "NOT NULL, digest BLOB NOT NULL, n_entries INT NOT NULL, bytes INT NOT NULL, created_ms INT "
    "NOT NULL, path TEXT NOT NULL, PRIMARY KEY(serial, type));"
    "CREATE TABLE IF NOT EXISTS audit(id INTEGER PRIMARY KEY, t_ms INT NOT NULL, actor TEXT, "
    "action TEXT NOT NULL, target TEXT, reason TEXT, detail TEXT);"
    "CREATE TABLE IF NOT EXISTS mirrors(name TEXT PRIMARY KEY, acked_serial INT NOT NULL, "
    "last_contact_ms INT NOT NULL, first_seen_ms INT NOT NULL);"
    /* Every public key this master has signed with: spool objects signed by
     * an earlier key still verify after a rotation and a restart. */
    "CREATE TABLE IF NOT EXISTS keys(id BLOB PRIMARY KEY, raw BLOB NOT NULL, added_ms INT NOT "
    "NULL) WITHOUT ROWID;"
    /* Reports a review found made in error: they no longer count (master/reviews.c). */
    "CREATE TABLE IF NOT EXISTS discounted(report_id INTEGER PRIMARY KEY, t_ms INT NOT NULL, "
    "review_id INT NOT NULL);"
    /* Review requests from the public listener, worked by the operators (master/reviews.c). */
    "CREATE TABLE IF NOT EXISTS reviews(id INTEGER PRIMARY KEY, created_ms INT NOT NULL, "
    "updated_ms INT NOT NULL, state TEXT NOT NULL, category TEXT NOT NULL, ip TEXT NOT NULL, "
    "prefix TEXT NOT NULL, report_id INT NOT NULL, token_hash BLOB NOT NULL, email TEXT NOT "
    "NULL, name TEXT NOT NULL, title TEXT NOT NULL, relationship TEXT NOT NULL, subject TEXT NOT "
    "NULL, reason TEXT NOT NULL, documentation TEXT NOT NULL, url TEXT NOT NULL, answer TEXT NOT "
    "NULL, operator TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS reviews_state ON reviews(state, updated_ms);";

struct master_store {
    sqlite3 *db;
    sqlite3_stmt *q[Q_N];
    char feed[BL_FEED_MAX + 1];
    bl_digest_t digest;
    uint64_t count, count4;
    int in_tx;
    int dirty;         /* digest/count changed in this transaction */
    _Atomic int fault; /* SQLite's primary code of the last failure the store cannot retry away */
    sqlite3_int64 changes_at_begin; /* rows changed before this write transaction */
};

static const char *const kind_names[MASTER_KIND_N] = {"policy", "manual", "import"};
static const char *const source_names[MASTER_SRC_N] = {"user", "spamtrap"};

const char *master_kind_name(int kind)
{
    return kind >= 0 && kind < MASTER_KIND_N ? kind_names[kind] : "?";
}

int master_kind_parse(const char *s)
{
    for (int i = 0; i < MASTER_KIND_N; i++)
        if (!strcmp(s, kind_names[i]))
            return i;
    return -1;
}

const char *master_source_name(int src)
{
    return src >= 0 && src < MASTER_SRC_N ? source_names[src] : "?";
}

int master_source_parse(const char *s)
{
    for (int i = 0; i < MASTER_SRC_N; i++)
        if (!strcmp(s, source_names[i]))
            return i;
    return -1;
}

size_t master_key_encode(const bl_prefix_t *p, uint8_t out[18])
{
    out[0] = p->af;
    if (p->af == BL_AF4) {
        memcpy(out + 1, p->addr, 4);
        out[5] = p->len;
        return 6;
    }
    memcpy(out + 1, p->addr, 16);
    out[17] = p->len;
    return 18;
}

int master_key_decode(const void *b, size_t n, bl_prefix_t *out)
{
    const uint8_t *k = b;
    memset(out, 0, sizeof *out);
    if (n == 6 && k[0] == BL_AF4) {
        out->af = BL_AF4;
        memcpy(out->addr, k + 1, 4);
        out->len = k[5];
    } else if (n == 18 && k[0] == BL_AF6) {
        out->af = BL_AF6;
        memcpy(out->addr, k + 1, 16);
        out->len = k[17];
    } else {
        return BL_EFIELD;
    }
    return bl_prefix_check(out) ? BL_EFIELD : 0;
}

/* How long a statement waits for a write lock another process holds; while
 * one has been held past that (the BUSY fault), STORE_BUSY_FAULT_MS, so that
 * requests are refused at once instead of each holding a thread that long. */
#define STORE_BUSY_MS       10000
#define STORE_BUSY_FAULT_MS 200

/* Remembers a failure that says the store cannot be written (read-only file or directory, full
 * disk, I/O error, a damaged file): the health checks report it until a write transaction
 * commits. A write lock held by another process past the busy timeout (an sqlite3 shell left
 * in a transaction) is reported too, until a write transaction begins. Constraint errors are
 * the caller's business, not the store's health. */
static void note_fault(master_store_t *s, int ec)
{
    switch (ec & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        if (atomic_exchange(&s->fault, SQLITE_BUSY) != SQLITE_BUSY) {
            BL_ERR("store_locked", "msg=%s",
                   bl_log_q("another process holds the store's write lock: reports and listings "
                            "are refused (503) until it lets go"));
            sqlite3_busy_timeout(s->db, STORE_BUSY_FAULT_MS);
        }
        break;
    case SQLITE_READONLY:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_PERM:
        atomic_store(&s->fault, ec & 0xff);
        break;
    default:
        break;
    }
}

const char *master_store_fault(const master_store_t *s)
{
    switch (s ? atomic_load(&s->fault) : 0) {
    case 0:
        return NULL;
    case SQLITE_BUSY:
        return "another process holds the store's write lock (an sqlite3 shell left in a "
               "transaction?): the master cannot record reports or listings";
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return "the store is read-only: the master cannot record reports or listings";
    case SQLITE_FULL:
        return "the store's disk is full: the master cannot record reports or listings";
    case SQLITE_CANTOPEN:
        return "the store cannot be opened for writing (its directory or journal files)";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return "the store's file is damaged";
    default:
        return "the store reports I/O errors";
    }
}

static int sqerr(master_store_t *s, const char *what)
{
    BL_ERR("store_error", "op=%s error=%s", what, bl_log_q(sqlite3_errmsg(s->db)));
    int ec = sqlite3_errcode(s->db);
    note_fault(s, ec);
    if (ec == SQLITE_FULL)
        return BL_ENOSPC;
    if (ec == SQLITE_READONLY)
        return BL_EREADONLY;
    if (ec == SQLITE_BUSY || ec == SQLITE_LOCKED)
        return BL_EBUSY;
    if (ec == SQLITE_NOMEM)
        return BL_ENOMEM;
    return BL_EIO;
}

static sqlite3_stmt *Q(master_store_t *s, int i)
{
    sqlite3_stmt *st = s->q[i];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

/* Steps a one-row lookup: 0 with st on its row (the caller reads it, then
 * resets st), BL_ENOTFOUND when there is no row, or the store error. */
static int step_row(master_store_t *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return BL_ENOTFOUND;
    return rc == SQLITE_ROW ? 0 : sqerr(s, what);
}

static void bind_key(sqlite3_stmt *st, int i, const bl_prefix_t *p)
{
    uint8_t k[18];
    size_t n = master_key_encode(p, k);
    sqlite3_bind_blob(st, i, k, (int)n, SQLITE_TRANSIENT);
}

static int col_key(sqlite3_stmt *st, int i, bl_prefix_t *p)
{
    return master_key_decode(sqlite3_column_blob(st, i), (size_t)sqlite3_column_bytes(st, i), p);
}

static int exec(master_store_t *s, const char *q)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, q, NULL, NULL, &msg) != SQLITE_OK) {
        BL_ERR("store_error", "op=exec error=%s", bl_log_q(msg ? msg : "?"));
        sqlite3_free(msg);
        int ec = sqlite3_errcode(s->db);
        note_fault(s, ec);
        return ec == SQLITE_FULL                          ? BL_ENOSPC
               : ec == SQLITE_READONLY                    ? BL_EREADONLY
               : ec == SQLITE_BUSY || ec == SQLITE_LOCKED ? BL_EBUSY
                                                          : BL_EIO;
    }
    return 0;
}

static int meta_get_blob(master_store_t *s, const char *k, void *out, size_t n)
{
    sqlite3_stmt *st = Q(s, Q_META_GET);
    sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
    int rc = step_row(s, st, "meta_get");
    if (rc)
        return rc;
    if ((size_t)sqlite3_column_bytes(st, 0) != n) {
        sqlite3_reset(st);
        return BL_EFIELD;
    }
    memcpy(out, sqlite3_column_blob(st, 0), n);
    sqlite3_reset(st); /* an open statement would pin an old WAL snapshot */
    return 0;
}

static int meta_get_int(master_store_t *s, const char *k, int64_t *v)
{
    sqlite3_stmt *st = Q(s, Q_META_GET);
    sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
    int rc = step_row(s, st, "meta_get");
    if (rc)
        return rc;
    *v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

static int meta_set_blob(master_store_t *s, const char *k, const void *v, size_t n)
{
    sqlite3_stmt *st = Q(s, Q_META_SET);
    sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, v, (int)n, SQLITE_STATIC);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : sqerr(s, "meta_set");
}

static int meta_set_int(master_store_t *s, const char *k, int64_t v)
{
    sqlite3_stmt *st = Q(s, Q_META_SET);
    sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : sqerr(s, "meta_set");
}

static int meta_set_text(master_store_t *s, const char *k, const char *v)
{
    sqlite3_stmt *st = Q(s, Q_META_SET);
    sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : sqerr(s, "meta_set");
}

void master_store_process_init(void)
{
    /* Fails (SQLITE_MISUSE) once SQLite is initialised: then the statistics stay on. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int master_store_temp_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = !slash          ? sqlite3_mprintf(".")
                : slash == path ? sqlite3_mprintf("/")
                                : sqlite3_mprintf("%.*s", (int)(slash - path), path);
    if (!dir)
        return BL_ENOMEM;
    /* From SQLite's allocator, as it requires: PRAGMA temp_store_directory frees and replaces it.
     */
    sqlite3_free(sqlite3_temp_directory);
    sqlite3_temp_directory = dir;
    return 0;
}

/* The version first: a store of another schema must be refused as such,
 * not by a statement that does not compile against it. */
static int version_check(master_store_t *s, const char *path)
{
    sqlite3_stmt *vst;
    int rc = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT v FROM meta WHERE k='schema_version'", -1, &vst, NULL) ==
        SQLITE_OK) {
        if (sqlite3_step(vst) == SQLITE_ROW &&
            sqlite3_column_int64(vst, 0) != MASTER_STORE_SCHEMA) {
            BL_ERR("store_schema", "path=%s schema=%lld want=%d", bl_log_q(path),
                   (long long)sqlite3_column_int64(vst, 0), MASTER_STORE_SCHEMA);
            rc = BL_EVERSION;
        }
        sqlite3_finalize(vst);
    }
    return rc;
}

static int prepare_all(master_store_t *s)
{
    for (int i = 0; i < Q_N; i++)
        if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL) !=
            SQLITE_OK)
            return sqerr(s, "prepare");
    return 0;
}

static int feed_check(master_store_t *s, const char *path, const char *feed)
{
    sqlite3_stmt *st = Q(s, Q_META_GET);
    sqlite3_bind_text(st, 1, "feed", -1, SQLITE_STATIC);
    int rc = 0;
    if (sqlite3_step(st) != SQLITE_ROW ||
        strcmp((const char *)sqlite3_column_text(st, 0), feed) != 0) {
        BL_ERR("store_feed", "path=%s want=%s", bl_log_q(path), bl_log_q(feed));
        rc = BL_EFEED;
    }
    sqlite3_reset(st);
    return rc;
}

/* A store handle on the SQLite file at path opened with flags; on failure
 * *out is what to close (it may be NULL). */
static int store_connect(const char *path, const char *feed, int flags, master_store_t **out)
{
    *out = NULL;
    if (strlen(feed) > BL_FEED_MAX || !*feed)
        return BL_EINVAL;
    master_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return BL_ENOMEM;
    *out = s;
    snprintf(s->feed, sizeof s->feed, "%s", feed);
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        BL_ERR("store_open", "path=%s error=%s", bl_log_q(path),
               bl_log_q(s->db ? sqlite3_errmsg(s->db) : "out of memory"));
        return BL_EIO;
    }
    sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
    return 0;
}

int master_store_open(const char *path, const char *feed, int sync_full, master_store_t **out)
{
    *out = NULL;
    master_store_t *s;
    int rc = store_connect(path, feed, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &s);
    if (rc)
        goto fail;
    /* SQLite falls back to read-only when the file is not writable (created by root, the
     * daemon runs as blsync); in WAL mode even BEGIN IMMEDIATE succeeds then, and every write
     * would fail later. Refused here, with the reason. */
    if (sqlite3_db_readonly(s->db, "main") == 1) {
        BL_ERR("store_open", "path=%s error=%s", bl_log_q(path),
               bl_log_q("read-only: the daemon's user cannot write the file"));
        rc = BL_EREADONLY;
        goto fail;
    }
    if ((rc = exec(s, "PRAGMA journal_mode=WAL")) ||
        (rc = exec(s, sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL")) ||
        (rc = exec(s, "PRAGMA foreign_keys=OFF; PRAGMA cache_size=-262144")))
        goto fail;
    if ((rc = exec(s, "BEGIN IMMEDIATE")))
        goto fail;
    if ((rc = exec(s, schema))) {
        exec(s, "ROLLBACK");
        goto fail;
    }
    if ((rc = version_check(s, path)) || (rc = prepare_all(s))) {
        exec(s, "ROLLBACK");
        goto fail;
    }
    int64_t ver;
    rc = meta_get_int(s, "schema_version", &ver);
    if (rc == BL_ENOTFOUND) {
        bl_digest_t z;
        bl_digest_zero(&z);
        uint8_t zb[BL_DIGEST_SIZE];
        bl_digest_to_bytes(&z, zb);
        if ((rc = meta_set_int(s, "schema_version", MASTER_STORE_SCHEMA)) ||
            (rc = meta_set_text(s, "feed", feed)) ||
            (rc = meta_set_blob(s, "digest", zb, sizeof zb)) ||
            (rc = meta_set_int(s, "count", 0)) || (rc = meta_set_int(s, "count4", 0)) ||
            (rc = meta_set_int(s, "last_serial", 0)) ||
            (rc = meta_set_blob(s, "last_digest", zb, sizeof zb))) {
            exec(s, "ROLLBACK");
            goto fail;
        }
        BL_INFO("store_created", "path=%s feed=%s schema=%d", bl_log_q(path), bl_log_q(feed),
                MASTER_STORE_SCHEMA);
    } else if (rc) {
        exec(s, "ROLLBACK");
        goto fail;
    } else if (ver != MASTER_STORE_SCHEMA) {
        BL_ERR("store_schema", "path=%s schema=%lld want=%d", bl_log_q(path), (long long)ver,
               MASTER_STORE_SCHEMA);
        exec(s, "ROLLBACK");
        rc = BL_EVERSION;
        goto fail;
    } else if ((rc = feed_check(s, path, feed))) {
        exec(s, "ROLLBACK");
        goto fail;
    }
    if ((rc = exec(s, "COMMIT")))
        goto fail;
    if ((rc = master_store_load_meta(s)))
        goto fail;
    *out = s;
    return 0;
fail:
    master_store_close(s);
    return rc;
}

int master_store_open_reader(const char *path, const char *feed, master_store_t **out)
{
    *out = NULL;
    master_store_t *s;
    int64_t ver;
    int rc;
    if ((rc = store_connect(path, feed, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, &s)) ||
        (rc = exec(s, "PRAGMA cache_size=-65536")) || (rc = version_check(s, path)) ||
        (rc = prepare_all(s)) || (rc = meta_get_int(s, "schema_version", &ver)) ||
        (rc = feed_check(s, path, feed)))
        goto fail;
    *out = s;
    return 0;
fail:
    master_store_close(s);
    return rc;
}

void master_store_close(master_store_t *s)
{
    if (!s)
        return;
    for (int i = 0; i < Q_N; i++)
        sqlite3_finalize(s->q[i]);
    sqlite3_close(s->db);
    free(s);
}

const char *master_store_errmsg(const master_store_t *s)
{
    return sqlite3_errmsg(s->db);
}

const char *master_store_feed(const master_store_t *s)
{
    return s->feed;
}

int master_store_load_meta(master_store_t *s)
{
    uint8_t b[BL_DIGEST_SIZE];
    int64_t c;
    int rc = meta_get_blob(s, "digest", b, sizeof b);
    if (!rc)
        rc = meta_get_int(s, "count", &c);
    if (rc)
        return rc;
    bl_digest_from_bytes(&s->digest, b);
    s->count = (uint64_t)c;
    rc = meta_get_int(s, "count4", &c);
    if (rc == BL_ENOTFOUND) {
        /* Older stores: count once (IPv4 keys sort first and start with 4). */
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM listings WHERE key<x'05'", -1, &st,
                               NULL) != SQLITE_OK)
            return sqerr(s, "count4");
        c = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_finalize(st);
        rc = 0;
    }
    if (rc)
        return rc;
    s->count4 = (uint64_t)c;
    return 0;
}

uint64_t master_store_count_af(const master_store_t *s, int af)
{
    return af == BL_AF4 ? s->count4 : s->count - s->count4;
}

int master_store_begin(master_store_t *s)
{
    for (int i = 0; i < Q_N; i++)
        sqlite3_reset(s->q[i]); /* release any snapshot a statement still pins */
    int rc = exec(s, "BEGIN IMMEDIATE");
    if (rc)
        return rc;
    int busy = SQLITE_BUSY;
    if (atomic_compare_exchange_strong(&s->fault, &busy, 0)) {
        sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
        BL_INFO("store_writable", "msg=%s", bl_log_q("the store's write lock is free again"));
    }
    s->in_tx = 1;
    s->dirty = 0;
    s->changes_at_begin = sqlite3_total_changes64(s->db);
    if ((rc = master_store_load_meta(s))) {
        master_store_rollback(s);
        return rc;
    }
    return 0;
}

int master_store_read_begin(master_store_t *s)
{
    for (int i = 0; i < Q_N; i++)
        sqlite3_reset(s->q[i]);
    int rc = exec(s, "BEGIN");
    if (rc)
        return rc;
    /* The WAL snapshot is taken at the first read, not at BEGIN. */
    if ((rc = master_store_load_meta(s)))
        exec(s, "ROLLBACK");
    return rc;
}

void master_store_read_end(master_store_t *s)
{
    if (sqlite3_get_autocommit(s->db) == 0 && sqlite3_step(Q(s, Q_READ_END)) != SQLITE_DONE)
        sqerr(s, "read_end");
}

int master_store_lookup_begin(master_store_t *s)
{
    sqlite3_stmt *st = Q(s, Q_READ_BEGIN);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : sqerr(s, "lookup_begin");
}

int master_store_commit(master_store_t *s)
{
    int rc = 0;
    if (s->dirty) {
        uint8_t b[BL_DIGEST_SIZE];
        bl_digest_to_bytes(&s->digest, b);
        if ((rc = meta_set_blob(s, "digest", b, sizeof b)) ||
            (rc = meta_set_int(s, "count", (int64_t)s->count)) ||
            (rc = meta_set_int(s, "count4", (int64_t)s->count4))) {
            master_store_rollback(s);
            return rc;
        }
    }
    if ((rc = exec(s, "COMMIT"))) {
        master_store_rollback(s);
        return rc;
    }
    s->in_tx = 0;
    if (atomic_load(&s->fault) && sqlite3_total_changes64(s->db) > s->changes_at_begin) {
        BL_INFO("store_writable", "msg=%s", bl_log_q("a write committed: the store is healthy"));
        atomic_store(&s->fault, 0);
    }
    return 0;
}

void master_store_rollback(master_store_t *s)
{
    if (sqlite3_get_autocommit(s->db) == 0)
        exec(s, "ROLLBACK");
    s->in_tx = 0;
    master_store_load_meta(s);
}

const bl_digest_t *master_store_digest(const master_store_t *s)
{
    return &s->digest;
}

uint64_t master_store_count(const master_store_t *s)
{
    return s->count;
}

static void row_to_listing(sqlite3_stmt *st, int c, master_listing_t *l)
{
    l->e.a = (uint8_t)sqlite3_column_int(st, c);
    l->e.reason = (uint16_t)sqlite3_column_int(st, c + 1);
    l->e.listed_at = sqlite3_column_int64(st, c + 2);
    l->e.expires_at = sqlite3_column_int64(st, c + 3);
    l->kind = sqlite3_column_int(st, c + 4);
    l->decided_ms = sqlite3_column_int64(st, c + 5);
    l->last_report_ms = sqlite3_column_int64(st, c + 6);
}

int master_store_listing_get(master_store_t *s, const bl_prefix_t *key, master_listing_t *out)
{
    sqlite3_stmt *st = Q(s, Q_L_GET);
    bind_key(st, 1, key);
    int rc = step_row(s, st, "listing_get");
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    out->e.key = *key;
    row_to_listing(st, 0, out);
    sqlite3_reset(st);
    return 0;
}

/* Whether the last published serial carries key: a pending row knows; with
 * none, the published state equals the listings table for this key. */
static int was_published(master_store_t *s, const bl_prefix_t *key, int listed_now, int *out)
{
    sqlite3_stmt *st = Q(s, Q_P_GET);
    bind_key(st, 1, key);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        sqlite3_reset(st);
        return 0;
    }
    if (rc != SQLITE_DONE)
        return sqerr(s, "pending_get");
    *out = listed_now;
    return 0;
}

static int pending_put(master_store_t *s, const bl_prefix_t *key, int op, const bl_entry_t *e,
                       int64_t decided_ms, int was_pub)
{
    sqlite3_stmt *st = Q(s, Q_P_PUT);
    bind_key(st, 1, key);
    sqlite3_bind_int(st, 2, op);
    if (e) {
        sqlite3_bind_int(st, 3, e->a);
        sqlite3_bind_int(st, 4, e->reason);
        sqlite3_bind_int64(st, 5, e->listed_at);
        sqlite3_bind_int64(st, 6, e->expires_at);
    }
    sqlite3_bind_int64(st, 7, decided_ms);
    sqlite3_bind_int(st, 8, was_pub);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : sqerr(s, "pending_put");
}

static int same_entry(const bl_entry_t *a, const bl_entry_t *b)
{
    return a->a == b->a && a->reason == b->reason && a->listed_at == b->listed_at &&
           a->expires_at == b->expires_at;
}

int master_store_listing_put(master_store_t *s, const master_listing_t *l)
{
    if (bl_entry_check(&l->e))
        return BL_EFIELD;
    master_listing_t old;
    int rc = master_store_listing_get(s, &l->e.key, &old);
    if (rc && rc != BL_ENOTFOUND)
        return rc;
    int exists = rc == 0;
    if (exists && same_entry(&old.e, &l->e) && old.kind == l->kind &&
        old.last_report_ms == l->last_report_ms)
        return 0;
    sqlite3_stmt *st = Q(s, Q_L_PUT);
    bind_key(st, 1, &l->e.key);
    sqlite3_bind_int(st, 2, l->e.a);
    sqlite3_bind_int(st, 3, l->e.reason);
    sqlite3_bind_int64(st, 4, l->e.listed_at);
    sqlite3_bind_int64(st, 5, l->e.expires_at);
    sqlite3_bind_int(st, 6, l->kind);
    sqlite3_bind_int64(st, 7, l->decided_ms);
    sqlite3_bind_int64(st, 8, l->last_report_ms);
    if (sqlite3_step(st) != SQLITE_DONE)
        return sqerr(s, "listing_put");
    if (exists && same_entry(&old.e, &l->e))
        return 0; /* policy data only: nothing to publish */
    int was_pub;
    if ((rc = was_published(s, &l->e.key, exists, &was_pub)))
        return rc;
    if ((rc = pending_put(s, &l->e.key, 1, &l->e, l->decided_ms, was_pub)))
        return rc;
    if (exists)
        bl_digest_sub(&s->digest, &old.e);
    else {
        s->count++;
        s->count4 += l->e.key.af == BL_AF4;
    }
    bl_digest_add(&s->digest, &l->e);
    s->dirty = 1;
    return 0;
}

static int record_removal(master_store_t *s, const bl_prefix_t *key, int64_t decided_ms,
                          const char *cause)
{
    int was_pub, rc;
    if ((rc = was_published(s, key, 1, &was_pub)))
        return rc;
    if (was_pub) {
        rc = pending_put(s, key, 0, NULL, decided_ms, 1);
    } else {
        sqlite3_stmt *st = Q(s, Q_P_DEL);
        bind_key(st, 1, key);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sqerr(s, "pending_del");
    }
    if (rc)
        return rc;
    sqlite3_stmt *st = Q(s, Q_DL_ADD);
    bind_key(st, 1, key);
    sqlite3_bind_int64(st, 2, decided_ms);
    sqlite3_bind_text(st, 3, cause, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, !was_pub);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : sqerr(s, "delisting_add");
}

int master_store_listing_del(master_store_t *s, const bl_prefix_t *key, int64_t decided_ms,
                             const char *cause, master_listing_t *old)
{
    master_listing_t o;
    int rc = master_store_listing_get(s, key, &o);
    if (rc)
        return rc;
    sqlite3_stmt *st = Q(s, Q_L_DEL);
    bind_key(st, 1, key);
    if (sqlite3_step(st) != SQLITE_DONE)
        return sqerr(s, "listing_del");
    if ((rc = record_removal(s, key, decided_ms, cause)))
        return rc;
    bl_digest_sub(&s->digest, &o.e);
    s->count--;
    s->count4 -= key->af == BL_AF4;
    s->dirty = 1;
    if (old)
        *old = o;
    return 0;
}

/* addr cut to its first len bits. */
static bl_prefix_t prefix_cut(const bl_prefix_t *addr, int len)
{
    bl_prefix_t p = *addr;
    int max = bl_prefix_maxlen(addr);
    p.len = (uint8_t)len;
    for (int i = len / 8; i < max / 8; i++)
        p.addr[i] &= (i == len / 8 && len % 8) ? (uint8_t)(0xff << (8 - len % 8)) : 0;
    return p;
}

/* How many leading address bits a and b share (at most max). */
static int common_bits(const bl_prefix_t *a, const bl_prefix_t *b, int max)
{
    for (int i = 0; i < max / 8; i++) {
        unsigned x = a->addr[i] ^ b->addr[i];
        if (x)
            return i * 8 + __builtin_clz(x) - (int)(8 * sizeof x - 8);
    }
    return max;
}

/*
 * The keys of a table (statement q: the greatest key at or below ?1 within
 * the family ?2) that cover addr cut to len, longest first. Keys sort by
 * address bits, then by length, so every covering key lies at or below the
 * key of addr/len, and the longest of them is the greatest. One seek finds
 * the greatest key F at or below it: either F covers addr (fn is called
 * with the statement on F's row, and the walk goes on below F's length),
 * or F shares k < len leading bits with addr and no key longer than k can
 * cover addr (it would sort between F and addr/len), so the next seek
 * starts at addr/k. A lookup costs a seek per covering key plus a few
 * misses, instead of one probe per possible length (33 for IPv4, 129 for
 * IPv6). fn returns 0 to go on; anything else ends the walk and is
 * returned. BL_ENOTFOUND when the walk ends without.
 */
static int cover_walk(master_store_t *s, int q, const bl_prefix_t *addr, int len,
                      int (*fn)(void *ctx, sqlite3_stmt *st, const bl_prefix_t *key), void *ctx)
{
    int max = bl_prefix_maxlen(addr);
    uint8_t fam = addr->af;
    while (len >= 0) {
        bl_prefix_t k = prefix_cut(addr, len), f;
        sqlite3_stmt *st = Q(s, q);
        bind_key(st, 1, &k);
        sqlite3_bind_blob(st, 2, &fam, 1, SQLITE_STATIC);
        int rc = step_row(s, st, "cover");
        if (rc)
            return rc;
        if ((rc = col_key(st, 0, &f))) {
            sqlite3_reset(st);
            return rc;
        }
        bl_prefix_t cut = prefix_cut(addr, f.len <= len ? f.len : len);
        if (f.len <= len && bl_prefix_eq(&cut, &f)) {
            rc = fn(ctx, st, &f);
            sqlite3_reset(st);
            if (rc)
                return rc;
            len = f.len - 1;
        } else {
            sqlite3_reset(st);
            int c = common_bits(&f, &k, max);
            len = c < len ? c : len - 1;
        }
    }
    return BL_ENOTFOUND;
}

static int take_listing(void *ctx, sqlite3_stmt *st, const bl_prefix_t *key)
{
    master_listing_t *out = ctx;
    memset(out, 0, sizeof *out);
    out->e.key = *key;
    row_to_listing(st, 1, out);
    return 1;
}

int master_store_listing_cover(master_store_t *s, const bl_prefix_t *addr, master_listing_t *out)
{
    int rc = cover_walk(s, Q_L_FLOOR, addr, addr->len, take_listing, out);
    return rc == 1 ? 0 : rc;
}

typedef struct {
    master_store_t *s;
    int found;
    master_delisting_t *d;
} dl_cover_t;

static int take_delisting(void *ctx, sqlite3_stmt *st, const bl_prefix_t *key)
{
    dl_cover_t *c = ctx;
    bl_prefix_t k = *key;
    sqlite3_reset(st);
    master_delisting_t d;
    int rc = master_store_delisting_last(c->s, &k, &d);
    if (rc)
        return rc == BL_ENOTFOUND ? 0 : rc;
    if (!c->found || d.decided_ms > c->d->decided_ms) {
        c->found = 1;
        *c->d = d;
    }
    return 0;
}

int master_store_delisting_cover(master_store_t *s, const bl_prefix_t *addr,
                                 master_delisting_t *out)
{
    dl_cover_t c = {s, 0, out};
    int rc = cover_walk(s, Q_DL_FLOOR, addr, bl_prefix_maxlen(addr), take_delisting, &c);
    if (rc && rc != BL_ENOTFOUND)
        return rc;
    return c.found ? 0 : BL_ENOTFOUND;
}

/* Expiry is set-based: one pass over the expiring rows for the digest, then
 * four statements, so a million expiries cost seconds, not minutes. */
int master_store_expire(master_store_t *s, int64_t now_ms, size_t *n)
{
    static const char *const q[] = {
        "CREATE TEMP TABLE IF NOT EXISTS exp_unpub(key BLOB PRIMARY KEY) WITHOUT ROWID",
        "DELETE FROM exp_unpub",
        /* Keys added since the last serial simply vanish from the next one. */
        "INSERT INTO exp_unpub SELECT p.key FROM pending p WHERE p.was_pub=0 AND EXISTS (SELECT 1 "
        "FROM listings l WHERE l.key=p.key AND l.expires_at<=?1)",
        "DELETE FROM pending WHERE key IN (SELECT key FROM exp_unpub)",
        /* The others are removals of keys that the last serial carries. */
        "INSERT OR REPLACE INTO pending(key,op,decided_ms,was_pub) SELECT l.key,0,?2,1 FROM "
        "listings l WHERE l.expires_at<=?1 AND l.key NOT IN (SELECT key FROM exp_unpub)",
        "INSERT INTO delistings(key,decided_ms,cause,noop) SELECT key,?2,'expired',key IN "
        "(SELECT key FROM exp_unpub) FROM listings WHERE "
        "expires_at<=?1",
        "DELETE FROM listings WHERE expires_at<=?1",
    };
    int64_t now_s = now_ms / 1000;
    size_t cnt = 0;
    *n = 0;
    sqlite3_stmt *st = s->q[Q_EXP_SEL];
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, now_s);
    bl_digest_t d = s->digest;
    uint64_t cnt4 = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        bl_entry_t e;
        memset(&e, 0, sizeof e);
        if (col_key(st, 0, &e.key)) {
            sqlite3_reset(st);
            return BL_EFIELD;
        }
        e.a = (uint8_t)sqlite3_column_int(st, 1);
        e.reason = (uint16_t)sqlite3_column_int(st, 2);
        e.listed_at = sqlite3_column_int64(st, 3);
        e.expires_at = sqlite3_column_int64(st, 4);
        bl_digest_sub(&d, &e);
        cnt++;
        cnt4 += e.key.af == BL_AF4;
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE)
        return sqerr(s, "expire_select");
    if (!cnt)
        return 0;
    for (size_t i = 0; i < sizeof q / sizeof *q; i++) {
        sqlite3_stmt *x;
        if (sqlite3_prepare_v2(s->db, q[i], -1, &x, NULL) != SQLITE_OK)
            return sqerr(s, "expire_prepare");
        sqlite3_bind_int64(x, 1, now_s);
        sqlite3_bind_int64(x, 2, now_ms);
        int rc = sqlite3_step(x) == SQLITE_DONE ? 0 : sqerr(s, "expire");
        sqlite3_finalize(x);
        if (rc)
            return rc;
    }
    s->digest = d;
    s->count -= cnt;
    s->count4 -= cnt4;
    s->dirty = 1;
    *n = cnt;
    return 0;
}

int master_store_listing_each(master_store_t *s, const bl_prefix_t *after,
                              int (*fn)(void *ctx, const master_listing_t *l), void *ctx)
{
    sqlite3_stmt *st;
    const char *q = after ? "SELECT key,a,reason,listed_at,expires_at,kind,decided_ms,"
                            "last_report_ms FROM listings WHERE key>?1 ORDER BY key"
                          : "SELECT key,a,reason,listed_at,expires_at,kind,decided_ms,"
                            "last_report_ms FROM listings ORDER BY key";
    if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
        return sqerr(s, "listing_each");
    if (after)
        bind_key(st, 1, after);
    int rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        master_listing_t l;
        memset(&l, 0, sizeof l);
        if (col_key(st, 0, &l.e.key)) {
            rc = BL_EFIELD;
            break;
        }
        row_to_listing(st, 1, &l);
        if ((rc = fn(ctx, &l)))
            break;
    }
    if (!rc && step != SQLITE_DONE)
        rc = sqerr(s, "listing_each");
    sqlite3_finalize(st);
    return rc;
}

typedef struct {
    bl_digest_t d;
    uint64_t n;
} digest_ctx_t;

static int digest_one(void *ctx, const master_listing_t *l)
{
    digest_ctx_t *c = ctx;
    bl_digest_add(&c->d, &l->e);
    c->n++;
    return 0;
}

int master_store_digest_full(master_store_t *s, bl_digest_t *d, uint64_t *count)
{
    digest_ctx_t c;
    bl_digest_zero(&c.d);
    c.n = 0;
    int rc = master_store_listing_each(s, NULL, digest_one, &c);
    *d = c.d;
    *count = c.n;
    return rc;
}

int master_store_verify_digest(master_store_t *s)
{
    bl_digest_t full;
    uint64_t n;
    uint64_t t0 = bl_mono_ns();
    int rc = master_store_digest_full(s, &full, &n);
    if (rc)
        return rc;
    char a[65], b[65];
    if (!bl_digest_eq(&full, master_store_digest(s)) || n != master_store_count(s)) {
        BL_ERR("digest_mismatch",
               "stored=%s computed=%s stored_count=%" PRIu64 " computed_count=%" PRIu64,
               bl_digest_hex(master_store_digest(s), a), bl_digest_hex(&full, b),
               master_store_count(s), n);
        return BL_EDIGEST;
    }
    BL_INFO("digest_verified", "entries=%" PRIu64 " digest=%s duration_ms=%.1f", n,
            bl_digest_hex(&full, a), (bl_mono_ns() - t0) / 1e6);
    return 0;
}

int master_store_report_add(master_store_t *s, master_report_t *r)
{
    sqlite3_stmt *st = Q(s, Q_R_ADD);
    bind_key(st, 1, &r->key);
    sqlite3_bind_int(st, 2, r->source);
    sqlite3_bind_int64(st, 3, r->t_ms);
    sqlite3_bind_int64(st, 4, r->received_ms);
    if (r->evidence)
        sqlite3_bind_text(st, 5, r->evidence, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        return sqerr(s, "report_add");
    r->id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

void *master_store_db(master_store_t *s)
{
    return s->db;
}

int master_store_report_count(master_store_t *s, const bl_prefix_t *key, int64_t from_ms,
                              int64_t to_ms, uint64_t count[MASTER_SRC_N], int64_t *last_ms)
{
    for (int i = 0; i < MASTER_SRC_N; i++)
        count[i] = 0;
    *last_ms = 0;
    sqlite3_stmt *st = Q(s, Q_R_COUNT);
    bind_key(st, 1, key);
    sqlite3_bind_int64(st, 2, from_ms);
    sqlite3_bind_int64(st, 3, to_ms);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int src = sqlite3_column_int(st, 0);
        if (src >= 0 && src < MASTER_SRC_N)
            count[src] += (uint64_t)sqlite3_column_int64(st, 1);
        int64_t t = sqlite3_column_int64(st, 2);
        if (t > *last_ms)
            *last_ms = t;
    }
    return step == SQLITE_DONE ? 0 : sqerr(s, "report_count");
}

int master_store_report_last(master_store_t *s, const bl_prefix_t *key, int64_t *last_ms,
                             uint64_t *total)
{
    sqlite3_stmt *st = Q(s, Q_R_LAST);
    bind_key(st, 1, key);
    if (sqlite3_step(st) != SQLITE_ROW)
        return sqerr(s, "report_last");
    *last_ms = sqlite3_column_int64(st, 0);
    *total = (uint64_t)sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    return 0;
}

int master_store_report_prune(master_store_t *s, int64_t before_ms, size_t *n)
{
    sqlite3_stmt *st;
    /* Rows are appended in the order they are received, so the old ones are
     * a prefix of the rowid order: no time index to maintain on every insert. */
    if (sqlite3_prepare_v2(s->db,
                           "DELETE FROM reports WHERE id<(SELECT coalesce((SELECT id FROM reports "
                           "WHERE received_ms>=?1 ORDER BY id LIMIT 1),(SELECT max(id)+1 FROM "
                           "reports)))",
                           -1, &st, NULL) != SQLITE_OK)
        return sqerr(s, "report_prune");
    sqlite3_bind_int64(st, 1, before_ms);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sqerr(s, "report_prune");
    *n = rc ? 0 : (size_t)sqlite3_changes(s->db);
    sqlite3_finalize(st);
    return rc;
}

int master_store_removal_put(master_store_t *s, const bl_prefix_t *key, int64_t removed_ms,
                             const char *reason)
{
    sqlite3_stmt *st = Q(s, Q_RM_PUT);
    bind_key(st, 1, key);
    sqlite3_bind_int64(st, 2, removed_ms);
    sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : sqerr(s, "removal_put");
}

int master_store_removal_get(master_store_t *s, const bl_prefix_t *key, int64_t *removed_ms)
{
    sqlite3_stmt *st = Q(s, Q_RM_GET);
    bind_key(st, 1, key);
    int rc = step_row(s, st, "removal_get");
    if (rc)
        return rc;
    *removed_ms = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
}

int master_store_removal_del(master_store_t *s, const bl_prefix_t *key)
{
    sqlite3_stmt *st = Q(s, Q_RM_DEL);
    bind_key(st, 1, key);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : sqerr(s, "removal_del");
}

int master_store_delisting_last(master_store_t *s, const bl_prefix_t *key, master_delisting_t *out)
{
    sqlite3_stmt *st = Q(s, Q_DL_LAST);
    bind_key(st, 1, key);
    int rc = step_row(s, st, "delisting_last");
    if (rc)
        return rc;
    out->decided_ms = sqlite3_column_int64(st, 0);
    out->serial = (uint64_t)sqlite3_column_int64(st, 1);
    snprintf(out->cause, sizeof out->cause, "%s", (const char *)sqlite3_column_text(st, 2));
    out->noop = sqlite3_column_int(st, 3);
    sqlite3_reset(st);
    return 0;
}

int master_store_delisting_oldest_after(master_store_t *s, uint64_t acked, int64_t *decided_ms)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            s->db,
            "SELECT coalesce(min(decided_ms),0) FROM delistings WHERE noop=0 AND id>(SELECT "
            "coalesce(max(dl_upto),0) FROM serials WHERE serial<=?1)",
            -1, &st, NULL) != SQLITE_OK)
        return sqerr(s, "delisting_oldest");
    sqlite3_bind_int64(st, 1, (int64_t)acked);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : sqerr(s, "delisting_oldest");
    *decided_ms = rc ? 0 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

int master_store_audit(master_store_t *s, int64_t t_ms, const char *actor, const char *action,
                       const char *target, const char *reason, const char *detail)
{
    sqlite3_stmt *st = Q(s, Q_AUDIT);
    sqlite3_bind_int64(st, 1, t_ms);
    sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, target, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, detail, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sqerr(s, "audit");
    if (!rc)
        BL_INFO("audit", "actor=%s action=%s target=%s reason=%s", bl_log_q(actor ? actor : "-"),
                bl_log_q(action), bl_log_q(target ? target : "-"), bl_log_q(reason ? reason : "-"));
    return rc;
}

int master_store_audit_each(master_store_t *s, int64_t since_ms, int64_t before_id,
                            int64_t max_rows, int (*fn)(void *ctx, const master_audit_t *e),
                            void *ctx)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id,t_ms,actor,action,target,reason,detail FROM audit WHERE "
                           "t_ms>=?1 AND (?2=0 OR id<?2) ORDER BY id DESC LIMIT ?3",
                           -1, &st, NULL) != SQLITE_OK)
        return sqerr(s, "audit_each");
    sqlite3_bind_int64(st, 1, since_ms);
    sqlite3_bind_int64(st, 2, before_id);
    sqlite3_bind_int64(st, 3, max_rows);
    int step = SQLITE_DONE, rc = 0;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        master_audit_t e = {.id = sqlite3_column_int64(st, 0),
                            .t_ms = sqlite3_column_int64(st, 1),
                            .actor = (const char *)sqlite3_column_text(st, 2),
                            .action = (const char *)sqlite3_column_text(st, 3),
                            .target = (const char *)sqlite3_column_text(st, 4),
                            .reason = (const char *)sqlite3_column_text(st, 5),
                            .detail = (const char *)sqlite3_column_text(st, 6)};
        rc = fn(ctx, &e);
    }
    if (!rc && step != SQLITE_DONE)
        rc = sqerr(s, "audit_each");
    sqlite3_finalize(st);
    return rc;
}

static int grow(bl_change_t **a, size_t *cap, size_t n)
{
    bl_change_t *p = bl_grow(*a, cap, n + 1, sizeof **a);
    if (!p)
        return BL_ENOMEM;
    *a = p;
    return 0;
}

int master_store_pending(master_store_t *s, bl_change_t **rem, size_t *nrem, bl_change_t **add,
                         size_t *nadd)
{
    bl_change_t *r = NULL, *a = NULL;
    size_t nr = 0, na = 0, cr = 0, ca = 0;
    int rc = 0, step;
    sqlite3_stmt *st = Q(s, Q_P_ALL);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        bl_change_t c;
        memset(&c, 0, sizeof c);
        if ((rc = col_key(st, 0, &c.e.key)))
            break;
        c.decided_ms = sqlite3_column_int64(st, 6);
        if (sqlite3_column_int(st, 1) == 0) {
            if ((rc = grow(&r, &cr, nr)))
                break;
            r[nr++] = c;
        } else {
            c.e.a = (uint8_t)sqlite3_column_int(st, 2);
            c.e.reason = (uint16_t)sqlite3_column_int(st, 3);
            c.e.listed_at = sqlite3_column_int64(st, 4);
            c.e.expires_at = sqlite3_column_int64(st, 5);
            if ((rc = grow(&a, &ca, na)))
                break;
            a[na++] = c;
        }
    }
    sqlite3_reset(st);
    if (!rc && step != SQLITE_DONE)
        rc = sqerr(s, "pending");
    if (rc) {
        free(r);
        free(a);
        return rc;
    }
    *rem = r;
    *nrem = nr;
    *add = a;
    *nadd = na;
    return 0;
}

uint64_t master_store_pending_count(master_store_t *s)
{
    sqlite3_stmt *st = Q(s, Q_P_COUNT);
    uint64_t n = sqlite3_step(st) == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return n;
}

int master_store_last_serial(master_store_t *s, uint64_t *serial, uint8_t digest[BL_DIGEST_SIZE])
{
    int64_t v;
    int rc = meta_get_int(s, "last_serial", &v);
    if (!rc)
        rc = meta_get_blob(s, "last_digest", digest, BL_DIGEST_SIZE);
    if (rc)
        return rc;
    *serial = (uint64_t)v;
    return 0;
}

int master_store_object_add(master_store_t *s, const master_object_t *o)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT OR REPLACE INTO objects(serial,type,base_serial,digest,"
                           "n_entries,bytes,created_ms,path) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
                           -1, &st, NULL) != SQLITE_OK)
        return sqerr(s, "object_add");
    sqlite3_bind_int64(st, 1, (int64_t)o->serial);
    sqlite3_bind_int(st, 2, o->type);
    sqlite3_bind_int64(st, 3, (int64_t)o->base_serial);
    sqlite3_bind_blob(st, 4, o->digest, BL_DIGEST_SIZE, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (int64_t)o->n_entries);
    sqlite3_bind_int64(st, 6, (int64_t)o->bytes);
    sqlite3_bind_int64(st, 7, o->created_ms);
    sqlite3_bind_text(st, 8, o->path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sqerr(s, "object_add");
    sqlite3_finalize(st);
    return rc;
}

int master_store_published(master_store_t *s, const master_object_t *o)
{
    int rc = master_store_object_add(s, o);
    if (rc)
        return rc;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO serials(serial,dl_upto,created_ms,digest,n_entries) "
                           "VALUES(?1,(SELECT coalesce(max(id),0) FROM delistings),?2,?3,?4)",
                           -1, &st, NULL) != SQLITE_OK)
        return sqerr(s, "published");
    sqlite3_bind_int64(st, 1, (int64_t)o->serial);
    sqlite3_bind_int64(st, 2, o->created_ms);
    sqlite3_bind_blob(st, 3, o->digest, BL_DIGEST_SIZE, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)o->n_entries);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sqerr(s, "published");
    sqlite3_finalize(st);
    if (rc || (rc = exec(s, "DELETE FROM pending")))
        return rc;
    if ((rc = meta_set_int(s, "last_serial", (int64_t)o->serial)) ||
        (rc = meta_set_blob(s, "last_digest", o->digest, BL_DIGEST_SIZE)))
        return rc;
    return 0;
}

int master_store_object_del(master_store_t *s, uint64_t serial, int type)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "DELETE FROM objects WHERE serial=?1 AND type=?2", -1, &st,
                           NULL) != SQLITE_OK)
        return sqerr(s, "object_del");
    sqlite3_bind_int64(st, 1, (int64_t)serial);
    sqlite3_bind_int(st, 2, type);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sqerr(s, "object_del");
    sqlite3_finalize(st);
    return rc;
}

int master_store_objects(master_store_t *s, master_object_t **out, size_t *n)
{
    sqlite3_stmt *st;
    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT serial,type,base_serial,digest,n_entries,bytes,created_ms,path "
                           "FROM objects ORDER BY serial,type",
                           -1, &st, NULL) != SQLITE_OK)
        return sqerr(s, "objects");
    master_object_t *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        master_object_t *p = bl_grow(v, &cap, cnt + 1, sizeof *v);
        if (!p) {
            rc = BL_ENOMEM;
            break;
        }
        v = p;
        master_object_t *o = &v[cnt++];
        memset(o, 0, sizeof *o);
        o->serial = (uint64_t)sqlite3_column_int64(st, 0);
        o->type = sqlite3_column_int(st, 1);
        o->base_serial = (uint64_t)sqlite3_column_int64(st, 2);
        if (sqlite3_column_bytes(st, 3) == BL_DIGEST_SIZE)
            memcpy(o->digest, sqlite3_column_blob(st, 3), BL_DIGEST_SIZE);
        o->n_entries = (uint64_t)sqlite3_column_int64(st, 4);
        o->bytes = (uint64_t)sqlite3_column_int64(st, 5);
        o->created_ms = sqlite3_column_int64(st, 6);
        snprintf(o->path, sizeof o->path, "%s", (const char *)sqlite3_column_text(st, 7));
    }
    if (!rc && step != SQLITE_DONE)
        rc = sqerr(s, "objects");
    sqlite3_finalize(st);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return 0;
}

int master_store_mirror_ack(master_store_t *s, const char *name, uint64_t serial, int64_t now_ms)
{
    sqlite3_stmt *st = Q(s, Q_MIRROR_ACK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)serial);
    sqlite3_bind_int64(st, 3, now_ms);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : sqerr(s, "mirror_ack");
}

int master_store_mirror_forget(master_store_t *s, const char *name)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "DELETE FROM mirrors WHERE name=?1", -1, &st, NULL) != SQLITE_OK)
        return sqerr(s, "mirror_forget");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sqerr(s, "mirror_forget");
    if (!rc && sqlite3_changes(s->db) == 0)
        rc = BL_ENOTFOUND;
    sqlite3_finalize(st);
    return rc;
}

int master_store_mirror_count(master_store_t *s, int64_t active_since_ms, uint64_t serial,
                              uint64_t *total, uint64_t *acked)
{
    sqlite3_stmt *st = Q(s, Q_MIRROR_COUNT);
    sqlite3_bind_int64(st, 1, active_since_ms);
    sqlite3_bind_int64(st, 2, (int64_t)serial);
    if (sqlite3_step(st) != SQLITE_ROW)
        return sqerr(s, "mirror_count");
    *total = (uint64_t)sqlite3_column_int64(st, 0);
    *acked = (uint64_t)sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    return 0;
}

/* dl_upto of serial: the last delisting id it (or an earlier serial) carries. */
static const char upto_sql[] = "(SELECT coalesce(max(dl_upto),0) FROM serials WHERE serial<=?1)";

int master_store_delistings_after(master_store_t *s, uint64_t acked, uint64_t *n,
                                  int64_t *oldest_ms, uint64_t *oldest_serial)
{
    char q[512];
    snprintf(q, sizeof q,
             "SELECT count(*),coalesce(min(decided_ms),0),"
             "(SELECT coalesce(min(serial),0) FROM serials WHERE dl_upto>=min(d.id)) "
             "FROM delistings d WHERE noop=0 AND id>%s",
             upto_sql);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
        return sqerr(s, "delistings_after");
    sqlite3_bind_int64(st, 1, (int64_t)acked);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : sqerr(s, "delistings_after");
    *n = rc ? 0 : (uint64_t)sqlite3_column_int64(st, 0);
    *oldest_ms = rc ? 0 : sqlite3_column_int64(st, 1);
    if (oldest_serial)
        *oldest_serial = rc ? 0 : (uint64_t)sqlite3_column_int64(st, 2);
    sqlite3_finalize(st);
    return rc;
}

int master_store_delistings_between(master_store_t *s, uint64_t from, uint64_t to,
                                    void (*fn)(void *ctx, int64_t decided_ms), void *ctx)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            s->db,
            "SELECT decided_ms FROM delistings WHERE noop=0 AND id>(SELECT "
            "coalesce(max(dl_upto),0) FROM serials WHERE serial<=?1) AND id<=(SELECT "
            "coalesce(max(dl_upto),0) FROM serials WHERE serial<=?2)",
            -1, &st, NULL) != SQLITE_OK)
        return sqerr(s, "delistings_between");
    sqlite3_bind_int64(st, 1, (int64_t)from);
    sqlite3_bind_int64(st, 2, (int64_t)to);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, sqlite3_column_int64(st, 0));
    int rc = step == SQLITE_DONE ? 0 : sqerr(s, "delistings_between");
    sqlite3_finalize(st);
    return rc;
}

int master_store_delistings_overdue(master_store_t *s, uint64_t acked, int64_t cutoff_ms,
                                    int64_t *last_id, uint64_t *n)
{
    char q[320];
    snprintf(
        q, sizeof q,
        "SELECT count(*),coalesce(max(id),0) FROM delistings WHERE noop=0 AND id>max(?2,%s) AND "
        "decided_ms<=?3",
        upto_sql);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, q, -1, &st, NULL) != SQLITE_OK)
        return sqerr(s, "delistings_overdue");
    sqlite3_bind_int64(st, 1, (int64_t)acked);
    sqlite3_bind_int64(st, 2, *last_id);
    sqlite3_bind_int64(st, 3, cutoff_ms);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : sqerr(s, "delistings_overdue");
    *n = 0;
    if (!rc) {
        *n = (uint64_t)sqlite3_column_int64(st, 0);
        if (*n)
            *last_id = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return rc;
}

int64_t master_store_serial_time(master_store_t *s, uint64_t serial)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT created_ms FROM serials WHERE serial=?1", -1, &st,
                           NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_int64(st, 1, (int64_t)serial);
    int64_t t = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return t;
}

int master_store_mirrors(master_store_t *s,
                         void (*fn)(void *ctx, const char *name, uint64_t acked, int64_t last_ms),
                         void *ctx)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT name,acked_serial,last_contact_ms FROM mirrors", -1, &st,
                           NULL) != SQLITE_OK)
        return sqerr(s, "mirrors");
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, (const char *)sqlite3_column_text(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
           sqlite3_column_int64(st, 2));
    int rc = step == SQLITE_DONE ? 0 : sqerr(s, "mirrors");
    sqlite3_finalize(st);
    return rc;
}

int master_store_serial_info(master_store_t *s, uint64_t serial, uint8_t digest[BL_DIGEST_SIZE],
                             uint64_t *n_entries)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT digest,n_entries FROM serials WHERE serial=?1", -1, &st,
                           NULL) != SQLITE_OK)
        return sqerr(s, "serial_info");
    sqlite3_bind_int64(st, 1, (int64_t)serial);
    int rc = BL_ENOTFOUND;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == BL_DIGEST_SIZE) {
        if (digest)
            memcpy(digest, sqlite3_column_blob(st, 0), BL_DIGEST_SIZE);
        if (n_entries)
            *n_entries = (uint64_t)sqlite3_column_int64(st, 1);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

int master_store_key_add(master_store_t *s, const uint8_t id[8], const uint8_t raw[32],
                         int64_t now_ms)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO keys(id,raw,added_ms) VALUES(?1,?2,?3)",
                           -1, &st, NULL) != SQLITE_OK)
        return sqerr(s, "key_add");
    sqlite3_bind_blob(st, 1, id, 8, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, raw, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now_ms);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sqerr(s, "key_add");
    sqlite3_finalize(st);
    return rc;
}

int master_store_keys(master_store_t *s, int (*fn)(void *ctx, const uint8_t raw[32]), void *ctx)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT raw FROM keys ORDER BY added_ms", -1, &st, NULL) !=
        SQLITE_OK)
        return sqerr(s, "keys");
    int step, rc = 0;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW)
        if (sqlite3_column_bytes(st, 0) == 32)
            rc = fn(ctx, sqlite3_column_blob(st, 0));
    if (!rc && step != SQLITE_DONE)
        rc = sqerr(s, "keys");
    sqlite3_finalize(st);
    return rc;
}
