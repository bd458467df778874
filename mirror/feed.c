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
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "config.h"
#include "err.h"
#include "grow.h"
#include "log.h"
#include "rbldnsd_data.h"
#include "state.h"
#include "util.h"

#define OBJ_FILE_MAX ((size_t)4 << 30)

int mirror_feed_init(mirror_feed_t *f, mirror_qsbr_t *q, const char *name, bl_keyring_t *keys)
{
    memset(f, 0, sizeof *f);
    f->qsbr = q;
    snprintf(f->name, sizeof f->name, "%s", name);
    f->keys = keys;
    f->lim = bl_limits_default;
    bl_digest_zero(&f->digest);
    f->ix = mirror_index_new();
    return f->ix ? 0 : BL_ENOMEM;
}

void mirror_feed_close(mirror_feed_t *f)
{
    mirror_index_free(f->ix);
    f->ix = NULL;
}

int mirror_feed_attach(mirror_feed_t *f, mirror_zone_t *z, unsigned a)
{
    if (z->nsrc == MIRROR_SOURCES_MAX || f->nzones == MIRROR_FEED_ZONES_MAX)
        return BL_ECONFIG;
    f->zones[f->nzones].zone = z;
    f->zones[f->nzones++].slot = z->nsrc;
    z->src_a[z->nsrc] = (uint8_t)a;
    z->src[z->nsrc++] = f;
    return 0;
}

void mirror_feed_set_frozen(mirror_feed_t *f, int frozen)
{
    for (unsigned i = 0; i < f->nzones; i++) {
        int bit = 1 << f->zones[i].slot;
        if (frozen)
            atomic_fetch_or(&f->zones[i].zone->no_positive, bit);
        else
            atomic_fetch_and(&f->zones[i].zone->no_positive, ~bit);
    }
}

/* Makes ix the feed's entries at serial and publishes a new data version
 * of every zone it serves, made of the current index of each of the zone's
 * feeds; one grace period later, when no DNS thread can hold the old
 * versions, they and the feed's old index are freed. Takes ix in every
 * case. */
static int publish(mirror_feed_t *f, mirror_index_t *ix, uint64_t serial)
{
    mirror_zdata_t *d[MIRROR_FEED_ZONES_MAX] = {0};
    for (unsigned i = 0; i < f->nzones; i++)
        if (!(d[i] = calloc(1, sizeof *d[i]))) {
            for (unsigned j = 0; j < i; j++)
                free(d[j]);
            mirror_index_free(ix);
            return BL_ENOMEM;
        }
    mirror_index_t *old = f->ix;
    f->ix = ix;
    f->serial = serial;
    f->loaded = 1;
    for (unsigned i = 0; i < f->nzones; i++) {
        mirror_zone_t *z = f->zones[i].zone;
        d[i]->borrowed = 1;
        d[i]->nmore = z->nsrc - 1;
        for (unsigned k = 0; k < z->nsrc; k++) {
            if (k)
                d[i]->more[k - 1] = z->src[k]->ix;
            else
                d[i]->ix = z->src[k]->ix;
            d[i]->src_a[k] = z->src_a[k];
            d[i]->serial += z->src[k]->serial; /* grows with every feed's serial */
            d[i]->unloaded |= (unsigned)!z->src[k]->loaded << k;
        }
        d[i] = atomic_exchange(&z->data, d[i]); /* now the old version */
    }
    mirror_qsbr_synchronize(f->qsbr);
    for (unsigned i = 0; i < f->nzones; i++)
        mirror_zdata_free(d[i]);
    if (old != ix)
        mirror_index_free(old);
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

int mirror_feed_restore(mirror_feed_t *f, mirror_index_t *ix, uint64_t serial,
                        const uint8_t digest[BL_DIGEST_SIZE])
{
    uint64_t t0 = bl_mono_ns();
    mirror_apply_info_t info = {.type = BL_OBJ_SNAPSHOT,
                                .from_serial = f->serial,
                                .serial = serial,
                                .n_added = mirror_index_count(ix),
                                .n_entries = mirror_index_count(ix)};
    if (f->loaded) {
        mirror_index_free(ix);
        return BL_ESTATE;
    }
    int rc = publish(f, ix, serial);
    if (rc)
        return rc;
    f->loaded = 1;
    f->serial = serial;
    bl_digest_from_bytes(&f->digest, digest);
    f->last_err = 0;
    info.elapsed_us = (bl_mono_ns() - t0) / 1000;
    if (f->on_apply)
        f->on_apply(f->on_apply_arg, f, 0, &info);
    f->n_applied++;
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
    mirror_index_t *nx = NULL;
    bl_digest_t dg = f->digest;
    if (rc)
        goto done;
    /* The digest moves by the old records of removed and replaced keys. */
    for (size_t i = 0; i < c.nrem; i++) {
        bl_entry_t old;
        if (mirror_index_get(f->ix, &c.rem[i].e.key, &old, NULL)) {
            rc = BL_EABSENT;
            goto done;
        }
        bl_digest_sub(&dg, &old);
    }
    for (size_t i = 0; i < c.nadd; i++) {
        bl_entry_t old;
        if (!in_sorted(c.rem, c.nrem, &c.add[i].e.key) &&
            !mirror_index_get(f->ix, &c.add[i].e.key, &old, NULL))
            bl_digest_sub(&dg, &old);
        bl_digest_add(&dg, &c.add[i].e);
    }
    uint8_t after[BL_DIGEST_SIZE];
    bl_digest_to_bytes(&dg, after);
    if (memcmp(after, h->digest, BL_DIGEST_SIZE)) {
        rc = BL_EDIGEST;
        goto done;
    }
    if ((rc = mirror_index_apply(f->ix, c.rem, c.nrem, c.add, c.nadd, &nx)))
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
    mirror_avals_t *avals; /* the zone's A values, shared by its files */
    int kind;
    size_t n;
    const char *zone, *path;
    unsigned loopback_line; /* first line listing 127.0.0.1 */
    unsigned full_line;     /* the last line skipped for want of an A value code */
    size_t bad;             /* lines skipped so (the parser counts the others) */
} import_t;

static int import_rec(void *ctx, const bl_rbldnsd_rec_t *r)
{
    import_t *im = ctx;
    bl_entry_t e;
    memset(&e, 0, sizeof e);
    /* an exclusion answers nothing: its A value takes no code */
    e.a = r->excluded ? 0 : mirror_avals_code(im->avals, r->a4);
    if (!r->excluded && !e.a) {
        if (im->full_line != r->line) { /* a range line comes as several prefixes: once */
            im->full_line = r->line;
            im->bad++;
            BL_WARN("rbldnsd_bad_line",
                    "zone=%s file=%s line=%u msg=\"A value %u.%u.%u.%u: the zone has %d other "
                    "A values, the most a zone may have (line skipped)\"",
                    im->zone, bl_log_q(im->path), r->line, r->a4 >> 24, r->a4 >> 16 & 0xff,
                    r->a4 >> 8 & 0xff, r->a4 & 0xff, MIRROR_AVALS_MAX);
        }
        return 0;
    }
    e.listed_at = 0;
    e.expires_at = UINT32_MAX; /* imports never expire (year 2106 fits the packed index) */
    int rc = intern(im->txt, r->txt, &e.reason);
    if (rc)
        return rc;
    uint8_t fl = r->excluded ? MIRROR_EXCLUDED : 0;
    e.key = r->key;
    if (!r->excluded && !im->loopback_line && r->key.af == BL_AF4 &&
        ((0x7f000001u ^ bl_prefix_v4addr(&r->key)) >> (32 - r->key.len) == 0 || !r->key.len))
        im->loopback_line = r->line;
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

/* A bad line is skipped, as rbldnsd skips it, and logged with its file and line. */
static int import_bad(void *ctx, unsigned line, const char *msg)
{
    import_t *im = ctx;
    BL_WARN("rbldnsd_bad_line", "zone=%s file=%s line=%u msg=%s", im->zone, bl_log_q(im->path),
            line, bl_log_q(msg));
    return 0;
}

/* The second (third, ...) listings of a key in an ip4set file go to the
 * next layer's builder: rbldnsd answers them all. */
static int dup_to_next(void *ctx, const bl_entry_t *e, uint8_t flags)
{
    return mirror_builder_add(ctx, e, flags);
}

/* Builds the indexes of one file into ixs[*nix...]: one, or for an ip4set
 * with keys listed more than once, a layer for each further listing
 * (marked in dup), as many as fit. *dups counts what no index holds. */
static int finish_file(import_t *im, mirror_index_t **ixs, uint8_t *dup, size_t *nix, size_t *dups)
{
    int layered = im->kind == BL_RBLDNSD_IP4SET;
    for (int layer = 0; im->b; layer++) {
        mirror_builder_t *next = NULL;
        size_t nd = 0;
        if (*nix >= MIRROR_SOURCES_MAX)
            return BL_ETOOBIG;
        if (layered && *nix + 1 < MIRROR_SOURCES_MAX && !(next = mirror_builder_new()))
            return BL_ENOMEM;
        int rc = next ? mirror_builder_finish_dups(im->b, &ixs[*nix], &nd, dup_to_next, next)
                      : mirror_builder_finish(im->b, &ixs[*nix], &nd);
        im->b = NULL;
        if (rc) {
            mirror_builder_free(next);
            return rc;
        }
        dup[(*nix)++] = layer > 0;
        if (next && mirror_builder_count(next)) {
            *dups += nd - mirror_builder_count(next); /* hidden by an exclusion */
            im->b = next;
            continue;
        }
        mirror_builder_free(next);
        *dups += nd;
    }
    return 0;
}

/* A name of a $SOA or $NS line in wire format; 0 if not valid. */
static unsigned wire_name(const char *name, uint8_t out[256])
{
    return mirror_dns_name_to_wire(name, out, NULL);
}

/* The zone's settings where its section sets them, else the first file's
 * $TTL, $SOA and $NS (rbldnsd takes each from the first dataset that has it). */
static void merge_apex(mirror_apex_t *ap, const mirror_zone_t *z, const mirror_zone_conf_t *zc,
                       const bl_rbldnsd_meta_t *m, size_t n)
{
    const unsigned *set = zc->set_line;
    ap->ttl = z->ttl;
    ap->soa_ttl = z->soa_ttl;
    ap->neg_ttl = z->neg_ttl;
    ap->refresh = z->refresh;
    ap->retry = z->retry;
    ap->expire = z->expire;
    memcpy(ap->mname, z->mname, sizeof ap->mname);
    ap->mname_len = z->mname_len;
    memcpy(ap->rname, z->rname, sizeof ap->rname);
    ap->rname_len = z->rname_len;
    memcpy(ap->ns, z->ns, sizeof ap->ns);
    memcpy(ap->ns_len, z->ns_len, sizeof ap->ns_len);
    ap->nns = z->nns;
    const bl_rbldnsd_meta_t *ttl = NULL, *soa = NULL, *ns = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!ttl && m[i].has_ttl)
            ttl = &m[i];
        if (!soa && m[i].has_soa)
            soa = &m[i];
        if (!ns && m[i].has_ns && m[i].nns)
            ns = &m[i];
    }
    /* without a $TTL, rbldnsd's default (its -t): the zone's ttl if set */
    uint32_t def_ttl = set[MIRROR_ZSET_TTL] ? z->ttl : BL_RBLDNSD_DEF_TTL;
    if (!set[MIRROR_ZSET_TTL])
        ap->ttl = ttl ? ttl->ttl : def_ttl;
    uint8_t w[256];
    unsigned wl;
    if (ns && !set[MIRROR_ZSET_NS]) {
        unsigned k = 0;
        for (unsigned i = 0; i < ns->nns; i++)
            if ((wl = wire_name(ns->ns[i], w))) {
                memcpy(ap->ns[k], w, wl);
                ap->ns_len[k++] = wl;
            }
        if (k)
            ap->nns = k;
        if (k && !set[MIRROR_ZSET_SOA_TTL])
            ap->soa_ttl = ns->ns_ttl ? ns->ns_ttl : def_ttl;
        if (k && !soa && !set[MIRROR_ZSET_MNAME]) {
            memcpy(ap->mname, ap->ns[0], ap->ns_len[0]);
            ap->mname_len = ap->ns_len[0];
        }
    }
    if (!soa)
        return;
    if (!set[MIRROR_ZSET_SOA_TTL])
        ap->soa_ttl = soa->soa_ttl ? soa->soa_ttl : def_ttl;
    if (!set[MIRROR_ZSET_NEG_TTL])
        ap->neg_ttl = soa->minttl;
    if (!set[MIRROR_ZSET_REFRESH])
        ap->refresh = soa->refresh;
    if (!set[MIRROR_ZSET_RETRY])
        ap->retry = soa->retry;
    if (!set[MIRROR_ZSET_EXPIRE])
        ap->expire = soa->expire;
    if (!set[MIRROR_ZSET_MNAME] && (wl = wire_name(soa->mname, w))) {
        memcpy(ap->mname, w, wl);
        ap->mname_len = wl;
    }
    if (!set[MIRROR_ZSET_RNAME] && (wl = wire_name(soa->rname, w))) {
        memcpy(ap->rname, w, wl);
        ap->rname_len = wl;
    }
}

/* Mixes what stat() says of a file into a digest of a zone's files: the
 * file (device, inode), its size and its modification time in ns, so that a
 * rename over it and a write in place both change the digest. */
static uint64_t stat_mix(uint64_t h, int rc, const struct stat *st)
{
    uint64_t v[5] = {(uint64_t)rc, 0, 0, 0, 0};
    if (!rc) {
        v[1] = (uint64_t)st->st_dev;
        v[2] = (uint64_t)st->st_ino;
        v[3] = (uint64_t)st->st_size;
        v[4] = (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
    }
    for (int i = 0; i < 5; i++)
        h = (h ^ v[i]) * 0x100000001b3ull;
    return h;
}

static const char *spec_path(const char *spec)
{
    const char *c = strchr(spec, ':');
    return c ? c + 1 : spec;
}

int mirror_rbldnsd_poll(mirror_zone_t *z, mirror_qsbr_t *q, const mirror_zone_conf_t *zc,
                        int64_t now_ms)
{
    mirror_zdata_t *d = atomic_load(&z->data);
    if (d && d->expires_at && now_ms / 1000 > d->expires_at && !z->files.expired_logged) {
        z->files.expired_logged = 1;
        BL_WARN("rbldnsd_expired",
                "zone=%s msg=\"zone data expired ($TIMESTAMP): no positive answers\"", z->name);
    }
    if (!zc->nrbldnsd || !zc->rbldnsd_check_ms || now_ms < z->files.next_ms)
        return 0;
    /* due again a tenth of the interval early: the once-a-second tick that
     * runs a 1 s check comes a little earlier or later each time, and must
     * not find it due a millisecond later and skip it */
    z->files.next_ms = now_ms + zc->rbldnsd_check_ms - zc->rbldnsd_check_ms / 10;
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned i = 0; i < zc->nrbldnsd; i++) {
        struct stat st;
        h = stat_mix(h, stat(spec_path(zc->rbldnsd[i]), &st) ? errno : 0, &st);
    }
    if (h == z->files.loaded) {
        z->files.pending = 0;
        return 0;
    }
    if (h != z->files.pending) {
        z->files.pending = h; /* changed: load it once it stays the same for one interval */
        return 0;
    }
    z->files.pending = 0;
    char err[600];
    int rc = mirror_import_rbldnsd(z, q, zc, err, sizeof err);
    if (rc) {
        z->files.loaded = h; /* not again until the files change again */
        BL_ERR("rbldnsd_reload_failed", "zone=%s msg=%s (the zone keeps serving its data)", z->name,
               bl_log_q(err));
        return rc;
    }
    d = atomic_load(&z->data);
    BL_INFO("rbldnsd_reloaded", "zone=%s files=%u serial=%" PRIu64, z->name, zc->nrbldnsd,
            d->serial);
    return 0;
}

int mirror_import_rbldnsd(mirror_zone_t *z, mirror_qsbr_t *q, const mirror_zone_conf_t *zc,
                          char *err, size_t errlen)
{
    uint64_t sig = 0xcbf29ce484222325ull;
    intern_t txt = {0};
    int rc = 0;
    size_t n = zc->nrbldnsd;
    char *const *specs = zc->rbldnsd;
    mirror_index_t *ixs[MIRROR_SOURCES_MAX] = {0};
    uint8_t dup[MIRROR_SOURCES_MAX] = {0};
    size_t nix = 0;
    bl_rbldnsd_meta_t *meta = calloc(n ? n : 1, sizeof *meta);
    import_t im = {.zone = z->name};
    mirror_avals_t *avals = malloc(sizeof *avals);
    mirror_zdata_t *d = NULL;
    size_t records = 0, entries = 0, dups = 0, bad = 0;
    int64_t now = bl_now_ms() / 1000, newest = 0, expires = 0;
    if (!meta || !avals || (rc = intern_init(&txt))) {
        rc = BL_ENOMEM;
        goto fail;
    }
    mirror_avals_init(avals);
    im.avals = avals;
    if (n > MIRROR_SOURCES_MAX) {
        snprintf(err, errlen, "more than %d rbldnsd files", MIRROR_SOURCES_MAX);
        rc = BL_ECONFIG;
        goto fail;
    }
    im.txt = &txt;
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
        struct stat st;
        uint8_t *data;
        size_t len;
        int src = stat(path, &st) ? errno : 0;
        sig = stat_mix(sig, src, &st);
        if (src || (rc = bl_file_read(path, OBJ_FILE_MAX, &data, &len))) {
            if (src)
                errno = src;
            if (!rc)
                rc = BL_EIO;
            snprintf(err, errlen, "%s: %s", path, rc == BL_EIO ? strerror(errno) : bl_strerror(rc));
            goto fail;
        }
        if (st.st_mtime > newest)
            newest = st.st_mtime;
        unsigned line = 0;
        const char *msg = NULL;
        im.path = path;
        im.loopback_line = 0;
        im.full_line = 0;
        im.n = 0;
        im.b = mirror_builder_new();
        if (!im.b) {
            free(data);
            rc = BL_ENOMEM;
            goto fail;
        }
        if (im.kind == BL_RBLDNSD_IP4TRIE || im.kind == BL_RBLDNSD_IP6TRIE)
            mirror_builder_first_wins(im.b);
        bl_rbldnsd_sink_t sink = {&im, import_rec, import_bad, &meta[i]};
        rc = bl_rbldnsd_parse((const char *)data, len, im.kind, &sink, &line, &msg);
        free(data);
        if (rc) {
            snprintf(err, errlen, "%s:%u: %s", path, line, msg ? msg : bl_strerror(rc));
            goto fail;
        }
        if (meta[i].stamp > now + 60) {
            /* rbldnsd refuses data stamped in the future */
            snprintf(err, errlen, "%s: $TIMESTAMP is in the future", path);
            rc = BL_ECONFIG;
            goto fail;
        }
        if (meta[i].expires && (!expires || meta[i].expires < expires))
            expires = meta[i].expires;
        size_t nd = 0, first = nix;
        if ((rc = finish_file(&im, ixs, dup, &nix, &nd))) {
            snprintf(err, errlen, "%s: building the index: %s", path, bl_strerror(rc));
            goto fail;
        }
        if (im.loopback_line && mirror_index_lookup4(ixs[first], 0x7f000001u, now, NULL))
            BL_WARN("rbldnsd_lists_loopback",
                    "zone=%s file=%s line=%u msg=\"the data lists 127.0.0.1, which a DNSBL must "
                    "not list (RFC 5782): it is answered as not listed\"",
                    z->name, bl_log_q(path), im.loopback_line);
        records += im.n;
        for (size_t k = first; k < nix; k++)
            entries += mirror_index_count(ixs[k]);
        dups += nd;
        bad += meta[i].bad;
    }
    bad += im.bad;
    d = calloc(1, sizeof *d);
    if (!d || !(d->apex = calloc(1, sizeof *d->apex))) {
        rc = BL_ENOMEM;
        goto fail;
    }
    d->ix = ixs[0];
    d->avals = avals;
    avals = NULL;
    for (size_t i = 1; i < nix; i++) {
        d->more_dup[d->nmore] = dup[i];
        d->more[d->nmore++] = ixs[i];
    }
    memset(ixs, 0, sizeof ixs);
    merge_apex(d->apex, z, zc, meta, n);
    d->expires_at = expires;
    for (size_t i = 0; i < n && !zc->txt && !d->test_txt; i++)
        if (meta[i].has_def_txt && !(d->test_txt = strdup(meta[i].def_txt))) {
            rc = BL_ENOMEM;
            goto fail;
        }
    /* the serial: the first $SOA's when not 0, else the newest file's time
     * (as rbldnsd), and always a new one when the data is loaded again */
    const bl_rbldnsd_meta_t *soa = NULL;
    for (size_t i = 0; i < n && !soa; i++)
        if (meta[i].has_soa)
            soa = &meta[i];
    d->serial = soa && soa->serial ? soa->serial : (uint64_t)newest;
    mirror_zdata_t *old = atomic_load(&z->data);
    if (!(soa && soa->serial) && old && d->serial <= old->serial)
        d->serial = old->serial + 1;
    d->txt = txt.str;
    d->ntxt = txt.n;
    d->txt_exact = 1;
    d->own_txt = 1;
    free(txt.slots);
    free(meta);
    BL_INFO("import",
            "zone=%s files=%zu records=%zu entries=%zu duplicates=%zu bad_lines=%zu templates=%zu "
            "a_values=%u serial=%" PRIu64,
            z->name, n, records, entries, dups, bad, txt.n - 1, d->avals->n, d->serial);
    if (expires && now > expires)
        BL_WARN("rbldnsd_expired",
                "zone=%s msg=\"zone data expired ($TIMESTAMP): no positive answers\"", z->name);
    z->files.loaded = sig; /* the files as stat() saw them before reading */
    z->files.expired_logged = expires && now > expires;
    mirror_zone_publish(z, q, d);
    return 0;
fail:
    mirror_builder_free(im.b);
    for (size_t i = 0; i < MIRROR_SOURCES_MAX; i++)
        mirror_index_free(ixs[i]);
    if (d) {
        d->txt = NULL;
        d->own_txt = 0;
        mirror_zdata_free(d);
    }
    for (size_t i = 0; i < txt.n; i++)
        free(txt.str[i]);
    free(txt.str);
    free(txt.slots);
    free(meta);
    free(avals);
    return rc;
}
