/* SPDX-License-Identifier: MIT */
/* The master's sync server: serves verified, already-signed spool objects to mirrors over mTLS. */

/*
 * Per feed the server keeps an index of the spool (serials, base serials,
 * digests, sizes, paths, and each object's verified 320-byte prefix) built
 * from files it has read back and verified whole. Objects are streamed from
 * their files in chunks, only while the connection's TLS queue is under half
 * its limit, so memory per mirror is bounded by that queue whatever the
 * object sizes; the chunks are checked against the indexed prefix and
 * hashed on the way, and the last chunk goes out only once the payload hash
 * matches. A connection holds, per feed, the serial and digest it has sent
 * up to; what to send next is recomputed from the index every time the
 * connection can take more.
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

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "err.h"
#include "frame.h"
#include "grow.h"
#include "log.h"
#include "util.h"

#define SYNC_MAX_FEEDS    16
#define SYNC_CHUNK        65536
#define SYNC_STUCK_MS     60000 /* queue full for this long: disconnect */
#define SYNC_SNAP_RETRY   30000 /* ask for a snapshot again when none came this long */
#define SYNC_OBJ_FILE_MAX ((size_t)4 << 30)
#define SYNC_BAD_KEEP     64 /* damaged files remembered, so a rescan does not re-read them */
#define SYNC_VERIFY_WHOLE (4u << 20) /* objects this small are checked whole before sending */
#define SYNC_SENT_KEYS    8 /* per feed and session: the keys of this many objects sent last */

typedef struct {
    int type;
    uint64_t base_serial, serial;
    uint8_t base_digest[BL_DIGEST_SIZE], digest[BL_DIGEST_SIZE];
    uint8_t payload_sha256[32];
    uint8_t key_id[BL_KEYID_SIZE]; /* the key that signed it */
    uint8_t prefix[BL_OBJ_PREFIX]; /* the header and signature as verified */
    uint64_t bytes;
    dev_t dev;
    ino_t ino;
    char *path;
} spool_obj_t;

typedef struct {
    char path[PATH_MAX];
    dev_t dev;
    ino_t ino;
    off_t size;
} bad_t;

typedef struct {
    char name[BL_FEED_MAX + 1];
    char dir[PATH_MAX];
    spool_obj_t *o; /* deltas and snapshots, sorted by serial, snapshots after deltas */
    size_t n, cap;
    spool_obj_t *kc; /* key certificates, in the order they appeared */
    size_t nkc, capkc;
    spool_obj_t merged; /* the merged delta being served (path NULL: none) */
    uint64_t head_serial;
    uint8_t head_digest[BL_DIGEST_SIZE];
    struct timespec mtime;     /* of the directory at the last scan */
    int64_t snapshot_asked_ms; /* asked the owner for a snapshot then (0: not waiting) */
    bad_t bad[SYNC_BAD_KEEP];
    size_t nbad, badnext;
    uint8_t hb[BL_OBJ_PREFIX]; /* the current signed heartbeat, shared by every mirror */
    int64_t hb_ms;             /* when it was signed (0: none) */
    uint64_t hb_serial;
    uint64_t hb_sent; /* heartbeats of this feed sent to mirrors */
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
    int last_type; /* the last object sent, re-verified when the mirror refuses it */
    uint64_t last_serial;
    /* The serials and signing keys of the last objects sent, newest at
     * (sent_next - 1): an acknowledgement names the key of what it accepts. */
    struct {
        uint64_t serial;
        uint8_t key_id[BL_KEYID_SIZE];
    } sent[SYNC_SENT_KEYS];
    unsigned sent_next, nsent;
} sub_t;

enum { KIND_SERVER = 0x5e5e, KIND_CONN = 0xc0c0 };

typedef struct sconn {
    int kind; /* KIND_CONN: tells a connection from the server in TLS user data */
    master_sync_t *srv;
    bl_tls_conn_t *tls;
    struct sconn *prev, *next;
    bl_frame_reader_t rd;
    char name[256];
    uint64_t sid;
    int up;
    int answers_hb;         /* BL_HELLO_HB_ACK seen: silence means gone */
    int64_t cert_not_after; /* its client certificate's notAfter (Unix seconds) */
    sub_t subs[SYNC_MAX_FEEDS];
    /* The object being streamed, verified on the way. */
    int fd;
    uint64_t off, left, total;
    spool_obj_t cur; /* copy of its index entry (path not owned) */
    int cur_feed;
    EVP_MD_CTX *md;
    int64_t last_contact_ms;  /* wall clock, for reports */
    uint64_t last_contact_ns; /* monotonic, for the silence limit (clock jumps do not count) */
    uint64_t full_since_ns;   /* queue over half its limit at every tick since (0: it is not) */
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
    feed_t feeds[SYNC_MAX_FEEDS];
    size_t nfeeds;
    sconn_t *conns;
    uint64_t next_sid;
    uv_timer_t hb_timer;
    uv_timer_t poll_timer;
    uv_async_t async;
    pthread_mutex_t mu; /* guards notes, and the revoked list against other threads' reads */
    note_t *notes;
    int closing;
    int handles;
    master_sync_stats_t st;
};

static void conn_pump(sconn_t *c);
static void pump_all(master_sync_t *s);

void master_sync_conf_defaults(master_sync_conf_t *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->host, sizeof c->host, "0.0.0.0");
    c->port = 7353;
    snprintf(c->spool, sizeof c->spool, "/var/lib/blsync/spool");
    c->heartbeat_interval_ms = 5000;
}

static void refused(master_sync_t *s, const char *what, const char *reason)
{
    if (s->h.on_refused)
        s->h.on_refused(s->h.ctx, what, reason);
}

/* ---- spool index ------------------------------------------------------ */

static void obj_free(spool_obj_t *o)
{
    free(o->path);
    o->path = NULL;
}

static void feed_clear(feed_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        obj_free(&f->o[i]);
    free(f->o);
    for (size_t i = 0; i < f->nkc; i++)
        obj_free(&f->kc[i]);
    free(f->kc);
    obj_free(&f->merged);
    f->o = f->kc = NULL;
    f->n = f->cap = f->nkc = f->capkc = 0;
}

static int obj_cmp(const void *a, const void *b)
{
    const spool_obj_t *x = a, *y = b;
    if (x->serial != y->serial)
        return x->serial < y->serial ? -1 : 1;
    return x->type - y->type; /* delta (1) before snapshot (2) */
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n > m && !strcmp(s + n - m, suf);
}

/* What a spool file's name says it holds: type and serial (0 for key certificates). */
static int name_kind(const char *path, uint64_t *serial)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    *serial = 0;
    if (has_suffix(base, ".keycert"))
        return BL_OBJ_KEYCERT;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(base, &end, 10);
    if (errno || end == base)
        return 0;
    *serial = v;
    return !strcmp(end, ".delta") ? BL_OBJ_DELTA : !strcmp(end, ".snap") ? BL_OBJ_SNAPSHOT : 0;
}

/* Reads a spool file back and verifies it whole: signature by a trusted
 * key, payload hash, feed, and a header that says what the name says. */
static int verify_file(master_sync_t *s, const feed_t *f, const char *path, int merged,
                       spool_obj_t *o)
{
    memset(o, 0, sizeof *o);
    uint64_t name_serial;
    int kind = name_kind(path, &name_serial);
    if (!kind && !merged)
        return BL_ETYPE;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = bl_file_read(path, SYNC_OBJ_FILE_MAX, &data, &len);
    if (rc)
        return rc;
    struct stat st;
    bl_obj_t obj;
    rc = bl_obj_open(data, len, s->c.keys, &bl_limits_spool, &obj, NULL);
    const bl_hdr_t *h = &obj.hdr;
    if (!rc && strcmp(h->feed, f->name))
        rc = BL_EFEED;
    if (!rc && merged && h->type != BL_OBJ_DELTA)
        rc = BL_ETYPE;
    if (!rc && !merged && h->type != kind)
        rc = BL_ETYPE;
    if (!rc && !merged && kind != BL_OBJ_KEYCERT && h->serial != name_serial)
        rc = BL_EROLLBACK; /* another serial's object under this name: a replayed file */
    if (!rc && stat(path, &st) != 0)
        rc = BL_EIO;
    if (!rc) {
        o->type = h->type;
        o->base_serial = h->base_serial;
        o->serial = h->serial;
        memcpy(o->base_digest, h->base_digest, BL_DIGEST_SIZE);
        memcpy(o->digest, h->digest, BL_DIGEST_SIZE);
        memcpy(o->payload_sha256, h->payload_sha256, 32);
        memcpy(o->key_id, h->key_id, BL_KEYID_SIZE);
        memcpy(o->prefix, data, BL_OBJ_PREFIX);
        o->bytes = len;
        o->dev = st.st_dev;
        o->ino = st.st_ino;
        if (!(o->path = strdup(path)))
            rc = BL_ENOMEM;
    }
    free(data);
    return rc;
}

static int is_bad(const feed_t *f, const char *path, const struct stat *st)
{
    for (size_t i = 0; i < f->nbad; i++)
        if (!strcmp(f->bad[i].path, path) && f->bad[i].dev == st->st_dev &&
            f->bad[i].ino == st->st_ino && f->bad[i].size == st->st_size)
            return 1;
    return 0;
}

/* A file that failed verification: remembered (so that rescans skip it
 * until it changes), logged, counted, and reported to the owner. */
static void damaged(master_sync_t *s, feed_t *f, const char *path, int type, uint64_t serial,
                    int err)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        bad_t *b = &f->bad[f->badnext];
        f->badnext = (f->badnext + 1) % SYNC_BAD_KEEP;
        if (f->nbad < SYNC_BAD_KEEP)
            f->nbad++;
        snprintf(b->path, sizeof b->path, "%s", path);
        b->dev = st.st_dev;
        b->ino = st.st_ino;
        b->size = st.st_size;
    }
    s->st.objects_damaged++;
    BL_ERR("sync_object_damaged",
           "feed=%s path=%s type=%s serial=%" PRIu64 " error=%s reason=%s action=%s",
           bl_log_q(f->name), bl_log_q(path), bl_obj_type_name(type), serial, bl_errname(err),
           bl_log_q(bl_strerror(err)), s->h.damaged ? "repair" : "skip");
    refused(s, "spool", bl_errname(err));
    if (s->h.damaged)
        s->h.damaged(s->h.ctx, f->name, serial, type, path, err);
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

/* Index position of path (or -1); key certificates are not in f->o. */
static ptrdiff_t find_path(const feed_t *f, const char *path)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->o[i].path, path))
            return (ptrdiff_t)i;
    return -1;
}

static void feed_drop(feed_t *f, size_t i)
{
    obj_free(&f->o[i]);
    memmove(&f->o[i], &f->o[i + 1], (f->n - i - 1) * sizeof *f->o);
    f->n--;
    feed_update_head(f);
}

/* Indexes one spool file after verifying it (replacing an older entry for
 * the same path or serial and type). */
static int feed_add(master_sync_t *s, feed_t *f, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return BL_EIO;
    if (is_bad(f, path, &st))
        return 0;
    ptrdiff_t at = find_path(f, path);
    if (at >= 0 && f->o[at].dev == st.st_dev && f->o[at].ino == st.st_ino &&
        f->o[at].bytes == (uint64_t)st.st_size)
        return 0; /* the same file: already verified */
    for (size_t i = 0; i < f->nkc; i++)
        if (!strcmp(f->kc[i].path, path) && f->kc[i].ino == st.st_ino)
            return 0;
    spool_obj_t o;
    int rc = verify_file(s, f, path, 0, &o);
    if (at >= 0)
        feed_drop(f, (size_t)at); /* what was indexed under this path is gone either way */
    if (rc) {
        uint64_t serial;
        int kind = name_kind(path, &serial);
        if (rc == BL_ENOMEM || (rc == BL_EIO && errno == ENOENT))
            return rc;
        damaged(s, f, path, kind, serial, rc);
        return rc;
    }
    if (o.type == BL_OBJ_KEYCERT) {
        spool_obj_t *nk = bl_grow(f->kc, &f->capkc, f->nkc + 1, sizeof *f->kc);
        if (!nk) {
            obj_free(&o);
            return BL_ENOMEM;
        }
        f->kc = nk;
        f->kc[f->nkc++] = o;
        return 0;
    }
    for (size_t i = 0; i < f->n; i++)
        if (f->o[i].serial == o.serial && f->o[i].type == o.type) {
            feed_drop(f, i); /* rewritten under another path: the newest file wins */
            break;
        }
    spool_obj_t *no = bl_grow(f->o, &f->cap, f->n + 1, sizeof *f->o);
    if (!no) {
        obj_free(&o);
        return BL_ENOMEM;
    }
    f->o = no;
    f->o[f->n++] = o;
    if (o.type == BL_OBJ_SNAPSHOT)
        f->snapshot_asked_ms = 0;
    qsort(f->o, f->n, sizeof *f->o, obj_cmp);
    feed_update_head(f);
    return 0;
}

/* Brings the index in line with the directory: new or changed files are
 * verified and added, vanished ones dropped. Skipped when the directory's
 * mtime has not changed since the last scan, unless force. */
static int feed_scan_ex(master_sync_t *s, feed_t *f, int force)
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
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!has_suffix(de->d_name, ".delta") && !has_suffix(de->d_name, ".snap") &&
            !has_suffix(de->d_name, ".keycert"))
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", f->dir, de->d_name) >= (int)sizeof path)
            continue;
        feed_add(s, f, path);
    }
    closedir(d);
    for (size_t i = 0; i < f->n;) {
        struct stat st;
        if (stat(f->o[i].path, &st) != 0 || st.st_ino != f->o[i].ino)
            feed_drop(f, i);
        else
            i++;
    }
    return 0;
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
    s->nfeeds++;
    feed_scan_ex(s, f, 1);
    return (int)s->nfeeds - 1;
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
        feed_scan_ex(s, &s->feeds[i], 1);
    return 0;
}

/* The head of f as its owner knows it, else the newest indexed object. */
static void auth_head(master_sync_t *s, const feed_t *f, uint64_t *serial, uint8_t *digest)
{
    if (s->h.head && s->h.head(s->h.ctx, f->name, serial, digest) == 0)
        return;
    *serial = f->head_serial;
    memcpy(digest, f->head_digest, BL_DIGEST_SIZE);
}

/* Sum of delta bytes of the chain from (serial, digest) to the head, or
 * UINT64_MAX if the chain is broken; *first receives the first delta and
 * *len the number of deltas. */
static uint64_t chain_bytes(const feed_t *f, uint64_t serial, const uint8_t *digest,
                            const spool_obj_t **first, size_t *len)
{
    uint64_t total = 0;
    *first = NULL;
    *len = 0;
    while (serial != f->head_serial) {
        const spool_obj_t *next = NULL;
        for (size_t i = 0; i < f->n && !next; i++)
            if (f->o[i].type == BL_OBJ_DELTA && f->o[i].base_serial == serial &&
                !memcmp(f->o[i].base_digest, digest, BL_DIGEST_SIZE))
                next = &f->o[i];
        if (!next)
            return UINT64_MAX;
        if (!*first)
            *first = next;
        total += next->bytes;
        serial = next->serial;
        digest = next->digest;
        (*len)++;
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
    int64_t now = bl_now_ms();
    if (!s->h.want_snapshot ||
        (f->snapshot_asked_ms && now - f->snapshot_asked_ms < SYNC_SNAP_RETRY))
        return;
    f->snapshot_asked_ms = now;
    BL_INFO("sync_want_snapshot", "feed=%s head=%" PRIu64, bl_log_q(f->name), f->head_serial);
    s->h.want_snapshot(s->h.ctx, f->name);
}

/* What a mirror at (sent_serial, sent_digest) gets next: a delta, a
 * snapshot, or NULL (up to date, or nothing in the spool can help yet).
 * *chain_len receives the length of the delta chain when a delta is returned. */
static const spool_obj_t *next_object(master_sync_t *s, feed_t *f, sub_t *sub, size_t *chain_len)
{
    *chain_len = 0;
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
        return NULL; /* the mirror is ahead of what the spool holds: nothing here helps */
    const spool_obj_t *first;
    uint64_t cb = chain_bytes(f, sub->sent_serial, sub->sent_digest, &first, chain_len);
    /* A snapshot is worth it when the deltas would weigh more. */
    if (cb != UINT64_MAX && (!snap_helps || cb <= snap->bytes))
        return first;
    if (snap_helps)
        return snap;
    ask_snapshot(s, f); /* the chain is gone and no snapshot is recent enough */
    return NULL;
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

/* Sends a feed's heartbeat, signed by the owner once per half interval (or
 * when the head moves) and shared by every mirror. */
static void heartbeat_send(sconn_t *c, sub_t *sub)
{
    master_sync_t *s = c->srv;
    feed_t *f = &s->feeds[sub->feed];
    int64_t now = bl_now_ms();
    int64_t ttl = s->c.heartbeat_ttl_ms ? s->c.heartbeat_ttl_ms : 6 * s->c.heartbeat_interval_ms;
    uint64_t head;
    uint8_t hd[BL_DIGEST_SIZE];
    auth_head(s, f, &head, hd);
    if (!f->hb_ms || f->hb_serial != head || now - f->hb_ms >= s->c.heartbeat_interval_ms / 2 ||
        now < f->hb_ms) {
        if (s->h.heartbeat(s->h.ctx, f->name, head, hd, now, ttl, f->hb))
            return;
        f->hb_ms = now;
        f->hb_serial = head;
    }
    uint8_t fr[BL_FRAME_HDR + BL_OBJ_PREFIX];
    bl_frame_header(fr, BL_FRAME_HEARTBEAT, BL_OBJ_PREFIX);
    memcpy(fr + BL_FRAME_HDR, f->hb, BL_OBJ_PREFIX);
    if (bl_tls_write(c->tls, fr, sizeof fr) == 0) {
        sub->hb_due = 0;
        s->st.heartbeats_sent++;
        f->hb_sent++;
    }
}

static void stream_end(sconn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    EVP_MD_CTX_free(c->md);
    c->md = NULL;
    free(c->cur.path);
    c->cur.path = NULL;
}

/* Reads exactly n bytes at off; 0 or BL_ETRUNC. */
static int read_all(int fd, uint8_t *buf, size_t n, off_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return BL_ETRUNC;
        got += (size_t)r;
    }
    return 0;
}

/* Starts sending an indexed object. Objects up to SYNC_VERIFY_WHOLE are
 * read and checked whole (prefix and payload hash) before their first byte
 * is queued, so a damaged one never reaches the wire and the session goes
 * on; larger ones stream, checked on the way (stream_chunk). Returns 0;
 * BL_ENOTFOUND when the file is gone, BL_ESTATE when it is not the file
 * that was verified (the caller rescans), BL_ESIG or BL_EPAYLOAD when it
 * is damaged, or a write error. */
static int start_object(sconn_t *c, int feed, const spool_obj_t *o)
{
    int fd = open(o->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? BL_ENOTFOUND : BL_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_ino != o->ino || st.st_dev != o->dev ||
        (uint64_t)st.st_size != o->bytes || o->bytes > UINT32_MAX || o->bytes < BL_OBJ_PREFIX) {
        close(fd);
        return BL_ESTATE;
    }
    uint8_t hdr[BL_FRAME_HDR];
    bl_frame_header(hdr, BL_FRAME_OBJECT, (uint32_t)o->bytes);
    if (o->bytes <= SYNC_VERIFY_WHOLE) {
        uint8_t *buf = malloc((size_t)o->bytes);
        int rc = buf ? read_all(fd, buf, (size_t)o->bytes, 0) : BL_ENOMEM;
        close(fd);
        uint8_t md[32];
        if (!rc && memcmp(buf, o->prefix, BL_OBJ_PREFIX))
            rc = BL_ESIG;
        if (!rc && (!SHA256(buf + BL_OBJ_PREFIX, (size_t)o->bytes - BL_OBJ_PREFIX, md) ||
                    memcmp(md, o->payload_sha256, 32)))
            rc = BL_EPAYLOAD;
        if (!rc && !(rc = bl_tls_write(c->tls, hdr, sizeof hdr)))
            rc = bl_tls_write(c->tls, buf, (size_t)o->bytes);
        free(buf);
        if (!rc) {
            c->srv->st.objects_sent++;
            c->srv->st.bytes_sent += o->bytes;
        }
        return rc;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        close(fd);
        return BL_ENOMEM;
    }
    int rc = bl_tls_write(c->tls, hdr, sizeof hdr);
    if (rc) {
        EVP_MD_CTX_free(md);
        close(fd);
        return rc;
    }
    char *path = strdup(o->path);
    if (!path) {
        EVP_MD_CTX_free(md);
        close(fd);
        bl_tls_close(c->tls, "out of memory");
        return BL_ENOMEM;
    }
    c->fd = fd;
    c->md = md;
    c->off = 0;
    c->left = c->total = o->bytes;
    c->cur = *o;
    c->cur.path = path; /* owned while streaming: the index entry may go meanwhile */
    c->cur_feed = feed;
    c->srv->st.objects_sent++;
    return 0;
}

/* An object that failed when it was about to be sent: it leaves the index
 * and the owner repairs the spool (a file gone is reported to the owner
 * only: pruning removes files too, and the owner knows which it forgot). */
static void send_failed(master_sync_t *s, feed_t *f, const spool_obj_t *o, int err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", o->path);
    int type = o->type;
    uint64_t serial = o->serial;
    ptrdiff_t at = find_path(f, path);
    if (at >= 0)
        feed_drop(f, (size_t)at);
    if (err != BL_ENOTFOUND)
        damaged(s, f, path, type, serial, err);
    else if (s->h.damaged)
        s->h.damaged(s->h.ctx, f->name, serial, type, path, err);
}

/* The object being streamed is not what was verified: it leaves the index,
 * the owner repairs the spool, and the connection closes before the frame
 * completes, so the mirror never receives it whole. */
static void stream_damaged(sconn_t *c, int err)
{
    master_sync_t *s = c->srv;
    feed_t *f = &s->feeds[c->cur_feed];
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", c->cur.path);
    int type = c->cur.type;
    uint64_t serial = c->cur.serial;
    stream_end(c);
    ptrdiff_t at = find_path(f, path);
    if (at >= 0)
        feed_drop(f, (size_t)at);
    if (f->merged.path && !strcmp(f->merged.path, path))
        obj_free(&f->merged);
    damaged(s, f, path, type, serial, err);
    char reason[160];
    snprintf(reason, sizeof reason, "spool object failed verification while sending: %s",
             bl_errname(err));
    bl_tls_close(c->tls, reason);
}

/* Sends the next chunk of the current object (queue permitting); 1 if it
 * may continue, 0 if the connection cannot take more now or closed. */
static int stream_chunk(sconn_t *c, uint8_t *chunk)
{
    master_sync_t *s = c->srv;
    /* Never more than the queue can take: a refused write would leave the
     * queue under half full with nothing to wake the pump. */
    size_t room = bl_tls_max_queue(c->tls) - bl_tls_queued(c->tls);
    size_t want = c->left < SYNC_CHUNK ? (size_t)c->left : SYNC_CHUNK;
    if (want > room)
        want = room;
    ssize_t got = pread(c->fd, chunk, want, (off_t)c->off);
    if (got <= 0) {
        stream_damaged(c, BL_ETRUNC); /* the file shrank under us */
        return 0;
    }
    /* The prefix must be the verified one, byte for byte. */
    if (c->off < BL_OBJ_PREFIX) {
        size_t n = (size_t)got < BL_OBJ_PREFIX - c->off ? (size_t)got : BL_OBJ_PREFIX - c->off;
        if (memcmp(chunk, c->cur.prefix + c->off, n)) {
            stream_damaged(c, BL_ESIG);
            return 0;
        }
        if ((size_t)got > n)
            EVP_DigestUpdate(c->md, chunk + n, (size_t)got - n);
    } else {
        EVP_DigestUpdate(c->md, chunk, (size_t)got);
    }
    if ((uint64_t)got == c->left) {
        /* The last chunk goes out only if the payload is the signed one. */
        uint8_t md[32];
        unsigned int mdlen = 0;
        EVP_DigestFinal_ex(c->md, md, &mdlen);
        if (mdlen != 32 || memcmp(md, c->cur.payload_sha256, 32)) {
            stream_damaged(c, BL_EPAYLOAD);
            return 0;
        }
    }
    if (bl_tls_write(c->tls, chunk, (size_t)got) != 0)
        return 0;
    s->st.bytes_sent += (uint64_t)got;
    c->off += (uint64_t)got;
    c->left -= (uint64_t)got;
    if (c->left == 0)
        stream_end(c);
    return 1;
}

/* Remembers the serial and signing key of an object sent to sub. */
static void note_sent(sub_t *sub, const spool_obj_t *o)
{
    sub->sent[sub->sent_next].serial = o->serial;
    memcpy(sub->sent[sub->sent_next].key_id, o->key_id, BL_KEYID_SIZE);
    sub->sent_next = (sub->sent_next + 1) % SYNC_SENT_KEYS;
    if (sub->nsent < SYNC_SENT_KEYS)
        sub->nsent++;
}

/* The key that signed what a mirror holding serial accepted: the newest
 * object of that serial sent to it, else the spool's (a HELLO names a
 * serial sent by an earlier session), else NULL. */
static const uint8_t *key_of(const feed_t *f, const sub_t *sub, uint64_t serial)
{
    for (unsigned i = 1; i <= sub->nsent; i++) {
        unsigned k = (sub->sent_next + SYNC_SENT_KEYS - i) % SYNC_SENT_KEYS;
        if (sub->sent[k].serial == serial)
            return sub->sent[k].key_id;
    }
    for (size_t i = 0; serial && i < f->n; i++)
        if (f->o[i].serial == serial)
            return f->o[i].key_id;
    return NULL;
}

/* Starts the merged delta from the mirror's cursor to the head when the
 * chain is at least merge_min long and the owner can build one; 1 if started. */
static int start_merged(sconn_t *c, feed_t *f, sub_t *sub, size_t chain_len)
{
    master_sync_t *s = c->srv;
    size_t min = s->c.merge_min ? s->c.merge_min : 4;
    if (!s->h.merged || chain_len < min)
        return 0;
    if (!f->merged.path || f->merged.base_serial != sub->sent_serial ||
        memcmp(f->merged.base_digest, sub->sent_digest, BL_DIGEST_SIZE) ||
        f->merged.serial != f->head_serial) {
        char path[PATH_MAX];
        if (s->h.merged(s->h.ctx, f->name, sub->sent_serial, sub->sent_digest, min, path,
                        sizeof path))
            return 0;
        spool_obj_t o;
        int rc = verify_file(s, f, path, 1, &o);
        if (!rc && (o.base_serial != sub->sent_serial || o.serial != f->head_serial ||
                    memcmp(o.base_digest, sub->sent_digest, BL_DIGEST_SIZE) ||
                    memcmp(o.digest, f->head_digest, BL_DIGEST_SIZE)))
            rc = BL_EBASESERIAL;
        if (rc) {
            if (o.path)
                obj_free(&o);
            BL_WARN("sync_merged_refused", "feed=%s path=%s error=%s", bl_log_q(f->name),
                    bl_log_q(path), bl_errname(rc));
            return 0;
        }
        obj_free(&f->merged);
        f->merged = o;
    }
    if (start_object(c, (int)(f - s->feeds), &f->merged))
        return 0;
    sub->sent_serial = f->merged.serial;
    memcpy(sub->sent_digest, f->merged.digest, BL_DIGEST_SIZE);
    sub->last_type = BL_OBJ_DELTA;
    sub->last_serial = f->merged.serial;
    note_sent(sub, &f->merged);
    return 1;
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
        if (bl_tls_queued(c->tls) >= half)
            break;
        if (c->fd >= 0) {
            if (!chunk && !(chunk = malloc(SYNC_CHUNK)))
                break;
            if (!stream_chunk(c, chunk))
                break;
            continue;
        }
        int progressed = 0;
        for (int i = 0; i < SYNC_MAX_FEEDS && c->fd < 0; i++) {
            sub_t *sub = &c->subs[i];
            if (!sub->active)
                continue;
            feed_t *f = &s->feeds[sub->feed];
            /* Key certificates first, so that objects signed by a new key verify. */
            while (sub->keycert_next < f->nkc && c->fd < 0) {
                const spool_obj_t *kc = &f->kc[sub->keycert_next++];
                if (start_object(c, sub->feed, kc) == 0)
                    sub->last_type = BL_OBJ_KEYCERT;
            }
            if (c->fd >= 0) {
                progressed = 1;
                break;
            }
            /* A heartbeat goes after the objects it announces, unless objects
             * have kept it waiting for a whole interval. */
            size_t chain_len;
            const spool_obj_t *o = next_object(s, f, sub, &chain_len);
            if (sub->hb_due && (!o || sub->hb_due > 1)) {
                heartbeat_send(c, sub);
                progressed = 1;
            }
            if (!o)
                continue;
            if (o->type == BL_OBJ_DELTA && start_merged(c, f, sub, chain_len)) {
                progressed = 1;
                continue;
            }
            int rc = start_object(c, sub->feed, o);
            if (rc == BL_ESTATE || rc == BL_EIO) {
                /* Replaced since it was verified: the rescan verifies the new file. */
                feed_scan_ex(s, f, 1);
                progressed = 1;
                continue;
            }
            if (rc == BL_ENOTFOUND || rc == BL_ESIG || rc == BL_EPAYLOAD) {
                send_failed(s, f, o, rc); /* o is gone from the index now */
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
            sub->last_type = o->type;
            sub->last_serial = o->serial;
            note_sent(sub, o);
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
        refused(s, "protocol", "version");
        bl_tls_close(c->tls, "protocol version");
        return;
    }
    int fi = feed_get(s, h->feed);
    if (fi < 0) {
        conn_send_error(c, BL_ENOTFOUND, "no such feed");
        refused(s, "protocol", "unknown_feed");
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
            refused(s, "protocol", "too_many_feeds");
            return;
        }
        memset(sub, 0, sizeof *sub);
        sub->active = 1;
        sub->feed = fi;
        sub->hb_due = 1;
    }
    if (h->flags & BL_HELLO_HB_ACK)
        c->answers_hb = 1;
    feed_t *f = &s->feeds[fi];
    sub->sent_serial = h->serial;
    memcpy(sub->sent_digest, h->digest, BL_DIGEST_SIZE);
    uint64_t head;
    uint8_t hd[BL_DIGEST_SIZE];
    auth_head(s, f, &head, hd);
    /* A mirror ahead of the master (the master was restored from an older
     * backup) holds changes this master never made: it must not count as
     * having this master's delistings, or they would read "propagated"
     * while no mirror applies them. It stays at 0 until it catches up, so
     * lag and the propagation alerts show it (docs/OPERATIONS.md, restore). */
    int ahead = h->serial > head;
    sub->acked_serial = ahead ? 0 : h->serial;
    sub->force_snapshot = (h->flags & BL_HELLO_WANT_SNAPSHOT) != 0;
    if (h->serial == head && memcmp(h->digest, hd, BL_DIGEST_SIZE) && head) {
        conn_send_error(c, BL_EFORK, "same serial, different digest: sending a snapshot");
        sub->force_snapshot = 1;
    } else if (ahead) {
        conn_send_error(c, BL_EROLLBACK, "mirror is ahead of the master");
        BL_WARN("sync_mirror_ahead", "mirror=%s feed=%s serial=%" PRIu64 " head=%" PRIu64,
                bl_log_q(c->name), bl_log_q(f->name), h->serial, head);
        if (s->h.ahead)
            s->h.ahead(s->h.ctx, f->name, h->serial);
    }
    BL_INFO("sync_hello",
            "mirror=%s sid=%" PRIu64 " feed=%s serial=%" PRIu64 " head=%" PRIu64 " snapshot=%d",
            bl_log_q(c->name), c->sid, bl_log_q(f->name), h->serial, head, sub->force_snapshot);
    if (s->h.on_ack)
        s->h.on_ack(s->h.ctx, c->sid, f->name, sub->acked_serial, key_of(f, sub, sub->acked_serial),
                    c->last_contact_ms);
    conn_pump(c);
}

static void on_ack(sconn_t *c, const bl_frame_ack_t *a)
{
    master_sync_t *s = c->srv;
    sub_t *sub = sub_of(c, a->feed);
    if (!sub)
        return;
    feed_t *f = &s->feeds[sub->feed];
    uint64_t head;
    uint8_t hd[BL_DIGEST_SIZE];
    auth_head(s, f, &head, hd);
    if (a->serial > head) {
        /* Only an ahead mirror can acknowledge what this master never sent. */
        BL_WARN("sync_ack_ahead", "mirror=%s feed=%s serial=%" PRIu64 " head=%" PRIu64,
                bl_log_q(c->name), bl_log_q(a->feed), a->serial, head);
        return;
    }
    sub->acked_serial = a->serial;
    s->st.acks_total++;
    BL_DEBUG("sync_ack", "mirror=%s sid=%" PRIu64 " feed=%s serial=%" PRIu64, bl_log_q(c->name),
             c->sid, bl_log_q(a->feed), a->serial);
    if (s->h.on_ack)
        s->h.on_ack(s->h.ctx, c->sid, a->feed, a->serial, key_of(f, sub, a->serial),
                    c->last_contact_ms);
}

/* A mirror refused something we sent: if the last object sent to it is
 * damaged on disk, it leaves the index (and the owner repairs the spool);
 * otherwise the mirror's own state is at fault and it asks for a snapshot. */
static void on_mirror_error(sconn_t *c, const bl_frame_error_t *e)
{
    master_sync_t *s = c->srv;
    int code = -(int)e->code;
    s->st.errors_received++;
    refused(s, "mirror", bl_errname(code));
    BL_WARN("sync_mirror_error", "mirror=%s sid=%" PRIu64 " code=%s text=%s", bl_log_q(c->name),
            c->sid, bl_errname(code), bl_log_q(e->text));
    for (int i = 0; i < SYNC_MAX_FEEDS; i++) {
        sub_t *sub = &c->subs[i];
        if (!sub->active || !sub->last_type || sub->last_type == BL_OBJ_KEYCERT)
            continue;
        feed_t *f = &s->feeds[sub->feed];
        for (size_t k = 0; k < f->n; k++) {
            if (f->o[k].serial != sub->last_serial || f->o[k].type != sub->last_type)
                continue;
            spool_obj_t o;
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s", f->o[k].path);
            int rc = verify_file(s, f, path, 0, &o);
            if (!rc && memcmp(o.prefix, f->o[k].prefix, BL_OBJ_PREFIX))
                rc = BL_ESIG;
            if (o.path)
                obj_free(&o);
            if (rc && rc != BL_ENOMEM) {
                feed_drop(f, k);
                damaged(s, f, path, sub->last_type, sub->last_serial, rc);
            }
            break;
        }
    }
}

static void srv_data(bl_tls_conn_t *t, const uint8_t *p, size_t n)
{
    sconn_t *c = bl_tls_conn_data(t);
    master_sync_t *s = c->srv;
    c->last_contact_ms = bl_now_ms();
    c->last_contact_ns = bl_mono_ns();
    if (s->h.on_contact)
        s->h.on_contact(s->h.ctx, c->sid, c->last_contact_ms);
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
            if ((rc = bl_frame_decode_error(f.payload, f.len, &e)) == 0)
                on_mirror_error(c, &e);
        } else {
            rc = BL_EPROTO; /* a mirror never sends objects */
        }
        if (!bl_tls_is_connected(t))
            return;
    }
    if (rc < 0) {
        char reason[128];
        snprintf(reason, sizeof reason, "protocol error: %s", bl_errname(rc));
        BL_WARN("sync_protocol", "mirror=%s sid=%" PRIu64 " error=%s", bl_log_q(c->name), c->sid,
                bl_errname(rc));
        refused(s, "protocol", bl_errname(rc));
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
        BL_INFO("sync_mirror_down", "mirror=%s sid=%" PRIu64 " reason=%s", bl_log_q(c->name),
                c->sid, bl_log_q(reason));
        if (s->h.on_session)
            s->h.on_session(s->h.ctx, c->sid, c->name, bl_tls_peer_addr(t), 0, reason);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    stream_end(c);
    bl_frame_reader_close(&c->rd);
    free(c);
}

/* Accepted connections carry the server as user data until the handshake
 * completes; then they get their own sconn_t and session id. */
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
    c->sid = ++s->next_sid;
    snprintf(c->name, sizeof c->name, "%s", peer);
    c->cert_not_after = bl_tls_peer_not_after(t);
    /* A mirror sends only small frames; objects flow the other way. */
    bl_frame_reader_init(&c->rd, 1u << 16);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    bl_tls_conn_set_data(t, c);
    c->up = 1;
    c->last_contact_ms = bl_now_ms();
    c->last_contact_ns = bl_mono_ns();
    s->st.connections_total++;
    s->st.connected++;
    BL_INFO("sync_mirror_up", "mirror=%s sid=%" PRIu64 " addr=%s", bl_log_q(c->name), c->sid,
            bl_log_q(bl_tls_peer_addr(t)));
    if (s->h.on_session)
        s->h.on_session(s->h.ctx, c->sid, c->name, bl_tls_peer_addr(t), 1, "connected");
}

static void srv_close0(bl_tls_conn_t *t, const char *reason)
{
    int *kind = bl_tls_conn_data(t);
    if (*kind == KIND_SERVER) {
        /* Closed before a session began. The TLS listener counts its own
         * refusals by reason (master_sync_listener); one is left here. */
        master_sync_t *s = (master_sync_t *)kind;
        s->st.refused_total++;
        if (!strcmp(reason, "too many mirrors"))
            refused(s, "connection", "too_many_mirrors");
        BL_WARN("sync_refused", "addr=%s reason=%s", bl_log_q(bl_tls_peer_addr(t)),
                bl_log_q(reason));
        return;
    }
    srv_close(t, reason);
}

/* ---- timers, notes, lifecycle ----------------------------------------- */

static int64_t silent_limit(const master_sync_t *s)
{
    if (s->c.silent_ms > 0)
        return s->c.silent_ms;
    int64_t v = 4 * s->c.heartbeat_interval_ms;
    return v < 10000 ? 10000 : v;
}

static void on_hb_timer(uv_timer_t *t)
{
    master_sync_t *s = t->data;
    uint64_t now = bl_mono_ns();
    int64_t now_ms = bl_now_ms();
    for (sconn_t *c = s->conns, *next; c; c = next) {
        next = c->next;
        /* A mirror that answers heartbeats and has sent nothing for this
         * long is gone or hung, whatever TCP still believes. */
        uint64_t silent_ns = now - c->last_contact_ns;
        if (c->answers_hb && silent_ns > (uint64_t)silent_limit(s) * 1000000u) {
            s->st.disconnects_silent++;
            BL_WARN("sync_mirror_silent", "mirror=%s sid=%" PRIu64 " silent_ms=%" PRIu64,
                    bl_log_q(c->name), c->sid, silent_ns / 1000000u);
            bl_tls_close(c->tls, "mirror silent");
            continue;
        }
        /* Sampled once per tick: a queue that is over half full at every tick
         * (however much trickles out in between) belongs to a mirror that
         * cannot keep up. */
        uint64_t stuck_ms = s->c.stuck_ms > 0 ? (uint64_t)s->c.stuck_ms : SYNC_STUCK_MS;
        if (bl_tls_queued(c->tls) < bl_tls_max_queue(c->tls) / 2)
            c->full_since_ns = 0;
        else if (!c->full_since_ns)
            c->full_since_ns = now;
        if (c->full_since_ns && now - c->full_since_ns > stuck_ms * 1000000u) {
            s->st.disconnects_slow++;
            BL_WARN("sync_mirror_stuck", "mirror=%s sid=%" PRIu64 " queued=%zu", bl_log_q(c->name),
                    c->sid, bl_tls_queued(c->tls));
            bl_tls_close(c->tls, "mirror too slow");
            continue;
        }
        for (int i = 0; i < SYNC_MAX_FEEDS; i++)
            if (c->subs[i].active && c->subs[i].hb_due < 2)
                c->subs[i].hb_due++;
        conn_pump(c);
    }
    /* A snapshot asked for and not delivered is asked for again. */
    for (size_t i = 0; i < s->nfeeds; i++) {
        feed_t *f = &s->feeds[i];
        if (f->snapshot_asked_ms && now_ms - f->snapshot_asked_ms >= SYNC_SNAP_RETRY) {
            f->snapshot_asked_ms = 0;
            pump_all(s);
        }
    }
}

static void on_poll_timer(uv_timer_t *t)
{
    master_sync_t *s = t->data;
    int changed = 0;
    for (size_t i = 0; i < s->nfeeds; i++) {
        uint64_t before = s->feeds[i].head_serial;
        size_t n = s->feeds[i].n, nk = s->feeds[i].nkc;
        feed_scan_ex(s, &s->feeds[i], 0);
        changed |= before != s->feeds[i].head_serial || n != s->feeds[i].n || nk != s->feeds[i].nkc;
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
            if (fi >= 0)
                feed_add(s, &s->feeds[fi], rev->path);
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
        return; /* the next rescan (a pruning, a reload, a poll) picks the object up */
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

int master_sync_revoked(master_sync_t *s, const char *mirror)
{
    pthread_mutex_lock(&s->mu);
    int r = bl_tls_ctx_is_revoked(s->tls, mirror);
    pthread_mutex_unlock(&s->mu);
    return r;
}

int master_sync_reload(master_sync_t *s)
{
    /* Handshakes are made on this (the loop's) thread: the new certificate
     * serves the next one, sessions up now keep theirs. */
    int rt = bl_tls_ctx_reload_certs(s->tls, NULL);
    pthread_mutex_lock(&s->mu);
    int rc = bl_tls_ctx_reload_revoked(s->tls);
    pthread_mutex_unlock(&s->mu);
    if (rc == 0)
        bl_tls_server_kick_revoked(s->srv);
    /* Key certificates dropped into the spool go out before anything signed
     * by a new key; the next heartbeats are signed afresh. */
    for (size_t i = 0; i < s->nfeeds; i++)
        s->feeds[i].hb_ms = 0;
    int rs = master_sync_rescan(s);
    return rt ? rt : rc ? rc : rs;
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
        bl_tls_ctx_free(s->tls);
        free(s);
    }
}

int master_sync_new(uv_loop_t *loop, const master_sync_conf_t *c, const master_sync_hooks_t *h,
                    master_sync_t **out)
{
    *out = NULL;
    if (!c->keys || !h || !h->heartbeat)
        return BL_EINVAL;
    master_sync_t *s = calloc(1, sizeof *s);
    if (!s)
        return BL_ENOMEM;
    s->kind = KIND_SERVER;
    s->c = *c;
    if (s->c.heartbeat_interval_ms <= 0)
        s->c.heartbeat_interval_ms = 5000;
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
    if (!rc) {
        bl_tls_ctx_log_cert(s->tls);
        rc = scan_all(s);
    }
    bl_tls_cb_t cb = {.on_connect = srv_connect0,
                      .on_data = srv_data,
                      .on_close = srv_close0,
                      .on_drain = srv_drain};
    if (!rc)
        rc = bl_tls_listen(loop, s->tls, c->host, c->port, &cb, s, &s->srv);
    if (rc) {
        for (size_t i = 0; i < s->nfeeds; i++)
            feed_clear(&s->feeds[i]);
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
                p->sid = c->sid;
                snprintf(p->mirror, sizeof p->mirror, "%s", c->name);
                snprintf(p->feed, sizeof p->feed, "%s", s->feeds[sub->feed].name);
                snprintf(p->addr, sizeof p->addr, "%s", bl_tls_peer_addr(c->tls));
                p->sent_serial = sub->sent_serial;
                p->acked_serial = sub->acked_serial;
                p->last_contact_ms = c->last_contact_ms;
                p->answers_heartbeats = c->answers_hb;
                p->queued = bl_tls_queued(c->tls);
            }
            n++;
        }
    }
    return n;
}

uint64_t master_sync_feed_heartbeats(const master_sync_t *s, const char *feed)
{
    int i = find_feed(s, feed);
    return i < 0 ? 0 : s->feeds[i].hb_sent;
}

const master_sync_stats_t *master_sync_stats(const master_sync_t *s)
{
    return &s->st;
}

int64_t master_sync_cert_not_after(const master_sync_t *s)
{
    return bl_tls_ctx_not_after(s->tls);
}

void master_sync_each_mirror_cert(const master_sync_t *s,
                                  void (*fn)(void *ctx, const char *mirror, int64_t not_after),
                                  void *ctx)
{
    for (const sconn_t *c = s->conns; c; c = c->next)
        if (c->up)
            fn(ctx, c->name, c->cert_not_after);
}

const bl_tls_server_t *master_sync_listener(const master_sync_t *s)
{
    return s->srv;
}
