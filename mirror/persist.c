/* SPDX-License-Identifier: MIT */
/* A mirror feed's persisted state: the newest snapshot and the deltas after it, on disk. */
#include "persist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "err.h"
#include "grow.h"
#include "feed.h"
#include "index.h"
#include "log.h"
#include "util.h"
#include "zone.h"

typedef struct {
    uint64_t serial;
    int type;
    char name[64];
} sfile_t;

static int sfile_cmp(const void *a, const void *b)
{
    const sfile_t *x = a, *y = b;
    if (x->serial != y->serial)
        return x->serial < y->serial ? -1 : 1;
    return x->type - y->type;
}

static void store_path(const mirror_persist_t *st, uint64_t serial, int type, char *out, size_t n)
{
    snprintf(out, n, "%s/%020" PRIu64 ".%s", st->dir, serial,
             type == BL_OBJ_SNAPSHOT ? "snap" : "delta");
}

/* Lists the store's object files sorted by serial (snapshots after deltas). */
static int store_list(const mirror_persist_t *st, sfile_t **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    DIR *d = opendir(st->dir);
    if (!d)
        return BL_EIO;
    sfile_t *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        if (de->d_name[0] < '0' || de->d_name[0] > '9' || strlen(de->d_name) >= 64)
            continue;
        uint64_t serial = strtoull(de->d_name, &end, 10);
        int type = !strcmp(end, ".snap")    ? BL_OBJ_SNAPSHOT
                   : !strcmp(end, ".delta") ? BL_OBJ_DELTA
                                            : 0;
        if (!type)
            continue;
        sfile_t *nv = bl_grow(v, &cap, n + 1, sizeof *v);
        if (!nv) {
            free(v);
            closedir(d);
            return BL_ENOMEM;
        }
        v = nv;
        v[n].serial = serial;
        v[n].type = type;
        snprintf(v[n].name, sizeof v[n].name, "%s", de->d_name);
        n++;
    }
    closedir(d);
    if (n)
        qsort(v, n, sizeof *v, sfile_cmp);
    *out = v;
    *nout = n;
    return 0;
}

static void store_unlink(const mirror_persist_t *st, const char *name)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", st->dir, name);
    unlink(path);
}

/* ---- index image ----------------------------------------------------------
 *
 * state_dir/FEED/index.img holds the index of the newest snapshot as built
 * in memory, so that a restart installs it without decoding, sorting and
 * hashing every entry (a 10M-entry snapshot: seconds; its image: a read).
 * It is a cache of a snapshot this mirror verified: used only when its
 * serial and digest are the snapshot file's and its SHA-256 matches,
 * otherwise the snapshot is replayed as before and the image rewritten.
 * It is written without fsync: a torn image fails its hash. */

#define IMAGE_NAME  "index.img"
#define IMAGE_MAGIC "BLSYNCIX"

typedef struct {
    char magic[8];
    uint64_t serial;
    uint8_t digest[BL_DIGEST_SIZE];
    uint64_t bytes; /* of the index image after this header */
    uint8_t sha256[32];
    uint8_t pad[128 - 88]; /* the index image starts aligned */
} image_file_t;
_Static_assert(sizeof(image_file_t) == 128, "the index image starts 64-byte aligned");

typedef struct {
    int fd;
    EVP_MD_CTX *md;
    uint64_t bytes;
} image_io_t;

static int image_put(void *ctx, const void *p, size_t n)
{
    image_io_t *io = ctx;
    const uint8_t *b = p;
    if (EVP_DigestUpdate(io->md, p, n) != 1)
        return BL_ENOMEM;
    io->bytes += n;
    while (n) {
        ssize_t w = write(io->fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return errno == ENOSPC ? BL_ENOSPC : BL_EIO;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes the image of the feed's current index as the state at serial. */
static void image_save(mirror_persist_t *st, uint64_t serial)
{
    mirror_feed_t *f = st->feed;
    char path[PATH_MAX + 16], tmp[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/" IMAGE_NAME, st->dir);
    snprintf(tmp, sizeof tmp, "%s/." IMAGE_NAME, st->dir);
    if (!f->loaded || !f->ix || f->serial != serial)
        return;
    uint64_t t0 = bl_mono_ns();
    image_file_t h = {.serial = serial};
    memcpy(h.magic, IMAGE_MAGIC, sizeof h.magic);
    bl_digest_to_bytes(&f->digest, h.digest);
    image_io_t io = {.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640),
                     .md = EVP_MD_CTX_new()};
    int rc = io.fd < 0 ? (errno == ENOSPC ? BL_ENOSPC : BL_EIO) : !io.md ? BL_ENOMEM : 0;
    if (!rc && lseek(io.fd, sizeof h, SEEK_SET) != (off_t)sizeof h)
        rc = BL_EIO;
    if (!rc && EVP_DigestInit_ex(io.md, EVP_sha256(), NULL) != 1)
        rc = BL_ENOMEM;
    if (!rc)
        rc = mirror_index_image_write(f->ix, image_put, &io);
    unsigned int mdlen = 0;
    if (!rc && (EVP_DigestFinal_ex(io.md, h.sha256, &mdlen) != 1 || mdlen != 32))
        rc = BL_ENOMEM;
    h.bytes = io.bytes;
    if (!rc && pwrite(io.fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
        rc = errno == ENOSPC ? BL_ENOSPC : BL_EIO;
    if (io.fd >= 0 && close(io.fd) != 0 && !rc)
        rc = BL_EIO;
    EVP_MD_CTX_free(io.md);
    if (!rc && rename(tmp, path) != 0)
        rc = BL_EIO;
    if (rc) {
        unlink(tmp);
        unlink(path); /* an older image would not match the snapshot anyway */
        BL_WARN("state_image_write", "feed=%s serial=%" PRIu64 " error=%s errno=%d",
                bl_log_q(f->name), serial, bl_errname(rc), errno);
        return;
    }
    BL_INFO("state_image_written", "feed=%s serial=%" PRIu64 " bytes=%" PRIu64 " us=%" PRIu64,
            bl_log_q(f->name), serial, (uint64_t)sizeof h + io.bytes, (bl_mono_ns() - t0) / 1000);
}

/* Restores the feed from the image when it is the image of this snapshot
 * file; 0 when restored, BL_ENOTFOUND when there is no matching image. */
static int image_load(mirror_persist_t *st, const char *snap_name)
{
    mirror_feed_t *f = st->feed;
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", st->dir, snap_name);
    uint64_t t0 = bl_mono_ns();
    /* The snapshot file must still be the one verified: its signature and
     * payload hash are checked (a read and one SHA-256), not its entries. */
    bl_obj_t obj;
    bl_hdr_t sh;
    int ok = 0, sfd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sst;
    if (sfd >= 0 && fstat(sfd, &sst) == 0 && sst.st_size > 0 &&
        (uint64_t)sst.st_size <= f->lim.max_payload + BL_OBJ_PREFIX) {
        void *m = mmap(NULL, (size_t)sst.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, sfd, 0);
        if (m != MAP_FAILED) {
            ok = bl_obj_open(m, (size_t)sst.st_size, f->keys, &f->lim, &obj, NULL) == 0 &&
                 obj.hdr.type == BL_OBJ_SNAPSHOT && !strcmp(obj.hdr.feed, f->name);
            if (ok)
                sh = obj.hdr; /* the header is a copy: nothing in it points into the mapping */
            munmap(m, (size_t)sst.st_size);
        }
    }
    if (sfd >= 0)
        close(sfd);
    if (!ok)
        return BL_ENOTFOUND; /* the replay says what is wrong with it */
    snprintf(path, sizeof path, "%s/" IMAGE_NAME, st->dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return BL_ENOTFOUND;
    image_file_t h;
    struct stat stt;
    int rc = 0;
    if (fstat(fd, &stt) != 0 || pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
        memcmp(h.magic, IMAGE_MAGIC, sizeof h.magic))
        rc = BL_EMAGIC;
    else if (h.serial != sh.serial || memcmp(h.digest, sh.digest, BL_DIGEST_SIZE)) {
        close(fd);
        return BL_ENOTFOUND; /* the image of another snapshot: replaced after the replay */
    } else if ((uint64_t)stt.st_size != sizeof h + h.bytes)
        rc = BL_ETRUNC;
    /* Mapped, not read: the tables are the page cache's pages, with no copy. */
    size_t maplen = (size_t)stt.st_size;
    void *map = rc ? MAP_FAILED : mmap(NULL, maplen, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (!rc && map == MAP_FAILED)
        rc = errno == ENOMEM ? BL_ENOMEM : BL_EIO;
    uint8_t md[32];
    if (!rc && !EVP_Digest((const uint8_t *)map + sizeof h, h.bytes, md, NULL, EVP_sha256(), NULL))
        rc = BL_ENOMEM;
    if (!rc && memcmp(md, h.sha256, 32))
        rc = BL_EPAYLOAD;
    mirror_index_t *ix = NULL;
    if (!rc)
        rc = mirror_index_image_load(map, maplen, sizeof h, &ix);
    if (rc) {
        if (map != MAP_FAILED)
            munmap(map, maplen);
        st->refused_by[-rc > 0 && -rc < 64 ? -rc : 0]++;
        BL_WARN("state_image_refused", "feed=%s file=%s error=%s reason=%s action=%s",
                bl_log_q(f->name), IMAGE_NAME, bl_errname(rc), bl_log_q(bl_strerror(rc)),
                bl_log_q("replay the snapshot"));
        unlink(path);
        return rc;
    }
    size_t n = mirror_index_count(ix);
    if ((rc = mirror_feed_restore(f, ix, sh.serial, sh.digest)))
        return rc;
    if (sh.created_ms > st->current_ms)
        st->current_ms = sh.created_ms;
    BL_INFO("state_image_loaded", "feed=%s serial=%" PRIu64 " entries=%zu us=%" PRIu64,
            bl_log_q(f->name), sh.serial, n, (bl_mono_ns() - t0) / 1000);
    return 0;
}

/* Applies a persisted file as of its own creation time: it was fresh when
 * received, and a restart must not make the mirror forget a state it acked. */
static int store_replay(mirror_persist_t *st, const char *name, uint64_t *bytes)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", st->dir, name);
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = bl_file_read(path, (size_t)st->feed->lim.max_payload + BL_OBJ_PREFIX, &data, &len);
    if (rc)
        return rc;
    bl_rd_t rd;
    bl_hdr_t h;
    bl_rd_init(&rd, data, len);
    rc = bl_hdr_decode(&rd, &h);
    if (!rc)
        rc = mirror_apply_object(st->feed, data, len, h.created_ms, NULL);
    if (!rc && h.created_ms > st->current_ms)
        st->current_ms = h.created_ms; /* the master's head when it signed this */
    free(data);
    *bytes = len;
    return rc;
}

int mirror_persist_keycert(mirror_persist_t *st, const bl_key_t *k, const uint8_t *buf, size_t len)
{
    char hex[17], path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/key-%s.keycert", st->dir, bl_key_id_hex(k, hex));
    int rc = bl_file_write_atomic(path, buf, len, 0640);
    if (rc)
        BL_ERR("sync_state_write", "path=%s error=%s errno=%d", bl_log_q(path), bl_errname(rc),
               errno);
    return rc;
}

/* Trusts the keys of persisted key certificates, each verified by a key
 * already trusted (repeated, so that a chain of rotations resolves). */
static void store_load_keycerts(mirror_persist_t *st)
{
    for (int progress = 1; progress;) {
        progress = 0;
        DIR *d = opendir(st->dir);
        if (!d)
            return;
        struct dirent *de;
        while ((de = readdir(d))) {
            size_t nl = strlen(de->d_name);
            if (nl < 8 || strcmp(de->d_name + nl - 8, ".keycert"))
                continue;
            char path[PATH_MAX + 64];
            snprintf(path, sizeof path, "%s/%s", st->dir, de->d_name);
            uint8_t *data;
            size_t len;
            if (bl_file_read(path, 4096, &data, &len))
                continue;
            bl_obj_t obj;
            bl_key_t *k = NULL;
            if (bl_obj_open(data, len, st->feed->keys, &st->feed->lim, &obj, NULL) == 0 &&
                obj.hdr.type == BL_OBJ_KEYCERT && bl_keycert_read(&obj, &k) == 0) {
                if (!bl_keyring_find(st->feed->keys, bl_key_id(k))) {
                    progress = 1;
                    char hex[17];
                    BL_INFO("sync_state_key", "feed=%s key_id=%s", bl_log_q(st->feed->name),
                            bl_key_id_hex(k, hex));
                }
                bl_keyring_add(st->feed->keys, k);
            }
            free(data);
        }
        closedir(d);
    }
}

int mirror_persist_open(mirror_persist_t *st, struct mirror_feed *f, const char *state_dir,
                        uint64_t *restored)
{
    memset(st, 0, sizeof *st);
    st->feed = f;
    if (snprintf(st->dir, sizeof st->dir, "%s/%s", state_dir, f->name) >= (int)sizeof st->dir)
        return BL_EINVAL;
    if (bl_mkdir_p(st->dir, 0750)) {
        BL_ERR("sync_state_dir", "path=%s errno=%d", bl_log_q(st->dir), errno);
        return BL_EIO;
    }
    store_load_keycerts(st);
    /* As of when this state was known current (written by
     * mirror_persist_save_current), or the newest object's creation. */
    char cpath[PATH_MAX + 16];
    snprintf(cpath, sizeof cpath, "%s/current", st->dir);
    uint8_t *cur = NULL;
    size_t curlen = 0;
    if (bl_file_read(cpath, 64, &cur, &curlen) == 0) {
        char txt[65];
        snprintf(txt, sizeof txt, "%.*s", (int)curlen, (const char *)cur);
        st->saved_current_ms = st->current_ms = strtoll(txt, NULL, 10);
        free(cur);
    }
    sfile_t *v;
    size_t n;
    int rc = store_list(st, &v, &n);
    if (rc)
        return rc;
    /* The newest snapshot that loads, then every delta after it that applies. */
    size_t start = n;
    for (size_t i = n; i-- > 0;) {
        if (v[i].type != BL_OBJ_SNAPSHOT)
            continue;
        if (image_load(st, v[i].name) == 0) {
            struct stat sst;
            char sp[PATH_MAX + 64];
            snprintf(sp, sizeof sp, "%s/%s", st->dir, v[i].name);
            st->snap_bytes = stat(sp, &sst) == 0 ? (uint64_t)sst.st_size : 0;
            start = i;
            break;
        }
        uint64_t bytes = 0;
        rc = store_replay(st, v[i].name, &bytes);
        if (rc == 0) {
            st->snap_bytes = bytes;
            start = i;
            image_save(st, v[i].serial); /* the next start loads this instead */
            break;
        }
        BL_WARN("sync_state_refused", "feed=%s file=%s error=%s", bl_log_q(f->name),
                bl_log_q(v[i].name), bl_errname(rc));
        st->refused_by[-rc > 0 && -rc < 64 ? -rc : 0]++;
        store_unlink(st, v[i].name);
    }
    for (size_t i = 0; i < n; i++) {
        if (i == start)
            continue;
        if (start == n || i < start || v[i].type != BL_OBJ_DELTA) {
            store_unlink(st, v[i].name); /* before the snapshot, or no snapshot at all */
            continue;
        }
        uint64_t bytes = 0;
        rc = store_replay(st, v[i].name, &bytes);
        if (rc) {
            BL_WARN("sync_state_refused", "feed=%s file=%s error=%s", bl_log_q(f->name),
                    bl_log_q(v[i].name), bl_errname(rc));
            st->refused_by[-rc > 0 && -rc < 64 ? -rc : 0]++;
            store_unlink(st, v[i].name);
            continue;
        }
        st->ndeltas++;
        st->delta_bytes += bytes;
    }
    free(v);
    if (restored)
        *restored = f->serial;
    BL_INFO("sync_state_restored", "feed=%s serial=%" PRIu64 " deltas=%" PRIu64, bl_log_q(f->name),
            f->serial, st->ndeltas);
    return 0;
}

int mirror_persist_apply(mirror_persist_t *st, const bl_obj_t *obj, const uint8_t *buf, size_t len)
{
    mirror_feed_t *f = st->feed;
    const bl_hdr_t *h = &obj->hdr;
    int64_t now = bl_now_ms();
    /* Only what can apply is written first; the rest is refused by the apply itself. */
    uint8_t cur[BL_DIGEST_SIZE];
    bl_digest_to_bytes(&f->digest, cur);
    /* Never over a file of the current state: a refused apply unlinks what it wrote. */
    int persist = h->type == BL_OBJ_SNAPSHOT
                      ? (h->serial > f->serial || !f->loaded)
                      : (h->base_serial == f->serial && !memcmp(h->base_digest, cur, sizeof cur));
    char path[PATH_MAX + 64];
    store_path(st, h->serial, h->type, path, sizeof path);
    if (persist) {
        int rc = bl_file_write_atomic(path, buf, len, 0640);
        if (rc) {
            st->write_error = rc;
            st->write_errors++;
            BL_ERR("sync_state_write", "path=%s error=%s errno=%d", bl_log_q(path), bl_errname(rc),
                   errno);
            return rc;
        }
    }
    mirror_apply_info_t info;
    int rc = mirror_apply_object(f, buf, len, now, &info);
    if (!rc)
        st->write_error = 0;
    if (rc) {
        if (persist)
            unlink(path);
        return rc;
    }
    if (!persist && (rc = bl_file_write_atomic(path, buf, len, 0640)) != 0) {
        /* Applied, but not on disk: do not acknowledge; the restart resumes from the file state. */
        st->write_error = rc;
        st->write_errors++;
        BL_ERR("sync_state_write", "path=%s error=%s errno=%d", bl_log_q(path), bl_errname(rc),
               errno);
        return rc;
    }
    BL_INFO("sync_applied",
            "feed=%s type=%s serial=%" PRIu64 " from=%" PRIu64 " removed=%zu added=%zu "
            "entries=%zu us=%" PRIu64,
            bl_log_q(f->name), bl_obj_type_name(h->type), h->serial, info.from_serial,
            info.n_removed, info.n_added, info.n_entries, info.elapsed_us);
    if (h->type == BL_OBJ_SNAPSHOT) {
        /* Everything older is obsolete now. */
        sfile_t *v;
        size_t n;
        if (store_list(st, &v, &n) == 0) {
            for (size_t i = 0; i < n; i++)
                if (v[i].serial < h->serial || (v[i].serial == h->serial && v[i].type != h->type))
                    store_unlink(st, v[i].name);
            free(v);
        }
        st->ndeltas = st->delta_bytes = 0;
        st->snap_bytes = len;
        st->snapshot_asked = 0;
        image_save(st, h->serial);
    } else {
        st->ndeltas++;
        st->delta_bytes += len;
        if (!st->snapshot_asked &&
            (st->ndeltas > MIRROR_PERSIST_MAX_DELTAS ||
             (st->snap_bytes && st->delta_bytes > 4 * st->snap_bytes + (1u << 20))))
            st->snapshot_asked = st->want_snapshot = 1;
    }
    return 0;
}

int mirror_persist_save_current(mirror_persist_t *st, int64_t as_of_ms, int64_t every_ms)
{
    if (st->saved_current_ms && as_of_ms < st->saved_current_ms + every_ms)
        return 0;
    char path[PATH_MAX + 16], txt[32];
    snprintf(path, sizeof path, "%s/current", st->dir);
    int n = snprintf(txt, sizeof txt, "%lld\n", (long long)as_of_ms);
    int rc = bl_file_write_atomic(path, txt, (size_t)n, 0640);
    if (!rc)
        st->saved_current_ms = as_of_ms;
    return rc;
}
