/* SPDX-License-Identifier: MIT */
/* A zone's data sources: signed snapshots and deltas of a feed, rbldnsd imports, the spool dir. */
#include "feed.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "err.h"
#include "grow.h"
#include "log.h"
#include "rbldnsd_data.h"
#include "state.h"
#include "util.h"

#define OBJ_FILE_MAX ((size_t)4 << 30)

void mirror_feed_init(mirror_feed_t *f, mirror_zone_t *z, mirror_qsbr_t *q, const char *name,
                      bl_keyring_t *keys)
{
    memset(f, 0, sizeof *f);
    f->zone = z;
    f->qsbr = q;
    snprintf(f->name, sizeof f->name, "%s", name);
    f->keys = keys;
    f->lim = bl_limits_default;
    bl_digest_zero(&f->digest);
}

/* Publishes a new index for the feed's zone (the old one is freed after the grace period). */
static int publish(mirror_feed_t *f, mirror_index_t *ix, uint64_t serial)
{
    mirror_zdata_t *d = calloc(1, sizeof *d);
    if (!d) {
        mirror_index_free(ix);
        return BL_ENOMEM;
    }
    d->ix = ix;
    d->serial = serial;
    mirror_zone_publish(f->zone, f->qsbr, d);
    return 0;
}

/* ---- snapshot ---- */

typedef struct {
    mirror_builder_t *b;
    bl_digest_t dg;
    size_t n;
} snap_t;

/* Half of a snapshot's load time is the state digest (one SHA-256 per
 * entry), the rest decoding and indexing. A large block is therefore
 * hashed mostly by a helper thread while this one indexes it, and the two
 * digests are added (the digest is a sum). */
#define SNAP_PAR_MIN 4096 /* entries in a block worth a thread */

static int snap_block(void *ctx, const bl_change_t *rem, size_t nrem, const bl_change_t *add,
                      size_t nadd)
{
    snap_t *s = ctx;
    (void)rem;
    if (nrem)
        return BL_EFIELD;
    /* the helper hashes the first 3/4 (indexing costs about a third of
     * hashing), this thread indexes everything and hashes the rest */
    size_t nh = nadd >= SNAP_PAR_MIN ? nadd / 4 * 3 : 0;
    bl_digest_job_t job;
    if (nh)
        bl_digest_job_start(&job, &add[0].e, sizeof add[0], nh);
    int rc = 0;
    for (size_t i = 0; i < nadd && !rc; i++)
        rc = mirror_builder_add(s->b, &add[i].e, 0);
    for (size_t i = nh; i < nadd && !rc; i++)
        bl_digest_add(&s->dg, &add[i].e);
    if (nh)
        bl_digest_job_finish(&job, &s->dg);
    if (rc)
        return rc;
    s->n += nadd;
    return 0;
}

static int apply_snapshot(mirror_feed_t *f, const bl_obj_t *obj, mirror_apply_info_t *info)
{
    const bl_hdr_t *h = &obj->hdr;
    uint8_t cur[BL_DIGEST_SIZE];
    bl_digest_to_bytes(&f->digest, cur);
    if (f->loaded && h->serial < f->serial)
        return BL_EROLLBACK;
    if (f->loaded && h->serial == f->serial)
        return memcmp(h->digest, cur, BL_DIGEST_SIZE) ? BL_EFORK : BL_EROLLBACK;
    if (h->n_added != h->n_entries)
        return BL_ECOUNT;
    snap_t s = {mirror_builder_new(), {{0}}, 0};
    if (!s.b)
        return BL_ENOMEM;
    bl_sink_t sink = {&s, snap_block};
    int rc = bl_obj_decode(obj, &f->lim, &sink, NULL);
    uint8_t after[BL_DIGEST_SIZE];
    bl_digest_to_bytes(&s.dg, after);
    if (!rc && memcmp(after, h->digest, BL_DIGEST_SIZE))
        rc = BL_EDIGEST;
    if (rc) {
        mirror_builder_free(s.b);
        return rc;
    }
    mirror_index_t *ix;
    if ((rc = mirror_builder_finish(s.b, &ix, NULL)))
        return rc;
    if (mirror_index_count(ix) != h->n_entries) {
        mirror_index_free(ix);
        return BL_ECOUNT;
    }
    if ((rc = publish(f, ix, h->serial)))
        return rc;
    info->n_added = s.n;
    info->n_entries = s.n;
    f->loaded = 1;
    f->serial = h->serial;
    f->digest = s.dg;
    return 0;
}

/* ---- delta ---- */

static int in_sorted(const bl_change_t *a, size_t n, const bl_prefix_t *k)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (bl_prefix_cmp(&a[m].e.key, k) < 0)
            lo = m + 1;
        else
            hi = m;
    }
    return lo < n && bl_prefix_eq(&a[lo].e.key, k);
}

static int apply_delta(mirror_feed_t *f, const bl_obj_t *obj, mirror_apply_info_t *info)
{
    const bl_hdr_t *h = &obj->hdr;
    if (!f->loaded)
        return BL_ESTATE;
    uint8_t cur[BL_DIGEST_SIZE];
    bl_digest_to_bytes(&f->digest, cur);
    if (h->serial == f->serial)
        return memcmp(h->digest, cur, BL_DIGEST_SIZE) ? BL_EFORK : BL_EROLLBACK;
    if (h->serial < f->serial)
        return BL_EROLLBACK;
    if (h->base_serial != f->serial)
        return BL_EBASESERIAL;
    if (memcmp(h->base_digest, cur, BL_DIGEST_SIZE))
        return BL_EBASEDIGEST;
    struct {
        bl_change_t *rem, *add;
        size_t nrem, nadd;
    } c = {0};
    int rc = bl_obj_collect(obj, &f->lim, &c.rem, &c.nrem, &c.add, &c.nadd);
    mirror_zdata_t *d = atomic_load(&f->zone->data);
    mirror_index_t *nx = NULL;
    bl_digest_t dg = f->digest;
    if (rc)
        goto done;
    /* The digest moves by the old records of removed and replaced keys. */
    for (size_t i = 0; i < c.nrem; i++) {
        bl_entry_t old;
        if (mirror_index_get(d->ix, &c.rem[i].e.key, &old, NULL)) {
            rc = BL_EABSENT;
            goto done;
        }
        bl_digest_sub(&dg, &old);
    }
    for (size_t i = 0; i < c.nadd; i++) {
        bl_entry_t old;
        if (!in_sorted(c.rem, c.nrem, &c.add[i].e.key) &&
            !mirror_index_get(d->ix, &c.add[i].e.key, &old, NULL))
            bl_digest_sub(&dg, &old);
        bl_digest_add(&dg, &c.add[i].e);
    }
    uint8_t after[BL_DIGEST_SIZE];
    bl_digest_to_bytes(&dg, after);
    if (memcmp(after, h->digest, BL_DIGEST_SIZE)) {
        rc = BL_EDIGEST;
        goto done;
    }
    if ((rc = mirror_index_apply(d->ix, c.rem, c.nrem, c.add, c.nadd, &nx)))
        goto done;
    if (mirror_index_count(nx) != h->n_entries) {
        mirror_index_free(nx);
        rc = BL_ECOUNT;
        goto done;
    }
    if ((rc = publish(f, nx, h->serial)))
        goto done;
    f->serial = h->serial;
    f->digest = dg;
    info->n_removed = c.nrem;
    info->n_added = c.nadd;
    info->n_entries = h->n_entries;
done:
    free(c.rem);
    free(c.add);
    return rc;
}

int mirror_apply_object(mirror_feed_t *f, const uint8_t *buf, size_t len, int64_t now_ms,
                        mirror_apply_info_t *info)
{
    mirror_apply_info_t dummy;
    if (!info)
        info = &dummy;
    memset(info, 0, sizeof *info);
    uint64_t t0 = bl_mono_ns();
    bl_obj_t obj;
    size_t off = 0;
    int rc = bl_obj_open(buf, len, f->keys, &f->lim, &obj, &off);
    if (!rc)
        rc = bl_obj_check_fresh(&obj.hdr, now_ms);
    if (!rc && strcmp(obj.hdr.feed, f->name))
        rc = BL_EFEED;
    if (!rc) {
        info->type = obj.hdr.type;
        info->from_serial = f->serial;
        info->serial = obj.hdr.serial;
        if (obj.hdr.type == BL_OBJ_SNAPSHOT)
            rc = apply_snapshot(f, &obj, info);
        else if (obj.hdr.type == BL_OBJ_DELTA)
            rc = apply_delta(f, &obj, info);
        else
            rc = BL_ETYPE;
    }
    info->elapsed_us = (bl_mono_ns() - t0) / 1000;
    f->last_err = rc;
    if (f->on_apply)
        f->on_apply(f->on_apply_arg, f, rc, info);
    if (rc) {
        f->n_refused++;
        return rc;
    }
    f->n_applied++;
    f->last_apply_ms = now_ms;
    return 0;
}

int mirror_apply_file(mirror_feed_t *f, const char *path, int64_t now_ms, mirror_apply_info_t *info)
{
    uint8_t *data;
    size_t len;
    int rc = bl_file_read(path, OBJ_FILE_MAX, &data, &len);
    if (rc)
        return rc;
    rc = mirror_apply_object(f, data, len, now_ms, info);
    free(data);
    return rc;
}

/* ---- spool directory ---- */

typedef struct {
    char name[256];
    uint64_t serial;
} spool_ent_t;

static int spool_cmp(const void *a, const void *b)
{
    const spool_ent_t *x = a, *y = b;
    if (x->serial != y->serial)
        return x->serial < y->serial ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int read_serial(const char *path, uint64_t *serial)
{
    uint8_t hb[BL_HDR_SIZE];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return BL_EIO;
    ssize_t n = read(fd, hb, sizeof hb);
    close(fd);
    if (n != (ssize_t)sizeof hb)
        return BL_ETRUNC;
    bl_rd_t rd;
    bl_rd_init(&rd, hb, sizeof hb);
    bl_hdr_t h;
    int rc = bl_hdr_decode(&rd, &h);
    if (rc)
        return rc;
    *serial = h.serial;
    return 0;
}

int mirror_spool_scan(mirror_feed_t *f, const char *dir, int64_t now_ms)
{
    DIR *d = opendir(dir);
    if (!d)
        return BL_EIO;
    spool_ent_t *ents = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    char path[4096];
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' || l >= sizeof ents->name ||
            (l > 9 && !strcmp(de->d_name + l - 9, ".rejected")))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        uint64_t serial = 0;
        if (read_serial(path, &serial))
            serial = UINT64_MAX; /* unreadable header: tried last, rejected */
        spool_ent_t *ne = bl_grow(ents, &cap, n + 1, sizeof *ents);
        if (!ne)
            break;
        ents = ne;
        snprintf(ents[n].name, sizeof ents[n].name, "%s", de->d_name);
        ents[n++].serial = serial;
    }
    closedir(d);
    if (n)
        qsort(ents, n, sizeof *ents, spool_cmp);
    int applied = 0;
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, ents[i].name);
        mirror_apply_info_t info;
        int rc = mirror_apply_file(f, path, now_ms, &info);
        if (!rc) {
            applied++;
            BL_INFO("apply",
                    "feed=%s file=%s type=%s serial=%" PRIu64 " removed=%zu added=%zu "
                    "entries=%zu us=%" PRIu64,
                    f->name, bl_log_q(ents[i].name), bl_obj_type_name(info.type), info.serial,
                    info.n_removed, info.n_added, info.n_entries, info.elapsed_us);
            unlink(path);
        } else if (rc == BL_EROLLBACK) {
            BL_INFO("apply_skip", "feed=%s file=%s serial=%" PRIu64 " reason=outdated", f->name,
                    bl_log_q(ents[i].name), ents[i].serial);
            unlink(path);
        } else if (rc == BL_EBASESERIAL && ents[i].serial > f->serial) {
            continue; /* its base has not arrived yet */
        } else if (rc == BL_ESTATE) {
            continue; /* a delta before any snapshot */
        } else {
            BL_WARN("apply_refused", "feed=%s file=%s err=%s msg=%s", f->name,
                    bl_log_q(ents[i].name), bl_errname(rc), bl_log_q(bl_strerror(rc)));
            char rej[4200];
            snprintf(rej, sizeof rej, "%s.rejected", path);
            rename(path, rej);
        }
    }
    free(ents);
    return applied;
}

/* ---- rbldnsd imports ---- */

/* Interns TXT templates: id 0 means "no TXT". */
typedef struct {
    char **str;
    size_t n, cap;
    uint32_t *slots; /* open addressing, value = id, 0 = empty */
    size_t nslots;
} intern_t;

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static int intern_init(intern_t *t)
{
    t->nslots = 1024;
    t->slots = calloc(t->nslots, sizeof *t->slots);
    t->str = calloc(1, sizeof *t->str);
    if (!t->slots || !t->str)
        return BL_ENOMEM;
    t->n = t->cap = 1; /* id 0 reserved: no TXT */
    return 0;
}

static int intern(intern_t *t, const char *s, uint16_t *id)
{
    if (!s) {
        *id = 0;
        return 0;
    }
    uint32_t h = hash_str(s);
    size_t i = h & (t->nslots - 1);
    while (t->slots[i]) {
        if (!strcmp(t->str[t->slots[i]], s)) {
            *id = (uint16_t)t->slots[i];
            return 0;
        }
        i = (i + 1) & (t->nslots - 1);
    }
    if (t->n >= 65535)
        return BL_ETOOBIG;
    char **nstr = bl_grow(t->str, &t->cap, t->n + 1, sizeof *t->str);
    if (!nstr)
        return BL_ENOMEM;
    t->str = nstr;
    t->str[t->n] = strdup(s);
    if (!t->str[t->n])
        return BL_ENOMEM;
    t->slots[i] = (uint32_t)t->n;
    *id = (uint16_t)t->n++;
    if (t->n * 2 > t->nslots) {
        size_t nn = t->nslots * 2;
        uint32_t *ns = calloc(nn, sizeof *ns);
        if (!ns)
            return BL_ENOMEM;
        for (size_t k = 1; k < t->n; k++) {
            size_t j = hash_str(t->str[k]) & (nn - 1);
            while (ns[j])
                j = (j + 1) & (nn - 1);
            ns[j] = (uint32_t)k;
        }
        free(t->slots);
        t->slots = ns;
        t->nslots = nn;
    }
    return 0;
}

typedef struct {
    mirror_builder_t *b;
    intern_t *txt;
    int kind;
    size_t n;
} import_t;

static int import_rec(void *ctx, const bl_rbldnsd_rec_t *r)
{
    import_t *im = ctx;
    bl_entry_t e;
    memset(&e, 0, sizeof e);
    e.a = r->a ? r->a : 2;
    e.listed_at = 0;
    e.expires_at = UINT32_MAX; /* imports never expire (year 2106 fits the packed index) */
    int rc = intern(im->txt, r->txt, &e.reason);
    if (rc)
        return rc;
    uint8_t fl = r->excluded ? MIRROR_EXCLUDED : 0;
    e.key = r->key;
    if (im->kind == BL_RBLDNSD_IP4SET && e.key.af == BL_AF4 && e.key.len % 8) {
        /* rbldnsd's ip4set answers from /8, /16, /24 and /32 tables only:
         * expand to octet boundaries so that overlaps resolve the same way */
        unsigned to = e.key.len < 8 ? 8 : (e.key.len + 7) / 8 * 8;
        uint32_t base = bl_prefix_v4addr(&r->key), cnt = 1u << (to - e.key.len);
        for (uint32_t i = 0; i < cnt; i++) {
            bl_prefix_v4(&e.key, base + (i << (32 - to)), (uint8_t)to);
            if ((rc = mirror_builder_add(im->b, &e, fl)))
                return rc;
            im->n++;
        }
        return 0;
    }
    im->n++;
    return mirror_builder_add(im->b, &e, fl);
}

int mirror_import_rbldnsd(mirror_zone_t *z, mirror_qsbr_t *q, char *const *specs, size_t n,
                          char *err, size_t errlen)
{
    intern_t txt = {0};
    int rc = 0;
    import_t im = {mirror_builder_new(), &txt, 0, 0};
    mirror_zdata_t *d = NULL;
    if (!im.b) {
        rc = BL_ENOMEM;
        goto fail;
    }
    if ((rc = intern_init(&txt)))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const char *colon = strchr(specs[i], ':');
        char kindname[32];
        if (!colon || (size_t)(colon - specs[i]) >= sizeof kindname) {
            snprintf(err, errlen, "%s: expected KIND:FILE", specs[i]);
            rc = BL_ECONFIG;
            goto fail;
        }
        memcpy(kindname, specs[i], (size_t)(colon - specs[i]));
        kindname[colon - specs[i]] = 0;
        im.kind = bl_rbldnsd_kind_parse(kindname);
        if (im.kind < 0) {
            snprintf(err, errlen, "%s: unknown rbldnsd dataset type", kindname);
            rc = BL_ECONFIG;
            goto fail;
        }
        const char *path = colon + 1;
        uint8_t *data;
        size_t len;
        if ((rc = bl_file_read(path, OBJ_FILE_MAX, &data, &len))) {
            snprintf(err, errlen, "%s: %s", path, rc == BL_EIO ? strerror(errno) : bl_strerror(rc));
            goto fail;
        }
        unsigned line = 0;
        const char *msg = NULL;
        bl_rbldnsd_sink_t sink = {&im, import_rec};
        rc = bl_rbldnsd_parse((const char *)data, len, im.kind, &sink, &line, &msg);
        free(data);
        if (rc) {
            snprintf(err, errlen, "%s:%u: %s", path, line, msg ? msg : bl_strerror(rc));
            goto fail;
        }
    }
    mirror_index_t *ix;
    size_t dups = 0;
    rc = mirror_builder_finish(im.b, &ix, &dups);
    im.b = NULL;
    if (rc) {
        snprintf(err, errlen, "building the index: %s", bl_strerror(rc));
        goto fail;
    }
    d = calloc(1, sizeof *d);
    if (!d) {
        mirror_index_free(ix);
        rc = BL_ENOMEM;
        goto fail;
    }
    d->ix = ix;
    d->txt = txt.str;
    d->ntxt = txt.n;
    d->txt_exact = 1;
    d->own_txt = 1;
    free(txt.slots);
    BL_INFO("import", "zone=%s records=%zu entries=%zu duplicates=%zu templates=%zu", z->name, im.n,
            mirror_index_count(ix), dups, txt.n - 1);
    mirror_zone_publish(z, q, d);
    return 0;
fail:
    mirror_builder_free(im.b);
    for (size_t i = 0; i < txt.n; i++)
        free(txt.str[i]);
    free(txt.str);
    free(txt.slots);
    return rc;
}
