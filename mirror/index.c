/* SPDX-License-Identifier: MIT */
/* The mirror's query index: sorted per-length arrays, a shared base and a small overlay. */
#include "index.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "err.h"
#include "grow.h"

/*
 * Layout. Every (family, prefix length) pair has its own array sorted by the
 * masked address: a lookup walks the lengths present from the longest down
 * and binary-searches each (rbldnsd's ip4set does the same for /32../8).
 * IPv4 elements are 16 bytes (address, times as u32 seconds, A, flags,
 * reason); large IPv4 arrays get a jump table on the top 16..22 address
 * address bits so a search touches a handful of cache lines. Times that do
 * not fit in 32 bits are clamped in the element (for the expiry check) and
 * kept exactly in a small side table (for exact lookups, i.e. the digest).
 */

typedef struct {
    uint32_t key;
    uint32_t listed;
    uint32_t expires;
    uint8_t a;
    uint8_t fl;
    uint16_t reason;
} e4_t;

typedef struct {
    uint8_t key[16];
    uint32_t listed;
    uint32_t expires;
    uint8_t a;
    uint8_t fl;
    uint16_t reason;
} e6_t;

/* A base table whose elements all share their times stores 8-byte elements
 * (rbldnsd imports: no times at all), the times once in the table. */
typedef struct {
    uint32_t key;
    uint8_t a;
    uint8_t fl;
    uint16_t reason;
} e4c_t;

#define FL_DEL  0x80 /* overlay: the key is deleted from the base */
#define FL_XT   0x40 /* exact times are in the side table */
#define FL_USER 0x3f

#define JUMP_MIN            1024
#define COMPACT_MIN_DEFAULT 65536

typedef struct {
    bl_prefix_t key;
    int64_t listed;
    int64_t expires;
} side_t;

typedef struct {
    void *e;
    size_t n;
    uint32_t *jump; /* IPv4 only, NULL when small: 2^jbits + 1 bucket starts */
    unsigned jbits;
    int compact; /* IPv4 base only: elements are e4c_t, times below */
    uint32_t listed, expires;
} tab_t;

typedef struct {
    tab_t t4[33];
    tab_t t6[129];
    size_t n;
    int refs;  /* versions sharing this layer (writer thread only) */
    void *map; /* the image mapping the tables point into (NULL: they are malloc'd) */
    size_t maplen;
} layer_t;

struct mirror_index {
    layer_t *base;
    layer_t *ovl; /* NULL when empty */
    uint8_t lens4[33];
    uint8_t lens6[129];
    int nl4, nl6;
    side_t *side;
    size_t nside;
    int side_mapped; /* side points into base->map */
    size_t n;
    size_t n4; /* IPv4 entries (n - n4 are IPv6) */
};

/* ---- element helpers ---- */

typedef struct {
    size_t sz;
    int (*cmp)(const void *a, const void *b);
} kind_t;

static int cmp4(const void *a, const void *b)
{
    uint32_t x = ((const e4_t *)a)->key, y = ((const e4_t *)b)->key;
    return (x > y) - (x < y);
}
static int cmp6(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}
static const kind_t K4 = {sizeof(e4_t), cmp4};
static const kind_t K6 = {sizeof(e6_t), cmp6};

static int side_cmp(const void *a, const void *b)
{
    return bl_prefix_cmp(&((const side_t *)a)->key, &((const side_t *)b)->key);
}

static uint32_t mask4(unsigned len)
{
    return len ? ~0u << (32 - len) : 0;
}

static void mask6(uint8_t out[16], const uint8_t in[16], unsigned len)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned bits = len > i * 8 ? len - i * 8 : 0;
        uint8_t m = bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);
        out[i] = in[i] & m;
    }
}

static uint32_t clamp32(int64_t t, int *exact)
{
    if (t < 0) {
        *exact = 0;
        return 0;
    }
    if (t >= (int64_t)UINT32_MAX) {
        if (t != (int64_t)UINT32_MAX)
            *exact = 0;
        return UINT32_MAX;
    }
    return (uint32_t)t;
}

/* Fills the element's value fields from an entry; returns 1 if times need the side table. */
static int fill_val(const bl_entry_t *e, uint8_t flags, uint32_t *listed, uint32_t *expires,
                    uint8_t *a, uint8_t *fl, uint16_t *reason)
{
    int exact = 1;
    *listed = clamp32(e->listed_at, &exact);
    *expires = clamp32(e->expires_at, &exact);
    *a = e->a;
    *reason = e->reason;
    *fl = (uint8_t)((flags & FL_USER) | (exact ? 0 : FL_XT));
    return !exact;
}

static void to_e4(const bl_entry_t *e, uint8_t flags, e4_t *o)
{
    o->key = bl_prefix_v4addr(&e->key);
    fill_val(e, flags, &o->listed, &o->expires, &o->a, &o->fl, &o->reason);
}

static void to_e6(const bl_entry_t *e, uint8_t flags, e6_t *o)
{
    memcpy(o->key, e->key.addr, 16);
    fill_val(e, flags, &o->listed, &o->expires, &o->a, &o->fl, &o->reason);
}

/* ---- searching ---- */

static uint32_t key4_at(const tab_t *t, size_t i)
{
    return t->compact ? ((const e4c_t *)t->e)[i].key : ((const e4_t *)t->e)[i].key;
}

/* Element i of an IPv4 table in full form (compact ones are expanded into *tmp). */
static const e4_t *e4_at(const tab_t *t, size_t i, e4_t *tmp)
{
    if (!t->compact)
        return &((const e4_t *)t->e)[i];
    const e4c_t *c = &((const e4c_t *)t->e)[i];
    tmp->key = c->key;
    tmp->a = c->a;
    tmp->fl = c->fl;
    tmp->reason = c->reason;
    tmp->listed = t->listed;
    tmp->expires = t->expires;
    return tmp;
}

/* The jump-table bucket of a (masked) key. */
static uint32_t jump_bucket(const tab_t *t, uint32_t k)
{
    return k >> (32 - t->jbits);
}

static const e4_t *find4(const tab_t *t, uint32_t k, e4_t *tmp)
{
    size_t lo = 0, hi = t->n;
    if (t->jump) {
        uint32_t b = jump_bucket(t, k);
        lo = t->jump[b];
        hi = t->jump[b + 1];
    }
    if (t->compact) {
        const e4c_t *e = t->e;
        while (lo < hi) {
            size_t m = (lo + hi) >> 1;
            if (e[m].key < k)
                lo = m + 1;
            else
                hi = m;
        }
    } else {
        const e4_t *e = t->e;
        while (lo < hi) {
            size_t m = (lo + hi) >> 1;
            if (e[m].key < k)
                lo = m + 1;
            else
                hi = m;
        }
    }
    return lo < t->n && key4_at(t, lo) == k ? e4_at(t, lo, tmp) : NULL;
}

static const e6_t *find6(const tab_t *t, const uint8_t k[16])
{
    const e6_t *e = t->e;
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t m = (lo + hi) >> 1;
        if (memcmp(e[m].key, k, 16) < 0)
            lo = m + 1;
        else
            hi = m;
    }
    return lo < t->n && memcmp(e[lo].key, k, 16) == 0 ? &e[lo] : NULL;
}

static const void *find_any(const kind_t *k, const tab_t *t, const void *key, e4_t *tmp)
{
    if (!t->n)
        return NULL;
    if (k == &K4)
        return find4(t, ((const e4_t *)key)->key, tmp);
    return find6(t, key);
}

static const e4_t *find4_tab(const tab_t *t, uint32_t k, e4_t *tmp)
{
    return t->n ? find4(t, k, tmp) : NULL;
}

static const side_t *side_find(const mirror_index_t *ix, const bl_prefix_t *key)
{
    size_t lo = 0, hi = ix->nside;
    while (lo < hi) {
        size_t m = (lo + hi) >> 1;
        if (bl_prefix_cmp(&ix->side[m].key, key) < 0)
            lo = m + 1;
        else
            hi = m;
    }
    return lo < ix->nside && bl_prefix_eq(&ix->side[lo].key, key) ? &ix->side[lo] : NULL;
}

/* ---- layers ---- */

static void tab_free(tab_t *t)
{
    free(t->e);
    free(t->jump);
    memset(t, 0, sizeof *t);
}

static void layer_free(layer_t *l)
{
    if (!l)
        return;
    if (l->map) {
        munmap(l->map, l->maplen);
        free(l);
        return;
    }
    for (int i = 0; i <= 32; i++)
        tab_free(&l->t4[i]);
    for (int i = 0; i <= 128; i++)
        tab_free(&l->t6[i]);
    free(l);
}

/* Bucket starts on the top address bits, about 8 entries per bucket so
 * that a search touches one or two cache lines after the jump. */
static int build_jump(tab_t *t)
{
    if (t->n < JUMP_MIN)
        return 0;
    unsigned bits = 16;
    while (bits < 22 && (t->n >> bits) > 8)
        bits++;
    size_t nb = (size_t)1 << bits;
    t->jump = malloc((nb + 1) * sizeof *t->jump);
    if (!t->jump)
        return BL_ENOMEM;
    t->jbits = bits;
    size_t i = 0;
    for (size_t b = 0; b <= nb; b++) {
        while (i < t->n && (key4_at(t, i) >> (32 - bits)) < b)
            i++;
        t->jump[b] = (uint32_t)i;
    }
    return 0;
}

static void index_lens(mirror_index_t *ix)
{
    ix->nl4 = ix->nl6 = 0;
    for (int l = 32; l >= 0; l--)
        if (ix->base->t4[l].n || (ix->ovl && ix->ovl->t4[l].n))
            ix->lens4[ix->nl4++] = (uint8_t)l;
    for (int l = 128; l >= 0; l--)
        if (ix->base->t6[l].n || (ix->ovl && ix->ovl->t6[l].n))
            ix->lens6[ix->nl6++] = (uint8_t)l;
}

mirror_index_t *mirror_index_new(void)
{
    mirror_index_t *ix = calloc(1, sizeof *ix);
    if (!ix)
        return NULL;
    ix->base = calloc(1, sizeof *ix->base);
    if (!ix->base) {
        free(ix);
        return NULL;
    }
    ix->base->refs = 1;
    return ix;
}

void mirror_index_free(mirror_index_t *ix)
{
    if (!ix)
        return;
    if (ix->base && --ix->base->refs == 0)
        layer_free(ix->base);
    layer_free(ix->ovl);
    if (!ix->side_mapped)
        free(ix->side);
    free(ix);
}

size_t mirror_index_count(const mirror_index_t *ix)
{
    return ix->n;
}

size_t mirror_index_count_af(const mirror_index_t *ix, int af)
{
    return af == BL_AF4 ? ix->n4 : ix->n - ix->n4;
}

size_t mirror_index_overlay_count(const mirror_index_t *ix)
{
    return ix->ovl ? ix->ovl->n : 0;
}

static size_t layer_bytes(const layer_t *l)
{
    size_t b = 0;
    if (!l)
        return 0;
    for (int i = 0; i <= 32; i++)
        b += l->t4[i].n * (l->t4[i].compact ? sizeof(e4c_t) : sizeof(e4_t)) +
             (l->t4[i].jump ? (((size_t)1 << l->t4[i].jbits) + 1) * 4 : 0);
    for (int i = 0; i <= 128; i++)
        b += l->t6[i].n * sizeof(e6_t);
    return b;
}

size_t mirror_index_bytes(const mirror_index_t *ix)
{
    return sizeof *ix + layer_bytes(ix->base) + layer_bytes(ix->ovl) + ix->nside * sizeof(side_t);
}

/* ---- lookups ---- */

/* A lookup in a large table misses the cache twice (jump bucket, then the
 * elements); a server answering a batch of queries issues both loads for
 * every query first so that the misses overlap instead of adding up. */
void mirror_index_prefetch4(const mirror_index_t *ix, uint32_t addr, int stage)
{
    const layer_t *b = ix->base;
    for (int i = 0, done = 0; i < ix->nl4 && done < 2; i++) {
        unsigned l = ix->lens4[i];
        const tab_t *t = &b->t4[l];
        if (!t->jump)
            continue;
        done++;
        uint32_t bk = jump_bucket(t, addr & mask4(l));
        if (stage == 0) {
            __builtin_prefetch(&t->jump[bk]);
            continue;
        }
        uint32_t lo = t->jump[bk], hi = t->jump[bk + 1];
        if (lo >= hi)
            continue;
        size_t sz = t->compact ? sizeof(e4c_t) : sizeof(e4_t);
        __builtin_prefetch((const char *)t->e + lo * sz);
        __builtin_prefetch((const char *)t->e + (hi - 1) * sz);
    }
}

static int hit_fill(uint8_t a, uint8_t fl, uint16_t reason, uint32_t expires, unsigned len,
                    mirror_hit_t *hit)
{
    if (hit) {
        hit->a = a;
        hit->flags = fl & FL_USER;
        hit->reason = reason;
        hit->len = (uint8_t)len;
        hit->expires_at = expires;
    }
    return !(fl & MIRROR_EXCLUDED);
}

int mirror_index_lookup4(const mirror_index_t *ix, uint32_t addr, int64_t now, mirror_hit_t *hit)
{
    const layer_t *o = ix->ovl, *b = ix->base;
    for (int i = 0; i < ix->nl4; i++) {
        unsigned l = ix->lens4[i];
        uint32_t k = addr & mask4(l);
        const e4_t *e = NULL;
        e4_t tmp;
        if (o && o->t4[l].n && (e = find4(&o->t4[l], k, &tmp)) && (e->fl & FL_DEL))
            continue;
        if (!e && b->t4[l].n)
            e = find4(&b->t4[l], k, &tmp);
        if (!e)
            continue;
        if (!(e->fl & MIRROR_EXCLUDED) && (int64_t)e->expires <= now)
            continue; /* expired: as if absent, a covering prefix may still apply */
        return hit_fill(e->a, e->fl, e->reason, e->expires, l, hit);
    }
    return 0;
}

int mirror_index_lookup6(const mirror_index_t *ix, const uint8_t addr[16], int64_t now,
                         mirror_hit_t *hit)
{
    const layer_t *o = ix->ovl, *b = ix->base;
    uint8_t k[16];
    for (int i = 0; i < ix->nl6; i++) {
        unsigned l = ix->lens6[i];
        mask6(k, addr, l);
        const e6_t *e = NULL;
        if (o && o->t6[l].n && (e = find6(&o->t6[l], k)) && (e->fl & FL_DEL))
            continue;
        if (!e && b->t6[l].n)
            e = find6(&b->t6[l], k);
        if (!e)
            continue;
        if (!(e->fl & MIRROR_EXCLUDED) && (int64_t)e->expires <= now)
            continue;
        return hit_fill(e->a, e->fl, e->reason, e->expires, l, hit);
    }
    return 0;
}

/* ---- overlap (empty non-terminals) ---- */

/* Element i's key (masked address) and flags, whatever the table's form. */
static void elem_key(const tab_t *t, int v6, size_t i, uint8_t key[16], uint8_t *fl)
{
    if (v6) {
        const e6_t *e = &((const e6_t *)t->e)[i];
        memcpy(key, e->key, 16);
        *fl = e->fl;
        return;
    }
    e4_t tmp;
    const e4_t *e = e4_at(t, i, &tmp);
    memset(key, 0, 16);
    key[0] = (uint8_t)(e->key >> 24);
    key[1] = (uint8_t)(e->key >> 16);
    key[2] = (uint8_t)(e->key >> 8);
    key[3] = (uint8_t)e->key;
    *fl = e->fl;
}

/* The first element of t whose key is >= k (keys as 16 bytes, IPv4 in the first 4). */
static size_t lower_bound(const tab_t *t, int v6, const uint8_t k[16])
{
    size_t lo = 0, hi = t->n;
    uint8_t key[16], fl;
    while (lo < hi) {
        size_t m = (lo + hi) >> 1;
        elem_key(t, v6, m, key, &fl);
        if (memcmp(key, k, v6 ? 16 : 4) < 0)
            lo = m + 1;
        else
            hi = m;
    }
    return lo;
}

/* Whether table t (base b, or overlay o) holds a listed key equal to k. */
static int present(const tab_t *o, const tab_t *b, int v6, const uint8_t k[16])
{
    uint8_t key[16], fl;
    size_t sz = v6 ? 16 : 4;
    if (o && o->n) {
        size_t i = lower_bound(o, v6, k);
        if (i < o->n) {
            elem_key(o, v6, i, key, &fl);
            if (!memcmp(key, k, sz))
                return !(fl & (FL_DEL | MIRROR_EXCLUDED));
        }
    }
    if (!b->n)
        return 0;
    size_t i = lower_bound(b, v6, k);
    if (i >= b->n)
        return 0;
    elem_key(b, v6, i, key, &fl);
    return !memcmp(key, k, sz) && !(fl & MIRROR_EXCLUDED);
}

/* Whether t holds a listed key in [lo, hi] that the overlay o does not delete. */
static int any_in(const tab_t *t, const tab_t *o, int v6, const uint8_t lo[16],
                  const uint8_t hi[16])
{
    size_t sz = v6 ? 16 : 4;
    uint8_t key[16], fl;
    for (size_t i = lower_bound(t, v6, lo); i < t->n; i++) {
        elem_key(t, v6, i, key, &fl);
        if (memcmp(key, hi, sz) > 0)
            return 0;
        if (fl & (FL_DEL | MIRROR_EXCLUDED))
            continue;
        if (o && o->n) {
            size_t j = lower_bound(o, v6, key);
            uint8_t ok[16], ofl;
            if (j < o->n) {
                elem_key(o, v6, j, ok, &ofl);
                if (!memcmp(ok, key, sz))
                    continue; /* replaced or deleted: the overlay's copy decides */
            }
        }
        return 1;
    }
    return 0;
}

int mirror_index_overlaps(const mirror_index_t *ix, const bl_prefix_t *p)
{
    int v6 = p->af == BL_AF6;
    unsigned plen = p->len;
    uint8_t lo[16] = {0}, hi[16], k[16];
    if (v6) {
        mask6(lo, p->addr, plen);
    } else {
        uint32_t a = bl_prefix_v4addr(p) & mask4(plen);
        lo[0] = (uint8_t)(a >> 24);
        lo[1] = (uint8_t)(a >> 16);
        lo[2] = (uint8_t)(a >> 8);
        lo[3] = (uint8_t)a;
    }
    unsigned bytes = v6 ? 16 : 4;
    for (unsigned i = 0; i < 16; i++) {
        unsigned bits = plen > i * 8 ? plen - i * 8 : 0;
        uint8_t m = bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);
        hi[i] = i < bytes ? (uint8_t)(lo[i] | (uint8_t)~m) : 0;
    }
    int nl = v6 ? ix->nl6 : ix->nl4;
    for (int i = 0; i < nl; i++) {
        unsigned l = v6 ? ix->lens6[i] : ix->lens4[i];
        const tab_t *b = v6 ? &ix->base->t6[l] : &ix->base->t4[l];
        const tab_t *o = ix->ovl ? (v6 ? &ix->ovl->t6[l] : &ix->ovl->t4[l]) : NULL;
        if (l <= plen) {
            /* a prefix covering p: every name below p exists */
            memset(k, 0, 16);
            mask6(k, lo, l);
            if (present(o, b, v6, k))
                return 1;
        } else if (any_in(b, o, v6, lo, hi) || (o && any_in(o, NULL, v6, lo, hi))) {
            return 1;
        }
    }
    return 0;
}

static void elem_to_entry(const mirror_index_t *ix, const bl_prefix_t *key, uint32_t listed,
                          uint32_t expires, uint8_t a, uint8_t fl, uint16_t reason, bl_entry_t *e)
{
    memset(e, 0, sizeof *e);
    e->key = *key;
    e->a = a;
    e->reason = reason;
    e->listed_at = listed;
    e->expires_at = expires;
    if (fl & FL_XT) {
        const side_t *s = side_find(ix, key);
        if (s) {
            e->listed_at = s->listed;
            e->expires_at = s->expires;
        }
    }
}

/* mirror_index_get's answer from the element found in the newest layer. */
static int got(const mirror_index_t *ix, const bl_prefix_t *key, uint32_t listed, uint32_t expires,
               uint8_t a, uint8_t fl, uint16_t reason, bl_entry_t *out, uint8_t *flags)
{
    if (fl & FL_DEL)
        return BL_ENOTFOUND;
    if (out)
        elem_to_entry(ix, key, listed, expires, a, fl, reason, out);
    if (flags)
        *flags = fl & FL_USER;
    return 0;
}

int mirror_index_get(const mirror_index_t *ix, const bl_prefix_t *key, bl_entry_t *out,
                     uint8_t *flags)
{
    const layer_t *layers[2] = {ix->ovl, ix->base};
    if (key->af == BL_AF4 && key->len <= 32) {
        uint32_t k = bl_prefix_v4addr(key);
        e4_t tmp;
        for (int i = 0; i < 2; i++) {
            const e4_t *e;
            if (layers[i] && (e = find4_tab(&layers[i]->t4[key->len], k, &tmp)))
                return got(ix, key, e->listed, e->expires, e->a, e->fl, e->reason, out, flags);
        }
    } else if (key->af == BL_AF6 && key->len <= 128) {
        for (int i = 0; i < 2; i++) {
            const e6_t *e;
            if (layers[i] && (e = find_any(&K6, &layers[i]->t6[key->len], key->addr, NULL)))
                return got(ix, key, e->listed, e->expires, e->a, e->fl, e->reason, out, flags);
        }
    }
    return BL_ENOTFOUND;
}

/* ---- merging (writer side) ---- */

/* A growable array of elements of one kind. */
typedef struct {
    char *p;
    size_t n, cap, sz;
} vec_t;

static void *vec_push(vec_t *v)
{
    char *np = bl_grow(v->p, &v->cap, v->n + 1, v->sz);
    if (!np)
        return NULL;
    v->p = np;
    return v->p + v->sz * v->n++;
}

static void vec_to_tab(vec_t *v, tab_t *t)
{
    if (v->n && v->n < v->cap) {
        char *np = realloc(v->p, v->n * v->sz);
        if (np)
            v->p = np;
    }
    if (!v->n) {
        free(v->p);
        v->p = NULL;
    }
    t->e = v->p;
    t->n = v->n;
    t->jump = NULL;
    memset(v, 0, sizeof *v);
}

/* Overlay after removals: walks O and the removal keys R together. */
static int ovl_remove(const kind_t *k, const tab_t *O, const tab_t *B, const char *R, size_t nr,
                      tab_t *out, size_t *removed)
{
    vec_t v = {.sz = k->sz};
    const char *o = O ? O->e : NULL;
    size_t no = O ? O->n : 0, i = 0, j = 0;
    while (i < no || j < nr) {
        int c = i >= no ? 1 : j >= nr ? -1 : k->cmp(o + i * k->sz, R + j * k->sz);
        if (c < 0) {
            void *d = vec_push(&v);
            if (!d)
                goto nomem;
            memcpy(d, o + i++ * k->sz, k->sz);
            continue;
        }
        const char *r = R + j++ * k->sz;
        e4_t tmp;
        int in_base = find_any(k, B, r, &tmp) != NULL;
        if (c == 0) {
            const char *oe = o + i++ * k->sz;
            if (oe[k->sz - 3] & FL_DEL) /* fl is the third byte from the end */
                goto absent;
        } else if (!in_base) {
            goto absent;
        }
        (*removed)++;
        if (in_base) {
            char *d = vec_push(&v);
            if (!d)
                goto nomem;
            memset(d, 0, k->sz);
            memcpy(d, r, k == &K4 ? 4 : 16);
            d[k->sz - 3] = FL_DEL;
        }
    }
    vec_to_tab(&v, out);
    return 0;
absent:
    free(v.p);
    return BL_EABSENT;
nomem:
    free(v.p);
    return BL_ENOMEM;
}

/* Overlay after additions/replacements A. *added counts keys that were not live. */
static int ovl_add(const kind_t *k, const tab_t *O, const tab_t *B, const char *A, size_t na,
                   tab_t *out, size_t *added)
{
    vec_t v = {.sz = k->sz};
    const char *o = O ? O->e : NULL;
    size_t no = O ? O->n : 0, i = 0, j = 0;
    while (i < no || j < na) {
        int c = i >= no ? 1 : j >= na ? -1 : k->cmp(o + i * k->sz, A + j * k->sz);
        void *d = vec_push(&v);
        if (!d) {
            free(v.p);
            return BL_ENOMEM;
        }
        if (c < 0) {
            memcpy(d, o + i++ * k->sz, k->sz);
            continue;
        }
        const char *a = A + j++ * k->sz;
        if (c == 0) {
            const char *oe = o + i++ * k->sz;
            if (oe[k->sz - 3] & FL_DEL)
                (*added)++;
        } else if (!find_any(k, B, a, &(e4_t){0})) {
            (*added)++;
        }
        memcpy(d, a, k->sz);
    }
    vec_to_tab(&v, out);
    return 0;
}

/* Element i of a base table in full form. */
static const char *belem(const kind_t *k, const tab_t *t, size_t i, e4_t *tmp)
{
    if (k == &K4)
        return (const char *)e4_at(t, i, tmp);
    return (const char *)t->e + i * k->sz;
}

/* Stores an IPv4 base table in 8-byte elements when all share their times. */
static int try_compact(tab_t *t)
{
    const e4_t *e = t->e;
    if (t->compact || t->n < 2)
        return 0;
    for (size_t i = 0; i < t->n; i++)
        if ((e[i].fl & FL_XT) || e[i].listed != e[0].listed || e[i].expires != e[0].expires)
            return 0;
    e4c_t *c = malloc(t->n * sizeof *c);
    if (!c)
        return BL_ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        c[i].key = e[i].key;
        c[i].a = e[i].a;
        c[i].fl = e[i].fl;
        c[i].reason = e[i].reason;
    }
    t->listed = e[0].listed;
    t->expires = e[0].expires;
    free(t->e);
    t->e = c;
    t->compact = 1;
    return 0;
}

/* Folds overlay O into base B. */
static int fold(const kind_t *k, const tab_t *B, const tab_t *O, tab_t *out)
{
    size_t nb = B->n, no = O ? O->n : 0, i = 0, j = 0, n = 0;
    char *p = malloc((nb + no) * k->sz + 1);
    if (!p)
        return BL_ENOMEM;
    const char *o = O ? O->e : NULL;
    e4_t tmp;
    while (i < nb || j < no) {
        const char *be = i >= nb ? NULL : belem(k, B, i, &tmp);
        int c = i >= nb ? 1 : j >= no ? -1 : k->cmp(be, o + j * k->sz);
        if (c < 0) {
            memcpy(p + n++ * k->sz, be, k->sz);
            i++;
            continue;
        }
        if (c == 0)
            i++;
        const char *oe = o + j++ * k->sz;
        if (!(oe[k->sz - 3] & FL_DEL))
            memcpy(p + n++ * k->sz, oe, k->sz);
    }
    vec_t v = {.p = p, .n = n, .cap = nb + no, .sz = k->sz};
    vec_to_tab(&v, out);
    if (k != &K4)
        return 0;
    int rc = try_compact(out);
    return rc ? rc : build_jump(out);
}

static int copy_tab(const kind_t *k, const tab_t *src, tab_t *dst)
{
    memset(dst, 0, sizeof *dst);
    if (!src || !src->n)
        return 0;
    dst->e = malloc(src->n * k->sz);
    if (!dst->e)
        return BL_ENOMEM;
    memcpy(dst->e, src->e, src->n * k->sz);
    dst->n = src->n;
    return 0;
}

/* Bucketed changes of one (family, length). */
typedef struct {
    char *rem, *add;
    size_t nrem, nadd;
} bucket_t;

static int entry_ok(const bl_prefix_t *p)
{
    return (p->af == BL_AF4 && p->len <= 32) || (p->af == BL_AF6 && p->len <= 128);
}

int mirror_index_apply_ex(const mirror_index_t *ix, const bl_change_t *rem, size_t nrem,
                          const bl_change_t *add, size_t nadd, size_t compact_min,
                          mirror_index_t **out)
{
    int err = BL_ENOMEM;
    bucket_t bk[33 + 129];
    memset(bk, 0, sizeof bk);
    mirror_index_t *nx = NULL;
    layer_t *ovl = NULL, *base = NULL;
    side_t *side = NULL;
    size_t nside = 0;

    *out = NULL;
    /* Bucket the changes per (family, length); sorted order is kept in each bucket. */
    size_t cnt[2][33 + 129];
    memset(cnt, 0, sizeof cnt);
    for (size_t i = 0; i < nrem + nadd; i++) {
        const bl_prefix_t *p = i < nrem ? &rem[i].e.key : &add[i - nrem].e.key;
        if (!entry_ok(p))
            return BL_EPREFIX;
        cnt[i >= nrem][p->af == BL_AF4 ? p->len : 33 + p->len]++;
    }
    for (int b = 0; b < 33 + 129; b++) {
        size_t sz = b < 33 ? sizeof(e4_t) : sizeof(e6_t);
        if (cnt[0][b] && !(bk[b].rem = malloc(cnt[0][b] * sz)))
            goto fail;
        if (cnt[1][b] && !(bk[b].add = malloc(cnt[1][b] * sz)))
            goto fail;
    }
    for (size_t i = 0; i < nrem + nadd; i++) {
        const bl_entry_t *e = i < nrem ? &rem[i].e : &add[i - nrem].e;
        int b = e->key.af == BL_AF4 ? e->key.len : 33 + e->key.len;
        bucket_t *t = &bk[b];
        if (b < 33) {
            e4_t *d = i < nrem ? &((e4_t *)t->rem)[t->nrem++] : &((e4_t *)t->add)[t->nadd++];
            to_e4(e, 0, d);
        } else {
            e6_t *d = i < nrem ? &((e6_t *)t->rem)[t->nrem++] : &((e6_t *)t->add)[t->nadd++];
            to_e6(e, 0, d);
        }
    }

    ovl = calloc(1, sizeof *ovl);
    nx = calloc(1, sizeof *nx);
    if (!ovl || !nx)
        goto fail;
    ovl->refs = 1;
    size_t removed = 0, added = 0, removed4 = 0, added4 = 0;
    for (int b = 0; b < 33 + 129; b++) {
        const kind_t *k = b < 33 ? &K4 : &K6;
        const tab_t *O = ix->ovl ? (b < 33 ? &ix->ovl->t4[b] : &ix->ovl->t6[b - 33]) : NULL;
        const tab_t *B = b < 33 ? &ix->base->t4[b] : &ix->base->t6[b - 33];
        tab_t *dst = b < 33 ? &ovl->t4[b] : &ovl->t6[b - 33];
        if (!bk[b].nrem && !bk[b].nadd) {
            if ((err = copy_tab(k, O, dst)))
                goto fail;
        } else {
            tab_t mid = {0};
            size_t r0 = removed, a0 = added;
            if ((err = ovl_remove(k, O, B, bk[b].rem, bk[b].nrem, &mid, &removed)))
                goto fail;
            err = ovl_add(k, &mid, B, bk[b].add, bk[b].nadd, dst, &added);
            if (b < 33) {
                removed4 += removed - r0;
                added4 += added - a0;
            }
            tab_free(&mid);
            if (err)
                goto fail;
        }
        ovl->n += dst->n;
    }
    err = BL_ENOMEM;

    /* Side table: drop touched keys, add the new ones that need exact times. */
    {
        size_t cap = ix->nside + nadd;
        side = cap ? malloc(cap * sizeof *side) : NULL;
        if (cap && !side)
            goto fail;
        size_t i = 0, r = 0, a = 0;
        for (;;) {
            /* next candidate among old side entries and additions, in key order */
            const side_t *s = i < ix->nside ? &ix->side[i] : NULL;
            while (a < nadd) {
                int ex = 1;
                clamp32(add[a].e.listed_at, &ex);
                clamp32(add[a].e.expires_at, &ex);
                if (!ex)
                    break;
                a++;
            }
            const bl_entry_t *ae = a < nadd ? &add[a].e : NULL;
            if (!s && !ae)
                break;
            if (s && (!ae || bl_prefix_cmp(&s->key, &ae->key) < 0)) {
                while (r < nrem && bl_prefix_cmp(&rem[r].e.key, &s->key) < 0)
                    r++;
                int gone = r < nrem && bl_prefix_eq(&rem[r].e.key, &s->key);
                /* replaced by an addition without exact times? */
                if (!gone) {
                    size_t lo = 0, hi = nadd;
                    while (lo < hi) {
                        size_t m = (lo + hi) / 2;
                        if (bl_prefix_cmp(&add[m].e.key, &s->key) < 0)
                            lo = m + 1;
                        else
                            hi = m;
                    }
                    gone = lo < nadd && bl_prefix_eq(&add[lo].e.key, &s->key);
                }
                if (!gone)
                    side[nside++] = *s;
                i++;
            } else {
                if (s && bl_prefix_eq(&s->key, &ae->key))
                    i++;
                side[nside].key = ae->key;
                side[nside].listed = ae->listed_at;
                side[nside].expires = ae->expires_at;
                nside++;
                a++;
            }
        }
    }

    nx->n = ix->n - removed + added;
    nx->n4 = ix->n4 - removed4 + added4;
    nx->side = side;
    nx->nside = nside;
    side = NULL;

    size_t base_n = ix->base->n;
    size_t thr = compact_min ? compact_min : COMPACT_MIN_DEFAULT;
    if (base_n / 8 > thr)
        thr = base_n / 8;
    if (ovl->n > thr) {
        base = calloc(1, sizeof *base);
        if (!base)
            goto fail;
        base->refs = 1;
        for (int b = 0; b < 33 + 129; b++) {
            const kind_t *k = b < 33 ? &K4 : &K6;
            const tab_t *B = b < 33 ? &ix->base->t4[b] : &ix->base->t6[b - 33];
            const tab_t *O = b < 33 ? &ovl->t4[b] : &ovl->t6[b - 33];
            tab_t *dst = b < 33 ? &base->t4[b] : &base->t6[b - 33];
            if (!B->n && !O->n)
                continue;
            if ((err = fold(k, B, O, dst)))
                goto fail;
            base->n += dst->n;
        }
        layer_free(ovl);
        ovl = NULL;
        nx->base = base;
        base = NULL;
    } else {
        nx->base = ix->base;
        nx->base->refs++;
        if (ovl->n) {
            nx->ovl = ovl;
        } else {
            layer_free(ovl);
        }
        ovl = NULL;
    }
    index_lens(nx);
    for (int b = 0; b < 33 + 129; b++) {
        free(bk[b].rem);
        free(bk[b].add);
    }
    *out = nx;
    return 0;

fail:
    for (int b = 0; b < 33 + 129; b++) {
        free(bk[b].rem);
        free(bk[b].add);
    }
    layer_free(ovl);
    layer_free(base);
    free(side);
    if (nx) {
        free(nx->side);
        free(nx);
    }
    return err;
}

int mirror_index_apply(const mirror_index_t *ix, const bl_change_t *rem, size_t nrem,
                       const bl_change_t *add, size_t nadd, mirror_index_t **out)
{
    return mirror_index_apply_ex(ix, rem, nrem, add, nadd, 0, out);
}

/* ---- iteration ---- */

/* Iterates one (family, length) of base+overlay, skipping shadowed and deleted elements. */
typedef struct {
    const kind_t *k;
    const tab_t *B;
    size_t bi;
    const char *o, *oend;
    const char *cur;
    e4_t tmp;
} it_t;

static void it_next(it_t *it)
{
    size_t sz = it->k->sz;
    for (;;) {
        int hb = it->bi < it->B->n, ho = it->o < it->oend;
        if (!hb && !ho) {
            it->cur = NULL;
            return;
        }
        const char *be = hb ? belem(it->k, it->B, it->bi, &it->tmp) : NULL;
        int c = !ho ? -1 : !hb ? 1 : it->k->cmp(be, it->o);
        if (c < 0) {
            it->cur = be;
            it->bi++;
            return;
        }
        if (c == 0)
            it->bi++;
        const char *o = it->o;
        it->o += sz;
        if (o[sz - 3] & FL_DEL)
            continue;
        it->cur = o;
        return;
    }
}

static void it_init(it_t *it, const kind_t *k, const tab_t *B, const tab_t *O)
{
    it->k = k;
    it->B = B;
    it->bi = 0;
    it->o = O ? O->e : NULL;
    it->oend = it->o ? it->o + O->n * k->sz : NULL;
    it_next(it);
}

int mirror_index_foreach(const mirror_index_t *ix, mirror_index_cb cb, void *ctx)
{
    it_t its[129];
    int lens[129];
    for (int fam = 0; fam < 2; fam++) {
        const kind_t *k = fam ? &K6 : &K4;
        int maxl = fam ? 128 : 32, n = 0;
        for (int l = 0; l <= maxl; l++) {
            const tab_t *B = fam ? &ix->base->t6[l] : &ix->base->t4[l];
            const tab_t *O = ix->ovl ? (fam ? &ix->ovl->t6[l] : &ix->ovl->t4[l]) : NULL;
            if (!B->n && (!O || !O->n))
                continue;
            it_init(&its[n], k, B, O);
            lens[n++] = l;
        }
        for (;;) {
            int best = -1;
            for (int i = 0; i < n; i++) {
                if (!its[i].cur)
                    continue;
                /* equal addresses: the shorter length sorts first, and lengths ascend */
                if (best < 0 || k->cmp(its[i].cur, its[best].cur) < 0)
                    best = i;
            }
            if (best < 0)
                break;
            const char *c = its[best].cur;
            bl_entry_t e;
            bl_prefix_t key;
            memset(&key, 0, sizeof key);
            key.af = fam ? BL_AF6 : BL_AF4;
            key.len = (uint8_t)lens[best];
            uint8_t fl;
            if (fam) {
                const e6_t *x = (const e6_t *)c;
                memcpy(key.addr, x->key, 16);
                elem_to_entry(ix, &key, x->listed, x->expires, x->a, x->fl, x->reason, &e);
                fl = x->fl;
            } else {
                const e4_t *x = (const e4_t *)c;
                bl_prefix_v4(&key, x->key, key.len);
                elem_to_entry(ix, &key, x->listed, x->expires, x->a, x->fl, x->reason, &e);
                fl = x->fl;
            }
            int rc = cb(ctx, &e, fl & FL_USER);
            if (rc)
                return rc;
            it_next(&its[best]);
        }
    }
    return 0;
}

/* ---- builder ---- */

struct mirror_builder {
    vec_t v4[33];
    vec_t v6[129];
    vec_t side;
    int err;
    int first_wins; /* a key listed again: the first listing stays, exclusion or not */
};

size_t mirror_builder_count(const mirror_builder_t *b)
{
    size_t n = 0;
    for (int i = 0; i <= 32; i++)
        n += b->v4[i].n;
    for (int i = 0; i <= 128; i++)
        n += b->v6[i].n;
    return n;
}

void mirror_builder_first_wins(mirror_builder_t *b)
{
    b->first_wins = 1;
}

mirror_builder_t *mirror_builder_new(void)
{
    mirror_builder_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    for (int i = 0; i <= 32; i++)
        b->v4[i].sz = sizeof(e4_t);
    for (int i = 0; i <= 128; i++)
        b->v6[i].sz = sizeof(e6_t);
    b->side.sz = sizeof(side_t);
    return b;
}

void mirror_builder_free(mirror_builder_t *b)
{
    if (!b)
        return;
    for (int i = 0; i <= 32; i++)
        free(b->v4[i].p);
    for (int i = 0; i <= 128; i++)
        free(b->v6[i].p);
    free(b->side.p);
    free(b);
}

int mirror_builder_add(mirror_builder_t *b, const bl_entry_t *e, uint8_t flags)
{
    if (b->err)
        return b->err;
    if (!entry_ok(&e->key))
        return BL_EPREFIX;
    int xt;
    if (e->key.af == BL_AF4) {
        e4_t *d = vec_push(&b->v4[e->key.len]);
        if (!d)
            return b->err = BL_ENOMEM;
        to_e4(e, flags, d);
        xt = d->fl & FL_XT;
    } else {
        e6_t *d = vec_push(&b->v6[e->key.len]);
        if (!d)
            return b->err = BL_ENOMEM;
        to_e6(e, flags, d);
        xt = d->fl & FL_XT;
    }
    if (xt) {
        side_t *s = vec_push(&b->side);
        if (!s)
            return b->err = BL_ENOMEM;
        s->key = e->key;
        s->listed = e->listed_at;
        s->expires = e->expires_at;
    }
    return 0;
}

/* Stable LSD radix sort of IPv4 elements on their key (two 16-bit passes). */
static int radix4(e4_t *e, size_t n)
{
    size_t i;
    for (i = 1; i < n; i++)
        if (e[i - 1].key > e[i].key)
            break;
    if (i >= n)
        return 0;
    e4_t *tmp = malloc(n * sizeof *tmp);
    uint32_t *cnt = malloc(65536 * sizeof *cnt);
    if (!tmp || !cnt) {
        free(tmp);
        free(cnt);
        return BL_ENOMEM;
    }
    for (int pass = 0; pass < 2; pass++) {
        int sh = pass * 16;
        e4_t *src = pass ? tmp : e, *dst = pass ? e : tmp;
        memset(cnt, 0, 65536 * sizeof *cnt);
        for (i = 0; i < n; i++)
            cnt[(src[i].key >> sh) & 0xffff]++;
        uint32_t sum = 0;
        for (i = 0; i < 65536; i++) {
            uint32_t c = cnt[i];
            cnt[i] = sum;
            sum += c;
        }
        for (i = 0; i < n; i++)
            dst[cnt[(src[i].key >> sh) & 0xffff]++] = src[i];
    }
    free(tmp);
    free(cnt);
    return 0;
}

/* Stable merge sort of n elements of size sz. */
static int msort(char *p, size_t n, size_t sz, int (*cmp)(const void *, const void *))
{
    size_t i;
    for (i = 1; i < n; i++)
        if (cmp(p + (i - 1) * sz, p + i * sz) > 0)
            break;
    if (i >= n)
        return 0;
    char *tmp = malloc(n * sz);
    if (!tmp)
        return BL_ENOMEM;
    char *src = p, *dst = tmp;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi) {
                if (cmp(src + b * sz, src + a * sz) < 0)
                    memcpy(dst + o++ * sz, src + b++ * sz, sz);
                else
                    memcpy(dst + o++ * sz, src + a++ * sz, sz);
            }
            memcpy(dst + o * sz, src + a * sz, (mid - a) * sz);
            o += mid - a;
            memcpy(dst + o * sz, src + b * sz, (hi - b) * sz);
        }
        char *t = src;
        src = dst;
        dst = t;
    }
    if (src != p)
        memcpy(p, src, n * sz);
    free(tmp);
    return 0;
}

/* Hands a dropped duplicate (element el of a length-len table) to cb. */
static int dup_out(const kind_t *k, const char *el, unsigned len, mirror_dup_cb cb, void *ctx)
{
    bl_entry_t e;
    memset(&e, 0, sizeof e);
    uint8_t fl;
    if (k == &K4) {
        const e4_t *x = (const e4_t *)el;
        bl_prefix_v4(&e.key, x->key, (uint8_t)len);
        e.a = x->a;
        e.reason = x->reason;
        e.listed_at = x->listed;
        e.expires_at = x->expires;
        fl = x->fl;
    } else {
        const e6_t *x = (const e6_t *)el;
        e.key.af = BL_AF6;
        e.key.len = (uint8_t)len;
        memcpy(e.key.addr, x->key, 16);
        e.a = x->a;
        e.reason = x->reason;
        e.listed_at = x->listed;
        e.expires_at = x->expires;
        fl = x->fl;
    }
    return cb(ctx, &e, fl & FL_USER);
}

/* Removes duplicate keys from a sorted (stable) vector: an exclusion wins,
 * else the first (with first_wins, the first always). With cb, every
 * dropped listing of a key whose first is kept goes to cb, in the order
 * added. */
static int dedup(vec_t *v, const kind_t *k, unsigned len, int first_wins, mirror_dup_cb cb,
                 void *ctx, size_t *ndups)
{
    size_t w = 0, dups = 0;
    for (size_t r = 0; r < v->n;) {
        size_t s = r, keep = r;
        while (r < v->n && k->cmp(v->p + s * k->sz, v->p + r * k->sz) == 0) {
            if (!first_wins && (v->p[r * k->sz + k->sz - 3] & MIRROR_EXCLUDED) &&
                !(v->p[keep * k->sz + k->sz - 3] & MIRROR_EXCLUDED))
                keep = r;
            r++;
        }
        dups += r - s - 1;
        if (cb && keep == s && !(v->p[s * k->sz + k->sz - 3] & MIRROR_EXCLUDED))
            for (size_t i = s + 1; i < r; i++)
                if (!(v->p[i * k->sz + k->sz - 3] & MIRROR_EXCLUDED)) {
                    int rc = dup_out(k, v->p + i * k->sz, len, cb, ctx);
                    if (rc)
                        return rc;
                }
        if (w != keep)
            memcpy(v->p + w * k->sz, v->p + keep * k->sz, k->sz);
        w++;
    }
    v->n = w;
    *ndups += dups;
    return 0;
}

int mirror_builder_finish(mirror_builder_t *b, mirror_index_t **out, size_t *dups)
{
    return mirror_builder_finish_dups(b, out, dups, NULL, NULL);
}

int mirror_builder_finish_dups(mirror_builder_t *b, mirror_index_t **out, size_t *dups,
                               mirror_dup_cb cb, void *ctx)
{
    int err = b->err;
    size_t nd = 0;
    mirror_index_t *ix = NULL;
    *out = NULL;
    if (err)
        goto fail;
    err = BL_ENOMEM;
    ix = mirror_index_new();
    if (!ix)
        goto fail;
    for (int l = 0; l <= 32; l++) {
        vec_t *v = &b->v4[l];
        if (!v->n)
            continue;
        if ((err = radix4((e4_t *)v->p, v->n)))
            goto fail;
        if ((err = dedup(v, &K4, (unsigned)l, b->first_wins, cb, ctx, &nd)))
            goto fail;
        vec_to_tab(v, &ix->base->t4[l]);
        ix->base->n += ix->base->t4[l].n;
        if ((err = try_compact(&ix->base->t4[l])) || (err = build_jump(&ix->base->t4[l])))
            goto fail;
    }
    for (int l = 0; l <= 128; l++) {
        vec_t *v = &b->v6[l];
        if (!v->n)
            continue;
        if ((err = msort(v->p, v->n, v->sz, cmp6)))
            goto fail;
        if ((err = dedup(v, &K6, (unsigned)l, b->first_wins, cb, ctx, &nd)))
            goto fail;
        vec_to_tab(v, &ix->base->t6[l]);
        ix->base->n += ix->base->t6[l].n;
    }
    if (b->side.n) {
        if ((err = msort(b->side.p, b->side.n, sizeof(side_t), side_cmp)))
            goto fail;
        size_t w = 0;
        side_t *s = (side_t *)b->side.p;
        for (size_t r = 0; r < b->side.n; r++)
            if (!w || !bl_prefix_eq(&s[w - 1].key, &s[r].key))
                s[w++] = s[r];
        ix->side = s;
        ix->nside = w;
        b->side.p = NULL;
    }
    ix->n = ix->base->n;
    for (int l = 0; l <= 32; l++)
        ix->n4 += ix->base->t4[l].n;
    index_lens(ix);
    mirror_builder_free(b);
    if (dups)
        *dups = nd;
    *out = ix;
    return 0;
fail:
    mirror_index_free(ix);
    mirror_builder_free(b);
    return err;
}

/* ---- image ---- */

/* The image is a version's arrays as they are in memory, each at an offset
 * that is a multiple of IMAGE_ALIGN, preceded by a layout tag that names
 * the element sizes: only a build with the same layout and byte order
 * reads it back, straight from a mapping of the file. */
#define IMAGE_MAGIC 0x32584942u /* "BIX2" little-endian */
#define IMAGE_ALIGN 64

typedef struct {
    uint32_t magic, e4, e4c, e6, side, prefix;
    uint64_t n, n4, nside;
} image_head_t;

typedef struct {
    uint64_t n;
    uint32_t compact, listed, expires, jbits;
} image_tab_t;

static size_t tab_elem_size(const tab_t *t, int v6)
{
    return v6 ? sizeof(e6_t) : t->compact ? sizeof(e4c_t) : sizeof(e4_t);
}

static image_head_t image_head(void)
{
    image_head_t h = {.magic = IMAGE_MAGIC,
                      .e4 = sizeof(e4_t),
                      .e4c = sizeof(e4c_t),
                      .e6 = sizeof(e6_t),
                      .side = sizeof(side_t),
                      .prefix = sizeof(bl_prefix_t)};
    return h;
}

typedef struct {
    mirror_image_io_t io;
    void *ctx;
    size_t off;
    int rc;
} iw_t;

static void iw_put(iw_t *w, const void *p, size_t n)
{
    static const uint8_t zero[IMAGE_ALIGN];
    if (!n)
        return; /* nothing, not even alignment: the reader takes nothing either */
    size_t pad = (IMAGE_ALIGN - w->off % IMAGE_ALIGN) % IMAGE_ALIGN;
    if (!w->rc && pad)
        w->rc = w->io(w->ctx, zero, pad);
    if (!w->rc && n)
        w->rc = w->io(w->ctx, p, n);
    w->off += pad + n;
}

int mirror_index_image_write(const mirror_index_t *ix, mirror_image_io_t io, void *ctx)
{
    if (ix->ovl)
        return BL_ESTATE;
    image_head_t h = image_head();
    h.n = ix->n;
    h.n4 = ix->n4;
    h.nside = ix->nside;
    iw_t w = {io, ctx, 0, 0};
    iw_put(&w, &h, sizeof h);
    for (int v6 = 0; v6 <= 1; v6++)
        for (int l = 0; l <= (v6 ? 128 : 32); l++) {
            const tab_t *t = v6 ? &ix->base->t6[l] : &ix->base->t4[l];
            image_tab_t it = {.n = t->n,
                              .compact = (uint32_t)t->compact,
                              .listed = t->listed,
                              .expires = t->expires,
                              .jbits = t->jump ? t->jbits : 0};
            iw_put(&w, &it, sizeof it);
            iw_put(&w, t->e, t->n * tab_elem_size(t, v6));
            if (t->jump)
                iw_put(&w, t->jump, (((size_t)1 << t->jbits) + 1) * sizeof *t->jump);
        }
    iw_put(&w, ix->side, ix->nside * sizeof *ix->side);
    return w.rc;
}

/* The next n bytes of the image at an aligned offset, or NULL past its end. */
static const void *ir_take(const uint8_t *p, size_t len, size_t *off, size_t n)
{
    size_t at = (*off + IMAGE_ALIGN - 1) / IMAGE_ALIGN * IMAGE_ALIGN;
    if (at > len || n > len - at)
        return NULL;
    *off = at + n;
    return p + at;
}

int mirror_index_image_load(void *map, size_t maplen, size_t off, mirror_index_t **out)
{
    *out = NULL;
    if (off > maplen)
        return BL_ETRUNC;
    const uint8_t *p = (const uint8_t *)map + off;
    size_t len = maplen - off, at = 0;
    image_head_t want = image_head(), h;
    const void *q = ir_take(p, len, &at, sizeof h);
    if (!q)
        return BL_ETRUNC;
    memcpy(&h, q, sizeof h);
    if (h.magic != want.magic || h.e4 != want.e4 || h.e4c != want.e4c || h.e6 != want.e6 ||
        h.side != want.side || h.prefix != want.prefix)
        return BL_EVERSION;
    if (h.n4 > h.n || h.nside > h.n)
        return BL_EFIELD;
    mirror_index_t *ix = mirror_index_new();
    if (!ix)
        return BL_ENOMEM;
    ix->base->map = map;
    ix->base->maplen = maplen;
    int rc = 0;
    uint64_t total = 0, total4 = 0;
    for (int v6 = 0; v6 <= 1 && !rc; v6++)
        for (int l = 0; l <= (v6 ? 128 : 32) && !rc; l++) {
            tab_t *t = v6 ? &ix->base->t6[l] : &ix->base->t4[l];
            image_tab_t it;
            if (!(q = ir_take(p, len, &at, sizeof it))) {
                rc = BL_ETRUNC;
                break;
            }
            memcpy(&it, q, sizeof it);
            if (it.n > h.n - total || it.compact > 1 || (v6 && (it.compact || it.jbits)) ||
                it.jbits > 24 || (it.jbits && !it.n)) {
                rc = BL_EFIELD;
                break;
            }
            t->compact = (int)it.compact;
            t->listed = it.listed;
            t->expires = it.expires;
            size_t sz = tab_elem_size(t, v6);
            if (!it.n)
                continue;
            if (!(t->e = (void *)ir_take(p, len, &at, (size_t)it.n * sz))) {
                rc = BL_ETRUNC;
                break;
            }
            t->n = (size_t)it.n;
            if (it.jbits) {
                size_t nb = ((size_t)1 << it.jbits) + 1;
                if (!(t->jump = (uint32_t *)ir_take(p, len, &at, nb * sizeof *t->jump))) {
                    rc = BL_ETRUNC;
                    break;
                }
                t->jbits = it.jbits;
                for (size_t b = 0; b < nb && !rc; b++) /* a search must stay inside e */
                    if (t->jump[b] > t->n || (b && t->jump[b] < t->jump[b - 1]))
                        rc = BL_EFIELD;
            }
            total += it.n;
            if (!v6)
                total4 += it.n;
        }
    if (!rc && (total != h.n || total4 != h.n4))
        rc = BL_ECOUNT;
    if (!rc && h.nside &&
        !(ix->side = (side_t *)ir_take(p, len, &at, (size_t)h.nside * sizeof(side_t))))
        rc = BL_ETRUNC;
    if (!rc && at != len)
        rc = BL_ETRAILING;
    if (rc) {
        ix->base->map = NULL; /* the caller keeps its mapping on failure */
        for (int l = 0; l <= 32; l++)
            memset(&ix->base->t4[l], 0, sizeof ix->base->t4[l]);
        for (int l = 0; l <= 128; l++)
            memset(&ix->base->t6[l], 0, sizeof ix->base->t6[l]);
        ix->side = NULL;
        mirror_index_free(ix);
        return rc;
    }
    ix->side_mapped = 1;
    ix->nside = (size_t)h.nside;
    ix->base->n = ix->n = (size_t)h.n;
    ix->n4 = (size_t)h.n4;
    index_lens(ix);
    *out = ix;
    return 0;
}

/* ---- A values ---- */

void mirror_avals_init(mirror_avals_t *t)
{
    memset(t, 0, sizeof *t);
    t->v[0] = 0x7f000002u;
}

uint8_t mirror_avals_code(mirror_avals_t *t, uint32_t v)
{
    size_t mask = sizeof t->slot - 1;
    size_t i = (v * 2654435761u) >> 20 & mask;
    for (; t->slot[i]; i = (i + 1) & mask)
        if (t->v[t->slot[i]] == v)
            return t->slot[i];
    if (t->n >= MIRROR_AVALS_MAX)
        return 0;
    t->v[++t->n] = v;
    t->slot[i] = (uint8_t)t->n;
    return (uint8_t)t->n;
}
