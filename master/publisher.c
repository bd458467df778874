/* SPDX-License-Identifier: MIT */
/* The publisher: pending changes become the next signed serial, written atomically to the spool. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "err.h"
#include "key.h"
#include "log.h"
#include "obj.h"
#include "publisher.h"
#include "util.h"

struct master_publisher {
    master_pub_conf_t c;
    master_store_t *s;
    char dir[PATH_MAX];
    master_pub_hook_t hook;
    void *hook_ctx;
    master_pub_stats_t st;
    master_store_t *reader; /* async snapshots, or NULL */
    int snap_wanted;
    int job_running;
};

struct master_snap_job {
    master_publisher_t *p;
    bl_key_t *key;
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
}

int master_publisher_new(const master_pub_conf_t *c, master_store_t *s, master_publisher_t **out)
{
    *out = NULL;
    master_publisher_t *p = calloc(1, sizeof *p);
    if (!p)
        return BL_ENOMEM;
    p->c = *c;
    p->s = s;
    if (snprintf(p->dir, sizeof p->dir, "%s/%s", c->spool, master_store_feed(s)) >= 400) {
        free(p);
        return BL_EINVAL;
    }
    int rc = bl_mkdir_p(p->dir, 0755);
    if (rc) {
        BL_ERR("spool_mkdir", "dir=%s error=%s", bl_log_q(p->dir), bl_strerror(rc));
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void master_publisher_free(master_publisher_t *p)
{
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

int master_publisher_recover(master_publisher_t *p)
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
            continue; /* not ours: leave it */
        snprintf(path, sizeof path, "%s/%s", p->dir, de->d_name);
        if (unlink(path) == 0) {
            removed++;
            BL_WARN("spool_orphan_removed", "path=%s", bl_log_q(path));
        }
    }
    closedir(d);
    int dropped = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        if (stat(objs[i].path, &sb) == 0)
            continue;
        BL_ERR("spool_object_missing", "serial=%" PRIu64 " type=%s path=%s", objs[i].serial,
               ext_of(objs[i].type), bl_log_q(objs[i].path));
        if (!dropped && (rc = master_store_begin(p->s)))
            break;
        dropped = 1;
        if ((rc = master_store_object_del(p->s, objs[i].serial, objs[i].type)))
            break;
    }
    if (dropped)
        rc = rc ? (master_store_rollback(p->s), rc) : master_store_commit(p->s);
    free(objs);
    uint64_t last;
    uint8_t dg[BL_DIGEST_SIZE];
    if (!rc && !(rc = master_store_last_serial(p->s, &last, dg)))
        p->st.last_serial = last;
    BL_INFO("spool_recovered", "dir=%s orphans_removed=%zu last_serial=%" PRIu64, bl_log_q(p->dir),
            removed, p->st.last_serial);
    return rc;
}

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
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 1024;
        bl_entry_t *e = realloc(c->e, nc * sizeof *e);
        if (!e)
            return BL_ENOMEM;
        c->e = e;
        c->cap = nc;
    }
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

/* Writes the snapshot of the current listings as serial (inside a
 * transaction with no pending changes). */
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
        /* The listings read are not the published state: never sign them. */
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
        if (from == p->s && (rc = master_store_object_add(p->s, o)))
            unlink(o->path);
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

static int run(master_publisher_t *p, int64_t now_ms, int force_snap, uint64_t *serial_out)
{
    uint64_t t0 = bl_mono_ns();
    bl_change_t *rem = NULL, *add = NULL;
    size_t nrem = 0, nadd = 0;
    bl_key_t *key = NULL;
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
    if (!nrem && !nadd && !force_snap && !snap_exists && last > 0 && use_async(p)) {
        p->snap_wanted = 1;
        snap_exists = 1;
    }
    if (!nrem && !nadd && !force_snap && (snap_exists || last == 0)) {
        master_store_rollback(p->s);
        free(rem);
        free(add);
        return 0;
    }
    stage = "key";
    if ((rc = bl_key_load(p->c.key_path, &key)))
        goto fail;
    if (!bl_key_is_private(key)) {
        rc = BL_EKEY;
        goto fail;
    }
    uint64_t serial = last;
    if (nrem || nadd) {
        serial = last + 1;
        bl_hdr_t h;
        fill_hdr(p, &h, BL_OBJ_DELTA, now_ms);
        h.base_serial = last;
        h.serial = serial;
        memcpy(h.base_digest, last_digest, BL_DIGEST_SIZE);
        bl_digest_to_bytes(master_store_digest(p->s), h.digest);
        h.n_entries = master_store_count(p->s);
        stage = "encode";
        if ((rc = bl_delta_write(&h, rem, nrem, add, nadd, key, &buf)) || (rc = buf.err))
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
    int snap_due = force_snap || !snap_exists ||
                   (p->c.snapshot_every && serial % p->c.snapshot_every == 0 && have_delta);
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
        int src = write_snapshot(p, p->s, key, serial, NULL, now_ms, &os);
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
    for (size_t i = 0; i < ngone; i++) {
        unlink(gone[i]);
        p->st.pruned_total++;
    }
    free(gone);
    bl_key_free(key);
    bl_buf_close(&buf);
    free(rem);
    free(add);
    uint64_t dt = bl_mono_ns() - t0;
    p->st.last_error = 0;
    p->st.last_serial = serial;
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
    if (have_snap) {
        p->st.snapshots_total++;
        p->st.last_snapshot_bytes = os.bytes;
        BL_INFO("published", "type=snapshot serial=%" PRIu64 " entries=%" PRIu64 " bytes=%" PRIu64,
                serial, os.n_entries, os.bytes);
        if (p->hook)
            p->hook(p->hook_ctx, BL_OBJ_SNAPSHOT, serial, os.path, os.bytes);
    }
    *serial_out = have_delta ? serial : 0;
    return 0;

fail:
    master_store_rollback(p->s);
fail_norb:
    if (delta_path[0])
        unlink(delta_path); /* never committed: not part of the chain */
    free(gone);
    bl_key_free(key);
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
    rc = bl_key_load(p->c.key_path, &j->key);
    if (!rc && !bl_key_is_private(j->key))
        rc = BL_EKEY;
    /* Pinned while the caller's lock is held and nothing is pending: the
     * reader sees exactly the state of the last serial. */
    if (!rc && !(rc = master_store_read_begin(p->reader)) &&
        !(rc = master_store_last_serial(p->reader, &j->serial, j->digest)) && j->serial == 0)
        rc = BL_ESTATE;
    if (rc) {
        master_store_read_end(p->reader);
        bl_key_free(j->key);
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
        bl_key_free(j->key);
        free(j);
        return fail_report(p, rc, "snapshot");
    }
    for (size_t i = 0; i < ngone; i++) {
        unlink(gone[i]);
        p->st.pruned_total++;
    }
    free(gone);
    p->snap_wanted = 0;
    p->st.snapshots_total++;
    p->st.last_snapshot_bytes = j->o.bytes;
    BL_INFO("published",
            "type=snapshot serial=%" PRIu64 " entries=%" PRIu64 " bytes=%" PRIu64
            " duration_ms=%.1f async=1",
            j->serial, j->o.n_entries, j->o.bytes, (bl_mono_ns() - j->t0) / 1e6);
    if (p->hook)
        p->hook(p->hook_ctx, BL_OBJ_SNAPSHOT, j->serial, j->o.path, j->o.bytes);
    bl_key_free(j->key);
    free(j);
    return 0;
}
