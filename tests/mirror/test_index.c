/* SPDX-License-Identifier: MIT */
/* Unit tests of the mirror index: LPM edges, exclusions, expiry, apply, iteration, random vs naive.
 */
#include "test.h"

#include <stdio.h>
#include <sys/mman.h>

#include "entry.h"
#include "err.h"
#include "index.h"

static bl_entry_t ent(const char *p, uint8_t a, uint16_t reason, int64_t exp)
{
    bl_entry_t e;
    memset(&e, 0, sizeof e);
    if (bl_prefix_parse(p, &e.key) != 0)
        BL_FAIL("bad prefix %s", p);
    e.a = a;
    e.reason = reason;
    e.listed_at = 1000;
    e.expires_at = exp;
    return e;
}

static uint32_t ip4(const char *s)
{
    bl_prefix_t p;
    ASSERT_EQ(bl_prefix_parse(s, &p), 0);
    return bl_prefix_v4addr(&p);
}

static mirror_index_t *build(const bl_entry_t *e, const uint8_t *fl, size_t n)
{
    mirror_builder_t *b = mirror_builder_new();
    ASSERT(b);
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ(mirror_builder_add(b, &e[i], fl ? fl[i] : 0), 0);
    mirror_index_t *ix;
    ASSERT_EQ(mirror_builder_finish(b, &ix, NULL), 0);
    return ix;
}

static int q4(const mirror_index_t *ix, const char *a, int64_t now)
{
    mirror_hit_t h;
    return mirror_index_lookup4(ix, ip4(a), now, &h) ? h.a : 0;
}

static void test_lpm_edges(void)
{
    bl_entry_t e[] = {
        ent("0.0.0.0/0", 1, 0, 5000),       ent("10.0.0.0/8", 2, 0, 5000),
        ent("10.1.0.0/16", 3, 0, 5000),     ent("10.1.2.0/24", 4, 0, 5000),
        ent("10.1.2.3", 5, 0, 5000),        ent("10.1.2.128/25", 6, 0, 5000),
        ent("10.1.2.200", 0, 0, 5000),      ent("192.168.0.0/31", 7, 0, 5000),
        ent("255.255.255.255", 8, 0, 5000), ent("172.16.0.0/12", 9, 0, 1500),
        ent("172.16.5.5", 10, 0, 5000),
    };
    uint8_t fl[11] = {0};
    fl[6] = MIRROR_EXCLUDED;
    mirror_index_t *ix = build(e, fl, 11);
    ASSERT_EQ(mirror_index_count(ix), 11);
    ASSERT_EQ(q4(ix, "11.0.0.1", 2000), 1);
    ASSERT_EQ(q4(ix, "10.255.255.255", 2000), 2);
    ASSERT_EQ(q4(ix, "10.1.255.0", 2000), 3);
    ASSERT_EQ(q4(ix, "10.1.2.0", 2000), 4);
    ASSERT_EQ(q4(ix, "10.1.2.127", 2000), 4);
    ASSERT_EQ(q4(ix, "10.1.2.128", 2000), 6);
    ASSERT_EQ(q4(ix, "10.1.2.255", 2000), 6);
    ASSERT_EQ(q4(ix, "10.1.2.3", 2000), 5);
    ASSERT_EQ(q4(ix, "10.1.2.200", 2000), 0); /* excluded */
    ASSERT_EQ(q4(ix, "192.168.0.1", 2000), 7);
    ASSERT_EQ(q4(ix, "192.168.0.2", 2000), 1);
    ASSERT_EQ(q4(ix, "255.255.255.255", 2000), 8);
    ASSERT_EQ(q4(ix, "0.0.0.0", 2000), 1);
    /* expiry: the /12 expired at 1500, the /32 inside still live, /0 below */
    ASSERT_EQ(q4(ix, "172.16.0.1", 1400), 9);
    ASSERT_EQ(q4(ix, "172.16.0.1", 1500), 1);
    ASSERT_EQ(q4(ix, "172.16.5.5", 2000), 10);
    ASSERT_EQ(q4(ix, "172.16.5.5", 6000), 0);
    mirror_index_free(ix);
}

static void test_v6(void)
{
    bl_entry_t e[] = {
        ent("2001:db8::/32", 2, 1, 5000),
        ent("2001:db8:1:2::/64", 3, 2, 5000),
        ent("2001:db8:1:2::5", 4, 3, 5000),
        ent("::/0", 9, 0, 5000),
    };
    uint8_t fl[4] = {0, 0, MIRROR_EXCLUDED, 0};
    mirror_index_t *ix = build(e, fl, 4);
    bl_prefix_t p;
    mirror_hit_t h;
    ASSERT_EQ(bl_prefix_parse("2001:db8:1:2::6", &p), 0);
    ASSERT_EQ(mirror_index_lookup6(ix, p.addr, 2000, &h), 1);
    ASSERT_EQ(h.a, 3);
    ASSERT_EQ(h.len, 64);
    ASSERT_EQ(bl_prefix_parse("2001:db8:1:2::5", &p), 0);
    ASSERT_EQ(mirror_index_lookup6(ix, p.addr, 2000, &h), 0);
    ASSERT_EQ(bl_prefix_parse("2001:db8:ffff::1", &p), 0);
    ASSERT_EQ(mirror_index_lookup6(ix, p.addr, 2000, &h), 1);
    ASSERT_EQ(h.a, 2);
    ASSERT_EQ(bl_prefix_parse("2002::1", &p), 0);
    ASSERT_EQ(mirror_index_lookup6(ix, p.addr, 2000, &h), 1);
    ASSERT_EQ(h.a, 9);
    /* v4 lookups never see v6 entries */
    ASSERT_EQ(mirror_index_lookup4(ix, 0, 2000, &h), 0);
    mirror_index_free(ix);
}

static void test_apply_get_times(void)
{
    bl_entry_t e[] = {ent("1.2.3.4", 2, 7, 5000), ent("1.2.3.0/24", 3, 8, 5000)};
    mirror_index_t *ix = build(e, NULL, 2);
    bl_change_t rem[1], add[2];
    memset(rem, 0, sizeof rem);
    memset(add, 0, sizeof add);
    rem[0].e = ent("1.2.3.4", 0, 0, 0);
    add[0].e = ent("1.2.3.0/24", 4, 9, 5000);
    add[1].e = ent("9.9.9.9", 5, 1, INT64_MAX); /* exact time beyond 32 bits */
    add[1].e.listed_at = -5;
    mirror_index_t *nx;
    ASSERT_EQ(mirror_index_apply(ix, rem, 1, add, 2, &nx), 0);
    ASSERT_EQ(mirror_index_count(nx), 2);
    ASSERT_EQ(q4(nx, "1.2.3.4", 2000), 4);
    ASSERT_EQ(q4(ix, "1.2.3.4", 2000), 2); /* old version untouched */
    ASSERT_EQ(q4(nx, "9.9.9.9", 4000000000LL), 5);
    bl_entry_t g;
    ASSERT_EQ(mirror_index_get(nx, &add[1].e.key, &g, NULL), 0);
    ASSERT(g.expires_at == INT64_MAX);
    ASSERT_EQ(g.listed_at, -5);
    ASSERT_EQ(mirror_index_get(nx, &rem[0].e.key, &g, NULL), BL_ENOTFOUND);
    /* removing an absent key refuses the whole change set */
    mirror_index_t *bad = NULL;
    ASSERT_EQ(mirror_index_apply(nx, rem, 1, NULL, 0, &bad), BL_EABSENT);
    ASSERT(bad == NULL);
    /* remove then re-add in one delta */
    bl_change_t r2[1], a2[1];
    memset(r2, 0, sizeof r2);
    memset(a2, 0, sizeof a2);
    r2[0].e = ent("9.9.9.9", 0, 0, 0);
    a2[0].e = ent("9.9.9.9", 6, 1, 5000);
    mirror_index_t *n2;
    ASSERT_EQ(mirror_index_apply(nx, r2, 1, a2, 1, &n2), 0);
    ASSERT_EQ(mirror_index_get(n2, &a2[0].e.key, &g, NULL), 0);
    ASSERT_EQ(g.expires_at, 5000);
    ASSERT_EQ(g.a, 6);
    ASSERT_EQ(mirror_index_count(n2), 2);
    mirror_index_free(n2);
    mirror_index_free(nx);
    mirror_index_free(ix);
}

/* ---- randomized comparison against a naive list ---- */

#define NMAX 4000
static bl_entry_t naive[NMAX];
static uint8_t naive_fl[NMAX];
static size_t nn;

static long naive_find(const bl_prefix_t *k)
{
    for (size_t i = 0; i < nn; i++)
        if (bl_prefix_eq(&naive[i].key, k))
            return (long)i;
    return -1;
}

static int naive_lookup(const bl_prefix_t *addr, int64_t now)
{
    int best = -1;
    for (size_t i = 0; i < nn; i++) {
        if (naive[i].key.af != addr->af || !bl_prefix_contains(&naive[i].key, addr))
            continue;
        if (!(naive_fl[i] & MIRROR_EXCLUDED) && naive[i].expires_at <= now)
            continue;
        if (best < 0 || naive[i].key.len > naive[best].key.len)
            best = (int)i;
    }
    if (best < 0 || (naive_fl[best] & MIRROR_EXCLUDED))
        return 0;
    return naive[best].a;
}

static void rand_prefix(uint64_t *s, bl_prefix_t *p)
{
    memset(p, 0, sizeof *p);
    /* a small universe so that prefixes overlap a lot */
    if (bl_test_rand(s) % 4) {
        uint32_t a = 0x0a000000u | (uint32_t)(bl_test_rand(s) & 0x3ff) << 4;
        a |= (uint32_t)(bl_test_rand(s) & 0xf);
        static const uint8_t lens[] = {0, 8, 20, 24, 26, 28, 30, 31, 32, 32, 32, 32};
        bl_prefix_v4(p, a, 0);
        p->len = lens[bl_test_rand(s) % sizeof lens];
        uint32_t m = p->len ? ~0u << (32 - p->len) : 0;
        bl_prefix_v4(p, a & m, p->len);
    } else {
        p->af = BL_AF6;
        p->addr[0] = 0x20;
        p->addr[1] = 0x01;
        p->addr[7] = (uint8_t)(bl_test_rand(s) & 3);
        p->addr[15] = (uint8_t)(bl_test_rand(s) & 7);
        static const uint8_t lens[] = {48, 64, 126, 128, 128};
        p->len = lens[bl_test_rand(s) % sizeof lens];
        for (int i = p->len; i < 128; i++)
            p->addr[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
    }
}

static int cmp_change(const void *a, const void *b)
{
    return bl_prefix_cmp(&((const bl_change_t *)a)->e.key, &((const bl_change_t *)b)->e.key);
}

typedef struct {
    size_t i;
    const bl_entry_t *prev;
    bl_entry_t last;
} iter_ctx;

static int iter_cb(void *ctx, const bl_entry_t *e, uint8_t fl)
{
    iter_ctx *c = ctx;
    (void)fl;
    if (c->i > 0)
        ASSERT(bl_prefix_cmp(&c->last.key, &e->key) < 0);
    c->last = *e;
    long j = naive_find(&e->key);
    ASSERT(j >= 0);
    ASSERT_EQ(naive[j].a, e->a);
    ASSERT_EQ(naive[j].expires_at, e->expires_at);
    c->i++;
    return 0;
}

static void check_all(const mirror_index_t *ix, uint64_t *s)
{
    ASSERT_EQ(mirror_index_count(ix), nn);
    size_t n4 = 0;
    for (size_t i = 0; i < nn; i++)
        n4 += naive[i].key.af == BL_AF4;
    ASSERT_EQ(mirror_index_count_af(ix, BL_AF4), n4);
    ASSERT_EQ(mirror_index_count_af(ix, BL_AF6), nn - n4);
    for (int q = 0; q < 600; q++) {
        bl_prefix_t p;
        rand_prefix(s, &p);
        /* make it a full address inside the universe */
        if (p.af == BL_AF4) {
            uint32_t a = bl_prefix_v4addr(&p) | (uint32_t)(bl_test_rand(s) & 0xf);
            bl_prefix_v4(&p, a, 32);
        } else {
            p.len = 128;
            p.addr[15] = (uint8_t)(bl_test_rand(s) & 7);
        }
        int64_t now = 1000 + (int64_t)(bl_test_rand(s) % 100);
        mirror_hit_t h;
        int got = p.af == BL_AF4 ? mirror_index_lookup4(ix, bl_prefix_v4addr(&p), now, &h)
                                 : mirror_index_lookup6(ix, p.addr, now, &h);
        int want = naive_lookup(&p, now);
        if ((got ? h.a : 0) != want) {
            char buf[BL_PREFIX_STRLEN];
            BL_FAIL("lookup %s now=%lld: got %d want %d", bl_prefix_format(&p, buf, sizeof buf),
                    (long long)now, got ? h.a : 0, want);
        }
    }
    iter_ctx c = {0};
    ASSERT_EQ(mirror_index_foreach(ix, iter_cb, &c), 0);
    ASSERT_EQ(c.i, nn);
}

static int put_file(void *ctx, const void *p, size_t n)
{
    return fwrite(p, 1, n, ctx) == n ? 0 : BL_EIO;
}

/* The index as a restart maps it from its image: every shorter image is
 * refused (never read past its end), an index with an overlay has none. */
static mirror_index_t *image_round_trip(const mirror_index_t *ix)
{
    FILE *f = tmpfile();
    ASSERT(f != NULL);
    ASSERT_EQ(mirror_index_image_write(ix, put_file, f), 0);
    ASSERT_EQ(fflush(f), 0);
    long len = ftell(f);
    ASSERT(len > 0);
    void *map = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, fileno(f), 0);
    ASSERT(map != MAP_FAILED);
    fclose(f);
    mirror_index_t *out = NULL;
    for (long cut = 0; cut < len; cut += 1 + len / 97) {
        ASSERT(mirror_index_image_load(map, (size_t)cut, 0, &out) != 0);
        ASSERT(out == NULL);
    }
    ASSERT_EQ(mirror_index_image_load(map, (size_t)len, 0, &out), 0);
    ASSERT_EQ(mirror_index_count(out), mirror_index_count(ix));
    return out;
}

static void random_run(int uniform)
{
    uint64_t s = 0x1234567 + (uint64_t)uniform;
    nn = 0;
    mirror_builder_t *b = mirror_builder_new();
    for (int i = 0; i < 300; i++) {
        bl_entry_t e;
        memset(&e, 0, sizeof e);
        rand_prefix(&s, &e.key);
        if (naive_find(&e.key) >= 0)
            continue;
        e.a = (uint8_t)(1 + bl_test_rand(&s) % 200);
        e.expires_at = uniform ? 1150 : 1000 + (int64_t)(bl_test_rand(&s) % 200);
        uint8_t fl = bl_test_rand(&s) % 10 == 0 ? MIRROR_EXCLUDED : 0;
        naive[nn] = e;
        naive_fl[nn++] = fl;
        ASSERT_EQ(mirror_builder_add(b, &e, fl), 0);
    }
    mirror_index_t *built;
    ASSERT_EQ(mirror_builder_finish(b, &built, NULL), 0);
    check_all(built, &s);
    /* The rounds run on the mapped image: overlays on it, folds away from it. */
    mirror_index_t *ix = image_round_trip(built);
    mirror_index_free(built);
    check_all(ix, &s);
    for (int round = 0; round < 60; round++) {
        bl_change_t rem[40], add[40];
        size_t nr = 0, na = 0;
        memset(rem, 0, sizeof rem);
        memset(add, 0, sizeof add);
        /* removals of existing keys */
        int want_r = (int)(bl_test_rand(&s) % 20);
        for (int i = 0; i < want_r && nn > 0; i++) {
            size_t j = bl_test_rand(&s) % nn;
            if (naive_fl[j] & MIRROR_EXCLUDED)
                continue; /* deltas never carry exclusions */
            int dup = 0;
            for (size_t k = 0; k < nr; k++)
                dup |= bl_prefix_eq(&rem[k].e.key, &naive[j].key);
            if (!dup)
                rem[nr++].e = naive[j];
        }
        int want_a = (int)(bl_test_rand(&s) % 40);
        for (int i = 0; i < want_a; i++) {
            bl_entry_t e;
            memset(&e, 0, sizeof e);
            rand_prefix(&s, &e.key);
            long j = naive_find(&e.key);
            if (j >= 0 && (naive_fl[j] & MIRROR_EXCLUDED))
                continue;
            int dup = 0;
            for (size_t k = 0; k < na; k++)
                dup |= bl_prefix_eq(&add[k].e.key, &e.key);
            if (dup)
                continue;
            e.a = (uint8_t)(1 + bl_test_rand(&s) % 200);
            e.expires_at = uniform && round % 3 ? 1150 : 1000 + (int64_t)(bl_test_rand(&s) % 200);
            add[na++].e = e;
        }
        qsort(rem, nr, sizeof rem[0], cmp_change);
        qsort(add, na, sizeof add[0], cmp_change);
        mirror_index_t *nx;
        ASSERT_EQ(mirror_index_apply_ex(ix, rem, nr, add, na, 50, &nx), 0);
        for (size_t i = 0; i < nr; i++) {
            long j = naive_find(&rem[i].e.key);
            ASSERT(j >= 0);
            naive[j] = naive[--nn];
            naive_fl[j] = naive_fl[nn];
        }
        for (size_t i = 0; i < na; i++) {
            long j = naive_find(&add[i].e.key);
            if (j < 0) {
                ASSERT(nn < NMAX);
                j = (long)nn++;
            }
            naive[j] = add[i].e;
            naive_fl[j] = 0;
        }
        if (round == 0)
            ASSERT_EQ(mirror_index_image_write(nx, put_file, stdout), BL_ESTATE);
        mirror_index_free(ix);
        ix = nx;
        check_all(ix, &s);
    }
    mirror_index_free(ix);
}

/* random changes on an index with per-entry times */
static void test_random(void)
{
    random_run(0);
}

/* the same when all times are equal: compact 8-byte base tables, folded back and forth */
static void test_random_compact(void)
{
    random_run(1);
}

static void check_prefetch(const mirror_index_t *ix);

static void test_big_sorted_load(void)
{
    /* enough /32s to use the jump table, added in descending order */
    mirror_builder_t *b = mirror_builder_new();
    for (uint32_t i = 0; i < 200000; i++) {
        bl_entry_t e;
        memset(&e, 0, sizeof e);
        bl_prefix_v4(&e.key, 0xfffffffeu - i * 7919u, 32);
        e.a = 2;
        e.expires_at = 5000;
        ASSERT_EQ(mirror_builder_add(b, &e, 0), 0);
    }
    mirror_index_t *ix;
    size_t dups = 0;
    ASSERT_EQ(mirror_builder_finish(b, &ix, &dups), 0);
    ASSERT_EQ(dups, 0);
    for (uint32_t i = 0; i < 200000; i += 997) {
        ASSERT_EQ(mirror_index_lookup4(ix, 0xfffffffeu - i * 7919u, 1, NULL), 1);
        ASSERT_EQ(mirror_index_lookup4(ix, 0xfffffffeu - i * 7919u + 1, 1, NULL), 0);
    }
    /* equal times: compact 8-byte elements plus the jump table */
    ASSERT(mirror_index_bytes(ix) < 200000 * 8 + 300000);
    check_prefetch(ix);
    /* Its image: the same answers, the jump table kept. */
    mirror_index_t *im = image_round_trip(ix);
    for (uint32_t i = 0; i < 200000; i += 997) {
        ASSERT_EQ(mirror_index_lookup4(im, 0xfffffffeu - i * 7919u, 1, NULL), 1);
        ASSERT_EQ(mirror_index_lookup4(im, 0xfffffffeu - i * 7919u + 1, 1, NULL), 0);
    }
    check_prefetch(im);
    mirror_index_free(im);
    mirror_index_free(ix);
}

/* The batch prefetch reads the jump table: every bucket, the first and the
 * last included, in compact and full tables, with and without other prefix
 * lengths (the sanitizer run catches a read outside the table); lookups
 * still answer the same afterwards. */
static void check_prefetch(const mirror_index_t *ix)
{
    static const uint32_t edge[] = {0, 1, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu};
    for (int stage = 0; stage < 2; stage++) {
        for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
            mirror_index_prefetch4(ix, edge[i], stage);
        for (uint64_t a = 0; a <= 0xffffffffu; a += 0x2000u) /* every 2^13: each bucket */
            mirror_index_prefetch4(ix, (uint32_t)a, stage);
    }
}

static void test_prefetch(void)
{
    /* full elements (times differ), two large prefix lengths and a small one */
    mirror_builder_t *b = mirror_builder_new();
    for (uint32_t i = 0; i < 50000; i++) {
        bl_entry_t e;
        memset(&e, 0, sizeof e);
        bl_prefix_v4(&e.key, i * 85899u, 32);
        e.a = 2;
        e.expires_at = 5000 + i;
        ASSERT_EQ(mirror_builder_add(b, &e, 0), 0);
        bl_prefix_v4(&e.key, (i * 85899u) & 0xffffff00u, 24);
        e.a = 3;
        mirror_builder_add(b, &e, 0); /* some /24s repeat: dropped as duplicates */
    }
    bl_entry_t e = ent("10.0.0.0/8", 4, 0, 9000);
    ASSERT_EQ(mirror_builder_add(b, &e, 0), 0);
    mirror_index_t *ix;
    ASSERT_EQ(mirror_builder_finish(b, &ix, NULL), 0);
    check_prefetch(ix);
    ASSERT_EQ(q4(ix, "10.1.2.3", 100), 4);
    for (uint32_t i = 0; i < 50000; i += 101) {
        mirror_index_prefetch4(ix, i * 85899u, 0);
        mirror_index_prefetch4(ix, i * 85899u, 1);
        mirror_hit_t h;
        ASSERT_EQ(mirror_index_lookup4(ix, i * 85899u, 100, &h), 1);
        ASSERT_EQ(h.a, 2);
        ASSERT_EQ(mirror_index_lookup4(ix, (i * 85899u) ^ 0x80u, 100, &h), 1); /* same /24 */
        ASSERT_EQ(h.len, 24);
    }
    mirror_index_free(ix);
    /* an empty index: nothing to read */
    ix = mirror_index_new();
    ASSERT(ix);
    check_prefetch(ix);
    mirror_index_free(ix);
}

/* The A values of a zone: code 0 is 127.0.0.2, codes 1..255 the distinct
 * values in the order first seen; a 256th distinct value gets no code,
 * the values already there keep theirs. */
static void test_avals(void)
{
    mirror_avals_t t;
    mirror_avals_init(&t);
    ASSERT_EQ(t.n, 0);
    ASSERT_EQ(t.v[0], 0x7f000002u);
    ASSERT_EQ(mirror_avals_code(&t, 0x7f000102u), 1); /* 127.0.1.2 */
    ASSERT_EQ(mirror_avals_code(&t, 0x7f000002u), 2); /* 127.0.0.2 from a file: a code too */
    ASSERT_EQ(mirror_avals_code(&t, 0x7f000102u), 1);
    for (uint32_t i = 3; i <= MIRROR_AVALS_MAX; i++)
        ASSERT_EQ(mirror_avals_code(&t, 0x01000000u * i + i), i);
    ASSERT_EQ(t.n, MIRROR_AVALS_MAX);
    ASSERT_EQ(mirror_avals_code(&t, 0x01020304u), 0); /* full */
    ASSERT_EQ(mirror_avals_code(&t, 0xffffffffu), 0);
    ASSERT_EQ(t.n, MIRROR_AVALS_MAX);
    for (uint32_t i = 3; i <= MIRROR_AVALS_MAX; i++) {
        ASSERT_EQ(mirror_avals_code(&t, 0x01000000u * i + i), i);
        ASSERT_EQ(t.v[i], 0x01000000u * i + i);
    }
    ASSERT_EQ(mirror_avals_code(&t, 0x7f000102u), 1);
    ASSERT_EQ(t.v[1], 0x7f000102u);
}

int main(void)
{
    RUN(test_avals);
    RUN(test_lpm_edges);
    RUN(test_v6);
    RUN(test_apply_get_times);
    RUN(test_random);
    RUN(test_random_compact);
    RUN(test_big_sorted_load);
    RUN(test_prefetch);
    return 0;
}
