/* SPDX-License-Identifier: MIT */
/* The publisher: the only holder of the signing key; writes, verifies and repairs the spool. */
#include "publisher.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/sha.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "err.h"
#include "grow.h"
#include "head.h"
#include "log.h"
#include "util.h"

#define QUARANTINE_KEEP 16                /* damaged files kept for inspection */
#define MERGED_KEEP     8                 /* merged catch-up deltas kept */
#define MERGE_MAX       4096              /* deltas merged at most */
#define OBJ_FILE_MAX    ((size_t)4 << 30) /* the largest spool file read back */
#define ADVANCE_MAX     (1ull << 32)      /* serials a restored master may skip at once */

typedef struct {
    uint64_t from, to;
    uint8_t from_digest[BL_DIGEST_SIZE];
    char path[PATH_MAX];
} merged_t;

struct master_publisher {
    master_pub_conf_t c;
    master_store_t *s;
    char dir[PATH_MAX];
    char qdir[PATH_MAX]; /* spool/FEED/quarantine */
    char mdir[PATH_MAX]; /* spool/FEED/merged */
    master_pub_hook_t hook;
    void *hook_ctx;
    master_pub_stats_t st;
    master_store_t *reader; /* async snapshots, or NULL */
    int snap_wanted;
    int job_running;
    bl_key_t *key;     /* the private key everything is signed with */
    bl_key_t *retired; /* the key before a reload, while a snapshot job still signs with it */
    bl_keyring_t *ring;
    merged_t merged[MERGED_KEEP];
    size_t nmerged;
    uint64_t head_serial; /* the last published serial and its digest, as committed */
    uint8_t head_digest[BL_DIGEST_SIZE];
    struct http_layout *http; /* NULL until the first HTTP layout */
    int http_dirty;           /* the spool changed since the last layout */
};

struct http_layout;
static void http_free(struct http_layout *h);
static void http_forget(struct http_layout *h, uint64_t serial, int type);

struct master_snap_job {
    master_publisher_t *p;
    const bl_key_t *key;
    uint64_t serial;
    uint8_t digest[BL_DIGEST_SIZE];
    int64_t now_ms;
    int rc;
    master_object_t o;
    uint64_t t0;
};

void master_pub_conf_defaults(master_pub_conf_t *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->spool, sizeof c->spool, "/var/lib/blsync/spool");
    snprintf(c->key_path, sizeof c->key_path, "/etc/blsync/master.key");
    c->snapshot_every = 64;
    c->history_count = 1024;
    c->history_bytes = 1ULL << 30;
    c->object_ttl_ms = 7LL * 24 * 3600 * 1000;
    c->async_snapshot_entries = 100000;
    c->http = 1;
    c->http_head_ttl_ms = 60000;
    c->http_head_refresh_ms = 5000;
    c->http_merge_points = 8;
}

/* ---- keys ---------------------------------------------------------------- */

static int ring_add_raw(void *ctx, const uint8_t raw[32])
{
    bl_key_t *k = NULL;
    if (bl_key_from_raw(raw, &k) == 0 && bl_keyring_add(ctx, k) != 0)
        bl_key_free(k);
    return 0;
}

/* Reads the key file; on success it signs everything from now on. */
static int load_key(master_publisher_t *p)
{
    bl_key_t *k = NULL;
    errno = 0;
    int rc = bl_key_load(p->c.key_path, &k);
    if (!rc && !bl_key_is_private(k))
        rc = BL_EKEY;
    if (rc) {
        BL_ERR("publisher_key", "path=%s error=%s reason=%s", bl_log_q(p->c.key_path),
               bl_errname(rc), bl_log_q(rc == BL_EIO && errno ? strerror(errno) : bl_strerror(rc)));
        bl_key_free(k);
        return rc;
    }
    char hex[17];
    if (!bl_keyring_find(p->ring, bl_key_id(k))) {
        ring_add_raw(p->ring, bl_key_raw(k));
        if (!(rc = master_store_begin(p->s))) {
            rc = master_store_key_add(p->s, bl_key_id(k), bl_key_raw(k), bl_now_ms());
            rc = rc ? (master_store_rollback(p->s), rc) : master_store_commit(p->s);
        }
        if (rc)
            BL_WARN("publisher_key_not_recorded", "key_id=%s error=%s", bl_key_id_hex(k, hex),
                    bl_errname(rc));
    }
    if (p->job_running) {
        bl_key_free(p->retired); /* a job signs with p->key only: at most one is retired */
        p->retired = p->key;
    } else {
        bl_key_free(p->key);
    }
    p->key = k;
    BL_INFO("publisher_key", "path=%s key_id=%s", bl_log_q(p->c.key_path), bl_key_id_hex(k, hex));
    return 0;
}

int master_publisher_reload_key(master_publisher_t *p)
{
    p->http_dirty = 1; /* the head is signed with the new key, key certificates listed */
    return load_key(p);
}

const bl_keyring_t *master_publisher_keys(const master_publisher_t *p)
{
    return p->ring;
}

/* ---- life cycle ------------------------------------------------------------ */

int master_publisher_new(const master_pub_conf_t *c, master_store_t *s, master_publisher_t **out)
{
    *out = NULL;
    master_publisher_t *p = calloc(1, sizeof *p);
    if (!p)
        return BL_ENOMEM;
    p->c = *c;
    p->s = s;
    int rc = BL_ENOMEM;
    if (snprintf(p->dir, sizeof p->dir, "%s/%s", c->spool, master_store_feed(s)) >= 400) {
        rc = BL_EINVAL;
        goto fail;
    }
    snprintf(p->qdir, sizeof p->qdir, "%.400s/quarantine", p->dir);
    snprintf(p->mdir, sizeof p->mdir, "%.400s/merged", p->dir);
    if ((rc = bl_mkdir_p(p->dir, 0755)) || (rc = bl_mkdir_p(p->qdir, 0750)) ||
        (rc = bl_mkdir_p(p->mdir, 0755))) {
        int e = errno;
        BL_ERR("spool_mkdir", "dir=%s error=%s", bl_log_q(p->dir),
               bl_log_q(rc == BL_EIO ? strerror(e) : bl_strerror(rc)));
        /* A read-only file system (a container's root) or a directory the
         * daemon's user cannot write: the spool is named, not the key. */
        if (rc == BL_EIO && (e == EROFS || e == EACCES || e == EPERM))
            rc = BL_EREADONLY;
        goto fail;
    }
    if (!(p->ring = bl_keyring_new()))
        goto fail;
    if ((rc = master_store_keys(s, ring_add_raw, p->ring)) || (rc = load_key(p)))
        goto fail;
    *out = p;
    return 0;
fail:
    bl_keyring_free(p->ring);
    free(p);
    return rc;
}

void master_publisher_free(master_publisher_t *p)
{
    if (!p)
        return;
    bl_key_free(p->key);
    bl_key_free(p->retired);
    bl_keyring_free(p->ring);
    http_free(p->http);
    free(p);
}

void master_publisher_set_hook(master_publisher_t *p, master_pub_hook_t fn, void *ctx)
{
    p->hook = fn;
    p->hook_ctx = ctx;
}

const master_pub_stats_t *master_publisher_stats(const master_publisher_t *p)
{
    return &p->st;
}

const char *master_publisher_dir(const master_publisher_t *p)
{
    return p->dir;
}

static const char *ext_of(int type)
{
    return type == BL_OBJ_SNAPSHOT ? "snap" : "delta";
}

static void obj_path(const master_publisher_t *p, uint64_t serial, int type, char *out, size_t n)
{
    snprintf(out, n, "%.400s/%020" PRIu64 ".%s", p->dir, serial, ext_of(type));
}

/* Parses "NNN.delta" / "NNN.snap"; returns the type or 0. */
static int parse_name(const char *name, uint64_t *serial)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(name, &end, 10);
    if (errno || end == name || *end != '.')
        return 0;
    *serial = v;
    if (!strcmp(end, ".delta"))
        return BL_OBJ_DELTA;
    if (!strcmp(end, ".snap"))
        return BL_OBJ_SNAPSHOT;
    return 0;
}

/* ---- verification and quarantine ------------------------------------------ */

/* Checks a verified header against the store's record of the object. */
static int check_header(master_publisher_t *p, const bl_hdr_t *h, const master_object_t *o)
{
    if (strcmp(h->feed, master_store_feed(p->s)))
        return BL_EFEED;
    if (h->type != o->type)
        return BL_ETYPE;
    if (h->serial != o->serial)
        return BL_EROLLBACK; /* another serial's object under this name: a replayed file */
    if (memcmp(h->digest, o->digest, BL_DIGEST_SIZE))
        return BL_EFORK;
    if (o->type == BL_OBJ_DELTA) {
        uint8_t base[BL_DIGEST_SIZE];
        if (h->base_serial != o->base_serial)
            return BL_EBASESERIAL;
        if (master_store_serial_info(p->s, h->base_serial, base, NULL) == 0 &&
            memcmp(base, h->base_digest, BL_DIGEST_SIZE))
            return BL_EBASEDIGEST;
    }
    return 0;
}

/* Reads the object's file back and verifies it completely. The file's own
 * structure and header are judged first, so that a whole object of another
 * serial under this name (a replayed file) is reported as that, whatever its
 * size; the recorded size then catches what a valid object cannot explain. */
static int verify_object(master_publisher_t *p, const master_object_t *o)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = bl_file_read(o->path, OBJ_FILE_MAX, &data, &len);
    if (rc == BL_EIO && errno == ENOENT)
        return BL_ENOTFOUND;
    bl_obj_t obj;
    if (!rc && !(rc = bl_obj_open(data, len, p->ring, &bl_limits_spool, &obj, NULL)))
        rc = check_header(p, &obj.hdr, o);
    if (!rc && len != o->bytes)
        rc = len < o->bytes ? BL_ETRUNC : BL_ETRAILING;
    free(data);
    return rc;
}

/* Keeps the newest QUARANTINE_KEEP files of the quarantine directory. */
static void quarantine_prune(master_publisher_t *p)
{
    DIR *d = opendir(p->qdir);
    if (!d)
        return;
    char(*names)[256] = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char(*nv)[256] = bl_grow(names, &cap, n + 1, sizeof *names);
        if (!nv)
            break;
        names = nv;
        snprintf(names[n++], sizeof names[0], "%s", de->d_name);
    }
    closedir(d);
    /* Names end in the quarantine time: the smallest times go first. */
    while (n > QUARANTINE_KEEP) {
        size_t oldest = 0;
        for (size_t i = 1; i < n; i++)
            if (strcmp(strrchr(names[i], '@') ? strrchr(names[i], '@') : names[i],
                       strrchr(names[oldest], '@') ? strrchr(names[oldest], '@') : names[oldest]) <
                0)
                oldest = i;
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", p->qdir, names[oldest]);
        unlink(path);
        memmove(&names[oldest], &names[oldest + 1], (n - oldest - 1) * sizeof *names);
        n--;
    }
    free(names);
}

/* Moves a damaged file aside and forgets its object (no transaction open). */
static int quarantine_one(master_publisher_t *p, const master_object_t *o, int err, int64_t now_ms)
{
    const char *base = strrchr(o->path, '/');
    base = base ? base + 1 : o->path;
    char to[PATH_MAX + 600];
    snprintf(to, sizeof to, "%.420s/%.200s.%s@%020" PRId64, p->qdir, base, bl_errname(err), now_ms);
    int moved = rename(o->path, to) == 0;
    if (!moved && errno != ENOENT)
        unlink(o->path); /* never serve it again, even if it cannot be kept */
    int rc = master_store_begin(p->s);
    if (!rc) {
        rc = master_store_object_del(p->s, o->serial, o->type);
        rc = rc ? (master_store_rollback(p->s), rc) : master_store_commit(p->s);
    }
    http_forget(p->http, o->serial, o->type); /* its by-hash link holds the same damaged bytes */
    p->http_dirty = 1;
    p->st.quarantined_total++;
    p->st.quarantined_by[-err > 0 && -err < 64 ? -err : 0]++;
    p->st.last_quarantine_error = err;
    BL_ERR("spool_quarantined", "serial=%" PRIu64 " type=%s error=%s reason=%s path=%s moved_to=%s",
           o->serial, ext_of(o->type), bl_errname(err), bl_log_q(bl_strerror(err)),
           bl_log_q(o->path), bl_log_q(moved ? to : "-"));
    quarantine_prune(p);
    return rc;
}

/* 1 if the last published serial is reachable from the newest snapshot
 * through recorded deltas (so every mirror can catch up), 0 if not. */
static int head_reachable(master_publisher_t *p, int *rc_out)
{
    master_object_t *o;
    size_t n;
    uint64_t last;
    uint8_t dg[BL_DIGEST_SIZE];
    *rc_out = master_store_last_serial(p->s, &last, dg);
    if (*rc_out || (*rc_out = master_store_objects(p->s, &o, &n)))
        return 1;
    uint64_t at = 0;
    int have_snap = 0;
    for (size_t i = 0; i < n; i++)
        if (o[i].type == BL_OBJ_SNAPSHOT && o[i].serial >= at)
            at = o[i].serial, have_snap = 1;
    for (int moved = 1; have_snap && at < last && moved;) {
        moved = 0;
        for (size_t i = 0; i < n && !moved; i++)
            if (o[i].type == BL_OBJ_DELTA && o[i].base_serial == at)
                at = o[i].serial, moved = 1;
    }
    free(o);
    return last == 0 || (have_snap && at == last);
}

/* After a loss: a snapshot of the head when some serial became unreachable. */
static int repair(master_publisher_t *p, int64_t now_ms)
{
    int rc;
    if (head_reachable(p, &rc) || rc)
        return rc;
    BL_WARN("spool_repair", "action=snapshot reason=%s",
            bl_log_q("the newest snapshot does not reach the last serial"));
    return master_publisher_snapshot(p, now_ms);
}

int master_publisher_quarantine(master_publisher_t *p, uint64_t serial, int type, const char *path,
                                int err, int64_t now_ms)
{
    master_object_t *o;
    size_t n;
    int rc = master_store_objects(p->s, &o, &n);
    if (rc)
        return rc;
    ptrdiff_t hit = -1;
    for (size_t i = 0; i < n && hit < 0; i++)
        if (o[i].serial == serial && o[i].type == type && !strcmp(o[i].path, path))
            hit = (ptrdiff_t)i;
    if (hit >= 0)
        rc = quarantine_one(p, &o[hit], err, now_ms);
    free(o);
    if (hit < 0)
        return 0; /* not (or no longer) a recorded object */
    int rr = repair(p, now_ms);
    return rc ? rc : rr;
}

/* ---- writing objects --------------------------------------------------------- */

static int fail_report(master_publisher_t *p, int rc, const char *stage)
{
    p->st.failures_total++;
    p->st.last_error = rc;
    BL_ERR("publish_failed", "stage=%s error=%s reason=%s failures_total=%" PRIu64, stage,
           bl_errname(rc), bl_log_q(bl_strerror(rc)), p->st.failures_total);
    return rc;
}

typedef struct {
    bl_entry_t *e;
    size_t n, cap;
} collect_t;

static int collect(void *ctx, const master_listing_t *l)
{
    collect_t *c = ctx;
    bl_entry_t *e = bl_grow(c->e, &c->cap, c->n + 1, sizeof *c->e);
    if (!e)
        return BL_ENOMEM;
    c->e = e;
    c->e[c->n++] = l->e;
    return 0;
}

static void fill_hdr(master_publisher_t *p, bl_hdr_t *h, int type, int64_t now_ms)
{
    memset(h, 0, sizeof *h);
    h->version = BL_FORMAT_VERSION;
    h->type = (uint8_t)type;
    snprintf(h->feed, sizeof h->feed, "%s", master_store_feed(p->s));
    h->created_ms = now_ms;
    h->expires_ms = now_ms + p->c.object_ttl_ms;
}

/* Writes the snapshot of the listings read from `from` as serial into the
 * spool and describes it in *o (not recorded). want_digest (may be NULL) is
 * the digest the listings must have: a snapshot of anything else is never
 * signed. */
static int write_snapshot(master_publisher_t *p, master_store_t *from, const bl_key_t *key,
                          uint64_t serial, const uint8_t *want_digest, int64_t now_ms,
                          master_object_t *o)
{
    collect_t c = {0};
    int rc = master_store_listing_each(from, NULL, collect, &c);
    if (rc) {
        free(c.e);
        return rc;
    }
    bl_hdr_t h;
    fill_hdr(p, &h, BL_OBJ_SNAPSHOT, now_ms);
    h.serial = serial;
    bl_digest_t d;
    bl_digest_of(&d, c.e, c.n);
    bl_digest_to_bytes(&d, h.digest);
    h.n_entries = c.n;
    if (want_digest && memcmp(want_digest, h.digest, BL_DIGEST_SIZE) != 0) {
        BL_ERR("snapshot_digest_mismatch", "serial=%" PRIu64, serial);
        free(c.e);
        return BL_EDIGEST;
    }
    bl_buf_t buf;
    bl_buf_init(&buf);
    rc = bl_snapshot_write(&h, c.e, c.n, key, &buf);
    free(c.e);
    if (!rc && buf.err)
        rc = buf.err;
    memset(o, 0, sizeof *o);
    obj_path(p, serial, BL_OBJ_SNAPSHOT, o->path, sizeof o->path);
    if (!rc)
        rc = bl_file_write_atomic(o->path, buf.data, buf.len, 0644);
    if (!rc) {
        o->serial = serial;
        o->type = BL_OBJ_SNAPSHOT;
        memcpy(o->digest, h.digest, BL_DIGEST_SIZE);
        o->n_entries = c.n;
        o->bytes = buf.len;
        o->created_ms = now_ms;
    }
    bl_buf_close(&buf);
    return rc;
}

/* Drops the oldest objects beyond the count and byte limits, keeping the
 * newest snapshot and the newest delta. Files go after the commit. */
static int prune(master_publisher_t *p, char (**gone)[512], size_t *ngone)
{
    master_object_t *o;
    size_t n;
    *gone = NULL;
    *ngone = 0;
    int rc = master_store_objects(p->s, &o, &n);
    if (rc)
        return rc;
    uint64_t bytes = 0;
    ptrdiff_t newest_snap = -1, newest_delta = -1;
    for (size_t i = 0; i < n; i++) {
        bytes += o[i].bytes;
        if (o[i].type == BL_OBJ_SNAPSHOT)
            newest_snap = (ptrdiff_t)i;
        else
            newest_delta = (ptrdiff_t)i;
    }
    size_t count = n;
    char(*g)[512] = calloc(n ? n : 1, 512);
    if (!g) {
        free(o);
        return BL_ENOMEM;
    }
    for (size_t i = 0; i < n && (count > p->c.history_count || bytes > p->c.history_bytes); i++) {
        if ((ptrdiff_t)i == newest_snap || (ptrdiff_t)i == newest_delta)
            continue;
        if ((rc = master_store_object_del(p->s, o[i].serial, o[i].type)))
            break;
        snprintf(g[(*ngone)++], 512, "%s", o[i].path);
        count--;
        bytes -= o[i].bytes;
    }
    free(o);
    if (rc) {
        free(g);
        *ngone = 0;
        return rc;
    }
    *gone = g;
    return 0;
}

static int has_snapshot(master_publisher_t *p, int *yes)
{
    master_object_t *o;
    size_t n;
    int rc = master_store_objects(p->s, &o, &n);
    if (rc)
        return rc;
    *yes = 0;
    for (size_t i = 0; i < n; i++)
        if (o[i].type == BL_OBJ_SNAPSHOT)
            *yes = 1;
    free(o);
    return 0;
}

/* Small states are snapshotted inline: it costs milliseconds, and the
 * snapshot reaches the hook together with the delta of the same serial. */
static int use_async(master_publisher_t *p)
{
    return p->reader && master_store_count(p->s) >= p->c.async_snapshot_entries;
}

static void unlink_gone(master_publisher_t *p, char (*gone)[512], size_t ngone)
{
    for (size_t i = 0; i < ngone; i++) {
        unlink(gone[i]);
        p->st.pruned_total++;
    }
    free(gone);
}

static void published_snapshot(master_publisher_t *p, const master_object_t *os, uint64_t dt_ns,
                               int async)
{
    p->st.snapshots_total++;
    p->st.last_snapshot_bytes = os->bytes;
    BL_INFO("published",
            "type=snapshot serial=%" PRIu64 " entries=%" PRIu64 " bytes=%" PRIu64
            " duration_ms=%.1f async=%d",
            os->serial, os->n_entries, os->bytes, dt_ns / 1e6, async);
    if (p->hook)
        p->hook(p->hook_ctx, BL_OBJ_SNAPSHOT, os->serial, os->path, os->bytes);
}

static int run(master_publisher_t *p, int64_t now_ms, int force_snap, uint64_t *serial_out)
{
    uint64_t t0 = bl_mono_ns();
    bl_change_t *rem = NULL, *add = NULL;
    size_t nrem = 0, nadd = 0;
    bl_buf_t buf;
    bl_buf_init(&buf);
    char(*gone)[512] = NULL;
    size_t ngone = 0;
    master_object_t od, os;
    int have_delta = 0, have_snap = 0, rc;
    const char *stage = "begin";
    char delta_path[512] = "";
    *serial_out = 0;

    if ((rc = master_store_begin(p->s)))
        goto fail_norb;
    uint64_t last;
    uint8_t last_digest[BL_DIGEST_SIZE];
    stage = "read";
    if ((rc = master_store_last_serial(p->s, &last, last_digest)) ||
        (rc = master_store_pending(p->s, &rem, &nrem, &add, &nadd)))
        goto fail;
    int snap_exists = 1;
    if (!force_snap && (rc = has_snapshot(p, &snap_exists)))
        goto fail;
    /* A new feed starts at serial 1 with its (empty) snapshot: mirrors have
     * a state to answer from at first contact. */
    int initial = last == 0 && !nrem && !nadd;
    if (!nrem && !nadd && !force_snap && !snap_exists && last > 0 && use_async(p)) {
        p->snap_wanted = 1;
        snap_exists = 1;
    }
    if (!nrem && !nadd && !force_snap && !initial && snap_exists) {
        master_store_rollback(p->s);
        free(rem);
        free(add);
        return 0;
    }
    uint64_t serial = last;
    if (initial) {
        stage = "snapshot";
        if ((rc = write_snapshot(p, p->s, p->key, 1, NULL, now_ms, &os)))
            goto fail;
        snprintf(delta_path, sizeof delta_path, "%s", os.path); /* unlinked if not committed */
        stage = "record";
        if ((rc = master_store_published(p->s, &os)))
            goto fail;
        serial = 1;
        have_snap = 1;
    } else if (nrem || nadd) {
        serial = last + 1;
        bl_hdr_t h;
        fill_hdr(p, &h, BL_OBJ_DELTA, now_ms);
        h.base_serial = last;
        h.serial = serial;
        memcpy(h.base_digest, last_digest, BL_DIGEST_SIZE);
        bl_digest_to_bytes(master_store_digest(p->s), h.digest);
        h.n_entries = master_store_count(p->s);
        stage = "encode";
        if ((rc = bl_delta_write(&h, rem, nrem, add, nadd, p->key, &buf)) || (rc = buf.err))
            goto fail;
        memset(&od, 0, sizeof od);
        od.serial = serial;
        od.type = BL_OBJ_DELTA;
        od.base_serial = last;
        memcpy(od.digest, h.digest, BL_DIGEST_SIZE);
        od.n_entries = h.n_entries;
        od.bytes = buf.len;
        od.created_ms = now_ms;
        obj_path(p, serial, BL_OBJ_DELTA, od.path, sizeof od.path);
        stage = "write";
        if ((rc = bl_file_write_atomic(od.path, buf.data, buf.len, 0644)))
            goto fail;
        snprintf(delta_path, sizeof delta_path, "%s", od.path);
        stage = "record";
        if ((rc = master_store_published(p->s, &od)))
            goto fail;
        have_delta = 1;
    }
    int snap_due =
        !initial && (force_snap || !snap_exists ||
                     (p->c.snapshot_every && serial % p->c.snapshot_every == 0 && have_delta));
    if (snap_due && serial > 0 && use_async(p)) {
        p->snap_wanted = 1; /* the caller runs it off the lock */
        snap_due = 0;
    }
    if (snap_due && serial > 0) {
        /* The snapshot shares the delta's transaction only if it succeeds:
         * a failed snapshot must not hold back the delta. */
        if (have_delta && (rc = master_store_commit(p->s)) == 0) {
            delta_path[0] = 0;
            rc = master_store_begin(p->s);
        }
        if (rc) {
            stage = "commit";
            goto fail_norb;
        }
        stage = "snapshot";
        int src = write_snapshot(p, p->s, p->key, serial, NULL, now_ms, &os);
        if (!src && (src = master_store_object_add(p->s, &os)))
            unlink(os.path);
        if (src) {
            fail_report(p, src, "snapshot");
            master_store_rollback(p->s);
            if ((rc = master_store_begin(p->s)))
                goto fail_norb;
        } else {
            have_snap = 1;
        }
    }
    stage = "prune";
    if ((rc = prune(p, &gone, &ngone)))
        goto fail;
    stage = "commit";
    if ((rc = master_store_commit(p->s))) {
        if (have_snap)
            unlink(os.path);
        goto fail_norb;
    }
    unlink_gone(p, gone, ngone);
    bl_buf_close(&buf);
    free(rem);
    free(add);
    uint64_t dt = bl_mono_ns() - t0;
    p->st.last_error = 0;
    p->st.last_serial = p->head_serial = serial;
    if (have_delta)
        memcpy(p->head_digest, od.digest, BL_DIGEST_SIZE);
    else if (initial)
        memcpy(p->head_digest, os.digest, BL_DIGEST_SIZE);
    p->st.last_publish_ms = now_ms;
    if (have_delta) {
        p->st.deltas_total++;
        p->st.last_duration_ns = dt;
        p->st.last_bytes = od.bytes;
        p->st.last_changes = nrem + nadd;
        BL_INFO("published",
                "type=delta serial=%" PRIu64 " removed=%zu added=%zu entries=%" PRIu64
                " bytes=%" PRIu64 " duration_ms=%.1f",
                serial, nrem, nadd, od.n_entries, od.bytes, dt / 1e6);
        if (p->hook)
            p->hook(p->hook_ctx, BL_OBJ_DELTA, serial, od.path, od.bytes);
    }
    if (have_snap)
        published_snapshot(p, &os, dt, 0);
    *serial_out = have_delta ? serial : 0;
    p->http_dirty = 1;
    master_publisher_http_tick(p, now_ms);
    return 0;

fail:
    master_store_rollback(p->s);
fail_norb:
    if (delta_path[0])
        unlink(delta_path); /* never committed: not part of the chain */
    free(gone);
    bl_buf_close(&buf);
    free(rem);
    free(add);
    return fail_report(p, rc, stage);
}

int master_publisher_run(master_publisher_t *p, int64_t now_ms, uint64_t *serial)
{
    return run(p, now_ms, 0, serial);
}

int master_publisher_snapshot(master_publisher_t *p, int64_t now_ms)
{
    uint64_t serial;
    int rc = run(p, now_ms, 0, &serial);
    if (rc)
        return rc;
    if (use_async(p)) {
        p->snap_wanted = 1;
        return 0;
    }
    return run(p, now_ms, 1, &serial);
}

/* ---- a restored master ------------------------------------------------------- */

int master_publisher_advance(master_publisher_t *p, uint64_t past, int64_t now_ms)
{
    uint64_t serial, last;
    uint8_t dg[BL_DIGEST_SIZE];
    int rc = run(p, now_ms, 0, &serial); /* what is pending goes out first */
    if (rc)
        return rc;
    if ((rc = master_store_begin(p->s)))
        return fail_report(p, rc, "advance");
    if ((rc = master_store_last_serial(p->s, &last, dg)) || past <= last) {
        master_store_rollback(p->s);
        return rc;
    }
    if (past - last > ADVANCE_MAX) {
        master_store_rollback(p->s);
        BL_ERR("serial_advance_refused", "from=%" PRIu64 " to=%" PRIu64 " reason=%s", last, past,
               bl_log_q("a mirror claims a serial too far ahead of this master"));
        return BL_EINVAL;
    }
    master_object_t os = {0};
    char(*gone)[512] = NULL;
    size_t ngone = 0;
    if (!(rc = write_snapshot(p, p->s, p->key, past, NULL, now_ms, &os)) &&
        !(rc = master_store_published(p->s, &os)) && !(rc = prune(p, &gone, &ngone)) &&
        !(rc = master_store_commit(p->s))) {
        unlink_gone(p, gone, ngone);
        p->st.last_serial = p->head_serial = past;
        memcpy(p->head_digest, os.digest, BL_DIGEST_SIZE);
        BL_WARN("serial_advanced", "from=%" PRIu64 " to=%" PRIu64 " reason=%s", last, past,
                bl_log_q("a mirror holds a later serial (a restored master): its state is "
                         "replaced by a snapshot of this one"));
        published_snapshot(p, &os, 0, 0);
        p->http_dirty = 1;
        master_publisher_http_tick(p, now_ms);
        return 0;
    }
    free(gone);
    master_store_rollback(p->s);
    if (os.path[0])
        unlink(os.path);
    return fail_report(p, rc, "advance");
}

/* ---- start-up ---------------------------------------------------------------- */

int master_publisher_recover(master_publisher_t *p, int64_t now_ms)
{
    master_object_t *objs;
    size_t n;
    int rc = master_store_objects(p->s, &objs, &n);
    if (rc)
        return rc;
    DIR *d = opendir(p->dir);
    if (!d) {
        free(objs);
        return BL_EIO;
    }
    struct dirent *de;
    char path[PATH_MAX + 300];
    size_t removed = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        uint64_t serial;
        int type = parse_name(de->d_name, &serial);
        int owned = 0;
        for (size_t i = 0; type && i < n && !owned; i++)
            owned = objs[i].serial == serial && objs[i].type == type;
        if (owned)
            continue;
        if (!type && !strstr(de->d_name, ".tmp."))
            continue; /* not ours (key certificates, directories): leave it */
        snprintf(path, sizeof path, "%s/%s", p->dir, de->d_name);
        if (unlink(path) == 0) {
            removed++;
            BL_WARN("spool_orphan_removed", "path=%s", bl_log_q(path));
        }
    }
    closedir(d);
    /* Every recorded object is read back and verified; a missing one is
     * forgotten, a damaged one quarantined. */
    size_t checked = 0, bad = 0;
    uint64_t t0 = bl_mono_ns();
    for (size_t i = 0; i < n && !rc; i++) {
        int v = verify_object(p, &objs[i]);
        checked++;
        if (v == BL_ENOTFOUND) {
            BL_ERR("spool_object_missing", "serial=%" PRIu64 " type=%s path=%s", objs[i].serial,
                   ext_of(objs[i].type), bl_log_q(objs[i].path));
            if (!(rc = master_store_begin(p->s))) {
                rc = master_store_object_del(p->s, objs[i].serial, objs[i].type);
                rc = rc ? (master_store_rollback(p->s), rc) : master_store_commit(p->s);
            }
            bad++;
        } else if (v) {
            rc = quarantine_one(p, &objs[i], v, now_ms);
            bad++;
        }
    }
    free(objs);
    uint64_t last;
    uint8_t dg[BL_DIGEST_SIZE];
    if (!rc && !(rc = master_store_last_serial(p->s, &last, dg))) {
        p->st.last_serial = p->head_serial = last;
        memcpy(p->head_digest, dg, BL_DIGEST_SIZE);
    }
    BL_INFO("spool_recovered",
            "dir=%s orphans_removed=%zu objects_verified=%zu damaged=%zu last_serial=%" PRIu64
            " duration_ms=%.1f",
            bl_log_q(p->dir), removed, checked - bad, bad, p->st.last_serial,
            (bl_mono_ns() - t0) / 1e6);
    if (rc)
        return rc;
    if (p->st.last_serial == 0) {
        uint64_t serial;
        return run(p, now_ms, 0, &serial); /* the initial snapshot (or the pending changes) */
    }
    return repair(p, now_ms);
}

/* ---- heartbeats ------------------------------------------------------------- */

int master_publisher_head(const master_publisher_t *p, uint64_t *serial,
                          uint8_t digest[BL_DIGEST_SIZE])
{
    *serial = p->head_serial;
    memcpy(digest, p->head_digest, BL_DIGEST_SIZE);
    return 0;
}

int master_publisher_heartbeat(master_publisher_t *p, uint64_t serial,
                               const uint8_t digest[BL_DIGEST_SIZE], int64_t now_ms, int64_t ttl_ms,
                               uint8_t out[BL_OBJ_PREFIX])
{
    return bl_heartbeat_write(master_store_feed(p->s), serial, digest, now_ms, ttl_ms, p->key, out);
}

/* ---- merged catch-up deltas -------------------------------------------------
 *
 * A mirror many deltas behind gets one delta from its state to the head
 * instead of the chain. A removal may only name a key that exists at the
 * mirror's serial, and a delta's additions do not say whether they replaced
 * a key; the entry counts do: an addition in a delta whose additions were
 * all new (or all replacements) is known, and a key whose existence cannot
 * be told that way makes the merge give up (the chain goes out instead).
 * The mirror checks the digest after applying, as for every delta.
 */

typedef struct {
    bl_change_t c;
    uint32_t seq; /* delta index * 2 + (1 for an addition) */
} mchg_t;

typedef struct {
    mchg_t *v;
    size_t n, cap;
    uint32_t delta;
} mcollect_t;

static int mpush(mcollect_t *m, const bl_change_t *c, size_t n, int add)
{
    mchg_t *nv = bl_grow(m->v, &m->cap, m->n + n, sizeof *m->v);
    if (!nv)
        return BL_ENOMEM;
    m->v = nv;
    for (size_t i = 0; i < n; i++) {
        m->v[m->n].c = c[i];
        m->v[m->n].seq = m->delta * 2 + (uint32_t)add;
        m->n++;
    }
    return 0;
}

static int merge_sink(void *ctx, const bl_change_t *rem, size_t nrem, const bl_change_t *add,
                      size_t nadd)
{
    int rc = mpush(ctx, rem, nrem, 0);
    return rc ? rc : mpush(ctx, add, nadd, 1);
}

static int mchg_cmp(const void *a, const void *b)
{
    const mchg_t *x = a, *y = b;
    int c = bl_prefix_cmp(&x->c.e.key, &y->c.e.key);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

enum { ADDS_NONE, ADDS_NEW, ADDS_REPLACE, ADDS_MIXED };

/* The recorded deltas from serial to last, in order (BL_ENOTFOUND on a gap). */
static int merge_chain_of(master_publisher_t *p, uint64_t serial, uint64_t last,
                          master_object_t **chain, size_t *n)
{
    master_object_t *o, *c = NULL;
    size_t no, k = 0, cap = 0;
    int rc = master_store_objects(p->s, &o, &no);
    for (uint64_t at = serial; !rc && at != last;) {
        const master_object_t *next = NULL;
        for (size_t i = 0; i < no && !next; i++)
            if (o[i].type == BL_OBJ_DELTA && o[i].base_serial == at)
                next = &o[i];
        master_object_t *nc = next && k < MERGE_MAX ? bl_grow(c, &cap, k + 1, sizeof *c) : NULL;
        if (!nc) {
            rc = next && k < MERGE_MAX ? BL_ENOMEM : BL_ENOTFOUND;
            break;
        }
        c = nc;
        c[k++] = *next;
        at = next->serial;
    }
    free(o);
    if (rc) {
        free(c);
        return rc;
    }
    *chain = c;
    *n = k;
    return 0;
}

/* Builds the merged delta from (serial, digest) to last into buf. */
static int merge_build(master_publisher_t *p, uint64_t serial, const uint8_t *digest,
                       const master_object_t *chain, size_t n, int64_t now_ms, bl_buf_t *buf)
{
    uint64_t before;
    uint8_t at_digest[BL_DIGEST_SIZE];
    int rc = master_store_serial_info(p->s, serial, at_digest, &before);
    if (rc || memcmp(at_digest, digest, BL_DIGEST_SIZE))
        return BL_ENOTFOUND; /* the mirror is not on this master's chain */
    uint8_t *cls = calloc(n, 1);
    mcollect_t m = {0};
    bl_change_t *rem = NULL, *add = NULL;
    bl_hdr_t head = {0};
    rc = cls ? 0 : BL_ENOMEM;
    for (size_t i = 0; i < n && !rc; i++) {
        uint8_t *data = NULL;
        size_t len = 0;
        bl_obj_t obj;
        m.delta = (uint32_t)i;
        rc = bl_file_read(chain[i].path, OBJ_FILE_MAX, &data, &len);
        if (!rc && !(rc = bl_obj_open(data, len, p->ring, &bl_limits_spool, &obj, NULL)) &&
            !(rc = check_header(p, &obj.hdr, &chain[i]))) {
            const bl_hdr_t *h = &obj.hdr;
            uint64_t fresh = h->n_entries + h->n_removed - before; /* additions that were new */
            cls[i] = !h->n_added           ? ADDS_NONE
                     : fresh == h->n_added ? ADDS_NEW
                     : fresh == 0          ? ADDS_REPLACE
                                           : ADDS_MIXED;
            before = h->n_entries;
            head = *h;
            bl_sink_t sink = {.ctx = &m, .block = merge_sink};
            rc = bl_obj_decode(&obj, &bl_limits_spool, &sink, NULL);
        } else if (rc && rc != BL_EIO && rc != BL_ENOMEM) {
            quarantine_one(p, &chain[i], rc, now_ms); /* damaged: never merged, never served */
            repair(p, now_ms);
            rc = BL_ENOTFOUND;
        }
        free(data);
    }
    size_t nrem = 0, nadd = 0;
    if (!rc) {
        qsort(m.v, m.n, sizeof *m.v, mchg_cmp);
        rem = malloc((m.n ? m.n : 1) * sizeof *rem);
        add = malloc((m.n ? m.n : 1) * sizeof *add);
        if (!rem || !add)
            rc = BL_ENOMEM;
    }
    for (size_t i = 0; !rc && i < m.n;) {
        size_t j = i;
        while (j + 1 < m.n && bl_prefix_eq(&m.v[j + 1].c.e.key, &m.v[i].c.e.key))
            j++;
        const mchg_t *first = &m.v[i], *lastc = &m.v[j];
        if (lastc->seq & 1) {
            add[nadd++] = lastc->c; /* present at the head: (re)state it */
        } else {
            int existed = -1;
            if (!(first->seq & 1))
                existed = 1; /* a removal first: it was there */
            else if (cls[first->seq / 2] == ADDS_NEW)
                existed = 0;
            else if (cls[first->seq / 2] == ADDS_REPLACE)
                existed = 1;
            if (existed < 0)
                rc = BL_ENOTFOUND; /* cannot tell: send the chain */
            else if (existed)
                rem[nrem++] = lastc->c;
        }
        i = j + 1;
    }
    if (!rc) {
        bl_hdr_t h;
        fill_hdr(p, &h, BL_OBJ_DELTA, now_ms);
        h.base_serial = serial;
        memcpy(h.base_digest, digest, BL_DIGEST_SIZE);
        h.serial = head.serial;
        memcpy(h.digest, head.digest, BL_DIGEST_SIZE);
        h.expires_ms = head.expires_ms;
        h.n_entries = head.n_entries;
        rc = bl_delta_write(&h, rem, nrem, add, nadd, p->key, buf);
        if (!rc && buf->err)
            rc = buf->err;
        if (!rc)
            BL_INFO("merged",
                    "feed=%s from=%" PRIu64 " to=%" PRIu64
                    " deltas=%zu removed=%zu added=%zu bytes=%zu",
                    master_store_feed(p->s), serial, head.serial, n, nrem, nadd, buf->len);
    }
    free(cls);
    free(m.v);
    free(rem);
    free(add);
    return rc;
}

/* Forgets merged deltas that do not end at last (and their files). */
static void merged_prune(master_publisher_t *p, uint64_t last)
{
    size_t w = 0;
    for (size_t i = 0; i < p->nmerged; i++) {
        if (p->merged[i].to == last)
            p->merged[w++] = p->merged[i];
        else
            unlink(p->merged[i].path);
    }
    p->nmerged = w;
}

int master_publisher_merged(master_publisher_t *p, uint64_t serial,
                            const uint8_t digest[BL_DIGEST_SIZE], size_t min_deltas, int64_t now_ms,
                            char *path, size_t pathlen)
{
    uint64_t last;
    uint8_t dg[BL_DIGEST_SIZE];
    int rc = master_store_last_serial(p->s, &last, dg);
    if (rc)
        return rc;
    if (serial >= last)
        return BL_ENOTFOUND;
    merged_prune(p, last);
    for (size_t i = 0; i < p->nmerged; i++) {
        merged_t *x = &p->merged[i];
        if (x->from == serial && !memcmp(x->from_digest, digest, BL_DIGEST_SIZE) &&
            access(x->path, R_OK) == 0) {
            snprintf(path, pathlen, "%s", x->path);
            return 0;
        }
    }
    master_object_t *chain = NULL;
    size_t n = 0;
    if ((rc = merge_chain_of(p, serial, last, &chain, &n)))
        return rc;
    if (n < min_deltas) {
        free(chain);
        return BL_ENOTFOUND;
    }
    bl_buf_t buf;
    bl_buf_init(&buf);
    rc = merge_build(p, serial, digest, chain, n, now_ms, &buf);
    free(chain);
    merged_t x = {.from = serial, .to = last};
    memcpy(x.from_digest, digest, BL_DIGEST_SIZE);
    snprintf(x.path, sizeof x.path, "%.400s/%020" PRIu64 "-%020" PRIu64 ".delta", p->mdir, serial,
             last);
    /* A cache of what the spool already has: losing it in a crash costs one
     * rebuild, so it is written whole and renamed, without waiting for the disk. */
    if (!rc)
        rc = bl_file_write_atomic(x.path, buf.data, buf.len, 0644);
    bl_buf_close(&buf);
    if (rc)
        return rc;
    if (p->nmerged == MERGED_KEEP) {
        unlink(p->merged[0].path);
        memmove(&p->merged[0], &p->merged[1], (MERGED_KEEP - 1) * sizeof *p->merged);
        p->nmerged--;
    }
    p->merged[p->nmerged++] = x;
    p->st.merged_total++;
    snprintf(path, pathlen, "%s", x.path);
    return 0;
}

/* ---- async snapshots -------------------------------------------------------- */

void master_publisher_set_async(master_publisher_t *p, master_store_t *reader)
{
    p->reader = reader;
}

int master_publisher_snap_due(const master_publisher_t *p)
{
    return p->reader && p->snap_wanted && !p->job_running;
}

int master_publisher_snap_begin(master_publisher_t *p, int64_t now_ms, master_snap_job_t **job)
{
    *job = NULL;
    if (!master_publisher_snap_due(p) || master_store_pending_count(p->s) != 0)
        return 0;
    uint64_t last;
    uint8_t dg[BL_DIGEST_SIZE];
    master_object_t *objs;
    size_t n;
    int rc = master_store_last_serial(p->s, &last, dg);
    if (!rc && !(rc = master_store_objects(p->s, &objs, &n))) {
        for (size_t i = 0; i < n; i++)
            if (objs[i].type == BL_OBJ_SNAPSHOT && objs[i].serial == last)
                p->snap_wanted = 0; /* the newest serial has its snapshot already */
        free(objs);
    }
    if (rc || !p->snap_wanted || last == 0)
        return rc;
    master_snap_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return BL_ENOMEM;
    j->p = p;
    j->now_ms = now_ms;
    j->t0 = bl_mono_ns();
    j->key = p->key;
    /* Pinned while the caller's lock is held and nothing is pending: the
     * reader sees exactly the state of the last serial. */
    if (!(rc = master_store_read_begin(p->reader)) &&
        !(rc = master_store_last_serial(p->reader, &j->serial, j->digest)) && j->serial == 0)
        rc = BL_ESTATE;
    if (rc) {
        master_store_read_end(p->reader);
        free(j);
        return fail_report(p, rc, "snapshot");
    }
    p->job_running = 1;
    *job = j;
    return 0;
}

void master_publisher_snap_work(master_snap_job_t *j)
{
    master_publisher_t *p = j->p;
    j->rc = write_snapshot(p, p->reader, j->key, j->serial, j->digest, j->now_ms, &j->o);
    master_store_read_end(p->reader);
}

int master_publisher_snap_finish(master_publisher_t *p, master_snap_job_t *j)
{
    int rc = j->rc;
    char(*gone)[512] = NULL;
    size_t ngone = 0;
    p->job_running = 0;
    bl_key_free(p->retired); /* no job signs with it any more */
    p->retired = NULL;
    if (!rc && !(rc = master_store_begin(p->s))) {
        if ((rc = master_store_object_add(p->s, &j->o)) || (rc = prune(p, &gone, &ngone)))
            master_store_rollback(p->s);
        else
            rc = master_store_commit(p->s);
    }
    if (rc) {
        if (j->o.path[0])
            unlink(j->o.path);
        free(gone);
        free(j);
        return fail_report(p, rc, "snapshot");
    }
    unlink_gone(p, gone, ngone);
    p->snap_wanted = 0;
    published_snapshot(p, &j->o, bl_mono_ns() - j->t0, 1);
    p->http_dirty = 1;
    master_publisher_http_tick(p, j->now_ms);
    free(j);
    return 0;
}

/* ---- HTTP layout -------------------------------------------------------------- */

/* A spool object's record, kept so that its file is hashed once. */
typedef struct {
    uint64_t serial;
    int type;
    uint64_t bytes;
    int64_t created_ms;
    bl_head_rec_t r;
} hcache_t;

typedef struct {
    char name[BL_HEAD_NAME];
    int64_t since_ms;
} retired_t;

struct http_layout {
    char dir[PATH_MAX]; /* spool/FEED/by-hash */
    hcache_t *cache;
    size_t ncache, capcache;
    bl_head_rec_t *recs; /* what the current head lists */
    size_t nrecs, caprecs;
    retired_t *retired; /* by-hash names no head lists any more, and since when */
    size_t nretired, capretired;
    uint64_t serial, snap_serial, n_entries;
    uint8_t digest[BL_DIGEST_SIZE], snap_digest[BL_DIGEST_SIZE];
    int64_t signed_ms; /* when the head was last signed (0: never) */
    int64_t pruned_ms; /* when by-hash/ was last pruned (0: never) */
};

static void http_free(struct http_layout *h)
{
    if (!h)
        return;
    free(h->cache);
    free(h->recs);
    free(h->retired);
    free(h);
}

static void http_forget(struct http_layout *h, uint64_t serial, int type)
{
    for (size_t i = 0; h && i < h->ncache; i++) {
        if (h->cache[i].serial != serial || h->cache[i].type != type)
            continue;
        char name[BL_HEAD_NAME], path[PATH_MAX + BL_HEAD_NAME];
        bl_head_rec_name(&h->cache[i].r, name);
        snprintf(path, sizeof path, "%s/%s", h->dir, name + strlen("by-hash/"));
        unlink(path);
        h->cache[i] = h->cache[--h->ncache];
        return;
    }
}

static int http_push(struct http_layout *h, const bl_head_rec_t *r)
{
    bl_head_rec_t *v = bl_grow(h->recs, &h->caprecs, h->nrecs + 1, sizeof *v);
    if (!v)
        return BL_ENOMEM;
    h->recs = v;
    h->recs[h->nrecs++] = *r;
    return 0;
}

/* Puts data (already named by r) under by-hash/ unless it is there. */
static int http_store(struct http_layout *h, const bl_head_rec_t *r, const char *src,
                      const void *data, size_t len)
{
    char name[BL_HEAD_NAME], path[PATH_MAX + BL_HEAD_NAME];
    bl_head_rec_name(r, name);
    snprintf(path, sizeof path, "%s/%s", h->dir, name + strlen("by-hash/"));
    if (access(path, R_OK) == 0)
        return 0;
    /* A spool object is linked (no copy); anything else is written whole and renamed. */
    if (src && link(src, path) == 0)
        return 0;
    return bl_file_replace(path, data, len, 0644);
}

/* The record of a file's bytes: its hash, and for a delta its base. */
static int http_rec_of(struct http_layout *h, const char *src, const uint8_t *data, size_t len,
                       bl_head_rec_t *r)
{
    bl_rd_t rd;
    bl_hdr_t hd;
    bl_rd_init(&rd, data, len);
    int rc = bl_hdr_decode(&rd, &hd);
    if (rc)
        return rc;
    memset(r, 0, sizeof *r);
    r->type = hd.type;
    r->bytes = len;
    if (hd.type == BL_OBJ_DELTA) {
        r->base_serial = hd.base_serial;
        memcpy(r->base_digest, hd.base_digest, BL_DIGEST_SIZE);
    }
    r->serial = hd.type == BL_OBJ_KEYCERT ? 0 : hd.serial;
    SHA256(data, len, r->sha256);
    return http_store(h, r, src, data, len);
}

static int http_spool_rec(master_publisher_t *p, struct http_layout *h, const master_object_t *o,
                          hcache_t *out)
{
    for (size_t i = 0; i < h->ncache; i++) {
        hcache_t *c = &h->cache[i];
        if (c->serial == o->serial && c->type == o->type && c->bytes == o->bytes &&
            c->created_ms == o->created_ms) {
            *out = *c;
            return http_store(h, &c->r, o->path, NULL, 0) == 0 ? 0 : BL_EIO;
        }
    }
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = bl_file_read(o->path, OBJ_FILE_MAX, &data, &len);
    if (!rc && len != o->bytes)
        rc = BL_ETRUNC;
    *out = (hcache_t){
        .serial = o->serial, .type = o->type, .bytes = o->bytes, .created_ms = o->created_ms};
    if (!rc)
        rc = http_rec_of(h, o->path, data, len, &out->r);
    free(data);
    (void)p;
    return rc;
}

/* Key certificates the operator dropped into spool/FEED/. */
static int http_keycerts(master_publisher_t *p, struct http_layout *h)
{
    DIR *d = opendir(p->dir);
    if (!d)
        return BL_EIO;
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l < 9 || strcmp(de->d_name + l - 8, ".keycert"))
            continue;
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", p->dir, de->d_name);
        uint8_t *data = NULL;
        size_t len = 0;
        bl_head_rec_t r;
        if (bl_file_read(path, 1 << 20, &data, &len) == 0 &&
            http_rec_of(h, path, data, len, &r) == 0 && r.type == BL_OBJ_KEYCERT)
            rc = http_push(h, &r);
        free(data);
    }
    closedir(d);
    return rc;
}

/* Merged deltas from head - 2^k to the head, where the spool has the chain. */
static int http_merged(master_publisher_t *p, struct http_layout *h, int64_t now_ms)
{
    uint64_t last = h->serial;
    for (unsigned k = 1; k <= p->c.http_merge_points && k < 63; k++) {
        uint64_t span = 1ull << k;
        if (span >= last)
            break;
        uint64_t from = last - span;
        uint8_t dg[BL_DIGEST_SIZE];
        master_object_t *chain = NULL;
        size_t n = 0;
        if (master_store_serial_info(p->s, from, dg, NULL) ||
            merge_chain_of(p, from, last, &chain, &n))
            break; /* older serials have no chain either */
        bl_buf_t buf;
        bl_buf_init(&buf);
        int rc = merge_build(p, from, dg, chain, n, now_ms, &buf);
        free(chain);
        bl_head_rec_t r;
        if (!rc)
            rc = http_rec_of(h, NULL, buf.data, buf.len, &r);
        bl_buf_close(&buf);
        if (rc == BL_ENOTFOUND)
            continue; /* this span cannot be merged: the chain serves it */
        if (rc || (rc = http_push(h, &r)))
            return rc;
        p->st.merged_total++;
    }
    return 0;
}

#define HTTP_PRUNE_EVERY_MS 10000 /* the grace period is minutes: a pass this often is enough */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int retired_cmp(const void *a, const void *b)
{
    return strcmp(((const retired_t *)a)->name, ((const retired_t *)b)->name);
}

/* Removes by-hash files that no head has listed for the grace period. A
 * pass is one binary search per file in the head's sorted names and in the
 * sorted retired list (by-hash holds thousands of merged deltas: a linear
 * search per file made every publish wait on this). */
static void http_prune(master_publisher_t *p, struct http_layout *h, int64_t now_ms)
{
    if (h->pruned_ms && now_ms >= h->pruned_ms && now_ms - h->pruned_ms < HTTP_PRUNE_EVERY_MS)
        return;
    int64_t keep = 2 * p->c.http_head_ttl_ms > 600000 ? 2 * p->c.http_head_ttl_ms : 600000;
    char(*listed)[BL_HEAD_NAME] = malloc((h->nrecs ? h->nrecs : 1) * sizeof *listed);
    DIR *d = listed ? opendir(h->dir) : NULL;
    if (!d) {
        free(listed);
        return;
    }
    h->pruned_ms = now_ms;
    for (size_t i = 0; i < h->nrecs; i++)
        bl_head_rec_name(&h->recs[i], listed[i]);
    if (h->nrecs)
        qsort(listed, h->nrecs, sizeof *listed, name_cmp);
    size_t sorted = h->nretired; /* the list is sorted up to here; new names go after */
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || strlen(de->d_name) > 70)
            continue;
        retired_t key;
        snprintf(key.name, sizeof key.name, "by-hash/%s", de->d_name);
        int is_listed = bsearch(key.name, listed, h->nrecs, sizeof *listed, name_cmp) != NULL;
        retired_t *r =
            sorted ? bsearch(&key, h->retired, sorted, sizeof *h->retired, retired_cmp) : NULL;
        if (is_listed) {
            if (r)
                r->since_ms = INT64_MIN; /* listed again: dropped below */
            continue;
        }
        if (!r) {
            retired_t *v = bl_grow(h->retired, &h->capretired, h->nretired + 1, sizeof *v);
            if (!v)
                continue;
            h->retired = v;
            key.since_ms = now_ms;
            h->retired[h->nretired++] = key;
        } else if (r->since_ms != INT64_MIN && now_ms - r->since_ms >= keep) {
            char path[PATH_MAX + BL_HEAD_NAME];
            snprintf(path, sizeof path, "%s/%.80s", h->dir, de->d_name);
            unlink(path);
            r->since_ms = INT64_MIN;
        }
    }
    closedir(d);
    free(listed);
    size_t w = 0;
    for (size_t i = 0; i < h->nretired; i++)
        if (h->retired[i].since_ms != INT64_MIN)
            h->retired[w++] = h->retired[i];
    h->nretired = w;
    if (w)
        qsort(h->retired, w, sizeof *h->retired, retired_cmp);
}

/* Signs the head over the current records and writes spool/FEED/head. */
static int http_sign(master_publisher_t *p, struct http_layout *h, int64_t now_ms)
{
    bl_buf_t buf;
    bl_buf_init(&buf);
    char path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%.4000s/head", p->dir);
    int rc = bl_head_write(master_store_feed(p->s), h->serial, h->digest, h->n_entries,
                           h->snap_serial, h->snap_digest, h->recs, h->nrecs, now_ms,
                           p->c.http_head_ttl_ms, p->key, &buf);
    if (!rc)
        rc = bl_file_replace(path, buf.data, buf.len, 0644);
    bl_buf_close(&buf);
    if (!rc) {
        h->signed_ms = now_ms;
        p->st.heads_total++;
    }
    return rc;
}

/* Lists the spool, key certificates and merged deltas, stores what by-hash/ lacks. */
static int http_build(master_publisher_t *p, struct http_layout *h, int64_t now_ms)
{
    master_object_t *o;
    size_t n;
    int rc = master_store_objects(p->s, &o, &n);
    if (rc)
        return rc;
    hcache_t *nc = calloc(n ? n : 1, sizeof *nc);
    if (!nc) {
        free(o);
        return BL_ENOMEM;
    }
    h->nrecs = 0;
    h->serial = p->head_serial;
    memcpy(h->digest, p->head_digest, BL_DIGEST_SIZE);
    h->snap_serial = 0;
    memset(h->snap_digest, 0, BL_DIGEST_SIZE);
    size_t k = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (o[i].serial > h->serial)
            continue; /* not yet the head's (an async snapshot's record lands first) */
        if ((rc = http_spool_rec(p, h, &o[i], &nc[k])) || (rc = http_push(h, &nc[k].r)))
            break;
        k++;
        if (o[i].serial == h->serial)
            h->n_entries = o[i].n_entries;
        if (o[i].type == BL_OBJ_SNAPSHOT && o[i].serial >= h->snap_serial) {
            h->snap_serial = o[i].serial;
            memcpy(h->snap_digest, o[i].digest, BL_DIGEST_SIZE);
        }
    }
    free(o);
    free(h->cache);
    h->cache = nc;
    h->ncache = k;
    h->capcache = n ? n : 1;
    if (!rc)
        rc = http_keycerts(p, h);
    if (!rc)
        rc = http_merged(p, h, now_ms);
    return rc;
}

int master_publisher_http_tick(master_publisher_t *p, int64_t now_ms)
{
    if (!p->c.http || !p->head_serial)
        return 0;
    struct http_layout *h = p->http;
    if (!h) {
        if (!(h = calloc(1, sizeof *h)))
            return BL_ENOMEM;
        snprintf(h->dir, sizeof h->dir, "%.4000s/by-hash", p->dir);
        int rc = bl_mkdir_p(h->dir, 0755);
        if (rc) {
            free(h);
            return rc;
        }
        p->http = h;
        p->http_dirty = 1;
    }
    int rebuild = p->http_dirty || h->serial != p->head_serial;
    if (!rebuild && now_ms - h->signed_ms < p->c.http_head_refresh_ms)
        return 0;
    uint64_t t0 = bl_mono_ns();
    int rc = rebuild ? http_build(p, h, now_ms) : 0;
    if (!rc)
        rc = http_sign(p, h, now_ms);
    if (rc) {
        p->st.head_failures_total++;
        BL_ERR("http_layout_failed", "feed=%s serial=%" PRIu64 " error=%s", master_store_feed(p->s),
               p->head_serial, bl_errname(rc));
        return rc;
    }
    if (rebuild) {
        p->http_dirty = 0;
        http_prune(p, h, now_ms);
        BL_INFO("http_layout",
                "feed=%s serial=%" PRIu64 " snapshot=%" PRIu64 " objects=%zu duration_ms=%.1f",
                master_store_feed(p->s), h->serial, h->snap_serial, h->nrecs,
                (bl_mono_ns() - t0) / 1e6);
    }
    return 0;
}
