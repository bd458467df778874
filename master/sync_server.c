/* SPDX-License-Identifier: MIT */
/* The master's sync server: serves the spool's signed objects to mirrors over mutual TLS. */

/*
 * Per feed the server keeps an index of the spool (serials, base serials,
 * digests, sizes, paths) read from the 256-byte headers; objects themselves
 * are streamed from their files in chunks, only while the connection's TLS
 * queue is under half its limit, so memory per mirror is bounded by that
 * queue whatever the object sizes. A connection holds, per feed, the serial
 * and digest it has sent up to; what to send next is recomputed from the
 * spool index every time the connection can take more.
 */
#include "sync_server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "frame.h"
#include "codec.h"
#include "key.h"
#include "log.h"
#include "state.h"
#include "obj.h"
#include "util.h"

#define SYNC_MAX_FEEDS  16
#define SYNC_CHUNK      65536
#define SYNC_STUCK_MS   60000 /* queue full for this long: disconnect */
#define SYNC_MERGE_MIN  4     /* a chain of this many deltas or more is sent merged */
#define SYNC_MERGE_MAX  4096  /* deltas merged at most */
#define SYNC_MERGE_FILE (64u << 20)

typedef struct {
    int type;
    uint64_t base_serial, serial;
    uint8_t base_digest[BL_DIGEST_SIZE], digest[BL_DIGEST_SIZE];
    uint64_t bytes;
    uint64_t n_entries, n_added, n_removed;
    int64_t expires_ms;
    char *path;
} spool_obj_t;

typedef struct {
    char name[BL_FEED_MAX + 1];
    char dir[PATH_MAX];
    spool_obj_t *o; /* deltas and snapshots, sorted by serial, snapshots after deltas */
    size_t n, cap;
    char **keycerts; /* paths */
    size_t nkeycerts;
    uint64_t head_serial;
    uint8_t head_digest[BL_DIGEST_SIZE];
    struct timespec mtime;  /* of the directory at the last scan */
    int snapshot_requested; /* asked the publisher for one; cleared when one arrives */
    bl_buf_t merged;        /* the last merged delta (see merge_chain) */
    uint64_t merged_base, merged_serial;
    uint8_t merged_base_digest[BL_DIGEST_SIZE];
    uint8_t hb[BL_OBJ_PREFIX]; /* the current signed heartbeat, shared by every mirror */
    int64_t hb_ms;             /* when it was signed (0: none) */
    uint64_t hb_serial;
} feed_t;

typedef struct {
    int active;
    int feed; /* index into srv->feeds */
    uint64_t sent_serial;
    uint8_t sent_digest[BL_DIGEST_SIZE];
    uint64_t acked_serial;
    int force_snapshot;
    size_t keycert_next; /* key certificates sent so far */
    int hb_due;
    int stuck_logged;
} sub_t;

enum { KIND_SERVER = 0x5e5e, KIND_CONN = 0xc0c0 };

typedef struct sconn {
    int kind; /* KIND_CONN: tells a connection from the server in TLS user data */
    master_sync_t *srv;
    bl_tls_conn_t *tls;
    struct sconn *prev, *next;
    bl_frame_reader_t rd;
    char name[256];
    int up;
    sub_t subs[SYNC_MAX_FEEDS];
    /* The object being streamed. */
    int fd;
    uint64_t off, left;
    int64_t last_contact_ms;
    uint64_t full_since_ns; /* queue over half its limit at every tick since (0: it is not) */
} sconn_t;

typedef struct note {
    struct note *next;
    char path[];
} note_t;

struct master_sync {
    int kind; /* KIND_SERVER */
    master_sync_conf_t c;
    master_sync_hooks_t h;
    uv_loop_t *loop;
    bl_tls_ctx_t *tls;
    bl_tls_server_t *srv;
    bl_key_t *key;
    bl_keyring_t *ring; /* public halves of every key loaded: merged deltas verify their inputs */
    feed_t feeds[SYNC_MAX_FEEDS];
    size_t nfeeds;
    sconn_t *conns;
    uv_timer_t hb_timer;
    uv_timer_t poll_timer;
    uv_async_t async;
    pthread_mutex_t mu; /* guards notes */
    note_t *notes;
    int closing;
    int handles;
    master_sync_stats_t st;
};

void master_sync_conf_defaults(master_sync_conf_t *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->host, sizeof c->host, "0.0.0.0");
    c->port = 7353;
    snprintf(c->spool, sizeof c->spool, "/var/lib/blsync/spool");
    snprintf(c->key_path, sizeof c->key_path, "/etc/blsync/master.key");
    c->heartbeat_interval_ms = 5000;
}

/* ---- spool index ------------------------------------------------------ */

static void feed_clear(feed_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->o[i].path);
    free(f->o);
    for (size_t i = 0; i < f->nkeycerts; i++)
        free(f->keycerts[i]);
    free(f->keycerts);
    f->o = NULL;
    f->n = f->cap = 0;
    f->keycerts = NULL;
    f->nkeycerts = 0;
    bl_buf_close(&f->merged);
    f->merged_serial = 0;
}

static int obj_cmp(const void *a, const void *b)
{
    const spool_obj_t *x = a, *y = b;
    if (x->serial != y->serial)
        return x->serial < y->serial ? -1 : 1;
    return x->type - y->type; /* delta (1) before snapshot (2) */
}

/* Reads the header of one spool file. */
static int read_obj_header(const char *path, spool_obj_t *o)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return BL_EIO;
    uint8_t b[BL_HDR_SIZE];
    ssize_t got = pread(fd, b, sizeof b, 0);
    struct stat st;
    int rc = fstat(fd, &st);
    close(fd);
    if (got != (ssize_t)sizeof b || rc != 0)
        return BL_ETRUNC;
    bl_rd_t rd;
    bl_rd_init(&rd, b, sizeof b);
    bl_hdr_t h;
    if ((rc = bl_hdr_decode(&rd, &h)) != 0)
        return rc;
    if ((uint64_t)st.st_size != BL_OBJ_PREFIX + h.payload_len)
        return BL_ETRUNC; /* being written, or damaged */
    o->type = h.type;
    o->base_serial = h.base_serial;
    o->serial = h.serial;
    memcpy(o->base_digest, h.base_digest, BL_DIGEST_SIZE);
    memcpy(o->digest, h.digest, BL_DIGEST_SIZE);
    o->bytes = (uint64_t)st.st_size;
    o->n_entries = h.n_entries;
    o->n_added = h.n_added;
    o->n_removed = h.n_removed;
    o->expires_ms = h.expires_ms;
    return 0;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n > m && !strcmp(s + n - m, suf);
}

static void feed_update_head(feed_t *f)
{
    f->head_serial = 0;
    memset(f->head_digest, 0, sizeof f->head_digest);
    if (f->n) {
        f->head_serial = f->o[f->n - 1].serial;
        memcpy(f->head_digest, f->o[f->n - 1].digest, BL_DIGEST_SIZE);
    }
}

static int feed_add(feed_t *f, const char *path)
{
    spool_obj_t o = {0};
    int rc = read_obj_header(path, &o);
    if (rc)
        return rc;
    if (o.type == BL_OBJ_KEYCERT) {
        for (size_t i = 0; i < f->nkeycerts; i++)
            if (!strcmp(f->keycerts[i], path))
                return 0;
        char **nk = realloc(f->keycerts, (f->nkeycerts + 1) * sizeof *nk);
        if (!nk)
            return BL_ENOMEM;
        f->keycerts = nk;
        if (!(f->keycerts[f->nkeycerts] = strdup(path)))
            return BL_ENOMEM;
        f->nkeycerts++;
        return 0;
    }
    if (o.type != BL_OBJ_DELTA && o.type != BL_OBJ_SNAPSHOT)
        return BL_ETYPE;
    for (size_t i = 0; i < f->n; i++)
        if (f->o[i].serial == o.serial && f->o[i].type == o.type)
            return 0; /* already known */
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 64;
        spool_obj_t *no = realloc(f->o, nc * sizeof *no);
        if (!no)
            return BL_ENOMEM;
        f->o = no;
        f->cap = nc;
    }
    if (!(o.path = strdup(path)))
        return BL_ENOMEM;
    f->o[f->n++] = o;
    if (o.type == BL_OBJ_SNAPSHOT)
        f->snapshot_requested = 0;
    qsort(f->o, f->n, sizeof *f->o, obj_cmp);
    feed_update_head(f);
    return 0;
}

/* Brings the index in line with the directory: new files are added (their
 * headers read), vanished ones dropped. Skipped when the directory's mtime
 * has not changed since the last scan, unless force. */
static int feed_scan_ex(feed_t *f, int force)
{
    struct stat dst;
    if (stat(f->dir, &dst) != 0)
        return BL_EIO;
    if (!force && dst.st_mtim.tv_sec == f->mtime.tv_sec && dst.st_mtim.tv_nsec == f->mtime.tv_nsec)
        return 0;
    DIR *d = opendir(f->dir);
    if (!d)
        return BL_EIO;
    f->mtime = dst.st_mtim;
    uint8_t *seen = calloc(f->n + 1, 1);
    if (!seen) {
        closedir(d);
        return BL_ENOMEM;
    }
    size_t known = f->n;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!has_suffix(de->d_name, ".delta") && !has_suffix(de->d_name, ".snap") &&
            !has_suffix(de->d_name, ".keycert"))
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", f->dir, de->d_name) >= (int)sizeof path)
            continue;
        int found = 0;
        for (size_t i = 0; i < known && !found; i++)
            if (f->o[i].path && !strcmp(f->o[i].path, path))
                found = 1, seen[i] = 1;
        if (found)
            continue;
        int rc = feed_add(f, path);
        if (rc && rc != BL_ETRUNC)
            BL_WARN("sync_spool_skip", "path=%s error=%s", bl_log_q(path), bl_errname(rc));
    }
    closedir(d);
    /* feed_add sorts, so match vanished objects by path again. */
    size_t w = 0;
    for (size_t i = 0; i < f->n; i++) {
        struct stat st;
        if (stat(f->o[i].path, &st) != 0) {
            free(f->o[i].path);
            continue;
        }
        f->o[w++] = f->o[i];
    }
    f->n = w;
    free(seen);
    feed_update_head(f);
    return 0;
}

static int feed_scan(feed_t *f)
{
    return feed_scan_ex(f, 1);
}

static int find_feed(const master_sync_t *s, const char *name)
{
    for (size_t i = 0; i < s->nfeeds; i++)
        if (!strcmp(s->feeds[i].name, name))
            return (int)i;
    return -1;
}

/* Finds or adds the feed whose spool directory is spool/name. */
static int feed_get(master_sync_t *s, const char *name)
{
    int i = find_feed(s, name);
    if (i >= 0)
        return i;
    if (s->nfeeds == SYNC_MAX_FEEDS || strlen(name) > BL_FEED_MAX)
        return -1;
    char dir[PATH_MAX];
    struct stat st;
    if (snprintf(dir, sizeof dir, "%s/%s", s->c.spool, name) >= (int)sizeof dir ||
        stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return -1;
    feed_t *f = &s->feeds[s->nfeeds];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    snprintf(f->dir, sizeof f->dir, "%s", dir);
    feed_scan(f);
    return (int)s->nfeeds++;
}

static int scan_all(master_sync_t *s)
{
    DIR *d = opendir(s->c.spool);
    if (!d) {
        BL_ERR("sync_spool_open", "path=%s errno=%d", bl_log_q(s->c.spool), errno);
        return BL_EIO;
    }
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            feed_get(s, de->d_name);
    closedir(d);
    for (size_t i = 0; i < s->nfeeds; i++)
        feed_scan(&s->feeds[i]);
    return 0;
}

/* Sum of delta bytes of the chain from (serial, digest) to the head, or
 * UINT64_MAX if the chain is broken. *first receives the first delta. */
static uint64_t chain_bytes(const feed_t *f, uint64_t serial, const uint8_t *digest,
                            const spool_obj_t **first)
{
    uint64_t total = 0;
    *first = NULL;
    while (serial != f->head_serial) {
        const spool_obj_t *next = NULL;
        for (size_t i = 0; i < f->n; i++)
            if (f->o[i].type == BL_OBJ_DELTA && f->o[i].base_serial == serial &&
                !memcmp(f->o[i].base_digest, digest, BL_DIGEST_SIZE)) {
                next = &f->o[i];
                break;
            }
        if (!next)
            return UINT64_MAX;
        if (!*first)
            *first = next;
        total += next->bytes;
        serial = next->serial;
        digest = next->digest;
    }
    return total;
}

static const spool_obj_t *latest_snapshot(const feed_t *f)
{
    for (size_t i = f->n; i-- > 0;)
        if (f->o[i].type == BL_OBJ_SNAPSHOT)
            return &f->o[i];
    return NULL;
}

static void ask_snapshot(master_sync_t *s, feed_t *f)
{
    if (f->snapshot_requested || !s->h.want_snapshot)
        return;
    f->snapshot_requested = 1;
    BL_INFO("sync_want_snapshot", "feed=%s head=%" PRIu64, bl_log_q(f->name), f->head_serial);
    s->h.want_snapshot(s->h.ctx, f->name);
}

/* What a mirror at (sent_serial, sent_digest) gets next: a delta, a
 * snapshot, or NULL (up to date, or nothing in the spool can help yet). */
static const spool_obj_t *next_object(master_sync_t *s, feed_t *f, sub_t *sub)
{
    if (!f->n)
        return NULL;
    const spool_obj_t *snap = latest_snapshot(f);
    /* Only a snapshot past the mirror's serial moves it: an older one is a rollback. */
    int snap_helps = snap && snap->serial > sub->sent_serial;
    if (sub->force_snapshot || sub->sent_serial == 0) {
        if (snap_helps)
            return snap;
        if (sub->force_snapshot) {
            sub->force_snapshot = 0;
            ask_snapshot(s, f);
        }
    }
    if (sub->sent_serial == f->head_serial &&
        !memcmp(sub->sent_digest, f->head_digest, BL_DIGEST_SIZE))
        return NULL;
    if (sub->sent_serial > f->head_serial)
        return NULL; /* the mirror is ahead: nothing we can send helps */
    const spool_obj_t *first;
    uint64_t cb = chain_bytes(f, sub->sent_serial, sub->sent_digest, &first);
    /* A snapshot is worth it when the deltas would weigh more. */
    if (cb != UINT64_MAX && (!snap_helps || cb <= snap->bytes))
        return first;
    if (snap_helps)
        return snap;
    ask_snapshot(s, f); /* the chain is gone and no snapshot is recent enough */
    return NULL;
}

/* ---- merged deltas ----------------------------------------------------
 *
 * A mirror many deltas behind gets one delta from its state to the head,
 * signed by the master's key, instead of the chain. A removal may only name
 * a key that exists at the mirror's serial, and a delta's additions do not
 * say whether they replaced a key; the entry counts do: an addition in a
 * delta whose additions were all new (or all replacements) is known, and a
 * key whose existence cannot be told that way makes the merge give up (the
 * chain goes out instead). The mirror checks the digest after applying, as
 * for every delta.
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
    if (m->n + n > m->cap) {
        size_t nc = m->cap ? m->cap : 1024;
        while (nc < m->n + n)
            nc *= 2;
        mchg_t *nv = realloc(m->v, nc * sizeof *nv);
        if (!nv)
            return BL_ENOMEM;
        m->v = nv;
        m->cap = nc;
    }
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

/* Builds in f->merged the delta from (serial, digest) to the head. */
static int merge_chain(master_sync_t *s, feed_t *f, uint64_t serial, const uint8_t *digest)
{
    const spool_obj_t *chain[SYNC_MERGE_MAX];
    size_t n = 0;
    uint64_t at = serial;
    const uint8_t *d = digest;
    while (at != f->head_serial) {
        const spool_obj_t *next = NULL;
        for (size_t i = 0; i < f->n && !next; i++)
            if (f->o[i].type == BL_OBJ_DELTA && f->o[i].base_serial == at &&
                !memcmp(f->o[i].base_digest, d, BL_DIGEST_SIZE))
                next = &f->o[i];
        if (!next || n == SYNC_MERGE_MAX)
            return BL_ENOTFOUND;
        chain[n++] = next;
        at = next->serial;
        d = next->digest;
    }
    if (n < SYNC_MERGE_MIN || !s->key)
        return BL_ENOTFOUND;
    /* Entries at the mirror's serial: from the object that ends there. */
    uint64_t before = UINT64_MAX;
    for (size_t i = 0; i < f->n; i++)
        if (f->o[i].serial == serial && !memcmp(f->o[i].digest, digest, BL_DIGEST_SIZE))
            before = f->o[i].n_entries;
    if (before == UINT64_MAX)
        return BL_ENOTFOUND;
    uint8_t *cls = calloc(n, 1);
    mcollect_t m = {0};
    bl_change_t *rem = NULL, *add = NULL;
    int rc = cls ? 0 : BL_ENOMEM;
    for (size_t i = 0; i < n && !rc; i++) {
        const spool_obj_t *o = chain[i];
        uint64_t fresh = o->n_entries + o->n_removed - before; /* additions that were new */
        cls[i] = !o->n_added           ? ADDS_NONE
                 : fresh == o->n_added ? ADDS_NEW
                 : fresh == 0          ? ADDS_REPLACE
                                       : ADDS_MIXED;
        before = o->n_entries;
        uint8_t *data = NULL;
        size_t len = 0;
        bl_obj_t obj;
        m.delta = (uint32_t)i;
        rc = bl_file_read(o->path, SYNC_MERGE_FILE, &data, &len);
        if (!rc)
            rc = bl_obj_open(data, len, s->ring, NULL, &obj, NULL);
        if (!rc) {
            bl_sink_t sink = {.ctx = &m, .block = merge_sink};
            rc = bl_obj_decode(&obj, NULL, &sink, NULL);
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
        const mchg_t *first = &m.v[i], *last = &m.v[j];
        if (last->seq & 1) {
            add[nadd++] = last->c; /* present at the head: (re)state it */
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
            else if (existed) {
                rem[nrem] = last->c;
                nrem++;
            }
        }
        i = j + 1;
    }
    if (!rc) {
        const spool_obj_t *head = chain[n - 1];
        bl_hdr_t h = {0};
        snprintf(h.feed, sizeof h.feed, "%s", f->name);
        h.base_serial = serial;
        memcpy(h.base_digest, digest, BL_DIGEST_SIZE);
        h.serial = head->serial;
        memcpy(h.digest, head->digest, BL_DIGEST_SIZE);
        h.created_ms = bl_now_ms();
        h.expires_ms = head->expires_ms;
        h.n_entries = head->n_entries;
        bl_buf_close(&f->merged);
        bl_buf_init(&f->merged);
        rc = bl_delta_write(&h, rem, nrem, add, nadd, s->key, &f->merged);
        if (!rc) {
            f->merged_base = serial;
            memcpy(f->merged_base_digest, digest, BL_DIGEST_SIZE);
            f->merged_serial = head->serial;
            BL_INFO("sync_merged",
                    "feed=%s from=%" PRIu64 " to=%" PRIu64 " deltas=%zu "
                    "removed=%zu added=%zu bytes=%zu",
                    bl_log_q(f->name), serial, head->serial, n, nrem, nadd, f->merged.len);
        } else {
            bl_buf_close(&f->merged);
            f->merged_serial = 0;
        }
    }
    free(cls);
    free(m.v);
    free(rem);
    free(add);
    return rc;
}

/* Sends the merged delta from the mirror's cursor to the head if the chain
 * is long enough and the merge is possible; 1 if sent. */
static int send_merged(sconn_t *c, feed_t *f, sub_t *sub)
{
    master_sync_t *s = c->srv;
    if (f->merged_serial != f->head_serial || f->merged_base != sub->sent_serial ||
        memcmp(f->merged_base_digest, sub->sent_digest, BL_DIGEST_SIZE)) {
        if (merge_chain(s, f, sub->sent_serial, sub->sent_digest) != 0)
            return 0;
    }
    size_t room = bl_tls_max_queue(c->tls) - bl_tls_queued(c->tls);
    if (f->merged.len + BL_FRAME_HDR > room)
        return 0; /* larger than the queue allows at once: the chain streams instead */
    bl_buf_t b;
    bl_buf_init(&b);
    int rc = bl_frame_put_object(&b, BL_FRAME_OBJECT, f->merged.data, f->merged.len);
    if (!rc)
        rc = bl_tls_write(c->tls, b.data, b.len);
    bl_buf_close(&b);
    if (rc)
        return 0;
    s->st.objects_sent++;
    s->st.bytes_sent += f->merged.len;
    sub->sent_serial = f->merged_serial;
    memcpy(sub->sent_digest, f->head_digest, BL_DIGEST_SIZE);
    return 1;
}

/* ---- connections ------------------------------------------------------ */

static void conn_send_error(sconn_t *c, int code, const char *text)
{
    bl_buf_t b;
    bl_buf_init(&b);
    if (bl_frame_put_error(&b, code, text) == 0)
        bl_tls_write(c->tls, b.data, b.len);
    bl_buf_close(&b);
}

/* Signs a feed's heartbeat once per interval (or when the head moves) and
 * sends that same object to every mirror: one signature per feed, not per mirror. */
static void heartbeat_send(sconn_t *c, sub_t *sub)
{
    master_sync_t *s = c->srv;
    feed_t *f = &s->feeds[sub->feed];
    if (!s->key)
        return;
    int64_t now = bl_now_ms();
    int64_t ttl = s->c.heartbeat_ttl_ms ? s->c.heartbeat_ttl_ms : 6 * s->c.heartbeat_interval_ms;
    if (!f->hb_ms || f->hb_serial != f->head_serial ||
        now - f->hb_ms >= s->c.heartbeat_interval_ms / 2 || now < f->hb_ms) {
        if (bl_heartbeat_write(f->name, f->head_serial, f->head_digest, now, ttl, s->key, f->hb))
            return;
        f->hb_ms = now;
        f->hb_serial = f->head_serial;
    }
    uint8_t fr[BL_FRAME_HDR + BL_OBJ_PREFIX];
    bl_frame_header(fr, BL_FRAME_HEARTBEAT, BL_OBJ_PREFIX);
    memcpy(fr + BL_FRAME_HDR, f->hb, BL_OBJ_PREFIX);
    if (bl_tls_write(c->tls, fr, sizeof fr) == 0) {
        sub->hb_due = 0;
        s->st.heartbeats_sent++;
    }
}

/* Starts streaming one spool object; 0, or an error when its file is gone. */
static int start_object(sconn_t *c, const char *path, uint64_t bytes)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return BL_EIO;
    if (bytes > UINT32_MAX) {
        close(fd);
        return BL_ETOOBIG;
    }
    uint8_t hdr[BL_FRAME_HDR];
    bl_frame_header(hdr, BL_FRAME_OBJECT, (uint32_t)bytes);
    int rc = bl_tls_write(c->tls, hdr, sizeof hdr);
    if (rc) {
        close(fd);
        return rc;
    }
    c->fd = fd;
    c->off = 0;
    c->left = bytes;
    c->srv->st.objects_sent++;
    return 0;
}

/* Sends while the queue is under half its limit: the rest of the current
 * object, due heartbeats, key certificates, then the next object of each feed. */
static void conn_pump(sconn_t *c)
{
    master_sync_t *s = c->srv;
    size_t half = bl_tls_max_queue(c->tls) / 2;
    uint8_t *chunk = NULL;
    for (;;) {
        if (!c->up || !bl_tls_is_connected(c->tls))
            break;
        if (c->fd >= 0) {
            if (bl_tls_queued(c->tls) >= half)
                break;
            if (!chunk && !(chunk = malloc(SYNC_CHUNK)))
                break;
            /* Never more than the queue can take: a refused write would leave
             * the queue under half full with nothing to wake the pump. */
            size_t room = bl_tls_max_queue(c->tls) - bl_tls_queued(c->tls);
            size_t want = c->left < SYNC_CHUNK ? (size_t)c->left : SYNC_CHUNK;
            if (want > room)
                want = room;
            ssize_t got = pread(c->fd, chunk, want, (off_t)c->off);
            if (got <= 0) {
                /* The file shrank under us (pruned and reused?): the frame is broken. */
                close(c->fd);
                c->fd = -1;
                bl_tls_close(c->tls, "spool object vanished while sending");
                break;
            }
            if (bl_tls_write(c->tls, chunk, (size_t)got) != 0)
                break;
            s->st.bytes_sent += (uint64_t)got;
            c->off += (uint64_t)got;
            c->left -= (uint64_t)got;
            if (c->left == 0) {
                close(c->fd);
                c->fd = -1;
            }
            continue;
        }
        if (bl_tls_queued(c->tls) >= half)
            break;
        int progressed = 0;
        for (int i = 0; i < SYNC_MAX_FEEDS && c->fd < 0; i++) {
            sub_t *sub = &c->subs[i];
            if (!sub->active)
                continue;
            feed_t *f = &s->feeds[sub->feed];
            /* Key certificates first, so that objects signed by a new key verify. */
            while (sub->keycert_next < f->nkeycerts && c->fd < 0) {
                struct stat st;
                const char *kp = f->keycerts[sub->keycert_next++];
                if (stat(kp, &st) == 0)
                    start_object(c, kp, (uint64_t)st.st_size);
            }
            if (c->fd >= 0) {
                progressed = 1;
                break;
            }
            /* A heartbeat goes after the objects it announces, unless objects
             * have kept it waiting for a whole interval. */
            const spool_obj_t *o = next_object(s, f, sub);
            if (sub->hb_due && (!o || sub->hb_due > 1)) {
                heartbeat_send(c, sub);
                progressed = 1;
            }
            if (!o)
                continue;
            if (o->type == BL_OBJ_DELTA && send_merged(c, f, sub)) {
                progressed = 1;
                continue;
            }
            int rc = start_object(c, o->path, o->bytes);
            if (rc == BL_EIO) {
                /* Pruned since the last scan: rescan and try again next turn. */
                feed_scan(f);
                progressed = 1;
                continue;
            }
            if (rc)
                break;
            if (o->type == BL_OBJ_SNAPSHOT)
                s->st.snapshots_sent++;
            BL_DEBUG("sync_send", "mirror=%s feed=%s type=%s serial=%" PRIu64 " bytes=%" PRIu64,
                     bl_log_q(c->name), bl_log_q(f->name), bl_obj_type_name(o->type), o->serial,
                     o->bytes);
            sub->sent_serial = o->serial;
            memcpy(sub->sent_digest, o->digest, BL_DIGEST_SIZE);
            sub->force_snapshot = 0;
            progressed = 1;
        }
        if (!progressed && c->fd < 0)
            break;
    }
    free(chunk);
}

static void pump_all(master_sync_t *s)
{
    for (sconn_t *c = s->conns; c; c = c->next)
        conn_pump(c);
}

static sub_t *sub_of(sconn_t *c, const char *feed)
{
    for (int i = 0; i < SYNC_MAX_FEEDS; i++)
        if (c->subs[i].active && !strcmp(c->srv->feeds[c->subs[i].feed].name, feed))
            return &c->subs[i];
    return NULL;
}

static void on_hello(sconn_t *c, const bl_frame_hello_t *h)
{
    master_sync_t *s = c->srv;
    if (h->version != BL_PROTO_VERSION) {
        conn_send_error(c, BL_EVERSION, "unsupported protocol version");
        bl_tls_close(c->tls, "protocol version");
        return;
    }
    int fi = feed_get(s, h->feed);
    if (fi < 0) {
        conn_send_error(c, BL_ENOTFOUND, "no such feed");
        BL_WARN("sync_unknown_feed", "mirror=%s feed=%s", bl_log_q(c->name), bl_log_q(h->feed));
        return;
    }
    sub_t *sub = sub_of(c, h->feed);
    if (!sub) {
        for (int i = 0; i < SYNC_MAX_FEEDS && !sub; i++)
            if (!c->subs[i].active)
                sub = &c->subs[i];
        if (!sub) {
            conn_send_error(c, BL_ETOOBIG, "too many feeds");
            return;
        }
        memset(sub, 0, sizeof *sub);
        sub->active = 1;
        sub->feed = fi;
        sub->hb_due = 1;
    }
    feed_t *f = &s->feeds[fi];
    sub->sent_serial = h->serial;
    memcpy(sub->sent_digest, h->digest, BL_DIGEST_SIZE);
    /* A mirror ahead of the master (the master was restored from an older
     * backup) holds changes this master never made: it must not count as
     * having this master's delistings, or they would read "propagated"
     * while no mirror applies them. It stays at 0 until it catches up, so
     * lag and the propagation alerts show it (docs/OPERATIONS.md, restore). */
    int ahead = h->serial > f->head_serial;
    sub->acked_serial = ahead ? 0 : h->serial;
    sub->force_snapshot = (h->flags & BL_HELLO_WANT_SNAPSHOT) != 0;
    if (h->serial == f->head_serial && memcmp(h->digest, f->head_digest, BL_DIGEST_SIZE) && f->n) {
        conn_send_error(c, BL_EFORK, "same serial, different digest: sending a snapshot");
        sub->force_snapshot = 1;
    } else if (ahead) {
        conn_send_error(c, BL_EROLLBACK, "mirror is ahead of the master");
        BL_WARN("sync_mirror_ahead", "mirror=%s feed=%s serial=%" PRIu64 " head=%" PRIu64,
                bl_log_q(c->name), bl_log_q(f->name), h->serial, f->head_serial);
    }
    BL_INFO("sync_hello", "mirror=%s feed=%s serial=%" PRIu64 " head=%" PRIu64 " snapshot=%d",
            bl_log_q(c->name), bl_log_q(f->name), h->serial, f->head_serial, sub->force_snapshot);
    if (s->h.on_ack)
        s->h.on_ack(s->h.ctx, c->name, f->name, sub->acked_serial, c->last_contact_ms);
    conn_pump(c);
}

static void on_ack(sconn_t *c, const bl_frame_ack_t *a)
{
    master_sync_t *s = c->srv;
    sub_t *sub = sub_of(c, a->feed);
    if (!sub)
        return;
    const feed_t *f = &s->feeds[sub->feed];
    if (a->serial > f->head_serial) {
        /* Only an ahead mirror can acknowledge what this master never sent. */
        BL_WARN("sync_ack_ahead", "mirror=%s feed=%s serial=%" PRIu64 " head=%" PRIu64,
                bl_log_q(c->name), bl_log_q(a->feed), a->serial, f->head_serial);
        return;
    }
    sub->acked_serial = a->serial;
    s->st.acks_total++;
    BL_DEBUG("sync_ack", "mirror=%s feed=%s serial=%" PRIu64, bl_log_q(c->name), bl_log_q(a->feed),
             a->serial);
    if (s->h.on_ack)
        s->h.on_ack(s->h.ctx, c->name, a->feed, a->serial, c->last_contact_ms);
}

static void srv_connect(bl_tls_conn_t *t, const char *peer)
{
    sconn_t *c = bl_tls_conn_data(t);
    master_sync_t *s = c->srv;
    snprintf(c->name, sizeof c->name, "%s", peer);
    c->up = 1;
    c->last_contact_ms = bl_now_ms();
    s->st.connections_total++;
    s->st.connected++;
    BL_INFO("sync_mirror_up", "mirror=%s addr=%s", bl_log_q(c->name),
            bl_log_q(bl_tls_peer_addr(t)));
    if (s->h.on_mirror)
        s->h.on_mirror(s->h.ctx, c->name, 1, "connected");
}

static void srv_data(bl_tls_conn_t *t, const uint8_t *p, size_t n)
{
    sconn_t *c = bl_tls_conn_data(t);
    c->last_contact_ms = bl_now_ms();
    int rc = bl_frame_reader_feed(&c->rd, p, n);
    bl_frame_t f;
    while (rc == 0 && (rc = bl_frame_next(&c->rd, &f)) == 1) {
        rc = 0;
        if (f.type == BL_FRAME_HELLO) {
            bl_frame_hello_t h;
            if ((rc = bl_frame_decode_hello(f.payload, f.len, &h)) == 0)
                on_hello(c, &h);
        } else if (f.type == BL_FRAME_ACK) {
            bl_frame_ack_t a;
            if ((rc = bl_frame_decode_ack(f.payload, f.len, &a)) == 0)
                on_ack(c, &a);
        } else if (f.type == BL_FRAME_ERROR) {
            bl_frame_error_t e;
            if ((rc = bl_frame_decode_error(f.payload, f.len, &e)) == 0) {
                c->srv->st.errors_received++;
                BL_WARN("sync_mirror_error", "mirror=%s code=%s text=%s", bl_log_q(c->name),
                        bl_errname(-(int)e.code), bl_log_q(e.text));
            }
        } else {
            rc = BL_EPROTO; /* a mirror never sends objects */
        }
        if (!bl_tls_is_connected(t))
            return;
    }
    if (rc < 0) {
        char reason[128];
        snprintf(reason, sizeof reason, "protocol error: %s", bl_errname(rc));
        BL_WARN("sync_protocol", "mirror=%s error=%s", bl_log_q(c->name), bl_errname(rc));
        bl_tls_close(t, reason);
    }
}

static void srv_drain(bl_tls_conn_t *t)
{
    conn_pump(bl_tls_conn_data(t));
}

static void srv_close(bl_tls_conn_t *t, const char *reason)
{
    sconn_t *c = bl_tls_conn_data(t);
    master_sync_t *s = c->srv;
    if (c->up) {
        s->st.connected--;
        BL_INFO("sync_mirror_down", "mirror=%s reason=%s", bl_log_q(c->name), bl_log_q(reason));
        if (s->h.on_mirror)
            s->h.on_mirror(s->h.ctx, c->name, 0, reason);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->fd >= 0)
        close(c->fd);
    bl_frame_reader_close(&c->rd);
    free(c);
}

/* Accepted connections carry the server as user data until the handshake
 * completes; then they get their own sconn_t. */
static void srv_connect0(bl_tls_conn_t *t, const char *peer)
{
    master_sync_t *s = bl_tls_conn_data(t);
    if (s->st.connected >= (s->c.max_mirrors ? s->c.max_mirrors : 10000)) {
        bl_tls_close(t, "too many mirrors");
        return;
    }
    sconn_t *c = calloc(1, sizeof *c);
    if (!c) {
        bl_tls_close(t, "out of memory");
        return;
    }
    c->kind = KIND_CONN;
    c->srv = s;
    c->tls = t;
    c->fd = -1;
    /* A mirror sends only small frames; objects flow the other way. */
    bl_frame_reader_init(&c->rd, 1u << 16);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    bl_tls_conn_set_data(t, c);
    srv_connect(t, peer);
}

static void srv_close0(bl_tls_conn_t *t, const char *reason)
{
    int *kind = bl_tls_conn_data(t);
    if (*kind == KIND_SERVER) {
        /* Closed before the handshake completed: refused, or gone early. */
        master_sync_t *s = (master_sync_t *)kind;
        s->st.refused_total++;
        BL_WARN("sync_refused", "addr=%s reason=%s", bl_log_q(bl_tls_peer_addr(t)),
                bl_log_q(reason));
        return;
    }
    srv_close(t, reason);
}

/* ---- timers, notes, lifecycle ----------------------------------------- */

static void on_hb_timer(uv_timer_t *t)
{
    master_sync_t *s = t->data;
    uint64_t now = bl_mono_ns();
    for (sconn_t *c = s->conns, *next; c; c = next) {
        next = c->next;
        /* A mirror that has not taken anything for this long is stuck:
         * disconnect it; it resumes from its acknowledged state. */
        uint64_t stuck_ms = s->c.stuck_ms > 0 ? (uint64_t)s->c.stuck_ms : SYNC_STUCK_MS;
        /* Sampled once per tick: a queue that is over half full at every tick
         * (however much trickles out in between) belongs to a mirror that
         * cannot keep up. */
        if (bl_tls_queued(c->tls) < bl_tls_max_queue(c->tls) / 2)
            c->full_since_ns = 0;
        else if (!c->full_since_ns)
            c->full_since_ns = now;
        if (c->full_since_ns && now - c->full_since_ns > stuck_ms * 1000000u) {
            s->st.disconnects_slow++;
            BL_WARN("sync_mirror_stuck", "mirror=%s queued=%zu", bl_log_q(c->name),
                    bl_tls_queued(c->tls));
            bl_tls_close(c->tls, "mirror too slow");
            continue;
        }
        for (int i = 0; i < SYNC_MAX_FEEDS; i++)
            if (c->subs[i].active && c->subs[i].hb_due < 2)
                c->subs[i].hb_due++;
        conn_pump(c);
    }
}

static void on_poll_timer(uv_timer_t *t)
{
    master_sync_t *s = t->data;
    int changed = 0;
    for (size_t i = 0; i < s->nfeeds; i++) {
        uint64_t before = s->feeds[i].head_serial;
        size_t n = s->feeds[i].n;
        feed_scan_ex(&s->feeds[i], 0);
        changed |= before != s->feeds[i].head_serial || n != s->feeds[i].n;
    }
    if (changed)
        pump_all(s);
}

static void on_async(uv_async_t *a)
{
    master_sync_t *s = a->data;
    pthread_mutex_lock(&s->mu);
    note_t *n = s->notes;
    s->notes = NULL;
    pthread_mutex_unlock(&s->mu);
    /* Oldest first (the list was built newest first). */
    note_t *rev = NULL;
    while (n) {
        note_t *next = n->next;
        n->next = rev;
        rev = n;
        n = next;
    }
    while (rev) {
        note_t *next = rev->next;
        char *slash = strrchr(rev->path, '/');
        if (slash) {
            *slash = 0;
            const char *feed = strrchr(rev->path, '/');
            feed = feed ? feed + 1 : rev->path;
            int fi = feed_get(s, feed);
            *slash = '/';
            if (fi >= 0) {
                int rc = feed_add(&s->feeds[fi], rev->path);
                if (rc)
                    BL_WARN("sync_spool_add", "path=%s error=%s", bl_log_q(rev->path),
                            bl_errname(rc));
            }
        }
        free(rev);
        rev = next;
    }
    pump_all(s);
}

void master_sync_pub_hook(void *ctx, int type, uint64_t serial, const char *path, uint64_t bytes)
{
    (void)type;
    (void)serial;
    (void)bytes;
    master_sync_t *s = ctx;
    size_t n = strlen(path);
    note_t *note = malloc(sizeof *note + n + 1);
    if (!note)
        return; /* the next heartbeat tick's rescan is not needed: the next publish re-adds */
    memcpy(note->path, path, n + 1);
    pthread_mutex_lock(&s->mu);
    note->next = s->notes;
    s->notes = note;
    pthread_mutex_unlock(&s->mu);
    uv_async_send(&s->async);
}

int master_sync_rescan(master_sync_t *s)
{
    int rc = scan_all(s);
    pump_all(s);
    return rc;
}

static int load_key(master_sync_t *s)
{
    bl_key_t *k = NULL;
    int rc = bl_key_load(s->c.key_path, &k);
    if (rc) {
        BL_ERR("sync_key", "path=%s error=%s", bl_log_q(s->c.key_path), bl_errname(rc));
        return rc;
    }
    if (!bl_key_is_private(k)) {
        bl_key_free(k);
        BL_ERR("sync_key", "path=%s error=%s", bl_log_q(s->c.key_path), "not a private key");
        return BL_EKEY;
    }
    bl_key_t *pub = NULL;
    if (!s->ring)
        s->ring = bl_keyring_new();
    if (s->ring && bl_key_from_raw(bl_key_raw(k), &pub) == 0)
        bl_keyring_add(s->ring, pub); /* old keys stay: older deltas still verify */
    bl_key_free(s->key);
    s->key = k;
    for (size_t i = 0; i < s->nfeeds; i++)
        s->feeds[i].hb_ms = 0; /* sign the next heartbeats with this key */
    return 0;
}

int master_sync_reload(master_sync_t *s)
{
    int rc = bl_tls_ctx_reload_revoked(s->tls);
    if (rc == 0)
        bl_tls_server_kick_revoked(s->srv);
    /* Key certificates dropped into the spool go out before anything signed
     * by the new key: rescan (and push) first, then load the key. */
    int rs = master_sync_rescan(s);
    int rk = load_key(s);
    return rc ? rc : rs ? rs : rk;
}

static void on_handle_closed(uv_handle_t *h)
{
    master_sync_t *s = h->data;
    if (--s->handles == 0) {
        for (size_t i = 0; i < s->nfeeds; i++)
            feed_clear(&s->feeds[i]);
        note_t *n = s->notes;
        while (n) {
            note_t *next = n->next;
            free(n);
            n = next;
        }
        pthread_mutex_destroy(&s->mu);
        bl_key_free(s->key);
        bl_keyring_free(s->ring);
        bl_tls_ctx_free(s->tls);
        free(s);
    }
}

int master_sync_new(uv_loop_t *loop, const master_sync_conf_t *c, const master_sync_hooks_t *h,
                    master_sync_t **out)
{
    *out = NULL;
    master_sync_t *s = calloc(1, sizeof *s);
    if (!s)
        return BL_ENOMEM;
    s->kind = KIND_SERVER;
    s->c = *c;
    if (s->c.heartbeat_interval_ms <= 0)
        s->c.heartbeat_interval_ms = 5000;
    if (h)
        s->h = *h;
    s->loop = loop;
    pthread_mutex_init(&s->mu, NULL);
    bl_tls_config_t tc = {
        .cert_file = c->cert_file,
        .key_file = c->tls_key_file,
        .ca_file = c->ca_file[0] ? c->ca_file : NULL,
        .pinned_file = c->pinned_file[0] ? c->pinned_file : NULL,
        .revoked_file = c->revoked_file[0] ? c->revoked_file : NULL,
        .max_queue = c->max_queue,
        .sndbuf = c->sndbuf,
        .handshake_timeout_ms = c->handshake_timeout_ms > 0 ? (uint64_t)c->handshake_timeout_ms : 0,
        .max_handshakes = c->max_handshakes,
        .max_handshakes_per_addr = c->max_handshakes_per_addr,
    };
    int rc = bl_tls_ctx_new_server(&tc, &s->tls);
    if (!rc)
        rc = load_key(s);
    if (!rc)
        rc = scan_all(s);
    if (rc) {
        for (size_t i = 0; i < s->nfeeds; i++)
            feed_clear(&s->feeds[i]);
        bl_key_free(s->key);
        bl_keyring_free(s->ring);
        bl_tls_ctx_free(s->tls);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return rc;
    }
    bl_tls_cb_t cb = {.on_connect = srv_connect0,
                      .on_data = srv_data,
                      .on_close = srv_close0,
                      .on_drain = srv_drain};
    rc = bl_tls_listen(loop, s->tls, c->host, c->port, &cb, s, &s->srv);
    if (rc) {
        for (size_t i = 0; i < s->nfeeds; i++)
            feed_clear(&s->feeds[i]);
        bl_key_free(s->key);
        bl_keyring_free(s->ring);
        bl_tls_ctx_free(s->tls);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return rc;
    }
    uv_timer_init(loop, &s->hb_timer);
    s->hb_timer.data = s;
    uv_timer_start(&s->hb_timer, on_hb_timer, (uint64_t)s->c.heartbeat_interval_ms,
                   (uint64_t)s->c.heartbeat_interval_ms);
    uv_async_init(loop, &s->async, on_async);
    s->async.data = s;
    uv_timer_init(loop, &s->poll_timer);
    s->poll_timer.data = s;
    if (s->c.poll_ms > 0)
        uv_timer_start(&s->poll_timer, on_poll_timer, (uint64_t)s->c.poll_ms,
                       (uint64_t)s->c.poll_ms);
    s->handles = 3;
    BL_INFO("sync_listen", "host=%s port=%d feeds=%zu", bl_log_q(c->host),
            bl_tls_server_port(s->srv), s->nfeeds);
    *out = s;
    return 0;
}

void master_sync_free(master_sync_t *s)
{
    if (!s || s->closing)
        return;
    s->closing = 1;
    bl_tls_server_close(s->srv);
    uv_timer_stop(&s->hb_timer);
    uv_close((uv_handle_t *)&s->hb_timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->async, on_handle_closed);
    uv_timer_stop(&s->poll_timer);
    uv_close((uv_handle_t *)&s->poll_timer, on_handle_closed);
}

int master_sync_port(const master_sync_t *s)
{
    return bl_tls_server_port(s->srv);
}

size_t master_sync_peers(const master_sync_t *s, master_sync_peer_t *out, size_t max)
{
    size_t n = 0;
    for (const sconn_t *c = s->conns; c; c = c->next) {
        for (int i = 0; i < SYNC_MAX_FEEDS; i++) {
            const sub_t *sub = &c->subs[i];
            if (!sub->active)
                continue;
            if (n < max) {
                master_sync_peer_t *p = &out[n];
                snprintf(p->mirror, sizeof p->mirror, "%s", c->name);
                snprintf(p->feed, sizeof p->feed, "%s", s->feeds[sub->feed].name);
                snprintf(p->addr, sizeof p->addr, "%s", bl_tls_peer_addr(c->tls));
                p->sent_serial = sub->sent_serial;
                p->acked_serial = sub->acked_serial;
                p->last_contact_ms = c->last_contact_ms;
                p->queued = bl_tls_queued(c->tls);
            }
            n++;
        }
    }
    return n;
}

const master_sync_stats_t *master_sync_stats(const master_sync_t *s)
{
    return &s->st;
}

const bl_tls_server_t *master_sync_listener(const master_sync_t *s)
{
    return s->srv;
}
